//! Checkers that judge a run from its histories and final state, after Jepsen's Kafka
//! workload: acknowledged writes the cluster lost, records written more than once, a
//! producer's records out of the order it sent them, one offset holding different values,
//! consumers' polls skipping or going back, reads above the high watermark, a partition
//! owned twice in one generation, commits ahead of processing. Liveness is judged by the
//! runner, which watches the cluster recover (`sim::run`).

use std::collections::BTreeMap;

use kafkasim_core::client::consumer::ConsumerHistory;
use kafkasim_core::protocol::{NodeId, TopicPartition};
use kafkasim_core::workload::{Outcome, WriteOp};

use crate::snapshot::{ClusterSnapshot, ReplicaSnapshot};

/// An acknowledged write that is not where it was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostWrite {
    pub value: String,
    pub tp: TopicPartition,
    pub offset: i64,
    pub acknowledged_ms: i64,
    /// What the leader's log holds at that offset now, if anything.
    pub found: Option<String>,
}

impl std::fmt::Display for LostWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::narrate::lost_write(self, crate::lang::Lang::En))
    }
}

/// Where a value was seen at an offset (inconsistent-offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Acknowledged,
    Polled { consumer: String, at_ms: i64 },
    InFinalLog,
}

/// How a producer's last write after the recovery ended (liveness).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastOutcome {
    Pending,
    Failed(&'static str),
    Unknown,
}

/// What a checker found, as data: the narrator says it in either language
/// (`crate::narrate::finding`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Lost(LostWrite),
    Duplicate(Duplicate),
    /// A broken replica invariant, and when.
    Violation(i64, kafkasim_core::invariants::Violation),
    /// One offset seen holding different values.
    Inconsistent {
        tp: TopicPartition,
        offset: i64,
        held: Vec<(String, Vec<Seen>)>,
    },
    /// A consumer's polls of a partition jumped forward (`skipped` from..=to).
    PollSkipped {
        consumer: String,
        tp: TopicPartition,
        offset: i64,
        at_ms: i64,
        next: i64,
        next_ms: i64,
    },
    PollWentBack {
        consumer: String,
        tp: TopicPartition,
        offset: i64,
        at_ms: i64,
        next: i64,
        next_ms: i64,
    },
    OwnedTwice {
        group: String,
        generation: i32,
        tp: TopicPartition,
        consumers: Vec<String>,
    },
    CommitAhead {
        consumer: String,
        group: String,
        tp: TopicPartition,
        offset: i64,
        kind: &'static str,
        at_ms: i64,
    },
    Redelivered {
        group: String,
        tp: TopicPartition,
        offset: i64,
        processed_by: String,
        processed_ms: i64,
        polled_by: String,
        polled_ms: i64,
    },
    OutOfOrder {
        tp: TopicPartition,
        earlier: String,
        earlier_offset: i64,
        later: String,
        later_offset: i64,
    },
    ReadAboveHw {
        consumer: String,
        tp: TopicPartition,
        offset: i64,
        value: String,
        at_ms: i64,
        high_watermark: i64,
    },
    ProducerStalled {
        producer: String,
        writes: usize,
        recovered_ms: i64,
        last: String,
        outcome: LastOutcome,
    },
    GroupNotStable {
        group: String,
        state: kafkasim_core::group::coordinator::GroupState,
    },
    NeverConsumed {
        group: String,
        value: String,
        tp: TopicPartition,
        offset: i64,
        acknowledged_ms: i64,
    },
    /// Liveness without a recovery: why the cluster was not whole at the end.
    NoLeaderAtEnd {
        tp: TopicPartition,
    },
    IsrShortAtEnd {
        tp: TopicPartition,
        leader: i32,
        isr: Vec<i32>,
        replicas: Vec<i32>,
    },
    BrokerDownAtEnd {
        broker: i32,
    },
    NotRecovered,
}

impl Finding {
    pub fn text(&self, lang: crate::lang::Lang) -> String {
        crate::narrate::finding(self, lang)
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(crate::lang::Lang::En))
    }
}

