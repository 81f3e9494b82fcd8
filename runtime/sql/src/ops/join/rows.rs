//! Rows of one join side as bytes in state, and back into columns.

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};
use freshet_core::Result;

/// Encodes whole rows of one side with Arrow's row format (stable, decodable), so a stored row
/// is one byte string.
#[derive(Debug)]
pub struct RowCodec {
    converter: RowConverter,
}

impl RowCodec {
    /// A codec for rows of `schema`.
    pub fn new(schema: &SchemaRef) -> Result<Self> {
        let fields = schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Self {
            converter: RowConverter::new(fields)?,
        })
    }

    /// Every row of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Rows> {
        Ok(self.converter.convert_columns(batch.columns())?)
    }

    /// Every row of `columns` (of the codec's schema).
    pub fn encode_columns(&self, columns: &[ArrayRef]) -> Result<Rows> {
        Ok(self.converter.convert_columns(columns)?)
    }

    /// The columns of encoded rows, in order.
    pub fn decode<'a>(&self, rows: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        let rows: Vec<_> = rows.into_iter().map(|r| parser.parse(r)).collect();
        Ok(self.converter.convert_rows(rows)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn rows_round_trip_with_nulls() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![None, Some("x")])),
            ],
        )
        .expect("batch");
        let codec = RowCodec::new(&schema).expect("codec");
        let rows = codec.encode(&batch).expect("encode");
        let bytes: Vec<Vec<u8>> = (0..2).map(|i| rows.row(i).as_ref().to_vec()).collect();
        let columns = codec.decode(bytes.iter().map(Vec::as_slice)).expect("decode");
        let back = RecordBatch::try_new(schema, columns).expect("batch");
        assert_eq!(back, batch);
    }
}
