//! A stream of records: the output of one node, to which further operators are attached.

use crate::api::env::StreamEnv;
use crate::api::keyed::KeyedStream;
use crate::context::TaskInfo;
use crate::graph::{Edge, Node, NodeId, NodeKind, OperatorFactory};
use crate::operator::Operator;
use crate::ops::batch_fn::{BatchFn, BatchFnOperator};
use crate::ops::troublemaker::{FailurePlan, Troublemaker};
use crate::ops::typed_fn::{FlatMapFn, TypedFnOperator};
use crate::typed::{records, schema_of};
use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, OperatorUid, Partitioning, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// The output of a node (or one of its side outputs).
#[derive(Clone)]
pub struct DataStream {
    pub(crate) env: StreamEnv,
    pub(crate) node: NodeId,
    pub(crate) side_output: Option<String>,
    pub(crate) schema: SchemaRef,
    pub(crate) partitioning: Partitioning,
}

impl DataStream {
    pub(crate) fn new(env: StreamEnv, node: NodeId, side_output: Option<String>, schema: SchemaRef) -> Self {
        Self {
            env,
            node,
            side_output,
            schema,
            partitioning: Partitioning::Forward,
        }
    }

    /// The records' schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The node producing this stream.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The environment the stream belongs to.
    pub fn env(&self) -> &StreamEnv {
        &self.env
    }

    /// How the next operator's input is distributed.
    pub fn partitioning(&self) -> &Partitioning {
        &self.partitioning
    }

    /// Adds a node fed by this stream.
    pub(crate) fn add_node(
        &self,
        name: &str,
        factory: Arc<dyn OperatorFactory>,
        output_schema: SchemaRef,
        keyed: bool,
        side_outputs: Vec<(String, SchemaRef)>,
        description: String,
    ) -> DataStream {
        let uid = self.env.unique_uid(name);
        let mut b = self.env.inner.borrow_mut();
        let id = NodeId(b.graph.nodes.len());
        let upstream_parallelism = b.graph.nodes[self.node.0].parallelism;
        let parallelism = if self.partitioning == Partitioning::Forward {
            upstream_parallelism
        } else {
            b.default_parallelism
        };
        b.graph.nodes.push(Node {
            id,
            uid,
            name: name.to_string(),
            parallelism,
            kind: NodeKind::Operator { factory },
            output_schema: output_schema.clone(),
            keyed,
            side_outputs,
            description,
        });
        b.graph.edges.push(Edge {
            from: self.node,
            to: id,
            partitioning: self.partitioning.clone(),
            side_output: self.side_output.clone(),
            input_index: 0,
        });
        drop(b);
        DataStream::new(self.env.clone(), id, None, output_schema)
    }

    /// Sets the uid of the node producing this stream (its key in savepoints).
    pub fn uid(self, uid: &str) -> Self {
        self.env.inner.borrow_mut().graph.nodes[self.node.0].uid = OperatorUid::new(uid);
        self
    }

    /// Sets the parallelism of the node producing this stream; forward edges into it from a
    /// different parallelism become rebalance edges.
    pub fn parallelism(self, parallelism: u32) -> Self {
        let mut b = self.env.inner.borrow_mut();
        b.graph.nodes[self.node.0].parallelism = parallelism;
        let nodes: Vec<u32> = b.graph.nodes.iter().map(|n| n.parallelism).collect();
        for e in b.graph.edges.iter_mut() {
            if (e.to == self.node || e.from == self.node)
                && e.partitioning == Partitioning::Forward
                && nodes[e.from.0] != nodes[e.to.0]
            {
                e.partitioning = Partitioning::Rebalance;
            }
        }
        drop(b);
        self
    }

    /// Distributes the next operator's input round-robin.
    pub fn rebalance(mut self) -> Self {
        self.partitioning = Partitioning::Rebalance;
        self
    }

    /// Sends every record to every subtask of the next operator.
    pub fn broadcast(mut self) -> Self {
        self.partitioning = Partitioning::Broadcast;
        self
    }

