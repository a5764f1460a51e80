//! Every state change of the cluster as a value, with one sentence a student can read
//! ([`Event::explain`]). The simulation records them in order; the TUI narrates them.

use std::collections::BTreeSet;

use crate::controller::Assignment;
use crate::partition::{PartitionEvent, broker_list};
use crate::protocol::{NodeId, TopicPartition};
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
        reason: String,
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
        reason: String,
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

/// An event at a sim time, on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub time_ms: i64,
    pub node: NodeId,
    pub kind: EventKind,
}

impl Event {
    /// One sentence for a student.
    pub fn explain(&self) -> String {
        match &self.kind {
            EventKind::Partition { broker, tp, event } => event.explain(&tp.to_string(), *broker),
            EventKind::BrokerStarted { broker, partitions } => format!(
                "broker {broker} started with {partitions} partition logs on its disk and connects to ZooKeeper"
            ),
            EventKind::LogRecovered {
                broker,
                tp,
                log_end_offset,
                dropped_bytes,
            } => format!(
                "broker {broker} recovered {tp} after an unclean shutdown: {dropped_bytes} bytes at the tail were \
                 invalid or lost, the log now ends at offset {log_end_offset}"
            ),
            EventKind::BrokerRegistered { broker } => format!(
                "broker {broker} registered at /brokers/ids/{broker} (an ephemeral node that lives as long as its \
                 ZooKeeper session)"
            ),
            EventKind::RegistrationBlocked { broker } => format!(
                "broker {broker} cannot register yet: /brokers/ids/{broker} still belongs to its previous session, \
                 which has not expired"
            ),
            EventKind::SessionExpired {
                client,
                timeout_ms,
                deleted,
            } => format!(
                "ZooKeeper expired the session of node {client}: no heartbeat for {timeout_ms} ms \
                 (zookeeper.session.timeout.ms); its ephemeral nodes {deleted:?} are deleted"
            ),
            EventKind::SessionTimeoutNegotiated {
                client,
                requested_ms,
                granted_ms,
            } => format!(
                "ZooKeeper gives node {client} a session timeout of {granted_ms} ms, not the \
                 {requested_ms} ms it asked for (zookeeper.session.timeout.ms): the server keeps \
                 sessions between 2 and 20 ticks (tickTime {} ms)",
                crate::zookeeper::TICK_TIME_MS
            ),
            EventKind::SessionClosed { client, deleted } => format!(
                "node {client} closed its ZooKeeper session on a clean shutdown: {deleted:?} are deleted at once, \
                 no session timeout to wait for"
            ),
            EventKind::ShutdownRequested { broker } => format!(
                "broker {broker} begins a controlled shutdown: it asks the controller to move its leaderships first"
            ),
            EventKind::ShutdownReady { broker, remaining } => {
                if remaining.is_empty() {
                    format!(
                        "broker {broker} leads nothing any more: it flushes its logs and stops cleanly"
                    )
                } else {
                    let list: Vec<String> = remaining.iter().map(|tp| tp.to_string()).collect();
                    format!(
                        "broker {broker} stops although it still leads {}: no other in-sync replica could take over",
                        list.join(", ")
                    )
                }
            }
            EventKind::ControllerElected { broker, epoch } => format!(
                "broker {broker} became the controller (controller epoch {epoch}): it created /controller first"
            ),
            EventKind::ControllerResigned { broker, reason } => {
                format!("broker {broker} is no longer the controller: {reason}")
            }
            EventKind::BrokersFailed { brokers: b } => format!(
                "the controller sees brokers {} gone (their registrations vanished) and moves their leaderships",
                broker_list(b)
            ),
            EventKind::BrokersStarted { brokers: b } => format!(
                "the controller sees brokers {} registered and sends them their partitions",
                broker_list(b)
            ),
            EventKind::TopicCreated {
                topic,
                assignment,
                explicit_assignment,
            } => {
                let parts: Vec<String> = assignment
                    .iter()
                    .enumerate()
                    .map(|(p, r)| {
                        let r: Vec<String> = r.iter().map(|b| b.to_string()).collect();
                        format!("{topic}-{p} on [{}]", r.join(","))
                    })
                    .collect();
                let placement = if *explicit_assignment {
                    "the replica assignment the admin gave"
                } else {
                    "Kafka's round-robin placement"
                };
                format!(
                    "topic {topic} created with {placement}: {}",
                    parts.join(", ")
                )
            }
            EventKind::PartitionsAdded {
                topic,
                first,
                assignment,
            } => {
                let parts: Vec<String> = assignment
                    .iter()
                    .enumerate()
                    .map(|(n, r)| {
                        let r: Vec<String> = r.iter().map(|b| b.to_string()).collect();
                        format!("{topic}-{} on [{}]", *first as usize + n, r.join(","))
                    })
                    .collect();
                format!(
                    "topic {topic} grew to {} partitions: {} (keys may now hash to other partitions)",
                    *first as usize + assignment.len(),
                    parts.join(", ")
                )
            }
            EventKind::TopicConfigChanged { topic, changes } => {
                let changes: Vec<String> = changes
                    .iter()
                    .map(|(name, before, now)| format!("{name} {before} -> {now}"))
                    .collect();
                format!(
                    "the controller changed topic {topic}'s configs: {}; every broker applies them from its next metadata update",
                    changes.join(", ")
                )
            }
            EventKind::LeaderElected {
                tp,
                leader,
                leader_epoch,
                isr,
                unclean,
                reason,
            } => {
                let why = match reason {
                    ElectionReason::NewPartition => "a new partition".to_string(),
                    ElectionReason::LeaderFailed { previous } => {
                        format!("its leader, broker {previous}, is gone")
                    }
                    ElectionReason::ReplicaCameBack => {
                        "a replica of the offline partition came back".to_string()
                    }
                    ElectionReason::Preferred => {
                        "leadership returns to the preferred replica".to_string()
                    }
                    ElectionReason::ControlledShutdown { previous } => {
                        format!("broker {previous} is shutting down cleanly and hands over")
                    }
                };
                if *unclean {
                    format!(
                        "UNCLEAN election: broker {leader} leads {tp} in epoch {leader_epoch} although it was not in \
                         the ISR ({why}; unclean.leader.election.enable = true): acknowledged records it lacks are lost"
                    )
                } else {
                    format!(
                        "broker {leader} was elected leader of {tp} in epoch {leader_epoch} with ISR {} ({why}; the \
                         first live replica of the assignment that is in the ISR)",
                        broker_list(isr)
                    )
                }
            }
            EventKind::PartitionOffline {
                tp,
                leader_epoch,
                isr,
                unclean_leader_election_enable,
            } => {
                if *unclean_leader_election_enable {
                    format!(
                        "{tp} is OFFLINE in epoch {leader_epoch}: no replica is alive to lead it"
                    )
                } else {
                    format!(
                        "{tp} is OFFLINE in epoch {leader_epoch}: no member of its ISR {} is alive, and \
                         unclean.leader.election.enable = false forbids a leader from outside the ISR",
                        broker_list(isr)
                    )
                }
            }
            EventKind::IsrShrunkByController {
                tp,
                removed,
                isr,
                leader_epoch,
                shutting_down,
            } => format!(
                "the controller removed {} brokers {} from the ISR of {tp}: the ISR is now {} (leader epoch {leader_epoch})",
                if *shutting_down {
                    "shutting-down"
                } else {
                    "dead"
                },
                broker_list(removed),
                broker_list(isr)
            ),
            EventKind::IsrChangeCommitted {
                tp,
                isr,
                partition_epoch,
            } => format!(
                "the controller committed the ISR of {tp} as {} (partition epoch {partition_epoch})",
                broker_list(isr)
            ),
            EventKind::IsrChangeRejected { tp, leader, reason } => {
                format!("the controller refused broker {leader}'s ISR change for {tp}: {reason}")
            }
            EventKind::StaleBrokerEpochIgnored {
                broker,
                request_epoch,
            } => format!(
                "broker {broker} refused a controller request for broker epoch {request_epoch}: it was meant for \
                 an earlier run of this broker (STALE_BROKER_EPOCH, KIP-380)"
            ),
            EventKind::StaleControllerIgnored {
                broker,
                epoch,
                current,
            } => format!(
                "broker {broker} ignored a request from a deposed controller (epoch {epoch}, current {current})"
            ),
            EventKind::Group { broker, event } => {
                format!("coordinator {broker}: {}", event.explain())
            }
            EventKind::Consumer { name, event, .. } => event.explain(name),
            EventKind::Producer { name, event, .. } => event.explain(name),
            EventKind::OffsetsRecordSkipped {
                broker,
                tp,
                offset,
                error,
            } => format!(
                "broker {broker} skipped the record at offset {offset} of {tp} while loading groups: {error}"
            ),
        }
    }
}
