//! Scenario files: a cluster, its topics, a workload, a timeline of faults, lesson
//! captions and expectations, in one TOML file (`format = 1`, documented in
//! `scenarios/README.md`) that replays identically from its seed.
//!
//! Kafka's config names are the keys, written with `_` for `.` (TOML would read
//! `min.insync.replicas` as nested tables): `min_insync_replicas`. Times are strings
//! with a unit (`"250ms"`, `"10s"`, `"2m"`) or integers of milliseconds.
//!
//! [`parse`] checks a file whole and reports every mistake it finds, each with its
//! file:line:column, what was expected and a hint; [`Scenario::plan`] turns it into a
//! cluster and the timed commands the conductor applies.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use kafkasim_core::broker::BrokerConfig;
use kafkasim_core::client::consumer::{
    AppCommit, ConsumerConfig, OffsetReset, Processing, Subscribe,
};
use kafkasim_core::client::producer::ProducerConfig;
use kafkasim_core::controller::validate_assignment;
use kafkasim_core::group::assignor::Strategy;
use kafkasim_core::group::coordinator::GroupState;
use kafkasim_core::partition::{Acks, TruncationProtocol};
use kafkasim_core::protocol::{TopicConfig, TopicPartition};
use kafkasim_core::replication::BrokerId;
use serde::Deserialize;
use toml::Spanned;

use crate::cluster::{Cluster, ClusterBuilder, Invariants, TopicSpec};
use crate::conductor::{Command, Timed, Trigger};
use crate::disk::Crash;
use crate::events::Kind;
use crate::fault::{ACTIONS, Action, Fault, Selector};
use crate::net::LinkConfig;
use crate::trace::TraceEntry;

/// The scenario format this build reads.
pub const FORMAT: u32 = 1;

/// A mistake in a scenario file, where it is, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every mistake of one file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

// ----- the file as written -------------------------------------------------------------

/// A time: milliseconds, or a string with a unit.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum TimeText {
    Ms(i64),
    Text(String),
}

impl TimeText {
    /// The time in milliseconds, if it reads as one (negative times are the caller's to refuse).
    fn ms(&self) -> Option<i64> {
        match self {
            TimeText::Ms(ms) => Some(*ms),
            TimeText::Text(text) => parse_time_ms(text),
        }
    }
}

type Time = Spanned<TimeText>;
type Configs = BTreeMap<String, Spanned<toml::Value>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: Spanned<u32>,
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    seed: u64,
    duration: Time,
    cluster: ClusterSection,
    #[serde(default)]
    network: Option<NetworkSection>,
    #[serde(default)]
    topics: Vec<TopicSection>,
    #[serde(default)]
    producers: Vec<ProducerSection>,
    #[serde(default)]
    consumers: Vec<ConsumerSection>,
    #[serde(default)]
    faults: Vec<FaultSection>,
    #[serde(default)]
    captions: Vec<CaptionSection>,
    #[serde(default)]
    nemesis: Option<NemesisSection>,
    #[serde(default)]
    admin: Vec<AdminSection>,
    #[serde(default)]
    expect: ExpectSection,
}

/// An admin action at a time: what `kafka-topics.sh` and `kafka-configs.sh` do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminSection {
    at: Time,
    /// create-topic, add-partitions or alter-config
    action: Spanned<String>,
    topic: Spanned<String>,
    /// create-topic: its partitions; add-partitions: the new total.
    #[serde(default)]
    partitions: Option<Spanned<u32>>,
    #[serde(default)]
    replication_factor: Option<usize>,
    #[serde(default)]
    config: Configs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NemesisSection {
    /// The kinds of fault it draws from.
    faults: Vec<Spanned<String>>,
    #[serde(default)]
    start: Option<Time>,
    #[serde(default)]
    stop: Option<Time>,
    /// The mean time from one fault to the next.
    #[serde(default)]
    interval: Option<Time>,
    /// The mean time a fault lasts before it is undone.
    #[serde(default)]
    heal_after: Option<Time>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    brokers: Spanned<i32>,
    /// The broker that starts first and so becomes the controller.
    #[serde(default)]
    controller: Option<Spanned<i32>>,
    #[serde(default)]
    config: Configs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    #[serde(default)]
    latency_min: Option<Time>,
    #[serde(default)]
    latency_max: Option<Time>,
    #[serde(default)]
    loss: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicSection {
    name: Spanned<String>,
    #[serde(default)]
    partitions: Option<Spanned<u32>>,
    #[serde(default)]
    replication_factor: Option<Spanned<usize>>,
    /// `kafka-topics.sh --replica-assignment`: each partition's brokers, leader first.
    #[serde(default)]
    replica_assignment: Option<Spanned<Vec<Vec<BrokerId>>>>,
    #[serde(default)]
    config: Configs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProducerSection {
    topic: Spanned<String>,
    #[serde(default)]
    start: Option<Time>,
    #[serde(default)]
    stop: Option<Time>,
    /// The application's time between sends.
    #[serde(default)]
    interval: Option<Time>,
    #[serde(default)]
    acks: Option<Spanned<toml::Value>>,
    #[serde(default)]
    enable_idempotence: Option<bool>,
    /// Keys `k0`..`k{n-1}` in turn; null keys without it.
    #[serde(default)]
    keys: Option<u32>,
    /// `send().get()`: wait for each send's result.
    #[serde(default)]
    sync: Option<bool>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    retry_backoff_ms: Option<i64>,
    #[serde(default)]
    retry_backoff_max_ms: Option<i64>,
    #[serde(default)]
    delivery_timeout_ms: Option<i64>,
    #[serde(default)]
    request_timeout_ms: Option<i64>,
    #[serde(default)]
    linger_ms: Option<i64>,
    #[serde(default)]
    batch_size: Option<usize>,
    #[serde(default)]
    max_in_flight_requests_per_connection: Option<usize>,
    #[serde(default)]
    metadata_max_age_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerSection {
    /// A name for faults to target (`consumer NAME`); with a count, `NAME-1`, `NAME-2`...
    #[serde(default)]
    name: Option<Spanned<String>>,
    /// `group.id`; without it the consumer must `assign`.
    #[serde(default)]
    group: Option<Spanned<String>>,
    /// How many such consumers start.
    #[serde(default)]
    count: Option<Spanned<u32>>,
    #[serde(default)]
    topics: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    assign: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    start: Option<Time>,
    #[serde(default)]
    group_instance_id: Option<String>,
    #[serde(default)]
    partition_assignment_strategy: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    session_timeout_ms: Option<i64>,
    #[serde(default)]
    heartbeat_interval_ms: Option<i64>,
    #[serde(default)]
    max_poll_interval_ms: Option<i64>,
    #[serde(default)]
    enable_auto_commit: Option<bool>,
    #[serde(default)]
    auto_commit_interval_ms: Option<i64>,
    #[serde(default)]
    auto_offset_reset: Option<Spanned<String>>,
    #[serde(default)]
    max_poll_records: Option<usize>,
    /// The application's time per record.
    #[serde(default)]
    processing_ms: Option<i64>,
    /// Where the application processes records: synchronous (in the poll loop) or
    /// handoff (on another worker, polling again at once).
    #[serde(default)]
    processing: Option<Spanned<String>>,
    /// The application's commits after processing: none, sync, async, async-then-sync.
    #[serde(default)]
    commit: Option<Spanned<String>>,
    #[serde(default)]
    metadata_max_age_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSection {
    at: Time,
    action: Spanned<String>,
    #[serde(default)]
    target: Option<Spanned<String>>,
    /// For `partition`: the sides, each a list of selectors.
    #[serde(default)]
    groups: Option<Vec<Vec<Spanned<String>>>>,
    /// For `stall`: how long the consumer's application stops polling.
    #[serde(default)]
    duration: Option<Time>,
    /// For `link`, `hold` and `release`: the other end of the links (both directions).
    #[serde(default)]
    peer: Option<Spanned<String>>,
    /// For `link`: each message's delay from now on.
    #[serde(default)]
    latency: Option<Time>,
    /// For `link`: the probability that a message is lost (its connection breaks).
    #[serde(default)]
    loss: Option<Spanned<f64>>,
    /// For `power-loss`: `"some"` (a seeded prefix of the unflushed bytes reached the
    /// disk, the default) or `"lost"` (none did: the same story on every seed).
    #[serde(default)]
    unflushed: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaptionSection {
    /// When to show it; with `on`, when to start watching (default 0).
    #[serde(default)]
    at: Option<Time>,
    /// Show it right after the first event that matches: `{ kind = "isr-shrink",
    /// partition = "orders-0" }` (or, as before event kinds, a part of its sentence).
    #[serde(default)]
    on: Option<Spanned<toml::Value>>,
    text: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSection {
    #[serde(default)]
    lost_writes: Option<Spanned<String>>,
    #[serde(default)]
    duplicates: Option<Spanned<String>>,
    #[serde(default)]
    invariants: Option<Spanned<String>>,
    #[serde(default)]
    inconsistent_offsets: Option<Spanned<String>>,
    #[serde(default)]
    producer_order: Option<Spanned<String>>,
    #[serde(default)]
    poll_order: Option<Spanned<String>>,
    #[serde(default)]
    reads_above_hw: Option<Spanned<String>>,
    #[serde(default)]
    group_exclusivity: Option<Spanned<String>>,
    #[serde(default)]
    commits_ahead: Option<Spanned<String>>,
    #[serde(default)]
    redelivered: Option<Spanned<String>>,
    #[serde(default)]
    liveness: Option<Spanned<String>>,
    /// `"shown"` (the default): every caption waiting for an event must show;
    /// `"unchecked"`: a saved session whose added faults change the story.
    #[serde(default)]
    captions: Option<Spanned<String>>,
    #[serde(default)]
    state: Vec<StateSection>,
    #[serde(default)]
    group: Vec<GroupSection>,
    /// `[[expect.event]]`: kind, field filters, after, before, count.
    #[serde(default)]
    event: Vec<Configs>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSection {
    at: Time,
    group: String,
    /// Empty, PreparingRebalance, CompletingRebalance, Stable or Dead.
    #[serde(default)]
    state: Option<Spanned<String>>,
    #[serde(default)]
    generation: Option<i32>,
    /// How many members.
    #[serde(default)]
    members: Option<usize>,
    /// How many partitions the members own in all.
    #[serde(default)]
    assigned: Option<usize>,
    /// The group's total lag (records below the HWs past its committed offsets) is at
    /// most this.
    #[serde(default)]
    max_lag: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateSection {
    at: Time,
    partition: Spanned<String>,
    /// A broker id, or "none" for an offline partition.
    #[serde(default)]
    leader: Option<Spanned<toml::Value>>,
    #[serde(default)]
    isr: Option<Vec<BrokerId>>,
    /// How many replicas the ISR holds, whichever they are (when a fault's target is
    /// chosen at run time).
    #[serde(default)]
    isr_size: Option<usize>,
    #[serde(default)]
    high_watermark: Option<i64>,
    #[serde(default)]
    log_end_offset: Option<i64>,
}

// ----- the scenario as the runner uses it -----------------------------------------------

/// A caption's text: words and `{selector}` placeholders (`{leader of orders-0}`), each
/// filled in with what it names at the moment the caption shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptionText {
    pub parts: Vec<CaptionPart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptionPart {
    Text(String),
    Named(Selector),
}

impl CaptionText {
    pub fn plain(text: &str) -> CaptionText {
        CaptionText {
            parts: vec![CaptionPart::Text(text.to_string())],
        }
    }

    /// The text with each placeholder's brokers now (`2`, `1 and 3`; `nobody` when it
    /// names none); a consumer placeholder gives its name.
    pub fn render(&self, cluster: &Cluster) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                CaptionPart::Text(t) => out.push_str(t),
                CaptionPart::Named(Selector::Consumer(name)) => out.push_str(name),
                CaptionPart::Named(Selector::ZooKeeper) => out.push_str("ZooKeeper"),
                CaptionPart::Named(selector) => {
                    let mut nodes = selector.resolve(cluster);
                    nodes.sort_unstable();
                    let ids: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
                    out.push_str(&match ids.as_slice() {
                        [] => "nobody".to_string(),
                        [one] => one.clone(),
                        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                    });
                }
            }
        }
        out
    }

    /// Whether a shown caption's text came from this one: its words, in order.
    pub fn shown_as(&self, text: &str) -> bool {
        let mut rest = text;
        for (i, part) in self.parts.iter().enumerate() {
            if let CaptionPart::Text(t) = part {
                match rest.find(t.as_str()) {
                    Some(at) if i > 0 || at == 0 => rest = &rest[at + t.len()..],
                    _ => return false,
                }
            }
        }
        true
    }
}

impl fmt::Display for CaptionText {
    /// As written in the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                CaptionPart::Text(t) => f.write_str(t)?,
                CaptionPart::Named(selector) => write!(f, "{{{selector}}}")?,
            }
        }
        Ok(())
    }
}

/// A checker's verdict a scenario expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
}

/// What the cluster must look like at a time, and where the file says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub at_ms: i64,
    /// `file:line:column`, for reports.
    pub place: String,
    pub what: Expected,
}

