//! Runs a scenario headless: the conductor applies its commands at their times, pauses
//! at each state expectation to compare the cluster with it, and at the end the
//! checkers judge the clients' histories and the final state.

use std::collections::BTreeSet;

use crate::check;
use crate::conductor::{Command, Simulation, Timed};
use crate::lang::Lang;
use crate::scenario::{
    Difference, Expectation, Expected, GroupExpectation, PartitionExpectation, Scenario, Verdict,
};
use crate::snapshot::ClusterSnapshot;
use crate::trace::TraceEntry;

/// One checker's verdict, with what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub name: &'static str,
    pub passed: bool,
    /// One per offending record or event.
    pub findings: Vec<Finding>,
    /// What the scenario expected, if it said.
    pub expected: Option<Verdict>,
}

impl CheckResult {
    pub fn met(&self) -> bool {
        match self.expected {
            None => true,
            Some(Verdict::Pass) => self.passed,
            Some(Verdict::Fail) => !self.passed,
        }
    }
}

/// A state expectation and how the cluster differed from it (empty: met).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectationResult {
    pub expectation: Expectation,
    pub differences: Vec<Difference>,
}

pub use crate::check::Finding;

/// What a run did and how it was judged.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub title: String,
    pub title_zh: Option<String>,
    pub seed: u64,
    pub until_ms: i64,
    pub trace: Vec<TraceEntry>,
    pub checks: Vec<CheckResult>,
    pub expectations: Vec<ExpectationResult>,
    pub snapshot: ClusterSnapshot,
    /// The files written, when the run exported its logs.
    pub exported: Option<Result<Vec<std::path::PathBuf>, String>>,
    /// The last fault's time, and when the cluster was whole again after it.
    pub last_fault_ms: i64,
    pub recovered_ms: Option<i64>,
    /// What every client did (see [`crate::history::operations`]).
    pub histories: crate::cluster::Histories,
}

impl RunReport {
    /// The checkers whose verdict differs from the expected one, and the state
    /// expectations not met (by place).
    pub fn unmet(&self) -> BTreeSet<String> {
        let checks = self
            .checks
            .iter()
            .filter(|c| !c.met())
            .map(|c| c.name.to_string());
        let states = self
            .expectations
            .iter()
            .filter(|e| !e.differences.is_empty())
            .map(|e| e.expectation.place.clone());
        checks.chain(states).collect()
    }

    /// Every expectation met.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(CheckResult::met)
            && self.expectations.iter().all(|e| e.differences.is_empty())
    }

    /// The narrated timeline, one line per entry. Unless `all`: without the high
    /// watermark's every step and `__consumer_offsets`' own partitions, and a run of
    /// entries alike but for their attempt number said once with its count
    /// (`… ×37, until 29.950s`).
    pub fn timeline(&self, all: bool) -> String {
        self.timeline_in(all, Lang::En)
    }

    /// The title in `lang` (the file's own if it has none in that language).
    pub fn title_in(&self, lang: Lang) -> &str {
        match (lang, &self.title_zh) {
            (Lang::ZhCn, Some(zh)) => zh,
            _ => &self.title,
        }
    }

    /// [`RunReport::timeline`] in `lang`.
    pub fn timeline_in(&self, all: bool, lang: Lang) -> String {
        if all {
            return self.trace.iter().map(|e| e.line_in(lang) + "\n").collect();
        }
        let shown: Vec<&TraceEntry> = self.trace.iter().filter(|e| at_lesson_level(e)).collect();
        let mut out = String::new();
        let mut i = 0;
        while i < shown.len() {
            let key = repeat_key(shown[i]);
            let run = shown[i..]
                .iter()
                .take_while(|e| repeat_key(e) == key)
                .count();
            out.push_str(&shown[i].line_in(lang));
            if run > 1 {
                let last = shown[i + run - 1].time_ms();
                let (s, ms) = (last / 1000, last % 1000);
                out.push_str(&match lang {
                    Lang::En => format!(" ×{run}, until {s}.{ms:03}s"),
                    Lang::ZhCn => format!(" ×{run}，直到{s}.{ms:03}s"),
                });
            }
            out.push('\n');
            i += run;
        }
        out
    }
}

