//! Arrow layouts of the Nexmark tables and the column builders that rows are appended to.
//!
//! Columns are plain vectors (values, and offsets for strings) turned into arrays without
//! copying; string columns are checked for UTF-8 once per batch rather than once per value.
//! Each batch's vectors are allocated with the capacity the previous batch needed, so a batch
//! is filled without reallocation.

use super::config::NexmarkTable;
use super::fields::{AuctionRow, BidRow, PersonRow};
use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, StructArray, TimestampMillisecondArray};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use std::sync::Arc;

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn i64f(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

/// Bid columns: auction, bidder, price, channel, url, date_time, extra.
pub fn bid_fields() -> Fields {
    Fields::from(vec![
        i64f("auction"),
        i64f("bidder"),
        i64f("price"),
        utf8("channel"),
        utf8("url"),
        Field::new("date_time", ts(), false),
        utf8("extra"),
    ])
}

/// Person columns: id, name, email_address, credit_card, city, state, date_time, extra.
pub fn person_fields() -> Fields {
    Fields::from(vec![
        i64f("id"),
        utf8("name"),
        utf8("email_address"),
        utf8("credit_card"),
        utf8("city"),
        utf8("state"),
        Field::new("date_time", ts(), false),
        utf8("extra"),
    ])
}

/// Auction columns: id, item_name, description, initial_bid, reserve, date_time, expires,
/// seller, category, extra.
pub fn auction_fields() -> Fields {
    Fields::from(vec![
        i64f("id"),
        utf8("item_name"),
        utf8("description"),
        i64f("initial_bid"),
        i64f("reserve"),
        Field::new("date_time", ts(), false),
        Field::new("expires", ts(), false),
        i64f("seller"),
        i64f("category"),
        utf8("extra"),
    ])
}

/// The schema of `table`.
pub fn table_schema(table: NexmarkTable) -> SchemaRef {
    Arc::new(match table {
        NexmarkTable::Bid => Schema::new(bid_fields()),
        NexmarkTable::Person => Schema::new(person_fields()),
        NexmarkTable::Auction => Schema::new(auction_fields()),
        NexmarkTable::All => Schema::new(vec![
            Field::new("event_type", DataType::Int32, false),
            Field::new("person", DataType::Struct(person_fields()), true),
            Field::new("auction", DataType::Struct(auction_fields()), true),
            Field::new("bid", DataType::Struct(bid_fields()), true),
            Field::new("date_time", ts(), false),
        ]),
    })
}

/// A string column under construction: concatenated bytes and end offsets.
#[derive(Debug)]
struct Utf8Column {
    values: Vec<u8>,
    offsets: Vec<i32>,
}

impl Utf8Column {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            values: Vec::with_capacity(bytes),
            offsets,
        }
    }

    #[inline]
    fn push(&mut self, value: &[u8]) {
        self.values.extend_from_slice(value);
        // Batches stay far below 2 GiB; `finish` rejects a column that does not.
        self.offsets.push(self.values.len() as i32);
    }

    fn finish(self) -> Result<ArrayRef> {
        if self.values.len() > i32::MAX as usize {
            return Err(Error::Internal(
                "nexmark: a string column exceeds 2 GiB in one batch".into(),
            ));
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        Ok(Arc::new(StringArray::try_new(
            offsets,
            Buffer::from_vec(self.values),
            None,
        )?))
    }
}

fn ints(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

fn times(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(v))
}

/// Remembers how many string bytes each column needed, to size the next batch's columns.
#[derive(Debug, Default)]
struct SizeHints(Vec<usize>);

impl SizeHints {
    fn of(columns: &[&Utf8Column]) -> Self {
        Self(columns.iter().map(|c| c.values.len()).collect())
    }

    fn get(&self, i: usize, rows: usize, per_row: usize) -> usize {
        // 1/8 slack over the last batch, so that a slightly larger batch does not reallocate.
        let last = self.0.get(i).copied().unwrap_or(rows * per_row);
        (last + last / 8 + 64).max(rows * per_row / 2)
    }
}

/// The bid columns.
#[derive(Debug)]
pub struct BidColumns {
    auction: Vec<i64>,
    bidder: Vec<i64>,
    price: Vec<i64>,
    channel: Utf8Column,
    url: Utf8Column,
    date_time: Vec<i64>,
    extra: Utf8Column,
}

