//! kafkasim-core: Apache Kafka's broker, replication and consumer-group logic as sans-IO
//! state machines. Nothing here reads a clock, draws OS randomness, spawns a thread or
//! touches a file: time comes in as `now_ms`, randomness through [`rng::RandomSource`],
//! and everything leaves as values. `core/clippy.toml` enforces it.

pub mod actor;
pub mod broker;
pub mod checkpoint;
pub mod client;
pub mod config;
pub mod controller;
pub mod event;
pub mod group;
pub mod ids;
pub mod invariants;
pub mod log;
pub mod metadata;
pub mod partition;
pub mod partitioner;
pub mod protocol;
pub mod record;
pub mod replication;
pub mod rng;
pub mod workload;
pub mod writes;
pub mod zookeeper;
