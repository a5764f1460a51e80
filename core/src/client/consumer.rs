//! Kafka's consumer (classic group protocol) with a simulated application around it,
//! sans IO. The client part finds the group coordinator, joins (KIP-394 member ids),
//! runs the assignor when it leads, syncs, heartbeats every `heartbeat.interval.ms`,
//! leaves when its application stops polling for `max.poll.interval.ms`, fetches from
//! partition leaders (only below the HW), looks up committed offsets, applies
//! `auto.offset.reset`, and commits (auto, sync, async). Eager assignors revoke
//! everything before a rejoin; cooperative-sticky revokes only what moved and rejoins
//! at once (KIP-429). `assign()` consumers skip the group and commit with generation -1.
//!
//! The application polls, takes `processing_ms` per record, then commits as its code
//! says ([`AppCommit`]). Its history (what each poll returned, what was processed, every
//! commit) is what the checkers judge.

use crate::actor::Actor;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Brokers, InFlight};
use crate::group::assignor::{Strategy, Subscription, assign};
use crate::group::coordinator::{
    GroupError, JoinGroup, JoinGroupResponse, SyncGroup, SyncGroupResponse,
};
use crate::group::storage::OFFSETS_TOPIC;
use crate::protocol::{
    ClientError, ConsumerFetch, GroupRequest, GroupResponse, Message, MetadataResponse, NodeId,
    TopicPartition,
};
use crate::record::decode_entries;
use crate::replication::BrokerId;

/// This module's actor tells the narration its own events.
type Outbox = crate::actor::Outbox<Emitted>;

/// What the consumer reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscribe {
    /// `subscribe(topics)`: group membership, partitions from the assignor.
    Topics(Vec<String>),
    /// `subscribe(pattern)`: every topic whose whole name matches (internal topics
    /// excluded), re-evaluated on every metadata refresh.
    Pattern(String),
    /// `assign(partitions)`: no group membership, no rebalances; new partitions are not
    /// picked up.
    Assign(Vec<TopicPartition>),
}

/// `auto.offset.reset`: where to start when there is no committed offset (or it is out
/// of range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    /// Fail (NoOffsetForPartitionException): the partition is not consumed.
    None,
}

impl OffsetReset {
    pub fn name(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
            OffsetReset::None => "none",
        }
    }
}

/// What the application does after processing each poll's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppCommit {
    /// Nothing (with `enable.auto.commit`, the client commits in the background).
    Nothing,
    /// `commitSync()`: waits for the answer before polling again.
    Sync,
    /// `commitAsync(callback)`: goes on polling; the callback records the outcome.
    Async,
    /// Seed 003's pattern: `commitAsync` after each poll, `commitSync` on close.
    AsyncThenSyncOnClose,
}

/// Where the application processes what `poll()` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processing {
    /// In the poll loop, before the next `poll()`: auto-commit (which runs inside `poll()`)
    /// commits only processed records, so a crash re-delivers, never skips
    /// (at-least-once).
    Synchronous,
    /// Handed to another worker; the loop polls again at once. Auto-commit commits what
    /// was handed over, processed or not: a crash skips the rest (at-most-once).
    Handoff,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `client.id`: the prefix of the member id.
    pub client_id: String,
    /// `group.id`: None for a consumer that neither joins nor commits.
    pub group_id: Option<String>,
    /// `group.instance.id`: static membership (KIP-345).
    pub group_instance_id: Option<String>,
    pub subscribe: Subscribe,
    /// `partition.assignment.strategy`, most preferred first. Kafka 3.0+'s default is
    /// [range, cooperative-sticky] (eager until range is removed).
    pub assignors: Vec<Strategy>,
    /// `session.timeout.ms`: 45000 since Kafka 3.0 (10000 before).
    pub session_timeout_ms: i64,
    /// `heartbeat.interval.ms`
    pub heartbeat_interval_ms: i64,
    /// `max.poll.interval.ms`: also the rebalance timeout sent in JoinGroup.
    pub max_poll_interval_ms: i64,
    /// `enable.auto.commit`
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`
    pub auto_commit_interval_ms: i64,
    /// `auto.offset.reset`: latest by default.
    pub auto_offset_reset: OffsetReset,
    /// `max.poll.records`
    pub max_poll_records: usize,
    /// `fetch.max.wait.ms`: the pause after a fetch that returned nothing.
    pub fetch_max_wait_ms: i64,
    /// `metadata.max.age.ms`: how often metadata is refreshed (new topics, partitions).
    pub metadata_max_age_ms: i64,
    /// `retry.backoff.ms`
    pub retry_backoff_ms: i64,
    /// `request.timeout.ms`
    pub request_timeout_ms: i64,
    /// `default.api.timeout.ms`: how long `commitSync()` retries retriable errors.
    pub default_api_timeout_ms: i64,
    /// Brokers asked for metadata and coordinators, in turn.
    pub bootstrap: Vec<BrokerId>,
    /// The application: time per record.
    pub processing_ms: i64,
    /// The application: the poll timeout when nothing is buffered.
    pub poll_timeout_ms: i64,
    /// The application's commits.
    pub app_commit: AppCommit,
    /// Where the application processes records.
    pub processing: Processing,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client_id: "consumer".to_string(),
            group_id: None,
            group_instance_id: None,
            subscribe: Subscribe::Topics(vec!["orders".to_string()]),
            assignors: vec![Strategy::Range, Strategy::CooperativeSticky],
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_interval_ms: 300_000,
            enable_auto_commit: true,
            auto_commit_interval_ms: 5_000,
            auto_offset_reset: OffsetReset::Latest,
            max_poll_records: 500,
            fetch_max_wait_ms: 500,
            metadata_max_age_ms: 300_000,
            retry_backoff_ms: 100,
            request_timeout_ms: 30_000,
            default_api_timeout_ms: 60_000,
            bootstrap: Vec::new(),
            processing_ms: 1,
            poll_timeout_ms: 100,
            app_commit: AppCommit::Nothing,
            processing: Processing::Synchronous,
        }
    }
}

/// A record as the application saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub tp: TopicPartition,
    pub offset: i64,
    pub value: String,
    pub time_ms: i64,
    /// The high watermark in the fetch answer that brought the record: a consumer may
    /// only see records below it (checked by the sim's reads-above-HW checker).
    pub high_watermark: i64,
}

/// A commit and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOp {
    pub invoked_ms: i64,
    pub generation: i32,
    pub offsets: Vec<(TopicPartition, i64)>,
    /// None while in flight or when no answer came; Some(Err(code)) on failure.
    pub outcome: Option<Result<(), String>>,
    pub completed_ms: Option<i64>,
    /// Auto-commit, the application's sync or async commit, or the close.
    pub kind: &'static str,
}

/// What the consumer did, for checkers and lessons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerHistory {
    /// The consumer's `client.id`: its name in findings and histories.
    pub client_id: String,
    /// The consumer's `group.id`.
    pub group: Option<String>,
    /// Records each poll returned.
    pub polled: Vec<ConsumedRecord>,
    /// Records whose processing finished.
    pub processed: Vec<ConsumedRecord>,
    pub commits: Vec<CommitOp>,
    /// (time, generation, partitions) after each completed rebalance.
    pub assignments: Vec<(i64, i32, Vec<TopicPartition>)>,
}

/// Why a consumer gives partitions up (`onPartitionsRevoked`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// close() leaves the group.
    Closing,
    /// An eager rebalance revokes every partition before rejoining.
    EagerRebalance,
    /// Their topics are no longer subscribed.
    Unsubscribed,
    /// The cooperative assignment moved them to another member.
    CooperativeMoved,
}

/// Why a consumer leaves its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveReason {
    Closed,
    /// Its application did not poll within `max.poll.interval.ms`.
    PollTimeout {
        max_poll_interval_ms: i64,
    },
}

/// Why a consumer's position is looked up at the log start or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetReason {
    SeekToEnd,
    SeekToBeginning,
    /// No group.id, so no committed offset.
    NoGroup,
    NoCommittedOffset,
    OutOfRange {
        offset: i64,
    },
}

/// A consumer's event as it leaves the state machine, at a time and with the names the
/// narration uses (`event::EventKind::Consumer` once the simulation records it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emitted {
    pub time_ms: i64,
    pub client: NodeId,
    /// Its `client.id`, which sentences name it by.
    pub name: String,
    pub event: ConsumerEvent,
}

/// What a consumer tells the narration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerEvent {
    Assigned {
        group: String,
        member: String,
        generation: i32,
        partitions: Vec<TopicPartition>,
    },
    Revoked {
        partitions: Vec<TopicPartition>,
        why: RevokeReason,
    },
    /// Given up without a revocation: the generation was reset by an error from the
    /// coordinator (`error`), or by leaving on a poll timeout (None).
    Lost {
        partitions: Vec<TopicPartition>,
        error: Option<&'static str>,
    },
    LeftGroup {
        why: LeaveReason,
        /// A static member (`group.instance.id`) sends no LeaveGroup: it only goes quiet.
        static_member: bool,
    },
    /// A heartbeat answered REBALANCE_IN_PROGRESS: the member rejoins when its
    /// application next calls poll().
    RejoinRequested,
    OffsetReset {
        tp: TopicPartition,
        offset: i64,
        policy: &'static str,
        why: ResetReason,
    },
    NoOffset {
        tp: TopicPartition,
    },
    /// The group's coordinator answered NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE,
    /// or a request to it got no answer: the consumer looks it up again.
    CoordinatorUnknown {
        coordinator: BrokerId,
        error: String,
    },
    /// FindCoordinator named the group's coordinator.
    CoordinatorFound {
        coordinator: BrokerId,
    },
    /// `commitSync()` got a retriable error and tries again.
    CommitRetrying {
        error: String,
    },
    CommitFailed {
        error: String,
    },
    SubscriptionChanged {
        topics: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Metadata,
    FindCoordinator,
    Join,
    Sync,
    /// The generation it was sent in: an error about an older one is ignored.
    Heartbeat {
        generation: i32,
    },
    Leave,
    Commit {
        op: usize,
    },
    OffsetFetch,
    ListOffsets {
        tp: TopicPartition,
    },
    Fetch {
        tp: TopicPartition,
    },
}

/// Kafka's `AbstractCoordinator.MemberState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Membership {
    /// Not in a generation.
    Unjoined,
    /// JoinGroup sent, no answer yet (PREPARING_REBALANCE): the heartbeat thread rests.
    Joining,
    /// Joined, SyncGroup sent (COMPLETING_REBALANCE).
    Syncing,
    Stable,
}

