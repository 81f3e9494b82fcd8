//! Built-in example jobs.

pub mod hot_items;

use crate::options::JobOptions;
use clap::{Args, Subcommand};

/// `freshet example ...`
#[derive(Args, Debug)]
pub struct ExampleArgs {
    /// List the examples.
    #[arg(long)]
    pub list: bool,
    /// The example to run.
    #[command(subcommand)]
    pub example: Option<Example>,
}

/// The examples.
#[derive(Subcommand, Debug)]
pub enum Example {
    /// Nexmark "hot items": bids counted per auction in sliding event-time windows (10 s every
    /// 2 s), written by the exactly-once file sink.
    HotItems(hot_items::HotItemsArgs),
}

/// Names and one-line descriptions of the examples.
pub const EXAMPLES: &[(&str, &str)] = &[(
    "hot-items",
    "Nexmark bids counted per auction in 10 s windows sliding every 2 s, into JSON-lines files",
)];

/// Runs `freshet example`.
pub async fn run(args: ExampleArgs) -> anyhow::Result<()> {
    match args.example {
        None => {
            for (name, about) in EXAMPLES {
                println!("{name:<12} {about}");
            }
            if !args.list {
                eprintln!("\nrun one with: freshet example <name> --help");
            }
            Ok(())
        }
        Some(Example::HotItems(a)) => hot_items::run(a).await,
    }
}

/// Re-exported so examples share the job flags.
pub type Options = JobOptions;
