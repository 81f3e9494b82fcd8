//! Kafka's primitive types: fixed-width big-endian integers, int16-length and compact
//! (varint-length) strings, arrays and tagged-field sections, written into frames and read
//! back without ever panicking on short or malformed input.

use std::fmt;

/// Bytes that are not a valid message of the expected kind, or a value that cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

type Result<T> = std::result::Result<T, WireError>;

/// Builds a frame: a length placeholder, then the fields, then [`Writer::finish`].
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty frame (just the length placeholder).
    pub fn frame() -> Self {
        Writer { buf: vec![0; 4] }
    }

    /// Fills in the length prefix and returns the frame.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let len = self.buf.len() - 4;
        if len > super::wire::MAX_FRAME_BYTES {
            return Err(WireError(format!("frame of {len} bytes is too long")));
        }
        self.buf[..4].copy_from_slice(&(len as i32).to_be_bytes());
        Ok(self.buf)
    }

    /// An int8.
    pub fn i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// An int16.
    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// An int32.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// An int64.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A boolean (one byte, 0 or 1).
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// An unsigned varint (7 bits per byte, low bits first).
    pub fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A string with an int16 length.
    pub fn string(&mut self, s: &str) -> Result<()> {
        let len = i16::try_from(s.len()).map_err(|_| WireError(format!("string of {} bytes is too long", s.len())))?;
        self.i16(len);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// A compact string (unsigned varint length + 1).
    pub fn compact_string(&mut self, s: &str) -> Result<()> {
        self.compact_len(s.len())?;
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// The length of a compact array or string (written as length + 1).
    pub fn compact_len(&mut self, len: usize) -> Result<()> {
        let n = u32::try_from(len)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| WireError(format!("length {len} is too long")))?;
        self.uvarint(n);
        Ok(())
    }

    /// An empty tagged-field section.
    pub fn empty_tagged_fields(&mut self) {
        self.uvarint(0);
    }

    /// Raw bytes.
    #[cfg(test)]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Reads fields from the front of a byte slice, failing (never panicking) when it is short.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(WireError(format!(
                "truncated message: {what} needs {n} bytes at offset {}, {left} left",
                self.pos
            )));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// An int8.
    #[cfg(test)]
    pub fn i8(&mut self, what: &str) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }

    /// An int16.
    pub fn i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    /// An int32.
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// An int64.
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// A boolean (any non-zero byte is true).
    #[cfg(test)]
    pub fn bool(&mut self, what: &str) -> Result<bool> {
        Ok(self.i8(what)? != 0)
    }

    /// An unsigned varint of at most 32 bits.
    pub fn uvarint(&mut self, what: &str) -> Result<u32> {
        let mut value = 0u32;
        for i in 0..5 {
            let byte = self.take(1, what)?[0];
            if i == 4 && byte > 0x0f {
                return Err(WireError(format!("{what}: varint longer than 32 bits")));
            }
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError(format!("{what}: varint longer than 32 bits")))
    }

    fn utf8(&mut self, len: usize, what: &str) -> Result<String> {
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError(format!("{what}: not UTF-8")))
    }

    /// A nullable string with an int16 length (-1: null).
    pub fn nullable_string(&mut self, what: &str) -> Result<Option<String>> {
        match self.i16(what)? {
            -1 => Ok(None),
            len if len < 0 => Err(WireError(format!("{what}: negative length {len}"))),
            len => self.utf8(len as usize, what).map(Some),
        }
    }

    /// A string with an int16 length.
    pub fn string(&mut self, what: &str) -> Result<String> {
        self.nullable_string(what)?
            .ok_or_else(|| WireError(format!("{what}: unexpected null")))
    }

    /// A compact nullable string (length + 1; 0: null).
    pub fn compact_nullable_string(&mut self, what: &str) -> Result<Option<String>> {
        match self.compact_len(what)? {
            None => Ok(None),
            Some(len) => self.utf8(len, what).map(Some),
        }
    }

    /// A compact string.
    pub fn compact_string(&mut self, what: &str) -> Result<String> {
        self.compact_nullable_string(what)?
            .ok_or_else(|| WireError(format!("{what}: unexpected null")))
    }

    /// The length of a compact array or string (None: null). A length beyond the bytes left
    /// is refused, so callers may size allocations with it.
    pub fn compact_len(&mut self, what: &str) -> Result<Option<usize>> {
        match self.uvarint(what)? {
            0 => Ok(None),
            n => self.checked_len(n as usize - 1, what).map(Some),
        }
    }

    /// The length of a non-null array with an int32 length.
    pub fn array_len(&mut self, what: &str) -> Result<usize> {
        match self.i32(what)? {
            len if len < 0 => Err(WireError(format!("{what}: unexpected null or negative length {len}"))),
            len => self.checked_len(len as usize, what),
        }
    }

    fn checked_len(&self, len: usize, what: &str) -> Result<usize> {
        let left = self.buf.len() - self.pos;
        if len > left {
            return Err(WireError(format!("{what}: length {len} exceeds the {left} bytes left")));
        }
        Ok(len)
    }

    /// Skips a tagged-field section: none of the fields here has a tagged field we read.
    pub fn skip_tagged_fields(&mut self, what: &str) -> Result<()> {
        let count = self.uvarint(what)?;
        for _ in 0..count {
            self.uvarint(what)?; // tag
            let size = self.uvarint(what)?;
            self.take(size as usize, what)?;
        }
        Ok(())
    }
}
