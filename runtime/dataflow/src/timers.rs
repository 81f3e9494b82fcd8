//! Per-key timers, kept in keyed state.
//!
//! A timer is (domain, time, key group, key, namespace); registering the same one twice keeps
//! one. Timers are persisted in the reserved keyed state [`TIMER_STATE`], so they are
//! snapshotted, restored and redistributed by key group exactly like other keyed state; an
//! in-memory ordered index (rebuilt on restore) finds the due ones quickly.

use freshet_core::{Error, KeyGroup, Result};
use freshet_state::{KeyedStateBackend, StateId};
use std::collections::BTreeSet;

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

/// Timers of one keyed operator subtask.
#[derive(Debug, Default)]
pub struct TimerService {
    state: Option<StateId>,
    event: BTreeSet<(i64, KeyGroup, Vec<u8>, Vec<u8>)>,
    processing: BTreeSet<(i64, KeyGroup, Vec<u8>, Vec<u8>)>,
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

    /// Registers a timer.
    pub fn register(&mut self, backend: &mut dyn KeyedStateBackend, timer: Timer) -> Result<()> {
        let id = self.state_id()?;
        let entry = (timer.time, timer.key_group, timer.key, timer.namespace);
        let set = match timer.domain {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        };
        if set.contains(&entry) {
            return Ok(());
        }
        backend.put(
            id,
            entry.1,
            &entry.2,
            &encode_namespace(timer.domain, entry.0, &entry.3),
            &[],
        )?;
        set.insert(entry);
        Ok(())
    }

    /// Deletes a timer (no error if absent).
    pub fn delete(&mut self, backend: &mut dyn KeyedStateBackend, timer: &Timer) -> Result<()> {
        let id = self.state_id()?;
        let entry = (timer.time, timer.key_group, timer.key.clone(), timer.namespace.clone());
        let removed = match timer.domain {
            TimeDomain::EventTime => self.event.remove(&entry),
            TimeDomain::ProcessingTime => self.processing.remove(&entry),
        };
        if removed {
            backend.delete(
                id,
                timer.key_group,
                &timer.key,
                &encode_namespace(timer.domain, timer.time, &timer.namespace),
            )?;
        }
        Ok(())
    }

    /// Removes and returns the earliest timer of `domain` with time `<= upto`, if any.
    pub fn pop_due(
        &mut self,
        backend: &mut dyn KeyedStateBackend,
        domain: TimeDomain,
        upto: i64,
    ) -> Result<Option<Timer>> {
        let set = match domain {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        };
        let due = match set.first() {
            Some(first) if first.0 <= upto => set.pop_first(),
            _ => None,
        };
        let Some((time, kg, key, ns)) = due else {
            return Ok(None);
        };
        let id = self.state_id()?;
        backend.delete(id, kg, &key, &encode_namespace(domain, time, &ns))?;
        Ok(Some(Timer {
            time,
            key_group: kg,
            key,
            namespace: ns,
            domain,
        }))
    }

    /// The time of the earliest processing-time timer.
    pub fn next_processing_time(&self) -> Option<i64> {
        self.processing.first().map(|e| e.0)
    }

    /// The time of the earliest event-time timer.
    pub fn next_event_time(&self) -> Option<i64> {
        self.event.first().map(|e| e.0)
    }

    /// Number of registered timers (both domains).
    pub fn len(&self) -> usize {
        self.event.len() + self.processing.len()
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_roundtrip_orders_times() {
        for t in [i64::MIN, -5, 0, 7, i64::MAX] {
            let ns = encode_namespace(TimeDomain::EventTime, t, b"w");
            let (d, time, rest) = decode_namespace(&ns).unwrap();
            assert_eq!((d, time, rest), (TimeDomain::EventTime, t, &b"w"[..]));
        }
        assert!(encode_namespace(TimeDomain::EventTime, -1, b"") < encode_namespace(TimeDomain::EventTime, 1, b""));
    }
}
