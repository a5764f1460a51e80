//! Helpers shared by the sim test files.

use kafkasim_core::protocol::TopicPartition;
use kafkasim_sim::cluster::{Cluster, ClusterBuilder};

/// Kafka 2.4's failure detection (zookeeper.session.timeout.ms = 6000,
/// replica.lag.time.max.ms = 10000): the same rules, shorter runs.
pub fn kafka_2_4_timeouts(builder: ClusterBuilder) -> ClusterBuilder {
    builder.broker_config(|b| {
        b.zookeeper_session_timeout_ms = 6_000;
        b.replica_lag_time_max_ms = 10_000;
    })
}

/// Partition `p` of the tests' topic, `orders`.
pub fn orders(p: u32) -> TopicPartition {
    TopicPartition::new("orders", p)
}

/// Fails, printing the whole timeline, unless every sentence was narrated.
#[track_caller]
#[allow(dead_code)] // the producer tests narrate nothing
pub fn assert_narrated(timeline: &str, sentences: &[&str]) {
    for sentence in sentences {
        assert!(
            timeline.contains(sentence),
            "not narrated: {sentence:?}\n{timeline}"
        );
    }
}

/// Prints a lesson's narrated timeline when `KAFKASIM_SHOW` is set, without the high
/// watermark's every step unless it is `all`: how the book's chapters run these tests.
#[allow(dead_code)] // not every test file shows a lesson
pub fn show(lesson: &str, timeline: &str) {
    let Ok(level) = std::env::var("KAFKASIM_SHOW") else {
        return;
    };
    println!("=== {lesson}");
    for line in timeline.lines() {
        if level == "all" || !line.contains("the high watermark of") {
            println!("{line}");
        }
    }
}

/// The replicas of `tp` other than its leader.
#[allow(dead_code)] // not every test file needs it
pub fn followers(c: &Cluster, tp: &TopicPartition) -> Vec<i32> {
    let leader = c.leader(tp);
    let snapshot = c.snapshot_without_records();
    snapshot.partitions[tp]
        .replicas
        .iter()
        .copied()
        .filter(|&b| Some(b) != leader)
        .collect()
}
