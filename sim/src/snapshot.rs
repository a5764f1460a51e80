//! The cluster as a plain value at one sim time: what the TUI draws and `--json`
//! prints. Built from the brokers' own state, never re-derived.

use std::collections::{BTreeMap, BTreeSet};

use kafkasim_core::broker::Broker;
use kafkasim_core::partition::Partition;
use kafkasim_core::protocol::{NodeId, TopicPartition};
use kafkasim_core::replication::BrokerId;
use kafkasim_core::zookeeper::ZooKeeper;

use crate::net::NetStats;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSnapshot {
    pub time_ms: i64,
    pub brokers: BTreeMap<BrokerId, BrokerStatus>,
    /// The active controller and its epoch.
    pub controller: Option<(BrokerId, i32)>,
    pub partitions: BTreeMap<TopicPartition, PartitionSnapshot>,
    /// Every consumer group, as its active coordinator holds it.
    pub groups: BTreeMap<String, GroupSnapshot>,
    pub network: NetworkSnapshot,
}

/// A consumer group on its coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub coordinator: BrokerId,
    pub state: kafkasim_core::group::coordinator::GroupState,
    pub generation: i32,
    /// The assignor the group chose.
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// Each member and the partitions it owns.
    pub members: BTreeMap<String, Vec<TopicPartition>>,
    /// Each member's `client.id` (its scenario name), by member id.
    pub client_ids: BTreeMap<String, String>,
    /// The committed offset of each partition.
    pub committed: BTreeMap<TopicPartition, i64>,
}

impl GroupSnapshot {
    /// Records each partition has below its HW past the group's committed offset (what
    /// `kafka-consumer-groups --describe` calls LAG), by partition.
    pub fn lag(
        &self,
        partitions: &BTreeMap<TopicPartition, PartitionSnapshot>,
    ) -> BTreeMap<TopicPartition, i64> {
        self.committed
            .iter()
            .filter_map(|(tp, offset)| {
                let p = partitions.get(tp)?;
                let hw = p
                    .leader
                    .and_then(|l| p.replica_states.get(&l))?
                    .high_watermark;
                Some((tp.clone(), (hw - offset).max(0)))
            })
            .collect()
    }
}

/// The groups of the brokers that coordinate them now: each group from the broker that
/// leads its `__consumer_offsets` partition.
pub fn groups(brokers: &BTreeMap<BrokerId, &Broker>) -> BTreeMap<String, GroupSnapshot> {
    use kafkasim_core::group::storage::{OFFSETS_TOPIC, partition_for_group};
    let mut out = BTreeMap::new();
    for (id, broker) in brokers {
        let partitions = broker.config().offsets_topic_num_partitions;
        for group in broker.coordinator().groups() {
            let tp = TopicPartition::new(OFFSETS_TOPIC, partition_for_group(&group.id, partitions));
            if !broker
                .replicas()
                .get(&tp)
                .is_some_and(|r| r.partition.is_leader())
            {
                continue;
            }
            out.insert(
                group.id.clone(),
                GroupSnapshot {
                    coordinator: *id,
                    state: group.state,
                    generation: group.generation,
                    protocol: group.protocol.clone(),
                    leader: group.leader.clone(),
                    members: group.assignment(),
                    client_ids: group.client_ids(),
                    committed: group
                        .offsets
                        .iter()
                        .map(|(tp, c)| (tp.clone(), c.offset))
                        .collect(),
                },
            );
        }
    }
    out
}

