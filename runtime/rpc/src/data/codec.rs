//! Stream elements to frame bodies and back: batches as an Arrow IPC stream per channel (the
//! schema once, in `ChannelOpen`, then one record batch message, preceded by any dictionary
//! batches it needs, per `ArrowBatch`), control events as plain messages.

use crate::convert::required;
use crate::error::{Error, Result};
use crate::proto;
use crate::proto::channel_frame::Body;
use arrow::buffer::Buffer;
use arrow::datatypes::Schema;
use arrow::ipc::reader::StreamDecoder;
use arrow::ipc::writer::StreamWriter;
use bytes::Bytes;
use freshet_core::StreamElement;

/// Encodes the elements of one channel.
pub(crate) struct ChannelEncoder {
    writer: StreamWriter<Vec<u8>>,
}

impl ChannelEncoder {
    /// An encoder for batches of `schema`, and the IPC schema message that opens the channel.
    pub(crate) fn new(schema: &Schema) -> Result<(Self, Bytes)> {
        let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
        let schema_message = Bytes::from(std::mem::take(writer.get_mut()));
        Ok((Self { writer }, schema_message))
    }

    /// The frame body carrying `element`.
    pub(crate) fn encode(&mut self, element: StreamElement) -> Result<Body> {
        Ok(match element {
            StreamElement::Batch(batch) => {
                self.writer.write(&batch)?;
                Body::Batch(proto::ArrowBatch {
                    arrow_ipc: Bytes::from(std::mem::take(self.writer.get_mut())),
                    num_rows: batch.num_rows() as u64,
                })
            }
            StreamElement::Watermark(timestamp_ms) => Body::Watermark(proto::Watermark { timestamp_ms }),
            StreamElement::Idle(idle) => Body::Idle(proto::Idleness { idle }),
            StreamElement::Barrier(barrier) => Body::Barrier(barrier.into()),
            StreamElement::EndOfInput => Body::EndOfInput(proto::EndOfInput {}),
        })
    }
}

/// Decodes the elements of one channel.
pub(crate) struct ChannelDecoder {
    decoder: StreamDecoder,
}

impl ChannelDecoder {
    /// A decoder for the channel opened with IPC schema message `schema_message`.
    pub(crate) fn new(schema_message: Bytes) -> Result<Self> {
        let mut decoder = StreamDecoder::new();
        let mut buffer = Buffer::from(schema_message);
        // The decoder completes the (bodiless) schema message when the first batch arrives.
        if decoder.decode(&mut buffer)?.is_some() || !buffer.is_empty() {
            return Err(Error::Protocol("channel opened with more than a schema message".into()));
        }
        Ok(Self { decoder })
    }

    /// The element a frame body carries.
    pub(crate) fn decode(&mut self, body: Body) -> Result<StreamElement> {
        match body {
            Body::Batch(batch) => {
                let mut buffer = Buffer::from(batch.arrow_ipc);
                let decoded = self.decoder.decode(&mut buffer)?;
                match decoded {
                    Some(b) if buffer.is_empty() => Ok(StreamElement::Batch(b)),
                    Some(_) => Err(Error::Protocol("more than one record batch in a frame".into())),
                    None => Err(Error::Protocol("a batch frame without a complete record batch".into())),
                }
            }
            Body::Watermark(w) => Ok(StreamElement::Watermark(w.timestamp_ms)),
            Body::Idle(i) => Ok(StreamElement::Idle(i.idle)),
            Body::Barrier(b) => Ok(StreamElement::Barrier(b.into())),
            Body::EndOfInput(_) => Ok(StreamElement::EndOfInput),
            Body::Open(_) | Body::Abort(_) => Err(Error::Protocol("channel open or abort is not an element".into())),
        }
    }
}

/// The body of a frame, or a protocol error when it has none.
pub(crate) fn frame_body(frame: proto::ChannelFrame) -> Result<(u32, Body)> {
    Ok((frame.handle, required(frame.body, "body")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int32Type};
    use arrow::record_batch::RecordBatch;
    use freshet_core::{Barrier, CheckpointId, CheckpointKind};
    use std::sync::Arc;

    fn batch(values: &[i64]) -> RecordBatch {
        let dict: DictionaryArray<Int32Type> = values.iter().map(|v| if v % 2 == 0 { "even" } else { "odd" }).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
            Field::new(
                "d",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                false,
            ),
        ]));
        let strings: StringArray = values.iter().map(|v| Some(format!("#{v}"))).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(values.to_vec())),
                Arc::new(strings),
                Arc::new(dict),
            ],
        )
        .expect("valid test batch")
    }

    #[test]
    fn elements_round_trip_through_ipc() {
        let first = batch(&[1, 2, 3]);
        let (mut enc, schema) = ChannelEncoder::new(first.schema().as_ref()).expect("encoder");
        let mut dec = ChannelDecoder::new(schema).expect("decoder");
        let barrier = Barrier {
            id: CheckpointId(3),
            triggered_at_ms: 9,
            kind: CheckpointKind::Checkpoint,
        };
        let elements = vec![
            StreamElement::Batch(first),
            StreamElement::Watermark(17),
            StreamElement::Barrier(barrier),
            StreamElement::Batch(batch(&[4, 5])),
            StreamElement::Idle(true),
            StreamElement::EndOfInput,
        ];
        for e in elements {
            let body = enc.encode(e.clone()).expect("encode");
            let back = dec.decode(body).expect("decode");
            match (e, back) {
                (StreamElement::Batch(a), StreamElement::Batch(b)) => assert_eq!(a, b),
                (StreamElement::Watermark(a), StreamElement::Watermark(b)) => assert_eq!(a, b),
                (StreamElement::Barrier(a), StreamElement::Barrier(b)) => assert_eq!(a, b),
                (StreamElement::Idle(a), StreamElement::Idle(b)) => assert_eq!(a, b),
                (StreamElement::EndOfInput, StreamElement::EndOfInput) => {}
                (a, b) => panic!("{a:?} came back as {b:?}"),
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (mut enc, schema) = ChannelEncoder::new(batch(&[1]).schema().as_ref()).expect("encoder");
        let good = enc.encode(StreamElement::Batch(batch(&[1]))).expect("encode");
        let bad_schema = ChannelDecoder::new(Bytes::from_static(b"not an arrow schema"));
        assert!(bad_schema.and_then(|mut d| d.decode(good)).is_err());
        let mut dec = ChannelDecoder::new(schema).expect("decoder");
        let body = Body::Batch(proto::ArrowBatch {
            arrow_ipc: Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
            num_rows: 1,
        });
        assert!(dec.decode(body).is_err());
    }
}
