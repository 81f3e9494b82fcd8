//! Conversions between `freshet-core` types and their `freshet.v1` messages.
//!
//! Decoding is total: a message missing a required field or carrying an out-of-range value is
//! an [`Error::Protocol`], never a panic.

use crate::error::{Error, Result};
use crate::proto;
use freshet_core::{Barrier, CheckpointId, CheckpointKind, ErrorClass, KeyGroupRange};

impl From<CheckpointKind> for proto::CheckpointKind {
    fn from(kind: CheckpointKind) -> Self {
        match kind {
            CheckpointKind::Checkpoint => proto::CheckpointKind::Checkpoint,
            CheckpointKind::Savepoint => proto::CheckpointKind::Savepoint,
        }
    }
}

/// The core kind of a wire kind (`UNSPECIFIED` and unknown values read as a checkpoint).
pub fn checkpoint_kind(kind: i32) -> CheckpointKind {
    match proto::CheckpointKind::try_from(kind) {
        Ok(proto::CheckpointKind::Savepoint) => CheckpointKind::Savepoint,
        _ => CheckpointKind::Checkpoint,
    }
}

impl From<Barrier> for proto::Barrier {
    fn from(b: Barrier) -> Self {
        proto::Barrier {
            checkpoint_id: b.id.0,
            triggered_at_ms: b.triggered_at_ms,
            kind: proto::CheckpointKind::from(b.kind) as i32,
        }
    }
}

impl From<proto::Barrier> for Barrier {
    fn from(b: proto::Barrier) -> Self {
        Barrier {
            id: CheckpointId(b.checkpoint_id),
            triggered_at_ms: b.triggered_at_ms,
            kind: checkpoint_kind(b.kind),
        }
    }
}

impl From<KeyGroupRange> for proto::KeyGroupRange {
    fn from(r: KeyGroupRange) -> Self {
        proto::KeyGroupRange {
            start: u32::from(r.start),
            end: u32::from(r.end),
        }
    }
}

impl TryFrom<proto::KeyGroupRange> for KeyGroupRange {
    type Error = Error;

    fn try_from(r: proto::KeyGroupRange) -> Result<Self> {
        let start =
            u16::try_from(r.start).map_err(|_| Error::Protocol(format!("key group {} out of range", r.start)))?;
        let end = u16::try_from(r.end).map_err(|_| Error::Protocol(format!("key group {} out of range", r.end)))?;
        if start > end {
            return Err(Error::Protocol(format!("key-group range [{start}, {end}) is reversed")));
        }
        Ok(KeyGroupRange { start, end })
    }
}

impl From<ErrorClass> for proto::ErrorClass {
    fn from(c: ErrorClass) -> Self {
        match c {
            ErrorClass::User => proto::ErrorClass::User,
            ErrorClass::External => proto::ErrorClass::External,
            ErrorClass::Internal => proto::ErrorClass::Internal,
        }
    }
}

/// The core class of a wire class (`UNSPECIFIED` and unknown values read as internal).
pub fn error_class(class: i32) -> ErrorClass {
    match proto::ErrorClass::try_from(class) {
        Ok(proto::ErrorClass::User) => ErrorClass::User,
        Ok(proto::ErrorClass::External) => ErrorClass::External,
        _ => ErrorClass::Internal,
    }
}

/// A required message field, or a protocol error naming it.
pub fn required<T>(field: Option<T>, name: &str) -> Result<T> {
    field.ok_or_else(|| Error::Protocol(format!("missing field '{name}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barrier_round_trips() {
        let b = Barrier {
            id: CheckpointId(42),
            triggered_at_ms: 1_700_000_000_000,
            kind: CheckpointKind::Savepoint,
        };
        assert_eq!(Barrier::from(proto::Barrier::from(b)), b);
    }

    #[test]
    fn bad_key_group_ranges_are_errors() {
        assert!(KeyGroupRange::try_from(proto::KeyGroupRange { start: 0, end: 70_000 }).is_err());
        assert!(KeyGroupRange::try_from(proto::KeyGroupRange { start: 9, end: 3 }).is_err());
        let r = KeyGroupRange { start: 3, end: 9 };
        assert_eq!(KeyGroupRange::try_from(proto::KeyGroupRange::from(r)).ok(), Some(r));
    }

    #[test]
    fn unknown_enum_values_have_safe_defaults() {
        assert_eq!(checkpoint_kind(99), CheckpointKind::Checkpoint);
        assert_eq!(error_class(0), ErrorClass::Internal);
        assert_eq!(error_class(proto::ErrorClass::User as i32), ErrorClass::User);
    }
}
