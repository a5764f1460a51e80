//! The write history every producer keeps: each record's write and how it ended, for
//! the checkers (a leaf: the producers and the simulation name it, it names nothing of
//! theirs).

use crate::ids::TopicPartition;
use crate::replication::BrokerId;

/// How a write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    /// Acknowledged at this offset (acks=0: sent, offset unknown).
    Ok {
        offset: Option<i64>,
        completed_ms: i64,
    },
    /// Refused with Kafka's error code: it was not written (or, for
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND and REQUEST_TIMED_OUT, it may have been).
    Failed {
        code: &'static str,
        completed_ms: i64,
    },
    /// No answer: it may or may not have been written.
    Unknown {
        completed_ms: i64,
    },
}

/// One record's write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOp {
    pub value: String,
    pub tp: TopicPartition,
    pub leader: BrokerId,
    pub invoked_ms: i64,
    pub outcome: Outcome,
}

impl WriteOp {
    pub fn acknowledged_offset(&self) -> Option<i64> {
        match self.outcome {
            Outcome::Ok { offset, .. } => offset,
            _ => None,
        }
    }
}
