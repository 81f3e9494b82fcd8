//! `UNION ALL`.

use super::*;

impl Translator<'_> {
    pub(super) fn union(&mut self, u: &Union, plan: &LogicalPlan) -> Result<Stream> {
        let mut inputs = u.inputs.iter().map(|i| self.plan(i)).collect::<Result<Vec<_>>>()?;
        // A union with a changelog input is a changelog: append-only inputs become inserts.
        let changelog = inputs.iter().any(|s| s.changelog);
        if changelog {
            for (i, input) in inputs.iter_mut().enumerate() {
                if !input.changelog {
                    *input = self.as_inserts(input, &format!("{} input {i}", plan.display_indent()))?;
                }
            }
        }
        let schema = stream_schema(&u.schema, changelog);
        for input in &inputs {
            let types: Vec<&DataType> = input.schema.fields().iter().map(|f| f.data_type()).collect();
            let expected: Vec<&DataType> = u.schema.fields().iter().map(|f| f.data_type()).collect();
            if types != expected {
                return Err(SqlError::at(
                    self.location,
                    "UNION ALL inputs have different column types",
                ));
            }
        }
        let factory = {
            let schema = schema.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(UnionOperator::new(schema.clone())))
            }
        };
        let connections: Vec<(DataStream, usize)> = inputs.iter().map(|s| (s.ds.clone(), 0)).collect();
        let uid = self.uids.allocate("union", &format!("{}", plan.display_indent()));
        let ds = self
            .env
            .add_multi_input(
                "Union",
                &connections,
                schema,
                Arc::new(factory),
                false,
                format!("{} inputs", inputs.len()),
            )
            .uid(&uid);
        let same = |f: fn(&Stream) -> Option<usize>| {
            let first = f(&inputs[0]);
            inputs.iter().all(|s| f(s) == first).then_some(first).flatten()
        };
        Ok(Stream {
            ds,
            schema: u.schema.clone(),
            rowtime: same(|s| s.rowtime),
            proctime: same(|s| s.proctime),
            window: None,
            changelog,
        })
    }

    /// An append-only stream as a changelog of inserts (`+I` rows).
    fn as_inserts(&mut self, input: &Stream, plan_for_uid: &str) -> Result<Stream> {
        let n = input.schema.fields().len();
        let mut projections: Vec<Arc<dyn PhysicalExpr>> = (0..n)
            .map(|i| {
                Arc::new(datafusion::physical_expr::expressions::Column::new(
                    input.schema.field(i).name(),
                    i,
                )) as Arc<dyn PhysicalExpr>
            })
            .collect();
        projections.push(Arc::new(datafusion::physical_expr::expressions::Literal::new(
            ScalarValue::Int8(Some(crate::ops::changelog::RowKind::Insert as i8)),
        )));
        let program = CalcProgram {
            filter: None,
            projections,
            output_schema: stream_schema(&input.schema, true),
        };
        let factory = {
            let program = program.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(CalcOperator::new(program.clone())))
            }
        };
        let uid = self.uids.allocate("calc", &format!("{plan_for_uid} as inserts"));
        let ds = input
            .ds
            .transform("Calc", program.output_schema.clone(), Arc::new(factory))
            .uid(&uid);
        self.env.describe(ds.node(), "as +I rows".to_string());
        Ok(Stream {
            ds,
            changelog: true,
            ..input.clone()
        })
    }
}
