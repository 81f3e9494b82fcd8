//! State time-to-live: entries carry an expiry time and read as absent once it has passed.
//!
//! The encoding is shared by both backends (it lives in the value bytes), so TTL semantics are
//! identical everywhere: `[expires_at_ms: i64 little-endian][payload]`. Expired entries are
//! dropped lazily on read (and by operators that scan), and never restored as live.

use serde::{Deserialize, Serialize};

/// When the expiry of an entry is refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TtlUpdate {
    /// Refreshed when the entry is created or written (Flink's `OnCreateAndWrite`).
    #[default]
    OnCreateAndWrite,
    /// Also refreshed when it is read (Flink's `OnReadAndWrite`).
    OnReadAndWrite,
}

/// Time-to-live of a state's entries, in processing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlConfig {
    /// How long an entry lives after its last refresh (ms).
    pub ttl_ms: i64,
    /// What refreshes it.
    pub update: TtlUpdate,
}

impl TtlConfig {
    /// Entries expire `ttl_ms` after their last write.
    pub fn after_write(ttl_ms: i64) -> Self {
        Self {
            ttl_ms,
            update: TtlUpdate::OnCreateAndWrite,
        }
    }
}

const HEADER: usize = 8;

/// Prefixes `payload` with its expiry time.
pub fn encode_with_expiry(payload: &[u8], expires_at_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&expires_at_ms.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of an encoded entry, or `None` if it has expired at `now_ms` (or is malformed).
pub fn decode_with_expiry(bytes: &[u8], now_ms: i64) -> Option<&[u8]> {
    let header: [u8; HEADER] = bytes.get(..HEADER)?.try_into().ok()?;
    let expires_at = i64::from_le_bytes(header);
    if now_ms >= expires_at {
        None
    } else {
        Some(&bytes[HEADER..])
    }
}

/// Whether an encoded entry has expired at `now_ms`.
pub fn is_expired(bytes: &[u8], now_ms: i64) -> bool {
    decode_with_expiry(bytes, now_ms).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_at_deadline() {
        let e = encode_with_expiry(b"abc", 1000);
        assert_eq!(decode_with_expiry(&e, 999), Some(&b"abc"[..]));
        assert_eq!(decode_with_expiry(&e, 1000), None);
        assert!(is_expired(&e, 5000));
        assert_eq!(decode_with_expiry(b"short", 0), None);
    }
}
