//! Builders for decide tests: a spec, observations, and a `World` that feeds decisions back
//! into the status as `act` would, checking on every step that no deployment drops state it
//! had to keep.

use crate::crd::{
    CheckpointingSpec, DesiredState, JobSource, SavepointSpec, StreamJobSpec, StreamJobStatus, UpgradeMode,
};
use crate::decide::{
    decide, Action, DecideInput, Decision, JobObservation, JobState, LeaseObservation, Observation,
    SavepointObservation,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub const REST: &str = "http://10.0.0.5:8081";
pub const JOB_ID: &str = "job-1";

/// A SQL job at parallelism 2 with checkpoints and savepoints on S3, upgrade mode savepoint.
pub fn spec() -> StreamJobSpec {
    StreamJobSpec {
        image: "freshet:0.1.0".into(),
        image_pull_policy: None,
        job: JobSource {
            sql: Some("INSERT INTO out SELECT * FROM src;".into()),
            entrypoint: None,
            args: None,
        },
        parallelism: 2,
        max_parallelism: None,
        coordinator: Default::default(),
        workers: Default::default(),
        checkpointing: Some(CheckpointingSpec {
            interval: "10s".into(),
            storage: "s3://bucket/chk".into(),
            credentials_secret: None,
            retained: None,
        }),
        savepoints: Some(SavepointSpec {
            directory: Some("s3://bucket/sp".into()),
            ..Default::default()
        }),
        upgrade_mode: UpgradeMode::Savepoint,
        state: DesiredState::Running,
        initial_savepoint_path: None,
        allow_non_restored_state: false,
        savepoint_trigger_nonce: None,
        restart_nonce: None,
        restart_policy: Default::default(),
        rollback: None,
        config: Default::default(),
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// A running job whose leader is at [`REST`], with an optional latest checkpoint.
pub fn running(checkpoint: Option<(i64, &str)>) -> Observation {
    with_state(JobState::Running, checkpoint)
}

/// A deployed job in `state`.
pub fn with_state(state: JobState, checkpoint: Option<(i64, &str)>) -> Observation {
    let checkpoint = checkpoint.map(|(id, l)| (id, l.to_string()));
    Observation {
        coordinator_exists: true,
        workers_exist: true,
        pods: 3,
        lease: Some(LeaseObservation {
            rest_url: Some(REST.into()),
            latest_checkpoint: checkpoint.clone(),
            job_ended: None,
        }),
        job: Some(JobObservation {
            id: JOB_ID.into(),
            state,
            restarts: 0,
            last_failure: (state == JobState::Failed).then(|| "boom".to_string()),
            message: None,
            latest_checkpoint: checkpoint,
        }),
        unreachable: None,
        savepoint: None,
    }
}

/// Nothing of the job runs; the Lease (if any) keeps `checkpoint`.
pub fn torn_down(checkpoint: Option<(i64, &str)>) -> Observation {
    Observation {
        lease: checkpoint.map(|(id, l)| LeaseObservation {
            rest_url: None,
            latest_checkpoint: Some((id, l.to_string())),
            job_ended: None,
        }),
        ..Default::default()
    }
}

/// Objects deleted, pods still terminating.
pub fn terminating() -> Observation {
    Observation {
        pods: 2,
        ..Default::default()
    }
}

/// Objects applied, the coordinator not answering yet.
pub fn starting() -> Observation {
    Observation {
        coordinator_exists: true,
        workers_exist: true,
        pods: 3,
        ..Default::default()
    }
}

/// Adds a savepoint observation.
pub fn with_savepoint(mut o: Observation, s: SavepointObservation) -> Observation {
    o.savepoint = Some(s);
    o
}

/// A StreamJob's life: spec, generation, status, clock; each `step` decides and applies the
/// status as `act` would (trigger ids assigned as the coordinator would answer).
pub struct World {
    pub spec: StreamJobSpec,
    pub generation: i64,
    pub status: StreamJobStatus,
    pub now: DateTime<Utc>,
    pub deleting: bool,
    pub spec_error: Option<String>,
    triggers: u32,
}

impl World {
    pub fn new(spec: StreamJobSpec) -> World {
        World {
            spec,
            generation: 1,
            status: StreamJobStatus::default(),
            now: t0(),
            deleting: false,
            spec_error: None,
            triggers: 0,
        }
    }

    /// A world whose job was deployed and reached RUNNING.
    pub fn running(spec: StreamJobSpec) -> World {
        let mut w = World::new(spec);
        w.step(&Observation::default());
        w.step(&running(None));
        assert!(
            w.status.operation.is_none(),
            "deployed and running: {:?}",
            w.status.operation
        );
        w
    }

    pub fn change(&mut self, f: impl FnOnce(&mut StreamJobSpec)) {
        f(&mut self.spec);
        self.generation += 1;
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now += Duration::seconds(seconds);
    }

    /// Decides once without applying (to check idempotence).
    pub fn peek(&self, observed: &Observation) -> Decision {
        decide(&DecideInput {
            spec: &self.spec,
            generation: self.generation,
            deleting: self.deleting,
            spec_error: self.spec_error.clone(),
            status: &self.status,
            observed,
            now: self.now,
        })
    }

    /// Decides, checks the no-state-loss invariant, and applies the status.
    pub fn step(&mut self, observed: &Observation) -> Decision {
        let before = self.status.clone();
        let mut d = self.peek(observed);
        if let Action::Deploy {
            restore_from: None,
            spec,
            ..
        } = &d.action
        {
            let stateless = spec.upgrade_mode == UpgradeMode::Stateless
                && crate::decide::spec_diff::from_json(before.last_reconciled_spec.as_deref().unwrap_or("null"))
                    .is_none_or(|old| old.upgrade_mode == UpgradeMode::Stateless);
            assert!(
                before.restore_point.is_none() || stateless,
                "a deployment without state although {:?} was restorable",
                before.restore_point
            );
        }
        if let Action::TriggerSavepoint { .. } = d.action {
            self.triggers += 1;
            if let Some(op) = d.status.operation.as_mut() {
                op.trigger_id = Some(format!("trigger-{}", self.triggers));
            }
        }
        self.status = d.status.clone();
        d.status = self.status.clone();
        d
    }

    pub fn condition(&self, kind: &str) -> (String, String) {
        let c = self
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == kind)
            .expect("the condition exists");
        (c.status.clone(), c.reason.clone())
    }
}

/// The restore location of a Deploy action.
pub fn deployed_from(d: &Decision) -> Option<Option<String>> {
    match &d.action {
        Action::Deploy { restore_from, .. } => Some(restore_from.clone()),
        _ => None,
    }
}
