//! A sink that prints every row, like Flink's `print` connector: to stdout (or stderr, or any
//! writer, for tests), one line per row, as `+I[v1, v2, ...]` text or as a JSON object. Lines
//! are prefixed Flink's way: `identifier:subtask> ` with parallelism above 1 (subtask counted
//! from 1), `identifier> ` otherwise, or the subtask alone without an identifier. The prefix and
//! row rendering are public ([`line_prefix`], [`write_text_rows`], [`write_json_rows`]) for
//! printers of other streams, such as changelogs with their own row-kind markers.

use crate::options::OptionReader;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use freshet_core::{Error, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext, TaskInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

/// How a row is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintFormat {
    /// `+I[v1, v2, ...]` (nulls as `null`).
    #[default]
    Text,
    /// One JSON object per row.
    Json,
}

/// Configuration of the print sink.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrintConfig {
    /// Identifier at the start of each line.
    pub identifier: Option<String>,
    /// Text or JSON.
    pub format: PrintFormat,
    /// Print to stderr instead of stdout.
    pub standard_error: bool,
}

/// Option keys of [`PrintConfig::from_options`] (Flink's, plus `format`).
pub const PRINT_OPTIONS: &[&str] = &["print-identifier", "standard-error", "format"];

impl PrintConfig {
    /// Builds a config from `WITH` options.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        let r = OptionReader::new("print", options, PRINT_OPTIONS, |_| false)?;
        let mut c = Self {
            identifier: r.raw("print-identifier").map(str::to_string),
            standard_error: r.bool("standard-error")?.unwrap_or(false),
            ..Self::default()
        };
        if let Some(f) = r.raw("format") {
            c.format = match f.to_ascii_lowercase().as_str() {
                "text" => PrintFormat::Text,
                "json" => PrintFormat::Json,
                _ => return Err(r.invalid("format", f, "expected text or json")),
            };
        }
        Ok(c)
    }
}

/// The print sink.
pub struct PrintSink {
    config: PrintConfig,
    writer: Option<Box<dyn Write + Send>>,
    prefix: String,
    buf: Vec<u8>,
}

impl PrintSink {
    /// A sink printing to stdout (or stderr per the config).
    pub fn new(config: PrintConfig) -> Self {
        Self {
            config,
            writer: None,
            prefix: String::new(),
            buf: Vec::new(),
        }
    }

    /// A sink printing to `writer`.
    pub fn with_writer(config: PrintConfig, writer: Box<dyn Write + Send>) -> Self {
        Self {
            writer: Some(writer),
            ..Self::new(config)
        }
    }

    fn render(&mut self, batch: &RecordBatch) -> Result<()> {
        self.buf.clear();
        match self.config.format {
            PrintFormat::Text => write_text_rows(batch, &self.prefix, |_| "+I", &mut self.buf),
            PrintFormat::Json => write_json_rows(batch, &self.prefix, &mut self.buf),
        }
    }
}

/// Flink's line prefix for subtask `info`: `identifier:subtask> ` with parallelism above 1
/// (subtask counted from 1), `identifier> ` otherwise; without an identifier `subtask> ` with
/// parallelism above 1 and nothing otherwise.
pub fn line_prefix(identifier: Option<&str>, info: &TaskInfo) -> String {
    match (identifier, info.parallelism > 1) {
        (Some(id), true) => format!("{id}:{}> ", info.subtask.0 + 1),
        (Some(id), false) => format!("{id}> "),
        (None, true) => format!("{}> ", info.subtask.0 + 1),
        (None, false) => String::new(),
    }
}

/// Appends one text line per row of `batch` to `out`: `{prefix}{kind}[v1, v2, ...]` (nulls as
/// `null`), where `kind(row)` is the row's change marker (`+I` for an insert-only stream).
pub fn write_text_rows<'k>(
    batch: &RecordBatch,
    prefix: &str,
    kind: impl Fn(usize) -> &'k str,
    out: &mut Vec<u8>,
) -> Result<()> {
    let options = FormatOptions::default().with_null("null");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut line = String::new();
    for row in 0..batch.num_rows() {
        line.clear();
        line.push_str(prefix);
        line.push_str(kind(row));
        line.push('[');
        for (i, f) in formatters.iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            write!(line, "{}", f.value(row)).map_err(|e| Error::Internal(format!("print: formatting: {e}")))?;
        }
        line.push_str("]\n");
        out.extend_from_slice(line.as_bytes());
    }
    Ok(())
}

/// Appends one JSON object per row of `batch` to `out`, each line starting with `prefix`.
pub fn write_json_rows(batch: &RecordBatch, prefix: &str, out: &mut Vec<u8>) -> Result<()> {
    let mut json = arrow::json::LineDelimitedWriter::new(Vec::new());
    json.write(batch)?;
    json.finish()?;
    for line in json.into_inner().split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line);
    }
    Ok(())
}

impl Operator for PrintSink {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.prefix = line_prefix(self.config.identifier.as_deref(), ctx.info());
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Collector,
    ) -> Result<()> {
        self.render(&batch)?;
        let what = |e| Error::io("print sink: writing", e);
        match self.writer.as_mut() {
            Some(w) => {
                w.write_all(&self.buf).map_err(what)?;
                w.flush().map_err(what)
            }
            None if self.config.standard_error => std::io::stderr().lock().write_all(&self.buf).map_err(what),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&self.buf).map_err(what)?;
                out.flush().map_err(what)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{op_ctx, task_info};
    use arrow::array::{Int64Array, StringArray};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn printed(config: PrintConfig, subtask: u32, parallelism: u32) -> String {
        let out = Shared::default();
        let mut sink = PrintSink::with_writer(config, Box::new(out.clone()));
        let mut ctx = op_ctx(task_info(subtask, parallelism, "r"));
        sink.open(&mut ctx).expect("open");
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
            ("name", Arc::new(StringArray::from(vec![Some("a"), None])) as _),
        ])
        .expect("batch");
        sink.process_batch(0, batch, &mut ctx, &mut Collector::new())
            .expect("print");
        let bytes = out.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).expect("utf8")
    }

    #[test]
    fn text_rows_with_flink_prefixes() {
        assert_eq!(printed(PrintConfig::default(), 0, 1), "+I[1, a]\n+I[2, null]\n");
        let named = PrintConfig {
            identifier: Some("out".into()),
            ..PrintConfig::default()
        };
        assert_eq!(printed(named.clone(), 2, 4), "out:3> +I[1, a]\nout:3> +I[2, null]\n");
        assert_eq!(printed(named, 0, 1), "out> +I[1, a]\nout> +I[2, null]\n");
        assert_eq!(printed(PrintConfig::default(), 1, 2), "2> +I[1, a]\n2> +I[2, null]\n");
    }

    #[test]
    fn json_rows() {
        let cfg = PrintConfig::from_options(
            &[
                ("format".to_string(), "json".to_string()),
                ("print-identifier".to_string(), "p".to_string()),
            ]
            .into(),
        )
        .expect("options");
        assert_eq!(printed(cfg, 0, 1), "p> {\"id\":1,\"name\":\"a\"}\np> {\"id\":2}\n");
        assert!(PrintConfig::from_options(&[("format".to_string(), "xml".to_string())].into()).is_err());
    }
}