/// The replica each partition is judged on: its current leader, or without one the
/// replica with the longest log.
fn judged_replicas(snapshot: &ClusterSnapshot) -> BTreeMap<&TopicPartition, &ReplicaSnapshot> {
    snapshot
        .partitions
        .iter()
        .filter_map(|(tp, partition)| {
            let replica = partition
                .leader
                .and_then(|l| partition.replica_states.get(&l))
                .filter(|r| r.is_leader)
                .or_else(|| {
                    partition
                        .replica_states
                        .values()
                        .max_by_key(|r| r.log_end_offset)
                })?;
            Some((tp, replica))
        })
        .collect()
}

/// Every write acknowledged with an offset whose value the partition's current leader
/// does not hold at that offset, below its high watermark or anywhere. Partitions with
/// no leader are judged on the replica with the longest log.
pub fn lost_writes(history: &[WriteOp], snapshot: &ClusterSnapshot) -> Vec<LostWrite> {
    let logs: BTreeMap<&TopicPartition, BTreeMap<i64, &str>> = judged_replicas(snapshot)
        .into_iter()
        .map(|(tp, replica)| {
            let log = replica
                .records
                .iter()
                .map(|(o, v)| (*o, v.as_str()))
                .collect();
            (tp, log)
        })
        .collect();
    history
        .iter()
        .filter_map(|op| {
            let offset = op.acknowledged_offset()?;
            let found = logs.get(&op.tp).and_then(|log| log.get(&offset)).copied();
            if found == Some(op.value.as_str()) {
                return None;
            }
            let acknowledged_ms = match op.outcome {
                Outcome::Ok { completed_ms, .. } => completed_ms,
                _ => 0,
            };
            Some(LostWrite {
                value: op.value.clone(),
                tp: op.tp.clone(),
                offset,
                acknowledged_ms,
                found: found.map(str::to_string),
            })
        })
        .collect()
}

/// A record value found at more than one offset of a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub value: String,
    pub tp: TopicPartition,
    pub offsets: Vec<i64>,
}

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::narrate::duplicate(self, crate::lang::Lang::En))
    }
}

/// Values written more than once (every producer's values are unique, so a second copy
/// is a retry that was appended again), judged on the same replica as lost writes.
/// Kafka's internal topics are left out.
pub fn duplicates(snapshot: &ClusterSnapshot) -> Vec<Duplicate> {
    let mut found = Vec::new();
    for (tp, replica) in judged_replicas(snapshot) {
        if tp.topic.starts_with("__") {
            continue;
        }
        let mut offsets: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (offset, value) in &replica.records {
            offsets.entry(value).or_default().push(*offset);
        }
        found.extend(
            offsets
                .into_iter()
                .filter(|(_, o)| o.len() > 1)
                .map(|(value, offsets)| Duplicate {
                    value: value.to_string(),
                    tp: tp.clone(),
                    offsets,
                }),
        );
    }
    found
}

// ----- consumers: Jepsen's Kafka workload (kafka-facts.md section 8) -------------------

/// One (partition, offset) seen holding different values: by the producer's
/// acknowledgement, by consumers' polls, or in the final log (Jepsen's
/// `inconsistent-offsets`; an acknowledged write that a new leader replaced shows here).
pub fn inconsistent_offsets(
    writes: &[WriteOp],
    consumers: &BTreeMap<NodeId, ConsumerHistory>,
    snapshot: &ClusterSnapshot,
) -> Vec<Finding> {
    let mut seen: BTreeMap<(&TopicPartition, i64), BTreeMap<&str, Vec<Seen>>> = BTreeMap::new();
    for op in writes {
        if let Some(offset) = op.acknowledged_offset() {
            seen.entry((&op.tp, offset))
                .or_default()
                .entry(&op.value)
                .or_default()
                .push(Seen::Acknowledged);
        }
    }
    for history in consumers.values() {
        for r in &history.polled {
            let sources = seen.entry((&r.tp, r.offset)).or_default();
            let list = sources.entry(&r.value).or_default();
            if !list.iter().any(|w| matches!(w, Seen::Polled { .. })) {
                list.push(Seen::Polled {
                    consumer: history.client_id.clone(),
                    at_ms: r.time_ms,
                });
            }
        }
    }
    for (tp, replica) in judged_replicas(snapshot) {
        for (offset, value) in &replica.records {
            if let Some(sources) = seen.get_mut(&(tp, *offset)) {
                sources.entry(value).or_default().push(Seen::InFinalLog);
            }
        }
    }
    seen.into_iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|((tp, offset), values)| Finding::Inconsistent {
            tp: tp.clone(),
            offset,
            held: values
                .into_iter()
                .map(|(v, how)| (v.to_string(), how))
                .collect(),
        })
        .collect()
}

