-- Nexmark q21: Add channel id (stateless, CASE and a regular expression)
--
-- Derives a channel id: fixed ids for the four hot channels, otherwise the value of the url's
-- channel_id parameter; keeps bids with either. regexp_match returns the capture groups as a
-- list, and [2] is the second group (Flink: REGEXP_EXTRACT(url, '...', 2)).
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

CREATE TABLE nexmark_q21 (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    channel_id STRING
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q21
SELECT
    auction,
    bidder,
    price,
    channel,
    CASE
        WHEN LOWER(channel) = 'apple' THEN '0'
        WHEN LOWER(channel) = 'google' THEN '1'
        WHEN LOWER(channel) = 'facebook' THEN '2'
        WHEN LOWER(channel) = 'baidu' THEN '3'
        ELSE REGEXP_MATCH(url, '(&|^)channel_id=([^&]*)')[2]
    END AS channel_id
FROM bid
WHERE REGEXP_MATCH(url, '(&|^)channel_id=([^&]*)')[2] IS NOT NULL
    OR LOWER(channel) IN ('apple', 'google', 'facebook', 'baidu');
