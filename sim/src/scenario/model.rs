//! The scenario as the runner uses it: captions, expectations, the checked scenario.

use super::*;
use crate::lang::Lang;

/// A caption's text: words and `{selector}` placeholders (`{leader of orders-0}`), each
/// filled in with what it names at the moment the caption shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptionText {
    /// The caption in the file's own language (`text`).
    pub parts: Vec<CaptionPart>,
    /// Its Simplified Chinese (`text_zh`), if the file gives one.
    pub zh: Option<Vec<CaptionPart>>,
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
            zh: None,
        }
    }

    /// The text with each placeholder's brokers now (`2`, `1 and 3`; `nobody` when it
    /// names none); a consumer placeholder gives its name.
    pub fn render(&self, cluster: &Cluster) -> String {
        render_parts(&self.parts, cluster, Lang::En)
    }

    /// [`CaptionText::render`] of its Chinese, if it has one.
    pub fn render_zh(&self, cluster: &Cluster) -> Option<String> {
        self.zh
            .as_ref()
            .map(|parts| render_parts(parts, cluster, Lang::ZhCn))
    }
}

/// The parts with each placeholder filled in, in the words of `lang` (`1 and 3`,
/// `1和3`).
fn render_parts(parts: &[CaptionPart], cluster: &Cluster, lang: Lang) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            CaptionPart::Text(t) => out.push_str(t),
            CaptionPart::Named(Selector::Consumer(name)) => out.push_str(name),
            CaptionPart::Named(Selector::ZooKeeper) => out.push_str("ZooKeeper"),
            CaptionPart::Named(selector) => {
                let mut nodes = selector.resolve(cluster);
                nodes.sort_unstable();
                let ids: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
                out.push_str(&match (ids.as_slice(), lang) {
                    ([], Lang::En) => "nobody".to_string(),
                    ([], Lang::ZhCn) => "无".to_string(),
                    ([one], _) => one.clone(),
                    ([rest @ .., last], Lang::En) => format!("{} and {last}", rest.join(", ")),
                    ([rest @ .., last], Lang::ZhCn) => format!("{}和{last}", rest.join("、")),
                });
            }
        }
    }
    out
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
        self.when_in(Lang::En)
    }

    /// [`Expectation::when`] in `lang`.
    pub fn when_in(&self, lang: Lang) -> String {
        if lang == Lang::ZhCn {
            return match &self.what {
                Expected::Event(EventExpectation {
                    before_ms: Some(before),
                    ..
                }) => format!("{}..={before} ms", self.at_ms),
                Expected::Event(_) | Expected::CaptionShown { .. } => {
                    format!("{} ms起", self.at_ms)
                }
                Expected::Partition(_) | Expected::Group(_) => format!("{} ms时", self.at_ms),
            };
        }
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

/// A text a scenario file lacks in a language: its `title_zh`, `summary_zh`, or a
/// caption's `text_zh` (the caption as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Untranslated {
    Title,
    Summary,
    Caption(String),
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
    /// [`Expected::subject`] in `lang`.
    pub fn subject_in(&self, lang: Lang) -> String {
        match (self, lang) {
            (Expected::Group(g), Lang::ZhCn) => format!("消费组{}", g.group),
            (Expected::Event(e), Lang::ZhCn) => format!("事件{}", e.matcher),
            (Expected::CaptionShown { .. }, Lang::ZhCn) => "讲解".to_string(),
            _ => self.subject(),
        }
    }

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

/// How a run differs from one expectation, as data (the narrator says it in either
/// language: `crate::narrate::difference`).
#[derive(Clone, Debug, PartialEq)]
pub enum Difference {
    /// `count` events of the matcher were expected in the window; `found` came.
    EventCount {
        count: Count,
        matcher: EventMatch,
        after_ms: i64,
        before_ms: Option<i64>,
        found: usize,
    },
    /// One of the events that did match (the first few are shown).
    Found(TraceEntry),
    CaptionNeverShown {
        text: String,
    },
    NoPartition {
        tp: TopicPartition,
    },
    Leader {
        tp: TopicPartition,
        actual: Option<BrokerId>,
        expected: Option<BrokerId>,
    },
    IsrSize {
        tp: TopicPartition,
        isr: Vec<BrokerId>,
        expected: usize,
    },
    Isr {
        tp: TopicPartition,
        isr: Vec<BrokerId>,
        expected: Vec<BrokerId>,
    },
    HighWatermark {
        tp: TopicPartition,
        actual: Option<i64>,
        expected: i64,
    },
    LogEndOffset {
        tp: TopicPartition,
        actual: Option<i64>,
        expected: i64,
    },
    NoGroup {
        group: String,
    },
    GroupState {
        group: String,
        actual: GroupState,
        expected: GroupState,
    },
    Generation {
        group: String,
        actual: i32,
        expected: i32,
    },
    Members {
        group: String,
        actual: usize,
        expected: usize,
    },
    Assigned {
        group: String,
        actual: usize,
        expected: usize,
    },
    Lag {
        group: String,
        actual: i64,
        at_most: i64,
    },
}

impl Difference {
    pub fn text(&self, lang: Lang) -> String {
        crate::narrate::difference(self, lang)
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Lang::En))
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
    pub fn differences(&self, after_ms: i64, trace: &[TraceEntry]) -> Vec<Difference> {
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
        let mut out = vec![Difference::EventCount {
            count: self.count,
            matcher: self.matcher.clone(),
            after_ms,
            before_ms: self.before_ms,
            found: found.len(),
        }];
        out.extend(
            found
                .iter()
                .take(3)
                .map(|e| Difference::Found((*e).clone())),
        );
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
    /// `title_zh`, `summary_zh`: the Simplified Chinese, if the file gives it.
    pub title_zh: Option<String>,
    pub summary: String,
    pub summary_zh: Option<String>,
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
    /// The title in `lang`: the file's own when it has none in that language.
    pub fn title_in(&self, lang: Lang) -> &str {
        match (lang, &self.title_zh) {
            (Lang::ZhCn, Some(zh)) => zh,
            _ => &self.title,
        }
    }

    pub fn summary_in(&self, lang: Lang) -> &str {
        match (lang, &self.summary_zh) {
            (Lang::ZhCn, Some(zh)) => zh,
            _ => &self.summary,
        }
    }

    /// What the file does not say in `lang` (English is the file's own text, always
    /// there): `title_zh`, `summary_zh`, each caption's `text_zh`. A run in that language
    /// shows these as written, and says so.
    pub fn missing_translations(&self, lang: Lang) -> Vec<Untranslated> {
        if lang == Lang::En {
            return Vec::new();
        }
        let mut missing = Vec::new();
        if self.title_zh.is_none() {
            missing.push(Untranslated::Title);
        }
        if !self.summary.is_empty() && self.summary_zh.is_none() {
            missing.push(Untranslated::Summary);
        }
        for timed in &self.commands {
            if let Command::Caption(text) | Command::CaptionOn { text, .. } = &timed.command
                && text.zh.is_none()
            {
                missing.push(Untranslated::Caption(text.to_string()));
            }
        }
        missing
    }

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
