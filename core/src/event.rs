//! Every state change of the cluster as a value. The simulation records them in order;
//! its narrator (`kafkasim_sim::narrate`) turns each into a sentence: core keeps no prose.

use std::collections::BTreeSet;

use crate::controller::Assignment;
use crate::ids::{NodeId, TopicPartition};
use crate::partition::PartitionEvent;
use crate::replication::BrokerId;

/// Why the controller chose a leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionReason {
    /// A partition of a new topic gets its first leader.
    NewPartition,
    /// The leader's broker is gone (its ZooKeeper session expired).
    LeaderFailed { previous: BrokerId },
    /// An offline partition got a live replica back.
    ReplicaCameBack,
    /// Leadership returns to the first replica of the assignment.
    Preferred,
    /// The leader is shutting down cleanly and hands over first.
    ControlledShutdown { previous: BrokerId },
}

/// Why a broker stopped being the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResignReason {
    SessionExpired,
    /// Its /controller node was deleted.
    ControllerNodeDeleted,
    /// Another broker claimed the controller epoch first (`error`: ZooKeeper's answer).
    EpochClaimed {
        error: String,
    },
    /// A write was refused: a newer controller exists.
    WriteRefused {
        error: String,
    },
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Partition {
        broker: BrokerId,
        tp: TopicPartition,
        event: PartitionEvent,
    },
    /// A broker started, having recovered its logs.
    BrokerStarted {
        broker: BrokerId,
        partitions: usize,
    },
    /// Recovery after an unclean shutdown cut a log.
    LogRecovered {
        broker: BrokerId,
        tp: TopicPartition,
        log_end_offset: i64,
        dropped_bytes: usize,
    },
    BrokerRegistered {
        broker: BrokerId,
    },
    /// The broker's previous registration still holds its id.
    RegistrationBlocked {
        broker: BrokerId,
    },
    SessionExpired {
        client: NodeId,
        timeout_ms: i64,
        deleted: Vec<String>,
    },
    /// ZooKeeper granted a session timeout other than the one requested.
    SessionTimeoutNegotiated {
        client: NodeId,
        requested_ms: i64,
        granted_ms: i64,
    },
    /// A clean shutdown closed the session.
    SessionClosed {
        client: NodeId,
        deleted: Vec<String>,
    },
    /// A broker began a controlled shutdown.
    ShutdownRequested {
        broker: BrokerId,
    },
    /// The controller moved what it could; `remaining` are led still.
    ShutdownReady {
        broker: BrokerId,
        remaining: Vec<TopicPartition>,
    },
    ControllerElected {
        broker: BrokerId,
        epoch: i32,
    },
    ControllerResigned {
        broker: BrokerId,
        reason: ResignReason,
    },
    BrokersFailed {
        brokers: BTreeSet<BrokerId>,
    },
    BrokersStarted {
        brokers: BTreeSet<BrokerId>,
    },
    TopicCreated {
        topic: String,
        assignment: Assignment,
        /// Placed by the admin (`--replica-assignment`), not by the controller's rule.
        explicit_assignment: bool,
    },
    PartitionsAdded {
        topic: String,
        first: u32,
        assignment: Assignment,
    },
    /// `kafka-configs --alter`: (name, before, now) of each changed config.
    TopicConfigChanged {
        topic: String,
        changes: Vec<(&'static str, String, String)>,
    },
    LeaderElected {
        tp: TopicPartition,
        leader: BrokerId,
        leader_epoch: i32,
        isr: BTreeSet<BrokerId>,
        unclean: bool,
        reason: ElectionReason,
    },
    /// No replica may lead: the partition is unavailable.
    PartitionOffline {
        tp: TopicPartition,
        leader_epoch: i32,
        isr: BTreeSet<BrokerId>,
        unclean_leader_election_enable: bool,
    },
    /// The controller took dead brokers out of an ISR (the leader stays).
    IsrShrunkByController {
        tp: TopicPartition,
        removed: BTreeSet<BrokerId>,
        isr: BTreeSet<BrokerId>,
        leader_epoch: i32,
        /// The removed broker is shutting down cleanly (rather than gone).
        shutting_down: bool,
    },
    IsrChangeCommitted {
        tp: TopicPartition,
        isr: BTreeSet<BrokerId>,
        partition_epoch: i32,
    },
    IsrChangeRejected {
        tp: TopicPartition,
        leader: BrokerId,
        reason: crate::controller::IsrChangeRejected,
    },
    /// A controller request addressed to an earlier incarnation of this broker.
    StaleBrokerEpochIgnored {
        broker: BrokerId,
        request_epoch: u64,
    },
    /// The group coordinator on `broker` changed a group.
    Group {
        broker: BrokerId,
        event: crate::group::coordinator::GroupEvent,
    },
    /// A consumer's client did something worth narrating.
    Consumer {
        client: NodeId,
        /// Its `client.id`, which sentences name it by.
        name: String,
        event: crate::client::consumer::ConsumerEvent,
    },
    /// A producer's client did something worth narrating.
    Producer {
        client: NodeId,
        /// What its records are named by (`p1` writes `p1-0`, `p1-1`…), which sentences
        /// name it by.
        name: String,
        event: crate::client::producer::ProducerEvent,
    },
    /// A `__consumer_offsets` record the coordinator could not read was skipped.
    OffsetsRecordSkipped {
        broker: BrokerId,
        tp: TopicPartition,
        offset: i64,
        error: String,
    },
    /// A zombie: a request carried an older controller epoch.
    StaleControllerIgnored {
        broker: BrokerId,
        epoch: i32,
        current: i32,
    },
}

impl From<crate::client::consumer::Emitted> for Event {
    fn from(e: crate::client::consumer::Emitted) -> Event {
        Event {
            time_ms: e.time_ms,
            node: e.client,
            kind: EventKind::Consumer {
                client: e.client,
                name: e.name,
                event: e.event,
            },
        }
    }
}

impl From<crate::client::producer::Emitted> for Event {
    fn from(e: crate::client::producer::Emitted) -> Event {
        Event {
            time_ms: e.time_ms,
            node: e.client,
            kind: EventKind::Producer {
                client: e.client,
                name: e.name,
                event: e.event,
            },
        }
    }
}

/// An event at a sim time, on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub time_ms: i64,
    pub node: NodeId,
    pub kind: EventKind,
}
