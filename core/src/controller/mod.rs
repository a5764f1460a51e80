//! The controller's rules, as pure functions over plain values: where a new topic's
//! replicas go, who leads a partition after a failure, which ISR change a leader may
//! commit, and when preferred leaders should take over again.
//!
//! Sources: Kafka's `AdminUtils.assignReplicasToBrokersRackUnaware`,
//! `PartitionLeaderElectionAlgorithms`, the AlterPartition checks, and
//! `checkAndTriggerAutoLeaderRebalance` (kafka-facts.md section 5.4).
//!
//! [`role`] is the broker's controller role that applies them: one `controller/`
//! module for both, the rules here and the role that drives them.

pub mod role;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::replication::BrokerId;
use crate::rng::RandomSource;

/// A topic's replica assignment: for each partition, its replicas, preferred leader first.
pub type Assignment = Vec<Vec<BrokerId>>;

/// Why replicas cannot be placed (Kafka's INVALID_REPLICATION_FACTOR / INVALID_PARTITIONS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlacementError {
    ReplicationFactor {
        replication_factor: usize,
        brokers: usize,
    },
    Partitions,
    /// An explicit assignment Kafka would refuse (INVALID_REPLICA_ASSIGNMENT).
    Assignment(String),
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::ReplicationFactor {
                replication_factor,
                brokers,
            } => write!(
                f,
                "replication factor {replication_factor} is invalid with {brokers} live brokers: it must be between 1 and \
                 the number of brokers (INVALID_REPLICATION_FACTOR)"
            ),
            PlacementError::Assignment(why) => {
                write!(f, "{why} (INVALID_REPLICA_ASSIGNMENT)")
            }
            PlacementError::Partitions => write!(
                f,
                "a topic needs at least one partition (INVALID_PARTITIONS)"
            ),
        }
    }
}

impl std::error::Error for PlacementError {}

/// Kafka's rack-unaware placement. The first replica of partition p goes to broker
/// `(p + start_index) % n`; the others follow it at a shift that grows by one every n
/// partitions, so followers of one broker's partitions spread over the other brokers.
/// `brokers` is sorted first, as Kafka sorts broker ids. Partitions are numbered from
/// `first_partition` (non-zero when partitions are added to a topic).
pub fn assign_replicas(
    num_partitions: u32,
    replication_factor: usize,
    brokers: &[BrokerId],
    start_index: usize,
    replica_shift: usize,
    first_partition: u32,
) -> Result<Assignment, PlacementError> {
    let mut brokers = brokers.to_vec();
    brokers.sort_unstable();
    brokers.dedup();
    let n = brokers.len();
    if replication_factor == 0 || replication_factor > n {
        return Err(PlacementError::ReplicationFactor {
            replication_factor,
            brokers: n,
        });
    }
    if num_partitions == 0 {
        return Err(PlacementError::Partitions);
    }
    let mut shift = replica_shift;
    let mut assignment = Vec::with_capacity(num_partitions as usize);
    for partition in first_partition as usize..first_partition as usize + num_partitions as usize {
        if partition > 0 && partition % n == 0 {
            shift += 1;
        }
        let first = (partition + start_index) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor - 1 {
            // With one broker there are no followers and this is never reached.
            let offset = 1 + (shift + j) % (n - 1);
            replicas.push(brokers[(first + offset) % n]);
        }
        assignment.push(replicas);
    }
    Ok(assignment)
}

/// Checks an explicit assignment (`kafka-topics.sh --replica-assignment 2:3,3:1`) as
/// Kafka's `AdminZkClient.validateTopicCreate` does: at least one partition, every
/// partition with the same number of replicas, no broker twice in one partition, and
/// only registered brokers.
pub fn validate_assignment(
    assignment: &Assignment,
    registered: &[BrokerId],
) -> Result<(), PlacementError> {
    let Some(first) = assignment.first() else {
        return Err(PlacementError::Partitions);
    };
    for (p, replicas) in assignment.iter().enumerate() {
        if replicas.is_empty() || replicas.len() != first.len() {
            return Err(PlacementError::Assignment(format!(
                "partition {p} has {} replicas and partition 0 has {}; every partition needs the same number, at least 1",
                replicas.len(),
                first.len()
            )));
        }
        let distinct: BTreeSet<&BrokerId> = replicas.iter().collect();
        if distinct.len() != replicas.len() {
            return Err(PlacementError::Assignment(format!(
                "partition {p} names a broker twice: {replicas:?}"
            )));
        }
        if let Some(unknown) = replicas.iter().find(|b| !registered.contains(b)) {
            return Err(PlacementError::Assignment(format!(
                "partition {p} names broker {unknown}, which is not registered"
            )));
        }
    }
    Ok(())
}

