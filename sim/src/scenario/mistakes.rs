//! Every mistake a scenario file can make, as data, and its words in each language: one
//! renderer per language (`Mistake::en`, `Mistake::zh`), each matching every
//! variant, so a message cannot be added without its Chinese.
//!
//! The TOML parser's and serde's own messages are kept as they wrote them: they are the
//! English; the Chinese says what kind of mistake it is and names the keys.

use super::*;
use crate::lang::Lang;

/// What a time or a choice belongs to, as a message names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A key or a section as the file writes it (`start`, `interval`, `expect.state`,
    /// `lost-writes`): the same in every language.
    Key(&'static str),
    /// A `[[faults]]` entry (its `at`).
    Fault,
    /// A `[[captions]]` entry (its `at`).
    Caption,
    NemesisStart,
    NemesisStop,
    /// One of `[nemesis] faults`.
    NemesisFault,
    /// `[[expect.group]] state`.
    GroupState,
}

impl From<&'static str> for Field {
    fn from(key: &'static str) -> Field {
        Field::Key(key)
    }
}

impl Field {
    fn en(self) -> &'static str {
        match self {
            Field::Key(key) => key,
            Field::Fault => "fault",
            Field::Caption => "caption",
            Field::NemesisStart => "nemesis start",
            Field::NemesisStop => "nemesis stop",
            Field::NemesisFault => "nemesis fault",
            Field::GroupState => "group state",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Field::Key(key) => key,
            Field::Fault => "故障",
            Field::Caption => "讲解",
            Field::NemesisStart => "nemesis的start",
            Field::NemesisStop => "nemesis的stop",
            Field::NemesisFault => "nemesis故障",
            Field::GroupState => "消费组状态",
        }
    }
}

/// Why a partition, a target or a placeholder names nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The text as written.
    NotTopicPartition {
        text: String,
    },
    NoTopic {
        topic: String,
    },
    NoSuchPartition {
        topic: String,
        partitions: u32,
    },
    NoConsumer {
        name: String,
    },
    /// What follows `broker `, as written.
    NotBrokerId {
        id: String,
    },
    NotATarget,
}

impl Lookup {
    fn en(&self) -> String {
        match self {
            Lookup::NotTopicPartition { text } => {
                format!("{text:?} is not TOPIC-PARTITION, such as orders-0")
            }
            Lookup::NoTopic { topic } => format!("no topic {topic:?} in the scenario"),
            Lookup::NoSuchPartition { topic, partitions } => format!(
                "{topic} has {partitions} partitions, 0..{}",
                partitions.saturating_sub(1)
            ),
            Lookup::NoConsumer { name } => {
                format!("no consumer is named {name:?} in the scenario")
            }
            Lookup::NotBrokerId { id } => format!("{id:?} is not a broker id"),
            Lookup::NotATarget => "not a known target".to_string(),
        }
    }

    fn zh(&self) -> String {
        match self {
            Lookup::NotTopicPartition { text } => {
                format!("{text:?}不是TOPIC-PARTITION的形式，如orders-0")
            }
            Lookup::NoTopic { topic } => format!("场景文件中没有topic {topic:?}"),
            Lookup::NoSuchPartition { topic, partitions } => format!(
                "{topic}有{partitions}个分区，编号0..{}",
                partitions.saturating_sub(1)
            ),
            Lookup::NoConsumer { name } => format!("场景文件中没有名为{name:?}的消费者"),
            Lookup::NotBrokerId { id } => format!("{id:?}不是broker id"),
            Lookup::NotATarget => "不是已知的目标".to_string(),
        }
    }
}

/// Why a config's value does not do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigWhy {
    /// `found`: the TOML type written (`string`, `float`...).
    NotInteger {
        found: &'static str,
    },
    Negative {
        value: i64,
    },
    OutOfRange,
    NotBelow2To32,
    BelowOne,
    TooManySeconds,
    NotBoolean {
        found: &'static str,
    },
    /// `replication_protocol`'s two values.
    ReplicationProtocol,
}

impl ConfigWhy {
    fn en(&self) -> String {
        match self {
            ConfigWhy::NotInteger { found } => format!("expected an integer, found {found}"),
            ConfigWhy::Negative { value } => format!("expected a number >= 0, found {value}"),
            ConfigWhy::OutOfRange => "out of range integral type conversion attempted".to_string(),
            ConfigWhy::NotBelow2To32 => "expected a number below 2^32".to_string(),
            ConfigWhy::BelowOne => "expected a number >= 1".to_string(),
            ConfigWhy::TooManySeconds => "too many seconds".to_string(),
            ConfigWhy::NotBoolean { found } => format!("expected true or false, found {found}"),
            ConfigWhy::ReplicationProtocol => {
                "expected \"leader-epoch\" (Kafka 0.11+) or \"high-watermark\" (before 0.11)"
                    .to_string()
            }
        }
    }

    fn zh(&self) -> String {
        match self {
            ConfigWhy::NotInteger { found } => {
                format!("应为整数，实际为{}", toml_type_zh(found))
            }
            ConfigWhy::Negative { value } => format!("应为不小于0的数，实际为{value}"),
            ConfigWhy::OutOfRange => "数值超出范围".to_string(),
            ConfigWhy::NotBelow2To32 => "应为小于2^32的数".to_string(),
            ConfigWhy::BelowOne => "应为不小于1的数".to_string(),
            ConfigWhy::TooManySeconds => "秒数太大".to_string(),
            ConfigWhy::NotBoolean { found } => {
                format!("应为true或false，实际为{}", toml_type_zh(found))
            }
            ConfigWhy::ReplicationProtocol => {
                "应为\"leader-epoch\"（Kafka 0.11+）或\"high-watermark\"（0.11之前）".to_string()
            }
        }
    }
}

