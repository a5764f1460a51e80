use kafkasim_core::partition::Acks;
use kafkasim_core::protocol::TopicPartition;
use kafkasim_core::workload::ProducerConfig;
use kafkasim_sim::check::lost_writes;
use kafkasim_sim::cluster::ClusterBuilder;
use kafkasim_sim::runtime::run_seeded;

#[test]
fn smoke() {
    let (timeline, acked, lost) = run_seeded(1, || async {
        let mut cluster = ClusterBuilder::new(3)
            .min_insync_replicas(2)
            .topic("orders", 2, 3)
            .start()
            .await;
        let p = cluster.add_producer(ProducerConfig {
            partitions: 2,
            acks: Acks::All,
            interval_ms: 10,
            ..ProducerConfig::default()
        });
        cluster.sleep_ms(3_000).await;
        let snap = cluster.snapshot();
        let history = cluster.history(p);
        let acked = history
            .iter()
            .filter(|o| o.acknowledged_offset().is_some())
            .count();
        let lost = lost_writes(&history, &snap);
        let tp = TopicPartition::new("orders", 0);
        println!(
            "{:?}",
            snap.partitions[&tp]
                .replica_states
                .values()
                .map(|r| (r.log_end_offset, r.high_watermark))
                .collect::<Vec<_>>()
        );
        (cluster.timeline(), acked, lost)
    });
    println!("{timeline}");
    println!("acked {acked}, lost {lost:?}");
    assert!(acked > 200);
    assert!(lost.is_empty());
}
