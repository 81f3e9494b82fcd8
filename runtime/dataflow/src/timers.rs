//! Per-key timers, kept in keyed state.
//!
//! A timer is (domain, time, key group, key, namespace); registering the same one twice keeps
//! one; timers of the same time fire in registration order. The live set is an in-memory index
//! bucketed by time that finds the due timers quickly. Timers are
//! persisted in the reserved keyed state [`TIMER_STATE`], so they are snapshotted, restored and
//! redistributed by key group exactly like other keyed state, but written behind: changes since
//! the last snapshot are collected and applied to the backend by [`TimerService::flush`] just
//! before it is snapshotted. Most window timers are registered and fired between two
//! checkpoints and so never reach the backend at all (on RocksDB that saved one write and one
//! delete per key and window: about half the hot-items job's time).

use freshet_core::{Error, KeyGroup, Result};
use freshet_state::{KeyedStateBackend, StateId};
use hashbrown::HashMap;
use hashbrown::HashSet;
use std::collections::{BTreeMap, VecDeque};

/// The name of the keyed state holding timers.
pub const TIMER_STATE: &str = "__timers";

/// Which clock a timer follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeDomain {
    /// Fires when the watermark reaches its time.
    EventTime,
    /// Fires when the wall clock reaches its time.
    ProcessingTime,
}

/// A registered timer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer {
    /// Time (ms) at which it fires.
    pub time: i64,
    /// Key group of the key.
    pub key_group: KeyGroup,
    /// Encoded key.
    pub key: Vec<u8>,
    /// Namespace (e.g. an encoded window).
    pub namespace: Vec<u8>,
    /// Its clock.
    pub domain: TimeDomain,
}

/// One timer of one domain in the in-memory index: (time, key group, key, namespace).
type Entry = (i64, KeyGroup, Vec<u8>, Vec<u8>);

/// How the backend must change for one timer at the next flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    /// Registered since the last flush; the backend does not have it.
    Put,
    /// Removed since the last flush; the backend still has it.
    Delete,
}

/// A timer's identity within its time: (key group, key, namespace).
type TimerKey = (KeyGroup, Vec<u8>, Vec<u8>);

/// The timers of one time, fired in registration order. `live` decides membership; `order`
/// may hold keys removed since (skipped when popped).
#[derive(Debug, Default)]
struct Bucket {
    order: VecDeque<TimerKey>,
    live: HashSet<TimerKey>,
}

/// The timers of one domain, bucketed by time. Most timers of a window operator share a time
/// (the end of a window), so registering and firing one is a hash-set operation rather than a
/// search among all timers comparing keys byte by byte.
#[derive(Debug, Default)]
struct TimerIndex {
    buckets: BTreeMap<i64, Bucket>,
    len: usize,
}

impl TimerIndex {
    /// Adds a timer; false if it was there.
    fn insert(&mut self, (time, kg, key, ns): Entry) -> bool {
        let bucket = self.buckets.entry(time).or_default();
        let id = (kg, key, ns);
        if bucket.live.contains(&id) {
            return false;
        }
        bucket.order.push_back(id.clone());
        bucket.live.insert(id);
        self.len += 1;
        true
    }

    /// Removes a timer; false if it was not there.
    fn remove(&mut self, (time, kg, key, ns): &Entry) -> bool {
        let Some(bucket) = self.buckets.get_mut(time) else {
            return false;
        };
        if !bucket.live.remove(&(*kg, key.clone(), ns.clone())) {
            return false;
        }
        self.len -= 1;
        if bucket.live.is_empty() {
            self.buckets.remove(time);
        }
        true
    }

    /// Removes and returns the earliest timer with time `<= upto`.
    fn pop_due(&mut self, upto: i64) -> Option<Entry> {
        loop {
            let mut first = self.buckets.first_entry()?;
            let time = *first.key();
            if time > upto {
                return None;
            }
            let bucket = first.get_mut();
            while let Some(id) = bucket.order.pop_front() {
                if bucket.live.remove(&id) {
                    self.len -= 1;
                    if bucket.live.is_empty() {
                        first.remove();
                    }
                    let (kg, key, ns) = id;
                    return Some((time, kg, key, ns));
                }
            }
            // Only removed timers were left.
            first.remove();
        }
    }

    fn first_time(&self) -> Option<i64> {
        self.buckets.keys().next().copied()
    }

