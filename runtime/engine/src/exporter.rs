//! The Prometheus `/metrics` endpoint: renders the job's counters ([`JobMetrics`]) and recorded
//! status ([`JobStatus`]) in the text exposition format at scrape time. The engine counts with
//! plain atomics per batch; nothing here runs on the data path.
//!
//! Every metric, its type, labels and unit is listed in `docs/operations.md`.

use crate::deployment::Deployer;
use crate::executor::Executor;
use crate::metrics::JobMetrics;
use crate::status::{self, JobStatus};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{extract::State, Router};
use prometheus::{CounterVec, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A metric could not be built, registered or encoded.
    #[error("prometheus: {0}")]
    Prometheus(#[from] prometheus::Error),
}

/// Labels of per-operator-subtask metrics.
const OPERATOR_LABELS: &[&str] = &["job_name", "operator_id", "operator", "subtask"];
/// Labels of per-task metrics.
const TASK_LABELS: &[&str] = &["job_name", "task", "subtask"];
/// Labels of per-job metrics.
const JOB_LABELS: &[&str] = &["job_name"];

/// Renders one job's metrics.
pub struct Exporter {
    metrics: Arc<JobMetrics>,
    status: Arc<JobStatus>,
}

struct Families {
    registry: Registry,
}

impl Families {
    fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, ExportError> {
        let c = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn seconds_counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<CounterVec, ExportError> {
        let c = CounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, ExportError> {
        let g = GaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(g.clone()))?;
        Ok(g)
    }

    fn int_gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntGaugeVec, ExportError> {
        let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(g.clone()))?;
        Ok(g)
    }
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

impl Exporter {
    /// The exporter of the job `executor` runs (or will run).
    pub fn new<D: Deployer>(executor: &Executor<D>) -> Self {
        Self::from_parts(executor.metrics(), executor.status())
    }

    /// The exporter of a job's counters and status.
    pub fn from_parts(metrics: Arc<JobMetrics>, status: Arc<JobStatus>) -> Self {
        Self { metrics, status }
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> Result<String, ExportError> {
        let f = Families {
            registry: Registry::new(),
        };
        let snapshot = self.status.snapshot();
        let job = snapshot.name.as_str();
        let now_ms = status::now_ms();

        let records_in = f.counter(
            "freshet_operator_records_in_total",
            "Records received by an operator subtask.",
            OPERATOR_LABELS,
        )?;
        let records_out = f.counter(
            "freshet_operator_records_out_total",
            "Records emitted by an operator subtask (main and side outputs).",
            OPERATOR_LABELS,
        )?;
        let bytes_in = f.counter(
            "freshet_operator_bytes_in_total",
            "In-memory Arrow size of the batches received by an operator subtask.",
            OPERATOR_LABELS,
        )?;
        let bytes_out = f.counter(
            "freshet_operator_bytes_out_total",
            "In-memory Arrow size of the batches emitted by an operator subtask.",
            OPERATOR_LABELS,
        )?;
        let watermark = f.gauge(
            "freshet_operator_watermark_seconds",
            "Current input watermark of an operator subtask (seconds since the epoch).",
            OPERATOR_LABELS,
        )?;
        let watermark_lag = f.gauge(
            "freshet_operator_watermark_lag_seconds",
            "Wall-clock time minus the current input watermark of an operator subtask.",
            OPERATOR_LABELS,
        )?;
        for e in self.metrics.operators.lock().iter() {
            let subtask = e.subtask.to_string();
            let labels = [job, e.uid.as_str(), e.name.as_str(), subtask.as_str()];
            let m = &e.metrics;
            records_in
                .with_label_values(&labels)
                .inc_by(m.records_in.load(Ordering::Relaxed));
            records_out
                .with_label_values(&labels)
                .inc_by(m.records_out.load(Ordering::Relaxed));
            bytes_in
                .with_label_values(&labels)
                .inc_by(m.bytes_in.load(Ordering::Relaxed));
            bytes_out
                .with_label_values(&labels)
                .inc_by(m.bytes_out.load(Ordering::Relaxed));
            if let Some(w) = m.current_watermark() {
                watermark.with_label_values(&labels).set(w as f64 / 1e3);
                watermark_lag.with_label_values(&labels).set((now_ms - w) as f64 / 1e3);
            }
        }

        let busy = f.seconds_counter(
            "freshet_task_busy_seconds_total",
            "Time a task spent processing (source polls and operator calls).",
            TASK_LABELS,
        )?;
        let backpressured = f.seconds_counter(
            "freshet_task_backpressured_seconds_total",
            "Time a task spent waiting for downstream channel capacity.",
            TASK_LABELS,
        )?;
        let batches_out = f.counter(
            "freshet_task_batches_out_total",
            "Batches a task sent downstream.",
            TASK_LABELS,
        )?;
        let alignment = f.gauge(
            "freshet_task_checkpoint_alignment_seconds",
            "Barrier alignment time of a task's last checkpoint (first barrier to last).",
            TASK_LABELS,
        )?;
        for e in self.metrics.tasks.lock().iter() {
            let subtask = e.subtask.to_string();
            let labels = [job, e.name.as_str(), subtask.as_str()];
            let m = &e.metrics;
            busy.with_label_values(&labels)
                .inc_by(seconds(m.busy_ns.load(Ordering::Relaxed)));
            backpressured
                .with_label_values(&labels)
                .inc_by(seconds(m.backpressured_ns.load(Ordering::Relaxed)));
            batches_out
                .with_label_values(&labels)
                .inc_by(m.batches_out.load(Ordering::Relaxed));
            alignment
                .with_label_values(&labels)
                .set(seconds(m.last_alignment_ns.load(Ordering::Relaxed)));
        }

        let labels = [job];
        f.gauge("freshet_job_uptime_seconds", "Time since the job started.", JOB_LABELS)?
            .with_label_values(&labels)
            .set(snapshot.duration_ms(now_ms) as f64 / 1e3);
        f.int_gauge("freshet_job_running", "1 while the job is RUNNING, else 0.", JOB_LABELS)?
            .with_label_values(&labels)
            .set(i64::from(snapshot.state == crate::status::JobState::Running));
        f.counter(
            "freshet_job_restarts_total",
            "Restarts of the job after failures.",
            JOB_LABELS,
        )?
        .with_label_values(&labels)
        .inc_by(u64::from(snapshot.restarts));
        f.counter(
            "freshet_checkpoints_completed_total",
            "Completed checkpoints and savepoints.",
            JOB_LABELS,
        )?
        .with_label_values(&labels)
        .inc_by(snapshot.completed);
        f.counter(
            "freshet_checkpoints_failed_total",
            "Failed checkpoints and savepoints.",
            JOB_LABELS,
        )?
        .with_label_values(&labels)
        .inc_by(snapshot.failed);
        f.int_gauge(
            "freshet_checkpoints_in_progress",
            "Checkpoints and savepoints in progress.",
            JOB_LABELS,
        )?
        .with_label_values(&labels)
        .set(snapshot.in_progress() as i64);
        let last_duration = f.gauge(
            "freshet_checkpoint_last_duration_seconds",
            "Duration of the last completed checkpoint or savepoint (trigger to completion).",
            JOB_LABELS,
        )?;
        let last_size = f.gauge(
            "freshet_checkpoint_last_size_bytes",
            "Size of the last completed checkpoint or savepoint.",
            JOB_LABELS,
        )?;
        let state_size = f.gauge(
            "freshet_state_size_bytes",
            "Size of the job's keyed state in its last completed checkpoint or savepoint.",
            JOB_LABELS,
        )?;
        if let Some(last) = snapshot.latest_completed() {
            last_duration
                .with_label_values(&labels)
                .set(last.duration_ms.unwrap_or(0) as f64 / 1e3);
            let size = last.size_bytes.unwrap_or(0) as f64;
            last_size.with_label_values(&labels).set(size);
            state_size.with_label_values(&labels).set(size);
        }

        Ok(TextEncoder::new().encode_to_string(&f.registry.gather())?)
    }
}

async fn scrape(State(exporter): State<Arc<Exporter>>) -> Response {
    match exporter.render() {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A router serving `GET /metrics`.
pub fn router(exporter: Arc<Exporter>) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(exporter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::{CheckpointId, CheckpointKind};

    #[test]
    fn renders_counters_watermarks_and_the_last_checkpoint() {
        let metrics = Arc::new(JobMetrics::default());
        let status = Arc::new(JobStatus::new());
        status.set_graph("demo", Vec::new());
        let op = metrics.register_operator("agg-1", "window \"agg\"", 0);
        op.count_in(7, 700);
        op.watermark.store(status::now_ms() - 2_000, Ordering::Relaxed);
        metrics
            .register_task("src -> agg", vec!["agg-1".into()], 0, 0)
            .busy_ns
            .store(1_500_000_000, Ordering::Relaxed);
        status.checkpoint_triggered(CheckpointId(1), CheckpointKind::Checkpoint, 1_000);
        status.checkpoint_completed(
            CheckpointId(1),
            CheckpointKind::Checkpoint,
            1_000,
            "p".into(),
            4096,
            1_500,
        );
        let text = Exporter::from_parts(metrics, status).render().unwrap();
        assert!(
            text.contains("# TYPE freshet_operator_records_in_total counter"),
            "{text}"
        );
        assert!(
            text.contains(r#"freshet_operator_records_in_total{job_name="demo",operator="window \"agg\"",operator_id="agg-1",subtask="0"} 7"#),
            "{text}"
        );
        assert!(
            text.contains(r#"freshet_task_busy_seconds_total{job_name="demo",subtask="0",task="src -> agg"} 1.5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"freshet_checkpoint_last_size_bytes{job_name="demo"} 4096"#),
            "{text}"
        );
        assert!(
            text.contains(r#"freshet_checkpoint_last_duration_seconds{job_name="demo"} 0.5"#),
            "{text}"
        );
        let lag_line = text
            .lines()
            .find(|l| l.starts_with("freshet_operator_watermark_lag_seconds{"))
            .expect("a lag");
        let lag: f64 = lag_line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((1.9..10.0).contains(&lag), "{lag_line}");
    }
}
