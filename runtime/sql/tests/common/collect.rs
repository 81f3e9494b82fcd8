//! Shared by the SQL test binaries: a sink of the Rust API that records every row it receives
//! with its row kind, and the ways to turn what it recorded into a final result.

use arrow::array::{Array, Int8Array};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use freshet_sql::Planner;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The rows a collecting sink received: (row kind, values joined by ',').
pub type Collected = Arc<Mutex<Vec<(String, String)>>>;

/// Registers the `'connector' = 'collect'` sink with `planner`; returns where it records.
pub fn register_collect_sink(planner: &mut Planner) -> Collected {
    let collected: Collected = Default::default();
    let sink = collected.clone();
    planner.register_sink(
        "collect",
        Arc::new(move |_: &freshet_dataflow::TaskInfo| {
            Ok(Box::new(CollectSink(sink.clone())) as Box<dyn freshet_dataflow::Operator>)
        }),
    );
    collected
}

/// A sink of the Rust API that records every row with its kind.
struct CollectSink(Collected);

impl freshet_dataflow::Operator for CollectSink {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut freshet_dataflow::OperatorContext,
        _out: &mut freshet_dataflow::Collector,
    ) -> freshet_core::Result<()> {
        let changelog = batch.schema().fields().last().map(|f| f.name().as_str()) == Some("__row_kind");
        let values = batch.num_columns() - usize::from(changelog);
        let options = FormatOptions::default().with_null("null");
        let formatters: Vec<ArrayFormatter<'_>> = batch.columns()[..values]
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<_, _>>()?;
        let kinds = batch
            .column(batch.num_columns() - 1)
            .as_any()
            .downcast_ref::<Int8Array>()
            .filter(|_| changelog)
            .cloned();
        let mut rows = self.0.lock().expect("collected rows");
        for row in 0..batch.num_rows() {
            let kind = match &kinds {
                Some(k) => ["+I", "-U", "+U", "-D"][k.value(row) as usize],
                None => "+I",
            };
            let text = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect::<Vec<_>>()
                .join(",");
            rows.push((kind.to_string(), text));
        }
        Ok(())
    }
}

/// Applies a changelog keyed by the columns `key`: +I/+U set the row, -U/-D remove it (which
/// must be the row set before). Returns the final rows, sorted by key.
pub fn apply_changelog(rows: &[(String, String)], key: &[usize]) -> Vec<String> {
    let mut table: BTreeMap<String, String> = BTreeMap::new();
    for (kind, row) in rows {
        let values: Vec<&str> = row.split(',').collect();
        let key = key.iter().map(|&i| values[i]).collect::<Vec<_>>().join(",");
        match kind.as_str() {
            "+I" => assert!(
                table.insert(key, row.clone()).is_none(),
                "+I over an existing row: {row}"
            ),
            "+U" => assert!(table.insert(key, row.clone()).is_none(), "+U without -U: {row}"),
            "-U" | "-D" => assert_eq!(table.remove(&key).as_ref(), Some(row), "{kind} of a row not present"),
            other => panic!("unknown row kind {other}"),
        }
    }
    table.into_values().collect()
}

/// Applies a changelog as a multiset of rows: +I/+U add a row, -U/-D remove one equal row
/// (which must be present). Returns the final rows, sorted.
pub fn materialize(rows: &[(String, String)]) -> Vec<String> {
    let mut table: BTreeMap<String, usize> = BTreeMap::new();
    for (kind, row) in rows {
        match kind.as_str() {
            "+I" | "+U" => *table.entry(row.clone()).or_default() += 1,
            "-U" | "-D" => {
                let count = table
                    .get_mut(row)
                    .unwrap_or_else(|| panic!("{kind} of a row not present: {row}"));
                *count -= 1;
                if *count == 0 {
                    table.remove(row);
                }
            }
            other => panic!("unknown row kind {other}"),
        }
    }
    table
        .into_iter()
        .flat_map(|(row, count)| std::iter::repeat_n(row, count))
        .collect()
}