    /// The side output `tag` of this stream's node.
    pub fn side_output(&self, tag: &str) -> Result<DataStream> {
        let b = self.env.inner.borrow();
        let node = &b.graph.nodes[self.node.0];
        let schema = node
            .side_outputs
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| Error::Config(format!("operator '{}' has no side output '{tag}'", node.name)))?;
        Ok(DataStream::new(
            self.env.clone(),
            self.node,
            Some(tag.to_string()),
            schema,
        ))
    }

    /// Partitions the stream by the named key columns.
    pub fn key_by<S: Into<String>>(&self, columns: impl IntoIterator<Item = S>) -> KeyedStream {
        let key_columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        let mut stream = self.clone();
        stream.partitioning = Partitioning::hash(key_columns.clone());
        KeyedStream::new(stream, key_columns)
    }

    /// A columnar function over whole batches producing `output_schema`.
    pub fn map_batches(
        &self,
        name: &str,
        output_schema: SchemaRef,
        f: impl Fn(RecordBatch) -> Result<Option<RecordBatch>> + Send + Sync + 'static,
    ) -> DataStream {
        let f: BatchFn = Arc::new(f);
        let factory =
            move |_: &TaskInfo| -> Result<Box<dyn Operator>> { Ok(Box::new(BatchFnOperator::new(f.clone()))) };
        self.add_node(name, Arc::new(factory), output_schema, false, Vec::new(), String::new())
    }

    /// A typed function emitting any number of records per input record.
    pub fn flat_map<I, O>(
        &self,
        name: &str,
        f: impl Fn(I, &mut Vec<O>) -> Result<()> + Send + Sync + 'static,
    ) -> Result<DataStream>
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + DeserializeOwned + Send + 'static,
    {
        let schema = schema_of::<O>()?;
        let f: FlatMapFn<I, O> = Arc::new(f);
        let out_schema = schema.clone();
        let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
            Ok(Box::new(TypedFnOperator::new(f.clone(), out_schema.clone())))
        };
        Ok(self.add_node(name, Arc::new(factory), schema, false, Vec::new(), String::new()))
    }

    /// A typed one-to-one function.
    pub fn map<I, O>(&self, name: &str, f: impl Fn(I) -> O + Send + Sync + 'static) -> Result<DataStream>
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + DeserializeOwned + Send + 'static,
    {
        self.flat_map(name, move |i: I, out: &mut Vec<O>| {
            out.push(f(i));
            Ok(())
        })
    }

    /// Keeps the records for which `f` is true (all columns are kept as they are).
    pub fn filter<I>(&self, name: &str, f: impl Fn(&I) -> bool + Send + Sync + 'static) -> DataStream
    where
        I: DeserializeOwned + Send + 'static,
    {
        let schema = self.schema.clone();
        self.map_batches(name, schema, move |batch| {
            let rows: Vec<I> = records(&batch)?;
            let mask: BooleanArray = rows.iter().map(|r| Some(f(r))).collect();
            Ok(Some(filter_record_batch(&batch, &mask)?))
        })
    }

    /// Fails the job at the planned record counts (fault injection for tests).
    pub fn troublemaker(&self, plan: Arc<FailurePlan>) -> DataStream {
        let factory =
            move |_: &TaskInfo| -> Result<Box<dyn Operator>> { Ok(Box::new(Troublemaker::new(plan.clone()))) };
        self.add_node(
            "troublemaker",
            Arc::new(factory),
            self.schema.clone(),
            false,
            Vec::new(),
            String::new(),
        )
    }

    /// Adds a sink.
    pub fn add_sink(&self, name: &str, factory: Arc<dyn OperatorFactory>) -> DataStream {
        self.add_node(
            name,
            factory,
            Arc::new(Schema::empty()),
            false,
            Vec::new(),
            "sink".into(),
        )
    }

    /// Adds any operator (non-keyed) producing `output_schema`.
    pub fn transform(&self, name: &str, output_schema: SchemaRef, factory: Arc<dyn OperatorFactory>) -> DataStream {
        self.add_node(name, factory, output_schema, false, Vec::new(), String::new())
    }
}