/// Whether headless output shows the entry without `--all-events`: the high watermark's
/// every step and the internal `__consumer_offsets` topic's replication are below a
/// lesson's level.
pub fn at_lesson_level(entry: &TraceEntry) -> bool {
    use crate::events::{Kind, Value};
    if matches!(entry.kind(), Kind::HwAdvance | Kind::HwLower) {
        return false;
    }
    let internal = |v: &Value| match v {
        Value::Text(t) => t.starts_with(kafkasim_core::group::storage::OFFSETS_TOPIC),
        _ => false,
    };
    // A record the coordinator could not read is the coordinator's news, not replication.
    entry.kind() == Kind::OffsetsRecordSkipped
        || !entry
            .fields()
            .iter()
            .any(|(name, v)| matches!(*name, "partition" | "topic") && internal(v))
}

/// What makes consecutive entries one line with a count: kind and fields, but for the
/// attempt number of a retry.
fn repeat_key(entry: &TraceEntry) -> (crate::events::Kind, Vec<(&'static str, String)>) {
    let (kind, fields) = entry.data();
    let fields = fields
        .into_iter()
        .filter(|(name, _)| *name != "attempt")
        .map(|(name, v)| (name, v.to_string()))
        .collect();
    (kind, fields)
}

/// When the last fault (or its undoing) of a run applies.
pub fn last_fault_ms(commands: &[Timed]) -> Option<i64> {
    commands
        .iter()
        .filter(|t| matches!(t.command, Command::Fault(_)))
        .map(|t| t.at_ms)
        .max()
}

/// How often the runner looks for recovery after the last fault.
const LIVENESS_STEP_MS: i64 = 500;

/// Runs `scenario` from `seed` until `until_ms` (its duration if None).
pub fn run(scenario: &Scenario, seed: u64, until_ms: Option<i64>) -> RunReport {
    let (_, commands) = scenario.plan(seed);
    run_commands(scenario, seed, until_ms, commands, None)
}

/// [`run`], then every broker's logs written under `dir` in Kafka's on-disk layout.
pub fn run_and_export(
    scenario: &Scenario,
    seed: u64,
    until_ms: Option<i64>,
    dir: &std::path::Path,
) -> RunReport {
    let (_, commands) = scenario.plan(seed);
    run_commands(scenario, seed, until_ms, commands, Some(dir))
}

/// Runs `scenario`'s cluster with `commands` instead of its plan (what shrinking does).
pub fn run_commands(
    scenario: &Scenario,
    seed: u64,
    until_ms: Option<i64>,
    commands: Vec<Timed>,
    export_to: Option<&std::path::Path>,
) -> RunReport {
    let until_ms = until_ms.unwrap_or(scenario.duration_ms);
    let builder = scenario.builder.clone();
    // Liveness: after the last fault, the cluster must come back to every partition led
    // with its full ISR (TigerBeetle's split of a run into faults, then recovery).
    let last_fault_ms = last_fault_ms(&commands).unwrap_or(0).min(until_ms);
    let mut simulation = Simulation::start(seed, builder, commands);
    let mut pauses: BTreeSet<i64> = scenario
        .expectations
        .iter()
        .filter(|e| e.what.at_a_moment())
        .map(|e| e.at_ms)
        .filter(|t| *t <= until_ms)
        .collect();
    pauses.extend((last_fault_ms..=until_ms).step_by(LIVENESS_STEP_MS as usize));
    let mut expectations = Vec::new();
    let mut recovered_ms = None;
    for at_ms in pauses {
        let frame = simulation.run_until_without_records(at_ms);
        for expectation in scenario
            .expectations
            .iter()
            .filter(|e| e.at_ms == at_ms && e.what.at_a_moment())
        {
            let differences = match &expectation.what {
                Expected::Partition(p) => differences(p, &frame.snapshot),
                Expected::Group(g) => group_differences(g, &frame.snapshot),
                Expected::Event(_) | Expected::CaptionShown { .. } => continue,
            };
            expectations.push(ExpectationResult {
                expectation: expectation.clone(),
                differences,
            });
        }
        if recovered_ms.is_none() && at_ms >= last_fault_ms && frame.snapshot.all_in_sync() {
            recovered_ms = Some(frame.time_ms);
        }
    }
    let frame = simulation.run_until(until_ms);
    if recovered_ms.is_none() && frame.snapshot.all_in_sync() {
        recovered_ms = Some(frame.time_ms);
    }
    let exported = export_to.map(|dir| simulation.export_logs(dir));
    let histories = simulation.histories();
    let trace = simulation.trace().to_vec();
    // What the whole trace shows: events in their windows, captions whose event came.
    for expectation in scenario
        .expectations
        .iter()
        .filter(|e| !e.what.at_a_moment())
    {
        // A run stopped early (--until) judges only the windows it saw end.
        let window_end = match &expectation.what {
            Expected::Event(event) => event.before_ms.unwrap_or(scenario.duration_ms),
            _ => scenario.duration_ms,
        };
        if window_end > until_ms {
            continue;
        }
        let differences = match &expectation.what {
            Expected::Event(event) => event.differences(expectation.at_ms, &trace),
            Expected::CaptionShown { text } => {
                let shown = trace.iter().any(|e| {
                    matches!(e, TraceEntry::Caption { time_ms, written, .. }
                        if *time_ms >= expectation.at_ms && *written == text.to_string())
                });
                if shown {
                    Vec::new()
                } else {
                    vec![Difference::CaptionNeverShown {
                        text: text.to_string(),
                    }]
                }
            }
            Expected::Partition(_) | Expected::Group(_) => continue,
        };
        expectations.push(ExpectationResult {
            expectation: expectation.clone(),
            differences,
        });
    }
    expectations.sort_by_key(|r| r.expectation.at_ms);

    let writes = histories.writes();
    let lost = check::lost_writes(&writes, &frame.snapshot);
    let duplicates = check::duplicates(&frame.snapshot);
    let violations: Vec<Finding> = trace
        .iter()
        .filter_map(|e| match e {
            TraceEntry::Violation { time_ms, violation } => {
                Some(Finding::Violation(*time_ms, violation.clone()))
            }
            _ => None,
        })
        .collect();
    let mut liveness = match recovered_ms {
        Some(_) => Vec::new(),
        None => {
            let s = &frame.snapshot;
            let mut why: Vec<Finding> = s
                .partitions
                .iter()
                .filter(|(_, p)| p.leader.is_none() || p.isr.len() < p.replicas.len())
                .map(|(tp, p)| match p.leader {
                    None => Finding::NoLeaderAtEnd { tp: tp.clone() },
                    Some(leader) => Finding::IsrShortAtEnd {
                        tp: tp.clone(),
                        leader,
                        isr: p.isr.iter().copied().collect(),
                        replicas: p.replicas.clone(),
                    },
                })
                .collect();
            why.extend(
                s.brokers
                    .iter()
                    .filter(|(_, b)| !b.up)
                    .map(|(id, _)| Finding::BrokerDownAtEnd { broker: *id }),
            );
            if why.is_empty() {
                why.push(Finding::NotRecovered);
            }
            why
        }
    };
    // The producers' side: each one still sending gets writes acknowledged again.
    if let Some(recovered) = recovered_ms {
        liveness.extend(check::producers_stalled(&writes, recovered, until_ms));
    }
    // The consumers' side: groups settled and everything acknowledged consumed.
    liveness.extend(check::groups_unfinished(
        &writes,
        &histories.consumers,
        &frame.snapshot,
        until_ms,
    ));
    let result = |name: &'static str, findings: Vec<Finding>| CheckResult {
        name,
        passed: findings.is_empty(),
        findings,
        expected: scenario.expect.get(name).copied(),
    };
    let checks = vec![
        result("lost-writes", lost.into_iter().map(Finding::Lost).collect()),
        result(
            "duplicates",
            duplicates.into_iter().map(Finding::Duplicate).collect(),
        ),
        result("producer-order", check::producer_order(&writes)),
        result("invariants", violations),
        result(
            "inconsistent-offsets",
            check::inconsistent_offsets(&writes, &histories.consumers, &frame.snapshot),
        ),
        result("poll-order", check::poll_order(&histories.consumers)),
        result(
            "reads-above-hw",
            check::reads_above_hw(&histories.consumers),
        ),
        result(
            "group-exclusivity",
            check::group_exclusivity(&histories.consumers),
        ),
        result("commits-ahead", check::commits_ahead(&histories.consumers)),
        result("redelivered", check::redelivered(&histories.consumers)),
        result("liveness", liveness),
    ];
    RunReport {
        title: scenario.title.clone(),
        title_zh: scenario.title_zh.clone(),
        seed,
        until_ms,
        trace,
        checks,
        expectations,
        snapshot: frame.snapshot,
        exported,
        last_fault_ms,
        recovered_ms,
        histories,
    }
}

