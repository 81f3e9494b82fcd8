//! Mirrors what was observed into the status: the job as the coordinator reports it, and the
//! latest completed checkpoint (which also becomes the restore point), so the status alone is
//! enough to restore the job if its HA record is lost.

use super::snapshots::snapshot;
use super::{DecideInput, JobState};
use crate::crd::{JobInfo, SnapshotKind, StreamJobStatus};

/// A job running this long since its deployment runs stably (failed restarts reset).
const STABLE_MINUTES: i64 = 10;

/// Copies the observation's job and checkpoint facts into `status`.
pub fn mirror_observations(input: &DecideInput<'_>, status: &mut StreamJobStatus) {
    let observed = input.observed;
    match (&observed.job, observed.job_state()) {
        (Some(job), _) => {
            status.job = Some(JobInfo {
                id: Some(job.id.clone()),
                state: job.state.as_str().to_string(),
                restarts: job.restarts,
                last_failure: job.last_failure.clone(),
                message: job.message.clone(),
            });
        }
        (None, Some(state)) => {
            let info = status.job.get_or_insert_with(JobInfo::default);
            info.state = state.as_str().to_string();
            if let Some(reason) = observed.lease.as_ref().and_then(|l| l.failed()) {
                info.last_failure = Some(reason.to_string());
            }
        }
        (None, None) => {
            if observed.coordinator_exists {
                let info = status.job.get_or_insert_with(JobInfo::default);
                info.state = "UNKNOWN".into();
                info.message = observed.unreachable.clone();
            } else if observed.torn_down() {
                status.job = None;
            }
        }
    }
    if let Some((id, location)) = observed.latest_checkpoint() {
        let known = status
            .latest_checkpoint
            .as_ref()
            .is_some_and(|c| c.location == location)
            || status.restore_point.as_ref().is_some_and(|c| c.location == location);
        if !known {
            let checkpoint = snapshot(&location, SnapshotKind::Checkpoint, Some(id), input.now);
            status.latest_checkpoint = Some(checkpoint.clone());
            status.restore_point = Some(checkpoint);
            // A new checkpoint while running: the job runs stably again.
            if observed.job_state() == Some(JobState::Running) {
                status.failed_restarts = 0;
            }
        }
    }
    // Running for a while without checkpoints (or without checkpointing) counts as stable too.
    let deployed = status
        .deployed_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    if observed.job_state() == Some(JobState::Running)
        && deployed.is_some_and(|t| input.now.signed_duration_since(t) >= chrono::Duration::minutes(STABLE_MINUTES))
    {
        status.failed_restarts = 0;
    }
}
