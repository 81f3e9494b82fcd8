//! Arrow layouts of the Nexmark tables and the column builders that rows are appended to.
//!
//! Builders are re-created at the start of each batch with the capacity the previous batch
//! needed, so a batch is filled without reallocation.

use super::config::NexmarkTable;
use super::fields::{AuctionRow, BidRow, PersonRow};
use arrow::array::{
    ArrayBuilder, ArrayRef, Int32Builder, Int64Builder, StringBuilder, StructArray, TimestampMillisecondBuilder,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use freshet_core::Result;
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

fn strings(rows: usize, bytes: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, bytes)
}

/// Remembers how many string bytes each column needed, to size the next batch's builders.
#[derive(Debug, Default)]
struct SizeHints(Vec<usize>);

impl SizeHints {
    fn get(&self, i: usize, rows: usize, per_row: usize) -> usize {
        self.0.get(i).copied().unwrap_or(rows * per_row).max(rows * per_row / 2)
    }
}

/// Builders of the bid columns.
#[derive(Debug)]
pub struct BidColumns {
    auction: Int64Builder,
    bidder: Int64Builder,
    price: Int64Builder,
    channel: StringBuilder,
    url: StringBuilder,
    date_time: TimestampMillisecondBuilder,
    extra: StringBuilder,
}

impl BidColumns {
    /// Builders for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self::sized(rows, &SizeHints::default())
    }

    fn sized(rows: usize, h: &SizeHints) -> Self {
        Self {
            auction: Int64Builder::with_capacity(rows),
            bidder: Int64Builder::with_capacity(rows),
            price: Int64Builder::with_capacity(rows),
            channel: strings(rows, h.get(0, rows, 10)),
            url: strings(rows, h.get(1, rows, 80)),
            date_time: TimestampMillisecondBuilder::with_capacity(rows),
            extra: strings(rows, h.get(2, rows, 82)),
        }
    }

    /// Appends one bid.
    #[inline]
    pub fn append(&mut self, b: &BidRow<'_>) {
        self.auction.append_value(b.auction);
        self.bidder.append_value(b.bidder);
        self.price.append_value(b.price);
        self.channel.append_value(b.channel);
        self.url.append_value(b.url);
        self.date_time.append_value(b.date_time);
        self.extra.append_value(b.extra);
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
            extra: "",
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

    /// Finishes the columns and resets the builders for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Vec<ArrayRef> {
        let hints = SizeHints(vec![
            self.channel.values_slice().len(),
            self.url.values_slice().len(),
            self.extra.values_slice().len(),
        ]);
        let mut done = std::mem::replace(self, Self::sized(next_rows, &hints));
        vec![
            Arc::new(done.auction.finish()),
            Arc::new(done.bidder.finish()),
            Arc::new(done.price.finish()),
            Arc::new(done.channel.finish()),
            Arc::new(done.url.finish()),
            Arc::new(done.date_time.finish()),
            Arc::new(done.extra.finish()),
        ]
    }
}

/// Builders of the person columns.
#[derive(Debug)]
pub struct PersonColumns {
    id: Int64Builder,
    name: StringBuilder,
    email_address: StringBuilder,
    credit_card: StringBuilder,
    city: StringBuilder,
    state: StringBuilder,
    date_time: TimestampMillisecondBuilder,
    extra: StringBuilder,
}

impl PersonColumns {
    /// Builders for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            id: Int64Builder::with_capacity(rows),
            name: strings(rows, rows * 12),
            email_address: strings(rows, rows * 14),
            credit_card: strings(rows, rows * 19),
            city: strings(rows, rows * 8),
            state: strings(rows, rows * 2),
            date_time: TimestampMillisecondBuilder::with_capacity(rows),
            extra: strings(rows, rows * 150),
        }
    }

    /// Appends one person.
    pub fn append(&mut self, p: &PersonRow<'_>) {
        self.id.append_value(p.id);
        self.name.append_value(p.name);
        self.email_address.append_value(p.email_address);
        self.credit_card.append_value(p.credit_card);
        self.city.append_value(p.city);
        self.state.append_value(p.state);
        self.date_time.append_value(p.date_time);
        self.extra.append_value(p.extra);
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
            extra: "",
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

    /// Finishes the columns and resets the builders for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Vec<ArrayRef> {
        let mut d = std::mem::replace(self, Self::new(next_rows));
        vec![
            Arc::new(d.id.finish()),
            Arc::new(d.name.finish()),
            Arc::new(d.email_address.finish()),
            Arc::new(d.credit_card.finish()),
            Arc::new(d.city.finish()),
            Arc::new(d.state.finish()),
            Arc::new(d.date_time.finish()),
            Arc::new(d.extra.finish()),
        ]
    }
}

