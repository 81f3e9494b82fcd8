//! Reading an object sequentially from a byte offset by ranged GETs of a bounded size, so a
//! large object is never held whole and no connection stays open between reads (a source may
//! pause for a long time between polls).

use crate::blocking_store::BlockingStore;
use bytes::Bytes;
use object_store::path::Path;
use std::io::{BufRead, Read};

/// The default size of one ranged GET.
pub const RANGE_BYTES: u64 = 4 << 20;

/// A buffered reader of one object from an offset.
pub struct RangedReader {
    store: BlockingStore,
    path: Path,
    /// The object's size when it was opened.
    size: u64,
    /// Offset of the first byte not fetched yet.
    next: u64,
    range_bytes: u64,
    chunk: Bytes,
    /// Bytes of `chunk` consumed.
    at: usize,
}

impl RangedReader {
    /// A reader of the `size`-byte object at `path` from `offset`, fetching `range_bytes` at
    /// a time.
    pub fn new(store: BlockingStore, path: Path, size: u64, offset: u64, range_bytes: u64) -> Self {
        Self {
            store,
            path,
            size,
            next: offset.min(size),
            range_bytes: range_bytes.max(1),
            chunk: Bytes::new(),
            at: 0,
        }
    }
}

impl BufRead for RangedReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.at >= self.chunk.len() && self.next < self.size {
            let end = (self.next + self.range_bytes).min(self.size);
            let chunk = self
                .store
                .get_range(&self.path, self.next..end)
                .map_err(std::io::Error::other)?;
            if chunk.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} ended at byte {} of {}",
                        self.store.url_of(&self.path),
                        self.next,
                        self.size
                    ),
                ));
            }
            self.next += chunk.len() as u64;
            self.chunk = chunk;
            self.at = 0;
        }
        Ok(&self.chunk[self.at.min(self.chunk.len())..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.chunk.len());
    }
}

impl Read for RangedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}