/// A TOML type's name (`toml::Value::type_str`) in Chinese.
fn toml_type_zh(name: &str) -> &str {
    match name {
        "string" => "字符串",
        "integer" => "整数",
        "float" => "浮点数",
        "boolean" => "布尔值",
        "datetime" => "日期时间",
        "array" => "数组",
        "table" => "表",
        other => other,
    }
}

/// What to write instead of a config name the table does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigHint {
    DidYouMean(&'static str),
    /// The name with Kafka's dots as underscores.
    Underscores(String),
    /// Every name the table takes.
    Names(Vec<&'static str>),
}

impl ConfigHint {
    fn en(&self, what: &str) -> String {
        match self {
            ConfigHint::DidYouMean(name) => format!("did you mean {name}?"),
            ConfigHint::Underscores(name) => {
                format!("write Kafka's dots as underscores: {name}")
            }
            ConfigHint::Names(names) => format!("{what} configs are: {}", names.join(", ")),
        }
    }

    fn zh(&self, what: &str) -> String {
        match self {
            ConfigHint::DidYouMean(name) => format!("是不是想写{name}？"),
            ConfigHint::Underscores(name) => format!("把Kafka配置名中的点写成下划线：{name}"),
            ConfigHint::Names(names) => format!("{what}配置有：{}", names.join("、")),
        }
    }
}

/// What to do about a key a section does not take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyHint {
    /// The key is a broker config, written outside `[cluster.config]`.
    BrokerConfig,
    TopicConfig,
    /// The section's key it is likely a typo of.
    DidYouMean(String),
    SeeReadme,
}

impl KeyHint {
    fn en(&self, key: &str) -> String {
        match self {
            KeyHint::BrokerConfig => {
                format!("{key} is a broker config: put it under [cluster.config]")
            }
            KeyHint::TopicConfig => {
                format!("{key} is a topic config: put it under [topics.config]")
            }
            KeyHint::DidYouMean(near) => format!("did you mean {near}?"),
            KeyHint::SeeReadme => "scenarios/README.md lists every section and key".to_string(),
        }
    }

    fn zh(&self, key: &str) -> String {
        match self {
            KeyHint::BrokerConfig => format!("{key}是broker配置：请写在[cluster.config]下"),
            KeyHint::TopicConfig => format!("{key}是topic配置：请写在[topics.config]下"),
            KeyHint::DidYouMean(near) => format!("是不是想写{near}？"),
            KeyHint::SeeReadme => "scenarios/README.md列出了每个表和键".to_string(),
        }
    }
}

/// Why an explicit `replica_assignment` is refused (Kafka's INVALID_REPLICA_ASSIGNMENT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlacementWhy {
    /// An empty assignment.
    NoPartitions,
    /// `partition` has `replicas` replicas, partition 0 `first`.
    ReplicaCounts {
        partition: usize,
        replicas: usize,
        first: usize,
    },
    Twice {
        partition: usize,
        replicas: Vec<BrokerId>,
    },
    Unregistered {
        partition: usize,
        broker: BrokerId,
    },
    /// The controller's own words, for a reason none of the above mirrors.
    Other(String),
}

impl PlacementWhy {
    fn en(&self) -> String {
        match self {
            PlacementWhy::NoPartitions => {
                "a topic needs at least one partition (INVALID_PARTITIONS)".to_string()
            }
            PlacementWhy::ReplicaCounts {
                partition,
                replicas,
                first,
            } => format!(
                "partition {partition} has {replicas} replicas and partition 0 has {first}; every partition needs the same number, at least 1 (INVALID_REPLICA_ASSIGNMENT)"
            ),
            PlacementWhy::Twice {
                partition,
                replicas,
            } => format!(
                "partition {partition} names a broker twice: {replicas:?} (INVALID_REPLICA_ASSIGNMENT)"
            ),
            PlacementWhy::Unregistered { partition, broker } => format!(
                "partition {partition} names broker {broker}, which is not registered (INVALID_REPLICA_ASSIGNMENT)"
            ),
            PlacementWhy::Other(text) => text.clone(),
        }
    }

    fn zh(&self) -> String {
        match self {
            PlacementWhy::NoPartitions => "topic至少需要1个分区（INVALID_PARTITIONS）".to_string(),
            PlacementWhy::ReplicaCounts {
                partition,
                replicas,
                first,
            } => format!(
                "分区{partition}有{replicas}个副本，分区0有{first}个；每个分区的副本数必须相同，且至少为1（INVALID_REPLICA_ASSIGNMENT）"
            ),
            PlacementWhy::Twice {
                partition,
                replicas,
            } => format!(
                "分区{partition}把同一个broker写了两次：{replicas:?}（INVALID_REPLICA_ASSIGNMENT）"
            ),
            PlacementWhy::Unregistered { partition, broker } => format!(
                "分区{partition}写了broker {broker}，它没有注册（INVALID_REPLICA_ASSIGNMENT）"
            ),
            PlacementWhy::Other(text) => format!("副本分配不合法：{text}"),
        }
    }

