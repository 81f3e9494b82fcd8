//! The states registered with one backend instance, shared by the heap and RocksDB backends so
//! that both hand out the same ids and reject the same addresses with the same errors.
//!
//! Invariants: ids are dense (`0..len`) in registration order, and a name has exactly one id.
//! An entry address is valid only if it names a registered state and a key group of the
//! instance's [`KeyGroupRange`] (a routing bug must fail loudly, not write state that a rescale
//! would then lose).

use crate::addressing::check_key_group;
use crate::backend::StateId;
use freshet_core::{Error, KeyGroup, KeyGroupRange, Result};

/// The names of the registered states, in id order.
#[derive(Debug, Default)]
pub(crate) struct StateNames {
    names: Vec<String>,
}

/// Where a checked entry address lives in a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntrySlot {
    /// The state's id, as an index.
    pub(crate) state: usize,
    /// The key group's index in the backend's range (`kg - range.start`).
    pub(crate) group: usize,
}

impl StateNames {
    /// The id of `name`, registering it if it is new: `(id, true)` for a new name.
    pub(crate) fn register(&mut self, name: &str) -> Result<(StateId, bool)> {
        if let Some(id) = self.names.iter().position(|n| n == name) {
            return Ok((StateId(id as u16), false));
        }
        let id = u16::try_from(self.names.len())
            .map_err(|_| Error::State(format!("too many states registered; cannot add '{name}'")))?;
        self.names.push(name.to_string());
        Ok((StateId(id), true))
    }

    /// The names, in id order.
    pub(crate) fn as_slice(&self) -> &[String] {
        &self.names
    }

    /// Checks that `state` is registered and `kg` lies in `range`.
    #[inline]
    pub(crate) fn check_address(&self, range: KeyGroupRange, state: StateId, kg: KeyGroup) -> Result<EntrySlot> {
        let group = check_key_group(range, kg)?;
        let state = usize::from(state.0);
        if state >= self.names.len() {
            return Err(Error::State(format!(
                "unknown state id {state} (not registered with this backend)"
            )));
        }
        Ok(EntrySlot { state, group })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut names = StateNames::default();
        assert_eq!(names.register("a").ok(), Some((StateId(0), true)));
        assert_eq!(names.register("b").ok(), Some((StateId(1), true)));
        assert_eq!(names.register("a").ok(), Some((StateId(0), false)));
        assert_eq!(names.as_slice(), ["a", "b"]);
    }

    #[test]
    fn addresses_are_checked() {
        let mut names = StateNames::default();
        let range = KeyGroupRange { start: 4, end: 8 };
        let (id, _) = names.register("s").expect("register");
        assert_eq!(
            names.check_address(range, id, KeyGroup(6)).ok(),
            Some(EntrySlot { state: 0, group: 2 })
        );
        let outside = names.check_address(range, id, KeyGroup(8)).unwrap_err().to_string();
        assert!(
            outside.contains("key group 8") && outside.contains("[4, 8)"),
            "{outside}"
        );
        let unknown = names
            .check_address(range, StateId(1), KeyGroup(4))
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown state id 1"), "{unknown}");
    }
}
