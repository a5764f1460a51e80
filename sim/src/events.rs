//! Every narrated entry as data: a stable kind (kebab-case, documented in
//! scenarios/README.md) and its fields. Traces (`--trace`, `--json`), lessons'
//! `[[expect.event]]` and event-triggered captions read these, never the sentences, so
//! rewording or translating a sentence changes nothing they match.

use std::collections::BTreeSet;
use std::fmt;

use kafkasim_core::client::consumer::{ConsumerEvent, LeaveReason, ResetReason, RevokeReason};
use kafkasim_core::client::producer::{ProducerEvent, RestartReason};
use kafkasim_core::controller::IsrChangeRejected;
use kafkasim_core::event::{ElectionReason, Event, EventKind, ResignReason};
use kafkasim_core::group::coordinator::{GroupChange, GroupEventKind, GroupState};
use kafkasim_core::partition::{PartitionEvent, TruncationReason};
use kafkasim_core::protocol::TopicPartition;

use crate::disk::Crash;
use crate::trace::{Injected, Note, TraceEntry, node_name};

/// A field's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    List(Vec<Value>),
}

impl fmt::Display for Value {
    /// The form `[[expect.event]]` filters compare with: `5`, `true`, `orders-0`,
    /// `[1,2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            // `1.0`, as TOML writes a float filter.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(s) => f.write_str(s),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int(n.into())
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Int(n.into())
    }
}
impl From<i16> for Value {
    fn from(n: i16) -> Value {
        Value::Int(n.into())
    }
}
impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(n as i64)
    }
}
impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Int(n as i64)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Text(s.clone())
    }
}
impl From<&TopicPartition> for Value {
    fn from(tp: &TopicPartition) -> Value {
        Value::Text(tp.to_string())
    }
}
impl From<&BTreeSet<i32>> for Value {
    fn from(ids: &BTreeSet<i32>) -> Value {
        Value::List(ids.iter().map(|&b| b.into()).collect())
    }
}
impl From<&[TopicPartition]> for Value {
    fn from(tps: &[TopicPartition]) -> Value {
        Value::List(tps.iter().map(Value::from).collect())
    }
}
impl From<&Vec<TopicPartition>> for Value {
    fn from(tps: &Vec<TopicPartition>) -> Value {
        tps.as_slice().into()
    }
}
impl From<&Vec<String>> for Value {
    fn from(items: &Vec<String>) -> Value {
        Value::List(items.iter().map(Value::from).collect())
    }
}
impl From<&Vec<Vec<i32>>> for Value {
    fn from(assignment: &Vec<Vec<i32>>) -> Value {
        Value::List(
            assignment
                .iter()
                .map(|r| Value::List(r.iter().map(|&b| b.into()).collect()))
                .collect(),
        )
    }
}

/// Declares the kinds once: each one's name, the fields it carries (`?` marks a field
/// only some of its events have; `= (..)` lists the only values a field takes) and what
/// it means. A kind added here without its line in scenarios/README.md fails
/// `every_event_kind_is_documented`.
macro_rules! kinds {
    ($($variant:ident = $name:literal [$($field:literal $(= ($($value:literal),*))?),*] $doc:literal;)*) => {
        /// What kind of entry an event is.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Kind {
            $($variant),*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// Its stable kebab-case name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name),*
                }
            }

            /// The fields its events carry; a trailing `?` marks one some lack.
            pub fn fields(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$variant => &[$($field),*]),*
                }
            }

            /// The fields whose values are one of a list, with the list.
            pub fn enumerated(self) -> &'static [(&'static str, &'static [&'static str])] {
                match self {
                    $(Kind::$variant => &[$($(($field, &[$($value),*]),)?)*]),*
                }
            }

            fn meaning(self) -> &'static str {
                match self {
                    $(Kind::$variant => $doc),*
                }
            }
        }
    };
}

