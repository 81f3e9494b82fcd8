//! The producer side of the data plane: one `Exchange` call per consumer worker, multiplexing
//! every channel to it, and the [`OutboundChannel`]s tasks send through.
//!
//! A channel's credit is a semaphore: the consumer's grants add permits, each frame takes one,
//! a producer without permits waits. When the connection breaks or the consumer closes the
//! channel the semaphore is closed, which fails a waiting or later `send` at once.

use super::codec::ChannelEncoder;
use super::{ChannelId, DataPlaneConfig};
use crate::error::{Error, Result};
use crate::proto;
use crate::proto::channel_feedback::Body as FeedbackBody;
use crate::proto::channel_frame::Body;
use crate::proto::data_exchange_client::DataExchangeClient;
use arrow::datatypes::SchemaRef;
use freshet_core::StreamElement;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Streaming;

/// A worker's data-plane sender: opens channels to consumers on other workers, one connection
/// per consumer worker.
pub struct NetworkSender {
    config: DataPlaneConfig,
    connections: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
}

impl NetworkSender {
    /// A sender with `config`'s connection settings.
    pub fn new(config: DataPlaneConfig) -> Self {
        Self {
            config,
            connections: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Opens `channel` to the worker serving the data plane at `address` (`http://host:port`)
    /// for batches of `schema`. Connects on first use; a broken connection is replaced.
    pub async fn open(&self, address: &str, channel: ChannelId, schema: SchemaRef) -> Result<OutboundChannel> {
        let connection = {
            let mut connections = self.connections.lock().await;
            match connections.get(address) {
                Some(c) if !c.is_broken() => c.clone(),
                _ => {
                    let c = Arc::new(Connection::connect(address, &self.config).await?);
                    connections.insert(address.to_string(), c.clone());
                    c
                }
            }
        };
        connection.open(channel, &schema).await
    }
}

/// Credit and fate of one outbound channel, shared with the connection's feedback reader.
struct ChannelCredit {
    permits: Semaphore,
    closed: OnceLock<String>,
}

impl ChannelCredit {
    fn new() -> Self {
        Self {
            permits: Semaphore::new(0),
            closed: OnceLock::new(),
        }
    }

    fn close(&self, reason: String) {
        let _ = self.closed.set(reason);
        self.permits.close();
    }
}

type Credits = Arc<Mutex<HashMap<u32, Arc<ChannelCredit>>>>;

/// One `Exchange` call to a consumer worker.
struct Connection {
    peer: String,
    frames: mpsc::Sender<proto::ChannelFrame>,
    credits: Credits,
    next_handle: AtomicU32,
    /// `Some(reason)` once the connection broke.
    fate: watch::Receiver<Option<String>>,
}

impl Connection {
    async fn connect(address: &str, config: &DataPlaneConfig) -> Result<Self> {
        let endpoint = Endpoint::from_shared(address.to_string())
            .map_err(|e| Error::InvalidAddress {
                address: address.to_string(),
                reason: e.to_string(),
            })?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(config.keepalive_interval)
            .keep_alive_timeout(config.keepalive_timeout)
            .keep_alive_while_idle(true)
            .initial_stream_window_size(config.stream_window_bytes)
            .initial_connection_window_size(config.stream_window_bytes.saturating_mul(2));
        let transport = endpoint.connect().await.map_err(|source| Error::Connect {
            address: address.to_string(),
            source,
        })?;
        let mut client = DataExchangeClient::new(transport.clone())
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes);
        let (frames, frames_rx) = mpsc::channel(config.connection_queue.max(1));
        let feedback = client
            .exchange(ReceiverStream::new(frames_rx))
            .await
            .map_err(|status| Error::call(address, status))?
            .into_inner();
        let credits = Credits::default();
        let (fate_tx, fate) = watch::channel(None);
        tokio::spawn(read_feedback(feedback, credits.clone(), fate_tx, transport));
        Ok(Self {
            peer: address.to_string(),
            frames,
            credits,
            next_handle: AtomicU32::new(0),
            fate,
        })
    }

    fn is_broken(&self) -> bool {
        self.fate.borrow().is_some()
    }

    async fn open(&self, channel: ChannelId, schema: &SchemaRef) -> Result<OutboundChannel> {
        let (encoder, arrow_schema) = ChannelEncoder::new(schema)?;
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        let credit = Arc::new(ChannelCredit::new());
        self.credits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(handle, credit.clone());
        let mut outbound = OutboundChannel {
            id: channel.clone(),
            handle,
            peer: self.peer.clone(),
            encoder,
            credit,
            credits: self.credits.clone(),
            frames: self.frames.clone(),
            fate: self.fate.clone(),
            ended: false,
        };
        // A connection that broke before the channel was registered would never close it.
        if let Some(reason) = self.fate.borrow().clone() {
            outbound.credit.close(reason);
        }
        let open = proto::ChannelOpen {
            channel: Some(channel.into()),
            arrow_schema,
        };
        outbound.push(Body::Open(open)).await?;
        Ok(outbound)
    }
}

/// Applies the consumer's feedback until the call ends, then fails every channel still open.
async fn read_feedback(
    mut feedback: Streaming<proto::ChannelFeedback>,
    credits: Credits,
    fate: watch::Sender<Option<String>>,
    _transport: Channel,
) {
    let reason = loop {
        match feedback.message().await {
            Ok(Some(message)) => {
                let credit = credits
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&message.handle)
                    .cloned();
                match (credit, message.body) {
                    (Some(c), Some(FeedbackBody::Credit(grant))) => c.permits.add_permits(grant.credits as usize),
                    (Some(c), Some(FeedbackBody::Closed(closed))) => {
                        c.close(format!("the consumer closed it: {}", closed.reason))
                    }
                    // Feedback for a channel that already ended, or an unknown kind from a newer
                    // peer: nothing to do.
                    _ => {}
                }
            }
            Ok(None) => break "the consumer ended the connection".to_string(),
            Err(status) => break format!("the connection broke: {}", status.message()),
        }
    };
    let _ = fate.send(Some(reason.clone()));
    let open: Vec<Arc<ChannelCredit>> = credits
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain()
        .map(|(_, c)| c)
        .collect();
    for c in open {
        c.close(reason.clone());
    }
}

