//! Kafka's producer with a simulated application around it, sans IO: the default
//! partitioner (explicit partition, murmur2 of the key, sticky for null keys), batching
//! by `batch.size`/`linger.ms`, acks, `retries` with exponential backoff
//! (`retry.backoff.ms` to `retry.backoff.max.ms`) within
//! `delivery.timeout.ms`, `max.in.flight.requests.per.connection`, metadata refresh on
//! NOT_LEADER_OR_FOLLOWER, and the idempotent producer (InitProducerId, per-partition
//! sequence numbers; the broker drops duplicates and refuses gaps). When a partition's
//! sequences can no longer continue (the leader lost acknowledged batches, or batches
//! expired after they were sent), the producer bumps its epoch and starts that
//! partition's sequences again at 0, as Kafka 2.5+ does (KIP-360,
//! `TransactionManager`); it never gives a new sequence to a batch that may already be
//! in the log.
//!
//! Without idempotence a retry after a lost answer or NOT_ENOUGH_REPLICAS_AFTER_APPEND
//! writes the batch twice, and with more than one batch in flight a retried batch can
//! land after a later one: both are lessons. Each send resolves to an offset or an
//! error in the history ([`WriteOp`]), which the checkers judge; `sync` makes the
//! application wait for each send (`send().get()`), otherwise it goes on (a callback).

use crate::actor::Actor;
use std::collections::{BTreeMap, VecDeque};

use crate::partition::Acks;
use crate::partitioner::{Partitioner, PartitionerConfig, TopicPartitions};
use crate::protocol::{
    ClientError, Message, NodeId, ProduceRequest, ProducerBatch, TopicPartition,
};
use crate::record::{Magic, Record, message_size};
use crate::replication::BrokerId;
use crate::rng::SplitMix64;

use super::{Brokers, InFlight, exponential_backoff_ms};
use crate::writes::{Outcome, WriteOp};

/// This module's actor tells the narration its own events.
type Outbox = crate::actor::Outbox<Emitted>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    pub topic: String,
    /// Brokers asked for metadata, in turn.
    pub bootstrap: Vec<BrokerId>,
    /// `acks`: all (-1) since Kafka 3.0, 1 before.
    pub acks: Acks,
    /// `retries`: Integer.MAX_VALUE since Kafka 2.1 (0 before).
    pub retries: u32,
    /// `retry.backoff.ms`: the first retry's wait.
    pub retry_backoff_ms: i64,
    /// `retry.backoff.max.ms`: retries back off exponentially up to this, with jitter
    /// (Kafka 3.7+; set it to `retry.backoff.ms` for the fixed wait of earlier versions).
    pub retry_backoff_max_ms: i64,
    /// `delivery.timeout.ms`: a send fails after this long, retries or not.
    pub delivery_timeout_ms: i64,
    /// `request.timeout.ms`
    pub request_timeout_ms: i64,
    /// `linger.ms`: 5 since Kafka 4.0 (0 before).
    pub linger_ms: i64,
    /// `batch.size`
    pub batch_size: usize,
    /// `max.in.flight.requests.per.connection` (per partition here).
    pub max_in_flight: usize,
    /// `enable.idempotence`: true since Kafka 3.0.
    pub enable_idempotence: bool,
    /// `metadata.max.age.ms`
    pub metadata_max_age_ms: i64,
    /// The application: time between sends.
    pub interval_ms: i64,
    /// The application: null keys (None) or keys `k0`..`k{n-1}` in turn.
    pub keys: Option<u32>,
    /// The application: values are `<prefix>-<n>`.
    pub value_prefix: String,
    /// The application stops sending at this time.
    pub stop_ms: Option<i64>,
    /// The application waits for each send's result before the next (`send().get()`).
    pub sync: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            topic: "orders".to_string(),
            bootstrap: Vec::new(),
            acks: Acks::All,
            retries: i32::MAX as u32,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1_000,
            delivery_timeout_ms: 120_000,
            request_timeout_ms: 30_000,
            linger_ms: 5,
            batch_size: 16_384,
            max_in_flight: 5,
            enable_idempotence: true,
            metadata_max_age_ms: 300_000,
            interval_ms: 100,
            keys: None,
            value_prefix: "v".to_string(),
            stop_ms: None,
            sync: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Batch {
    /// (history index, record)
    records: Vec<(usize, Record)>,
    bytes: usize,
    created_ms: i64,
    /// The producer id, epoch and first sequence number it was given on its first send;
    /// it keeps them on every retry, unless its partition's sequences start again.
    sequence: Option<ProducerBatch>,
    /// Its sequence was rewritten when its partition's sequences started again (Kafka's
    /// `sequenceHasBeenReset`).
    sequence_reset: bool,
    /// An attempt ended without a refusal before the append (no answer,
    /// REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_LEADER_OR_FOLLOWER after it
    /// waited...): it may be in the log, so it is never given a new sequence.
    maybe_written: bool,
    attempts: u32,
    retry_at_ms: i64,
}

