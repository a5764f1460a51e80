//! The messages kafkasim's nodes exchange, as plain values: ZooKeeper requests and
//! watches, the controller's LeaderAndIsr and UpdateMetadata, AlterPartition, follower
//! fetches, and the client requests (Produce, Fetch, Metadata, CreateTopics). Names and
//! error codes are Kafka's; the wire encoding is not modelled (messages move as values).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

use crate::config::LogConfig;
use crate::controller::{Assignment, IsrChangeRejected, LeaderAndIsr};
use crate::group::coordinator::{
    GroupError, JoinGroup, JoinGroupResponse, SyncGroup, SyncGroupResponse,
};
use crate::metadata::{MetadataError, Notification, SessionId};
use crate::partition::{Acks, FetchRequest, FetchResponse, PartitionError};
use crate::record::Record;
use crate::replication::BrokerId;
use crate::replication::producer_state::SequenceError;

pub use crate::ids::{FIRST_CLIENT, NodeId, TopicPartition, ZOOKEEPER};

/// A topic's configuration, with Kafka's topic-level names (dots as underscores).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    /// `min.insync.replicas`
    pub min_insync_replicas: usize,
    /// `unclean.leader.election.enable`: false since Kafka 0.11; true in 0.8.2 to 0.10.
    pub unclean_leader_election_enable: bool,
    /// `segment.bytes`, `retention.ms`, `retention.bytes`, `flush.messages` and the rest.
    pub log: LogConfig,
}

impl TopicConfig {
    /// The configs that differ from `before`, by Kafka's topic-level name: (name, before,
    /// now). For narrating `kafka-configs --alter`.
    pub fn differences(&self, before: &TopicConfig) -> Vec<(&'static str, String, String)> {
        // Numbers print as numbers; "never" for a flush setting that never forces a flush.
        let shown = |value: &dyn fmt::Debug| match format!("{value:?}") {
            text if text == i64::MAX.to_string() => "never".to_string(),
            text => text,
        };
        let (old, new) = (&before.log, &self.log);
        let pairs: [(&'static str, &dyn fmt::Debug, &dyn fmt::Debug); 14] = [
            (
                "min.insync.replicas",
                &before.min_insync_replicas,
                &self.min_insync_replicas,
            ),
            (
                "unclean.leader.election.enable",
                &before.unclean_leader_election_enable,
                &self.unclean_leader_election_enable,
            ),
            ("segment.bytes", &old.segment_bytes, &new.segment_bytes),
            ("segment.ms", &old.segment_ms, &new.segment_ms),
            ("retention.ms", &old.retention_ms, &new.retention_ms),
            (
                "retention.bytes",
                &old.retention_bytes,
                &new.retention_bytes,
            ),
            (
                "index.interval.bytes",
                &old.index_interval_bytes,
                &new.index_interval_bytes,
            ),
            (
                "segment.index.bytes",
                &old.segment_index_bytes,
                &new.segment_index_bytes,
            ),
            (
                "max.message.bytes",
                &old.max_message_bytes,
                &new.max_message_bytes,
            ),
            (
                "message.format.version",
                &old.message_format,
                &new.message_format,
            ),
            (
                "compression.type",
                &old.compression_type,
                &new.compression_type,
            ),
            (
                "message.timestamp.type",
                &old.message_timestamp_type,
                &new.message_timestamp_type,
            ),
            ("flush.messages", &old.flush_messages, &new.flush_messages),
            ("flush.ms", &old.flush_ms, &new.flush_ms),
        ];
        pairs
            .into_iter()
            .map(|(name, was, now)| (name, shown(was), shown(now)))
            .filter(|(_, was, now)| was != now)
            .collect()
    }
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            log: LogConfig::default(),
        }
    }
}

/// What a ZooKeeper node holds. Kafka stores JSON; kafkasim stores typed values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZNode {
    /// A directory such as `/brokers/ids`.
    Empty,
    /// `/brokers/ids/<id>`: an ephemeral registration. `epoch` is the registering
    /// session (Kafka's broker epoch, KIP-380): a new one means the broker restarted.
    Broker { id: BrokerId, epoch: SessionId },
    /// `/controller`: an ephemeral node naming the active controller, and the session
    /// that created it.
    Controller {
        broker: BrokerId,
        session: SessionId,
    },
    /// `/controller_epoch`: bumped by every new controller, checked on every write it
    /// makes, so a deposed controller's writes fail.
    ControllerEpoch(i32),
    /// `/brokers/topics/<topic>`: the replica assignment and the topic's configs.
    Topic {
        assignment: Assignment,
        config: TopicConfig,
    },
    /// `/brokers/topics/<topic>/partitions/<p>/state`.
    PartitionState {
        state: LeaderAndIsr,
        controller_epoch: i32,
    },
}

