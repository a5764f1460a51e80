//! A minimal test producer: it writes unique values round-robin over a topic's
//! partitions, at a fixed interval or as fast as `max_in_flight` allows, to the leader
//! its metadata names, and records every write with its outcome. No retries: each value
//! is sent once, so the history says exactly what was acknowledged. The full producer
//! (batching, retries, idempotence) is the client issue's.

use crate::actor::Actor;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::partition::Acks;
use crate::protocol::{
    Message, MetadataResponse, NodeId, ProduceRequest, ProduceResponse, TopicPartition,
};
use crate::record::Record;
use crate::replication::BrokerId;
pub use crate::writes::{Outcome, WriteOp};

/// This module's actors tell the narration [`crate::event::Event`]s.
type Outbox = crate::actor::Outbox<crate::event::Event>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    pub topic: String,
    pub partitions: u32,
    pub acks: Acks,
    /// Time between two sends; 0 sends whenever `max_in_flight` allows.
    pub interval_ms: i64,
    /// `max.in.flight.requests.per.connection`, per partition here.
    pub max_in_flight: usize,
    /// Records per produce request.
    pub records_per_request: usize,
    /// `request.timeout.ms`: the broker's acks=all wait, and after it (plus a margin
    /// for the network) the producer gives up and the outcome is unknown.
    pub request_timeout_ms: i64,
    /// Brokers asked for metadata, in turn.
    pub bootstrap: Vec<BrokerId>,
    /// Values are `<prefix>-<n>`.
    pub value_prefix: String,
    /// Stop sending at this sim time.
    pub stop_ms: Option<i64>,
    /// Keep one history entry per record (off for benchmarks: counters only).
    pub record_history: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            topic: "orders".to_string(),
            partitions: 1,
            acks: Acks::All,
            interval_ms: 100,
            max_in_flight: 5,
            records_per_request: 1,
            request_timeout_ms: 30_000,
            bootstrap: vec![1],
            value_prefix: "v".to_string(),
            stop_ms: None,
            record_history: true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    pub sent: u64,
    pub acknowledged: u64,
    pub failed: u64,
    pub unknown: u64,
}

#[derive(Clone, Debug)]
struct InFlight {
    tp: TopicPartition,
    broker: BrokerId,
    /// Indexes into the history (empty without history).
    ops: Vec<usize>,
    records: usize,
    give_up_ms: i64,
}

/// The producer.
#[derive(Clone, Debug)]
pub struct TestProducer {
    config: ProducerConfig,
    leaders: BTreeMap<TopicPartition, BrokerId>,
    history: Vec<WriteOp>,
    stats: ProducerStats,
    in_flight: BTreeMap<u64, InFlight>,
    next_correlation: u64,
    next_value: u64,
    next_partition: u32,
    next_send_ms: i64,
    metadata_pending: Option<i64>,
    /// The broker asked for metadata.
    metadata_to: Option<BrokerId>,
    next_bootstrap: usize,
    refresh_metadata: bool,
    /// `retry.backoff.ms` after metadata that lacked leaders.
    metadata_retry_ms: Option<i64>,
}

/// `retry.backoff.ms`
const RETRY_BACKOFF_MS: i64 = 100;

/// How long past `request.timeout.ms` the producer waits before it calls a write unknown.
const NETWORK_MARGIN_MS: i64 = 1_000;

impl TestProducer {
    pub fn new(config: ProducerConfig, now_ms: i64) -> TestProducer {
        TestProducer {
            config,
            leaders: BTreeMap::new(),
            history: Vec::new(),
            stats: ProducerStats::default(),
            in_flight: BTreeMap::new(),
            next_correlation: 1,
            next_value: 0,
            next_partition: 0,
            next_send_ms: now_ms,
            metadata_pending: None,
            metadata_to: None,
            next_bootstrap: 0,
            refresh_metadata: true,
            metadata_retry_ms: None,
        }
    }

    pub fn history(&self) -> &[WriteOp] {
        &self.history
    }

    pub fn stats(&self) -> &ProducerStats {
        &self.stats
    }

