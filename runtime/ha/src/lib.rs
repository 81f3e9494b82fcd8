//! Coordinator high availability: leader election and the HA metadata (leader addresses, job
//! id, latest completed checkpoint), written with optimistic concurrency so that a deposed
//! leader cannot overwrite it.
