//! The Kafka producer on the simulated cluster: retries after lost answers duplicate
//! records unless the producer is idempotent, in which case the leader recognises the
//! retried batch by its sequence numbers and answers with the original offsets.

mod common;

use std::collections::BTreeMap;

use common::{kafka_2_4_timeouts, orders};
use kafkasim_core::client::producer::ProducerConfig;
use kafkasim_sim::cluster::ClusterBuilder;
use kafkasim_sim::net::LinkConfig;
use kafkasim_sim::runtime::run_seeded;

/// Runs a producer for 20 s while a third of the leader's answers to it are lost;
/// returns (values written more than once, acknowledged values missing from the log).
fn run_with_lost_answers(seed: u64, enable_idempotence: bool) -> (Vec<String>, usize, usize) {
    run_seeded(seed, move || async move {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic("orders", 1, 3)
            .start()
            .await;
        let start = c.now_ms();
        let p = c.add_kafka_producer(ProducerConfig {
            enable_idempotence,
            interval_ms: 20,
            linger_ms: 0,
            request_timeout_ms: 2_000,
            stop_ms: Some(start + 20_000),
            ..ProducerConfig::default()
        });
        let leader = c.leader(&orders(0)).unwrap();
        c.set_link(
            leader,
            p,
            LinkConfig {
                loss: 0.3,
                ..LinkConfig::default()
            },
        );
        c.sleep_ms(20_000).await;
        c.set_link(leader, p, LinkConfig::default());
        c.sleep_ms(10_000).await;
        let log = c.log_values(leader, &orders(0));
        let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
        for v in &log {
            *counts.entry(v).or_default() += 1;
        }
        let duplicated: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(v, _)| (*v).clone())
            .collect();
        let history = c.kafka_producer_history(p);
        let acked: Vec<_> = history
            .iter()
            .filter(|w| w.acknowledged_offset().is_some())
            .collect();
        let missing = acked
            .iter()
            .filter(|w| !counts.contains_key(&w.value))
            .count();
        // An acknowledged offset holds the acknowledged value.
        for w in &acked {
            let offset = w.acknowledged_offset().unwrap() as usize;
            assert_eq!(log.get(offset), Some(&w.value), "offset {offset}");
        }
        (duplicated, acked.len(), missing)
    })
}

#[test]
fn retries_after_lost_answers_duplicate_without_idempotence() {
    let (duplicated, acked, missing) = run_with_lost_answers(4, false);
    assert!(acked > 500, "{acked} acknowledged");
    assert_eq!(missing, 0);
    assert!(
        !duplicated.is_empty(),
        "a retried batch whose first answer was lost is written twice"
    );
}

#[test]
fn the_idempotent_producer_writes_each_record_once() {
    let (duplicated, acked, missing) = run_with_lost_answers(4, true);
    assert!(acked > 500, "{acked} acknowledged");
    assert_eq!(missing, 0);
    assert_eq!(duplicated, Vec::<String>::new());
}