impl Expectation {
    /// When it is judged: `at 20000 ms`, `5000..=30000 ms`, `from 5000 ms`.
    pub fn when(&self) -> String {
        match &self.what {
            Expected::Event(EventExpectation {
                before_ms: Some(before),
                ..
            }) => format!("{}..={before} ms", self.at_ms),
            Expected::Event(_) | Expected::CaptionShown { .. } => {
                format!("from {} ms", self.at_ms)
            }
            Expected::Partition(_) | Expected::Group(_) => format!("at {} ms", self.at_ms),
        }
    }
}

/// A partition's or a group's expected state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    Partition(PartitionExpectation),
    Group(GroupExpectation),
    /// Judged over the whole trace at the end.
    Event(EventExpectation),
    /// A caption waiting for an event (`on`) is shown: its event happened.
    CaptionShown {
        text: CaptionText,
    },
}

impl Expected {
    /// What it is about: `orders-0`, `group billing`, `event isr-shrink`.
    pub fn subject(&self) -> String {
        match self {
            Expected::Partition(p) => p.tp.to_string(),
            Expected::Group(g) => format!("group {}", g.group),
            Expected::Event(e) => format!("event {}", e.matcher),
            Expected::CaptionShown { .. } => "caption".to_string(),
        }
    }

    /// Whether it is judged on a snapshot at its time (else over the trace at the end).
    pub fn at_a_moment(&self) -> bool {
        matches!(self, Expected::Partition(_) | Expected::Group(_))
    }
}

/// Events of a kind whose fields have these values (in the form
/// [`crate::events::Value`] displays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMatch {
    pub kind: Kind,
    pub fields: Vec<(String, String)>,
}

impl EventMatch {
    pub fn matches(&self, entry: &TraceEntry) -> bool {
        let (kind, fields) = entry.data();
        kind == self.kind
            && self.fields.iter().all(|(name, want)| {
                fields
                    .iter()
                    .any(|(n, v)| n == name && v.to_string() == *want)
            })
    }
}

impl fmt::Display for EventMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        for (name, value) in &self.fields {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

/// How many matching events `[[expect.event]]` wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Exactly(usize),
    AtLeast(usize),
    AtMost(usize),
}

impl Count {
    pub fn holds(self, n: usize) -> bool {
        match self {
            Count::Exactly(c) => n == c,
            Count::AtLeast(c) => n >= c,
            Count::AtMost(c) => n <= c,
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Exactly(c) => write!(f, "exactly {c}"),
            Count::AtLeast(c) => write!(f, "at least {c}"),
            Count::AtMost(c) => write!(f, "at most {c}"),
        }
    }
}

/// Events that happen (or, with count 0, never happen) in a window
/// (`[[expect.event]]`); the window starts at the expectation's `at_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventExpectation {
    pub matcher: EventMatch,
    pub before_ms: Option<i64>,
    pub count: Count,
}

impl EventExpectation {
    /// How the trace differs from it (empty: met).
    pub fn differences(&self, after_ms: i64, trace: &[TraceEntry]) -> Vec<String> {
        let found: Vec<&TraceEntry> = trace
            .iter()
            .filter(|e| {
                e.time_ms() >= after_ms
                    && self.before_ms.is_none_or(|b| e.time_ms() <= b)
                    && self.matcher.matches(e)
            })
            .collect();
        if self.count.holds(found.len()) {
            return Vec::new();
        }
        let window = match self.before_ms {
            Some(b) => format!("between {after_ms} ms and {b} ms"),
            None => format!("from {after_ms} ms on"),
        };
        let mut out = vec![format!(
            "{} {} expected {window}, found {}",
            self.count,
            self.matcher,
            found.len()
        )];
        out.extend(found.iter().take(3).map(|e| format!("found: {}", e.line())));
        out
    }
}

/// What a partition must look like ([[expect.state]]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionExpectation {
    pub tp: TopicPartition,
    /// Some(None): offline.
    pub leader: Option<Option<BrokerId>>,
    pub isr: Option<BTreeSet<BrokerId>>,
    pub isr_size: Option<usize>,
    pub high_watermark: Option<i64>,
    pub log_end_offset: Option<i64>,
}

/// What a consumer group must look like ([[expect.group]]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupExpectation {
    pub group: String,
    pub state: Option<GroupState>,
    pub generation: Option<i32>,
    pub members: Option<usize>,
    pub assigned: Option<usize>,
    pub max_lag: Option<i64>,
}

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: String,
    pub title: String,
    pub summary: String,
    pub seed: u64,
    pub duration_ms: i64,
    pub builder: ClusterBuilder,
    pub commands: Vec<Timed>,
    /// Expected verdicts by checker name.
    pub expect: BTreeMap<&'static str, Verdict>,
    /// State expectations, by time.
    pub expectations: Vec<Expectation>,
    pub nemesis: Option<Nemesis>,
}

impl Scenario {
    /// The cluster and the timed commands of a run from `seed`: the file's own, and the
    /// faults its nemesis draws from the seed.
    pub fn plan(&self, seed: u64) -> (ClusterBuilder, Vec<Timed>) {
        let mut commands = self.commands.clone();
        if let Some(nemesis) = &self.nemesis {
            commands.extend(nemesis.schedule(seed, &self.builder));
            // Stable: the file's commands come first at equal times.
            commands.sort_by_key(|t| t.at_ms);
        }
        (self.builder.clone(), commands)
    }
}

/// A kind of fault the nemesis injects, and how it is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NemesisFault {
    Crash,
    PowerLoss,
    Shutdown,
    /// One broker cut off from the other brokers (ZooKeeper and clients reach both).
    Partition,
    /// One broker or ZooKeeper cut off from everyone.
    Isolate,
    Pause,
}

const NEMESIS_FAULTS: &[(&str, NemesisFault)] = &[
    ("crash", NemesisFault::Crash),
    ("power-loss", NemesisFault::PowerLoss),
    ("shutdown", NemesisFault::Shutdown),
    ("partition", NemesisFault::Partition),
    ("isolate", NemesisFault::Isolate),
    ("pause", NemesisFault::Pause),
];