/// How the snapshot differs from what the expectation says.
fn differences(expect: &PartitionExpectation, snapshot: &ClusterSnapshot) -> Vec<Difference> {
    let mut out = Vec::new();
    let tp = || expect.tp.clone();
    let Some(partition) = snapshot.partitions.get(&expect.tp) else {
        return vec![Difference::NoPartition { tp: tp() }];
    };
    if let Some(leader) = expect.leader
        && partition.leader != leader
    {
        out.push(Difference::Leader {
            tp: tp(),
            actual: partition.leader,
            expected: leader,
        });
    }
    let isr: Vec<i32> = partition.isr.iter().copied().collect();
    if let Some(size) = expect.isr_size
        && partition.isr.len() != size
    {
        out.push(Difference::IsrSize {
            tp: tp(),
            isr: isr.clone(),
            expected: size,
        });
    }
    if let Some(expected) = &expect.isr
        && &partition.isr != expected
    {
        out.push(Difference::Isr {
            tp: tp(),
            isr,
            expected: expected.iter().copied().collect(),
        });
    }
    let leader = partition
        .leader
        .and_then(|l| partition.replica_states.get(&l));
    if let Some(expected) = expect.high_watermark {
        let actual = leader.map(|r| r.high_watermark);
        if actual != Some(expected) {
            out.push(Difference::HighWatermark {
                tp: tp(),
                actual,
                expected,
            });
        }
    }
    if let Some(expected) = expect.log_end_offset {
        let actual = leader.map(|r| r.log_end_offset);
        if actual != Some(expected) {
            out.push(Difference::LogEndOffset {
                tp: tp(),
                actual,
                expected,
            });
        }
    }
    out
}