/// Where a reset goes: where `auto.offset.reset` says, or where a seek asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResetTo {
    Policy,
    Beginning,
    End,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Position {
    /// The committed offset is being looked up.
    NeedsCommitted,
    /// The position is looked up at the log start or end.
    NeedsReset {
        to: ResetTo,
        why: ResetReason,
    },
    Ready,
    /// auto.offset.reset=none and nothing committed.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    position: Position,
    /// The next offset to fetch.
    fetch_offset: i64,
    /// The next offset to return to the application (its position).
    returned: i64,
    /// (offset, value, the HW its fetch answer gave).
    buffer: VecDeque<(i64, String, i64)>,
    fetching: bool,
    backoff_until_ms: i64,
}

impl Owned {
    fn new() -> Owned {
        Owned {
            position: Position::NeedsCommitted,
            fetch_offset: 0,
            returned: 0,
            buffer: VecDeque::new(),
            fetching: false,
            backoff_until_ms: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum App {
    /// Inside `poll()` until `at_ms` (then it returns, empty or not).
    Polling {
        at_ms: i64,
    },
    /// Processes `batch` itself; the first record is done at `done_ms`.
    Processing {
        batch: VecDeque<ConsumedRecord>,
        done_ms: i64,
    },
    /// Inside `commitSync()` (history index) until `deadline_ms`; `retry_at_ms` while it
    /// waits to try again.
    Committing {
        op: usize,
        deadline_ms: i64,
        retry_at_ms: Option<i64>,
    },
    Closed,
}

/// OffsetCommit errors `commitSync()` retries (`ConsumerCoordinator.
/// OffsetCommitResponseHandler`: the retriable ones, and a request that got no answer).
fn retriable_commit_error(code: &str) -> bool {
    matches!(
        code,
        "COORDINATOR_LOAD_IN_PROGRESS"
            | "UNKNOWN_TOPIC_OR_PARTITION"
            | "COORDINATOR_NOT_AVAILABLE"
            | "NOT_COORDINATOR"
            | "REQUEST_TIMED_OUT"
            | "NO_RESPONSE"
    )
}

/// A consumer and its application.
#[derive(Clone, Debug)]
pub struct Consumer {
    config: ConsumerConfig,
    address: NodeId,
    now_ms: i64,
    in_flight: InFlight<Pending>,
    brokers: Brokers,
    leaders: BTreeMap<TopicPartition, Option<BrokerId>>,
    topics: BTreeMap<String, u32>,
    metadata_loaded: bool,
    metadata_due_ms: i64,
    coordinator: Option<BrokerId>,
    /// The coordinator FindCoordinator last named: a lookup that names it again is no news.
    last_found_coordinator: Option<BrokerId>,
    coordinator_retry_ms: i64,
    member_id: String,
    generation: i32,
    protocol: Option<String>,
    membership: Membership,
    /// Kafka's `rejoinNeeded`: set by whoever learns a rebalance is due (a heartbeat
    /// answer, a metadata change, a lost generation); acted on only inside poll().
    rejoin_needed: bool,
    /// A rejoin after a failed join waits for this (retry.backoff.ms).
    rejoin_at_ms: i64,
    /// Kafka's `needsJoinPrepare`: revoke (and auto-commit) once per rebalance.
    needs_join_prepare: bool,
    /// The auto-commit `onJoinPrepare` waits for, and until when it waits at most.
    join_prepare_commit: Option<usize>,
    join_prepare_deadline_ms: Option<i64>,
    /// Eager: every owned partition is about to be revoked, so poll() returns none of
    /// them (Kafka's `maybeMarkPartitionsPendingRevocation`).
    pending_revocation: bool,
    /// The commit `commitSync` retries and the error it last said it retries.
    last_retry_error: Option<(usize, String)>,
    /// A JoinGroup answer that came while the application was away from poll(): the
    /// heartbeat thread rests while joining, so nobody reads it until the next poll().
    deferred_join: Option<JoinGroupResponse>,
    /// The assignment a successful SyncGroup brought, applied by the next poll()
    /// (Kafka's `onJoinComplete`).
    joined_assignment: Option<Vec<TopicPartition>>,
    /// Why the generation was reset (an error code; None for leaving on a poll timeout):
    /// what the next poll() says when it gives the partitions up as lost.
    lost_error: Option<&'static str>,
    next_heartbeat_ms: i64,
    /// Topics this member subscribes to (the pattern resolved).
    subscribed: BTreeSet<String>,
    /// The topics its last JoinGroup named (Kafka's `joinedSubscription`).
    joined_subscription: BTreeSet<String>,
    /// The partition counts the leader assigned with.
    assigned_with: BTreeMap<String, u32>,
    owned: BTreeMap<TopicPartition, Owned>,
    last_committed: BTreeMap<TopicPartition, i64>,
    /// The eager StickyAssignor's user data: the last assignment received, sent with every
    /// join although an eager rebalance revoked it (Kafka's `memberAssignment`).
    sticky_memory: Vec<TopicPartition>,
    next_auto_commit_ms: i64,
    app: App,
    /// [`Processing::Handoff`]: records handed to the worker, and when it finishes the
    /// first of them.
    worker: VecDeque<ConsumedRecord>,
    worker_done_ms: i64,
    last_poll_ms: i64,
    stall_until_ms: i64,
    history: ConsumerHistory,
    closed: bool,
}

impl Consumer {
    pub fn new(config: ConsumerConfig, address: NodeId, now_ms: i64) -> Consumer {
        let group = config.group_id.clone();
        let client_id = config.client_id.clone();
        let mut consumer = Consumer {
            brokers: Brokers::new(&config.bootstrap),
            next_auto_commit_ms: now_ms + config.auto_commit_interval_ms,
            config,
            address,
            now_ms,
            in_flight: InFlight::new(),
            leaders: BTreeMap::new(),
            topics: BTreeMap::new(),
            metadata_loaded: false,
            metadata_due_ms: now_ms,
            coordinator: None,
            last_found_coordinator: None,
            coordinator_retry_ms: now_ms,
            member_id: String::new(),
            generation: -1,
            protocol: None,
            membership: Membership::Unjoined,
            rejoin_needed: true,
            rejoin_at_ms: now_ms,
            needs_join_prepare: true,
            join_prepare_commit: None,
            join_prepare_deadline_ms: None,
            pending_revocation: false,
            last_retry_error: None,
            deferred_join: None,
            joined_assignment: None,
            lost_error: None,
            next_heartbeat_ms: i64::MAX,
            subscribed: BTreeSet::new(),
            joined_subscription: BTreeSet::new(),
            assigned_with: BTreeMap::new(),
            owned: BTreeMap::new(),
            last_committed: BTreeMap::new(),
            sticky_memory: Vec::new(),
            app: App::Polling { at_ms: now_ms },
            worker: VecDeque::new(),
            worker_done_ms: now_ms,
            last_poll_ms: now_ms,
            stall_until_ms: now_ms,
            history: ConsumerHistory {
                client_id,
                group,
                ..ConsumerHistory::default()
            },
            closed: false,
        };
        if let Subscribe::Assign(partitions) = &consumer.config.subscribe {
            for tp in partitions.clone() {
                consumer.owned.insert(tp, consumer.fresh_position());
            }
        }
        consumer
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    pub fn history(&self) -> &ConsumerHistory {
        &self.history
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The partitions it owns now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.keys().cloned().collect()
    }

    /// Whether it is in a generation with its assignment applied (always, for `assign()`).
    pub fn is_stable(&self) -> bool {
        !self.uses_group_membership()
            || (self.membership == Membership::Stable && self.joined_assignment.is_none())
    }

    /// The application's position in each owned partition.
    pub fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.owned
            .iter()
            .filter(|(_, o)| o.position == Position::Ready)
            .map(|(tp, o)| (tp.clone(), o.returned))
            .collect()
    }

    /// The application hangs (a slow call, a long batch) until `until_ms`: it neither
    /// finishes records nor polls, while the heartbeat thread goes on.
    pub fn stall_until(&mut self, until_ms: i64) {
        self.stall_until_ms = self.stall_until_ms.max(until_ms);
    }

    /// `seek(partition, offset)`: the next poll returns records from `offset`.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) {
        if let Some(o) = self.owned.get_mut(tp) {
            o.position = Position::Ready;
            o.fetch_offset = offset;
            o.returned = offset;
            o.buffer.clear();
        }
    }

    /// `seekToBeginning` / `seekToEnd`.
    pub fn seek_to(&mut self, tp: &TopicPartition, end: bool) {
        if let Some(o) = self.owned.get_mut(tp) {
            o.buffer.clear();
            o.position = if end {
                Position::NeedsReset {
                    to: ResetTo::End,
                    why: ResetReason::SeekToEnd,
                }
            } else {
                Position::NeedsReset {
                    to: ResetTo::Beginning,
                    why: ResetReason::SeekToBeginning,
                }
            };
        }
    }

    /// `close()`: commits (auto-commit, or the application's final `commitSync`), gives
    /// its partitions up and leaves the group (a dynamic member), then stops
    /// (`ConsumerCoordinator.close`: `maybeAutoCommitOffsetsSync`, `onLeavePrepare`,
    /// `maybeLeaveGroup`).
    pub fn close(&mut self, now_ms: i64, out: &mut Outbox) {
        self.now_ms = now_ms;
        if self.closed {
            return;
        }
        if self.config.enable_auto_commit
            || matches!(
                self.config.app_commit,
                AppCommit::Sync | AppCommit::AsyncThenSyncOnClose
            )
        {
            self.commit("close", out);
        }
        if self.uses_group_membership() {
            self.give_up_all(out, |partitions| ConsumerEvent::Revoked {
                partitions,
                why: RevokeReason::Closing,
            });
            if self.config.group_instance_id.is_none() && !self.member_id.is_empty() {
                self.maybe_leave_group(LeaveReason::Closed, out);
            }
        }
        self.app = App::Closed;
        self.closed = true;
    }

    fn uses_group_membership(&self) -> bool {
        self.config.group_id.is_some() && !matches!(self.config.subscribe, Subscribe::Assign(_))
    }

    fn eager(&self) -> bool {
        !self
            .config
            .assignors
            .iter()
            .all(|s| *s == Strategy::CooperativeSticky)
    }

    fn fresh_position(&self) -> Owned {
        let mut o = Owned::new();
        if self.config.group_id.is_none() {
            o.position = Position::NeedsReset {
                to: ResetTo::Policy,
                why: ResetReason::NoGroup,
            };
        }
        o
    }

    fn emit(&self, out: &mut Outbox, event: ConsumerEvent) {
        out.emit(Emitted {
            time_ms: self.now_ms,
            client: self.address,
            name: self.config.client_id.clone(),
            event,
        });
    }

    fn send(
        &mut self,
        to: NodeId,
        pending: Pending,
        timeout_ms: i64,
        out: &mut Outbox,
        make: impl FnOnce(u64) -> Message,
    ) {
        let deadline_ms = self.now_ms + timeout_ms;
        self.in_flight.send(out, to, pending, deadline_ms, make);
    }

    fn group_send(
        &mut self,
        to: NodeId,
        pending: Pending,
        out: &mut Outbox,
        request: GroupRequest,
    ) {
        let timeout_ms = match pending {
            // Kafka gives a JoinGroup the rebalance timeout plus 5 s.
            Pending::Join => self
                .config
                .request_timeout_ms
                .max(self.config.max_poll_interval_ms + 5_000),
            _ => self.config.request_timeout_ms,
        };
        self.send(to, pending, timeout_ms, out, |correlation_id| {
            Message::Group {
                correlation_id,
                request,
            }
        });
    }

    fn group_id(&self) -> String {
        self.config.group_id.clone().unwrap_or_default()
    }

    /// Whether the application is inside `poll()`: waiting in it, or about to call it.
    /// Busy with a batch, in `commitSync()`, stalled or closed, it is not.
    fn in_poll(&self) -> bool {
        matches!(self.app, App::Polling { .. }) && self.stall_until_ms <= self.now_ms
    }

    // ----- the loop ----------------------------------------------------------------------

    fn drive(&mut self, out: &mut Outbox) {
        if self.closed {
            return;
        }
        let now = self.now_ms;
        if self.metadata_due_ms <= now && !self.in_flight.contains(&Pending::Metadata) {
            let broker = self.brokers.next();
            self.send(
                broker,
                Pending::Metadata,
                self.config.request_timeout_ms,
                out,
                |correlation_id| Message::Metadata { correlation_id },
            );
        }
        if self.config.group_id.is_some() {
            self.drive_coordinator(out);
        }
        if self.uses_group_membership() {
            self.drive_heartbeat(out);
        }
        // Waiting inside poll(): its coordinator work goes on (a poll due now does it itself).
        if self.in_poll() && matches!(self.app, App::Polling { at_ms } if at_ms > now) {
            self.poll_coordinator(out);
        }
        self.drive_positions(out);
        self.drive_app(out);
    }

    fn drive_coordinator(&mut self, out: &mut Outbox) {
        if self.coordinator.is_none()
            && self.coordinator_retry_ms <= self.now_ms
            && !self.in_flight.contains(&Pending::FindCoordinator)
        {
            let broker = self.brokers.next();
            let request = GroupRequest::FindCoordinator {
                group_id: self.group_id(),
            };
            self.group_send(broker, Pending::FindCoordinator, out, request);
        }
    }

    /// `AbstractCoordinator.markCoordinatorUnknown`: find it again after the backoff.
    fn coordinator_lost(&mut self, error: &str, out: &mut Outbox) {
        if let Some(coordinator) = self.coordinator.take() {
            self.emit(
                out,
                ConsumerEvent::CoordinatorUnknown {
                    coordinator,
                    error: error.to_string(),
                },
            );
        }
        self.coordinator_retry_ms = self.now_ms + self.config.retry_backoff_ms;
    }

    /// The heartbeat thread (`AbstractCoordinator.HeartbeatThread.run`): at rest until the
    /// member has joined (COMPLETING_REBALANCE or STABLE); then heartbeats, and leaves
    /// when the application has not polled for `max.poll.interval.ms`. It never joins.
    fn drive_heartbeat(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        if !matches!(self.membership, Membership::Syncing | Membership::Stable) {
            return;
        }
        let Some(coordinator) = self.coordinator else {
            return;
        };
        if self.in_poll() {
            self.last_poll_ms = now;
        }
        if now - self.last_poll_ms > self.config.max_poll_interval_ms {
            let why = LeaveReason::PollTimeout {
                max_poll_interval_ms: self.config.max_poll_interval_ms,
            };
            return self.maybe_leave_group(why, out);
        }
        if self.next_heartbeat_ms <= now
            && !self
                .in_flight
                .any(|p| matches!(p, Pending::Heartbeat { .. }))
        {
            self.next_heartbeat_ms = now + self.config.heartbeat_interval_ms;
            let request = GroupRequest::Heartbeat {
                group_id: self.group_id(),
                member_id: self.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
                generation: self.generation,
            };
            let generation = self.generation;
            self.group_send(coordinator, Pending::Heartbeat { generation }, out, request);
        }
    }

    /// `AbstractCoordinator.maybeLeaveGroup`: a dynamic member sends LeaveGroup (a
    /// static one only goes quiet, and its session runs out); either way the generation
    /// is reset and the next poll() rejoins. The partitions stay until that poll gives
    /// them up as lost.
    fn maybe_leave_group(&mut self, why: LeaveReason, out: &mut Outbox) {
        if self.config.group_instance_id.is_none()
            && self.membership != Membership::Unjoined
            && !self.member_id.is_empty()
            && let Some(coordinator) = self.coordinator
        {
            let request = GroupRequest::Leave {
                group_id: self.group_id(),
                member_id: self.member_id.clone(),
                group_instance_id: None,
            };
            self.group_send(coordinator, Pending::Leave, out, request);
            self.emit(
                out,
                ConsumerEvent::LeftGroup {
                    why,
                    static_member: false,
                },
            );
        } else if self.config.group_instance_id.is_some() {
            self.emit(
                out,
                ConsumerEvent::LeftGroup {
                    why,
                    static_member: true,
                },
            );
        }
        self.reset_generation(None, true);
    }

    /// FENCED_INSTANCE_ID: another consumer has this `group.instance.id`. Fatal in Kafka
    /// (FencedInstanceIdException from poll()): the consumer gives its partitions up and
    /// stops, rather than fencing the other one in turn.
    fn fenced(&mut self, out: &mut Outbox) {
        self.give_up_all(out, |partitions| ConsumerEvent::Lost {
            partitions,
            error: Some("FENCED_INSTANCE_ID"),
        });
        self.emit(
            out,
            ConsumerEvent::CommitFailed {
                error: "FENCED_INSTANCE_ID: another consumer has this group.instance.id; this one stops"
                    .into(),
            },
        );
        self.app = App::Closed;
        self.closed = true;
    }

    /// `AbstractCoordinator.resetStateAndGeneration` + `requestRejoin`.
    fn reset_generation(&mut self, error: Option<&'static str>, reset_member_id: bool) {
        if reset_member_id {
            self.member_id.clear();
        }
        self.generation = -1;
        self.lost_error = error;
        self.joined_assignment = None;
        self.rejoin(0);
    }

    /// What `ConsumerCoordinator.poll` does for the group, from the application's
    /// thread: join if a rebalance is needed (`ensureActiveGroup`), then auto-commit
    /// what earlier polls returned (`maybeAutoCommitOffsetsAsync`).
    fn poll_coordinator(&mut self, out: &mut Outbox) {
        self.last_poll_ms = self.now_ms;
        if self.uses_group_membership() && self.metadata_loaded && self.coordinator.is_some() {
            self.join_group_if_needed(out);
        }
        if self.config.enable_auto_commit && self.next_auto_commit_ms <= self.now_ms {
            self.next_auto_commit_ms = self.now_ms + self.config.auto_commit_interval_ms;
            self.commit("auto", out);
        }
    }

    /// `AbstractCoordinator.joinGroupIfNeeded`, one step per call.
    fn join_group_if_needed(&mut self, out: &mut Outbox) {
        if let Some(response) = self.deferred_join.take() {
            self.on_join(response, out);
        }
        if let Some(assignment) = self.joined_assignment.take() {
            self.on_join_complete(assignment, out);
            self.needs_join_prepare = true;
        }
        if self.generation < 0 && !self.owned.is_empty() {
            self.give_up_lost(out);
        }
        let joining = matches!(self.membership, Membership::Joining | Membership::Syncing);
        if !self.rejoin_needed || joining || self.rejoin_at_ms > self.now_ms {
            return;
        }
        if self.needs_join_prepare {
            if !self.on_join_prepare(out) {
                return;
            }
            self.needs_join_prepare = false;
        }
        let Some(coordinator) = self.coordinator else {
            return;
        };
        self.send_join(coordinator, out);
    }

    /// The generation was reset: whatever it owned is gone without a revocation
    /// (`onJoinPrepare` → `invokePartitionsLost`).
    fn give_up_lost(&mut self, out: &mut Outbox) {
        let error = self.lost_error;
        self.give_up_all(out, |partitions| ConsumerEvent::Lost { partitions, error });
    }

    /// Every owned partition goes; `event` says how, if there were any.
    fn give_up_all(
        &mut self,
        out: &mut Outbox,
        event: impl FnOnce(Vec<TopicPartition>) -> ConsumerEvent,
    ) {
        let partitions = self.assignment();
        self.owned.clear();
        self.pending_revocation = false;
        if !partitions.is_empty() {
            self.emit(out, event(partitions));
        }
    }

    /// `ConsumerCoordinator.onJoinPrepare`: with auto-commit, commit and wait for the
    /// answer (at most the rebalance timeout, retrying retriable errors); then give up
    /// everything (eager), nothing but unsubscribed topics (cooperative), or what a reset
    /// generation lost. False while it waits.
    fn on_join_prepare(&mut self, out: &mut Outbox) -> bool {
        let now = self.now_ms;
        let deadline = *self
            .join_prepare_deadline_ms
            .get_or_insert(now + self.config.max_poll_interval_ms);
        if self.config.enable_auto_commit && now < deadline {
            if self.join_prepare_commit.is_none() {
                if self.eager() {
                    self.pending_revocation = true;
                }
                self.join_prepare_commit = self.commit("auto (before rebalance)", out);
            }
            if let Some(op) = self.join_prepare_commit {
                match &self.history.commits[op].outcome {
                    None => return false,
                    Some(Err(code)) if retriable_commit_error(code) => {
                        self.join_prepare_commit = None;
                        self.rejoin_at_ms = now + self.config.retry_backoff_ms;
                        return false;
                    }
                    Some(_) => {}
                }
            }
        }
        self.join_prepare_commit = None;
        self.join_prepare_deadline_ms = None;
        if self.generation < 0 || self.member_id.is_empty() {
            self.give_up_lost(out);
        } else if self.eager() {
            self.give_up_all(out, |partitions| ConsumerEvent::Revoked {
                partitions,
                why: RevokeReason::EagerRebalance,
            });
        } else {
            let gone: Vec<TopicPartition> = self
                .owned
                .keys()
                .filter(|tp| !self.subscribed.contains(&tp.topic))
                .cloned()
                .collect();
            for tp in &gone {
                self.owned.remove(tp);
            }
            if !gone.is_empty() {
                self.emit(
                    out,
                    ConsumerEvent::Revoked {
                        partitions: gone,
                        why: RevokeReason::Unsubscribed,
                    },
                );
            }
        }
        self.pending_revocation = false;
        true
    }

    fn send_join(&mut self, coordinator: BrokerId, out: &mut Outbox) {
        self.joined_subscription = self.subscribed.clone();
        let owned = self.assignment();
        let generation = (self.generation > 0).then_some(self.generation);
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        let protocols = self
            .config
            .assignors
            .iter()
            .map(|s| {
                // Eager sticky remembers its last assignment in its user data; the
                // cooperative protocol sends what the member still owns.
                let owned = match s {
                    Strategy::Sticky => self.sticky_memory.clone(),
                    _ => owned.clone(),
                };
                (
                    s.name().to_string(),
                    Subscription {
                        member_id: String::new(),
                        group_instance_id: self.config.group_instance_id.clone(),
                        topics: topics.clone(),
                        owned,
                        generation,
                    },
                )
            })
            .collect();
        let request = GroupRequest::Join(JoinGroup {
            group_id: self.group_id(),
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            client_id: self.config.client_id.clone(),
            session_timeout_ms: self.config.session_timeout_ms,
            rebalance_timeout_ms: self.config.max_poll_interval_ms,
            protocol_type: "consumer".to_string(),
            protocols,
        });
        self.membership = Membership::Joining;
        self.next_heartbeat_ms = i64::MAX;
        self.group_send(coordinator, Pending::Join, out, request);
    }

    /// Not in a generation (any more): the next poll() joins, after `delay_ms`.
    fn rejoin(&mut self, delay_ms: i64) {
        self.membership = Membership::Unjoined;
        self.rejoin_needed = true;
        self.rejoin_at_ms = self.now_ms + delay_ms;
        self.next_heartbeat_ms = i64::MAX;
    }

    /// `requestRejoin`: the member stays in its generation until its next poll() rejoins.
    fn request_rejoin(&mut self) {
        self.rejoin_needed = true;
    }

    /// `ConsumerCoordinator.onJoinComplete`: the new assignment takes effect. Under the
    /// cooperative protocol what moved away is revoked now, and the member rejoins so it
    /// can be handed over.
    fn on_join_complete(&mut self, assignment: Vec<TopicPartition>, out: &mut Outbox) {
        let new: BTreeSet<TopicPartition> = assignment.iter().cloned().collect();
        let revoked: Vec<TopicPartition> = self
            .owned
            .keys()
            .filter(|tp| !new.contains(*tp))
            .cloned()
            .collect();
        for tp in &revoked {
            self.owned.remove(tp);
        }
        for tp in &new {
            if !self.owned.contains_key(tp) {
                let o = self.fresh_position();
                self.owned.insert(tp.clone(), o);
            }
        }
        let partitions: Vec<TopicPartition> = new.into_iter().collect();
        self.sticky_memory.clone_from(&partitions);
        self.history
            .assignments
            .push((self.now_ms, self.generation, partitions.clone()));
        if !revoked.is_empty() {
            self.emit(
                out,
                ConsumerEvent::Revoked {
                    partitions: revoked,
                    why: RevokeReason::CooperativeMoved,
                },
            );
            self.request_rejoin();
        }
        // ConsumerCoordinator.rejoinNeededOrPending: what changed while the rebalance ran
        // (a pattern's topics, the partition counts the leader assigned with) needs another.
        let counts_now: BTreeMap<String, u32> = self
            .assigned_with
            .keys()
            .map(|t| (t.clone(), self.topics.get(t).copied().unwrap_or(0)))
            .collect();
        if self.subscribed != self.joined_subscription
            || (!self.assigned_with.is_empty() && counts_now != self.assigned_with)
        {
            self.request_rejoin();
        }
        self.emit(
            out,
            ConsumerEvent::Assigned {
                group: self.group_id(),
                member: self.member_id.clone(),
                generation: self.generation,
                partitions,
            },
        );
    }

    fn drive_positions(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        // Committed offsets, for every partition waiting for them, in one request.
        let needs: Vec<TopicPartition> = self
            .owned
            .iter()
            .filter(|(_, o)| o.position == Position::NeedsCommitted)
            .map(|(tp, _)| tp.clone())
            .collect();
        if !needs.is_empty()
            && let Some(coordinator) = self.coordinator
            && !self.in_flight.contains(&Pending::OffsetFetch)
        {
            let request = GroupRequest::OffsetFetch {
                group_id: self.group_id(),
                partitions: needs,
            };
            self.group_send(coordinator, Pending::OffsetFetch, out, request);
        }
        let tps: Vec<TopicPartition> = self.owned.keys().cloned().collect();
        for tp in tps {
            let Some(Some(leader)) = self.leaders.get(&tp).copied() else {
                continue;
            };
            let o = &self.owned[&tp];
            if o.backoff_until_ms > now {
                continue;
            }
            match &o.position {
                Position::NeedsReset { to, .. }
                    if !self
                        .in_flight
                        .any(|p| matches!(p, Pending::ListOffsets { tp: t } if *t == tp)) =>
                {
                    let latest = match (to, self.config.auto_offset_reset) {
                        (ResetTo::Beginning, _) | (ResetTo::Policy, OffsetReset::Earliest) => false,
                        (ResetTo::End, _) | (ResetTo::Policy, OffsetReset::Latest) => true,
                        (ResetTo::Policy, OffsetReset::None) => {
                            self.owned.get_mut(&tp).expect("listed").position = Position::Failed;
                            self.emit(out, ConsumerEvent::NoOffset { tp: tp.clone() });
                            continue;
                        }
                    };
                    let t = tp.clone();
                    self.send(
                        leader,
                        Pending::ListOffsets { tp: tp.clone() },
                        self.config.request_timeout_ms,
                        out,
                        |correlation_id| Message::ListOffsets {
                            correlation_id,
                            tp: t,
                            latest,
                        },
                    );
                }
                Position::Ready if !o.fetching && o.buffer.len() < self.config.max_poll_records => {
                    let offset = o.fetch_offset;
                    self.owned.get_mut(&tp).expect("listed").fetching = true;
                    let t = tp.clone();
                    self.send(
                        leader,
                        Pending::Fetch { tp: tp.clone() },
                        self.config.request_timeout_ms,
                        out,
                        |correlation_id| {
                            Message::Fetch(ConsumerFetch {
                                correlation_id,
                                tp: t,
                                offset,
                                max_bytes: 1024 * 1024,
                            })
                        },
                    );
                }
                _ => {}
            }
        }
    }

    fn drive_app(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        if self.stall_until_ms > now {
            return;
        }
        // The worker the records were handed to goes at its own pace.
        while self.worker_done_ms <= now
            && let Some(mut record) = self.worker.pop_front()
        {
            record.time_ms = self.worker_done_ms.max(record.time_ms);
            self.history.processed.push(record);
            self.worker_done_ms += self.config.processing_ms;
        }
        if self.worker.is_empty() {
            self.worker_done_ms = self.worker_done_ms.max(now);
        }
        loop {
            match &mut self.app {
                App::Polling { at_ms } if *at_ms <= now => self.poll(out),
                App::Processing { batch, done_ms } if *done_ms <= now => {
                    let mut record = batch.pop_front().expect("a batch is never empty");
                    record.time_ms = now;
                    self.history.processed.push(record);
                    if batch.is_empty() {
                        self.app = App::Polling { at_ms: now };
                        self.after_batch(out);
                    } else {
                        *done_ms = now + self.config.processing_ms;
                    }
                }
                App::Committing {
                    op,
                    deadline_ms,
                    retry_at_ms: Some(at),
                } if *at <= now => {
                    let (op, deadline_ms) = (*op, *deadline_ms);
                    if now >= deadline_ms {
                        self.finish_commit(op, "TIMEOUT".to_string(), out);
                    } else if self.uses_group_membership()
                        && (self.membership != Membership::Stable
                            || self.generation != self.history.commits[op].generation)
                    {
                        // commitOffsetsSync sends every retry through sendOffsetCommitRequest,
                        // which asks generationIfStable again.
                        let code = self.unstable_commit_error();
                        self.finish_commit(op, code.to_string(), out);
                    } else if self.coordinator.is_some() {
                        self.app = App::Committing {
                            op,
                            deadline_ms,
                            retry_at_ms: None,
                        };
                        self.send_commit(op, out);
                    } else {
                        // coordinatorUnknownAndUnreadySync: wait for the lookup.
                        self.app = App::Committing {
                            op,
                            deadline_ms,
                            retry_at_ms: Some(now + self.config.retry_backoff_ms),
                        };
                    }
                }
                _ => break,
            }
        }
    }

    /// The application's code after a batch (processed, or handed over): its commit.
    fn after_batch(&mut self, out: &mut Outbox) {
        match self.config.app_commit {
            AppCommit::Nothing => {}
            AppCommit::Sync => self.commit_sync(out),
            AppCommit::Async | AppCommit::AsyncThenSyncOnClose => {
                self.commit("async", out);
            }
        }
    }

    /// `commitSync()`: blocks the application until the commit succeeds, fails with a
    /// fatal error, or `default.api.timeout.ms` passes (`ConsumerCoordinator.
    /// commitOffsetsSync`: retriable errors are retried after retry.backoff.ms, waiting
    /// for the coordinator when it is unknown).
    fn commit_sync(&mut self, out: &mut Outbox) {
        let Some(op) = self.commit("sync", out) else {
            return;
        };
        if self.history.commits[op].outcome.is_some() {
            return;
        }
        let deadline_ms = self.now_ms + self.config.default_api_timeout_ms;
        let retry_at_ms = self
            .coordinator
            .is_none()
            .then_some(self.now_ms + self.config.retry_backoff_ms);
        self.app = App::Committing {
            op,
            deadline_ms,
            retry_at_ms,
        };
    }

    /// `poll()`: up to `max.poll.records` buffered records of owned partitions. Inside
    /// it the coordinator's work is done first (a rebalance, auto-commit of what the
    /// earlier polls returned), so records always come from the current assignment.
    fn poll(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        self.poll_coordinator(out);
        let mut batch = VecDeque::new();
        // Cooperative members go on consuming what they own while a rebalance runs; an
        // eager member's partitions are all pending revocation (KIP-429).
        if !self.pending_revocation {
            for (tp, o) in self.owned.iter_mut() {
                while batch.len() < self.config.max_poll_records
                    && let Some((offset, value, high_watermark)) = o.buffer.pop_front()
                {
                    o.returned = offset + 1;
                    batch.push_back(ConsumedRecord {
                        tp: tp.clone(),
                        offset,
                        value,
                        time_ms: now,
                        high_watermark,
                    });
                }
            }
        }
        if batch.is_empty() {
            self.app = App::Polling {
                at_ms: now + self.config.poll_timeout_ms,
            };
            return;
        }
        self.history.polled.extend(batch.iter().cloned());
        match self.config.processing {
            Processing::Synchronous => {
                self.app = App::Processing {
                    batch,
                    done_ms: now + self.config.processing_ms,
                };
            }
            Processing::Handoff => {
                if self.worker.is_empty() {
                    self.worker_done_ms = now + self.config.processing_ms;
                }
                self.worker.extend(batch);
                self.app = App::Polling { at_ms: now };
                self.after_batch(out);
            }
        }
    }

    /// Commits the application's positions in the partitions it owns (Kafka's
    /// `commitSync()`/`commitAsync()` without arguments). Returns the history index. A
    /// member of a group commits only in a stable generation
    /// (`ConsumerCoordinator.sendOffsetCommitRequest`: `generationIfStable`); otherwise
    /// the commit fails at once without a request, and an auto-commit is not tried.
    fn commit(&mut self, kind: &'static str, out: &mut Outbox) -> Option<usize> {
        let offsets: Vec<(TopicPartition, i64)> = self
            .positions()
            .into_iter()
            .filter(|(tp, offset)| self.last_committed.get(tp) != Some(offset))
            .collect();
        if offsets.is_empty() {
            return None;
        }
        let stable = self.membership == Membership::Stable;
        let group_member = self.uses_group_membership();
        if kind != "sync" && (self.coordinator.is_none() || (group_member && !stable)) {
            return None;
        }
        let generation = if group_member { self.generation } else { -1 };
        let op = self.history.commits.len();
        self.history.commits.push(CommitOp {
            invoked_ms: self.now_ms,
            generation,
            offsets,
            outcome: None,
            completed_ms: None,
            kind,
        });
        if group_member && !stable {
            let code = self.unstable_commit_error();
            self.finish_commit(op, code.to_string(), out);
        } else if self.coordinator.is_some() {
            self.send_commit(op, out);
        }
        Some(op)
    }

    /// Why a group member outside a stable generation cannot commit
    /// (`sendOffsetCommitRequest` when `generationIfStable` is null).
    fn unstable_commit_error(&self) -> &'static str {
        match self.membership {
            Membership::Joining | Membership::Syncing => "REBALANCE_IN_PROGRESS",
            _ => "COMMIT_FAILED (not part of an active group)",
        }
    }

    /// Sends (or sends again) commit `op` with the member's generation now.
    fn send_commit(&mut self, op: usize, out: &mut Outbox) {
        let Some(coordinator) = self.coordinator else {
            return;
        };
        let (member_id, generation) = if self.uses_group_membership() {
            (self.member_id.clone(), self.generation)
        } else {
            (String::new(), -1)
        };
        let request = GroupRequest::OffsetCommit {
            group_id: self.group_id(),
            member_id,
            group_instance_id: self.config.group_instance_id.clone(),
            generation,
            offsets: self.history.commits[op].offsets.clone(),
        };
        self.group_send(coordinator, Pending::Commit { op }, out, request);
    }

    // ----- answers -----------------------------------------------------------------------

    fn on_metadata(&mut self, response: MetadataResponse, out: &mut Outbox) {
        self.metadata_due_ms = self.now_ms + self.config.metadata_max_age_ms;
        self.brokers.update(response.brokers.iter().copied());
        self.leaders = response
            .partitions
            .iter()
            .map(|(tp, p)| (tp.clone(), p.leader))
            .collect();
        let mut topics: BTreeMap<String, u32> = BTreeMap::new();
        for tp in response.partitions.keys() {
            let n = topics.entry(tp.topic.clone()).or_default();
            *n = (*n).max(tp.partition + 1);
        }
        self.topics = topics;
        self.metadata_loaded = true;
        let subscribed: BTreeSet<String> = match &self.config.subscribe {
            Subscribe::Topics(topics) => topics.iter().cloned().collect(),
            Subscribe::Pattern(pattern) => {
                match regex_lite::Regex::new(&format!("^(?:{pattern})$")) {
                    Ok(re) => self
                        .topics
                        .keys()
                        .filter(|t| t.as_str() != OFFSETS_TOPIC && re.is_match(t))
                        .cloned()
                        .collect(),
                    Err(_) => BTreeSet::new(),
                }
            }
            Subscribe::Assign(_) => BTreeSet::new(),
        };
        if subscribed != self.subscribed {
            self.subscribed = subscribed;
            if self.membership != Membership::Unjoined {
                self.emit(
                    out,
                    ConsumerEvent::SubscriptionChanged {
                        topics: self.subscribed.iter().cloned().collect(),
                    },
                );
                self.request_rejoin();
            }
        }
        // The leader rejoins when a subscribed topic's partition count changed.
        if self.membership == Membership::Stable && !self.assigned_with.is_empty() {
            let now: BTreeMap<String, u32> = self
                .assigned_with
                .keys()
                .map(|t| (t.clone(), self.topics.get(t).copied().unwrap_or(0)))
                .collect();
            if now != self.assigned_with {
                self.request_rejoin();
            }
        }
        // Kafka's client asks again soon while a subscribed topic or an owned
        // partition's leader is unknown.
        let missing_topic = self.subscribed.iter().any(|t| !self.topics.contains_key(t));
        let missing_leader = self
            .owned
            .keys()
            .any(|tp| !matches!(self.leaders.get(tp), Some(Some(_))));
        if missing_topic || missing_leader {
            self.metadata_due_ms = self.now_ms + self.config.retry_backoff_ms;
        }
    }

    fn on_join(&mut self, response: JoinGroupResponse, out: &mut Outbox) {
        if self.membership != Membership::Joining {
            return;
        }
        match response.error {
            None => {}
            Some(GroupError::MemberIdRequired) => {
                self.member_id = response.member_id;
                return self.rejoin(0);
            }
            // JoinGroupResponseHandler: resetStateOnResponseError (generation and member
            // id), so what it owned is given up as lost before it joins again.
            Some(GroupError::UnknownMemberId) => {
                return self.reset_generation(Some("UNKNOWN_MEMBER_ID"), true);
            }
            Some(e @ (GroupError::NotCoordinator | GroupError::CoordinatorNotAvailable)) => {
                self.coordinator_lost(e.code(), out);
                return self.rejoin(self.config.retry_backoff_ms);
            }
            Some(GroupError::FencedInstanceId) => return self.fenced(out),
            Some(_) => return self.rejoin(self.config.retry_backoff_ms),
        }
        self.member_id = response.member_id.clone();
        self.generation = response.generation;
        self.protocol = response.protocol.clone();
        let mut assignments = BTreeMap::new();
        if response.leader == self.member_id {
            let strategy = response
                .protocol
                .as_deref()
                .and_then(Strategy::from_name)
                .unwrap_or(Strategy::Range);
            let wanted: BTreeSet<&String> =
                response.members.iter().flat_map(|m| &m.topics).collect();
            let partitions: BTreeMap<String, u32> = self
                .topics
                .iter()
                .filter(|(t, _)| wanted.contains(t))
                .map(|(t, n)| (t.clone(), *n))
                .collect();
            match assign(strategy, &partitions, &response.members) {
                Ok(outcome) => assignments = outcome.assignment,
                Err(e) => self.emit(
                    out,
                    ConsumerEvent::CommitFailed {
                        error: format!("the assignor failed: {e}"),
                    },
                ),
            }
            // Topics unknown now count as 0 partitions: when they appear, the leader's
            // metadata differs from this snapshot and it rejoins.
            self.assigned_with = wanted
                .into_iter()
                .map(|t| (t.clone(), partitions.get(t).copied().unwrap_or(0)))
                .collect();
        } else {
            self.assigned_with.clear();
        }
        let Some(coordinator) = self.coordinator else {
            return self.rejoin(self.config.retry_backoff_ms);
        };
        let request = GroupRequest::Sync(SyncGroup {
            group_id: self.group_id(),
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            generation: self.generation,
            assignments,
        });
        // COMPLETING_REBALANCE: the heartbeat thread starts again.
        self.membership = Membership::Syncing;
        self.next_heartbeat_ms = self.now_ms + self.config.heartbeat_interval_ms;
        self.group_send(coordinator, Pending::Sync, out, request);
    }

    /// `AbstractCoordinator.SyncGroupResponseHandler`: STABLE and no rejoin needed; the
    /// assignment takes effect in the next poll().
    fn on_sync(&mut self, response: SyncGroupResponse, out: &mut Outbox) {
        if self.membership != Membership::Syncing {
            return;
        }
        match response.error {
            None => {}
            Some(GroupError::RebalanceInProgress) => return self.rejoin(0),
            Some(e @ (GroupError::NotCoordinator | GroupError::CoordinatorNotAvailable)) => {
                self.coordinator_lost(e.code(), out);
                return self.rejoin(self.config.retry_backoff_ms);
            }
            Some(GroupError::FencedInstanceId) => return self.fenced(out),
            // SyncGroupResponseHandler: ILLEGAL_GENERATION keeps the member id.
            Some(e) => {
                return self.reset_generation(Some(e.code()), e != GroupError::IllegalGeneration);
            }
        }
        self.membership = Membership::Stable;
        self.rejoin_needed = false;
        self.next_heartbeat_ms = self.now_ms + self.config.heartbeat_interval_ms;
        self.joined_assignment = Some(response.assignment);
    }

    fn on_group_reply(&mut self, pending: Pending, response: GroupResponse, out: &mut Outbox) {
        match (pending, response) {
            (Pending::FindCoordinator, GroupResponse::FindCoordinator(result)) => match result {
                Ok(b) => {
                    // FindCoordinatorResponseHandler.onSuccess: "Discovered group coordinator"
                    self.coordinator = Some(b);
                    if self.last_found_coordinator.replace(b) != Some(b) {
                        self.emit(out, ConsumerEvent::CoordinatorFound { coordinator: b });
                    }
                }
                Err(e) => self.coordinator_lost(e.code(), out),
            },
            // While joining the heartbeat thread rests: only the application's poll()
            // reads the answer.
            (Pending::Join, GroupResponse::Join(r)) => {
                if self.in_poll() {
                    self.on_join(r, out)
                } else {
                    self.deferred_join = Some(r)
                }
            }
            (Pending::Sync, GroupResponse::Sync(r)) => self.on_sync(r, out),
            // AbstractCoordinator.HeartbeatResponseHandler.
            (Pending::Heartbeat { generation }, GroupResponse::Heartbeat(r)) => match r {
                Ok(()) => {}
                Err(GroupError::RebalanceInProgress) => {
                    if self.membership == Membership::Stable && !self.rejoin_needed {
                        self.request_rejoin();
                        self.emit(out, ConsumerEvent::RejoinRequested);
                    }
                }
                Err(e @ (GroupError::NotCoordinator | GroupError::CoordinatorNotAvailable)) => {
                    self.coordinator_lost(e.code(), out)
                }
                // A fenced static member stops (the heartbeat thread's `failed`, thrown
                // from the next poll).
                Err(GroupError::FencedInstanceId) => self.fenced(out),
                Err(e @ (GroupError::IllegalGeneration | GroupError::UnknownMemberId)) => {
                    // An error about a generation it has left behind is ignored.
                    if generation == self.generation
                        && matches!(self.membership, Membership::Syncing | Membership::Stable)
                    {
                        self.reset_generation(Some(e.code()), e != GroupError::IllegalGeneration);
                    }
                }
                Err(_) => {}
            },
            (Pending::Leave, _) => {}
            (Pending::Commit { op }, GroupResponse::OffsetCommit(result)) => {
                self.commit_done(op, result.map_err(|e| e.code().to_string()), out)
            }
            (Pending::OffsetFetch, GroupResponse::OffsetFetch(result)) => match result {
                Ok(offsets) => {
                    for (tp, offset) in offsets {
                        let Some(o) = self.owned.get_mut(&tp) else {
                            continue;
                        };
                        if o.position != Position::NeedsCommitted {
                            continue;
                        }
                        if offset >= 0 {
                            o.position = Position::Ready;
                            o.fetch_offset = offset;
                            o.returned = offset;
                            self.last_committed.insert(tp, offset);
                        } else {
                            o.position = Position::NeedsReset {
                                to: ResetTo::Policy,
                                why: ResetReason::NoCommittedOffset,
                            };
                        }
                    }
                }
                Err(e @ (GroupError::NotCoordinator | GroupError::CoordinatorNotAvailable)) => {
                    self.coordinator_lost(e.code(), out)
                }
                Err(_) => {}
            },
            _ => {}
        }
    }

    /// An answer to commit `op` (or none). `ConsumerCoordinator.
    /// OffsetCommitResponseHandler`: the coordinator errors forget the coordinator;
    /// REBALANCE_IN_PROGRESS requests a rejoin; UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION
    /// reset the generation (CommitFailedException). The application's `commitSync()`
    /// retries the retriable ones.
    fn commit_done(&mut self, op: usize, result: Result<(), String>, out: &mut Outbox) {
        let now = self.now_ms;
        let code = match result {
            Ok(()) => {
                let entry = &mut self.history.commits[op];
                entry.outcome = Some(Ok(()));
                entry.completed_ms = Some(now);
                for (tp, offset) in entry.offsets.clone() {
                    self.last_committed.insert(tp, offset);
                }
                if matches!(self.app, App::Committing { op: o, .. } if o == op) {
                    self.app = App::Polling { at_ms: now };
                }
                return;
            }
            Err(code) => code,
        };
        if matches!(
            code.as_str(),
            "NOT_COORDINATOR" | "COORDINATOR_NOT_AVAILABLE" | "REQUEST_TIMED_OUT" | "NO_RESPONSE"
        ) {
            self.coordinator_lost(&code, out);
        }
        let sent_generation = self.history.commits[op].generation;
        match code.as_str() {
            "REBALANCE_IN_PROGRESS" => self.request_rejoin(),
            "ILLEGAL_GENERATION" | "UNKNOWN_MEMBER_ID"
                if sent_generation == self.generation
                    && matches!(self.membership, Membership::Syncing | Membership::Stable) =>
            {
                let error = if code == "UNKNOWN_MEMBER_ID" {
                    GroupError::UnknownMemberId
                } else {
                    GroupError::IllegalGeneration
                };
                self.reset_generation(Some(error.code()), error == GroupError::UnknownMemberId);
            }
            _ => {}
        }
        if let App::Committing {
            op: o, deadline_ms, ..
        } = self.app
            && o == op
            && retriable_commit_error(&code)
            && now + self.config.retry_backoff_ms < deadline_ms
        {
            // Said once per error, not for every retry of it.
            if self.last_retry_error.as_ref() != Some(&(op, code.clone())) {
                self.last_retry_error = Some((op, code.clone()));
                self.emit(out, ConsumerEvent::CommitRetrying { error: code });
            }
            self.app = App::Committing {
                op,
                deadline_ms,
                retry_at_ms: Some(now + self.config.retry_backoff_ms),
            };
            return;
        }
        self.finish_commit(op, code, out);
    }

    /// Commit `op` failed for good: the history says so, the narration says why, and a
    /// `commitSync()` waiting for it returns (the application goes on polling).
    fn finish_commit(&mut self, op: usize, code: String, out: &mut Outbox) {
        let now = self.now_ms;
        let entry = &mut self.history.commits[op];
        entry.outcome = Some(Err(code.clone()));
        entry.completed_ms = Some(now);
        self.emit(out, ConsumerEvent::CommitFailed { error: code });
        if matches!(self.app, App::Committing { op: o, .. } if o == op) {
            self.app = App::Polling { at_ms: now };
        }
    }

    fn failed(&mut self, pending: Pending, out: &mut Outbox) {
        match pending {
            Pending::Metadata => self.metadata_due_ms = self.now_ms + self.config.retry_backoff_ms,
            Pending::FindCoordinator => self.coordinator_lost("NO_RESPONSE", out),
            Pending::Join | Pending::Sync => {
                self.coordinator_lost("NO_RESPONSE", out);
                if matches!(self.membership, Membership::Joining | Membership::Syncing) {
                    self.rejoin(self.config.retry_backoff_ms);
                }
            }
            Pending::Heartbeat { .. } | Pending::OffsetFetch | Pending::Leave => {
                self.coordinator_lost("NO_RESPONSE", out)
            }
            Pending::Commit { op } => {
                self.coordinator_lost("NO_RESPONSE", out);
                self.commit_done(op, Err("NO_RESPONSE".to_string()), out);
            }
            Pending::ListOffsets { tp } | Pending::Fetch { tp } => {
                self.metadata_due_ms = self.metadata_due_ms.min(self.now_ms);
                if let Some(o) = self.owned.get_mut(&tp) {
                    o.fetching = false;
                    o.backoff_until_ms = self.now_ms + self.config.retry_backoff_ms;
                }
            }
        }
    }

    fn on_fetch_error(&mut self, tp: &TopicPartition, error: &ClientError, out: &mut Outbox) {
        if error.code() == "OFFSET_OUT_OF_RANGE" {
            if let Some(o) = self.owned.get_mut(tp) {
                o.buffer.clear();
                o.position = Position::NeedsReset {
                    to: ResetTo::Policy,
                    why: ResetReason::OutOfRange {
                        offset: o.fetch_offset,
                    },
                };
            }
            return;
        }
        self.failed(Pending::Fetch { tp: tp.clone() }, out);
    }
}

impl Actor for Consumer {
    type Event = Emitted;

    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox) {
        self.now_ms = now_ms;
        if message == Message::ConnectionLost {
            for (_, pending) in self.in_flight.take_failed(now_ms, Some(from)) {
                self.failed(pending, out);
            }
        } else if let Some((_, pending)) = self.in_flight.answered(&message)
            && (!self.closed || matches!(pending, Pending::Commit { .. }))
        {
            self.on_reply(pending, message, out);
        }
        self.drive(out);
    }

    fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        self.now_ms = now_ms;
        for (_, pending) in self.in_flight.take_failed(now_ms, None) {
            self.failed(pending, out);
        }
        self.drive(out);
    }

    fn next_timer_ms(&self) -> Option<i64> {
        let in_flight = self.in_flight.next_deadline_ms();
        if self.closed {
            return in_flight;
        }
        let now = self.now_ms;
        let mut next = in_flight.unwrap_or(i64::MAX);
        let mut consider = |t: i64| next = next.min(t);
        if !self.in_flight.contains(&Pending::Metadata) {
            consider(self.metadata_due_ms);
        }
        if self.config.group_id.is_some()
            && self.coordinator.is_none()
            && !self.in_flight.contains(&Pending::FindCoordinator)
        {
            consider(self.coordinator_retry_ms);
        }
        let awake = |t: i64| t.max(self.stall_until_ms);
        let in_poll = matches!(self.app, App::Polling { .. });
        if self.uses_group_membership() {
            if in_poll && self.rejoin_needed && self.rejoin_at_ms > now {
                consider(awake(self.rejoin_at_ms));
            }
            // The heartbeat thread runs once the member has joined, and needs a coordinator.
            if matches!(self.membership, Membership::Syncing | Membership::Stable)
                && self.coordinator.is_some()
            {
                if !self
                    .in_flight
                    .any(|p| matches!(p, Pending::Heartbeat { .. }))
                {
                    consider(self.next_heartbeat_ms);
                }
                consider(self.last_poll_ms + self.config.max_poll_interval_ms + 1);
            }
        }
        for o in self.owned.values() {
            if o.backoff_until_ms > now {
                consider(o.backoff_until_ms);
            }
        }
        if self.config.enable_auto_commit && in_poll {
            consider(awake(self.next_auto_commit_ms));
        }
        if !self.worker.is_empty() {
            consider(awake(self.worker_done_ms));
        }
        match &self.app {
            App::Polling { at_ms } => consider(awake(*at_ms)),
            App::Processing { done_ms, .. } => consider(awake(*done_ms)),
            App::Committing {
                retry_at_ms: Some(at),
                ..
            } => consider(awake(*at)),
            App::Committing { .. } | App::Closed => {}
        }
        // Whatever is due was done by the last input; what remains waits on an answer.
        Some(next.max(now + 1))
    }
}

