-- Nexmark q13: Bounded side input join (processing-time lookup join)
--
-- Joins every bid with a static side table looked up at processing time. The side table
-- is side_input.csv in this directory (10,000 rows "i,i" for i = 0..9999, no header; made with
-- `seq 0 9999 | awk '{print $1 "," $1}'`), at a path relative to the repository root; every
-- bid matches exactly one row.
-- Sources: the Nexmark generator's flat bid table (the runner sets 'events.num').

CREATE TABLE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    url STRING,
    date_time TIMESTAMP(3),
    extra STRING,
    p_time AS PROCTIME(),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid'
);

CREATE TABLE side_input (
    `key` BIGINT,
    `value` STRING
) WITH (
    'connector' = 'filesystem',
    'path' = 'queries/nexmark/side_input.csv',
    'format' = 'csv'
);

CREATE TABLE nexmark_q13 (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    date_time TIMESTAMP(3),
    `value` STRING
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q13
SELECT B.auction, B.bidder, B.price, B.date_time, S.`value`
FROM bid AS B
JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
ON B.auction % 10000 = S.`key`;
