//! A Kafka broker (ZooKeeper mode) as one state machine: its ZooKeeper session and
//! registration, the partitions it hosts (leader or follower), the follower fetchers,
//! produce and fetch purgatories, ISR checks and AlterPartition, the high-watermark
//! checkpoint, and, when it wins `/controller`, the [`crate::controller::role::Controller`] role.
//!
//! Its disk is a value ([`BrokerDisk`]): the simulation decides what of it survives a
//! crash and starts a new broker from what is left.

mod groups;

use crate::actor::Actor;
use std::collections::{BTreeMap, BTreeSet};

use crate::config::LogConfig;
use crate::controller::{IsrChange, LeaderAndIsr};
use crate::event::{Event, EventKind, ResignReason};
use crate::log::Log;
use crate::metadata::{MetadataError, SessionId, WatchEvent};
use crate::partition::{
    Acks, IdempotentAppend, Partition, PartitionConfig, PartitionError, TruncationProtocol,
};
use crate::protocol::{
    ClientError, ConsumerFetch, ConsumerFetchResponse, ConsumerRecords, ControllerRequest, Message,
    MetadataResponse, NodeId, PartitionMetadata, PartitionState, ProduceRequest, ProduceResponse,
    ReplicaFetch, ReplicaFetchResponse, TopicConfig, TopicPartition, ZNode, ZOOKEEPER, ZkOp,
    ZkOpResult, ZkRequest, ZkResponse,
};
use crate::record::Compression;
use crate::replication::BrokerId;
use crate::replication::epoch::LeaderEpochCache;
use crate::replication::producer_state::BatchHeader;
use crate::zookeeper::{BROKER_IDS, CONTROLLER, broker_path};

use crate::controller::role::{Controller, ControllerConfig};
use crate::group::coordinator::{Coordinator, CoordinatorConfig};

/// This module's actors tell the narration [`crate::event::Event`]s.
type Outbox = crate::actor::Outbox<crate::event::Event>;

/// A broker's configuration: Kafka's broker-level names and defaults (Kafka 4.0, with
/// ZooKeeper-era settings where KRaft has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `replica.lag.time.max.ms`: 30000 since Kafka 2.5, 10000 before.
    pub replica_lag_time_max_ms: i64,
    /// `replica.fetch.wait.max.ms`: how long a leader holds a follower fetch with no data.
    pub replica_fetch_wait_max_ms: i64,
    /// `replica.fetch.max.bytes`
    pub replica_fetch_max_bytes: usize,
    /// `replica.fetch.backoff.ms`: the pause after a fetch failed.
    pub replica_fetch_backoff_ms: i64,
    /// `replica.socket.timeout.ms`: a follower fetch unanswered this long is sent again.
    pub replica_socket_timeout_ms: i64,
    /// `replica.high.watermark.checkpoint.interval.ms`
    pub replica_high_watermark_checkpoint_interval_ms: i64,
    /// `zookeeper.session.timeout.ms`: 18000 since Kafka 2.5, 6000 before.
    pub zookeeper_session_timeout_ms: i64,
    /// The truncation rule of the inter-broker protocol: leader epochs (0.11+, with
    /// KIP-279's fix) or the high watermark (before 0.11).
    pub replication_protocol: TruncationProtocol,
    /// Kafka 3.7+ (KAFKA-15583): the HW stands still while the ISR is below
    /// `min.insync.replicas`.
    pub hold_high_watermark_below_min_isr: bool,
    pub controller: ControllerConfig,
    /// `log.retention.check.interval.ms`: how often retention runs.
    pub log_retention_check_interval_ms: i64,
    /// `controlled.shutdown.max.retries`: attempts before stopping anyway.
    pub controlled_shutdown_max_retries: u32,
    /// `controlled.shutdown.retry.backoff.ms`
    pub controlled_shutdown_retry_backoff_ms: i64,
    /// Topic configs for topics created without their own.
    pub default_topic_config: TopicConfig,
    /// `offsets.topic.num.partitions`: how many partitions `__consumer_offsets` gets.
    pub offsets_topic_num_partitions: u32,
    /// `offsets.topic.replication.factor`: the topic is not created while fewer brokers
    /// are alive.
    pub offsets_topic_replication_factor: usize,
    /// `offsets.commit.timeout.ms`: how long a commit may wait for the ISR.
    pub offsets_commit_timeout_ms: i64,
    /// The group coordinator's `group.*` configs.
    pub group: CoordinatorConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1024 * 1024,
            replica_fetch_backoff_ms: 1_000,
            replica_socket_timeout_ms: 30_000,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            zookeeper_session_timeout_ms: 18_000,
            replication_protocol: TruncationProtocol::LeaderEpoch,
            hold_high_watermark_below_min_isr: true,
            controller: ControllerConfig::default(),
            log_retention_check_interval_ms: 300_000,
            controlled_shutdown_max_retries: 3,
            controlled_shutdown_retry_backoff_ms: 5_000,
            default_topic_config: TopicConfig::default(),
            offsets_topic_num_partitions: 50,
            offsets_topic_replication_factor: 3,
            offsets_commit_timeout_ms: 5_000,
            group: CoordinatorConfig::default(),
        }
    }
}

impl BrokerConfig {
    fn partition_config(&self, topic: &TopicConfig) -> PartitionConfig {
        PartitionConfig {
            log: topic.log.clone(),
            replica_lag_time_max_ms: self.replica_lag_time_max_ms,
            min_insync_replicas: topic.min_insync_replicas,
            truncation: self.replication_protocol,
            hold_high_watermark_below_min_isr: self.hold_high_watermark_below_min_isr,
            replica_fetch_max_bytes: self.replica_fetch_max_bytes,
        }
    }
}

/// One partition's files as they lie on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDisk {
    /// The config the log was created with (Kafka reads it from ZooKeeper at startup).
    pub config: LogConfig,
    /// Each segment's `.log` bytes by base offset. Indexes are rebuilt by recovery.
    pub segments: Vec<(i64, Vec<u8>)>,
    /// The `leader-epoch-checkpoint` file (written and fsynced on every change).
    pub leader_epoch_checkpoint: String,
    /// The idempotent batches' v2 headers, which Kafka's log holds in its record batches
    /// and kafkasim's v0/v1 messages cannot: kept beside the segments and cut with them
    /// when recovery shortens the log, so a restarted broker knows its producers.
    pub producer_batches: Vec<BatchHeader>,
}

/// What a broker finds on its disk when it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerDisk {
    pub logs: BTreeMap<TopicPartition, LogDisk>,
    /// `replication-offset-checkpoint`: the HW of each partition as of the last
    /// checkpoint (every `replica.high.watermark.checkpoint.interval.ms`, fsynced).
    pub high_watermarks: BTreeMap<TopicPartition, i64>,
}

/// A replica this broker hosts, with what the controller said about it.
#[derive(Clone, Debug)]
pub struct Replica {
    pub partition: Partition,
    pub assignment: Vec<BrokerId>,
    pub config: TopicConfig,
    /// Why the follower is not fetching, and until when.
    fetch_blocked_until_ms: i64,
    /// When the log was last fsynced by `flush.ms`.
    last_flush_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ZkPurpose {
    OpenSession,
    Ping,
    Register,
    ReadController,
    ClaimController,
    /// After NODEEXISTS on registration: whose node is it?
    CheckRegistration,
    Controller,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Registration {
    Unregistered,
    Pending,
    Registered,
    /// The previous incarnation's node still exists; retry at this time.
    Blocked {
        retry_at_ms: i64,
    },
}

/// A follower fetcher: one per leader this broker follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fetcher {
    /// The request in flight and when it is given up.
    in_flight: Option<(u64, i64)>,
    backoff_until_ms: i64,
}

/// An acks=all write waiting for the HW (Kafka's DelayedProduce): a client's produce
/// or the group coordinator's write to `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingProduce {
    tp: TopicPartition,
    required_offset: i64,
    deadline_ms: i64,
    waiter: Waiter,
}

