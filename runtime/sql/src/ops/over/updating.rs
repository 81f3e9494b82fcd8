//! The updating OVER operator: every partition's current rows, sorted, with the results last
//! emitted for them; a batch's changes are applied and the rows whose results changed are
//! retracted and emitted again.

use super::aggregate::{self, Args, Results};
use super::codec::RowCodec;
use super::frame::frame_bounds;
use super::{output_batch, OverConfig, OverOrder};
use crate::ops::changelog::RowKind;
use arrow::array::{Array, Int64Array, Int8Array};
use arrow::record_batch::RecordBatch;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, ValueState};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// One current row of a partition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Entry {
    /// The encoded ORDER BY values (sorts the partition).
    pub sort: Vec<u8>,
    /// The encoded row (breaks ties).
    pub row: Vec<u8>,
    /// The numeric order value of `RANGE x PRECEDING` frames.
    pub order: Option<i64>,
    /// The aggregate arguments.
    pub args: Args,
    /// The results last emitted for the row (none before its first emission).
    pub emitted: Option<Results>,
}

/// A change to a partition.
pub(super) struct Change {
    /// The row, `+I`/`+U` adding it, `-U`/`-D` retracting it.
    pub entry: Entry,
    /// Whether the row is added.
    pub add: bool,
}

/// What a batch emits for a partition: rows with their results, their row kinds, and the
/// number of retractions of rows that were not present.
pub(super) type Emitted = (Vec<(Vec<u8>, Results)>, Vec<i8>, u64);

/// Applies `changes` to the sorted `entries` and recomputes the results of the rows from the
/// first changed one on (the rows before keep their frames): returns what to emit (rows,
/// results, kinds), and updates each entry's emitted results. A retraction of a
/// row not present is ignored (and counted in the returned number).
pub(super) fn apply(config: &OverConfig, entries: &mut Vec<Entry>, changes: Vec<Change>) -> Emitted {
    let mut rows = Vec::new();
    let mut kinds = Vec::new();
    let mut missing = 0;
    // Rows before the first peer of every changed row keep their frames and results.
    let mut dirty = entries.len();
    for change in changes {
        let key = (&change.entry.sort, &change.entry.row);
        let first_peer = entries.partition_point(|e| e.sort < change.entry.sort);
        if change.add {
            dirty = dirty.min(first_peer);
            let at = entries.partition_point(|e| (&e.sort, &e.row) <= key);
            entries.insert(at, change.entry);
        } else {
            let from = entries.partition_point(|e| (&e.sort, &e.row) < key);
            let equal = entries[from..].iter().take_while(|e| (&e.sort, &e.row) == key).count();
            if equal == 0 {
                missing += 1;
                continue;
            }
            dirty = dirty.min(first_peer);
            // Prefer an equal row not emitted yet: nothing to retract then.
            let at = (from..from + equal)
                .find(|&i| entries[i].emitted.is_none())
                .unwrap_or(from);
            let removed = entries.remove(at);
            if let Some(results) = removed.emitted {
                rows.push((removed.row, results));
                kinds.push(RowKind::Delete as i8);
            }
        }
    }
    let mut peer_group = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let same = i > 0 && entries[i - 1].sort == e.sort;
        let previous = peer_group.last().copied().unwrap_or(0);
        peer_group.push(if same || i == 0 { previous } else { previous + 1 });
    }
    let order: Vec<Option<i64>> = entries.iter().map(|e| e.order).collect();
    let bounds = frame_bounds(config.frame, &peer_group, &order);
    let args: Vec<&Args> = entries.iter().map(|e| &e.args).collect();
    let dirty = dirty.min(entries.len());
    let results = aggregate::evaluate_frames(&config.aggregates, &args, &bounds[dirty..]);
    for (entry, new) in entries[dirty..].iter_mut().zip(results) {
        match entry.emitted.take() {
            None => {
                rows.push((entry.row.clone(), new.clone()));
                kinds.push(RowKind::Insert as i8);
            }
            Some(old) if old != new => {
                rows.push((entry.row.clone(), old));
                kinds.push(RowKind::UpdateBefore as i8);
                rows.push((entry.row.clone(), new.clone()));
                kinds.push(RowKind::UpdateAfter as i8);
            }
            Some(_) => {}
        }
        entry.emitted = Some(new);
    }
    (rows, kinds, missing)
}

