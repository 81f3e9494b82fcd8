//! # freshet-cli
//!
//! The `freshet` binary's commands as a library, so tests and benchmarks build exactly the jobs
//! the CLI runs. Place: the top of the runtime; depends on every runtime crate.
//!
//! - [`options`]: flags shared by job-running commands, turned into a `JobConfig`;
//! - [`examples`]: the built-in example jobs (`freshet example ...`);
//! - [`runner`]: running a job in this process, with Ctrl-C as stop-with-savepoint;
//! - [`sql`]: `freshet run` and `freshet explain` of SQL scripts;
//! - [`cluster`]: `freshet coordinator` and `freshet worker`;
//! - [`bench`]: the benchmark table (`freshet bench`).
#![warn(missing_docs)]

pub mod bench;
pub mod cluster;
pub mod examples;
pub mod options;
pub mod runner;
pub mod sql;
