//! Kafka's default partitioner: the murmur2 vectors of kafka-facts.md section 3.3, the
//! precedence rules, and the sticky and round-robin null-key strategies.

use kafkasim_core::partitioner::{
    self, NullKeyStrategy, PartitionLoad, Partitioner, PartitionerConfig, TopicPartitions, murmur2,
    to_positive,
};
use kafkasim_core::rng::{Scripted, SplitMix64};

#[test]
fn murmur2_matches_kafkas_own_test_vectors() {
    // UtilsTest.testMurmur2
    let cases: [(&[u8], i32); 6] = [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58897971,
        ),
        (b"abc", 479470107),
    ];
    for (key, hash) in cases {
        assert_eq!(murmur2(key), hash, "{}", String::from_utf8_lossy(key));
    }
}

#[test]
fn partitions_match_kafka_python_and_the_computed_table() {
    // kafka-python's test_murmur2_java_compatibility, 1000 partitions.
    let python: [(&[u8], u32); 6] = [
        (b"", 681),
        (b"a", 524),
        (b"ab", 434),
        (b"abc", 107),
        (b"123456789", 566),
        (b"\x00 ", 742),
    ];
    for (key, partition) in python {
        assert_eq!(partitioner::partition_for_key(key, 1000), partition);
    }
    // kafka-facts.md 3.3: key, murmur2, toPositive, partition for n = 1 2 3 6 10 12 100 1000.
    let table: [(&[u8], i32, i32, [u32; 8]); 13] = [
        (b"", 275646681, 275646681, [0, 1, 0, 3, 1, 9, 81, 681]),
        (b"a", -1563381124, 584102524, [0, 0, 1, 4, 4, 4, 24, 524]),
        (b"ab", 316155434, 316155434, [0, 0, 2, 2, 4, 2, 34, 434]),
        (b"abc", 479470107, 479470107, [0, 1, 0, 3, 7, 3, 7, 107]),
        (
            b"123456789",
            -1822237082,
            325246566,
            [0, 0, 0, 0, 6, 6, 66, 566],
        ),
        (
            b"\x00 ",
            1121897742,
            1121897742,
            [0, 0, 0, 0, 2, 6, 42, 742],
        ),
        (b"21", -973932308, 1173551340, [0, 0, 0, 0, 0, 0, 40, 340]),
        (
            b"foobar",
            -790332482,
            1357151166,
            [0, 0, 0, 0, 6, 6, 66, 166],
        ),
        (b"key-0", 29210041, 29210041, [0, 1, 1, 1, 1, 1, 41, 41]),
        (b"key-1", 193331640, 193331640, [0, 0, 0, 0, 0, 0, 40, 640]),
        (b"key-2", 852269702, 852269702, [0, 0, 2, 2, 2, 2, 2, 702]),
        (
            b"hello",
            2132663229,
            2132663229,
            [0, 1, 0, 3, 9, 9, 29, 229],
        ),
        (
            b"kafka",
            -798503068,
            1348980580,
            [0, 0, 1, 4, 0, 4, 80, 580],
        ),
    ];
    for (key, hash, positive, partitions) in table {
        assert_eq!(murmur2(key), hash);
        assert_eq!(to_positive(hash), positive);
        for (n, expected) in [1, 2, 3, 6, 10, 12, 100, 1000].into_iter().zip(partitions) {
            assert_eq!(
                partitioner::partition_for_key(key, n),
                expected,
                "{key:?} % {n}"
            );
        }
    }
}

#[test]
fn to_positive_clears_the_sign_bit_rather_than_negating() {
    assert_eq!(to_positive(i32::MIN), 0);
    assert_eq!(to_positive(-1), i32::MAX);
}

const SIX: TopicPartitions<'static> = TopicPartitions {
    count: 6,
    available: &[0, 1, 2, 3, 4, 5],
};

#[test]
fn an_explicit_partition_wins_and_keys_hash_over_all_partitions() {
    let mut p = Partitioner::default();
    let mut rng = SplitMix64::new(1);
    assert_eq!(p.partition("t", Some(4), Some(b"kafka"), SIX, &mut rng), 4);
    // "kafka" % 6 = 4 even when partition 4 has no leader: keys keep their partition.
    let degraded = TopicPartitions {
        count: 6,
        available: &[0, 1],
    };
    assert_eq!(
        p.partition("t", None, Some(b"kafka"), degraded, &mut rng),
        4
    );
    // partitioner.ignore.keys sends keyed records the sticky way.
    let mut p = Partitioner::new(PartitionerConfig {
        ignore_keys: true,
        ..PartitionerConfig::default()
    });
    let mut rng = Scripted::new(vec![1]);
    assert_eq!(p.partition("t", None, Some(b"kafka"), SIX, &mut rng), 1);
}

