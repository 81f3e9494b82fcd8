//! Integration tests of freshet-ha: the HA contract against both stores, and what is specific
//! to the Kubernetes Lease (its JSON in the API server, owner references, server-side fencing).

mod contract;
mod harness;
mod kubernetes;
mod mock_apiserver;
