-- Nexmark q4: Average price per category (join and two-level aggregation, changelog)
--
-- The final price of an auction is its highest bid made between its start and its expiry
-- (both included); the output is the average final price per category, updated as bids
-- arrive (the inner aggregate retracts). Flink's AVG over BIGINT truncates to BIGINT.
-- Sources: the Nexmark generator's flat auction and bid tables (the runner sets 'events.num').

CREATE TABLE auction (
    id BIGINT,
    item_name STRING,
    description STRING,
    initial_bid BIGINT,
    reserve BIGINT,
    date_time TIMESTAMP(3),
    expires TIMESTAMP(3),
    seller BIGINT,
    category BIGINT,
    extra STRING,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'auction'
);

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

CREATE TABLE nexmark_q4 (
    id BIGINT,
    final BIGINT
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q4
SELECT
    Q.category,
    CAST(AVG(Q.final) AS BIGINT)
FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction AS A, bid AS B
    WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
    GROUP BY A.id, A.category
) AS Q
GROUP BY Q.category;