/// A seeded random fault schedule (Jepsen's nemesis): one fault at a time, each undone
/// before the next, at jittered intervals; targets drawn from the brokers, the
/// partitions' leaders, the controller and ZooKeeper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nemesis {
    pub faults: Vec<NemesisFault>,
    pub start_ms: i64,
    pub stop_ms: i64,
    pub interval_ms: i64,
    pub heal_after_ms: i64,
}

impl Nemesis {
    /// The faults and their undoing, drawn from `seed` alone.
    pub fn schedule(&self, seed: u64, cluster: &ClusterBuilder) -> Vec<Timed> {
        use kafkasim_core::rng::{RandomSource, SplitMix64};
        let mut rng = SplitMix64::new(seed ^ 0x6e65_6d65_7369_7321);
        let mut draw = |n: usize| (rng.next_u32() as usize) % n.max(1);
        let brokers: Vec<BrokerId> = (1..=cluster.brokers).collect();
        let leaders: Vec<Selector> = cluster
            .topics
            .iter()
            .flat_map(|t| {
                (0..t.partitions).map(|p| Selector::LeaderOf(TopicPartition::new(&t.name, p)))
            })
            .collect();
        let mut out = Vec::new();
        let mut at = self.start_ms;
        loop {
            // Jitter: from half to one and a half of the mean.
            at += self.interval_ms / 2 + draw(self.interval_ms as usize + 1) as i64;
            let lasts = self.heal_after_ms / 2 + draw(self.heal_after_ms as usize + 1) as i64;
            if at + lasts > self.stop_ms {
                break;
            }
            let kind = self.faults[draw(self.faults.len())];
            let broker = Selector::Broker(brokers[draw(brokers.len())]);
            // Crashes and pauses hit a chosen broker, a leader or the controller.
            let victim = match draw(3) {
                0 => broker.clone(),
                1 if !leaders.is_empty() => leaders[draw(leaders.len())].clone(),
                _ => Selector::Controller,
            };
            let act = |action, target| Command::Fault(Fault { action, target });
            let (fault, undo) = match kind {
                NemesisFault::Crash => (
                    act(Action::Crash(Crash::Process), Some(victim)),
                    act(Action::Restart, Some(Selector::Crashed)),
                ),
                NemesisFault::PowerLoss => (
                    act(Action::Crash(Crash::PowerLoss), Some(victim)),
                    act(Action::Restart, Some(Selector::Crashed)),
                ),
                NemesisFault::Shutdown => (
                    act(Action::Shutdown, Some(victim)),
                    act(Action::Restart, Some(Selector::Crashed)),
                ),
                NemesisFault::Partition => {
                    let Selector::Broker(b) = broker else {
                        unreachable!("a broker");
                    };
                    let others = brokers
                        .iter()
                        .filter(|o| **o != b)
                        .map(|o| Selector::Broker(*o))
                        .collect();
                    (
                        act(
                            Action::Partition(vec![vec![Selector::Broker(b)], others]),
                            None,
                        ),
                        act(Action::Heal, None),
                    )
                }
                NemesisFault::Isolate => {
                    let target = if draw(4) == 0 {
                        Selector::ZooKeeper
                    } else {
                        broker
                    };
                    (act(Action::Isolate, Some(target)), act(Action::Heal, None))
                }
                NemesisFault::Pause => {
                    // Resume what was paused: a broker named now.
                    let b = broker;
                    (
                        act(Action::Pause, Some(b.clone())),
                        act(Action::Resume, Some(b)),
                    )
                }
            };
            out.push(Timed::new(at, fault));
            out.push(Timed::new(at + lasts, undo));
            at += lasts;
        }
        out
    }
}

// ----- checking ------------------------------------------------------------------------

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ScenarioError>,
    /// The names the file gave its consumers, which faults may target.
    consumer_names: BTreeSet<String>,
}

impl Checker<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    }

    /// `file:line:column` of a span, for reports.
    fn place(&self, span: Range<usize>) -> String {
        let (line, column) = self.position(span.start);
        format!("{}:{line}:{column}", self.file)
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
            hint,
        });
    }

    fn time(&mut self, time: &Time, what: &str) -> Option<i64> {
        match time.get_ref().ms() {
            Some(ms) if ms >= 0 => Some(ms),
            _ => {
                self.error(
                    time.span(),
                    format!("{what}: expected a time such as \"250ms\", \"10s\" or \"2m\""),
                    Some("a number with a unit ms, s or m; or an integer of milliseconds".into()),
                );
                None
            }
        }
    }

    fn selector(
        &mut self,
        text: &Spanned<String>,
        topics: &BTreeMap<String, u32>,
    ) -> Option<Selector> {
        match parse_selector(text.get_ref(), topics, &self.consumer_names) {
            Ok(s) => Some(s),
            Err(why) => {
                self.error(
                    text.span(),
                    format!("unknown target {:?}: {why}", text.get_ref()),
                    Some(
                        "targets are \"broker N\", \"controller\", \"leader of TOPIC-P\", \
                         \"followers of TOPIC-P\", \"a follower of TOPIC-P\", \"coordinator of GROUP\", \
                         \"zookeeper\", \"crashed\" or \"consumer NAME\""
                            .into(),
                    ),
                );
                None
            }
        }
    }

    fn one_of<T: Copy>(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == value.get_ref()) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        self.error(
            value.span(),
            format!(
                "{what}: {:?} is not one of {}",
                value.get_ref(),
                names.join(", ")
            ),
            closest(value.get_ref(), &names).map(|c| format!("did you mean {c:?}?")),
        );
        None
    }

    /// A caption's text with its `{selector}` placeholders checked.
    fn caption_text(
        &mut self,
        text: &Spanned<String>,
        topics: &BTreeMap<String, u32>,
    ) -> Option<CaptionText> {
        let mut parts = Vec::new();
        let mut rest = text.get_ref().trim();
        while let Some(open) = rest.find('{') {
            let Some(len) = rest[open..].find('}') else {
                self.error(
                    text.span(),
                    "a caption's { has no closing }",
                    Some("placeholders look like {leader of orders-0}".into()),
                );
                return None;
            };
            if open > 0 {
                parts.push(CaptionPart::Text(rest[..open].to_string()));
            }
            let inside = &rest[open + 1..open + len];
            match parse_selector(inside, topics, &self.consumer_names) {
                Ok(selector) => parts.push(CaptionPart::Named(selector)),
                Err(why) => {
                    self.error(
                        text.span(),
                        format!("caption placeholder {{{inside}}}: {why}"),
                        Some("a target such as {leader of orders-0}, {controller}, {followers of orders-0}, {coordinator of billing}".into()),
                    );
                    return None;
                }
            }
            rest = &rest[open + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(CaptionPart::Text(rest.to_string()));
        }
        Some(CaptionText { parts })
    }

    /// A time given as a TOML value: `"10s"`, `"250ms"` or an integer of milliseconds.
    fn time_value(&mut self, value: &Spanned<toml::Value>, what: &str) -> Option<i64> {
        let ms = match value.get_ref() {
            toml::Value::String(text) => parse_time_ms(text),
            toml::Value::Integer(ms) => Some(*ms),
            _ => None,
        };
        match ms {
            Some(ms) if ms >= 0 => Some(ms),
            _ => {
                self.error(
                    value.span(),
                    format!("{what}: expected a time such as \"250ms\", \"10s\" or \"2m\""),
                    Some("a number with a unit ms, s or m; or an integer of milliseconds".into()),
                );
                None
            }
        }
    }

    /// `count = 2` (exactly), `">= 1"`, `"<= 3"`, `"> 0"`, `"< 5"`.
    fn count(&mut self, value: &Spanned<toml::Value>) -> Option<Count> {
        let parsed = match value.get_ref() {
            toml::Value::Integer(n) if *n >= 0 => Some(Count::Exactly(*n as usize)),
            toml::Value::String(text) => {
                let text = text.trim();
                let number = |t: &str| t.trim().parse::<usize>().ok();
                if let Some(n) = text.strip_prefix(">=") {
                    number(n).map(Count::AtLeast)
                } else if let Some(n) = text.strip_prefix("<=") {
                    number(n).map(Count::AtMost)
                } else if let Some(n) = text.strip_prefix('>') {
                    number(n).map(|n| Count::AtLeast(n + 1))
                } else if let Some(n) = text.strip_prefix('<') {
                    number(n).and_then(|n| n.checked_sub(1)).map(Count::AtMost)
                } else {
                    number(text.strip_prefix("==").unwrap_or(text)).map(Count::Exactly)
                }
            }
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                value.span(),
                "count: a number of events, or a comparison with one",
                Some(
                    "count = 0 (never), count = 2, count = \">= 1\" (the default), \"<= 3\"".into(),
                ),
            );
        }
        parsed
    }

    /// An event's kind and field filters, from a table's `kind` and every other key but
    /// `skip`.
    fn event_match(
        &mut self,
        table: &Configs,
        skip: &[&str],
        span: Range<usize>,
    ) -> Option<EventMatch> {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        let kind = match table.get("kind").map(|v| (v, v.get_ref())) {
            None => {
                self.error(
                    span,
                    "an event needs its kind",
                    Some("kind = \"isr-shrink\" (scenarios/README.md lists every kind and its fields)".into()),
                );
                return None;
            }
            Some((v, toml::Value::String(name))) => match Kind::named(name) {
                Some(kind) => kind,
                None => {
                    self.error(
                        v.span(),
                        format!("unknown event kind {name:?}"),
                        Some(match closest(name, &names) {
                            Some(k) => format!("did you mean {k:?}?"),
                            None => "scenarios/README.md lists every kind".into(),
                        }),
                    );
                    return None;
                }
            },
            Some((v, _)) => {
                self.error(v.span(), "kind is a name such as \"isr-shrink\"", None);
                return None;
            }
        };
        let mut fields = Vec::new();
        let mut ok = true;
        for (name, value) in table {
            if name == "kind" || skip.contains(&name.as_str()) {
                continue;
            }
            if !kind.has_field(name) {
                let known: Vec<&str> = kind
                    .fields()
                    .iter()
                    .map(|f| f.strip_suffix('?').unwrap_or(f))
                    .collect();
                self.error(
                    value.span(),
                    format!("{} events have no field {name:?}", kind.name()),
                    Some(match closest(name, &known) {
                        Some(f) => format!("did you mean {f:?}?"),
                        None => format!("its fields: {}", known.join(", ")),
                    }),
                );
                ok = false;
                continue;
            }
            fields.push((name.clone(), canonical(value.get_ref())));
        }
        ok.then_some(EventMatch { kind, fields })
    }
}

