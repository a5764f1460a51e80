//! Kafka's clients as sans-IO state machines, each with a simulated application around
//! it: the consumer (groups, `assign()`, commits) and the producer.

pub mod consumer;
pub mod producer;
