//! A segment's two sparse indexes, kept as the exact bytes of Kafka's `.index` and
//! `.timeindex` files.
//!
//! `.index`: 8-byte entries, a 4-byte offset relative to the segment's base offset then
//! a 4-byte position in the `.log` file. `.timeindex`: 12-byte entries, an 8-byte
//! timestamp then a 4-byte relative offset; entry (T, O) says the largest timestamp seen
//! up to offset O is T. Both are searched by binary search, as Kafka does.

use crate::record::NO_TIMESTAMP;

pub const OFFSET_INDEX_ENTRY_SIZE: usize = 8;
pub const TIME_INDEX_ENTRY_SIZE: usize = 12;

/// `.index`: offset -> position in the segment's `.log` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetIndex {
    base_offset: i64,
    bytes: Vec<u8>,
    max_entries: usize,
}

impl OffsetIndex {
    /// `max_index_bytes` is `segment.index.bytes`: the index is full at that size.
    pub fn new(base_offset: i64, max_index_bytes: usize) -> OffsetIndex {
        OffsetIndex {
            base_offset,
            bytes: Vec::new(),
            max_entries: max_index_bytes / OFFSET_INDEX_ENTRY_SIZE,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / OFFSET_INDEX_ENTRY_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.len() >= self.max_entries
    }

    /// Entry `n` as (absolute offset, position).
    pub fn entry(&self, n: usize) -> (i64, u32) {
        let at = n * OFFSET_INDEX_ENTRY_SIZE;
        let relative = u32::from_be_bytes(self.bytes[at..at + 4].try_into().expect("4 bytes"));
        let position = u32::from_be_bytes(self.bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        (self.base_offset + i64::from(relative), position)
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        (0..self.len()).map(|n| self.entry(n))
    }

    /// Appends (offset, position). Offsets must increase: Kafka throws otherwise.
    pub fn append(&mut self, offset: i64, position: u32) {
        if let Some(n) = self.len().checked_sub(1) {
            let (last, last_position) = self.entry(n);
            assert!(
                offset > last && position > last_position,
                "offset index entries must increase: ({offset}, {position}) after ({last}, {last_position})"
            );
        }
        assert!(!self.is_full(), "append to a full offset index");
        let relative =
            u32::try_from(offset - self.base_offset).expect("relative offset fits in 4 bytes");
        self.bytes.extend_from_slice(&relative.to_be_bytes());
        self.bytes.extend_from_slice(&position.to_be_bytes());
    }

    /// The largest entry with offset <= `target`, or (base offset, 0) when there is none.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let count = self.entries_at_or_below(|offset| offset <= target);
        match count.checked_sub(1) {
            Some(n) => self.entry(n),
            None => (self.base_offset, 0),
        }
    }

    /// Removes every entry with offset >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        let keep = self.entries_at_or_below(|entry| entry < offset);
        self.bytes.truncate(keep * OFFSET_INDEX_ENTRY_SIZE);
    }

    /// How many leading entries satisfy `below` (which holds for a prefix).
    fn entries_at_or_below(&self, below: impl Fn(i64) -> bool) -> usize {
        partition_point(self.len(), |n| below(self.entry(n).0))
    }
}

/// `.timeindex`: timestamp -> offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeIndex {
    base_offset: i64,
    bytes: Vec<u8>,
    max_entries: usize,
}

