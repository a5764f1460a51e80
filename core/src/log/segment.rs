//! One segment of a partition's log: the bytes of its `.log`, `.index` and
//! `.timeindex` files, and the bookkeeping Kafka's `LogSegment` keeps in memory.

use std::ops::Range;

use bytes::Bytes;

use super::index::{OffsetIndex, TimeIndex};
use crate::record::{self, EntryHeader, NO_TIMESTAMP, RecordError, SetInfo};

#[derive(Clone, Debug)]
pub struct Segment {
    base_offset: i64,
    log: Vec<u8>,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    /// The offset after the last entry; the base offset while empty.
    next_offset: i64,
    index_interval_bytes: usize,
    bytes_since_last_index_entry: usize,
    max_timestamp: i64,
    /// Shallow offset of `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// Timestamp of the first entry (Kafka's `rollingBasedTimestamp`); None while empty.
    first_entry_timestamp: Option<i64>,
    created_ms: i64,
    last_modified_ms: i64,
    /// How many bytes of `log` have been fsynced.
    flushed_len: usize,
}

/// Where a shallow entry sits in a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPosition {
    /// The entry's own offset (a wrapper's is the offset of its last inner message).
    pub offset: i64,
    pub position: usize,
    pub len: usize,
}

impl Segment {
    pub fn new(
        base_offset: i64,
        index_interval_bytes: u32,
        segment_index_bytes: u32,
        now_ms: i64,
    ) -> Segment {
        Segment {
            base_offset,
            log: Vec::new(),
            offset_index: OffsetIndex::new(base_offset, segment_index_bytes as usize),
            time_index: TimeIndex::new(base_offset, segment_index_bytes as usize),
            next_offset: base_offset,
            index_interval_bytes: index_interval_bytes as usize,
            bytes_since_last_index_entry: 0,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            first_entry_timestamp: None,
            created_ms: now_ms,
            last_modified_ms: now_ms,
            flushed_len: 0,
        }
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// The offset the next entry appended here would get.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn size(&self) -> usize {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    pub fn log_bytes(&self) -> &[u8] {
        &self.log
    }

    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }

    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }

    pub fn flushed_len(&self) -> usize {
        self.flushed_len
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }

    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// What retention compares with `retention.ms`: the largest timestamp in the
    /// segment, or the time it was last written when it has none (v0).
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            self.max_timestamp
        } else {
            self.last_modified_ms
        }
    }

    /// How long this segment has been open for `segment.ms`: measured from its first
    /// message's timestamp to the incoming one when messages have timestamps, else
    /// from its creation to now (Kafka's `timeWaitedForRoll`).
    pub fn time_waited_for_roll(&self, now_ms: i64, incoming_max_timestamp: i64) -> i64 {
        match self.first_entry_timestamp {
            Some(first) if first >= 0 => incoming_max_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// Appends a message set written by `write` (which must append exactly the set
    /// `info` describes to the vector), then updates the indexes by Kafka's rule.
    pub fn append_with(&mut self, info: &SetInfo, now_ms: i64, write: impl FnOnce(&mut Vec<u8>)) {
        let position = self.log.len();
        write(&mut self.log);
        let size = self.log.len() - position;
        self.record_append(position, size, info, now_ms);
    }

    /// Kafka's `LogSegment.append`: an index entry marks an append that starts more
    /// than `index.interval.bytes` after the previous entry. It maps the append's
    /// largest offset to the append's first byte.
    fn record_append(&mut self, position: usize, size: usize, info: &SetInfo, now_ms: i64) {
        assert!(
            info.first_offset >= self.next_offset,
            "segment {} append at offset {} below its next offset {}",
            self.base_offset,
            info.first_offset,
            self.next_offset
        );
        if self.first_entry_timestamp.is_none() {
            self.first_entry_timestamp = Some(info.first_entry_timestamp);
        }
        if info.max_timestamp > self.max_timestamp {
            self.max_timestamp = info.max_timestamp;
            self.offset_of_max_timestamp = info.offset_of_max_timestamp;
        }
        if self.bytes_since_last_index_entry > self.index_interval_bytes {
            let position = u32::try_from(position).expect("segment positions fit in 4 bytes");
            self.offset_index.append(info.last_offset, position);
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp, false);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += size;
        self.next_offset = info.last_offset + 1;
        self.last_modified_ms = now_ms;
    }

    /// Rebuilds a segment from the bytes of its `.log` file, keeping the longest valid
    /// prefix: it stops at the first entry that is truncated, fails its CRC or length
    /// checks, or whose offset does not follow the one before. Returns the error that
    /// ended it, if one did.
    pub fn recover(
        base_offset: i64,
        mut bytes: Vec<u8>,
        next_segment_base_offset: Option<i64>,
        index_interval_bytes: u32,
        segment_index_bytes: u32,
        now_ms: i64,
    ) -> (Segment, Option<RecordError>) {
        let mut segment = Segment::new(
            base_offset,
            index_interval_bytes,
            segment_index_bytes,
            now_ms,
        );
        let mut valid_len = 0;
        let mut error = None;
        for entry in record::shallow_entries(&bytes) {
            let header = match entry
                .and_then(|h| segment.check_recovered_offset(h, next_segment_base_offset))
            {
                Ok(header) => header,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let info = SetInfo {
                first_offset: header.offset,
                last_offset: header.offset,
                max_timestamp: header.timestamp,
                offset_of_max_timestamp: header.offset,
                first_entry_timestamp: header.timestamp,
            };
            segment.record_append(header.position, header.entry_len(), &info, now_ms);
            valid_len = header.end();
        }
        bytes.truncate(valid_len);
        segment.log = bytes;
        // What survived is what the disk held: it is durable.
        segment.flushed_len = valid_len;
        (segment, error)
    }

    /// Offsets in a segment increase, fit its 4-byte relative offsets, and stay below the
    /// next segment's base offset. The offset field is outside the CRC, so a corrupted
    /// one is only caught here.
    fn check_recovered_offset(
        &self,
        header: EntryHeader,
        next_segment_base_offset: Option<i64>,
    ) -> Result<EntryHeader, RecordError> {
        let detail = if header.offset < self.next_offset {
            format!(
                "offset {} does not follow the previous entry's offset {}",
                header.offset,
                self.next_offset - 1
            )
        } else if header.offset - self.base_offset > i64::from(u32::MAX) {
            // No overflow: header.offset >= next_offset >= base_offset here.
            format!(
                "offset {} is out of range for a segment based at {}",
                header.offset, self.base_offset
            )
        } else if header.offset == i64::MAX {
            "offset i64::MAX leaves no room for a next offset".to_string()
        } else if let Some(next) = next_segment_base_offset.filter(|&next| header.offset >= next) {
            format!(
                "offset {} is at or past {next}, where the next segment starts",
                header.offset
            )
        } else {
            return Ok(header);
        };
        Err(RecordError {
            position: header.position,
            offset: Some(header.offset),
            kind: record::ErrorKind::BadLength { detail },
        })
    }

    /// Kafka's `translateOffset`: the first shallow entry whose offset is >= `target`,
    /// found by an index lookup followed by a forward scan.
    pub fn translate_offset(&self, target: i64) -> Option<EntryPosition> {
        let (_, start) = self.offset_index.lookup(target);
        self.scan_from(start as usize)
            .find(|entry| entry.offset >= target)
    }

    /// The shallow entries from `position` on, read from their headers only.
    pub fn scan_from(&self, position: usize) -> impl Iterator<Item = EntryPosition> + '_ {
        let mut position = position;
        std::iter::from_fn(move || {
            let (offset, size) = record::peek_offset_and_size(&self.log, position)?;
            let entry = EntryPosition {
                offset,
                position,
                len: record::LOG_OVERHEAD + size,
            };
            position += entry.len;
            (position <= self.log.len()).then_some(entry)
        })
    }

    /// The byte range of whole entries from `start_offset` on, at most `max_bytes` long
    /// (but at least one entry when `min_one_message`), holding only entries whose
    /// offset is below `max_offset`. None when nothing qualifies.
    pub fn read(
        &self,
        start_offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_message: bool,
    ) -> Option<Range<usize>> {
        let first = self.translate_offset(start_offset)?;
        let mut end = first.position;
        for entry in self.scan_from(first.position) {
            let fits = entry.position + entry.len - first.position <= max_bytes
                || (min_one_message && end == first.position);
            if entry.offset >= max_offset || !fits {
                break;
            }
            end = entry.position + entry.len;
        }
        (end > first.position).then_some(first.position..end)
    }

    /// The bytes of `range`, copied out of the segment.
    pub fn slice(&self, range: Range<usize>) -> Bytes {
        Bytes::copy_from_slice(&self.log[range])
    }

    /// Kafka's `LogSegment.truncateTo`: removes every entry at or after the first whose
    /// offset is >= `offset` (a wrapper holding `offset` goes whole). Returns the bytes
    /// removed.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> usize {
        let Some(cut) = self.translate_offset(offset) else {
            return 0;
        };
        let removed = self.log.len() - cut.position;
        self.log.truncate(cut.position);
        self.offset_index.truncate_to(offset);
        self.time_index.truncate_to(offset);
        self.flushed_len = self.flushed_len.min(cut.position);
        self.next_offset = self
            .last_entry_offset()
            .map_or(self.base_offset, |last| last + 1);
        self.bytes_since_last_index_entry = 0;
        if self.log.is_empty() {
            self.created_ms = now_ms;
            self.first_entry_timestamp = None;
        }
        self.recompute_max_timestamp();
        removed
    }

    /// The offset of the last shallow entry, found from the last index entry.
    fn last_entry_offset(&self) -> Option<i64> {
        let start = self
            .offset_index
            .len()
            .checked_sub(1)
            .map_or(0, |n| self.offset_index.entry(n).1);
        self.scan_from(start as usize)
            .last()
            .map(|entry| entry.offset)
    }

    /// Kafka's `readLargestTimestamp`: from the last time-index entry, scan forward.
    fn recompute_max_timestamp(&mut self) {
        let (mut max_timestamp, mut offset_of_max) = self.time_index.last_entry();
        let (_, start) = self.offset_index.lookup(offset_of_max);
        for entry in self.scan_from(start as usize) {
            let timestamp =
                record::peek_timestamp(&self.log, entry.position).unwrap_or(NO_TIMESTAMP);
            if timestamp > max_timestamp {
                (max_timestamp, offset_of_max) = (timestamp, entry.offset);
            }
        }
        self.max_timestamp = max_timestamp;
        self.offset_of_max_timestamp = offset_of_max;
    }

    /// Kafka's `onBecomeInactiveSegment`: when the segment rolls, its time index gets a
    /// final entry for its max timestamp, even if the index is full.
    pub fn on_become_inactive(&mut self) {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp, true);
    }

    /// Marks every byte as fsynced.
    pub fn flush(&mut self) {
        self.flushed_len = self.log.len();
    }

    /// Kafka's `findOffsetByTimestamp`: the first entry at or after `starting_offset`
    /// whose timestamp is >= `target`, as (timestamp, offset). Opens wrappers, so the
    /// offset is an inner message's.
    pub fn find_offset_by_timestamp(
        &self,
        target: i64,
        starting_offset: i64,
    ) -> Option<(i64, i64)> {
        let (_, indexed_offset) = self.time_index.lookup(target);
        let (_, start) = self
            .offset_index
            .lookup(indexed_offset.max(starting_offset));
        let bytes = Bytes::copy_from_slice(&self.log[start as usize..]);
        for header in record::shallow_entries(&bytes) {
            let header = header.ok()?;
            if header.timestamp < target {
                continue;
            }
            let entries = match header.compression {
                record::Compression::None => {
                    vec![record::LogEntry {
                        offset: header.offset,
                        message: header.message(&bytes),
                    }]
                }
                _ => record::decode_wrapper(&bytes, &header).ok()?,
            };
            if let Some(found) = entries
                .iter()
                .find(|entry| entry.message.timestamp >= target && entry.offset >= starting_offset)
            {
                return Some((found.message.timestamp, found.offset));
            }
        }
        None
    }
}
