//! The run's narrated history: every core event and every injected fault, in order,
//! each with its sim time and one sentence to read.

use kafkasim_core::event::Event;
use kafkasim_core::protocol::{NodeId, ZOOKEEPER};
use kafkasim_core::replication::BrokerId;

use crate::disk::Crash;
use crate::net::LinkConfig;

/// A fault the simulation injected.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Crash {
        broker: BrokerId,
        crash: Crash,
    },
    Restart {
        broker: BrokerId,
    },
    Partition {
        groups: Vec<Vec<NodeId>>,
    },
    Isolate {
        node: NodeId,
    },
    Heal,
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    Link {
        from: NodeId,
        to: NodeId,
        config: LinkConfig,
    },
    Hold {
        from: NodeId,
        to: NodeId,
    },
    Release {
        from: NodeId,
        to: NodeId,
    },
    /// A consumer's process dies: no LeaveGroup, no last commit.
    ConsumerCrash {
        consumer: NodeId,
        /// Its `client.id`, which sentences name it by.
        name: String,
    },
    /// A consumer's application calls close(): a last commit, then LeaveGroup.
    ConsumerClose {
        consumer: NodeId,
        name: String,
    },
    /// A consumer's application stops calling poll() until `until_ms`.
    ConsumerStall {
        consumer: NodeId,
        name: String,
        until_ms: i64,
    },
}

/// A node's name for a student: `broker 2`, `zookeeper`, `client 20001`.
pub fn node_name(node: NodeId) -> String {
    if node == ZOOKEEPER {
        "zookeeper".to_string()
    } else if node >= kafkasim_core::protocol::FIRST_CLIENT {
        format!("client {node}")
    } else {
        format!("broker {node}")
    }
}

impl Fault {
    pub fn explain(&self) -> String {
        match self {
            Fault::Crash {
                broker,
                crash: Crash::Process,
            } => format!(
                "FAULT: broker {broker}'s process crashed; the page cache survives, so everything it wrote is kept"
            ),
            Fault::Crash {
                broker,
                crash: Crash::PowerLoss,
            } => format!(
                "FAULT: broker {broker} lost power; bytes not flushed to disk may be lost, the last message may be torn"
            ),
            Fault::Crash {
                broker,
                crash: Crash::PowerLossUnflushedLost,
            } => format!(
                "FAULT: broker {broker} lost power before its disk wrote back any unflushed byte: only what was flushed survives"
            ),
            Fault::Restart { broker } => format!("broker {broker} restarts and recovers its logs"),
            Fault::Partition { groups } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .map(|&n| node_name(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .map(|g| format!("{{{g}}}"))
                    .collect();
                format!(
                    "FAULT: the network is partitioned into {}",
                    groups.join(" | ")
                )
            }
            Fault::Isolate { node } => format!(
                "FAULT: {} is cut off from every other node",
                node_name(*node)
            ),
            Fault::Heal => "the network heals: every node can reach every other again".to_string(),
            Fault::Pause { node } => format!(
                "FAULT: {} is paused (a stop-the-world pause): it neither sends nor handles anything",
                node_name(*node)
            ),
            Fault::Resume { node } => format!("{} resumes where it stopped", node_name(*node)),
            Fault::Hold { from, to } => format!(
                "FAULT: the link {} -> {} holds its messages (a stalled connection: they wait, nothing is lost)",
                node_name(*from),
                node_name(*to)
            ),
            Fault::Release { from, to } => format!(
                "the link {} -> {} is released: the held messages arrive, in order",
                node_name(*from),
                node_name(*to)
            ),
            Fault::ConsumerCrash { name, .. } => format!(
                "FAULT: consumer {name} crashed: no LeaveGroup and no last commit; its group notices only after session.timeout.ms"
            ),
            Fault::ConsumerClose { name, .. } => format!(
                "consumer {name} closes: it commits what it processed (if it commits) and leaves its group"
            ),
            Fault::ConsumerStall { name, until_ms, .. } => format!(
                "FAULT: consumer {name}'s application stops calling poll() until {:.3}s (slow processing, a long GC): its heartbeats go on, so it stays in its group until max.poll.interval.ms",
                *until_ms as f64 / 1000.0
            ),
            Fault::Link { from, to, config } => format!(
                "the link {} -> {} now delays messages {}..={} ms and loses {:.0}% of them",
                node_name(*from),
                node_name(*to),
                config.latency_min_ms,
                config.latency_max_ms,
                config.loss * 100.0
            ),
        }
    }
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceEntry {
    Event(Event),
    Fault {
        time_ms: i64,
        fault: Fault,
    },
    /// An invariant failed (in recording mode).
    Violation {
        time_ms: i64,
        text: String,
    },
    /// A lesson's caption from its scenario file: what the class is seeing.
    Caption {
        time_ms: i64,
        text: String,
    },
}

impl TraceEntry {
    pub fn time_ms(&self) -> i64 {
        match self {
            TraceEntry::Event(e) => e.time_ms,
            TraceEntry::Fault { time_ms, .. }
            | TraceEntry::Violation { time_ms, .. }
            | TraceEntry::Caption { time_ms, .. } => *time_ms,
        }
    }

    pub fn explain(&self) -> String {
        match self {
            TraceEntry::Event(e) => e.explain(),
            TraceEntry::Fault { fault, .. } => fault.explain(),
            TraceEntry::Violation { text, .. } => format!("INVARIANT VIOLATED: {text}"),
            TraceEntry::Caption { text, .. } => format!("LESSON: {text}"),
        }
    }

    /// `  12.345s  <sentence>`: the narrated timeline's line.
    pub fn line(&self) -> String {
        let t = self.time_ms();
        format!("{:>4}.{:03}s  {}", t / 1000, t % 1000, self.explain())
    }
}
