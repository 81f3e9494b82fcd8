//! Reading Avro binary values from a byte slice, and skipping them.
//!
//! Every read checks the input; errors are [`Error::Serde`] naming the field path and the
//! position in the datum. The error paths are out of line so that the happy path stays small.

use freshet_core::{Error, Result};

use super::schema::AvroSchema;

/// Most array items of a type that can take zero bytes (a `null`, an empty record or fixed) one
/// datum may hold: without a bound, a few bytes could ask for billions of items.
const MAX_EMPTY_ITEMS: usize = 1 << 20;

/// A cursor over one datum.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Zero-byte array items this datum may still claim.
    empty_budget: usize,
}

/// Builds a decoding error for `path`.
#[cold]
#[inline(never)]
pub(crate) fn fail(path: &str, message: String) -> Error {
    Error::Serde(format!("avro: field '{path}': {message}"))
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            empty_budget: MAX_EMPTY_ITEMS,
        }
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    #[inline(never)]
    fn eof(&self, path: &str, what: &str) -> Error {
        fail(
            path,
            format!("expected {what}, found end of input after {} bytes", self.buf.len()),
        )
    }

    /// A raw (not zig-zag decoded) varint of at most 10 bytes.
    #[inline]
    fn varint(&mut self, path: &str, what: &str) -> Result<u64> {
        let mut value = 0u64;
        let mut shift = 0u32;
        let mut pos = self.pos;
        loop {
            let Some(&byte) = self.buf.get(pos) else {
                return Err(self.eof(path, what));
            };
            pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                if shift == 63 && byte > 1 {
                    break;
                }
                self.pos = pos;
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                break;
            }
        }
        Err(fail(
            path,
            format!("expected {what}, found an invalid varint at byte {}", self.pos),
        ))
    }

    /// A `long`.
    #[inline]
    pub(crate) fn long(&mut self, path: &str) -> Result<i64> {
        let raw = self.varint(path, "a long")?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    /// An `int` (a varint in the 32-bit range).
    #[inline]
    pub(crate) fn int(&mut self, path: &str) -> Result<i32> {
        let start = self.pos;
        let raw = self.varint(path, "an int")?;
        let value = (raw >> 1) as i64 ^ -((raw & 1) as i64);
        i32::try_from(value).map_err(|_| {
            fail(
                path,
                format!("expected an int, found {value} (out of range) at byte {start}"),
            )
        })
    }

    /// A `boolean`: one byte, 0 or 1.
    #[inline]
    pub(crate) fn boolean(&mut self, path: &str) -> Result<bool> {
        match self.buf.get(self.pos) {
            Some(&b @ (0 | 1)) => {
                self.pos += 1;
                Ok(b == 1)
            }
            Some(b) => Err(fail(
                path,
                format!("invalid boolean byte {b:#04x} at byte {}", self.pos),
            )),
            None => Err(self.eof(path, "a boolean")),
        }
    }

    /// `N` raw bytes.
    #[inline]
    fn array<const N: usize>(&mut self, path: &str, what: &str) -> Result<[u8; N]> {
        match self.buf.get(self.pos..).and_then(|rest| rest.first_chunk::<N>()) {
            Some(bytes) => {
                self.pos += N;
                Ok(*bytes)
            }
            None => Err(self.eof(path, what)),
        }
    }

    /// A `float`.
    #[inline]
    pub(crate) fn float(&mut self, path: &str) -> Result<f32> {
        self.array::<4>(path, "a float").map(f32::from_le_bytes)
    }

    /// A `double`.
    #[inline]
    pub(crate) fn double(&mut self, path: &str) -> Result<f64> {
        self.array::<8>(path, "a double").map(f64::from_le_bytes)
    }

    /// `n` raw bytes (a `fixed`).
    #[inline]
    pub(crate) fn fixed(&mut self, n: usize, path: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.buf.len());
        match end {
            Some(end) => {
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => Err(self.eof(path, &format!("{n} bytes"))),
        }
    }

    /// A length-prefixed byte string (`bytes` or `string`).
    #[inline]
    pub(crate) fn bytes(&mut self, path: &str) -> Result<&'a [u8]> {
        let start = self.pos;
        let len = self.long(path)?;
        match usize::try_from(len) {
            Ok(len) if len <= self.remaining() => self.fixed(len, path),
            Ok(len) => Err(self.eof(path, &format!("{len} bytes of data"))),
            Err(_) => Err(fail(path, format!("negative length {len} at byte {start}"))),
        }
    }

    /// A `string`: length-prefixed UTF-8.
    #[inline]
    pub(crate) fn str(&mut self, path: &str) -> Result<&'a str> {
        let bytes = self.bytes(path)?;
        std::str::from_utf8(bytes).map_err(|e| self.bad_utf8(path, bytes.len(), e))
    }

    /// The error for a string of `len` bytes just read that is not valid UTF-8.
    #[cold]
    #[inline(never)]
    pub(crate) fn bad_utf8(&self, path: &str, len: usize, e: std::str::Utf8Error) -> Error {
        let at = self.pos - len + e.valid_up_to();
        fail(path, format!("invalid UTF-8 in string at byte {at}"))
    }

    /// An index below `n`: a union branch (a long) or an enum symbol (an int).
    #[inline]
    pub(crate) fn index(&mut self, n: usize, path: &str, what: &str) -> Result<usize> {
        let start = self.pos;
        let index = self.long(path)?;
        match usize::try_from(index) {
            Ok(i) if i < n => Ok(i),
            _ => Err(fail(
                path,
                format!("{what} index {index} out of range (0..{n}) at byte {start}"),
            )),
        }
    }

    /// A block header of an array or map: the item count (0 at the end) and, for the negative
    /// count form, the block's size in bytes.
    #[inline]
    fn block_header(&mut self, path: &str) -> Result<(usize, Option<usize>)> {
        let start = self.pos;
        let count = self.long(path)?;
        if count >= 0 {
            return Ok((count as usize, None));
        }
        let size = self.long(path)?;
        match (count.checked_neg(), usize::try_from(size)) {
            (Some(count), Ok(size)) => Ok((count as usize, Some(size))),
            _ => Err(fail(
                path,
                format!("invalid block header ({count}, {size}) at byte {start}"),
            )),
        }
    }

    /// The item count of the next block (0 at the end). `may_be_empty` says whether an item
    /// can take zero bytes; if not, a count above the remaining bytes is an error.
    #[inline]
    pub(crate) fn block(&mut self, path: &str, may_be_empty: bool) -> Result<usize> {
        let start = self.pos;
        let (count, _) = self.block_header(path)?;
        self.check_count(count, may_be_empty, start, path)?;
        Ok(count)
    }

    /// Checks a block's item count against the bytes left or, for items that can take zero
    /// bytes, against the datum's budget of such items.
    #[inline]
    fn check_count(&mut self, count: usize, may_be_empty: bool, start: usize, path: &str) -> Result<()> {
        let fits = if may_be_empty {
            match self.empty_budget.checked_sub(count) {
                Some(left) => {
                    self.empty_budget = left;
                    true
                }
                None => false,
            }
        } else {
            count <= self.remaining()
        };
        if fits {
            return Ok(());
        }
        Err(fail(
            path,
            format!("block of {count} items at byte {start} is longer than the datum can hold"),
        ))
    }

    /// Skips one value of type `schema`, checking it is well-formed.
    pub(crate) fn skip(&mut self, schema: &AvroSchema, path: &str) -> Result<()> {
        match schema {
            AvroSchema::Null => {}
            AvroSchema::Boolean => {
                self.boolean(path)?;
            }
            AvroSchema::Int | AvroSchema::Date | AvroSchema::TimeMillis => {
                self.int(path)?;
            }
            AvroSchema::Long
            | AvroSchema::TimeMicros
            | AvroSchema::TimestampMillis
            | AvroSchema::TimestampMicros
            | AvroSchema::LocalTimestampMillis
            | AvroSchema::LocalTimestampMicros => {
                self.long(path)?;
            }
            AvroSchema::Float => {
                self.float(path)?;
            }
            AvroSchema::Double => {
                self.double(path)?;
            }
            AvroSchema::Bytes | AvroSchema::String | AvroSchema::Decimal(_) => {
                self.bytes(path)?;
            }
            AvroSchema::Enum(e) => {
                self.index(e.symbols.len(), path, "enum symbol")?;
            }
            AvroSchema::Fixed(f) => {
                self.fixed(f.size, path)?;
            }
            AvroSchema::Array(item) => self.skip_blocks(path, may_be_empty(item), |r| r.skip(item, path))?,
            AvroSchema::Map(values) => self.skip_blocks(path, false, |r| {
                r.bytes(path)?;
                r.skip(values, path)
            })?,
            AvroSchema::Record(record) => {
                for field in &record.fields {
                    self.skip(&field.schema, path)?;
                }
            }
            AvroSchema::Union(branches) => {
                let i = self.index(branches.len(), path, "union branch")?;
                self.skip(&branches[i], path)?;
            }
        }
        Ok(())
    }

    /// Skips the blocks of an array or map, jumping over sized blocks.
    fn skip_blocks(
        &mut self,
        path: &str,
        may_be_empty: bool,
        mut item: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        loop {
            let start = self.pos;
            match self.block_header(path)? {
                (0, _) => return Ok(()),
                (_, Some(size)) => {
                    self.fixed(size, path)?;
                }
                (count, None) => {
                    self.check_count(count, may_be_empty, start, path)?;
                    for _ in 0..count {
                        item(self)?;
                    }
                }
            }
        }
    }
}

/// Whether a value of `schema` can be encoded in zero bytes.
pub(crate) fn may_be_empty(schema: &AvroSchema) -> bool {
    match schema {
        AvroSchema::Null => true,
        AvroSchema::Fixed(f) => f.size == 0,
        AvroSchema::Record(r) => r.fields.iter().all(|f| may_be_empty(&f.schema)),
        _ => false,
    }
}
