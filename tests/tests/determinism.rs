//! The simulated world: virtual time, and randomness that comes from the seed alone.

use std::time::Duration;

use kafkasim_core::partitioner::{Partitioner, TopicPartitions};
use kafkasim_sim::rng::SimRng;
use kafkasim_sim::runtime::run_seeded;

const TWELVE: TopicPartitions<'static> = TopicPartitions {
    count: 12,
    available: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

/// The sticky partitions a producer of null-key records moves through, drawn from the
/// simulation's seeded generator.
fn sticky_partitions(seed: u64) -> Vec<u32> {
    run_seeded(seed, || async {
        let mut partitioner = Partitioner::default();
        let mut rng = SimRng;
        let mut visited = Vec::new();
        for _ in 0..40 {
            let partition = partitioner.partition("events", None, None, TWELVE, &mut rng);
            visited.push(partition);
            partitioner.record_appended("events", partition, 16_384, true, TWELVE, &mut rng);
        }
        visited
    })
}

#[test]
fn one_seed_gives_one_sequence_of_sticky_partitions() {
    let first = sticky_partitions(42);
    assert_eq!(first, sticky_partitions(42));
    assert_ne!(
        first,
        sticky_partitions(43),
        "another seed, another sequence"
    );
    // The picks spread over the partitions, as uniform random picks do.
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert!(distinct.len() >= 8, "{first:?}");
}

#[test]
fn simulated_time_is_virtual_and_exact() {
    let elapsed = run_seeded(1, || async {
        let start = madsim::time::Instant::now();
        madsim::time::sleep(Duration::from_secs(3600)).await;
        start.elapsed()
    });
    assert_eq!(elapsed.as_secs(), 3600);
}

#[test]
fn a_panic_inside_the_simulation_reaches_the_caller() {
    let result =
        std::panic::catch_unwind(|| run_seeded(5, || async { panic!("invariant broken") }));
    assert!(result.is_err());
}
