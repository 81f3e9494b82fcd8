//! Typed record functions: `map`, `filter` and `flat_map` over Rust structs. The operator
//! decodes a batch into records, applies the function to each, and encodes the results.

use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::operator::Operator;
use crate::typed::{records, to_batch};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// A function from one record to any number of output records.
pub type FlatMapFn<I, O> = Arc<dyn Fn(I, &mut Vec<O>) -> Result<()> + Send + Sync>;

/// Applies a typed flat-map function (map and filter are special cases).
pub struct TypedFnOperator<I, O> {
    f: FlatMapFn<I, O>,
    output_schema: SchemaRef,
}

impl<I, O> TypedFnOperator<I, O> {
    /// An operator applying `f`, producing batches of `output_schema`.
    pub fn new(f: FlatMapFn<I, O>, output_schema: SchemaRef) -> Self {
        Self { f, output_schema }
    }
}

impl<I, O> Operator for TypedFnOperator<I, O>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let inputs: Vec<I> = records(&batch)?;
        let mut outputs = Vec::with_capacity(inputs.len());
        for record in inputs {
            (self.f)(record, &mut outputs)?;
        }
        if !outputs.is_empty() {
            out.emit(to_batch(&self.output_schema, &outputs)?);
        }
        Ok(())
    }
}
