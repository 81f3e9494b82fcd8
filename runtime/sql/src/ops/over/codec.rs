//! Rows kept in state as bytes: Arrow's row format of the input columns, which also sorts
//! them (ORDER BY keys, and whole rows to break ties deterministically).

use arrow::array::ArrayRef;
use arrow::compute::SortOptions;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use freshet_core::Result;

/// Encodes some columns of a batch to comparable bytes and decodes them back.
pub struct RowCodec {
    columns: Vec<usize>,
    converter: RowConverter,
}

impl RowCodec {
    /// A codec for `columns` of `schema`, each sorted by its options.
    pub fn new(schema: &SchemaRef, columns: Vec<usize>, options: &[SortOptions]) -> Result<Self> {
        let fields = columns
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                SortField::new_with_options(
                    schema.field(c).data_type().clone(),
                    options.get(i).copied().unwrap_or_default(),
                )
            })
            .collect();
        Ok(Self {
            columns,
            converter: RowConverter::new(fields)?,
        })
    }

    /// The encoded rows of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        let columns: Vec<ArrayRef> = self.columns.iter().map(|&c| batch.column(c).clone()).collect();
        let rows = self.converter.convert_columns(&columns)?;
        Ok(rows.iter().map(|r| r.as_ref().to_vec()).collect())
    }

    /// The columns of encoded rows (which must come from [`RowCodec::encode`]).
    pub fn decode<'a>(&self, rows: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        Ok(self.converter.convert_rows(rows.into_iter().map(|r| parser.parse(r)))?)
    }
}