/// A new topic's placement, with Kafka's random start index and shift drawn from `rng`.
pub fn assign_new_topic(
    num_partitions: u32,
    replication_factor: usize,
    brokers: &[BrokerId],
    rng: &mut dyn RandomSource,
) -> Result<Assignment, PlacementError> {
    let n = brokers.len().max(1);
    let start_index = rng.next_u32() as usize % n;
    let replica_shift = rng.next_u32() as usize % n;
    assign_replicas(
        num_partitions,
        replication_factor,
        brokers,
        start_index,
        replica_shift,
        0,
    )
}

/// Placement for partitions added to an existing topic: Kafka continues from the broker
/// that holds the first replica of partition 0, numbering the new partitions after the
/// existing ones.
pub fn assign_added_partitions(
    existing: &Assignment,
    added: u32,
    brokers: &[BrokerId],
) -> Result<Assignment, PlacementError> {
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    let replication_factor = existing.first().map_or(0, Vec::len);
    let first_leader = existing
        .first()
        .and_then(|replicas| replicas.first())
        .copied()
        .unwrap_or(0);
    let start_index = sorted.iter().position(|&b| b >= first_leader).unwrap_or(0);
    assign_replicas(
        added,
        replication_factor,
        &sorted,
        start_index,
        start_index,
        existing.len() as u32,
    )
}

/// Why a leader is being chosen (Kafka's election algorithms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionKind {
    /// The leader died or the partition is new.
    Offline {
        unclean_leader_election_enable: bool,
    },
    /// Give leadership back to the first replica in the assignment.
    Preferred,
    /// The current leader is shutting down cleanly.
    ControlledShutdown,
}

/// The outcome of a successful election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Election {
    pub leader: BrokerId,
    pub isr: BTreeSet<BrokerId>,
    /// Chosen from outside the ISR: acknowledged writes may be lost.
    pub unclean: bool,
}

/// Kafka's leader election. Clean: the first replica in assignment order that is live
/// and in the ISR; the ISR keeps its live members. Unclean (offline, when enabled and no
/// ISR member is live): the first live replica in assignment order, and the ISR becomes
/// just that replica. Preferred: the first replica of the assignment, if live and in
/// the ISR. Controlled shutdown: like clean, skipping brokers shutting down, which also
/// leave the ISR. None: the partition has no eligible leader (it goes offline, or
/// keeps its current leader for a preferred election).
pub fn elect_leader(
    kind: ElectionKind,
    assignment: &[BrokerId],
    isr: &BTreeSet<BrokerId>,
    live: &BTreeSet<BrokerId>,
    shutting_down: &BTreeSet<BrokerId>,
) -> Option<Election> {
    let live_isr: BTreeSet<BrokerId> = isr.intersection(live).copied().collect();
    let clean = |exclude: &BTreeSet<BrokerId>| {
        assignment
            .iter()
            .find(|b| live_isr.contains(b) && !exclude.contains(b))
            .map(|&leader| Election {
                leader,
                isr: &live_isr - exclude,
                unclean: false,
            })
    };
    match kind {
        ElectionKind::Offline {
            unclean_leader_election_enable,
        } => clean(&BTreeSet::new()).or_else(|| {
            if !unclean_leader_election_enable {
                return None;
            }
            let leader = *assignment.iter().find(|b| live.contains(b))?;
            Some(Election {
                leader,
                isr: BTreeSet::from([leader]),
                unclean: true,
            })
        }),
        // PartitionStateMachine.leaderForPreferredReplica: `leaderAndIsr.newLeader`, the
        // ISR as it was.
        ElectionKind::Preferred => {
            let &preferred = assignment.first()?;
            live_isr.contains(&preferred).then(|| Election {
                leader: preferred,
                isr: isr.clone(),
                unclean: false,
            })
        }
        ElectionKind::ControlledShutdown => clean(shutting_down),
    }
}

/// A partition's leadership state as the controller stores it (the `/brokers/topics/<t>/
/// partitions/<p>/state` node of ZooKeeper-era Kafka).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderAndIsr {
    /// None while the partition is offline.
    pub leader: Option<BrokerId>,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    pub isr: BTreeSet<BrokerId>,
    /// Bumped on every change at all (the ZooKeeper node version; KRaft's partition
    /// epoch): what makes ISR updates conditional.
    pub partition_epoch: i32,
}

impl LeaderAndIsr {
    /// The state after an election: a new leader epoch and partition epoch.
    pub fn elected(&self, election: &Election) -> LeaderAndIsr {
        LeaderAndIsr {
            leader: Some(election.leader),
            leader_epoch: self.leader_epoch + 1,
            isr: election.isr.clone(),
            partition_epoch: self.partition_epoch + 1,
        }
    }