kinds! {
    BrokerStarted = "broker-started" ["broker", "partitions"]
        "a broker's process started with this many partition logs on its disk";
    LogRecovered = "log-recovered" ["broker", "partition", "log_end_offset", "dropped_bytes"]
        "recovery after an unclean shutdown cut a log's invalid or lost tail";
    BrokerRegistered = "broker-registered" ["broker"]
        "a broker created its ephemeral /brokers/ids node";
    RegistrationBlocked = "registration-blocked" ["broker"]
        "a restarted broker's id still belongs to its previous ZooKeeper session";
    SessionExpired = "session-expired" ["node", "timeout_ms", "deleted"]
        "ZooKeeper expired a session and deleted its ephemeral nodes";
    SessionTimeoutNegotiated = "session-timeout-negotiated" ["node", "requested_ms", "granted_ms"]
        "ZooKeeper granted a session timeout other than the one asked for";
    SessionClosed = "session-closed" ["node", "deleted"]
        "a clean shutdown closed a ZooKeeper session";
    ShutdownRequested = "shutdown-requested" ["broker"]
        "a broker began a controlled shutdown";
    ShutdownReady = "shutdown-ready" ["broker", "remaining"]
        "a shutting-down broker stops; `remaining` are the partitions it still led";
    ControllerElected = "controller-elected" ["broker", "controller_epoch"]
        "a broker created /controller and became the controller";
    ControllerResigned = "controller-resigned" ["broker", "reason" = ("session-expired", "controller-node-deleted", "epoch-claimed", "write-refused"), "error?"]
        "a broker stopped being the controller";
    BrokersFailed = "brokers-failed" ["brokers"]
        "the controller saw brokers' registrations vanish";
    BrokersStarted = "brokers-started" ["brokers"]
        "the controller saw brokers register";
    TopicCreated = "topic-created" ["topic", "assignment", "explicit_assignment"]
        "a topic was created with this replica assignment";
    PartitionsAdded = "partitions-added" ["topic", "first", "assignment"]
        "a topic got more partitions, numbered from `first`";
    TopicConfigChanged = "topic-config-changed" ["topic", "changes"]
        "the controller changed topic configs (each `name before -> now`)";
    LeaderElected = "leader-elected" ["partition", "leader", "epoch", "isr", "unclean", "reason" = ("new-partition", "leader-failed", "replica-came-back", "preferred", "controlled-shutdown"), "previous?"]
        "the controller chose a leader";
    PartitionOffline = "partition-offline" ["partition", "epoch", "isr", "unclean_leader_election_enable"]
        "no replica may lead the partition";
    ControllerIsrShrink = "controller-isr-shrink" ["partition", "removed", "isr", "epoch", "shutting_down"]
        "the controller took dead or shutting-down brokers out of an ISR";
    IsrCommitted = "isr-committed" ["partition", "isr", "partition_epoch"]
        "the controller committed a leader's ISR change (AlterPartition)";
    IsrRejected = "isr-rejected" ["partition", "leader", "error" = ("FENCED_LEADER_EPOCH", "INVALID_UPDATE_VERSION", "INELIGIBLE_REPLICA"), "broker?"]
        "the controller refused a leader's ISR change (`broker`: the ineligible one)";
    StaleBrokerEpoch = "stale-broker-epoch" ["broker", "broker_epoch"]
        "a broker refused a controller request meant for its earlier run (KIP-380)";
    StaleController = "stale-controller" ["broker", "controller_epoch", "current"]
        "a broker ignored a request from a deposed controller";
    OffsetsRecordSkipped = "offsets-record-skipped" ["broker", "partition", "offset", "error"]
        "a coordinator skipped a __consumer_offsets record it could not read";
    BecameLeader = "became-leader" ["broker", "partition", "epoch", "isr", "log_end_offset"]
        "a broker leads a partition; its epoch starts at `log_end_offset`";
    BecameFollower = "became-follower" ["broker", "partition", "epoch", "leader?"]
        "a broker follows the partition's leader (no `leader`: it has none)";
    HwAdvance = "hw-advance" ["broker", "partition", "from", "to"]
        "a replica's high watermark moved up (headless output shows it with --all-events)";
    HwLower = "hw-lower" ["broker", "partition", "from", "to"]
        "a follower took a lower high watermark from its leader";
    IsrShrink = "isr-shrink" ["broker", "partition", "removed", "lag_ms"]
        "a leader asks to remove lagging replicas from the ISR (replica.lag.time.max.ms)";
    IsrExpand = "isr-expand" ["broker", "partition", "added", "log_end_offset", "high_watermark"]
        "a leader asks to add a caught-up replica to the ISR";
    IsrUpdated = "isr-updated" ["broker", "partition", "isr"]
        "a leader applied the ISR the controller committed";
    Truncate = "truncate" ["broker", "partition", "from", "to", "reason" = ("high-watermark", "diverging-epoch", "leader-log-end", "below-leader-log-start"), "epoch?", "leader_end_offset?"]
        "a replica cut its log";
    RetentionDelete = "retention-delete" ["broker", "partition", "segments", "log_start_offset"]
        "retention deleted whole segments from the start of a log";
    RebalanceStart = "rebalance-start" ["broker", "group", "from" = ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"), "to" = ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"), "why" = ("leader-rejoined", "subscription-changed", "member-joined", "static-member-replaced", "join-complete", "assignment-stored", "assignment-store-failed", "member-left", "session-timeout", "sync-timeout", "loaded", "unloaded"), "member?", "old?", "members?", "error?", "timeout_ms?", "generation?"]
        "a group moved to PreparingRebalance (`broker` is its coordinator)";
    GroupState = "group-state" ["broker", "group", "from" = ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"), "to" = ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"), "why" = ("leader-rejoined", "subscription-changed", "member-joined", "static-member-replaced", "join-complete", "assignment-stored", "assignment-store-failed", "member-left", "session-timeout", "sync-timeout", "loaded", "unloaded"), "member?", "old?", "members?", "error?", "timeout_ms?", "generation?"]
        "a group changed state other than to PreparingRebalance (`members`: who did not rejoin or sync)";
    GenerationStart = "generation-start" ["broker", "group", "generation", "leader", "protocol", "members"]
        "a group's join phase ended: a new generation with these members";
    GroupStable = "group-stable" ["broker", "group", "generation"]
        "the leader's assignment reached every member: the group is Stable";
    Assigned = "assigned" ["consumer", "group", "member", "generation", "partitions"]
        "a consumer owns these partitions in this generation";
    Revoked = "revoked" ["consumer", "partitions", "why" = ("closing", "eager-rebalance", "unsubscribed", "cooperative-moved")]
        "a consumer gave partitions up (onPartitionsRevoked)";
    PartitionsLost = "partitions-lost" ["consumer", "partitions", "error?"]
        "a consumer lost partitions without revoking them (onPartitionsLost)";
    LeftGroup = "left-group" ["consumer", "why" = ("closed", "poll-timeout"), "static_member", "max_poll_interval_ms?"]
        "a consumer left its group (a static member only goes quiet)";
    RejoinRequested = "rejoin-requested" ["consumer"]
        "a heartbeat answered REBALANCE_IN_PROGRESS: the consumer rejoins at its next poll";
    OffsetReset = "offset-reset" ["consumer", "partition", "offset", "policy" = ("earliest", "latest"), "why" = ("seek-to-end", "seek-to-beginning", "no-group", "no-committed-offset", "out-of-range"), "out_of_range_offset?"]
        "a consumer's position was reset";
    NoOffset = "no-offset" ["consumer", "partition"]
        "no committed offset and auto.offset.reset=none";
    CoordinatorUnknown = "coordinator-unknown" ["consumer", "coordinator", "error"]
        "a consumer lost its group's coordinator (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, REQUEST_TIMED_OUT, or NO_RESPONSE when a request to it got no answer) and looks it up again";
    CoordinatorFound = "coordinator-found" ["consumer", "coordinator"]
        "FindCoordinator named a group's coordinator to a consumer (only when it is another broker than the last one named)";
    CommitRetry = "commit-retry" ["consumer", "error"]
        "commitSync got a retriable error and tries again";
    CommitFailed = "commit-failed" ["consumer", "error"]
        "a commit failed for good";
    SubscriptionChanged = "subscription-changed" ["consumer", "topics"]
        "a consumer's pattern subscription matches other topics now";
    ProduceRetry = "produce-retry" ["producer", "partition", "records", "error", "attempt", "in_sequence_order"]
        "a producer's batch failed with a retriable error and goes back to its queue";
    SequencesRestarted = "sequences-restarted" ["producer", "partition", "producer_id", "producer_epoch", "reason" = ("lost-acknowledged", "expired", "failed-batch"), "leader?", "last_acked_sequence?", "error?", "rewritten", "unknown"]
        "an idempotent producer bumped its epoch and restarts a partition's sequences (KIP-360)";
    ProduceFailed = "produce-failed" ["producer", "partition", "records", "error"]
        "a producer gave up on a batch";
    Fault = "fault" ["action" = ("crash", "power-loss", "restart", "partition", "isolate", "heal", "pause", "resume", "link", "hold", "release", "consumer-crash", "consumer-close", "consumer-stall"), "broker?", "node?", "consumer?", "groups?", "from?", "to?", "latency_min_ms?", "latency_max_ms?", "loss?", "until_ms?", "unflushed?"]
        "an injected fault or its undoing";
    InvariantViolated = "invariant-violated" ["text"]
        "a protocol invariant failed (the invariants checker)";
    Caption = "caption" ["text"]
        "a lesson's caption";
    FaultSkipped = "fault-skipped" ["action", "target"]
        "a scenario's fault found no node to act on when its time came";
    AdminFailed = "admin-failed" ["operation" = ("create-topic", "add-partitions", "alter-configs"), "topic", "error"]
        "an admin step of the scenario failed";
}