/// Who waits for a write.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Waiter {
    Client {
        from: NodeId,
        correlation_id: u64,
        first_offset: i64,
    },
    Group(groups::OffsetsWrite),
}

/// A follower fetch with nothing to return yet (Kafka's DelayedFetch).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ParkedFetch {
    from: NodeId,
    request: ReplicaFetch,
    deadline_ms: i64,
}

/// A controlled shutdown in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shutdown {
    correlation_id: u64,
    attempts: u32,
    /// When the request is sent again (no answer, or leaderships remain).
    retry_at_ms: i64,
    done: bool,
}

/// The cluster as this broker's metadata cache knows it (from UpdateMetadata).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataCache {
    pub live_brokers: BTreeSet<BrokerId>,
    pub partitions: BTreeMap<TopicPartition, PartitionState>,
}

/// A broker.
#[derive(Clone, Debug)]
pub struct Broker {
    id: BrokerId,
    config: BrokerConfig,
    session: Option<SessionId>,
    next_xid: u64,
    zk_pending: BTreeMap<u64, (i64, ZkPurpose)>,
    next_ping_ms: Option<i64>,
    /// The session timeout ZooKeeper granted (the configured one until a session opens):
    /// the ZooKeeper client's pings and request timeouts follow it, as `ClientCnxn` uses
    /// the negotiated timeout.
    zk_session_timeout_ms: i64,
    registration: Registration,
    /// The broker epoch of the current registration (its session, KIP-380).
    registered_epoch: Option<SessionId>,
    /// The controller as `/controller` last said.
    controller_id: Option<BrokerId>,
    controller: Option<Controller>,
    /// The highest controller epoch seen: requests from older controllers are ignored.
    controller_epoch: i32,
    replicas: BTreeMap<TopicPartition, Replica>,
    metadata: MetadataCache,
    fetchers: BTreeMap<BrokerId, Fetcher>,
    produce_purgatory: Vec<PendingProduce>,
    fetch_purgatory: Vec<ParkedFetch>,
    /// ISR changes sent to the controller and not answered: (change, resend time).
    alter_pending: BTreeMap<TopicPartition, (IsrChange, i64)>,
    high_watermark_checkpoint: BTreeMap<TopicPartition, i64>,
    next_isr_check_ms: i64,
    next_checkpoint_ms: i64,
    next_retention_ms: i64,
    next_correlation: u64,
    rng_seed: u64,
    controllers_started: u64,
    shutdown: Option<Shutdown>,
    /// The group coordinator for the `__consumer_offsets` partitions this broker leads.
    coordinator: Coordinator,
    /// The `__consumer_offsets` partitions whose groups are loaded.
    coordinated: BTreeSet<u32>,
    offsets_topic_requested_ms: Option<i64>,
    next_producer_id: i64,
    /// The time of the latest input: timers at or before it that are still set are
    /// waiting on something else (a backoff), not due.
    now_ms: i64,
}

/// `retry.backoff.ms`: the pause before a request on a broken connection is sent again.
const RETRY_BACKOFF_MS: i64 = 100;

/// ZooKeeper's client treats a request unanswered for 2/3 of the session timeout as a
/// lost connection.
fn zk_request_timeout_ms(session_timeout_ms: i64) -> i64 {
    session_timeout_ms * 2 / 3
}

impl Broker {
    /// Starts a broker on what its disk holds: every log is recovered from its bytes, its
    /// epoch cache trimmed to the recovered log, its HW read from the checkpoint. Then it
    /// opens a ZooKeeper session.
    pub fn start(
        id: BrokerId,
        config: BrokerConfig,
        disk: BrokerDisk,
        rng_seed: u64,
        now_ms: i64,
        out: &mut Outbox,
    ) -> Broker {
        let coordinator = Coordinator::new(config.group.clone(), rng_seed.rotate_left(17));
        let zk_session_timeout_ms = config.zookeeper_session_timeout_ms;
        let mut broker = Broker {
            id,
            config,
            session: None,
            next_xid: 1,
            zk_pending: BTreeMap::new(),
            next_ping_ms: None,
            zk_session_timeout_ms,
            registration: Registration::Unregistered,
            registered_epoch: None,
            controller_id: None,
            controller: None,
            controller_epoch: 0,
            replicas: BTreeMap::new(),
            metadata: MetadataCache::default(),
            fetchers: BTreeMap::new(),
            produce_purgatory: Vec::new(),
            fetch_purgatory: Vec::new(),
            alter_pending: BTreeMap::new(),
            high_watermark_checkpoint: disk.high_watermarks.clone(),
            next_isr_check_ms: now_ms,
            next_checkpoint_ms: now_ms,
            next_retention_ms: now_ms,
            next_correlation: 1,
            rng_seed,
            controllers_started: 0,
            shutdown: None,
            coordinator,
            coordinated: BTreeSet::new(),
            offsets_topic_requested_ms: None,
            next_producer_id: 0,
            now_ms,
        };
        broker.next_isr_check_ms = now_ms + broker.config.replica_lag_time_max_ms / 2;
        broker.next_checkpoint_ms =
            now_ms + broker.config.replica_high_watermark_checkpoint_interval_ms;
        broker.next_retention_ms = now_ms + broker.config.log_retention_check_interval_ms;
        for (tp, log_disk) in disk.logs {
            // Recovery refuses only an invalid config, which the log was created with
            // and so cannot have.
            let Ok((log, report)) =
                Log::recover(log_disk.config.clone(), log_disk.segments, now_ms)
            else {
                continue;
            };
            if let Some(truncation) = &report.truncation {
                out.emit(Event {
                    time_ms: now_ms,
                    node: id,
                    kind: EventKind::LogRecovered {
                        broker: id,
                        tp: tp.clone(),
                        log_end_offset: log.log_end_offset(),
                        dropped_bytes: truncation.dropped_bytes,
                    },
                });
            }
            let mut epochs = LeaderEpochCache::from_checkpoint(&log_disk.leader_epoch_checkpoint)
                .unwrap_or_else(|_| LeaderEpochCache::new());
            epochs.truncate_from_end(log.log_end_offset());
            let high_watermark = disk.high_watermarks.get(&tp).copied().unwrap_or(0);
            let topic_config = TopicConfig {
                log: log_disk.config,
                ..broker.config.default_topic_config.clone()
            };
            let mut partition = Partition::with_log(
                id,
                broker.config.partition_config(&topic_config),
                log,
                epochs,
                high_watermark,
            );
            partition.restore_producer_batches(&log_disk.producer_batches);
            broker.replicas.insert(
                tp,
                Replica {
                    partition,
                    assignment: Vec::new(),
                    config: topic_config,
                    fetch_blocked_until_ms: 0,
                    last_flush_ms: now_ms,
                },
            );
        }
        out.emit(Event {
            time_ms: now_ms,
            node: id,
            kind: EventKind::BrokerStarted {
                broker: id,
                partitions: broker.replicas.len(),
            },
        });
        broker.open_session(now_ms, out);
        broker
    }

