//! The run's client operations as one history, in the shape Jepsen's checkers read: each
//! operation an `invoke` entry, then its completion, `ok`, `fail` (it did not happen) or
//! `info` (no answer: it may have happened), with the process that did it and an index.
//! Sends and commits have both entries; a poll is one `ok` entry per record it returned.

use kafkasim_core::protocol::{NodeId, TopicPartition};
use kafkasim_core::workload::Outcome;

use crate::cluster::Histories;

/// How an entry stands in the operation's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// One entry of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Its place in the history (time order; invoke before completion).
    pub index: usize,
    /// The client: a producer's or consumer's node id (the admin client's for its writes).
    pub process: NodeId,
    /// The client's name: a consumer's `client.id` (its scenario name), a producer's
    /// record prefix (`p1`), `admin`.
    pub client: String,
    pub op_type: OpType,
    /// `send`, `poll`, or `commit` (with the commit's kind: auto, sync, async, close).
    pub f: String,
    pub time_ms: i64,
    /// What it wrote, read or committed: (partition, offset, value).
    pub tp: Option<TopicPartition>,
    pub offset: Option<i64>,
    pub value: Option<String>,
    /// Kafka's error code for a failed send or commit.
    pub error: Option<String>,
}

/// Every client operation of the run, in time order.
pub fn operations(histories: &Histories) -> Vec<Op> {
    // (time, order within the time: invokes first, then what completed), entry.
    let mut entries: Vec<((i64, u8, usize), Op)> = Vec::new();
    let mut push = |time_ms: i64, op: Op| {
        let rank = u8::from(op.op_type != OpType::Invoke);
        let n = entries.len();
        entries.push(((time_ms, rank, n), op));
    };
    let op = |process, client: &str, op_type, f: &str, time_ms| Op {
        index: 0,
        process,
        client: client.to_string(),
        op_type,
        f: f.to_string(),
        time_ms,
        tp: None,
        offset: None,
        value: None,
        error: None,
    };
    let producers = histories
        .producers
        .iter()
        .map(|(node, writes)| (*node, writes.as_slice()))
        .chain([(
            kafkasim_core::protocol::FIRST_CLIENT,
            histories.admin.as_slice(),
        )]);
    for (process, writes) in producers {
        for w in writes {
            let client = match process {
                kafkasim_core::protocol::FIRST_CLIENT => "admin",
                // Values are `<prefix>-<n>`: the prefix names the producer.
                _ => w
                    .value
                    .rsplit_once('-')
                    .map_or(w.value.as_str(), |(p, _)| p),
            };
            let send = |op_type, time_ms| Op {
                tp: Some(w.tp.clone()),
                value: Some(w.value.clone()),
                ..op(process, client, op_type, "send", time_ms)
            };
            push(w.invoked_ms, send(OpType::Invoke, w.invoked_ms));
            match &w.outcome {
                Outcome::Pending => {}
                Outcome::Ok {
                    offset,
                    completed_ms,
                } => push(
                    *completed_ms,
                    Op {
                        offset: *offset,
                        ..send(OpType::Ok, *completed_ms)
                    },
                ),
                Outcome::Failed { code, completed_ms } => push(
                    *completed_ms,
                    Op {
                        error: Some(code.to_string()),
                        ..send(OpType::Fail, *completed_ms)
                    },
                ),
                Outcome::Unknown { completed_ms } => {
                    push(*completed_ms, send(OpType::Info, *completed_ms))
                }
            }
        }
    }
    for (&process, history) in &histories.consumers {
        for r in &history.polled {
            push(
                r.time_ms,
                Op {
                    tp: Some(r.tp.clone()),
                    offset: Some(r.offset),
                    value: Some(r.value.clone()),
                    ..op(process, &history.client_id, OpType::Ok, "poll", r.time_ms)
                },
            );
        }
        for c in &history.commits {
            let f = format!("commit {}", c.kind);
            for (tp, offset) in &c.offsets {
                let commit = |op_type, time_ms| Op {
                    tp: Some(tp.clone()),
                    offset: Some(*offset),
                    ..op(process, &history.client_id, op_type, &f, time_ms)
                };
                push(c.invoked_ms, commit(OpType::Invoke, c.invoked_ms));
                let done = c.completed_ms.unwrap_or(c.invoked_ms);
                match &c.outcome {
                    Some(Ok(())) => push(done, commit(OpType::Ok, done)),
                    Some(Err(code)) => push(
                        done,
                        Op {
                            error: Some(code.clone()),
                            ..commit(OpType::Fail, done)
                        },
                    ),
                    None => push(done, commit(OpType::Info, done)),
                }
            }
        }
    }
    entries.sort_by_key(|(key, _)| *key);
    entries
        .into_iter()
        .enumerate()
        .map(|(index, (_, op))| Op { index, ..op })
        .collect()
}