/// How a group differs from what the expectation says.
fn group_differences(expect: &GroupExpectation, snapshot: &ClusterSnapshot) -> Vec<Difference> {
    let group = || expect.group.clone();
    let Some(g) = snapshot.groups.get(&expect.group) else {
        return vec![Difference::NoGroup { group: group() }];
    };
    let mut out = Vec::new();
    if let Some(expected) = expect.state
        && g.state != expected
    {
        out.push(Difference::GroupState {
            group: group(),
            actual: g.state,
            expected,
        });
    }
    if let Some(expected) = expect.generation
        && g.generation != expected
    {
        out.push(Difference::Generation {
            group: group(),
            actual: g.generation,
            expected,
        });
    }
    if let Some(expected) = expect.members
        && g.members.len() != expected
    {
        out.push(Difference::Members {
            group: group(),
            actual: g.members.len(),
            expected,
        });
    }
    if let Some(expected) = expect.assigned {
        let actual: usize = g.members.values().map(Vec::len).sum();
        if actual != expected {
            out.push(Difference::Assigned {
                group: group(),
                actual,
                expected,
            });
        }
    }
    if let Some(at_most) = expect.max_lag {
        let actual: i64 = g.lag(&snapshot.partitions).values().sum();
        if actual > at_most {
            out.push(Difference::Lag {
                group: group(),
                actual,
                at_most,
            });
        }
    }
    out
}
