-- Nexmark q1: Currency conversion (stateless)
--
-- Converts every bid's price from dollars to euros: price * 0.908 as the exact DECIMAL(23, 3)
-- Flink computes (0.908 is DECIMAL(3, 3), BIGINT is DECIMAL(19, 0)). The constant is cast
-- explicitly because DataFusion reads 0.908 as a DOUBLE by default.
-- Sources: the Nexmark generator's flat bid table (the runner sets 'events.num').

CREATE TABLE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    url STRING,
    date_time TIMESTAMP(3),
    extra STRING,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid'
);

CREATE TABLE nexmark_q1 (
    auction BIGINT,
    bidder BIGINT,
    price DECIMAL(23, 3),
    date_time TIMESTAMP(3),
    extra STRING
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q1
SELECT
    auction,
    bidder,
    CAST(0.908 AS DECIMAL(3, 3)) * price AS price,
    date_time,
    extra
FROM bid;
