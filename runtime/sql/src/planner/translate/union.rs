//! `UNION ALL`.

use super::*;

impl Translator<'_> {
    pub(super) fn union(&mut self, u: &Union, plan: &LogicalPlan) -> Result<Stream> {
        let inputs = u.inputs.iter().map(|i| self.plan(i)).collect::<Result<Vec<_>>>()?;
        let schema = physical_schema(&u.schema);
        for input in &inputs {
            let types: Vec<&DataType> = input.schema.fields().iter().map(|f| f.data_type()).collect();
            let expected: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
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
            changelog: false,
        })
    }
}
