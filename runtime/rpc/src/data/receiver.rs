//! The consumer side of the data plane: the `DataExchange` service a worker serves, and the
//! [`InboundChannel`]s its tasks read.
//!
//! Each incoming `Exchange` call is driven by one task that routes frames into per-channel
//! queues. A queue holds at most the channel's credit budget (a producer sending beyond its
//! credit breaks the protocol and loses the connection), so routing never waits: one slow
//! channel cannot stall the others on the same connection.

use super::codec::{frame_body, ChannelDecoder};
use super::registry::{Attachment, Claim, FailureSlot, Feedback, Registry};
use super::{ChannelId, DataPlaneConfig};
use crate::error::{Error, Result};
use crate::proto;
use crate::proto::channel_feedback::Body as FeedbackBody;
use crate::proto::channel_frame::Body;
use crate::proto::data_exchange_server::{DataExchange, DataExchangeServer};
use freshet_core::StreamElement;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// A worker's data-plane receiver: registers the input channels of its tasks and serves the
/// `DataExchange` service that remote producers send them through.
#[derive(Clone)]
pub struct NetworkReceiver {
    registry: Arc<Registry>,
    config: Arc<DataPlaneConfig>,
}

impl NetworkReceiver {
    /// A receiver with `config`'s credit budget.
    pub fn new(config: DataPlaneConfig) -> Self {
        Self {
            registry: Arc::new(Registry::default()),
            config: Arc::new(config),
        }
    }

    /// Registers an input channel of a local task. The producer may open it before or after;
    /// the returned channel grants credit once both sides are there.
    pub fn register(&self, channel: ChannelId) -> Result<InboundChannel> {
        let state = match self.registry.claim(&channel)? {
            Claim::Ready(attachment) => State::Ready(attachment),
            Claim::Pending(rx) => State::Pending(rx),
        };
        Ok(InboundChannel {
            id: channel,
            state,
            credits: self.config.credits(),
            grant_batch: self.config.grant_batch(),
        })
    }

    /// The gRPC service to serve on the worker's data-plane address (e.g. with
    /// [`DataPlaneConfig::server`]).
    pub fn service(&self) -> DataExchangeServer<ExchangeService> {
        DataExchangeServer::new(ExchangeService {
            registry: self.registry.clone(),
            config: self.config.clone(),
        })
        .max_decoding_message_size(self.config.max_message_bytes)
        .max_encoding_message_size(self.config.max_message_bytes)
    }
}

/// The `DataExchange` service implementation behind [`NetworkReceiver::service`].
pub struct ExchangeService {
    registry: Arc<Registry>,
    config: Arc<DataPlaneConfig>,
}

#[tonic::async_trait]
impl DataExchange for ExchangeService {
    type ExchangeStream = UnboundedReceiverStream<Result<proto::ChannelFeedback, Status>>;

    async fn exchange(
        &self,
        request: Request<Streaming<proto::ChannelFrame>>,
    ) -> Result<Response<Self::ExchangeStream>, Status> {
        let peer = request
            .remote_addr()
            .map_or_else(|| "unknown producer".to_string(), |a| a.to_string());
        let (feedback, feedback_rx) = mpsc::unbounded_channel();
        let connection = InboundConnection {
            peer,
            registry: self.registry.clone(),
            feedback,
            credits: self.config.credits() as usize,
            routes: HashMap::new(),
            closed: HashSet::new(),
        };
        tokio::spawn(connection.run(request.into_inner()));
        Ok(Response::new(UnboundedReceiverStream::new(feedback_rx)))
    }
}

/// Where one open channel's frames go.
struct Route {
    channel: ChannelId,
    queue: mpsc::Sender<Body>,
    failure: FailureSlot,
}

/// One incoming `Exchange` call.
struct InboundConnection {
    peer: String,
    registry: Arc<Registry>,
    feedback: Feedback,
    credits: usize,
    routes: HashMap<u32, Route>,
    /// Handles whose consumer went away: their in-flight frames are dropped.
    closed: HashSet<u32>,
}

