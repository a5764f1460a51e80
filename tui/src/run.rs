//! `kafkasim run` and `kafkasim list`: scenario files, headless.

use std::io::Write;
use std::path::PathBuf;

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
        "04-acks-1-leader-crash",
        include_str!("../../scenarios/04-acks-1-leader-crash.toml"),
    ),
    (
        "05-min-insync-replicas",
        include_str!("../../scenarios/05-min-insync-replicas.toml"),
    ),
    (
        "09-jepsen-2013",
        include_str!("../../scenarios/09-jepsen-2013.toml"),
    ),
    (
        "18-idempotent-producer",
        include_str!("../../scenarios/18-idempotent-producer.toml"),
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
  kafkasim run my-lesson.toml --json > result.json";

#[derive(clap::Args)]
pub struct Args {
    /// A scenario file, or the name of a bundled scenario
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
    /// Write every trace entry as a JSON line to this file
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Narrate every step of every high watermark too
    #[arg(long)]
    all_events: bool,
}

/// Reads a scenario by path or bundled name; errors name the file and the fix.
pub fn load(file: &str) -> Result<Scenario, String> {
    let (name, text) = match std::fs::read_to_string(file) {
        Ok(text) => (file.to_string(), text),
        Err(e) => match BUNDLED.iter().find(|(name, _)| *name == file) {
            Some((name, text)) => (format!("scenarios/{name}.toml"), text.to_string()),
            None => {
                return Err(format!(
                    "cannot read scenario {file}: {e}; give a scenario file's path or a bundled \
                     name (kafkasim list shows them)"
                ));
            }
        },
    };
    scenario::parse(&name, &text).map_err(|errors| errors.to_string())
}

pub fn run_command(args: &Args, out: &mut impl Write) -> Result<(), String> {
    let scenario = load(&args.file)?;
    let until_ms =
        match &args.until {
            None => None,
            Some(text) => Some(parse_time_ms(text).ok_or_else(|| {
                format!("--until {text}: expected a time such as 30s, 1500ms or 2m")
            })?),
        };
    let seed = args.seed.unwrap_or(scenario.seed);
    let report = run(&scenario, seed, until_ms);
    if let Some(path) = &args.trace {
        write_trace(&report, path)?;
    }
    if args.json {
        let text = serde_json::to_string_pretty(&as_json(&report)).expect("JSON values print");
        writeln!(out, "{text}").map_err(crate::output_error)?;
    } else {
        write_report(&report, args.all_events, out).map_err(crate::output_error)?;
    }
    if report.passed() {
        return Ok(());
    }
    let mut replay = format!("kafkasim run {} --seed {seed}", args.file);
    if let Some(until) = &args.until {
        replay.push_str(&format!(" --until {until}"));
    }
    Err(format!(
        "the run did not meet the scenario's expectations; replay it with: {replay}"
    ))
}

fn verdict(passed: bool) -> &'static str {
    if passed { "pass" } else { "fail" }
}

fn write_report(report: &RunReport, all: bool, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "== {} (seed {})", report.title, report.seed)?;
    write!(out, "{}", report.timeline(all))?;
    writeln!(out, "== checkers")?;
    for check in &report.checks {
        let expected = match check.expected {
            None => String::new(),
            Some(v) => format!(
                " (expected {}: {})",
                verdict(v == Verdict::Pass),
                if check.met() { "met" } else { "NOT MET" }
            ),
        };
        let recovery = match (check.name, report.recovered_ms) {
            ("liveness", Some(at)) => format!(
                " (whole again at {at} ms, {} ms after the last fault)",
                at - report.last_fault_ms
            ),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<20} {}{expected}{recovery}",
            check.name,
            verdict(check.passed)
        )?;
        for finding in check.findings.iter().take(20) {
            writeln!(out, "    {finding}")?;
        }
        if check.findings.len() > 20 {
            writeln!(out, "    ... and {} more", check.findings.len() - 20)?;
        }
    }
    if !report.states.is_empty() {
        writeln!(out, "== state expectations")?;
    }
    for state in &report.states {
        let e = &state.expectation;
        let at = e.at_ms;
        if state.differences.is_empty() {
            writeln!(out, "met      {} at {at} ms ({})", e.tp, e.place)?;
        } else {
            for d in &state.differences {
                writeln!(out, "NOT MET  at {at} ms: {d} ({})", e.place)?;
            }
        }
    }
    Ok(())
}

fn as_json(report: &RunReport) -> serde_json::Value {
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
            "findings": c.findings,
        })).collect::<Vec<_>>(),
        "states": report.states.iter().map(|s| json!({
            "at_ms": s.expectation.at_ms,
            "partition": s.expectation.tp.to_string(),
            "place": s.expectation.place,
            "met": s.differences.is_empty(),
            "differences": s.differences,
        })).collect::<Vec<_>>(),
        "timeline": report.trace.iter().map(|e| json!({
            "time_ms": e.time_ms(),
            "text": e.explain(),
        })).collect::<Vec<_>>(),
    })
}

fn write_trace(report: &RunReport, path: &std::path::Path) -> Result<(), String> {
    let mut text = String::new();
    for entry in &report.trace {
        let line = json!({ "time_ms": entry.time_ms(), "text": entry.explain() });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text)
        .map_err(|e| format!("cannot write the trace to {}: {e}", crate::shown(path)))
}

#[derive(clap::Args)]
pub struct ListArgs {}

pub fn list_command(_: &ListArgs, out: &mut impl Write) -> Result<(), String> {
    let width = BUNDLED.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, text) in BUNDLED {
        let scenario = scenario::parse(&format!("scenarios/{name}.toml"), text)
            .map_err(|e| format!("a bundled scenario does not parse (a bug): {e}"))?;
        writeln!(out, "{name:width$}  {}", scenario.title).map_err(crate::output_error)?;
    }
    Ok(())
}
