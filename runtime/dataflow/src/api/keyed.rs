//! A stream partitioned by key: keyed operators (process functions, windows) attach here.

use crate::api::stream::DataStream;
use crate::context::TaskInfo;
use crate::graph::OperatorFactory;
use crate::operator::Operator;
use crate::ops::process::{KeyedProcessFunction, KeyedProcessOperator};
use crate::typed::schema_of;
use arrow::datatypes::SchemaRef;
use freshet_core::Result;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A stream hash-partitioned by key columns.
#[derive(Clone)]
pub struct KeyedStream {
    pub(crate) stream: DataStream,
    pub(crate) key_columns: Vec<String>,
}

impl KeyedStream {
    pub(crate) fn new(stream: DataStream, key_columns: Vec<String>) -> Self {
        Self { stream, key_columns }
    }

    /// The key columns.
    pub fn key_columns(&self) -> &[String] {
        &self.key_columns
    }

    /// The stream, hash-partitioned by the key columns (e.g. as one input of a multi-input
    /// keyed operator).
    pub fn stream(&self) -> &DataStream {
        &self.stream
    }

    /// The input schema.
    pub fn schema(&self) -> &SchemaRef {
        self.stream.schema()
    }

    /// Adds a keyed operator producing `output_schema` (and the given side outputs).
    pub fn transform(
        &self,
        name: &str,
        output_schema: SchemaRef,
        side_outputs: Vec<(String, SchemaRef)>,
        factory: Arc<dyn OperatorFactory>,
        description: String,
    ) -> DataStream {
        self.stream
            .add_node(name, factory, output_schema, true, side_outputs, description)
    }

    /// Applies a keyed process function. `timestamp_column` (if any) gives each record its
    /// event time in the context; `side_outputs` declares the side outputs' record types by a
    /// sample schema.
    pub fn process<F>(
        &self,
        name: &str,
        function: F,
        timestamp_column: Option<&str>,
        side_outputs: Vec<(String, SchemaRef)>,
    ) -> Result<DataStream>
    where
        F: KeyedProcessFunction + Clone + Sync,
        F::Out: DeserializeOwned,
    {
        let schema = schema_of::<F::Out>()?;
        let keys = self.key_columns.clone();
        let ts = timestamp_column.map(str::to_string);
        let out_schema = schema.clone();
        let sides: BTreeMap<String, SchemaRef> = side_outputs.iter().cloned().collect();
        let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
            Ok(Box::new(KeyedProcessOperator::new(
                function.clone(),
                keys.clone(),
                ts.clone(),
                out_schema.clone(),
                sides.clone(),
            )))
        };
        let description = format!("process keyed by ({})", self.key_columns.join(", "));
        Ok(self.transform(name, schema, side_outputs, Arc::new(factory), description))
    }
}
