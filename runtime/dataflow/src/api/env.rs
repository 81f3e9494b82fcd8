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

    /// The finished, validated graph.
    pub fn build(&self) -> Result<JobGraph> {
        let graph = self.inner.borrow().graph.clone();
        graph.validate()?;
        Ok(graph)
    }
}