impl ClusterSnapshot {
    /// Recovered: every broker up and registered, every partition led, every replica in
    /// its ISR (the end of a fault phase, in TigerBeetle's terms).
    pub fn all_in_sync(&self) -> bool {
        self.brokers.values().all(|b| b.up && b.registered)
            && self
                .partitions
                .values()
                .all(|p| p.leader.is_some() && p.isr.len() == p.replicas.len())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerStatus {
    pub up: bool,
    pub paused: bool,
    /// Registered in ZooKeeper (`/brokers/ids/<id>`).
    pub registered: bool,
    /// The controller this broker believes in.
    pub known_controller: Option<BrokerId>,
}

/// A partition: ZooKeeper's record of it, and every replica's own state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionSnapshot {
    /// The assignment, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// The live replica that leads (None: offline); the epoch (ZooKeeper's, or the
    /// leader's own if newer) and ISR ZooKeeper holds.
    pub leader: Option<BrokerId>,
    pub leader_epoch: i32,
    pub isr: BTreeSet<BrokerId>,
    /// Each up broker's replica.
    pub replica_states: BTreeMap<BrokerId, ReplicaSnapshot>,
    /// Each down broker's replica as its disk holds it (after a power loss, what
    /// survived), so a class sees the dead leader's unreplicated tail.
    pub on_disk: BTreeMap<BrokerId, DiskReplica>,
}

/// A down broker's replica: the offsets its disk's segments hold (up to the last whole,
/// valid message) and the HW its last checkpoint wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskReplica {
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub checkpointed_high_watermark: Option<i64>,
}

impl DiskReplica {
    /// What `log`'s segments hold: each decoded up to its first torn or corrupt message,
    /// as recovery would cut it.
    pub fn of(log: &kafkasim_core::broker::LogDisk, checkpointed: Option<i64>) -> DiskReplica {
        use kafkasim_core::record::decode_entries;
        let start = log.segments.first().map_or(0, |(base, _)| *base);
        let mut end = start;
        for (base, bytes) in &log.segments {
            let bytes = bytes::Bytes::from(bytes.clone());
            let entries = match decode_entries(&bytes) {
                Ok(entries) => entries,
                Err(e) => decode_entries(&bytes.slice(..e.position)).unwrap_or_default(),
            };
            end = entries.last().map_or((*base).max(end), |e| e.offset + 1);
        }
        DiskReplica {
            log_start_offset: start,
            log_end_offset: end,
            checkpointed_high_watermark: checkpointed,
        }
    }
}