    pub fn id(&self) -> BrokerId {
        self.id
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn replicas(&self) -> &BTreeMap<TopicPartition, Replica> {
        &self.replicas
    }

    pub fn metadata(&self) -> &MetadataCache {
        &self.metadata
    }

    /// The active controller role, if this broker holds it.
    pub fn controller(&self) -> Option<&Controller> {
        self.controller.as_ref().filter(|c| c.resigned().is_none())
    }

    /// Which broker this one believes is the controller.
    pub fn known_controller(&self) -> Option<BrokerId> {
        self.controller_id
    }

    pub fn is_registered(&self) -> bool {
        self.registration == Registration::Registered
    }

    /// What is on this broker's disk now: everything written, with each segment's
    /// flushed length (the simulation decides what a crash keeps).
    pub fn logs(&self) -> impl Iterator<Item = (&TopicPartition, &Partition)> {
        self.replicas.iter().map(|(tp, r)| (tp, &r.partition))
    }

    /// The last `replication-offset-checkpoint`.
    pub fn high_watermark_checkpoint(&self) -> &BTreeMap<TopicPartition, i64> {
        &self.high_watermark_checkpoint
    }

    /// What a clean shutdown leaves: everything flushed, the HW checkpointed now.
    pub fn clean_disk(&mut self) -> BrokerDisk {
        let mut disk = BrokerDisk::default();
        for (tp, replica) in &mut self.replicas {
            replica.partition.log_mut().flush();
            disk.high_watermarks
                .insert(tp.clone(), replica.partition.high_watermark());
            disk.logs.insert(
                tp.clone(),
                log_disk(&replica.partition, |s| s.log_bytes().to_vec()),
            );
        }
        disk
    }

    /// Starts a controlled shutdown (`controlled.shutdown.enable`, Kafka's default): the
    /// broker asks the controller to move its leaderships, then flushes its logs,
    /// checkpoints its HW and closes its ZooKeeper session. [`Broker::is_shut_down`]
    /// says when it may stop.
    pub fn begin_controlled_shutdown(&mut self, now_ms: i64, out: &mut Outbox) {
        if self.shutdown.is_some() {
            return;
        }
        self.emit(
            now_ms,
            out,
            EventKind::ShutdownRequested { broker: self.id },
        );
        self.shutdown = Some(Shutdown {
            correlation_id: 0,
            attempts: 0,
            retry_at_ms: now_ms,
            done: false,
        });
        self.send_controlled_shutdown(now_ms, out);
    }

    /// The controlled shutdown finished: the node may stop, and its disk is clean.
    pub fn is_shut_down(&self) -> bool {
        self.shutdown.as_ref().is_some_and(|s| s.done)
    }

    fn send_controlled_shutdown(&mut self, now_ms: i64, out: &mut Outbox) {
        let backoff = self.config.controlled_shutdown_retry_backoff_ms;
        let max_retries = self.config.controlled_shutdown_max_retries;
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let (controller, epoch) = (self.controller_id, self.registered_epoch);
        let Some(shutdown) = &mut self.shutdown else {
            return;
        };
        if shutdown.done {
            return;
        }
        if shutdown.attempts > max_retries {
            // Kafka stops anyway after controlled.shutdown.max.retries.
            return self.finish_shutdown(Vec::new(), now_ms, out);
        }
        shutdown.attempts += 1;
        shutdown.correlation_id = correlation_id;
        shutdown.retry_at_ms = now_ms + backoff;
        if let (Some(controller), Some(broker_epoch)) = (controller, epoch) {
            out.send(
                controller,
                Message::ControlledShutdown {
                    correlation_id,
                    broker: self.id,
                    broker_epoch,
                },
            );
        }
    }

    fn on_controlled_shutdown_reply(
        &mut self,
        correlation_id: u64,
        remaining: Vec<TopicPartition>,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let max_retries = self.config.controlled_shutdown_max_retries;
        let Some(shutdown) = &self.shutdown else {
            return;
        };
        if shutdown.done || shutdown.correlation_id != correlation_id {
            return;
        }
        // Leaderships remain: try again after the backoff, up to the retries.
        if remaining.is_empty() || shutdown.attempts > max_retries {
            self.finish_shutdown(remaining, now_ms, out);
        }
    }

    /// The clean part of a clean shutdown: logs flushed, HW checkpointed, the session
    /// closed so the registration goes at once.
    fn finish_shutdown(&mut self, remaining: Vec<TopicPartition>, now_ms: i64, out: &mut Outbox) {
        for replica in self.replicas.values_mut() {
            replica.partition.log_mut().flush();
        }
        self.high_watermark_checkpoint = self
            .replicas
            .iter()
            .map(|(tp, r)| (tp.clone(), r.partition.high_watermark()))
            .collect();
        if let Some(shutdown) = &mut self.shutdown {
            shutdown.done = true;
        }
        self.emit(
            now_ms,
            out,
            EventKind::ShutdownReady {
                broker: self.id,
                remaining,
            },
        );
        if let Some(session) = self.session.take() {
            self.zk_send(
                |xid| ZkRequest::CloseSession { xid, session },
                ZkPurpose::Ping,
                now_ms,
                out,
            );
        }
        self.next_ping_ms = None;
    }

    fn emit(&self, now_ms: i64, out: &mut Outbox, kind: EventKind) {
        out.emit(Event {
            time_ms: now_ms,
            node: self.id,
            kind,
        });
    }

    fn take_partition_events(&mut self, tp: &TopicPartition, now_ms: i64, out: &mut Outbox) {
        if let Some(replica) = self.replicas.get_mut(tp) {
            for event in replica.partition.take_events() {
                out.emit(Event {
                    time_ms: now_ms,
                    node: self.id,
                    kind: EventKind::Partition {
                        broker: self.id,
                        tp: tp.clone(),
                        event,
                    },
                });
            }
        }
    }

    // ----- ZooKeeper ------------------------------------------------------------------

    fn zk_send(
        &mut self,
        request: impl FnOnce(u64) -> ZkRequest,
        purpose: ZkPurpose,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let xid = self.next_xid;
        self.next_xid += 1;
        let deadline = now_ms + zk_request_timeout_ms(self.zk_session_timeout_ms);
        self.zk_pending.insert(xid, (deadline, purpose));
        out.send(ZOOKEEPER, Message::Zk(request(xid)));
    }

    fn zk_multi(&mut self, ops: Vec<ZkOp>, purpose: ZkPurpose, now_ms: i64, out: &mut Outbox) {
        let Some(session) = self.session else {
            return;
        };
        self.zk_send(
            |xid| ZkRequest::Multi { xid, session, ops },
            purpose,
            now_ms,
            out,
        );
    }

    fn open_session(&mut self, now_ms: i64, out: &mut Outbox) {
        let timeout_ms = self.config.zookeeper_session_timeout_ms;
        self.zk_send(
            |xid| ZkRequest::OpenSession { xid, timeout_ms },
            ZkPurpose::OpenSession,
            now_ms,
            out,
        );
    }

    fn register(&mut self, now_ms: i64, out: &mut Outbox) {
        let Some(session) = self.session else {
            return;
        };
        self.registration = Registration::Pending;
        let ops = vec![ZkOp::Create {
            path: broker_path(self.id),
            value: ZNode::Broker {
                id: self.id,
                epoch: session,
            },
            ephemeral: true,
        }];
        self.zk_multi(ops, ZkPurpose::Register, now_ms, out);
    }

    fn read_controller(&mut self, now_ms: i64, out: &mut Outbox) {
        let ops = vec![ZkOp::Get {
            path: CONTROLLER.to_string(),
            watch: true,
        }];
        self.zk_multi(ops, ZkPurpose::ReadController, now_ms, out);
    }

    fn on_zk_response(&mut self, response: ZkResponse, now_ms: i64, out: &mut Outbox) {
        let xid = match &response {
            ZkResponse::SessionOpened { xid, .. }
            | ZkResponse::Pong { xid }
            | ZkResponse::Multi { xid, .. }
            | ZkResponse::SessionExpired { xid } => *xid,
        };
        let Some((_, purpose)) = self.zk_pending.remove(&xid) else {
            return;
        };
        match response {
            ZkResponse::SessionExpired { .. } => self.on_session_expired(now_ms, out),
            ZkResponse::SessionOpened {
                session,
                timeout_ms,
                ..
            } => {
                self.session = Some(session);
                self.zk_session_timeout_ms = timeout_ms;
                self.next_ping_ms = Some(now_ms + timeout_ms / 3);
                self.register(now_ms, out);
                self.read_controller(now_ms, out);
            }
            ZkResponse::Pong { .. } => {}
            ZkResponse::Multi { result, .. } => match purpose {
                ZkPurpose::Register => match result {
                    Ok(_) => self.registered(now_ms, out),
                    Err((_, MetadataError::NodeExists { .. })) => {
                        // Ours, if an earlier attempt's answer was lost; or the previous
                        // incarnation's (Kafka's checkedEphemeralCreate asks the same).
                        let ops = vec![ZkOp::Get {
                            path: broker_path(self.id),
                            watch: false,
                        }];
                        self.zk_multi(ops, ZkPurpose::CheckRegistration, now_ms, out);
                    }
                    Err(_) => self.registration = Registration::Unregistered,
                },
                ZkPurpose::CheckRegistration => match result.as_deref() {
                    Ok([ZkOpResult::Value(Some((ZNode::Broker { epoch, .. }, _)))])
                        if Some(*epoch) == self.session =>
                    {
                        self.registered(now_ms, out)
                    }
                    _ => {
                        if !matches!(self.registration, Registration::Blocked { .. }) {
                            self.emit(
                                now_ms,
                                out,
                                EventKind::RegistrationBlocked { broker: self.id },
                            );
                        }
                        self.registration = Registration::Blocked {
                            retry_at_ms: now_ms + 1_000,
                        };
                    }
                },
                ZkPurpose::ReadController => match result.as_deref() {
                    Ok([ZkOpResult::Value(Some((ZNode::Controller { broker, session }, _)))]) => {
                        self.controller_id = Some(*broker);
                        // This session's own claim whose answer was lost: take the role.
                        // A previous incarnation's node goes when its session expires, and
                        // the watch says so.
                        if *broker == self.id
                            && Some(*session) == self.session
                            && self.controller.is_none()
                        {
                            self.become_controller();
                        }
                    }
                    _ => {
                        self.controller_id = None;
                        let Some(session) = self.session else {
                            return;
                        };
                        let ops = vec![ZkOp::Create {
                            path: CONTROLLER.to_string(),
                            value: ZNode::Controller {
                                broker: self.id,
                                session,
                            },
                            ephemeral: true,
                        }];
                        self.zk_multi(ops, ZkPurpose::ClaimController, now_ms, out);
                    }
                },
                ZkPurpose::ClaimController => match result {
                    Ok(_) => self.become_controller(),
                    // Someone else won: watch who.
                    Err(_) => self.read_controller(now_ms, out),
                },
                ZkPurpose::Controller => {
                    if let Some(controller) = &mut self.controller {
                        controller.on_zk_result(result, now_ms, out);
                    }
                }
                ZkPurpose::OpenSession | ZkPurpose::Ping => {}
            },
        }
    }

    /// A ZooKeeper request got no answer (its connection broke, or it timed out): its
    /// outcome is unknown, so the step is tried again.
    fn zk_request_failed(&mut self, purpose: ZkPurpose, now_ms: i64, out: &mut Outbox) {
        match purpose {
            ZkPurpose::OpenSession => self.open_session(now_ms, out),
            ZkPurpose::Ping => {}
            ZkPurpose::Register | ZkPurpose::CheckRegistration => self.register(now_ms, out),
            ZkPurpose::ReadController | ZkPurpose::ClaimController => {
                self.read_controller(now_ms, out)
            }
            ZkPurpose::Controller => {
                if let Some(controller) = &mut self.controller {
                    controller.on_zk_connection_loss(now_ms, out);
                }
            }
        }
    }

    /// ZooKeeper's CONNECTIONLOSS, from a broken connection or a request unanswered for
    /// 2/3 of the session timeout: the session may live on, the pending requests failed,
    /// and a watch event may have been lost. ZooKeeper's client re-sends its watches on
    /// reconnecting and the server fires those whose nodes changed meanwhile; here the
    /// broker reads again what its watches cover.
    fn zk_connection_lost(&mut self, now_ms: i64, out: &mut Outbox) {
        let pending = std::mem::take(&mut self.zk_pending);
        let reads_controller = pending
            .values()
            .any(|(_, p)| matches!(p, ZkPurpose::ReadController | ZkPurpose::ClaimController));
        for (_, purpose) in pending.into_values() {
            self.zk_request_failed(purpose, now_ms, out);
        }
        if self.session.is_some() && !reads_controller {
            self.read_controller(now_ms, out);
        }
        if let Some(controller) = &mut self.controller {
            controller.on_broker_change(now_ms, out);
        }
    }

    /// The network says the connection to `peer` broke: what was in flight on it gets
    /// no answer.
    fn on_connection_lost(&mut self, peer: NodeId, now_ms: i64, out: &mut Outbox) {
        if peer == ZOOKEEPER {
            self.zk_connection_lost(now_ms, out);
        }
        let backoff = self.config.replica_fetch_backoff_ms;
        if let Some(fetcher) = self.fetchers.get_mut(&peer)
            && fetcher.in_flight.take().is_some()
        {
            fetcher.backoff_until_ms = now_ms + backoff;
        }
        if self.controller_id == Some(peer) {
            for (_, resend_at) in self.alter_pending.values_mut() {
                *resend_at = (*resend_at).min(now_ms + RETRY_BACKOFF_MS);
            }
        }
        if let Some(controller) = &mut self.controller {
            controller.on_connection_lost(peer, now_ms);
        }
        // Answers to requests that came over the broken connection cannot be delivered.
        self.fetch_purgatory.retain(|p| p.from != peer);
        self.produce_purgatory
            .retain(|p| !matches!(p.waiter, Waiter::Client { from, .. } if from == peer));
    }

    fn registered(&mut self, now_ms: i64, out: &mut Outbox) {
        self.registration = Registration::Registered;
        self.registered_epoch = self.session;
        self.emit(now_ms, out, EventKind::BrokerRegistered { broker: self.id });
    }

    /// This broker created `/controller`: it starts the controller role, which first
    /// claims the next controller epoch.
    fn become_controller(&mut self) {
        self.controller_id = Some(self.id);
        self.controllers_started += 1;
        let seed = self.rng_seed ^ self.controllers_started.wrapping_mul(0x9e37_79b9);
        self.controller = Some(Controller::new(
            self.id,
            self.config.controller.clone(),
            seed,
        ));
    }

    fn on_session_expired(&mut self, now_ms: i64, out: &mut Outbox) {
        self.session = None;
        self.next_ping_ms = None;
        self.zk_pending.clear();
        self.registration = Registration::Unregistered;
        self.resign_controller(ResignReason::SessionExpired, now_ms, out);
        self.controller_id = None;
        self.open_session(now_ms, out);
    }

    fn resign_controller(&mut self, reason: ResignReason, now_ms: i64, out: &mut Outbox) {
        if let Some(controller) = self.controller.take()
            && controller.resigned().is_none()
        {
            self.emit(
                now_ms,
                out,
                EventKind::ControllerResigned {
                    broker: self.id,
                    reason,
                },
            );
        }
    }

    fn on_watch(&mut self, path: &str, event: WatchEvent, now_ms: i64, out: &mut Outbox) {
        if path == CONTROLLER {
            if event == WatchEvent::NodeDeleted && self.controller.is_some() {
                self.resign_controller(ResignReason::ControllerNodeDeleted, now_ms, out);
            }
            self.read_controller(now_ms, out);
        } else if path == BROKER_IDS
            && let Some(controller) = &mut self.controller
        {
            controller.on_broker_change(now_ms, out);
        }
    }

    /// Sends what the controller wants from ZooKeeper; drops a deposed controller.
    fn drive_controller(&mut self, now_ms: i64, out: &mut Outbox) {
        let Some(controller) = &mut self.controller else {
            return;
        };
        if controller.resigned().is_some() {
            // A newer controller exists and holds /controller.
            self.controller = None;
            self.read_controller(now_ms, out);
            return;
        }
        if let Some(ops) = controller.take_zk_request() {
            self.zk_multi(ops, ZkPurpose::Controller, now_ms, out);
        }
    }

    // ----- controller requests ----------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn on_controller_request(
        &mut self,
        from: NodeId,
        controller_epoch: i32,
        broker_epoch: SessionId,
        correlation_id: u64,
        request: ControllerRequest,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        out.send(from, Message::ControllerAck { correlation_id });
        // KIP-380: a request addressed to this broker's previous incarnation (or sent
        // before this one registered) is refused with STALE_BROKER_EPOCH.
        if self.registration != Registration::Registered
            || self.registered_epoch != Some(broker_epoch)
        {
            self.emit(
                now_ms,
                out,
                EventKind::StaleBrokerEpochIgnored {
                    broker: self.id,
                    request_epoch: broker_epoch,
                },
            );
            return;
        }
        if controller_epoch < self.controller_epoch {
            self.emit(
                now_ms,
                out,
                EventKind::StaleControllerIgnored {
                    broker: self.id,
                    epoch: controller_epoch,
                    current: self.controller_epoch,
                },
            );
            return;
        }
        self.controller_epoch = controller_epoch;
        match request {
            ControllerRequest::LeaderAndIsr { partitions } => {
                for state in partitions {
                    self.become_leader_or_follower(state, now_ms, out);
                }
            }
            ControllerRequest::UpdateMetadata {
                live_brokers,
                partitions,
            } => {
                let partitions: BTreeMap<TopicPartition, PartitionState> =
                    partitions.into_iter().map(|p| (p.tp.clone(), p)).collect();
                for (tp, replica) in &mut self.replicas {
                    replica.partition.update_live_brokers(&live_brokers);
                    // A topic's configs changed (kafka-configs --alter): apply them now.
                    if let Some(state) = partitions.get(tp)
                        && state.config != replica.config
                    {
                        replica.config = state.config.clone();
                        let config = self.config.partition_config(&state.config);
                        replica.partition.set_config(config);
                    }
                }
                self.metadata = MetadataCache {
                    live_brokers,
                    partitions,
                };
            }
        }
    }