/// Kafka's `TxnPartitionEntry`: a partition's sequence numbers, under one producer id
/// and epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartitionSequences {
    producer: (i64, i16),
    next_sequence: i32,
    /// None: nothing acknowledged under this id and epoch yet.
    last_acked: Option<i32>,
}

impl PartitionSequences {
    fn is_next(&self, sequence: i32) -> bool {
        sequence == self.last_acked.map_or(0, |s| s.wrapping_add(1) & i32::MAX)
    }
}

/// Why a partition's sequences start again under a bumped epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartReason {
    /// OUT_OF_ORDER_SEQUENCE_NUMBER for the batch right after the last acknowledged one
    /// (None: the first batch of its epoch): the leader lost acknowledged batches, or
    /// holds sequences the producer never saw acknowledged.
    LostAcknowledged {
        leader: BrokerId,
        last_acked_sequence: Option<i32>,
    },
    /// Batches expired after they were sent, leaving a gap nobody will fill
    /// (`maybeResolveSequences`).
    Expired,
    /// A batch failed for good after it had a sequence (`handleFailedBatch`).
    FailedBatch { error: &'static str },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Metadata,
    InitProducerId,
    Produce { tp: TopicPartition, batch: Batch },
}

/// A producer's event as it leaves the state machine, at a time and with the names the
/// narration uses (`event::EventKind::Producer` once the simulation records it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emitted {
    pub time_ms: i64,
    pub client: NodeId,
    /// What its records are named by (`p1` writes `p1-0`, `p1-1`…), which sentences
    /// name it by.
    pub name: String,
    pub event: ProducerEvent,
}

/// What a producer tells the narration: Kafka's producer logs each retry as a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProducerEvent {
    /// A batch failed with a retriable error and goes back to the queue.
    Retrying {
        tp: TopicPartition,
        records: usize,
        error: &'static str,
        attempt: u32,
        /// Where it goes: first in its partition's queue, or in sequence order.
        in_sequence_order: bool,
    },
    /// The producer bumped its epoch and the partition's sequences start again at 0
    /// (KIP-360): `rewritten` batches got new sequences, `unknown` batches that may already
    /// be in the log were given up as unknown instead.
    SequencesRestarted {
        tp: TopicPartition,
        producer_id: i64,
        epoch: i16,
        reason: RestartReason,
        rewritten: usize,
        unknown: usize,
    },
    /// A batch failed for good: not retriable, out of retries or of delivery.timeout.ms.
    Failed {
        tp: TopicPartition,
        records: usize,
        error: &'static str,
    },
}

/// A producer and its application.
#[derive(Clone, Debug)]
pub struct Producer {
    address: NodeId,
    config: ProducerConfig,
    now_ms: i64,
    in_flight: InFlight<Pending>,
    brokers: Brokers,
    leaders: BTreeMap<u32, Option<BrokerId>>,
    partition_count: u32,
    metadata_due_ms: i64,
    producer: Option<(i64, i16)>,
    partitioner: Partitioner,
    rng: SplitMix64,
    queues: BTreeMap<u32, VecDeque<Batch>>,
    sending: BTreeMap<u32, usize>,
    sequences: BTreeMap<u32, PartitionSequences>,
    /// Kafka's `partitionsWithUnresolvedSequences`: the sequence after the last expired
    /// batch; no new batch is sent there until the partition's batches are all done.
    unresolved: BTreeMap<u32, i32>,
    /// Kafka's `epochBumpRequired`.
    epoch_bump_required: bool,
    /// Kafka's `partitionsToRewriteSequences`, with why; each waits until none of its
    /// requests is in flight.
    rewrite: BTreeMap<u32, RestartReason>,
    next_send_ms: i64,
    sent: u64,
    waiting_for: Option<usize>,
    history: Vec<WriteOp>,
}

