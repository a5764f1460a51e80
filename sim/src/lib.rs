//! kafkasim-sim: the deterministic world that drives kafkasim-core on madsim.
//!
//! This crate is the only one that knows madsim. So far it holds the pieces every later
//! part stands on: a seeded runtime on a fresh thread ([`runtime`]), the simulation's
//! random source for core ([`rng`]), and reading and writing partition logs as real
//! files in Kafka's on-disk layout ([`export`]). Brokers, the network, the disk model,
//! faults and checkers come with the cluster issue.

pub mod check;
pub mod cluster;
pub mod conductor;
pub mod disk;
pub mod export;
pub mod net;
pub mod rng;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod snapshot;
pub mod sweep;
pub mod trace;