    /// Kafka's `becomeLeaderOrFollower` for one partition: a state with a newer leader
    /// epoch makes this replica leader or follower; an older or equal one is ignored.
    fn become_leader_or_follower(&mut self, ps: PartitionState, now_ms: i64, out: &mut Outbox) {
        if !ps.assignment.contains(&self.id) {
            return;
        }
        let partition_config = self.config.partition_config(&ps.config);
        let tp = ps.tp.clone();
        if let Some(replica) = self.replicas.get(&tp)
            && replica.partition.leader_epoch() >= ps.state.leader_epoch
            && !replica.assignment.is_empty()
        {
            return;
        }
        if !self.replicas.contains_key(&tp) {
            let partition = match Partition::new(self.id, partition_config.clone(), now_ms) {
                Ok(p) => p,
                Err(_) => return,
            };
            self.replicas.insert(
                tp.clone(),
                Replica {
                    partition,
                    assignment: Vec::new(),
                    config: ps.config.clone(),
                    fetch_blocked_until_ms: 0,
                    last_flush_ms: now_ms,
                },
            );
        }
        let live = self.metadata.live_brokers.clone();
        let replica = self.replicas.get_mut(&tp).expect("inserted above");
        replica.assignment = ps.assignment.clone();
        replica.config = ps.config.clone();
        replica.fetch_blocked_until_ms = 0;
        replica.partition.set_config(partition_config);
        self.alter_pending.remove(&tp);
        if ps.state.leader == Some(self.id) {
            let live = if live.is_empty() {
                ps.assignment.iter().copied().collect()
            } else {
                live
            };
            replica
                .partition
                .make_leader(&ps.state, &ps.assignment, &live, now_ms);
        } else {
            replica.partition.make_follower(&ps.state, now_ms);
            if let Some(leader) = ps.state.leader {
                // A fetch already out to this leader was built for other partitions (or
                // is an old one whose answer was lost): start afresh, as Kafka adds a
                // partition to its fetcher. A late answer is ignored by its correlation id.
                let fetcher = self.fetchers.entry(leader).or_default();
                fetcher.in_flight = None;
                fetcher.backoff_until_ms = 0;
            }
        }
        self.take_partition_events(&tp, now_ms, out);
        self.complete_produces(&tp, now_ms, out);
        self.complete_parked_fetches(Some(&tp), now_ms, out);
        self.offsets_leadership_changed(&tp, now_ms, out);
    }