impl InboundConnection {
    async fn run(mut self, mut frames: Streaming<proto::ChannelFrame>) {
        let reason = loop {
            match frames.message().await {
                Ok(Some(frame)) => {
                    if let Err(e) = self.on_frame(frame) {
                        tracing::warn!(peer = %self.peer, error = %e, "data-plane protocol violation");
                        let _ = self.feedback.send(Err(Status::invalid_argument(e.to_string())));
                        break e.to_string();
                    }
                }
                Ok(None) => break "the producer closed the connection before the channel's end of input".into(),
                Err(status) => break format!("the connection broke: {}", status.message()),
            }
        };
        if !self.routes.is_empty() {
            tracing::warn!(peer = %self.peer, channels = self.routes.len(), %reason, "data-plane connection lost");
        }
        for (_, route) in self.routes.drain() {
            let _ = route
                .failure
                .set(format!("connection with producer {} lost: {reason}", self.peer));
        }
    }

    fn on_frame(&mut self, frame: proto::ChannelFrame) -> Result<()> {
        let (handle, body) = frame_body(frame)?;
        match body {
            Body::Open(open) => self.open(handle, open),
            Body::Abort(abort) => {
                if let Some(route) = self.routes.remove(&handle) {
                    let _ = route.failure.set(format!("the producer aborted: {}", abort.reason));
                }
                Ok(())
            }
            body => self.route(handle, body),
        }
    }

    fn open(&mut self, handle: u32, open: proto::ChannelOpen) -> Result<()> {
        if self.routes.contains_key(&handle) || self.closed.contains(&handle) {
            return Err(Error::Protocol(format!("handle {handle} opened twice")));
        }
        let channel = ChannelId::from_field(open.channel)?;
        let (queue, queue_rx) = mpsc::channel(self.credits);
        let failure = FailureSlot::default();
        let attachment = Attachment {
            queue: queue_rx,
            schema: open.arrow_schema,
            handle,
            feedback: self.feedback.clone(),
            failure: failure.clone(),
        };
        match self.registry.offer(channel.clone(), attachment) {
            Ok(()) => {
                self.routes.insert(
                    handle,
                    Route {
                        channel,
                        queue,
                        failure,
                    },
                );
            }
            Err(reason) => {
                self.closed.insert(handle);
                let _ = self.feedback.send(Ok(closed_feedback(handle, reason)));
            }
        }
        Ok(())
    }

    fn route(&mut self, handle: u32, body: Body) -> Result<()> {
        let Some(route) = self.routes.get(&handle) else {
            if self.closed.contains(&handle) {
                return Ok(());
            }
            return Err(Error::Protocol(format!("frame for unknown handle {handle}")));
        };
        let end = matches!(body, Body::EndOfInput(_));
        match route.queue.try_send(body) {
            Ok(()) if end => {
                self.routes.remove(&handle);
            }
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(Error::Protocol(format!(
                    "producer exceeded its credit on {}",
                    route.channel
                )));
            }
            Err(TrySendError::Closed(_)) => {
                // The consumer went away; dropping its channel already told the producer.
                self.routes.remove(&handle);
                self.closed.insert(handle);
            }
        }
        Ok(())
    }
}

fn closed_feedback(handle: u32, reason: String) -> proto::ChannelFeedback {
    proto::ChannelFeedback {
        handle,
        body: Some(FeedbackBody::Closed(proto::ChannelClosed { reason })),
    }
}

fn credit_feedback(handle: u32, credits: u32) -> proto::ChannelFeedback {
    proto::ChannelFeedback {
        handle,
        body: Some(FeedbackBody::Credit(proto::CreditGrant { credits })),
    }
}

enum State {
    /// Registered; the producer has not opened the channel yet.
    Pending(oneshot::Receiver<Attachment>),
    /// Opened, credit not granted yet.
    Ready(Attachment),
    /// Reading.
    Attached(Attached),
    /// End of input was read.
    Ended,
    /// The channel could not be attached (its schema did not decode).
    Failed(String),
}