impl Producer {
    pub fn new(config: ProducerConfig, address: NodeId, rng_seed: u64, now_ms: i64) -> Producer {
        assert!(config.interval_ms > 0, "a producer sends at an interval");
        let partitioner = Partitioner::new(PartitionerConfig {
            batch_size: config.batch_size,
            ..PartitionerConfig::default()
        });
        Producer {
            address,
            brokers: Brokers::new(&config.bootstrap),
            config,
            now_ms,
            in_flight: InFlight::new(),
            leaders: BTreeMap::new(),
            partition_count: 0,
            metadata_due_ms: now_ms,
            producer: None,
            partitioner,
            rng: SplitMix64::new(rng_seed),
            queues: BTreeMap::new(),
            sending: BTreeMap::new(),
            sequences: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            epoch_bump_required: false,
            rewrite: BTreeMap::new(),
            next_send_ms: now_ms,
            sent: 0,
            waiting_for: None,
            history: Vec::new(),
        }
    }

    /// Every send and how it ended.
    pub fn history(&self) -> &[WriteOp] {
        &self.history
    }

    /// The producer id and epoch, once InitProducerId answered.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.producer
    }
}

/// Errors after which Kafka's producer retries a batch.
fn retriable(code: &str) -> bool {
    matches!(
        code,
        "NOT_LEADER_OR_FOLLOWER"
            | "NOT_ENOUGH_REPLICAS"
            | "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
            | "REQUEST_TIMED_OUT"
            | "UNKNOWN_TOPIC_OR_PARTITION"
            | "FENCED_LEADER_EPOCH"
            | "NETWORK_EXCEPTION"
            // The idempotent producer resends in sequence order after an earlier
            // batch of the partition failed.
            | "OUT_OF_ORDER_SEQUENCE_NUMBER"
    )
}

impl Producer {
    fn send(
        &mut self,
        to: NodeId,
        pending: Pending,
        out: &mut Outbox,
        make: impl FnOnce(u64) -> Message,
    ) {
        // Kafka's request.timeout.ms, plus a margin for the network.
        let deadline_ms = self.now_ms + self.config.request_timeout_ms + 1_000;
        self.in_flight.send(out, to, pending, deadline_ms, make);
    }

    fn stopped(&self) -> bool {
        self.config.stop_ms.is_some_and(|s| self.now_ms >= s)
    }

    fn drive(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        if self.metadata_due_ms <= now && !self.in_flight.contains(&Pending::Metadata) {
            let broker = self.brokers.next();
            self.send(broker, Pending::Metadata, out, |correlation_id| {
                Message::Metadata { correlation_id }
            });
        }
        if self.config.enable_idempotence
            && self.producer.is_none()
            && !self.in_flight.contains(&Pending::InitProducerId)
        {
            let broker = self.brokers.next();
            self.send(broker, Pending::InitProducerId, out, |correlation_id| {
                Message::InitProducerId { correlation_id }
            });
        }
        self.drive_app();
        self.expire();
        // Sender.runOnce: resolve sequences, bump the epoch if asked, then send.
        self.maybe_resolve_sequences();
        self.bump_epoch_if_needed(out);
        self.drive_sender(out);
    }

    /// Requests for `p` in flight, or batches with a sequence waiting to be retried
    /// (Kafka's `hasInflightBatches`).
    fn has_sequenced_batches(&self, p: u32) -> bool {
        self.sending.get(&p).copied().unwrap_or(0) > 0
            || self
                .queues
                .get(&p)
                .is_some_and(|q| q.iter().any(|b| b.sequence.is_some()))
    }

