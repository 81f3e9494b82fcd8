-- Nexmark q22: URL directories (stateless, string splitting)
--
-- Splits the url on '/' and returns its three directory segments. SPLIT_PART is 1-based, so
-- parts 4, 5 and 6 are Flink's SPLIT_INDEX(url, '/', 3), (..., 4) and (..., 5).
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

CREATE TABLE nexmark_q22 (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    dir1 STRING,
    dir2 STRING,
    dir3 STRING
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q22
SELECT
    auction,
    bidder,
    price,
    channel,
    SPLIT_PART(url, '/', 4) AS dir1,
    SPLIT_PART(url, '/', 5) AS dir2,
    SPLIT_PART(url, '/', 6) AS dir3
FROM bid;
