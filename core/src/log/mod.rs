//! A partition's log: an ordered list of segments, the last of them active.
//!
//! The rules are Kafka's `UnifiedLog`, `LocalLog` and `LogSegment`: offsets are assigned
//! on append, a segment rolls when it would pass `segment.bytes`, has been open for
//! `segment.ms`, or its index is full; retention deletes whole segments by `retention.ms`
//! and `retention.bytes`, never past the high watermark; truncation cuts whole entries;
//! recovery keeps exactly the valid prefix of the segments' bytes. The log never reads a
//! clock: every call that needs the time is given `now_ms`.

pub mod index;
pub mod segment;

use std::fmt;

use bytes::Bytes;

use crate::config::{ConfigError, LogConfig};
use crate::record::{self, Compression, LOG_OVERHEAD, Record, RecordError, SetFormat, SetInfo};
pub use segment::Segment;

/// `ListOffsets` timestamp meaning "the log start offset".
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// `ListOffsets` timestamp meaning "the log end offset".
pub const LATEST_TIMESTAMP: i64 = -1;
/// `ListOffsets` timestamp meaning "the message with the largest timestamp" (KIP-734).
pub const MAX_TIMESTAMP: i64 = -3;

/// A segment's file name stem: its base offset, zero-padded to 20 digits.
pub fn segment_file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

#[derive(Clone, Debug)]
pub struct Log {
    config: LogConfig,
    /// Sorted by base offset, never empty; the last one is active.
    segments: Vec<Segment>,
    log_start_offset: i64,
    /// Kafka's recovery point: every offset below it has been fsynced.
    recovery_point: i64,
}

/// Why the active segment was rolled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RollReason {
    /// `segment.bytes`: the append would not fit.
    SegmentBytes {
        size: usize,
        incoming: usize,
        limit: u32,
    },
    /// `segment.ms`: the segment has been open too long.
    SegmentMs { waited_ms: i64, limit_ms: i64 },
    /// `segment.index.bytes`: the offset index is full.
    OffsetIndexFull,
    /// `segment.index.bytes`: the time index is full.
    TimeIndexFull,
    /// The new offsets do not fit the segment's 4-byte relative offsets.
    RelativeOffsetOverflow,
    /// Retention is about to delete every segment; Kafka rolls first so the log keeps
    /// an active segment.
    RetentionDeletesAll,
}

impl fmt::Display for RollReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RollReason::SegmentBytes {
                size,
                incoming,
                limit,
            } => write!(
                f,
                "the active segment holds {size} bytes and {incoming} more would pass {limit} (segment.bytes)"
            ),
            RollReason::SegmentMs {
                waited_ms,
                limit_ms,
            } => write!(
                f,
                "the active segment has been open {waited_ms} ms, more than {limit_ms} ms (segment.ms)"
            ),
            RollReason::OffsetIndexFull => {
                write!(f, "its offset index is full (segment.index.bytes)")
            }
            RollReason::TimeIndexFull => write!(f, "its time index is full (segment.index.bytes)"),
            RollReason::RelativeOffsetOverflow => {
                write!(f, "the new offsets do not fit its 4-byte relative offsets")
            }
            RollReason::RetentionDeletesAll => {
                write!(
                    f,
                    "retention deletes every segment, and a log always keeps an active one"
                )
            }
        }
    }
}

/// A roll that happened: the new active segment and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roll {
    pub new_base_offset: i64,
    pub reason: RollReason,
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    /// The time stamped on the messages with `LogAppendTime`.
    pub log_append_time_ms: Option<i64>,
    /// Bytes written to the log.
    pub bytes: usize,
    pub roll: Option<Roll>,
    /// Whether `flush.messages` made this append fsync the log.
    pub flushed: bool,
}

/// A segment retention deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedSegment {
    pub base_offset: i64,
    /// The offset after its last entry.
    pub next_offset: i64,
    pub size: usize,
    pub reason: DeletionReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletionReason {
    /// Its largest timestamp is older than `retention.ms`.
    RetentionMs { age_ms: i64, limit_ms: i64 },
    /// The log is over `retention.bytes`.
    RetentionBytes { log_size: u64, limit: i64 },
}

