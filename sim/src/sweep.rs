//! Seed sweeps: one scenario over many seeds, several simulations at a time (each on a
//! thread of its own), and shrinking: the first failing run cut down to the fewest
//! faults and the shortest duration that still fail the same way.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::conductor::{Command, Timed};
use crate::fault::{Action, Selector};
use crate::run::{RunReport, last_fault_ms, run, run_commands};
use crate::scenario::Scenario;

/// One seed's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedResult {
    pub seed: u64,
    /// What was not met: checker names and expectations' places.
    pub unmet: BTreeSet<String>,
}

impl SeedResult {
    pub fn passed(&self) -> bool {
        self.unmet.is_empty()
    }
}

/// A `--seeds` or `--shard` a sweep cannot use (the text as given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedsError {
    Range(String),
    Empty(String),
    Shard(String),
}

impl std::fmt::Display for SeedsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedsError::Range(r) => write!(
                f,
                "--seeds {r}: expected A..B (B excluded) or A..=B, such as 1..101"
            ),
            SeedsError::Empty(r) => write!(f, "--seeds {r}: the range is empty"),
            SeedsError::Shard(s) => {
                write!(f, "--shard {s}: expected K/N with 1 <= K <= N, such as 2/8")
            }
        }
    }
}

/// `A..B` (B excluded) or `A..=B`, optionally one shard `K/N` of it (K from 1): seed
/// `A + i` belongs to shard `i % N + 1`, so shards split any range evenly.
pub fn parse_seeds(range: &str, shard: Option<&str>) -> Result<Vec<u64>, SeedsError> {
    let bad = || SeedsError::Range(range.to_string());
    let (start, end) = if let Some((a, b)) = range.split_once("..=") {
        let b: u64 = b.trim().parse().map_err(|_| bad())?;
        (
            a.trim().parse::<u64>().map_err(|_| bad())?,
            b.checked_add(1).ok_or_else(bad)?,
        )
    } else {
        let (a, b) = range.split_once("..").ok_or_else(bad)?;
        (
            a.trim().parse::<u64>().map_err(|_| bad())?,
            b.trim().parse::<u64>().map_err(|_| bad())?,
        )
    };
    if end <= start {
        return Err(SeedsError::Empty(range.to_string()));
    }
    let (k, n) = match shard {
        None => (1, 1),
        Some(text) => {
            let bad = || SeedsError::Shard(text.to_string());
            let (k, n) = text.split_once('/').ok_or_else(bad)?;
            let k: u64 = k.trim().parse().map_err(|_| bad())?;
            let n: u64 = n.trim().parse().map_err(|_| bad())?;
            if k == 0 || n == 0 || k > n {
                return Err(bad());
            }
            (k, n)
        }
    };
    Ok((start..end)
        .filter(|seed| (seed - start) % n == k - 1)
        .collect())
}

/// Runs every seed, `jobs` at a time; `progress(done, total, failed)` after each.
pub fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: usize,
    progress: &(dyn Fn(usize, usize, usize) + Sync),
) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(seeds.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else {
                        return;
                    };
                    let report = run(scenario, seed, None);
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    results.push(SeedResult {
                        seed,
                        unmet: report.unmet(),
                    });
                    let failed = results.iter().filter(|r| !r.passed()).count();
                    progress(results.len(), seeds.len(), failed);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.seed);
    results
}

/// A failing run cut down.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub seed: u64,
    pub commands: Vec<Timed>,
    pub until_ms: i64,
    /// The faults the original run had, and the shrunk one keeps.
    pub faults_before: usize,
    pub faults_after: usize,
    pub report: RunReport,
}

fn faults(commands: &[Timed]) -> usize {
    commands
        .iter()
        .filter(|t| matches!(t.command, Command::Fault(_)))
        .count()
}

/// Removes faults one at a time, keeping each removal after which the run still fails one
/// of the same expectations, then finds the shortest duration that still fails.
pub fn shrink(scenario: &Scenario, seed: u64, unmet: &BTreeSet<String>) -> Shrunk {
    let (_, mut commands) = scenario.plan(seed);
    let faults_before = faults(&commands);
    let still_fails = |commands: &[Timed], until: i64| {
        let report = run_commands(scenario, seed, Some(until), commands.to_vec(), None);
        let same = report.unmet().intersection(unmet).next().is_some();
        (same, report)
    };
    let mut i = commands.len();
    while i > 0 {
        i -= 1;
        if !matches!(commands[i].command, Command::Fault(_)) {
            continue;
        }
        let mut fewer = commands.clone();
        fewer.remove(i);
        if still_fails(&fewer, scenario.duration_ms).0 {
            commands = fewer;
        }
    }
    // The shortest duration, to 100 ms, that still fails: it ends after the last fault.
    let last_fault = last_fault_ms(&commands).unwrap_or(0);
    let (mut low, mut high) = (last_fault, scenario.duration_ms);
    while high - low > 100 {
        let mid = low + (high - low) / 2;
        if still_fails(&commands, mid).0 {
            high = mid;
        } else {
            low = mid;
        }
    }
    let (_, report) = still_fails(&commands, high);
    Shrunk {
        seed,
        faults_after: faults(&commands),
        faults_before,
        commands,
        until_ms: high,
        report,
    }
}