    /// Why `validate_assignment` refused `assignment`, told apart as it tells them
    /// (`core::controller::validate_assignment`); `english` is its message, kept when
    /// the reason is none of these.
    pub(super) fn of(
        assignment: &[Vec<BrokerId>],
        registered: &[BrokerId],
        english: String,
    ) -> PlacementWhy {
        fn mirrored(assignment: &[Vec<BrokerId>], registered: &[BrokerId]) -> Option<PlacementWhy> {
            let first = assignment.first()?;
            for (partition, replicas) in assignment.iter().enumerate() {
                if replicas.is_empty() || replicas.len() != first.len() {
                    return Some(PlacementWhy::ReplicaCounts {
                        partition,
                        replicas: replicas.len(),
                        first: first.len(),
                    });
                }
                let distinct: BTreeSet<&BrokerId> = replicas.iter().collect();
                if distinct.len() != replicas.len() {
                    return Some(PlacementWhy::Twice {
                        partition,
                        replicas: replicas.clone(),
                    });
                }
                if let Some(broker) = replicas.iter().find(|b| !registered.contains(b)) {
                    return Some(PlacementWhy::Unregistered {
                        partition,
                        broker: *broker,
                    });
                }
            }
            None
        }
        let found = mirrored(assignment, registered);
        let why = match (assignment.is_empty(), found) {
            (true, _) => PlacementWhy::NoPartitions,
            (false, Some(why)) => why,
            (false, None) => PlacementWhy::Other(english.clone()),
        };
        if why.en() == english {
            why
        } else {
            // The controller's rules moved on: its words stay right in English.
            PlacementWhy::Other(english)
        }
    }
}

/// A mistake in a scenario file: one variant per message, with the names and numbers it
/// says (where it is, is the error's).
#[derive(Clone, Debug, PartialEq)]
pub enum Mistake {
    // ----- the TOML and its shape: the parser's and serde's words --------------------
    /// A syntax error, as the TOML parser says it.
    Syntax {
        toml: String,
    },
    /// serde's `unknown field`: `expected` are the keys the section takes.
    UnknownKey {
        toml: String,
        key: String,
        expected: Vec<String>,
        hint: KeyHint,
    },
    /// serde's `missing field`; `top_level`: one every scenario needs.
    MissingKey {
        toml: String,
        key: String,
        top_level: bool,
    },
    /// serde's `invalid type: FOUND, expected EXPECTED`.
    WrongType {
        toml: String,
        found: String,
        expected: String,
    },
    /// Another of serde's messages about a value.
    Shape {
        toml: String,
    },

    // ----- times, choices, targets --------------------------------------------------
    BadTime {
        what: Field,
    },
    AfterTheEnd {
        what: Field,
        at_ms: i64,
        duration_ms: i64,
    },
    NotOneOf {
        what: Field,
        value: String,
        options: Vec<&'static str>,
        near: Option<&'static str>,
    },
    UnknownTarget {
        target: String,
        why: Lookup,
    },
    /// A partition (`expect.state`, `assign`) or topic that names nothing.
    Lookup(Lookup),
    UnclosedPlaceholder,
    Placeholder {
        inside: String,
        why: Lookup,
    },

    // ----- events -------------------------------------------------------------------
    BadCount,
    EventWithoutKind,
    UnknownEventKind {
        name: String,
        near: Option<&'static str>,
    },
    KindNotAName,
    NoSuchField {
        kind: Kind,
        field: String,
        known: Vec<&'static str>,
        near: Option<&'static str>,
    },
    NeverValue {
        kind: Kind,
        field: String,
        value: String,
        values: &'static [&'static str],
        near: Option<&'static str>,
    },

    // ----- the cluster and configs --------------------------------------------------
    UnknownFormat {
        format: u32,
    },
    Brokers {
        brokers: i32,
    },
    Controller {
        id: i32,
        brokers: i32,
    },
    Loss {
        loss: f64,
    },
    /// `what`: `broker` or `topic`.
    BadConfig {
        what: &'static str,
        key: String,
        why: ConfigWhy,
    },
    /// `name`: as written, nested tables read back into dots.
    UnknownConfig {
        what: &'static str,
        name: String,
        hint: ConfigHint,
    },

    // ----- topics -------------------------------------------------------------------
    TopicName {
        name: String,
    },
    AssignmentAndCounts,
    Placement {
        why: PlacementWhy,
        brokers: i32,
    },
    NoPartitions,
    ReplicationFactor {
        rf: usize,
        brokers: i32,
    },
    /// The same, for an admin `create-topic` (no hint).
    CreateTopicReplicationFactor {
        rf: usize,
        brokers: i32,
    },
    TopicNeedsCounts {
        topic: String,
    },
    TopicTwice {
        topic: String,
    },

    // ----- admin --------------------------------------------------------------------
    NeedsPartitions {
        action: String,
    },
    TopicExists {
        topic: String,
    },
    NotAbove {
        topic: String,
        partitions: u32,
    },
    AlterConfigPartitions,
    AlterConfigEmpty,
    NoTopicByThen {
        topic: String,
    },
    UnknownAdminAction {
        action: String,
    },

    // ----- producers and consumers --------------------------------------------------
    ProducerTopic {
        topic: String,
        near: Option<String>,
    },
    IntervalZero,
    Acks,
    ConsumerWays,
    /// The regex crate's own words.
    Pattern {
        error: String,
    },
    ConsumerWithoutGroup,
    ConsumerNamedTwice {
        name: String,
    },

    // ----- faults and the nemesis ---------------------------------------------------
    UnflushedNotPowerLoss {
        action: String,
    },
    NeedsTarget {
        action: String,
    },
    ZooKeeperCannot {
        action: String,
    },
    Unflushed {
        value: String,
    },
    NeedsPeer {
        action: String,
    },
    StallNeedsDuration,
    PartitionNeedsGroups,
    UnknownAction {
        action: String,
        near: Option<&'static str>,
    },
    NemesisWithoutFaults,

    // ----- captions and expectations ------------------------------------------------
    CaptionNeedsTime,
    OnFragment {
        fragment: String,
    },
    OnNotTable,
    StateLeader,
    EndsBeforeStarts,
}

// `loss` is the one float: equality is an equivalence but for a NaN loss (refused, and
// only ever reported).
impl Eq for Mistake {}

