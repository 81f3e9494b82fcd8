//! Lookup joins: `FROM probe AS p [LEFT] JOIN dim FOR SYSTEM_TIME AS OF p.proc_time AS d ON
//! p.k = d.k`, where the rewrite made `dim` a [`LookupTable`]. The table must be a bounded
//! `filesystem` table; [`LookupJoinOperator`] loads it when it opens and probes it per row, on
//! the probe's subtasks (no shuffle, no state). The output keeps the probe's time attributes.

use super::super::*;
use crate::ddl::CONNECTOR_OPTION;
use crate::ops::join::{DimensionStep, DimensionTable, LookupJoinOperator, LookupJoinSpec};
use crate::planner::catalog::LookupTable;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::Join;
use freshet_connectors::FileSourceConfig;

/// The lookup table read by `plan` (through aliases, filters and projections), if any.
pub(super) fn find_lookup(plan: &LogicalPlan) -> Option<LookupTable> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => find_lookup(&a.input),
        LogicalPlan::Filter(f) => find_lookup(&f.input),
        LogicalPlan::Projection(p) => find_lookup(&p.input),
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let any: &dyn std::any::Any = provider.as_ref();
            any.downcast_ref::<LookupTable>().cloned()
        }
        _ => None,
    }
}

/// The `AS PROCTIME()` columns of the tables `plan` reads (through views).
fn probe_proctimes(plan: &LogicalPlan) -> Vec<String> {
    let mut found = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if let Ok(provider) = source_as_provider(&scan.source) {
                let any: &dyn std::any::Any = provider.as_ref();
                if let Some(table) = any.downcast_ref::<StreamTable>() {
                    found.extend(crate::planner::proctime_column(&table.ddl));
                } else if let Some(view) = provider.get_logical_plan() {
                    found.extend(probe_proctimes(&view));
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

impl Translator<'_> {
    /// Plans `join`, whose right input reads `lookup`, as a lookup join.
    pub(super) fn lookup_join(
        &mut self,
        join: &Join,
        plan: &LogicalPlan,
        lookup: LookupTable,
        left_outer: bool,
    ) -> Result<Stream> {
        let at = self.at(Construct::Join);
        let ddl = &lookup.table.ddl;
        if ddl.connector() != "filesystem" {
            return Err(unsupported(
                at,
                &format!(
                    "FOR SYSTEM_TIME AS OF on table '{}' (connector '{}')",
                    lookup.name,
                    ddl.connector()
                ),
                "a lookup join reads a bounded table: declare it with 'connector' = 'filesystem' (csv or json); join unbounded tables with a regular join",
            ));
        }
        let mut options = ddl.options.clone();
        options.remove(CONNECTOR_OPTION);
        let config = FileSourceConfig::from_options(&options)
            .map_err(|e| SqlError::at(ddl.span.start, format!("table '{}': {e}", lookup.name)))?;
        if config.monitor_interval_ms.is_some() {
            return Err(unsupported(
                at,
                &format!("FOR SYSTEM_TIME AS OF on the continuously read table '{}'", lookup.name),
                "a lookup table is read once when the job starts: remove 'source.monitor-interval'",
            ));
        }
        let as_of_column = lookup.as_of.rsplit('.').next().unwrap_or_default().trim_matches('`');
        if !probe_proctimes(&join.left).iter().any(|c| c == as_of_column) {
            return Err(unsupported(
                at,
                &format!(
                    "FOR SYSTEM_TIME AS OF {}, which is not a processing-time attribute (an event-time temporal join)",
                    lookup.as_of
                ),
                "look the table up at processing time: FOR SYSTEM_TIME AS OF a column declared `name AS PROCTIME()` in the probe table",
            ));
        }
        let left = self.plan(&join.left)?;
        // The probe's keys, and the table's keys in the probe keys' types.
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));
        let right_schema = join.right.schema();
        let mut probe_keys = Vec::new();
        let mut table_keys = Vec::new();
        for (l, r) in &join.on {
            let lt = l.get_type(left.schema.as_ref()).map_err(|e| self.df_error(e))?;
            let rt = r.get_type(right_schema.as_ref()).map_err(|e| self.df_error(e))?;
            probe_keys.push(l.clone());
            let r = if lt == rt { r.clone() } else { cast_to(r.clone(), &lt) };
            table_keys.push(self.physical(&r, right_schema)?);
        }
        let probe = self.key_projection(&left, &probe_keys, &format!("{uid_basis} probe keys"))?;
        let probe_schema = probe.stream.ds.schema().clone();
        let probe_key_indices = probe
            .keys
            .iter()
            .map(|k| probe_schema.index_of(k))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| SqlError::at(at, format!("internal: a lookup join key column: {e}")))?;

        let mut steps = Vec::new();
        self.dimension_steps(&join.right, &lookup, &mut steps)?;
        let residual = join
            .filter
            .as_ref()
            .map(|f| self.physical(f, &join.schema))
            .transpose()?;
        let output_schema = stream_schema(&join.schema, left.changelog);
        let spec = LookupJoinSpec {
            dimension: DimensionTable {
                config,
                file_schema: Arc::new(ddl.physical_schema()),
                steps,
                keys: table_keys,
            },
            probe_keys: probe_key_indices,
            probe_output: probe.width,
            probe_changelog: left.changelog,
            left_outer,
            residual,
            joined_schema: physical_schema(&join.schema),
            output_schema: output_schema.clone(),
        };
        let description = format!(
            "lookup {}join of {} ({}) as of {} on ({}) = ({}){}",
            if left_outer { "left " } else { "" },
            lookup.name,
            spec.dimension.config.path.display(),
            lookup.as_of,
            probe.keys.join(", "),
            join.on
                .iter()
                .map(|(_, r)| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            join.filter.as_ref().map(|f| format!(" where {f}")).unwrap_or_default(),
        );
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(LookupJoinOperator::new(spec.clone())))
        };
        let uid = self.uids.allocate("lookup-join", &uid_basis);
        let ds = probe
            .stream
            .ds
            .transform("LookupJoin", output_schema, Arc::new(factory))
            .uid(&uid);
        self.env.describe(ds.node(), description);
        Ok(Stream {
            ds,
            schema: join.schema.clone(),
            rowtime: left.rowtime,
            proctime: left.proctime,
            window: None,
            changelog: left.changelog,
        })
    }

    /// The steps from the table's file records to the rows of `plan` (the join's right input).
    fn dimension_steps(&self, plan: &LogicalPlan, lookup: &LookupTable, steps: &mut Vec<DimensionStep>) -> Result<()> {
        match plan {
            LogicalPlan::SubqueryAlias(a) => self.dimension_steps(&a.input, lookup, steps),
            LogicalPlan::Filter(f) => {
                self.dimension_steps(&f.input, lookup, steps)?;
                steps.push(DimensionStep::Filter(self.physical(&f.predicate, f.input.schema())?));
                Ok(())
            }
            LogicalPlan::Projection(p) => {
                self.dimension_steps(&p.input, lookup, steps)?;
                let exprs = p
                    .expr
                    .iter()
                    .map(|e| self.physical(e, p.input.schema()))
                    .collect::<Result<Vec<_>>>()?;
                steps.push(DimensionStep::Project(exprs, physical_schema(&p.schema)));
                Ok(())
            }
            LogicalPlan::TableScan(scan) => {
                if !scan.filters.is_empty() || scan.fetch.is_some() {
                    return Err(SqlError::at(
                        self.location,
                        "internal: a lookup table scan with pushed-down filters or limit",
                    ));
                }
                let table = &lookup.table;
                let physical = DFSchema::try_from_qualified_schema(
                    table.physical_qualifier.as_str(),
                    &table.ddl.physical_schema(),
                )
                .map_err(|e| self.df_error(e))?;
                let indices: Vec<usize> = match &scan.projection {
                    Some(p) => p.clone(),
                    None => (0..table.columns.len()).collect(),
                };
                let exprs = indices
                    .iter()
                    .map(|&i| {
                        let column = table.columns.get(i).ok_or_else(|| {
                            SqlError::at(self.location, format!("internal: lookup table column {i} out of range"))
                        })?;
                        self.physical(column, &physical)
                    })
                    .collect::<Result<Vec<_>>>()?;
                steps.push(DimensionStep::Project(exprs, physical_schema(&scan.projected_schema)));
                Ok(())
            }
            other => Err(unsupported(
                self.location,
                &format!("a lookup table under '{}'", other.display()),
                "join the FOR SYSTEM_TIME AS OF table directly: FROM probe JOIN dim FOR SYSTEM_TIME AS OF ... AS d ON ...",
            )),
        }
    }
}
