//! The exactly-once protocol of the Kafka sink, over a thin producer seam
//! ([`TransactionBackend`]) so that its decisions are tested without a broker.
//!
//! **One transaction per checkpoint.** Records go into the open transaction. At checkpoint
//! `c`'s barrier the transaction is flushed and *prepared*: it moves to the pending list with
//! what it takes to commit it from anywhere (transactional id, producer id, epoch), which is
//! part of the snapshot; a new transaction opens for the records after the barrier. When
//! checkpoint `c` completes, every pending transaction up to `c` is committed. A checkpoint
//! that fails leaves its transaction pending; the next completed one commits it.
//!
//! **Transactional ids** are `{prefix}-{generation}-{subtask}-{slot}`: `generation` is the
//! checkpoint the run restored from (0 on a fresh start), `slot` one of [`SLOTS`] reused in
//! turn (a slot is free once its transaction is committed). A slot is never reused while its
//! transaction is pending: with every slot pending, the sink fails rather than abort data.
//!
//! **Restore.** Each snapshot item describes one subtask of the run that wrote it. Whoever
//! restores an item first commits its pending transactions (their checkpoint is the one
//! restored, so it completed) through [`TransactionBackend::resume_commit`], then opens a
//! producer on each of the item's slot ids, which fences zombie producers of the old run and
//! makes the broker abort whatever they left open. The new run's own ids (a newer
//! generation) are opened the same way before use, which also aborts the leftovers of an
//! earlier attempt that restored from the same checkpoint. Ids of different generations never
//! collide, so no subtask aborts a transaction another one still has to commit.

use super::super::producer::OutgoingRecord;
use super::super::txn::{PreparedTransaction, ResumeOutcome};
use freshet_core::{CheckpointId, Error, Result};
use serde::{Deserialize, Serialize};

/// Transactional-id slots per subtask.
pub const SLOTS: u32 = 5;

/// A producer inside one open transaction (librdkafka in production).
pub trait TransactionalProducer: Send {
    /// Sends a record in the transaction.
    fn send(&mut self, record: OutgoingRecord<'_>) -> Result<()>;
    /// Waits until every record is acknowledged and returns how to commit from anywhere.
    fn prepare(&mut self) -> Result<PreparedTransaction>;
    /// Commits the (prepared) transaction.
    fn commit(&mut self) -> Result<()>;
}

/// Creates producers and commits transactions of producers that are gone.
pub trait TransactionBackend: Send {
    /// A producer for `transactional_id` with a transaction begun. Opening fences every
    /// earlier producer of the id and aborts its open transaction.
    fn open(&mut self, transactional_id: &str) -> Result<Box<dyn TransactionalProducer>>;
    /// Opens and drops a producer for the id: only the fencing and aborting.
    fn fence(&mut self, transactional_id: &str) -> Result<()>;
    /// Commits a prepared transaction by its producer id and epoch.
    fn resume_commit(&mut self, txn: &PreparedTransaction) -> Result<ResumeOutcome>;
}

/// A prepared transaction awaiting its checkpoint, as snapshotted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransaction {
    /// The checkpoint whose completion commits it.
    pub checkpoint: u64,
    /// Its slot.
    pub slot: u32,
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
}

/// The snapshot item of one sink subtask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionState {
    /// The transactional-id prefix.
    pub prefix: String,
    /// The generation of the ids.
    pub generation: u64,
    /// The subtask.
    pub subtask: u32,
    /// Transactions prepared and not known to be committed.
    pub pending: Vec<PendingTransaction>,
}

/// The transactional id of a slot.
pub fn transactional_id(prefix: &str, generation: u64, subtask: u32, slot: u32) -> String {
    format!("{prefix}-{generation}-{subtask}-{slot}")
}

struct Open {
    slot: u32,
    producer: Box<dyn TransactionalProducer>,
}

struct Prepared {
    record: PendingTransaction,
    producer: Box<dyn TransactionalProducer>,
}

/// The transactions of one sink subtask.
pub struct TransactionLog {
    backend: Box<dyn TransactionBackend>,
    prefix: String,
    generation: u64,
    subtask: u32,
    open: Option<Open>,
    pending: Vec<Prepared>,
    next_slot: u32,
}