const TIME_HINT_EN: &str = "a number with a unit ms, s or m; or an integer of milliseconds";
const TIME_HINT_ZH: &str = "带单位ms、s或m的数，或以毫秒计的整数";
const END_HINT_EN: &str = "make duration longer, or move this earlier";
const END_HINT_ZH: &str = "把duration调长，或把它提前";
const TARGETS_EN: &str = "targets are \"broker N\", \"controller\", \"leader of TOPIC-P\", \
     \"followers of TOPIC-P\", \"a follower of TOPIC-P\", \"coordinator of GROUP\", \
     \"not the controller\", \"zookeeper\", \"crashed\" or \"consumer NAME\"";
const TARGETS_ZH: &str = "目标可以是\"broker N\"、\"controller\"、\"leader of TOPIC-P\"、\
     \"followers of TOPIC-P\"、\"a follower of TOPIC-P\"、\"coordinator of GROUP\"、\
     \"not the controller\"、\"zookeeper\"、\"crashed\"或\"consumer NAME\"";
const PLACEHOLDERS_EN: &str = "a target such as {leader of orders-0}, {controller}, \
     {followers of orders-0}, {coordinator of billing}";
const PLACEHOLDERS_ZH: &str = "写一个目标，如{leader of orders-0}、{controller}、\
     {followers of orders-0}、{coordinator of billing}";
const ON_EXAMPLE: &str = "on = { kind = \"isr-shrink\", partition = \"orders-0\" }";
const GROUPS_EXAMPLE: &str =
    "groups = [[\"leader of orders-0\"], [\"followers of orders-0\", \"zookeeper\"]]";
const NEMESIS_EXAMPLE: &str =
    "faults = [\"crash\", \"power-loss\", \"shutdown\", \"partition\", \"isolate\", \"pause\"]";

