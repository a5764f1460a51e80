//! The controller role of a broker, as in ZooKeeper-era Kafka (`KafkaController`): the
//! broker that created `/controller` bumps `/controller_epoch`, loads the cluster from
//! ZooKeeper, and from then on elects leaders, commits ISR changes and creates topics.
//!
//! Like Kafka's controller event thread it handles one event at a time, and an event
//! that writes to ZooKeeper waits for the answer before the next one starts. Every
//! write is a `multi` that first checks `/controller_epoch`, so a deposed controller's
//! writes fail. Requests to brokers go through one channel per broker, one at a time,
//! resent until acknowledged (`ControllerChannelManager`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::controller::{
    Assignment, Election, ElectionKind, IsrChange, LeaderAndIsr, PlacementError, apply_isr_change,
    assign_added_partitions, assign_new_topic, elect_leader, leader_imbalance, validate_assignment,
};
use crate::event::{ElectionReason, Event, EventKind, ResignReason};
use crate::metadata::{MetadataError, SessionId};
use crate::protocol::{
    ClientError, ControllerRequest, CreateTopic, CreateTopicResponse, Message, MultiResult, NodeId,
    PartitionState, TopicConfig, TopicPartition, ZNode, ZkOp, ZkOpResult,
};
use crate::replication::BrokerId;
use crate::rng::SplitMix64;
use crate::zookeeper::{
    BROKER_IDS, CONTROLLER_EPOCH, TOPICS, broker_path, partition_state_path, topic_path,
};

/// This module's actors tell the narration [`crate::event::Event`]s.
type Outbox = crate::actor::Outbox<crate::event::Event>;

/// The controller's timing configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `controller.socket.timeout.ms`: when an unacknowledged request is sent again.
    pub controller_socket_timeout_ms: i64,
    /// `auto.leader.rebalance.enable`
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, in ms.
    pub leader_imbalance_check_interval_ms: i64,
    /// `leader.imbalance.per.broker.percentage`
    pub leader_imbalance_per_broker_percentage: u32,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            controller_socket_timeout_ms: 30_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_ms: 300_000,
            leader_imbalance_per_broker_percentage: 10,
        }
    }
}

/// A topic as the controller caches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub assignment: Vec<Vec<BrokerId>>,
    pub config: TopicConfig,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ControllerEvent {
    BrokerChange,
    AlterPartition {
        from: NodeId,
        tp: TopicPartition,
        change: IsrChange,
    },
    CreateTopic {
        from: NodeId,
        request: CreateTopic,
    },
    CreatePartitions {
        from: NodeId,
        correlation_id: u64,
        topic: String,
        total: u32,
    },
    AlterConfigs {
        from: NodeId,
        correlation_id: u64,
        topic: String,
        config: TopicConfig,
    },
    ControlledShutdown {
        from: NodeId,
        correlation_id: u64,
        broker: BrokerId,
    },
    /// Preferred-leader elections: the periodic check, or on demand.
    Rebalance {
        reply_to: Option<(NodeId, u64)>,
    },
}

/// What the controller does when its ZooKeeper request returns.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    ReadEpoch,
    WriteEpoch {
        epoch: i32,
    },
    LoadIndex {
        failover: bool,
    },
    LoadDetails {
        failover: bool,
        brokers: Vec<BrokerId>,
        topics: Vec<String>,
    },
    LoadStates {
        failover: bool,
        live: BTreeMap<BrokerId, SessionId>,
    },
    BrokerChildren,
    BrokerDetails {
        brokers: Vec<BrokerId>,
    },
    Write {
        write: Write,
    },
}

/// A conditional write and what follows its success.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Write {
    /// (partition, new state, index of its op in the batch, event explaining it).
    changes: Vec<(TopicPartition, LeaderAndIsr, usize, Option<EventKind>)>,
    after: After,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum After {
    /// Send every live broker everything (controller failover).
    Failover,
    /// Send the changed partitions; `started` brokers get all of theirs.
    Changes {
        started: BTreeSet<BrokerId>,
    },
    AlterPartition {
        to: NodeId,
        tp: TopicPartition,
        change: IsrChange,
    },
    /// A topic was created or grew: its new partitions start at `first`.
    NewPartitions {
        from: NodeId,
        reply: TopicReply,
        topic: String,
        info: TopicInfo,
        first: u32,
        /// The admin gave the replicas (`--replica-assignment`); the controller did not place them.
        explicit_assignment: bool,
    },
    /// A topic's configs were written; tell the brokers and answer the admin.
    TopicConfig {
        from: NodeId,
        correlation_id: u64,
        topic: String,
        config: TopicConfig,
    },
    Rebalance {
        reply_to: Option<(NodeId, u64)>,
    },
    /// Answer a controlled shutdown with what the broker still leads.
    ControlledShutdown {
        to: NodeId,
        correlation_id: u64,
        broker: BrokerId,
    },
}

impl After {
    /// The write's outcome is unknown (ZooKeeper's CONNECTIONLOSS): an admin waiting
    /// for it gets REQUEST_TIMED_OUT, the answer Kafka gives when a CreateTopics,
    /// CreatePartitions or ElectLeaders does not complete in time
    /// (`DelayedCreatePartitions.onExpiration`, `DelayedElectLeader.onExpiration`).
    /// Kafka's ZooKeeper client would retry the write once reconnected; here the
    /// controller reloads instead, and the admin client retries the request.
    fn interrupted(&self, out: &mut Outbox) {
        self.answer_admin(out, ClientError::RequestTimedOut);
    }

    /// Answers the admin waiting for this write, if one is, with `error`.
    fn answer_admin(&self, out: &mut Outbox, error: ClientError) {
        match self {
            After::NewPartitions {
                from, reply, topic, ..
            } => reply.send(out, *from, topic, Err(error)),
            After::TopicConfig {
                from,
                correlation_id,
                topic,
                ..
            } => out.send(
                *from,
                Message::AlterConfigsReply {
                    correlation_id: *correlation_id,
                    topic: topic.clone(),
                    result: Err(error),
                },
            ),
            After::Rebalance {
                reply_to: Some((to, correlation_id)),
            } => out.send(
                *to,
                Message::ElectLeadersReply {
                    correlation_id: *correlation_id,
                    result: Err(error),
                },
            ),
            After::Failover
            | After::Changes { .. }
            | After::AlterPartition { .. }
            | After::Rebalance { reply_to: None }
            | After::ControlledShutdown { .. } => {}
        }
    }
}