impl Kind {
    /// What it means, with the values of its enumerated fields (scenarios/README.md's
    /// table says the same).
    pub fn doc(self) -> String {
        let mut doc = self.meaning().to_string();
        for (field, values) in self.enumerated() {
            doc.push_str(&format!("; `{field}`: {}", values.join(", ")));
        }
        doc
    }

    /// The values `field` takes, if it is one of a list.
    pub fn values(self, field: &str) -> Option<&'static [&'static str]> {
        self.enumerated()
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, values)| *values)
    }

    /// The kind of this name.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Whether events of this kind may carry `field`.
    pub fn has_field(self, field: &str) -> bool {
        self.fields()
            .iter()
            .any(|f| f.strip_suffix('?').unwrap_or(f) == field)
    }
}

type Fields = Vec<(&'static str, Value)>;

impl TraceEntry {
    pub fn kind(&self) -> Kind {
        self.data().0
    }

    /// Its fields, in the order documented for its kind.
    pub fn fields(&self) -> Fields {
        self.data().1
    }

    /// The field's value, if the entry has it.
    pub fn field(&self, name: &str) -> Option<Value> {
        self.fields()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    pub fn data(&self) -> (Kind, Fields) {
        match self {
            TraceEntry::Event(e) => event_data(e),
            TraceEntry::Fault { fault, .. } => (Kind::Fault, fault_fields(fault)),
            TraceEntry::Violation { violation, .. } => (
                Kind::InvariantViolated,
                vec![(
                    "text",
                    crate::narrate::violation(violation, crate::lang::Lang::En).into(),
                )],
            ),
            TraceEntry::Caption { text, .. } => (Kind::Caption, vec![("text", text.into())]),
            TraceEntry::Note { note, .. } => match note {
                Note::FaultSkipped { action, target } => (
                    Kind::FaultSkipped,
                    vec![("action", action.into()), ("target", target.into())],
                ),
                Note::AdminFailed {
                    operation,
                    topic,
                    error,
                } => (
                    Kind::AdminFailed,
                    vec![
                        ("operation", (*operation).into()),
                        ("topic", topic.into()),
                        ("error", error.into()),
                    ],
                ),
            },
        }
    }
}

fn fault_fields(fault: &Injected) -> Fields {
    let nodes = |ns: &[i32]| Value::List(ns.iter().map(|&n| node_name(n).into()).collect());
    match fault {
        Injected::Crash { broker, crash } => {
            let mut f: Fields = vec![
                (
                    "action",
                    match crash {
                        Crash::Process => "crash",
                        Crash::PowerLoss | Crash::PowerLossUnflushedLost => "power-loss",
                    }
                    .into(),
                ),
                ("broker", (*broker).into()),
            ];
            match crash {
                Crash::Process => {}
                Crash::PowerLoss => f.push(("unflushed", "some".into())),
                Crash::PowerLossUnflushedLost => f.push(("unflushed", "lost".into())),
            }
            f
        }
        Injected::Restart { broker } => {
            vec![("action", "restart".into()), ("broker", (*broker).into())]
        }
        Injected::Partition { groups } => vec![
            ("action", "partition".into()),
            (
                "groups",
                Value::List(groups.iter().map(|g| nodes(g)).collect()),
            ),
        ],
        Injected::Isolate { node } => vec![
            ("action", "isolate".into()),
            ("node", node_name(*node).into()),
        ],
        Injected::Heal => vec![("action", "heal".into())],
        Injected::Pause { node } => vec![
            ("action", "pause".into()),
            ("node", node_name(*node).into()),
        ],
        Injected::Resume { node } => vec![
            ("action", "resume".into()),
            ("node", node_name(*node).into()),
        ],
        Injected::Link { from, to, config } => vec![
            ("action", "link".into()),
            ("from", node_name(*from).into()),
            ("to", node_name(*to).into()),
            ("latency_min_ms", config.latency_min_ms.into()),
            ("latency_max_ms", config.latency_max_ms.into()),
            ("loss", Value::Float(config.loss)),
        ],
        Injected::Hold { from, to } => vec![
            ("action", "hold".into()),
            ("from", node_name(*from).into()),
            ("to", node_name(*to).into()),
        ],
        Injected::Release { from, to } => vec![
            ("action", "release".into()),
            ("from", node_name(*from).into()),
            ("to", node_name(*to).into()),
        ],
        Injected::ConsumerCrash { name, .. } => {
            vec![
                ("action", "consumer-crash".into()),
                ("consumer", name.into()),
            ]
        }
        Injected::ConsumerClose { name, .. } => {
            vec![
                ("action", "consumer-close".into()),
                ("consumer", name.into()),
            ]
        }
        Injected::ConsumerStall { name, until_ms, .. } => vec![
            ("action", "consumer-stall".into()),
            ("consumer", name.into()),
            ("until_ms", (*until_ms).into()),
        ],
    }
}

fn event_data(e: &Event) -> (Kind, Fields) {
    use EventKind as E;
    match &e.kind {
        E::Partition { broker, tp, event } => {
            let mut f: Fields = vec![("broker", (*broker).into()), ("partition", tp.into())];
            let kind = partition_event(event, &mut f);
            (kind, f)
        }
        E::BrokerStarted { broker, partitions } => (
            Kind::BrokerStarted,
            vec![
                ("broker", (*broker).into()),
                ("partitions", (*partitions).into()),
            ],
        ),
        E::LogRecovered {
            broker,
            tp,
            log_end_offset,
            dropped_bytes,
        } => (
            Kind::LogRecovered,
            vec![
                ("broker", (*broker).into()),
                ("partition", tp.into()),
                ("log_end_offset", (*log_end_offset).into()),
                ("dropped_bytes", (*dropped_bytes).into()),
            ],
        ),
        E::BrokerRegistered { broker } => {
            (Kind::BrokerRegistered, vec![("broker", (*broker).into())])
        }
        E::RegistrationBlocked { broker } => (
            Kind::RegistrationBlocked,
            vec![("broker", (*broker).into())],
        ),
        E::SessionExpired {
            client,
            timeout_ms,
            deleted,
        } => (
            Kind::SessionExpired,
            vec![
                ("node", node_name(*client).into()),
                ("timeout_ms", (*timeout_ms).into()),
                ("deleted", deleted.into()),
            ],
        ),
        E::SessionTimeoutNegotiated {
            client,
            requested_ms,
            granted_ms,
        } => (
            Kind::SessionTimeoutNegotiated,
            vec![
                ("node", node_name(*client).into()),
                ("requested_ms", (*requested_ms).into()),
                ("granted_ms", (*granted_ms).into()),
            ],
        ),
        E::SessionClosed { client, deleted } => (
            Kind::SessionClosed,
            vec![
                ("node", node_name(*client).into()),
                ("deleted", deleted.into()),
            ],
        ),
        E::ShutdownRequested { broker } => {
            (Kind::ShutdownRequested, vec![("broker", (*broker).into())])
        }
        E::ShutdownReady { broker, remaining } => (
            Kind::ShutdownReady,
            vec![
                ("broker", (*broker).into()),
                ("remaining", remaining.into()),
            ],
        ),
        E::ControllerElected { broker, epoch } => (
            Kind::ControllerElected,
            vec![
                ("broker", (*broker).into()),
                ("controller_epoch", (*epoch).into()),
            ],
        ),
        E::ControllerResigned { broker, reason } => {
            let mut f: Fields = vec![("broker", (*broker).into())];
            match reason {
                ResignReason::SessionExpired => f.push(("reason", "session-expired".into())),
                ResignReason::ControllerNodeDeleted => {
                    f.push(("reason", "controller-node-deleted".into()))
                }
                ResignReason::EpochClaimed { error } => {
                    f.push(("reason", "epoch-claimed".into()));
                    f.push(("error", error.into()));
                }
                ResignReason::WriteRefused { error } => {
                    f.push(("reason", "write-refused".into()));
                    f.push(("error", error.into()));
                }
            }
            (Kind::ControllerResigned, f)
        }
        E::BrokersFailed { brokers } => (Kind::BrokersFailed, vec![("brokers", brokers.into())]),
        E::BrokersStarted { brokers } => (Kind::BrokersStarted, vec![("brokers", brokers.into())]),
        E::TopicCreated {
            topic,
            assignment,
            explicit_assignment,
        } => (
            Kind::TopicCreated,
            vec![
                ("topic", topic.into()),
                ("assignment", assignment.into()),
                ("explicit_assignment", (*explicit_assignment).into()),
            ],
        ),
        E::PartitionsAdded {
            topic,
            first,
            assignment,
        } => (
            Kind::PartitionsAdded,
            vec![
                ("topic", topic.into()),
                ("first", (*first).into()),
                ("assignment", assignment.into()),
            ],
        ),
        E::TopicConfigChanged { topic, changes } => (
            Kind::TopicConfigChanged,
            vec![
                ("topic", topic.into()),
                (
                    "changes",
                    Value::List(
                        changes
                            .iter()
                            .map(|(n, before, now)| format!("{n} {before} -> {now}").into())
                            .collect(),
                    ),
                ),
            ],
        ),
        E::LeaderElected {
            tp,
            leader,
            leader_epoch,
            isr,
            unclean,
            reason,
        } => {
            let (why, previous) = match reason {
                ElectionReason::NewPartition => ("new-partition", None),
                ElectionReason::LeaderFailed { previous } => ("leader-failed", Some(*previous)),
                ElectionReason::ReplicaCameBack => ("replica-came-back", None),
                ElectionReason::Preferred => ("preferred", None),
                ElectionReason::ControlledShutdown { previous } => {
                    ("controlled-shutdown", Some(*previous))
                }
            };
            let mut f: Fields = vec![
                ("partition", tp.into()),
                ("leader", (*leader).into()),
                ("epoch", (*leader_epoch).into()),
                ("isr", isr.into()),
                ("unclean", (*unclean).into()),
                ("reason", why.into()),
            ];
            if let Some(previous) = previous {
                f.push(("previous", previous.into()));
            }
            (Kind::LeaderElected, f)
        }
        E::PartitionOffline {
            tp,
            leader_epoch,
            isr,
            unclean_leader_election_enable,
        } => (
            Kind::PartitionOffline,
            vec![
                ("partition", tp.into()),
                ("epoch", (*leader_epoch).into()),
                ("isr", isr.into()),
                (
                    "unclean_leader_election_enable",
                    (*unclean_leader_election_enable).into(),
                ),
            ],
        ),
        E::IsrShrunkByController {
            tp,
            removed,
            isr,
            leader_epoch,
            shutting_down,
        } => (
            Kind::ControllerIsrShrink,
            vec![
                ("partition", tp.into()),
                ("removed", removed.into()),
                ("isr", isr.into()),
                ("epoch", (*leader_epoch).into()),
                ("shutting_down", (*shutting_down).into()),
            ],
        ),
        E::IsrChangeCommitted {
            tp,
            isr,
            partition_epoch,
        } => (
            Kind::IsrCommitted,
            vec![
                ("partition", tp.into()),
                ("isr", isr.into()),
                ("partition_epoch", (*partition_epoch).into()),
            ],
        ),
        E::IsrChangeRejected { tp, leader, reason } => {
            let mut f: Fields = vec![("partition", tp.into()), ("leader", (*leader).into())];
            match reason {
                IsrChangeRejected::FencedLeaderEpoch { .. } => {
                    f.push(("error", "FENCED_LEADER_EPOCH".into()))
                }
                IsrChangeRejected::InvalidUpdateVersion { .. } => {
                    f.push(("error", "INVALID_UPDATE_VERSION".into()))
                }
                IsrChangeRejected::IneligibleReplica { broker } => {
                    f.push(("error", "INELIGIBLE_REPLICA".into()));
                    f.push(("broker", (*broker).into()));
                }
            }
            (Kind::IsrRejected, f)
        }
        E::StaleBrokerEpochIgnored {
            broker,
            request_epoch,
        } => (
            Kind::StaleBrokerEpoch,
            vec![
                ("broker", (*broker).into()),
                ("broker_epoch", (*request_epoch).into()),
            ],
        ),
        E::StaleControllerIgnored {
            broker,
            epoch,
            current,
        } => (
            Kind::StaleController,
            vec![
                ("broker", (*broker).into()),
                ("controller_epoch", (*epoch).into()),
                ("current", (*current).into()),
            ],
        ),
        E::OffsetsRecordSkipped {
            broker,
            tp,
            offset,
            error,
        } => (
            Kind::OffsetsRecordSkipped,
            vec![
                ("broker", (*broker).into()),
                ("partition", tp.into()),
                ("offset", (*offset).into()),
                ("error", error.into()),
            ],
        ),
        E::Group { broker, event } => {
            let mut f: Fields = vec![
                ("broker", (*broker).into()),
                ("group", (&event.group).into()),
            ];
            let kind = match &event.kind {
                GroupEventKind::Transition { from, to, why } => {
                    f.push(("from", from.to_string().into()));
                    f.push(("to", to.to_string().into()));
                    group_change(why, &mut f);
                    if *to == GroupState::PreparingRebalance {
                        Kind::RebalanceStart
                    } else {
                        Kind::GroupState
                    }
                }
                GroupEventKind::Generation {
                    generation,
                    leader,
                    protocol,
                    members,
                } => {
                    f.push(("generation", (*generation).into()));
                    f.push(("leader", leader.into()));
                    f.push(("protocol", protocol.into()));
                    f.push(("members", members.into()));
                    Kind::GenerationStart
                }
                GroupEventKind::Assigned { generation } => {
                    f.push(("generation", (*generation).into()));
                    Kind::GroupStable
                }
            };
            (kind, f)
        }
        E::Consumer { name, event, .. } => {
            let mut f: Fields = vec![("consumer", name.into())];
            let kind = consumer_event(event, &mut f);
            (kind, f)
        }
        E::Producer { name, event, .. } => {
            let mut f: Fields = vec![("producer", name.into())];
            let kind = producer_event(event, &mut f);
            (kind, f)
        }
    }
}

fn group_change(why: &GroupChange, f: &mut Fields) {
    use GroupChange as G;
    let code = match why {
        G::LeaderRejoined { .. } => "leader-rejoined",
        G::SubscriptionChanged { .. } => "subscription-changed",
        G::MemberJoined { .. } => "member-joined",
        G::StaticMemberReplaced { .. } => "static-member-replaced",
        G::JoinComplete { .. } => "join-complete",
        G::AssignmentStored => "assignment-stored",
        G::AssignmentStoreFailed { .. } => "assignment-store-failed",
        G::MemberLeft { .. } => "member-left",
        G::SessionTimeout { .. } => "session-timeout",
        G::SyncTimeout { .. } => "sync-timeout",
        G::Loaded { .. } => "loaded",
        G::Unloaded => "unloaded",
    };
    f.push(("why", code.into()));
    match why {
        G::LeaderRejoined { member }
        | G::SubscriptionChanged { member }
        | G::MemberJoined { member }
        | G::MemberLeft { member } => f.push(("member", member.into())),
        G::StaticMemberReplaced { member, old } => {
            f.push(("member", member.into()));
            f.push(("old", old.into()));
        }
        G::JoinComplete { dropped: members } | G::SyncTimeout { late: members } => {
            f.push(("members", members.into()))
        }
        G::AssignmentStoreFailed { error } => f.push(("error", error.into())),
        G::SessionTimeout { member, timeout_ms } => {
            f.push(("member", member.into()));
            f.push(("timeout_ms", (*timeout_ms).into()));
        }
        G::Loaded { generation } => f.push(("generation", (*generation).into())),
        G::AssignmentStored | G::Unloaded => {}
    }
}

fn partition_event(event: &PartitionEvent, f: &mut Fields) -> Kind {
    use PartitionEvent as P;
    match event {
        P::BecameLeader {
            epoch,
            isr,
            log_end_offset,
        } => {
            f.push(("epoch", (*epoch).into()));
            f.push(("isr", isr.into()));
            f.push(("log_end_offset", (*log_end_offset).into()));
            Kind::BecameLeader
        }
        P::BecameFollower { epoch, leader } => {
            f.push(("epoch", (*epoch).into()));
            if let Some(leader) = leader {
                f.push(("leader", (*leader).into()));
            }
            Kind::BecameFollower
        }
        P::HighWatermarkAdvanced { from, to } => {
            f.push(("from", (*from).into()));
            f.push(("to", (*to).into()));
            Kind::HwAdvance
        }
        P::HighWatermarkLowered { from, to } => {
            f.push(("from", (*from).into()));
            f.push(("to", (*to).into()));
            Kind::HwLower
        }
        P::IsrShrinkProposed { removed, lag_ms } => {
            f.push(("removed", removed.into()));
            f.push(("lag_ms", (*lag_ms).into()));
            Kind::IsrShrink
        }
        P::IsrExpandProposed {
            added,
            log_end_offset,
            high_watermark,
        } => {
            f.push(("added", (*added).into()));
            f.push(("log_end_offset", (*log_end_offset).into()));
            f.push(("high_watermark", (*high_watermark).into()));
            Kind::IsrExpand
        }
        P::IsrCommitted { isr } => {
            f.push(("isr", isr.into()));
            Kind::IsrUpdated
        }
        P::Truncated { from, to, reason } => {
            f.push(("from", (*from).into()));
            f.push(("to", (*to).into()));
            match reason {
                TruncationReason::HighWatermark => f.push(("reason", "high-watermark".into())),
                TruncationReason::DivergingEpoch {
                    epoch,
                    leader_end_offset,
                } => {
                    f.push(("reason", "diverging-epoch".into()));
                    f.push(("epoch", (*epoch).into()));
                    f.push(("leader_end_offset", (*leader_end_offset).into()));
                }
                TruncationReason::LeaderLogEnd {
                    leader_log_end_offset,
                } => {
                    f.push(("reason", "leader-log-end".into()));
                    f.push(("leader_end_offset", (*leader_log_end_offset).into()));
                }
                TruncationReason::BelowLeaderLogStart => {
                    f.push(("reason", "below-leader-log-start".into()))
                }
            }
            Kind::Truncate
        }
        P::SegmentsDeleted {
            deleted,
            log_start_offset,
        } => {
            f.push(("segments", deleted.len().into()));
            f.push(("log_start_offset", (*log_start_offset).into()));
            Kind::RetentionDelete
        }
    }
}

fn consumer_event(event: &ConsumerEvent, f: &mut Fields) -> Kind {
    use ConsumerEvent as C;
    match event {
        C::Assigned {
            group,
            member,
            generation,
            partitions,
        } => {
            f.push(("group", group.into()));
            f.push(("member", member.into()));
            f.push(("generation", (*generation).into()));
            f.push(("partitions", partitions.into()));
            Kind::Assigned
        }
        C::Revoked { partitions, why } => {
            f.push(("partitions", partitions.into()));
            let why = match why {
                RevokeReason::Closing => "closing",
                RevokeReason::EagerRebalance => "eager-rebalance",
                RevokeReason::Unsubscribed => "unsubscribed",
                RevokeReason::CooperativeMoved => "cooperative-moved",
            };
            f.push(("why", why.into()));
            Kind::Revoked
        }
        C::Lost { partitions, error } => {
            f.push(("partitions", partitions.into()));
            if let Some(error) = error {
                f.push(("error", (*error).into()));
            }
            Kind::PartitionsLost
        }
        C::LeftGroup { why, static_member } => {
            match why {
                LeaveReason::Closed => f.push(("why", "closed".into())),
                LeaveReason::PollTimeout { .. } => f.push(("why", "poll-timeout".into())),
            }
            f.push(("static_member", (*static_member).into()));
            if let LeaveReason::PollTimeout {
                max_poll_interval_ms,
            } = why
            {
                f.push(("max_poll_interval_ms", (*max_poll_interval_ms).into()));
            }
            Kind::LeftGroup
        }
        C::RejoinRequested => Kind::RejoinRequested,
        C::OffsetReset {
            tp,
            offset,
            policy,
            why,
        } => {
            f.push(("partition", tp.into()));
            f.push(("offset", (*offset).into()));
            f.push(("policy", (*policy).into()));
            let code = match why {
                ResetReason::SeekToEnd => "seek-to-end",
                ResetReason::SeekToBeginning => "seek-to-beginning",
                ResetReason::NoGroup => "no-group",
                ResetReason::NoCommittedOffset => "no-committed-offset",
                ResetReason::OutOfRange { .. } => "out-of-range",
            };
            f.push(("why", code.into()));
            if let ResetReason::OutOfRange { offset } = why {
                f.push(("out_of_range_offset", (*offset).into()));
            }
            Kind::OffsetReset
        }
        C::NoOffset { tp } => {
            f.push(("partition", tp.into()));
            Kind::NoOffset
        }
        C::CoordinatorUnknown { coordinator, error } => {
            f.push(("coordinator", (*coordinator).into()));
            f.push(("error", error.into()));
            Kind::CoordinatorUnknown
        }
        C::CoordinatorFound { coordinator } => {
            f.push(("coordinator", (*coordinator).into()));
            Kind::CoordinatorFound
        }
        C::CommitRetrying { error } => {
            f.push(("error", error.into()));
            Kind::CommitRetry
        }
        C::CommitFailed { error } => {
            f.push(("error", error.into()));
            Kind::CommitFailed
        }
        C::SubscriptionChanged { topics } => {
            f.push(("topics", topics.into()));
            Kind::SubscriptionChanged
        }
    }
}

fn producer_event(event: &ProducerEvent, f: &mut Fields) -> Kind {
    use ProducerEvent as P;
    match event {
        P::Retrying {
            tp,
            records,
            error,
            attempt,
            in_sequence_order,
        } => {
            f.push(("partition", tp.into()));
            f.push(("records", (*records).into()));
            f.push(("error", (*error).into()));
            f.push(("attempt", (*attempt).into()));
            f.push(("in_sequence_order", (*in_sequence_order).into()));
            Kind::ProduceRetry
        }
        P::SequencesRestarted {
            tp,
            producer_id,
            epoch,
            reason,
            rewritten,
            unknown,
        } => {
            f.push(("partition", tp.into()));
            f.push(("producer_id", (*producer_id).into()));
            f.push(("producer_epoch", (*epoch).into()));
            match reason {
                RestartReason::LostAcknowledged {
                    leader,
                    last_acked_sequence,
                } => {
                    f.push(("reason", "lost-acknowledged".into()));
                    f.push(("leader", (*leader).into()));
                    if let Some(last) = last_acked_sequence {
                        f.push(("last_acked_sequence", (*last).into()));
                    }
                }
                RestartReason::Expired => f.push(("reason", "expired".into())),
                RestartReason::FailedBatch { error } => {
                    f.push(("reason", "failed-batch".into()));
                    f.push(("error", (*error).into()));
                }
            }
            f.push(("rewritten", (*rewritten).into()));
            f.push(("unknown", (*unknown).into()));
            Kind::SequencesRestarted
        }
        P::Failed { tp, records, error } => {
            f.push(("partition", tp.into()));
            f.push(("records", (*records).into()));
            f.push(("error", (*error).into()));
            Kind::ProduceFailed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_kebab_case_and_fields_snake_case() {
        let names: BTreeSet<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert!(
                kind.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                kind.name()
            );
            assert_eq!(Kind::named(kind.name()), Some(*kind));
            for field in kind.fields() {
                let field = field.strip_suffix('?').unwrap_or(field);
                assert!(
                    field.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{field}"
                );
            }
        }
    }
}
