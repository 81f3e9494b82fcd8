//! The identity of a data-plane channel.

use crate::convert::required;
use crate::error::Result;
use crate::proto;
use freshet_core::SubtaskIndex;
use std::fmt;

/// One logical channel: the records of one job-graph edge from one producer subtask to one
/// consumer subtask, in one execution attempt of a job.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId {
    /// The job.
    pub job: String,
    /// The job's execution attempt.
    pub attempt: u64,
    /// Index of the edge in the job graph.
    pub edge: u32,
    /// The producing subtask.
    pub producer: SubtaskIndex,
    /// The consuming subtask.
    pub consumer: SubtaskIndex,
}

impl ChannelId {
    /// The channel of `edge` from subtask `producer` to subtask `consumer`.
    pub fn new(job: impl Into<String>, attempt: u64, edge: u32, producer: u32, consumer: u32) -> Self {
        Self {
            job: job.into(),
            attempt,
            edge,
            producer: SubtaskIndex(producer),
            consumer: SubtaskIndex(consumer),
        }
    }

    /// Decodes an optional message field, failing when it is absent.
    pub fn from_field(field: Option<proto::ChannelId>) -> Result<Self> {
        Ok(Self::from(required(field, "channel")?))
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{}/edge {}/{}->{}",
            self.job, self.attempt, self.edge, self.producer, self.consumer
        )
    }
}

impl From<ChannelId> for proto::ChannelId {
    fn from(c: ChannelId) -> Self {
        proto::ChannelId {
            job_id: c.job,
            attempt: c.attempt,
            edge: c.edge,
            producer_subtask: c.producer.0,
            consumer_subtask: c.consumer.0,
        }
    }
}

impl From<proto::ChannelId> for ChannelId {
    fn from(c: proto::ChannelId) -> Self {
        ChannelId::new(c.job_id, c.attempt, c.edge, c.producer_subtask, c.consumer_subtask)
    }
}
