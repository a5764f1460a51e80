//! The Kafka producer on the simulated cluster: retries after lost answers or
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND duplicate records, and retries with several batches
//! in flight reorder them, unless the producer is idempotent: then the leader recognises
//! a retried batch by its sequence numbers and answers with the original offsets, and
//! refuses a batch that skips one (OUT_OF_ORDER_SEQUENCE_NUMBER) until the one before it
//! lands. A follower learns the producers' batches as it fetches, so a new leader goes
//! on deduplicating.

mod common;

use std::collections::BTreeMap;

use common::{assert_events, followers, kafka_2_4_timeouts, orders, show};
use kafkasim_core::client::producer::ProducerConfig;
use kafkasim_core::partition::Acks;
use kafkasim_sim::cluster::{Cluster, ClusterBuilder};
use kafkasim_sim::disk::Crash;
use kafkasim_sim::net::LinkConfig;
use kafkasim_sim::runtime::run_seeded;

/// A link that loses `loss` of its messages (each loss breaks the connection).
fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        loss,
        ..LinkConfig::default()
    }
}

/// What a run left in the log, judged against the producer's history.
#[derive(Debug)]
struct Verdict {
    /// Values written more than once.
    duplicated: Vec<String>,
    /// Places where a value sent later sits before one sent earlier (first copies).
    reordered: usize,
    acknowledged: usize,
    /// Acknowledged values missing from the log.
    missing: usize,
}

/// Reads `leader`'s log of orders-0: every acknowledged offset must hold its value.
fn judge(c: &Cluster, leader: i32, producer: i32) -> Verdict {
    let log = c.log_values(leader, &orders(0));
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    let mut sent_order = Vec::new();
    for v in &log {
        let n = counts.entry(v).or_default();
        if *n == 0 {
            // Values are `v-<n>`, n counting sends.
            sent_order.push(v[2..].parse::<u64>().expect("a producer value"));
        }
        *n += 1;
    }
    let history = c.kafka_producer_history(producer);
    let acked: Vec<_> = history
        .iter()
        .filter(|w| w.acknowledged_offset().is_some())
        .collect();
    for w in &acked {
        let offset = w.acknowledged_offset().unwrap() as usize;
        assert_eq!(log.get(offset), Some(&w.value), "offset {offset}");
    }
    Verdict {
        duplicated: counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(v, _)| (*v).clone())
            .collect(),
        reordered: sent_order.windows(2).filter(|w| w[1] < w[0]).count(),
        acknowledged: acked.len(),
        missing: acked
            .iter()
            .filter(|w| !counts.contains_key(&w.value))
            .count(),
    }
}

/// Runs a producer for 20 s while a third of the leader's answers to it are lost.
fn run_with_lost_answers(seed: u64, enable_idempotence: bool) -> Verdict {
    run_seeded(seed, move || async move {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic("orders", 1, 3)
            .start()
            .await;
        let start = c.now_ms();
        let p = c.add_kafka_producer(ProducerConfig {
            enable_idempotence,
            // Several batches in flight at once.
            interval_ms: 2,
            linger_ms: 0,
            request_timeout_ms: 2_000,
            stop_ms: Some(start + 20_000),
            ..ProducerConfig::default()
        });
        let leader = c.leader(&orders(0)).unwrap();
        c.set_link(leader, p, lossy(0.3));
        c.sleep_ms(20_000).await;
        c.set_link(leader, p, LinkConfig::default());
        c.sleep_ms(10_000).await;
        judge(&c, leader, p)
    })
}

#[test]
fn retries_after_lost_answers_duplicate_and_reorder_without_idempotence() {
    let v = run_with_lost_answers(4, false);
    assert!(v.acknowledged > 500, "{v:?}");
    assert_eq!(v.missing, 0);
    assert!(
        !v.duplicated.is_empty(),
        "a retried batch whose first answer was lost is written twice"
    );
    assert!(
        v.reordered > 0,
        "batches in flight on a broken connection go back first in the queue, in reverse"
    );
}

#[test]
fn the_idempotent_producer_writes_each_record_once_in_order() {
    let v = run_with_lost_answers(4, true);
    assert!(v.acknowledged > 500, "{v:?}");
    assert_eq!(v.missing, 0);
    assert_eq!(v.duplicated, Vec::<String>::new());
    assert_eq!(v.reordered, 0);
}

