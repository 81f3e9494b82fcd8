//! Freshet's cluster protocol: the versioned protobuf API between the coordinator and its
//! workers (control plane) and between workers (data plane).