/// What retention did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub deleted: Vec<DeletedSegment>,
    pub roll: Option<Roll>,
    pub log_start_offset: i64,
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments_recovered: usize,
    /// The first invalid entry, where recovery stopped, if any.
    pub truncation: Option<Truncation>,
    /// Base offsets of the segments after the truncated one, deleted whole.
    pub deleted_segments: Vec<i64>,
    pub log_end_offset: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub segment_base_offset: i64,
    pub valid_bytes: usize,
    pub dropped_bytes: usize,
    pub error: RecordError,
}

/// Errors a log operation returns. Each names the rule and the numbers involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogError {
    Config(ConfigError),
    /// An append with no records.
    EmptyAppend,
    /// A message larger than `max.message.bytes` (Kafka's RECORD_TOO_LARGE).
    MessageTooLarge {
        size: usize,
        max_message_bytes: u32,
    },
    /// An entry larger than a whole segment (Kafka's RecordBatchTooLargeException).
    LargerThanSegment {
        size: usize,
        segment_bytes: u32,
    },
    /// A read or timestamp lookup outside the log (Kafka's OFFSET_OUT_OF_RANGE).
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// A replicated set that starts below the log end offset.
    UnexpectedAppendOffset {
        first_offset: i64,
        log_end_offset: i64,
    },
    /// A replicated set whose offsets do not increase.
    NonMonotonicOffsets {
        previous: i64,
        next: i64,
    },
    /// Offsets would pass i64::MAX.
    OffsetOverflow {
        log_end_offset: i64,
    },
    /// Corrupt bytes in a replicated set.
    Corrupt(RecordError),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Config(e) => write!(f, "{e}"),
            LogError::EmptyAppend => write!(f, "an append must hold at least one record"),
            LogError::MessageTooLarge {
                size,
                max_message_bytes,
            } => write!(
                f,
                "a message of {size} bytes is larger than max.message.bytes = {max_message_bytes} (RECORD_TOO_LARGE)"
            ),
            LogError::LargerThanSegment {
                size,
                segment_bytes,
            } => write!(
                f,
                "an entry of {size} bytes is larger than a whole segment, segment.bytes = {segment_bytes}"
            ),
            LogError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            } => write!(
                f,
                "offset {offset} is out of range: the log holds {log_start_offset}..{log_end_offset} (OFFSET_OUT_OF_RANGE)"
            ),
            LogError::UnexpectedAppendOffset {
                first_offset,
                log_end_offset,
            } => write!(
                f,
                "a replicated set starting at offset {first_offset} is below the log end offset {log_end_offset}"
            ),
            LogError::NonMonotonicOffsets { previous, next } => {
                write!(f, "offsets must increase, but {next} follows {previous}")
            }
            LogError::OffsetOverflow { log_end_offset } => write!(
                f,
                "the log end offset {log_end_offset} leaves no room for more offsets below i64::MAX"
            ),
            LogError::Corrupt(e) => write!(f, "corrupt message set {e}"),
        }
    }
}

impl std::error::Error for LogError {}

impl Log {
    /// An empty log starting at offset 0.
    pub fn new(config: LogConfig, now_ms: i64) -> Result<Log, LogError> {
        config.validate().map_err(LogError::Config)?;
        let first = Segment::new(
            0,
            config.index_interval_bytes,
            config.segment_index_bytes,
            now_ms,
        );
        Ok(Log {
            config,
            segments: vec![first],
            log_start_offset: 0,
            recovery_point: 0,
        })
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// A topic's configs changed (`kafka-configs --alter`); Kafka validates them before
    /// they reach a log. Segments keep the index settings they were created with.
    pub fn set_config(&mut self, config: LogConfig) {
        debug_assert!(config.validate().is_ok(), "{config:?}");
        self.config = config;
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// LEO: the offset the next message will get.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    /// Every offset below this has been fsynced and survives a power loss.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a log always has an active segment")
    }

    /// Total bytes of all segments' `.log` files.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.size() as u64).sum()
    }

