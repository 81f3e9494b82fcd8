//! Why a StreamJob could not be turned into objects. Every variant names the field it is
//! about, so the status and the events can point the user at it.

use thiserror::Error;

/// A StreamJob the builders cannot turn into Kubernetes objects.
///
/// [`ResourceError::MissingMetadata`] is the operator's fault (it handed over an object that did
/// not come from the API server); [`ResourceError::InvalidDuration`] is the user's (the schema's
/// pattern lets through what does not parse, e.g. an overflow). Retrying helps in neither case:
/// the input has to change.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ResourceError {
    /// The StreamJob lacks metadata every owned object needs (name, namespace, uid).
    #[error("{field} is not set (the StreamJob must come from the API server)")]
    MissingMetadata {
        /// The field path, e.g. `metadata.uid`.
        field: &'static str,
    },
    /// A duration in the spec does not parse.
    #[error("{field}: invalid duration '{value}' (expected e.g. 500ms, 10s, 5m, 1h30m)")]
    InvalidDuration {
        /// The field path, e.g. `spec.checkpointing.interval`.
        field: &'static str,
        /// The text as written.
        value: String,
    },
}

impl ResourceError {
    /// The field path the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ResourceError::MissingMetadata { field } | ResourceError::InvalidDuration { field, .. } => field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field() {
        let missing = ResourceError::MissingMetadata { field: "metadata.uid" };
        assert_eq!(missing.field(), "metadata.uid");
        assert_eq!(
            missing.to_string(),
            "metadata.uid is not set (the StreamJob must come from the API server)"
        );
        let bad = ResourceError::InvalidDuration {
            field: "spec.checkpointing.interval",
            value: "10x".into(),
        };
        assert_eq!(bad.field(), "spec.checkpointing.interval");
        assert!(bad
            .to_string()
            .starts_with("spec.checkpointing.interval: invalid duration '10x'"));
    }
}
