//! # freshet-operator
//!
//! The Kubernetes operator for Freshet: the `StreamJob` custom resource and the controller that
//! turns it into a running job (a coordinator Deployment, worker pods, their Services, RBAC and
//! configuration) and drives its lifecycle: deploy, upgrade per `upgradeMode`, rescale,
//! suspend and resume, savepoints, recovery, rollback and deletion.
//!
//! It sits above the runtime and talks to it only through the coordinator's REST API and the
//! HA record each job's coordinators keep in a Kubernetes Lease (`<name>-ha`, read with
//! `freshet-ha`); it never links the engine.
//!
//! - [`crd`]: the resource's types; the CRD is generated from them.
//! - [`validate`]: checks of a spec beyond the schema, with field paths.
//! - [`observe`]: reads objects, the HA Lease and the coordinator's REST status; never acts.
//! - [`decide`]: the pure decision: (spec, status, observation, now) -> next step.
//! - [`act`]: writes the status first, then applies the step (server-side apply, events).
//! - [`resources`]: the owned objects built from a spec (pure).
//! - [`controller`]: the watch loop, finalizer and error policy; [`context`], [`error`].
//! - [`coordinator_client`], [`metrics`], [`election`], [`server`], [`cli`]: the REST client of
//!   coordinators, the operator's metrics, its leader election, health/metrics endpoints and
//!   the `run` options.
//! - [`render`]: `freshet-operator render`, the objects of a manifest without a cluster.
//! - [`permissions`]: the API rights the operator needs (the chart's RBAC is checked against it).
#![warn(missing_docs)]

pub mod act;
pub mod cli;
pub mod context;
pub mod controller;
pub mod coordinator_client;
pub mod crd;
pub mod decide;
pub mod election;
pub mod error;
pub mod metrics;
pub mod observe;
pub mod permissions;
pub mod render;
pub mod resources;
pub mod server;
pub mod validate;
