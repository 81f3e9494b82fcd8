//! `freshet-operator`: prints the CRD, or runs the controller (leader-elected, with a metrics
//! and health server).

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use freshet_ha::LeaseTiming;
use freshet_operator::cli::RunOptions;
use freshet_operator::context::Context;
use freshet_operator::election::{spawn_kubernetes_election, ElectionHandle};
use freshet_operator::metrics::OperatorMetrics;
use freshet_operator::server::{self, ServerState};
use std::sync::Arc;

/// The Freshet Kubernetes operator.
#[derive(Parser)]
#[command(name = "freshet-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the StreamJob CustomResourceDefinition as YAML.
    Crd,
    /// Check StreamJob manifests and print the objects the operator would apply for them
    /// (without a cluster).
    Render {
        /// A YAML file with one or more StreamJobs (other kinds are skipped).
        file: std::path::PathBuf,
        /// Render the deployment as restoring from this snapshot location.
        #[arg(long)]
        restore: Option<String>,
    },
    /// Run the controller: reconcile StreamJobs in the watched namespaces.
    Run(RunOptions),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            print!("{}", freshet_operator::crd::crd_yaml()?);
            Ok(())
        }
        Command::Render { file, restore } => {
            let manifest = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let yaml = freshet_operator::render::render(&manifest, restore.as_deref())
                .with_context(|| file.display().to_string())?;
            print!("{yaml}");
            Ok(())
        }
        Command::Run(options) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(run(options))
        }
    }
}

async fn run(options: RunOptions) -> Result<()> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| options.log_level.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).context("--log-level")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Arc::new(OperatorMetrics::new().context("registering metrics")?);
    let mut election = if options.leader_election {
        let namespace = options.lease_namespace_or(client.default_namespace());
        let identity = options.identity_or_default();
        tracing::info!(%namespace, lease = %options.lease_name, %identity, "leader election");
        spawn_kubernetes_election(
            client.clone(),
            &namespace,
            &options.lease_name,
            &identity,
            LeaseTiming::default(),
        )
    } else {
        ElectionHandle::disabled()
    };
    let listener = tokio::net::TcpListener::bind(options.metrics_addr)
        .await
        .with_context(|| format!("binding --metrics-addr {}", options.metrics_addr))?;
    let bound = listener.local_addr().context("reading the metrics address")?;
    // Port 0 picks a free port: this line says which.
    tracing::info!(addr = %bound, "metrics and health endpoints listening");
    let state = ServerState {
        metrics: metrics.clone(),
        ready: election.ready(),
    };
    let server = tokio::spawn(server::serve(listener, state));

    if !election.acquired().await {
        bail!("the leader election ended before this replica led");
    }
    metrics.set_leader(true);
    tracing::info!("leading; starting the controller");
    let context = Arc::new(Context::new(client, metrics.clone()));
    let outcome = tokio::select! {
        _ = freshet_operator::controller::run(context, options.namespaces.clone()) => Ok(()),
        reason = election.lost() => Err(anyhow::anyhow!("lost the leadership: {reason}")),
    };
    metrics.set_leader(false);
    server.abort();
    election.shutdown().await;
    outcome
}