impl Consumer {
    fn on_reply(&mut self, pending: Pending, message: Message, out: &mut Outbox) {
        let now_ms = self.now_ms;
        match message {
            Message::MetadataReply(r) => self.on_metadata(r, out),
            Message::GroupReply { response, .. } => self.on_group_reply(pending, response, out),
            Message::ListOffsetsReply { tp, result, .. } => match result {
                Ok(offset) => {
                    if let Some(o) = self.owned.get_mut(&tp)
                        && let Position::NeedsReset { to, why } = &o.position
                    {
                        let policy = match to {
                            ResetTo::Policy => self.config.auto_offset_reset.name(),
                            ResetTo::Beginning => OffsetReset::Earliest.name(),
                            ResetTo::End => OffsetReset::Latest.name(),
                        };
                        let why = *why;
                        o.position = Position::Ready;
                        o.fetch_offset = offset;
                        o.returned = offset;
                        o.buffer.clear();
                        self.emit(
                            out,
                            ConsumerEvent::OffsetReset {
                                tp,
                                offset,
                                policy,
                                why,
                            },
                        );
                    }
                }
                Err(e) => self.on_fetch_error(&tp, &e, out),
            },
            Message::FetchReply(r) => {
                if let Some(o) = self.owned.get_mut(&r.tp) {
                    o.fetching = false;
                }
                match r.result {
                    Ok(records) => {
                        let entries = decode_entries(&records.records).unwrap_or_default();
                        if let Some(o) = self.owned.get_mut(&r.tp)
                            && o.position == Position::Ready
                        {
                            let before = o.buffer.len();
                            for e in entries {
                                if e.offset < o.fetch_offset {
                                    continue;
                                }
                                let value = e
                                    .message
                                    .value
                                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                                    .unwrap_or_default();
                                o.fetch_offset = e.offset + 1;
                                o.buffer
                                    .push_back((e.offset, value, records.high_watermark));
                            }
                            if o.buffer.len() == before {
                                o.backoff_until_ms = now_ms + self.config.fetch_max_wait_ms;
                            }
                        }
                    }
                    Err(e) => self.on_fetch_error(&r.tp, &e, out),
                }
            }
            _ => {}
        }
    }
}