    // ----- ISR changes -----------------------------------------------------------------

    fn propose_isr_change(
        &mut self,
        tp: &TopicPartition,
        change: IsrChange,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        self.alter_pending.insert(tp.clone(), (change, now_ms));
        self.send_alter(tp, now_ms, out);
    }

    fn send_alter(&mut self, tp: &TopicPartition, now_ms: i64, out: &mut Outbox) {
        let retry_ms = self.config.replica_fetch_backoff_ms.max(1);
        let timeout_ms = self.config.controller.controller_socket_timeout_ms;
        let controller = self.controller_id;
        let Some((change, resend_at)) = self.alter_pending.get_mut(tp) else {
            return;
        };
        match controller {
            Some(controller) => {
                out.send(
                    controller,
                    Message::AlterPartition {
                        tp: tp.clone(),
                        change: change.clone(),
                    },
                );
                *resend_at = now_ms + timeout_ms.min(5 * retry_ms);
            }
            None => *resend_at = now_ms + retry_ms,
        }
    }

    /// The controller's answer to an AlterPartition. Only the answer to the proposal
    /// still pending counts (`Partition.handleAlterIsrResponse`: `if (isrState !=
    /// proposedIsrState)` the response is out of date and ignored), so a late answer to a
    /// resent earlier proposal cannot undo a newer one.
    fn on_alter_reply(
        &mut self,
        tp: TopicPartition,
        change: IsrChange,
        result: Result<LeaderAndIsr, crate::controller::IsrChangeRejected>,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        if self
            .alter_pending
            .get(&tp)
            .is_none_or(|(pending, _)| *pending != change)
        {
            return;
        }
        self.alter_pending.remove(&tp);
        let Some(replica) = self.replicas.get_mut(&tp) else {
            return;
        };
        replica
            .partition
            .isr_change_completed(result.as_ref(), now_ms);
        self.take_partition_events(&tp, now_ms, out);
        self.complete_produces(&tp, now_ms, out);
    }

    // ----- produce ---------------------------------------------------------------------

    fn on_produce(&mut self, from: NodeId, request: ProduceRequest, now_ms: i64, out: &mut Outbox) {
        let reply = |out: &mut Outbox, result: Result<i64, ClientError>| {
            if request.acks != Acks::None {
                out.send(
                    from,
                    Message::ProduceReply(ProduceResponse {
                        correlation_id: request.correlation_id,
                        tp: request.tp.clone(),
                        result,
                    }),
                );
            }
        };
        let Some(replica) = self.replicas.get_mut(&request.tp) else {
            let missing = self.missing_partition_error(&request.tp);
            return reply(out, Err(missing));
        };
        // A retry of an appended idempotent batch is not appended again: the answer
        // carries the original offsets (once they are committed, for acks=all).
        let appended = match request.producer.filter(|_| !request.records.is_empty()) {
            Some(batch) => replica
                .partition
                .append_idempotent_as_leader(&request.records, &batch, request.acks, now_ms)
                .map(|append| match append {
                    IdempotentAppend::Appended(info) => (info.first_offset, info.last_offset),
                    IdempotentAppend::Duplicate(h) => (h.first_offset, h.last_offset),
                }),
            None => replica
                .partition
                .append_as_leader(&request.records, Compression::None, request.acks, now_ms)
                .map(|info| (info.first_offset, info.last_offset)),
        };
        let (first_offset, last_offset) = match appended {
            Ok(offsets) => offsets,
            Err(e) => return reply(out, Err(ClientError::Partition(e))),
        };
        let tp = request.tp.clone();
        self.take_partition_events(&tp, now_ms, out);
        match request.acks {
            Acks::None => {}
            Acks::Leader => reply(out, Ok(first_offset)),
            Acks::All => self.produce_purgatory.push(PendingProduce {
                tp: tp.clone(),
                required_offset: last_offset + 1,
                deadline_ms: now_ms + request.timeout_ms,
                waiter: Waiter::Client {
                    from,
                    correlation_id: request.correlation_id,
                    first_offset,
                },
            }),
        }
        self.complete_produces(&tp, now_ms, out);
        self.complete_parked_fetches(Some(&tp), now_ms, out);
    }

