//! Pairs channels opened by remote producers with the local consumer tasks that read them,
//! whichever comes first: a consumer may register before its producer opens the channel, or
//! after (deployment order across workers is not fixed). No credit is granted before the pair
//! is complete, so an unclaimed channel holds only its schema.

use super::ChannelId;
use crate::error::{Error, Result};
use crate::proto;
use crate::proto::channel_frame::Body;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::{mpsc, oneshot};

/// Feedback to the producer of a connection (credit grants, channel closures); the stream ends
/// with an error status when the consumer side breaks the connection off.
pub(crate) type Feedback = mpsc::UnboundedSender<Result<proto::ChannelFeedback, tonic::Status>>;

/// Why a channel failed, set once by the connection before it drops the channel's queue.
pub(crate) type FailureSlot = Arc<OnceLock<String>>;

/// Everything a consumer needs to read a channel opened by a producer.
pub(crate) struct Attachment {
    /// Frame bodies of the channel, bounded by the credit budget.
    pub(crate) queue: mpsc::Receiver<Body>,
    /// The channel's IPC schema message.
    pub(crate) schema: Bytes,
    /// The channel's handle on its connection.
    pub(crate) handle: u32,
    /// The connection's feedback path.
    pub(crate) feedback: Feedback,
    /// Why the channel failed, once it has.
    pub(crate) failure: FailureSlot,
}

enum Slot {
    /// The consumer registered; the producer has not opened the channel yet.
    Waiting(oneshot::Sender<Attachment>),
    /// The producer opened the channel; the consumer has not registered yet.
    Opened(Attachment),
}

/// What a consumer gets when it registers a channel.
pub(crate) enum Claim {
    /// The producer already opened it.
    Ready(Attachment),
    /// It will arrive when the producer opens it.
    Pending(oneshot::Receiver<Attachment>),
}

/// The channels of one receiver awaiting their other half.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Mutex<HashMap<ChannelId, Slot>>,
}

impl Registry {
    /// A consumer registers `channel`.
    pub(crate) fn claim(&self, channel: &ChannelId) -> Result<Claim> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.remove(channel) {
            Some(Slot::Opened(attachment)) => Ok(Claim::Ready(attachment)),
            Some(Slot::Waiting(waiting)) if !waiting.is_closed() => {
                slots.insert(channel.clone(), Slot::Waiting(waiting));
                Err(Error::DuplicateChannel(channel.clone()))
            }
            Some(Slot::Waiting(_)) | None => {
                let (tx, rx) = oneshot::channel();
                slots.insert(channel.clone(), Slot::Waiting(tx));
                Ok(Claim::Pending(rx))
            }
        }
    }

    /// A producer opened `channel`. Fails with a reason when the channel cannot be delivered
    /// (opened twice, or its consumer gave up).
    pub(crate) fn offer(&self, channel: ChannelId, attachment: Attachment) -> Result<(), String> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.remove(&channel) {
            Some(Slot::Waiting(waiting)) => waiting
                .send(attachment)
                .map_err(|_| format!("consumer of {channel} stopped before the channel opened")),
            Some(Slot::Opened(earlier)) => {
                slots.insert(channel.clone(), Slot::Opened(earlier));
                Err(format!("channel {channel} opened twice"))
            }
            None => {
                slots.insert(channel, Slot::Opened(attachment));
                Ok(())
            }
        }
    }
}