    #[cfg(test)]
    fn sorted(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self
            .buckets
            .iter()
            .flat_map(|(t, b)| b.live.iter().map(|(kg, k, n)| (*t, *kg, k.clone(), n.clone())))
            .collect();
        all.sort();
        all
    }
}

/// Timers of one keyed operator subtask.
#[derive(Debug, Default)]
pub struct TimerService {
    state: Option<StateId>,
    event: TimerIndex,
    processing: TimerIndex,
    /// Differences between the in-memory sets and the backend's timer state. No entry for a
    /// timer means the backend agrees with memory about it.
    pending: HashMap<(TimeDomain, Entry), Pending>,
}

fn encode_namespace(domain: TimeDomain, time: i64, namespace: &[u8]) -> Vec<u8> {
    let mut ns = Vec::with_capacity(9 + namespace.len());
    ns.push(match domain {
        TimeDomain::EventTime => 0,
        TimeDomain::ProcessingTime => 1,
    });
    ns.extend_from_slice(&((time as u64) ^ (1 << 63)).to_be_bytes());
    ns.extend_from_slice(namespace);
    ns
}

fn decode_namespace(ns: &[u8]) -> Result<(TimeDomain, i64, &[u8])> {
    if ns.len() < 9 {
        return Err(Error::State("corrupt timer entry".into()));
    }
    let domain = if ns[0] == 0 {
        TimeDomain::EventTime
    } else {
        TimeDomain::ProcessingTime
    };
    let mut t = [0u8; 8];
    t.copy_from_slice(&ns[1..9]);
    let time = (u64::from_be_bytes(t) ^ (1 << 63)) as i64;
    Ok((domain, time, &ns[9..]))
}

impl TimerService {
    /// Loads the timers stored in `backend` (after a restore) and registers the timer state.
    pub fn restore(backend: &mut dyn KeyedStateBackend) -> Result<Self> {
        let id = backend.register_state(TIMER_STATE)?;
        let mut service = TimerService {
            state: Some(id),
            ..Default::default()
        };
        let range = backend.key_group_range();
        for kg in range.iter() {
            backend.scan(id, kg, &mut |key, ns, _| {
                let (domain, time, user_ns) = decode_namespace(ns)?;
                let entry = (time, kg, key.to_vec(), user_ns.to_vec());
                match domain {
                    TimeDomain::EventTime => service.event.insert(entry),
                    TimeDomain::ProcessingTime => service.processing.insert(entry),
                };
                Ok(())
            })?;
        }
        Ok(service)
    }

    fn state_id(&self) -> Result<StateId> {
        self.state
            .ok_or_else(|| Error::Config("timers need a keyed operator (key_by before it)".into()))
    }

    fn set_mut(&mut self, domain: TimeDomain) -> &mut TimerIndex {
        match domain {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        }
    }

    /// Records that `entry` was added to (`added`) or removed from memory.
    fn note_change(&mut self, domain: TimeDomain, entry: Entry, added: bool) {
        use hashbrown::hash_map::Entry as Slot;
        match self.pending.entry((domain, entry)) {
            // Added then removed before a flush, or removed then re-added: the backend already
            // agrees with memory.
            Slot::Occupied(slot) => {
                slot.remove();
            }
            Slot::Vacant(slot) => {
                slot.insert(if added { Pending::Put } else { Pending::Delete });
            }
        }
    }

    /// Registers a timer.
    pub fn register(&mut self, timer: Timer) -> Result<()> {
        self.state_id()?;
        let entry = (timer.time, timer.key_group, timer.key, timer.namespace);
        if self.set_mut(timer.domain).insert(entry.clone()) {
            self.note_change(timer.domain, entry, true);
        }
        Ok(())
    }

    /// Deletes a timer (no error if absent).
    pub fn delete(&mut self, timer: &Timer) -> Result<()> {
        self.state_id()?;
        let entry = (timer.time, timer.key_group, timer.key.clone(), timer.namespace.clone());
        if self.set_mut(timer.domain).remove(&entry) {
            self.note_change(timer.domain, entry, false);
        }
        Ok(())
    }

