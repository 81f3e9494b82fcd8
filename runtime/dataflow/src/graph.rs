//! The logical job graph: sources, operators and sinks joined by partitioned edges.
//!
//! Built by the DataStream API (and later the SQL planner); expanded by the engine into parallel
//! subtasks, with forward edges between equal parallelisms fused into chains. Every node has a
//! stable uid, the key by which its state is found in a savepoint.

use crate::context::TaskInfo;
use crate::operator::Operator;
use crate::source::Source;
use arrow::datatypes::SchemaRef;
use freshet_core::watermark::WatermarkStrategy;
use freshet_core::{Error, OperatorUid, Partitioning, Result};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Index of a node in its [`JobGraph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// Builds one source subtask.
pub trait SourceFactory: Send + Sync {
    /// A source instance for the subtask described by `info`.
    fn create(&self, info: &TaskInfo) -> Result<Box<dyn Source>>;
}

impl<F> SourceFactory for F
where
    F: Fn(&TaskInfo) -> Result<Box<dyn Source>> + Send + Sync,
{
    fn create(&self, info: &TaskInfo) -> Result<Box<dyn Source>> {
        self(info)
    }
}

/// Builds one operator subtask.
pub trait OperatorFactory: Send + Sync {
    /// An operator instance for the subtask described by `info`.
    fn create(&self, info: &TaskInfo) -> Result<Box<dyn Operator>>;
}

impl<F> OperatorFactory for F
where
    F: Fn(&TaskInfo) -> Result<Box<dyn Operator>> + Send + Sync,
{
    fn create(&self, info: &TaskInfo) -> Result<Box<dyn Operator>> {
        self(info)
    }
}

/// Event-time settings of a source.
#[derive(Clone, Debug)]
pub struct EventTimeSpec {
    /// The column holding event time (Int64 ms or Timestamp(ms)).
    pub timestamp_column: String,
    /// How watermarks follow the timestamps.
    pub strategy: WatermarkStrategy,
}

/// What a node is.
#[derive(Clone)]
pub enum NodeKind {
    /// A source.
    Source {
        /// Builds the subtasks.
        factory: Arc<dyn SourceFactory>,
        /// Watermark generation; `None` means the source emits no watermarks until its end.
        event_time: Option<EventTimeSpec>,
    },
    /// An operator or sink.
    Operator {
        /// Builds the subtasks.
        factory: Arc<dyn OperatorFactory>,
    },
}

/// A node of the logical graph.
#[derive(Clone)]
pub struct Node {
    /// Its index.
    pub id: NodeId,
    /// Stable uid for state matching.
    pub uid: OperatorUid,
    /// Display name.
    pub name: String,
    /// Number of parallel subtasks.
    pub parallelism: u32,
    /// Source or operator.
    pub kind: NodeKind,
    /// Schema of its main output.
    pub output_schema: SchemaRef,
    /// Whether it holds keyed state (its input is hash-partitioned by key).
    pub keyed: bool,
    /// Names of the side outputs it may emit, with their schemas.
    pub side_outputs: Vec<(String, SchemaRef)>,
    /// A one-line description of its configuration, for `explain`.
    pub description: String,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("uid", &self.uid)
            .field("name", &self.name)
            .field("parallelism", &self.parallelism)
            .field("keyed", &self.keyed)
            .finish()
    }
}

/// An edge between two nodes.
#[derive(Clone, Debug)]
pub struct Edge {
    /// Upstream node.
    pub from: NodeId,
    /// Downstream node.
    pub to: NodeId,
    /// How records are distributed.
    pub partitioning: Partitioning,
    /// `Some(tag)` if the edge carries a side output of `from` instead of its main output.
    pub side_output: Option<String>,
    /// Which input of `to` it feeds (0 for single-input operators).
    pub input_index: usize,
}

/// A logical dataflow job.
#[derive(Clone, Debug, Default)]
pub struct JobGraph {
    /// The job's name.
    pub name: String,
    /// Nodes, indexed by [`NodeId`].
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
    /// Number of key groups for every keyed operator.
    pub max_parallelism: u32,
}

impl JobGraph {
    /// An empty graph.
    pub fn new(name: impl Into<String>, max_parallelism: u32) -> Self {
        Self {
            name: name.into(),
            nodes: Vec::new(),
            edges: Vec::new(),
            max_parallelism,
        }
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// Edges entering `id`.
    pub fn inputs(&self, id: NodeId) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.to == id)
    }

    /// Edges leaving `id`.
    pub fn outputs(&self, id: NodeId) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.from == id)
    }

    /// Checks the graph: unique uids, valid parallelisms, forward edges between equal
    /// parallelisms, sources without inputs, operators with inputs, no cycles.
    pub fn validate(&self) -> Result<()> {
        let mut uids = HashSet::new();
        for n in &self.nodes {
            freshet_core::key_group::validate_parallelism(self.max_parallelism, n.parallelism)
                .map_err(|e| Error::Config(format!("node '{}': {e}", n.name)))?;
            if !uids.insert(n.uid.as_str()) {
                return Err(Error::Config(format!("duplicate operator uid '{}'", n.uid)));
            }
            let inputs = self.inputs(n.id).count();
            match n.kind {
                NodeKind::Source { .. } if inputs > 0 => {
                    return Err(Error::Config(format!("source '{}' cannot have inputs", n.name)))
                }
                NodeKind::Operator { .. } if inputs == 0 => {
                    return Err(Error::Config(format!("operator '{}' has no input", n.name)))
                }
                _ => {}
            }
        }
        for e in &self.edges {
            let (from, to) = (self.node(e.from), self.node(e.to));
            if e.partitioning == Partitioning::Forward && from.parallelism != to.parallelism {
                return Err(Error::Config(format!(
                    "forward edge '{}' -> '{}' joins parallelism {} to {}; use rebalance or a key",
                    from.name, to.name, from.parallelism, to.parallelism
                )));
            }
            if e.from.0 >= e.to.0 {
                return Err(Error::Config(format!(
                    "edge '{}' -> '{}' goes backwards (cycle)",
                    from.name, to.name
                )));
            }
        }
        Ok(())
    }

    /// A human-readable plan: operators, parallelism, partitioning, state and uids.
    pub fn explain(&self) -> String {
        let mut out = format!("Job '{}' (max parallelism {})\n", self.name, self.max_parallelism);
        for n in &self.nodes {
            let kind = match &n.kind {
                NodeKind::Source { event_time, .. } => match event_time {
                    Some(et) => format!(
                        "source, event time '{}', watermark -{}ms",
                        et.timestamp_column, et.strategy.out_of_orderness_ms
                    ),
                    None => "source".to_string(),
                },
                NodeKind::Operator { .. } => {
                    if n.keyed {
                        "operator, keyed state".into()
                    } else {
                        "operator".into()
                    }
                }
            };
            out.push_str(&format!(
                "  [{}] {} (uid '{}', parallelism {}, {})\n",
                n.id.0, n.name, n.uid, n.parallelism, kind
            ));
            if !n.description.is_empty() {
                out.push_str(&format!("        {}\n", n.description));
            }
            for e in self.inputs(n.id) {
                let part = match &e.partitioning {
                    Partitioning::Forward => "forward".to_string(),
                    Partitioning::Hash { key_columns } => format!("hash({})", key_columns.join(", ")),
                    Partitioning::Rebalance => "rebalance".into(),
                    Partitioning::Broadcast => "broadcast".into(),
                };
                let side = e
                    .side_output
                    .as_ref()
                    .map(|s| format!(" side output '{s}'"))
                    .unwrap_or_default();
                out.push_str(&format!("        <- [{}]{} via {}\n", e.from.0, side, part));
            }
        }
        out
    }
}
