//! Checkers that judge a run from its histories and final state: acknowledged writes
//! the cluster lost, and records written more than once. (Order, consistent offsets,
//! group exclusivity and liveness are still to come.)

use std::collections::BTreeMap;

use kafkasim_core::protocol::TopicPartition;
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
