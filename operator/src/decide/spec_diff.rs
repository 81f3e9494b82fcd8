//! Which spec changes need a redeployment. Nonces, the desired state, savepoint scheduling,
//! the restart policy, rollback settings, the upgrade mode and the initial savepoint are acted
//! on without redeploying, so they are left out of the comparison.

use crate::crd::{DesiredState, RestartPolicy, StreamJobSpec, UpgradeMode};

/// The spec as JSON with every field that does not need a redeployment reset: two specs with
/// equal deployable forms run the same job.
pub fn deployable_form(spec: &StreamJobSpec) -> String {
    let mut s = spec.clone();
    s.savepoint_trigger_nonce = None;
    s.restart_nonce = None;
    s.state = DesiredState::Running;
    s.restart_policy = RestartPolicy::default();
    s.rollback = None;
    s.upgrade_mode = UpgradeMode::Savepoint;
    // Only the first deployment starts from it.
    s.initial_savepoint_path = None;
    if let Some(sp) = s.savepoints.as_mut() {
        sp.periodic_interval = None;
        sp.history_max_count = None;
        sp.history_max_age = None;
        sp.timeout = None;
        sp.max_attempts = None;
        sp.on_deletion = None;
    }
    serde_json::to_string(&s).unwrap_or_default()
}

/// Serializes a spec for `status.lastReconciledSpec` / `lastStableSpec`.
pub fn to_json(spec: &StreamJobSpec) -> String {
    serde_json::to_string(spec).unwrap_or_default()
}

/// Reads a spec recorded in the status.
pub fn from_json(text: &str) -> Option<StreamJobSpec> {
    serde_json::from_str(text).ok()
}

/// Whether `spec` differs from the recorded one in a way that needs a redeployment.
pub fn needs_redeploy(spec: &StreamJobSpec, recorded: &str) -> bool {
    match from_json(recorded) {
        Some(old) => deployable_form(&old) != deployable_form(spec),
        None => true,
    }
}