/// Both followers of orders-0 crash under a producer with 5 batches in flight, and come
/// back 25 s later. Before Kafka 3.7 the HW moves once the leader is alone in the ISR,
/// so the batches waiting for acks=all get NOT_ENOUGH_REPLICAS_AFTER_APPEND although
/// they are in the log; every later batch gets NOT_ENOUGH_REPLICAS until the followers
/// rejoin. The producer retries all of them.
fn followers_crash_and_return(
    seed: u64,
    enable_idempotence: bool,
) -> (Verdict, Vec<kafkasim_sim::trace::TraceEntry>) {
    run_seeded(seed, move || async move {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .broker_config(|b| b.hold_high_watermark_below_min_isr = false)
            .min_insync_replicas(2)
            .topic("orders", 1, 3)
            .start()
            .await;
        let start = c.now_ms();
        let p = c.add_kafka_producer(ProducerConfig {
            enable_idempotence,
            interval_ms: 20,
            linger_ms: 0,
            stop_ms: Some(start + 40_000),
            ..ProducerConfig::default()
        });
        c.sleep_ms(3_000).await;
        let leader = c.leader(&orders(0)).unwrap();
        let followers = followers(&c, &orders(0));
        for &f in &followers {
            c.crash(f, Crash::Process);
        }
        c.sleep_ms(25_000).await;
        for &f in &followers {
            c.restart(f);
        }
        c.sleep_ms(40_000).await;
        assert_eq!(c.leader(&orders(0)), Some(leader), "the leader stayed");
        (judge(&c, leader, p), c.trace())
    })
}

#[test]
fn retries_after_not_enough_replicas_after_append_duplicate_without_idempotence() {
    let (v, trace) = followers_crash_and_return(3, false);
    show(
        "followers crash under a producer without idempotence",
        &common::timeline(&trace),
    );
    assert_events(
        &trace,
        &[
            "produce-retry error=NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            "produce-retry error=NOT_ENOUGH_REPLICAS",
            "produce-retry in_sequence_order=false",
        ],
    );
    assert!(v.acknowledged > 1_000, "{v:?}");
    assert_eq!(v.missing, 0, "{v:?}");
    assert!(
        !v.duplicated.is_empty(),
        "a batch refused after its append is in the log twice once retried: {v:?}"
    );
}

#[test]
fn the_idempotent_producer_writes_each_record_once_through_the_same_crashes() {
    let (v, trace) = followers_crash_and_return(3, true);
    show(
        "followers crash under an idempotent producer",
        &common::timeline(&trace),
    );
    assert_events(
        &trace,
        &["produce-retry error=NOT_ENOUGH_REPLICAS_AFTER_APPEND in_sequence_order=true"],
    );
    assert!(v.acknowledged > 1_000, "{v:?}");
    assert_eq!(v.missing, 0, "{v:?}");
    assert_eq!(v.duplicated, Vec::<String>::new());
    assert_eq!(v.reordered, 0);
}

/// The idempotent producer loses answers from the leader, then the leader dies: its
/// successor learned the producer's batches by fetching them, so retries of batches
/// the old leader appended are still recognised.
#[test]
fn a_new_leader_keeps_deduplicating_the_batches_it_fetched() {
    run_seeded(9, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .min_insync_replicas(2)
            .topic("orders", 1, 3)
            .start()
            .await;
        let start = c.now_ms();
        let p = c.add_kafka_producer(ProducerConfig {
            interval_ms: 20,
            linger_ms: 0,
            request_timeout_ms: 2_000,
            stop_ms: Some(start + 30_000),
            ..ProducerConfig::default()
        });
        c.sleep_ms(2_000).await;
        let old = c.leader(&orders(0)).unwrap();
        // The producer's answers are lost one in three, and then its link to the leader
        // goes silent: the batches in flight were appended and replicated, unanswered.
        c.set_link(old, p, lossy(0.3));
        c.sleep_ms(5_000).await;
        c.partition(&[&[p], &[old]]);
        c.sleep_ms(500).await;
        c.crash(old, Crash::Process);
        c.heal();
        c.set_link(old, p, LinkConfig::default());
        c.wait_until(30_000, |s| {
            s.partitions[&orders(0)].leader.is_some_and(|l| l != old)
        })
        .await
        .expect("a new leader");
        let new = c.leader(&orders(0)).unwrap();
        c.sleep_until_ms(start + 45_000).await;
        let v = judge(&c, new, p);
        assert!(v.acknowledged > 800, "{v:?}");
        assert_eq!(v.missing, 0, "{v:?}");
        assert_eq!(v.duplicated, Vec::<String>::new(), "{}", c.timeline());
        assert_eq!(v.reordered, 0);
        let batches = c
            .with_broker(new, |b| {
                b.replicas()[&orders(0)]
                    .partition
                    .producer_state()
                    .batch_count()
            })
            .unwrap();
        assert!(batches > 100, "the new leader knows {batches} batches");
    });
}