    /// Settles the waiting acks=all writes of `tp` that the HW (or a lost leadership)
    /// decides.
    fn complete_produces(&mut self, tp: &TopicPartition, now_ms: i64, out: &mut Outbox) {
        if !self.produce_purgatory.iter().any(|p| &p.tp == tp) {
            return;
        }
        for pending in std::mem::take(&mut self.produce_purgatory) {
            let outcome = match self.replicas.get(tp) {
                _ if &pending.tp != tp => None,
                None => Some(Err(ClientError::UnknownTopicOrPartition)),
                Some(r) => r
                    .partition
                    .check_enough_replicas_reach_offset(pending.required_offset)
                    .map(|r| r.map_err(ClientError::Partition)),
            };
            match outcome {
                None => self.produce_purgatory.push(pending),
                Some(result) => self.answer_produce(pending, result, now_ms, out),
            }
        }
    }

    /// Answers a settled write: the client's ProduceResponse, or the coordinator's reply.
    fn answer_produce(
        &mut self,
        pending: PendingProduce,
        result: Result<(), ClientError>,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        match pending.waiter {
            Waiter::Client {
                from,
                correlation_id,
                first_offset,
            } => out.send(
                from,
                Message::ProduceReply(ProduceResponse {
                    correlation_id,
                    tp: pending.tp,
                    result: result.map(|()| first_offset),
                }),
            ),
            Waiter::Group(write) => self.finish_group_write(write, result, now_ms, out),
        }
    }

    // ----- fetch -----------------------------------------------------------------------

    /// The leader's side of a follower fetch. Reading records the follower's fetch
    /// offset at once (it acknowledges what is below it, and may move the HW); with
    /// nothing to return the request waits up to `replica.fetch.wait.max.ms`.
    fn on_replica_fetch(
        &mut self,
        from: NodeId,
        request: ReplicaFetch,
        now_ms: i64,
        out: &mut Outbox,
        parked: bool,
    ) {
        let mut partitions = Vec::with_capacity(request.partitions.len());
        let mut has_data = false;
        let mut changes = Vec::new();
        for (tp, fetch) in &request.partitions {
            let result = match self.replicas.get_mut(tp) {
                None => Err(PartitionError::NotLeaderOrFollower { leader: None }),
                Some(replica) => {
                    replica
                        .partition
                        .handle_fetch(fetch, now_ms)
                        .map(|(response, change)| {
                            if let Some(change) = change {
                                changes.push((tp.clone(), change));
                            }
                            response
                        })
                }
            };
            match &result {
                Ok(r) => has_data |= !r.records.is_empty() || r.diverging_epoch.is_some(),
                Err(_) => has_data = true,
            }
            partitions.push((tp.clone(), result));
        }
        for (tp, _) in &request.partitions {
            self.take_partition_events(tp, now_ms, out);
            self.complete_produces(tp, now_ms, out);
        }
        for (tp, change) in changes {
            self.propose_isr_change(&tp, change, now_ms, out);
        }
        if !has_data && !parked && request.max_wait_ms > 0 {
            self.fetch_purgatory.push(ParkedFetch {
                from,
                deadline_ms: now_ms + request.max_wait_ms,
                request,
            });
            return;
        }
        out.send(
            from,
            Message::ReplicaFetchReply(ReplicaFetchResponse {
                correlation_id: request.correlation_id,
                partitions,
            }),
        );
    }

    /// Answers parked fetches that new data on `tp` (or their deadline) completes.
    fn complete_parked_fetches(
        &mut self,
        tp: Option<&TopicPartition>,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        if self.fetch_purgatory.is_empty() {
            return;
        }
        let (due, keep): (Vec<ParkedFetch>, Vec<ParkedFetch>) =
            std::mem::take(&mut self.fetch_purgatory)
                .into_iter()
                .partition(|parked| {
                    parked.deadline_ms <= now_ms
                        || tp.is_some_and(|tp| {
                            parked.request.partitions.iter().any(|(t, _)| t == tp)
                        })
                });
        self.fetch_purgatory = keep;
        for parked in due {
            self.on_replica_fetch(parked.from, parked.request, now_ms, out, true);
        }
    }

    fn on_replica_fetch_reply(
        &mut self,
        from: NodeId,
        response: ReplicaFetchResponse,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let Some(fetcher) = self.fetchers.get_mut(&from) else {
            return;
        };
        if fetcher.in_flight.map(|(c, _)| c) != Some(response.correlation_id) {
            return;
        }
        fetcher.in_flight = None;
        let mut any_ok = false;
        let backoff = self.config.replica_fetch_backoff_ms;
        for (tp, result) in response.partitions {
            let Some(replica) = self.replicas.get_mut(&tp) else {
                continue;
            };
            // The partition may have changed leader while the fetch was out.
            if replica.partition.is_leader() || replica.partition.leader() != Some(from) {
                continue;
            }
            match result {
                Ok(data) => {
                    if replica
                        .partition
                        .handle_fetch_response(&data, now_ms)
                        .is_ok()
                    {
                        any_ok = true;
                    } else {
                        replica.fetch_blocked_until_ms = now_ms + backoff;
                    }
                }
                Err(PartitionError::OffsetOutOfRange {
                    log_start_offset,
                    log_end_offset,
                    ..
                }) => {
                    // Kafka's handleOutOfRangeError: a follower ahead of its leader cuts
                    // back to the leader's LEO (the old unclean-election path); one behind
                    // the leader's log start restarts there.
                    replica.partition.reset_after_out_of_range(
                        log_start_offset,
                        log_end_offset,
                        now_ms,
                    );
                    any_ok = true;
                }
                Err(_) => replica.fetch_blocked_until_ms = now_ms + backoff,
            }
            self.take_partition_events(&tp, now_ms, out);
        }
        if !any_ok && let Some(fetcher) = self.fetchers.get_mut(&from) {
            fetcher.backoff_until_ms = now_ms + backoff;
        }
    }

    /// Sends a fetch from every idle fetcher that has partitions to fetch.
    fn drive_fetchers(&mut self, now_ms: i64, out: &mut Outbox) {
        if self.shutdown.is_some() {
            // A broker shutting down stops its fetchers (Kafka's controller sends it
            // StopReplica), so it does not ask to rejoin ISRs it is leaving.
            return;
        }
        let leaders: Vec<BrokerId> = self.fetchers.keys().copied().collect();
        for leader in leaders {
            let fetcher = &self.fetchers[&leader];
            if fetcher.in_flight.is_some() || fetcher.backoff_until_ms > now_ms {
                continue;
            }
            let partitions: Vec<_> = self
                .replicas
                .iter()
                .filter(|(_, r)| r.partition.leader() == Some(leader) && !r.partition.is_leader())
                .filter(|(_, r)| r.fetch_blocked_until_ms <= now_ms)
                .filter_map(|(tp, r)| r.partition.fetch_request().map(|f| (tp.clone(), f)))
                .collect();
            if partitions.is_empty() {
                let follows_any = self
                    .replicas
                    .values()
                    .any(|r| r.partition.leader() == Some(leader) && !r.partition.is_leader());
                if !follows_any {
                    self.fetchers.remove(&leader);
                }
                continue;
            }
            let correlation_id = self.next_correlation;
            self.next_correlation += 1;
            let fetcher = self.fetchers.get_mut(&leader).expect("listed above");
            fetcher.in_flight = Some((
                correlation_id,
                now_ms + self.config.replica_socket_timeout_ms,
            ));
            out.send(
                leader,
                Message::ReplicaFetch(ReplicaFetch {
                    correlation_id,
                    replica: self.id,
                    max_wait_ms: self.config.replica_fetch_wait_max_ms,
                    partitions,
                }),
            );
        }
    }

