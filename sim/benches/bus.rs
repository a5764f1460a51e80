//! The message bus alone: a ping-pong of small messages between two nodes, with no Kafka
//! logic. This is the engine's ceiling that the cluster benchmark is compared against.
//!
//! Run: `cargo bench -p kafkasim-sim --bench bus`.

use std::time::Duration;

use divan::Bencher;
use divan::counter::ItemsCount;
use kafkasim_sim::net::{LinkConfig, Network};
use kafkasim_sim::runtime::run_seeded;

fn main() {
    divan::main();
}

const ROUND_TRIPS: u64 = 100_000;

/// Node 1 sends, node 2 answers, `ROUND_TRIPS` times: 2 messages per round trip.
fn ping_pong(seed: u64) -> u64 {
    run_seeded(seed, || async {
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
        while last < 2 * ROUND_TRIPS {
            last = inbox1.recv().await.expect("the pong node is alive").message;
            if last < 2 * ROUND_TRIPS {
                net.send(1, 2, last + 1);
            }
        }
        madsim::time::sleep(Duration::from_millis(1)).await;
        net.stats().delivered
    })
}

#[divan::bench(sample_count = 10)]
fn bus_ping_pong(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(2 * ROUND_TRIPS))
        .bench(|| ping_pong(1));
}
