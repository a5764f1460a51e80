//! Helpers shared by the sim test files.

use kafkasim_core::protocol::TopicPartition;
use kafkasim_sim::cluster::{Cluster, ClusterBuilder};
use kafkasim_sim::trace::TraceEntry;

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

/// Fails, printing the whole timeline, unless each wanted event happened: `"kind"` or
/// `"kind field=value field=value"`, fields compared as [`kafkasim_sim::events::Value`]
/// displays them (`orders-0`, `[1,2]`, `true`). Kinds and fields, not sentences: a
/// reworded or translated sentence breaks no test.
#[track_caller]
#[allow(dead_code)] // not every test file checks events
pub fn assert_events(trace: &[TraceEntry], wanted: &[&str]) {
    for want in wanted {
        let mut words = want.split(' ');
        let kind = words.next().unwrap_or_default();
        assert!(
            kafkasim_sim::events::Kind::named(kind).is_some(),
            "no event kind {kind:?}"
        );
        let fields: Vec<(&str, &str)> = words
            .map(|w| w.split_once('=').expect("field=value"))
            .collect();
        let found = trace.iter().any(|e| {
            let (k, f) = e.data();
            k.name() == kind
                && fields.iter().all(|(n, v)| {
                    f.iter()
                        .any(|(fname, fv)| fname == n && fv.to_string() == *v)
                })
        });
        assert!(found, "no {want:?} event\n{}", timeline(trace));
    }
}

/// The trace as narrated lines.
#[allow(dead_code)]
pub fn timeline(trace: &[TraceEntry]) -> String {
    trace
        .iter()
        .map(TraceEntry::line)
        .collect::<Vec<_>>()
        .join("\n")
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
