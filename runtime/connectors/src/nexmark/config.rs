//! The Nexmark generator's configuration: Beam's defaults (§2 of NEXMARK.md), the Flink fork's
//! option keys for `from_options`, and validation.

use crate::options::OptionReader;
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// 2015-07-15T00:00:00Z in ms since the epoch: Beam's base time.
pub const BEAM_BASE_TIME_MS: i64 = 1_436_918_400_000;

/// Which records the source emits, and in what layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NexmarkTable {
    /// Bids only, flat: auction, bidder, price, channel, url, date_time, extra.
    #[default]
    Bid,
    /// Persons only, flat.
    Person,
    /// Auctions only, flat.
    Auction,
    /// Every event: `event_type` (0 person, 1 auction, 2 bid), nullable struct columns `person`,
    /// `auction` and `bid` (only the one matching `event_type` is set) and a top-level
    /// `date_time`: the layout of the Flink suite's `datagen` table.
    All,
}

impl NexmarkTable {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "bid" | "bids" => Some(Self::Bid),
            "person" | "persons" | "people" => Some(Self::Person),
            "auction" | "auctions" => Some(Self::Auction),
            "all" | "events" => Some(Self::All),
            _ => None,
        }
    }
}

/// Configuration of the Nexmark source. Defaults are Beam's (deterministic, first event id and
/// number 0, base time 2015-07-15) with 8 logical generators and 10,000 events/s of event time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NexmarkConfig {
    /// Which table to emit.
    pub table: NexmarkTable,
    /// Total number of events over all generators (persons, auctions and bids, whatever the
    /// table); `None` is unbounded.
    pub events: Option<u64>,
    /// Events per second of event time, over all generators together.
    pub rate: u64,
    /// Number of logical generators the id space is split into (fixed for the life of a job:
    /// it is part of the output's identity, parallelism is not).
    pub generators: u32,
    /// XOR-ed into every per-event seed; 0 reproduces Beam.
    pub seed: i64,
    /// Event time of the first event (ms since the epoch).
    pub base_time_ms: i64,
    /// Id of the first event (Beam 0, the Flink table source 1).
    pub first_event_id: i64,
    /// Number of the first event (Beam 0, the Flink table source 1).
    pub first_event_number: i64,
    /// Persons per `person + auction + bid` events.
    pub person_proportion: u32,
    /// Auctions per `person + auction + bid` events.
    pub auction_proportion: u32,
    /// Bids per `person + auction + bid` events.
    pub bid_proportion: u32,
    /// A bid goes to the hot auction with probability `1 - 1/ratio`.
    pub hot_auction_ratio: u32,
    /// A bid comes from the hot bidder with probability `1 - 1/ratio`.
    pub hot_bidders_ratio: u32,
    /// An auction belongs to the hot seller with probability `1 - 1/ratio`.
    pub hot_sellers_ratio: u32,
    /// Target size of a person record in bytes (sets the `extra` padding).
    pub avg_person_byte_size: u32,
    /// Target size of an auction record in bytes.
    pub avg_auction_byte_size: u32,
    /// Target size of a bid record in bytes.
    pub avg_bid_byte_size: u32,
    /// Auctions a non-hot bid may refer to (the most recent ones).
    pub num_in_flight_auctions: u32,
    /// Persons a non-hot bidder or seller is drawn from (the most recent ones).
    pub num_active_people: u32,
    /// Events are shuffled within groups of this size (1 = in order).
    pub out_of_order_group_size: u32,
    /// The Flink fork's quirk of adding the first person id twice to bidders (bidder ids are
    /// then 1000 above person ids). Off by default, as in Beam.
    pub bidder_offset_quirk: bool,
    /// Wall-clock cap on emitted events per second over all subtasks; `None` is as fast as
    /// possible.
    pub max_events_per_second: Option<u64>,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        Self {
            table: NexmarkTable::Bid,
            events: None,
            rate: 10_000,
            generators: 8,
            seed: 0,
            base_time_ms: BEAM_BASE_TIME_MS,
            first_event_id: 0,
            first_event_number: 0,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            hot_auction_ratio: 2,
            hot_bidders_ratio: 4,
            hot_sellers_ratio: 4,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
            num_in_flight_auctions: 100,
            num_active_people: 1000,
            out_of_order_group_size: 1,
            bidder_offset_quirk: false,
            max_events_per_second: None,
        }
    }
}

/// Option keys of [`NexmarkConfig::from_options`] (the Flink fork's where it has one).
pub const NEXMARK_OPTIONS: &[&str] = &[
    "table",
    "events.num",
    "first-event.rate",
    "next-event.rate",
    "generators",
    "seed",
    "base-time",
    "first-event.id",
    "first-event.number",
    "person.proportion",
    "auction.proportion",
    "bid.proportion",
    "bid.hot-ratio.auctions",
    "bid.hot-ratio.bidders",
    "auction.hot-ratio.sellers",
    "person.avg-size",
    "auction.avg-size",
    "bid.avg-size",
    "in-flight-auctions",
    "active-people",
    "out-of-order-group-size",
    "bidder-offset-quirk",
    "max-events-per-second",
    "max-emit-speed",
];

