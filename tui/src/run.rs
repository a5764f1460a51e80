//! `kafkasim run` and `kafkasim list`: scenario files, headless.

use std::io::Write;
use std::path::PathBuf;

use kafkasim_sim::lang::Lang;
use kafkasim_sim::run::{RunReport, run};
use kafkasim_sim::scenario::{self, Scenario, Verdict, parse_time_ms};
use serde_json::json;

/// The scenarios built into the binary: `kafkasim list` shows them, and `kafkasim run`
/// takes their names as well as paths.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "01-first-topic",
        include_str!("../../scenarios/01-first-topic.toml"),
    ),
    (
        "02-partitions-and-keys",
        include_str!("../../scenarios/02-partitions-and-keys.toml"),
    ),
    (
        "03-point-to-point-vs-pub-sub",
        include_str!("../../scenarios/03-point-to-point-vs-pub-sub.toml"),
    ),
    (
        "04-acks-1-leader-crash",
        include_str!("../../scenarios/04-acks-1-leader-crash.toml"),
    ),
    (
        "05a-min-insync-replicas",
        include_str!("../../scenarios/05a-min-insync-replicas.toml"),
    ),
    (
        "05b-min-insync-replicas-before-3-7",
        include_str!("../../scenarios/05b-min-insync-replicas-before-3-7.toml"),
    ),
    (
        "06-slow-follower-isr",
        include_str!("../../scenarios/06-slow-follower-isr.toml"),
    ),
    (
        "07-hw-and-leo",
        include_str!("../../scenarios/07-hw-and-leo.toml"),
    ),
    (
        "08-unclean-leader-election",
        include_str!("../../scenarios/08-unclean-leader-election.toml"),
    ),
    (
        "09-jepsen-2013",
        include_str!("../../scenarios/09-jepsen-2013.toml"),
    ),
    (
        "10-power-loss",
        include_str!("../../scenarios/10-power-loss.toml"),
    ),
    (
        "11a-kip-101-hw-truncation-loses-a-write",
        include_str!("../../scenarios/11a-kip-101-hw-truncation-loses-a-write.toml"),
    ),
    (
        "11b-kip-101-leader-epoch-keeps-the-write",
        include_str!("../../scenarios/11b-kip-101-leader-epoch-keeps-the-write.toml"),
    ),
    (
        "11c-kip-101-hw-truncation-diverges",
        include_str!("../../scenarios/11c-kip-101-hw-truncation-diverges.toml"),
    ),
    (
        "11d-kip-101-leader-epoch-no-divergence",
        include_str!("../../scenarios/11d-kip-101-leader-epoch-no-divergence.toml"),
    ),
    (
        "12-controller-failover",
        include_str!("../../scenarios/12-controller-failover.toml"),
    ),
    (
        "13-isolated-leader-fenced",
        include_str!("../../scenarios/13-isolated-leader-fenced.toml"),
    ),
    (
        "14-consumer-crash-rebalance",
        include_str!("../../scenarios/14-consumer-crash-rebalance.toml"),
    ),
    (
        "15-assignors-side-by-side",
        include_str!("../../scenarios/15-assignors-side-by-side.toml"),
    ),
    (
        "16-cooperative-rebalancing",
        include_str!("../../scenarios/16-cooperative-rebalancing.toml"),
    ),
    (
        "17a-auto-commit-handoff-at-most-once",
        include_str!("../../scenarios/17a-auto-commit-handoff-at-most-once.toml"),
    ),
    (
        "17b-auto-commit-in-the-poll-loop-at-least-once",
        include_str!("../../scenarios/17b-auto-commit-in-the-poll-loop-at-least-once.toml"),
    ),
    (
        "18-idempotent-producer",
        include_str!("../../scenarios/18-idempotent-producer.toml"),
    ),
    (
        "19-retention",
        include_str!("../../scenarios/19-retention.toml"),
    ),
    (
        "20-slow-consumer-holds-up-the-rebalance",
        include_str!("../../scenarios/20-slow-consumer-holds-up-the-rebalance.toml"),
    ),
    (
        "21-new-partitions-subscribe-vs-assign",
        include_str!("../../scenarios/21-new-partitions-subscribe-vs-assign.toml"),
    ),
    (
        "22-regex-subscription",
        include_str!("../../scenarios/22-regex-subscription.toml"),
    ),
    (
        "23-coordinator-failover",
        include_str!("../../scenarios/23-coordinator-failover.toml"),
    ),
    (
        "nemesis-safe",
        include_str!("../../scenarios/nemesis-safe.toml"),
    ),
    (
        "nemesis-unsafe",
        include_str!("../../scenarios/nemesis-unsafe.toml"),
    ),
    (
        "safe-leader-crashes",
        include_str!("../../scenarios/safe-leader-crashes.toml"),
    ),
];

pub const RUN_HELP: &str = "\
FILE is a scenario file (scenarios/README.md describes the format) or the name of a bundled
scenario (kafkasim list). The run prints the narrated timeline, with the scenario's lesson
captions as LESSON lines, then each checker's verdict and each state expectation. It exits
with 1 when an expectation is not met, printing the command that replays the run.

