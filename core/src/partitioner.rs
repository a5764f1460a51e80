//! Kafka's default partitioner, exactly (`KafkaProducer.partition` and
//! `BuiltInPartitioner`):
//!
//! 1. an explicit partition wins;
//! 2. a key goes to `toPositive(murmur2(key)) % numPartitions` over *all* partitions;
//! 3. a null key (or any key with `partitioner.ignore.keys`) goes to the topic's sticky
//!    partition, which changes once `batch.size` bytes were produced to it and its batch
//!    is full, or unconditionally at twice that, to a partition picked at random from
//!    those with a leader (weighted by queue length with adaptive partitioning).
//!
//! Before Kafka 2.4 null keys went round robin; [`NullKeyStrategy::RoundRobin`] keeps
//! that for lessons about history.

use std::collections::BTreeMap;

use crate::rng::RandomSource;

/// Kafka's `Utils.murmur2`: MurmurHash2 with seed 0x9747b28c and Java's 32-bit
/// wrap-around arithmetic.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java's switch falls through from case 3 to case 1.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows).
pub fn to_positive(number: i32) -> i32 {
    number & 0x7fff_ffff
}

/// The partition of a non-null key among `num_partitions` (all of them, available or
/// not: a key keeps its partition when a leader is down).
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    assert!(num_partitions > 0, "a topic has at least one partition");
    to_positive(murmur2(key)) as u32 % num_partitions
}

/// How records with a null key are spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NullKeyStrategy {
    /// Kafka 3.3+ (KIP-794): stick to one partition per topic until a batch fills.
    #[default]
    UniformSticky,
    /// Kafka before 2.4: one partition after another, from a random start per topic.
    RoundRobin,
}