    /// Kafka's `ReplicaManager.getPartitionOrError` for a partition this broker holds no
    /// replica of: NOT_LEADER_OR_FOLLOWER when its metadata knows the partition (the
    /// client refreshes its metadata and finds the leader), UNKNOWN_TOPIC_OR_PARTITION
    /// otherwise.
    fn missing_partition_error(&self, tp: &TopicPartition) -> ClientError {
        match self.metadata.partitions.get(tp) {
            Some(ps) => ClientError::Partition(PartitionError::NotLeaderOrFollower {
                leader: ps.state.leader,
            }),
            None => ClientError::UnknownTopicOrPartition,
        }
    }

    fn on_consumer_fetch(&mut self, from: NodeId, request: ConsumerFetch, out: &mut Outbox) {
        let result = match self.replicas.get(&request.tp) {
            None => Err(self.missing_partition_error(&request.tp)),
            Some(r) if !r.partition.is_leader() => Err(ClientError::Partition(
                PartitionError::NotLeaderOrFollower {
                    leader: r.partition.leader(),
                },
            )),
            Some(r) => r
                .partition
                .read_for_consumer(request.offset, request.max_bytes)
                .map(|records| ConsumerRecords {
                    records,
                    high_watermark: r.partition.high_watermark(),
                    log_start_offset: r.partition.log().log_start_offset(),
                })
                .map_err(ClientError::Partition),
        };
        out.send(
            from,
            Message::FetchReply(ConsumerFetchResponse {
                correlation_id: request.correlation_id,
                tp: request.tp,
                result,
            }),
        );
    }

