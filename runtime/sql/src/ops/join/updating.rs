//! [`UpdatingJoinOperator`]: a regular equi-join whose output is a changelog, for outer joins
//! (LEFT, RIGHT, FULL) and for joins of changelog inputs.
//!
//! Both inputs are hash-partitioned by their keys. Each side keeps, per key, its distinct rows
//! (the output columns, as bytes) with a [`Stored`] entry: multiplicity and, for an outer
//! side, the number of current matches (see [`super::matching`]). A batch's rows are grouped
//! by key; per key the other side's rows are read once and the residual condition is
//! evaluated for every pair at once, then the rows are applied in arrival order. Additions
//! (`+I`, `+U`) emit `+I` rows, retractions (`-U`, `-D`) emit `-D` rows; a retraction of a row
//! that is not stored (expired by the state TTL) is dropped.
//!
//! A row with a NULL key matches nothing: on an outer side it is passed through padded (added
//! or retracted), never stored.

use super::matching::{apply_change, match_count, Emission, Stored};
use super::rows::RowCodec;
use crate::ops::changelog::RowKind;
use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, Int8Array, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::physical_expr::PhysicalExpr;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, MapState};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use freshet_state::ttl::TtlConfig;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One input of an updating join.
#[derive(Clone, Debug)]
pub struct UpdatingSide {
    /// The input's batches (with a trailing row-kind column if `changelog`).
    pub schema: SchemaRef,
    /// The key columns (hash-partitioned by them).
    pub keys: Vec<String>,
    /// How many leading columns are output (the rest are computed keys and the row kind).
    pub output: usize,
    /// Whether the input is a changelog.
    pub changelog: bool,
    /// Whether the side is preserved: its unmatched rows are output padded with NULLs.
    pub outer: bool,
}

/// What an updating join does.
#[derive(Clone)]
pub struct UpdatingJoinSpec {
    /// The left input.
    pub left: UpdatingSide,
    /// The right input.
    pub right: UpdatingSide,
    /// Applied to candidate pairs (over `joined_schema`): only pairs where it holds match.
    pub residual: Option<Arc<dyn PhysicalExpr>>,
    /// Left's output columns, then right's.
    pub joined_schema: SchemaRef,
    /// `joined_schema` plus the trailing row-kind column.
    pub output_schema: SchemaRef,
    /// How long a stored row lives after it was last written (processing time).
    pub ttl: Option<TtlConfig>,
}

impl fmt::Debug for UpdatingJoinSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdatingJoinSpec")
            .field("left", &self.left)
            .field("right", &self.right)
            .field("residual", &self.residual.as_ref().map(|e| e.to_string()))
            .field("ttl", &self.ttl)
            .finish()
    }
}

struct Side {
    keys: KeyEncoder,
    codec: RowCodec,
    state: MapState<Vec<u8>, Stored>,
}

/// One output row: the arriving row (batch index) or none, the other side's row (index into
/// the decoded partners) or none, and the kind.
type OutRow = (Option<u32>, Option<u32>, RowKind);

/// The updating join operator.
pub struct UpdatingJoinOperator {
    spec: UpdatingJoinSpec,
    sides: Vec<Side>,
}

impl UpdatingJoinOperator {
    /// A join doing `spec`.
    pub fn new(spec: UpdatingJoinSpec) -> Self {
        Self {
            spec,
            sides: Vec::new(),
        }
    }

    fn side_spec(&self, side: usize) -> &UpdatingSide {
        if side == 0 {
            &self.spec.left
        } else {
            &self.spec.right
        }
    }

