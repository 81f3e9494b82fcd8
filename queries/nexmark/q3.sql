-- Nexmark q3: Local item suggestion (regular inner join, append-only)
--
-- Who is selling in category 10 in Oregon, Idaho or California? Joins auctions to their
-- sellers; both sides are kept in state forever.
-- Sources: the Nexmark generator's flat auction and person tables (the runner sets 'events.num').

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

CREATE TABLE person (
    id BIGINT,
    name STRING,
    email_address STRING,
    credit_card STRING,
    city STRING,
    state STRING,
    date_time TIMESTAMP(3),
    extra STRING,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'person'
);

CREATE TABLE nexmark_q3 (
    name STRING,
    city STRING,
    state STRING,
    id BIGINT
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q3
SELECT P.name, P.city, P.state, A.id
FROM auction AS A
INNER JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
