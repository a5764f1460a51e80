//! The first of the checkers: acknowledged writes that the cluster lost. The full set
//! (duplicates, order, consistent offsets, liveness) comes with the scenario issue.

use std::collections::BTreeMap;

use kafkasim_core::protocol::TopicPartition;
use kafkasim_core::workload::WriteOp;

use crate::snapshot::ClusterSnapshot;

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

/// Every write acknowledged with an offset whose value the partition's current leader
/// does not hold at that offset, below its high watermark or anywhere. Partitions with
/// no leader are judged on the replica with the longest log.
pub fn lost_writes(history: &[WriteOp], snapshot: &ClusterSnapshot) -> Vec<LostWrite> {
    let mut logs: BTreeMap<&TopicPartition, BTreeMap<i64, &str>> = BTreeMap::new();
    for (tp, partition) in &snapshot.partitions {
        let replica = partition
            .leader
            .and_then(|l| partition.replica_states.get(&l))
            .filter(|r| r.is_leader)
            .or_else(|| {
                partition
                    .replica_states
                    .values()
                    .max_by_key(|r| r.log_end_offset)
            });
        if let Some(replica) = replica {
            logs.insert(
                tp,
                replica
                    .records
                    .iter()
                    .map(|(o, v)| (*o, v.as_str()))
                    .collect(),
            );
        }
    }
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
