//! The replica invariants, defined once: sim's checker runs them after every step of a
//! simulation, core's own cluster harness after every delivery. They are Kafka's
//! guarantees between replicas, stated over the brokers' state; a violation is a bug in
//! a rule (or what a lesson run under the pre-0.11 rule sets out to show).

use std::collections::{BTreeMap, BTreeSet};

use crate::broker::Broker;
use crate::ids::TopicPartition;
use crate::partition::Partition;
use crate::record;
use crate::replication::BrokerId;

/// A broken replica invariant (the narrator says it in words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    HwAboveLeo {
        broker: BrokerId,
        tp: TopicPartition,
        high_watermark: i64,
        log_end_offset: i64,
    },
    LeaderNotInIsr {
        broker: BrokerId,
        tp: TopicPartition,
        isr: BTreeSet<BrokerId>,
    },
    IsrOutsideReplicas {
        tp: TopicPartition,
        isr: BTreeSet<BrokerId>,
        broker: BrokerId,
    },
    /// A follower's log differs from its leader's below the follower's HW.
    LogsDiffer {
        broker: BrokerId,
        tp: TopicPartition,
        leader: BrokerId,
        offset: i64,
        high_watermark: i64,
    },
}

/// For each follower replica, the prefix of its log already found equal to its leader's,
/// and under which conditions that still holds: the same leader and epoch, and neither
/// log cut since (a leader never cuts its log within its epoch; a follower's cut, or a
/// restart that recovered a shorter log, starts the comparison over).
#[derive(Default)]
pub struct VerifiedLogs(BTreeMap<(BrokerId, TopicPartition), (VerifiedUnder, i64)>);

#[derive(Clone, Copy, PartialEq, Eq)]
struct VerifiedUnder {
    leader: BrokerId,
    leader_epoch: i32,
    follower_truncations: u64,
    leader_truncations: u64,
}

/// The replica invariants: HW <= LEO; a leader is in its own ISR; the ISR is within the
/// replicas; a follower of the newest leader holds the leader's log below its own HW.
pub fn violations(brokers: &[&Broker], verified: &mut VerifiedLogs) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut leaders: BTreeMap<&TopicPartition, (i32, &Broker)> = BTreeMap::new();
    for broker in brokers {
        for (tp, replica) in broker.replicas() {
            let p = &replica.partition;
            if p.high_watermark() > p.log_end_offset() {
                violations.push(Violation::HwAboveLeo {
                    broker: broker.id(),
                    tp: tp.clone(),
                    high_watermark: p.high_watermark(),
                    log_end_offset: p.log_end_offset(),
                });
            }
            if let Some(isr) = p.isr() {
                if !isr.contains(&broker.id()) {
                    violations.push(Violation::LeaderNotInIsr {
                        broker: broker.id(),
                        tp: tp.clone(),
                        isr: isr.clone(),
                    });
                }
                if let Some(outside) = isr.iter().find(|b| !replica.assignment.contains(b)) {
                    violations.push(Violation::IsrOutsideReplicas {
                        tp: tp.clone(),
                        isr: isr.clone(),
                        broker: *outside,
                    });
                }
                let epoch = p.leader_epoch();
                if leaders.get(tp).is_none_or(|(e, _)| *e < epoch) {
                    leaders.insert(tp, (epoch, broker));
                }
            }
        }
    }
    for broker in brokers {
        for (tp, replica) in broker.replicas() {
            let p = &replica.partition;
            let Some((epoch, leader)) = leaders.get(tp) else {
                continue;
            };
            // A follower is judged once its leader has answered it in this epoch: until
            // then it may hold what truncation is about to remove.
            if p.is_leader()
                || p.leader() != Some(leader.id())
                || p.leader_epoch() != *epoch
                || !p.fetched_in_epoch()
            {
                continue;
            }
            let leader_partition = &leader.replicas()[tp].partition;
            let key = (broker.id(), tp.clone());
            let under = VerifiedUnder {
                leader: leader.id(),
                leader_epoch: *epoch,
                follower_truncations: p.truncations(),
                leader_truncations: leader_partition.truncations(),
            };
            let from = match verified.0.get(&key) {
                Some((u, below)) if *u == under && p.log_end_offset() >= *below => *below,
                _ => 0,
            };
            let difference = first_difference(p, leader_partition, from, p.high_watermark());
            if difference.is_none() {
                verified
                    .0
                    .insert(key, (under, from.max(p.high_watermark())));
            }
            if let Some(offset) = difference {
                violations.push(Violation::LogsDiffer {
                    broker: broker.id(),
                    tp: tp.clone(),
                    leader: leader.id(),
                    offset,
                    high_watermark: p.high_watermark(),
                });
            }
        }
    }
    violations
}

/// The first offset in `from..limit` where two replicas' logs differ: (offset, CRC) pairs
/// compared, so equal offsets holding different messages are caught. Only offsets both
/// logs still hold are compared (retention may have moved one log's start), and what
/// lies before `from` is not read.
pub fn first_difference(a: &Partition, b: &Partition, from: i64, limit: i64) -> Option<i64> {
    let start = a
        .log()
        .log_start_offset()
        .max(b.log().log_start_offset())
        .max(from);
    // Read through the index from `start`, one segment at a time (as a fetch reads).
    let list = |p: &Partition| -> Vec<(i64, u32)> {
        let mut out = Vec::new();
        let mut next = start;
        while next < limit {
            let Ok(bytes) = p.log().read(next, usize::MAX, limit, true) else {
                break;
            };
            let before = out.len();
            out.extend(
                record::shallow_entries(&bytes)
                    .filter_map(Result::ok)
                    .map(|h| (h.offset, h.crc))
                    .filter(|&(offset, _)| offset >= next && offset < limit),
            );
            match out.last() {
                Some(&(offset, _)) if out.len() > before => next = offset + 1,
                _ => break,
            }
        }
        out
    };
    let (la, lb) = (list(a), list(b));
    for (x, y) in la.iter().zip(lb.iter()) {
        if x != y {
            return Some(x.0.min(y.0));
        }
    }
    if la.len() != lb.len() {
        let shorter = la.len().min(lb.len());
        return Some(la.get(shorter).or(lb.get(shorter)).map_or(start, |e| e.0));
    }
    None
}
