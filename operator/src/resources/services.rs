//! The Services: `N-coordinator` (ClusterIP: RPC for workers, REST for the operator, metrics)
//! and the headless `N-worker` the StatefulSet requires.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{self, Component};
use super::names;
use super::owner::JobMeta;

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port: number,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// The coordinator's ClusterIP Service `N-coordinator`.
pub fn coordinator_service(meta: &JobMeta) -> Service {
    Service {
        metadata: meta.object_meta(names::coordinator(&meta.name), Component::Coordinator),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels::selector(&meta.name, Component::Coordinator)),
            ports: Some(vec![
                port("rpc", names::RPC_PORT),
                port("rest", names::REST_PORT),
                port("metrics", names::METRICS_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The workers' headless Service `N-worker` (the StatefulSet's `serviceName`).
pub fn worker_service(meta: &JobMeta) -> Service {
    Service {
        metadata: meta.object_meta(names::workers(&meta.name), Component::Worker),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(labels::selector(&meta.name, Component::Worker)),
            ports: Some(vec![
                port("data", names::WORKER_PORT),
                port("metrics", names::METRICS_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    #[test]
    fn services_select_their_pods_and_name_ports() {
        let meta = JobMeta::of(&fixtures::sql_job()).unwrap();
        let cases = [
            (
                coordinator_service(&meta),
                "orders-coordinator",
                Some("ClusterIP"),
                None,
                "coordinator",
                vec![("rpc", 6123), ("rest", 8081), ("metrics", 9249)],
            ),
            (
                worker_service(&meta),
                "orders-worker",
                None,
                Some("None"),
                "worker",
                vec![("data", 6124), ("metrics", 9249)],
            ),
        ];
        for (service, name, type_, cluster_ip, component, ports) in cases {
            assert_eq!(service.metadata.name.as_deref(), Some(name));
            let spec = service.spec.unwrap();
            assert_eq!(spec.type_.as_deref(), type_);
            assert_eq!(spec.cluster_ip.as_deref(), cluster_ip);
            let selector = spec.selector.unwrap();
            assert_eq!(selector["app.kubernetes.io/component"], component);
            assert_eq!(selector["freshet.dev/job"], "orders");
            let got: Vec<(String, i32)> = spec
                .ports
                .unwrap()
                .into_iter()
                .map(|p| (p.name.unwrap(), p.port))
                .collect();
            let want: Vec<(String, i32)> = ports.into_iter().map(|(n, p)| (n.to_string(), p)).collect();
            assert_eq!(got, want);
        }
    }
}