/// The producer settings the partitioner reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionerConfig {
    /// `batch.size`: how many bytes to produce to the sticky partition before moving.
    pub batch_size: usize,
    /// `partitioner.ignore.keys`: treat every key as null.
    pub ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable`: prefer partitions with short queues.
    pub adaptive_partitioning: bool,
    pub null_key_strategy: NullKeyStrategy,
}

impl Default for PartitionerConfig {
    fn default() -> PartitionerConfig {
        PartitionerConfig {
            batch_size: 16384,
            ignore_keys: false,
            adaptive_partitioning: true,
            null_key_strategy: NullKeyStrategy::UniformSticky,
        }
    }
}

/// A topic's partitions as the producer's metadata knows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicPartitions<'a> {
    /// Number of partitions.
    pub count: u32,
    /// Partitions that currently have a leader, ascending.
    pub available: &'a [u32],
}

/// Adaptive partitioning's cumulative frequency table (Kafka's `PartitionLoadStats`):
/// each available partition weighs `max queue size + 1 - its queue size`, so shorter
/// queues are picked more often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLoad {
    partition_ids: Vec<u32>,
    cumulative_frequencies: Vec<u32>,
}

impl PartitionLoad {
    /// Kafka's `updatePartitionLoadStats`: None when weighting would change nothing
    /// (fewer than two partitions, or every partition available with equal queues).
    pub fn from_queue_sizes(
        partition_ids: &[u32],
        queue_sizes: &[u32],
        num_partitions: u32,
    ) -> Option<PartitionLoad> {
        assert_eq!(
            partition_ids.len(),
            queue_sizes.len(),
            "one queue size per partition"
        );
        if partition_ids.is_empty() || num_partitions < 2 {
            return None;
        }
        let max_plus_one = queue_sizes.iter().max().copied().unwrap_or(0) + 1;
        let all_equal = queue_sizes.iter().all(|&q| q == queue_sizes[0]);
        if all_equal && partition_ids.len() == num_partitions as usize {
            return None;
        }
        let mut running = 0;
        let cumulative_frequencies = queue_sizes
            .iter()
            .map(|&q| {
                running += max_plus_one - q;
                running
            })
            .collect();
        Some(PartitionLoad {
            partition_ids: partition_ids.to_vec(),
            cumulative_frequencies,
        })
    }

    pub fn cumulative_frequencies(&self) -> &[u32] {
        &self.cumulative_frequencies
    }

    /// The partition for a random value: the first whose cumulative frequency is
    /// strictly greater than `random % total`.
    pub fn pick(&self, random: u32) -> u32 {
        let total = *self.cumulative_frequencies.last().expect("never empty");
        let weighted = random % total;
        let index = self
            .cumulative_frequencies
            .partition_point(|&c| c <= weighted);
        self.partition_ids[index]
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TopicState {
    /// The sticky partition and the bytes produced to it since it was chosen.
    sticky: Option<(u32, usize)>,
    round_robin_counter: Option<i32>,
    load: Option<PartitionLoad>,
}

/// The producer's partitioner, holding per-topic sticky state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partitioner {
    config: PartitionerConfig,
    topics: BTreeMap<String, TopicState>,
}

impl Partitioner {
    pub fn new(config: PartitionerConfig) -> Partitioner {
        Partitioner {
            config,
            topics: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &PartitionerConfig {
        &self.config
    }

    /// The partition for a record (Kafka's `KafkaProducer.partition`, with the
    /// built-in partitioner's choice for null keys).
    pub fn partition(
        &mut self,
        topic: &str,
        explicit: Option<u32>,
        key: Option<&[u8]>,
        partitions: TopicPartitions<'_>,
        rng: &mut dyn RandomSource,
    ) -> u32 {
        if let Some(partition) = explicit {
            return partition;
        }
        if let Some(key) = key.filter(|_| !self.config.ignore_keys) {
            return partition_for_key(key, partitions.count);
        }
        let state = self.topics.entry(topic.to_string()).or_default();
        match self.config.null_key_strategy {
            NullKeyStrategy::UniformSticky => match state.sticky {
                Some((partition, _)) => partition,
                None => {
                    let partition = next_partition(partitions, state.load.as_ref(), rng);
                    state.sticky = Some((partition, 0));
                    partition
                }
            },
            NullKeyStrategy::RoundRobin => {
                let counter = state
                    .round_robin_counter
                    .get_or_insert_with(|| rng.next_u32() as i32);
                let next = to_positive(*counter) as usize;
                *counter = counter.wrapping_add(1);
                if partitions.available.is_empty() {
                    (next % partitions.count as usize) as u32
                } else {
                    partitions.available[next % partitions.available.len()]
                }
            }
        }
    }

    /// Kafka's `updatePartitionInfo`, after `appended_bytes` for a null key went to the
    /// sticky `partition`: move on once `batch.size` bytes went there and its batch is
    /// full (`batch_full`), or at twice `batch.size` regardless. Returns the new sticky
    /// partition when it changed.
    pub fn record_appended(
        &mut self,
        topic: &str,
        partition: u32,
        appended_bytes: usize,
        batch_full: bool,
        partitions: TopicPartitions<'_>,
        rng: &mut dyn RandomSource,
    ) -> Option<u32> {
        if self.config.null_key_strategy != NullKeyStrategy::UniformSticky {
            return None;
        }
        let batch_size = self.config.batch_size;
        let state = self.topics.get_mut(topic)?;
        let (sticky, produced) = state.sticky.as_mut()?;
        if *sticky != partition {
            return None;
        }
        *produced += appended_bytes;
        if (*produced >= batch_size && batch_full) || *produced >= 2 * batch_size {
            let next = next_partition(partitions, state.load.as_ref(), rng);
            state.sticky = Some((next, 0));
            return Some(next);
        }
        None
    }

    /// The sender reports queue lengths (batches waiting) of the available partitions.
    pub fn update_load(
        &mut self,
        topic: &str,
        partition_ids: &[u32],
        queue_sizes: &[u32],
        num_partitions: u32,
    ) {
        let load = if self.config.adaptive_partitioning {
            PartitionLoad::from_queue_sizes(partition_ids, queue_sizes, num_partitions)
        } else {
            None
        };
        self.topics.entry(topic.to_string()).or_default().load = load;
    }
}

/// Kafka's `BuiltInPartitioner.nextPartition`: weighted by load when there is load
/// information, else uniform over the partitions with a leader, else over all.
fn next_partition(
    partitions: TopicPartitions<'_>,
    load: Option<&PartitionLoad>,
    rng: &mut dyn RandomSource,
) -> u32 {
    let random = to_positive(rng.next_u32() as i32) as u32;
    match load {
        Some(load) => load.pick(random),
        None if !partitions.available.is_empty() => {
            partitions.available[random as usize % partitions.available.len()]
        }
        None => random % partitions.count,
    }
}