/// Each consumer's polls of a partition, between two reassignments, go forward one
/// offset at a time: a jump is a skip (records never delivered to it), a step back a
/// nonmonotonic poll (Jepsen's `poll-skip` and `nonmonotonic-poll`).
pub fn poll_order(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<Finding> {
    let mut found = Vec::new();
    for history in consumers.values() {
        let mut last: BTreeMap<&TopicPartition, (i64, i64)> = BTreeMap::new();
        for r in &history.polled {
            if let Some(&(offset, time)) = last.get(&r.tp) {
                let reassigned = history
                    .assignments
                    .iter()
                    .any(|(t, _, _)| *t >= time && *t <= r.time_ms);
                if !reassigned && r.offset != offset + 1 {
                    let (consumer, tp) = (history.client_id.clone(), r.tp.clone());
                    let (next, next_ms, at_ms) = (r.offset, r.time_ms, time);
                    found.push(if r.offset > offset {
                        Finding::PollSkipped {
                            consumer,
                            tp,
                            offset,
                            at_ms,
                            next,
                            next_ms,
                        }
                    } else {
                        Finding::PollWentBack {
                            consumer,
                            tp,
                            offset,
                            at_ms,
                            next,
                            next_ms,
                        }
                    });
                }
            }
            last.insert(&r.tp, (r.offset, r.time_ms));
        }
    }
    found
}

/// No partition is owned by two members of one group in one generation.
pub fn group_exclusivity(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<Finding> {
    let mut owners: BTreeMap<(&str, i32, &TopicPartition), Vec<NodeId>> = BTreeMap::new();
    for (node, history) in consumers {
        let Some(group) = history.group.as_deref() else {
            continue;
        };
        let mut counted: std::collections::BTreeSet<(i32, &TopicPartition)> = Default::default();
        for (_, generation, partitions) in &history.assignments {
            for tp in partitions {
                if counted.insert((*generation, tp)) {
                    owners
                        .entry((group, *generation, tp))
                        .or_default()
                        .push(*node);
                }
            }
        }
    }
    owners
        .into_iter()
        .filter(|(_, nodes)| nodes.len() > 1)
        .map(|((group, generation, tp), nodes)| Finding::OwnedTwice {
            group: group.to_string(),
            generation,
            tp: tp.clone(),
            consumers: nodes
                .iter()
                .map(|n| consumers[n].client_id.clone())
                .collect(),
        })
        .collect()
}

/// A successful commit of offset O for a partition is ahead of what was consumed when
/// a member of the group polled O-1 but no member had finished processing it by the
/// commit: the record is skipped if the group restarts there (at-most-once).
pub fn commits_ahead(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<Finding> {
    let mut found = Vec::new();
    for history in consumers.values() {
        let Some(group) = history.group.as_deref() else {
            continue;
        };
        let members: Vec<&ConsumerHistory> = consumers
            .values()
            .filter(|h| h.group.as_deref() == Some(group))
            .collect();
        for commit in history.commits.iter().filter(|c| c.outcome == Some(Ok(()))) {
            for (tp, offset) in &commit.offsets {
                let previous = offset - 1;
                let polled = members.iter().any(|h| {
                    h.polled.iter().any(|r| {
                        &r.tp == tp && r.offset == previous && r.time_ms <= commit.invoked_ms
                    })
                });
                let processed = members.iter().any(|h| {
                    h.processed.iter().any(|r| {
                        &r.tp == tp && r.offset == previous && r.time_ms <= commit.invoked_ms
                    })
                });
                if polled && !processed {
                    found.push(Finding::CommitAhead {
                        consumer: history.client_id.clone(),
                        group: group.to_string(),
                        tp: tp.clone(),
                        offset: *offset,
                        kind: commit.kind,
                        at_ms: commit.invoked_ms,
                    });
                }
            }
        }
    }
    found
}

/// A record a member of a group had processed, polled again by a member of that group
/// (itself or another, after a rebalance): at-least-once delivery, what a group's
/// restart from a committed offset behind its processing gives. Not a bug; lessons
/// expect it to be found ("fail") to show redelivery.
pub fn redelivered(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<Finding> {
    let mut processed: BTreeMap<(&str, &TopicPartition, i64), (NodeId, i64)> = BTreeMap::new();
    for (node, history) in consumers {
        let Some(group) = history.group.as_deref() else {
            continue;
        };
        for r in &history.processed {
            let first = processed
                .entry((group, &r.tp, r.offset))
                .or_insert((*node, r.time_ms));
            if r.time_ms < first.1 {
                *first = (*node, r.time_ms);
            }
        }
    }
    let mut found = Vec::new();
    for history in consumers.values() {
        let Some(group) = history.group.as_deref() else {
            continue;
        };
        for r in &history.polled {
            if let Some((by, at)) = processed.get(&(group, &r.tp, r.offset))
                && *at < r.time_ms
            {
                found.push(Finding::Redelivered {
                    group: group.to_string(),
                    tp: r.tp.clone(),
                    offset: r.offset,
                    processed_by: consumers
                        .get(by)
                        .map_or("?".to_string(), |h| h.client_id.clone()),
                    processed_ms: *at,
                    polled_by: history.client_id.clone(),
                    polled_ms: r.time_ms,
                });
            }
        }
    }
    found
}

/// The send number of a scenario producer's value `p<N>-<n>`: (producer, n).
fn send_number(value: &str) -> Option<(&str, u64)> {
    let (producer, n) = value.rsplit_once('-')?;
    Some((producer, n.parse().ok()?))
}

/// Each producer's acknowledged records of a partition sit in the order it sent them
/// (Jepsen's `nonmonotonic-send`): a record sent later at a lower offset is a reorder,
/// what retries with several requests in flight and no idempotence can cause.
pub fn producer_order(history: &[WriteOp]) -> Vec<Finding> {
    // (send number, acknowledged offset, value) by producer and partition.
    type Sends<'a> = Vec<(u64, i64, &'a str)>;
    let mut acked: BTreeMap<(&str, &TopicPartition), Sends<'_>> = BTreeMap::new();
    for w in history {
        if let (Some((producer, n)), Some(offset)) =
            (send_number(&w.value), w.acknowledged_offset())
        {
            acked
                .entry((producer, &w.tp))
                .or_default()
                .push((n, offset, &w.value));
        }
    }
    let mut found = Vec::new();
    for ((_, tp), mut sends) in acked {
        sends.sort_unstable();
        for pair in sends.windows(2) {
            let ((_, earlier_offset, earlier), (_, later_offset, later)) = (pair[0], pair[1]);
            if later_offset < earlier_offset {
                found.push(Finding::OutOfOrder {
                    tp: tp.clone(),
                    earlier: earlier.to_string(),
                    earlier_offset,
                    later: later.to_string(),
                    later_offset,
                });
            }
        }
    }
    found
}

/// No consumer was given a record at or above the high watermark its fetch answer
/// carried: a consumer may read only committed records.
pub fn reads_above_hw(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<Finding> {
    consumers
        .values()
        .flat_map(|history| {
            history
                .polled
                .iter()
                .filter(|r| r.offset >= r.high_watermark)
                .map(move |r| Finding::ReadAboveHw {
                    consumer: history.client_id.clone(),
                    tp: r.tp.clone(),
                    offset: r.offset,
                    value: r.value.clone(),
                    at_ms: r.time_ms,
                    high_watermark: r.high_watermark,
                })
        })
        .collect()
}

/// How long a running producer may go without an acknowledged write after the cluster
/// is whole again (its batches wait at most a retry backoff, a metadata refresh and an
/// answer).
pub const PRODUCE_BOUND_MS: i64 = 15_000;

/// The producer side of liveness: once the cluster is whole again at `recovered_ms`,
/// every producer still sending gets writes acknowledged. A producer that sent writes
/// after the recovery, more than [`PRODUCE_BOUND_MS`] before the end, none of which was
/// acknowledged, is stuck (a wedged idempotent producer retrying OUT_OF_ORDER_SEQUENCE_NUMBER
/// for ever is).
pub fn producers_stalled(writes: &[WriteOp], recovered_ms: i64, end_ms: i64) -> Vec<Finding> {
    let mut sent: BTreeMap<&str, Vec<&WriteOp>> = BTreeMap::new();
    for w in writes {
        if w.invoked_ms >= recovered_ms && w.invoked_ms + PRODUCE_BOUND_MS <= end_ms {
            let producer = send_number(&w.value).map_or("producer", |(p, _)| p);
            sent.entry(producer).or_default().push(w);
        }
    }
    sent.into_iter()
        .filter(|(_, ws)| !ws.iter().any(|w| matches!(w.outcome, Outcome::Ok { .. })))
        .map(|(producer, ws)| {
            let last = ws.last().expect("listed");
            let outcome = match &last.outcome {
                Outcome::Pending => LastOutcome::Pending,
                Outcome::Failed { code, .. } => LastOutcome::Failed(code),
                Outcome::Unknown { .. } => LastOutcome::Unknown,
                Outcome::Ok { .. } => unreachable!("filtered"),
            };
            Finding::ProducerStalled {
                producer: producer.to_string(),
                writes: ws.len(),
                recovered_ms,
                last: last.value.clone(),
                outcome,
            }
        })
        .collect()
}

/// How long an acknowledged record may wait to be consumed before liveness counts it
/// as never consumed (a group's rebalance after a crash waits `session.timeout.ms`).
pub const CONSUME_BOUND_MS: i64 = 15_000;

/// The consumer side of liveness at the end of a run: every group with members is
/// Stable, and each group has polled every acknowledged record still in the log of each
/// partition it owns, from the first offset it polled there on, unless the record was
/// acknowledged within [`CONSUME_BOUND_MS`] of the end.
pub fn groups_unfinished(
    writes: &[WriteOp],
    consumers: &BTreeMap<NodeId, ConsumerHistory>,
    snapshot: &ClusterSnapshot,
    end_ms: i64,
) -> Vec<Finding> {
    let judged = judged_replicas(snapshot);
    let mut found = Vec::new();
    for (group, g) in &snapshot.groups {
        if g.members.is_empty() {
            continue;
        }
        if g.state != kafkasim_core::group::coordinator::GroupState::Stable {
            found.push(Finding::GroupNotStable {
                group: group.clone(),
                state: g.state,
            });
            continue;
        }
        // What the group's members polled: the first offset of each partition, and values.
        let mut first: BTreeMap<&TopicPartition, i64> = BTreeMap::new();
        let mut polled: BTreeMap<&TopicPartition, std::collections::BTreeSet<&str>> =
            BTreeMap::new();
        for history in consumers
            .values()
            .filter(|h| h.group.as_deref() == Some(group))
        {
            for r in &history.polled {
                let f = first.entry(&r.tp).or_insert(r.offset);
                *f = (*f).min(r.offset);
                polled.entry(&r.tp).or_default().insert(&r.value);
            }
        }
        for tp in g.members.values().flatten() {
            let (Some(&from), Some(replica)) = (first.get(tp), judged.get(tp)) else {
                continue;
            };
            for w in writes.iter().filter(|w| &w.tp == tp) {
                let (Some(offset), Outcome::Ok { completed_ms, .. }) =
                    (w.acknowledged_offset(), &w.outcome)
                else {
                    continue;
                };
                let in_log = replica
                    .records
                    .binary_search_by_key(&offset, |(o, _)| *o)
                    .is_ok_and(|i| replica.records[i].1 == w.value);
                if offset >= from
                    && in_log
                    && *completed_ms <= end_ms - CONSUME_BOUND_MS
                    && !polled.get(tp).is_some_and(|p| p.contains(w.value.as_str()))
                {
                    found.push(Finding::NeverConsumed {
                        group: group.clone(),
                        value: w.value.clone(),
                        tp: (*tp).clone(),
                        offset,
                        acknowledged_ms: *completed_ms,
                    });
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use kafkasim_core::client::consumer::ConsumedRecord;

    use super::*;

    /// The findings as the English report says them.
    fn texts(findings: Vec<Finding>) -> Vec<String> {
        findings.iter().map(ToString::to_string).collect()
    }

    fn write(value: &str, offset: i64) -> WriteOp {
        WriteOp {
            value: value.to_string(),
            tp: TopicPartition::new("orders", 0),
            leader: 1,
            invoked_ms: 0,
            outcome: Outcome::Ok {
                offset: Some(offset),
                completed_ms: 1,
            },
        }
    }

    #[test]
    fn producer_order_names_a_record_written_before_one_sent_earlier() {
        let in_order = [write("p1-0", 0), write("p1-1", 1), write("p2-0", 2)];
        assert!(producer_order(&in_order).is_empty());
        // p1-1's first attempt failed and its retry landed after p1-2.
        let reordered = [write("p1-0", 0), write("p1-2", 1), write("p1-1", 2)];
        assert_eq!(
            texts(producer_order(&reordered)),
            ["p1-2 was sent after p1-1 but written before it: orders-0@1 < @2"]
        );
    }

    #[test]
    fn reads_above_hw_names_an_uncommitted_record_given_to_a_consumer() {
        let record = |offset, high_watermark| ConsumedRecord {
            tp: TopicPartition::new("orders", 0),
            offset,
            value: format!("v{offset}"),
            time_ms: 5,
            high_watermark,
        };
        let history = ConsumerHistory {
            client_id: "worker-1".into(),
            polled: vec![record(0, 2), record(1, 2)],
            ..ConsumerHistory::default()
        };
        let mut consumers = BTreeMap::from([(30_001, history)]);
        assert!(reads_above_hw(&consumers).is_empty());
        consumers
            .get_mut(&30_001)
            .unwrap()
            .polled
            .push(record(2, 2));
        assert_eq!(
            texts(reads_above_hw(&consumers)),
            [
                "consumer worker-1 polled orders-0@2 (v2) at 5 ms, at or above the HW 2 its fetch answer gave"
            ]
        );
    }

    #[test]
    fn producers_stalled_names_a_producer_whose_writes_after_the_recovery_never_land() {
        let sent = |value: &str, invoked_ms: i64, outcome: Outcome| WriteOp {
            invoked_ms,
            outcome,
            ..write(value, 0)
        };
        let acked = |ms| Outcome::Ok {
            offset: Some(0),
            completed_ms: ms,
        };
        let writes = [
            sent("p1-0", 1_000, acked(1_010)),
            sent("p1-1", 30_000, acked(30_020)),
            sent("p2-0", 1_000, acked(1_010)),
            sent("p2-1", 30_000, Outcome::Pending),
            sent(
                "p2-2",
                31_000,
                Outcome::Unknown {
                    completed_ms: 40_000,
                },
            ),
            // Too close to the end to be judged.
            sent("p3-0", 55_000, Outcome::Pending),
        ];
        assert_eq!(
            texts(producers_stalled(&writes, 20_000, 60_000)),
            [
                "producer p2 got none of its 2 writes sent after the cluster was whole again at 20000 ms acknowledged (the last, p2-2, ended unknown)"
            ]
        );
        assert!(producers_stalled(&writes[..2], 20_000, 60_000).is_empty());
    }
}
