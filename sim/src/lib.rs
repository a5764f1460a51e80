//! kafkasim-sim: the deterministic world that drives kafkasim-core on madsim.
//!
//! This crate is the only one that knows madsim: a seeded runtime ([`runtime`]), the
//! network ([`net`]) and disks ([`disk`]), the cluster of brokers, ZooKeeper and clients
//! ([`cluster`]), the conductor that pauses and steps it ([`conductor`]), snapshots and
//! the narrated trace ([`snapshot`], [`trace`]), scenario files ([`scenario`]), runs and
//! their checkers ([`run`], [`check`], [`history`]), sweeps ([`sweep`]) and Kafka's
//! on-disk layout ([`export`]).

pub mod check;
pub mod cluster;
pub mod conductor;
pub mod disk;
pub mod events;
pub mod export;
pub mod fault;
pub mod history;
pub mod lang;
pub mod narrate;
pub mod net;
pub mod rng;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod snapshot;
pub mod sweep;
pub mod trace;
