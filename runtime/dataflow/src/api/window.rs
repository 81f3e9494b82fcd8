//! `KeyedStream::window`: keyed window aggregation in the DataStream API.

use crate::api::keyed::KeyedStream;
use crate::api::stream::DataStream;
use crate::context::TaskInfo;
use crate::operator::Operator;
use crate::window::{WindowConfig, WindowOperator};
use freshet_core::{Error, Result};
use std::sync::Arc;

impl KeyedStream {
    /// Aggregates the stream in windows. The config's key columns must be this stream's keys.
    /// With `late_output` set, the late records are available as that side output of the
    /// returned stream (`.side_output(tag)`).
    pub fn window(&self, config: WindowConfig) -> Result<DataStream> {
        if config.key_columns != self.key_columns {
            return Err(Error::Config(format!(
                "window keys {:?} differ from the stream's keys {:?}",
                config.key_columns, self.key_columns
            )));
        }
        let input_schema = self.schema().clone();
        let probe = WindowOperator::new(config.clone(), input_schema.clone())?;
        let output_schema = probe.output_schema();
        let side_outputs = config
            .late_output
            .iter()
            .map(|tag| (tag.clone(), probe.late_output_schema()))
            .collect();
        let description = format!(
            "window {:?} keyed by ({})",
            config.assigner,
            config.key_columns.join(", ")
        );
        let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
            Ok(Box::new(WindowOperator::new(config.clone(), input_schema.clone())?))
        };
        Ok(self.transform("window", output_schema, side_outputs, Arc::new(factory), description))
    }
}
