//! Stop-the-world pauses (a zombie leader, a zombie controller), lossy links,
//! preferred-leader elections, partition additions, retention and `flush.ms`, on the
//! simulated cluster. Replica invariants are checked after every step.

mod common;

use common::{assert_events, kafka_2_4_timeouts, orders};
use kafkasim_core::partition::Acks;
use kafkasim_core::protocol::{TopicConfig, TopicPartition, ZOOKEEPER};
use kafkasim_core::workload::{Outcome, ProducerConfig};
use kafkasim_sim::check::lost_writes;
use kafkasim_sim::cluster::{Cluster, ClusterBuilder};
use kafkasim_sim::disk::Crash;
use kafkasim_sim::net::LinkConfig;
use kafkasim_sim::runtime::run_seeded;
use kafkasim_sim::snapshot::ClusterSnapshot;

fn acked(c: &Cluster, producer: i32) -> usize {
    c.history(producer)
        .iter()
        .filter(|o| o.acknowledged_offset().is_some())
        .count()
}

#[test]
fn a_paused_leader_is_replaced_and_cannot_commit_when_it_wakes() {
    let trace = run_seeded(41, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .min_insync_replicas(2)
            .topic("orders", 3, 3)
            .start()
            .await;
        let controller = c.controller().unwrap();
        let tp = (0..3)
            .map(orders)
            .find(|tp| c.leader(tp) != Some(controller))
            .unwrap();
        let zombie = c.leader(&tp).unwrap();
        let producer = c.add_producer(ProducerConfig {
            partitions: 3,
            acks: Acks::All,
            interval_ms: 20,
            request_timeout_ms: 5_000,
            ..ProducerConfig::default()
        });
        c.sleep_ms(2_000).await;
        // A stop-the-world pause longer than zookeeper.session.timeout.ms.
        c.pause(zombie);
        c.sleep_ms(10_000).await;
        let successor = c.leader(&tp).unwrap();
        assert_ne!(successor, zombie, "the controller moved the leadership");
        c.resume(zombie);
        c.sleep_ms(20_000).await;
        assert!(
            c.wait_until(60_000, ClusterSnapshot::all_in_sync)
                .await
                .is_some(),
            "{}",
            c.timeline()
        );
        c.sleep_ms(7_000).await;
        let snapshot = c.snapshot();
        let lost = lost_writes(&c.history(producer), &snapshot);
        assert!(lost.is_empty(), "{lost:#?}\n{}", c.timeline());
        assert!(acked(&c, producer) > 1_000);
        let zombie_replica = &snapshot.partitions[&tp].replica_states[&zombie];
        assert!(!zombie_replica.is_leader, "the old leader follows now");
        assert_eq!(
            zombie_replica.records, snapshot.partitions[&tp].replica_states[&successor].records,
            "and its log is the new leader's"
        );
        c.trace()
    });
    assert_events(&trace, &["fault action=pause", "session-expired"]);
}

#[test]
fn a_paused_controller_is_deposed_and_its_requests_are_ignored() {
    let trace = run_seeded(42, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic("orders", 3, 3)
            .start()
            .await;
        let old = c.controller().unwrap();
        let old_epoch = c.snapshot_without_records().controller.unwrap().1;
        let producer = c.add_producer(ProducerConfig {
            partitions: 3,
            acks: Acks::All,
            interval_ms: 50,
            request_timeout_ms: 5_000,
            ..ProducerConfig::default()
        });
        c.pause(old);
        c.sleep_ms(10_000).await;
        let (new, new_epoch) = c.snapshot_without_records().controller.unwrap();
        assert_ne!(new, old);
        assert_eq!(new_epoch, old_epoch + 1);
        c.resume(old);
        assert!(
            c.wait_until(60_000, ClusterSnapshot::all_in_sync)
                .await
                .is_some(),
            "{}",
            c.timeline()
        );
        let snapshot = c.snapshot();
        assert_eq!(
            snapshot.controller.map(|(b, _)| b),
            Some(new),
            "one controller"
        );
        for (b, status) in &snapshot.brokers {
            assert_eq!(status.known_controller, Some(new), "broker {b}");
        }
        c.sleep_ms(7_000).await;
        let lost = lost_writes(&c.history(producer), &c.snapshot());
        assert!(lost.is_empty(), "{lost:#?}");
        c.trace()
    });
    assert_events(
        &trace,
        &[
            "controller-elected controller_epoch=2",
            "controller-resigned",
        ],
    );
}