/// Builders of the auction columns.
#[derive(Debug)]
pub struct AuctionColumns {
    id: Int64Builder,
    item_name: StringBuilder,
    description: StringBuilder,
    initial_bid: Int64Builder,
    reserve: Int64Builder,
    date_time: TimestampMillisecondBuilder,
    expires: TimestampMillisecondBuilder,
    seller: Int64Builder,
    category: Int64Builder,
    extra: StringBuilder,
}

impl AuctionColumns {
    /// Builders for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            id: Int64Builder::with_capacity(rows),
            item_name: strings(rows, rows * 10),
            description: strings(rows, rows * 50),
            initial_bid: Int64Builder::with_capacity(rows),
            reserve: Int64Builder::with_capacity(rows),
            date_time: TimestampMillisecondBuilder::with_capacity(rows),
            expires: TimestampMillisecondBuilder::with_capacity(rows),
            seller: Int64Builder::with_capacity(rows),
            category: Int64Builder::with_capacity(rows),
            extra: strings(rows, rows * 400),
        }
    }

    /// Appends one auction.
    pub fn append(&mut self, a: &AuctionRow<'_>) {
        self.id.append_value(a.id);
        self.item_name.append_value(a.item_name);
        self.description.append_value(a.description);
        self.initial_bid.append_value(a.initial_bid);
        self.reserve.append_value(a.reserve);
        self.date_time.append_value(a.date_time);
        self.expires.append_value(a.expires);
        self.seller.append_value(a.seller);
        self.category.append_value(a.category);
        self.extra.append_value(a.extra);
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
            extra: "",
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

    /// Finishes the columns and resets the builders for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Vec<ArrayRef> {
        let mut d = std::mem::replace(self, Self::new(next_rows));
        vec![
            Arc::new(d.id.finish()),
            Arc::new(d.item_name.finish()),
            Arc::new(d.description.finish()),
            Arc::new(d.initial_bid.finish()),
            Arc::new(d.reserve.finish()),
            Arc::new(d.date_time.finish()),
            Arc::new(d.expires.finish()),
            Arc::new(d.seller.finish()),
            Arc::new(d.category.finish()),
            Arc::new(d.extra.finish()),
        ]
    }
}

/// Builders of the `All` table: one struct per kind, only the matching one valid per row.
#[derive(Debug)]
pub struct AllColumns {
    event_type: Int32Builder,
    person: PersonColumns,
    auction: AuctionColumns,
    bid: BidColumns,
    valid: [Vec<bool>; 3],
    date_time: TimestampMillisecondBuilder,
}

impl AllColumns {
    /// Builders for `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            event_type: Int32Builder::with_capacity(rows),
            person: PersonColumns::new(rows / 40 + 1),
            auction: AuctionColumns::new(rows / 12 + 1),
            bid: BidColumns::new(rows),
            valid: [
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
            ],
            date_time: TimestampMillisecondBuilder::with_capacity(rows),
        }
    }

    fn push(&mut self, kind: usize, date_time: i64) {
        self.event_type.append_value(kind as i32);
        self.date_time.append_value(date_time);
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

    /// Finishes the columns and resets the builders for `next_rows` rows.
    pub fn finish(&mut self, next_rows: usize) -> Result<Vec<ArrayRef>> {
        let mut d = std::mem::replace(self, Self::new(next_rows));
        let [pv, av, bv] = d.valid;
        let person = StructArray::try_new(person_fields(), d.person.finish(0), Some(NullBuffer::from(pv)))?;
        let auction = StructArray::try_new(auction_fields(), d.auction.finish(0), Some(NullBuffer::from(av)))?;
        let bid = StructArray::try_new(bid_fields(), d.bid.finish(0), Some(NullBuffer::from(bv)))?;
        Ok(vec![
            Arc::new(d.event_type.finish()),
            Arc::new(person),
            Arc::new(auction),
            Arc::new(bid),
            Arc::new(d.date_time.finish()),
        ])
    }
}

/// The builders of one table.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum TableColumns {
    /// Bids.
    Bid(BidColumns),
    /// Persons.
    Person(PersonColumns),
    /// Auctions.
    Auction(AuctionColumns),
    /// Every event.
    All(AllColumns),
}

impl TableColumns {
    /// Builders of `table` for `rows` rows.
    pub fn new(table: NexmarkTable, rows: usize) -> Self {
        match table {
            NexmarkTable::Bid => Self::Bid(BidColumns::new(rows)),
            NexmarkTable::Person => Self::Person(PersonColumns::new(rows)),
            NexmarkTable::Auction => Self::Auction(AuctionColumns::new(rows)),
            NexmarkTable::All => Self::All(AllColumns::new(rows)),
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
            Self::Bid(c) => c.finish(next_rows),
            Self::Person(c) => c.finish(next_rows),
            Self::Auction(c) => c.finish(next_rows),
            Self::All(c) => c.finish(next_rows)?,
        };
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}