/// One ZooKeeper operation. A request carries a list of them applied atomically: all or
/// none (ZooKeeper's `multi`; reads in a batch are ZooKeeper 3.6's `multiRead`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkOp {
    Create {
        path: String,
        value: ZNode,
        ephemeral: bool,
    },
    Set {
        path: String,
        value: ZNode,
        version: Option<i32>,
    },
    Delete {
        path: String,
        version: Option<i32>,
    },
    /// Fails the batch unless `path` is at `version`.
    Check {
        path: String,
        version: i32,
    },
    Get {
        path: String,
        watch: bool,
    },
    Children {
        path: String,
        watch: bool,
    },
}

/// One operation's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkOpResult {
    Done,
    /// A `Set`'s new version.
    Version(i32),
    /// A `Get`: the value and version, or None when the node does not exist.
    Value(Option<(ZNode, i32)>),
    Children(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkRequest {
    /// Opens a session that expires after `timeout_ms` without traffic.
    OpenSession { xid: u64, timeout_ms: i64 },
    /// Keeps the session alive (any request does).
    Ping { xid: u64, session: SessionId },
    /// Ends the session now (a clean shutdown): its ephemeral nodes go at once.
    CloseSession { xid: u64, session: SessionId },
    /// Operations applied atomically, in order.
    Multi {
        xid: u64,
        session: SessionId,
        ops: Vec<ZkOp>,
    },
}

impl ZkRequest {
    pub fn xid(&self) -> u64 {
        match self {
            ZkRequest::OpenSession { xid, .. }
            | ZkRequest::Ping { xid, .. }
            | ZkRequest::CloseSession { xid, .. }
            | ZkRequest::Multi { xid, .. } => *xid,
        }
    }
}

/// A `Multi`'s outcome: every result, or the first failing op's index and error.
pub type MultiResult = Result<Vec<ZkOpResult>, (usize, MetadataError)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkResponse {
    SessionOpened {
        xid: u64,
        session: SessionId,
        /// The session timeout ZooKeeper granted (it may differ from the one asked for).
        timeout_ms: i64,
    },
    Pong {
        xid: u64,
    },
    /// The results of a `Multi`, or the index of the first operation that failed.
    Multi {
        xid: u64,
        result: MultiResult,
    },
    /// The session is gone: the client must open a new one.
    SessionExpired {
        xid: u64,
    },
}

/// One partition in a LeaderAndIsr request: its state, replicas and configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub tp: TopicPartition,
    pub state: LeaderAndIsr,
    pub assignment: Vec<BrokerId>,
    pub config: TopicConfig,
}

/// What the controller tells brokers. Requests to one broker go one at a time, in
/// order, each resent until acknowledged (Kafka's `ControllerChannelManager`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerRequest {
    /// Become leader or follower of these partitions.
    LeaderAndIsr { partitions: Vec<PartitionState> },
    /// The cluster as the controller sees it, for the brokers' metadata caches.
    UpdateMetadata {
        live_brokers: BTreeSet<BrokerId>,
        partitions: Vec<PartitionState>,
    },
}

/// A follower's fetch for every partition it follows on one leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaFetch {
    pub correlation_id: u64,
    pub replica: BrokerId,
    /// `replica.fetch.wait.max.ms`: how long the leader may hold the request.
    pub max_wait_ms: i64,
    pub partitions: Vec<(TopicPartition, FetchRequest)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaFetchResponse {
    pub correlation_id: u64,
    pub partitions: Vec<(TopicPartition, Result<FetchResponse, PartitionError>)>,
}