#[test]
fn lossy_slow_links_break_connections_but_lose_no_acknowledged_write() {
    run_seeded(43, || async {
        let lossy = LinkConfig {
            latency_min_ms: 1,
            latency_max_ms: 30,
            loss: 0.01,
        };
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .min_insync_replicas(2)
            .topic("orders", 2, 3)
            .start()
            .await;
        let nodes: Vec<i32> = vec![1, 2, 3, ZOOKEEPER];
        for &a in &nodes {
            for &b in &nodes {
                if a != b {
                    c.set_link(a, b, lossy);
                }
            }
        }
        let producer = c.add_producer(ProducerConfig {
            partitions: 2,
            acks: Acks::All,
            interval_ms: 20,
            request_timeout_ms: 5_000,
            stop_ms: Some(c.now_ms() + 60_000),
            ..ProducerConfig::default()
        });
        c.sleep_ms(60_000).await;
        for &a in &nodes {
            for &b in &nodes {
                if a != b {
                    c.set_link(a, b, LinkConfig::default());
                }
            }
        }
        assert!(
            c.wait_until(120_000, ClusterSnapshot::all_in_sync)
                .await
                .is_some(),
            "{}",
            c.timeline()
        );
        c.sleep_ms(7_000).await;
        let stats = c.network().stats();
        assert!(stats.lost > 20, "each loss broke a connection: {stats:?}");
        let history = c.history(producer);
        let lost = lost_writes(&history, &c.snapshot());
        assert!(lost.is_empty(), "{lost:#?}");
        assert!(
            acked(&c, producer) > 1_000,
            "{} acknowledged",
            acked(&c, producer)
        );
    });
}

#[test]
fn held_links_delay_acks_all_without_losing_or_shrinking_anything() {
    let trace = run_seeded(48, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .min_insync_replicas(2)
            .topic("orders", 1, 3)
            .start()
            .await;
        let tp = orders(0);
        let leader = c.leader(&tp).unwrap();
        let followers: Vec<i32> = [1, 2, 3].into_iter().filter(|&b| b != leader).collect();
        let producer = c.add_producer(ProducerConfig {
            acks: Acks::All,
            interval_ms: 100,
            ..ProducerConfig::default()
        });
        c.sleep_ms(1_000).await;
        // The leader's answers to its followers stall for 5 s (less than
        // replica.lag.time.max.ms): the HW cannot move, so acks=all waits.
        for &f in &followers {
            c.hold(leader, f);
        }
        let held_at = c.now_ms();
        c.sleep_ms(5_000).await;
        for &f in &followers {
            c.release(leader, f);
        }
        let released_at = c.now_ms();
        c.sleep_ms(2_000).await;
        let history = c.history(producer);
        let during: Vec<_> = history
            .iter()
            .filter(|o| o.invoked_ms >= held_at && o.invoked_ms < released_at)
            .collect();
        // At most max.in.flight.requests.per.connection (5) writes wait; the producer
        // sends no more until answers come.
        assert!((1..=5).contains(&during.len()), "{during:#?}");
        for op in &during {
            match op.outcome {
                Outcome::Ok { completed_ms, .. } => {
                    assert!(completed_ms >= released_at, "{op:?} waited for the release")
                }
                ref other => panic!("{} ended {other:?}", op.value),
            }
        }
        let snapshot = c.snapshot();
        assert_eq!(
            snapshot.partitions[&tp].isr.len(),
            3,
            "nobody fell out of the ISR"
        );
        assert!(lost_writes(&history, &snapshot).is_empty());
        assert_eq!(c.network().stats().lost + c.network().stats().dropped, 0);
        c.trace()
    });
    assert_events(&trace, &["fault action=hold", "fault action=release"]);
}

