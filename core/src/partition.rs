//! One replica of one partition on one broker: its log, leader epoch cache and high
//! watermark, and either the leader's view of its followers or the follower's fetch
//! state. This is Kafka's `Partition` (plus the follower side of its fetcher thread),
//! sans IO: requests come in as values, responses and ISR-change proposals go out as
//! values, and every state change is recorded as a [`PartitionEvent`] a student can read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

use crate::config::LogConfig;
use crate::controller::{IsrChange, IsrChangeRejected, LeaderAndIsr};
use crate::log::{AppendInfo, Log, LogError};
use crate::record::{Compression, Record};
use crate::replication::BrokerId;
use crate::replication::epoch::{
    EpochEndOffset, LeaderEpochCache, UNDEFINED_EPOCH, truncation_state,
};
use crate::replication::producer_state::{
    BatchHeader, ProducerBatch, ProducerState, SequenceError,
};
use crate::replication::replica::{
    Follower, FollowerState, HighWatermarkInputs, can_join_isr, effective_min_isr, maximal_isr,
    next_high_watermark, out_of_sync_followers,
};

/// How a follower decides what to throw away when it starts following a leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TruncationProtocol {
    /// Kafka 0.11+ (KIP-101, with KIP-279's fix in 2.0): ask the leader where the
    /// follower's latest epoch ends, and truncate there.
    #[default]
    LeaderEpoch,
    /// Kafka before 0.11: truncate to the follower's own high watermark. Loses
    /// acknowledged messages and lets logs diverge (the two KIP-101 failures).
    HighWatermark,
}

/// The configs a partition replica reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    pub log: LogConfig,
    /// `replica.lag.time.max.ms`
    pub replica_lag_time_max_ms: i64,
    /// `min.insync.replicas`
    pub min_insync_replicas: usize,
    pub truncation: TruncationProtocol,
    /// Kafka 3.7+: the HW stands still while the ISR is below `min.insync.replicas`.
    pub hold_high_watermark_below_min_isr: bool,
    /// `replica.fetch.max.bytes`
    pub replica_fetch_max_bytes: usize,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        PartitionConfig {
            log: LogConfig::default(),
            replica_lag_time_max_ms: 30_000,
            min_insync_replicas: 1,
            truncation: TruncationProtocol::LeaderEpoch,
            hold_high_watermark_below_min_isr: true,
            replica_fetch_max_bytes: 1024 * 1024,
        }
    }
}

/// The producer's `acks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// No response at all.
    None,
    /// The leader appended.
    Leader,
    /// Every ISR member has it (acks=all, -1).
    All,
}

/// Errors with Kafka's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionError {
    NotLeaderOrFollower {
        leader: Option<BrokerId>,
    },
    /// acks=all with the ISR below `min.insync.replicas`: nothing was appended.
    NotEnoughReplicas {
        isr: usize,
        min_isr: usize,
    },
    /// The records are in the log, but the ISR shrank below the minimum before they were
    /// committed.
    NotEnoughReplicasAfterAppend {
        isr: usize,
        min_isr: usize,
    },
    /// The request carries an older leader epoch than this replica's.
    FencedLeaderEpoch {
        request: i32,
        current: i32,
    },
    /// The request carries a newer leader epoch than this replica knows.
    UnknownLeaderEpoch {
        request: i32,
        current: i32,
    },
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// An idempotent batch refused by its sequence number or producer epoch.
    Sequence(SequenceError),
    Log(LogError),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::NotLeaderOrFollower { leader } => match leader {
                Some(leader) => write!(
                    f,
                    "this broker does not lead the partition; broker {leader} does (NOT_LEADER_OR_FOLLOWER)"
                ),
                None => write!(f, "the partition has no leader (NOT_LEADER_OR_FOLLOWER)"),
            },
            PartitionError::NotEnoughReplicas { isr, min_isr } => write!(
                f,
                "the ISR has {isr} replicas, fewer than min.insync.replicas = {min_isr}; nothing was written (NOT_ENOUGH_REPLICAS)"
            ),
            PartitionError::NotEnoughReplicasAfterAppend { isr, min_isr } => write!(
                f,
                "the records were written, but the ISR shrank to {isr}, below min.insync.replicas = {min_isr}, \
                 before they were committed (NOT_ENOUGH_REPLICAS_AFTER_APPEND)"
            ),
            PartitionError::FencedLeaderEpoch { request, current } => {
                write!(
                    f,
                    "leader epoch {request} is older than the current {current} (FENCED_LEADER_EPOCH)"
                )
            }
            PartitionError::UnknownLeaderEpoch { request, current } => {
                write!(
                    f,
                    "leader epoch {request} is newer than the known {current} (UNKNOWN_LEADER_EPOCH)"
                )
            }
            PartitionError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            } => write!(
                f,
                "offset {offset} is outside the log {log_start_offset}..{log_end_offset} (OFFSET_OUT_OF_RANGE)"
            ),
            PartitionError::Sequence(e) => write!(f, "{e}"),
            PartitionError::Log(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PartitionError {}

/// A follower's fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    pub replica: BrokerId,
    /// The follower's LEO; acknowledges everything below it.
    pub fetch_offset: i64,
    pub current_leader_epoch: i32,
    /// The epoch of the follower's last message: lets the leader spot divergence
    /// (Kafka 2.7+, truncation on fetch). None under the high-watermark protocol.
    pub last_fetched_epoch: Option<i32>,
}

