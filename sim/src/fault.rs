//! The one fault language: a [`Fault`] is an [`Action`] and a [`Selector`] target,
//! resolved to nodes when it applies. Scenario files, the nemesis, the TUI's keys and a
//! saved session's writer all build these; the trace records what each did
//! ([`crate::trace::Injected`]).

use std::collections::BTreeSet;
use std::fmt;

use kafkasim_core::group::storage::{OFFSETS_TOPIC, partition_for_group};
use kafkasim_core::protocol::{NodeId, TopicPartition, ZOOKEEPER};
use kafkasim_core::replication::BrokerId;

use crate::cluster::Cluster;
use crate::disk::Crash;
use crate::net::LinkConfig;

/// Every action's name, as files write it.
pub const ACTIONS: [&str; 14] = [
    "crash",
    "power-loss",
    "restart",
    "shutdown",
    "isolate",
    "partition",
    "heal",
    "pause",
    "resume",
    "close",
    "stall",
    "link",
    "hold",
    "release",
];

/// Who a fault hits, decided when it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Broker(BrokerId),
    /// The active controller.
    Controller,
    /// The leader of a partition.
    LeaderOf(TopicPartition),
    /// The replicas of a partition other than its leader.
    FollowersOf(TopicPartition),
    /// One follower of a partition, chosen the same way on every seed: the highest id
    /// that is not the controller (so cutting it off never cuts the leader from the
    /// controller), else the highest id.
    AFollowerOf(TopicPartition),
    /// The group coordinator: the leader of the group's `__consumer_offsets` partition.
    CoordinatorOf(String),
    ZooKeeper,
    /// Every broker that is down (for `restart`).
    Crashed,
    /// Every broker that is up and not the controller.
    NotController,
    /// A consumer the scenario named.
    Consumer(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Broker(b) => write!(f, "broker {b}"),
            Selector::Controller => write!(f, "controller"),
            Selector::LeaderOf(tp) => write!(f, "leader of {tp}"),
            Selector::FollowersOf(tp) => write!(f, "followers of {tp}"),
            Selector::AFollowerOf(tp) => write!(f, "a follower of {tp}"),
            Selector::CoordinatorOf(g) => write!(f, "coordinator of {g}"),
            Selector::ZooKeeper => write!(f, "zookeeper"),
            Selector::Crashed => write!(f, "crashed"),
            Selector::NotController => write!(f, "not the controller"),
            Selector::Consumer(name) => write!(f, "consumer {name}"),
        }
    }
}

impl Selector {
    /// The nodes it names now (none when, say, the partition has no leader).
    pub fn resolve(&self, cluster: &Cluster) -> Vec<NodeId> {
        match self {
            Selector::Broker(b) => vec![*b],
            Selector::Controller => cluster.controller().into_iter().collect(),
            Selector::LeaderOf(tp) => cluster.leader(tp).into_iter().collect(),
            Selector::FollowersOf(tp) => {
                let snapshot = cluster.snapshot_without_records();
                match snapshot.partitions.get(tp) {
                    Some(p) => p
                        .replicas
                        .iter()
                        .copied()
                        .filter(|b| Some(*b) != p.leader)
                        .collect(),
                    None => Vec::new(),
                }
            }
            Selector::AFollowerOf(tp) => {
                let followers = Selector::FollowersOf(tp.clone()).resolve(cluster);
                let controller = cluster.controller();
                followers
                    .iter()
                    .copied()
                    .filter(|b| Some(*b) != controller)
                    .max()
                    .or_else(|| followers.iter().copied().max())
                    .into_iter()
                    .collect()
            }
            Selector::CoordinatorOf(group) => {
                let partitions = cluster.config().offsets_topic_num_partitions;
                let tp = TopicPartition::new(OFFSETS_TOPIC, partition_for_group(group, partitions));
                cluster.leader(&tp).into_iter().collect()
            }
            Selector::ZooKeeper => vec![ZOOKEEPER],
            Selector::Crashed => cluster.down_brokers(),
            Selector::NotController => {
                let down = cluster.down_brokers();
                let controller = cluster.controller();
                cluster
                    .broker_ids()
                    .iter()
                    .copied()
                    .filter(|b| Some(*b) != controller && !down.contains(b))
                    .collect()
            }
            Selector::Consumer(name) => cluster.consumer_named(name).into_iter().collect(),
        }
    }
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Crash(Crash),
    Restart,
    /// A controlled shutdown.
    Shutdown,
    Isolate,
    Partition(Vec<Vec<Selector>>),
    Heal,
    Pause,
    Resume,
    /// A consumer's `close()`: it commits and leaves its group.
    Close,
    /// A consumer's application stops polling for this long.
    Stall(i64),
    /// The links between the target and the peer, both ways, get this delay and loss.
    Link {
        peer: Selector,
        latency_ms: i64,
        loss: f64,
    },
    /// The links between the target and the peer hold their messages (a stalled TCP
    /// connection) until released.
    Hold(Selector),
    Release(Selector),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Crash(Crash::Process) => "crash",
            Action::Crash(Crash::PowerLoss | Crash::PowerLossUnflushedLost) => "power-loss",
            Action::Restart => "restart",
            Action::Shutdown => "shutdown",
            Action::Isolate => "isolate",
            Action::Partition(_) => "partition",
            Action::Heal => "heal",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Close => "close",
            Action::Stall(_) => "stall",
            Action::Link { .. } => "link",
            Action::Hold(_) => "hold",
            Action::Release(_) => "release",
        })
    }
}