    fn join_batch(&self, side: usize, batch: &RecordBatch, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        if side > 1 || self.sides.len() != 2 {
            return Err(Error::Internal(format!(
                "join input {side} out of range or join not opened"
            )));
        }
        let (own_spec, other_spec) = (self.side_spec(side), self.side_spec(1 - side));
        let (own, theirs) = (&self.sides[side], &self.sides[1 - side]);
        let additions = row_additions(batch, own_spec.changelog)?;
        let keys = own.keys.encode(batch)?;
        let own_columns = batch
            .columns()
            .get(..own_spec.output)
            .ok_or_else(|| Error::Internal("join input narrower than its output columns".into()))?;
        let rows = own.codec.encode_columns(own_columns)?;
        let key_columns: Vec<&ArrayRef> = own.keys.key_indices().iter().map(|&i| batch.column(i)).collect();

        let mut out: Vec<OutRow> = Vec::new();
        // Rows by key, keys in order of first appearance.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<&[u8], usize> = HashMap::new();
        for (i, &addition) in additions.iter().enumerate() {
            if key_columns.iter().any(|c| c.is_null(i)) {
                if own_spec.outer {
                    out.push((Some(i as u32), None, kind(addition)));
                }
                continue;
            }
            let next = groups.len();
            let group = *group_of.entry(keys.rows.row(i).data()).or_insert(next);
            if group == next {
                groups.push(Vec::new());
            }
            groups[group].push(i);
        }

        // The other side's rows of every key, and which pairs satisfy the residual condition.
        let mut partner_rows: Vec<Vec<u8>> = Vec::new();
        let mut partners: Vec<Vec<Stored>> = Vec::new();
        let mut ranges = Vec::with_capacity(groups.len());
        for group in &groups {
            let first = group[0];
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: keys.rows.row(first).data(),
                namespace: &[],
            };
            let start = partner_rows.len();
            let mut stored = Vec::new();
            for (bytes, entry) in theirs.state.entries(ctx, scope)? {
                partner_rows.push(bytes);
                stored.push(entry);
            }
            ranges.push(start..partner_rows.len());
            partners.push(stored);
        }
        let partner_columns = if partner_rows.is_empty() {
            None
        } else {
            Some(theirs.codec.decode(partner_rows.iter().map(Vec::as_slice))?)
        };
        let mut candidates: Vec<(Option<u32>, Option<u32>)> = Vec::new();
        for (group, range) in groups.iter().zip(&ranges) {
            for &i in group {
                candidates.extend(range.clone().map(|p| (Some(i as u32), Some(p as u32))));
            }
        }
        let mask = self.residual_mask(side, batch, partner_columns.as_deref(), &candidates)?;

        // Apply the rows in order, key by key.
        let mut next_candidate = 0;
        for ((group, range), stored) in groups.iter().zip(&ranges).zip(partners.iter_mut()) {
            let first = group[0];
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: keys.rows.row(first).data(),
                namespace: &[],
            };
            let mut touched = vec![false; stored.len()];
            for &i in group {
                let matched: Vec<usize> = (0..stored.len())
                    .filter(|p| mask.as_ref().is_none_or(|m| m[next_candidate + p]))
                    .collect();
                next_candidate += stored.len();
                let addition = additions[i];
                let bytes = rows.row(i).data().to_vec();
                let mut own_entry = own.state.get(ctx, scope, &bytes)?.unwrap_or_default();
                if !addition && own_entry.count == 0 {
                    continue;
                }
                let mut matched_partners: Vec<Stored> = matched.iter().map(|&p| stored[p]).collect();
                for (emission, adds) in apply_change(addition, own_spec.outer, other_spec.outer, &mut matched_partners)
                {
                    let (own_row, partner, times) = match emission {
                        Emission::OwnPadded => (Some(i as u32), None, 1),
                        Emission::Joined { partner, times } => (Some(i as u32), Some(partner), times),
                        Emission::PartnerPadded { partner, times } => (None, Some(partner), times),
                    };
                    let partner_row = partner.map(|p| (range.start + matched[p]) as u32);
                    for _ in 0..times {
                        out.push((own_row, partner_row, kind(adds)));
                    }
                }
                for (&p, updated) in matched.iter().zip(&matched_partners) {
                    if stored[p] != *updated {
                        stored[p] = *updated;
                        touched[p] = true;
                    }
                }
                if addition {
                    own_entry.count += 1;
                    own_entry.matches = match_count(&matched_partners);
                    own.state.put(ctx, scope, &bytes, &own_entry)?;
                } else if own_entry.count > 1 {
                    own_entry.count -= 1;
                    own.state.put(ctx, scope, &bytes, &own_entry)?;
                } else {
                    own.state.remove(ctx, scope, &bytes)?;
                }
            }
            if other_spec.outer {
                for (p, entry) in stored.iter().enumerate() {
                    if touched[p] {
                        theirs.state.put(ctx, scope, &partner_rows[range.start + p], entry)?;
                    }
                }
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        self.output(side, batch, partner_columns.as_deref(), &out).map(Some)
    }

