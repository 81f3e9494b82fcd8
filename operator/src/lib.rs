//! # freshet-operator
//!
//! The Kubernetes operator for Freshet: the `StreamJob` custom resource and the controller that
//! turns it into a running job (a coordinator Deployment, worker pods, their Services, RBAC and
//! configuration) and drives its lifecycle: deploy, upgrade per `upgradeMode`, rescale,
//! suspend and resume, savepoints, recovery, rollback and deletion.
//!
//! It sits above the runtime and talks to it only through the coordinator's REST API and the
//! HA record in a Kubernetes Lease (`freshet-ha`); it never links the engine.
//!
//! - [`crd`]: the resource's types; the CRD is generated from them.
//! - [`validate`]: checks of a spec beyond the schema, with field paths.
//! - [`decide`]: the pure decision: (spec, status, observation, now) -> next step.
//! - [`coordinator_client`]: the client of a coordinator's REST API.
//! - [`election`]: leader election among operator replicas on a Lease (`freshet-ha`).
//! - [`metrics`]: the operator's Prometheus metrics; [`server`]: `/metrics`, `/healthz`, `/readyz`.
//! - [`cli`]: the options of `freshet-operator run`.
#![warn(missing_docs)]

pub mod cli;
pub mod coordinator_client;
pub mod crd;
pub mod election;
pub mod metrics;
pub mod server;
