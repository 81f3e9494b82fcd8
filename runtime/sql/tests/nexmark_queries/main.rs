//! The Nexmark queries of `queries/nexmark/`: every file parses ([`parsing`]), and every query
//! that runs gives, on a bounded stream at parallelism 1 and 3, exactly the rows of an
//! independent reference ([`cases`], run by [`harness`], some references in [`references`]).

mod cases;
#[path = "../common/collect.rs"]
mod collect;
mod harness;
mod parsing;
mod references;