/// A filter's value in the form [`crate::events::Value`] displays.
fn canonical(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// `"250ms"`, `"10s"`, `"1.5s"`, `"2m"` in milliseconds.
pub fn parse_time_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    let (whole, fraction) = number.trim().split_once('.').unwrap_or((number.trim(), ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 3 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut ms = whole.checked_mul(unit_ms)?;
    if !fraction.is_empty() {
        let scale = 10_i64.pow(fraction.len() as u32);
        ms += fraction.parse::<i64>().ok()? * unit_ms / scale;
    }
    Some(ms)
}

fn parse_partition(text: &str, topics: &BTreeMap<String, u32>) -> Result<TopicPartition, String> {
    let (topic, p) = text
        .rsplit_once('-')
        .ok_or_else(|| format!("{text:?} is not TOPIC-PARTITION, such as orders-0"))?;
    let p: u32 = p
        .parse()
        .map_err(|_| format!("{text:?} is not TOPIC-PARTITION, such as orders-0"))?;
    match topics.get(topic) {
        None => Err(format!("no topic {topic:?} in the scenario")),
        Some(n) if p >= *n => Err(format!("{topic} has {n} partitions, 0..{}", n - 1)),
        Some(_) => Ok(TopicPartition::new(topic, p)),
    }
}

fn parse_selector(
    text: &str,
    topics: &BTreeMap<String, u32>,
    consumers: &BTreeSet<String>,
) -> Result<Selector, String> {
    let text = text.trim();
    if let Some(name) = text.strip_prefix("consumer ") {
        let name = name.trim();
        return if consumers.contains(name) {
            Ok(Selector::Consumer(name.to_string()))
        } else {
            Err(format!("no consumer is named {name:?} in the scenario"))
        };
    }
    if let Some(id) = text.strip_prefix("broker ") {
        return id
            .trim()
            .parse()
            .map(Selector::Broker)
            .map_err(|_| format!("{id:?} is not a broker id"));
    }
    if let Some(tp) = text.strip_prefix("leader of ") {
        return parse_partition(tp.trim(), topics).map(Selector::LeaderOf);
    }
    if let Some(tp) = text.strip_prefix("followers of ") {
        return parse_partition(tp.trim(), topics).map(Selector::FollowersOf);
    }
    if let Some(tp) = text.strip_prefix("a follower of ") {
        return parse_partition(tp.trim(), topics).map(Selector::AFollowerOf);
    }
    if let Some(group) = text.strip_prefix("coordinator of ") {
        return Ok(Selector::CoordinatorOf(group.trim().to_string()));
    }
    match text {
        "controller" => Ok(Selector::Controller),
        "zookeeper" => Ok(Selector::ZooKeeper),
        "crashed" => Ok(Selector::Crashed),
        "not the controller" => Ok(Selector::NotController),
        _ => Err("not a known target".into()),
    }
}

/// The closest of `names` to `word`, if close enough to be a typo.
pub fn closest<'a>(word: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|n| (edit_distance(word, n), *n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

// ----- configs: Kafka's names ------------------------------------------------------------

/// Sets `target` if the file gave a value.
fn set_if<T>(target: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *target = v;
    }
}

fn int(value: &toml::Value) -> Result<i64, String> {
    value
        .as_integer()
        .ok_or_else(|| format!("expected an integer, found {}", value.type_str()))
}

fn non_negative(value: &toml::Value) -> Result<i64, String> {
    match int(value)? {
        n if n >= 0 => Ok(n),
        n => Err(format!("expected a number >= 0, found {n}")),
    }
}

fn unsigned(value: &toml::Value) -> Result<usize, String> {
    usize::try_from(non_negative(value)?).map_err(|e| e.to_string())
}

fn unsigned32(value: &toml::Value) -> Result<u32, String> {
    u32::try_from(non_negative(value)?).map_err(|_| "expected a number below 2^32".to_string())
}

fn positive32(value: &toml::Value) -> Result<u32, String> {
    match unsigned32(value)? {
        0 => Err("expected a number >= 1".to_string()),
        n => Ok(n),
    }
}

fn seconds_as_ms(value: &toml::Value) -> Result<i64, String> {
    non_negative(value)?
        .checked_mul(1_000)
        .ok_or_else(|| "too many seconds".to_string())
}

fn boolean(value: &toml::Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("expected true or false, found {}", value.type_str()))
}

type Setter<C> = fn(&mut C, &toml::Value) -> Result<(), String>;

/// A setter for one config field, the value read by `$read`.
macro_rules! set {
    ($($field:ident).+ = $read:ident) => {
        |c, v| {
            c.$($field).+ = $read(v)?;
            Ok(())
        }
    };
}

/// Topic-level configs, by their topic names.
const TOPIC_CONFIGS: &[(&str, Setter<TopicConfig>)] = &[
    ("min_insync_replicas", set!(min_insync_replicas = unsigned)),
    (
        "unclean_leader_election_enable",
        set!(unclean_leader_election_enable = boolean),
    ),
    ("segment_bytes", set!(log.segment_bytes = unsigned32)),
    ("segment_ms", set!(log.segment_ms = non_negative)),
    ("retention_ms", set!(log.retention_ms = int)),
    ("retention_bytes", set!(log.retention_bytes = int)),
    ("flush_messages", set!(log.flush_messages = non_negative)),
    ("flush_ms", set!(log.flush_ms = non_negative)),
    (
        "index_interval_bytes",
        set!(log.index_interval_bytes = unsigned32),
    ),
    (
        "max_message_bytes",
        set!(log.max_message_bytes = unsigned32),
    ),
];

/// Broker configs, by Kafka's broker names (topic defaults with their `log.` names).
const BROKER_CONFIGS: &[(&str, Setter<BrokerConfig>)] = &[
    (
        "replica_lag_time_max_ms",
        set!(replica_lag_time_max_ms = non_negative),
    ),
    (
        "replica_fetch_wait_max_ms",
        set!(replica_fetch_wait_max_ms = non_negative),
    ),
    (
        "replica_fetch_max_bytes",
        set!(replica_fetch_max_bytes = unsigned),
    ),
    (
        "replica_fetch_backoff_ms",
        set!(replica_fetch_backoff_ms = non_negative),
    ),
    (
        "replica_socket_timeout_ms",
        set!(replica_socket_timeout_ms = non_negative),
    ),
    (
        "replica_high_watermark_checkpoint_interval_ms",
        set!(replica_high_watermark_checkpoint_interval_ms = non_negative),
    ),
    (
        "zookeeper_session_timeout_ms",
        set!(zookeeper_session_timeout_ms = non_negative),
    ),
    (
        "log_retention_check_interval_ms",
        set!(log_retention_check_interval_ms = non_negative),
    ),
    (
        "controlled_shutdown_max_retries",
        set!(controlled_shutdown_max_retries = unsigned32),
    ),
    (
        "controlled_shutdown_retry_backoff_ms",
        set!(controlled_shutdown_retry_backoff_ms = non_negative),
    ),
    (
        "offsets_topic_num_partitions",
        set!(offsets_topic_num_partitions = positive32),
    ),
    (
        "offsets_topic_replication_factor",
        set!(offsets_topic_replication_factor = unsigned),
    ),
    (
        "offsets_commit_timeout_ms",
        set!(offsets_commit_timeout_ms = non_negative),
    ),
    (
        "controller_socket_timeout_ms",
        set!(controller.controller_socket_timeout_ms = non_negative),
    ),
    (
        "auto_leader_rebalance_enable",
        set!(controller.auto_leader_rebalance_enable = boolean),
    ),
    (
        "leader_imbalance_check_interval_seconds",
        set!(controller.leader_imbalance_check_interval_ms = seconds_as_ms),
    ),
    (
        "leader_imbalance_per_broker_percentage",
        set!(controller.leader_imbalance_per_broker_percentage = unsigned32),
    ),
    (
        "group_min_session_timeout_ms",
        set!(group.group_min_session_timeout_ms = non_negative),
    ),
    (
        "group_max_session_timeout_ms",
        set!(group.group_max_session_timeout_ms = non_negative),
    ),
    (
        "group_initial_rebalance_delay_ms",
        set!(group.group_initial_rebalance_delay_ms = non_negative),
    ),
    ("group_max_size", set!(group.group_max_size = unsigned)),
    // kafkasim's switches for rules Kafka changed across versions.
    ("replication_protocol", |c, v| {
        c.replication_protocol = match v.as_str() {
            Some("leader-epoch") => TruncationProtocol::LeaderEpoch,
            Some("high-watermark") => TruncationProtocol::HighWatermark,
            _ => {
                return Err(
                    "expected \"leader-epoch\" (Kafka 0.11+) or \"high-watermark\" (before 0.11)"
                        .into(),
                );
            }
        };
        Ok(())
    }),
    (
        "hold_high_watermark_below_min_isr",
        set!(hold_high_watermark_below_min_isr = boolean),
    ),
    // Topic defaults.
    (
        "min_insync_replicas",
        set!(default_topic_config.min_insync_replicas = unsigned),
    ),
    (
        "unclean_leader_election_enable",
        set!(default_topic_config.unclean_leader_election_enable = boolean),
    ),
    (
        "log_segment_bytes",
        set!(default_topic_config.log.segment_bytes = unsigned32),
    ),
    (
        "log_retention_ms",
        set!(default_topic_config.log.retention_ms = int),
    ),
    (
        "log_retention_bytes",
        set!(default_topic_config.log.retention_bytes = int),
    ),
    (
        "log_flush_interval_messages",
        set!(default_topic_config.log.flush_messages = non_negative),
    ),
    (
        "log_flush_interval_ms",
        set!(default_topic_config.log.flush_ms = non_negative),
    ),
];

