//! Drawing the fields of one event (§1.3, §1.4, §1.6 of NEXMARK.md).
//!
//! A fresh [`JavaRandom`] is seeded with `event id ^ seed` and the fields are drawn in Beam's
//! order, so with `seed` = 0 persons, auctions and the auction/bidder/price/date_time of bids
//! are Beam's values. Strings are written into reusable buffers and handed out as borrowed rows,
//! so generating an event allocates nothing.
//!
//! Quirks of the Flink fork that are on: bids carry `channel` and `url`, drawn after the price
//! and before the extra (so a bid's `extra` differs from Beam's, which has no channel draws);
//! the hot urls and the channel-to-url cache come from fixed seeds instead of an unseeded JVM
//! random. Optional: `bidder_offset_quirk` adds the first person id to bidders twice. Not
//! reproduced: the fork's unseeded per-reader random and its 1 MiB extra pool (we keep Beam's
//! per-event seeding and extra alphabet).

use super::config::NexmarkConfig;
use super::model::{
    EventModel, EventSlot, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, HOT_BLOCK, ID_LEAD, NUM_CATEGORIES,
};
use super::random::{Divisor, JavaRandom};
use std::sync::Arc;

const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Number of non-hot channels.
pub const CHANNELS: i32 = 10_000;
const HOT_CHANNELS_RATIO: i32 = 2;
/// Seed of the four hot urls (XOR the config seed).
const HOT_URL_SEED: i64 = 0x4E45_584D_4152_4B01;
/// Seed base of the per-channel urls (channel `i` uses `CHANNEL_URL_SEED + i`, XOR the seed).
const CHANNEL_URL_SEED: i64 = 0x4E45_584D_4152_4B02;

/// A bid, borrowing its strings from the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BidRow<'a> {
    /// Auction id.
    pub auction: i64,
    /// Bidder (person) id.
    pub bidder: i64,
    /// Price in cents.
    pub price: i64,
    /// Channel name.
    pub channel: &'a str,
    /// Url.
    pub url: &'a str,
    /// Event time (ms).
    pub date_time: i64,
    /// Padding (ASCII bytes).
    pub extra: &'a [u8],
}

/// A person, borrowing its strings from the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonRow<'a> {
    /// Person id.
    pub id: i64,
    /// "First Last".
    pub name: &'a str,
    /// Email address.
    pub email_address: &'a str,
    /// Credit card number.
    pub credit_card: &'a str,
    /// City.
    pub city: &'static str,
    /// State.
    pub state: &'static str,
    /// Event time (ms).
    pub date_time: i64,
    /// Padding (ASCII bytes).
    pub extra: &'a [u8],
}

/// An auction, borrowing its strings from the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuctionRow<'a> {
    /// Auction id.
    pub id: i64,
    /// Item name.
    pub item_name: &'a str,
    /// Description.
    pub description: &'a str,
    /// Initial bid (cents).
    pub initial_bid: i64,
    /// Reserve price (cents).
    pub reserve: i64,
    /// Event time (ms).
    pub date_time: i64,
    /// Expiry time (ms).
    pub expires: i64,
    /// Seller (person) id.
    pub seller: i64,
    /// Category id.
    pub category: i64,
    /// Padding (ASCII bytes).
    pub extra: &'a [u8],
}

/// The fixed hot urls and the channel-to-url cache.
#[derive(Debug)]
pub struct ChannelTable {
    hot_urls: [String; 4],
    names: Vec<String>,
    urls: Vec<String>,
}

impl ChannelTable {
    /// Builds the table for `seed` (about 10,000 short strings).
    pub fn new(seed: i64) -> Self {
        let mut r = JavaRandom::new(HOT_URL_SEED ^ seed);
        let hot_urls = [base_url(&mut r), base_url(&mut r), base_url(&mut r), base_url(&mut r)];
        let mut names = Vec::with_capacity(CHANNELS as usize);
        let mut urls = Vec::with_capacity(CHANNELS as usize);
        for i in 0..CHANNELS {
            let mut r = JavaRandom::new(CHANNEL_URL_SEED.wrapping_add(i as i64) ^ seed);
            let mut url = base_url(&mut r);
            if r.next_int_bounded(10) > 0 {
                // abs(Integer.reverse(i)), which overflows to MIN_INT for i = 1 as in Java.
                url.push_str("&channel_id=");
                url.push_str(&i.reverse_bits().wrapping_abs().to_string());
            }
            names.push(format!("channel-{i}"));
            urls.push(url);
        }
        Self { hot_urls, names, urls }
    }

