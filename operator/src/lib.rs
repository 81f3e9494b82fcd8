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
//! - [`decide`]: the pure decision: (spec, status, observation, now) -> next step.
#![warn(missing_docs)]

pub mod act;
pub mod context;
pub mod controller;
pub mod crd;
pub mod decide;
pub mod error;
pub mod observe;
pub mod validate;
