//! What `observe` saw, as plain data: the job's objects, its HA Lease and what the coordinator
//! answered. Observation never acts; `decide` reads only this.

/// The job's state as the coordinator reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Tasks not deployed yet (e.g. waiting for task slots).
    Created,
    /// Running.
    Running,
    /// A task failed; the coordinator restarts the job from its latest checkpoint.
    Restarting,
    /// Being cancelled.
    Cancelling,
    /// Ran to its end, or stopped with a savepoint.
    Finished,
    /// Cancelled.
    Cancelled,
    /// Failed beyond the coordinator's restart strategy.
    Failed,
}

impl JobState {
    /// Parses the REST API's spelling.
    pub fn parse(text: &str) -> Option<JobState> {
        Some(match text {
            "CREATED" => JobState::Created,
            "RUNNING" => JobState::Running,
            "RESTARTING" => JobState::Restarting,
            "CANCELLING" => JobState::Cancelling,
            "FINISHED" => JobState::Finished,
            "CANCELLED" => JobState::Cancelled,
            "FAILED" => JobState::Failed,
            _ => return None,
        })
    }

    /// The REST API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Restarting => "RESTARTING",
            JobState::Cancelling => "CANCELLING",
            JobState::Finished => "FINISHED",
            JobState::Cancelled => "CANCELLED",
            JobState::Failed => "FAILED",
        }
    }
}

/// The job as its coordinator answered (`GET /v1/jobs/{id}`, `/checkpoints`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobObservation {
    /// The job id.
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// Restarts after task failures.
    pub restarts: i64,
    /// Reason of the last task failure.
    pub last_failure: Option<String>,
    /// What the job waits for.
    pub message: Option<String>,
    /// The latest completed checkpoint or savepoint: (id, location).
    pub latest_checkpoint: Option<(i64, String)>,
}

/// The HA Lease (`<job>-ha`) the coordinators keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseObservation {
    /// The leader's REST base URL.
    pub rest_url: Option<String>,
    /// The latest checkpoint the leader recorded: (id, location).
    pub latest_checkpoint: Option<(i64, String)>,
    /// How the job ended, if it did (`FINISHED`, `CANCELLED`, `STOPPED at <savepoint>`,
    /// `FAILED: <reason>`).
    pub job_ended: Option<String>,
}

impl LeaseObservation {
    /// The savepoint a stop-with-savepoint ended at, from `job_ended`.
    pub fn stopped_at(&self) -> Option<&str> {
        self.job_ended.as_deref()?.strip_prefix("STOPPED at ").map(str::trim)
    }

    /// Whether the record says the job failed.
    pub fn failed(&self) -> Option<&str> {
        let ended = self.job_ended.as_deref()?;
        ended.strip_prefix("FAILED").map(|r| r.trim_start_matches(':').trim())
    }
}

/// The savepoint of `status.operation.triggerId`, as the coordinator answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavepointObservation {
    /// Still running.
    InProgress,
    /// Completed at this location.
    Completed(String),
    /// Failed, with the coordinator's reason.
    Failed(String),
    /// The coordinator did not answer (or does not know the trigger).
    Unknown,
}

/// Everything observe gathered for one StreamJob.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// The coordinator Deployment exists.
    pub coordinator_exists: bool,
    /// The worker StatefulSet exists.
    pub workers_exist: bool,
    /// Pods of the job (coordinator and workers) that still exist, terminating ones included.
    pub pods: i32,
    /// The HA Lease, if it exists.
    pub lease: Option<LeaseObservation>,
    /// The coordinator's answer; `None` when it could not be reached (or nothing runs).
    pub job: Option<JobObservation>,
    /// Why the coordinator could not be reached, when it was asked.
    pub unreachable: Option<String>,
    /// The savepoint in flight, when there is one.
    pub savepoint: Option<SavepointObservation>,
}

impl Observation {
    /// The job's state: from the coordinator, or from the Lease when the job ended.
    pub fn job_state(&self) -> Option<JobState> {
        if let Some(job) = &self.job {
            return Some(job.state);
        }
        let lease = self.lease.as_ref()?;
        if lease.failed().is_some() {
            Some(JobState::Failed)
        } else if lease.job_ended.as_deref() == Some("CANCELLED") {
            Some(JobState::Cancelled)
        } else if lease.job_ended.is_some() {
            Some(JobState::Finished)
        } else {
            None
        }
    }

    /// Whether the job is running.
    pub fn running(&self) -> bool {
        self.job_state() == Some(JobState::Running)
    }

    /// The newest completed checkpoint known: the Lease's record (the leader writes it before
    /// tasks commit) or the coordinator's answer.
    pub fn latest_checkpoint(&self) -> Option<(i64, String)> {
        let from_lease = self.lease.as_ref().and_then(|l| l.latest_checkpoint.clone());
        let from_rest = self.job.as_ref().and_then(|j| j.latest_checkpoint.clone());
        match (from_lease, from_rest) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Whether nothing of the job runs any more.
    pub fn torn_down(&self) -> bool {
        !self.coordinator_exists && !self.workers_exist && self.pods == 0
    }
}
