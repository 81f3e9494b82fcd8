//! References written in Rust, where batch SQL is awkward (session windows) or would reuse the
//! very function under test (regular expressions, string splitting, DATE_FORMAT).

use crate::harness::{timestamp, Events};
use std::collections::BTreeMap;

/// q10: every bid with its day (yyyy-MM-dd) and minute (HH:mm), as the CSV file sink writes
/// them.
pub fn q10(events: &Events) -> Vec<String> {
    events
        .bids()
        .iter()
        .map(|b| {
            let time = chrono::DateTime::from_timestamp_millis(b.date_time)
                .expect("a representable time")
                .naive_utc();
            format!(
                "{},{},{},{},{},{},{}",
                b.auction,
                b.bidder,
                b.price,
                timestamp(b.date_time),
                b.extra,
                time.format("%Y-%m-%d"),
                time.format("%H:%M")
            )
        })
        .collect()
}

/// q11: per bidder, sessions with a 10 s gap. Each bid opens [t, t + 10 s); windows that
/// overlap or touch merge (Flink's `TimeWindow.intersects` is inclusive).
pub fn q11(events: &Events) -> Vec<String> {
    const GAP: i64 = 10_000;
    let mut per_bidder: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for bid in events.bids() {
        per_bidder.entry(bid.bidder).or_default().push(bid.date_time);
    }
    let mut rows = Vec::new();
    for (bidder, mut times) in per_bidder {
        times.sort_unstable();
        let mut i = 0;
        while i < times.len() {
            let (start, mut end, mut count) = (times[i], times[i] + GAP, 0);
            while i < times.len() && times[i] <= end {
                end = end.max(times[i] + GAP);
                count += 1;
                i += 1;
            }
            rows.push(format!("{bidder},{count},{},{}", timestamp(start), timestamp(end)));
        }
    }
    rows
}

/// q12: the number of bids per bidder. Which processing-time window a bid falls in depends on
/// the wall clock, so only the total per bidder over all windows is deterministic.
pub fn q12(events: &Events) -> Vec<String> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for bid in events.bids() {
        *counts.entry(bid.bidder).or_default() += 1;
    }
    counts.iter().map(|(bidder, n)| format!("{bidder},{n}")).collect()
}

/// q12's output reduced to what [`q12`] computes: (bidder, bid_count, starttime, endtime) rows
/// summed per bidder. Checks that every window is a 10 s tumbling window of processing time.
pub fn q12_totals(rows: Vec<String>) -> Vec<String> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for row in rows {
        let values: Vec<&str> = row.split(',').collect();
        let [bidder, count, start, end] = values[..] else {
            panic!("q12 rows have 4 columns: {row}");
        };
        let ms = |text: &str| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap_or_else(|e| panic!("q12 window bound {text}: {e}"))
                .and_utc()
                .timestamp_millis()
        };
        let (start, end) = (ms(start), ms(end));
        assert!(end - start == 10_000 && start % 10_000 == 0, "q12 window: {row}");
        *counts.entry(bidder.parse().expect("bidder")).or_default() += count.parse::<i64>().expect("bid_count");
    }
    counts.iter().map(|(bidder, n)| format!("{bidder},{n}")).collect()
}

/// The value of the `channel_id` query parameter of `url`: the text after `channel_id=` up to
/// the next '&', where the parameter starts the url or follows a '&'.
fn channel_id_parameter(url: &str) -> Option<&str> {
    const NAME: &str = "channel_id=";
    let mut at = 0;
    while let Some(found) = url[at..].find(NAME) {
        let start = at + found;
        if start == 0 || url.as_bytes()[start - 1] == b'&' {
            let value = &url[start + NAME.len()..];
            return Some(value.split('&').next().unwrap_or_default());
        }
        at = start + 1;
    }
    None
}

/// q21: the hot channels get fixed ids, the others the url's `channel_id` parameter; bids with
/// neither are dropped.
pub fn q21(events: &Events) -> Vec<String> {
    events
        .bids()
        .iter()
        .filter_map(|b| {
            let id = match b.channel.to_lowercase().as_str() {
                "apple" => Some("0"),
                "google" => Some("1"),
                "facebook" => Some("2"),
                "baidu" => Some("3"),
                _ => channel_id_parameter(&b.url),
            }?;
            Some(format!("{},{},{},{},{id}", b.auction, b.bidder, b.price, b.channel))
        })
        .collect()
}

/// q22: the url's path segments 3, 4 and 5 (0-based, split on '/'; empty when missing).
pub fn q22(events: &Events) -> Vec<String> {
    events
        .bids()
        .iter()
        .map(|b| {
            let parts: Vec<&str> = b.url.split('/').collect();
            let part = |i: usize| parts.get(i).copied().unwrap_or_default();
            format!(
                "{},{},{},{},{},{},{}",
                b.auction,
                b.bidder,
                b.price,
                b.channel,
                part(3),
                part(4),
                part(5)
            )
        })
        .collect()
}

#[test]
fn channel_id_parameters_are_found_only_at_the_start_or_after_an_ampersand() {
    assert_eq!(channel_id_parameter("channel_id=7&x=1"), Some("7"));
    assert_eq!(channel_id_parameter("https://a/b?q=1&channel_id=-12"), Some("-12"));
    assert_eq!(channel_id_parameter("https://a/b?q=1&xchannel_id=5"), None);
    assert_eq!(channel_id_parameter("https://a/b?q=1&channel_id="), Some(""));
    assert_eq!(channel_id_parameter("https://a/b?query=1"), None);
}