    /// Appends records as the leader: assigns offsets from the LEO, stamps timestamps
    /// per `message.timestamp.type`, writes one entry per record (or one gzip wrapper
    /// when the resolved `compression.type` is gzip).
    pub fn append(
        &mut self,
        records: &[Record],
        producer_compression: Compression,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        if records.is_empty() {
            return Err(LogError::EmptyAppend);
        }
        let format = SetFormat {
            magic: self.config.message_format,
            compression: self.config.compression_type.resolve(producer_compression),
            timestamp_type: self.config.message_timestamp_type,
        };
        let first_offset = self.log_end_offset();
        if first_offset.checked_add(records.len() as i64).is_none() {
            return Err(LogError::OffsetOverflow {
                log_end_offset: first_offset,
            });
        }
        let info = record::set_info(format, first_offset, records, now_ms);
        let append_time = (format.timestamp_type == record::TimestampType::LogAppendTime
            && format.magic == record::Magic::V1)
            .then_some(now_ms);
        let (roll, bytes) = match format.compression {
            Compression::None => {
                let (mut total, mut largest) = (0, 0);
                for record in records {
                    let size = record::message_size(
                        format.magic,
                        record.key.as_deref(),
                        record.value.as_deref(),
                    );
                    largest = largest.max(size);
                    total += LOG_OVERHEAD + size;
                }
                self.check_entry_size(largest)?;
                let roll = self.maybe_roll(total, &info, now_ms);
                let active = self.active_mut();
                active.append_with(&info, now_ms, |log| {
                    log.reserve(total);
                    record::write_message_set(format, first_offset, records, now_ms, log);
                });
                (roll, total)
            }
            Compression::Gzip => {
                let (bytes, _) = record::encode_message_set(format, first_offset, records, now_ms);
                self.check_entry_size(bytes.len() - LOG_OVERHEAD)?;
                let roll = self.maybe_roll(bytes.len(), &info, now_ms);
                self.active_mut()
                    .append_with(&info, now_ms, |log| log.extend_from_slice(&bytes));
                (roll, bytes.len())
            }
        };
        let flushed = self.maybe_flush();
        Ok(AppendInfo {
            first_offset,
            last_offset: info.last_offset,
            max_timestamp: info.max_timestamp,
            log_append_time_ms: append_time,
            bytes,
            roll,
            flushed,
        })
    }

    /// Appends a message set replicated from the leader, whose offsets are already
    /// assigned: every entry must be valid, its offsets increasing, the first at or
    /// above the LEO (Kafka's follower append).
    pub fn append_as_follower(
        &mut self,
        set: &Bytes,
        now_ms: i64,
    ) -> Result<Option<AppendInfo>, LogError> {
        let mut headers = Vec::new();
        for header in record::shallow_entries(set) {
            let header = header.map_err(LogError::Corrupt)?;
            if header.entry_len() > self.config.segment_bytes as usize {
                return Err(LogError::LargerThanSegment {
                    size: header.entry_len(),
                    segment_bytes: self.config.segment_bytes,
                });
            }
            if let Some(previous) = headers.last().map(|h: &record::EntryHeader| h.offset)
                && header.offset <= previous
            {
                return Err(LogError::NonMonotonicOffsets {
                    previous,
                    next: header.offset,
                });
            }
            headers.push(header);
        }
        let (Some(first), Some(last)) = (headers.first(), headers.last()) else {
            return Ok(None);
        };
        // A compressed entry's own offset is its last inner message's; open it to find
        // where the set really starts.
        let first_offset = match first.compression {
            Compression::None => first.offset,
            _ => record::decode_wrapper(set, first).map_err(LogError::Corrupt)?[0].offset,
        };
        let log_end_offset = self.log_end_offset();
        if last.offset == i64::MAX {
            return Err(LogError::OffsetOverflow { log_end_offset });
        }
        if first_offset < log_end_offset {
            return Err(LogError::UnexpectedAppendOffset {
                first_offset,
                log_end_offset,
            });
        }
        let (mut max_timestamp, mut offset_of_max_timestamp) = (record::NO_TIMESTAMP, first.offset);
        for header in &headers {
            if header.timestamp > max_timestamp {
                (max_timestamp, offset_of_max_timestamp) = (header.timestamp, header.offset);
            }
        }
        let info = SetInfo {
            first_offset,
            last_offset: last.offset,
            max_timestamp,
            offset_of_max_timestamp,
            first_entry_timestamp: first.timestamp,
        };
        let valid = &set[..last.end()];
        let roll = self.maybe_roll(valid.len(), &info, now_ms);
        self.active_mut()
            .append_with(&info, now_ms, |log| log.extend_from_slice(valid));
        let flushed = self.maybe_flush();
        Ok(Some(AppendInfo {
            first_offset,
            last_offset: last.offset,
            max_timestamp,
            log_append_time_ms: None,
            bytes: valid.len(),
            roll,
            flushed,
        }))
    }