    /// Hot channel `i` (0..4): name and url.
    pub fn hot(&self, i: usize) -> (&'static str, &str) {
        (HOT_CHANNELS[i], &self.hot_urls[i])
    }

    /// Channel `i` (0..10,000): name and url.
    pub fn channel(&self, i: usize) -> (&str, &str) {
        (&self.names[i], &self.urls[i])
    }
}

/// "https://www.nexmark.com/" + three url segments + "/item.htm?query=1".
fn base_url(r: &mut JavaRandom) -> String {
    let mut s = String::with_capacity(64);
    s.push_str("https://www.nexmark.com/");
    for _ in 0..3 {
        append_random_string(r, 5, b'_', &mut s);
        s.push('/');
    }
    s.push_str("item.htm?query=1");
    s
}

/// Appends Beam's `nextString(random, max, special)`: 3 + U[0, max-3) characters, each the
/// special character with probability 1/13 else a-z, then trimmed of spaces.
fn append_random_string(r: &mut JavaRandom, max: i32, special: u8, out: &mut String) {
    let start = out.len();
    let len = 3 + r.next_int_bounded(max - 3);
    for _ in 0..len {
        if r.next_int_bounded(13) == 0 {
            out.push(special as char);
        } else {
            out.push((b'a' + r.next_int_bounded(26) as u8) as char);
        }
    }
    if special == b' ' {
        while out.len() > start && out.ends_with(' ') {
            out.pop();
        }
        let leading = out[start..].bytes().take_while(|b| *b == b' ').count();
        if leading > 0 {
            out.drain(start..start + leading);
        }
    }
}

/// The length rule of Beam's `nextExtra` for one record size: `remaining - delta + U[0, 2 delta)`
/// characters, where `remaining = average - current` and `delta = round(0.2 remaining)`.
#[derive(Clone, Copy, Debug)]
struct ExtraLength {
    skip: bool,
    base: i32,
    spread: Option<Divisor>,
}

impl ExtraLength {
    fn new(current: i32, average: i32) -> Self {
        let remaining = average - current;
        let delta = round_half_up(remaining as f64 * 0.2) as i32;
        Self {
            skip: current > average,
            base: remaining - delta,
            spread: (delta != 0).then(|| Divisor::new(2 * delta)),
        }
    }
}

/// Appends Beam's `nextExtra`: padding so that the record is about `average` bytes. Characters
/// come from `'a' + (v % 26)` of signed ints, so they span ASCII 72..=122.
fn append_extra(r: &mut JavaRandom, current: i32, average: i32, out: &mut Vec<u8>) {
    append_extra_with(r, ExtraLength::new(current, average), out);
}

/// Two characters of `nextExtra` per index `v` in `0..676`: `'a' + v % 26` then `'a' + v / 26`,
/// for a non-negative draw (`[0]`) and with both digits subtracted for a negative one (`[1]`).
const EXTRA_PAIRS: [[[u8; 2]; 676]; 2] = {
    let mut table = [[[0u8; 2]; 676]; 2];
    let mut v = 0;
    while v < 676 {
        let (low, high) = ((v % 26) as u8, (v / 26) as u8);
        table[0][v] = [b'a' + low, b'a' + high];
        table[1][v] = [b'a' - low, b'a' - high];
        v += 1;
    }
    table
};

fn append_extra_with(r: &mut JavaRandom, plan: ExtraLength, out: &mut Vec<u8>) {
    if plan.skip {
        return;
    }
    let len = plan.base + plan.spread.map_or(0, |d| r.next_int_by(&d));
    let len = len.max(0) as usize;
    let end = out.len() + len;
    out.reserve(len + 6);
    // Six characters per 32-bit draw (a fresh draw for the last partial group), as in Beam:
    // character i of draw x is `'a' + (x / 26^i) % 26` with Java's truncating division and
    // signed remainder, i.e. `'a' ± (|x| / 26^i) % 26` with the sign of x. Characters come in
    // pairs from one base-676 digit of |x| (truncating division composes), looked up in a table.
    let mut left = len;
    while left > 0 {
        let x = r.next_int();
        let y = x.unsigned_abs();
        let pairs = &EXTRA_PAIRS[usize::from(x < 0)];
        let (q1, q2) = (y / 676, y / 456_976);
        let [a, b] = pairs[(y - q1 * 676) as usize];
        let [c, d] = pairs[(q1 - q2 * 676) as usize];
        let [e, f] = pairs[(q2 % 676) as usize];
        // Whole groups copy without a call to memcpy; the excess is cut below.
        out.extend_from_slice(&[a, b, c, d, e, f]);
        left = left.saturating_sub(6);
    }
    out.truncate(end);
}

