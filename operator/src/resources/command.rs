//! What the coordinator's and the workers' command lines share: the shape of a command and the
//! HA flags (both find each other through the Lease `N-ha` in the job's namespace).

use super::names;
use super::owner::JobMeta;

/// A container's `command` and `args`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerCommand {
    /// The executable and its leading words (`command`, replacing the image's entrypoint).
    pub command: Vec<String>,
    /// The arguments (`args`); `$(POD_IP)` and `$(POD_NAME)` are expanded by the kubelet.
    pub args: Vec<String>,
}

/// `--ha kubernetes --ha-lease-name N-ha --ha-namespace NS`.
pub fn ha_flags(meta: &JobMeta) -> [String; 6] {
    [
        "--ha".into(),
        "kubernetes".into(),
        "--ha-lease-name".into(),
        names::ha_lease(&meta.name),
        "--ha-namespace".into(),
        meta.namespace.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    #[test]
    fn ha_flags_name_lease_and_namespace() {
        let meta = JobMeta::of(&fixtures::sql_job()).unwrap();
        assert_eq!(
            ha_flags(&meta).join(" "),
            "--ha kubernetes --ha-lease-name orders-ha --ha-namespace data"
        );
    }
}