    /// Whether each candidate pair satisfies the residual condition (none: all do).
    fn residual_mask(
        &self,
        side: usize,
        batch: &RecordBatch,
        partners: Option<&[ArrayRef]>,
        candidates: &[(Option<u32>, Option<u32>)],
    ) -> Result<Option<Vec<bool>>> {
        let Some(residual) = &self.spec.residual else {
            return Ok(None);
        };
        if candidates.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let columns = self.joined_columns(side, batch, partners, candidates)?;
        let options = RecordBatchOptions::new().with_row_count(Some(candidates.len()));
        let joined = RecordBatch::try_new_with_options(self.spec.joined_schema.clone(), columns, &options)?;
        let mask = residual
            .evaluate(&joined)
            .and_then(|v| v.into_array(joined.num_rows()))
            .map_err(|e| Error::UserFunction(format!("evaluating a join condition: {e}")))?;
        let mask = mask
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| Error::Internal("a join condition did not evaluate to booleans".into()))?;
        Ok(Some(
            (0..mask.len()).map(|i| mask.is_valid(i) && mask.value(i)).collect(),
        ))
    }

    /// Left's then right's output columns of `rows` (arriving row, partner), NULL where absent.
    fn joined_columns(
        &self,
        side: usize,
        batch: &RecordBatch,
        partners: Option<&[ArrayRef]>,
        rows: &[(Option<u32>, Option<u32>)],
    ) -> Result<Vec<ArrayRef>> {
        let own_indices = UInt32Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let other_indices = UInt32Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let own_n = self.side_spec(side).output;
        let other_n = self.side_spec(1 - side).output;
        let own_columns = batch.columns()[..own_n]
            .iter()
            .map(|c| take(c.as_ref(), &own_indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let other_offset = if side == 0 { own_n } else { 0 };
        let other_columns = (0..other_n)
            .map(|c| match partners {
                Some(columns) => Ok(take(columns[c].as_ref(), &other_indices, None)?),
                None => {
                    let field = self.spec.joined_schema.field(other_offset + c);
                    Ok(new_null_array(field.data_type(), rows.len()))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(if side == 0 {
            own_columns.into_iter().chain(other_columns).collect()
        } else {
            other_columns.into_iter().chain(own_columns).collect()
        })
    }

    fn output(
        &self,
        side: usize,
        batch: &RecordBatch,
        partners: Option<&[ArrayRef]>,
        out: &[OutRow],
    ) -> Result<RecordBatch> {
        let pairs: Vec<(Option<u32>, Option<u32>)> = out.iter().map(|(a, b, _)| (*a, *b)).collect();
        let mut columns = self.joined_columns(side, batch, partners, &pairs)?;
        columns.push(Arc::new(Int8Array::from_iter_values(out.iter().map(|r| r.2 as i8))));
        Ok(RecordBatch::try_new(self.spec.output_schema.clone(), columns)?)
    }
}

fn kind(addition: bool) -> RowKind {
    if addition {
        RowKind::Insert
    } else {
        RowKind::Delete
    }
}

/// Per row of `batch`, whether it adds (every row of an append-only input).
fn row_additions(batch: &RecordBatch, changelog: bool) -> Result<Vec<bool>> {
    if !changelog {
        return Ok(vec![true; batch.num_rows()]);
    }
    let kinds = batch
        .columns()
        .last()
        .and_then(|c| c.as_any().downcast_ref::<Int8Array>())
        .ok_or_else(|| Error::Internal("a changelog join input has no row-kind column".into()))?;
    (0..kinds.len())
        .map(|i| {
            RowKind::from_i8(kinds.value(i))
                .map(RowKind::is_addition)
                .ok_or_else(|| Error::Internal(format!("unknown row kind {}", kinds.value(i))))
        })
        .collect()
}

impl Operator for UpdatingJoinOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let max_parallelism = ctx.info().max_parallelism;
        let mut sides = Vec::with_capacity(2);
        for (name, side) in [("join-left", &self.spec.left), ("join-right", &self.spec.right)] {
            let fields = side
                .schema
                .fields()
                .get(..side.output)
                .ok_or_else(|| Error::Internal("join input narrower than its output columns".into()))?;
            let output: SchemaRef = Arc::new(Schema::new(fields.to_vec()));
            sides.push(Side {
                keys: KeyEncoder::new(&side.schema, &side.keys, max_parallelism)?,
                codec: RowCodec::new(&output)?,
                state: MapState::register(ctx, name, self.spec.ttl)?,
            });
        }
        self.sides = sides;
        Ok(())
    }

    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(joined) = self.join_batch(input, &batch, ctx)? {
            out.emit(joined);
        }
        Ok(())
    }
}
