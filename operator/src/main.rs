//! `freshet-operator`: prints the CRD or runs the controller.

use anyhow::Result;
use clap::{Parser, Subcommand};

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
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            print!("{}", freshet_operator::crd::crd_yaml()?);
            Ok(())
        }
    }
}
