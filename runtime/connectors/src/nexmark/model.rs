//! The pure arithmetic of the Nexmark event stream (§1.2, §1.3, §1.5, §1.6 of NEXMARK.md):
//! event kinds by id, the last person and auction ids an event may refer to, event timestamps on
//! a generator's timeline, and the split of the id space into logical generators.
//!
//! Everything here is a function of the configuration and an event id or number; no state.

use super::config::NexmarkConfig;

/// First person id (added to every base-0 person id).
pub const FIRST_PERSON_ID: i64 = 1000;
/// First auction id (added to every base-0 auction id).
pub const FIRST_AUCTION_ID: i64 = 1000;
/// First category id.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// Hot auctions, sellers and bidders are the first of blocks of this many ids.
pub const HOT_BLOCK: i64 = 100;
/// How far past the last created person or auction a non-hot reference may point.
pub const ID_LEAD: i64 = 10;
/// Number of categories.
pub const NUM_CATEGORIES: i32 = 5;

/// What an event holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A new person (code 0).
    Person,
    /// A new auction (code 1).
    Auction,
    /// A bid (code 2).
    Bid,
}

impl EventKind {
    /// The `event_type` code of the Flink suite's table.
    pub fn code(self) -> i32 {
        match self {
            EventKind::Person => 0,
            EventKind::Auction => 1,
            EventKind::Bid => 2,
        }
    }
}

/// An event id with its place in the kind cycle: `id = epoch * (p + a + b) + offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSlot {
    /// The event id.
    pub id: i64,
    epoch: i64,
    offset: i64,
}

/// An event time in ms with the remainder `(number · 1000 · G) mod rate` (reduced) of its
/// computation, so that the next number's time is found by addition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTime {
    /// Event time, ms since the epoch.
    pub ms: i64,
    rem: u64,
}

/// The configuration-derived constants of the event stream.
#[derive(Clone, Debug)]
pub struct EventModel {
    person_proportion: i64,
    auction_proportion: i64,
    total_proportion: i64,
    first_event_number: i64,
    out_of_order_group: i64,
    base_time_ms: i64,
    /// Timestamp offset in ms of event number `e` is `floor(e * ts_num / ts_den)`.
    ts_num: u64,
    ts_den: u64,
    /// `ts_num / ts_den` and `ts_num % ts_den`: one event's step in ms and remainder.
    step_ms: i64,
    step_rem: u64,
    /// Events until `num_in_flight_auctions` more auctions exist (auction length horizon).
    auction_lookahead: i64,
}

impl EventModel {
    /// Derives the constants from a (validated) config.
    pub fn new(config: &NexmarkConfig) -> Self {
        // Per-generator delay D = 1e6 * G / rate µs, so ts(e) = base + floor(e * D / 1000) ms
        // = base + floor(e * 1000 * G / rate): exact, without Beam's rounding of 1e6/rate.
        let num = 1000 * config.generators.max(1) as u64;
        let den = config.rate.max(1);
        let g = gcd(num, den);
        let total = config.proportion_total() as i64;
        let auction = config.auction_proportion.max(1) as i64;
        Self {
            person_proportion: config.person_proportion as i64,
            auction_proportion: config.auction_proportion as i64,
            total_proportion: total,
            first_event_number: config.first_event_number,
            out_of_order_group: config.out_of_order_group_size.max(1) as i64,
            base_time_ms: config.base_time_ms,
            ts_num: num / g,
            ts_den: den / g,
            step_ms: ((num / g) / (den / g)) as i64,
            step_rem: (num / g) % (den / g),
            auction_lookahead: config.num_in_flight_auctions as i64 * total / auction,
        }
    }

    /// The slot of event `id` in the kind cycle.
    #[inline]
    pub fn slot(&self, id: i64) -> EventSlot {
        let epoch = id / self.total_proportion;
        EventSlot {
            id,
            epoch,
            offset: id - epoch * self.total_proportion,
        }
    }

    /// The slot of the event after `s` (`id + 1`), without a division.
    #[inline]
    pub fn next_slot(&self, s: EventSlot) -> EventSlot {
        if s.offset + 1 == self.total_proportion {
            EventSlot {
                id: s.id + 1,
                epoch: s.epoch + 1,
                offset: 0,
            }
        } else {
            EventSlot {
                id: s.id + 1,
                epoch: s.epoch,
                offset: s.offset + 1,
            }
        }
    }

