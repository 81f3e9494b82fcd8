//! The data plane: stream elements between subtasks on different workers.
//!
//! A producer task holds an [`OutboundChannel`] per remote consumer subtask, opened through the
//! worker's [`NetworkSender`]; a consumer task holds an [`InboundChannel`] per remote producer
//! subtask, registered with the worker's [`NetworkReceiver`] (whose gRPC service the worker
//! serves on its data-plane address).
//!
//! Invariants:
//! - **One connection per worker pair and direction.** All channels from one producer worker to
//!   one consumer worker share one `DataExchange.Exchange` call; frames carry a per-call handle.
//! - **Order.** The frames of one channel arrive in the order they were sent, so watermarks,
//!   barriers and end-of-input stay in place between the batches.
//! - **Credit.** Every frame but `ChannelOpen` costs one credit. The consumer grants
//!   `credits_per_channel` when its task attaches to the channel, then returns one credit per
//!   element its task has taken, in grants of `credit_batch`. Hence the elements sent but not
//!   yet taken on a channel never exceed `credits_per_channel`, the consumer's per-channel
//!   queue is bounded by it, and a producer without credit waits (backpressure).
//! - **Failure.** A broken connection fails every channel on it: a producer's `send` and a
//!   consumer's `recv` (after the elements already received) return an error; they never hang.
//!   HTTP/2 keep-alive pings detect a silent peer.

mod channel_id;
mod codec;
mod config;
mod receiver;
mod registry;
mod sender;

pub use channel_id::ChannelId;
pub use config::DataPlaneConfig;
pub use receiver::{InboundChannel, NetworkReceiver};
pub use sender::{NetworkSender, OutboundChannel};
