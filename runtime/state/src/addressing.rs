//! How keyed entries are addressed in bytes, shared by both backends and the snapshot format:
//! LEB128 length prefixes, the composite `(key, namespace)` encoding, a bounds-checked byte
//! reader for decoding untrusted snapshot bytes, and the key-group range check.
//!
//! Invariant: every encoding here is prefix-free (lengths come before the bytes they measure),
//! so a composite address decodes back to exactly the parts it was built from.

use freshet_core::{Error, KeyGroup, KeyGroupRange, Result};

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes an unsigned LEB128 varint at the start of `input`: `(value, bytes consumed)`.
#[inline]
pub(crate) fn read_varint(input: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in input.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Appends `bytes` with a varint length prefix.
#[inline]
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends the composite address `varint(len key) ++ key ++ namespace`.
#[inline]
pub(crate) fn put_key_namespace(out: &mut Vec<u8>, key: &[u8], namespace: &[u8]) {
    put_bytes(out, key);
    out.extend_from_slice(namespace);
}

/// Splits a composite address built by [`put_key_namespace`] into `(key, namespace)`.
#[inline]
pub(crate) fn split_key_namespace(encoded: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, used) = read_varint(encoded)?;
    let rest = &encoded[used..];
    let len = usize::try_from(len).ok()?;
    if len > rest.len() {
        return None;
    }
    Some(rest.split_at(len))
}

/// Checks that `kg` lies in `range`, with an error naming both.
#[inline]
pub(crate) fn check_key_group(range: KeyGroupRange, kg: KeyGroup) -> Result<usize> {
    if range.contains(kg) {
        Ok((kg.0 - range.start) as usize)
    } else {
        Err(Error::State(format!(
            "key group {kg} is outside this backend's key-group range [{}, {})",
            range.start, range.end
        )))
    }
}

/// A bounds-checked cursor over bytes read from storage; every failure names `what` is read.
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    /// A reader over `buf`; `what` names the data in error messages.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    fn corrupt(&self, detail: &str) -> Error {
        Error::State(format!("corrupt {}: {detail} at byte {}", self.what, self.pos))
    }

    /// Whether every byte has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(self.corrupt(&format!("truncated (wanted {n} more bytes)")));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A varint.
    pub(crate) fn varint(&mut self) -> Result<u64> {
        match read_varint(&self.buf[self.pos..]) {
            Some((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            None => Err(self.corrupt("bad varint")),
        }
    }

    /// Length-prefixed bytes.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.corrupt("length overflows usize"))?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(read_varint(&out), Some((v, out.len())));
        }
        assert_eq!(read_varint(&[0x80]), None);
    }

    #[test]
    fn composite_addresses_split_back() {
        let mut out = Vec::new();
        put_key_namespace(&mut out, b"key", b"ns");
        assert_eq!(split_key_namespace(&out), Some((&b"key"[..], &b"ns"[..])));
        out.clear();
        put_key_namespace(&mut out, b"", b"");
        assert_eq!(split_key_namespace(&out), Some((&b""[..], &b""[..])));
        assert_eq!(split_key_namespace(&[5, 1]), None);
    }

    #[test]
    fn reader_reports_truncation() {
        let mut r = ByteReader::new(&[3, 1], "test data");
        let err = r.bytes().unwrap_err().to_string();
        assert!(err.contains("corrupt test data"), "{err}");
    }
}