/// acks=1 with idempotence: the leader acknowledges batches its followers never fetch,
/// then dies. The new leader knows the producer only up to an earlier sequence, so the
/// producer's next batch skips some: OUT_OF_ORDER_SEQUENCE_NUMBER. The batch follows the
/// last acknowledged one, so the gap is real: the producer takes a new producer id and
/// goes on.
#[test]
fn a_leader_that_lost_acknowledged_batches_answers_out_of_order_sequence_number() {
    run_seeded(5, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic("orders", 1, 3)
            .start()
            .await;
        let start = c.now_ms();
        let p = c.add_kafka_producer(ProducerConfig {
            acks: Acks::Leader,
            interval_ms: 50,
            linger_ms: 0,
            stop_ms: Some(start + 30_000),
            ..ProducerConfig::default()
        });
        c.sleep_ms(3_000).await;
        let old = c.leader(&orders(0)).unwrap();
        let followers = followers(&c, &orders(0));
        // The followers stop fetching for a moment (less than replica.lag.time.max.ms):
        // the leader alone acknowledges acks=1 batches, then dies.
        c.partition(&[&[old], &followers]);
        c.sleep_ms(1_000).await;
        c.crash(old, Crash::Process);
        c.heal();
        c.sleep_until_ms(start + 40_000).await;
        let timeline = c.timeline();
        show(
            "acks=1, idempotent: the leader loses acknowledged batches",
            &timeline,
        );
        // KIP-360 (Kafka 2.5+): the producer bumps its epoch and starts the partition's
        // sequences again; the batches the dead leader may have written are given up as
        // unknown, never written again under new sequence numbers.
        assert_events(
            &c.trace(),
            &["sequences-restarted partition=orders-0 producer_epoch=1 reason=lost-acknowledged"],
        );
        // acks=1 lost acknowledged offsets (judge would stop there); count copies only.
        let log = c.log_values(c.leader(&orders(0)).unwrap(), &orders(0));
        let unique: std::collections::BTreeSet<&String> = log.iter().collect();
        assert_eq!(unique.len(), log.len(), "a value written twice");
        let new = c.leader(&orders(0)).unwrap();
        assert_ne!(new, old);
        let v = judge_surviving(&c, new, p);
        assert!(
            v.lost > 0,
            "acks=1 lost the batches only the old leader had"
        );
        assert!(
            v.written_after_reset > 100,
            "the producer goes on under its new epoch: {v:?}"
        );
    });
}

#[derive(Debug)]
struct Surviving {
    lost: usize,
    written_after_reset: usize,
}

/// Acknowledged values missing from `leader`'s log, and values acknowledged after the
/// producer's epoch bump.
fn judge_surviving(c: &Cluster, leader: i32, producer: i32) -> Surviving {
    let log: std::collections::BTreeSet<String> =
        c.log_values(leader, &orders(0)).into_iter().collect();
    let reset_ms = c
        .trace()
        .iter()
        .find(|e| e.kind() == kafkasim_sim::events::Kind::SequencesRestarted)
        .map(|e| e.time_ms())
        .expect("a reset");
    let history = c.kafka_producer_history(producer);
    let acked = history.iter().filter(|w| w.acknowledged_offset().is_some());
    Surviving {
        lost: acked.clone().filter(|w| !log.contains(&w.value)).count(),
        written_after_reset: acked
            .filter(|w| w.invoked_ms > reset_ms && log.contains(&w.value))
            .count(),
    }
}

#[test]
fn the_idempotent_producer_resumes_after_batches_expire_while_the_isr_is_below_min_insync_replicas()
{
    // Both followers are down for longer than delivery.timeout.ms (120 s): the batches
    // the leader appended before the ISR shrank time out unanswered, every later batch
    // is refused with NOT_ENOUGH_REPLICAS, and they all expire. Their sequence numbers
    // will never arrive, so without KIP-360 every later batch gets
    // OUT_OF_ORDER_SEQUENCE_NUMBER for ever. The producer waits until the expired
    // sequences are resolved, bumps its epoch and starts again at 0
    // (TransactionManager.maybeResolveSequences, bumpIdempotentProducerEpoch).
    run_seeded(1, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .min_insync_replicas(2)
            .topic("orders", 1, 3)
            .start()
            .await;
        let start = c.now_ms();
        let p = c.add_kafka_producer(ProducerConfig {
            interval_ms: 100,
            ..ProducerConfig::default()
        });
        c.sleep_ms(4_000).await;
        let leader = c.leader(&orders(0)).unwrap();
        let followers = followers(&c, &orders(0));
        for &f in &followers {
            c.crash(f, Crash::Process);
        }
        c.sleep_until_ms(start + 140_000).await;
        for &f in &followers {
            c.restart(f);
        }
        let back_ms = c.now_ms();
        c.sleep_until_ms(start + 200_000).await;
        let timeline = c.timeline();
        show("the idempotent producer after a long outage", &timeline);
        assert_events(
            &c.trace(),
            &["sequences-restarted producer_epoch=1 reason=expired"],
        );
        let history = c.kafka_producer_history(p);
        let after = history
            .iter()
            .filter(|w| w.invoked_ms > back_ms && w.acknowledged_offset().is_some())
            .count();
        assert!(
            after > 400,
            "{after} sends acknowledged after the followers returned"
        );
        assert_eq!(c.leader(&orders(0)), Some(leader));
        let v = judge(&c, leader, p);
        assert_eq!(
            v.duplicated,
            Vec::<String>::new(),
            "a reset wrote a batch twice"
        );
        assert_eq!(v.missing, 0);
    });
}