/// Which admin request to answer once new partitions are written.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TopicReply {
    CreateTopic { correlation_id: u64 },
    CreatePartitions { correlation_id: u64 },
}

impl TopicReply {
    fn send(
        &self,
        out: &mut Outbox,
        to: NodeId,
        topic: &str,
        result: Result<Assignment, ClientError>,
    ) {
        let message = match *self {
            TopicReply::CreateTopic { correlation_id } => {
                Message::CreateTopicReply(CreateTopicResponse {
                    correlation_id,
                    name: topic.to_string(),
                    result,
                })
            }
            TopicReply::CreatePartitions { correlation_id } => Message::CreatePartitionsReply {
                correlation_id,
                topic: topic.to_string(),
                result,
            },
        };
        out.send(to, message);
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Channel {
    queue: VecDeque<(u64, ControllerRequest)>,
    /// When the head of the queue is sent again if not acknowledged.
    resend_at_ms: Option<i64>,
}

/// The active controller's state.
#[derive(Clone, Debug)]
pub struct Controller {
    id: BrokerId,
    config: ControllerConfig,
    epoch: i32,
    epoch_version: i32,
    loaded: bool,
    /// Brokers in a controlled shutdown: they lead nothing new and join no ISR.
    shutting_down: BTreeSet<BrokerId>,
    /// Live brokers and their broker epochs (the session of their registration), so a
    /// broker that bounced between two reads is still seen to have failed (KIP-380).
    live: BTreeMap<BrokerId, SessionId>,
    topics: BTreeMap<String, TopicInfo>,
    /// Each partition's state and the version of its ZooKeeper node.
    states: BTreeMap<TopicPartition, (LeaderAndIsr, i32)>,
    queue: VecDeque<ControllerEvent>,
    waiting: Option<Step>,
    /// The request to send to ZooKeeper, taken by the broker.
    zk_out: Option<Vec<ZkOp>>,
    channels: BTreeMap<BrokerId, Channel>,
    next_correlation: u64,
    next_rebalance_ms: Option<i64>,
    rng: SplitMix64,
    /// Set when the controller learned it was deposed.
    resigned: Option<ResignReason>,
}

impl Controller {
    /// A broker that just created `/controller`: it claims the next controller epoch.
    pub fn new(id: BrokerId, config: ControllerConfig, rng_seed: u64) -> Controller {
        Controller {
            id,
            config,
            epoch: 0,
            epoch_version: 0,
            loaded: false,
            shutting_down: BTreeSet::new(),
            live: BTreeMap::new(),
            topics: BTreeMap::new(),
            states: BTreeMap::new(),
            queue: VecDeque::new(),
            waiting: Some(Step::ReadEpoch),
            zk_out: Some(vec![ZkOp::Get {
                path: CONTROLLER_EPOCH.to_string(),
                watch: false,
            }]),
            channels: BTreeMap::new(),
            next_correlation: 1,
            next_rebalance_ms: None,
            rng: SplitMix64::new(rng_seed),
            resigned: None,
        }
    }

    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    pub fn live_brokers(&self) -> BTreeSet<BrokerId> {
        self.live.keys().copied().collect()
    }

    pub fn topics(&self) -> &BTreeMap<String, TopicInfo> {
        &self.topics
    }

    pub fn partition_states(&self) -> impl Iterator<Item = (&TopicPartition, &LeaderAndIsr)> {
        self.states.iter().map(|(tp, (state, _))| (tp, state))
    }

    /// Why the controller stepped down, once it has.
    pub fn resigned(&self) -> Option<&ResignReason> {
        self.resigned.as_ref()
    }

    /// The ZooKeeper request to send now, if any.
    pub fn take_zk_request(&mut self) -> Option<Vec<ZkOp>> {
        self.zk_out.take()
    }

    /// Requests waiting in the channels, per broker (for snapshots).
    pub fn pending_requests(&self) -> BTreeMap<BrokerId, usize> {
        self.channels
            .iter()
            .map(|(&b, c)| (b, c.queue.len()))
            .collect()
    }

    pub fn next_timer_ms(&self) -> Option<i64> {
        let resend = self.channels.values().filter_map(|c| c.resend_at_ms).min();
        [resend, self.next_rebalance_ms].into_iter().flatten().min()
    }

    fn emit(&self, now_ms: i64, out: &mut Outbox, kind: EventKind) {
        out.emit(Event {
            time_ms: now_ms,
            node: self.id,
            kind,
        });
    }

    fn request(&mut self, ops: Vec<ZkOp>, step: Step) {
        debug_assert!(self.waiting.is_none(), "one ZooKeeper request at a time");
        self.zk_out = Some(ops);
        self.waiting = Some(step);
    }

    fn epoch_check(&self) -> ZkOp {
        ZkOp::Check {
            path: CONTROLLER_EPOCH.to_string(),
            version: self.epoch_version,
        }
    }

    fn resign(&mut self, reason: ResignReason, now_ms: i64, out: &mut Outbox) {
        if self.resigned.is_none() {
            self.emit(
                now_ms,
                out,
                EventKind::ControllerResigned {
                    broker: self.id,
                    reason: reason.clone(),
                },
            );
            self.resigned = Some(reason);
        }
    }

    // ----- inputs --------------------------------------------------------------------

    /// The `/brokers/ids` watch fired.
    pub fn on_broker_change(&mut self, now_ms: i64, out: &mut Outbox) {
        if !self.queue.contains(&ControllerEvent::BrokerChange) {
            self.queue.push_back(ControllerEvent::BrokerChange);
        }
        self.process(now_ms, out);
    }

    pub fn on_alter_partition(
        &mut self,
        from: NodeId,
        tp: TopicPartition,
        change: IsrChange,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.queue
            .push_back(ControllerEvent::AlterPartition { from, tp, change });
        self.process(now_ms, out);
    }

    pub fn on_create_topic(
        &mut self,
        from: NodeId,
        request: CreateTopic,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.queue
            .push_back(ControllerEvent::CreateTopic { from, request });
        self.process(now_ms, out);
    }

    /// A broker's controlled shutdown (`controlled.shutdown.enable`).
    pub fn on_controlled_shutdown(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        broker: BrokerId,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.queue.push_back(ControllerEvent::ControlledShutdown {
            from,
            correlation_id,
            broker,
        });
        self.process(now_ms, out);
    }

    /// More partitions for a topic (`kafka-topics.sh --alter --partitions`).
    pub fn on_create_partitions(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        topic: String,
        total: u32,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.queue.push_back(ControllerEvent::CreatePartitions {
            from,
            correlation_id,
            topic,
            total,
        });
        self.process(now_ms, out);
    }

    /// Kafka's AlterConfigs for a topic (`kafka-configs.sh --alter --entity-type topics`).
    pub fn on_alter_configs(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        topic: String,
        config: TopicConfig,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.queue.push_back(ControllerEvent::AlterConfigs {
            from,
            correlation_id,
            topic,
            config,
        });
        self.process(now_ms, out);
    }

    /// Preferred-leader election on demand (`kafka-leader-election.sh --election-type
    /// preferred`); the reply lists the partitions whose leader moved.
    pub fn on_elect_preferred(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.queue.push_back(ControllerEvent::Rebalance {
            reply_to: Some((from, correlation_id)),
        });
        self.process(now_ms, out);
    }

    pub fn on_ack(&mut self, from: BrokerId, correlation_id: u64, now_ms: i64, out: &mut Outbox) {
        let Some(channel) = self.channels.get_mut(&from) else {
            return;
        };
        if channel
            .queue
            .front()
            .is_some_and(|(c, _)| *c == correlation_id)
        {
            channel.queue.pop_front();
            channel.resend_at_ms = None;
            self.transmit(from, now_ms, out);
        }
    }

    /// The connection to `broker` broke: its unacknowledged request is sent again after
    /// a short backoff (Kafka's RequestSendThread reconnects and retries).
    pub fn on_connection_lost(&mut self, broker: BrokerId, now_ms: i64) {
        if let Some(channel) = self.channels.get_mut(&broker)
            && let Some(at) = &mut channel.resend_at_ms
        {
            *at = (*at).min(now_ms + 100);
        }
    }

    /// A ZooKeeper request was lost (no answer in time): ZooKeeper's connection loss.
    /// The outcome is unknown, so the controller reloads the cluster from ZooKeeper.
    pub fn on_zk_connection_loss(&mut self, now_ms: i64, out: &mut Outbox) {
        if let Some(Step::Write { write }) = self.waiting.take() {
            write.after.interrupted(out);
        }
        if self.epoch == 0 {
            // Still claiming the controller epoch: claim it again (a claim that did
            // succeed costs one epoch number, nothing more).
            self.request(
                vec![ZkOp::Get {
                    path: CONTROLLER_EPOCH.to_string(),
                    watch: false,
                }],
                Step::ReadEpoch,
            );
        } else {
            self.reload(now_ms, out);
        }
    }

    fn reload(&mut self, _now_ms: i64, _out: &mut Outbox) {
        self.load(false);
    }

    /// Reads the cluster from ZooKeeper: the live brokers (watching for changes), the
    /// topics, then their details. `failover` when this controller just took over.
    fn load(&mut self, failover: bool) {
        let ops = vec![
            ZkOp::Children {
                path: BROKER_IDS.to_string(),
                watch: true,
            },
            ZkOp::Children {
                path: TOPICS.to_string(),
                watch: false,
            },
        ];
        self.request(ops, Step::LoadIndex { failover });
    }

    pub fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        let due: Vec<BrokerId> = self
            .channels
            .iter()
            .filter(|(_, c)| c.resend_at_ms.is_some_and(|at| at <= now_ms))
            .map(|(&b, _)| b)
            .collect();
        for broker in due {
            // Not acknowledged in controller.socket.timeout.ms: send the head again.
            self.transmit(broker, now_ms, out);
        }
        if self.next_rebalance_ms.is_some_and(|at| at <= now_ms) {
            self.next_rebalance_ms = Some(now_ms + self.config.leader_imbalance_check_interval_ms);
            let event = ControllerEvent::Rebalance { reply_to: None };
            if !self.queue.contains(&event) {
                self.queue.push_back(event);
            }
            self.process(now_ms, out);
        }
    }

    /// The answer to the outstanding ZooKeeper request.
    pub fn on_zk_result(&mut self, result: MultiResult, now_ms: i64, out: &mut Outbox) {
        let Some(step) = self.waiting.take() else {
            return;
        };
        match step {
            Step::ReadEpoch => {
                let current = match result.as_deref() {
                    Ok([ZkOpResult::Value(Some((ZNode::ControllerEpoch(e), version)))]) => {
                        Some((*e, *version))
                    }
                    _ => None,
                };
                let (epoch, op) = match current {
                    Some((e, version)) => (
                        e + 1,
                        ZkOp::Set {
                            path: CONTROLLER_EPOCH.to_string(),
                            value: ZNode::ControllerEpoch(e + 1),
                            version: Some(version),
                        },
                    ),
                    None => (
                        1,
                        ZkOp::Create {
                            path: CONTROLLER_EPOCH.to_string(),
                            value: ZNode::ControllerEpoch(1),
                            ephemeral: false,
                        },
                    ),
                };
                self.request(vec![op], Step::WriteEpoch { epoch });
            }
            Step::WriteEpoch { epoch } => match result {
                Ok(results) => {
                    self.epoch = epoch;
                    self.epoch_version = match results.first() {
                        Some(ZkOpResult::Version(v)) => *v,
                        _ => 0,
                    };
                    self.emit(
                        now_ms,
                        out,
                        EventKind::ControllerElected {
                            broker: self.id,
                            epoch,
                        },
                    );
                    self.load(true);
                }
                Err((_, error)) => self.resign(
                    ResignReason::EpochClaimed {
                        error: error.to_string(),
                    },
                    now_ms,
                    out,
                ),
            },
            Step::LoadIndex { failover } => {
                let Ok(results) = result else {
                    return self.reload(now_ms, out);
                };
                let (brokers, topics) = match results.as_slice() {
                    [ZkOpResult::Children(b), ZkOpResult::Children(t)] => (b.clone(), t.clone()),
                    _ => return self.reload(now_ms, out),
                };
                let brokers: Vec<BrokerId> =
                    brokers.iter().filter_map(|b| b.parse().ok()).collect();
                let mut ops: Vec<ZkOp> = brokers
                    .iter()
                    .map(|&b| ZkOp::Get {
                        path: broker_path(b),
                        watch: false,
                    })
                    .collect();
                ops.extend(topics.iter().map(|t| ZkOp::Get {
                    path: topic_path(t),
                    watch: false,
                }));
                self.request(
                    ops,
                    Step::LoadDetails {
                        failover,
                        brokers,
                        topics,
                    },
                );
            }
            Step::LoadDetails {
                failover,
                brokers,
                topics,
            } => {
                let Ok(results) = result else {
                    return self.reload(now_ms, out);
                };
                let live = broker_epochs(&brokers, &results[..brokers.len().min(results.len())]);
                self.topics.clear();
                let mut ops = Vec::new();
                for (topic, result) in topics.iter().zip(results.iter().skip(brokers.len())) {
                    if let ZkOpResult::Value(Some((ZNode::Topic { assignment, config }, _))) =
                        result
                    {
                        for p in 0..assignment.len() as u32 {
                            ops.push(ZkOp::Get {
                                path: partition_state_path(topic, p),
                                watch: false,
                            });
                        }
                        self.topics.insert(
                            topic.clone(),
                            TopicInfo {
                                assignment: assignment.clone(),
                                config: config.clone(),
                            },
                        );
                    }
                }
                self.request(ops, Step::LoadStates { failover, live });
            }
            Step::LoadStates { failover, live } => {
                let Ok(results) = result else {
                    return self.reload(now_ms, out);
                };
                self.states.clear();
                let partitions: Vec<TopicPartition> = self.all_partitions();
                for (tp, result) in partitions.into_iter().zip(results) {
                    if let ZkOpResult::Value(Some((ZNode::PartitionState { state, .. }, version))) =
                        result
                    {
                        self.states.insert(tp, (state, version));
                    }
                }
                let previous = std::mem::take(&mut self.live);
                self.loaded = true;
                if failover && self.config.auto_leader_rebalance_enable {
                    self.next_rebalance_ms =
                        Some(now_ms + self.config.leader_imbalance_check_interval_ms);
                }
                let failed: BTreeSet<BrokerId> = previous
                    .iter()
                    .filter(|(b, e)| live.get(b) != Some(e))
                    .map(|(&b, _)| b)
                    .collect();
                let started: BTreeSet<BrokerId> = if failover {
                    live.keys().copied().collect()
                } else {
                    live.iter()
                        .filter(|(b, e)| previous.get(b) != Some(e))
                        .map(|(&b, _)| b)
                        .collect()
                };
                self.set_live(live, &failed, &started);
                let changes = self.reconcile(&failed);
                // A reload follows a lost answer: what it would have sent may never have
                // gone, so every broker gets everything again (stale epochs are ignored).
                self.write_changes(changes, After::Failover, now_ms, out);
            }
            Step::BrokerChildren => {
                let brokers: Vec<BrokerId> = match result.as_deref() {
                    Ok([ZkOpResult::Children(b)]) => {
                        b.iter().filter_map(|b| b.parse().ok()).collect()
                    }
                    _ => return self.reload(now_ms, out),
                };
                let ops = brokers
                    .iter()
                    .map(|&b| ZkOp::Get {
                        path: broker_path(b),
                        watch: false,
                    })
                    .collect();
                self.request(ops, Step::BrokerDetails { brokers });
            }
            Step::BrokerDetails { brokers } => {
                let Ok(results) = result else {
                    return self.reload(now_ms, out);
                };
                let live = broker_epochs(&brokers, &results);
                let failed: BTreeSet<BrokerId> = self
                    .live
                    .iter()
                    .filter(|(b, e)| live.get(b) != Some(e))
                    .map(|(&b, _)| b)
                    .collect();
                let started: BTreeSet<BrokerId> = live
                    .iter()
                    .filter(|(b, e)| self.live.get(b) != Some(e))
                    .map(|(&b, _)| b)
                    .collect();
                if !failed.is_empty() {
                    self.emit(
                        now_ms,
                        out,
                        EventKind::BrokersFailed {
                            brokers: failed.clone(),
                        },
                    );
                }
                if !started.is_empty() {
                    self.emit(
                        now_ms,
                        out,
                        EventKind::BrokersStarted {
                            brokers: started.clone(),
                        },
                    );
                }
                self.set_live(live, &failed, &started);
                let changes = self.reconcile(&failed);
                self.write_changes(changes, After::Changes { started }, now_ms, out);
            }
            Step::Write { write } => match result {
                Ok(results) => self.written(write, &results, now_ms, out),
                Err((0, error)) => {
                    // A newer controller exists: the admin waiting asks it instead.
                    write.after.answer_admin(out, ClientError::NotController);
                    self.resign(
                        ResignReason::WriteRefused {
                            error: error.to_string(),
                        },
                        now_ms,
                        out,
                    )
                }
                Err((_, error)) => {
                    // A preferred election whose write lost a race: the admin tries again.
                    if let After::Rebalance { .. } = &write.after {
                        write.after.answer_admin(out, ClientError::RequestTimedOut);
                    }
                    if let After::NewPartitions {
                        from, reply, topic, ..
                    } = &write.after
                    {
                        let error = match error {
                            MetadataError::NodeExists { .. } => ClientError::TopicAlreadyExists,
                            other => ClientError::InvalidPartitions(other.to_string()),
                        };
                        reply.send(out, *from, topic, Err(error));
                    }
                    if let After::TopicConfig {
                        from,
                        correlation_id,
                        topic,
                        ..
                    } = &write.after
                    {
                        let reply = Message::AlterConfigsReply {
                            correlation_id: *correlation_id,
                            topic: topic.clone(),
                            result: Err(ClientError::UnknownTopicOrPartition),
                        };
                        out.send(*from, reply);
                    }
                    self.reload(now_ms, out);
                }
            },
        }
        self.process(now_ms, out);
    }

    // ----- the event queue -------------------------------------------------------------

    /// Starts queued events until one waits for ZooKeeper.
    fn process(&mut self, now_ms: i64, out: &mut Outbox) {
        while self.waiting.is_none() && self.resigned.is_none() && self.loaded {
            let Some(event) = self.queue.pop_front() else {
                return;
            };
            match event {
                ControllerEvent::BrokerChange => self.request(
                    vec![ZkOp::Children {
                        path: BROKER_IDS.to_string(),
                        watch: true,
                    }],
                    Step::BrokerChildren,
                ),
                ControllerEvent::AlterPartition { from, tp, change } => {
                    self.alter_partition(from, tp, change, now_ms, out)
                }
                ControllerEvent::ControlledShutdown {
                    from,
                    correlation_id,
                    broker,
                } => self.controlled_shutdown(from, correlation_id, broker, now_ms, out),
                ControllerEvent::CreatePartitions {
                    from,
                    correlation_id,
                    topic,
                    total,
                } => self.create_partitions(from, correlation_id, topic, total, out),
                ControllerEvent::CreateTopic { from, request } => {
                    self.create_topic(from, request, now_ms, out)
                }
                ControllerEvent::AlterConfigs {
                    from,
                    correlation_id,
                    topic,
                    config,
                } => self.alter_configs(from, correlation_id, topic, config, out),
                ControllerEvent::Rebalance { reply_to } => self.rebalance(reply_to, now_ms, out),
            }
        }
    }

    fn all_partitions(&self) -> Vec<TopicPartition> {
        self.topics
            .iter()
            .flat_map(|(t, info)| {
                (0..info.assignment.len() as u32).map(move |p| TopicPartition::new(t, p))
            })
            .collect()
    }

    fn assignment(&self, tp: &TopicPartition) -> &[BrokerId] {
        self.topics
            .get(&tp.topic)
            .and_then(|t| t.assignment.get(tp.partition as usize))
            .map_or(&[], Vec::as_slice)
    }

    fn set_live(
        &mut self,
        live: BTreeMap<BrokerId, SessionId>,
        failed: &BTreeSet<BrokerId>,
        started: &BTreeSet<BrokerId>,
    ) {
        self.live = live;
        for broker in failed.iter().chain(started) {
            self.shutting_down.remove(broker);
        }
        for broker in failed {
            // Kafka drops a dead broker's request queue; a new one starts with it.
            self.channels.remove(broker);
        }
        for &broker in started {
            self.channels.insert(broker, Channel::default());
        }
    }

    /// The state changes that broker failures and startups call for: partitions whose
    /// leader failed get a new one (or go offline), dead followers leave ISRs, offline
    /// partitions with a replica back get a leader. A broker that bounced counts as
    /// failed for its old leaderships first, then as live.
    fn reconcile(
        &self,
        failed: &BTreeSet<BrokerId>,
    ) -> Vec<(TopicPartition, LeaderAndIsr, EventKind)> {
        // Brokers shutting down may still lead what nobody else could take, but are not
        // elected anew.
        let live: BTreeSet<BrokerId> = self
            .live_brokers()
            .difference(&self.shutting_down)
            .copied()
            .collect();
        let without_failed: BTreeSet<BrokerId> = live.difference(failed).copied().collect();
        let mut changes = Vec::new();
        for (tp, (state, _)) in &self.states {
            let assignment = self.assignment(tp);
            let unclean = self
                .topics
                .get(&tp.topic)
                .is_some_and(|t| t.config.unclean_leader_election_enable);
            let kind = ElectionKind::Offline {
                unclean_leader_election_enable: unclean,
            };
            let leader_ok = state.leader.is_some_and(|l| {
                (live.contains(&l) || self.shutting_down.contains(&l)) && !failed.contains(&l)
            });
            if leader_ok {
                let dead: BTreeSet<BrokerId> = state
                    .isr
                    .iter()
                    .filter(|b| !without_failed.contains(b) && !self.shutting_down.contains(b))
                    .copied()
                    .collect();
                if !dead.is_empty() {
                    let next = state.shrunk(&dead);
                    let event = EventKind::IsrShrunkByController {
                        tp: tp.clone(),
                        removed: dead,
                        isr: next.isr.clone(),
                        leader_epoch: next.leader_epoch,
                        shutting_down: false,
                    };
                    changes.push((tp.clone(), next, event));
                }
                continue;
            }
            // First without the failed brokers (their old incarnation is gone), then, for
            // a partition still offline, with every live broker.
            let election = elect_leader(
                kind,
                assignment,
                &state.isr,
                &without_failed,
                &BTreeSet::new(),
            )
            .or_else(|| elect_leader(kind, assignment, &state.isr, &live, &BTreeSet::new()));
            match election {
                Some(election) => {
                    let reason = match state.leader {
                        Some(previous) => ElectionReason::LeaderFailed { previous },
                        None if state.leader_epoch == 0 && state.partition_epoch == 0 => {
                            ElectionReason::NewPartition
                        }
                        None => ElectionReason::ReplicaCameBack,
                    };
                    changes.push(elected(tp, state, &election, reason));
                }
                None if state.leader.is_some() => {
                    // ReplicaStateMachine.doRemoveReplicasFromIsr: each dead replica
                    // leaves the ISR, in broker id order (the sorted dead brokers), except
                    // the last one: `if (isr.size == 1) isr`. Only that replica may lead
                    // again in a clean election.
                    let mut next = state.offline();
                    let dead = state
                        .isr
                        .iter()
                        .filter(|b| !without_failed.contains(b) && !self.shutting_down.contains(b));
                    for dead in dead {
                        if next.isr.len() > 1 {
                            next.isr.remove(dead);
                        }
                    }
                    let event = EventKind::PartitionOffline {
                        tp: tp.clone(),
                        leader_epoch: next.leader_epoch,
                        isr: next.isr.clone(),
                        unclean_leader_election_enable: unclean,
                    };
                    changes.push((tp.clone(), next, event));
                }
                None => {}
            }
        }
        changes
    }

    fn write_changes(
        &mut self,
        changes: Vec<(TopicPartition, LeaderAndIsr, EventKind)>,
        after: After,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let mut ops = vec![self.epoch_check()];
        let mut write = Write {
            changes: Vec::new(),
            after,
        };
        for (tp, state, event) in changes {
            let version = self.states.get(&tp).map(|(_, v)| *v);
            write
                .changes
                .push((tp.clone(), state.clone(), ops.len(), Some(event)));
            ops.push(ZkOp::Set {
                path: partition_state_path(&tp.topic, tp.partition),
                value: ZNode::PartitionState {
                    state,
                    controller_epoch: self.epoch,
                },
                version,
            });
        }
        if write.changes.is_empty() {
            // Nothing to write: go straight to the sends.
            return self.written(write, &[], now_ms, out);
        }
        self.request(ops, Step::Write { write });
    }

    /// A write succeeded: update the cache, narrate, and tell the brokers.
    fn written(&mut self, write: Write, results: &[ZkOpResult], now_ms: i64, out: &mut Outbox) {
        if let After::NewPartitions {
            topic,
            info,
            first,
            explicit_assignment,
            ..
        } = &write.after
        {
            self.topics.insert(topic.clone(), info.clone());
            let kind = if *first == 0 {
                EventKind::TopicCreated {
                    topic: topic.clone(),
                    assignment: info.assignment.clone(),
                    explicit_assignment: *explicit_assignment,
                }
            } else {
                EventKind::PartitionsAdded {
                    topic: topic.clone(),
                    first: *first,
                    assignment: info.assignment[*first as usize..].to_vec(),
                }
            };
            self.emit(now_ms, out, kind);
        }
        let mut changed = Vec::new();
        for (tp, state, index, event) in write.changes {
            let version = match results.get(index) {
                Some(ZkOpResult::Version(v)) => *v,
                _ => 0,
            };
            self.states.insert(tp.clone(), (state, version));
            if let Some(kind) = event {
                self.emit(now_ms, out, kind);
            }
            changed.push(tp);
        }
        let live = self.live_brokers();
        match write.after {
            After::Failover => {
                let all = self.all_partitions();
                for &broker in &live {
                    self.send_leader_and_isr(broker, &all, now_ms, out);
                }
                self.broadcast_metadata(now_ms, out);
            }
            After::Changes { started } => {
                let all = self.all_partitions();
                for &broker in &live {
                    let partitions = if started.contains(&broker) {
                        &all
                    } else {
                        &changed
                    };
                    self.send_leader_and_isr(broker, partitions, now_ms, out);
                }
                // Even with nothing to move, the live set changed.
                self.broadcast_metadata(now_ms, out);
            }
            After::AlterPartition { to, tp, change } => {
                if let Some((state, version)) = self.states.get(&tp) {
                    self.emit(
                        now_ms,
                        out,
                        EventKind::IsrChangeCommitted {
                            tp: tp.clone(),
                            isr: state.isr.clone(),
                            partition_epoch: *version,
                        },
                    );
                    let result = Ok(state.clone());
                    out.send(to, Message::AlterPartitionReply { tp, change, result });
                }
                self.broadcast_metadata(now_ms, out);
            }
            After::NewPartitions {
                from,
                reply,
                topic,
                info,
                first,
                ..
            } => {
                let partitions: Vec<TopicPartition> = (first..info.assignment.len() as u32)
                    .map(|p| TopicPartition::new(&topic, p))
                    .collect();
                for &broker in &live {
                    self.send_leader_and_isr(broker, &partitions, now_ms, out);
                }
                self.broadcast_metadata(now_ms, out);
                let added = info.assignment[first as usize..].to_vec();
                reply.send(out, from, &topic, Ok(added));
            }
            After::TopicConfig {
                from,
                correlation_id,
                topic,
                config,
            } => {
                if let Some(info) = self.topics.get_mut(&topic) {
                    let changes = config.differences(&info.config);
                    info.config = config;
                    if !changes.is_empty() {
                        let kind = EventKind::TopicConfigChanged {
                            topic: topic.clone(),
                            changes,
                        };
                        self.emit(now_ms, out, kind);
                    }
                }
                // UpdateMetadata carries each partition's configs to its replicas.
                self.broadcast_metadata(now_ms, out);
                out.send(
                    from,
                    Message::AlterConfigsReply {
                        correlation_id,
                        topic,
                        result: Ok(()),
                    },
                );
                // Turning unclean.leader.election.enable on lets offline partitions take
                // a replica from outside the ISR now, as Kafka's controller does.
                let elections = self.reconcile(&BTreeSet::new());
                if !elections.is_empty() {
                    let after = After::Changes {
                        started: BTreeSet::new(),
                    };
                    self.write_changes(elections, after, now_ms, out);
                }
            }
            After::ControlledShutdown {
                to,
                correlation_id,
                broker,
            } => {
                for &b in &live {
                    self.send_leader_and_isr(b, &changed, now_ms, out);
                }
                self.broadcast_metadata(now_ms, out);
                let remaining = self
                    .states
                    .iter()
                    .filter(|(_, (state, _))| state.leader == Some(broker))
                    .map(|(tp, _)| tp.clone())
                    .collect();
                out.send(
                    to,
                    Message::ControlledShutdownReply {
                        correlation_id,
                        remaining,
                    },
                );
            }
            After::Rebalance { reply_to } => {
                for &broker in &live {
                    self.send_leader_and_isr(broker, &changed, now_ms, out);
                }
                if !changed.is_empty() {
                    self.broadcast_metadata(now_ms, out);
                }
                if let Some((to, correlation_id)) = reply_to {
                    out.send(
                        to,
                        Message::ElectLeadersReply {
                            correlation_id,
                            result: Ok(changed),
                        },
                    );
                }
            }
        }
    }

    fn partition_state(&self, tp: &TopicPartition) -> Option<PartitionState> {
        let (state, _) = self.states.get(tp)?;
        let info = self.topics.get(&tp.topic)?;
        Some(PartitionState {
            tp: tp.clone(),
            state: state.clone(),
            assignment: info.assignment.get(tp.partition as usize)?.clone(),
            config: info.config.clone(),
        })
    }

    /// Sends `broker` a LeaderAndIsr for those of `partitions` it hosts, if any.
    fn send_leader_and_isr(
        &mut self,
        broker: BrokerId,
        partitions: &[TopicPartition],
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let partitions: Vec<PartitionState> = partitions
            .iter()
            .filter_map(|tp| self.partition_state(tp))
            .filter(|ps| ps.assignment.contains(&broker))
            .collect();
        if !partitions.is_empty() {
            self.enqueue(
                broker,
                ControllerRequest::LeaderAndIsr { partitions },
                now_ms,
                out,
            );
        }
    }

    fn broadcast_metadata(&mut self, now_ms: i64, out: &mut Outbox) {
        let live = self.live_brokers();
        let partitions: Vec<PartitionState> = self
            .all_partitions()
            .iter()
            .filter_map(|tp| self.partition_state(tp))
            .collect();
        for &broker in &live {
            let request = ControllerRequest::UpdateMetadata {
                live_brokers: live.clone(),
                partitions: partitions.clone(),
            };
            self.enqueue(broker, request, now_ms, out);
        }
    }

    fn enqueue(
        &mut self,
        broker: BrokerId,
        request: ControllerRequest,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let Some(channel) = self.channels.get_mut(&broker) else {
            return;
        };
        channel.queue.push_back((correlation_id, request));
        if channel.resend_at_ms.is_none() {
            self.transmit(broker, now_ms, out);
        }
    }

    /// Sends the head of a broker's queue and arms its resend timer.
    fn transmit(&mut self, broker: BrokerId, now_ms: i64, out: &mut Outbox) {
        let (id, epoch, timeout) = (
            self.id,
            self.epoch,
            self.config.controller_socket_timeout_ms,
        );
        let broker_epoch = self.live.get(&broker).copied().unwrap_or_default();
        let Some(channel) = self.channels.get_mut(&broker) else {
            return;
        };
        match channel.queue.front() {
            Some((correlation_id, request)) => {
                out.send(
                    broker,
                    Message::Controller {
                        controller_id: id,
                        controller_epoch: epoch,
                        broker_epoch,
                        correlation_id: *correlation_id,
                        request: request.clone(),
                    },
                );
                channel.resend_at_ms = Some(now_ms + timeout);
            }
            None => channel.resend_at_ms = None,
        }
    }

    // ----- the events ------------------------------------------------------------------

    fn alter_partition(
        &mut self,
        from: NodeId,
        tp: TopicPartition,
        change: IsrChange,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let Some((current, _)) = self.states.get(&tp).cloned() else {
            return;
        };
        // A resend of a change already applied gets the same answer again.
        if current.leader == Some(change.leader)
            && current.leader_epoch == change.leader_epoch
            && current.isr == change.new_isr
        {
            out.send(
                from,
                Message::AlterPartitionReply {
                    tp,
                    change,
                    result: Ok(current),
                },
            );
            return;
        }
        let assignment = self.assignment(&tp).to_vec();
        let eligible: BTreeSet<BrokerId> = self
            .live_brokers()
            .difference(&self.shutting_down)
            .copied()
            .collect();
        match apply_isr_change(&current, &change, &assignment, &eligible) {
            Ok(next) => {
                let ops = vec![
                    self.epoch_check(),
                    ZkOp::Set {
                        path: partition_state_path(&tp.topic, tp.partition),
                        value: ZNode::PartitionState {
                            state: next.clone(),
                            controller_epoch: self.epoch,
                        },
                        version: self.states.get(&tp).map(|(_, v)| *v),
                    },
                ];
                let write = Write {
                    changes: vec![(tp.clone(), next, 1, None)],
                    after: After::AlterPartition {
                        to: from,
                        tp,
                        change: change.clone(),
                    },
                };
                self.request(ops, Step::Write { write });
            }
            Err(rejected) => {
                self.emit(
                    now_ms,
                    out,
                    EventKind::IsrChangeRejected {
                        tp: tp.clone(),
                        leader: change.leader,
                        reason: rejected.clone(),
                    },
                );
                out.send(
                    from,
                    Message::AlterPartitionReply {
                        tp,
                        change,
                        result: Err(rejected),
                    },
                );
            }
        }
    }

    fn create_topic(&mut self, from: NodeId, request: CreateTopic, _now_ms: i64, out: &mut Outbox) {
        let reply_error = |out: &mut Outbox, error: ClientError| {
            out.send(
                from,
                Message::CreateTopicReply(CreateTopicResponse {
                    correlation_id: request.correlation_id,
                    name: request.name.clone(),
                    result: Err(error),
                }),
            );
        };
        if self.topics.contains_key(&request.name) {
            return reply_error(out, ClientError::TopicAlreadyExists);
        }
        let brokers: Vec<BrokerId> = self.live.keys().copied().collect();
        let placed = match &request.replica_assignment {
            Some(given) => validate_assignment(given, &brokers).map(|()| given.clone()),
            None => assign_new_topic(
                request.partitions,
                request.replication_factor,
                &brokers,
                &mut self.rng,
            ),
        };
        let assignment = match placed {
            Ok(a) => a,
            Err(e @ PlacementError::Assignment(_)) => {
                return reply_error(out, ClientError::InvalidReplicaAssignment(e.to_string()));
            }
            Err(e) => {
                return reply_error(out, ClientError::InvalidReplicationFactor(e.to_string()));
            }
        };
        let info = TopicInfo {
            assignment,
            config: request.config.clone(),
        };
        let reply = TopicReply::CreateTopic {
            correlation_id: request.correlation_id,
        };
        let explicit = request.replica_assignment.is_some();
        self.write_new_partitions(from, reply, &request.name, info, 0, explicit);
    }

    /// Writes a topic's new configs to its znode (Kafka writes `/config/topics/<topic>`
    /// and a change notification; kafkasim keeps configs beside the assignment).
    fn alter_configs(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        topic: String,
        config: TopicConfig,
        out: &mut Outbox,
    ) {
        let refuse = |out: &mut Outbox, error: ClientError| {
            out.send(
                from,
                Message::AlterConfigsReply {
                    correlation_id,
                    topic: topic.clone(),
                    result: Err(error),
                },
            );
        };
        let Some(info) = self.topics.get(&topic) else {
            return refuse(out, ClientError::UnknownTopicOrPartition);
        };
        if let Err(e) = config.log.validate() {
            return refuse(out, ClientError::InvalidConfig(e.to_string()));
        }
        if config.min_insync_replicas == 0 {
            return refuse(
                out,
                ClientError::InvalidConfig("min.insync.replicas must be at least 1".to_string()),
            );
        }
        let ops = vec![
            self.epoch_check(),
            ZkOp::Set {
                path: topic_path(&topic),
                value: ZNode::Topic {
                    assignment: info.assignment.clone(),
                    config: config.clone(),
                },
                version: None,
            },
        ];
        let write = Write {
            changes: Vec::new(),
            after: After::TopicConfig {
                from,
                correlation_id,
                topic,
                config,
            },
        };
        self.request(ops, Step::Write { write });
    }

    /// Kafka's CreatePartitions: more partitions for a topic, placed after the existing
    /// ones (`assign_added_partitions`). Partitions are never removed.
    fn create_partitions(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        topic: String,
        total: u32,
        out: &mut Outbox,
    ) {
        let reply = TopicReply::CreatePartitions { correlation_id };
        let Some(existing) = self.topics.get(&topic).cloned() else {
            return reply.send(out, from, &topic, Err(ClientError::UnknownTopicOrPartition));
        };
        let current = existing.assignment.len() as u32;
        if total <= current {
            let why = format!(
                "topic {topic} has {current} partitions; the new count must be larger, not {total} (INVALID_PARTITIONS)"
            );
            return reply.send(out, from, &topic, Err(ClientError::InvalidPartitions(why)));
        }
        let brokers: Vec<BrokerId> = self.live.keys().copied().collect();
        let added = match assign_added_partitions(&existing.assignment, total - current, &brokers) {
            Ok(a) => a,
            Err(e) => {
                return reply.send(
                    out,
                    from,
                    &topic,
                    Err(ClientError::InvalidReplicationFactor(e.to_string())),
                );
            }
        };
        let mut info = existing;
        info.assignment.extend(added);
        self.write_new_partitions(from, reply, &topic, info, current, false);
    }

    /// Writes a topic's assignment and the state of its partitions from `first` on: the
    /// first live replica leads, the live replicas are the ISR.
    fn write_new_partitions(
        &mut self,
        from: NodeId,
        reply: TopicReply,
        topic: &str,
        info: TopicInfo,
        first: u32,
        explicit_assignment: bool,
    ) {
        // A topic's first partitions create it; later ones grow it.
        let create = first == 0;
        let value = ZNode::Topic {
            assignment: info.assignment.clone(),
            config: info.config.clone(),
        };
        let mut ops = vec![self.epoch_check()];
        if create {
            ops.push(ZkOp::Create {
                path: topic_path(topic),
                value,
                ephemeral: false,
            });
            ops.push(ZkOp::Create {
                path: format!("{}/partitions", topic_path(topic)),
                value: ZNode::Empty,
                ephemeral: false,
            });
        } else {
            ops.push(ZkOp::Set {
                path: topic_path(topic),
                value,
                version: None,
            });
        }
        let live = self.live_brokers();
        let mut changes = Vec::new();
        for (p, replicas) in info.assignment.iter().enumerate().skip(first as usize) {
            let isr: BTreeSet<BrokerId> = replicas
                .iter()
                .filter(|b| live.contains(b))
                .copied()
                .collect();
            let leader = replicas.iter().find(|b| live.contains(b)).copied();
            let state = LeaderAndIsr {
                leader,
                leader_epoch: 0,
                isr: isr.clone(),
                partition_epoch: 0,
            };
            ops.push(ZkOp::Create {
                path: format!("{}/partitions/{p}", topic_path(topic)),
                value: ZNode::Empty,
                ephemeral: false,
            });
            let tp = TopicPartition::new(topic, p as u32);
            let event = leader.map(|leader| EventKind::LeaderElected {
                tp: tp.clone(),
                leader,
                leader_epoch: 0,
                isr,
                unclean: false,
                reason: ElectionReason::NewPartition,
            });
            changes.push((tp, state.clone(), ops.len(), event));
            ops.push(ZkOp::Create {
                path: partition_state_path(topic, p as u32),
                value: ZNode::PartitionState {
                    state,
                    controller_epoch: self.epoch,
                },
                ephemeral: false,
            });
        }
        let write = Write {
            changes,
            after: After::NewPartitions {
                from,
                reply,
                topic: topic.to_string(),
                info,
                first,
                explicit_assignment,
            },
        };
        self.request(ops, Step::Write { write });
    }

    /// Kafka's `doControlledShutdown`: every partition the broker leads gets a new leader
    /// from the rest of its ISR (when there is one), and the broker leaves the ISR of the
    /// partitions it follows. The answer lists what it still leads.
    fn controlled_shutdown(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        broker: BrokerId,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.shutting_down.insert(broker);
        let live = self.live_brokers();
        let mut changes = Vec::new();
        for (tp, (state, _)) in &self.states {
            let assignment = self.assignment(tp);
            if !assignment.contains(&broker) {
                continue;
            }
            if state.leader == Some(broker) {
                let kind = ElectionKind::ControlledShutdown;
                if let Some(election) =
                    elect_leader(kind, assignment, &state.isr, &live, &self.shutting_down)
                {
                    let reason = ElectionReason::ControlledShutdown { previous: broker };
                    changes.push(elected(tp, state, &election, reason));
                }
            } else if state.leader.is_some() && state.isr.contains(&broker) {
                let removed = BTreeSet::from([broker]);
                let next = state.shrunk(&removed);
                let event = EventKind::IsrShrunkByController {
                    tp: tp.clone(),
                    removed,
                    isr: next.isr.clone(),
                    leader_epoch: next.leader_epoch,
                    shutting_down: true,
                };
                changes.push((tp.clone(), next, event));
            }
        }
        let after = After::ControlledShutdown {
            to: from,
            correlation_id,
            broker,
        };
        self.write_changes(changes, after, now_ms, out);
    }

    fn rebalance(&mut self, reply_to: Option<(NodeId, u64)>, now_ms: i64, out: &mut Outbox) {
        let live = self.live_brokers();
        let view: BTreeMap<TopicPartition, (Vec<BrokerId>, Option<BrokerId>)> = self
            .states
            .iter()
            .map(|(tp, (state, _))| (tp.clone(), (self.assignment(tp).to_vec(), state.leader)))
            .collect();
        // On demand every partition off its preferred leader moves; the periodic check
        // moves only brokers above leader.imbalance.per.broker.percentage.
        let threshold = if reply_to.is_some() {
            0
        } else {
            self.config.leader_imbalance_per_broker_percentage
        };
        let imbalanced = leader_imbalance(&view, &live, threshold);
        let mut changes = Vec::new();
        for tp in imbalanced.into_values().flatten() {
            let (state, _) = &self.states[&tp];
            let assignment = self.assignment(&tp);
            if let Some(election) = elect_leader(
                ElectionKind::Preferred,
                assignment,
                &state.isr,
                &live,
                &BTreeSet::new(),
            ) && state.leader != Some(election.leader)
            {
                changes.push(elected(&tp, state, &election, ElectionReason::Preferred));
            }
        }
        self.write_changes(changes, After::Rebalance { reply_to }, now_ms, out);
    }
}

/// The state change an election makes, with the event that narrates it.
fn elected(
    tp: &TopicPartition,
    state: &LeaderAndIsr,
    election: &Election,
    reason: ElectionReason,
) -> (TopicPartition, LeaderAndIsr, EventKind) {
    let next = state.elected(election);
    let event = EventKind::LeaderElected {
        tp: tp.clone(),
        leader: election.leader,
        leader_epoch: next.leader_epoch,
        isr: next.isr.clone(),
        unclean: election.unclean,
        reason,
    };
    (tp.clone(), next, event)
}

/// Broker ids and their broker epochs from the `Get`s of their registrations.
fn broker_epochs(brokers: &[BrokerId], results: &[ZkOpResult]) -> BTreeMap<BrokerId, SessionId> {
    brokers
        .iter()
        .zip(results)
        .filter_map(|(&b, result)| match result {
            ZkOpResult::Value(Some((ZNode::Broker { epoch, .. }, _))) => Some((b, *epoch)),
            _ => None,
        })
        .collect()
}
