//! Turning the records of one partition into a batch of the table's columns, with the
//! malformed ones handled by the policy.

use super::KafkaSource;
use crate::kafka::config::MalformedPolicy;
use crate::kafka::metadata::{headers_type, ColumnOrigin, MetadataKey};
use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, Int32Array, Int64Array, MapBuilder, MapFieldNames,
    StringArray, StringBuilder, TimestampMillisecondArray,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use freshet_core::{Error, Result};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{Message, Timestamp};
use std::sync::Arc;

impl KafkaSource {
    /// The batch of `messages` (all of one partition, in offset order); `None` if every one
    /// was malformed and skipped or dead-lettered.
    pub(super) fn decode_records(&mut self, messages: &[OwnedMessage]) -> Result<Option<RecordBatch>> {
        let payloads: Vec<Option<&[u8]>> = messages.iter().map(|m| m.payload()).collect();
        let values = self.value_decoder.decode(&payloads)?;
        let mut malformed = values.malformed;
        let mut value_batch = values.batch;
        let mut keys_batch = None;
        if let Some(key_decoder) = self.key_decoder.as_mut() {
            let good: Vec<usize> = (0..messages.len())
                .filter(|i| !malformed.iter().any(|(m, _)| m == i))
                .collect();
            let key_payloads: Vec<Option<&[u8]>> = good.iter().map(|&i| messages[i].key()).collect();
            let keys = key_decoder.decode(&key_payloads)?;
            if !keys.malformed.is_empty() {
                let mask: BooleanArray = (0..good.len())
                    .map(|j| Some(!keys.malformed.iter().any(|(m, _)| *m == j)))
                    .collect();
                value_batch = filter_record_batch(&value_batch, &mask)?;
                malformed.extend(keys.malformed.iter().map(|(j, why)| (good[*j], format!("key: {why}"))));
                malformed.sort_by_key(|(i, _)| *i);
            }
            keys_batch = Some(keys.batch);
        }
        for (i, why) in &malformed {
            self.reject(&messages[*i], why)?;
        }
        let good: Vec<&OwnedMessage> = messages
            .iter()
            .enumerate()
            .filter(|(i, _)| !malformed.iter().any(|(m, _)| m == i))
            .map(|(_, m)| m)
            .collect();
        if good.is_empty() {
            return Ok(None);
        }
        let columns = self
            .layout
            .origins
            .iter()
            .enumerate()
            .map(|(c, origin)| match origin {
                ColumnOrigin::Value(v) => Ok(value_batch.column(*v).clone()),
                ColumnOrigin::Key(k) => keys_batch
                    .as_ref()
                    .map(|b| b.column(*k).clone())
                    .ok_or_else(|| Error::Internal("kafka source: key column without a key decoder".into())),
                ColumnOrigin::Metadata(key) => metadata_column(*key, self.layout.schema.field(c).data_type(), &good),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(good.len()));
        Ok(Some(RecordBatch::try_new_with_options(
            self.layout.schema.clone(),
            columns,
            &options,
        )?))
    }

    /// Applies the malformed-record policy to one record.
    fn reject(&mut self, message: &OwnedMessage, why: &str) -> Result<()> {
        match &self.config.malformed {
            MalformedPolicy::Fail => Err(Error::BadRecord(format!(
                "kafka source: malformed record in topic '{}' partition {} at offset {}: {why} (set 'scan.malformed.policy' to 'skip' or 'dead-letter' to go on)",
                message.topic(),
                message.partition(),
                message.offset()
            ))),
            MalformedPolicy::Skip => {
                self.skipped += 1;
                if self.skipped <= 10 || self.skipped.is_power_of_two() {
                    tracing::warn!(
                        topic = message.topic(),
                        partition = message.partition(),
                        offset = message.offset(),
                        skipped = self.skipped,
                        reason = why,
                        "kafka source: skipped a malformed record"
                    );
                }
                Ok(())
            }
            MalformedPolicy::DeadLetter(topic) => {
                tracing::debug!(topic = %topic, offset = message.offset(), reason = why, "kafka source: dead-lettering a record");
                match self.dead_letter.as_mut() {
                    Some(dead_letter) => dead_letter.send(message, why),
                    None => Err(Error::Internal("kafka source: no dead-letter producer".into())),
                }
            }
        }
    }
}

/// The values of a metadata field for `messages`.
fn metadata_column(key: MetadataKey, data_type: &DataType, messages: &[&OwnedMessage]) -> Result<ArrayRef> {
    Ok(match key {
        MetadataKey::Topic => Arc::new(StringArray::from_iter_values(messages.iter().map(|m| m.topic()))),
        MetadataKey::Partition => Arc::new(Int32Array::from_iter_values(messages.iter().map(|m| m.partition()))),
        MetadataKey::Offset => Arc::new(Int64Array::from_iter_values(messages.iter().map(|m| m.offset()))),
        MetadataKey::Timestamp => {
            let values: TimestampMillisecondArray = messages.iter().map(|m| m.timestamp().to_millis()).collect();
            let tz = match data_type {
                DataType::Timestamp(_, tz) => tz.clone(),
                _ => None,
            };
            Arc::new(values.with_timezone_opt(tz))
        }
        MetadataKey::TimestampType => Arc::new(StringArray::from_iter_values(messages.iter().map(
            |m| match m.timestamp() {
                Timestamp::CreateTime(_) => "CreateTime",
                Timestamp::LogAppendTime(_) => "LogAppendTime",
                Timestamp::NotAvailable => "NoTimestampType",
            },
        ))),
        MetadataKey::Key => Arc::new(BinaryArray::from_iter(messages.iter().map(|m| m.key()))),
        MetadataKey::Headers => {
            let names = MapFieldNames {
                entry: "entries".into(),
                key: "key".into(),
                value: "value".into(),
            };
            let mut builder = MapBuilder::new(Some(names), StringBuilder::new(), BinaryBuilder::new())
                .with_values_field(Arc::new(Field::new("value", DataType::Binary, true)));
            for m in messages {
                if let Some(headers) = m.headers() {
                    for h in headers.iter() {
                        builder.keys().append_value(h.key);
                        builder.values().append_option(h.value);
                    }
                }
                builder.append(true)?;
            }
            let array = builder.finish();
            debug_assert_eq!(array.data_type(), &headers_type());
            Arc::new(array)
        }
    })
}
