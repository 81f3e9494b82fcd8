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
    EventModel, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, HOT_BLOCK, ID_LEAD, NUM_CATEGORIES,
};
use super::random::JavaRandom;
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
    /// Padding.
    pub extra: &'a str,
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
    /// Padding.
    pub extra: &'a str,
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
    /// Padding.
    pub extra: &'a str,
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

/// Appends Beam's `nextExtra`: padding so that the record is about `average` bytes. Characters
/// come from `'a' + (v % 26)` of signed ints, so they span ASCII 72..=122.
fn append_extra(r: &mut JavaRandom, current: i32, average: i32, out: &mut String) {
    if current > average {
        return;
    }
    let remaining = average - current;
    let delta = (remaining as f64 * 0.2).round() as i32;
    let mut len = remaining - delta + if delta == 0 { 0 } else { r.next_int_bounded(2 * delta) };
    out.reserve(len.max(0) as usize);
    let mut rnd = 0i32;
    let mut left = 0;
    while len > 0 {
        if left == 0 {
            rnd = r.next_int();
            left = 6;
        }
        out.push((b'a' as i32 + rnd % 26) as u8 as char);
        rnd /= 26;
        left -= 1;
        len -= 1;
    }
}

/// Beam's `PriceGenerator`: log-uniform over 100 .. 100,000,000 cents.
#[inline]
fn next_price(r: &mut JavaRandom) -> i64 {
    (10f64.powf(r.next_double() * 6.0) * 100.0).round() as i64
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
    avg_bid: i32,
    bidder_offset: i64,
    channels: Arc<ChannelTable>,
    buf_a: String,
    buf_b: String,
    buf_c: String,
    extra: String,
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
            avg_bid: ratio(config.avg_bid_byte_size),
            bidder_offset: if config.bidder_offset_quirk {
                2 * FIRST_PERSON_ID
            } else {
                FIRST_PERSON_ID
            },
            channels,
            buf_a: String::with_capacity(128),
            buf_b: String::with_capacity(128),
            buf_c: String::with_capacity(32),
            extra: String::with_capacity(512),
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
    fn next_base0_person_id(&self, id: i64, r: &mut JavaRandom) -> i64 {
        let people = self.model.last_base0_person_id(id) + 1;
        let active = people.min(self.num_active_people);
        people - active + r.next_long_bounded(active + ID_LEAD)
    }

    /// A random in-flight auction (base 0), up to 10 ahead of the last one.
    #[inline]
    fn next_base0_auction_id(&self, id: i64, r: &mut JavaRandom) -> i64 {
        let last = self.model.last_base0_auction_id(id);
        let min = (last - self.num_in_flight_auctions).max(0);
        min + r.next_long_bounded(last - min + 1 + ID_LEAD)
    }

    /// The bid of event `id` at time `date_time`.
    pub fn bid(&mut self, id: i64, date_time: i64) -> BidRow<'_> {
        let mut r = self.random(id);
        let auction = if r.next_int_bounded(self.hot_auction_ratio) > 0 {
            (self.model.last_base0_auction_id(id) / HOT_BLOCK) * HOT_BLOCK
        } else {
            self.next_base0_auction_id(id, &mut r)
        } + FIRST_AUCTION_ID;
        let bidder = if r.next_int_bounded(self.hot_bidders_ratio) > 0 {
            (self.model.last_base0_person_id(id) / HOT_BLOCK) * HOT_BLOCK + 1
        } else {
            self.next_base0_person_id(id, &mut r)
        } + self.bidder_offset;
        let price = next_price(&mut r);
        let (channel, url) = if r.next_int_bounded(HOT_CHANNELS_RATIO) > 0 {
            self.channels
                .hot(r.next_int_bounded(HOT_CHANNELS.len() as i32) as usize)
        } else {
            self.channels.channel(r.next_int_bounded(CHANNELS) as usize)
        };
        self.extra.clear();
        append_extra(&mut r, 32, self.avg_bid, &mut self.extra);
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

    /// The person of event `id` at time `date_time`.
    pub fn person(&mut self, id: i64, date_time: i64) -> PersonRow<'_> {
        let mut r = self.random(id);
        let person_id = self.model.last_base0_person_id(id) + FIRST_PERSON_ID;
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

    /// The auction of event `id`, with (adjusted) event number `number`, at time `date_time`.
    pub fn auction(&mut self, id: i64, number: i64, date_time: i64) -> AuctionRow<'_> {
        let mut r = self.random(id);
        let auction_id = self.model.last_base0_auction_id(id) + FIRST_AUCTION_ID;
        let seller = if r.next_int_bounded(self.hot_sellers_ratio) > 0 {
            (self.model.last_base0_person_id(id) / HOT_BLOCK) * HOT_BLOCK
        } else {
            self.next_base0_person_id(id, &mut r)
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

    #[test]
    fn extra_lengths_and_alphabet() {
        let mut r = JavaRandom::new(11);
        let (mut min, mut max) = (usize::MAX, 0);
        for _ in 0..20_000 {
            let mut s = String::new();
            append_extra(&mut r, 32, 100, &mut s);
            min = min.min(s.len());
            max = max.max(s.len());
            assert!(s.bytes().all(|b| (72..=122).contains(&b)));
        }
        assert_eq!((min, max), (54, 81));
        let mut s = String::new();
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