/// The updating OVER operator (see the module documentation of [`super`]).
pub struct UpdatingOverOperator {
    config: Arc<OverConfig>,
    encoder: Option<KeyEncoder>,
    codec: Option<RowCodec>,
    sort_codec: Option<RowCodec>,
    partitions: Option<ValueState<Vec<Entry>>>,
}

impl UpdatingOverOperator {
    /// An operator for `config` (whose order is [`OverOrder::Updating`]).
    pub fn new(config: Arc<OverConfig>) -> Self {
        Self {
            config,
            encoder: None,
            codec: None,
            sort_codec: None,
            partitions: None,
        }
    }
}

fn not_open() -> Error {
    Error::Internal("over aggregate used before open".into())
}

impl Operator for UpdatingOverOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let OverOrder::Updating { columns, options, .. } = &self.config.order else {
            return Err(Error::Internal("updating over aggregate without an order".into()));
        };
        self.encoder = Some(KeyEncoder::new(
            &self.config.input_schema,
            &self.config.key_columns,
            ctx.info().max_parallelism,
        )?);
        self.codec = Some(self.config.row_codec()?);
        self.sort_codec = Some(RowCodec::new(&self.config.input_schema, columns.clone(), options)?);
        self.partitions = Some(ValueState::register(ctx, "over-partition", self.config.ttl)?);
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let (Some(encoder), Some(codec), Some(sort_codec), Some(partitions)) =
            (&self.encoder, &self.codec, &self.sort_codec, &self.partitions)
        else {
            return Err(not_open());
        };
        let keys = encoder.encode(&batch)?;
        let rows = codec.encode(&batch)?;
        let sorts = sort_codec.encode(&batch)?;
        let range_values = match &self.config.order {
            OverOrder::Updating {
                range_value: Some(c), ..
            } => Some(
                batch
                    .columns()
                    .get(*c)
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .ok_or_else(|| Error::Internal("over aggregate: the range column is not Int64".into()))?,
            ),
            _ => None,
        };
        let kinds = if self.config.input_changelog {
            Some(
                batch
                    .columns()
                    .last()
                    .and_then(|c| c.as_any().downcast_ref::<Int8Array>())
                    .ok_or_else(|| Error::Internal("over aggregate: no row-kind column".into()))?,
            )
        } else {
            None
        };
        // The changes of each partition, partitions in order of first appearance.
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut grouped: Vec<(usize, Vec<Change>)> = Vec::new();
        for (row, (encoded, sort)) in rows.into_iter().zip(sorts).enumerate() {
            let add = match kinds {
                Some(k) => RowKind::from_i8(k.value(row))
                    .ok_or_else(|| Error::Internal(format!("unknown row kind {}", k.value(row))))?
                    .is_addition(),
                None => true,
            };
            let entry = Entry {
                sort,
                row: encoded,
                order: range_values.and_then(|v| v.is_valid(row).then(|| v.value(row))),
                args: aggregate::row_args(&self.config.aggregates, &batch, row)?,
                emitted: None,
            };
            let g = *index.entry(keys.rows.row(row).data()).or_insert_with(|| {
                grouped.push((row, Vec::new()));
                grouped.len() - 1
            });
            grouped[g].1.push(Change { entry, add });
        }
        let mut emitted = Vec::new();
        let mut emitted_kinds = Vec::new();
        for (first, changes) in grouped {
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: keys.rows.row(first).data(),
                namespace: &[],
            };
            let mut entries = partitions.get(ctx, scope)?.unwrap_or_default();
            // A retraction of a row not present (its partition expired) has nothing to undo.
            let (rows, kinds, _missing) = apply(&self.config, &mut entries, changes);
            emitted.extend(rows);
            emitted_kinds.extend(kinds);
            if entries.is_empty() {
                partitions.clear(ctx, scope)?;
            } else {
                partitions.set(ctx, scope, &entries)?;
            }
        }
        if !emitted.is_empty() {
            out.emit(output_batch(&self.config, codec, &emitted, Some(&emitted_kinds))?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::group_aggregate::{Value, ValueType};
    use crate::ops::over::{Frame, OverAggKind, OverAggSpec};
    use arrow::datatypes::Schema;
    use std::collections::BTreeMap;

    fn config(frame: Frame) -> OverConfig {
        OverConfig {
            key_columns: Vec::new(),
            aggregates: vec![OverAggSpec {
                kind: OverAggKind::Sum,
                arg: Some(0),
                arg_type: ValueType::Int,
            }],
            frame,
            order: OverOrder::ProcessingTime,
            input_changelog: true,
            input_schema: Arc::new(Schema::empty()),
            output_schema: Arc::new(Schema::empty()),
            ttl: None,
        }
    }

    fn change(order: u8, value: i64, add: bool) -> Change {
        Change {
            entry: Entry {
                sort: vec![order],
                row: vec![order, value as u8],
                order: Some(i64::from(order)),
                args: vec![Some(Value::Int(value))],
                emitted: None,
            },
            add,
        }
    }

    /// The batch answer: (order, value, sum over the frame) of the current rows.
    fn brute_force(frame: Frame, rows: &[(u8, i64)]) -> BTreeMap<(u8, i64, i64), usize> {
        let mut sorted = rows.to_vec();
        sorted.sort();
        let mut answer = BTreeMap::new();
        for (i, &(o, v)) in sorted.iter().enumerate() {
            let sum: i64 = sorted
                .iter()
                .enumerate()
                .filter(|&(j, &(oj, _))| match frame {
                    Frame::Rows(n) => j <= i && j + n as usize >= i,
                    Frame::RowsUnbounded => j <= i,
                    Frame::RangeUnbounded => oj <= o,
                    Frame::Range(x) => oj <= o && i64::from(oj) >= i64::from(o) - x,
                })
                .map(|(_, &(_, vj))| vj)
                .sum();
            *answer.entry((o, v, sum)).or_default() += 1;
        }
        answer
    }

    #[test]
    fn the_materialized_changelog_equals_the_batch_answer_after_every_batch() {
        let script: Vec<Vec<(u8, i64, bool)>> = vec![
            vec![(5, 1, true), (3, 2, true)],
            vec![(4, 4, true), (5, 1, true)],
            // A peer sorting after an existing one changes the existing one's RANGE frame.
            vec![(4, 6, true)],
            vec![(3, 2, false), (9, 8, true), (9, 8, true)],
            vec![(5, 1, false), (1, 16, true)],
            vec![
                (9, 8, false),
                (4, 4, false),
                (7, 32, true),
                (7, 32, false),
                (4, 6, false),
            ],
        ];
        for frame in [
            Frame::Rows(1),
            Frame::RowsUnbounded,
            Frame::RangeUnbounded,
            Frame::Range(2),
        ] {
            let config = config(frame);
            let mut entries = Vec::new();
            let mut current: Vec<(u8, i64)> = Vec::new();
            let mut materialized: BTreeMap<(u8, i64, i64), usize> = BTreeMap::new();
            for batch in &script {
                let changes = batch.iter().map(|&(o, v, add)| change(o, v, add)).collect();
                for &(o, v, add) in batch {
                    if add {
                        current.push((o, v));
                    } else if let Some(p) = current.iter().position(|r| *r == (o, v)) {
                        current.remove(p);
                    }
                }
                let (rows, kinds, missing) = apply(&config, &mut entries, changes);
                assert_eq!(missing, 0);
                for ((row, results), kind) in rows.iter().zip(kinds) {
                    let Some(Value::Int(sum)) = results[0] else {
                        panic!("no sum")
                    };
                    let key = (row[0], i64::from(row[1]), sum);
                    if RowKind::from_i8(kind).is_some_and(RowKind::is_addition) {
                        *materialized.entry(key).or_default() += 1;
                    } else {
                        let count = materialized.get_mut(&key).expect("retracted row present");
                        *count -= 1;
                        if *count == 0 {
                            materialized.remove(&key);
                        }
                    }
                }
                assert_eq!(materialized, brute_force(frame, &current), "{frame:?} after {batch:?}");
            }
        }
    }
}
