-- Nexmark q14: Calculation with a user function (stateless)
--
-- Converts prices to euros (as q1), keeps 1,000,000 < euro price < 50,000,000, classifies the
-- bid time by its UTC hour (day 8-18, night <= 6 or >= 20, otherwise other) and counts the
-- 'c' characters of extra with count_char, a user scalar function the Nexmark runner registers
-- through Freshet's Rust API (the number of bytes of its first argument equal to its second;
-- 0 for NULL).
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

CREATE TABLE nexmark_q14 (
    auction BIGINT,
    bidder BIGINT,
    price DECIMAL(23, 3),
    bid_time_type STRING,
    date_time TIMESTAMP(3),
    extra STRING,
    c_counts BIGINT
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q14
SELECT
    auction,
    bidder,
    CAST(0.908 AS DECIMAL(3, 3)) * price AS price,
    CASE
        WHEN EXTRACT(HOUR FROM date_time) >= 8 AND EXTRACT(HOUR FROM date_time) <= 18 THEN 'dayTime'
        WHEN EXTRACT(HOUR FROM date_time) <= 6 OR EXTRACT(HOUR FROM date_time) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bid_time_type,
    date_time,
    extra,
    count_char(extra, 'c') AS c_counts
FROM bid
WHERE CAST(0.908 AS DECIMAL(3, 3)) * price > 1000000
    AND CAST(0.908 AS DECIMAL(3, 3)) * price < 50000000;
