//! Act: carries out a [`Decision`]. The status is written first (server-side apply of the
//! status subresource under one field manager), then events are recorded, then the action is
//! taken; a savepoint trigger's id is written back into the status at once.

use crate::context::{Context, FIELD_MANAGER};
use crate::crd::{StreamJob, StreamJobStatus};
use crate::decide::{Action, Decision, Disposal};
use crate::error::{Error, Result};
use crate::resources::{job_objects, names};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// Writes the decision's status, records its events and takes its action. `ReleaseFinalizer`
/// is left to the controller.
pub async fn act(ctx: &Context, job: &StreamJob, decision: &Decision) -> Result<()> {
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let name = job.name_any();
    let mut status = decision.status.clone();
    status.selector = Some(names::worker_selector(&name));
    write_status(ctx, &namespace, &name, &status).await?;
    record_events(ctx, job, decision).await;
    match &decision.action {
        Action::None | Action::ReleaseFinalizer => {}
        Action::Deploy {
            spec,
            restore_from,
            reset_ha,
        } => {
            if *reset_ha {
                let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), &namespace);
                delete_if_exists(&leases, &names::ha_lease(&name)).await?;
            }
            let objects = job_objects(job, spec, restore_from.as_deref())?;
            apply(ctx, &namespace, &objects.config_map).await?;
            apply(ctx, &namespace, &objects.service_account).await?;
            apply(ctx, &namespace, &objects.role).await?;
            apply(ctx, &namespace, &objects.role_binding).await?;
            apply(ctx, &namespace, &objects.coordinator_service).await?;
            apply(ctx, &namespace, &objects.worker_service).await?;
            for budget in &objects.disruption_budgets {
                apply(ctx, &namespace, budget).await?;
            }
            apply(ctx, &namespace, &objects.coordinator).await?;
            apply(ctx, &namespace, &objects.workers).await?;
        }
        Action::TriggerSavepoint {
            rest_url,
            job_id,
            directory,
            stop,
        } => {
            let trigger = ctx
                .coordinator
                .trigger_savepoint(rest_url, job_id, directory.as_deref(), *stop)
                .await?;
            tracing::info!(job = %name, %trigger, stop, "savepoint triggered");
            if let Some(op) = status.operation.as_mut() {
                op.trigger_id = Some(trigger);
            }
            write_status(ctx, &namespace, &name, &status).await?;
        }
        Action::TearDown => {
            let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
            let statefulsets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &namespace);
            delete_if_exists(&deployments, &names::coordinator(&name)).await?;
            delete_if_exists(&statefulsets, &names::workers(&name)).await?;
        }
    }
    if let Some(disposal) = &decision.dispose {
        if dispose_savepoints(ctx, &name, disposal, &mut status).await {
            write_status(ctx, &namespace, &name, &status).await?;
        }
    }
    Ok(())
}

/// Disposes the queued savepoints through the leader; each one done (or that is no savepoint
/// any more) leaves `status.savepointsToDispose`. Returns whether the status changed.
async fn dispose_savepoints(ctx: &Context, job: &str, disposal: &Disposal, status: &mut StreamJobStatus) -> bool {
    let before = status.savepoints_to_dispose.len();
    for location in &disposal.locations {
        match ctx
            .coordinator
            .dispose_savepoint(&disposal.rest_url, &disposal.job_id, location)
            .await
        {
            Ok(()) => tracing::info!(%job, %location, "savepoint disposed"),
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 400) => {
                tracing::warn!(%job, %location, error = %e, "not disposable; dropped from the queue");
            }
            Err(e) => {
                tracing::warn!(%job, %location, error = %e, "savepoint disposal failed; retried on a later pass");
                continue;
            }
        }
        status.savepoints_to_dispose.retain(|l| l != location);
    }
    status.savepoints_to_dispose.len() != before
}

/// Server-side applies the status.
pub async fn write_status(ctx: &Context, namespace: &str, name: &str, status: &StreamJobStatus) -> Result<()> {
    let api: Api<StreamJob> = Api::namespaced(ctx.client.clone(), namespace);
    let body = serde_json::json!({
        "apiVersion": StreamJob::api_version(&()),
        "kind": StreamJob::kind(&()),
        "status": status,
    });
    api.patch_status(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

/// Server-side applies one owned object.
async fn apply<K>(ctx: &Context, namespace: &str, object: &K) -> Result<()>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let name = object.meta().name.clone().unwrap_or_default();
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(object))
        .await?;
    Ok(())
}

/// Deletes an object; one that is already gone is fine.
async fn delete_if_exists<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Records the decision's events; a failure to record is logged, never fatal.
async fn record_events(ctx: &Context, job: &StreamJob, decision: &Decision) {
    let reference = job.object_ref(&());
    for note in &decision.events {
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.to_string(),
            note: Some(note.note.clone()),
            // The action tells events of one reason apart: kube's recorder folds events with
            // the same (type, reason, action) into one series that keeps the first note.
            action: action_name(&decision.action).into(),
            secondary: None,
        };
        tracing::info!(job = %job.name_any(), reason = note.reason, note = %note.note, "event");
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, "could not record an event");
        }
    }
}

/// A short name of an action, for events.
fn action_name(action: &Action) -> &'static str {
    match action {
        Action::None => "Observe",
        Action::Deploy { .. } => "Deploy",
        Action::TriggerSavepoint { stop: true, .. } => "StopWithSavepoint",
        Action::TriggerSavepoint { stop: false, .. } => "TriggerSavepoint",
        Action::TearDown => "TearDown",
        Action::ReleaseFinalizer => "ReleaseFinalizer",
    }
}
