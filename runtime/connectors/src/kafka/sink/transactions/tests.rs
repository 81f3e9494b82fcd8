//! The exactly-once protocol against a model of Kafka's transaction coordinator: per
//! transactional id an epoch (bumped by every producer that initialises it, which fences the
//! older ones and aborts their open transaction) and at most one open transaction; commits
//! append to the topic a `read_committed` consumer sees.

use super::*;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Default)]
struct Coordinator {
    /// Per id: (producer id, current epoch, open transaction's records).
    ids: BTreeMap<String, (i64, i16, Option<Vec<String>>)>,
    /// What read_committed consumers see, in commit order.
    committed: Vec<String>,
    aborted: Vec<String>,
    next_pid: i64,
}

#[derive(Clone, Default)]
struct FakeKafka(Arc<Mutex<Coordinator>>);

struct FakeProducer {
    kafka: FakeKafka,
    id: String,
    epoch: i16,
}

impl FakeKafka {
    fn init(&self, id: &str) -> (i64, i16) {
        let mut c = self.0.lock();
        let next_pid = c.next_pid;
        let entry = c.ids.entry(id.to_string()).or_insert((next_pid, -1, None));
        entry.1 += 1;
        let open = entry.2.take();
        let identity = (entry.0, entry.1);
        if entry.0 == next_pid {
            c.next_pid += 1;
        }
        if let Some(records) = open {
            c.aborted.extend(records);
        }
        identity
    }

    fn committed(&self) -> Vec<String> {
        self.0.lock().committed.clone()
    }

    /// Open transactions holding records.
    fn open_transactions(&self) -> usize {
        self.0.lock().ids.values().filter(|(_, _, open)| open.is_some()).count()
    }
}

impl FakeProducer {
    fn current<'a>(&self, c: &'a mut Coordinator) -> Result<&'a mut Option<Vec<String>>> {
        match c.ids.get_mut(&self.id) {
            Some((_, epoch, open)) if *epoch == self.epoch => Ok(open),
            _ => Err(Error::State(format!("producer of '{}' fenced", self.id))),
        }
    }
}

impl TransactionalProducer for FakeProducer {
    fn send(&mut self, record: OutgoingRecord<'_>) -> Result<()> {
        let value = String::from_utf8_lossy(record.value.unwrap_or_default()).into_owned();
        let kafka = self.kafka.clone();
        let mut c = kafka.0.lock();
        let open = self.current(&mut c)?;
        open.get_or_insert_with(Vec::new).push(value);
        Ok(())
    }

    fn prepare(&mut self) -> Result<PreparedTransaction> {
        let kafka = self.kafka.clone();
        let mut c = kafka.0.lock();
        self.current(&mut c)?;
        let pid = c.ids.get(&self.id).map_or(-1, |e| e.0);
        Ok(PreparedTransaction {
            transactional_id: self.id.clone(),
            producer_id: pid,
            producer_epoch: self.epoch,
        })
    }

    fn commit(&mut self) -> Result<()> {
        let kafka = self.kafka.clone();
        let mut c = kafka.0.lock();
        let records = self.current(&mut c)?.take().unwrap_or_default();
        c.committed.extend(records);
        Ok(())
    }
}

impl TransactionBackend for FakeKafka {
    fn open(&mut self, transactional_id: &str) -> Result<Box<dyn TransactionalProducer>> {
        let (_, epoch) = self.init(transactional_id);
        Ok(Box::new(FakeProducer {
            kafka: self.clone(),
            id: transactional_id.to_string(),
            epoch,
        }))
    }

    fn fence(&mut self, transactional_id: &str) -> Result<()> {
        self.init(transactional_id);
        Ok(())
    }

    fn resume_commit(&mut self, txn: &PreparedTransaction) -> Result<ResumeOutcome> {
        let mut c = self.0.lock();
        let Some((pid, epoch, open)) = c.ids.get_mut(&txn.transactional_id) else {
            return Ok(ResumeOutcome::NothingPending);
        };
        if *pid != txn.producer_id || *epoch != txn.producer_epoch {
            return Ok(ResumeOutcome::Fenced);
        }
        match open.take() {
            Some(records) => {
                c.committed.extend(records);
                Ok(ResumeOutcome::Committed)
            }
            None => Ok(ResumeOutcome::NothingPending),
        }
    }
}