/// Broker `b` crashes and returns: the partitions it preferred to lead are led by others.
async fn bounce_preferred_leader(c: &mut Cluster) -> (i32, Vec<TopicPartition>) {
    let snapshot = c.snapshot_without_records();
    let b = snapshot.partitions[&orders(0)].replicas[0];
    let preferred: Vec<TopicPartition> = snapshot
        .partitions
        .iter()
        .filter(|(_, p)| p.replicas[0] == b)
        .map(|(tp, _)| tp.clone())
        .collect();
    c.crash(b, Crash::Process);
    c.sleep_ms(1_000).await;
    c.restart(b);
    assert!(
        c.wait_until(60_000, ClusterSnapshot::all_in_sync)
            .await
            .is_some(),
        "{}",
        c.timeline()
    );
    for tp in &preferred {
        assert_ne!(c.leader(tp), Some(b), "{tp} moved away from broker {b}");
    }
    (b, preferred)
}

#[test]
fn leadership_returns_to_the_preferred_replica_automatically() {
    let trace = run_seeded(44, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic("orders", 3, 3)
            .start()
            .await;
        let (b, preferred) = bounce_preferred_leader(&mut c).await;
        // leader.imbalance.check.interval.seconds = 300.
        let back = c
            .wait_until(330_000, |s| {
                preferred
                    .iter()
                    .all(|tp| s.partitions[tp].leader == Some(b))
            })
            .await;
        assert!(back.is_some(), "{}", c.timeline());
        c.trace()
    });
    assert_events(&trace, &["leader-elected reason=preferred"]);
}

#[test]
fn a_preferred_election_on_demand_moves_leaders_back_at_once() {
    run_seeded(45, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .broker_config(|b| b.controller.auto_leader_rebalance_enable = false)
            .topic("orders", 3, 3)
            .start()
            .await;
        let (b, preferred) = bounce_preferred_leader(&mut c).await;
        c.sleep_ms(400_000).await;
        for tp in &preferred {
            assert_ne!(
                c.leader(tp),
                Some(b),
                "auto.leader.rebalance.enable = false: {tp} stays"
            );
        }
        let moved = c.elect_preferred_leaders().await.unwrap();
        assert_eq!(moved, preferred);
        assert!(
            c.wait_until(5_000, |s| preferred
                .iter()
                .all(|tp| s.partitions[tp].leader == Some(b)))
                .await
                .is_some()
        );
    });
}

#[test]
fn a_topic_grows_new_partitions_with_kafka_placement_and_never_shrinks() {
    let trace = run_seeded(46, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic("orders", 2, 2)
            .start()
            .await;
        let added = c.add_partitions("orders", 5).await.unwrap();
        assert_eq!(added.len(), 3);
        for replicas in &added {
            assert_eq!(replicas.len(), 2, "the topic's replication factor");
        }
        let snapshot = c.snapshot_without_records();
        for p in 2..5 {
            assert_eq!(
                snapshot.partitions[&orders(p)].replicas,
                added[p as usize - 2]
            );
        }
        assert_eq!(c.produce(&orders(4), "x", Acks::All).await, Ok(0));
        let error = c.add_partitions("orders", 3).await.unwrap_err();
        assert!(error.contains("INVALID_PARTITIONS"), "{error}");
        c.trace()
    });
    assert_events(&trace, &["partitions-added topic=orders first=2"]);
}