/// The shrunk run as a scenario file: the original file's text with its nemesis and
/// faults replaced by the shrunk faults, and its seed and duration set.
pub fn shrunk_scenario(original: &str, shrunk: &Shrunk) -> Result<String, String> {
    let mut table: toml::Table = original
        .parse()
        .map_err(|e| format!("the scenario does not parse again: {e}"))?;
    table.remove("nemesis");
    table.insert("seed".into(), toml::Value::Integer(shrunk.seed as i64));
    table.insert(
        "duration".into(),
        toml::Value::String(format!("{}ms", shrunk.until_ms)),
    );
    let faults: Vec<toml::Value> = shrunk.commands.iter().filter_map(fault_entry).collect();
    table.insert("faults".into(), toml::Value::Array(faults));
    cut_after(&mut table, shrunk.until_ms);
    let body = toml::to_string(&table).map_err(|e| format!("cannot write TOML: {e}"))?;
    Ok(format!(
        "# Shrunk by kafkasim sweep: seed {}, {} of {} faults, {} ms.\n{body}",
        shrunk.seed, shrunk.faults_after, shrunk.faults_before, shrunk.until_ms
    ))
}

/// A fault command as a `[[faults]]` entry of a scenario file; None for other commands.
fn fault_entry(t: &Timed) -> Option<toml::Value> {
    let text = |s: &Selector| toml::Value::String(s.to_string());
    match &t.command {
        Command::Fault(act) => {
            let mut fault = toml::Table::new();
            fault.insert("at".into(), toml::Value::String(format!("{}ms", t.at_ms)));
            fault.insert("action".into(), toml::Value::String(act.action.to_string()));
            if let Some(target) = &act.target {
                fault.insert("target".into(), text(target));
            }
            match &act.action {
                Action::Stall(ms) => {
                    fault.insert("duration".into(), toml::Value::String(format!("{ms}ms")));
                }
                Action::Link {
                    peer,
                    latency_ms,
                    loss,
                } => {
                    fault.insert("peer".into(), text(peer));
                    fault.insert(
                        "latency".into(),
                        toml::Value::String(format!("{latency_ms}ms")),
                    );
                    fault.insert("loss".into(), toml::Value::Float(*loss));
                }
                Action::Hold(peer) | Action::Release(peer) => {
                    fault.insert("peer".into(), text(peer));
                }
                Action::Crash(crate::disk::Crash::PowerLossUnflushedLost) => {
                    fault.insert("unflushed".into(), toml::Value::String("lost".into()));
                }
                _ => {}
            }
            if let Action::Partition(groups) = &act.action {
                let groups = groups
                    .iter()
                    .map(|side| toml::Value::Array(side.iter().map(text).collect()))
                    .collect();
                fault.insert("groups".into(), toml::Value::Array(groups));
            }
            Some(toml::Value::Table(fault))
        }
        _ => None,
    }
}

/// A live session as a scenario file: the original file's text with the faults among
/// `commands` (what was injected from the keyboard, at the sim times they applied) added
/// to its own (other commands are left to `added`), and
/// `added` entries (such as a `[[producers]]` or `[[consumers]]` table started live)
/// appended to their lists.
pub fn session_scenario(
    original: &str,
    commands: &[Timed],
    added: &[(String, toml::Table)],
) -> Result<String, String> {
    let mut table: toml::Table = original
        .parse()
        .map_err(|e| format!("the scenario does not parse again: {e}"))?;
    let mut append = |list: &str, entries: Vec<toml::Value>| {
        let mut all = match table.remove(list) {
            Some(toml::Value::Array(existing)) => existing,
            _ => Vec::new(),
        };
        all.extend(entries);
        table.insert(list.into(), toml::Value::Array(all));
    };
    let faults: Vec<toml::Value> = commands.iter().filter_map(fault_entry).collect();
    let fault_count = faults.len();
    append("faults", faults);
    for (list, entry) in added {
        append(list, vec![toml::Value::Table(entry.clone())]);
    }
    let kept = if fault_count + added.len() > 0 {
        keep_safety_expectations(&mut table)
    } else {
        "every expectation of the original is kept: nothing was added".to_string()
    };
    let body = toml::to_string(&table).map_err(|e| format!("cannot write TOML: {e}"))?;
    Ok(format!(
        "# A kafkasim session: the scenario below plus {} faults and {} clients started live.\n# {kept}\n{body}",
        fault_count,
        added.len()
    ))
}