    fn request_metadata(&mut self, now_ms: i64, out: &mut Outbox) {
        if self.metadata_pending.is_some()
            || self.config.bootstrap.is_empty()
            || self.metadata_retry_ms.is_some_and(|at| at > now_ms)
        {
            return;
        }
        self.metadata_retry_ms = None;
        let broker = self.config.bootstrap[self.next_bootstrap % self.config.bootstrap.len()];
        self.next_bootstrap += 1;
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        self.metadata_pending = Some(now_ms + 1_000);
        self.metadata_to = Some(broker);
        self.refresh_metadata = false;
        out.send(broker, Message::Metadata { correlation_id });
    }

    fn on_metadata(&mut self, response: MetadataResponse, now_ms: i64) {
        self.metadata_pending = None;
        self.leaders = response
            .partitions
            .into_iter()
            .filter(|(tp, _)| tp.topic == self.config.topic)
            .filter_map(|(tp, p)| p.leader.map(|l| (tp, l)))
            .collect();
        if self.leaders.len() < self.config.partitions as usize {
            self.refresh_metadata = true;
            self.metadata_retry_ms = Some(now_ms + RETRY_BACKOFF_MS);
        }
    }

    fn in_flight_for(&self, tp: &TopicPartition) -> usize {
        self.in_flight.values().filter(|f| &f.tp == tp).count()
    }

    fn stopped(&self, now_ms: i64) -> bool {
        self.config.stop_ms.is_some_and(|stop| now_ms >= stop)
    }

    /// Sends what the pacing allows now.
    fn send_due(&mut self, now_ms: i64, out: &mut Outbox) {
        if self.stopped(now_ms) || self.config.partitions == 0 {
            return;
        }
        // With an interval, one send per tick; at full speed, fill every partition's window.
        let mut budget = if self.config.interval_ms > 0 {
            if now_ms < self.next_send_ms {
                return;
            }
            self.next_send_ms = now_ms + self.config.interval_ms;
            1
        } else {
            self.config.partitions as usize * self.config.max_in_flight
        };
        let mut tried = 0;
        while budget > 0 && tried < self.config.partitions {
            let tp = TopicPartition::new(&self.config.topic, self.next_partition);
            self.next_partition = (self.next_partition + 1) % self.config.partitions;
            tried += 1;
            let Some(&leader) = self.leaders.get(&tp) else {
                self.refresh_metadata = true;
                continue;
            };
            if self.in_flight_for(&tp) >= self.config.max_in_flight {
                continue;
            }
            self.send(tp, leader, now_ms, out);
            budget -= 1;
            if self.config.interval_ms == 0 {
                tried = 0;
            }
        }
    }

    fn send(&mut self, tp: TopicPartition, leader: BrokerId, now_ms: i64, out: &mut Outbox) {
        let mut records = Vec::with_capacity(self.config.records_per_request);
        let mut ops = Vec::new();
        for _ in 0..self.config.records_per_request {
            let value = format!("{}-{}", self.config.value_prefix, self.next_value);
            self.next_value += 1;
            records.push(Record {
                timestamp: now_ms,
                key: None,
                value: Some(Bytes::from(value.clone().into_bytes())),
            });
            if self.config.record_history {
                ops.push(self.history.len());
                self.history.push(WriteOp {
                    value,
                    tp: tp.clone(),
                    leader,
                    invoked_ms: now_ms,
                    outcome: Outcome::Pending,
                });
            }
        }
        let count = records.len();
        self.stats.sent += count as u64;
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        out.send(
            leader,
            Message::Produce(ProduceRequest {
                correlation_id,
                tp: tp.clone(),
                records,
                acks: self.config.acks,
                timeout_ms: self.config.request_timeout_ms,
                producer: None,
            }),
        );
        if self.config.acks == Acks::None {
            // acks=0: the producer learns nothing more; the offset is unknown (-1).
            self.stats.acknowledged += count as u64;
            for &i in &ops {
                self.history[i].outcome = Outcome::Ok {
                    offset: None,
                    completed_ms: now_ms,
                };
            }
            return;
        }
        self.in_flight.insert(
            correlation_id,
            InFlight {
                tp,
                broker: leader,
                ops,
                records: count,
                give_up_ms: now_ms + self.config.request_timeout_ms + NETWORK_MARGIN_MS,
            },
        );
    }

