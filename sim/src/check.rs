//! Checkers that judge a run from its histories and final state, after Jepsen's Kafka
//! workload: acknowledged writes the cluster lost, records written more than once, one
//! offset holding different values, consumers' polls skipping or going back, a partition
//! owned twice in one generation, commits ahead of processing. Liveness is judged by the
//! runner, which watches the cluster recover (`sim::run`).

use std::collections::BTreeMap;

use kafkasim_core::client::consumer::ConsumerHistory;
use kafkasim_core::protocol::{NodeId, TopicPartition};
use kafkasim_core::workload::WriteOp;

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
        match &self.found {
            Some(other) => write!(
                f,
                "{} acknowledged at {}@{} ({} ms) was replaced by {other}",
                self.value, self.tp, self.offset, self.acknowledged_ms
            ),
            None => write!(
                f,
                "{} acknowledged at {}@{} ({} ms) is gone: the log ends before it",
                self.value, self.tp, self.offset, self.acknowledged_ms
            ),
        }
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
                kafkasim_core::workload::Outcome::Ok { completed_ms, .. } => completed_ms,
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
        let offsets: Vec<String> = self.offsets.iter().map(i64::to_string).collect();
        write!(
            f,
            "{} is in {} {} times, at offsets {}",
            self.value,
            self.tp,
            self.offsets.len(),
            offsets.join(", ")
        )
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
) -> Vec<String> {
    let mut seen: BTreeMap<(&TopicPartition, i64), BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for op in writes {
        if let Some(offset) = op.acknowledged_offset() {
            seen.entry((&op.tp, offset))
                .or_default()
                .entry(&op.value)
                .or_default()
                .push("acknowledged".to_string());
        }
    }
    for (node, history) in consumers {
        for r in &history.polled {
            let who = format!("polled by consumer {node} at {} ms", r.time_ms);
            let sources = seen.entry((&r.tp, r.offset)).or_default();
            let list = sources.entry(&r.value).or_default();
            if !list.iter().any(|w| w.starts_with("polled")) {
                list.push(who);
            }
        }
    }
    for (tp, replica) in judged_replicas(snapshot) {
        for (offset, value) in &replica.records {
            if let Some(sources) = seen.get_mut(&(tp, *offset)) {
                sources
                    .entry(value)
                    .or_default()
                    .push("in the final log".to_string());
            }
        }
    }
    seen.into_iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|((tp, offset), values)| {
            let held: Vec<String> = values
                .iter()
                .map(|(v, how)| format!("{v} ({})", how.join(", ")))
                .collect();
            format!("{tp}@{offset} held {}", held.join(" and "))
        })
        .collect()
}

/// Each consumer's polls of a partition, between two reassignments, go forward one
/// offset at a time: a jump is a skip (records never delivered to it), a step back a
/// nonmonotonic poll (Jepsen's `poll-skip` and `nonmonotonic-poll`).
pub fn poll_order(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<String> {
    let mut found = Vec::new();
    for (node, history) in consumers {
        let mut last: BTreeMap<&TopicPartition, (i64, i64)> = BTreeMap::new();
        for r in &history.polled {
            if let Some(&(offset, time)) = last.get(&r.tp) {
                let reassigned = history
                    .assignments
                    .iter()
                    .any(|(t, _, _)| *t >= time && *t <= r.time_ms);
                if !reassigned && r.offset != offset + 1 {
                    found.push(if r.offset > offset {
                        format!(
                            "consumer {node} polled {}@{offset} at {time} ms, then @{} at {} ms: it skipped {}..{}",
                            r.tp,
                            r.offset,
                            r.time_ms,
                            offset + 1,
                            r.offset - 1
                        )
                    } else {
                        format!(
                            "consumer {node} polled {}@{offset} at {time} ms, then went back to @{} at {} ms",
                            r.tp, r.offset, r.time_ms
                        )
                    });
                }
            }
            last.insert(&r.tp, (r.offset, r.time_ms));
        }
    }
    found
}

/// No partition is owned by two members of one group in one generation.
pub fn group_exclusivity(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<String> {
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
        .map(|((group, generation, tp), nodes)| {
            let nodes: Vec<String> = nodes.iter().map(NodeId::to_string).collect();
            format!(
                "group {group} generation {generation}: {tp} owned by consumers {}",
                nodes.join(" and ")
            )
        })
        .collect()
}

/// A successful commit of offset O for a partition is ahead of what was consumed when
/// a member of the group polled O-1 but no member had finished processing it by the
/// commit: the record is skipped if the group restarts there (at-most-once).
pub fn commits_ahead(consumers: &BTreeMap<NodeId, ConsumerHistory>) -> Vec<String> {
    let mut found = Vec::new();
    for (node, history) in consumers {
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
                    found.push(format!(
                        "consumer {node} of group {group} committed {tp}@{offset} ({}) at {} ms before offset {previous} was processed",
                        commit.kind, commit.invoked_ms
                    ));
                }
            }
        }
    }
    found
}
