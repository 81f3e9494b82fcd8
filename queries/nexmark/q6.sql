-- Nexmark q6: Average selling price by seller (not run by Flink)
--
-- The winning bid of an auction is its highest bid between start and expiry (the q4 join,
-- top-1 by price, earlier bid first on ties). Per seller, ordered by the winning bid's time,
-- the output is the average of the current and the 10 preceding winning prices, truncated to
-- BIGINT. Flink cannot run it: its OVER windows do not consume the retractions of the top-1.
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

CREATE TABLE nexmark_q6 (
    seller BIGINT,
    avg_price BIGINT
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q6
SELECT
    Q.seller,
    CAST(AVG(Q.final) OVER (
        PARTITION BY Q.seller
        ORDER BY Q.date_time
        ROWS BETWEEN 10 PRECEDING AND CURRENT ROW
    ) AS BIGINT) AS avg_price
FROM (
    SELECT seller, final, date_time
    FROM (
        SELECT
            A.id,
            A.seller,
            B.price AS final,
            B.date_time,
            ROW_NUMBER() OVER (PARTITION BY A.id, A.seller ORDER BY B.price DESC, B.date_time ASC) AS rownum
        FROM auction AS A, bid AS B
        WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
    )
    WHERE rownum = 1
) AS Q;
