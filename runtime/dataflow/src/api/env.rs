//! The job under construction.

use crate::api::stream::DataStream;
use crate::graph::{EventTimeSpec, JobGraph, Node, NodeId, NodeKind, SourceFactory};
use arrow::datatypes::SchemaRef;
use freshet_core::{OperatorUid, Result, DEFAULT_MAX_PARALLELISM};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

pub(crate) struct GraphBuilder {
    pub(crate) graph: JobGraph,
    pub(crate) default_parallelism: u32,
}

/// The environment a job is built in: holds the graph and defaults.
#[derive(Clone)]
pub struct StreamEnv {
    pub(crate) inner: Rc<RefCell<GraphBuilder>>,
}

pub(crate) fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "operator".into()
    } else {
        s
    }
}

impl StreamEnv {
    /// A new job named `name` whose operators default to `parallelism` subtasks.
    pub fn new(name: impl Into<String>, parallelism: u32) -> Self {
        Self {
            inner: Rc::new(RefCell::new(GraphBuilder {
                graph: JobGraph::new(name, DEFAULT_MAX_PARALLELISM),
                default_parallelism: parallelism.max(1),
            })),
        }
    }

    /// Sets the number of key groups (the largest parallelism keyed operators can scale to).
    pub fn set_max_parallelism(&self, max_parallelism: u32) {
        self.inner.borrow_mut().graph.max_parallelism = max_parallelism;
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> u32 {
        self.inner.borrow().default_parallelism
    }

    /// A uid derived from the name, unique within the job.
    pub(crate) fn unique_uid(&self, name: &str) -> OperatorUid {
        let base = slug(name);
        let b = self.inner.borrow();
        let taken = |u: &str| b.graph.nodes.iter().any(|n| n.uid.as_str() == u);
        if !taken(&base) {
            return OperatorUid::new(base);
        }
        let mut i = 2;
        loop {
            let candidate = format!("{base}-{i}");
            if !taken(&candidate) {
                return OperatorUid::new(candidate);
            }
            i += 1;
        }
    }

    /// Adds a source producing batches of `schema`.
    pub fn add_source(
        &self,
        name: &str,
        schema: SchemaRef,
        factory: Arc<dyn SourceFactory>,
        event_time: Option<EventTimeSpec>,
    ) -> DataStream {
        let uid = self.unique_uid(name);
        let mut b = self.inner.borrow_mut();
        let id = NodeId(b.graph.nodes.len());
        let description = event_time
            .as_ref()
            .map(|e| format!("event time '{}'", e.timestamp_column))
            .unwrap_or_default();
        let parallelism = b.default_parallelism;
        b.graph.nodes.push(Node {
            id,
            uid,
            name: name.to_string(),
            parallelism,
            kind: NodeKind::Source { factory, event_time },
            output_schema: schema.clone(),
            keyed: false,
            side_outputs: Vec::new(),
            description,
        });
        drop(b);
        DataStream::new(self.clone(), id, None, schema)
    }

    /// Adds an operator fed by several streams: each `(stream, input)` pair connects `stream`,
    /// with its own partitioning (e.g. `key_by` for a keyed input), to the operator's input
    /// index `input` (several streams may share an index: a union). The operator runs at the
    /// default parallelism unless every input is forwarded from nodes of one parallelism.
    pub fn add_multi_input(
        &self,
        name: &str,
        inputs: &[(DataStream, usize)],
        output_schema: SchemaRef,
        factory: Arc<dyn crate::graph::OperatorFactory>,
        keyed: bool,
        description: String,
    ) -> DataStream {
        let uid = self.unique_uid(name);
        let mut b = self.inner.borrow_mut();
        let id = NodeId(b.graph.nodes.len());
        let upstream: Vec<u32> = inputs
            .iter()
            .map(|(s, _)| b.graph.nodes[s.node.0].parallelism)
            .collect();
        let all_forward = inputs
            .iter()
            .all(|(s, _)| s.partitioning == freshet_core::Partitioning::Forward);
        let parallelism = match upstream.first() {
            Some(&p) if all_forward && upstream.iter().all(|&q| q == p) => p,
            _ => b.default_parallelism,
        };
        b.graph.nodes.push(Node {
            id,
            uid,
            name: name.to_string(),
            parallelism,
            kind: NodeKind::Operator { factory },
            output_schema: output_schema.clone(),
            keyed,
            side_outputs: Vec::new(),
            description,
        });
        for (stream, input) in inputs {
            let partitioning = if stream.partitioning == freshet_core::Partitioning::Forward
                && b.graph.nodes[stream.node.0].parallelism != parallelism
            {
                freshet_core::Partitioning::Rebalance
            } else {
                stream.partitioning.clone()
            };
            b.graph.edges.push(crate::graph::Edge {
                from: stream.node,
                to: id,
                partitioning,
                side_output: stream.side_output.clone(),
                input_index: *input,
            });
        }
        drop(b);
        DataStream::new(self.clone(), id, None, output_schema)
    }

    /// Sets the one-line description of `node` shown by `explain`.
    pub fn describe(&self, node: NodeId, description: impl Into<String>) {
        self.inner.borrow_mut().graph.nodes[node.0].description = description.into();
    }

    /// The finished, validated graph.
    pub fn build(&self) -> Result<JobGraph> {
        let graph = self.inner.borrow().graph.clone();
        graph.validate()?;
        Ok(graph)
    }
}