struct Attached {
    queue: mpsc::Receiver<Body>,
    decoder: ChannelDecoder,
    handle: u32,
    feedback: Feedback,
    failure: FailureSlot,
    /// Elements taken since the last credit grant.
    taken: u32,
}

/// A task's incoming channel from a producer on another worker.
pub struct InboundChannel {
    id: ChannelId,
    state: State,
    credits: u32,
    grant_batch: u32,
}

impl InboundChannel {
    /// The channel.
    pub fn id(&self) -> &ChannelId {
        &self.id
    }

    /// Elements received but not yet taken (never more than the credit budget).
    pub fn buffered(&self) -> usize {
        match &self.state {
            State::Attached(a) => a.queue.len(),
            State::Ready(a) => a.queue.len(),
            State::Pending(_) | State::Ended | State::Failed(_) => 0,
        }
    }

    /// The next element; `Ok(None)` after end of input. Each element taken earns the producer a
    /// credit back. Fails when the producer aborted the channel or the connection broke (after
    /// the elements received before that).
    pub async fn recv(&mut self) -> Result<Option<StreamElement>> {
        loop {
            match &mut self.state {
                State::Pending(rx) => {
                    let attachment = rx.await.map_err(|_| Error::ReceiverShutdown)?;
                    self.state = State::Ready(attachment);
                }
                State::Ready(_) => {
                    let State::Ready(attachment) = std::mem::replace(&mut self.state, State::Ended) else {
                        continue;
                    };
                    match self.attach(attachment) {
                        Ok(attached) => self.state = State::Attached(attached),
                        Err(e) => {
                            self.state = State::Failed(e.to_string());
                            return Err(e);
                        }
                    }
                }
                State::Attached(a) => {
                    let Some(body) = a.queue.recv().await else {
                        let reason = a
                            .failure
                            .get()
                            .cloned()
                            .unwrap_or_else(|| "closed before end of input".to_string());
                        return Err(Error::ChannelClosed {
                            channel: self.id.clone(),
                            reason,
                        });
                    };
                    let element = a.decoder.decode(body)?;
                    if matches!(element, StreamElement::EndOfInput) {
                        self.state = State::Ended;
                    } else {
                        a.taken += 1;
                        if a.taken >= self.grant_batch {
                            let _ = a.feedback.send(Ok(credit_feedback(a.handle, a.taken)));
                            a.taken = 0;
                        }
                    }
                    return Ok(Some(element));
                }
                State::Ended => return Ok(None),
                State::Failed(reason) => {
                    return Err(Error::ChannelClosed {
                        channel: self.id.clone(),
                        reason: reason.clone(),
                    })
                }
            }
        }
    }

    /// Decodes the schema and grants the initial credit.
    fn attach(&self, attachment: Attachment) -> Result<Attached> {
        let decoder = match ChannelDecoder::new(attachment.schema) {
            Ok(d) => d,
            Err(e) => {
                let _ = attachment
                    .feedback
                    .send(Ok(closed_feedback(attachment.handle, e.to_string())));
                return Err(e);
            }
        };
        let _ = attachment
            .feedback
            .send(Ok(credit_feedback(attachment.handle, self.credits)));
        Ok(Attached {
            queue: attachment.queue,
            decoder,
            handle: attachment.handle,
            feedback: attachment.feedback,
            failure: attachment.failure,
            taken: 0,
        })
    }
}

impl Drop for InboundChannel {
    fn drop(&mut self) {
        let (handle, feedback) = match &self.state {
            State::Attached(a) => (a.handle, &a.feedback),
            State::Ready(a) => (a.handle, &a.feedback),
            State::Pending(_) | State::Ended | State::Failed(_) => return,
        };
        let _ = feedback.send(Ok(closed_feedback(handle, "the consuming task stopped".into())));
    }
}
