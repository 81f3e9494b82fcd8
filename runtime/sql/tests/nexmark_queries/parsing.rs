//! Every Nexmark query in `queries/nexmark/` parses into statements: its source and sink
//! tables, then exactly one INSERT into a declared sink, whose window functions decode.

use freshet_sql::sqlparser::ast::{TableFactor, Visit, Visitor};
use freshet_sql::{parse_script, Statement, WindowKind, WindowTvf};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

fn queries_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../queries/nexmark")
}

/// Collects the window functions of a query, stopping at the first that does not decode.
#[derive(Default)]
struct WindowCollector(Vec<WindowTvf>);

impl Visitor for WindowCollector {
    type Break = freshet_sql::SqlError;

    fn pre_visit_table_factor(&mut self, relation: &TableFactor) -> ControlFlow<Self::Break> {
        match WindowTvf::from_table_factor(relation) {
            Ok(Some(window)) => self.0.push(window),
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(e),
        }
        ControlFlow::Continue(())
    }
}

fn window_names(windows: &[WindowTvf]) -> Vec<&'static str> {
    windows
        .iter()
        .map(|w| match w.window {
            WindowKind::Tumble { .. } => "tumble",
            WindowKind::Hop { .. } => "hop",
            WindowKind::Cumulate { .. } => "cumulate",
            WindowKind::Session { .. } => "session",
        })
        .collect()
}

#[test]
fn every_nexmark_query_parses() {
    let mut windows_per_query = BTreeMap::new();
    for q in 0..=22 {
        let path = queries_dir().join(format!("q{q}.sql"));
        let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let statements = parse_script(&sql).unwrap_or_else(|e| panic!("q{q}.sql: {e}"));
        let Some((Statement::Insert { table, query, .. }, tables)) = statements.split_last() else {
            panic!("q{q}.sql does not end with an INSERT");
        };
        let mut sinks = BTreeMap::new();
        for statement in tables {
            let Statement::CreateTable(ddl) = statement else {
                panic!("q{q}.sql: only CREATE TABLE before the INSERT, found {statement:?}");
            };
            if ddl.connector() == "nexmark" {
                assert!(ddl.watermark.is_some(), "q{q}.sql: {} has no watermark", ddl.name);
                assert!(
                    !ddl.options.contains_key("events.num"),
                    "q{q}.sql: the runner sets events.num"
                );
            }
            sinks.insert(ddl.name.to_string(), ddl.connector().to_string());
        }
        let expected_sink = if q == 10 { "filesystem" } else { "blackhole" };
        assert_eq!(
            sinks.get(&table.to_string()).map(String::as_str),
            Some(expected_sink),
            "q{q}.sql inserts into {table}"
        );
        let mut windows = WindowCollector::default();
        if let ControlFlow::Break(e) = query.visit(&mut windows) {
            panic!("q{q}.sql: {e}");
        }
        windows_per_query.insert(q, window_names(&windows.0));
    }
    let with_windows: BTreeMap<_, _> = windows_per_query.into_iter().filter(|(_, w)| !w.is_empty()).collect();
    assert_eq!(
        with_windows,
        BTreeMap::from([
            (5, vec!["hop", "hop"]),
            (7, vec!["tumble"]),
            (8, vec!["tumble", "tumble"]),
            (11, vec!["session"]),
            (12, vec!["tumble"]),
        ])
    );
}

#[test]
fn there_are_exactly_the_23_queries() {
    let mut names: Vec<String> = std::fs::read_dir(queries_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".sql"))
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|n| {
        n.trim_start_matches('q')
            .trim_end_matches(".sql")
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    let expected: Vec<String> = (0..=22).map(|q| format!("q{q}.sql")).collect();
    assert_eq!(names, expected);
}
