//! The simulated cluster's speed, next to the engine's ceiling measured in the same run.
//!
//! - `bus ping-pong`: two nodes bounce a small message over the bus with no Kafka logic
//!   (channels plus madsim timers): the most messages per wall second the engine moves.
//! - `loaded cluster`: 3 brokers, one topic of 6 partitions with RF=3, acks=all, a
//!   producer at full speed (5 requests in flight per partition), for a fixed sim time.
//! - `idle cluster`: the same cluster with no records: fetch long-polls, ZooKeeper pings.
//!
//! Run: `cargo bench -p kafkasim-sim --bench cluster`. Each figure is the median of 5 runs.

use std::time::Instant;

use kafkasim_core::partition::Acks;
use kafkasim_core::workload::ProducerConfig;
use kafkasim_sim::cluster::{ClusterBuilder, Invariants};
use kafkasim_sim::net::{LinkConfig, Network};
use kafkasim_sim::runtime::run_seeded;

const RUNS: usize = 5;

/// Node 1 sends, node 2 answers, `round_trips` times; returns messages delivered.
fn ping_pong(round_trips: u64) -> u64 {
    run_seeded(1, move || async move {
        let net: Network<u64> = Network::new(LinkConfig {
            latency_min_ms: 1,
            latency_max_ms: 1,
            loss: 0.0,
        });
        let inbox1 = net.register(1);
        let inbox2 = net.register(2);
        let echo = net.clone();
        let node2 = madsim::runtime::Handle::current()
            .create_node()
            .name("pong")
            .build();
        node2.spawn(async move {
            while let Ok(envelope) = inbox2.recv().await {
                echo.send(2, 1, envelope.message + 1);
            }
        });
        net.send(1, 2, 0);
        let mut last = 0;
        while last < 2 * round_trips {
            last = inbox1.recv().await.expect("the pong node is alive").message;
            if last < 2 * round_trips {
                net.send(1, 2, last + 1);
            }
        }
        net.stats().delivered
    })
}

#[derive(Clone, Copy, Debug, Default)]
struct ClusterRun {
    sim_ms: i64,
    committed: u64,
    messages: u64,
}

/// A cluster for `sim_ms` of sim time after it started, with or without a producer.
fn cluster(sim_ms: i64, load: bool) -> ClusterRun {
    run_seeded(1, move || async move {
        let mut cluster = ClusterBuilder::new(3)
            .min_insync_replicas(2)
            .invariants(Invariants::Off)
            .trace_events(false)
            .topic("bench", 6, 3)
            .start()
            .await;
        let start_messages = cluster.network().stats().delivered;
        let producer = load.then(|| {
            cluster.add_producer(ProducerConfig {
                topic: "bench".to_string(),
                partitions: 6,
                acks: Acks::All,
                interval_ms: 0,
                max_in_flight: 5,
                records_per_request: 200,
                record_history: false,
                ..ProducerConfig::default()
            })
        });
        cluster.sleep_ms(sim_ms).await;
        ClusterRun {
            sim_ms,
            committed: producer.map_or(0, |p| cluster.producer_stats(p).acknowledged),
            messages: cluster.network().stats().delivered - start_messages,
        }
    })
}

/// Runs `f` `RUNS` times; returns the run with the median wall time and that time.
fn median<T: Copy>(mut f: impl FnMut() -> T) -> (T, f64) {
    let mut runs: Vec<(f64, T)> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let out = f();
            (start.elapsed().as_secs_f64(), out)
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (seconds, out) = runs[RUNS / 2];
    (out, seconds)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep it quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 10 } else { 1 };

    let round_trips = 200_000 / scale;
    let (delivered, bus_s) = median(|| ping_pong(round_trips as u64));
    let bus_rate = delivered as f64 / bus_s;

    let (loaded, loaded_s) = median(|| cluster(10_000 / scale as i64, true));
    let (idle, idle_s) = median(|| cluster(600_000 / scale as i64, false));

    let rate = |n: u64, s: f64| n as f64 / s;
    println!("kafkasim cluster benchmark (median of {RUNS} runs, one core)");
    println!();
    println!(
        "| run | sim time | wall time | committed records / wall s | sim s / wall s | messages / wall s |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| bus ping-pong (no Kafka logic) | {:.1} s | {:.3} s | - | - | {:.0} |",
        delivered as f64 / 1000.0,
        bus_s,
        bus_rate
    );
    for (name, run, s) in [
        (
            "loaded cluster: 3 brokers, 6 partitions, RF=3, acks=all",
            loaded,
            loaded_s,
        ),
        ("idle cluster: long-polls and ZooKeeper pings", idle, idle_s),
    ] {
        println!(
            "| {name} | {:.0} s | {:.3} s | {:.0} | {:.1} | {:.0} |",
            run.sim_ms as f64 / 1000.0,
            s,
            rate(run.committed, s),
            run.sim_ms as f64 / 1000.0 / s,
            rate(run.messages, s),
        );
    }
    println!();
    println!(
        "committed records per wall second: {:.0} (target 1,000,000)",
        rate(loaded.committed, loaded_s)
    );
    println!(
        "idle cluster messages per wall second: {:.1}% of the bare bus (target 30%)",
        100.0 * rate(idle.messages, idle_s) / bus_rate
    );
    println!(
        "loaded cluster messages per wall second: {:.1}% of the bare bus",
        100.0 * rate(loaded.messages, loaded_s) / bus_rate
    );
}