    /// The connection to `broker` broke: its requests in flight may or may not have
    /// been written, and the answer will never come.
    fn on_connection_lost(&mut self, broker: BrokerId, now_ms: i64) {
        self.give_up_where(|f| f.broker == broker, now_ms);
        if self.metadata_to == Some(broker) {
            self.metadata_pending = None;
        }
        self.refresh_metadata = true;
    }

    /// Gives up on the requests in flight that `which` picks: their outcome is unknown.
    fn give_up_where(&mut self, which: impl Fn(&InFlight) -> bool, now_ms: i64) {
        let abandoned: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| which(f))
            .map(|(&c, _)| c)
            .collect();
        for correlation_id in abandoned {
            let flight = self
                .in_flight
                .remove(&correlation_id)
                .expect("listed above");
            self.stats.unknown += flight.records as u64;
            self.leaders.remove(&flight.tp);
            self.refresh_metadata = true;
            for &i in &flight.ops {
                self.history[i].outcome = Outcome::Unknown {
                    completed_ms: now_ms,
                };
            }
        }
    }

    fn on_produce_reply(&mut self, reply: ProduceResponse, now_ms: i64) {
        let Some(flight) = self.in_flight.remove(&reply.correlation_id) else {
            return;
        };
        match reply.result {
            Ok(base) => {
                self.stats.acknowledged += flight.records as u64;
                for (n, &i) in flight.ops.iter().enumerate() {
                    self.history[i].outcome = Outcome::Ok {
                        offset: Some(base + n as i64),
                        completed_ms: now_ms,
                    };
                }
            }
            Err(error) => {
                self.stats.failed += flight.records as u64;
                let code = error.code();
                if matches!(
                    code,
                    "NOT_LEADER_OR_FOLLOWER" | "UNKNOWN_TOPIC_OR_PARTITION" | "FENCED_LEADER_EPOCH"
                ) {
                    self.leaders.remove(&flight.tp);
                    self.refresh_metadata = true;
                }
                for &i in &flight.ops {
                    self.history[i].outcome = Outcome::Failed {
                        code,
                        completed_ms: now_ms,
                    };
                }
            }
        }
    }
}

impl Actor for TestProducer {
    type Event = crate::event::Event;

    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox) {
        match message {
            Message::ConnectionLost => self.on_connection_lost(from, now_ms),
            Message::MetadataReply(response) => self.on_metadata(response, now_ms),
            Message::ProduceReply(reply) => self.on_produce_reply(reply, now_ms),
            _ => {}
        }
        if self.config.interval_ms == 0 {
            self.send_due(now_ms, out);
        }
        if self.refresh_metadata {
            self.request_metadata(now_ms, out);
        }
    }

    fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        self.give_up_where(|f| f.give_up_ms <= now_ms, now_ms);
        if self.metadata_pending.is_some_and(|at| at <= now_ms) {
            // The metadata request got no answer: ask the next broker.
            self.metadata_pending = None;
            self.refresh_metadata = true;
        }
        self.send_due(now_ms, out);
        if self.refresh_metadata {
            self.request_metadata(now_ms, out);
        }
    }

    fn next_timer_ms(&self) -> Option<i64> {
        let give_up = self.in_flight.values().map(|f| f.give_up_ms).min();
        let send = (self.config.interval_ms > 0
            && self.config.stop_ms.is_none_or(|s| self.next_send_ms < s))
        .then_some(self.next_send_ms);
        // Without an interval, sends follow replies. Metadata is due at once when needed
        // (the first request, after an error), or after retry.backoff.ms when the last
        // answer lacked leaders.
        let metadata = match self.metadata_pending {
            Some(deadline) => Some(deadline),
            None if self.refresh_metadata => {
                Some(self.metadata_retry_ms.unwrap_or(self.next_send_ms))
            }
            None => None,
        };
        [give_up, send, metadata].into_iter().flatten().min()
    }
}