impl TransactionLog {
    /// Restores: commits the pending transactions of `restored` items, fences their ids and
    /// this run's, and opens the first transaction. `restored_checkpoint` is the checkpoint
    /// restored from (the generation of this run's ids).
    pub fn open(
        mut backend: Box<dyn TransactionBackend>,
        prefix: &str,
        subtask: u32,
        restored_checkpoint: Option<CheckpointId>,
        restored: &[serde_json::Value],
    ) -> Result<Self> {
        let generation = restored_checkpoint.map_or(0, |c| c.0);
        for item in restored {
            let state: TransactionState = serde_json::from_value(item.clone())
                .map_err(|e| Error::State(format!("kafka sink: unreadable restored transactions {item}: {e}")))?;
            if state.prefix != prefix {
                tracing::warn!(
                    old = %state.prefix, new = %prefix,
                    "kafka sink: the transactional-id prefix changed; committing the old run's transactions under their ids"
                );
            }
            for pending in &state.pending {
                let prepared = PreparedTransaction {
                    transactional_id: pending.transactional_id.clone(),
                    producer_id: pending.producer_id,
                    producer_epoch: pending.producer_epoch,
                };
                let outcome = backend.resume_commit(&prepared)?;
                match outcome {
                    ResumeOutcome::Committed => {
                        tracing::info!(id = %pending.transactional_id, checkpoint = pending.checkpoint, "kafka sink: committed a transaction of the previous run")
                    }
                    ResumeOutcome::NothingPending | ResumeOutcome::Fenced => tracing::info!(
                        id = %pending.transactional_id, checkpoint = pending.checkpoint, ?outcome,
                        "kafka sink: a transaction of the previous run was already resolved"
                    ),
                }
            }
            if state.generation != generation || state.subtask != subtask || state.prefix != prefix {
                for slot in 0..SLOTS {
                    backend.fence(&transactional_id(&state.prefix, state.generation, state.subtask, slot))?;
                }
            }
        }
        // This run's own ids: abort whatever an earlier attempt from the same checkpoint left.
        for slot in 1..SLOTS {
            backend.fence(&transactional_id(prefix, generation, subtask, slot))?;
        }
        let producer = backend.open(&transactional_id(prefix, generation, subtask, 0))?;
        Ok(Self {
            backend,
            prefix: prefix.to_string(),
            generation,
            subtask,
            open: Some(Open { slot: 0, producer }),
            pending: Vec::new(),
            next_slot: 1,
        })
    }

    /// Sends a record in the open transaction.
    pub fn send(&mut self, record: OutgoingRecord<'_>) -> Result<()> {
        match self.open.as_mut() {
            Some(open) => open.producer.send(record),
            None => Err(Error::Internal("kafka sink: no open transaction".into())),
        }
    }

    /// Checkpoint `checkpoint`'s barrier: prepares the open transaction, opens the next, and
    /// returns the snapshot item.
    pub fn snapshot(&mut self, checkpoint: CheckpointId) -> Result<serde_json::Value> {
        self.prepare(checkpoint.0)?;
        let slot = self.free_slot()?;
        let id = transactional_id(&self.prefix, self.generation, self.subtask, slot);
        let producer = self.backend.open(&id)?;
        self.open = Some(Open { slot, producer });
        serde_json::to_value(self.state()).map_err(Error::from)
    }

    /// End of input: prepares the open transaction for the next checkpoint to commit.
    pub fn finish(&mut self, last_checkpoint: u64) -> Result<()> {
        self.prepare(last_checkpoint + 1)
    }

    fn prepare(&mut self, checkpoint: u64) -> Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let prepared = open.producer.prepare()?;
        self.pending.push(Prepared {
            record: PendingTransaction {
                checkpoint,
                slot: open.slot,
                transactional_id: prepared.transactional_id,
                producer_id: prepared.producer_id,
                producer_epoch: prepared.producer_epoch,
            },
            producer: open.producer,
        });
        Ok(())
    }

    /// Checkpoint `checkpoint` (and every earlier one) completed: commits their transactions.
    pub fn commit_through(&mut self, checkpoint: CheckpointId) -> Result<()> {
        while self
            .pending
            .first()
            .is_some_and(|p| p.record.checkpoint <= checkpoint.0)
        {
            let mut txn = self.pending.remove(0);
            txn.producer.commit()?;
            tracing::debug!(id = %txn.record.transactional_id, checkpoint = txn.record.checkpoint, "kafka sink: committed");
        }
        Ok(())
    }

    /// What the snapshot holds.
    pub fn state(&self) -> TransactionState {
        TransactionState {
            prefix: self.prefix.clone(),
            generation: self.generation,
            subtask: self.subtask,
            pending: self.pending.iter().map(|p| p.record.clone()).collect(),
        }
    }

    /// The next slot in turn that holds no open or pending transaction.
    fn free_slot(&mut self) -> Result<u32> {
        for k in 0..SLOTS {
            let slot = (self.next_slot + k) % SLOTS;
            let busy = self.pending.iter().any(|p| p.record.slot == slot)
                || self.open.as_ref().is_some_and(|o| o.slot == slot);
            if !busy {
                self.next_slot = (slot + 1) % SLOTS;
                return Ok(slot);
            }
        }
        Err(Error::State(format!(
            "kafka sink: {} transactions await checkpoints that have not completed; opening another would need a transactional id still in use (checkpoints keep failing?)",
            self.pending.len()
        )))
    }
}

#[cfg(test)]
mod tests;
