//! The errors of the cluster protocol. Each knows its class (whose fault it is), like
//! [`freshet_core::Error`], so a task failing on a broken link is restarted rather than given up.

use crate::data::ChannelId;
use freshet_core::ErrorClass;

/// Errors of the control and data planes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An address could not be parsed as a URI.
    #[error("invalid address '{address}': {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Connecting to a peer failed.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The peer's address.
        address: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// A call to a peer was refused or failed.
    #[error("call to {address} failed: {status}")]
    Call {
        /// The peer's address.
        address: String,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
    /// The connection to a peer broke (the peer died, the network failed, or it closed the
    /// exchange); every channel on it fails.
    #[error("data-plane connection with {peer} lost: {reason}")]
    ConnectionLost {
        /// The peer's address.
        peer: String,
        /// What happened.
        reason: String,
    },
    /// The other side closed one channel before its end of input.
    #[error("channel {channel} closed: {reason}")]
    ChannelClosed {
        /// The channel.
        channel: ChannelId,
        /// Why.
        reason: String,
    },
    /// An element was sent after the channel's end of input.
    #[error("channel {0} already ended")]
    AlreadyEnded(ChannelId),
    /// A consumer registered the same channel twice.
    #[error("channel {0} registered twice")]
    DuplicateChannel(ChannelId),
    /// The local data-plane receiver shut down.
    #[error("data-plane receiver shut down")]
    ReceiverShutdown,
    /// A peer broke the protocol (a frame without a known handle, more frames than credits, a
    /// message missing a required field).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Arrow IPC encoding or decoding failed.
    #[error("arrow ipc: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

impl Error {
    /// Whose fault the error is.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidAddress { .. } => ErrorClass::User,
            Error::Connect { .. }
            | Error::Call { .. }
            | Error::ConnectionLost { .. }
            | Error::ChannelClosed { .. }
            | Error::ReceiverShutdown => ErrorClass::External,
            Error::AlreadyEnded(_) | Error::DuplicateChannel(_) | Error::Protocol(_) | Error::Arrow(_) => {
                ErrorClass::Internal
            }
        }
    }

    /// A `Call` error from a gRPC status.
    pub fn call(address: impl Into<String>, status: tonic::Status) -> Self {
        Error::Call {
            address: address.into(),
            status: Box::new(status),
        }
    }
}

impl From<Error> for freshet_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Arrow(a) => freshet_core::Error::Arrow(a),
            Error::InvalidAddress { .. } => freshet_core::Error::Config(e.to_string()),
            Error::AlreadyEnded(_) | Error::DuplicateChannel(_) | Error::Protocol(_) => {
                freshet_core::Error::Internal(e.to_string())
            }
            other => freshet_core::Error::ChannelClosed(other.to_string()),
        }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_links_are_external_and_become_channel_closed() {
        let e = Error::ConnectionLost {
            peer: "http://w1:6124".into(),
            reason: "reset".into(),
        };
        assert_eq!(e.class(), ErrorClass::External);
        let core: freshet_core::Error = e.into();
        assert_eq!(core.class(), ErrorClass::External);
        assert!(core.to_string().contains("w1:6124"));
    }
}
