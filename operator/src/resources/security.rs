//! A check of a pod against the restricted Pod Security Standard (which includes the baseline
//! one), as far as the operator's pods can violate it. The builders' tests run every built pod
//! through it; the operator could also refuse to apply a pod that fails it.
//!
//! Checked: no host namespaces, host ports, privileged containers or volume types beyond the
//! restricted list (so no hostPath); `runAsNonRoot` true and `runAsUser` not 0 (pod or
//! container); `allowPrivilegeEscalation` false; capabilities drop `ALL` and add nothing but
//! `NET_BIND_SERVICE`; a seccomp profile `RuntimeDefault` or `Localhost` (pod or container).

use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, PodSpec, SeccompProfile, SecurityContext,
};

/// The user and group every container of a job runs as.
pub const RUN_AS: i64 = 10001;

/// The main container's security context: no privilege escalation, no capabilities, a
/// read-only root filesystem.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        ..SecurityContext::default()
    }
}

/// The pod security context: non-root user and group [`RUN_AS`], seccomp `RuntimeDefault`.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// Volume types the restricted standard allows.
const ALLOWED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn seccomp_ok(type_: &str) -> bool {
    matches!(type_, "RuntimeDefault" | "Localhost")
}

/// What in `pod` breaks the restricted Pod Security Standard, one line per violation, each
/// starting with the field path (`spec.containers[0].securityContext...`); empty if nothing does.
pub fn restricted_violations(pod: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (flag, field) in [
        (pod.host_network, "hostNetwork"),
        (pod.host_pid, "hostPID"),
        (pod.host_ipc, "hostIPC"),
    ] {
        if flag == Some(true) {
            out.push(format!("spec.{field}: must not be true"));
        }
    }
    for (i, volume) in pod.volumes.iter().flatten().enumerate() {
        let value = serde_json::to_value(volume).unwrap_or_default();
        let types = value
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
            .filter(|k| *k != "name");
        for type_ in types.filter(|t| !ALLOWED_VOLUMES.contains(&t.as_str())) {
            out.push(format!("spec.volumes[{i}].{type_}: volume type not allowed"));
        }
    }
    let pod_sc = pod.security_context.as_ref();
    let pod_non_root = pod_sc.and_then(|s| s.run_as_non_root);
    let pod_seccomp = pod_sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str());
    if pod_sc.and_then(|s| s.run_as_user) == Some(0) {
        out.push("spec.securityContext.runAsUser: must not be 0".into());
    }
    if pod_seccomp.is_some_and(|t| !seccomp_ok(t)) {
        out.push("spec.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost".into());
    }
    let containers: [(&str, &[Container]); 2] = [
        ("containers", &pod.containers),
        ("initContainers", pod.init_containers.as_deref().unwrap_or_default()),
    ];
    for (kind, list) in containers {
        for (i, c) in list.iter().enumerate() {
            let path = format!("spec.{kind}[{i}]");
            container_violations(&path, c, pod_non_root, pod_seccomp, &mut out);
        }
    }
    out
}

