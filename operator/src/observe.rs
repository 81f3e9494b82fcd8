//! Observe: reads the job's objects, its HA Lease and the coordinator's REST status into an
//! [`Observation`]. It never changes anything; failures to reach the coordinator are part of
//! the observation (the job may be starting or gone), failures of the Kubernetes API are
//! errors (the pass is retried).

use crate::context::Context;
use crate::coordinator_client::{CheckpointStatus, SavepointStatus};
use crate::crd::StreamJob;
use crate::decide::{JobObservation, JobState, LeaseObservation, Observation, SavepointObservation};
use crate::error::{Error, Result};
use crate::resources::names;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::ResourceExt;

/// Gathers everything `decide` needs about `job`.
pub async fn observe(ctx: &Context, job: &StreamJob) -> Result<Observation> {
    let name = job.name_any();
    let namespace = job.namespace().ok_or(Error::MissingNamespace)?;
    let client = ctx.client.clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let leases: Api<Lease> = Api::namespaced(client, &namespace);

    let coordinator_exists = deployments.get_opt(&names::coordinator(&name)).await?.is_some();
    let workers_exist = statefulsets.get_opt(&names::workers(&name)).await?.is_some();
    let selector = format!("freshet.dev/job={name},app.kubernetes.io/component in (coordinator,worker)");
    let pod_count = pods
        .list_metadata(&ListParams::default().labels(&selector))
        .await?
        .items
        .len();
    let lease = leases.get_opt(&names::ha_lease(&name)).await?.map(|l| read_lease(&l));

    let mut observation = Observation {
        coordinator_exists,
        workers_exist,
        pods: i32::try_from(pod_count).unwrap_or(i32::MAX),
        lease: lease.as_ref().map(|(l, _)| l.clone()),
        job: None,
        unreachable: None,
        savepoint: None,
    };
    let job_id = lease.as_ref().and_then(|(_, id)| id.clone()).or_else(|| {
        job.status
            .as_ref()
            .and_then(|s| s.job.as_ref())
            .and_then(|j| j.id.clone())
    });
    let rest_url = observation.lease.as_ref().and_then(|l| l.rest_url.clone());
    if let (true, Some(url), Some(id)) = (coordinator_exists, rest_url, job_id) {
        ask_coordinator(ctx, job, &url, &id, &mut observation).await;
    }
    Ok(observation)
}

/// The Lease's facts, and the job id its metadata records.
fn read_lease(lease: &Lease) -> (LeaseObservation, Option<String>) {
    match freshet_ha::lease_mapping::lease_to_record(lease) {
        Ok(versioned) => {
            let record = versioned.record;
            let observation = LeaseObservation {
                rest_url: record.leader.map(|l| l.rest).filter(|r| !r.is_empty()),
                latest_checkpoint: record.metadata.latest_checkpoint.map(|p| (p.id.0 as i64, p.path)),
                job_ended: record.metadata.job_ended,
            };
            (observation, record.metadata.job_id)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the HA Lease cannot be read; treating it as empty");
            (LeaseObservation::default(), None)
        }
    }
}

/// Asks the leader for the job, its checkpoints and the savepoint in flight.
async fn ask_coordinator(ctx: &Context, job: &StreamJob, url: &str, id: &str, observation: &mut Observation) {
    let details = match ctx.coordinator.job(url, id).await {
        Ok(d) => d,
        Err(e) => {
            observation.unreachable = Some(e.to_string());
            return;
        }
    };
    let latest_checkpoint = match ctx.coordinator.checkpoints(url, id).await {
        Ok(view) => view
            .latest_completed
            .filter(|c| c.status == CheckpointStatus::Completed)
            .and_then(|c| c.path.map(|p| (c.id as i64, p))),
        Err(e) => {
            tracing::debug!(error = %e, "no checkpoint statistics");
            None
        }
    };
    let state = JobState::parse(details.state.as_str());
    let Some(state) = state else {
        observation.unreachable = Some(format!(
            "the coordinator reports an unknown state {}",
            details.state.as_str()
        ));
        return;
    };
    observation.job = Some(JobObservation {
        id: details.id.clone(),
        state,
        restarts: details.restarts as i64,
        last_failure: details.last_failure.clone(),
        message: details.status_message.clone(),
        latest_checkpoint,
    });
    let trigger = job
        .status
        .as_ref()
        .and_then(|s| s.operation.as_ref())
        .and_then(|o| o.trigger_id.clone());
    if let Some(trigger) = trigger {
        observation.savepoint = Some(match ctx.coordinator.savepoint_status(url, id, &trigger).await {
            Ok(SavepointStatus::InProgress) => SavepointObservation::InProgress,
            Ok(SavepointStatus::Completed { location }) => SavepointObservation::Completed(location),
            Ok(SavepointStatus::Failed { reason }) => SavepointObservation::Failed(reason),
            Err(e) => {
                tracing::debug!(error = %e, "savepoint status unknown");
                SavepointObservation::Unknown
            }
        });
    }
}