impl PartitionSnapshot {
    /// Replicas out of the ISR (OSR).
    pub fn out_of_sync(&self) -> Vec<BrokerId> {
        self.replicas
            .iter()
            .filter(|b| !self.isr.contains(b))
            .copied()
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaSnapshot {
    pub is_leader: bool,
    pub leader_epoch: i32,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// On the leader: its ISR (which may be ahead of the controller's while a change is
    /// committed, or stale on a deposed leader).
    pub isr: Option<BTreeSet<BrokerId>>,
    /// On the leader: each follower's fetch state.
    pub followers: BTreeMap<BrokerId, FollowerSnapshot>,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub replica_lag_time_max_ms: i64,
    /// The records, offset and value (UTF-8, lossy).
    pub records: Vec<(i64, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerSnapshot {
    pub log_end_offset: i64,
    pub last_caught_up_time_ms: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSnapshot {
    /// Directed links a partition blocks.
    pub blocked: BTreeSet<(NodeId, NodeId)>,
    /// Directed links whose messages wait until released.
    pub held: BTreeSet<(NodeId, NodeId)>,
    pub in_flight: Vec<InFlight>,
    /// The last messages delivered, oldest first (when the cluster keeps them).
    pub recent: Vec<InFlight>,
    pub stats: NetStats,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    /// Kafka's name for the request or response.
    pub kind: &'static str,
    pub sent_ms: i64,
    pub deliver_ms: i64,
    /// What it carries, in a few words (offsets, the HW, records).
    pub detail: String,
}

impl InFlight {
    pub fn of(e: &crate::net::Envelope<kafkasim_core::protocol::Message>) -> InFlight {
        InFlight {
            id: e.id,
            from: e.from,
            to: e.to,
            kind: e.message.kind(),
            sent_ms: e.sent_ms,
            deliver_ms: e.deliver_ms,
            detail: e.message.detail(),
        }
    }
}

/// The values in a replica's log, by offset.
pub fn records(partition: &Partition) -> Vec<(i64, String)> {
    let Ok(entries) = partition.log().entries() else {
        return Vec::new();
    };
    entries
        .into_iter()
        .map(|e| {
            let value = e
                .message
                .value
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default();
            (e.offset, value)
        })
        .collect()
}

/// A replica's state as the snapshot shows it.
pub fn replica_snapshot(partition: &Partition, with_records: bool) -> ReplicaSnapshot {
    ReplicaSnapshot {
        is_leader: partition.is_leader(),
        leader_epoch: partition.leader_epoch(),
        log_end_offset: partition.log_end_offset(),
        high_watermark: partition.high_watermark(),
        log_start_offset: partition.log().log_start_offset(),
        replica_lag_time_max_ms: partition.config().replica_lag_time_max_ms,
        isr: partition.isr().cloned(),
        followers: partition
            .followers()
            .map(|f| {
                f.iter()
                    .map(|(&b, s)| {
                        (
                            b,
                            FollowerSnapshot {
                                log_end_offset: s.log_end_offset,
                                last_caught_up_time_ms: s.last_caught_up_time_ms,
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        records: if with_records {
            records(partition)
        } else {
            Vec::new()
        },
    }
}

/// Fills the partitions of a snapshot from the brokers that are up, with the
/// controller's view taken from `controller`.
/// Every partition as Kafka's users read it, whether or not a controller is up: the
/// assignment, leader, epoch and ISR from ZooKeeper's `/brokers/topics/<t>` and
/// `.../partitions/<p>/state` nodes (what `kafka-topics.sh --describe` showed in the
/// ZooKeeper era, and what every broker's metadata cache is fed from), and every up
/// broker's own replica. The leader is the live replica that leads (its own partition
/// state): a partition is offline when none does.
pub fn partitions(
    brokers: &BTreeMap<BrokerId, &Broker>,
    zookeeper: Option<&ZooKeeper>,
    with_records: bool,
) -> BTreeMap<TopicPartition, PartitionSnapshot> {
    use kafkasim_core::protocol::ZNode;
    use kafkasim_core::zookeeper::{TOPICS, partition_state_path, topic_path};
    let mut out: BTreeMap<TopicPartition, PartitionSnapshot> = BTreeMap::new();
    if let Some(zk) = zookeeper {
        let store = zk.store();
        for topic in store.child_names(TOPICS) {
            let Some((ZNode::Topic { assignment, .. }, _)) = store.peek(&topic_path(&topic)) else {
                continue;
            };
            for (p, replicas) in assignment.iter().enumerate() {
                let tp = TopicPartition::new(&topic, p as u32);
                let state = match store.peek(&partition_state_path(&topic, p as u32)) {
                    Some((ZNode::PartitionState { state, .. }, _)) => Some(state),
                    _ => None,
                };
                out.insert(
                    tp,
                    PartitionSnapshot {
                        replicas: replicas.clone(),
                        leader: None,
                        leader_epoch: state.map_or(-1, |s| s.leader_epoch),
                        isr: state.map(|s| s.isr.clone()).unwrap_or_default(),
                        replica_states: BTreeMap::new(),
                        on_disk: BTreeMap::new(),
                    },
                );
            }
        }
    }
    for (&id, broker) in brokers {
        for (tp, replica) in broker.replicas() {
            let entry = out.entry(tp.clone()).or_insert_with(|| PartitionSnapshot {
                replicas: replica.assignment.clone(),
                leader: None,
                leader_epoch: -1,
                isr: BTreeSet::new(),
                replica_states: BTreeMap::new(),
                on_disk: BTreeMap::new(),
            });
            entry
                .replica_states
                .insert(id, replica_snapshot(&replica.partition, with_records));
        }
    }
    // The leader is the live replica that leads, in the newest epoch if a deposed one
    // (isolated, paused) still thinks it does.
    for p in out.values_mut() {
        if let Some((&id, r)) = p
            .replica_states
            .iter()
            .filter(|(_, r)| r.is_leader)
            .max_by_key(|(_, r)| r.leader_epoch)
        {
            p.leader = Some(id);
            p.leader_epoch = p.leader_epoch.max(r.leader_epoch);
        }
    }
    out
}
