//! The stable reasons of `status.error`, which the conditions (`Stalled`, `Degraded`,
//! `Savepointing`) report and tooling may match on. One place, so a flow and the conditions
//! that read its error cannot drift apart.

/// The spec fails validation; the last valid spec keeps running.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// An upgrade cannot go ahead without losing state (unhealthy job, nothing to restore).
pub const UPGRADE_BLOCKED: &str = "UpgradeBlocked";
/// An upgrade gave up on its savepoint; the job keeps running the previous spec.
pub const UPGRADE_SAVEPOINT_FAILED: &str = "UpgradeSavepointFailed";
/// The job failed (and, in phase Failed, is out of restarts).
pub const JOB_FAILED: &str = "JobFailed";
/// An upgrade was rolled back to the last stable spec.
pub const ROLLED_BACK: &str = "RolledBack";
/// A manual or periodic savepoint failed.
pub const SAVEPOINT_FAILED: &str = "SavepointFailed";