impl BidColumns {
    /// Columns for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self::sized(rows, &SizeHints::default())
    }

    fn sized(rows: usize, h: &SizeHints) -> Self {
        Self {
            auction: Vec::with_capacity(rows),
            bidder: Vec::with_capacity(rows),
            price: Vec::with_capacity(rows),
            channel: Utf8Column::with_capacity(rows, h.get(0, rows, 10)),
            url: Utf8Column::with_capacity(rows, h.get(1, rows, 80)),
            date_time: Vec::with_capacity(rows),
            extra: Utf8Column::with_capacity(rows, h.get(2, rows, 82)),
        }
    }

    /// Appends one bid.
    #[inline]
    pub fn append(&mut self, b: &BidRow<'_>) {
        self.auction.push(b.auction);
        self.bidder.push(b.bidder);
        self.price.push(b.price);
        self.channel.push(b.channel.as_bytes());
        self.url.push(b.url.as_bytes());
        self.date_time.push(b.date_time);
        self.extra.push(b.extra);
    }

    /// Appends placeholder values (a row whose struct is null in the `All` table).
    pub fn append_default(&mut self) {
        self.append(&BidRow {
            auction: 0,
            bidder: 0,
            price: 0,
            channel: "",
            url: "",
            date_time: 0,
            extra: b"",
        });
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.auction.len()
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes the columns and starts new ones for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Result<Vec<ArrayRef>> {
        let hints = SizeHints::of(&[&self.channel, &self.url, &self.extra]);
        let d = std::mem::replace(self, Self::sized(next_rows, &hints));
        Ok(vec![
            ints(d.auction),
            ints(d.bidder),
            ints(d.price),
            d.channel.finish()?,
            d.url.finish()?,
            times(d.date_time),
            d.extra.finish()?,
        ])
    }
}

/// The person columns.
#[derive(Debug)]
pub struct PersonColumns {
    id: Vec<i64>,
    name: Utf8Column,
    email_address: Utf8Column,
    credit_card: Utf8Column,
    city: Utf8Column,
    state: Utf8Column,
    date_time: Vec<i64>,
    extra: Utf8Column,
}

impl PersonColumns {
    /// Columns for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            id: Vec::with_capacity(rows),
            name: Utf8Column::with_capacity(rows, rows * 12),
            email_address: Utf8Column::with_capacity(rows, rows * 14),
            credit_card: Utf8Column::with_capacity(rows, rows * 19),
            city: Utf8Column::with_capacity(rows, rows * 8),
            state: Utf8Column::with_capacity(rows, rows * 2),
            date_time: Vec::with_capacity(rows),
            extra: Utf8Column::with_capacity(rows, rows * 150),
        }
    }

    /// Appends one person.
    pub fn append(&mut self, p: &PersonRow<'_>) {
        self.id.push(p.id);
        self.name.push(p.name.as_bytes());
        self.email_address.push(p.email_address.as_bytes());
        self.credit_card.push(p.credit_card.as_bytes());
        self.city.push(p.city.as_bytes());
        self.state.push(p.state.as_bytes());
        self.date_time.push(p.date_time);
        self.extra.push(p.extra);
    }

    /// Appends placeholder values.
    pub fn append_default(&mut self) {
        self.append(&PersonRow {
            id: 0,
            name: "",
            email_address: "",
            credit_card: "",
            city: "",
            state: "",
            date_time: 0,
            extra: b"",
        });
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.id.len()
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes the columns and starts new ones for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Result<Vec<ArrayRef>> {
        let d = std::mem::replace(self, Self::new(next_rows));
        Ok(vec![
            ints(d.id),
            d.name.finish()?,
            d.email_address.finish()?,
            d.credit_card.finish()?,
            d.city.finish()?,
            d.state.finish()?,
            times(d.date_time),
            d.extra.finish()?,
        ])
    }
}

/// The auction columns.
#[derive(Debug)]
pub struct AuctionColumns {
    id: Vec<i64>,
    item_name: Utf8Column,
    description: Utf8Column,
    initial_bid: Vec<i64>,
    reserve: Vec<i64>,
    date_time: Vec<i64>,
    expires: Vec<i64>,
    seller: Vec<i64>,
    category: Vec<i64>,
    extra: Utf8Column,
}

impl AuctionColumns {
    /// Columns for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            id: Vec::with_capacity(rows),
            item_name: Utf8Column::with_capacity(rows, rows * 10),
            description: Utf8Column::with_capacity(rows, rows * 50),
            initial_bid: Vec::with_capacity(rows),
            reserve: Vec::with_capacity(rows),
            date_time: Vec::with_capacity(rows),
            expires: Vec::with_capacity(rows),
            seller: Vec::with_capacity(rows),
            category: Vec::with_capacity(rows),
            extra: Utf8Column::with_capacity(rows, rows * 400),
        }
    }

    /// Appends one auction.
    pub fn append(&mut self, a: &AuctionRow<'_>) {
        self.id.push(a.id);
        self.item_name.push(a.item_name.as_bytes());
        self.description.push(a.description.as_bytes());
        self.initial_bid.push(a.initial_bid);
        self.reserve.push(a.reserve);
        self.date_time.push(a.date_time);
        self.expires.push(a.expires);
        self.seller.push(a.seller);
        self.category.push(a.category);
        self.extra.push(a.extra);
    }

    /// Appends placeholder values.
    pub fn append_default(&mut self) {
        self.append(&AuctionRow {
            id: 0,
            item_name: "",
            description: "",
            initial_bid: 0,
            reserve: 0,
            date_time: 0,
            expires: 0,
            seller: 0,
            category: 0,
            extra: b"",
        });
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.id.len()
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes the columns and starts new ones for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Result<Vec<ArrayRef>> {
        let d = std::mem::replace(self, Self::new(next_rows));
        Ok(vec![
            ints(d.id),
            d.item_name.finish()?,
            d.description.finish()?,
            ints(d.initial_bid),
            ints(d.reserve),
            times(d.date_time),
            times(d.expires),
            ints(d.seller),
            ints(d.category),
            d.extra.finish()?,
        ])
    }
}