fn record(value: &str) -> OutgoingRecord<'_> {
    OutgoingRecord {
        topic: "out",
        key: None,
        value: Some(value.as_bytes()),
        partition: None,
        timestamp: None,
        headers: None,
    }
}

fn log(kafka: &FakeKafka, subtask: u32, restored: Option<u64>, items: &[serde_json::Value]) -> TransactionLog {
    TransactionLog::open(
        Box::new(kafka.clone()),
        "job",
        subtask,
        restored.map(CheckpointId),
        items,
    )
    .expect("open")
}

fn send(log: &mut TransactionLog, values: &[&str]) {
    for v in values {
        log.send(record(v)).expect("send");
    }
}

#[test]
fn records_are_visible_once_their_checkpoint_completes() {
    let kafka = FakeKafka::default();
    let mut t = log(&kafka, 0, None, &[]);
    send(&mut t, &["a", "b"]);
    t.snapshot(CheckpointId(1)).unwrap();
    send(&mut t, &["c"]);
    assert!(
        kafka.committed().is_empty(),
        "nothing is visible before checkpoint 1 completes"
    );
    t.commit_through(CheckpointId(1)).unwrap();
    assert_eq!(kafka.committed(), ["a", "b"]);
    t.snapshot(CheckpointId(2)).unwrap();
    t.commit_through(CheckpointId(2)).unwrap();
    assert_eq!(kafka.committed(), ["a", "b", "c"]);
}

#[test]
fn a_crash_between_checkpoint_and_commit_commits_on_restore_and_aborts_the_rest() {
    let kafka = FakeKafka::default();
    let mut run1 = log(&kafka, 0, None, &[]);
    send(&mut run1, &["a", "b"]);
    let item = run1.snapshot(CheckpointId(1)).unwrap();
    send(&mut run1, &["c-after-barrier"]);
    // Checkpoint 1 completed, but the process died before notify: nothing committed.
    assert!(kafka.committed().is_empty());
    let mut run2 = log(&kafka, 0, Some(1), &[item]);
    assert_eq!(
        kafka.committed(),
        ["a", "b"],
        "the restore committed checkpoint 1's transaction"
    );
    assert_eq!(
        kafka.0.lock().aborted,
        ["c-after-barrier"],
        "records after the barrier were aborted"
    );
    // The zombie of run 1 is fenced.
    assert!(run1.send(record("zombie")).is_err());
    send(&mut run2, &["c"]);
    run2.snapshot(CheckpointId(2)).unwrap();
    run2.commit_through(CheckpointId(2)).unwrap();
    assert_eq!(kafka.committed(), ["a", "b", "c"]);
    assert_eq!(
        kafka.open_transactions(),
        0,
        "no transaction holding records is left open"
    );
}

#[test]
fn a_transaction_already_committed_is_not_committed_again() {
    let kafka = FakeKafka::default();
    let mut run1 = log(&kafka, 0, None, &[]);
    send(&mut run1, &["a"]);
    let item = run1.snapshot(CheckpointId(1)).unwrap();
    run1.commit_through(CheckpointId(1)).unwrap();
    let _run2 = log(&kafka, 0, Some(1), std::slice::from_ref(&item));
    // And a second restore from the same checkpoint (run 2 crashed too) changes nothing.
    let _run3 = log(&kafka, 0, Some(1), &[item]);
    assert_eq!(kafka.committed(), ["a"]);
}

#[test]
fn a_failed_checkpoint_is_covered_by_the_next_completed_one() {
    let kafka = FakeKafka::default();
    let mut t = log(&kafka, 0, None, &[]);
    send(&mut t, &["a"]);
    t.snapshot(CheckpointId(1)).unwrap();
    send(&mut t, &["b"]);
    t.snapshot(CheckpointId(2)).unwrap();
    assert_eq!(t.state().pending.len(), 2);
    t.commit_through(CheckpointId(2)).unwrap();
    assert_eq!(kafka.committed(), ["a", "b"]);
    assert!(t.state().pending.is_empty());
}