/// Checkers whose "pass" is a safety property: it should hold under any faults.
const SAFETY_CHECKERS: [&str; 9] = [
    "lost_writes",
    "duplicates",
    "producer_order",
    "invariants",
    "inconsistent_offsets",
    "poll_order",
    "reads_above_hw",
    "group_exclusivity",
    "commits_ahead",
];

/// A session that added faults or clients tells another story than the lesson: its
/// file keeps only the safety verdicts the lesson expected to pass, drops the rest (the
/// lesson's states, groups, events, expected failures and liveness) and does not require
/// the lesson's event-triggered captions to show. Says what it kept.
fn keep_safety_expectations(table: &mut toml::Table) -> String {
    let mut expect = toml::Table::new();
    let mut kept = Vec::new();
    if let Some(toml::Value::Table(original)) = table.remove("expect") {
        for name in SAFETY_CHECKERS {
            if original.get(name).and_then(toml::Value::as_str) == Some("pass") {
                expect.insert(name.into(), toml::Value::String("pass".into()));
                kept.push(name);
            }
        }
    }
    expect.insert("captions".into(), toml::Value::String("unchecked".into()));
    table.insert("expect".into(), toml::Value::Table(expect));
    if kept.is_empty() {
        "the lesson's expectations are dropped: what was added live changes the story they describe"
            .to_string()
    } else {
        format!(
            "of the lesson's expectations only the safety verdicts {} = \"pass\" are kept: what was added live changes the rest of the story",
            kept.join(", ")
        )
    }
}

/// A time of the file's (a string with a unit or milliseconds), if it is one.
fn time_of(value: Option<&toml::Value>) -> Option<i64> {
    match value? {
        toml::Value::Integer(ms) => Some(*ms),
        toml::Value::String(text) => crate::scenario::parse_time_ms(text),
        _ => None,
    }
}

/// Drops what the file schedules after `until_ms` (captions, clients that would start
/// later, state expectations) and stops clients at the end: the scenario checker refuses
/// times after the end.
fn cut_after(table: &mut toml::Table, until_ms: i64) {
    let after = |t: &toml::Table, key: &str| time_of(t.get(key)).is_some_and(|at| at > until_ms);
    for (section, key) in [
        ("captions", "at"),
        ("producers", "start"),
        ("consumers", "start"),
    ] {
        if let Some(toml::Value::Array(items)) = table.get_mut(section) {
            items.retain(|v| v.as_table().is_none_or(|t| !after(t, key)));
        }
    }
    if let Some(toml::Value::Array(producers)) = table.get_mut("producers") {
        for p in producers.iter_mut().filter_map(toml::Value::as_table_mut) {
            if after(p, "stop") {
                p.remove("stop");
            }
        }
    }
    // Expectations whose moment or window lies past the cut.
    if let Some(toml::Value::Table(expect)) = table.get_mut("expect") {
        for (section, keys) in [
            ("state", &["at"][..]),
            ("group", &["at"][..]),
            ("event", &["after", "before"][..]),
        ] {
            if let Some(toml::Value::Array(items)) = expect.get_mut(section) {
                items.retain(|v| {
                    v.as_table()
                        .is_none_or(|t| !keys.iter().any(|k| after(t, k)))
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seed_ranges_and_shards() {
        assert_eq!(parse_seeds("1..5", None), Ok(vec![1, 2, 3, 4]));
        assert_eq!(parse_seeds("1..=5", None), Ok(vec![1, 2, 3, 4, 5]));
        assert_eq!(parse_seeds("1..=10", Some("2/3")), Ok(vec![2, 5, 8]));
        let all: Vec<u64> = (1..=3)
            .flat_map(|k| parse_seeds("0..100", Some(&format!("{k}/3"))).unwrap())
            .collect();
        assert_eq!(all.len(), 100, "shards cover the range once");
        assert!(parse_seeds("5..5", None).is_err());
        assert!(parse_seeds("a..b", None).is_err());
        assert!(parse_seeds("1..9", Some("0/2")).is_err());
    }
}
