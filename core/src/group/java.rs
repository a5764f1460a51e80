//! The few Java behaviours Kafka's assignors leak into their results: `String.hashCode`,
//! `TopicPartition.hashCode`, `String.compareTo`, and the iteration order of a
//! `java.util.HashMap`/`HashSet` (buckets by spread hash, insertion order within a bucket,
//! a capacity that starts at 16 and doubles past 3/4 full). Kafka's sticky assignor picks
//! which consumers keep their extra partitions in HashMap order, so matching Kafka's
//! outputs means iterating as Java would.

use std::cmp::Ordering;

use crate::ids::TopicPartition;

/// `String.hashCode`: `31*h + c` over UTF-16 code units, wrapping.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// `TopicPartition.hashCode`: `31*(31 + partition) + topic.hashCode()`, wrapping.
pub fn topic_partition_hash(tp: &TopicPartition) -> i32 {
    let partition = tp.partition as i32;
    31i32
        .wrapping_mul(31i32.wrapping_add(partition))
        .wrapping_add(string_hash(&tp.topic))
}

/// `String.compareTo`: UTF-16 code units, a prefix first.
pub fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `HashMap.hash(key)`: the hash spread by `h ^ (h >>> 16)`.
fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

/// The table size of a HashMap (or HashSet) that once held `max_size` entries: 16,
/// doubled each time the size passed 3/4 of it. It never shrinks.
pub fn capacity_for(max_size: usize) -> u32 {
    let mut capacity = 16u32;
    while max_size > (capacity as usize) * 3 / 4 {
        capacity *= 2;
    }
    capacity
}

/// The order a `new HashMap<>()` filled by `put`s in the given order iterates its keys:
/// by bucket (`spread(hash) & (capacity - 1)`), then by insertion within a bucket.
/// Returns indexes into `hashes`.
pub fn iteration_order(hashes: &[i32]) -> Vec<usize> {
    let mask = capacity_for(hashes.len()) - 1;
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    // A stable sort keeps insertion order within a bucket (resizes split buckets
    // without reordering them).
    order.sort_by_key(|&i| spread(hashes[i]) & mask);
    order
}

/// A `java.util.HashSet<TopicPartition>` with adds and removes, whose first element in
/// iteration order is what Kafka's sticky assignor moves (`iterator().next()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JavaHashSet {
    /// (element, insertion sequence) of the elements present.
    entries: Vec<(TopicPartition, u64)>,
    next_seq: u64,
    max_size: usize,
}

impl JavaHashSet {
    pub fn insert(&mut self, tp: TopicPartition) {
        if self.entries.iter().any(|(e, _)| *e == tp) {
            return;
        }
        self.entries.push((tp, self.next_seq));
        self.next_seq += 1;
        self.max_size = self.max_size.max(self.entries.len());
    }

    pub fn remove(&mut self, tp: &TopicPartition) {
        self.entries.retain(|(e, _)| e != tp);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first element Java's iterator returns.
    pub fn first(&self) -> Option<&TopicPartition> {
        let mask = capacity_for(self.max_size) - 1;
        self.entries
            .iter()
            .min_by_key(|(tp, seq)| (spread(topic_partition_hash(tp)) & mask, *seq))
            .map(|(tp, _)| tp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_java() {
        // Values printed by Java (String.hashCode, TopicPartition.hashCode).
        assert_eq!(string_hash("topic"), 110546223);
        assert_eq!(string_hash("topic1"), -868034334);
        assert_eq!(string_hash("consumer1"), -421004549);
        assert_eq!(string_hash("consumer10"), -166239083);
        assert_eq!(
            topic_partition_hash(&TopicPartition::new("topic", 0)),
            110547184
        );
        assert_eq!(
            topic_partition_hash(&TopicPartition::new("topic", 2)),
            110547246
        );
        assert_eq!(
            topic_partition_hash(&TopicPartition::new("topic1", 1)),
            -868033342
        );
    }

    #[test]
    fn a_java_hash_map_of_consumers_iterates_in_bucket_order() {
        // consumer1..4 land in buckets 12, 11, 10, 9; "consumer" in 14.
        let keys = [
            "consumer1",
            "consumer2",
            "consumer3",
            "consumer4",
            "consumer",
        ];
        let hashes: Vec<i32> = keys.iter().map(|k| string_hash(k)).collect();
        let order: Vec<&str> = iteration_order(&hashes)
            .into_iter()
            .map(|i| keys[i])
            .collect();
        assert_eq!(
            order,
            [
                "consumer4",
                "consumer3",
                "consumer2",
                "consumer1",
                "consumer"
            ]
        );
    }
}
