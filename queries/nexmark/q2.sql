-- Nexmark q2: Selection (stateless)
--
-- Keeps the bids on auctions whose id is divisible by 123.
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

CREATE TABLE nexmark_q2 (
    auction BIGINT,
    price BIGINT
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q2
SELECT auction, price
FROM bid
WHERE auction % 123 = 0;