/// The names a config table accepts, for help texts.
pub fn broker_config_names() -> Vec<&'static str> {
    BROKER_CONFIGS.iter().map(|(n, _)| *n).collect()
}

pub fn topic_config_names() -> Vec<&'static str> {
    TOPIC_CONFIGS.iter().map(|(n, _)| *n).collect()
}

impl Checker<'_> {
    fn configs<C>(
        &mut self,
        target: &mut C,
        configs: &Configs,
        table: &[(&str, Setter<C>)],
        what: &str,
    ) {
        for (key, value) in configs {
            match table.iter().find(|(name, _)| name == key) {
                Some((_, set)) => {
                    if let Err(why) = set(target, value.get_ref()) {
                        self.error(value.span(), format!("{what} config {key}: {why}"), None);
                    }
                }
                None => {
                    // TOML reads a bare `min.insync.replicas = 2` as nested tables.
                    let mut dotted = key.clone();
                    let mut inner = value.get_ref();
                    while let toml::Value::Table(t) = inner
                        && t.len() == 1
                    {
                        let (k, v) = t.iter().next().expect("one entry");
                        dotted = format!("{dotted}.{k}");
                        inner = v;
                    }
                    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                    let hint = match closest(key, &names) {
                        Some(c) => format!("did you mean {c}?"),
                        None if dotted.contains('.') => {
                            format!(
                                "write Kafka's dots as underscores: {}",
                                dotted.replace('.', "_")
                            )
                        }
                        None => format!("{what} configs are: {}", names.join(", ")),
                    };
                    self.error(
                        value.span(),
                        format!("unknown {what} config {dotted:?}"),
                        Some(hint),
                    );
                }
            }
        }
    }
}

// ----- parse --------------------------------------------------------------------------

/// Reads and checks a scenario file's text; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioErrors> {
    let mut checker = Checker {
        file,
        text,
        errors: Vec::new(),
        consumer_names: BTreeSet::new(),
    };
    let Some(parsed) = read_file(&mut checker, text) else {
        return Err(ScenarioErrors(checker.errors));
    };
    let scenario = check(&mut checker, parsed);
    if checker.errors.is_empty() {
        Ok(scenario.expect("no errors"))
    } else {
        checker.errors.sort_by_key(|e| (e.line, e.column));
        Err(ScenarioErrors(checker.errors))
    }
}

/// What to do about serde's message for a key it does not know or misses.
fn shape_hint(message: &str) -> Option<String> {
    // serde names the key between backticks.
    let mut quoted = message.split('`').skip(1).step_by(2);
    let key = quoted.next().unwrap_or_default();
    if message.starts_with("unknown field") {
        // The rest are the keys the section takes.
        let expected: Vec<&str> = quoted.collect();
        Some(if BROKER_CONFIGS.iter().any(|(name, _)| *name == key) {
            format!("{key} is a broker config: put it under [cluster.config]")
        } else if TOPIC_CONFIGS.iter().any(|(name, _)| *name == key) {
            format!("{key} is a topic config: put it under [topics.config]")
        } else if let Some(near) = closest(key, &expected) {
            format!("did you mean {near}?")
        } else {
            "scenarios/README.md lists every section and key".to_string()
        })
    } else if message.starts_with("missing field") {
        Some(
            if ["format", "title", "duration", "cluster", "brokers"].contains(&key) {
                "every scenario needs format, title, duration and [cluster] brokers"
            } else {
                "the example in scenarios/README.md shows each section's required keys"
            }
            .to_string(),
        )
    } else {
        None
    }
}

/// Reads the file's TOML into its sections, reporting every syntax error (the parser
/// recovers and goes on) or else every shape error: serde stops at the first, so on a
/// failure each section, and each entry of a list of sections, is read again on its own.
fn read_file(c: &mut Checker<'_>, text: &str) -> Option<File> {
    use serde::de::DeserializeOwned;
    use toml::de::{DeTable, DeValue, Deserializer, Error, ValueDeserializer};

    fn each<T: DeserializeOwned>(
        value: &Spanned<DeValue<'_>>,
        list: bool,
        errors: &mut Vec<Error>,
    ) {
        let items = match value.get_ref() {
            DeValue::Array(items) if list => items.iter().cloned().collect(),
            _ => vec![value.clone()],
        };
        for item in items {
            if let Err(e) = T::deserialize(ValueDeserializer::from(item)) {
                errors.push(e);
            }
        }
    }

    let (root, syntax) = DeTable::parse_recoverable(text);
    let mut errors = syntax;
    if errors.is_empty() {
        match File::deserialize(Deserializer::from(root.clone())) {
            Ok(file) => return Some(file),
            Err(first) => errors.push(first),
        }
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "cluster" => each::<ClusterSection>(value, false, &mut errors),
                "network" => each::<NetworkSection>(value, false, &mut errors),
                "topics" => each::<TopicSection>(value, true, &mut errors),
                "producers" => each::<ProducerSection>(value, true, &mut errors),
                "consumers" => each::<ConsumerSection>(value, true, &mut errors),
                "faults" => each::<FaultSection>(value, true, &mut errors),
                "captions" => each::<CaptionSection>(value, true, &mut errors),
                "nemesis" => each::<NemesisSection>(value, false, &mut errors),
                "admin" => each::<AdminSection>(value, true, &mut errors),
                "expect" => each::<ExpectSection>(value, false, &mut errors),
                _ => {}
            }
        }
    }
    let mut seen = BTreeSet::new();
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        // The whole file's first error is also one section's.
        if !seen.insert((span.start, message.clone())) {
            continue;
        }
        c.error(span, message.clone(), shape_hint(&message));
    }
    c.errors.sort_by_key(|e| (e.line, e.column));
    None
}

