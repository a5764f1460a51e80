//! The run's narrated history: every core event and every injected fault, in order,
//! each with its sim time and one sentence to read.

use kafkasim_core::event::Event;
use kafkasim_core::protocol::{NodeId, ZOOKEEPER};
use kafkasim_core::replication::BrokerId;

use crate::disk::Crash;
use crate::lang::Lang;
use crate::net::LinkConfig;

/// A fault as it applied: to the nodes its target named then (what the trace tells).
#[derive(Clone, Debug, PartialEq)]
pub enum Injected {
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

/// One line of the history.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceEntry {
    Event(Event),
    Fault {
        time_ms: i64,
        fault: Injected,
    },
    /// An invariant failed (in recording mode).
    Violation {
        time_ms: i64,
        violation: kafkasim_core::invariants::Violation,
    },
    /// A lesson's caption from its scenario file: what the class is seeing, with its
    /// placeholders filled in; `written` is the caption as its file writes it.
    Caption {
        time_ms: i64,
        text: String,
        /// Its Simplified Chinese (`text_zh`), filled in the same way.
        text_zh: Option<String>,
        written: String,
    },
    /// What the scenario runner itself has to say.
    Note {
        time_ms: i64,
        note: Note,
    },
}

/// The scenario runner's own news: a scripted step that could not happen as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// A fault's target named no node when it applied.
    FaultSkipped { action: String, target: String },
    /// An admin step of the scenario failed (`operation`: create-topic, add-partitions,
    /// alter-configs).
    AdminFailed {
        operation: &'static str,
        topic: String,
        error: String,
    },
}

impl TraceEntry {
    pub fn time_ms(&self) -> i64 {
        match self {
            TraceEntry::Event(e) => e.time_ms,
            TraceEntry::Fault { time_ms, .. }
            | TraceEntry::Violation { time_ms, .. }
            | TraceEntry::Caption { time_ms, .. }
            | TraceEntry::Note { time_ms, .. } => *time_ms,
        }
    }

    /// Its sentence in English (see [`crate::narrate`]).
    pub fn explain(&self) -> String {
        self.explain_in(Lang::En)
    }

    /// Its sentence in `lang`.
    pub fn explain_in(&self, lang: Lang) -> String {
        crate::narrate::sentence(self, lang)
    }

    /// `  12.345s  <sentence>`: the narrated timeline's line.
    pub fn line(&self) -> String {
        self.line_in(Lang::En)
    }

    /// [`TraceEntry::line`] in `lang`.
    pub fn line_in(&self, lang: Lang) -> String {
        let t = self.time_ms();
        format!(
            "{:>4}.{:03}s  {}",
            t / 1000,
            t % 1000,
            self.explain_in(lang)
        )
    }
}
