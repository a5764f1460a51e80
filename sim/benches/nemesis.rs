//! The safe nemesis suite's speed: wall time per seed, as `kafkasim sweep` spends it.
//!
//! Runs `scenarios/nemesis-safe.toml` (3 brokers, 3 partitions of RF 3, an idempotent
//! producer every 50 ms, a random fault every ~8 s from 5 s to 50 s) for a set of seeds,
//! once as the file says (90 simulated seconds) and once cut to the 60 simulated
//! seconds, side by side on one core. Each seed is a whole `run`: the cluster, the
//! conductor, the checkers.
//!
//! Run: `cargo bench -p kafkasim-sim --bench nemesis`.

use std::time::Instant;

use kafkasim_sim::run::run;
use kafkasim_sim::scenario::parse;

/// Wall seconds per seed over `seeds`, and how many seeds met every expectation.
fn per_seed(text: &str, seeds: std::ops::Range<u64>) -> (f64, usize) {
    let scenario = parse("nemesis-safe.toml", text).expect("the bundled suite parses");
    let count = seeds.end - seeds.start;
    let start = Instant::now();
    let passed = seeds
        .filter(|&seed| run(&scenario, seed, None).passed())
        .count();
    (start.elapsed().as_secs_f64() / count as f64, passed)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep it quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let seeds = if quick { 1..3 } else { 1..41 };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/nemesis-safe.toml"
    );
    let full = std::fs::read_to_string(path).expect("scenarios/nemesis-safe.toml");
    assert!(
        full.contains("duration = \"90s\""),
        "the suite's duration moved"
    );
    let cut = full.replace("duration = \"90s\"", "duration = \"60s\"");

    let (full_s, full_passed) = per_seed(&full, seeds.clone());
    let (cut_s, cut_passed) = per_seed(&cut, seeds.clone());
    let n = seeds.end - seeds.start;
    println!("kafkasim nemesis benchmark: seeds {seeds:?}, one core, one run after another");
    println!();
    println!(
        "| suite | wall time per seed | seeds per minute (one core) | seeds meeting expectations |"
    );
    println!("|---|---:|---:|---:|");
    for (name, s, passed) in [
        ("nemesis-safe, 90 sim s (as bundled)", full_s, full_passed),
        ("nemesis-safe cut to 60 sim s", cut_s, cut_passed),
    ] {
        println!(
            "| {name} | {:.0} ms | {:.0} | {passed} of {n} |",
            s * 1000.0,
            60.0 / s
        );
    }
    println!();
    println!(
        "60 simulated seconds per seed: {:.0} ms, {:.2} of the 100 ms target",
        cut_s * 1000.0,
        cut_s / 0.1
    );
}
