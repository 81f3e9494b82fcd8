//! The options of `freshet-operator run` (the controller), as clap arguments whose doc
//! comments are the `--help`. Defaults that come from the pod (its namespace and name, via the
//! downward API) are resolved by [`RunOptions::lease_namespace_or`] and
//! [`RunOptions::identity_or_default`], so parsing stays independent of the environment.

use clap::{ArgAction, Args};
use std::net::SocketAddr;

/// The default Lease name for the operator's leader election.
pub const DEFAULT_LEASE_NAME: &str = "freshet-operator";

/// `freshet-operator run`: watch StreamJobs and reconcile them.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Watch StreamJobs in this namespace; repeat for several. Without it, every namespace.
    #[arg(long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,

    /// Where to serve /metrics (Prometheus), /healthz and /readyz.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Elect one active replica through a Lease, so several replicas can run with one
    /// reconciling; `false` for a single replica.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub leader_election: bool,

    /// The Lease the replicas elect their leader on.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_LEASE_NAME)]
    pub lease_name: String,

    /// The Lease's namespace [default: $POD_NAMESPACE, else the client's default namespace].
    #[arg(long, value_name = "NS")]
    pub lease_namespace: Option<String>,

    /// This replica's identity as the Lease holder [default: $POD_NAME, else the host name].
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,

    /// Log level or filter (`info`, `debug`, `freshet_operator=debug,kube=warn`); RUST_LOG
    /// wins when set.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub log_level: String,
}

impl RunOptions {
    /// The Lease's namespace: `--lease-namespace`, else `$POD_NAMESPACE`, else
    /// `client_default` (the Kubernetes client's namespace).
    pub fn lease_namespace_or(&self, client_default: &str) -> String {
        resolve(self.lease_namespace.as_deref(), "POD_NAMESPACE", env_var).unwrap_or_else(|| client_default.to_string())
    }

    /// The holder identity: `--identity`, else `$POD_NAME`, else the host name (`$HOSTNAME`,
    /// `/etc/hostname`), else `freshet-operator`.
    pub fn identity_or_default(&self) -> String {
        resolve(self.identity.as_deref(), "POD_NAME", env_var)
            .or_else(|| env_var("HOSTNAME"))
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_LEASE_NAME.to_string())
    }
}

/// `flag` if given and not empty, else the environment variable `var` if set and not empty.
fn resolve(flag: Option<&str>, var: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    flag.filter(|f| !f.is_empty()).map(str::to_string).or_else(|| env(var))
}

/// An environment variable, if set and not empty.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct Command {
        #[command(flatten)]
        run: RunOptions,
    }

    fn parse(args: &[&str]) -> Result<RunOptions, clap::Error> {
        Command::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|c| c.run)
    }

    #[test]
    fn parses_a_full_command_line() {
        let options = parse(&[
            "--namespace",
            "team-a",
            "--namespace=team-b",
            "--metrics-addr",
            "127.0.0.1:9090",
            "--leader-election",
            "false",
            "--lease-name",
            "ops-lease",
            "--lease-namespace",
            "ops",
            "--identity",
            "operator-0",
            "--log-level",
            "freshet_operator=debug",
        ])
        .unwrap();
        assert_eq!(
            options,
            RunOptions {
                namespaces: vec!["team-a".into(), "team-b".into()],
                metrics_addr: "127.0.0.1:9090".parse().unwrap(),
                leader_election: false,
                lease_name: "ops-lease".into(),
                lease_namespace: Some("ops".into()),
                identity: Some("operator-0".into()),
                log_level: "freshet_operator=debug".into(),
            }
        );
        assert_eq!(options.lease_namespace_or("default"), "ops");
        assert_eq!(options.identity_or_default(), "operator-0");
    }

    #[test]
    fn defaults_match_the_contract() {
        let options = parse(&[]).unwrap();
        assert_eq!(
            options,
            RunOptions {
                namespaces: vec![],
                metrics_addr: "0.0.0.0:8080".parse().unwrap(),
                leader_election: true,
                lease_name: "freshet-operator".into(),
                lease_namespace: None,
                identity: None,
                log_level: "info".into(),
            }
        );
        assert!(parse(&["--leader-election", "true"]).unwrap().leader_election);
        assert!(parse(&["--leader-election", "maybe"]).is_err());
        assert!(parse(&["--metrics-addr", "nowhere"]).is_err());
    }

    #[test]
    fn flags_win_over_the_environment_then_the_fallback() {
        let env = |name: &str| (name == "POD_NAMESPACE").then(|| "from-env".to_string());
        assert_eq!(resolve(Some("flag"), "POD_NAMESPACE", env).as_deref(), Some("flag"));
        assert_eq!(resolve(None, "POD_NAMESPACE", env).as_deref(), Some("from-env"));
        assert_eq!(resolve(Some(""), "POD_NAMESPACE", env).as_deref(), Some("from-env"));
        assert_eq!(resolve(None, "POD_NAME", env), None);
    }

    #[test]
    fn help_comes_from_the_doc_comments() {
        Command::command().debug_assert();
        let help = Command::command().render_long_help().to_string();
        for text in [
            "--namespace <NS>",
            "repeat for several",
            "--leader-election <BOOL>",
            "[default: freshet-operator]",
            "$POD_NAME",
            "RUST_LOG",
        ] {
            assert!(help.contains(text), "missing {text} in\n{help}");
        }
    }
}
