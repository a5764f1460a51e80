//! Kafka's configuration names, units and defaults.
//!
//! Defaults are Kafka 4.0's (see shared/reference/kafka-facts.md section 1). Where Kafka
//! changed a default over the versions, the newest is the default here and the older
//! value is something a lesson sets explicitly.

use std::fmt;

use crate::record::{Compression, Magic, RECORD_OVERHEAD_V0, TimestampType};

/// The topic-level `compression.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CompressionType {
    /// Keep whatever codec the producer used (Kafka's default).
    #[default]
    Producer,
    Uncompressed,
    Gzip,
}

impl CompressionType {
    /// The codec the log writes for a batch the producer compressed with `producer`.
    pub fn resolve(self, producer: Compression) -> Compression {
        match self {
            CompressionType::Producer => producer,
            CompressionType::Uncompressed => Compression::None,
            CompressionType::Gzip => Compression::Gzip,
        }
    }
}

/// A partition log's configuration. Field names are Kafka's topic-level names with dots
/// turned into underscores; the broker-wide `log.*` name is given where it differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes` (`log.segment.bytes`): roll when the active segment would grow
    /// past this. Kafka 4.0 requires at least 1 MiB; kafkasim keeps the older minimum
    /// (one empty v0 message) so a lesson can show segments rolling every few messages.
    pub segment_bytes: u32,
    /// `segment.ms` (`log.roll.ms`, or `log.roll.hours` = 168): roll a segment this old.
    pub segment_ms: i64,
    /// `retention.ms` (`log.retention.ms`, or `log.retention.hours` = 168); -1 keeps
    /// everything.
    pub retention_ms: i64,
    /// `retention.bytes` (`log.retention.bytes`); -1 means no size limit.
    pub retention_bytes: i64,
    /// `index.interval.bytes` (`log.index.interval.bytes`): bytes between index entries.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes` (`log.index.size.max.bytes`): a full index rolls the segment.
    pub segment_index_bytes: u32,
    /// `max.message.bytes` (`message.max.bytes`): the largest message (or wrapper).
    pub max_message_bytes: u32,
    /// `message.format.version` (`log.message.format.version`): kafkasim writes the
    /// legacy formats only; v1 (Kafka 0.10) is the default, v0 (0.8/0.9) for history.
    pub message_format: Magic,
    /// `compression.type`.
    pub compression_type: CompressionType,
    /// `message.timestamp.type` (`log.message.timestamp.type`).
    pub message_timestamp_type: TimestampType,
    /// `flush.messages` (`log.flush.interval.messages`): fsync after this many unflushed
    /// messages. Kafka's default never forces a flush and leaves it to the OS; segments
    /// are flushed when they roll.
    pub flush_messages: i64,
    /// `flush.ms` (`log.flush.interval.ms`): fsync a log whose last flush is this old.
    /// Like `flush.messages`, never forced by default.
    pub flush_ms: i64,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            max_message_bytes: 1024 * 1024 + 12,
            message_format: Magic::V1,
            compression_type: CompressionType::Producer,
            message_timestamp_type: TimestampType::CreateTime,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
        }
    }
}

/// A configuration value Kafka would refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} = {}: expected {}",
            self.name, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl LogConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let error = |name, value: String, expected: &str| {
            Err(ConfigError {
                name,
                value,
                expected: expected.to_string(),
            })
        };
        if (self.segment_bytes as usize) < RECORD_OVERHEAD_V0 {
            return error(
                "segment.bytes",
                self.segment_bytes.to_string(),
                "at least 14 bytes",
            );
        }
        if self.segment_ms < 1 {
            return error("segment.ms", self.segment_ms.to_string(), "at least 1 ms");
        }
        if self.retention_ms < -1 {
            return error(
                "retention.ms",
                self.retention_ms.to_string(),
                "-1 (unlimited) or a duration in ms",
            );
        }
        if self.retention_bytes < -1 {
            return error(
                "retention.bytes",
                self.retention_bytes.to_string(),
                "-1 (unlimited) or a size in bytes",
            );
        }
        if (self.segment_index_bytes as usize) < crate::log::index::TIME_INDEX_ENTRY_SIZE {
            return error(
                "segment.index.bytes",
                self.segment_index_bytes.to_string(),
                "room for at least one entry (12 bytes)",
            );
        }
        if (self.max_message_bytes as usize) < RECORD_OVERHEAD_V0 {
            return error(
                "max.message.bytes",
                self.max_message_bytes.to_string(),
                "at least 14 bytes",
            );
        }
        if self.flush_ms < 0 {
            return error("flush.ms", self.flush_ms.to_string(), "0 or more ms");
        }
        if self.flush_messages < 1 {
            return error(
                "flush.messages",
                self.flush_messages.to_string(),
                "at least 1",
            );
        }
        Ok(())
    }
}
