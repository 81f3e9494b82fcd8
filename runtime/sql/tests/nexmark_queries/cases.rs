//! The table of Nexmark queries checked against a reference: one entry per query, each
//! becoming a test named after it.
//!
//! To add a query: add an entry `qN: Case { .. }` to the `nexmark_cases!` invocation below
//! with its stream, its reference (a batch SQL over `bid`, `auction` and `person`, or a
//! function of [`references`](crate::references)), how its output is materialized, and
//! whether it keeps state. Reference SQL renders columns as the query's sink does: cast to
//! the sink's types, TIMESTAMP(3) as `to_timestamp_millis(ms)`. Where the result depends on
//! the arrival order of events with equal times, use the `ONE_TIMELINE` stream; where it
//! depends on the wall clock, compare a projection (`deterministic`, as q12 does).
//!
//! Event times are TIMESTAMP(3), so `CAST(date_time AS BIGINT)` is ms since the epoch and a
//! window start is `ms / size * size` (the times are positive). Averages truncated to BIGINT
//! are `SUM / COUNT` in integers.

use crate::harness::{check, Case, Output, Reference, StreamOptions};
use crate::references;

/// 20,000 events over 100 s of event time (200 events/s): many 2 s hops and 10 s windows,
/// sessions that split and merge, auctions that expire during the run.
const STEADY: StreamOptions = &[("events.num", "20000"), ("first-event.rate", "200")];

/// STEADY on one timeline (one logical generator): no two events share a time, and a key's
/// rows reach an operator in generation order at any parallelism, so deduplication, Top-N and
/// OVER windows have one right answer.
const ONE_TIMELINE: StreamOptions = &[
    ("events.num", "20000"),
    ("first-event.rate", "200"),
    ("generators", "1"),
];

/// 30,000 events at 1 event/s from 2015-07-15T17:00:00Z to 01:20 the next day: every class
/// of q14's `bid_time_type` and two days for q15-q17.
const LONG: StreamOptions = &[
    ("events.num", "30000"),
    ("first-event.rate", "1"),
    ("base-time", "1436979600000"),
];

/// `price * 0.908` as DECIMAL(23, 3) renders (prices are positive).
macro_rules! euros {
    () => {
        "CONCAT(CAST(price * 908 / 1000 AS VARCHAR), '.', LPAD(CAST(price * 908 % 1000 AS VARCHAR), 3, '0'))"
    };
}

/// DATE_FORMAT(date_time, '%Y-%m-%d') without DATE_FORMAT: the DATE rendered as text.
macro_rules! day {
    () => {
        "CAST(CAST(date_time AS DATE) AS VARCHAR)"
    };
}

/// DATE_FORMAT(date_time, '%H:%M') without DATE_FORMAT: hours and minutes from ms.
macro_rules! minute {
    () => {
        "CONCAT(LPAD(CAST(CAST(date_time AS BIGINT) / 3600000 % 24 AS VARCHAR), 2, '0'), ':', \
                LPAD(CAST(CAST(date_time AS BIGINT) / 60000 % 60 AS VARCHAR), 2, '0'))"
    };
}

/// The q15-q17 counts of bids, per band, as `COUNT(*) FILTER (...)` without FILTER.
macro_rules! band_counts {
    () => {
        "COUNT(*), \
         SUM(CASE WHEN price < 10000 THEN 1 ELSE 0 END), \
         SUM(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END), \
         SUM(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END)"
    };
}

/// The q15/q16 distinct counts of `$column`, overall and per band (NULLs are not counted).
macro_rules! band_distinct {
    ($column:literal) => {
        concat!(
            "COUNT(DISTINCT ",
            $column,
            "), ",
            "COUNT(DISTINCT CASE WHEN price < 10000 THEN ",
            $column,
            " END), ",
            "COUNT(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN ",
            $column,
            " END), ",
            "COUNT(DISTINCT CASE WHEN price >= 1000000 THEN ",
            $column,
            " END)"
        )
    };
}

/// Declares the cases and one test per case.
macro_rules! nexmark_cases {
    ($($(#[$attribute:meta])* $name:ident: $case:expr,)*) => {
        /// Every case, by query.
        pub fn all() -> Vec<Case> {
            vec![$($case),*]
        }
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attribute])*
            async fn $name() {
                let case: Case = $case;
                assert_eq!(case.query, stringify!($name));
                check(&case).await;
            }
        )*
    };
}