    fn check_entry_size(&self, message_size: usize) -> Result<(), LogError> {
        if message_size > self.config.max_message_bytes as usize {
            return Err(LogError::MessageTooLarge {
                size: message_size,
                max_message_bytes: self.config.max_message_bytes,
            });
        }
        if LOG_OVERHEAD + message_size > self.config.segment_bytes as usize {
            return Err(LogError::LargerThanSegment {
                size: LOG_OVERHEAD + message_size,
                segment_bytes: self.config.segment_bytes,
            });
        }
        Ok(())
    }

    /// Messages not yet fsynced (Kafka's `unflushedMessages`).
    pub fn unflushed_messages(&self) -> i64 {
        self.log_end_offset() - self.recovery_point
    }

    /// `flush.messages`: fsync once enough messages are unflushed.
    fn maybe_flush(&mut self) -> bool {
        if self.unflushed_messages() >= self.config.flush_messages {
            self.flush();
            return true;
        }
        false
    }

    /// Kafka's `LogSegment.shouldRoll`, then roll.
    fn maybe_roll(&mut self, incoming: usize, info: &SetInfo, now_ms: i64) -> Option<Roll> {
        let active = self.active();
        let limit = self.config.segment_bytes;
        let waited_ms = active.time_waited_for_roll(now_ms, info.max_timestamp);
        let reason = if active.size() > (limit as usize).saturating_sub(incoming) {
            RollReason::SegmentBytes {
                size: active.size(),
                incoming,
                limit,
            }
        } else if !active.is_empty() && waited_ms > self.config.segment_ms {
            RollReason::SegmentMs {
                waited_ms,
                limit_ms: self.config.segment_ms,
            }
        } else if active.offset_index().is_full() {
            RollReason::OffsetIndexFull
        } else if active.time_index().is_full() {
            RollReason::TimeIndexFull
        } else if info.last_offset - active.base_offset() > i64::from(u32::MAX) {
            RollReason::RelativeOffsetOverflow
        } else {
            return None;
        };
        Some(self.roll(reason, now_ms))
    }

    /// Starts a new active segment at the LEO. The old one gets its final time-index
    /// entry and is flushed, as Kafka schedules a flush of everything below a new
    /// segment when it rolls.
    fn roll(&mut self, reason: RollReason, now_ms: i64) -> Roll {
        let new_base_offset = self.log_end_offset();
        let active = self.active_mut();
        if active.is_empty() {
            // Kafka replaces an empty active segment rather than stacking another at
            // the same base offset.
            self.segments.pop();
        } else {
            active.on_become_inactive();
        }
        self.segments.push(Segment::new(
            new_base_offset,
            self.config.index_interval_bytes,
            self.config.segment_index_bytes,
            now_ms,
        ));
        self.flush_up_to(new_base_offset);
        Roll {
            new_base_offset,
            reason,
        }
    }

    /// Reads whole entries from `start_offset` on, at most `max_bytes` (but at least one
    /// entry when `min_one_message`), only entries below `max_offset`: the LEO for a
    /// follower, the high watermark for a consumer. The bytes come from a single
    /// segment, as Kafka's reads do. A wrapper holding `start_offset` is returned whole:
    /// the reader skips the inner messages before it.
    pub fn read(
        &self,
        start_offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_message: bool,
    ) -> Result<Bytes, LogError> {
        self.check_in_range(start_offset)?;
        let first = self
            .segments
            .partition_point(|s| s.base_offset() <= start_offset)
            .saturating_sub(1);
        for segment in &self.segments[first..] {
            if segment.base_offset() >= max_offset {
                break;
            }
            if let Some(range) = segment.read(start_offset, max_bytes, max_offset, min_one_message)
            {
                return Ok(segment.slice(range));
            }
        }
        Ok(Bytes::new())
    }