    /// `TransactionManager.requestEpochBumpForPartition`.
    fn request_epoch_bump(&mut self, p: u32, reason: RestartReason) {
        if !self.config.enable_idempotence {
            return;
        }
        self.epoch_bump_required = true;
        self.rewrite.entry(p).or_insert(reason);
    }

    /// `TransactionManager.maybeResolveSequences`: once an unresolved partition has no
    /// batch in flight, either the next sequence follows the last acknowledged one (the
    /// expired batches were the last), or the epoch must be bumped.
    fn maybe_resolve_sequences(&mut self) {
        let partitions: Vec<u32> = self.unresolved.keys().copied().collect();
        for p in partitions {
            if self.has_sequenced_batches(p) {
                continue;
            }
            self.unresolved.remove(&p);
            let resolved = self
                .sequences
                .get(&p)
                .is_none_or(|s| s.is_next(s.next_sequence));
            if !resolved {
                self.request_epoch_bump(p, RestartReason::Expired);
            }
        }
    }

    /// `bumpIdempotentProducerEpoch` (a new producer id only once the epoch is spent),
    /// then `startSequencesAtBeginning` for each partition that asked, as soon as none
    /// of its requests is in flight: an answer still on its way must not meet a
    /// rewritten batch.
    fn bump_epoch_if_needed(&mut self, out: &mut Outbox) {
        let Some((producer_id, epoch)) = self.producer else {
            return;
        };
        if self.epoch_bump_required {
            self.epoch_bump_required = false;
            if epoch == i16::MAX {
                self.producer = None;
                return;
            }
            self.producer = Some((producer_id, epoch + 1));
        }
        let waiting: Vec<(u32, RestartReason)> = self
            .rewrite
            .iter()
            .filter(|(p, _)| self.sending.get(p).copied().unwrap_or(0) == 0)
            .map(|(p, r)| (*p, *r))
            .collect();
        for (p, reason) in waiting {
            self.rewrite.remove(&p);
            let (rewritten, unknown) = self.start_sequences_at_beginning(p);
            let (producer_id, epoch) = self.producer.expect("checked above");
            self.emit(
                out,
                ProducerEvent::SequencesRestarted {
                    tp: TopicPartition::new(&self.config.topic, p),
                    producer_id,
                    epoch,
                    reason,
                    rewritten,
                    unknown,
                },
            );
        }
    }

    /// `TxnPartitionEntry.startSequencesAtBeginning`: the partition's waiting batches
    /// get sequences from 0 under the current id and epoch, in their old order. A batch
    /// that may already be in the log is given up as unknown instead: written again
    /// under a new sequence it could be in the log twice. Returns (rewritten, unknown).
    fn start_sequences_at_beginning(&mut self, p: u32) -> (usize, usize) {
        let now = self.now_ms;
        let producer = self.producer.expect("a producer id");
        let queue = std::mem::take(self.queues.entry(p).or_default());
        let mut kept = VecDeque::new();
        let mut given_up = Vec::new();
        let mut next = 0i32;
        let mut rewritten = 0;
        for mut batch in queue {
            if batch.sequence.is_none() {
                kept.push_back(batch);
            } else if batch.maybe_written {
                given_up.push(batch);
            } else {
                batch.sequence = Some(ProducerBatch {
                    producer_id: producer.0,
                    producer_epoch: producer.1,
                    base_sequence: next,
                });
                batch.sequence_reset = true;
                next = next.wrapping_add(batch.records.len() as i32) & i32::MAX;
                rewritten += 1;
                kept.push_back(batch);
            }
        }
        self.queues.insert(p, kept);
        for batch in &given_up {
            self.finish(batch, |_| Outcome::Unknown { completed_ms: now }, -1);
        }
        self.sequences.insert(
            p,
            PartitionSequences {
                producer,
                next_sequence: next,
                last_acked: None,
            },
        );
        self.unresolved.remove(&p);
        (rewritten, given_up.len())
    }

