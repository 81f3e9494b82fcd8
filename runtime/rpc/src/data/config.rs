//! Tuning of the data plane: credit budget, message limits, keep-alive.

use std::time::Duration;

/// Settings of a worker's data plane (both directions).
#[derive(Clone, Debug)]
pub struct DataPlaneConfig {
    /// Credits a consumer grants per channel: the most elements (batches or control events)
    /// in flight or buffered on one channel.
    pub credits_per_channel: u32,
    /// A consumer returns credit once its task has taken this many elements (clamped to
    /// `1..=credits_per_channel`); larger means fewer feedback messages, smaller means a
    /// producer waits less.
    pub credit_batch: u32,
    /// Frames queued per connection towards the transport (all are already covered by credit).
    pub connection_queue: usize,
    /// Largest encoded frame accepted or sent (a batch's IPC encoding must fit).
    pub max_message_bytes: usize,
    /// How long connecting to a peer may take.
    pub connect_timeout: Duration,
    /// Interval of HTTP/2 keep-alive pings on data-plane connections.
    pub keepalive_interval: Duration,
    /// A connection whose ping is not answered within this time is broken.
    pub keepalive_timeout: Duration,
    /// HTTP/2 flow-control window per stream (bytes); the credit protocol bounds memory, this
    /// only needs to be large enough not to throttle throughput.
    pub stream_window_bytes: u32,
}

impl Default for DataPlaneConfig {
    fn default() -> Self {
        Self {
            credits_per_channel: 8,
            credit_batch: 4,
            connection_queue: 64,
            max_message_bytes: 64 * 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(5),
            keepalive_timeout: Duration::from_secs(10),
            stream_window_bytes: 8 * 1024 * 1024,
        }
    }
}

impl DataPlaneConfig {
    /// The credit budget per channel (at least 1).
    pub fn credits(&self) -> u32 {
        self.credits_per_channel.max(1)
    }

    /// The grant size, within `1..=credits()`.
    pub fn grant_batch(&self) -> u32 {
        self.credit_batch.clamp(1, self.credits())
    }

    /// A tonic server builder with this configuration's keep-alive and window settings, to
    /// serve [`NetworkReceiver::service`](crate::NetworkReceiver::service) (and, on a worker,
    /// the control-plane service next to it).
    pub fn server(&self) -> tonic::transport::Server {
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(self.keepalive_interval))
            .http2_keepalive_timeout(Some(self.keepalive_timeout))
            .initial_stream_window_size(Some(self.stream_window_bytes))
            .initial_connection_window_size(Some(self.stream_window_bytes.saturating_mul(2)))
    }
}