#[test]
fn null_keys_stick_to_a_partition_until_its_batch_is_full() {
    let config = PartitionerConfig {
        batch_size: 100,
        ..PartitionerConfig::default()
    };
    let mut p = Partitioner::new(config);
    // Random draws pick available[draw % 6]: 2, then 5, then 3.
    let mut rng = Scripted::new(vec![2, 11, 9]);
    assert_eq!(p.partition("t", None, None, SIX, &mut rng), 2);
    assert_eq!(p.record_appended("t", 2, 60, false, SIX, &mut rng), None);
    assert_eq!(p.partition("t", None, None, SIX, &mut rng), 2);
    // 120 bytes >= batch.size but the batch is not full yet: stay.
    assert_eq!(p.record_appended("t", 2, 60, false, SIX, &mut rng), None);
    // Full batch: switch.
    assert_eq!(p.record_appended("t", 2, 10, true, SIX, &mut rng), Some(5));
    assert_eq!(p.partition("t", None, None, SIX, &mut rng), 5);
    // At twice batch.size it switches even without a full batch.
    assert_eq!(p.record_appended("t", 5, 199, false, SIX, &mut rng), None);
    assert_eq!(p.record_appended("t", 5, 1, false, SIX, &mut rng), Some(3));
    // Topics stick independently.
    assert_eq!(
        p.partition("other", None, None, SIX, &mut Scripted::new(vec![0])),
        0
    );
    assert_eq!(p.partition("t", None, None, SIX, &mut rng), 3);
}

#[test]
fn null_keys_only_go_to_partitions_with_a_leader() {
    let degraded = TopicPartitions {
        count: 6,
        available: &[1, 4],
    };
    let mut rng = SplitMix64::new(7);
    for topic in 0..50 {
        let mut p = Partitioner::default();
        let partition = p.partition(&format!("t{topic}"), None, None, degraded, &mut rng);
        assert!([1, 4].contains(&partition));
    }
    // With no leader anywhere, any partition.
    let none = TopicPartitions {
        count: 6,
        available: &[],
    };
    assert_eq!(
        Partitioner::default().partition("t", None, None, none, &mut Scripted::new(vec![9])),
        3
    );
}

#[test]
fn adaptive_partitioning_weighs_short_queues_more() {
    // Kafka's example: queue sizes 0 3 1 -> weights 4 1 3 -> CFT 4 5 8.
    let load = PartitionLoad::from_queue_sizes(&[0, 1, 2], &[0, 3, 1], 3).unwrap();
    assert_eq!(load.cumulative_frequencies(), [4, 5, 8]);
    let picks: Vec<_> = (0..8).map(|r| load.pick(r)).collect();
    assert_eq!(picks, [0, 0, 0, 0, 1, 2, 2, 2]);
    // Equal queues on every partition, or one partition, mean no weighting.
    assert_eq!(
        PartitionLoad::from_queue_sizes(&[0, 1, 2], &[2, 2, 2], 3),
        None
    );
    assert_eq!(PartitionLoad::from_queue_sizes(&[0], &[5], 1), None);
    // The partitioner uses it for the next sticky partition.
    let mut p = Partitioner::default();
    p.update_load("t", &[0, 1, 2], &[0, 3, 1], 3);
    let three = TopicPartitions {
        count: 3,
        available: &[0, 1, 2],
    };
    assert_eq!(
        p.partition("t", None, None, three, &mut Scripted::new(vec![4])),
        1
    );
}

#[test]
fn before_kafka_2_4_null_keys_went_round_robin() {
    let config = PartitionerConfig {
        null_key_strategy: NullKeyStrategy::RoundRobin,
        ..PartitionerConfig::default()
    };
    let mut p = Partitioner::new(config);
    let mut rng = Scripted::new(vec![4]);
    let picks: Vec<_> = (0..8)
        .map(|_| p.partition("t", None, None, SIX, &mut rng))
        .collect();
    assert_eq!(picks, [4, 5, 0, 1, 2, 3, 4, 5]);
    // Only available partitions, as DefaultPartitioner did.
    let degraded = TopicPartitions {
        count: 6,
        available: &[1, 3],
    };
    let picks: Vec<_> = (0..4)
        .map(|_| p.partition("t", None, None, degraded, &mut rng))
        .collect();
    assert_eq!(picks, [1, 3, 1, 3]);
}