fn container_violations(
    path: &str,
    c: &Container,
    pod_non_root: Option<bool>,
    pod_seccomp: Option<&str>,
    out: &mut Vec<String>,
) {
    let default = SecurityContext::default();
    let sc = c.security_context.as_ref().unwrap_or(&default);
    let at = format!("{path}.securityContext");
    if sc.privileged == Some(true) {
        out.push(format!("{at}.privileged: must not be true"));
    }
    if sc.allow_privilege_escalation != Some(false) {
        out.push(format!("{at}.allowPrivilegeEscalation: must be false"));
    }
    if sc.run_as_non_root.or(pod_non_root) != Some(true) {
        out.push(format!("{at}.runAsNonRoot: must be true (here or in the pod)"));
    }
    if sc.run_as_user == Some(0) {
        out.push(format!("{at}.runAsUser: must not be 0"));
    }
    match sc.seccomp_profile.as_ref().map(|p| p.type_.as_str()).or(pod_seccomp) {
        Some(t) if seccomp_ok(t) => {}
        _ => out.push(format!(
            "{at}.seccompProfile.type: must be RuntimeDefault or Localhost (here or in the pod)"
        )),
    }
    let caps = sc.capabilities.as_ref();
    if !caps
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    {
        out.push(format!("{at}.capabilities.drop: must contain ALL"));
    }
    for add in caps.and_then(|c| c.add.as_ref()).into_iter().flatten() {
        if add != "NET_BIND_SERVICE" {
            out.push(format!("{at}.capabilities.add: {add} is not allowed"));
        }
    }
    for (j, port) in c.ports.iter().flatten().enumerate() {
        if port.host_port.is_some_and(|p| p != 0) {
            out.push(format!("{path}.ports[{j}].hostPort: must not be set"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, HostPathVolumeSource, Volume};

    fn good_container() -> Container {
        Container {
            name: "main".into(),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    add: Some(vec!["NET_BIND_SERVICE".into()]),
                }),
                ..SecurityContext::default()
            }),
            ..Container::default()
        }
    }

    fn good_pod() -> PodSpec {
        PodSpec {
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..PodSecurityContext::default()
            }),
            containers: vec![good_container()],
            ..PodSpec::default()
        }
    }

    #[test]
    fn a_restricted_pod_passes() {
        assert_eq!(restricted_violations(&good_pod()), Vec::<String>::new());
    }

    #[test]
    fn each_violation_is_reported_with_its_path() {
        let mut pod = good_pod();
        pod.host_network = Some(true);
        pod.host_pid = Some(true);
        pod.host_ipc = Some(true);
        pod.volumes = Some(vec![Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource {
                path: "/".into(),
                type_: None,
            }),
            ..Volume::default()
        }]);
        pod.security_context = Some(PodSecurityContext {
            run_as_user: Some(0),
            ..PodSecurityContext::default()
        });
        let mut bad = good_container();
        bad.security_context = Some(SecurityContext {
            privileged: Some(true),
            allow_privilege_escalation: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["NET_RAW".into()]),
                add: Some(vec!["SYS_ADMIN".into()]),
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "Unconfined".into(),
                localhost_profile: None,
            }),
            ..SecurityContext::default()
        });
        bad.ports = Some(vec![ContainerPort {
            container_port: 80,
            host_port: Some(80),
            ..ContainerPort::default()
        }]);
        pod.init_containers = Some(vec![Container {
            name: "init".into(),
            ..Container::default()
        }]);
        pod.containers = vec![bad];
        let c = "spec.containers[0]";
        let i = "spec.initContainers[0].securityContext";
        let want = vec![
            "spec.hostNetwork: must not be true".to_string(),
            "spec.hostPID: must not be true".into(),
            "spec.hostIPC: must not be true".into(),
            "spec.volumes[0].hostPath: volume type not allowed".into(),
            "spec.securityContext.runAsUser: must not be 0".into(),
            format!("{c}.securityContext.privileged: must not be true"),
            format!("{c}.securityContext.allowPrivilegeEscalation: must be false"),
            format!("{c}.securityContext.runAsNonRoot: must be true (here or in the pod)"),
            format!(
                "{c}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost (here or in the pod)"
            ),
            format!("{c}.securityContext.capabilities.drop: must contain ALL"),
            format!("{c}.securityContext.capabilities.add: SYS_ADMIN is not allowed"),
            format!("{c}.ports[0].hostPort: must not be set"),
            format!("{i}.allowPrivilegeEscalation: must be false"),
            format!("{i}.runAsNonRoot: must be true (here or in the pod)"),
            format!("{i}.seccompProfile.type: must be RuntimeDefault or Localhost (here or in the pod)"),
            format!("{i}.capabilities.drop: must contain ALL"),
        ];
        assert_eq!(restricted_violations(&pod), want);
    }

    #[test]
    fn container_settings_override_the_pod() {
        let mut pod = good_pod();
        let sc = pod.containers[0].security_context.as_mut().unwrap();
        sc.run_as_non_root = Some(false);
        sc.seccomp_profile = Some(SeccompProfile {
            type_: "Localhost".into(),
            localhost_profile: Some("p.json".into()),
        });
        assert_eq!(
            restricted_violations(&pod),
            ["spec.containers[0].securityContext.runAsNonRoot: must be true (here or in the pod)"]
        );
    }
}
