//! Log append and sequential read throughput, next to bare `crc32fast::hash` over the
//! same bytes in the same run: appending a legacy message costs at least one CRC over
//! it, so CRC32 throughput is the ceiling an append is measured against.
//!
//! Run: `cargo bench -p kafkasim-core --bench log`. Each benchmark counts the bytes of
//! the encoded log entries, so the MB/s columns compare like with like.

use bytes::Bytes;
use divan::Bencher;
use divan::counter::BytesCount;
use kafkasim_core::config::LogConfig;
use kafkasim_core::log::Log;
use kafkasim_core::record::{self, Compression, Magic, Record, SetFormat, TimestampType};

fn main() {
    divan::main();
}

/// Value sizes: the 100-byte and 1 KiB messages.
const VALUE_BYTES: [usize; 2] = [100, 1024];
/// Records are appended in producer batches of about `batch.size` (16 KiB).
const BATCH_BYTES: usize = 16 * 1024;
/// The log is started afresh past this size, so memory stays bounded.
const LOG_BYTES_LIMIT: u64 = 512 * 1024 * 1024;

fn config() -> LogConfig {
    // 128 MiB segments: several rolls per fresh log, as a busy partition has.
    LogConfig {
        segment_bytes: 128 * 1024 * 1024,
        ..LogConfig::default()
    }
}

/// One producer batch of `value_bytes`-byte values with 8-byte keys.
fn batch(value_bytes: usize) -> Vec<Record> {
    let value = Bytes::from(vec![b'v'; value_bytes]);
    let per_entry = record::LOG_OVERHEAD + record::RECORD_OVERHEAD_V1 + 8 + value_bytes;
    (0..(BATCH_BYTES / per_entry).max(1))
        .map(|i| Record {
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i:04}"))),
            value: Some(value.clone()),
        })
        .collect()
}

fn encoded(records: &[Record]) -> Bytes {
    let format = SetFormat {
        magic: Magic::V1,
        compression: Compression::None,
        timestamp_type: TimestampType::CreateTime,
    };
    record::encode_message_set(format, 0, records, 0).0
}

/// The floor: CRC32 of the batch's bytes in one call.
#[divan::bench(args = VALUE_BYTES)]
fn crc32_bare(bencher: Bencher, value_bytes: usize) {
    let bytes = encoded(&batch(value_bytes));
    bencher
        .counter(BytesCount::new(bytes.len()))
        .bench(|| crc32fast::hash(divan::black_box(&bytes)));
}

/// CRC32 of the same bytes, one call per message over the range each message's CRC
/// covers: the least work any append of the legacy format must do.
#[divan::bench(args = VALUE_BYTES)]
fn crc32_per_message(bencher: Bencher, value_bytes: usize) {
    let bytes = encoded(&batch(value_bytes));
    let ranges: Vec<_> = record::shallow_entries(&bytes)
        .map(|h| {
            let h = h.unwrap();
            h.position + record::LOG_OVERHEAD + 4..h.end()
        })
        .collect();
    bencher.counter(BytesCount::new(bytes.len())).bench(|| {
        let bytes = divan::black_box(&bytes);
        ranges
            .iter()
            .fold(0u32, |acc, r| acc ^ crc32fast::hash(&bytes[r.clone()]))
    });
}

/// Appends to a log whose memory is reused: it is truncated back to empty every 1 MiB,
/// which keeps the segment's buffer (and the CPU caches) warm. This is the cost of the
/// append code itself. Large samples smooth over the truncations and a noisy machine.
#[divan::bench(args = VALUE_BYTES, sample_count = 200, sample_size = 200)]
fn append(bencher: Bencher, value_bytes: usize) {
    let records = batch(value_bytes);
    let bytes = encoded(&records).len();
    let mut log = Log::new(config(), 0).unwrap();
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        if log.size() > 1024 * 1024 {
            log.truncate_to(0, 0);
        }
        log.append(divan::black_box(&records), Compression::None, 0)
            .unwrap()
    });
}

/// Appends to a log that keeps growing into fresh memory (a new log every 512 MiB):
/// the append code plus the operating system's cost of faulting in new pages.
#[divan::bench(args = VALUE_BYTES, sample_count = 200, sample_size = 200)]
fn append_growing(bencher: Bencher, value_bytes: usize) {
    let records = batch(value_bytes);
    let bytes = encoded(&records).len();
    let mut log = Log::new(config(), 0).unwrap();
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        if log.size() > LOG_BYTES_LIMIT {
            log = Log::new(config(), 0).unwrap();
        }
        log.append(divan::black_box(&records), Compression::None, 0)
            .unwrap()
    });
}

/// A log of about 64 MiB of `value_bytes`-byte messages.
fn filled_log(value_bytes: usize) -> Log {
    let records = batch(value_bytes);
    let mut log = Log::new(
        LogConfig {
            segment_bytes: 16 * 1024 * 1024,
            ..config()
        },
        0,
    )
    .unwrap();
    while log.size() < 64 * 1024 * 1024 {
        log.append(&records, Compression::None, 0).unwrap();
    }
    log
}

/// Reads the whole log front to back in fetches of `replica.fetch.max.bytes` (1 MiB),
/// as a follower catching up does.
#[divan::bench(args = VALUE_BYTES, sample_count = 20)]
fn read_sequential(bencher: Bencher, value_bytes: usize) {
    let log = filled_log(value_bytes);
    let end = log.log_end_offset();
    bencher.counter(BytesCount::new(log.size())).bench(|| {
        let mut offset = 0;
        while offset < end {
            let bytes = log.read(offset, 1024 * 1024, end, true).unwrap();
            let last = record::shallow_entries(&bytes).last().unwrap().unwrap();
            offset = last.offset + 1;
        }
    });
}

/// The same, also validating every message (CRC included) as a consumer's decoder does.
#[divan::bench(args = VALUE_BYTES, sample_count = 20)]
fn read_sequential_and_verify(bencher: Bencher, value_bytes: usize) {
    let log = filled_log(value_bytes);
    let end = log.log_end_offset();
    bencher.counter(BytesCount::new(log.size())).bench(|| {
        let mut offset = 0;
        while offset < end {
            let bytes = log.read(offset, 1024 * 1024, end, true).unwrap();
            let entries = record::decode_entries(&bytes).unwrap();
            offset = entries.last().unwrap().offset + 1;
        }
    });
}