    /// The kind of the event in slot `s`.
    #[inline]
    pub fn kind(&self, s: EventSlot) -> EventKind {
        if s.offset < self.person_proportion {
            EventKind::Person
        } else if s.offset < self.person_proportion + self.auction_proportion {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// The id (base 0) of the last person created at or before the event in slot `s`.
    #[inline]
    pub fn last_base0_person_id(&self, s: EventSlot) -> i64 {
        s.epoch * self.person_proportion + s.offset.min(self.person_proportion - 1)
    }

    /// The id (base 0) of the last auction created at or before the event in slot `s`.
    #[inline]
    pub fn last_base0_auction_id(&self, s: EventSlot) -> i64 {
        let (epoch, offset) = if s.offset < self.person_proportion {
            (s.epoch - 1, self.auction_proportion - 1)
        } else if s.offset >= self.person_proportion + self.auction_proportion {
            (s.epoch, self.auction_proportion - 1)
        } else {
            (s.epoch, s.offset - self.person_proportion)
        };
        epoch * self.auction_proportion + offset
    }

    /// Whether events come in id order (no out-of-order groups).
    #[inline]
    pub fn in_order(&self) -> bool {
        self.out_of_order_group == 1
    }

    /// The event number after `emitted` events of a generator, before reordering.
    #[inline]
    pub fn event_number(&self, emitted: u64) -> i64 {
        self.first_event_number + emitted as i64
    }

    /// Beam's out-of-order adjustment of an event number (identity for group size 1).
    #[inline]
    pub fn adjusted_number(&self, number: i64) -> i64 {
        let n = self.out_of_order_group;
        if n == 1 {
            return number;
        }
        (number / n) * n + (number.wrapping_mul(953)) % n
    }

    /// Event time (ms since the epoch) of event number `number` on a generator's timeline.
    #[inline]
    pub fn timestamp(&self, number: i64) -> i64 {
        self.time_at(number).ms
    }

    /// The event time of `number` with the remainder of its division, to step from.
    pub fn time_at(&self, number: i64) -> EventTime {
        let scaled = number.max(0) as u128 * self.ts_num as u128;
        EventTime {
            ms: self.base_time_ms + (scaled / self.ts_den as u128) as i64,
            rem: (scaled % self.ts_den as u128) as u64,
        }
    }

    /// The event time of the number after `t`'s, without a division.
    #[inline]
    pub fn next_time(&self, t: EventTime) -> EventTime {
        let (mut ms, mut rem) = (t.ms + self.step_ms, t.rem + self.step_rem);
        if rem >= self.ts_den {
            rem -= self.ts_den;
            ms += 1;
        }
        EventTime { ms, rem }
    }

    /// How many events ahead the auction-length horizon looks.
    #[inline]
    pub fn auction_lookahead(&self) -> i64 {
        self.auction_lookahead
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// The id range of one logical generator: Beam's `GeneratorConfig.split(n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorRange {
    /// Event id offset of this generator (`firstEventId + k * floor(N / G)`).
    pub first_event_id: i64,
    /// Number of events it produces.
    pub max_events: u64,
}

/// Total events of the whole stream: `events`, or Beam's "unbounded" maximum.
pub fn total_events(config: &NexmarkConfig) -> u64 {
    match config.events {
        Some(n) => n,
        None => {
            let biggest = config
                .avg_person_byte_size
                .max(config.avg_auction_byte_size)
                .max(config.avg_bid_byte_size)
                .max(1) as u64;
            (i64::MAX as u64) / (config.proportion_total().max(1) * biggest)
        }
    }
}

/// The range of generator `k` of `config.generators`.
pub fn generator_range(config: &NexmarkConfig, k: u32) -> GeneratorRange {
    let total = total_events(config);
    let n = config.generators.max(1) as u64;
    let sub = total / n;
    let max_events = if k as u64 == n - 1 { total - sub * (n - 1) } else { sub };
    GeneratorRange {
        first_event_id: config.first_event_id + (k as u64 * sub) as i64,
        max_events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_fifty_cycle() {
        let m = EventModel::new(&NexmarkConfig::default());
        for id in 0..500i64 {
            let expect = match id % 50 {
                0 => EventKind::Person,
                1..=3 => EventKind::Auction,
                _ => EventKind::Bid,
            };
            assert_eq!(m.kind(m.slot(id)), expect, "id {id}");
        }
    }

    #[test]
    fn stepped_times_equal_computed_times() {
        for (rate, generators) in [(10_000, 8), (10_000_000, 8), (7, 3), (1, 100), (999_983, 5)] {
            let m = EventModel::new(&NexmarkConfig {
                rate,
                generators,
                ..NexmarkConfig::default()
            });
            let mut t = m.time_at(1_000_003);
            for n in 1_000_004..1_002_000 {
                t = m.next_time(t);
                assert_eq!(t, m.time_at(n), "rate {rate}, generators {generators}, number {n}");
            }
        }
    }

    #[test]
    fn next_slot_equals_slot_of_next_id() {
        let m = EventModel::new(&NexmarkConfig::default());
        let mut s = m.slot(7);
        for id in 8..300 {
            s = m.next_slot(s);
            assert_eq!(s, m.slot(id));
        }
    }

    #[test]
    fn last_ids() {
        let m = EventModel::new(&NexmarkConfig::default());
        assert_eq!(m.last_base0_person_id(m.slot(0)), 0);
        assert_eq!(m.last_base0_person_id(m.slot(49)), 0);
        assert_eq!(m.last_base0_person_id(m.slot(50)), 1);
        assert_eq!(m.last_base0_person_id(m.slot(120)), 2);
        // A person slot looks back to the previous epoch's last auction.
        assert_eq!(m.last_base0_auction_id(m.slot(50)), 2);
        assert_eq!(m.last_base0_auction_id(m.slot(0)), -1);
        // Auction slots 1..=3 are auctions 3q + 0..=2.
        assert_eq!(m.last_base0_auction_id(m.slot(51)), 3);
        assert_eq!(m.last_base0_auction_id(m.slot(53)), 5);
        // A bid slot sees this epoch's last auction.
        assert_eq!(m.last_base0_auction_id(m.slot(54)), 5);
        assert_eq!(m.last_base0_auction_id(m.slot(99)), 5);
    }

    #[test]
    fn timestamps_on_parallel_timelines() {
        // 10k events/s over 8 generators: each generator's events are 800 µs apart.
        let m = EventModel::new(&NexmarkConfig::default());
        assert_eq!(m.timestamp(0), BEAM_BASE);
        assert_eq!(m.timestamp(1), BEAM_BASE);
        assert_eq!(m.timestamp(2), BEAM_BASE + 1);
        assert_eq!(m.timestamp(5), BEAM_BASE + 4);
        assert_eq!(m.timestamp(10_000), BEAM_BASE + 8_000);
        // 10M/s over 8 generators: D = 0.8 µs.
        let fast = NexmarkConfig {
            rate: 10_000_000,
            ..NexmarkConfig::default()
        };
        let m = EventModel::new(&fast);
        assert_eq!(m.timestamp(1249), BEAM_BASE);
        assert_eq!(m.timestamp(1250), BEAM_BASE + 1);
        assert_eq!(m.timestamp(12_500_000), BEAM_BASE + 10_000);
        // Beam's defaults (100 generators): 10 ms apart.
        let beam = NexmarkConfig {
            generators: 100,
            ..NexmarkConfig::default()
        };
        assert_eq!(EventModel::new(&beam).timestamp(3), BEAM_BASE + 30);
        assert_eq!(EventModel::new(&beam).auction_lookahead(), 1666);
    }

    const BEAM_BASE: i64 = super::super::config::BEAM_BASE_TIME_MS;

    #[test]
    fn out_of_order_groups_permute_within_a_group() {
        let c = NexmarkConfig {
            out_of_order_group_size: 4,
            ..NexmarkConfig::default()
        };
        let m = EventModel::new(&c);
        let mut got: Vec<i64> = (0..8).map(|e| m.adjusted_number(e)).collect();
        assert_eq!(got[0], 0);
        got[..4].sort_unstable();
        got[4..].sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn beam_split() {
        let c = NexmarkConfig {
            events: Some(103),
            generators: 4,
            ..NexmarkConfig::default()
        };
        let ranges: Vec<_> = (0..4).map(|k| generator_range(&c, k)).collect();
        assert_eq!(
            ranges.iter().map(|r| r.first_event_id).collect::<Vec<_>>(),
            vec![0, 25, 50, 75]
        );
        assert_eq!(
            ranges.iter().map(|r| r.max_events).collect::<Vec<_>>(),
            vec![25, 25, 25, 28]
        );
        let unbounded = NexmarkConfig::default();
        assert_eq!(total_events(&unbounded), i64::MAX as u64 / 25_000);
    }
}