    fn check_in_range(&self, offset: i64) -> Result<(), LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        Ok(())
    }

    /// Kafka's `fetchOffsetByTimestamp`: the earliest offset whose timestamp is >=
    /// `target`, as (timestamp, offset); or for the special targets, the log start
    /// ([`EARLIEST_TIMESTAMP`]), the log end ([`LATEST_TIMESTAMP`]) or the message with
    /// the largest timestamp ([`MAX_TIMESTAMP`]). None when no message qualifies.
    pub fn offset_for_timestamp(&self, target: i64) -> Option<(i64, i64)> {
        match target {
            EARLIEST_TIMESTAMP => Some((record::NO_TIMESTAMP, self.log_start_offset)),
            LATEST_TIMESTAMP => Some((record::NO_TIMESTAMP, self.log_end_offset())),
            MAX_TIMESTAMP => {
                let segment = self
                    .segments
                    .iter()
                    .filter(|s| !s.is_empty())
                    .max_by_key(|s| s.max_timestamp())?;
                Some((segment.max_timestamp(), segment.offset_of_max_timestamp()))
            }
            _ => self
                .segments
                .iter()
                .find(|s| s.largest_timestamp() >= target)?
                .find_offset_by_timestamp(target, self.log_start_offset),
        }
    }

    /// Deletes whole segments that `retention.ms` or `retention.bytes` say are expired,
    /// oldest first, stopping at the first that is not (Kafka's `deleteOldSegments`).
    /// A segment is only deletable if everything in it is below `high_watermark`. If
    /// every segment is to go, the log first rolls so that it keeps an active segment:
    /// the active segment itself is never deleted.
    pub fn delete_old_segments(&mut self, now_ms: i64, high_watermark: i64) -> RetentionOutcome {
        let mut outcome = RetentionOutcome::default();
        let retention_ms = self.config.retention_ms;
        if retention_ms >= 0 {
            self.delete_segments_while(high_watermark, now_ms, &mut outcome, |segment| {
                let age_ms = now_ms.saturating_sub(segment.largest_timestamp());
                (age_ms > retention_ms).then_some(DeletionReason::RetentionMs {
                    age_ms,
                    limit_ms: retention_ms,
                })
            });
        }
        let limit = self.config.retention_bytes;
        let log_size = self.size();
        if limit >= 0 && log_size >= limit as u64 {
            let mut excess = log_size as i64 - limit;
            self.delete_segments_while(high_watermark, now_ms, &mut outcome, |segment| {
                let size = segment.size() as i64;
                (excess - size >= 0).then(|| {
                    excess -= size;
                    DeletionReason::RetentionBytes { log_size, limit }
                })
            });
        }
        outcome.log_start_offset = self.log_start_offset;
        outcome
    }

    fn delete_segments_while(
        &mut self,
        high_watermark: i64,
        now_ms: i64,
        outcome: &mut RetentionOutcome,
        mut expired: impl FnMut(&Segment) -> Option<DeletionReason>,
    ) {
        let log_end_offset = self.log_end_offset();
        let mut deletable = Vec::new();
        for (n, segment) in self.segments.iter().enumerate() {
            let next = self.segments.get(n + 1);
            let upper_bound = next.map_or(log_end_offset, Segment::base_offset);
            let last_and_empty = next.is_none() && segment.is_empty();
            if last_and_empty || high_watermark < upper_bound {
                break;
            }
            match expired(segment) {
                Some(reason) => deletable.push(reason),
                None => break,
            }
        }
        if deletable.is_empty() {
            return;
        }
        if deletable.len() == self.segments.len() {
            outcome.roll = Some(self.roll(RollReason::RetentionDeletesAll, now_ms));
        }
        for (segment, reason) in self.segments.drain(..deletable.len()).zip(deletable) {
            outcome.deleted.push(DeletedSegment {
                base_offset: segment.base_offset(),
                next_offset: segment.next_offset(),
                size: segment.size(),
                reason,
            });
        }
        self.log_start_offset = self.log_start_offset.max(self.segments[0].base_offset());
        self.recovery_point = self.recovery_point.max(self.log_start_offset);
    }

    /// Kafka's `truncateTo`: removes every message at or above `offset` (a compressed
    /// wrapper holding `offset` goes whole). Returns whether anything was removed; the
    /// new LEO is [`Log::log_end_offset`]. Below the first segment it empties the log.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> bool {
        if offset >= self.log_end_offset() {
            return false;
        }
        if offset < self.segments[0].base_offset() {
            self.truncate_fully_and_start_at(offset, now_ms);
            return true;
        }
        let keep = self.segments.partition_point(|s| s.base_offset() <= offset);
        self.segments.truncate(keep.max(1));
        self.active_mut().truncate_to(offset, now_ms);
        self.log_start_offset = self.log_start_offset.min(offset);
        self.recovery_point = self.recovery_point.min(self.log_end_offset());
        true
    }

    /// Deletes everything and starts an empty log at `offset`: what a follower does when
    /// the leader's log starts past its own end.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: i64) {
        self.segments.clear();
        self.segments.push(Segment::new(
            offset,
            self.config.index_interval_bytes,
            self.config.segment_index_bytes,
            now_ms,
        ));
        self.log_start_offset = offset;
        self.recovery_point = offset;
    }

    /// Fsyncs every segment holding offsets below `offset` and moves the recovery
    /// point there (Kafka's `flush(offset)`).
    pub fn flush_up_to(&mut self, offset: i64) {
        let offset = offset.min(self.log_end_offset());
        if offset <= self.recovery_point {
            return;
        }
        let first = self
            .segments
            .partition_point(|s| s.next_offset() <= self.recovery_point);
        for segment in &mut self.segments[first..] {
            if segment.base_offset() >= offset {
                break;
            }
            segment.flush();
        }
        self.recovery_point = offset;
    }

    /// Fsyncs the whole log.
    pub fn flush(&mut self) {
        let log_end_offset = self.log_end_offset();
        self.active_mut().flush();
        self.flush_up_to(log_end_offset);
    }

    /// Rebuilds a log from the bytes of its segments' `.log` files (base offset, bytes),
    /// as Kafka does after an unclean shutdown: each segment keeps its longest valid
    /// prefix and its indexes are rebuilt; after the first segment that lost bytes,
    /// every later segment is deleted. The `.index` and `.timeindex` files are not
    /// needed: like Kafka, recovery rebuilds them.
    pub fn recover(
        config: LogConfig,
        mut files: Vec<(i64, Vec<u8>)>,
        now_ms: i64,
    ) -> Result<(Log, RecoveryReport), LogError> {
        config.validate().map_err(LogError::Config)?;
        files.sort_by_key(|(base_offset, _)| *base_offset);
        let mut segments: Vec<Segment> = Vec::with_capacity(files.len());
        let mut truncation = None;
        let mut deleted_segments = Vec::new();
        let next_bases: Vec<Option<i64>> = (0..files.len())
            .map(|n| files.get(n + 1).map(|f| f.0))
            .collect();
        for ((base_offset, bytes), next_base_offset) in files.into_iter().zip(next_bases) {
            if truncation.is_some() {
                deleted_segments.push(base_offset);
                continue;
            }
            let original_len = bytes.len();
            let (segment, error) = Segment::recover(
                base_offset,
                bytes,
                next_base_offset,
                config.index_interval_bytes,
                config.segment_index_bytes,
                now_ms,
            );
            if let Some(error) = error {
                truncation = Some(Truncation {
                    segment_base_offset: base_offset,
                    valid_bytes: segment.size(),
                    dropped_bytes: original_len - segment.size(),
                    error,
                });
            }
            segments.push(segment);
        }
        if segments.is_empty() {
            segments.push(Segment::new(
                0,
                config.index_interval_bytes,
                config.segment_index_bytes,
                now_ms,
            ));
        }
        let log_start_offset = segments[0].base_offset();
        // What recovery read is what the disk holds: all of it is durable.
        let recovery_point = segments.last().map_or(0, Segment::next_offset);
        let log = Log {
            config,
            segments,
            log_start_offset,
            recovery_point,
        };
        let report = RecoveryReport {
            segments_recovered: log.segments.len(),
            truncation,
            deleted_segments,
            log_end_offset: log.log_end_offset(),
        };
        Ok((log, report))
    }

    /// Every message in the log, wrappers opened, with absolute offsets.
    pub fn entries(&self) -> Result<Vec<record::LogEntry>, RecordError> {
        let mut out = Vec::new();
        for segment in &self.segments {
            out.extend(record::decode_entries(&Bytes::copy_from_slice(
                segment.log_bytes(),
            ))?);
        }
        Ok(out)
    }

    /// The log's files in Kafka's layout, under `<topic>-<partition>/`: for each segment
    /// its `.log`, `.index` and `.timeindex`, indexes trimmed to their entries as Kafka
    /// leaves them after a clean shutdown.
    pub fn files(&self, topic: &str, partition: u32) -> Vec<(String, &[u8])> {
        let dir = format!("{topic}-{partition}");
        let mut out = Vec::with_capacity(self.segments.len() * 3);
        for segment in &self.segments {
            let stem = segment_file_stem(segment.base_offset());
            out.push((format!("{dir}/{stem}.log"), segment.log_bytes()));
            out.push((
                format!("{dir}/{stem}.index"),
                segment.offset_index().bytes(),
            ));
            out.push((
                format!("{dir}/{stem}.timeindex"),
                segment.time_index().bytes(),
            ));
        }
        out
    }
}