#[test]
fn retention_deletes_old_segments_on_every_replica() {
    let trace = run_seeded(47, || async {
        let mut topic = TopicConfig::default();
        topic.log.segment_bytes = 200;
        topic.log.retention_ms = 20_000;
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .broker_config(|b| b.log_retention_check_interval_ms = 5_000)
            .topic_with("orders", 1, 3, topic)
            .start()
            .await;
        for n in 0..30 {
            c.produce(&orders(0), &format!("old-{n}"), Acks::All)
                .await
                .unwrap();
        }
        c.sleep_ms(30_000).await;
        for n in 0..3 {
            c.produce(&orders(0), &format!("new-{n}"), Acks::All)
                .await
                .unwrap();
        }
        c.sleep_ms(6_000).await;
        let snapshot = c.snapshot();
        for (b, replica) in &snapshot.partitions[&orders(0)].replica_states {
            assert!(replica.log_start_offset > 20, "broker {b}: {replica:?}");
            assert_eq!(replica.log_end_offset, 33, "broker {b}");
            assert!(replica.records.iter().any(|(_, v)| v == "new-2"));
        }
        c.trace()
    });
    assert_events(&trace, &["retention-delete"]);
}

#[test]
fn flush_ms_bounds_what_a_power_loss_of_every_replica_takes() {
    run_seeded(31, || async {
        let mut topic = TopicConfig::default();
        topic.log.flush_ms = 100;
        topic.min_insync_replicas = 2;
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .topic_with("orders", 1, 3, topic)
            .start()
            .await;
        for n in 0..20 {
            c.produce(&orders(0), &format!("r{n}"), Acks::All)
                .await
                .unwrap();
        }
        // Longer than flush.ms: every replica has fsynced.
        c.sleep_ms(500).await;
        for b in [1, 2, 3] {
            c.crash(b, Crash::PowerLoss);
        }
        for b in [1, 2, 3] {
            c.restart(b);
        }
        assert!(
            c.wait_until(60_000, ClusterSnapshot::all_in_sync)
                .await
                .is_some(),
            "{}",
            c.timeline()
        );
        let lost = lost_writes(c.admin_history(), &c.snapshot());
        assert!(lost.is_empty(), "{lost:#?}");
    });
}

#[test]
fn a_controlled_shutdown_hands_leadership_over_at_once_and_restarts_without_recovery() {
    let trace = run_seeded(49, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .min_insync_replicas(2)
            .topic("orders", 3, 3)
            .start()
            .await;
        let producer = c.add_producer(ProducerConfig {
            partitions: 3,
            acks: Acks::All,
            interval_ms: 20,
            ..ProducerConfig::default()
        });
        c.sleep_ms(2_000).await;
        let stopping = c.leader(&orders(0)).unwrap();
        let led: Vec<TopicPartition> = (0..3)
            .map(orders)
            .filter(|tp| c.leader(tp) == Some(stopping))
            .collect();
        let start = c.now_ms();
        c.shutdown(stopping).await.unwrap();
        let took = c.now_ms() - start;
        assert!(
            took < 1_000,
            "a clean stop takes {took} ms, not a session timeout"
        );
        assert!(!c.is_up(stopping));
        // If it was the controller, another takes over at once (its session closed).
        c.wait_until(1_000, |s| s.controller.is_some())
            .await
            .expect("a controller");
        for tp in &led {
            let leader = c.leader(tp);
            assert!(
                leader.is_some() && leader != Some(stopping),
                "{tp} moved: {leader:?}"
            );
        }
        c.sleep_ms(5_000).await;
        c.restart(stopping);
        assert!(
            c.wait_until(60_000, ClusterSnapshot::all_in_sync)
                .await
                .is_some(),
            "{}",
            c.timeline()
        );
        c.sleep_ms(2_000).await;
        let lost = lost_writes(&c.history(producer), &c.snapshot());
        assert!(lost.is_empty(), "{lost:#?}");
        c.trace()
    });
    assert_events(
        &trace,
        &[
            "shutdown-requested",
            "leader-elected reason=controlled-shutdown",
            "session-closed",
        ],
    );
    assert!(
        !trace
            .iter()
            .any(|e| e.kind() == kafkasim_sim::events::Kind::LogRecovered),
        "a clean disk needs no recovery\n{}",
        common::timeline(&trace)
    );
}
