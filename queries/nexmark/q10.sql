-- Nexmark q10: Log to file system (stateless, partitioned file sink)
--
-- Writes every bid as CSV, partitioned by day (dt, yyyy-MM-dd) and minute (hm, HH:mm).
-- DATE_FORMAT is DataFusion's (an alias of to_char) and takes chrono patterns.
-- The Flink suite also sets partition commit (partition-time trigger, 1 min delay, success
-- file) and 1-minute rolling: 'sink.partition-commit.trigger' = 'partition-time',
-- 'sink.partition-commit.delay' = '1 min', 'sink.partition-commit.policy.kind' =
-- 'success-file', 'sink.rolling-policy.rollover-interval' = '1min'. Freshet's file sink
-- commits files on checkpoints and has no such options yet.
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

CREATE TABLE nexmark_q10 (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    date_time TIMESTAMP(3),
    extra STRING,
    dt STRING,
    hm STRING
) PARTITIONED BY (dt, hm)
WITH (
    'connector' = 'filesystem',
    'path' = '/tmp/freshet/nexmark/q10',
    'format' = 'csv'
);

INSERT INTO nexmark_q10
SELECT
    auction,
    bidder,
    price,
    date_time,
    extra,
    DATE_FORMAT(date_time, '%Y-%m-%d'),
    DATE_FORMAT(date_time, '%H:%M')
FROM bid;