fn check(c: &mut Checker<'_>, f: File) -> Option<Scenario> {
    if *f.format.get_ref() != FORMAT {
        c.error(
            f.format.span(),
            format!(
                "format {} is not one this kafkasim reads",
                f.format.get_ref()
            ),
            Some(format!("write format = {FORMAT}")),
        );
    }
    let duration_ms = c.time(&f.duration, "duration").unwrap_or(0);
    let brokers = *f.cluster.brokers.get_ref();
    if !(1..=9).contains(&brokers) {
        c.error(
            f.cluster.brokers.span(),
            format!("brokers = {brokers}: a cluster has 1 to 9 brokers"),
            None,
        );
    }
    let mut builder = ClusterBuilder::new(brokers.clamp(1, 9));
    builder.invariants = Invariants::Record;
    if let Some(controller) = &f.cluster.controller {
        let id = *controller.get_ref();
        if (1..=brokers).contains(&id) {
            builder.first_controller = Some(id);
        } else {
            c.error(
                controller.span(),
                format!("controller = {id}: the cluster's brokers are 1 to {brokers}"),
                Some("name the broker that starts first and so creates /controller".into()),
            );
        }
    }
    c.configs(
        &mut builder.broker,
        &f.cluster.config,
        BROKER_CONFIGS,
        "broker",
    );
    if let Some(network) = &f.network {
        let mut link = LinkConfig::default();
        if let Some(t) = &network.latency_min {
            link.latency_min_ms = c.time(t, "latency_min").unwrap_or(link.latency_min_ms);
        }
        if let Some(t) = &network.latency_max {
            link.latency_max_ms = c.time(t, "latency_max").unwrap_or(link.latency_max_ms);
        }
        if link.latency_max_ms < link.latency_min_ms {
            link.latency_max_ms = link.latency_min_ms;
        }
        if let Some(loss) = &network.loss {
            let l = *loss.get_ref();
            if (0.0..=1.0).contains(&l) {
                link.loss = l;
            } else {
                c.error(
                    loss.span(),
                    format!("loss = {l}: a probability, 0 to 1"),
                    None,
                );
            }
        }
        builder.link = link;
    }

    let mut topics: BTreeMap<String, u32> = BTreeMap::new();
    for t in &f.topics {
        let name = t.name.get_ref();
        let valid_name = !name.is_empty()
            && name.len() <= 249
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
        if !valid_name || name.starts_with("__") {
            c.error(
                t.name.span(),
                format!("topic name {name:?} is not allowed"),
                Some(
                    "letters, digits, '.', '_' and '-'; names starting with __ are Kafka's own"
                        .into(),
                ),
            );
        }
        let (partitions, rf) = match (&t.replica_assignment, &t.partitions, &t.replication_factor) {
            (Some(given), partitions, rf) => {
                if partitions.is_some() || rf.is_some() {
                    c.error(
                        given.span(),
                        "replica_assignment decides the partitions and the replication factor",
                        Some("remove partitions and replication_factor from this topic".into()),
                    );
                }
                let registered: Vec<BrokerId> = (1..=brokers).collect();
                if let Err(e) = validate_assignment(given.get_ref(), &registered) {
                    c.error(
                        given.span(),
                        e.to_string(),
                        Some(format!(
                            "one list per partition, e.g. [[2, 3], [3, 1]]: brokers 1 to {brokers}, each once per partition, the same count in every partition"
                        )),
                    );
                }
                let assignment = given.get_ref();
                (
                    assignment.len() as u32,
                    assignment.first().map_or(0, Vec::len),
                )
            }
            (None, Some(partitions), Some(rf)) => {
                if *partitions.get_ref() == 0 {
                    c.error(
                        partitions.span(),
                        "a topic needs at least 1 partition",
                        None,
                    );
                }
                let rf_value = *rf.get_ref();
                if rf_value == 0 || rf_value > brokers.max(1) as usize {
                    c.error(
                        rf.span(),
                        format!(
                            "replication_factor = {rf_value}, but the cluster has {brokers} brokers"
                        ),
                        Some("at least 1 and at most the number of brokers".into()),
                    );
                }
                (*partitions.get_ref(), rf_value)
            }
            (None, _, _) => {
                c.error(
                    t.name.span(),
                    format!("topic {name} needs partitions and replication_factor"),
                    Some("or replica_assignment = [[1, 2], [2, 3]] to place each partition".into()),
                );
                (1, 1)
            }
        };
        if topics.insert(name.clone(), partitions).is_some() {
            c.error(
                t.name.span(),
                format!("topic {name} is defined twice"),
                None,
            );
        }
        let mut config = builder.broker.default_topic_config.clone();
        c.configs(&mut config, &t.config, TOPIC_CONFIGS, "topic");
        builder.topics.push(TopicSpec {
            name: name.clone(),
            partitions,
            replication_factor: rf,
            replica_assignment: t.replica_assignment.as_ref().map(|a| a.get_ref().clone()),
            config,
        });
    }

    let mut commands = Vec::new();
    let check_at = |c: &mut Checker<'_>, time: &Time, what: &str| -> Option<i64> {
        let at = c.time(time, what)?;
        if at > duration_ms {
            c.error(
                time.span(),
                format!("{what} at {at} ms is after the scenario's end ({duration_ms} ms)"),
                Some("make duration longer, or move this earlier".into()),
            );
        }
        Some(at)
    };

    // Admin actions first: topics they create can be written, read and targeted. In time
    // order: a config change builds on the configs the topic has by then.
    let mut topic_configs: BTreeMap<String, TopicConfig> = builder
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.config.clone()))
        .collect();
    let mut admin: Vec<&AdminSection> = f.admin.iter().collect();
    admin.sort_by_key(|a| a.at.get_ref().ms());
    for a in admin {
        let at = check_at(c, &a.at, "admin");
        let name = a.topic.get_ref().clone();
        let partitions = a.partitions.as_ref().map(|p| *p.get_ref());
        let needs_partitions =
            ["create-topic", "add-partitions"].contains(&a.action.get_ref().as_str());
        if needs_partitions && partitions.is_none() {
            c.error(
                a.action.span(),
                format!("{} needs partitions", a.action.get_ref()),
                Some("create-topic: its partition count; add-partitions: the new total".into()),
            );
        }
        let partitions_span = a.partitions.as_ref().map_or(a.action.span(), |p| p.span());
        let command = match a.action.get_ref().as_str() {
            "create-topic" => {
                // Default: the first topic's replication factor.
                let rf = a.replication_factor.unwrap_or_else(|| {
                    builder
                        .topics
                        .first()
                        .map_or(3.min(brokers.max(1) as usize), |t| t.replication_factor)
                });
                if topics.contains_key(&name) {
                    c.error(a.topic.span(), format!("topic {name} exists already"), None);
                }
                let partitions = partitions.unwrap_or(1);
                if partitions == 0 {
                    c.error(
                        partitions_span.clone(),
                        "a topic needs at least 1 partition",
                        None,
                    );
                }
                if rf == 0 || rf > brokers.max(1) as usize {
                    c.error(
                        a.action.span(),
                        format!("replication_factor = {rf}, but the cluster has {brokers} brokers"),
                        None,
                    );
                }
                let mut config = builder.broker.default_topic_config.clone();
                c.configs(&mut config, &a.config, TOPIC_CONFIGS, "topic");
                topics.insert(name.clone(), partitions);
                topic_configs.insert(name.clone(), config.clone());
                Some(Command::CreateTopic(TopicSpec {
                    name,
                    partitions,
                    replication_factor: rf,
                    replica_assignment: None,
                    config,
                }))
            }
            "add-partitions" => {
                match (topics.get(&name).copied(), partitions) {
                    (_, None) => None,
                    (None, _) => {
                        c.error(
                            a.topic.span(),
                            format!("no topic {name:?} in the scenario"),
                            None,
                        );
                        None
                    }
                    (Some(now), Some(partitions)) if partitions <= now => {
                        c.error(
                        partitions_span.clone(),
                        format!("{name} has {now} partitions; partitions is the new total, above that"),
                        Some("Kafka can add partitions, never remove them".into()),
                    );
                        None
                    }
                    (Some(_), Some(partitions)) => {
                        topics.insert(name.clone(), partitions);
                        Some(Command::AddPartitions {
                            topic: name,
                            total: partitions,
                        })
                    }
                }
            }
            "alter-config" => {
                if let Some(p) = &a.partitions {
                    c.error(
                        p.span(),
                        "alter-config changes configs, not partitions",
                        Some("add-partitions grows a topic".into()),
                    );
                }
                if a.config.is_empty() {
                    c.error(
                        a.action.span(),
                        "alter-config needs the configs to change",
                        Some("an [admin.config] table, e.g. min_insync_replicas = 2".into()),
                    );
                }
                match topic_configs.get(&name).cloned() {
                    None => {
                        c.error(
                            a.topic.span(),
                            format!("no topic {name:?} in the scenario by then"),
                            None,
                        );
                        None
                    }
                    Some(mut config) => {
                        c.configs(&mut config, &a.config, TOPIC_CONFIGS, "topic");
                        topic_configs.insert(name.clone(), config.clone());
                        Some(Command::AlterConfigs {
                            topic: name,
                            config,
                        })
                    }
                }
            }
            other => {
                c.error(
                    a.action.span(),
                    format!("unknown admin action {other:?}"),
                    Some("create-topic, add-partitions or alter-config".into()),
                );
                None
            }
        };
        if let (Some(at), Some(command)) = (at, command) {
            commands.push(Timed::new(at, command));
        }
    }

    for (i, p) in f.producers.iter().enumerate() {
        let mut config = ProducerConfig {
            topic: p.topic.get_ref().clone(),
            value_prefix: format!("p{}", i + 1),
            ..ProducerConfig::default()
        };
        if !topics.contains_key(p.topic.get_ref()) {
            c.error(
                p.topic.span(),
                format!(
                    "producer writes to {:?}, which is not a topic of the scenario",
                    p.topic.get_ref()
                ),
                closest(
                    p.topic.get_ref(),
                    &topics.keys().map(String::as_str).collect::<Vec<_>>(),
                )
                .map(|t| format!("did you mean {t}?")),
            );
        }
        let start = p
            .start
            .as_ref()
            .and_then(|t| check_at(c, t, "start"))
            .unwrap_or(0);
        config.stop_ms = p.stop.as_ref().and_then(|t| check_at(c, t, "stop"));
        if let Some(t) = &p.interval {
            match c.time(t, "interval") {
                Some(0) => c.error(t.span(), "interval must be at least 1ms", None),
                Some(ms) => config.interval_ms = ms,
                None => {}
            }
        }
        if let Some(acks) = &p.acks {
            let parsed = match acks.get_ref() {
                toml::Value::String(s) if s == "all" || s == "-1" => Some(Acks::All),
                toml::Value::String(s) if s == "1" => Some(Acks::Leader),
                toml::Value::String(s) if s == "0" => Some(Acks::None),
                toml::Value::Integer(-1) => Some(Acks::All),
                toml::Value::Integer(1) => Some(Acks::Leader),
                toml::Value::Integer(0) => Some(Acks::None),
                _ => None,
            };
            match parsed {
                Some(a) => config.acks = a,
                None => c.error(acks.span(), "acks is \"all\" (or -1), 1 or 0", None),
            }
        }
        set_if(&mut config.enable_idempotence, p.enable_idempotence);
        config.keys = p.keys.or(config.keys);
        set_if(&mut config.sync, p.sync);
        set_if(&mut config.retries, p.retries);
        set_if(&mut config.retry_backoff_ms, p.retry_backoff_ms);
        set_if(&mut config.retry_backoff_max_ms, p.retry_backoff_max_ms);
        set_if(&mut config.delivery_timeout_ms, p.delivery_timeout_ms);
        set_if(&mut config.request_timeout_ms, p.request_timeout_ms);
        set_if(&mut config.linger_ms, p.linger_ms);
        set_if(&mut config.batch_size, p.batch_size);
        set_if(
            &mut config.max_in_flight,
            p.max_in_flight_requests_per_connection,
        );
        set_if(&mut config.metadata_max_age_ms, p.metadata_max_age_ms);
        commands.push(Timed::new(start, Command::StartKafkaProducer(config)));
    }

    let mut unnamed_consumers = 0;
    for k in &f.consumers {
        let mut config = ConsumerConfig {
            client_id: String::new(),
            group_id: k.group.as_ref().map(|g| g.get_ref().clone()),
            group_instance_id: k.group_instance_id.clone(),
            ..ConsumerConfig::default()
        };
        let ways = [k.topics.is_some(), k.pattern.is_some(), k.assign.is_some()];
        let place = k
            .group
            .as_ref()
            .map(|g| g.span())
            .or(k.count.as_ref().map(|n| n.span()))
            .unwrap_or(0..0);
        if ways.iter().filter(|w| **w).count() != 1 {
            c.error(
                place.clone(),
                "a consumer takes exactly one of topics, pattern or assign",
                Some("topics = [\"orders\"] subscribes; assign = [\"orders-0\"] takes partitions without a group".into()),
            );
        }
        if let Some(list) = &k.topics {
            for t in list {
                if !topics.contains_key(t.get_ref()) {
                    c.error(
                        t.span(),
                        format!("no topic {:?} in the scenario", t.get_ref()),
                        None,
                    );
                }
            }
            config.subscribe =
                Subscribe::Topics(list.iter().map(|t| t.get_ref().clone()).collect());
        }
        if let Some(pattern) = &k.pattern {
            if let Err(e) = regex_lite::Regex::new(pattern.get_ref()) {
                c.error(
                    pattern.span(),
                    format!("pattern is not a regular expression: {e}"),
                    None,
                );
            }
            config.subscribe = Subscribe::Pattern(pattern.get_ref().clone());
        }
        if let Some(list) = &k.assign {
            let mut tps = Vec::new();
            for t in list {
                match parse_partition(t.get_ref(), &topics) {
                    Ok(tp) => tps.push(tp),
                    Err(why) => c.error(t.span(), why, None),
                }
            }
            config.subscribe = Subscribe::Assign(tps);
        }
        if config.group_id.is_none() && !matches!(config.subscribe, Subscribe::Assign(_)) {
            c.error(
                place.clone(),
                "a consumer without a group must assign its partitions",
                Some("add group = \"NAME\", or use assign = [\"TOPIC-P\", ...]".into()),
            );
        }
        if let Some(list) = &k.partition_assignment_strategy {
            config.assignors = list
                .iter()
                .filter_map(|s| {
                    c.one_of(
                        s,
                        "partition_assignment_strategy",
                        &[
                            ("range", Strategy::Range),
                            ("roundrobin", Strategy::RoundRobin),
                            ("sticky", Strategy::Sticky),
                            ("cooperative-sticky", Strategy::CooperativeSticky),
                        ],
                    )
                })
                .collect();
        }
        if let Some(reset) = &k.auto_offset_reset
            && let Some(r) = c.one_of(
                reset,
                "auto_offset_reset",
                &[
                    ("earliest", OffsetReset::Earliest),
                    ("latest", OffsetReset::Latest),
                    ("none", OffsetReset::None),
                ],
            )
        {
            config.auto_offset_reset = r;
        }
        if let Some(commit) = &k.commit
            && let Some(m) = c.one_of(
                commit,
                "commit",
                &[
                    ("none", AppCommit::Nothing),
                    ("sync", AppCommit::Sync),
                    ("async", AppCommit::Async),
                    ("async-then-sync", AppCommit::AsyncThenSyncOnClose),
                ],
            )
        {
            config.app_commit = m;
        }
        if let Some(processing) = &k.processing
            && let Some(m) = c.one_of(
                processing,
                "processing",
                &[
                    ("synchronous", Processing::Synchronous),
                    ("handoff", Processing::Handoff),
                ],
            )
        {
            config.processing = m;
        }
        set_if(&mut config.session_timeout_ms, k.session_timeout_ms);
        set_if(&mut config.heartbeat_interval_ms, k.heartbeat_interval_ms);
        set_if(&mut config.max_poll_interval_ms, k.max_poll_interval_ms);
        set_if(&mut config.enable_auto_commit, k.enable_auto_commit);
        set_if(
            &mut config.auto_commit_interval_ms,
            k.auto_commit_interval_ms,
        );
        set_if(&mut config.max_poll_records, k.max_poll_records);
        set_if(&mut config.processing_ms, k.processing_ms);
        set_if(&mut config.metadata_max_age_ms, k.metadata_max_age_ms);
        let start = k
            .start
            .as_ref()
            .and_then(|t| check_at(c, t, "start"))
            .unwrap_or(0);
        let count = k.count.as_ref().map_or(1, |n| *n.get_ref());
        for i in 1..=count {
            let name = k.name.as_ref().map(|n| match count {
                1 => n.get_ref().clone(),
                _ => format!("{}-{i}", n.get_ref()),
            });
            if let Some(name) = &name
                && !c.consumer_names.insert(name.clone())
            {
                let span = k.name.as_ref().map(|n| n.span()).unwrap_or(0..0);
                c.error(span, format!("two consumers are named {name:?}"), None);
            }
            // client.id: the scenario's name for it, or Kafka's default consumer-GROUP-N;
            // the coordinator builds the member id from it (client.id + "-" + UUID).
            let mut config = config.clone();
            config.client_id = match &name {
                Some(name) => name.clone(),
                None => {
                    unnamed_consumers += 1;
                    match &config.group_id {
                        Some(group) => format!("consumer-{group}-{unnamed_consumers}"),
                        None => format!("consumer-{unnamed_consumers}"),
                    }
                }
            };
            commands.push(Timed::new(start, Command::StartConsumer { config, name }));
        }
    }

    for fault in &f.faults {
        let at = check_at(c, &fault.at, "fault");
        let action = fault.action.get_ref().as_str();
        let needs_target = !matches!(action, "heal" | "partition");
        if let Some(unflushed) = &fault.unflushed
            && action != "power-loss"
        {
            c.error(
                unflushed.span(),
                format!("unflushed belongs to a power-loss, not to {action}"),
                Some("a process crash keeps every byte (the page cache survives): use action = \"power-loss\"".into()),
            );
        }
        let target = match &fault.target {
            Some(t) => c.selector(t, &topics),
            None => {
                if needs_target {
                    c.error(
                        fault.action.span(),
                        format!("{action} needs a target"),
                        Some(
                            "target = \"broker 2\", \"leader of orders-0\", \"controller\", ..."
                                .into(),
                        ),
                    );
                }
                None
            }
        };
        if target == Some(Selector::ZooKeeper) && !matches!(action, "isolate" | "pause" | "resume")
        {
            c.error(
                fault.action.span(),
                format!("ZooKeeper cannot {action} in kafkasim: it is always up"),
                Some("isolate or pause it instead".into()),
            );
            continue;
        }
        let action = match action {
            "crash" => Some(Action::Crash(Crash::Process)),
            "power-loss" => match fault
                .unflushed
                .as_ref()
                .map(|u| (u.get_ref().as_str(), u.span()))
            {
                None | Some(("some", _)) => Some(Action::Crash(Crash::PowerLoss)),
                Some(("lost", _)) => Some(Action::Crash(Crash::PowerLossUnflushedLost)),
                Some((other, span)) => {
                    c.error(
                        span,
                        format!("unflushed = {other:?}: \"some\" or \"lost\""),
                        Some("unflushed = \"lost\" drops every byte not yet flushed; \"some\" (the default) keeps a seeded prefix of them".into()),
                    );
                    None
                }
            },
            "restart" => Some(Action::Restart),
            "shutdown" => Some(Action::Shutdown),
            "isolate" => Some(Action::Isolate),
            "heal" => Some(Action::Heal),
            "pause" => Some(Action::Pause),
            "resume" => Some(Action::Resume),
            "close" => Some(Action::Close),
            "link" | "hold" | "release" => match &fault.peer {
                None => {
                    c.error(
                        fault.action.span(),
                        format!("{action} needs a peer: the other end of the links"),
                        Some("peer = \"followers of orders-0\"".into()),
                    );
                    None
                }
                Some(peer) => c.selector(peer, &topics).and_then(|peer| match action {
                    "hold" => Some(Action::Hold(peer)),
                    "release" => Some(Action::Release(peer)),
                    _ => {
                        let latency_ms = match &fault.latency {
                            Some(t) => c.time(t, "latency")?,
                            None => LinkConfig::default().latency_max_ms,
                        };
                        let loss = fault.loss.as_ref().map_or(0.0, |l| *l.get_ref());
                        if !(0.0..=1.0).contains(&loss) {
                            c.error(
                                fault.loss.as_ref().map_or(0..0, |l| l.span()),
                                format!("loss = {loss}: a probability, 0 to 1"),
                                None,
                            );
                            return None;
                        }
                        Some(Action::Link {
                            peer,
                            latency_ms,
                            loss,
                        })
                    }
                }),
            },
            "stall" => match fault.duration.as_ref().and_then(|t| c.time(t, "duration")) {
                Some(ms) => Some(Action::Stall(ms)),
                None => {
                    c.error(
                        fault.action.span(),
                        "stall needs a duration: how long the application stops polling",
                        Some("duration = \"30s\"".into()),
                    );
                    None
                }
            },
            "partition" => {
                let groups = fault.groups.as_ref().map(|groups| {
                    groups
                        .iter()
                        .map(|side| side.iter().filter_map(|s| c.selector(s, &topics)).collect())
                        .collect::<Vec<Vec<Selector>>>()
                });
                match groups {
                    Some(g) if g.len() >= 2 => Some(Action::Partition(g)),
                    _ => {
                        c.error(
                            fault.action.span(),
                            "partition needs groups: two or more sides",
                            Some("groups = [[\"leader of orders-0\"], [\"followers of orders-0\", \"zookeeper\"]]".into()),
                        );
                        None
                    }
                }
            }
            other => {
                let actions = ACTIONS;
                c.error(
                    fault.action.span(),
                    format!("unknown action {other:?}"),
                    Some(match closest(other, &actions) {
                        Some(a) => format!("did you mean {a:?}?"),
                        None => format!("actions are {}", actions.join(", ")),
                    }),
                );
                None
            }
        };
        if let (Some(at), Some(action)) = (at, action) {
            commands.push(Timed::new(at, Command::Fault(Fault { action, target })));
        }
    }

    let mut caption_expectations = Vec::new();
    for caption in &f.captions {
        let Some(text) = c.caption_text(&caption.text, &topics) else {
            continue;
        };
        let at = match &caption.at {
            Some(t) => check_at(c, t, "caption"),
            None if caption.on.is_some() => Some(0),
            None => {
                c.error(
                    caption.text.span(),
                    "a caption needs at (a time) or on (an event)",
                    Some("at = \"10s\", or on = { kind = \"isr-updated\", partition = \"orders-0\" }".into()),
                );
                None
            }
        };
        let command = match caption.on.as_ref().map(|on| (on, on.get_ref())) {
            None => Command::Caption(text),
            Some((on, toml::Value::String(fragment))) if fragment.trim().is_empty() => {
                c.error(
                    on.span(),
                    "on needs an event",
                    Some("on = { kind = \"isr-shrink\", partition = \"orders-0\" }".into()),
                );
                continue;
            }
            Some((_, toml::Value::String(fragment))) => Command::CaptionOn {
                trigger: Trigger::Fragment(fragment.clone()),
                text,
            },
            Some((on, toml::Value::Table(table))) => {
                let table: Configs = table
                    .iter()
                    .map(|(k, v)| (k.clone(), Spanned::new(on.span(), v.clone())))
                    .collect();
                let Some(matcher) = c.event_match(&table, &[], on.span()) else {
                    continue;
                };
                Command::CaptionOn {
                    trigger: Trigger::Event(matcher),
                    text,
                }
            }
            Some((on, _)) => {
                c.error(
                    on.span(),
                    "on is an event: a table with its kind and fields",
                    Some("on = { kind = \"isr-shrink\", partition = \"orders-0\" }".into()),
                );
                continue;
            }
        };
        if let (Some(at_ms), Command::CaptionOn { text, .. }) = (at, &command) {
            caption_expectations.push(Expectation {
                at_ms,
                place: c.place(caption.text.span()),
                what: Expected::CaptionShown { text: text.clone() },
            });
        }
        if let Some(at) = at {
            commands.push(Timed::new(at, command));
        }
    }

    let nemesis = f.nemesis.as_ref().and_then(|n| {
        let faults: Vec<NemesisFault> = n
            .faults
            .iter()
            .filter_map(|k| c.one_of(k, "nemesis fault", NEMESIS_FAULTS))
            .collect();
        let start_ms = n.start.as_ref().and_then(|t| check_at(c, t, "nemesis start")).unwrap_or(0);
        let stop_ms = n
            .stop
            .as_ref()
            .and_then(|t| check_at(c, t, "nemesis stop"))
            .unwrap_or(duration_ms);
        let interval_ms = n.interval.as_ref().and_then(|t| c.time(t, "interval")).unwrap_or(10_000);
        let heal_after_ms = n.heal_after.as_ref().and_then(|t| c.time(t, "heal_after")).unwrap_or(5_000);
        if faults.is_empty() {
            c.error(0..0, "the nemesis needs at least one kind of fault", Some(
                "faults = [\"crash\", \"power-loss\", \"shutdown\", \"partition\", \"isolate\", \"pause\"]".into(),
            ));
            return None;
        }
        Some(Nemesis {
            faults,
            start_ms,
            stop_ms,
            interval_ms: interval_ms.max(1),
            heal_after_ms: heal_after_ms.max(1),
        })
    });

    let mut expect = BTreeMap::new();
    for (name, value) in [
        ("lost-writes", &f.expect.lost_writes),
        ("duplicates", &f.expect.duplicates),
        ("invariants", &f.expect.invariants),
        ("inconsistent-offsets", &f.expect.inconsistent_offsets),
        ("producer-order", &f.expect.producer_order),
        ("poll-order", &f.expect.poll_order),
        ("reads-above-hw", &f.expect.reads_above_hw),
        ("group-exclusivity", &f.expect.group_exclusivity),
        ("commits-ahead", &f.expect.commits_ahead),
        ("redelivered", &f.expect.redelivered),
        ("liveness", &f.expect.liveness),
    ] {
        if let Some(v) = value
            && let Some(verdict) =
                c.one_of(v, name, &[("pass", Verdict::Pass), ("fail", Verdict::Fail)])
        {
            expect.insert(name, verdict);
        }
    }
    let mut expectations = Vec::new();
    for s in &f.expect.state {
        let at = check_at(c, &s.at, "expect.state");
        let tp = match parse_partition(s.partition.get_ref(), &topics) {
            Ok(tp) => Some(tp),
            Err(why) => {
                c.error(s.partition.span(), why, None);
                None
            }
        };
        let leader = match &s.leader {
            None => None,
            Some(v) => match v.get_ref() {
                toml::Value::Integer(b) => Some(Some(*b as BrokerId)),
                toml::Value::String(s) if s == "none" => Some(None),
                _ => {
                    c.error(
                        v.span(),
                        "leader is a broker id, or \"none\" for an offline partition",
                        None,
                    );
                    None
                }
            },
        };
        if let (Some(at_ms), Some(tp)) = (at, tp) {
            expectations.push(Expectation {
                at_ms,
                place: c.place(s.at.span()),
                what: Expected::Partition(PartitionExpectation {
                    tp,
                    leader,
                    isr: s.isr.as_ref().map(|i| i.iter().copied().collect()),
                    isr_size: s.isr_size,
                    high_watermark: s.high_watermark,
                    log_end_offset: s.log_end_offset,
                }),
            });
        }
    }
    for g in &f.expect.group {
        let at = check_at(c, &g.at, "expect.group");
        let state = g.state.as_ref().and_then(|s| {
            c.one_of(
                s,
                "group state",
                &[
                    ("Empty", GroupState::Empty),
                    ("PreparingRebalance", GroupState::PreparingRebalance),
                    ("CompletingRebalance", GroupState::CompletingRebalance),
                    ("Stable", GroupState::Stable),
                    ("Dead", GroupState::Dead),
                ],
            )
        });
        if let Some(at_ms) = at {
            expectations.push(Expectation {
                at_ms,
                place: c.place(g.at.span()),
                what: Expected::Group(GroupExpectation {
                    group: g.group.clone(),
                    state,
                    generation: g.generation,
                    members: g.members,
                    assigned: g.assigned,
                    max_lag: g.max_lag,
                }),
            });
        }
    }
    for table in &f.expect.event {
        let place_span = table
            .get("kind")
            .or_else(|| table.values().next())
            .map_or(0..0, |v| v.span());
        let after_ms = match table.get("after") {
            None => Some(0),
            Some(v) => c.time_value(v, "after"),
        };
        let before_ms = match table.get("before") {
            None => Some(None),
            Some(v) => c.time_value(v, "before").map(Some),
        };
        let count = match table.get("count") {
            None => Some(Count::AtLeast(1)),
            Some(v) => c.count(v),
        };
        let matcher = c.event_match(table, &["after", "before", "count"], place_span.clone());
        if let (Some(at_ms), Some(before_ms), Some(count), Some(matcher)) =
            (after_ms, before_ms, count, matcher)
        {
            if before_ms.is_some_and(|b| b < at_ms) {
                c.error(
                    place_span,
                    "this [[expect.event]] ends before it starts",
                    Some("before is a later time than after".into()),
                );
                continue;
            }
            expectations.push(Expectation {
                at_ms,
                place: c.place(place_span),
                what: Expected::Event(EventExpectation {
                    matcher,
                    before_ms,
                    count,
                }),
            });
        }
    }
    let captions_checked = match &f.expect.captions {
        None => true,
        Some(v) => c
            .one_of(v, "captions", &[("shown", true), ("unchecked", false)])
            .unwrap_or(true),
    };
    if captions_checked {
        expectations.extend(caption_expectations);
    }
    expectations.sort_by_key(|e| e.at_ms);

    // Same-time commands keep file order: producers, consumers, faults, captions.
    commands.sort_by_key(|t| t.at_ms);
    Some(Scenario {
        file: c.file.to_string(),
        title: f.title.trim().to_string(),
        summary: f.summary.trim().to_string(),
        seed: f.seed,
        duration_ms,
        builder,
        commands,
        expect,
        expectations,
        nemesis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_units() {
        assert_eq!(parse_time_ms("250ms"), Some(250));
        assert_eq!(parse_time_ms("10s"), Some(10_000));
        assert_eq!(parse_time_ms("1.5s"), Some(1_500));
        assert_eq!(parse_time_ms("2m"), Some(120_000));
        assert_eq!(parse_time_ms("10"), None);
        assert_eq!(parse_time_ms("s"), None);
        assert_eq!(parse_time_ms("-1s"), None);
    }

    #[test]
    fn typos_get_suggestions() {
        assert_eq!(
            closest("min_insync_replica", &broker_config_names()),
            Some("min_insync_replicas")
        );
        assert_eq!(closest("zzz", &["crash", "heal"]), None);
    }
}
