//! The names everything else uses: node addresses and topic-partitions. A leaf module:
//! it depends on nothing in core, so the event, group and client modules can name nodes
//! and partitions without depending on the wire protocol.

use std::fmt;

/// An address on the simulated network: a broker's id, the ZooKeeper node, or a client.
pub type NodeId = i32;

/// The ZooKeeper node's address. Broker ids must stay below it.
pub const ZOOKEEPER: NodeId = 10_000;

/// Clients (producers, consumers, the admin) are numbered from here.
pub const FIRST_CLIENT: NodeId = 20_000;

/// A partition of a topic; shown as Kafka shows it, `orders-0`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: u32) -> TopicPartition {
        TopicPartition {
            topic: topic.to_string(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
