//! Replication rules shared by leaders and followers: the leader epoch cache and the
//! follower's truncation rule ([`epoch`]), and the leader's view of its followers with
//! the ISR and high-watermark rules built on it ([`replica`]). These are pure rules over
//! plain values; the broker that applies them to a partition's log comes next.

pub mod epoch;
pub mod producer_state;
pub mod replica;

/// A broker's id, as in Kafka's `broker.id`.
pub type BrokerId = i32;