    /// The application's sends.
    fn drive_app(&mut self) {
        while self.next_send_ms <= self.now_ms
            && !self.stopped()
            && self.partition_count > 0
            && self.waiting_for.is_none()
        {
            self.next_send_ms += self.config.interval_ms;
            let n = self.sent;
            self.sent += 1;
            let value = format!("{}-{n}", self.config.value_prefix);
            let key = self.config.keys.map(|k| format!("k{}", n % u64::from(k)));
            let available: Vec<u32> = self
                .leaders
                .iter()
                .filter(|(_, l)| l.is_some())
                .map(|(p, _)| *p)
                .collect();
            let partitions = TopicPartitions {
                count: self.partition_count,
                available: &available,
            };
            let topic = self.config.topic.clone();
            let partition = self.partitioner.partition(
                &topic,
                None,
                key.as_deref().map(str::as_bytes),
                partitions,
                &mut self.rng,
            );
            let record = Record::new(
                self.now_ms,
                key.as_deref().map(str::as_bytes),
                Some(value.as_bytes()),
            );
            let size = message_size(Magic::V1, record.key.as_deref(), record.value.as_deref());
            let index = self.history.len();
            self.history.push(WriteOp {
                value,
                tp: TopicPartition::new(&topic, partition),
                leader: -1,
                invoked_ms: self.now_ms,
                outcome: Outcome::Pending,
            });
            let queue = self.queues.entry(partition).or_default();
            let fits = queue
                .back()
                .is_some_and(|b| b.attempts == 0 && b.bytes + size <= self.config.batch_size);
            if !fits {
                queue.push_back(Batch {
                    records: Vec::new(),
                    bytes: 0,
                    created_ms: self.now_ms,
                    sequence: None,
                    sequence_reset: false,
                    maybe_written: false,
                    attempts: 0,
                    retry_at_ms: 0,
                });
            }
            let batch = queue.back_mut().expect("pushed");
            batch.records.push((index, record));
            batch.bytes += size;
            let full = batch.bytes + size > self.config.batch_size;
            self.partitioner.record_appended(
                &topic,
                partition,
                size,
                full,
                partitions,
                &mut self.rng,
            );
            if self.config.sync {
                self.waiting_for = Some(index);
            }
        }
    }

    /// `delivery.timeout.ms`: queued batches too old fail.
    fn expire(&mut self) {
        let now = self.now_ms;
        let timeout = self.config.delivery_timeout_ms;
        let mut expired = Vec::new();
        for queue in self.queues.values_mut() {
            queue.retain(|b| {
                if now - b.created_ms >= timeout {
                    expired.push(b.clone());
                    false
                } else {
                    true
                }
            });
        }
        for batch in expired {
            // Sender.sendProducerData: an expired batch that was sent may be in the log;
            // its partition's sequences stay unresolved until its other batches are done
            // (markSequenceUnresolved).
            if let Some(sent) = batch.sequence.filter(|_| batch.attempts > 0) {
                let p = self.history[batch.records[0].0].tp.partition;
                let next = sent.last_sequence(batch.records.len()).wrapping_add(1) & i32::MAX;
                let entry = self.unresolved.entry(p).or_insert(next);
                *entry = (*entry).max(next);
            }
            let outcome = if batch.attempts > 0 {
                Outcome::Unknown { completed_ms: now }
            } else {
                Outcome::Failed {
                    code: "DELIVERY_TIMEOUT",
                    completed_ms: now,
                }
            };
            self.finish(&batch, |_| outcome.clone(), -1);
        }
    }