    fn metadata_response(&self, correlation_id: u64) -> MetadataResponse {
        MetadataResponse {
            correlation_id,
            controller: self.controller_id,
            brokers: self.metadata.live_brokers.clone(),
            partitions: self
                .metadata
                .partitions
                .iter()
                .map(|(tp, ps)| {
                    (
                        tp.clone(),
                        PartitionMetadata {
                            leader: ps.state.leader,
                            leader_epoch: ps.state.leader_epoch,
                            replicas: ps.assignment.clone(),
                            isr: ps.state.isr.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    /// Work that follows any input: requests the controller queued, fetches to send.
    fn after(&mut self, now_ms: i64, out: &mut Outbox) {
        self.drive_controller(now_ms, out);
        self.drive_fetchers(now_ms, out);
    }
}

/// A partition's files, with each segment's bytes chosen by `bytes`.
pub fn log_disk(partition: &Partition, bytes: impl Fn(&crate::log::Segment) -> Vec<u8>) -> LogDisk {
    LogDisk {
        config: partition.log().config().clone(),
        segments: partition
            .log()
            .segments()
            .iter()
            .map(|s| (s.base_offset(), bytes(s)))
            .collect(),
        leader_epoch_checkpoint: partition.epochs().to_checkpoint(),
        producer_batches: partition.producer_state().headers().collect(),
    }
}

impl Actor for Broker {
    type Event = crate::event::Event;

    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox) {
        self.now_ms = now_ms;
        match message {
            Message::ConnectionLost => self.on_connection_lost(from, now_ms, out),
            Message::ZkReply(response) => self.on_zk_response(response, now_ms, out),
            Message::ZkWatch(notification) => {
                self.on_watch(&notification.path, notification.event, now_ms, out)
            }
            Message::Controller {
                controller_epoch,
                broker_epoch,
                correlation_id,
                request,
                ..
            } => self.on_controller_request(
                from,
                controller_epoch,
                broker_epoch,
                correlation_id,
                request,
                now_ms,
                out,
            ),
            Message::ControllerAck { correlation_id } => {
                if let Some(controller) = &mut self.controller {
                    controller.on_ack(from, correlation_id, now_ms, out);
                }
            }
            Message::AlterPartition { tp, change } => match &mut self.controller {
                Some(controller) if controller.is_loaded() => {
                    controller.on_alter_partition(from, tp, change, now_ms, out)
                }
                // Not (yet) the controller: the leader resends after its timeout.
                _ => {}
            },
            Message::AlterPartitionReply { tp, change, result } => {
                self.on_alter_reply(tp, change, result, now_ms, out)
            }
            Message::ReplicaFetch(request) => {
                self.on_replica_fetch(from, request, now_ms, out, false)
            }
            Message::ReplicaFetchReply(response) => {
                self.on_replica_fetch_reply(from, response, now_ms, out)
            }
            Message::Produce(request) => self.on_produce(from, request, now_ms, out),
            Message::Fetch(request) => self.on_consumer_fetch(from, request, out),
            Message::Metadata { correlation_id } => {
                out.send(
                    from,
                    Message::MetadataReply(self.metadata_response(correlation_id)),
                );
            }
            Message::CreateTopic(request) => match &mut self.controller {
                Some(controller) if controller.is_loaded() => {
                    controller.on_create_topic(from, request, now_ms, out)
                }
                _ => out.send(
                    from,
                    Message::CreateTopicReply(crate::protocol::CreateTopicResponse {
                        correlation_id: request.correlation_id,
                        name: request.name,
                        result: Err(ClientError::NotController),
                    }),
                ),
            },
            Message::CreatePartitions {
                correlation_id,
                topic,
                total,
            } => match &mut self.controller {
                Some(controller) if controller.is_loaded() => {
                    controller.on_create_partitions(from, correlation_id, topic, total, now_ms, out)
                }
                _ => out.send(
                    from,
                    Message::CreatePartitionsReply {
                        correlation_id,
                        topic,
                        result: Err(ClientError::NotController),
                    },
                ),
            },
            Message::AlterConfigs {
                correlation_id,
                topic,
                config,
            } => match &mut self.controller {
                Some(controller) if controller.is_loaded() => {
                    controller.on_alter_configs(from, correlation_id, topic, config, now_ms, out)
                }
                _ => out.send(
                    from,
                    Message::AlterConfigsReply {
                        correlation_id,
                        topic,
                        result: Err(ClientError::NotController),
                    },
                ),
            },
            Message::ControlledShutdown {
                correlation_id,
                broker,
                ..
            } => {
                if let Some(controller) = &mut self.controller {
                    controller.on_controlled_shutdown(from, correlation_id, broker, now_ms, out);
                }
            }
            Message::ControlledShutdownReply {
                correlation_id,
                remaining,
            } => self.on_controlled_shutdown_reply(correlation_id, remaining, now_ms, out),
            // KafkaController.processReplicaLeaderElection: NOT_CONTROLLER unless active
            // (an elected controller still loading queues it, as Kafka's event queue does).
            Message::ElectLeaders { correlation_id } => match &mut self.controller {
                Some(controller) => {
                    controller.on_elect_preferred(from, correlation_id, now_ms, out)
                }
                _ => out.send(
                    from,
                    Message::ElectLeadersReply {
                        correlation_id,
                        result: Err(ClientError::NotController),
                    },
                ),
            },
            Message::Group {
                correlation_id,
                request,
            } => self.on_group_request(from, correlation_id, request, now_ms, out),
            Message::InitProducerId { correlation_id } => {
                // Kafka allocates producer ids in blocks through ZooKeeper; here a
                // broker's ids combine its registration (unique per incarnation) and a
                // counter.
                if let Some(epoch) = self.registered_epoch {
                    self.next_producer_id += 1;
                    let producer_id = ((epoch as i64) << 24) | self.next_producer_id;
                    out.send(
                        from,
                        Message::InitProducerIdReply {
                            correlation_id,
                            producer_id,
                            producer_epoch: 0,
                        },
                    );
                }
            }
            Message::ListOffsets {
                correlation_id,
                tp,
                latest,
            } => {
                let result = match self.replicas.get(&tp) {
                    None => Err(self.missing_partition_error(&tp)),
                    Some(r) if !r.partition.is_leader() => Err(ClientError::Partition(
                        PartitionError::NotLeaderOrFollower {
                            leader: r.partition.leader(),
                        },
                    )),
                    // Consumers see offsets below the HW only: "latest" is the HW.
                    Some(r) if latest => Ok(r.partition.high_watermark()),
                    Some(r) => Ok(r.partition.log().log_start_offset()),
                };
                out.send(
                    from,
                    Message::ListOffsetsReply {
                        correlation_id,
                        tp,
                        result,
                    },
                );
            }
            Message::Zk(_)
            | Message::InitProducerIdReply { .. }
            | Message::ListOffsetsReply { .. }
            | Message::GroupReply { .. }
            | Message::ProduceReply(_)
            | Message::FetchReply(_)
            | Message::MetadataReply(_)
            | Message::CreateTopicReply(_)
            | Message::CreatePartitionsReply { .. }
            | Message::AlterConfigsReply { .. }
            | Message::ElectLeadersReply { .. } => {}
        }
        self.after(now_ms, out);
    }

    fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        self.now_ms = now_ms;
        // ZooKeeper: a request that got no answer in time is a lost connection.
        if self
            .zk_pending
            .values()
            .any(|(deadline, _)| *deadline <= now_ms)
        {
            self.zk_connection_lost(now_ms, out);
        }
        if self.next_ping_ms.is_some_and(|at| at <= now_ms) {
            self.next_ping_ms = Some(now_ms + self.zk_session_timeout_ms / 3);
            if let Some(session) = self.session {
                self.zk_send(
                    |xid| ZkRequest::Ping { xid, session },
                    ZkPurpose::Ping,
                    now_ms,
                    out,
                );
            }
        }
        if let Registration::Blocked { retry_at_ms } = self.registration
            && retry_at_ms <= now_ms
        {
            self.register(now_ms, out);
        }
        if self
            .shutdown
            .as_ref()
            .is_some_and(|s| !s.done && s.retry_at_ms <= now_ms)
        {
            self.send_controlled_shutdown(now_ms, out);
        }
        // Follower fetches unanswered for replica.socket.timeout.ms are given up.
        let backoff = self.config.replica_fetch_backoff_ms;
        for fetcher in self.fetchers.values_mut() {
            if fetcher
                .in_flight
                .is_some_and(|(_, deadline)| deadline <= now_ms)
            {
                fetcher.in_flight = None;
                fetcher.backoff_until_ms = now_ms + backoff;
            }
        }
        // acks=all writes that waited request.timeout.ms (offsets.commit.timeout.ms).
        let (late, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.produce_purgatory)
            .into_iter()
            .partition(|p| p.deadline_ms <= now_ms);
        self.produce_purgatory = waiting;
        for pending in late {
            self.answer_produce(pending, Err(ClientError::RequestTimedOut), now_ms, out);
        }
        self.complete_parked_fetches(None, now_ms, out);
        if self
            .coordinator
            .next_timer_ms()
            .is_some_and(|t| t <= now_ms)
        {
            self.coordinator.tick(now_ms);
            self.drain_coordinator(now_ms, out);
        }
        // ISR shrink, every replica.lag.time.max.ms / 2.
        if self.next_isr_check_ms <= now_ms {
            self.next_isr_check_ms = now_ms + (self.config.replica_lag_time_max_ms / 2).max(1);
            let tps: Vec<TopicPartition> = self.replicas.keys().cloned().collect();
            for tp in tps {
                let replica = self.replicas.get_mut(&tp).expect("listed above");
                if let Some(change) = replica.partition.maybe_shrink_isr(now_ms) {
                    self.take_partition_events(&tp, now_ms, out);
                    self.propose_isr_change(&tp, change, now_ms, out);
                }
            }
        }
        let resend: Vec<TopicPartition> = self
            .alter_pending
            .iter()
            .filter(|(_, (_, at))| *at <= now_ms)
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in resend {
            self.send_alter(&tp, now_ms, out);
        }
        if self.next_checkpoint_ms <= now_ms {
            self.next_checkpoint_ms =
                now_ms + self.config.replica_high_watermark_checkpoint_interval_ms;
            self.high_watermark_checkpoint = self
                .replicas
                .iter()
                .map(|(tp, r)| (tp.clone(), r.partition.high_watermark()))
                .collect();
        }
        if self.next_retention_ms <= now_ms {
            self.next_retention_ms = now_ms + self.config.log_retention_check_interval_ms;
            let tps: Vec<TopicPartition> = self.replicas.keys().cloned().collect();
            for tp in tps {
                self.replicas
                    .get_mut(&tp)
                    .expect("listed above")
                    .partition
                    .apply_retention(now_ms);
                self.take_partition_events(&tp, now_ms, out);
            }
        }
        // flush.ms: fsync the logs whose last flush is that old.
        for replica in self.replicas.values_mut() {
            let flush_ms = replica.partition.log().config().flush_ms;
            if flush_ms < i64::MAX && now_ms - replica.last_flush_ms >= flush_ms {
                replica.partition.log_mut().flush();
                replica.last_flush_ms = now_ms;
            }
        }
        if let Some(controller) = &mut self.controller {
            controller.tick(now_ms, out);
        }
        self.after(now_ms, out);
    }

    fn next_timer_ms(&self) -> Option<i64> {
        let mut next = self
            .next_isr_check_ms
            .min(self.next_checkpoint_ms)
            .min(self.next_retention_ms);
        for replica in self.replicas.values() {
            let flush_ms = replica.partition.log().config().flush_ms;
            if flush_ms < i64::MAX {
                next = next.min(replica.last_flush_ms.saturating_add(flush_ms));
            }
        }
        let mut consider = |t: Option<i64>| {
            if let Some(t) = t {
                next = next.min(t);
            }
        };
        consider(self.zk_pending.values().map(|(d, _)| *d).min());
        consider(self.next_ping_ms);
        if let Registration::Blocked { retry_at_ms } = self.registration {
            consider(Some(retry_at_ms));
        }
        // An idle fetcher waits for its backoff, or for its partitions' backoffs.
        let now_ms = self.now_ms;
        for fetcher in self.fetchers.values() {
            match fetcher.in_flight {
                Some((_, deadline)) => consider(Some(deadline)),
                None => consider(Some(fetcher.backoff_until_ms).filter(|&t| t > now_ms)),
            }
        }
        consider(
            self.replicas
                .values()
                .filter(|r| !r.partition.is_leader() && r.fetch_blocked_until_ms > now_ms)
                .map(|r| r.fetch_blocked_until_ms)
                .min(),
        );
        consider(self.produce_purgatory.iter().map(|p| p.deadline_ms).min());
        consider(self.fetch_purgatory.iter().map(|p| p.deadline_ms).min());
        consider(self.alter_pending.values().map(|(_, at)| *at).min());
        consider(self.controller.as_ref().and_then(Controller::next_timer_ms));
        consider(self.coordinator.next_timer_ms());
        consider(
            self.shutdown
                .as_ref()
                .filter(|s| !s.done)
                .map(|s| s.retry_at_ms),
        );
        Some(next)
    }
}