impl TimeIndex {
    pub fn new(base_offset: i64, max_index_bytes: usize) -> TimeIndex {
        TimeIndex {
            base_offset,
            bytes: Vec::new(),
            max_entries: max_index_bytes / TIME_INDEX_ENTRY_SIZE,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / TIME_INDEX_ENTRY_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.len() >= self.max_entries
    }

    /// Entry `n` as (timestamp, absolute offset).
    pub fn entry(&self, n: usize) -> (i64, i64) {
        let at = n * TIME_INDEX_ENTRY_SIZE;
        let timestamp = i64::from_be_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"));
        let relative = u32::from_be_bytes(self.bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        (timestamp, self.base_offset + i64::from(relative))
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        (0..self.len()).map(|n| self.entry(n))
    }

    /// The last entry, or (NO_TIMESTAMP, base offset) when empty, as Kafka's `lastEntry`.
    pub fn last_entry(&self) -> (i64, i64) {
        match self.len().checked_sub(1) {
            Some(n) => self.entry(n),
            None => (NO_TIMESTAMP, self.base_offset),
        }
    }

    /// Kafka's `maybeAppend`: appends only when `timestamp` is larger than the last
    /// entry's, so a v0 log (every timestamp -1) has an empty time index. The full check
    /// is skipped when a segment is rolled, which needs room for one final entry.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64, skip_full_check: bool) {
        let (last_timestamp, last_offset) = self.last_entry();
        if timestamp <= last_timestamp {
            return;
        }
        assert!(
            self.is_empty() || offset >= last_offset,
            "time index offsets must not decrease: {offset} after {last_offset}"
        );
        assert!(
            skip_full_check || !self.is_full(),
            "append to a full time index"
        );
        let relative =
            u32::try_from(offset - self.base_offset).expect("relative offset fits in 4 bytes");
        self.bytes.extend_from_slice(&timestamp.to_be_bytes());
        self.bytes.extend_from_slice(&relative.to_be_bytes());
    }

    /// The entry with the largest timestamp <= `target`, or (NO_TIMESTAMP, base offset).
    pub fn lookup(&self, target: i64) -> (i64, i64) {
        let count = partition_point(self.len(), |n| self.entry(n).0 <= target);
        match count.checked_sub(1) {
            Some(n) => self.entry(n),
            None => (NO_TIMESTAMP, self.base_offset),
        }
    }

    /// Removes every entry with offset >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        let keep = partition_point(self.len(), |n| self.entry(n).1 < offset);
        self.bytes.truncate(keep * TIME_INDEX_ENTRY_SIZE);
    }
}

/// The number of leading indexes in `0..len` for which `pred` holds (a binary search;
/// `pred` must hold for a prefix).
fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if pred(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_stores_relative_offsets_as_kafka_does() {
        // "if the base offset was 50, then the offset 55 would be stored as 5"
        let mut index = OffsetIndex::new(50, 1024);
        index.append(55, 4100);
        assert_eq!(index.bytes(), &[0, 0, 0, 5, 0, 0, 0x10, 0x04]);
        assert_eq!(index.lookup(54), (50, 0));
        assert_eq!(index.lookup(55), (55, 4100));
        assert_eq!(index.lookup(1000), (55, 4100));
    }

    #[test]
    fn offset_index_is_full_at_its_byte_limit() {
        let mut index = OffsetIndex::new(0, 16);
        index.append(1, 10);
        assert!(!index.is_full());
        index.append(2, 20);
        assert!(index.is_full());
    }

    #[test]
    fn time_index_ignores_timestamps_that_do_not_grow() {
        let mut index = TimeIndex::new(100, 1200);
        index.maybe_append(NO_TIMESTAMP, 100, false);
        assert!(
            index.is_empty(),
            "v0's missing timestamps never enter the time index"
        );
        index.maybe_append(1000, 103, false);
        index.maybe_append(1000, 105, false);
        index.maybe_append(999, 106, false);
        index.maybe_append(2000, 110, false);
        assert_eq!(
            index.entries().collect::<Vec<_>>(),
            vec![(1000, 103), (2000, 110)]
        );
        assert_eq!(
            &index.bytes()[..12],
            &[0, 0, 0, 0, 0, 0, 3, 0xe8, 0, 0, 0, 3]
        );
        assert_eq!(index.lookup(999), (NO_TIMESTAMP, 100));
        assert_eq!(index.lookup(1500), (1000, 103));
        index.truncate_to(110);
        assert_eq!(index.last_entry(), (1000, 103));
    }
}