    /// The same leader with `removed` out of the ISR. The ZooKeeper-era controller bumps
    /// the leader epoch for this too, not only the partition epoch.
    pub fn shrunk(&self, removed: &BTreeSet<BrokerId>) -> LeaderAndIsr {
        LeaderAndIsr {
            leader: self.leader,
            leader_epoch: self.leader_epoch + 1,
            isr: self.isr.difference(removed).copied().collect(),
            partition_epoch: self.partition_epoch + 1,
        }
    }

    /// The state when no replica can lead.
    pub fn offline(&self) -> LeaderAndIsr {
        LeaderAndIsr {
            leader: None,
            leader_epoch: self.leader_epoch + 1,
            isr: self.isr.clone(),
            partition_epoch: self.partition_epoch + 1,
        }
    }
}

/// A leader's request to change the ISR (Kafka's AlterPartition; before 2.7 the leader's
/// conditional write to ZooKeeper).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsrChange {
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub new_isr: BTreeSet<BrokerId>,
    /// The partition epoch the leader last saw: the update applies only to that version.
    pub partition_epoch: i32,
}

/// Why an ISR change was refused, with Kafka's error name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsrChangeRejected {
    /// The sender is not the current leader, or leads an older epoch.
    FencedLeaderEpoch {
        current_leader: Option<BrokerId>,
        current_epoch: i32,
    },
    /// The state changed since the leader read it.
    InvalidUpdateVersion { current_partition_epoch: i32 },
    /// The new ISR names a broker that is not a live replica, or leaves out the leader.
    IneligibleReplica { broker: BrokerId },
}

/// Applies a leader's ISR change if it is conditional on the current state: the sender
/// leads the current epoch, read the current partition epoch, and names only live
/// replicas (the leader among them). A stale leader's change is refused, never merged.
pub fn apply_isr_change(
    current: &LeaderAndIsr,
    change: &IsrChange,
    assignment: &[BrokerId],
    live: &BTreeSet<BrokerId>,
) -> Result<LeaderAndIsr, IsrChangeRejected> {
    if current.leader != Some(change.leader) || current.leader_epoch != change.leader_epoch {
        return Err(IsrChangeRejected::FencedLeaderEpoch {
            current_leader: current.leader,
            current_epoch: current.leader_epoch,
        });
    }
    if current.partition_epoch != change.partition_epoch {
        return Err(IsrChangeRejected::InvalidUpdateVersion {
            current_partition_epoch: current.partition_epoch,
        });
    }
    if !change.new_isr.contains(&change.leader) {
        return Err(IsrChangeRejected::IneligibleReplica {
            broker: change.leader,
        });
    }
    // Only additions must be live: a shrink may drop a broker that already died.
    if let Some(&broker) = change
        .new_isr
        .iter()
        .find(|b| !assignment.contains(b) || (!current.isr.contains(b) && !live.contains(b)))
    {
        return Err(IsrChangeRejected::IneligibleReplica { broker });
    }
    Ok(LeaderAndIsr {
        leader: current.leader,
        leader_epoch: current.leader_epoch,
        isr: change.new_isr.clone(),
        partition_epoch: current.partition_epoch + 1,
    })
}

/// Kafka's `checkAndTriggerAutoLeaderRebalance`: for each broker, the share of the
/// partitions it prefers to lead that it does not lead. Brokers whose share is above
/// `leader.imbalance.per.broker.percentage` get preferred elections for those
/// partitions; the result lists them by preferred broker (only live brokers).
pub fn leader_imbalance<P: Ord + Clone>(
    partitions: &BTreeMap<P, (Vec<BrokerId>, Option<BrokerId>)>,
    live: &BTreeSet<BrokerId>,
    imbalance_percentage: u32,
) -> BTreeMap<BrokerId, Vec<P>> {
    let mut preferred_count: BTreeMap<BrokerId, usize> = BTreeMap::new();
    let mut not_leading: BTreeMap<BrokerId, Vec<P>> = BTreeMap::new();
    for (partition, (assignment, leader)) in partitions {
        let Some(&preferred) = assignment.first() else {
            continue;
        };
        *preferred_count.entry(preferred).or_default() += 1;
        if *leader != Some(preferred) {
            not_leading
                .entry(preferred)
                .or_default()
                .push(partition.clone());
        }
    }
    not_leading
        .into_iter()
        .filter(|(broker, imbalanced)| {
            let total = preferred_count[broker];
            live.contains(broker) && imbalanced.len() * 100 > total * imbalance_percentage as usize
        })
        .collect()
}