Examples:
  kafkasim run 04-acks-1-leader-crash
  kafkasim run scenarios/09-jepsen-2013.toml --seed 7 --until 30s
  kafkasim run my-lesson.toml --json > result.json
  kafkasim run 18-idempotent-producer --history ops.jsonl   # every client operation
  kafkasim run 04-acks-1-leader-crash --data-dir /tmp/acks1   # every broker's logs, Kafka's layout";

#[derive(clap::Args)]
pub struct Args {
    /// A scenario file, or a bundled scenario: its name, lesson number (6) or a unique prefix (06-slow)
    file: String,
    /// The seed (the scenario's own seed by default)
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at this sim time (such as 30s or 1500ms) instead of the scenario's duration
    #[arg(long)]
    until: Option<String>,
    /// Print the result as JSON instead of the narrated timeline
    #[arg(long)]
    json: bool,
    /// Write every trace entry as a JSON line to this file: time_ms, kind, its fields, text
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write every client operation (invoke, then ok / fail / info) as a JSON line to
    /// this file, in the shape Jepsen's checkers read
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Narrate everything: every step of every high watermark, the __consumer_offsets
    /// partitions, and repeats one by one instead of counted
    #[arg(long)]
    all_events: bool,
    /// Write every broker's final logs here, in Kafka's on-disk layout
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Reads a scenario by path or bundled name; errors name the file and the fix, in `lang`.
pub fn load_in(file: &str, lang: Lang) -> Result<Scenario, String> {
    let (name, text) = read_in(file, lang)?;
    scenario::parse(&name, &text).map_err(|errors| errors.text(lang))
}

/// A scenario's name for messages and its text, by path or bundled name.
pub(crate) fn read(file: &str) -> Result<(String, String), String> {
    read_in(file, Lang::En)
}

/// [`read`], its errors said in `lang`.
pub(crate) fn read_in(file: &str, lang: Lang) -> Result<(String, String), String> {
    let w = words(lang);
    Ok(match std::fs::read_to_string(file) {
        Ok(text) => (file.to_string(), text),
        Err(e) => match bundled(file, lang) {
            Ok((name, text)) => (format!("scenarios/{name}.toml"), text.to_string()),
            Err(hint) if file.contains('/') || file.ends_with(".toml") => {
                return Err((w.cannot_read)(file, &e.to_string(), &hint));
            }
            Err(hint) => return Err((w.no_bundled)(file, &hint)),
        },
    })
}

/// A bundled scenario by its name, its lesson number (`6` or `06`) or a unique prefix
/// of its name (`06-slow`, `11a`); otherwise what to type instead.
pub(crate) fn bundled(key: &str, lang: Lang) -> Result<(&'static str, &'static str), String> {
    let w = words(lang);
    if let Some(found) = BUNDLED.iter().find(|(name, _)| *name == key) {
        return Ok(*found);
    }
    // A lesson number: 6 is 06, as `kafkasim list` numbers them.
    let key = match key.parse::<u32>() {
        Ok(n) if n < 100 => format!("{n:02}"),
        _ => key.to_string(),
    };
    let matches: Vec<&(&str, &str)> = BUNDLED
        .iter()
        .filter(|(name, _)| {
            name.starts_with(&key)
                && (key.len() == name.len()
                    || !key.chars().all(|c| c.is_ascii_digit())
                    || !name[key.len()..].starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        [] => {
            let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
            let mut near: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| n.contains(key.as_str()))
                .take(3)
                .collect();
            if near.is_empty()
                && let Some(c) = kafkasim_sim::scenario::closest(&key, &names)
            {
                near.push(c);
            }
            Err(if near.is_empty() {
                w.lookup_hint.to_string()
            } else {
                (w.did_you_mean)(&near)
            })
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(n, _)| *n).collect();
            Err((w.could_be)(&key, &names))
        }
    }
}

pub fn run_command(args: &Args, lang: Lang, out: &mut impl Write) -> Result<(), String> {
    let scenario = load_in(&args.file, lang)?;
    warn_untranslated(&scenario, lang);
    let until_ms = match &args.until {
        None => None,
        Some(text) => {
            Some(parse_time_ms(text).ok_or_else(|| (words(lang).bad_time)("--until", text))?)
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let report = match &args.data_dir {
        Some(dir) => kafkasim_sim::run::run_and_export(&scenario, seed, until_ms, dir),
        None => run(&scenario, seed, until_ms),
    };
    if let Some(Err(e)) = &report.exported {
        return Err((words(lang).cannot_write)("logs", e));
    }
    if let Some(path) = &args.trace {
        write_trace(&report, lang, path)?;
    }
    if let Some(path) = &args.history {
        write_history(&report, path)?;
    }
    if args.json {
        let text =
            serde_json::to_string_pretty(&as_json(&report, lang)).expect("JSON values print");
        writeln!(out, "{text}").map_err(crate::output_error)?;
    } else {
        write_report(&report, args.all_events, lang, out).map_err(crate::output_error)?;
    }
    if report.passed() {
        return Ok(());
    }
    let mut replay = format!("kafkasim run {} --seed {seed}", args.file);
    if let Some(until) = &args.until {
        replay.push_str(&format!(" --until {until}"));
    }
    Err((words(lang).not_met_replay)(&replay))
}

/// Says on stderr what the scenario does not say in `lang`: those texts show as the file
/// writes them.
fn warn_untranslated(scenario: &Scenario, lang: Lang) {
    use kafkasim_sim::scenario::Untranslated;
    for missing in scenario.missing_translations(lang) {
        let what = match missing {
            Untranslated::Title => "title_zh".to_string(),
            Untranslated::Summary => "summary_zh".to_string(),
            Untranslated::Caption(text) => format!("讲解“{text}”的text_zh"),
        };
        eprintln!("提示：{}缺少{what}，按原文显示", scenario.file);
    }
}

/// The words of a headless report, one table per language.
struct ReportWords {
    seed: fn(u64) -> String,
    log_files: fn(usize) -> String,
    checkers: &'static str,
    expectations: &'static str,
    pass: &'static str,
    fail: &'static str,
    expected: fn(&str, bool) -> String,
    recovered: fn(i64, i64) -> String,
    more: fn(usize) -> String,
    /// An expectation met: its subject, window and place in the file.
    met_line: fn(&str, &str, &str) -> String,
    /// An expectation missed: its window, the difference and its place.
    not_met_line: fn(&str, &str, &str) -> String,
    /// The run's failure, with the command that replays it.
    not_met_replay: fn(&str) -> String,
    /// Before an error message on stderr.
    error: &'static str,

    // The command line's own messages.
    no_bundled: fn(&str, &str) -> String,
    cannot_read: fn(&str, &str, &str) -> String,
    lookup_hint: &'static str,
    did_you_mean: fn(&[&str]) -> String,
    could_be: fn(&str, &[&str]) -> String,
    bad_time: fn(&str, &str) -> String,
    cannot_write: fn(&str, &str) -> String,
    jobs_zero: &'static str,
    bad_seeds: fn(&kafkasim_sim::sweep::SeedsError) -> String,
    sweep_summary: fn(usize, usize, usize, f64, f64) -> String,
    seed_not_met: fn(u64, &str, &str) -> String,
    shrunk: fn(u64, usize, usize, i64, &str) -> String,
    seeds_failed: fn(usize, usize) -> String,
    two_runs: fn(u64, u64) -> String,
    nondeterministic: fn(u64, &str) -> String,
    madsim_failed: fn(&str) -> String,
    madsim_same: &'static str,
    deterministic: fn(u64) -> String,
}

const REPORT_EN: ReportWords = ReportWords {
    seed: |seed| format!(" (seed {seed})"),
    log_files: |n| {
        format!("{n} log files written in Kafka's layout (kafkasim dump-log reads them)")
    },
    checkers: "checkers",
    expectations: "expectations",
    pass: "pass",
    fail: "fail",
    expected: |verdict, met| {
        format!(
            " (expected {verdict}: {})",
            if met { "met" } else { "NOT MET" }
        )
    },
    recovered: |at, after| format!(" (whole again at {at} ms, {after} ms after the last fault)"),
    more: |n| format!("... and {n} more"),
    met_line: |subject, when, place| format!("met      {subject} {when} ({place})"),
    not_met_line: |when, difference, place| format!("NOT MET  {when}: {difference} ({place})"),
    not_met_replay: |replay| {
        format!("the run did not meet the scenario's expectations; replay it with: {replay}")
    },
    error: "error: ",

    no_bundled: |file, hint| format!("no bundled scenario {file}: {hint}"),
    cannot_read: |file, e, hint| format!("cannot read scenario {file}: {e}; {hint}"),
    lookup_hint: "give a scenario file's path, or a bundled name or lesson number (kafkasim list shows them)",
    did_you_mean: |near| {
        format!(
            "did you mean {}? (kafkasim list shows every bundled scenario)",
            near.join(" or ")
        )
    },
    could_be: |key, names| {
        format!(
            "{key} could be {}: give more of the name",
            names.join(" or ")
        )
    },
    bad_time: |flag, text| format!("{flag} {text}: expected a time such as 30s, 1500ms or 2m"),
    cannot_write: |what, e| format!("cannot write {what}: {e}"),
    jobs_zero: "--jobs 0: at least one simulation must run at a time",
    bad_seeds: |e| e.to_string(),
    sweep_summary: |n, failing, jobs, seconds, per_minute| {
        format!(
            "{n} seeds, {failing} failing, {jobs} at a time: {seconds:.1} s, {per_minute:.0} seeds per minute"
        )
    },
    seed_not_met: |seed, unmet, file| {
        format!("seed {seed}: not met: {unmet}; replay: kafkasim run {file} --seed {seed}")
    },
    shrunk: |seed, after, before, until_ms, path| {
        format!(
            "shrunk seed {seed}: {after} of {before} faults, {until_ms} ms; replay: kafkasim run {path}"
        )
    },
    seeds_failed: |failed, total| format!("{failed} of {total} seeds failed"),
    two_runs: |first, second| format!("run 1: {first:016x}\nrun 2: {second:016x}"),
    nondeterministic: |seed, file| {
        format!(
            "seed {seed} gave two different runs of {file}: a source of nondeterminism reached the simulation"
        )
    },
    madsim_failed: |e| format!("madsim's determinism check failed: {e}"),
    madsim_same: "runs 3 and 4 (madsim's check, every random draw compared): the same draws, and the same narration as run 1",
    deterministic: |seed| format!("deterministic: seed {seed} gives the same run four times"),
};

// glossary-zh.md: checker ids stay Latin; 种子, 检查器; no space between Han and digits.
const REPORT_ZH: ReportWords = ReportWords {
    seed: |seed| format!("（种子{seed}）"),
    log_files: |n| format!("已按Kafka的目录布局写出{n}个日志文件（kafkasim dump-log可读取）"),
    checkers: "检查器",
    expectations: "预期",
    pass: "通过",
    fail: "未通过",
    expected: |verdict, met| format!("（预期{verdict}：{}）", if met { "符合" } else { "不符合" }),
    recovered: |at, after| format!("（{at} ms时恢复完整，距最后一次故障{after} ms）"),
    more: |n| format!("……另有{n}条"),
    met_line: |subject, when, place| format!("符合     {subject}，{when}（{place}）"),
    not_met_line: |when, difference, place| format!("不符合   {when}：{difference}（{place}）"),
    not_met_replay: |replay| format!("本次运行不符合场景的预期；用此命令重放：{replay}"),
    error: "错误：",

    no_bundled: |file, hint| format!("没有名为{file}的内置场景：{hint}"),
    cannot_read: |file, e, hint| format!("无法读取场景文件{file}：{e}；{hint}"),
    lookup_hint: "请给出场景文件的路径，或内置场景的名字或课号（kafkasim list会列出它们）",
    did_you_mean: |near| {
        format!(
            "是不是想写{}？（kafkasim list列出所有内置场景）",
            near.join("或")
        )
    },
    could_be: |key, names| format!("{key}可能是{}：请多写几个字符", names.join("或")),
    bad_time: |flag, text| format!("{flag} {text}：应为时间，如30s、1500ms或2m"),
    cannot_write: |what, e| format!("无法写入{what}：{e}"),
    jobs_zero: "--jobs 0：至少要同时运行一个模拟",
    bad_seeds: |e| {
        use kafkasim_sim::sweep::SeedsError;
        match e {
            SeedsError::Range(r) => format!("--seeds {r}：应为A..B（不含B）或A..=B，如1..101"),
            SeedsError::Empty(r) => format!("--seeds {r}：范围为空"),
            SeedsError::Shard(s) => format!("--shard {s}：应为K/N，且1 <= K <= N，如2/8"),
        }
    },
    sweep_summary: |n, failing, jobs, seconds, per_minute| {
        format!(
            "{n}个种子，{failing}个不符合预期，同时运行{jobs}个：{seconds:.1} s，每分钟{per_minute:.0}个种子"
        )
    },
    seed_not_met: |seed, unmet, file| {
        format!("种子{seed}：不符合：{unmet}；重放：kafkasim run {file} --seed {seed}")
    },
    shrunk: |seed, after, before, until_ms, path| {
        format!(
            "种子{seed}缩减后：{before}个故障中保留{after}个，{until_ms} ms；重放：kafkasim run {path}"
        )
    },
    seeds_failed: |failed, total| format!("{total}个种子中有{failed}个不符合预期"),
    two_runs: |first, second| format!("第1次运行：{first:016x}\n第2次运行：{second:016x}"),
    nondeterministic: |seed, file| {
        format!("种子{seed}让{file}跑出了两次不同的运行：有不确定性的来源进入了模拟")
    },
    madsim_failed: |e| format!("madsim的确定性检查失败：{e}"),
    madsim_same: "第3、4次运行（madsim的检查，逐一比较每次随机抽取）：抽取相同，讲述与第1次运行相同",
    deterministic: |seed| format!("确定性：种子{seed}四次给出同一个运行"),
};

/// The prefix of an error message on stderr.
pub fn error_prefix(lang: Lang) -> &'static str {
    words(lang).error
}

fn words(lang: Lang) -> &'static ReportWords {
    match lang {
        Lang::En => &REPORT_EN,
        Lang::ZhCn => &REPORT_ZH,
    }
}

fn verdict(passed: bool) -> &'static str {
    if passed { "pass" } else { "fail" }
}