impl Mistake {
    /// What is wrong, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        self.text(lang).0
    }

    /// How to fix it, in `lang`, when there is something to say.
    pub fn hint(&self, lang: Lang) -> Option<String> {
        self.text(lang).1
    }

    fn text(&self, lang: Lang) -> (String, Option<String>) {
        match lang {
            Lang::En => self.en(),
            Lang::ZhCn => self.zh(),
        }
    }

    /// The message and hint in English.
    fn en(&self) -> (String, Option<String>) {
        fn s(text: &str) -> Option<String> {
            Some(text.to_string())
        }
        match self {
            Mistake::Syntax { toml } | Mistake::Shape { toml } => (toml.clone(), None),
            Mistake::UnknownKey {
                toml, key, hint, ..
            } => (toml.clone(), Some(hint.en(key))),
            Mistake::MissingKey {
                toml, top_level, ..
            } => (
                toml.clone(),
                s(if *top_level {
                    "every scenario needs format, title, duration and [cluster] brokers"
                } else {
                    "the example in scenarios/README.md shows each section's required keys"
                }),
            ),
            Mistake::WrongType { toml, .. } => (toml.clone(), None),
            Mistake::BadTime { what } => (
                format!(
                    "{}: expected a time such as \"250ms\", \"10s\" or \"2m\"",
                    what.en()
                ),
                s(TIME_HINT_EN),
            ),
            Mistake::AfterTheEnd {
                what,
                at_ms,
                duration_ms,
            } => (
                format!(
                    "{} at {at_ms} ms is after the scenario's end ({duration_ms} ms)",
                    what.en()
                ),
                s(END_HINT_EN),
            ),
            Mistake::NotOneOf {
                what,
                value,
                options,
                near,
            } => (
                format!(
                    "{}: {value:?} is not one of {}",
                    what.en(),
                    options.join(", ")
                ),
                near.map(|c| format!("did you mean {c:?}?")),
            ),
            Mistake::UnknownTarget { target, why } => (
                format!("unknown target {target:?}: {}", why.en()),
                s(TARGETS_EN),
            ),
            Mistake::Lookup(why) => (why.en(), None),
            Mistake::UnclosedPlaceholder => (
                "a caption's { has no closing }".to_string(),
                s("placeholders look like {leader of orders-0}"),
            ),
            Mistake::Placeholder { inside, why } => (
                format!("caption placeholder {{{inside}}}: {}", why.en()),
                s(PLACEHOLDERS_EN),
            ),
            Mistake::BadCount => (
                "count: a number of events, or a comparison with one".to_string(),
                s("count = 0 (never), count = 2, count = \">= 1\" (the default), \"<= 3\""),
            ),
            Mistake::EventWithoutKind => (
                "an event needs its kind".to_string(),
                s("kind = \"isr-shrink\" (scenarios/README.md lists every kind and its fields)"),
            ),
            Mistake::UnknownEventKind { name, near } => (
                format!("unknown event kind {name:?}"),
                Some(match near {
                    Some(k) => format!("did you mean {k:?}?"),
                    None => "scenarios/README.md lists every kind".to_string(),
                }),
            ),
            Mistake::KindNotAName => ("kind is a name such as \"isr-shrink\"".to_string(), None),
            Mistake::NoSuchField {
                kind,
                field,
                known,
                near,
            } => (
                format!("{} events have no field {field:?}", kind.name()),
                Some(match near {
                    Some(f) => format!("did you mean {f:?}?"),
                    None => format!("its fields: {}", known.join(", ")),
                }),
            ),
            Mistake::NeverValue {
                kind,
                field,
                value,
                values,
                near,
            } => (
                format!("{} events never have {field} = {value:?}", kind.name()),
                Some(match near {
                    Some(v) => format!(
                        "did you mean {v:?}? ({field} is one of {})",
                        values.join(", ")
                    ),
                    None => format!("{field} is one of {}", values.join(", ")),
                }),
            ),
            Mistake::UnknownFormat { format } => (
                format!("format {format} is not one this kafkasim reads"),
                Some(format!("write format = {FORMAT}")),
            ),
            Mistake::Brokers { brokers } => (
                format!("brokers = {brokers}: a cluster has 1 to 9 brokers"),
                None,
            ),
            Mistake::Controller { id, brokers } => (
                format!("controller = {id}: the cluster's brokers are 1 to {brokers}"),
                s("name the broker that starts first and so creates /controller"),
            ),
            Mistake::Loss { loss } => (format!("loss = {loss}: a probability, 0 to 1"), None),
            Mistake::BadConfig { what, key, why } => {
                (format!("{what} config {key}: {}", why.en()), None)
            }
            Mistake::UnknownConfig { what, name, hint } => (
                format!("unknown {what} config {name:?}"),
                Some(hint.en(what)),
            ),
            Mistake::TopicName { name } => (
                format!("topic name {name:?} is not allowed"),
                s("letters, digits, '.', '_' and '-'; names starting with __ are Kafka's own"),
            ),
            Mistake::AssignmentAndCounts => (
                "replica_assignment decides the partitions and the replication factor".to_string(),
                s("remove partitions and replication_factor from this topic"),
            ),
            Mistake::Placement { why, brokers } => (
                why.en(),
                Some(format!(
                    "one list per partition, e.g. [[2, 3], [3, 1]]: brokers 1 to {brokers}, each once per partition, the same count in every partition"
                )),
            ),
            Mistake::NoPartitions => ("a topic needs at least 1 partition".to_string(), None),
            Mistake::ReplicationFactor { rf, brokers } => (
                format!("replication_factor = {rf}, but the cluster has {brokers} brokers"),
                s("at least 1 and at most the number of brokers"),
            ),
            Mistake::CreateTopicReplicationFactor { rf, brokers } => (
                format!("replication_factor = {rf}, but the cluster has {brokers} brokers"),
                None,
            ),
            Mistake::TopicNeedsCounts { topic } => (
                format!("topic {topic} needs partitions and replication_factor"),
                s("or replica_assignment = [[1, 2], [2, 3]] to place each partition"),
            ),
            Mistake::TopicTwice { topic } => (format!("topic {topic} is defined twice"), None),
            Mistake::NeedsPartitions { action } => (
                format!("{action} needs partitions"),
                s("create-topic: its partition count; add-partitions: the new total"),
            ),
            Mistake::TopicExists { topic } => (format!("topic {topic} exists already"), None),
            Mistake::NotAbove { topic, partitions } => (
                format!(
                    "{topic} has {partitions} partitions; partitions is the new total, above that"
                ),
                s("Kafka can add partitions, never remove them"),
            ),
            Mistake::AlterConfigPartitions => (
                "alter-config changes configs, not partitions".to_string(),
                s("add-partitions grows a topic"),
            ),
            Mistake::AlterConfigEmpty => (
                "alter-config needs the configs to change".to_string(),
                s("an [admin.config] table, e.g. min_insync_replicas = 2"),
            ),
            Mistake::NoTopicByThen { topic } => {
                (format!("no topic {topic:?} in the scenario by then"), None)
            }
            Mistake::UnknownAdminAction { action } => (
                format!("unknown admin action {action:?}"),
                s("create-topic, add-partitions or alter-config"),
            ),
            Mistake::ProducerTopic { topic, near } => (
                format!("producer writes to {topic:?}, which is not a topic of the scenario"),
                near.as_ref().map(|t| format!("did you mean {t}?")),
            ),
            Mistake::IntervalZero => ("interval must be at least 1ms".to_string(), None),
            Mistake::Acks => ("acks is \"all\" (or -1), 1 or 0".to_string(), None),
            Mistake::ConsumerWays => (
                "a consumer takes exactly one of topics, pattern or assign".to_string(),
                s(
                    "topics = [\"orders\"] subscribes; assign = [\"orders-0\"] takes partitions without a group",
                ),
            ),
            Mistake::Pattern { error } => (
                format!("pattern is not a regular expression: {error}"),
                None,
            ),
            Mistake::ConsumerWithoutGroup => (
                "a consumer without a group must assign its partitions".to_string(),
                s("add group = \"NAME\", or use assign = [\"TOPIC-P\", ...]"),
            ),
            Mistake::ConsumerNamedTwice { name } => {
                (format!("two consumers are named {name:?}"), None)
            }
            Mistake::UnflushedNotPowerLoss { action } => (
                format!("unflushed belongs to a power-loss, not to {action}"),
                s(
                    "a process crash keeps every byte (the page cache survives): use action = \"power-loss\"",
                ),
            ),
            Mistake::NeedsTarget { action } => (
                format!("{action} needs a target"),
                s("target = \"broker 2\", \"leader of orders-0\", \"controller\", ..."),
            ),
            Mistake::ZooKeeperCannot { action } => (
                format!("ZooKeeper cannot {action} in kafkasim: it is always up"),
                s("isolate or pause it instead"),
            ),
            Mistake::Unflushed { value } => (
                format!("unflushed = {value:?}: \"some\" or \"lost\""),
                s(
                    "unflushed = \"lost\" drops every byte not yet flushed; \"some\" (the default) keeps a seeded prefix of them",
                ),
            ),
            Mistake::NeedsPeer { action } => (
                format!("{action} needs a peer: the other end of the links"),
                s("peer = \"followers of orders-0\""),
            ),
            Mistake::StallNeedsDuration => (
                "stall needs a duration: how long the application stops polling".to_string(),
                s("duration = \"30s\""),
            ),
            Mistake::PartitionNeedsGroups => (
                "partition needs groups: two or more sides".to_string(),
                s(GROUPS_EXAMPLE),
            ),
            Mistake::UnknownAction { action, near } => (
                format!("unknown action {action:?}"),
                Some(match near {
                    Some(a) => format!("did you mean {a:?}?"),
                    None => format!("actions are {}", ACTIONS.join(", ")),
                }),
            ),
            Mistake::NemesisWithoutFaults => (
                "the nemesis needs at least one kind of fault".to_string(),
                s(NEMESIS_EXAMPLE),
            ),
            Mistake::CaptionNeedsTime => (
                "a caption needs at (a time) or on (an event)".to_string(),
                s("at = \"10s\", or on = { kind = \"isr-updated\", partition = \"orders-0\" }"),
            ),
            Mistake::OnFragment { fragment } => (
                format!("on = {fragment:?} matches words of a sentence; on names an event instead"),
                Some(format!(
                    "{ON_EXAMPLE} (scenarios/README.md lists every kind and its fields)"
                )),
            ),
            Mistake::OnNotTable => (
                "on is an event: a table with its kind and fields".to_string(),
                s(ON_EXAMPLE),
            ),
            Mistake::StateLeader => (
                "leader is a broker id, or \"none\" for an offline partition".to_string(),
                None,
            ),
            Mistake::EndsBeforeStarts => (
                "this [[expect.event]] ends before it starts".to_string(),
                s("before is a later time than after"),
            ),
        }
    }

    /// The message and hint in Simplified Chinese.
    fn zh(&self) -> (String, Option<String>) {
        fn s(text: &str) -> Option<String> {
            Some(text.to_string())
        }
        match self {
            Mistake::Syntax { toml } => (format!("TOML语法错误：{toml}"), None),
            Mistake::Shape { toml } => (format!("场景文件的结构不对：{toml}"), None),
            Mistake::UnknownKey {
                key,
                expected,
                hint,
                ..
            } => (
                if expected.is_empty() {
                    format!("未知的键{key}")
                } else {
                    format!("未知的键{key}，这里可用的键有{}", expected.join("、"))
                },
                Some(hint.zh(key)),
            ),
            Mistake::MissingKey { key, top_level, .. } => (
                format!("缺少键{key}"),
                s(if *top_level {
                    "每个场景文件都需要format、title、duration和[cluster]的brokers"
                } else {
                    "scenarios/README.md中的示例写出了每个表必需的键"
                }),
            ),
            Mistake::WrongType {
                found, expected, ..
            } => (format!("类型不对：应为{expected}，实际为{found}"), None),
            Mistake::BadTime { what } => (
                format!("{}：应为时间，如\"250ms\"、\"10s\"或\"2m\"", what.zh()),
                s(TIME_HINT_ZH),
            ),
            Mistake::AfterTheEnd {
                what,
                at_ms,
                duration_ms,
            } => (
                format!(
                    "{}的时间{at_ms} ms晚于场景结束（{duration_ms} ms）",
                    what.zh()
                ),
                s(END_HINT_ZH),
            ),
            Mistake::NotOneOf {
                what,
                value,
                options,
                near,
            } => (
                format!("{}：{value:?}不是{}之一", what.zh(), options.join("、")),
                near.map(|c| format!("是不是想写{c:?}？")),
            ),
            Mistake::UnknownTarget { target, why } => {
                (format!("未知的目标{target:?}：{}", why.zh()), s(TARGETS_ZH))
            }
            Mistake::Lookup(why) => (why.zh(), None),
            Mistake::UnclosedPlaceholder => (
                "讲解中的{没有对应的}".to_string(),
                s("占位符形如{leader of orders-0}"),
            ),
            Mistake::Placeholder { inside, why } => (
                format!("讲解的占位符{{{inside}}}：{}", why.zh()),
                s(PLACEHOLDERS_ZH),
            ),
            Mistake::BadCount => (
                "count：应为事件的个数，或与个数的比较".to_string(),
                s("count = 0（从不）、count = 2、count = \">= 1\"（默认）、\"<= 3\""),
            ),
            Mistake::EventWithoutKind => (
                "事件需要写明kind".to_string(),
                s("kind = \"isr-shrink\"（scenarios/README.md列出了每种事件类型及其字段）"),
            ),
            Mistake::UnknownEventKind { name, near } => (
                format!("未知的事件类型{name:?}"),
                Some(match near {
                    Some(k) => format!("是不是想写{k:?}？"),
                    None => "scenarios/README.md列出了每种事件类型".to_string(),
                }),
            ),
            Mistake::KindNotAName => ("kind是一个名字，如\"isr-shrink\"".to_string(), None),
            Mistake::NoSuchField {
                kind,
                field,
                known,
                near,
            } => (
                format!("{}事件没有字段{field:?}", kind.name()),
                Some(match near {
                    Some(f) => format!("是不是想写{f:?}？"),
                    None => format!("它的字段：{}", known.join("、")),
                }),
            ),
            Mistake::NeverValue {
                kind,
                field,
                value,
                values,
                near,
            } => (
                format!("{}事件不会有{field} = {value:?}", kind.name()),
                Some(match near {
                    Some(v) => format!("是不是想写{v:?}？（{field}可以是{}）", values.join("、")),
                    None => format!("{field}可以是{}", values.join("、")),
                }),
            ),
            Mistake::UnknownFormat { format } => (
                format!("这个kafkasim不能读format {format}"),
                Some(format!("请写format = {FORMAT}")),
            ),
            Mistake::Brokers { brokers } => {
                (format!("brokers = {brokers}：集群有1到9个broker"), None)
            }
            Mistake::Controller { id, brokers } => (
                format!("controller = {id}：集群的broker是1到{brokers}"),
                s("写最先启动、因而创建/controller的broker"),
            ),
            Mistake::Loss { loss } => (format!("loss = {loss}：应为概率，0到1"), None),
            Mistake::BadConfig { what, key, why } => {
                (format!("{what}配置{key}：{}", why.zh()), None)
            }
            Mistake::UnknownConfig { what, name, hint } => {
                (format!("未知的{what}配置{name:?}"), Some(hint.zh(what)))
            }
            Mistake::TopicName { name } => (
                format!("不允许的topic名{name:?}"),
                s("只能用字母、数字、'.'、'_'和'-'；以__开头的名字归Kafka自己用"),
            ),
            Mistake::AssignmentAndCounts => (
                "replica_assignment已决定分区数和副本因子".to_string(),
                s("从这个topic中去掉partitions和replication_factor"),
            ),
            Mistake::Placement { why, brokers } => (
                why.zh(),
                Some(format!(
                    "每个分区一个列表，如[[2, 3], [3, 1]]：broker为1到{brokers}，在每个分区中至多出现一次，每个分区的个数相同"
                )),
            ),
            Mistake::NoPartitions => ("topic至少需要1个分区".to_string(), None),
            Mistake::ReplicationFactor { rf, brokers } => (
                format!("replication_factor = {rf}，但集群有{brokers}个broker"),
                s("至少为1，至多为broker的个数"),
            ),
            Mistake::CreateTopicReplicationFactor { rf, brokers } => (
                format!("replication_factor = {rf}，但集群有{brokers}个broker"),
                None,
            ),
            Mistake::TopicNeedsCounts { topic } => (
                format!("topic {topic}需要partitions和replication_factor"),
                s("或者用replica_assignment = [[1, 2], [2, 3]]指定每个分区放在哪些broker上"),
            ),
            Mistake::TopicTwice { topic } => (format!("topic {topic}定义了两次"), None),
            Mistake::NeedsPartitions { action } => (
                format!("{action}需要partitions"),
                s("create-topic：它的分区数；add-partitions：新的分区总数"),
            ),
            Mistake::TopicExists { topic } => (format!("topic {topic}已经存在"), None),
            Mistake::NotAbove { topic, partitions } => (
                format!("{topic}已有{partitions}个分区；partitions是新的总数，须大于它"),
                s("Kafka只能增加分区，不能减少"),
            ),
            Mistake::AlterConfigPartitions => (
                "alter-config修改配置，不修改分区".to_string(),
                s("增加topic的分区用add-partitions"),
            ),
            Mistake::AlterConfigEmpty => (
                "alter-config需要写出要修改的配置".to_string(),
                s("写一个[admin.config]表，如min_insync_replicas = 2"),
            ),
            Mistake::NoTopicByThen { topic } => {
                (format!("到这个时间，场景文件中还没有topic {topic:?}"), None)
            }
            Mistake::UnknownAdminAction { action } => (
                format!("未知的admin操作{action:?}"),
                s("create-topic、add-partitions或alter-config"),
            ),
            Mistake::ProducerTopic { topic, near } => (
                format!("生产者写入{topic:?}，但它不是场景文件中的topic"),
                near.as_ref().map(|t| format!("是不是想写{t}？")),
            ),
            Mistake::IntervalZero => ("interval至少为1ms".to_string(), None),
            Mistake::Acks => ("acks是\"all\"（或-1）、1或0".to_string(), None),
            Mistake::ConsumerWays => (
                "消费者只能写topics、pattern、assign中的一个".to_string(),
                s(
                    "topics = [\"orders\"]表示订阅；assign = [\"orders-0\"]表示不加入消费组、手动分配分区",
                ),
            ),
            Mistake::Pattern { error } => (format!("pattern不是正则表达式：{error}"), None),
            Mistake::ConsumerWithoutGroup => (
                "没有消费组的消费者必须手动分配分区".to_string(),
                s("加上group = \"NAME\"，或者用assign = [\"TOPIC-P\", ...]"),
            ),
            Mistake::ConsumerNamedTwice { name } => (format!("有两个消费者都叫{name:?}"), None),
            Mistake::UnflushedNotPowerLoss { action } => (
                format!("unflushed属于power-loss，不属于{action}"),
                s("进程崩溃不会丢失任何字节（页缓存还在）：请用action = \"power-loss\""),
            ),
            Mistake::NeedsTarget { action } => (
                format!("{action}需要target"),
                s("target = \"broker 2\"、\"leader of orders-0\"、\"controller\"……"),
            ),
            Mistake::ZooKeeperCannot { action } => (
                format!("kafkasim中的ZooKeeper不能{action}：它一直在线"),
                s("改为isolate或pause它"),
            ),
            Mistake::Unflushed { value } => (
                format!("unflushed = {value:?}：应为\"some\"或\"lost\""),
                s(
                    "unflushed = \"lost\"丢弃所有未刷盘的字节；\"some\"（默认）按种子保留其中的一段前缀",
                ),
            ),
            Mistake::NeedsPeer { action } => (
                format!("{action}需要peer：链路的另一端"),
                s("peer = \"followers of orders-0\""),
            ),
            Mistake::StallNeedsDuration => (
                "stall需要duration：应用停止poll的时长".to_string(),
                s("duration = \"30s\""),
            ),
            Mistake::PartitionNeedsGroups => (
                "partition需要groups：两组或更多组节点".to_string(),
                s(GROUPS_EXAMPLE),
            ),
            Mistake::UnknownAction { action, near } => (
                format!("未知的action {action:?}"),
                Some(match near {
                    Some(a) => format!("是不是想写{a:?}？"),
                    None => format!("action可以是{}", ACTIONS.join("、")),
                }),
            ),
            Mistake::NemesisWithoutFaults => {
                ("nemesis至少需要一种故障".to_string(), s(NEMESIS_EXAMPLE))
            }
            Mistake::CaptionNeedsTime => (
                "讲解需要at（时间）或on（事件）".to_string(),
                s("at = \"10s\"，或on = { kind = \"isr-updated\", partition = \"orders-0\" }"),
            ),
            Mistake::OnFragment { fragment } => (
                format!("on = {fragment:?}匹配的是句子中的词语；on应当写一个事件"),
                Some(format!(
                    "{ON_EXAMPLE}（scenarios/README.md列出了每种事件类型及其字段）"
                )),
            ),
            Mistake::OnNotTable => (
                "on是一个事件：写有kind和字段的表".to_string(),
                s(ON_EXAMPLE),
            ),
            Mistake::StateLeader => ("leader是broker id，分区离线时写\"none\"".to_string(), None),
            Mistake::EndsBeforeStarts => (
                "这个[[expect.event]]结束得比开始早".to_string(),
                s("before应晚于after"),
            ),
        }
    }

    /// serde's or the TOML parser's message (trimmed) as a mistake; `syntax`: the
    /// parser's.
    pub(super) fn toml(message: String, syntax: bool) -> Mistake {
        // serde names the key between backticks.
        let mut quoted = message.split('`').skip(1).step_by(2);
        let key = quoted.next().unwrap_or_default().to_string();
        if message.starts_with("unknown field") {
            // The rest are the keys the section takes.
            let expected: Vec<&str> = quoted.collect();
            let hint = if BROKER_CONFIGS.iter().any(|(name, _)| *name == key) {
                KeyHint::BrokerConfig
            } else if TOPIC_CONFIGS.iter().any(|(name, _)| *name == key) {
                KeyHint::TopicConfig
            } else if let Some(near) = closest(&key, &expected) {
                KeyHint::DidYouMean(near.to_string())
            } else {
                KeyHint::SeeReadme
            };
            let expected = expected.iter().map(|k| k.to_string()).collect();
            Mistake::UnknownKey {
                toml: message,
                key,
                expected,
                hint,
            }
        } else if message.starts_with("missing field") {
            let top_level =
                ["format", "title", "duration", "cluster", "brokers"].contains(&key.as_str());
            Mistake::MissingKey {
                toml: message,
                key,
                top_level,
            }
        } else if syntax {
            Mistake::Syntax { toml: message }
        } else if let Some((found, expected)) = message
            .strip_prefix("invalid type: ")
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            let (found, expected) = (found.to_string(), expected.to_string());
            Mistake::WrongType {
                toml: message,
                found,
                expected,
            }
        } else {
            Mistake::Shape { toml: message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    fn han(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every error of a file says something in Chinese, and the English is the Display.
    fn said_in_both(file: &str, text: &str) -> usize {
        let errors = parse(file, text).expect_err("a mistake");
        assert_eq!(errors.text(Lang::En), errors.to_string());
        let zh = errors.text(Lang::ZhCn);
        // Kangxi radicals and compatibility ideographs look like Han but are not.
        assert!(
            !zh.chars().any(|c| ('\u{2e80}'..='\u{2fdf}').contains(&c)
                || ('\u{f900}'..='\u{faff}').contains(&c)),
            "{zh}"
        );
        for e in &errors.0 {
            let message = e.mistake.message(Lang::ZhCn);
            assert!(han(&message), "{file}: no Chinese in {message:?}");
            assert_eq!(
                e.mistake.hint(Lang::ZhCn).is_some(),
                e.mistake.hint(Lang::En).is_some(),
                "{message}"
            );
        }
        if errors
            .0
            .iter()
            .any(|e| e.mistake.hint(Lang::ZhCn).is_some())
        {
            assert!(zh.contains("\n  提示："), "{zh}");
            assert!(!zh.contains("hint:"), "{zh}");
        }
        errors.0.len()
    }

    #[test]
    fn mistakes_are_said_in_english_and_chinese() {
        let text = r#"
format = 2
title = "mistakes"
duration = "30s"

[cluster]
brokers = 3
controller = 4

[cluster.config]
replica_lag_time_max = 100
zookeeper_session_timeout_ms = "six"

[[topics]]
name = "orders"
partitions = 2
replication_factor = 4

[[producers]]
topic = "order"
acks = "most"

[[consumers]]
group = "billing"
topics = ["orders"]
commit = "sometimes"

[[faults]]
at = "10s"
action = "crsh"
target = "brokr 2"

[[faults]]
at = "40s"
action = "crash"
target = "leader of orders-7"

[[captions]]
at = "5s"
text = "{leader of payments-0} leads"

[[expect.event]]
kind = "isr-shrunk"

[[expect.state]]
at = "later"
partition = "orders-9"
"#;
        let n = said_in_both("mistakes.toml", text);
        assert!(n >= 12, "{n}");
    }

    #[test]
    fn the_files_mistakes_are_said_in_chinese() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/invalid");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios/invalid") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("a file");
                said_in_both(&path.display().to_string(), &text);
                files += 1;
            }
        }
        assert!(files >= 7, "{files}");
    }

    #[test]
    fn toml_messages_keep_their_words_in_english() {
        let unknown = Mistake::toml(
            "unknown field `replication_factr`, expected one of `name`, `replication_factor`"
                .to_string(),
            false,
        );
        assert_eq!(
            unknown.message(Lang::En),
            "unknown field `replication_factr`, expected one of `name`, `replication_factor`"
        );
        assert_eq!(
            unknown.hint(Lang::En).as_deref(),
            Some("did you mean replication_factor?")
        );
        assert_eq!(
            unknown.message(Lang::ZhCn),
            "未知的键replication_factr，这里可用的键有name、replication_factor"
        );
        assert_eq!(
            unknown.hint(Lang::ZhCn).as_deref(),
            Some("是不是想写replication_factor？")
        );
        let typed = Mistake::toml(
            "invalid type: string \"six\", expected u32".to_string(),
            false,
        );
        assert_eq!(
            typed.message(Lang::ZhCn),
            "类型不对：应为u32，实际为string \"six\""
        );
    }
}
