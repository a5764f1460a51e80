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
use crate::lang::Lang;
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
    /// What is wrong, said in either language ([`Mistake::message`], [`Mistake::hint`]).
    pub mistake: Mistake,
}

impl ScenarioError {
    /// `file:line:column: message`, and the hint below it, in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        let mut out = format!(
            "{}:{}:{}: {}",
            self.file,
            self.line,
            self.column,
            self.mistake.message(lang)
        );
        if let Some(hint) = self.mistake.hint(lang) {
            out.push_str(match lang {
                Lang::En => "\n  hint: ",
                Lang::ZhCn => "\n  提示：",
            });
            out.push_str(&hint);
        }
        out
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// Every mistake of one file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// Each mistake as [`ScenarioError::text`] says it in `lang`, one after another.
    pub fn text(&self, lang: Lang) -> String {
        self.0
            .iter()
            .map(|e| e.text(lang))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Lang::En))
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
    /// The title in Simplified Chinese.
    #[serde(default)]
    title_zh: Option<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    summary_zh: Option<String>,
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
    /// partition = "orders-0" }`.
    #[serde(default)]
    on: Option<Spanned<toml::Value>>,
    text: Spanned<String>,
    /// The caption in Simplified Chinese, with the same placeholders.
    #[serde(default)]
    text_zh: Option<Spanned<String>>,
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

mod check;
mod configs;
mod mistakes;
mod model;
mod nemesis;

