//! Table-driven tests of every lifecycle flow, including interrupted ones.

mod fixtures;
mod interrupted;
mod lifecycle;
mod savepoints;
mod upgrades;