#[test]
fn slots_are_never_reused_while_pending() {
    let kafka = FakeKafka::default();
    let mut t = log(&kafka, 0, None, &[]);
    for c in 1..SLOTS as u64 {
        send(&mut t, &["x"]);
        t.snapshot(CheckpointId(c)).unwrap();
    }
    let slots: Vec<u32> = t.state().pending.iter().map(|p| p.slot).collect();
    assert_eq!(slots, (0..SLOTS - 1).collect::<Vec<_>>());
    let err = t
        .snapshot(CheckpointId(SLOTS as u64))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("await checkpoints that have not completed"), "{err}");
    assert!(
        kafka.committed().is_empty(),
        "no pending transaction was aborted to make room"
    );
}

#[test]
fn rescaling_down_commits_and_fences_every_old_subtask() {
    let kafka = FakeKafka::default();
    let mut a = log(&kafka, 0, None, &[]);
    let mut b = log(&kafka, 1, None, &[]);
    send(&mut a, &["a1"]);
    send(&mut b, &["b1"]);
    let items = vec![
        a.snapshot(CheckpointId(1)).unwrap(),
        b.snapshot(CheckpointId(1)).unwrap(),
    ];
    send(&mut a, &["a-late"]);
    send(&mut b, &["b-late"]);
    // One subtask now, handed both items.
    let mut only = log(&kafka, 0, Some(1), &items);
    let mut committed = kafka.committed();
    committed.sort();
    assert_eq!(committed, ["a1", "b1"]);
    let mut aborted = kafka.0.lock().aborted.clone();
    aborted.sort();
    assert_eq!(aborted, ["a-late", "b-late"]);
    assert!(
        b.send(record("zombie")).is_err(),
        "the removed subtask's producer is fenced"
    );
    send(&mut only, &["z"]);
    only.snapshot(CheckpointId(2)).unwrap();
    only.commit_through(CheckpointId(2)).unwrap();
    assert_eq!(kafka.committed().len(), 3);
}

#[test]
fn a_second_attempt_from_the_same_checkpoint_aborts_the_first_attempts_leftovers() {
    let kafka = FakeKafka::default();
    let mut run1 = log(&kafka, 0, None, &[]);
    send(&mut run1, &["a"]);
    let item = run1.snapshot(CheckpointId(1)).unwrap();
    // Attempt A restores from 1, writes, prepares checkpoint 2 (which never completes), dies.
    let mut attempt_a = log(&kafka, 0, Some(1), std::slice::from_ref(&item));
    send(&mut attempt_a, &["dup-1"]);
    attempt_a.snapshot(CheckpointId(2)).unwrap();
    send(&mut attempt_a, &["dup-2"]);
    // Attempt B restores from 1 again.
    let mut attempt_b = log(&kafka, 0, Some(1), &[item]);
    assert_eq!(
        kafka.open_transactions(),
        0,
        "A's transactions holding records were aborted"
    );
    let mut aborted = kafka.0.lock().aborted.clone();
    aborted.sort();
    assert_eq!(aborted, ["dup-1", "dup-2"]);
    send(&mut attempt_b, &["b"]);
    attempt_b.snapshot(CheckpointId(2)).unwrap();
    attempt_b.commit_through(CheckpointId(2)).unwrap();
    assert_eq!(kafka.committed(), ["a", "b"]);
}

#[test]
fn transactional_ids_name_prefix_generation_subtask_and_slot() {
    assert_eq!(transactional_id("orders-job", 42, 3, 1), "orders-job-42-3-1");
    let kafka = FakeKafka::default();
    let t = log(&kafka, 2, Some(7), &[]);
    assert_eq!(t.state().generation, 7);
    assert!(kafka.0.lock().ids.contains_key("job-7-2-0"));
}