/// A fault with its target, applied by the conductor at its time: what scenario files,
/// the nemesis, the TUI's keys and saved sessions all speak.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub action: Action,
    pub target: Option<Selector>,
}

impl Fault {
    pub async fn apply(&self, cluster: &mut Cluster) {
        let targets = self
            .target
            .as_ref()
            .map(|t| t.resolve(cluster))
            .unwrap_or_default();
        if let Some(target) = &self.target
            && targets.is_empty()
        {
            cluster.note(crate::trace::Note::FaultSkipped {
                action: self.action.to_string(),
                target: target.to_string(),
            });
            return;
        }
        match &self.action {
            Action::Crash(crash) => {
                for node in targets {
                    if cluster.is_consumer(node) {
                        cluster.crash_consumer(node);
                    } else if cluster.broker_ids().contains(&node) && cluster.is_up(node) {
                        cluster.crash(node, *crash);
                    }
                }
            }
            Action::Close => {
                for node in targets {
                    if cluster.is_consumer(node) {
                        cluster.close_consumer(node);
                    }
                }
            }
            Action::Stall(ms) => {
                let until = cluster.now_ms() + ms;
                for node in targets {
                    cluster.stall_consumer(node, until);
                }
            }
            Action::Link {
                peer,
                latency_ms,
                loss,
            } => {
                let config = LinkConfig {
                    latency_min_ms: *latency_ms,
                    latency_max_ms: *latency_ms,
                    loss: *loss,
                };
                for (a, b) in pairs(&targets, &peer.resolve(cluster)) {
                    cluster.set_link(a, b, config);
                }
            }
            Action::Hold(peer) => {
                for (a, b) in pairs(&targets, &peer.resolve(cluster)) {
                    cluster.hold(a, b);
                }
            }
            Action::Release(peer) => {
                for (a, b) in pairs(&targets, &peer.resolve(cluster)) {
                    cluster.release(a, b);
                }
            }
            Action::Restart => {
                let down: Vec<BrokerId> =
                    targets.into_iter().filter(|b| !cluster.is_up(*b)).collect();
                for b in down {
                    cluster.restart(b);
                }
            }
            Action::Shutdown => {
                for b in targets {
                    let _ = cluster.shutdown(b).await;
                }
            }
            Action::Isolate => {
                for node in targets {
                    cluster.isolate(node);
                }
            }
            Action::Partition(groups) => {
                let sides: Vec<Vec<NodeId>> = groups
                    .iter()
                    .map(|side| {
                        let nodes: BTreeSet<NodeId> =
                            side.iter().flat_map(|s| s.resolve(cluster)).collect();
                        nodes.into_iter().collect()
                    })
                    .collect();
                let sides: Vec<&[NodeId]> = sides.iter().map(Vec::as_slice).collect();
                cluster.partition(&sides);
            }
            Action::Heal => cluster.heal(),
            Action::Pause => {
                for node in targets {
                    cluster.pause(node);
                }
            }
            Action::Resume => {
                for node in targets {
                    cluster.resume(node);
                }
            }
        }
    }
}

/// Every link between the two sets of nodes, both ways.
fn pairs(a: &[NodeId], b: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    a.iter()
        .flat_map(|x| b.iter().flat_map(move |y| [(*x, *y), (*y, *x)]))
        .filter(|(x, y)| x != y)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_named_once_and_the_names_are_the_actions() {
        let broker = Selector::Broker(1);
        let every = [
            Action::Crash(Crash::Process),
            Action::Crash(Crash::PowerLoss),
            Action::Restart,
            Action::Shutdown,
            Action::Isolate,
            Action::Partition(vec![vec![broker.clone()], vec![Selector::ZooKeeper]]),
            Action::Heal,
            Action::Pause,
            Action::Resume,
            Action::Close,
            Action::Stall(1_000),
            Action::Link {
                peer: broker.clone(),
                latency_ms: 5,
                loss: 0.0,
            },
            Action::Hold(broker.clone()),
            Action::Release(broker),
        ];
        let names: Vec<String> = every.iter().map(ToString::to_string).collect();
        assert_eq!(names, ACTIONS);
        assert_eq!(
            Action::Crash(Crash::PowerLossUnflushedLost).to_string(),
            "power-loss"
        );
    }
}