/// Kafka's error codes for client requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    Partition(PartitionError),
    UnknownTopicOrPartition,
    /// acks=all did not complete within the request's timeout.
    RequestTimedOut,
    /// CreateTopics for a topic that exists.
    TopicAlreadyExists,
    /// The request went to a broker that is not the controller.
    NotController,
    InvalidReplicationFactor(String),
    InvalidReplicaAssignment(String),
    InvalidPartitions(String),
    /// A config value Kafka would refuse (INVALID_CONFIG).
    InvalidConfig(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Partition(e) => write!(f, "{e}"),
            ClientError::UnknownTopicOrPartition => {
                write!(
                    f,
                    "this broker knows no such partition (UNKNOWN_TOPIC_OR_PARTITION)"
                )
            }
            ClientError::RequestTimedOut => write!(
                f,
                "not enough replicas acknowledged before the request timed out (REQUEST_TIMED_OUT)"
            ),
            ClientError::TopicAlreadyExists => write!(f, "the topic exists (TOPIC_ALREADY_EXISTS)"),
            ClientError::NotController => {
                write!(f, "this broker is not the controller (NOT_CONTROLLER)")
            }
            ClientError::InvalidReplicationFactor(why)
            | ClientError::InvalidReplicaAssignment(why)
            | ClientError::InvalidPartitions(why)
            | ClientError::InvalidConfig(why) => {
                write!(f, "{why}")
            }
        }
    }
}

impl ClientError {
    /// Kafka's error name, for histories and checkers.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Partition(e) => match e {
                PartitionError::NotLeaderOrFollower { .. } => "NOT_LEADER_OR_FOLLOWER",
                PartitionError::NotEnoughReplicas { .. } => "NOT_ENOUGH_REPLICAS",
                PartitionError::NotEnoughReplicasAfterAppend { .. } => {
                    "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
                }
                PartitionError::FencedLeaderEpoch { .. } => "FENCED_LEADER_EPOCH",
                PartitionError::UnknownLeaderEpoch { .. } => "UNKNOWN_LEADER_EPOCH",
                PartitionError::OffsetOutOfRange { .. } => "OFFSET_OUT_OF_RANGE",
                PartitionError::Sequence(SequenceError::OutOfOrder { .. }) => {
                    "OUT_OF_ORDER_SEQUENCE_NUMBER"
                }
                PartitionError::Sequence(SequenceError::InvalidProducerEpoch) => {
                    "INVALID_PRODUCER_EPOCH"
                }
                PartitionError::Log(_) => "CORRUPT_MESSAGE",
            },
            ClientError::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ClientError::RequestTimedOut => "REQUEST_TIMED_OUT",
            ClientError::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            ClientError::NotController => "NOT_CONTROLLER",
            ClientError::InvalidReplicaAssignment(_) => "INVALID_REPLICA_ASSIGNMENT",
            ClientError::InvalidConfig(_) => "INVALID_CONFIG",
            ClientError::InvalidReplicationFactor(_) => "INVALID_REPLICATION_FACTOR",
            ClientError::InvalidPartitions(_) => "INVALID_PARTITIONS",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceRequest {
    pub correlation_id: u64,
    pub tp: TopicPartition,
    pub records: Vec<Record>,
    pub acks: Acks,
    /// How long acks=all may wait for the ISR (the producer's `request.timeout.ms`).
    pub timeout_ms: i64,
    /// An idempotent producer's id, epoch and the batch's first sequence number (the v2
    /// batch header's fields).
    pub producer: Option<ProducerBatch>,
}

pub use crate::replication::producer_state::ProducerBatch;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceResponse {
    pub correlation_id: u64,
    pub tp: TopicPartition,
    /// The offset of the first record, or the error.
    pub result: Result<i64, ClientError>,
}

