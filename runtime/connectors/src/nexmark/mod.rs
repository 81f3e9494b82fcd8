//! The Nexmark event generator (persons, auctions, bids), compatible with Beam's generator and
//! carrying the Flink fork's `channel`/`url` bid fields. The spec is `design/NEXMARK.md` §1, §2
//! and §6; this module follows it as below.
//!
//! - **Determinism.** Every event is a pure function of (config, event id, event number): a
//!   `java.util.Random`-compatible LCG ([`random`]) is seeded with `event id ^ seed` and the
//!   fields are drawn in Beam's order ([`fields`]). With `seed` = 0 persons and auctions, and
//!   the auction, bidder, price and date_time of bids, are Beam's values.
//! - **Ids, kinds, time** ([`model`]): kind by `id mod (p+a+b)`; dense person and auction ids
//!   from 1000; event time `base + floor(e · 1000 · G / rate)` ms on each generator's own
//!   timeline (Beam's parallel timelines; exact rational delay, equal to Beam's whenever
//!   1e6/rate is a whole number of µs). Defaults: Beam's base time 2015-07-15T00:00:00Z, first
//!   event id 0 and number 0, 10,000 events/s, 8 generators.
//! - **Quirks on:** bids have `channel` and `url` (drawn after the price and before the extra,
//!   as in the fork; hence a bid's `extra` is not Beam's); hot urls and the channel url cache
//!   come from fixed seeds. **Quirks off unless asked:** `bidder_offset_quirk` (bidder ids
//!   +2000 instead of +1000). **Not reproduced:** the fork's unseeded randomness and its
//!   1 MiB extra pool, Beam's rate shapes and delayed events.
//! - **Splitting** ([`generator`]): the id space is cut into `generators` logical generators
//!   as Beam's `split(G)` does; a generator's position is the count of events it emitted; a
//!   source subtask owns some generators and interleaves them batch by batch ([`source`]).
//! - **Tables** ([`columns`]): `Bid`, `Person`, `Auction` (flat) and `All` (the Flink suite's
//!   nested layout). The flat tables skip other kinds without drawing their fields.

pub mod columns;
pub mod config;
pub mod fields;
pub mod generator;
pub mod model;
pub mod random;
pub mod source;

pub use columns::table_schema;
pub use config::{NexmarkConfig, NexmarkTable, BEAM_BASE_TIME_MS};
pub use generator::GeneratorPosition;
pub use source::{generate, GenerateSummary, NexmarkSource};

#[cfg(test)]
mod tests;