    fn drive_sender(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        if self.config.enable_idempotence && self.producer.is_none() {
            return;
        }
        let partitions: Vec<u32> = self.queues.keys().copied().collect();
        for p in partitions {
            if self.config.enable_idempotence {
                if self.rewrite.contains_key(&p) {
                    // Its sequences start again once its requests are answered.
                    continue;
                }
                self.maybe_update_producer_id_and_epoch(p);
            }
            while let Some(Some(leader)) = self.leaders.get(&p).copied() {
                if self.sending.get(&p).copied().unwrap_or(0) >= self.config.max_in_flight {
                    break;
                }
                let queue = self.queues.get_mut(&p).expect("listed");
                let Some(front) = queue.front() else {
                    break;
                };
                let ready = front.attempts > 0
                    || queue.len() > 1
                    || front.bytes >= self.config.batch_size
                    || now - front.created_ms >= self.config.linger_ms;
                if !ready || front.retry_at_ms > now {
                    break;
                }
                let front_sequenced = front.sequence.is_some();
                if self.config.enable_idempotence && !front_sequenced {
                    // RecordAccumulator.shouldStopDrainBatchesForPartition: no new batch
                    // while the partition's earlier ones run under another epoch, or
                    // while expired ones leave their sequences unresolved.
                    let stale = self
                        .sequences
                        .get(&p)
                        .is_some_and(|s| Some(s.producer) != self.producer);
                    if (stale && self.has_sequenced_batches(p)) || self.unresolved.contains_key(&p)
                    {
                        break;
                    }
                }
                let queue = self.queues.get_mut(&p).expect("listed");
                let mut batch = queue.pop_front().expect("a front");
                let producer = match self.producer {
                    Some(current) if self.config.enable_idempotence => {
                        if batch.sequence.is_none() {
                            let entry = self.sequences.entry(p).or_insert(PartitionSequences {
                                producer: current,
                                next_sequence: 0,
                                last_acked: None,
                            });
                            batch.sequence = Some(ProducerBatch {
                                producer_id: entry.producer.0,
                                producer_epoch: entry.producer.1,
                                base_sequence: entry.next_sequence,
                            });
                            entry.next_sequence =
                                entry.next_sequence.wrapping_add(batch.records.len() as i32)
                                    & i32::MAX;
                        }
                        batch.sequence
                    }
                    _ => None,
                };
                batch.attempts += 1;
                let tp = TopicPartition::new(&self.config.topic, p);
                let records: Vec<Record> = batch.records.iter().map(|(_, r)| r.clone()).collect();
                let request = ProduceRequest {
                    correlation_id: 0,
                    tp: tp.clone(),
                    records,
                    acks: self.config.acks,
                    timeout_ms: self.config.request_timeout_ms,
                    producer,
                };
                if self.config.acks == Acks::None {
                    // acks=0: done once sent; the offset is unknown.
                    out.send(leader, Message::Produce(request));
                    self.finish(
                        &batch,
                        |_| Outcome::Ok {
                            offset: None,
                            completed_ms: now,
                        },
                        leader,
                    );
                    continue;
                }
                *self.sending.entry(p).or_default() += 1;
                self.send(
                    leader,
                    Pending::Produce { tp, batch },
                    out,
                    |correlation_id| {
                        Message::Produce(ProduceRequest {
                            correlation_id,
                            ..request
                        })
                    },
                );
            }
        }
    }

    fn finish(&mut self, batch: &Batch, outcome: impl Fn(usize) -> Outcome, leader: BrokerId) {
        for (i, (index, _)) in batch.records.iter().enumerate() {
            let op = &mut self.history[*index];
            if op.outcome == Outcome::Pending {
                op.outcome = outcome(i);
                op.leader = leader;
            }
            if self.waiting_for == Some(*index) {
                self.waiting_for = None;
                self.next_send_ms = self.next_send_ms.max(self.now_ms);
            }
        }
    }

    fn emit(&self, out: &mut Outbox, event: ProducerEvent) {
        out.emit(Emitted {
            time_ms: self.now_ms,
            client: self.address,
            name: self.config.value_prefix.clone(),
            event,
        });
    }

