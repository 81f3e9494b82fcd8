//! Rows and sort keys of the rank operator as bytes (Arrow's row format), and back.

use arrow::array::{ArrayRef, Int64Array, UInt64Array};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use freshet_core::{Error, Result};
use std::sync::Arc;

/// Encodes the input columns of a row (the payload) and its ORDER BY columns (a sort key whose
/// byte order is the ORDER BY's order).
pub struct RowCodec {
    columns: usize,
    rows: RowConverter,
    order: Vec<usize>,
    sort: RowConverter,
}

impl RowCodec {
    /// A codec for the first `columns` columns of `schema`, sorting by `order` (column index and
    /// direction).
    pub fn new(schema: &SchemaRef, columns: usize, order: &[(usize, SortOptions)]) -> Result<Self> {
        let fields = schema
            .fields()
            .iter()
            .take(columns)
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        let sort_fields = order
            .iter()
            .map(|(i, options)| {
                let field = schema
                    .fields()
                    .get(*i)
                    .ok_or_else(|| Error::Internal(format!("rank: no ORDER BY column {i}")))?;
                Ok(SortField::new_with_options(field.data_type().clone(), *options))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            columns,
            rows: RowConverter::new(fields)?,
            order: order.iter().map(|(i, _)| *i).collect(),
            sort: RowConverter::new(sort_fields)?,
        })
    }

    /// The payload and sort key of every row of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let payload: Vec<ArrayRef> = batch.columns().iter().take(self.columns).cloned().collect();
        let rows = self.rows.convert_columns(&payload)?;
        let keys: Vec<ArrayRef> = self.order.iter().map(|&i| batch.column(i).clone()).collect();
        let sort = if keys.is_empty() {
            None
        } else {
            Some(self.sort.convert_columns(&keys)?)
        };
        Ok((0..batch.num_rows())
            .map(|r| {
                let key = sort.as_ref().map(|s| s.row(r).data().to_vec()).unwrap_or_default();
                (rows.row(r).data().to_vec(), key)
            })
            .collect())
    }

    /// The input columns of `payloads`, then the row number column (of `number_type`).
    pub fn decode<'a>(
        &self,
        payloads: impl IntoIterator<Item = (&'a [u8], u64)>,
        number_type: &DataType,
    ) -> Result<Vec<ArrayRef>> {
        let parser = self.rows.parser();
        let (rows, numbers): (Vec<_>, Vec<u64>) = payloads.into_iter().map(|(p, n)| (parser.parse(p), n)).unzip();
        let mut columns = self.rows.convert_rows(rows)?;
        columns.push(match number_type {
            DataType::UInt64 => Arc::new(UInt64Array::from(numbers)) as ArrayRef,
            _ => Arc::new(Int64Array::from_iter_values(numbers.iter().map(|&n| n as i64))),
        });
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn rows_round_trip_and_sort_keys_follow_the_order_by() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
                Arc::new(Int64Array::from(vec![Some(5), Some(9), None])),
            ],
        )
        .expect("batch");
        let descending = SortOptions {
            descending: true,
            nulls_first: false,
        };
        let codec = RowCodec::new(&schema, 2, &[(1, descending)]).expect("codec");
        let encoded = codec.encode(&batch).expect("encode");
        // price DESC NULLS LAST: 9, 5, NULL.
        assert!(encoded[1].1 < encoded[0].1 && encoded[0].1 < encoded[2].1);
        let columns = codec
            .decode(
                encoded.iter().map(|(p, _)| p.as_slice()).zip([3, 1, 2]),
                &DataType::Int64,
            )
            .expect("decode");
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0].as_ref(), batch.column(0).as_ref());
        assert_eq!(columns[1].as_ref(), batch.column(1).as_ref());
        let numbers = columns[2].as_any().downcast_ref::<Int64Array>().expect("Int64");
        assert_eq!(numbers.values().to_vec(), vec![3, 1, 2]);
        assert_eq!(numbers.null_count(), 0);
    }
}
