//! Building one execution attempt of a job: channels between subtasks, state backends (fresh
//! or restored), operator contexts, sources with their watermark generators, and the tasks.

use crate::chain::{Chain, ChainedOperator};
use crate::config::JobConfig;
use crate::exchange::{OutputEdge, TaskOutputs};
use crate::input::InputGate;
use crate::metrics::JobMetrics;
use crate::plan::{build_chains, chain_index, ChainSpec};
use crate::restore::{assign, RestorePoint, RestoredSubtask};
use crate::task::{SnapshotLocations, SourceHead, Task, TaskControl, TaskEvent, TaskRef};
use freshet_core::watermark::SourceWatermarks;
use freshet_core::{Clock, Error, KeyGroupRange, Partitioning, Result, StreamElement, SubtaskIndex};
use freshet_dataflow::{JobGraph, NodeKind, OperatorContext, SourceContext, TaskInfo};
use freshet_state::{new_keyed_backend, restore_keyed_backend};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One data channel of the job's physical graph: the records of graph edge `edge` from
/// producer subtask `producer` to consumer subtask `consumer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelKey {
    /// Index of the edge in [`JobGraph::edges`].
    pub edge: u32,
    /// Producing subtask.
    pub producer: u32,
    /// Consuming subtask.
    pub consumer: u32,
}

/// A local task's outgoing channel whose consumer runs elsewhere: whatever carries it across
/// (the network data plane) takes the elements from `elements`.
pub struct RemoteOutput {
    /// The channel.
    pub key: ChannelKey,
    /// The consuming task.
    pub consumer_task: TaskRef,
    /// The producing (local) task.
    pub producer_task: TaskRef,
    /// Schema of its batches.
    pub schema: arrow::datatypes::SchemaRef,
    /// What the local producer sends.
    pub elements: mpsc::Receiver<StreamElement>,
}

/// A local task's incoming channel whose producer runs elsewhere: whatever carries it across
/// puts the elements into `elements`.
pub struct RemoteInput {
    /// The channel.
    pub key: ChannelKey,
    /// The producing task.
    pub producer_task: TaskRef,
    /// The consuming (local) task.
    pub consumer_task: TaskRef,
    /// Where the local consumer receives them.
    pub elements: mpsc::Sender<StreamElement>,
}

/// Which tasks of the job this process builds: all of them (`freshet run`) or those a
/// coordinator placed on this worker.
#[derive(Clone, Copy, Debug)]
pub enum Placement<'a> {
    /// Every task runs here.
    All,
    /// Only these tasks run here; channels to and from the others are handed out as
    /// [`RemoteOutput`]s and [`RemoteInput`]s.
    Only(&'a std::collections::BTreeSet<TaskRef>),
}

impl Placement<'_> {
    /// Whether `task` runs in this process.
    pub fn is_local(&self, task: TaskRef) -> bool {
        match self {
            Placement::All => true,
            Placement::Only(tasks) => tasks.contains(&task),
        }
    }
}

/// The tasks of one attempt, ready to spawn.
pub struct Attempt {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Control channel of every task.
    pub controls: BTreeMap<TaskRef, mpsc::UnboundedSender<TaskControl>>,
    /// Tasks headed by a source (they inject barriers).
    pub source_tasks: Vec<TaskRef>,
    /// The attempt's local working directory (removed when it ends).
    pub local_dir: PathBuf,
    /// Outgoing channels of local tasks to tasks elsewhere.
    pub remote_outputs: Vec<RemoteOutput>,
    /// Incoming channels of local tasks from tasks elsewhere.
    pub remote_inputs: Vec<RemoteInput>,
}

/// Channels of one edge: `senders[upstream][downstream]` and the receivers per downstream.
struct EdgeChannels {
    senders: Vec<Vec<mpsc::Sender<StreamElement>>>,
}