    fn on_produce_result(
        &mut self,
        leader: BrokerId,
        tp: TopicPartition,
        mut batch: Batch,
        result: Result<i64, &'static str>,
        out: &mut Outbox,
    ) {
        let now = self.now_ms;
        let p = tp.partition;
        if let Some(n) = self.sending.get_mut(&p) {
            *n = n.saturating_sub(1);
        }
        match result {
            Ok(offset) => {
                // Kafka's maybeUpdateLastAckedSequence: answers to batches retried after
                // later ones may come last; the highest acknowledged sequence counts.
                if let Some(sent) = batch.sequence
                    && let Some(entry) = self.sequences.get_mut(&p)
                    && entry.producer == (sent.producer_id, sent.producer_epoch)
                {
                    let last = sent.last_sequence(batch.records.len());
                    entry.last_acked = Some(entry.last_acked.map_or(last, |a| a.max(last)));
                }
                self.finish(
                    &batch,
                    |i| Outcome::Ok {
                        offset: Some(offset + i as i64),
                        completed_ms: now,
                    },
                    leader,
                )
            }
            Err(code) => {
                // Only a refusal before the append says the batch is not in the log: an
                // appended acks=all batch can also end NOT_LEADER_OR_FOLLOWER (its leader
                // stepped down while it waited), REQUEST_TIMED_OUT, no answer, ...
                if !matches!(
                    code,
                    "NOT_ENOUGH_REPLICAS"
                        | "OUT_OF_ORDER_SEQUENCE_NUMBER"
                        | "INVALID_PRODUCER_EPOCH"
                ) {
                    batch.maybe_written = true;
                }
                if code == "OUT_OF_ORDER_SEQUENCE_NUMBER" {
                    self.on_out_of_order_sequence(leader, &batch);
                }
                if matches!(
                    code,
                    "NOT_LEADER_OR_FOLLOWER"
                        | "UNKNOWN_TOPIC_OR_PARTITION"
                        | "FENCED_LEADER_EPOCH"
                        | "NETWORK_EXCEPTION"
                ) {
                    self.metadata_due_ms = self.metadata_due_ms.min(now);
                }
                let in_time = now - batch.created_ms < self.config.delivery_timeout_ms;
                if retriable(code) && batch.attempts <= self.config.retries && in_time {
                    self.emit(
                        out,
                        ProducerEvent::Retrying {
                            tp: tp.clone(),
                            records: batch.records.len(),
                            error: code,
                            attempt: batch.attempts,
                            in_sequence_order: self.config.enable_idempotence,
                        },
                    );
                    batch.retry_at_ms = now
                        + exponential_backoff_ms(
                            self.config.retry_backoff_ms,
                            self.config.retry_backoff_max_ms,
                            batch.attempts - 1,
                            &mut self.rng,
                        );
                    let queue = self.queues.entry(p).or_default();
                    // Retries go first; the idempotent producer keeps sequence order.
                    let sequence = |b: &Batch| b.sequence.map(|s| s.base_sequence);
                    let at = if self.config.enable_idempotence {
                        queue
                            .iter()
                            .position(|b| sequence(b).is_none_or(|s| Some(s) > sequence(&batch)))
                            .unwrap_or(queue.len())
                    } else {
                        0
                    };
                    queue.insert(at, batch);
                    return;
                }
                self.emit(
                    out,
                    ProducerEvent::Failed {
                        tp,
                        records: batch.records.len(),
                        error: code,
                    },
                );
                // Sender.completeBatch → failBatch(adjustSequenceNumbers = attempts <
                // retries) → handleFailedBatch: the partition's later sequences cannot
                // follow a batch that will never be written.
                // (`attempts` counts sends, Kafka's one more than its retries.)
                if batch.sequence.is_some()
                    && (code == "OUT_OF_ORDER_SEQUENCE_NUMBER"
                        || batch.attempts <= self.config.retries)
                {
                    self.request_epoch_bump(p, RestartReason::FailedBatch { error: code });
                }
                if batch.maybe_written {
                    self.finish(&batch, |_| Outcome::Unknown { completed_ms: now }, leader);
                } else {
                    self.finish(
                        &batch,
                        |_| Outcome::Failed {
                            code,
                            completed_ms: now,
                        },
                        leader,
                    );
                }
            }
        }
    }

    /// `TransactionManager.maybeUpdateProducerIdAndEpoch`: a partition whose sequences
    /// belong to an older epoch starts again at 0 once none of its batches is in flight.
    fn maybe_update_producer_id_and_epoch(&mut self, p: u32) {
        let Some(current) = self.producer else {
            return;
        };
        let stale = self
            .sequences
            .get(&p)
            .is_some_and(|s| s.producer != current);
        if stale && !self.has_sequenced_batches(p) {
            self.start_sequences_at_beginning(p);
        }
    }