fn write_report(
    report: &RunReport,
    all: bool,
    lang: Lang,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let w = words(lang);
    let title = report.title_in(lang);
    writeln!(out, "== {title}{}", (w.seed)(report.seed))?;
    write!(out, "{}", report.timeline_in(all, lang))?;
    if let Some(Ok(files)) = &report.exported {
        writeln!(out, "== {}", (w.log_files)(files.len()))?;
    }
    writeln!(out, "== {}", w.checkers)?;
    for check in &report.checks {
        let expected = match check.expected {
            None => String::new(),
            Some(v) => (w.expected)(
                if v == Verdict::Pass { w.pass } else { w.fail },
                check.met(),
            ),
        };
        let recovery = match (check.name, report.recovered_ms) {
            ("liveness", Some(at)) => (w.recovered)(at, at - report.last_fault_ms),
            _ => String::new(),
        };
        let passed = if check.passed { w.pass } else { w.fail };
        writeln!(out, "{:<20} {passed}{expected}{recovery}", check.name)?;
        for finding in check.findings.iter().take(20) {
            writeln!(out, "    {}", finding.text(lang))?;
        }
        if check.findings.len() > 20 {
            writeln!(out, "    {}", (w.more)(check.findings.len() - 20))?;
        }
    }
    if !report.expectations.is_empty() {
        writeln!(out, "== {}", w.expectations)?;
    }
    for result in &report.expectations {
        let e = &result.expectation;
        if result.differences.is_empty() {
            let (subject, when) = (e.what.subject_in(lang), e.when_in(lang));
            writeln!(out, "{}", (w.met_line)(&subject, &when, &e.place))?;
        }
        for d in &result.differences {
            writeln!(
                out,
                "{}",
                (w.not_met_line)(&e.when_in(lang), &d.text(lang), &e.place)
            )?;
        }
    }
    Ok(())
}

