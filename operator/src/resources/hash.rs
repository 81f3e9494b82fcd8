//! The `freshet.dev/spec-hash` pod annotation: a stable hash of what a deployment runs, so that
//! a change the pod template does not show by itself (the SQL in the ConfigMap, a restore
//! location) still rolls the pods.
//!
//! Fields the operator alone reads (the savepoint trigger, savepoint history and timing,
//! restart and rollback policy, upgrade mode, desired state) are left out: changing them must
//! not restart a running job. `restartNonce` is kept: changing it asks for new pods.

use crate::crd::{SavepointSpec, StreamJobSpec};

/// FNV-1a (64 bit): stable across builds and platforms, unlike `std`'s `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The spec with the fields that only the operator reads reset to fixed values.
fn deployed_view(spec: &StreamJobSpec) -> StreamJobSpec {
    let mut view = spec.clone();
    view.savepoint_trigger_nonce = None;
    view.upgrade_mode = Default::default();
    view.state = Default::default();
    view.restart_policy = Default::default();
    view.rollback = None;
    view.savepoints = spec.savepoints.as_ref().map(|s| SavepointSpec {
        directory: s.directory.clone(),
        ..SavepointSpec::default()
    });
    view
}

/// 16 hex digits identifying (the deployed part of `spec`, `restore_from`).
///
/// The caller must pass the same `restore_from` for as long as a deployment lives: a
/// different one (including `None` after the first start) rolls the pods.
pub fn spec_hash(spec: &StreamJobSpec, restore_from: Option<&str>) -> String {
    // Serializing plain data (strings, numbers, ordered maps) cannot fail; were it to, the
    // hash of the restore location alone still changes when it does.
    let mut bytes = serde_json::to_vec(&deployed_view(spec)).unwrap_or_default();
    bytes.push(0);
    if let Some(location) = restore_from {
        bytes.extend_from_slice(location.as_bytes());
    }
    format!("{:016x}", fnv1a(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{JobSource, UpgradeMode};
    use crate::resources::fixtures;

    #[test]
    fn fnv_matches_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn stable_and_sensitive_to_what_is_deployed() {
        let base = fixtures::sql_spec();
        let hash = spec_hash(&base, None);
        assert_eq!(hash.len(), 16);
        assert_eq!(spec_hash(&base.clone(), None), hash);

        let changed: Vec<(&str, StreamJobSpec, Option<&str>)> = vec![
            (
                "sql",
                StreamJobSpec {
                    job: JobSource {
                        sql: Some("INSERT INTO other SELECT * FROM source;".into()),
                        ..base.job.clone()
                    },
                    ..base.clone()
                },
                None,
            ),
            (
                "parallelism",
                StreamJobSpec {
                    parallelism: 8,
                    ..base.clone()
                },
                None,
            ),
            (
                "restart nonce",
                StreamJobSpec {
                    restart_nonce: Some(1),
                    ..base.clone()
                },
                None,
            ),
            ("restore", base.clone(), Some("s3://sp/savepoint-1")),
        ];
        for (what, spec, restore) in changed {
            assert_ne!(spec_hash(&spec, restore), hash, "{what}");
        }

        let ignored: Vec<(&str, StreamJobSpec)> = vec![
            (
                "savepoint trigger",
                StreamJobSpec {
                    savepoint_trigger_nonce: Some(7),
                    ..base.clone()
                },
            ),
            (
                "upgrade mode",
                StreamJobSpec {
                    upgrade_mode: UpgradeMode::Stateless,
                    ..base.clone()
                },
            ),
        ];
        for (what, spec) in ignored {
            assert_eq!(spec_hash(&spec, None), hash, "{what}");
        }
    }
}
