//! Which subtask runs in which slot: a pure function of the physical plan and the registered
//! workers.
//!
//! Slot sharing, as in Flink: a slot runs one subtask of every chain, so a job needs as many
//! slots as its highest parallelism, and subtask `i` of every chain goes to slot `i`. Slots are
//! dealt to workers round-robin (slot 0 on the first worker, slot 1 on the second, ...), which
//! spreads the subtasks of every chain over as many workers as possible.

use freshet_engine::plan::ChainSpec;
use freshet_engine::task::TaskRef;
use std::collections::BTreeMap;

/// A registered worker's free capacity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerSlots {
    /// The worker's id.
    pub worker: String,
    /// Its free slots.
    pub free: u32,
}

/// Where every task of an attempt runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The worker of every task.
    pub task_worker: BTreeMap<TaskRef, String>,
    /// The slot (index on its worker) of every task.
    pub task_slot: BTreeMap<TaskRef, u32>,
    /// How many slots each worker gives the attempt.
    pub slots_used: BTreeMap<String, u32>,
}

impl Placement {
    /// The tasks placed on `worker`.
    pub fn tasks_on(&self, worker: &str) -> Vec<TaskRef> {
        self.task_worker
            .iter()
            .filter(|(_, w)| w.as_str() == worker)
            .map(|(t, _)| *t)
            .collect()
    }
}

/// Slots a plan needs: its highest parallelism.
pub fn slots_needed(chains: &[ChainSpec]) -> u32 {
    chains.iter().map(|c| c.parallelism).max().unwrap_or(0)
}

/// Places every subtask of `chains` on `workers` (in the given order), or says how many slots
/// are missing.
pub fn place(chains: &[ChainSpec], workers: &[WorkerSlots]) -> Result<Placement, u32> {
    let needed = slots_needed(chains);
    let available: u32 = workers.iter().map(|w| w.free).sum();
    if available < needed {
        return Err(needed - available);
    }
    // Deal slots round-robin over workers that still have free ones.
    let mut remaining: Vec<u32> = workers.iter().map(|w| w.free).collect();
    let mut slot_owner: Vec<(usize, u32)> = Vec::with_capacity(needed as usize);
    let mut next = 0usize;
    while (slot_owner.len() as u32) < needed {
        if remaining[next] > 0 {
            let index_on_worker = workers[next].free - remaining[next];
            remaining[next] -= 1;
            slot_owner.push((next, index_on_worker));
        }
        next = (next + 1) % workers.len();
    }
    let mut placement = Placement {
        task_worker: BTreeMap::new(),
        task_slot: BTreeMap::new(),
        slots_used: BTreeMap::new(),
    };
    for (w, _) in &slot_owner {
        *placement.slots_used.entry(workers[*w].worker.clone()).or_default() += 1;
    }
    for (chain, spec) in chains.iter().enumerate() {
        for subtask in 0..spec.parallelism {
            let (w, slot) = slot_owner[subtask as usize];
            let task = TaskRef { chain, subtask };
            placement.task_worker.insert(task, workers[w].worker.clone());
            placement.task_slot.insert(task, slot);
        }
    }
    Ok(placement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_dataflow::NodeId;

    fn chain(parallelism: u32) -> ChainSpec {
        ChainSpec {
            nodes: vec![NodeId(0)],
            parallelism,
        }
    }

    fn workers(free: &[u32]) -> Vec<WorkerSlots> {
        free.iter()
            .enumerate()
            .map(|(i, f)| WorkerSlots {
                worker: format!("w{i}"),
                free: *f,
            })
            .collect()
    }

    #[test]
    fn subtasks_spread_round_robin_and_share_slots() {
        let chains = [chain(1), chain(3), chain(3)];
        let p = place(&chains, &workers(&[2, 2, 2])).expect("enough slots");
        let worker_of = |chain, subtask| p.task_worker[&TaskRef { chain, subtask }].clone();
        assert_eq!(worker_of(1, 0), "w0");
        assert_eq!(worker_of(1, 1), "w1");
        assert_eq!(worker_of(1, 2), "w2");
        // Subtask i of every chain shares slot i.
        assert_eq!(worker_of(0, 0), worker_of(2, 0));
        assert_eq!(p.slots_used.values().sum::<u32>(), 3);
        assert_eq!(
            p.tasks_on("w1"),
            vec![TaskRef { chain: 1, subtask: 1 }, TaskRef { chain: 2, subtask: 1 }]
        );
    }

    #[test]
    fn full_workers_are_skipped_and_slots_numbered_per_worker() {
        let chains = [chain(4)];
        let p = place(&chains, &workers(&[0, 3, 1])).expect("enough slots");
        let slots: Vec<(String, u32)> = (0..4)
            .map(|s| {
                let t = TaskRef { chain: 0, subtask: s };
                (p.task_worker[&t].clone(), p.task_slot[&t])
            })
            .collect();
        assert_eq!(
            slots,
            vec![("w1".into(), 0), ("w2".into(), 0), ("w1".into(), 1), ("w1".into(), 2)]
        );
    }

    #[test]
    fn missing_slots_are_counted() {
        assert_eq!(place(&[chain(5)], &workers(&[2, 1])), Err(2));
        assert_eq!(place(&[chain(1)], &[]), Err(1));
    }
}
