//! `kafkasim make-log`: builds a partition log with kafkasim's log and writes it in
//! Kafka's on-disk layout, narrating each segment roll.

use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use kafkasim_core::config::LogConfig;
use kafkasim_core::log::Log;
use kafkasim_core::record::{self, Magic, Record, TimestampType};
use kafkasim_sim::export::write_log_dir;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Compression {
    None,
    Gzip,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Kafka 0.8/0.9: no timestamps
    V0,
    /// Kafka 0.10: timestamps, relative offsets in compressed sets
    V1,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TimestampKind {
    CreateTime,
    LogAppendTime,
}

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write into; the log goes to DIR/<topic>-<partition>/
    dir: PathBuf,
    #[arg(long, default_value = "demo")]
    topic: String,
    #[arg(long, default_value_t = 0)]
    partition: u32,
    /// How many messages to append
    #[arg(long, default_value_t = 100)]
    messages: u32,
    /// Messages per append (one produce request's batch)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Bytes of each message's value (at most 1 MiB, Kafka's max.message.bytes)
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    value_bytes: u32,
    /// Keys are this prefix plus the message number; without it keys are null
    #[arg(long)]
    key_prefix: Option<String>,
    /// segment.bytes: roll the active segment before it would pass this size
    #[arg(long, default_value_t = 4096)]
    segment_bytes: u32,
    /// index.interval.bytes: bytes between sparse index entries
    #[arg(long, default_value_t = 1024)]
    index_interval_bytes: u32,
    /// compression.type of each batch
    #[arg(long, value_enum, default_value = "none")]
    compression: Compression,
    /// message.format.version
    #[arg(long, value_enum, default_value = "v1")]
    message_format: Format,
    /// message.timestamp.type
    #[arg(long, value_enum, default_value = "create-time")]
    timestamp_type: TimestampKind,
    /// Timestamp (ms since the epoch) of the first message; each next one is 1 s later
    #[arg(long, default_value_t = 1_700_000_000_000)]
    start_ms: i64,
}

pub fn run(args: &Args, out: &mut impl Write) -> Result<(), String> {
    let config = LogConfig {
        segment_bytes: args.segment_bytes,
        index_interval_bytes: args.index_interval_bytes,
        message_format: match args.message_format {
            Format::V0 => Magic::V0,
            Format::V1 => Magic::V1,
        },
        message_timestamp_type: match args.timestamp_type {
            TimestampKind::CreateTime => TimestampType::CreateTime,
            TimestampKind::LogAppendTime => TimestampType::LogAppendTime,
        },
        ..LogConfig::default()
    };
    let compression = match args.compression {
        Compression::None => record::Compression::None,
        Compression::Gzip => record::Compression::Gzip,
    };
    let mut log = Log::new(config, args.start_ms).map_err(|e| e.to_string())?;
    let mut say = |line: String| writeln!(out, "{line}").map_err(crate::output_error);
    let mut next = 0;
    while next < args.messages {
        let end = (next + args.batch).min(args.messages);
        let now_ms = args.start_ms + i64::from(next) * 1000;
        let records: Vec<Record> = (next..end).map(|i| make_record(args, i)).collect();
        let append = log
            .append(&records, compression, now_ms)
            .map_err(|e| format!("message {next}: {e}"))?;
        if let Some(roll) = append.roll {
            say(format!(
                "rolled a new segment at offset {}: {}",
                roll.new_base_offset, roll.reason
            ))?;
        }
        next = end;
    }
    let written =
        write_log_dir(&args.dir, &args.topic, args.partition, &log).map_err(|e| e.to_string())?;
    say(format!(
        "wrote {}-{} to {}: {} messages at offsets {}..{}, {} segments, {} files",
        args.topic,
        args.partition,
        crate::shown(&args.dir.join(format!("{}-{}", args.topic, args.partition))),
        args.messages,
        log.log_start_offset(),
        log.log_end_offset(),
        log.segments().len(),
        written.len()
    ))?;
    for segment in log.segments() {
        say(format!(
            "  {}.log  offsets {}..{}  {} bytes  .index {} entries  .timeindex {} entries",
            kafkasim_core::log::segment_file_stem(segment.base_offset()),
            segment.base_offset(),
            segment.next_offset(),
            segment.size(),
            segment.offset_index().len(),
            segment.time_index().len()
        ))?;
    }
    Ok(())
}

fn make_record(args: &Args, i: u32) -> Record {
    let mut value = format!("message {i} ").into_bytes();
    let pattern = value.clone();
    value.extend(
        pattern
            .iter()
            .cycle()
            .take((args.value_bytes as usize).saturating_sub(pattern.len())),
    );
    value.truncate(args.value_bytes as usize);
    Record {
        timestamp: args.start_ms + i64::from(i) * 1000,
        key: args
            .key_prefix
            .as_ref()
            .map(|prefix| Bytes::from(format!("{prefix}{i}"))),
        value: Some(Bytes::from(value)),
    }
}