nexmark_cases! {
    q0: Case {
        query: "q0",
        stream: STEADY,
        reference: Reference::Sql("SELECT auction, bidder, price, date_time, extra FROM bid"),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q1: Case {
        query: "q1",
        stream: LONG,
        reference: Reference::Sql(concat!(
            "SELECT auction, bidder, ", euros!(), ", date_time, extra FROM bid"
        )),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q2: Case {
        query: "q2",
        stream: STEADY,
        reference: Reference::Sql("SELECT auction, price FROM bid WHERE auction % 123 = 0"),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q3: Case {
        query: "q3",
        stream: STEADY,
        reference: Reference::Sql(
            "SELECT P.name, P.city, P.state, A.id
             FROM auction AS A JOIN person AS P ON A.seller = P.id
             WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')"
        ),
        output: Output::Append,
        stateful: true,
        deterministic: None,
    },
    q4: Case {
        query: "q4",
        stream: STEADY,
        reference: Reference::Sql(
            "SELECT category, SUM(final) / COUNT(*)
             FROM (
                 SELECT A.id, A.category, MAX(B.price) AS final
                 FROM auction AS A JOIN bid AS B ON A.id = B.auction
                 WHERE B.date_time >= A.date_time AND B.date_time <= A.expires
                 GROUP BY A.id, A.category
             )
             GROUP BY category"
        ),
        output: Output::Changelog { key: &[0] },
        stateful: true,
        deterministic: None,
    },
    q5: Case {
        query: "q5",
        stream: STEADY,
        // A bid at t is in the 5 windows starting at floor(t / 2 s) * 2 s - i * 2 s, i = 0..4.
        reference: Reference::Sql(
            "WITH hops AS (
                 SELECT auction, CAST(date_time AS BIGINT) / 2000 * 2000 - h.i * 2000 AS ws
                 FROM bid CROSS JOIN (VALUES (0), (1), (2), (3), (4)) AS h(i)
             ),
             counts AS (SELECT auction, ws, COUNT(*) AS num FROM hops GROUP BY auction, ws),
             maxima AS (SELECT ws, MAX(num) AS maxn FROM counts GROUP BY ws)
             SELECT c.auction, c.num FROM counts AS c JOIN maxima AS m
             ON c.ws = m.ws AND c.num >= m.maxn"
        ),
        output: Output::Append,
        stateful: true,
        deterministic: None,
    },
    q6: Case {
        query: "q6",
        stream: ONE_TIMELINE,
        // The final winners (the q9 top-1), then per seller in bid-time order the mean of the
        // current and 10 preceding winning prices.
        reference: Reference::Sql(
            "WITH winners AS (
                 SELECT A.seller, B.price AS final, B.date_time,
                        ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.date_time ASC) AS rownum
                 FROM auction AS A JOIN bid AS B ON A.id = B.auction
                 WHERE B.date_time >= A.date_time AND B.date_time <= A.expires
             )
             SELECT seller,
                    SUM(final) OVER (PARTITION BY seller ORDER BY date_time ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
                    / COUNT(*) OVER (PARTITION BY seller ORDER BY date_time ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
             FROM winners WHERE rownum = 1"
        ),
        output: Output::Multiset,
        stateful: true,
        deterministic: None,
    },
    q7: Case {
        query: "q7",
        stream: STEADY,
        // Both ends of the BETWEEN are included: a bid at a window's end also joins the
        // maximum of the window it ends.
        reference: Reference::Sql(
            "WITH maxima AS (
                 SELECT CAST(date_time AS BIGINT) / 10000 * 10000 + 10000 AS we, MAX(price) AS maxprice
                 FROM bid GROUP BY CAST(date_time AS BIGINT) / 10000
             )
             SELECT B.auction, B.price, B.bidder, B.date_time, B.extra
             FROM bid AS B JOIN maxima AS M ON B.price = M.maxprice
             WHERE CAST(B.date_time AS BIGINT) BETWEEN M.we - 10000 AND M.we"
        ),
        output: Output::Append,
        stateful: true,
        deterministic: None,
    },
    q8: Case {
        query: "q8",
        stream: STEADY,
        reference: Reference::Sql(
            "WITH P AS (SELECT DISTINCT id, name, CAST(date_time AS BIGINT) / 10000 * 10000 AS ws FROM person),
                  A AS (SELECT DISTINCT seller, CAST(date_time AS BIGINT) / 10000 * 10000 AS ws FROM auction)
             SELECT P.id, P.name, to_timestamp_millis(P.ws)
             FROM P JOIN A ON P.id = A.seller AND P.ws = A.ws"
        ),
        output: Output::Append,
        stateful: true,
        deterministic: None,
    },
    q9: Case {
        query: "q9",
        stream: STEADY,
        // Ties on (price, bid time) within an auction would make the winner depend on
        // arrival order; top prices are large and rarely equal.
        reference: Reference::Sql(
            "SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller,
                    category, extra, auction, bidder, price, bid_date_time, bid_extra
             FROM (
                 SELECT A.*, B.auction, B.bidder, B.price, B.date_time AS bid_date_time,
                        B.extra AS bid_extra,
                        ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.date_time ASC) AS rownum
                 FROM auction AS A JOIN bid AS B ON A.id = B.auction
                 WHERE B.date_time >= A.date_time AND B.date_time <= A.expires
             )
             WHERE rownum = 1"
        ),
        output: Output::Changelog { key: &[0] },
        stateful: true,
        deterministic: None,
    },
    q10: Case {
        query: "q10",
        stream: LONG,
        reference: Reference::Rows(references::q10),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q11: Case {
        query: "q11",
        stream: STEADY,
        reference: Reference::Rows(references::q11),
        output: Output::Append,
        stateful: true,
        deterministic: None,
    },
    q12: Case {
        query: "q12",
        stream: STEADY,
        reference: Reference::Rows(references::q12),
        output: Output::Append,
        stateful: true,
        deterministic: Some(references::q12_totals),
    },
    q13: Case {
        query: "q13",
        stream: STEADY,
        // side_input.csv holds "i,i" for i = 0..9999: every bid finds its row.
        reference: Reference::Sql(
            "SELECT auction, bidder, price, date_time, CAST(auction % 10000 AS VARCHAR) FROM bid"
        ),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q14: Case {
        query: "q14",
        stream: LONG,
        // The UTC hour from ms; count_char(extra, 'c') as the length lost by removing the c's.
        reference: Reference::Sql(concat!(
            "SELECT auction, bidder, ", euros!(), ",
                 CASE WHEN h >= 8 AND h <= 18 THEN 'dayTime'
                      WHEN h <= 6 OR h >= 20 THEN 'nightTime'
                      ELSE 'otherTime' END,
                 date_time, extra,
                 CAST(length(extra) - length(replace(extra, 'c', '')) AS BIGINT)
             FROM (SELECT *, CAST(date_time AS BIGINT) / 3600000 % 24 AS h FROM bid)
             WHERE price * 908 > 1000000000 AND price * 908 < 50000000000"
        )),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q15: Case {
        query: "q15",
        stream: LONG,
        reference: Reference::Sql(concat!(
            "SELECT day, ", band_counts!(), ", ", band_distinct!("bidder"), ", ", band_distinct!("auction"), "
             FROM (SELECT *, ", day!(), " AS day FROM bid)
             GROUP BY day"
        )),
        output: Output::Changelog { key: &[0] },
        stateful: true,
        deterministic: None,
    },
    q16: Case {
        query: "q16",
        stream: LONG,
        reference: Reference::Sql(concat!(
            "SELECT channel, day, MAX(", minute!(), "), ", band_counts!(), ", ",
            band_distinct!("bidder"), ", ", band_distinct!("auction"), "
             FROM (SELECT *, ", day!(), " AS day FROM bid)
             GROUP BY channel, day"
        )),
        output: Output::Changelog { key: &[0, 1] },
        stateful: true,
        deterministic: None,
    },
    q17: Case {
        query: "q17",
        stream: LONG,
        reference: Reference::Sql(concat!(
            "SELECT auction, day, ", band_counts!(), ",
                 MIN(price), MAX(price), SUM(price) / COUNT(*), SUM(price)
             FROM (SELECT *, ", day!(), " AS day FROM bid)
             GROUP BY auction, day"
        )),
        output: Output::Changelog { key: &[0, 1] },
        stateful: true,
        deterministic: None,
    },
    q18: Case {
        query: "q18",
        stream: ONE_TIMELINE,
        reference: Reference::Sql(
            "SELECT auction, bidder, price, channel, url, date_time, extra FROM (
                 SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC) AS rank_number
                 FROM bid
             )
             WHERE rank_number = 1"
        ),
        output: Output::Changelog { key: &[0, 1] },
        stateful: true,
        deterministic: None,
    },
    q19: Case {
        query: "q19",
        stream: ONE_TIMELINE,
        // Equal prices rank in arrival order, here the order of bid time.
        reference: Reference::Sql(
            "SELECT auction, bidder, price, channel, url, date_time, extra, rank_number FROM (
                 SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, date_time ASC) AS rank_number
                 FROM bid
             )
             WHERE rank_number <= 10"
        ),
        output: Output::Multiset,
        stateful: true,
        deterministic: None,
    },
    q20: Case {
        query: "q20",
        stream: STEADY,
        reference: Reference::Sql(
            "SELECT B.auction, B.bidder, B.price, B.channel, B.url, B.date_time, B.extra,
                    A.item_name, A.description, A.initial_bid, A.reserve, A.date_time, A.expires,
                    A.seller, A.category, A.extra
             FROM bid AS B JOIN auction AS A ON B.auction = A.id
             WHERE A.category = 10"
        ),
        output: Output::Append,
        stateful: true,
        deterministic: None,
    },
    q21: Case {
        query: "q21",
        stream: STEADY,
        reference: Reference::Rows(references::q21),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
    q22: Case {
        query: "q22",
        stream: STEADY,
        reference: Reference::Rows(references::q22),
        output: Output::Append,
        stateful: false,
        deterministic: None,
    },
}