/// A task's outgoing channel to a consumer on another worker.
pub struct OutboundChannel {
    id: ChannelId,
    handle: u32,
    peer: String,
    encoder: ChannelEncoder,
    credit: Arc<ChannelCredit>,
    credits: Credits,
    frames: mpsc::Sender<proto::ChannelFrame>,
    fate: watch::Receiver<Option<String>>,
    ended: bool,
}

impl OutboundChannel {
    /// The channel.
    pub fn id(&self) -> &ChannelId {
        &self.id
    }

    /// Credit left: how many more elements may be sent without waiting.
    pub fn credits(&self) -> usize {
        self.credit.permits.available_permits()
    }

    /// Sends `element`, waiting for credit if there is none (backpressure). After
    /// [`StreamElement::EndOfInput`] the channel is finished and further sends fail. Fails when
    /// the consumer closed the channel or the connection broke.
    pub async fn send(&mut self, element: StreamElement) -> Result<()> {
        if self.ended {
            return Err(Error::AlreadyEnded(self.id.clone()));
        }
        match self.credit.permits.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(self.closed_error()),
        }
        let end = matches!(element, StreamElement::EndOfInput);
        let body = self.encoder.encode(element)?;
        self.push(body).await?;
        if end {
            self.ended = true;
            self.forget_handle();
        }
        Ok(())
    }

    /// Gives up on the channel before its end of input (the task failed or was cancelled): the
    /// consumer's task fails with `reason`.
    pub async fn abort(mut self, reason: &str) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        self.forget_handle();
        self.push(Body::Abort(proto::ChannelAbort {
            reason: reason.to_string(),
        }))
        .await
    }

    /// Queues a frame for the transport; fails at once if the connection breaks meanwhile.
    async fn push(&mut self, body: Body) -> Result<()> {
        let frame = proto::ChannelFrame {
            handle: self.handle,
            body: Some(body),
        };
        let mut fate = self.fate.clone();
        let reason = tokio::select! {
            biased;
            sent = self.frames.send(frame) => match sent {
                Ok(()) => return Ok(()),
                Err(_) => self.fate.borrow().clone(),
            },
            broken = fate.wait_for(Option::is_some) => broken.ok().and_then(|r| r.clone()),
        };
        Err(Error::ConnectionLost {
            peer: self.peer.clone(),
            reason: reason.unwrap_or_else(|| "the connection closed".to_string()),
        })
    }

    fn closed_error(&self) -> Error {
        let reason = self
            .credit
            .closed
            .get()
            .cloned()
            .unwrap_or_else(|| "closed".to_string());
        Error::ChannelClosed {
            channel: self.id.clone(),
            reason: format!("{reason} (consumer worker {})", self.peer),
        }
    }

    fn forget_handle(&self) {
        self.credits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.handle);
    }
}

impl Drop for OutboundChannel {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        self.forget_handle();
        // Best effort: if the queue is full the consumer learns of it when the connection ends.
        let _ = self.frames.try_send(proto::ChannelFrame {
            handle: self.handle,
            body: Some(Body::Abort(proto::ChannelAbort {
                reason: "the producing task stopped".to_string(),
            })),
        });
    }
}
