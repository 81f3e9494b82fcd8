-- Nexmark q20: Bids expanded with their auction (regular inner join, append-only)
--
-- Every bid on an auction of category 10, with the auction's columns. All bids and all
-- category-10 auctions are kept in state.
-- Sources: the Nexmark generator's flat bid and auction tables (the runner sets 'events.num').

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

CREATE TABLE nexmark_q20 (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    url STRING,
    bid_date_time TIMESTAMP(3),
    bid_extra STRING,
    item_name STRING,
    description STRING,
    initial_bid BIGINT,
    reserve BIGINT,
    auction_date_time TIMESTAMP(3),
    expires TIMESTAMP(3),
    seller BIGINT,
    category BIGINT,
    auction_extra STRING
) WITH (
    'connector' = 'blackhole'
);

INSERT INTO nexmark_q20
SELECT
    B.auction, B.bidder, B.price, B.channel, B.url, B.date_time, B.extra,
    A.item_name, A.description, A.initial_bid, A.reserve, A.date_time, A.expires, A.seller, A.category, A.extra
FROM bid AS B
INNER JOIN auction AS A ON B.auction = A.id
WHERE A.category = 10;