/// Java's `Math.round` for non-negative values below 2^52: `floor(x + 0.5)`, where the sum is
/// exact for `x >= 0.5` (so no libm call on the hot path).
#[inline]
fn round_half_up(x: f64) -> i64 {
    (x + 0.5) as i64
}

/// Beam's `PriceGenerator`: log-uniform over 100 .. 100,000,000 cents.
#[inline]
fn next_price(r: &mut JavaRandom) -> i64 {
    round_half_up(10f64.powf(r.next_double() * 6.0) * 100.0)
}

/// Draws events' fields. One per source subtask; holds reusable string buffers.
#[derive(Debug)]
pub struct FieldGenerator {
    model: EventModel,
    seed: i64,
    hot_auction_ratio: i32,
    hot_bidders_ratio: i32,
    hot_sellers_ratio: i32,
    num_in_flight_auctions: i64,
    num_active_people: i64,
    avg_person: i32,
    avg_auction: i32,
    bidder_offset: i64,
    bid_extra: ExtraLength,
    /// The usual bounds of the non-hot person and auction draws (once enough exist).
    active_people_bound: Divisor,
    in_flight_bound: Divisor,
    channels: Arc<ChannelTable>,
    buf_a: String,
    buf_b: String,
    buf_c: String,
    extra: Vec<u8>,
}

impl FieldGenerator {
    /// A generator for `config`, sharing `channels`.
    pub fn new(config: &NexmarkConfig, channels: Arc<ChannelTable>) -> Self {
        let ratio = |v: u32| v.min(i32::MAX as u32) as i32;
        Self {
            model: EventModel::new(config),
            seed: config.seed,
            hot_auction_ratio: ratio(config.hot_auction_ratio),
            hot_bidders_ratio: ratio(config.hot_bidders_ratio),
            hot_sellers_ratio: ratio(config.hot_sellers_ratio),
            num_in_flight_auctions: config.num_in_flight_auctions as i64,
            num_active_people: config.num_active_people as i64,
            avg_person: ratio(config.avg_person_byte_size),
            avg_auction: ratio(config.avg_auction_byte_size),
            bidder_offset: if config.bidder_offset_quirk {
                2 * FIRST_PERSON_ID
            } else {
                FIRST_PERSON_ID
            },
            bid_extra: ExtraLength::new(32, ratio(config.avg_bid_byte_size)),
            active_people_bound: Divisor::new(ratio(config.num_active_people).saturating_add(ID_LEAD as i32)),
            in_flight_bound: Divisor::new(ratio(config.num_in_flight_auctions).saturating_add(1 + ID_LEAD as i32)),
            channels,
            buf_a: String::with_capacity(128),
            buf_b: String::with_capacity(128),
            buf_c: String::with_capacity(32),
            extra: Vec::with_capacity(512),
        }
    }

    /// The event model.
    pub fn model(&self) -> &EventModel {
        &self.model
    }

    #[inline]
    fn random(&self, id: i64) -> JavaRandom {
        JavaRandom::new(id ^ self.seed)
    }

    /// A random recent person (base 0): one of the last `num_active_people` or up to 10 ahead.
    #[inline]
    fn next_base0_person_id(&self, s: EventSlot, r: &mut JavaRandom) -> i64 {
        let people = self.model.last_base0_person_id(s) + 1;
        let active = people.min(self.num_active_people);
        let n = active + ID_LEAD;
        let draw = if n == self.active_people_bound.bound() as i64 && n < i32::MAX as i64 {
            r.next_int_by(&self.active_people_bound) as i64
        } else {
            r.next_long_bounded(n)
        };
        people - active + draw
    }

    /// A random in-flight auction (base 0), up to 10 ahead of the last one.
    #[inline]
    fn next_base0_auction_id(&self, s: EventSlot, r: &mut JavaRandom) -> i64 {
        let last = self.model.last_base0_auction_id(s);
        let min = (last - self.num_in_flight_auctions).max(0);
        let n = last - min + 1 + ID_LEAD;
        let draw = if n == self.in_flight_bound.bound() as i64 && n < i32::MAX as i64 {
            r.next_int_by(&self.in_flight_bound) as i64
        } else {
            r.next_long_bounded(n)
        };
        min + draw
    }