/// The columns of the `All` table: one struct per kind, only the matching one valid per row.
#[derive(Debug)]
pub struct AllColumns {
    event_type: Vec<i32>,
    person: PersonColumns,
    auction: AuctionColumns,
    bid: BidColumns,
    valid: [Vec<bool>; 3],
    date_time: Vec<i64>,
}

impl AllColumns {
    /// Columns for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            event_type: Vec::with_capacity(rows),
            person: PersonColumns::new(rows),
            auction: AuctionColumns::new(rows),
            bid: BidColumns::new(rows),
            valid: [
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
            ],
            date_time: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, kind: usize, date_time: i64) {
        self.event_type.push(kind as i32);
        self.date_time.push(date_time);
        for (k, v) in self.valid.iter_mut().enumerate() {
            v.push(k == kind);
        }
    }

    /// Appends a person event.
    pub fn append_person(&mut self, p: &PersonRow<'_>) {
        self.push(0, p.date_time);
        self.person.append(p);
        self.auction.append_default();
        self.bid.append_default();
    }

    /// Appends an auction event.
    pub fn append_auction(&mut self, a: &AuctionRow<'_>) {
        self.push(1, a.date_time);
        self.person.append_default();
        self.auction.append(a);
        self.bid.append_default();
    }

    /// Appends a bid event.
    pub fn append_bid(&mut self, b: &BidRow<'_>) {
        self.push(2, b.date_time);
        self.person.append_default();
        self.auction.append_default();
        self.bid.append(b);
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.event_type.len()
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes the columns and starts new ones for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Result<Vec<ArrayRef>> {
        let mut d = std::mem::replace(self, Self::new(next_rows));
        let [pv, av, bv] = d.valid;
        let person = StructArray::try_new(person_fields(), d.person.finish(0)?, Some(NullBuffer::from(pv)))?;
        let auction = StructArray::try_new(auction_fields(), d.auction.finish(0)?, Some(NullBuffer::from(av)))?;
        let bid = StructArray::try_new(bid_fields(), d.bid.finish(0)?, Some(NullBuffer::from(bv)))?;
        Ok(vec![
            Arc::new(Int32Array::from(d.event_type)),
            Arc::new(person),
            Arc::new(auction),
            Arc::new(bid),
            times(d.date_time),
        ])
    }
}

/// The builders of one table (boxed: they are large and live once per source).
#[derive(Debug)]
pub enum TableColumns {
    /// Bids.
    Bid(Box<BidColumns>),
    /// Persons.
    Person(Box<PersonColumns>),
    /// Auctions.
    Auction(Box<AuctionColumns>),
    /// Every event.
    All(Box<AllColumns>),
}

impl TableColumns {
    /// Builders of `table` for `rows` rows.
    pub fn new(table: NexmarkTable, rows: usize) -> Self {
        match table {
            NexmarkTable::Bid => Self::Bid(Box::new(BidColumns::new(rows))),
            NexmarkTable::Person => Self::Person(Box::new(PersonColumns::new(rows))),
            NexmarkTable::Auction => Self::Auction(Box::new(AuctionColumns::new(rows))),
            NexmarkTable::All => Self::All(Box::new(AllColumns::new(rows))),
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        match self {
            Self::Bid(c) => c.len(),
            Self::Person(c) => c.len(),
            Self::Auction(c) => c.len(),
            Self::All(c) => c.len(),
        }
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes a batch of `schema` and resets the builders for `next_rows` rows.
    pub fn finish(&mut self, schema: &SchemaRef, next_rows: usize) -> Result<RecordBatch> {
        let columns = match self {
            Self::Bid(c) => c.finish(next_rows)?,
            Self::Person(c) => c.finish(next_rows)?,
            Self::Auction(c) => c.finish(next_rows)?,
            Self::All(c) => c.finish(next_rows)?,
        };
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}
