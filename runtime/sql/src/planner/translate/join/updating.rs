//! Regular joins whose output is a changelog: LEFT, RIGHT and FULL OUTER joins, and inner joins
//! of a changelog input (a `GROUP BY` result, say). Both run [`UpdatingJoinOperator`] keyed by
//! the equi-join keys; it keeps both inputs (for the state TTL if one is set).

use super::super::*;
use super::JoinSide;
use crate::ops::join::{UpdatingJoinOperator, UpdatingJoinSpec, UpdatingSide};
use datafusion::logical_expr::Join;

/// The two inputs of an updating join, after their key pre-projections.
pub(super) struct JoinSides {
    pub left: JoinSide,
    pub right: JoinSide,
    pub left_changelog: bool,
    pub right_changelog: bool,
    /// Whether the left side is preserved (LEFT or FULL join).
    pub left_outer: bool,
    /// Whether the right side is preserved (RIGHT or FULL join).
    pub right_outer: bool,
}

impl Translator<'_> {
    /// Plans `join` as an updating regular join of `sides`.
    pub(super) fn updating_join(&mut self, join: &Join, sides: JoinSides, uid_basis: &str) -> Result<Stream> {
        let joined_schema = physical_schema(&join.schema);
        let output_schema = stream_schema(&join.schema, true);
        let residual = join
            .filter
            .as_ref()
            .map(|f| self.physical(f, &join.schema))
            .transpose()?;
        let side = |s: &JoinSide, changelog: bool, outer: bool| UpdatingSide {
            schema: s.stream.ds.schema().clone(),
            keys: s.keys.clone(),
            output: s.width,
            changelog,
            outer,
        };
        let spec = UpdatingJoinSpec {
            left: side(&sides.left, sides.left_changelog, sides.left_outer),
            right: side(&sides.right, sides.right_changelog, sides.right_outer),
            residual,
            joined_schema,
            output_schema: output_schema.clone(),
            ttl: self
                .settings
                .state_ttl
                .map(|d| freshet_state::ttl::TtlConfig::after_write(ms(d))),
        };
        let inputs_kind = match (sides.left_changelog, sides.right_changelog) {
            (false, false) => "",
            (true, false) => " of a changelog (left)",
            (false, true) => " of a changelog (right)",
            (true, true) => " of two changelogs",
        };
        let description = format!(
            "regular {} join{inputs_kind} on ({}) = ({}){}{}, emits a changelog",
            join.join_type.to_string().to_lowercase(),
            sides.left.keys.join(", "),
            sides.right.keys.join(", "),
            join.filter.as_ref().map(|f| format!(" where {f}")).unwrap_or_default(),
            spec.ttl
                .map(|ttl| format!(" state ttl {} ms", ttl.ttl_ms))
                .unwrap_or_default(),
        );
        let factory = {
            let spec = spec.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(UpdatingJoinOperator::new(spec.clone())))
            }
        };
        let inputs = [
            (sides.left.stream.ds.key_by(sides.left.keys.clone()).stream().clone(), 0),
            (
                sides.right.stream.ds.key_by(sides.right.keys.clone()).stream().clone(),
                1,
            ),
        ];
        let uid = self.uids.allocate("updating-join", uid_basis);
        let ds = self
            .env
            .add_multi_input(
                "UpdatingJoin",
                &inputs,
                output_schema,
                Arc::new(factory),
                true,
                description,
            )
            .uid(&uid);
        Ok(Stream {
            ds,
            schema: join.schema.clone(),
            rowtime: None,
            proctime: None,
            window: None,
            changelog: true,
        })
    }
}
