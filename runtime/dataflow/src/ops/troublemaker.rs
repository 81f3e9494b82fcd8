//! Fault injection as a real operator: passes batches through unchanged and fails the task
//! when the job as a whole (across restarts) has pushed a given number of records through it.
//! Each failure point fires once, so a job with `n` points recovers `n` times.

use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::operator::Operator;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use parking_lot::Mutex;
use std::sync::Arc;

/// Shared failure plan: the cumulative record counts at which to fail, and the count so far.
#[derive(Debug, Default)]
pub struct FailurePlan {
    remaining: Mutex<(u64, Vec<u64>)>,
}

impl FailurePlan {
    /// Fails once when the cumulative count reaches each of `points`.
    pub fn new(mut points: Vec<u64>) -> Arc<Self> {
        points.sort_unstable();
        points.reverse();
        Arc::new(Self {
            remaining: Mutex::new((0, points)),
        })
    }

    /// Failure points not reached yet.
    pub fn remaining(&self) -> usize {
        self.remaining.lock().1.len()
    }

    fn observe(&self, rows: u64) -> Option<u64> {
        let mut guard = self.remaining.lock();
        guard.0 += rows;
        let seen = guard.0;
        match guard.1.last() {
            Some(&next) if seen >= next => {
                guard.1.pop();
                Some(next)
            }
            _ => None,
        }
    }
}

/// Passes records through and fails at the planned points.
pub struct Troublemaker {
    plan: Arc<FailurePlan>,
}

impl Troublemaker {
    /// An operator following `plan`.
    pub fn new(plan: Arc<FailurePlan>) -> Self {
        Self { plan }
    }
}

impl Operator for Troublemaker {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(point) = self.plan.observe(batch.num_rows() as u64) {
            return Err(Error::UserFunction(format!("injected failure after {point} records")));
        }
        out.emit(batch);
        Ok(())
    }
}
