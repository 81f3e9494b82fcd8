//! A task's outgoing edges: partitioning batches among downstream subtasks, buffering them into
//! full batches (flushed by size or by the buffer timeout), and sending over bounded channels.
//!
//! Partitioning contract: every record goes to exactly one downstream channel (broadcast: to
//! all); control events (watermarks, barriers, end of input) go to every channel, after the
//! buffered records, so in-band order is kept.

use crate::metrics::TaskMetrics;
use arrow::array::UInt32Array;
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::key_group::subtask_for_key_group;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Partitioning, Result, StreamElement};
use freshet_dataflow::NodeId;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

/// How an edge picks channels.
enum Router {
    Single,
    Hash { encoder: KeyEncoder, max_parallelism: u32 },
    Rebalance { next: usize },
    Broadcast,
}

struct Buffer {
    batches: Vec<RecordBatch>,
    rows: usize,
    since: Option<Instant>,
}

/// One outgoing edge of a task.
pub struct OutputEdge {
    from: NodeId,
    side_output: Option<String>,
    router: Router,
    channels: Vec<Sender<StreamElement>>,
    buffers: Vec<Buffer>,
    schema: SchemaRef,
}

impl OutputEdge {
    /// An edge from `from` (main output, or the side output `side_output`) to the given channels
    /// (one per downstream subtask; one only for a forward edge).
    pub fn new(
        from: NodeId,
        side_output: Option<String>,
        partitioning: &Partitioning,
        schema: SchemaRef,
        max_parallelism: u32,
        channels: Vec<Sender<StreamElement>>,
    ) -> Result<Self> {
        let router = match partitioning {
            Partitioning::Forward => Router::Single,
            Partitioning::Hash { key_columns } => Router::Hash {
                encoder: KeyEncoder::new(&schema, key_columns, max_parallelism)?,
                max_parallelism,
            },
            Partitioning::Rebalance => Router::Rebalance { next: 0 },
            Partitioning::Broadcast => Router::Broadcast,
        };
        let buffers = channels
            .iter()
            .map(|_| Buffer {
                batches: Vec::new(),
                rows: 0,
                since: None,
            })
            .collect();
        Ok(Self {
            from,
            side_output,
            router,
            channels,
            buffers,
            schema,
        })
    }
}

/// All outgoing edges of a task.
pub struct TaskOutputs {
    edges: Vec<OutputEdge>,
    batch_size: usize,
    buffer_timeout: Duration,
    metrics: Arc<TaskMetrics>,
}

async fn send(channel: &Sender<StreamElement>, element: StreamElement, metrics: &TaskMetrics) -> Result<()> {
    match channel.try_send(element) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(element)) => {
            let started = Instant::now();
            let result = channel
                .send(element)
                .await
                .map_err(|_| Error::ChannelClosed("downstream task stopped".into()));
            metrics
                .backpressured_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            result
        }
        Err(TrySendError::Closed(_)) => Err(Error::ChannelClosed("downstream task stopped".into())),
    }
}

impl TaskOutputs {
    /// Outputs over `edges`.
    pub fn new(edges: Vec<OutputEdge>, batch_size: usize, buffer_timeout: Duration, metrics: Arc<TaskMetrics>) -> Self {
        Self {
            edges,
            batch_size,
            buffer_timeout,
            metrics,
        }
    }

    /// The task's counters.
    pub fn metrics(&self) -> &Arc<TaskMetrics> {
        &self.metrics
    }

    /// Whether the task has no outgoing edge (a sink chain).
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Routes a batch emitted by `from` on `side_output` to the matching edges.
    pub async fn emit(&mut self, from: NodeId, side_output: Option<&str>, batch: RecordBatch) -> Result<()> {
        for e in 0..self.edges.len() {
            let edge = &self.edges[e];
            if edge.from != from || edge.side_output.as_deref() != side_output {
                continue;
            }
            let n_channels = self.edges[e].channels.len();
            let parts: Vec<(usize, RecordBatch)> = match &mut self.edges[e].router {
                Router::Single => vec![(0, batch.clone())],
                Router::Broadcast => (0..n_channels).map(|c| (c, batch.clone())).collect(),
                Router::Rebalance { next } => {
                    let c = *next % n_channels;
                    *next = next.wrapping_add(1);
                    vec![(c, batch.clone())]
                }
                Router::Hash {
                    encoder,
                    max_parallelism,
                } => {
                    let n = n_channels as u32;
                    let keys = encoder.encode(&batch)?;
                    let mut indices: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
                    for (row, kg) in keys.key_groups.iter().enumerate() {
                        indices[subtask_for_key_group(*kg, *max_parallelism, n).get()].push(row as u32);
                    }
                    let mut parts = Vec::new();
                    for (c, idx) in indices.into_iter().enumerate() {
                        if idx.is_empty() {
                            continue;
                        }
                        if idx.len() == batch.num_rows() {
                            parts.push((c, batch.clone()));
                        } else {
                            parts.push((c, take_record_batch(&batch, &UInt32Array::from(idx))?));
                        }
                    }
                    parts
                }
            };
            for (c, part) in parts {
                let full = {
                    let buf = &mut self.edges[e].buffers[c];
                    buf.rows += part.num_rows();
                    buf.batches.push(part);
                    buf.since.get_or_insert_with(Instant::now);
                    buf.rows >= self.batch_size
                };
                if full {
                    self.flush_channel(e, c).await?;
                }
            }
        }
        Ok(())
    }

    async fn flush_channel(&mut self, e: usize, c: usize) -> Result<()> {
        let edge = &mut self.edges[e];
        let buf = &mut edge.buffers[c];
        if buf.batches.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut buf.batches);
        buf.rows = 0;
        buf.since = None;
        let batch = if batches.len() == 1 {
            batches
                .into_iter()
                .next()
                .ok_or_else(|| Error::Internal("empty buffer".into()))?
        } else {
            concat_batches(&edge.schema, &batches)?
        };
        self.metrics.batches_out.fetch_add(1, Ordering::Relaxed);
        send(&edge.channels[c], StreamElement::Batch(batch), &self.metrics).await
    }

    /// Sends every buffered batch.
    pub async fn flush_all(&mut self) -> Result<()> {
        for e in 0..self.edges.len() {
            for c in 0..self.edges[e].channels.len() {
                self.flush_channel(e, c).await?;
            }
        }
        Ok(())
    }

    /// Sends buffers older than the buffer timeout.
    pub async fn flush_expired(&mut self) -> Result<()> {
        let timeout = self.buffer_timeout;
        for e in 0..self.edges.len() {
            for c in 0..self.edges[e].channels.len() {
                if self.edges[e].buffers[c].since.is_some_and(|t| t.elapsed() >= timeout) {
                    self.flush_channel(e, c).await?;
                }
            }
        }
        Ok(())
    }

    /// Flushes all buffers, then sends a control element on every channel.
    pub async fn broadcast(&mut self, element: StreamElement) -> Result<()> {
        self.flush_all().await?;
        for edge in &self.edges {
            for channel in &edge.channels {
                send(channel, element.clone(), &self.metrics).await?;
            }
        }
        Ok(())
    }
}