    /// `TransactionManager.canRetry` for OUT_OF_ORDER_SEQUENCE_NUMBER: a batch that is not
    /// the next after the last acknowledged one waits for those before it; the next one
    /// meets a real gap (the leader lost acknowledged batches, after an unclean election
    /// or with acks=1), and so does the one right after an unresolved sequence: the
    /// epoch is bumped and the partition's sequences start again (KIP-360).
    fn on_out_of_order_sequence(&mut self, leader: BrokerId, batch: &Batch) {
        let Some(sent) = batch.sequence else {
            return;
        };
        let p = self.history[batch.records[0].0].tp.partition;
        let Some(entry) = self.sequences.get(&p).copied() else {
            return;
        };
        let current = entry.producer == (sent.producer_id, sent.producer_epoch);
        let next = current && entry.is_next(sent.base_sequence);
        let unresolved = self.unresolved.get(&p).copied();
        if unresolved.is_none() && (batch.sequence_reset || !next) {
            return;
        }
        if unresolved.is_none() || unresolved == Some(sent.base_sequence) {
            let reason = match unresolved {
                None => RestartReason::LostAcknowledged {
                    leader,
                    last_acked_sequence: entry.last_acked,
                },
                Some(_) => RestartReason::Expired,
            };
            self.request_epoch_bump(p, reason);
        }
    }

    fn on_reply(&mut self, to: NodeId, pending: Pending, message: Message, out: &mut Outbox) {
        let now_ms = self.now_ms;
        match (message, pending) {
            (Message::MetadataReply(r), _) => {
                self.metadata_due_ms = now_ms + self.config.metadata_max_age_ms;
                self.brokers.update(r.brokers.iter().copied());
                self.leaders = r
                    .partitions
                    .iter()
                    .filter(|(tp, _)| tp.topic == self.config.topic)
                    .map(|(tp, m)| (tp.partition, m.leader))
                    .collect();
                self.partition_count = self.leaders.keys().max().map_or(0, |p| p + 1);
                if self.partition_count == 0 || self.leaders.values().any(Option::is_none) {
                    self.metadata_due_ms = now_ms + self.config.retry_backoff_ms;
                }
            }
            (
                Message::InitProducerIdReply {
                    producer_id,
                    producer_epoch,
                    ..
                },
                _,
            ) => self.producer = Some((producer_id, producer_epoch)),
            (Message::ProduceReply(r), Pending::Produce { tp, batch }) => {
                let result = r.result.map_err(|e: ClientError| e.code());
                self.on_produce_result(to, tp, batch, result, out);
            }
            _ => {}
        }
    }

    fn failed(&mut self, to: NodeId, pending: Pending, out: &mut Outbox) {
        match pending {
            Pending::Metadata => {
                self.metadata_due_ms = self.now_ms + self.config.retry_backoff_ms;
            }
            Pending::InitProducerId => {}
            Pending::Produce { tp, batch } => {
                self.on_produce_result(to, tp, batch, Err("NETWORK_EXCEPTION"), out)
            }
        }
    }
}

impl Actor for Producer {
    type Event = Emitted;

    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox) {
        self.now_ms = now_ms;
        if message == Message::ConnectionLost {
            for (to, pending) in self.in_flight.take_failed(now_ms, Some(from)) {
                self.failed(to, pending, out);
            }
        } else if let Some((to, pending)) = self.in_flight.answered(&message) {
            self.on_reply(to, pending, message, out);
        }
        self.drive(out);
    }

    fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        self.now_ms = now_ms;
        for (to, pending) in self.in_flight.take_failed(now_ms, None) {
            self.failed(to, pending, out);
        }
        self.drive(out);
    }

    fn next_timer_ms(&self) -> Option<i64> {
        let now = self.now_ms;
        let mut next = self.in_flight.next_deadline_ms().unwrap_or(i64::MAX);
        let mut consider = |t: i64| next = next.min(t);
        if !self.in_flight.contains(&Pending::Metadata) {
            consider(self.metadata_due_ms);
        }
        if !self.stopped() && self.waiting_for.is_none() {
            consider(self.next_send_ms);
            if let Some(stop) = self.config.stop_ms {
                consider(stop);
            }
        }
        for queue in self.queues.values() {
            if let Some(front) = queue.front() {
                consider(
                    front
                        .retry_at_ms
                        .max(front.created_ms + self.config.linger_ms),
                );
                consider(front.created_ms + self.config.delivery_timeout_ms);
            }
        }
        Some(next.max(now + 1))
    }
}
