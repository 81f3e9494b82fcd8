//! The HTTP surfaces of `freshet run` through the real binary on loopback: the REST API
//! (`rest`) and the Prometheus endpoint (`metrics`).

pub mod client;
pub mod metrics;
pub mod rest;
