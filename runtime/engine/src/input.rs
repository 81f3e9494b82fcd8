//! A task's incoming channels and aligned barriers.
//!
//! Alignment: when barrier N arrives on a channel, that channel is blocked (its later records
//! belong after the checkpoint) until N has arrived on every channel that has not ended; then
//! the task snapshots, forwards N and unblocks all channels. A channel that ends counts as
//! having delivered every barrier.

use freshet_core::{Barrier, StreamElement};
use std::future::poll_fn;
use std::task::Poll;
use tokio::sync::mpsc::Receiver;

/// What the aligner says after a barrier or an end of input.
#[derive(Debug, PartialEq)]
pub enum Alignment {
    /// Keep waiting for the barrier on other channels.
    Waiting,
    /// Every live channel delivered the barrier: snapshot and forward it.
    Complete(Barrier),
    /// An old barrier of an abandoned checkpoint: ignore it.
    Stale,
}

/// Barrier alignment bookkeeping (no I/O).
#[derive(Debug)]
pub struct BarrierAligner {
    current: Option<Barrier>,
    arrived: Vec<bool>,
    last_completed: u64,
}

impl BarrierAligner {
    /// An aligner for `channels` inputs.
    pub fn new(channels: usize) -> Self {
        Self {
            current: None,
            arrived: vec![false; channels],
            last_completed: 0,
        }
    }

    /// Whether `channel` is blocked by an alignment in progress.
    pub fn is_blocked(&self, channel: usize) -> bool {
        self.current.is_some() && self.arrived[channel]
    }

    fn check(&mut self, ended: &[bool]) -> Alignment {
        let Some(barrier) = self.current else {
            return Alignment::Waiting;
        };
        if self.arrived.iter().zip(ended).all(|(a, e)| *a || *e) {
            self.current = None;
            self.arrived.iter_mut().for_each(|a| *a = false);
            self.last_completed = barrier.id.0;
            Alignment::Complete(barrier)
        } else {
            Alignment::Waiting
        }
    }

    /// Barrier `barrier` arrived on `channel`; `ended` tells which channels have ended.
    pub fn on_barrier(&mut self, channel: usize, barrier: Barrier, ended: &[bool]) -> Alignment {
        if barrier.id.0 <= self.last_completed {
            return Alignment::Stale;
        }
        match self.current {
            Some(cur) if barrier.id.0 < cur.id.0 => return Alignment::Stale,
            Some(cur) if barrier.id.0 > cur.id.0 => {
                // The earlier checkpoint was abandoned: align on the newer one.
                self.arrived.iter_mut().for_each(|a| *a = false);
                self.current = Some(barrier);
            }
            None => self.current = Some(barrier),
            _ => {}
        }
        self.arrived[channel] = true;
        self.check(ended)
    }

    /// A channel ended; this may complete an alignment.
    pub fn on_end(&mut self, ended: &[bool]) -> Alignment {
        self.check(ended)
    }
}

/// The receiving side of a task: its channels, which are ended, and round-robin fairness.
pub struct InputGate {
    channels: Vec<Receiver<StreamElement>>,
    /// Which input of the chain head each channel feeds.
    input_index: Vec<usize>,
    ended: Vec<bool>,
    next: usize,
}

impl InputGate {
    /// A gate over `channels`, channel `i` feeding head input `input_index[i]`.
    pub fn new(channels: Vec<Receiver<StreamElement>>, input_index: Vec<usize>) -> Self {
        let n = channels.len();
        Self {
            channels,
            input_index,
            ended: vec![false; n],
            next: 0,
        }
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// Whether the gate has no channels.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Which head input channel `channel` feeds.
    pub fn input_of(&self, channel: usize) -> usize {
        self.input_index[channel]
    }

    /// Marks a channel ended.
    pub fn mark_ended(&mut self, channel: usize) {
        self.ended[channel] = true;
    }

    /// Ended flags per channel.
    pub fn ended(&self) -> &[bool] {
        &self.ended
    }

    /// Whether every channel has ended.
    pub fn all_ended(&self) -> bool {
        self.ended.iter().all(|e| *e)
    }

    /// The next element from any channel that is neither ended nor blocked. A channel closed
    /// without end of input (its task died) yields `None` for that channel as an error signal:
    /// returns `Some((channel, None))`.
    pub async fn next(&mut self, aligner: &BarrierAligner) -> Option<(usize, Option<StreamElement>)> {
        let n = self.channels.len();
        if n == 0 || self.all_ended() {
            return None;
        }
        poll_fn(|cx| {
            for k in 0..n {
                let c = (self.next + k) % n;
                if self.ended[c] || aligner.is_blocked(c) {
                    continue;
                }
                if let Poll::Ready(item) = self.channels[c].poll_recv(cx) {
                    self.next = (c + 1) % n;
                    return Poll::Ready(Some((c, item)));
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::{CheckpointId, CheckpointKind};

    fn barrier(id: u64) -> Barrier {
        Barrier {
            id: CheckpointId(id),
            triggered_at_ms: 0,
            kind: CheckpointKind::Checkpoint,
        }
    }

    #[test]
    fn aligns_over_all_live_channels() {
        let mut a = BarrierAligner::new(3);
        let ended = [false, false, true];
        assert_eq!(a.on_barrier(0, barrier(1), &ended), Alignment::Waiting);
        assert!(a.is_blocked(0));
        assert!(!a.is_blocked(1));
        assert_eq!(a.on_barrier(1, barrier(1), &ended), Alignment::Complete(barrier(1)));
        assert!(!a.is_blocked(0));
        assert_eq!(a.on_barrier(0, barrier(1), &ended), Alignment::Stale);
    }

    #[test]
    fn end_of_input_completes_alignment() {
        let mut a = BarrierAligner::new(2);
        assert_eq!(a.on_barrier(0, barrier(4), &[false, false]), Alignment::Waiting);
        assert_eq!(a.on_end(&[false, true]), Alignment::Complete(barrier(4)));
    }

    #[test]
    fn newer_barrier_abandons_older_alignment() {
        let mut a = BarrierAligner::new(2);
        assert_eq!(a.on_barrier(0, barrier(1), &[false, false]), Alignment::Waiting);
        assert_eq!(a.on_barrier(1, barrier(2), &[false, false]), Alignment::Waiting);
        assert!(!a.is_blocked(0));
        assert_eq!(a.on_barrier(1, barrier(1), &[false, false]), Alignment::Stale);
        assert_eq!(
            a.on_barrier(0, barrier(2), &[false, false]),
            Alignment::Complete(barrier(2))
        );
    }
}
