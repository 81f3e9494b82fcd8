//! # freshet-rpc
//!
//! Freshet's cluster protocol: the versioned protobuf API between the coordinator and its
//! workers (control plane) and between workers (data plane). It sits below the coordinator and
//! worker roles of `freshet-engine` and above `freshet-core`, whose stream elements it carries;
//! it knows nothing of operators, state backends or the job graph's contents (those travel as
//! opaque bytes).
//!
//! - [`proto`]: the generated messages, clients and servers of package `freshet.v1`
//!   (`proto/freshet/v1/*.proto`; the `.proto` comments document every message).
//! - [`convert`]: conversions between core types (barriers, key-group ranges) and messages.
//! - [`data`]: the data plane: [`NetworkSender`] and [`NetworkReceiver`] move
//!   [`StreamElement`](freshet_core::StreamElement)s between subtasks on different workers as
//!   Arrow IPC over one multiplexed gRPC stream per worker pair, with per-channel credit-based
//!   flow control (a producer without credit waits: backpressure crosses the network, and no
//!   queue grows past its credit budget).
//! - [`error`]: the crate's error type.
#![warn(missing_docs)]

pub mod convert;
pub mod data;
pub mod error;

/// Generated code of the `freshet.v1` protobuf package (messages, `Coordinator`, `Worker` and
/// `DataExchange` clients and servers).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("freshet.v1");
}

pub use data::{ChannelId, DataPlaneConfig, InboundChannel, NetworkReceiver, NetworkSender, OutboundChannel};
pub use error::{Error, Result};