    /// The bid of the event in slot `s` at time `date_time`.
    pub fn bid(&mut self, s: EventSlot, date_time: i64) -> BidRow<'_> {
        let mut r = self.random(s.id);
        let auction = if r.next_int_bounded(self.hot_auction_ratio) > 0 {
            (self.model.last_base0_auction_id(s) / HOT_BLOCK) * HOT_BLOCK
        } else {
            self.next_base0_auction_id(s, &mut r)
        } + FIRST_AUCTION_ID;
        let bidder = if r.next_int_bounded(self.hot_bidders_ratio) > 0 {
            (self.model.last_base0_person_id(s) / HOT_BLOCK) * HOT_BLOCK + 1
        } else {
            self.next_base0_person_id(s, &mut r)
        } + self.bidder_offset;
        let price = next_price(&mut r);
        let (channel, url) = if r.next_int_bounded(HOT_CHANNELS_RATIO) > 0 {
            self.channels
                .hot(r.next_int_bounded(HOT_CHANNELS.len() as i32) as usize)
        } else {
            self.channels.channel(r.next_int_bounded(CHANNELS) as usize)
        };
        self.extra.clear();
        append_extra_with(&mut r, self.bid_extra, &mut self.extra);
        BidRow {
            auction,
            bidder,
            price,
            channel,
            url,
            date_time,
            extra: &self.extra,
        }
    }

    /// The person of the event in slot `s` at time `date_time`.
    pub fn person(&mut self, s: EventSlot, date_time: i64) -> PersonRow<'_> {
        let mut r = self.random(s.id);
        let person_id = self.model.last_base0_person_id(s) + FIRST_PERSON_ID;
        let (name, email, card) = (&mut self.buf_a, &mut self.buf_b, &mut self.buf_c);
        name.clear();
        name.push_str(FIRST_NAMES[r.next_int_bounded(FIRST_NAMES.len() as i32) as usize]);
        name.push(' ');
        name.push_str(LAST_NAMES[r.next_int_bounded(LAST_NAMES.len() as i32) as usize]);
        email.clear();
        append_random_string(&mut r, 7, b' ', email);
        email.push('@');
        append_random_string(&mut r, 5, b' ', email);
        email.push_str(".com");
        card.clear();
        for i in 0..4 {
            if i > 0 {
                card.push(' ');
            }
            let v = r.next_int_bounded(10_000) as u32;
            for d in [v / 1000, v / 100 % 10, v / 10 % 10, v % 10] {
                card.push((b'0' + d as u8) as char);
            }
        }
        let city = CITIES[r.next_int_bounded(CITIES.len() as i32) as usize];
        let state = STATES[r.next_int_bounded(STATES.len() as i32) as usize];
        let current = 8 + name.len() + email.len() + card.len() + city.len() + state.len();
        self.extra.clear();
        append_extra(&mut r, current as i32, self.avg_person, &mut self.extra);
        PersonRow {
            id: person_id,
            name: &self.buf_a,
            email_address: &self.buf_b,
            credit_card: &self.buf_c,
            city,
            state,
            date_time,
            extra: &self.extra,
        }
    }

    /// The auction of the event in slot `s`, with (adjusted) event number `number`, at time
    /// `date_time`.
    pub fn auction(&mut self, s: EventSlot, number: i64, date_time: i64) -> AuctionRow<'_> {
        let mut r = self.random(s.id);
        let auction_id = self.model.last_base0_auction_id(s) + FIRST_AUCTION_ID;
        let seller = if r.next_int_bounded(self.hot_sellers_ratio) > 0 {
            (self.model.last_base0_person_id(s) / HOT_BLOCK) * HOT_BLOCK
        } else {
            self.next_base0_person_id(s, &mut r)
        } + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + r.next_int_bounded(NUM_CATEGORIES) as i64;
        let initial_bid = next_price(&mut r);
        let horizon = self.model.timestamp(number + self.model.auction_lookahead()) - date_time;
        let expires = date_time + 1 + r.next_long_bounded((horizon * 2).max(1));
        let (name, desc) = (&mut self.buf_a, &mut self.buf_b);
        name.clear();
        append_random_string(&mut r, 20, b' ', name);
        desc.clear();
        append_random_string(&mut r, 100, b' ', desc);
        let reserve = initial_bid + next_price(&mut r);
        let current = 8 + name.len() + desc.len() + 40;
        self.extra.clear();
        append_extra(&mut r, current as i32, self.avg_auction, &mut self.extra);
        AuctionRow {
            id: auction_id,
            item_name: &self.buf_a,
            description: &self.buf_b,
            initial_bid,
            reserve,
            date_time,
            expires,
            seller,
            category,
            extra: &self.extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_follow_beams_rules() {
        let mut r = JavaRandom::new(3);
        for _ in 0..2000 {
            let mut s = String::new();
            append_random_string(&mut r, 20, b' ', &mut s);
            assert!(s.len() <= 19, "{s:?}");
            assert!(!s.starts_with(' ') && !s.ends_with(' '));
            assert!(s.bytes().all(|b| b == b' ' || b.is_ascii_lowercase()));
            let mut u = String::new();
            append_random_string(&mut r, 5, b'_', &mut u);
            assert!((3..=4).contains(&u.len()), "{u:?}");
            assert!(u.bytes().all(|b| b == b'_' || b.is_ascii_lowercase()));
        }
    }

    /// The unsigned digit extraction equals Java's signed loop for every kind of int.
    #[test]
    fn extra_characters_match_javas_signed_loop() {
        let java = |mut rnd: i32| -> Vec<u8> {
            (0..6)
                .map(|_| {
                    let c = (b'a' as i32 + rnd % 26) as u8;
                    rnd /= 26;
                    c
                })
                .collect()
        };
        let mut r = JavaRandom::new(5);
        let mut ints: Vec<i32> = (0..200_000).map(|_| r.next_int()).collect();
        ints.extend([
            0,
            1,
            -1,
            25,
            -25,
            26,
            -26,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            308_915_776,
            -308_915_776,
        ]);
        for x in ints {
            // Replay x through append_extra: a generator whose next_int yields x is not at hand,
            // so compare the digit formula directly.
            let y = x.unsigned_abs();
            let q = [
                y,
                y / 26,
                y / 676,
                y / 17_576,
                y / 456_976,
                y / 11_881_376,
                y / 308_915_776,
            ];
            let sign: i32 = if x < 0 { -1 } else { 1 };
            let ours: Vec<u8> = (0..6)
                .map(|i| (b'a' as i32 + sign * (q[i] - 26 * q[i + 1]) as i32) as u8)
                .collect();
            assert_eq!(ours, java(x), "{x}");
        }
    }

    #[test]
    fn extra_lengths_and_alphabet() {
        let mut r = JavaRandom::new(11);
        let (mut min, mut max) = (usize::MAX, 0);
        for _ in 0..20_000 {
            let mut s = Vec::new();
            append_extra(&mut r, 32, 100, &mut s);
            min = min.min(s.len());
            max = max.max(s.len());
            assert!(s.iter().all(|b| (72..=122).contains(b)));
        }
        assert_eq!((min, max), (54, 81));
        let mut s = Vec::new();
        append_extra(&mut r, 600, 500, &mut s);
        assert!(s.is_empty());
    }

    #[test]
    fn channel_table_is_fixed_and_shaped() {
        let a = ChannelTable::new(0);
        let b = ChannelTable::new(0);
        assert_eq!(a.hot(2), b.hot(2));
        assert_eq!(a.channel(77), b.channel(77));
        assert_ne!(a.hot(0).1, ChannelTable::new(5).hot(0).1);
        let (name, url) = a.channel(1);
        assert_eq!(name, "channel-1");
        assert!(url.starts_with("https://www.nexmark.com/"));
        let with_id = (0..CHANNELS as usize)
            .filter(|i| a.channel(*i).1.contains("&channel_id="))
            .count();
        assert!((8_700..9_300).contains(&with_id), "{with_id}");
        let one = a.channel(1).1;
        assert!(!one.contains("&channel_id=") || one.ends_with("&channel_id=-2147483648"));
        for i in 0..4 {
            let segments: Vec<&str> = a.hot(i).1.split('/').collect();
            assert_eq!(segments.len(), 7, "{:?}", a.hot(i));
            assert!(segments[3..6].iter().all(|s| (3..=4).contains(&s.len())));
        }
    }
}