/// Every query of `queries/nexmark` plans, and has a case.
#[tokio::test]
async fn every_query_plans_and_has_a_case() {
    let cases: Vec<&str> = all().iter().map(|c| c.query).collect();
    let mut planned = Vec::new();
    for q in 0..=22 {
        let name = format!("q{q}");
        let path = crate::harness::queries_dir().join(format!("{name}.sql"));
        let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        freshet_sql::Planner::new()
            .plan_script(&sql, &freshet_sql::PlanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        planned.push(name);
    }
    assert_eq!(planned, cases);
}

/// The streams exercise what the cases rely on them for.
#[tokio::test]
async fn the_streams_cover_what_the_queries_test() {
    let long = crate::harness::Events::for_stream(LONG);
    let classes = long
        .query(concat!(
            "SELECT DISTINCT ",
            day!(),
            ",
                 CASE WHEN h >= 8 AND h <= 18 THEN 'day' WHEN h <= 6 OR h >= 20 THEN 'night' ELSE 'other' END
             FROM (SELECT *, CAST(date_time AS BIGINT) / 3600000 % 24 AS h FROM bid)
             ORDER BY 1, 2"
        ))
        .await;
    assert_eq!(
        classes,
        [
            "2015-07-15,day",
            "2015-07-15,night",
            "2015-07-15,other",
            "2015-07-16,night"
        ]
    );

    let steady = crate::harness::Events::for_stream(STEADY);
    // q11: some bidders have several sessions.
    let sessions = references::q11(&steady);
    let bidders: std::collections::BTreeSet<&str> = sessions.iter().filter_map(|row| row.split(',').next()).collect();
    assert!(sessions.len() > bidders.len() + 100, "{} sessions", sessions.len());
    // q4: the expiry filter drops some pairs of an auction and its bids, and keeps most.
    let pairs = steady
        .query(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE B.date_time BETWEEN A.date_time AND A.expires)
             FROM auction AS A JOIN bid AS B ON A.id = B.auction",
        )
        .await;
    let counts: Vec<i64> = pairs[0].split(',').map(|n| n.parse().expect("count")).collect();
    assert!(counts[1] > 1_000 && counts[1] < counts[0], "{counts:?}");

    // One timeline: no two bids share a time (q18's and q6's orders have no ties).
    let one = crate::harness::Events::for_stream(ONE_TIMELINE);
    let times = one.query("SELECT COUNT(*) - COUNT(DISTINCT date_time) FROM bid").await;
    assert_eq!(times, ["0"]);
}
