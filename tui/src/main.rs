//! `kafkasim`: the command line and the terminal UI.

mod app;
mod assign;
mod dump_log;
mod make_log;
mod partition;
mod run;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kafkasim_sim::lang::Lang;

const ABOUT: &str = "Apache Kafka's broker, replication and consumer-group core, rebuilt on a \
deterministic simulated network and clock";

const LONG_ABOUT: &str = "\
kafkasim rebuilds Apache Kafka's broker, replication and consumer-group core in Rust to run on
a deterministic simulated network and clock: for teachers who show what ISR, HW, LEO, leader
election and rebalancing do when a broker dies, for engineers who replay a fault schedule bit
for bit from a seed, and for students who explore it live.

Built so far: Kafka's message format v0/v1 (CRC, gzip wrappers), a partition's segmented log
(sparse .index and .timeindex, roll, retention, truncation, recovery from raw bytes), the
default partitioner (murmur2, sticky), the replicated cluster on the simulated network with
its controller, producers, consumer groups and their coordinator, the assignors, and
scenario files that drive it all from a seed (kafkasim run, kafkasim list), and a terminal UI
that plays them live (kafkasim tui; kafkasim alone opens the default lesson).";

const EXAMPLES: &str = "\
Examples:
  kafkasim                                  # the terminal UI on the default lesson
  kafkasim tui 06-slow-follower-isr
  kafkasim partition --partitions 6 order-1 order-2 order-3
  kafkasim make-log /tmp/kafkasim-demo --messages 40 --segment-bytes 1024
  kafkasim dump-log --print-data-log /tmp/kafkasim-demo/demo-0/00000000000000000000.log
  kafkasim assign -s sticky --topic orders:6 --member c1=orders --member c2=orders --member c3=orders
  kafkasim list
  kafkasim run 04-acks-1-leader-crash";

#[derive(Parser)]
#[command(name = "kafkasim", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The language of everything kafkasim says: en or zh-CN (without it, LC_ALL,
    /// LC_MESSAGES and LANG decide; English when they name neither)
    #[arg(long, global = true, value_name = "LANG")]
    lang: Option<String>,
}

/// `--lang`, or the locale.
fn language(flag: Option<&str>) -> Result<Lang, String> {
    match flag {
        Some(tag) => {
            Lang::parse(tag).ok_or_else(|| format!("--lang {tag}: kafkasim speaks en and zh-CN"))
        }
        None => {
            let var = |name| std::env::var(name).ok();
            Ok(Lang::from_locale(
                var("LC_ALL").as_deref(),
                var("LC_MESSAGES").as_deref(),
                var("LANG").as_deref(),
            ))
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Show which partition Kafka's default partitioner picks for each key
    #[command(
        after_help = "Kafka hashes the key's bytes with murmur2 and takes toPositive(hash) % partitions,\n\
        over all partitions whether or not they have a leader. Records without a key use the\n\
        sticky partitioner instead."
    )]
    Partition(partition::Args),
    /// Build a partition log with kafkasim's log and write it in Kafka's on-disk layout
    MakeLog(make_log::Args),
    /// Print the entries of Kafka segment files (.log, .index, .timeindex), format v0/v1
    DumpLog(dump_log::Args),
    /// Show what Kafka's assignors (range, roundrobin, sticky, cooperative-sticky) give a group
    #[command(after_help = assign::AFTER_HELP)]
    Assign(assign::Args),
    /// Run a scenario file headless: its narrated timeline and the checkers' verdicts
    #[command(after_help = run::RUN_HELP)]
    Run(run::Args),
    /// List the bundled scenarios with their titles
    List(run::ListArgs),
    /// Run a scenario over many seeds in parallel, and shrink the first failure
    #[command(after_help = run::SWEEP_HELP)]
    Sweep(run::SweepArgs),
    /// Show the cluster at a sim time, as kafka-topics.sh --describe does
    #[command(after_help = run::DESCRIBE_HELP)]
    Describe(run::DescribeArgs),
    /// Run a scenario twice and check both runs are the same
    #[command(after_help = run::DETERMINISM_HELP)]
    CheckDeterminism(run::DeterminismArgs),
    /// Open a scenario in the terminal UI: watch it, rewind it, inject faults
    #[command(after_help = run::TUI_HELP)]
    Tui(run::TuiArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let lang = match language(cli.lang.as_deref()) {
        Ok(lang) => lang,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        None => run::tui_command(&run::TuiArgs::default_lesson(), lang, &mut out).and_then(|()| {
            // Only reached without a terminal, after the headless run.
            writeln!(out, "\n(kafkasim --help lists every command)").map_err(output_error)
        }),
        Some(Command::Partition(args)) => partition::run(&args, &mut out),
        Some(Command::MakeLog(args)) => make_log::run(&args, &mut out),
        Some(Command::DumpLog(args)) => dump_log::run(&args, &mut out),
        Some(Command::Assign(args)) => assign::run(&args, &mut out),
        Some(Command::Run(args)) => run::run_command(&args, lang, &mut out),
        Some(Command::List(args)) => run::list_command(&args, lang, &mut out),
        Some(Command::Sweep(args)) => run::sweep_command(&args, lang, &mut out),
        Some(Command::Describe(args)) => run::describe_command(&args, lang, &mut out),
        Some(Command::CheckDeterminism(args)) => run::determinism_command(&args, lang, &mut out),
        Some(Command::Tui(args)) => run::tui_command(&args, lang, &mut out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = out.flush();
            eprintln!("{}{message}", run::error_prefix(lang));
            ExitCode::FAILURE
        }
    }
}

/// An output error as a message; a closed pipe (`kafkasim dump-log ... | head`) simply
/// ends the program, as it does for other command-line tools.
fn output_error(error: std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    error.to_string()
}

/// A path as the user typed it, for messages.
fn shown(path: &std::path::Path) -> String {
    PathBuf::from(path).display().to_string()
}