impl NexmarkConfig {
    /// Builds a config from `WITH` options (keys in [`NEXMARK_OPTIONS`]; `events.num` = 0 means
    /// unbounded as in Flink; `max-emit-speed` = false throttles to `first-event.rate`).
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        let r = OptionReader::new("nexmark", options, NEXMARK_OPTIONS, |_| false)?;
        let mut c = Self::default();
        if let Some(t) = r.raw("table") {
            c.table =
                NexmarkTable::parse(t).ok_or_else(|| r.invalid("table", t, "expected bid, person, auction or all"))?;
        }
        if let Some(n) = r.parse::<u64>("events.num")? {
            c.events = (n > 0).then_some(n);
        }
        if let Some(v) = r.parse("first-event.rate")? {
            c.rate = v;
        }
        if let Some(next) = r.parse::<u64>("next-event.rate")? {
            if next != c.rate {
                return Err(r.invalid(
                    "next-event.rate",
                    &next.to_string(),
                    "must equal first-event.rate (rate shapes are not supported)",
                ));
            }
        }
        macro_rules! set {
            ($key:literal, $field:ident) => {
                if let Some(v) = r.parse($key)? {
                    c.$field = v;
                }
            };
        }
        set!("generators", generators);
        set!("seed", seed);
        set!("base-time", base_time_ms);
        set!("first-event.id", first_event_id);
        set!("first-event.number", first_event_number);
        set!("person.proportion", person_proportion);
        set!("auction.proportion", auction_proportion);
        set!("bid.proportion", bid_proportion);
        set!("bid.hot-ratio.auctions", hot_auction_ratio);
        set!("bid.hot-ratio.bidders", hot_bidders_ratio);
        set!("auction.hot-ratio.sellers", hot_sellers_ratio);
        set!("person.avg-size", avg_person_byte_size);
        set!("auction.avg-size", avg_auction_byte_size);
        set!("bid.avg-size", avg_bid_byte_size);
        set!("in-flight-auctions", num_in_flight_auctions);
        set!("active-people", num_active_people);
        set!("out-of-order-group-size", out_of_order_group_size);
        if let Some(v) = r.bool("bidder-offset-quirk")? {
            c.bidder_offset_quirk = v;
        }
        if let Some(v) = r.parse::<u64>("max-events-per-second")? {
            c.max_events_per_second = (v > 0).then_some(v);
        }
        if r.bool("max-emit-speed")? == Some(false) && c.max_events_per_second.is_none() {
            c.max_events_per_second = Some(c.rate);
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the values; the error names the offending field.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("rate", self.rate),
            ("generators", self.generators as u64),
            ("person_proportion", self.person_proportion as u64),
            ("auction_proportion", self.auction_proportion as u64),
            ("hot_auction_ratio", self.hot_auction_ratio as u64),
            ("hot_bidders_ratio", self.hot_bidders_ratio as u64),
            ("hot_sellers_ratio", self.hot_sellers_ratio as u64),
            ("out_of_order_group_size", self.out_of_order_group_size as u64),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::Config(format!("nexmark: '{name}' must be positive")));
            }
        }
        if self.max_events_per_second == Some(0) {
            return Err(Error::Config(
                "nexmark: 'max_events_per_second' must be positive".into(),
            ));
        }
        if self.first_event_id < 0 || self.first_event_number < 0 {
            return Err(Error::Config(
                "nexmark: 'first_event_id' and 'first_event_number' must not be negative".into(),
            ));
        }
        if self.proportion_total() > i32::MAX as u64 {
            return Err(Error::Config("nexmark: the proportions are too large".into()));
        }
        Ok(())
    }

    /// `person + auction + bid` proportions: the length of the kind cycle of event ids.
    pub fn proportion_total(&self) -> u64 {
        self.person_proportion as u64 + self.auction_proportion as u64 + self.bid_proportion as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn flink_suite_options() {
        let c = NexmarkConfig::from_options(&opts(&[
            ("connector", "nexmark"),
            ("first-event.rate", "10000000"),
            ("next-event.rate", "10000000"),
            ("events.num", "100000000"),
            ("person.proportion", "1"),
            ("auction.proportion", "3"),
            ("bid.proportion", "46"),
            ("table", "all"),
        ]))
        .expect("valid options");
        assert_eq!(c.rate, 10_000_000);
        assert_eq!(c.events, Some(100_000_000));
        assert_eq!(c.table, NexmarkTable::All);
        assert_eq!(c.max_events_per_second, None);
    }

    #[test]
    fn bad_options_name_the_key() {
        let e = NexmarkConfig::from_options(&opts(&[("events.num", "many")]))
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("events.num"));
        let e = NexmarkConfig::from_options(&opts(&[("rate.shape", "sine")]))
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("rate.shape") && e.contains("first-event.rate"), "{e}");
        let e = NexmarkConfig::from_options(&opts(&[("generators", "0")]))
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("generators"));
        let c = NexmarkConfig::from_options(&opts(&[("max-emit-speed", "false"), ("events.num", "0")]));
        assert_eq!(
            c.ok().map(|c| (c.max_events_per_second, c.events)),
            Some((Some(10_000), None))
        );
    }

    #[test]
    fn serde_defaults() {
        let c: NexmarkConfig = serde_json::from_str(r#"{"events": 5, "table": "person"}"#).expect("json");
        assert_eq!(c.events, Some(5));
        assert_eq!(c.table, NexmarkTable::Person);
        assert_eq!(c.generators, 8);
        assert!(serde_json::from_str::<NexmarkConfig>(r#"{"evnts": 5}"#).is_err());
    }
}