/// A consumer's fetch of one partition: only offsets below the high watermark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerFetch {
    pub correlation_id: u64,
    pub tp: TopicPartition,
    pub offset: i64,
    pub max_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerFetchResponse {
    pub correlation_id: u64,
    pub tp: TopicPartition,
    pub result: Result<ConsumerRecords, ClientError>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecords {
    pub records: Bytes,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// What a broker's metadata cache says about one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub leader: Option<BrokerId>,
    pub leader_epoch: i32,
    pub replicas: Vec<BrokerId>,
    pub isr: BTreeSet<BrokerId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataResponse {
    pub correlation_id: u64,
    pub controller: Option<BrokerId>,
    pub brokers: BTreeSet<BrokerId>,
    pub partitions: BTreeMap<TopicPartition, PartitionMetadata>,
}

/// A new topic: placed by the controller with Kafka's round-robin rule, or where
/// `replica_assignment` says (CreateTopics' `assignments`; then it gives the partition
/// count and replication factor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopic {
    pub correlation_id: u64,
    pub name: String,
    pub partitions: u32,
    pub replication_factor: usize,
    pub replica_assignment: Option<Assignment>,
    pub config: TopicConfig,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicResponse {
    pub correlation_id: u64,
    pub name: String,
    pub result: Result<Assignment, ClientError>,
}

/// A consumer group request, to any broker (FindCoordinator) or to the group's
/// coordinator (the rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRequest {
    /// Which broker coordinates the group: the leader of its `__consumer_offsets`
    /// partition.
    FindCoordinator {
        group_id: String,
    },
    Join(JoinGroup),
    Sync(SyncGroup),
    Heartbeat {
        group_id: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
    },
    Leave {
        group_id: String,
        member_id: String,
        group_instance_id: Option<String>,
    },
    /// `generation` -1 and no member id: a commit from outside the group.
    OffsetCommit {
        group_id: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
        offsets: Vec<(TopicPartition, i64)>,
    },
    OffsetFetch {
        group_id: String,
        partitions: Vec<TopicPartition>,
    },
}

impl GroupRequest {
    /// The group the request is about.
    pub fn group_id(&self) -> &str {
        match self {
            GroupRequest::FindCoordinator { group_id }
            | GroupRequest::Heartbeat { group_id, .. }
            | GroupRequest::Leave { group_id, .. }
            | GroupRequest::OffsetCommit { group_id, .. }
            | GroupRequest::OffsetFetch { group_id, .. } => group_id,
            GroupRequest::Join(j) => &j.group_id,
            GroupRequest::Sync(s) => &s.group_id,
        }
    }

    /// The answer to this request when it fails with `error`.
    pub fn failed(&self, error: GroupError) -> GroupResponse {
        match self {
            GroupRequest::FindCoordinator { .. } => GroupResponse::FindCoordinator(Err(error)),
            GroupRequest::Join(j) => {
                GroupResponse::Join(JoinGroupResponse::failed(j.member_id.clone(), error))
            }
            GroupRequest::Sync(_) => GroupResponse::Sync(SyncGroupResponse::failed(error)),
            GroupRequest::Heartbeat { .. } => GroupResponse::Heartbeat(Err(error)),
            GroupRequest::Leave { .. } => GroupResponse::Leave(Err(error)),
            GroupRequest::OffsetCommit { .. } => GroupResponse::OffsetCommit(Err(error)),
            GroupRequest::OffsetFetch { .. } => GroupResponse::OffsetFetch(Err(error)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupResponse {
    FindCoordinator(Result<BrokerId, GroupError>),
    Join(JoinGroupResponse),
    Sync(SyncGroupResponse),
    Heartbeat(Result<(), GroupError>),
    Leave(Result<(), GroupError>),
    OffsetCommit(Result<(), GroupError>),
    /// The committed offset of each partition asked for, -1 where there is none.
    OffsetFetch(Result<Vec<(TopicPartition, i64)>, GroupError>),
}

impl GroupResponse {
    /// The error, if the request failed.
    pub fn error(&self) -> Option<GroupError> {
        match self {
            GroupResponse::FindCoordinator(r) => r.as_ref().err().copied(),
            GroupResponse::Join(r) => r.error,
            GroupResponse::Sync(r) => r.error,
            GroupResponse::Heartbeat(r)
            | GroupResponse::Leave(r)
            | GroupResponse::OffsetCommit(r) => r.as_ref().err().copied(),
            GroupResponse::OffsetFetch(r) => r.as_ref().err().copied(),
        }
    }
}

/// Everything that travels between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Not sent by anyone: the network tells a node that its connection to the sender
    /// broke. Requests in flight on it will get no answer (they may or may not have
    /// been handled), as Kafka's NetworkClient reports a disconnect.
    ConnectionLost,
    Zk(ZkRequest),
    ZkReply(ZkResponse),
    /// A watch fired (ZooKeeper's watcher event).
    ZkWatch(Notification),
    Controller {
        controller_id: BrokerId,
        controller_epoch: i32,
        /// The broker epoch the controller knows for the receiver (KIP-380).
        broker_epoch: SessionId,
        correlation_id: u64,
        request: ControllerRequest,
    },
    ControllerAck {
        correlation_id: u64,
    },
    /// A leader asks the controller to change the ISR (Kafka's AlterPartition).
    AlterPartition {
        tp: TopicPartition,
        change: crate::controller::IsrChange,
    },
    AlterPartitionReply {
        tp: TopicPartition,
        /// The proposal it answers (Kafka matches the response to its request): a late
        /// answer to an earlier proposal is not taken for the current one.
        change: crate::controller::IsrChange,
        result: Result<LeaderAndIsr, IsrChangeRejected>,
    },
    ReplicaFetch(ReplicaFetch),
    ReplicaFetchReply(ReplicaFetchResponse),
    Produce(ProduceRequest),
    ProduceReply(ProduceResponse),
    Fetch(ConsumerFetch),
    FetchReply(ConsumerFetchResponse),
    Metadata {
        correlation_id: u64,
    },
    MetadataReply(MetadataResponse),
    CreateTopic(CreateTopic),
    CreateTopicReply(CreateTopicResponse),
    /// More partitions for a topic, `total` in all (Kafka's CreatePartitions).
    CreatePartitions {
        correlation_id: u64,
        topic: String,
        total: u32,
    },
    /// The new partitions' replicas, or the error.
    CreatePartitionsReply {
        correlation_id: u64,
        topic: String,
        result: Result<Assignment, ClientError>,
    },
    /// A topic's configs, all of them (Kafka's AlterConfigs for a topic resource:
    /// `kafka-configs.sh --alter --entity-type topics`).
    AlterConfigs {
        correlation_id: u64,
        topic: String,
        config: TopicConfig,
    },
    AlterConfigsReply {
        correlation_id: u64,
        topic: String,
        result: Result<(), ClientError>,
    },
    /// A broker asks the controller to move its leaderships before it stops (Kafka's
    /// ControlledShutdown).
    ControlledShutdown {
        correlation_id: u64,
        broker: BrokerId,
        broker_epoch: SessionId,
    },
    /// The partitions the broker still leads (none: it may stop).
    ControlledShutdownReply {
        correlation_id: u64,
        remaining: Vec<TopicPartition>,
    },
    /// Preferred-leader election for every partition (`kafka-leader-election.sh`).
    ElectLeaders {
        correlation_id: u64,
    },
    /// The partitions whose leader moved, or NOT_CONTROLLER.
    ElectLeadersReply {
        correlation_id: u64,
        result: Result<Vec<TopicPartition>, ClientError>,
    },
    /// The earliest (log start) or latest (high watermark) offset of a partition, for
    /// `auto.offset.reset` and `seekToBeginning`/`seekToEnd` (Kafka's ListOffsets).
    ListOffsets {
        correlation_id: u64,
        tp: TopicPartition,
        latest: bool,
    },
    ListOffsetsReply {
        correlation_id: u64,
        tp: TopicPartition,
        result: Result<i64, ClientError>,
    },
    /// An idempotent producer asks for its producer id and epoch.
    InitProducerId {
        correlation_id: u64,
    },
    InitProducerIdReply {
        correlation_id: u64,
        producer_id: i64,
        producer_epoch: i16,
    },
    Group {
        correlation_id: u64,
        request: GroupRequest,
    },
    GroupReply {
        correlation_id: u64,
        response: GroupResponse,
    },
}

impl Message {
    /// The correlation id of a reply to a client's request.
    pub fn reply_correlation_id(&self) -> Option<u64> {
        match self {
            Message::MetadataReply(r) => Some(r.correlation_id),
            Message::ProduceReply(r) => Some(r.correlation_id),
            Message::FetchReply(r) => Some(r.correlation_id),
            Message::CreateTopicReply(r) => Some(r.correlation_id),
            Message::GroupReply { correlation_id, .. }
            | Message::CreatePartitionsReply { correlation_id, .. }
            | Message::AlterConfigsReply { correlation_id, .. }
            | Message::ElectLeadersReply { correlation_id, .. }
            | Message::ListOffsetsReply { correlation_id, .. }
            | Message::InitProducerIdReply { correlation_id, .. } => Some(*correlation_id),
            _ => None,
        }
    }

    /// What a message carries that a class should see, in a few words: the offsets a
    /// replica fetch asks from and the HW its answer brings back, a produce's records and
    /// where they landed. Empty for the rest.
    pub fn detail(&self) -> String {
        let tps = |names: Vec<String>| names.join(" ");
        match self {
            Message::ReplicaFetch(f) => tps(f
                .partitions
                .iter()
                .map(|(tp, r)| format!("{tp} from {}", r.fetch_offset))
                .collect()),
            Message::ReplicaFetchReply(r) => tps(r
                .partitions
                .iter()
                .map(|(tp, result)| match result {
                    Ok(f) if f.records.is_empty() => format!("{tp} HW {}", f.high_watermark),
                    Ok(f) => format!("{tp} records, HW {}", f.high_watermark),
                    Err(e) => format!("{tp} {e}"),
                })
                .collect()),
            Message::Produce(p) => format!("{} {} records", p.tp, p.records.len()),
            Message::ProduceReply(r) => match &r.result {
                Ok(offset) => format!("{} at {offset}", r.tp),
                Err(e) => format!("{} {}", r.tp, e.code()),
            },
            _ => String::new(),
        }
    }

    /// Kafka's name for the request or response, for the in-flight view.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::ConnectionLost => "ConnectionLost",
            Message::Zk(ZkRequest::OpenSession { .. }) => "ZkConnect",
            Message::Zk(ZkRequest::Ping { .. }) => "ZkPing",
            Message::Zk(ZkRequest::CloseSession { .. }) => "ZkClose",
            Message::Zk(ZkRequest::Multi { .. }) => "ZkMulti",
            Message::ZkReply(_) => "ZkResponse",
            Message::ZkWatch(_) => "ZkWatch",
            Message::Controller {
                request: ControllerRequest::LeaderAndIsr { .. },
                ..
            } => "LeaderAndIsr",
            Message::Controller {
                request: ControllerRequest::UpdateMetadata { .. },
                ..
            } => "UpdateMetadata",
            Message::ControllerAck { .. } => "ControllerResponse",
            Message::AlterPartition { .. } => "AlterPartition",
            Message::AlterPartitionReply { .. } => "AlterPartitionResponse",
            Message::ReplicaFetch(_) => "Fetch (replica)",
            Message::ReplicaFetchReply(_) => "FetchResponse (replica)",
            Message::Produce(_) => "Produce",
            Message::ProduceReply(_) => "ProduceResponse",
            Message::Fetch(_) => "Fetch",
            Message::FetchReply(_) => "FetchResponse",
            Message::Metadata { .. } => "Metadata",
            Message::MetadataReply(_) => "MetadataResponse",
            Message::CreateTopic(_) => "CreateTopics",
            Message::CreateTopicReply(_) => "CreateTopicsResponse",
            Message::CreatePartitions { .. } => "CreatePartitions",
            Message::CreatePartitionsReply { .. } => "CreatePartitionsResponse",
            Message::AlterConfigs { .. } => "AlterConfigs",
            Message::AlterConfigsReply { .. } => "AlterConfigsResponse",
            Message::ControlledShutdown { .. } => "ControlledShutdown",
            Message::ControlledShutdownReply { .. } => "ControlledShutdownResponse",
            Message::ElectLeaders { .. } => "ElectLeaders",
            Message::ElectLeadersReply { .. } => "ElectLeadersResponse",
            Message::InitProducerId { .. } => "InitProducerId",
            Message::InitProducerIdReply { .. } => "InitProducerIdResponse",
            Message::ListOffsets { .. } => "ListOffsets",
            Message::ListOffsetsReply { .. } => "ListOffsetsResponse",
            Message::Group { request, .. } => match request {
                GroupRequest::FindCoordinator { .. } => "FindCoordinator",
                GroupRequest::Join(_) => "JoinGroup",
                GroupRequest::Sync(_) => "SyncGroup",
                GroupRequest::Heartbeat { .. } => "Heartbeat",
                GroupRequest::Leave { .. } => "LeaveGroup",
                GroupRequest::OffsetCommit { .. } => "OffsetCommit",
                GroupRequest::OffsetFetch { .. } => "OffsetFetch",
            },
            Message::GroupReply { response, .. } => match response {
                GroupResponse::FindCoordinator(_) => "FindCoordinatorResponse",
                GroupResponse::Join(_) => "JoinGroupResponse",
                GroupResponse::Sync(_) => "SyncGroupResponse",
                GroupResponse::Heartbeat(_) => "HeartbeatResponse",
                GroupResponse::Leave(_) => "LeaveGroupResponse",
                GroupResponse::OffsetCommit(_) => "OffsetCommitResponse",
                GroupResponse::OffsetFetch(_) => "OffsetFetchResponse",
            },
        }
    }
}