fn as_json(report: &RunReport, lang: Lang) -> serde_json::Value {
    json!({
        "title": report.title,
        "seed": report.seed,
        "until_ms": report.until_ms,
        "passed": report.passed(),
        "last_fault_ms": report.last_fault_ms,
        "recovered_ms": report.recovered_ms,
        "checks": report.checks.iter().map(|c| json!({
            "name": c.name,
            "passed": c.passed,
            "expected": c.expected.map(|v| verdict(v == Verdict::Pass)),
            "met": c.met(),
            "findings": c.findings.iter().map(|f| f.text(lang)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "expectations": report.expectations.iter().map(|r| json!({
            "at_ms": r.expectation.at_ms,
            "subject": r.expectation.what.subject(),
            "place": r.expectation.place,
            "met": r.differences.is_empty(),
            "differences": r.differences.iter().map(|d| d.text(lang)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "timeline": report.trace.iter().map(|e| entry_json(e, lang)).collect::<Vec<_>>(),
    })
}

/// A trace entry as JSON: `time_ms`, `kind`, its fields and the rendered `text`.
/// (`text` in `lang`; the kind and fields are the same in every language.)
pub(crate) fn entry_json(entry: &kafkasim_sim::trace::TraceEntry, lang: Lang) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("time_ms".into(), entry.time_ms().into());
    let (kind, fields) = entry.data();
    object.insert("kind".into(), kind.name().into());
    for (name, value) in fields {
        object.insert(name.into(), value_json(&value));
    }
    object.insert("text".into(), entry.explain_in(lang).into());
    serde_json::Value::Object(object)
}

fn value_json(value: &kafkasim_sim::events::Value) -> serde_json::Value {
    use kafkasim_sim::events::Value;
    match value {
        Value::Int(n) => (*n).into(),
        Value::Float(x) => (*x).into(),
        Value::Bool(b) => (*b).into(),
        Value::Text(s) => s.as_str().into(),
        Value::List(items) => items.iter().map(value_json).collect(),
    }
}

fn write_trace(report: &RunReport, lang: Lang, path: &std::path::Path) -> Result<(), String> {
    let mut text = String::new();
    for entry in &report.trace {
        text.push_str(&entry_json(entry, lang).to_string());
        text.push('\n');
    }
    std::fs::write(path, text)
        .map_err(|e| format!("cannot write the trace to {}: {e}", crate::shown(path)))
}

/// One JSON line per client operation entry (see `kafkasim_sim::history`).
fn write_history(report: &RunReport, path: &std::path::Path) -> Result<(), String> {
    let mut text = String::new();
    for op in kafkasim_sim::history::operations(&report.histories) {
        let line = json!({
            "index": op.index,
            "process": op.process,
            "client": op.client,
            "type": op.op_type.name(),
            "f": op.f,
            "time_ms": op.time_ms,
            "partition": op.tp.map(|tp| tp.to_string()),
            "offset": op.offset,
            "value": op.value,
            "error": op.error,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text)
        .map_err(|e| format!("cannot write the history to {}: {e}", crate::shown(path)))
}

#[derive(clap::Args)]
pub struct ListArgs {}

pub fn list_command(_: &ListArgs, lang: Lang, out: &mut impl Write) -> Result<(), String> {
    let width = BUNDLED.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, text) in BUNDLED {
        let scenario = scenario::parse(&format!("scenarios/{name}.toml"), text)
            .map_err(|e| format!("a bundled scenario does not parse (a bug): {e}"))?;
        writeln!(out, "{name:width$}  {}", scenario.title_in(lang)).map_err(crate::output_error)?;
    }
    Ok(())
}

pub const SWEEP_HELP: &str = "\
Runs the scenario once per seed, --jobs at a time (each simulation on a thread of its own),
with a progress line, and lists the seeds whose run did not meet the scenario's
expectations. The nemesis of the scenario draws a different fault schedule from every
seed. The first failing seed is shrunk (fewest faults, then the shortest duration that
still fails the same way) and written next to the scenario as a file that replays it.
--shard K/N runs every N-th seed of the range, starting with the K-th, so a batch
scheduler can split one sweep over N machines; --json results merge by concatenating
their seeds.

Examples:
  kafkasim sweep scenarios/nemesis-safe.toml --seeds 1..101 --jobs 2
  kafkasim sweep scenarios/nemesis-safe.toml --seeds 1..=1000 --shard 3/8 --json";

#[derive(clap::Args)]
pub struct SweepArgs {
    /// A scenario file, or a bundled scenario: its name, lesson number (6) or a unique prefix (06-slow)
    file: String,
    /// The seeds: A..B (B excluded) or A..=B
    #[arg(long)]
    seeds: String,
    /// Simulations at a time (default: the machine's cores)
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard K of N of the seeds
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Print the results as JSON
    #[arg(long)]
    json: bool,
    /// Do not shrink the first failure
    #[arg(long)]
    no_shrink: bool,
}

pub fn sweep_command(args: &SweepArgs, lang: Lang, out: &mut impl Write) -> Result<(), String> {
    let words = words(lang);
    use kafkasim_sim::sweep::{parse_seeds, shrink, shrunk_scenario, sweep};
    use std::io::IsTerminal;

    let scenario = load_in(&args.file, lang)?;
    let seeds =
        parse_seeds(&args.seeds, args.shard.as_deref()).map_err(|e| (words.bad_seeds)(&e))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(words.jobs_zero.into());
    }
    let started = std::time::Instant::now();
    let live = std::io::stderr().is_terminal() && !args.json;
    let progress = |done: usize, total: usize, failed: usize| {
        if live {
            eprint!("\r{done}/{total} seeds run, {failed} failing");
        }
    };
    let results = sweep(&scenario, &seeds, jobs, &progress);
    if live {
        eprintln!();
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_minute = results.len() as f64 / seconds.max(1e-9) * 60.0;
    let failing: Vec<_> = results.iter().filter(|r| !r.passed()).collect();

    let shrunk = match (failing.first(), args.no_shrink) {
        (Some(first), false) => {
            let shrunk = shrink(&scenario, first.seed, &first.unmet);
            let (_, text) = read_in(&args.file, lang)?;
            let stem = args.file.trim_end_matches(".toml");
            let path = format!("{stem}.seed-{}.shrunk.toml", first.seed);
            std::fs::write(&path, shrunk_scenario(&text, &shrunk)?)
                .map_err(|e| (words.cannot_write)(&path, &e.to_string()))?;
            Some((shrunk, path))
        }
        _ => None,
    };

    if args.json {
        let value = json!({
            "scenario": scenario.title,
            "seeds": results.iter().map(|r| json!({
                "seed": r.seed,
                "passed": r.passed(),
                "unmet": r.unmet,
            })).collect::<Vec<_>>(),
            "failing": failing.iter().map(|r| r.seed).collect::<Vec<_>>(),
            "seeds_per_minute": per_minute.round(),
            "shrunk": shrunk.as_ref().map(|(s, path)| json!({
                "seed": s.seed,
                "file": path,
                "faults_before": s.faults_before,
                "faults_after": s.faults_after,
                "until_ms": s.until_ms,
            })),
        });
        let text = serde_json::to_string_pretty(&value).expect("JSON values print");
        writeln!(out, "{text}").map_err(crate::output_error)?;
    } else {
        let w = |out: &mut dyn Write, line: String| {
            writeln!(out, "{line}").map_err(crate::output_error)
        };
        w(
            out,
            (words.sweep_summary)(results.len(), failing.len(), jobs, seconds, per_minute),
        )?;
        for r in &failing {
            let unmet: Vec<&str> = r.unmet.iter().map(String::as_str).collect();
            w(
                out,
                (words.seed_not_met)(r.seed, &unmet.join(", "), &args.file),
            )?;
        }
        if let Some((s, path)) = &shrunk {
            w(
                out,
                (words.shrunk)(s.seed, s.faults_after, s.faults_before, s.until_ms, path),
            )?;
        }
    }
    if failing.is_empty() {
        Ok(())
    } else {
        Err((words.seeds_failed)(failing.len(), results.len()))
    }
}

pub const DESCRIBE_HELP: &str = "\
Runs the scenario until --at and prints the cluster as kafka-topics.sh --describe shows
it (topic, partition, leader, replicas, ISR), with each replica's LEO and HW, the
brokers and the controller; then each consumer group as kafka-consumer-groups.sh
--describe shows it (state, generation, committed offset, log end offset = HW, lag,
owner). __consumer_offsets is left out unless --internal.

Example:
  kafkasim describe 04-acks-1-leader-crash --at 12s";

#[derive(clap::Args)]
pub struct DescribeArgs {
    /// A scenario file, or a bundled scenario: its name, lesson number (6) or a unique prefix (06-slow)
    file: String,
    /// The sim time to describe, such as 12s or 1500ms
    #[arg(long)]
    at: String,
    /// The seed (the scenario's own seed by default)
    #[arg(long)]
    seed: Option<u64>,
    /// Include Kafka's internal topics
    #[arg(long)]
    internal: bool,
}

pub fn describe_command(
    args: &DescribeArgs,
    lang: Lang,
    out: &mut impl Write,
) -> Result<(), String> {
    // The layout stays kafka-topics.sh's and kafka-consumer-groups.sh's; the words around
    // it follow the language.
    let zh = lang == Lang::ZhCn;
    let scenario = load_in(&args.file, lang)?;
    let at_ms = parse_time_ms(&args.at).ok_or_else(|| (words(lang).bad_time)("--at", &args.at))?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let (builder, commands) = scenario.plan(seed);
    let mut simulation = kafkasim_sim::conductor::Simulation::start(seed, builder, commands);
    let snapshot = simulation.run_until(at_ms).snapshot;
    let list = |ids: &mut dyn Iterator<Item = i32>| {
        ids.map(|b| b.to_string()).collect::<Vec<_>>().join(",")
    };
    let mut text = if zh {
        format!(
            "== {}（种子{seed}），{} ms时\n",
            scenario.title_in(lang),
            snapshot.time_ms
        )
    } else {
        format!(
            "== {} (seed {seed}) at {} ms\n",
            scenario.title, snapshot.time_ms
        )
    };
    let none = if zh { "无" } else { "none" };
    let controller = snapshot.controller.map_or(none.to_string(), |(b, epoch)| {
        if zh {
            format!("broker {b}（epoch {epoch}）")
        } else {
            format!("broker {b} (epoch {epoch})")
        }
    });
    let brokers: Vec<String> = snapshot
        .brokers
        .iter()
        .map(|(id, b)| {
            let state = match (b.up, b.paused, zh) {
                (false, _, false) => "down",
                (true, true, false) => "paused",
                (true, false, false) => "up",
                (false, _, true) => "宕机",
                (true, true, true) => "已挂起",
                (true, false, true) => "在线",
            };
            if zh {
                format!("{id}{state}")
            } else {
                format!("{id} {state}")
            }
        })
        .collect();
    text.push_str(&if zh {
        format!("broker：{}；controller：{controller}\n", brokers.join("，"))
    } else {
        format!(
            "Brokers: {}; controller: {controller}\n",
            brokers.join(", ")
        )
    });
    for (tp, p) in &snapshot.partitions {
        if tp.topic.starts_with("__") && !args.internal {
            continue;
        }
        let leader = p.leader.map_or("none".to_string(), |l| l.to_string()); // kafka-topics' own word
        let replicas: Vec<String> = p
            .replica_states
            .iter()
            .map(|(b, r)| format!("{b}:LEO={},HW={}", r.log_end_offset, r.high_watermark))
            .collect();
        text.push_str(&format!(
            "Topic: {}\tPartition: {}\tLeader: {leader}\tEpoch: {}\tReplicas: {}\tIsr: {}\tOffline: {}\t{}\n",
            tp.topic,
            tp.partition,
            p.leader_epoch,
            list(&mut p.replicas.iter().copied()),
            list(&mut p.isr.iter().copied()),
            list(&mut p.replicas.iter().copied().filter(|b| {
                snapshot.brokers.get(b).is_none_or(|s| !s.up)
            })),
            replicas.join(" "),
        ));
    }
    for (id, g) in &snapshot.groups {
        let meaning = kafkasim_sim::narrate::group_state_meaning(g.state, lang);
        let assignor = g.protocol.as_deref().unwrap_or(none);
        text.push_str(&if zh {
            format!(
                "\n消费组{id}：{:?}（{meaning}），generation {}，协调者broker {}，分配策略{assignor}\n",
                g.state, g.generation, g.coordinator
            )
        } else {
            format!(
                "\nGroup {id}: {:?} ({meaning}), generation {}, coordinator broker {}, assignor {assignor}\n",
                g.state, g.generation, g.coordinator
            )
        });
        text.push_str(
            "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tCLIENT-ID\n",
        );
        let lag = g.lag(&snapshot.partitions);
        let owner = |tp: &kafkasim_core::protocol::TopicPartition| {
            g.members
                .iter()
                .find(|(_, owned)| owned.contains(tp))
                .map_or("-\t-".to_string(), |(m, _)| {
                    format!("{m}\t{}", g.client_ids.get(m).map_or("-", String::as_str))
                })
        };
        let mut partitions: std::collections::BTreeSet<_> = g.committed.keys().cloned().collect();
        partitions.extend(g.members.values().flatten().cloned());
        for tp in partitions {
            let hw = snapshot
                .partitions
                .get(&tp)
                .and_then(|p| p.leader.and_then(|l| p.replica_states.get(&l)))
                .map_or("-".to_string(), |r| r.high_watermark.to_string());
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            text.push_str(&format!(
                "{id}\t{}\t{}\t{}\t{hw}\t{}\t{}\n",
                tp.topic,
                tp.partition,
                show(g.committed.get(&tp).copied()),
                show(lag.get(&tp).copied()),
                owner(&tp)
            ));
        }
    }
    write!(out, "{text}").map_err(crate::output_error)
}

pub const DETERMINISM_HELP: &str = "\
Runs the scenario twice from the same seed and compares a hash of everything each run
narrated and of its final state; they must be equal. Then madsim's own check runs it
twice more, logging every random draw of the first run and stopping the second at the
first draw that differs, and that run's narration must match the first. A difference is
a bug: something reached the simulation that did not come from its seed.";

#[derive(clap::Args)]
pub struct DeterminismArgs {
    /// A scenario file, or a bundled scenario: its name, lesson number (6) or a unique prefix (06-slow)
    file: String,
    /// The seed (the scenario's own seed by default)
    #[arg(long)]
    seed: Option<u64>,
}

/// FNV-1a: a stable 64-bit hash, the same on every machine.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn determinism_command(
    args: &DeterminismArgs,
    lang: Lang,
    out: &mut impl Write,
) -> Result<(), String> {
    let words = words(lang);
    let scenario = load_in(&args.file, lang)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let hash =
        |report: &RunReport| fnv1a(&format!("{}{:?}", report.timeline(true), report.snapshot));
    let first_run = run(&scenario, seed, None);
    let (first, second) = (hash(&first_run), hash(&run(&scenario, seed, None)));
    writeln!(out, "{}", (words.two_runs)(first, second)).map_err(crate::output_error)?;
    let nondeterministic = || (words.nondeterministic)(seed, &args.file);
    if first != second {
        return Err(nondeterministic());
    }
    let (builder, commands) = scenario.plan(seed);
    let checked =
        kafkasim_sim::conductor::check_determinism(seed, builder, commands, scenario.duration_ms)
            .map_err(|e| (words.madsim_failed)(&e.to_string()))?;
    if checked != first_run.trace {
        return Err(nondeterministic());
    }
    writeln!(out, "{}", words.madsim_same).map_err(crate::output_error)?;
    writeln!(out, "{}", (words.deterministic)(seed)).map_err(crate::output_error)
}

pub const TUI_HELP: &str = "\
Plays a scenario in the terminal: brokers and the network, each partition's replicas as
log strips with their HW and LEO, the ISR and OSR, consumer groups with their lag, the
narrated events and a timeline. Lesson captions pause the playback. Press ? for every
key: play/pause (space), step (n), next lesson beat (b), speed (+ -), rewind (← →),
select a broker (1-9) and crash (c), power-loss (p), restart (r), isolate (i), heal (h)
or pause it (z); crash (k), close (x) or stall (l) a consumer, add one (a), write a
record (w); switch between English and Chinese (L, or start with --lang zh-CN);
save the session (s) as a scenario file that `kafkasim run` replays. A fault injected
after rewinding forks the timeline.
Without a terminal it says so and prints the headless run instead.

Examples:
  kafkasim                                  # the default lesson
  kafkasim tui 06-slow-follower-isr
  kafkasim tui scenarios/09-jepsen-2013.toml --seed 7";

/// The lesson `kafkasim` opens with no arguments.
pub const DEFAULT_LESSON: &str = "04-acks-1-leader-crash";

#[derive(clap::Args)]
pub struct TuiArgs {
    /// A scenario file, or a bundled scenario: its name, lesson number (6) or a unique prefix (06-slow)
    file: String,
    /// The seed (the scenario's own seed by default)
    #[arg(long)]
    seed: Option<u64>,
}

impl TuiArgs {
    pub fn default_lesson() -> TuiArgs {
        TuiArgs {
            file: DEFAULT_LESSON.to_string(),
            seed: None,
        }
    }
}

/// The terminal UI; without a terminal, the headless run of the same scenario.
pub fn tui_command(args: &TuiArgs, lang: Lang, out: &mut impl Write) -> Result<(), String> {
    let (name, text) = read(&args.file)?;
    let scenario = scenario::parse(&name, &text).map_err(|errors| errors.text(lang))?;
    warn_untranslated(&scenario, lang);
    let seed = args.seed.unwrap_or(scenario.seed);
    let stem = std::path::Path::new(&name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("session")
        .to_string();
    if crate::app::run_tui(&scenario, &stem, &text, seed, lang)? {
        return Ok(());
    }
    let report = run(&scenario, seed, None);
    write_report(&report, false, lang, out).map_err(crate::output_error)
}