    /// Removes and returns the earliest timer of `domain` with time `<= upto`, if any.
    pub fn pop_due(&mut self, domain: TimeDomain, upto: i64) -> Result<Option<Timer>> {
        let Some(entry) = self.set_mut(domain).pop_due(upto) else {
            return Ok(None);
        };
        self.state_id()?;
        let slot = (domain, entry);
        if self.pending.remove(&slot).is_some() {
            // Registered since the last flush: the backend never saw it.
            let (_, (time, key_group, key, namespace)) = slot;
            return Ok(Some(Timer {
                time,
                key_group,
                key,
                namespace,
                domain,
            }));
        }
        let (_, (time, key_group, key, namespace)) = &slot;
        let timer = Timer {
            time: *time,
            key_group: *key_group,
            key: key.clone(),
            namespace: namespace.clone(),
            domain,
        };
        self.pending.insert(slot, Pending::Delete);
        Ok(Some(timer))
    }

    /// Writes the changes since the last flush to `backend`, so that its timer state holds
    /// exactly the registered timers. Must run before the backend is snapshotted.
    pub fn flush(&mut self, backend: &mut dyn KeyedStateBackend) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let id = self.state_id()?;
        for ((domain, (time, kg, key, ns)), change) in self.pending.drain() {
            let encoded = encode_namespace(domain, time, &ns);
            match change {
                Pending::Put => backend.put(id, kg, &key, &encoded, &[])?,
                Pending::Delete => backend.delete(id, kg, &key, &encoded)?,
            }
        }
        Ok(())
    }

    /// The time of the earliest processing-time timer.
    pub fn next_processing_time(&self) -> Option<i64> {
        self.processing.first_time()
    }

    /// The time of the earliest event-time timer.
    pub fn next_event_time(&self) -> Option<i64> {
        self.event.first_time()
    }

    /// Number of registered timers (both domains).
    pub fn len(&self) -> usize {
        self.event.len + self.processing.len
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::KeyGroupRange;
    use freshet_state::heap::HeapBackend;

    #[test]
    fn namespace_roundtrip_orders_times() {
        for t in [i64::MIN, -5, 0, 7, i64::MAX] {
            let ns = encode_namespace(TimeDomain::EventTime, t, b"w");
            let (d, time, rest) = decode_namespace(&ns).unwrap();
            assert_eq!((d, time, rest), (TimeDomain::EventTime, t, &b"w"[..]));
        }
        assert!(encode_namespace(TimeDomain::EventTime, -1, b"") < encode_namespace(TimeDomain::EventTime, 1, b""));
    }

    fn timer(time: i64, key: &[u8]) -> Timer {
        Timer {
            time,
            key_group: KeyGroup(3),
            key: key.to_vec(),
            namespace: b"w".to_vec(),
            domain: TimeDomain::EventTime,
        }
    }

    fn stored(backend: &mut dyn KeyedStateBackend) -> Vec<(i64, Vec<u8>)> {
        let restored = TimerService::restore(backend).unwrap();
        restored.event.sorted().into_iter().map(|e| (e.0, e.2)).collect()
    }

    #[test]
    fn timers_reach_the_backend_only_when_flushed() {
        let mut backend = HeapBackend::new(KeyGroupRange::all(128));
        let mut timers = TimerService::restore(&mut backend).unwrap();
        timers.register(timer(10, b"a")).unwrap();
        timers.register(timer(20, b"b")).unwrap();
        timers.register(timer(20, b"b")).unwrap();
        assert_eq!(timers.len(), 2);
        assert!(stored(&mut backend).is_empty(), "registration is written behind");
        timers.flush(&mut backend).unwrap();
        assert_eq!(stored(&mut backend), vec![(10, b"a".to_vec()), (20, b"b".to_vec())]);

        // Fired, deleted, registered and fired again, and re-registered after a removal.
        assert_eq!(
            timers.pop_due(TimeDomain::EventTime, 15).unwrap(),
            Some(timer(10, b"a"))
        );
        timers.delete(&timer(20, b"b")).unwrap();
        timers.register(timer(30, b"c")).unwrap();
        timers.register(timer(40, b"d")).unwrap();
        assert_eq!(
            timers.pop_due(TimeDomain::EventTime, 35).unwrap(),
            Some(timer(30, b"c"))
        );
        timers.register(timer(20, b"b")).unwrap();
        assert_eq!(stored(&mut backend), vec![(10, b"a".to_vec()), (20, b"b".to_vec())]);
        timers.flush(&mut backend).unwrap();
        assert_eq!(stored(&mut backend), vec![(20, b"b".to_vec()), (40, b"d".to_vec())]);
        assert!(timers.pending.is_empty());
    }
}