use check::check;
use configs::{BROKER_CONFIGS, TOPIC_CONFIGS, set_if};
pub use configs::{broker_config_names, topic_config_names};
pub use mistakes::*;
pub use model::*;
use nemesis::NEMESIS_FAULTS;
pub use nemesis::*;

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

    fn error(&mut self, span: Range<usize>, mistake: Mistake) {
        let (line, column) = self.position(span.start);
        self.errors.push(ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            mistake,
        });
    }

    fn time(&mut self, time: &Time, what: impl Into<Field>) -> Option<i64> {
        match time.get_ref().ms() {
            Some(ms) if ms >= 0 => Some(ms),
            _ => {
                self.error(time.span(), Mistake::BadTime { what: what.into() });
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
                    Mistake::UnknownTarget {
                        target: text.get_ref().clone(),
                        why,
                    },
                );
                None
            }
        }
    }

    fn one_of<T: Copy>(
        &mut self,
        value: &Spanned<String>,
        what: impl Into<Field>,
        options: &[(&'static str, T)],
    ) -> Option<T> {
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == value.get_ref()) {
            return Some(*v);
        }
        let names: Vec<&'static str> = options.iter().map(|(n, _)| *n).collect();
        let near = closest(value.get_ref(), &names);
        self.error(
            value.span(),
            Mistake::NotOneOf {
                what: what.into(),
                value: value.get_ref().clone(),
                options: names,
                near,
            },
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
                self.error(text.span(), Mistake::UnclosedPlaceholder);
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
                        Mistake::Placeholder {
                            inside: inside.to_string(),
                            why,
                        },
                    );
                    return None;
                }
            }
            rest = &rest[open + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(CaptionPart::Text(rest.to_string()));
        }
        Some(CaptionText { parts, zh: None })
    }

    /// A time given as a TOML value: `"10s"`, `"250ms"` or an integer of milliseconds.
    fn time_value(&mut self, value: &Spanned<toml::Value>, what: impl Into<Field>) -> Option<i64> {
        let ms = match value.get_ref() {
            toml::Value::String(text) => parse_time_ms(text),
            toml::Value::Integer(ms) => Some(*ms),
            _ => None,
        };
        match ms {
            Some(ms) if ms >= 0 => Some(ms),
            _ => {
                self.error(value.span(), Mistake::BadTime { what: what.into() });
                None
            }
        }
    }

    /// A window's end within the run: one past the end would never be judged.
    fn by_the_end(
        &mut self,
        value: &Spanned<toml::Value>,
        ms: i64,
        duration_ms: i64,
        what: impl Into<Field>,
    ) -> Option<i64> {
        if ms > duration_ms {
            self.error(
                value.span(),
                Mistake::AfterTheEnd {
                    what: what.into(),
                    at_ms: ms,
                    duration_ms,
                },
            );
            return None;
        }
        Some(ms)
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
                    number(n).and_then(|n| n.checked_add(1)).map(Count::AtLeast)
                } else if let Some(n) = text.strip_prefix('<') {
                    number(n).and_then(|n| n.checked_sub(1)).map(Count::AtMost)
                } else {
                    number(text.strip_prefix("==").unwrap_or(text)).map(Count::Exactly)
                }
            }
            _ => None,
        };
        if parsed.is_none() {
            self.error(value.span(), Mistake::BadCount);
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
        let names: Vec<&'static str> = Kind::ALL.iter().map(|k| k.name()).collect();
        let kind = match table.get("kind").map(|v| (v, v.get_ref())) {
            None => {
                self.error(span, Mistake::EventWithoutKind);
                return None;
            }
            Some((v, toml::Value::String(name))) => match Kind::named(name) {
                Some(kind) => kind,
                None => {
                    self.error(
                        v.span(),
                        Mistake::UnknownEventKind {
                            name: name.clone(),
                            near: closest(name, &names),
                        },
                    );
                    return None;
                }
            },
            Some((v, _)) => {
                self.error(v.span(), Mistake::KindNotAName);
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
                let known: Vec<&'static str> = kind
                    .fields()
                    .iter()
                    .map(|f| f.strip_suffix('?').unwrap_or(f))
                    .collect();
                let near = closest(name, &known);
                self.error(
                    value.span(),
                    Mistake::NoSuchField {
                        kind,
                        field: name.clone(),
                        known,
                        near,
                    },
                );
                ok = false;
                continue;
            }
            let wanted = canonical(value.get_ref());
            if let Some(values) = kind.values(name)
                && !values.contains(&wanted.as_str())
            {
                // A value the kind never carries would silently match nothing.
                let near = closest(&wanted, values)
                    .or_else(|| values.iter().copied().find(|v| v.contains(wanted.as_str())));
                self.error(
                    value.span(),
                    Mistake::NeverValue {
                        kind,
                        field: name.clone(),
                        value: wanted,
                        values,
                        near,
                    },
                );
                ok = false;
                continue;
            }
            fields.push((name.clone(), wanted));
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

fn parse_partition(text: &str, topics: &BTreeMap<String, u32>) -> Result<TopicPartition, Lookup> {
    let not_one = || Lookup::NotTopicPartition {
        text: text.to_string(),
    };
    let (topic, p) = text.rsplit_once('-').ok_or_else(not_one)?;
    let p: u32 = p.parse().map_err(|_| not_one())?;
    match topics.get(topic) {
        None => Err(Lookup::NoTopic {
            topic: topic.to_string(),
        }),
        Some(n) if p >= *n => Err(Lookup::NoSuchPartition {
            topic: topic.to_string(),
            partitions: *n,
        }),
        Some(_) => Ok(TopicPartition::new(topic, p)),
    }
}

fn parse_selector(
    text: &str,
    topics: &BTreeMap<String, u32>,
    consumers: &BTreeSet<String>,
) -> Result<Selector, Lookup> {
    let text = text.trim();
    if let Some(name) = text.strip_prefix("consumer ") {
        let name = name.trim();
        return if consumers.contains(name) {
            Ok(Selector::Consumer(name.to_string()))
        } else {
            Err(Lookup::NoConsumer {
                name: name.to_string(),
            })
        };
    }
    if let Some(id) = text.strip_prefix("broker ") {
        return id
            .trim()
            .parse()
            .map(Selector::Broker)
            .map_err(|_| Lookup::NotBrokerId { id: id.to_string() });
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
        _ => Err(Lookup::NotATarget),
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
    // Shape errors are looked for only in a file without syntax errors.
    let syntax_errors = !syntax.is_empty();
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
        c.error(span, Mistake::toml(message, syntax_errors));
    }
    c.errors.sort_by_key(|e| (e.line, e.column));
    None
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