/// The leader's answer to a fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchResponse {
    pub records: Bytes,
    /// The leader epoch of each run of records: (epoch, first offset). Record batches
    /// of format v2 carry this in their header; kafkasim's v0/v1 messages cannot, so the
    /// response carries it beside them.
    pub epochs: Vec<(i32, i64)>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// Set when the follower's log has diverged from the leader's: where the follower's
    /// last epoch ends in the leader's log. No records come with it.
    pub diverging_epoch: Option<EpochEndOffset>,
    /// The idempotent batches among the records, whose v2 headers would carry their
    /// producer ids and sequences: the follower's producer state, should it lead.
    pub producer_batches: Vec<BatchHeader>,
}

/// A leader's append of an idempotent batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotentAppend {
    Appended(AppendInfo),
    /// A retry of a batch in the log: not appended again.
    Duplicate(BatchHeader),
}

/// A state change, explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionEvent {
    BecameLeader {
        epoch: i32,
        isr: BTreeSet<BrokerId>,
        log_end_offset: i64,
    },
    BecameFollower {
        epoch: i32,
        leader: Option<BrokerId>,
    },
    HighWatermarkAdvanced {
        from: i64,
        to: i64,
    },
    /// A follower took a lower HW from its leader.
    HighWatermarkLowered {
        from: i64,
        to: i64,
    },
    IsrShrinkProposed {
        removed: BTreeSet<BrokerId>,
        lag_ms: i64,
    },
    IsrExpandProposed {
        added: BrokerId,
        log_end_offset: i64,
        high_watermark: i64,
    },
    IsrCommitted {
        isr: BTreeSet<BrokerId>,
    },
    Truncated {
        from: i64,
        to: i64,
        reason: TruncationReason,
    },
    /// Retention deleted whole segments from the start of the log.
    SegmentsDeleted {
        deleted: Vec<crate::log::DeletedSegment>,
        log_start_offset: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TruncationReason {
    /// Pre-0.11: a new follower truncates to its high watermark.
    HighWatermark,
    /// The leader says the follower's epoch ends here.
    DivergingEpoch { epoch: i32, leader_end_offset: i64 },
    /// The follower was ahead of its leader's log end (OFFSET_OUT_OF_RANGE).
    LeaderLogEnd { leader_log_end_offset: i64 },
    /// The leader's log starts after the follower's log end: start over there.
    BelowLeaderLogStart,
}

/// The offsets `start..end` that fetched `records` cover: they start at or before the
/// fetch offset (a wrapper's own offset is its last message's) and end after the last
/// shallow entry's offset.
fn offset_range(fetch_offset: i64, records: &Bytes) -> Option<(i64, i64)> {
    let mut shallow = crate::record::shallow_entries(records).filter_map(Result::ok);
    let first = shallow.next()?;
    let end = shallow.last().map_or(first.offset, |last| last.offset) + 1;
    Some((fetch_offset.min(first.offset), end))
}

/// An ISR change for the controller, remembered as pending until it answers: only one
/// change is in flight at a time, as with Kafka's AlterPartition.
fn propose(
    leader: BrokerId,
    leader_epoch: i32,
    partition_epoch: i32,
    new_isr: BTreeSet<BrokerId>,
    pending_isr: &mut Option<BTreeSet<BrokerId>>,
) -> IsrChange {
    *pending_isr = Some(new_isr.clone());
    IsrChange {
        leader,
        leader_epoch,
        new_isr,
        partition_epoch,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Leader {
        epoch: i32,
        epoch_start_offset: i64,
        assignment: Vec<BrokerId>,
        isr: BTreeSet<BrokerId>,
        /// An ISR change sent to the controller and not yet answered.
        pending_isr: Option<BTreeSet<BrokerId>>,
        partition_epoch: i32,
        followers: BTreeMap<BrokerId, FollowerState>,
        /// Brokers the controller reports alive: may join the ISR.
        live: BTreeSet<BrokerId>,
    },
    Follower {
        epoch: i32,
        leader: Option<BrokerId>,
    },
}

/// One replica of a partition.
#[derive(Clone, Debug)]
pub struct Partition {
    broker: BrokerId,
    config: PartitionConfig,
    log: Log,
    epochs: LeaderEpochCache,
    high_watermark: i64,
    role: Role,
    events: Vec<PartitionEvent>,
    /// A follower got a fetch answer without divergence in its current epoch: its log
    /// below its HW is then the leader's (what the replica invariant checks).
    fetched_in_epoch: bool,
    /// Idempotent producers' batches in the log (kept beside it on disk, see
    /// `LogDisk::producer_batches`).
    producers: ProducerState,
    /// How many times the log was cut: below the offsets it held before, anything may
    /// have changed (checkers that compare logs incrementally start over).
    truncations: u64,
}

impl Partition {
    /// A replica with an empty log, following nobody yet.
    pub fn new(
        broker: BrokerId,
        config: PartitionConfig,
        now_ms: i64,
    ) -> Result<Partition, LogError> {
        let log = Log::new(config.log.clone(), now_ms)?;
        Ok(Partition::with_log(
            broker,
            config,
            log,
            LeaderEpochCache::new(),
            0,
        ))
    }

    /// A replica over an existing (say, recovered) log, epoch cache and checkpointed HW.
    pub fn with_log(
        broker: BrokerId,
        config: PartitionConfig,
        log: Log,
        epochs: LeaderEpochCache,
        high_watermark: i64,
    ) -> Partition {
        let high_watermark = high_watermark.min(log.log_end_offset());
        Partition {
            broker,
            config,
            log,
            epochs,
            high_watermark,
            role: Role::Follower {
                epoch: UNDEFINED_EPOCH,
                leader: None,
            },
            events: Vec::new(),
            fetched_in_epoch: false,
            producers: ProducerState::default(),
            truncations: 0,
        }
    }

    pub fn broker(&self) -> BrokerId {
        self.broker
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }

    pub fn epochs(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// Whether this follower has had a fetch answered, without divergence, by the
    /// leader of its current epoch.
    pub fn fetched_in_epoch(&self) -> bool {
        self.fetched_in_epoch
    }

    /// The leader this replica knows: itself when leading.
    pub fn leader(&self) -> Option<BrokerId> {
        self.known_leader()
    }

    /// The replicas of the partition, on the leader.
    pub fn assignment(&self) -> Option<&[BrokerId]> {
        match &self.role {
            Role::Leader { assignment, .. } => Some(assignment),
            Role::Follower { .. } => None,
        }
    }

    /// An ISR change sent to the controller and not yet answered, on the leader.
    pub fn pending_isr(&self) -> Option<&BTreeSet<BrokerId>> {
        match &self.role {
            Role::Leader { pending_isr, .. } => pending_isr.as_ref(),
            Role::Follower { .. } => None,
        }
    }

    pub fn config(&self) -> &PartitionConfig {
        &self.config
    }

    /// New topic or broker configs (`min.insync.replicas`, the truncation protocol, the
    /// log's: the controller validated them); the log's apply from its next append, roll
    /// or retention check.
    pub fn set_config(&mut self, config: PartitionConfig) {
        self.log.set_config(config.log.clone());
        self.config = config;
    }

    /// Kafka's `handleOutOfRangeError` on a follower: ahead of the leader's log end (the
    /// leader was elected uncleanly, or lost data), truncate to it; behind the leader's
    /// log start (retention deleted what it needs), start over there.
    pub fn reset_after_out_of_range(
        &mut self,
        leader_log_start_offset: i64,
        leader_log_end_offset: i64,
        now_ms: i64,
    ) {
        let log_end_offset = self.log.log_end_offset();
        if log_end_offset > leader_log_end_offset {
            self.truncate(
                leader_log_end_offset,
                TruncationReason::LeaderLogEnd {
                    leader_log_end_offset,
                },
                now_ms,
            );
        } else if log_end_offset < leader_log_start_offset {
            self.log
                .truncate_fully_and_start_at(leader_log_start_offset, now_ms);
            self.truncations += 1;
            self.epochs = LeaderEpochCache::new();
            self.producers.clear();
            self.high_watermark = leader_log_start_offset;
            self.events.push(PartitionEvent::Truncated {
                from: log_end_offset,
                to: leader_log_start_offset,
                reason: TruncationReason::BelowLeaderLogStart,
            });
        }
    }

    pub fn leader_epoch(&self) -> i32 {
        match self.role {
            Role::Leader { epoch, .. } | Role::Follower { epoch, .. } => epoch,
        }
    }

    /// The committed ISR, on the leader.
    pub fn isr(&self) -> Option<&BTreeSet<BrokerId>> {
        match &self.role {
            Role::Leader { isr, .. } => Some(isr),
            Role::Follower { .. } => None,
        }
    }

    /// The follower states, on the leader.
    pub fn followers(&self) -> Option<&BTreeMap<BrokerId, FollowerState>> {
        match &self.role {
            Role::Leader { followers, .. } => Some(followers),
            Role::Follower { .. } => None,
        }
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<PartitionEvent> {
        std::mem::take(&mut self.events)
    }

    /// Kafka's `makeLeader`: the new epoch starts at this replica's LEO; ISR members count
    /// as caught up now, other replicas as never. A new leader knows no follower's LEO; a
    /// leader re-elected under a new epoch keeps them (`resetReplicaState`, `isNewLeader =
    /// !isLeader`).
    pub fn make_leader(
        &mut self,
        state: &LeaderAndIsr,
        assignment: &[BrokerId],
        live: &BTreeSet<BrokerId>,
        now_ms: i64,
    ) {
        let log_end_offset = self.log.log_end_offset();
        self.epochs.assign(state.leader_epoch, log_end_offset);
        let previous = match &self.role {
            Role::Leader { followers, .. } => followers.clone(),
            Role::Follower { .. } => BTreeMap::new(),
        };
        let followers = assignment
            .iter()
            .filter(|&&b| b != self.broker)
            .map(|&b| {
                let in_isr = state.isr.contains(&b);
                let follower = match previous.get(&b) {
                    Some(before) => {
                        FollowerState::on_reelected(before, in_isr, log_end_offset, now_ms)
                    }
                    None => FollowerState::on_become_leader(in_isr, now_ms),
                };
                (b, follower)
            })
            .collect();
        self.role = Role::Leader {
            epoch: state.leader_epoch,
            epoch_start_offset: log_end_offset,
            assignment: assignment.to_vec(),
            isr: state.isr.clone(),
            pending_isr: None,
            partition_epoch: state.partition_epoch,
            followers,
            live: live.clone(),
        };
        self.events.push(PartitionEvent::BecameLeader {
            epoch: state.leader_epoch,
            isr: state.isr.clone(),
            log_end_offset,
        });
        self.maybe_increment_high_watermark(now_ms);
    }

    /// Kafka's `makeFollower`. Under the pre-0.11 protocol the replica truncates to its
    /// high watermark right away; under the epoch protocol it truncates when the leader
    /// answers its first fetch.
    pub fn make_follower(&mut self, state: &LeaderAndIsr, now_ms: i64) {
        self.fetched_in_epoch = false;
        self.role = Role::Follower {
            epoch: state.leader_epoch,
            leader: state.leader,
        };
        self.events.push(PartitionEvent::BecameFollower {
            epoch: state.leader_epoch,
            leader: state.leader,
        });
        if self.config.truncation == TruncationProtocol::HighWatermark {
            self.truncate(self.high_watermark, TruncationReason::HighWatermark, now_ms);
        }
    }

    /// The controller's answer to the live brokers changing (UpdateMetadata).
    pub fn update_live_brokers(&mut self, brokers: &BTreeSet<BrokerId>) {
        if let Role::Leader { live, .. } = &mut self.role {
            *live = brokers.clone();
        }
    }

    fn effective_min_isr(&self) -> usize {
        let replicas = match &self.role {
            Role::Leader { assignment, .. } => assignment.len(),
            Role::Follower { .. } => 1,
        };
        effective_min_isr(self.config.min_insync_replicas, replicas)
    }

    /// Kafka's `appendRecordsToLeader`: refuses acks=all below `min.insync.replicas`
    /// before writing anything, appends, then lets the HW move (it matters when the leader
    /// is alone in the ISR).
    pub fn append_as_leader(
        &mut self,
        records: &[Record],
        compression: Compression,
        acks: Acks,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        self.check_leader_append(acks)?;
        let info = self
            .log
            .append(records, compression, now_ms)
            .map_err(PartitionError::Log)?;
        self.maybe_increment_high_watermark(now_ms);
        Ok(info)
    }

    /// An idempotent producer's batch, checked in Kafka's order: leadership and
    /// `min.insync.replicas`, then the sequence (a retry of a batch in the log is
    /// answered with its offsets, a gap refused).
    pub fn append_idempotent_as_leader(
        &mut self,
        records: &[Record],
        batch: &ProducerBatch,
        acks: Acks,
        now_ms: i64,
    ) -> Result<IdempotentAppend, PartitionError> {
        self.check_leader_append(acks)?;
        if let Some(header) = self
            .producers
            .check(batch, records.len())
            .map_err(PartitionError::Sequence)?
        {
            return Ok(IdempotentAppend::Duplicate(header));
        }
        let info = self.append_as_leader(records, Compression::None, acks, now_ms)?;
        self.producers.append(BatchHeader {
            producer_id: batch.producer_id,
            producer_epoch: batch.producer_epoch,
            first_sequence: batch.base_sequence,
            last_sequence: batch.last_sequence(records.len()),
            first_offset: info.first_offset,
            last_offset: info.last_offset,
        });
        Ok(IdempotentAppend::Appended(info))
    }

    fn check_leader_append(&self, acks: Acks) -> Result<(), PartitionError> {
        let Role::Leader { isr, .. } = &self.role else {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.known_leader(),
            });
        };
        let min_isr = self.effective_min_isr();
        if acks == Acks::All && isr.len() < min_isr {
            return Err(PartitionError::NotEnoughReplicas {
                isr: isr.len(),
                min_isr,
            });
        }
        Ok(())
    }

    /// How many times this replica's log was cut since it was created.
    pub fn truncations(&self) -> u64 {
        self.truncations
    }

    /// The idempotent producers' state of this replica's log.
    pub fn producer_state(&self) -> &ProducerState {
        &self.producers
    }

    /// At start: the batch headers kept beside a recovered log, those of batches the
    /// recovery kept (Kafka rebuilds the same state from its log's batch headers).
    pub fn restore_producer_batches(&mut self, headers: &[BatchHeader]) {
        let log_start_offset = self.log.log_start_offset();
        let log_end_offset = self.log.log_end_offset();
        for header in headers {
            if header.first_offset >= log_start_offset && header.last_offset < log_end_offset {
                self.producers.append(*header);
            }
        }
    }

    fn known_leader(&self) -> Option<BrokerId> {
        match self.role {
            Role::Leader { .. } => Some(self.broker),
            Role::Follower { leader, .. } => leader,
        }
    }

    /// Kafka's `checkEnoughReplicasReachOffset` for a waiting acks=all produce: None while
    /// the HW is below `required_offset` (the batch's last offset + 1); then Ok, or the
    /// error if the ISR shrank below the minimum in the meantime.
    pub fn check_enough_replicas_reach_offset(
        &self,
        required_offset: i64,
    ) -> Option<Result<(), PartitionError>> {
        let Role::Leader {
            isr, pending_isr, ..
        } = &self.role
        else {
            return Some(Err(PartitionError::NotLeaderOrFollower {
                leader: self.known_leader(),
            }));
        };
        if self.high_watermark < required_offset {
            return None;
        }
        let maximal = maximal_isr(isr, pending_isr.as_ref());
        let min_isr = self.effective_min_isr();
        if min_isr <= maximal.len() {
            Some(Ok(()))
        } else {
            Some(Err(PartitionError::NotEnoughReplicasAfterAppend {
                isr: maximal.len(),
                min_isr,
            }))
        }
    }

    /// The fetch a follower sends now.
    pub fn fetch_request(&self) -> Option<FetchRequest> {
        let Role::Follower {
            epoch,
            leader: Some(_),
        } = self.role
        else {
            return None;
        };
        let last_fetched_epoch = match self.config.truncation {
            TruncationProtocol::LeaderEpoch => self.epochs.latest_epoch(),
            TruncationProtocol::HighWatermark => None,
        };
        Some(FetchRequest {
            replica: self.broker,
            fetch_offset: self.log.log_end_offset(),
            current_leader_epoch: epoch,
            last_fetched_epoch,
        })
    }

    /// The leader's handling of a follower's fetch (Kafka's `fetchRecords` for a replica):
    /// checks the epoch, detects divergence, reads from the fetch offset, records the
    /// follower's progress, and may propose adding it to the ISR (returned for the
    /// controller).
    pub fn handle_fetch(
        &mut self,
        request: &FetchRequest,
        now_ms: i64,
    ) -> Result<(FetchResponse, Option<IsrChange>), PartitionError> {
        let Role::Leader { epoch, .. } = &self.role else {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.known_leader(),
            });
        };
        let epoch = *epoch;
        if request.current_leader_epoch < epoch {
            return Err(PartitionError::FencedLeaderEpoch {
                request: request.current_leader_epoch,
                current: epoch,
            });
        }
        if request.current_leader_epoch > epoch {
            return Err(PartitionError::UnknownLeaderEpoch {
                request: request.current_leader_epoch,
                current: epoch,
            });
        }
        let log_end_offset = self.log.log_end_offset();
        if let Some(last_fetched_epoch) = request.last_fetched_epoch {
            let end = self
                .epochs
                .end_offset_for(last_fetched_epoch, log_end_offset);
            if end.epoch < last_fetched_epoch || end.end_offset < request.fetch_offset {
                let response = FetchResponse {
                    records: Bytes::new(),
                    epochs: Vec::new(),
                    high_watermark: self.high_watermark,
                    log_start_offset: self.log.log_start_offset(),
                    diverging_epoch: Some(end),
                    producer_batches: Vec::new(),
                };
                return Ok((response, None));
            }
        }
        let records = self
            .log
            .read(
                request.fetch_offset,
                self.config.replica_fetch_max_bytes,
                log_end_offset,
                true,
            )
            .map_err(|_| PartitionError::OffsetOutOfRange {
                offset: request.fetch_offset,
                log_start_offset: self.log.log_start_offset(),
                log_end_offset,
            })?;
        let (epochs, producer_batches) = match offset_range(request.fetch_offset, &records) {
            Some((start, end)) => (
                self.epochs_of_range(start, end),
                self.producers.headers_in(start, end),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let change = self.update_follower(request.replica, request.fetch_offset, now_ms);
        let response = FetchResponse {
            records,
            epochs,
            high_watermark: self.high_watermark,
            log_start_offset: self.log.log_start_offset(),
            diverging_epoch: None,
            producer_batches,
        };
        Ok((response, change))
    }

    /// The epochs covering the records `start..end` of a response, as v2 batch headers
    /// would carry: the epoch of the first record, then every epoch that starts among them.
    fn epochs_of_range(&self, start: i64, end: i64) -> Vec<(i32, i64)> {
        let mut out: Vec<(i32, i64)> = Vec::new();
        if let Some(epoch) = self.epochs.epoch_for_offset(start) {
            out.push((epoch, start));
        }
        out.extend(self.epochs.entries().filter(|&(_, s)| s > start && s < end));
        out
    }

    /// Records a follower's fetch at `fetch_offset`, then ISR expansion and the HW.
    fn update_follower(
        &mut self,
        replica: BrokerId,
        fetch_offset: i64,
        now_ms: i64,
    ) -> Option<IsrChange> {
        let log_end_offset = self.log.log_end_offset();
        let high_watermark = self.high_watermark;
        let broker = self.broker;
        let Role::Leader {
            epoch,
            epoch_start_offset,
            isr,
            pending_isr,
            partition_epoch,
            followers,
            live,
            ..
        } = &mut self.role
        else {
            return None;
        };
        let state = followers.get_mut(&replica)?;
        state.update_fetch_state(fetch_offset, now_ms, log_end_offset);
        let mut change = None;
        if pending_isr.is_none()
            && !isr.contains(&replica)
            && live.contains(&replica)
            && can_join_isr(fetch_offset, high_watermark, *epoch_start_offset)
        {
            let mut new_isr = isr.clone();
            new_isr.insert(replica);
            self.events.push(PartitionEvent::IsrExpandProposed {
                added: replica,
                log_end_offset: fetch_offset,
                high_watermark,
            });
            change = Some(propose(
                broker,
                *epoch,
                *partition_epoch,
                new_isr,
                pending_isr,
            ));
        }
        self.maybe_increment_high_watermark(now_ms);
        change
    }

    /// Kafka's `maybeShrinkIsr`, run every `replica.lag.time.max.ms / 2`: proposes
    /// removing the followers that are not caught up.
    pub fn maybe_shrink_isr(&mut self, now_ms: i64) -> Option<IsrChange> {
        let log_end_offset = self.log.log_end_offset();
        let lag_ms = self.config.replica_lag_time_max_ms;
        let broker = self.broker;
        let Role::Leader {
            epoch,
            isr,
            pending_isr,
            partition_epoch,
            followers,
            live,
            ..
        } = &mut self.role
        else {
            return None;
        };
        if pending_isr.is_some() {
            return None;
        }
        let view = followers.iter().map(|(&b, state)| Follower {
            broker: b,
            state,
            isr_eligible: live.contains(&b),
        });
        let removed = out_of_sync_followers(isr, view, log_end_offset, now_ms, lag_ms);
        if removed.is_empty() {
            return None;
        }
        let new_isr: BTreeSet<BrokerId> = isr.difference(&removed).copied().collect();
        self.events
            .push(PartitionEvent::IsrShrinkProposed { removed, lag_ms });
        Some(propose(
            broker,
            *epoch,
            *partition_epoch,
            new_isr,
            pending_isr,
        ))
    }

    /// The controller's answer to a proposed ISR change (`Partition.handleAlterPartitionError`):
    /// the committed state; INELIGIBLE_REPLICA puts the last committed state back (the
    /// controller says it applied nothing); FENCED_LEADER_EPOCH and INVALID_UPDATE_VERSION
    /// leave the change pending until the next LeaderAndIsr brings the state that won.
    pub fn isr_change_completed(
        &mut self,
        result: Result<&LeaderAndIsr, &IsrChangeRejected>,
        now_ms: i64,
    ) {
        let Role::Leader {
            isr,
            pending_isr,
            partition_epoch,
            ..
        } = &mut self.role
        else {
            return;
        };
        match result {
            Ok(state) => {
                *pending_isr = None;
                *isr = state.isr.clone();
                *partition_epoch = state.partition_epoch;
                self.events.push(PartitionEvent::IsrCommitted {
                    isr: state.isr.clone(),
                });
            }
            Err(IsrChangeRejected::IneligibleReplica { .. }) => *pending_isr = None,
            Err(
                IsrChangeRejected::FencedLeaderEpoch { .. }
                | IsrChangeRejected::InvalidUpdateVersion { .. },
            ) => {}
        }
        self.maybe_increment_high_watermark(now_ms);
    }

    fn maybe_increment_high_watermark(&mut self, now_ms: i64) {
        let min_isr = self.effective_min_isr();
        let Role::Leader {
            isr,
            pending_isr,
            followers,
            live,
            ..
        } = &self.role
        else {
            return;
        };
        let inputs = HighWatermarkInputs {
            leader_log_end_offset: self.log.log_end_offset(),
            high_watermark: self.high_watermark,
            maximal_isr: maximal_isr(isr, pending_isr.as_ref()),
            committed_isr_size: isr.len(),
            effective_min_isr: min_isr,
            now_ms,
            replica_lag_time_max_ms: self.config.replica_lag_time_max_ms,
            hold_below_min_isr: self.config.hold_high_watermark_below_min_isr,
        };
        let view = followers.iter().map(|(&b, state)| Follower {
            broker: b,
            state,
            isr_eligible: live.contains(&b),
        });
        if let Some(next) = next_high_watermark(&inputs, view) {
            self.events.push(PartitionEvent::HighWatermarkAdvanced {
                from: self.high_watermark,
                to: next,
            });
            self.high_watermark = next;
        }
    }

    /// The follower's handling of the leader's answer: truncate if the leader reports
    /// divergence (KIP-279's rule), else append the records, learn their epochs, and take
    /// `min(LEO, leader's HW)` as its own HW.
    pub fn handle_fetch_response(
        &mut self,
        response: &FetchResponse,
        now_ms: i64,
    ) -> Result<(), PartitionError> {
        if let Some(diverging) = response.diverging_epoch {
            let state = truncation_state(
                &self.epochs,
                self.log.log_end_offset(),
                self.high_watermark,
                diverging,
            );
            let reason = TruncationReason::DivergingEpoch {
                epoch: diverging.epoch,
                leader_end_offset: diverging.end_offset,
            };
            self.truncate(state.offset, reason, now_ms);
            return Ok(());
        }
        self.fetched_in_epoch = true;
        if !response.records.is_empty() {
            self.log
                .append_as_follower(&response.records, now_ms)
                .map_err(PartitionError::Log)?;
            let log_end_offset = self.log.log_end_offset();
            for header in &response.producer_batches {
                if header.last_offset < log_end_offset {
                    self.producers.append(*header);
                }
            }
            for &(epoch, start) in &response.epochs {
                if self
                    .epochs
                    .latest_epoch()
                    .is_none_or(|latest| epoch > latest)
                {
                    self.epochs.assign(epoch, start);
                }
            }
        }
        // ReplicaFetcherThread.processPartitionData → log.updateHighWatermark: the leader's
        // HW capped at this replica's LEO (and at least its log start), taken even when
        // it is lower than the HW this replica had (a new leader's HW may trail).
        let high_watermark = response
            .high_watermark
            .min(self.log.log_end_offset())
            .max(self.log.log_start_offset());
        if high_watermark != self.high_watermark {
            let (from, to) = (self.high_watermark, high_watermark);
            self.events.push(if to > from {
                PartitionEvent::HighWatermarkAdvanced { from, to }
            } else {
                PartitionEvent::HighWatermarkLowered { from, to }
            });
            self.high_watermark = high_watermark;
        }
        Ok(())
    }

    fn truncate(&mut self, offset: i64, reason: TruncationReason, now_ms: i64) {
        let from = self.log.log_end_offset();
        if offset >= from {
            // Nothing to cut, but an epoch this replica started as leader without
            // appending to it (an entry at the log end) must go, or the leader reports
            // that epoch's divergence again on every fetch (Kafka's truncateTo does the same).
            self.epochs.truncate_from_end(from);
            return;
        }
        self.log.truncate_to(offset, now_ms);
        self.truncations += 1;
        let to = self.log.log_end_offset();
        self.epochs.truncate_from_end(to);
        self.producers.truncate_to(to);
        self.high_watermark = self.high_watermark.min(to);
        self.events
            .push(PartitionEvent::Truncated { from, to, reason });
    }

    /// Kafka's retention check (every `log.retention.check.interval.ms`): deletes whole
    /// segments past `retention.ms` or `retention.bytes`, never at or above the HW, and
    /// moves the epoch cache's start with the log's.
    pub fn apply_retention(&mut self, now_ms: i64) {
        let outcome = self.log.delete_old_segments(now_ms, self.high_watermark);
        if outcome.deleted.is_empty() {
            return;
        }
        let log_start_offset = self.log.log_start_offset();
        self.epochs.truncate_from_start(log_start_offset);
        self.producers.truncate_head(log_start_offset);
        self.events.push(PartitionEvent::SegmentsDeleted {
            deleted: outcome.deleted,
            log_start_offset,
        });
    }

    /// What a consumer may read: records from `offset` below the high watermark.
    pub fn read_for_consumer(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Bytes, PartitionError> {
        self.log
            .read(offset, max_bytes, self.high_watermark, true)
            .map_err(|_| PartitionError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log.log_start_offset(),
                log_end_offset: self.log.log_end_offset(),
            })
    }
}