/// Builds the tasks of an attempt that run here (`placement`).
#[allow(clippy::too_many_arguments)]
pub async fn build_attempt(
    graph: &JobGraph,
    placement: Placement<'_>,
    config: &JobConfig,
    restore_point: Option<&RestorePoint>,
    clock: Arc<dyn Clock>,
    events: mpsc::UnboundedSender<TaskEvent>,
    locations: SnapshotLocations,
    metrics: &JobMetrics,
    attempt: u32,
) -> Result<Attempt> {
    let chains = build_chains(graph);
    let run_id = format!("{:x}{:02}", clock.now_ms(), attempt % 100);
    let local_dir = config.local_dir.join(&run_id);
    std::fs::create_dir_all(&local_dir).map_err(|e| Error::io(format!("creating {}", local_dir.display()), e))?;

    // Channels: for every edge between chains, one bounded channel per (upstream, downstream)
    // subtask pair it connects.
    let mut receivers: BTreeMap<TaskRef, Vec<(mpsc::Receiver<StreamElement>, usize)>> = BTreeMap::new();
    let mut outputs: BTreeMap<TaskRef, Vec<OutputEdge>> = BTreeMap::new();
    let mut remote_outputs = Vec::new();
    let mut remote_inputs = Vec::new();
    for (edge_index, edge) in graph.edges.iter().enumerate() {
        let from_chain =
            chain_index(&chains, edge.from).ok_or_else(|| Error::Internal("edge from unknown node".into()))?;
        let to_chain = chain_index(&chains, edge.to).ok_or_else(|| Error::Internal("edge to unknown node".into()))?;
        if from_chain == to_chain {
            continue; // fused
        }
        if chains[to_chain].head() != edge.to {
            return Err(Error::Internal(format!(
                "edge enters node {} in the middle of a chain",
                edge.to.0
            )));
        }
        let up = chains[from_chain].parallelism;
        let down = chains[to_chain].parallelism;
        let from_node = graph.node(edge.from);
        let schema = match &edge.side_output {
            None => from_node.output_schema.clone(),
            Some(tag) => from_node
                .side_outputs
                .iter()
                .find(|(t, _)| t == tag)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| Error::Config(format!("node '{}' has no side output '{tag}'", from_node.name)))?,
        };
        let mut ch = EdgeChannels {
            senders: vec![Vec::new(); up as usize],
        };
        for j in 0..down {
            for i in 0..up {
                if edge.partitioning == Partitioning::Forward && i != j {
                    continue;
                }
                let producer = TaskRef {
                    chain: from_chain,
                    subtask: i,
                };
                let consumer = TaskRef {
                    chain: to_chain,
                    subtask: j,
                };
                let key = ChannelKey {
                    edge: edge_index as u32,
                    producer: i,
                    consumer: j,
                };
                let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
                match (placement.is_local(producer), placement.is_local(consumer)) {
                    (true, true) => {
                        ch.senders[i as usize].push(tx);
                        receivers.entry(consumer).or_default().push((rx, edge.input_index));
                    }
                    (true, false) => {
                        ch.senders[i as usize].push(tx);
                        remote_outputs.push(RemoteOutput {
                            key,
                            consumer_task: consumer,
                            producer_task: producer,
                            schema: schema.clone(),
                            elements: rx,
                        });
                    }
                    (false, true) => {
                        receivers.entry(consumer).or_default().push((rx, edge.input_index));
                        remote_inputs.push(RemoteInput {
                            key,
                            producer_task: producer,
                            consumer_task: consumer,
                            elements: tx,
                        });
                    }
                    (false, false) => {}
                }
            }
        }
        for (i, senders) in ch.senders.into_iter().enumerate() {
            let producer = TaskRef {
                chain: from_chain,
                subtask: i as u32,
            };
            if !placement.is_local(producer) {
                continue;
            }
            let out = OutputEdge::new(
                edge.from,
                edge.side_output.clone(),
                &edge.partitioning,
                schema.clone(),
                graph.max_parallelism,
                senders,
            )?;
            outputs
                .entry(TaskRef {
                    chain: from_chain,
                    subtask: i as u32,
                })
                .or_default()
                .push(out);
        }
    }

    let (restored, restored_finished) = match restore_point {
        Some(p) => (Some(p), p.metadata.finished),
        None => (None, false),
    };
    let mut tasks = Vec::new();
    let mut controls = BTreeMap::new();
    let mut source_tasks = Vec::new();
    for (ci, spec) in chains.iter().enumerate() {
        let assignments = restore_assignments(graph, spec, restored)?;
        for subtask in 0..spec.parallelism {
            let id = TaskRef { chain: ci, subtask };
            if !placement.is_local(id) {
                continue;
            }
            let key_groups = KeyGroupRange::for_subtask(graph.max_parallelism, spec.parallelism, SubtaskIndex(subtask));
            let mut source = None;
            let mut ops = Vec::new();
            for (pos, node_id) in spec.nodes.iter().enumerate() {
                let node = graph.node(*node_id);
                let info = TaskInfo {
                    job_name: graph.name.clone(),
                    operator_uid: node.uid.clone(),
                    operator_name: node.name.clone(),
                    subtask: SubtaskIndex(subtask),
                    parallelism: spec.parallelism,
                    max_parallelism: graph.max_parallelism,
                    key_groups,
                    run_id: run_id.clone(),
                    restored_checkpoint: restored.map(|p| p.metadata.id),
                    restored_finished,
                };
                let restored_state = assignments[pos][subtask as usize].clone();
                let node_metrics = metrics.register_operator(node.uid.as_str(), &node.name, subtask);
                match &node.kind {
                    NodeKind::Source { factory, event_time } => {
                        let mut src = factory.create(&info)?;
                        let mut ctx = SourceContext {
                            info: info.clone(),
                            clock: clock.clone(),
                            restored: restored_state.operator_state,
                            batch_size: config.batch_size,
                        };
                        let splits = src.open(&mut ctx).map_err(|e| e.in_operator(&node.name, subtask))?;
                        let watermarks = match event_time {
                            Some(et) => {
                                let column = src.schema().index_of(&et.timestamp_column).map_err(|_| {
                                    Error::Config(format!(
                                        "source '{}' has no event-time column '{}'",
                                        node.name, et.timestamp_column
                                    ))
                                })?;
                                let mut wm = SourceWatermarks::new(et.strategy);
                                let now = clock.now_ms();
                                for s in &splits {
                                    wm.add_split(*s, now);
                                }
                                Some((column, wm))
                            }
                            None => None,
                        };
                        source = Some(SourceHead {
                            node: node.id,
                            uid: node.uid.clone(),
                            source: src,
                            watermarks,
                            metrics: node_metrics,
                        });
                    }
                    NodeKind::Operator { factory } => {
                        let op_dir = local_dir.join(format!("{}-{}", node.uid, subtask));
                        let backend = if node.keyed {
                            let b = if restored_state.keyed.is_empty() {
                                new_keyed_backend(config.state_backend, key_groups, &op_dir)?
                            } else {
                                let storage = restored
                                    .map(|p| p.storage.clone())
                                    .ok_or_else(|| Error::Internal("keyed handles without a restore point".into()))?;
                                restore_keyed_backend(
                                    config.state_backend,
                                    key_groups,
                                    &restored_state.keyed,
                                    &storage,
                                    &op_dir,
                                )
                                .await
                                .map_err(|e| e.in_operator(&node.name, subtask))?
                            };
                            Some(b)
                        } else {
                            None
                        };
                        let operator = factory.create(&info)?;
                        let ctx =
                            OperatorContext::new(info, backend, clock.clone(), op_dir, restored_state.operator_state)?;
                        ops.push(ChainedOperator {
                            node: node.id,
                            uid: node.uid.clone(),
                            name: node.name.clone(),
                            operator,
                            ctx,
                            metrics: node_metrics,
                        });
                    }
                }
            }
            let (rxs, input_index): (Vec<_>, Vec<_>) = receivers.remove(&id).unwrap_or_default().into_iter().unzip();
            let name = spec
                .nodes
                .iter()
                .map(|n| graph.node(*n).name.as_str())
                .collect::<Vec<_>>()
                .join(" -> ");
            let uids = spec.nodes.iter().map(|n| graph.node(*n).uid.to_string()).collect();
            let task_metrics = metrics.register_task(&name, uids, ci, subtask);
            let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
            controls.insert(id, ctl_tx);
            if source.is_some() {
                source_tasks.push(id);
            }
            tasks.push(Task {
                id,
                name,
                source,
                chain: Chain::new(ops, subtask),
                inputs: InputGate::new(rxs, input_index),
                outputs: TaskOutputs::new(
                    outputs.remove(&id).unwrap_or_default(),
                    config.batch_size,
                    config.buffer_timeout,
                    task_metrics,
                ),
                control: ctl_rx,
                events: events.clone(),
                locations: locations.clone(),
                key_groups,
                clock: clock.clone(),
                tick: config
                    .buffer_timeout
                    .min(Duration::from_millis(50))
                    .max(Duration::from_millis(1)),
                last_snapshot: 0,
            });
        }
    }
    Ok(Attempt {
        tasks,
        controls,
        source_tasks,
        local_dir,
        remote_outputs,
        remote_inputs,
    })
}

/// Restored state per node of the chain, per subtask.
fn restore_assignments(
    graph: &JobGraph,
    spec: &ChainSpec,
    restored: Option<&RestorePoint>,
) -> Result<Vec<Vec<RestoredSubtask>>> {
    spec.nodes
        .iter()
        .map(|n| {
            let node = graph.node(*n);
            match restored {
                Some(p) => assign(&p.metadata, node.uid.as_str(), spec.parallelism, graph.max_parallelism),
                None => Ok(vec![RestoredSubtask::default(); spec.parallelism as usize]),
            }
        })
        .collect()
}
