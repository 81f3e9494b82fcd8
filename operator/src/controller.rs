//! The controller: watches StreamJobs (and the Deployments and StatefulSets they own) and runs
//! one reconcile pass per change or requeue: finalizer, validate, observe, decide, act.

use crate::act::act;
use crate::context::{Context, FINALIZER};
use crate::crd::StreamJob;
use crate::decide::{decide, Action, DecideInput};
use crate::error::{Error, Result};
use crate::observe::observe;
use crate::validate;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::sync::Arc;

/// Runs controllers for `namespaces` (all namespaces when empty) until the streams end.
pub async fn run(ctx: Arc<Context>, namespaces: Vec<String>) {
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.into_iter().map(Some).collect()
    };
    let controllers = scopes.into_iter().map(|scope| {
        let client = ctx.client.clone();
        let (jobs, deployments, statefulsets): (Api<StreamJob>, Api<Deployment>, Api<StatefulSet>) = match &scope {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client, ns),
            ),
            None => (Api::all(client.clone()), Api::all(client.clone()), Api::all(client)),
        };
        let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=freshet-operator");
        Controller::new(jobs, watcher::Config::default())
            .owns(deployments, owned.clone())
            .owns(statefulsets, owned)
            .shutdown_on_signal()
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "reconcile stream");
                }
            })
    });
    futures::future::join_all(controllers).await;
}

/// One reconcile pass.
pub async fn reconcile(job: Arc<StreamJob>, ctx: Arc<Context>) -> Result<Requeue> {
    let _timer = ctx.metrics.start_reconcile();
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let name = job.name_any();
    let key = format!("{namespace}/{name}");
    let deleting = job.metadata.deletion_timestamp.is_some();
    let api: Api<StreamJob> = Api::namespaced(ctx.client.clone(), &namespace);
    if !deleting && !job.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(&api, &job).await?;
        return Ok(Requeue::requeue(std::time::Duration::from_millis(100)));
    }
    if deleting && !job.finalizers().iter().any(|f| f == FINALIZER) {
        ctx.metrics.set_job_phase(&key, None);
        return Ok(Requeue::await_change());
    }
    let observed = observe(&ctx, &job).await?;
    let status = job.status.clone().unwrap_or_default();
    let decision = decide(&DecideInput {
        spec: &job.spec,
        generation: job.metadata.generation.unwrap_or(0),
        deleting,
        spec_error: validate::check(&job.spec),
        status: &status,
        observed: &observed,
        now: chrono::Utc::now(),
    });
    tracing::debug!(job = %key, action = ?decision.action, phase = ?decision.status.phase, "decided");
    act(&ctx, &job, &decision).await?;
    for outcome in &decision.outcomes {
        let mut parts = outcome.split(':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("savepoint"), Some(kind), Some(result)) => ctx.metrics.count_savepoint(kind, result),
            (Some("upgrade"), Some(mode), Some(result)) => ctx.metrics.count_upgrade(mode, result),
            _ => {}
        }
    }
    if decision.action == Action::ReleaseFinalizer {
        // `act` just wrote the status, which changed the resourceVersion `job` was read at:
        // release against the StreamJob as it is now (gone already: nothing to release).
        if let Some(current) = api.get_opt(&name).await? {
            remove_finalizer(&api, &current).await?;
        }
        ctx.metrics.set_job_phase(&key, None);
        return Ok(Requeue::await_change());
    }
    ctx.metrics
        .set_job_phase(&key, decision.status.phase.map(|p| p.as_str()));
    ctx.metrics.count_reconcile("ok");
    Ok(Requeue::requeue(decision.requeue))
}

/// Counts the failure and chooses when to try again.
pub fn error_policy(job: Arc<StreamJob>, error: &Error, ctx: Arc<Context>) -> Requeue {
    tracing::warn!(job = %job.name_any(), error = %error, "reconcile failed");
    ctx.metrics.count_reconcile("error");
    ctx.metrics.count_reconcile_error(error.kind());
    Requeue::requeue(error.retry_after())
}

async fn add_finalizer(api: &Api<StreamJob>, job: &StreamJob) -> Result<()> {
    let mut finalizers = job.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers, "resourceVersion": job.resource_version()}});
    api.patch(&job.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

async fn remove_finalizer(api: &Api<StreamJob>, job: &StreamJob) -> Result<()> {
    let finalizers: Vec<String> = job.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers, "resourceVersion": job.resource_version()}});
    match api
        .patch(&job.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
