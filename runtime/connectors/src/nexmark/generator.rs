//! One logical generator: a contiguous slice of the event-id space (Beam's split) and how many
//! of its events have been emitted. Its position is that count and nothing else, since every
//! event is a pure function of the configuration, the generator and the event's index.

use super::columns::TableColumns;
use super::fields::FieldGenerator;
use super::model::{generator_range, EventKind, EventModel, EventSlot, EventTime, GeneratorRange};
use super::NexmarkConfig;
use serde::{Deserialize, Serialize};

/// The snapshot item of one generator: `{generator, of, emitted}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratorPosition {
    /// Generator index `k`.
    pub generator: u32,
    /// Number of generators `G` the id space was split into.
    pub of: u32,
    /// Events (of every kind) it has emitted or skipped.
    pub emitted: u64,
}

/// Walks a generator's events: event `n` has number `adjusted(first_number + n)` and id
/// `first_id + number`. In order (the default) consecutive ids are stepped without division.
struct Cursor<'m> {
    model: &'m EventModel,
    first_id: i64,
    n: u64,
    slot: EventSlot,
    time: EventTime,
}

impl<'m> Cursor<'m> {
    fn new(model: &'m EventModel, first_id: i64, n: u64) -> Self {
        let number = model.adjusted_number(model.event_number(n));
        Self {
            model,
            first_id,
            n,
            slot: model.slot(first_id + number),
            time: model.time_at(number),
        }
    }

    /// The current event's slot.
    #[inline]
    fn slot(&self) -> EventSlot {
        self.slot
    }

    /// The current event's (adjusted) number.
    #[inline]
    fn number(&self) -> i64 {
        self.slot.id - self.first_id
    }

    /// The current event's time (ms).
    #[inline]
    fn time(&self) -> i64 {
        self.time.ms
    }

    #[inline]
    fn advance(&mut self) {
        self.n += 1;
        if self.model.in_order() {
            self.slot = self.model.next_slot(self.slot);
            self.time = self.model.next_time(self.time);
        } else {
            let number = self.model.adjusted_number(self.model.event_number(self.n));
            self.slot = self.model.slot(self.first_id + number);
            self.time = self.model.time_at(number);
        }
    }
}

/// One logical generator and its progress.
#[derive(Clone, Debug)]
pub struct LogicalGenerator {
    index: u32,
    of: u32,
    range: GeneratorRange,
    emitted: u64,
}

/// What one fill of a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filled {
    /// Events consumed (including skipped ones of other kinds).
    pub events: u64,
    /// Rows appended.
    pub rows: usize,
}

impl LogicalGenerator {
    /// Generator `index` of `config.generators`, having emitted `emitted` events.
    pub fn new(config: &NexmarkConfig, index: u32, emitted: u64) -> Self {
        let range = generator_range(config, index);
        Self {
            index,
            of: config.generators,
            range,
            emitted: emitted.min(range.max_events),
        }
    }

    /// Its index (also the split id).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Whether every event of its range has been emitted.
    pub fn is_exhausted(&self) -> bool {
        self.emitted >= self.range.max_events
    }

    /// Its position, for a snapshot.
    pub fn position(&self) -> GeneratorPosition {
        GeneratorPosition {
            generator: self.index,
            of: self.of,
            emitted: self.emitted,
        }
    }

    /// Appends the next events to `columns` until it holds `max_rows` rows, `max_events`
    /// events were consumed, or the range is exhausted. Events of kinds the table does not
    /// hold are skipped without drawing their fields.
    pub fn fill(
        &mut self,
        fields: &mut FieldGenerator,
        columns: &mut TableColumns,
        max_rows: usize,
        max_events: u64,
    ) -> Filled {
        let start_rows = columns.len();
        let end = self.range.max_events.min(self.emitted.saturating_add(max_events));
        let start = self.emitted;
        let model = fields.model().clone();
        let mut at = Cursor::new(&model, self.range.first_event_id, self.emitted);
        let mut n = self.emitted;
        match columns {
            TableColumns::Bid(c) => {
                let mut rows = start_rows;
                while n < end && rows < max_rows {
                    let slot = at.slot();
                    if model.kind(slot) == EventKind::Bid {
                        c.append(&fields.bid(slot, at.time()));
                        rows += 1;
                    }
                    n += 1;
                    at.advance();
                }
            }
            TableColumns::Person(c) => {
                while n < end && c.len() < max_rows {
                    let slot = at.slot();
                    if model.kind(slot) == EventKind::Person {
                        c.append(&fields.person(slot, at.time()));
                    }
                    n += 1;
                    at.advance();
                }
            }
            TableColumns::Auction(c) => {
                while n < end && c.len() < max_rows {
                    let (slot, number) = (at.slot(), at.number());
                    if model.kind(slot) == EventKind::Auction {
                        c.append(&fields.auction(slot, number, at.time()));
                    }
                    n += 1;
                    at.advance();
                }
            }
            TableColumns::All(c) => {
                while n < end && c.len() < max_rows {
                    let (slot, number) = (at.slot(), at.number());
                    let ts = at.time();
                    match model.kind(slot) {
                        EventKind::Person => c.append_person(&fields.person(slot, ts)),
                        EventKind::Auction => c.append_auction(&fields.auction(slot, number, ts)),
                        EventKind::Bid => c.append_bid(&fields.bid(slot, ts)),
                    }
                    n += 1;
                    at.advance();
                }
            }
        }
        self.emitted = n;
        Filled {
            events: n - start,
            rows: columns.len() - start_rows,
        }
    }
}
