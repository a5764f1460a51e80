//! The partition log: offsets, segments and their indexes, roll, retention, truncation,
//! reads, timestamps, flushing and recovery from raw bytes.

use bytes::Bytes;
use kafkasim_core::config::{CompressionType, LogConfig};
use kafkasim_core::log::{self, DeletionReason, Log, LogError, RollReason};
use kafkasim_core::record::{self, Compression, Magic, NO_TIMESTAMP, Record, TimestampType};
use proptest::prelude::*;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 60,
        ..LogConfig::default()
    }
}

fn rec(timestamp: i64, value: &str) -> Record {
    Record::new(timestamp, Some(b"k"), Some(value.as_bytes()))
}

fn append_n(log: &mut Log, n: usize, now_ms: i64) {
    for i in 0..n {
        log.append(
            &[rec(now_ms, &format!("value-{i:04}"))],
            Compression::None,
            now_ms,
        )
        .unwrap();
    }
}

/// Offsets of every message in the log, read with the public decoder.
fn offsets(log: &Log) -> Vec<i64> {
    log.entries().unwrap().iter().map(|e| e.offset).collect()
}

#[test]
fn append_assigns_offsets_from_the_log_end() {
    let mut log = Log::new(config(), 0).unwrap();
    let first = log
        .append(
            &[rec(1, "a"), rec(2, "b"), rec(3, "c")],
            Compression::None,
            10,
        )
        .unwrap();
    assert_eq!(
        (first.first_offset, first.last_offset, first.max_timestamp),
        (0, 2, 3)
    );
    let second = log.append(&[rec(4, "d")], Compression::Gzip, 11).unwrap();
    assert_eq!((second.first_offset, second.last_offset), (3, 3));
    assert_eq!(log.log_end_offset(), 4);
    let values: Vec<_> = log
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.message.value.unwrap())
        .collect();
    assert_eq!(values, ["a", "b", "c", "d"].map(Bytes::from));
    assert_eq!(
        log.append(&[], Compression::None, 12),
        Err(LogError::EmptyAppend)
    );
}

#[test]
fn segments_roll_at_segment_bytes_and_are_named_by_base_offset() {
    let mut log = Log::new(config(), 0).unwrap();
    // Each entry: 12 + 22 + 1 + 10 = 45 bytes; 8 fit in 400 bytes.
    append_n(&mut log, 20, 0);
    let bases: Vec<_> = log.segments().iter().map(|s| s.base_offset()).collect();
    assert_eq!(bases, [0, 8, 16]);
    assert!(log.segments().iter().all(|s| s.size() <= 400));
    for pair in log.segments().windows(2) {
        assert_eq!(
            pair[0].next_offset(),
            pair[1].base_offset(),
            "segments are contiguous"
        );
    }
    let files: Vec<_> = log
        .files("orders", 3)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        &files[..3],
        [
            "orders-3/00000000000000000000.log",
            "orders-3/00000000000000000000.index",
            "orders-3/00000000000000000000.timeindex",
        ]
    );
    assert_eq!(files[3], "orders-3/00000000000000000008.log");
    let append = log.append(&[rec(0, "x")], Compression::None, 0).unwrap();
    assert_eq!(append.roll, None);
}

#[test]
fn the_roll_says_why() {
    let mut log = Log::new(config(), 0).unwrap();
    append_n(&mut log, 8, 0);
    let append = log
        .append(&[rec(0, "value-0008")], Compression::None, 0)
        .unwrap();
    let roll = append.roll.expect("the ninth entry does not fit");
    assert_eq!(roll.new_base_offset, 8);
    assert_eq!(
        roll.reason,
        RollReason::SegmentBytes {
            size: 360,
            incoming: 45,
            limit: 400
        }
    );
    assert_eq!(
        roll.reason.to_string(),
        "the active segment holds 360 bytes and 45 more would pass 400 (segment.bytes)"
    );
}

#[test]
fn segments_roll_by_age_measured_on_message_timestamps() {
    let config = LogConfig {
        segment_ms: 1000,
        ..config()
    };
    let mut log = Log::new(config.clone(), 0).unwrap();
    log.append(&[rec(5_000, "a")], Compression::None, 0)
        .unwrap();
    // The broker's clock does not matter for v1: the message timestamps do.
    assert_eq!(
        log.append(&[rec(6_000, "b")], Compression::None, 99_999)
            .unwrap()
            .roll,
        None
    );
    let roll = log
        .append(&[rec(6_001, "c")], Compression::None, 0)
        .unwrap()
        .roll
        .unwrap();
    assert_eq!(
        roll.reason,
        RollReason::SegmentMs {
            waited_ms: 1001,
            limit_ms: 1000
        }
    );

    // v0 has no timestamps: the segment's creation time and the clock are used.
    let mut log = Log::new(
        LogConfig {
            message_format: Magic::V0,
            ..config
        },
        100,
    )
    .unwrap();
    log.append(&[rec(0, "a")], Compression::None, 500).unwrap();
    assert_eq!(
        log.append(&[rec(0, "b")], Compression::None, 1100)
            .unwrap()
            .roll,
        None
    );
    let roll = log
        .append(&[rec(0, "c")], Compression::None, 1101)
        .unwrap()
        .roll
        .unwrap();
    assert_eq!(
        roll.reason,
        RollReason::SegmentMs {
            waited_ms: 1001,
            limit_ms: 1000
        }
    );
}

#[test]
fn a_full_index_rolls_the_segment() {
    let config = LogConfig {
        segment_index_bytes: 24,
        index_interval_bytes: 0,
        ..config()
    };
    let mut log = Log::new(config, 0).unwrap();
    append_n(&mut log, 4, 0);
    // Entries are indexed from the second append on; three fill 24 bytes.
    let roll = log
        .append(&[rec(0, "x")], Compression::None, 0)
        .unwrap()
        .roll
        .unwrap();
    assert_eq!(roll.reason, RollReason::OffsetIndexFull);
}

#[test]
fn the_sparse_index_follows_kafkas_rule() {
    // An entry is added by an append that starts more than index.interval.bytes after
    // the last one, pointing the append's largest offset at its first byte.
    let mut log = Log::new(
        LogConfig {
            index_interval_bytes: 100,
            segment_bytes: 1 << 20,
            ..config()
        },
        0,
    )
    .unwrap();
    append_n(&mut log, 8, 0); // 45-byte entries at positions 0, 45, 90, ...
    let index: Vec<_> = log.active().offset_index().entries().collect();
    // After 3 appends 135 > 100 bytes are unindexed: the 4th append (offset 3 at 135)
    // gets an entry; then the count restarts with its 45 bytes.
    assert_eq!(index, [(3, 135), (6, 270)]);
    let mut log = Log::new(
        LogConfig {
            index_interval_bytes: 100,
            ..config()
        },
        0,
    )
    .unwrap();
    log.append(
        &(0..4).map(|i| rec(i, "value-xxxx")).collect::<Vec<_>>(),
        Compression::None,
        0,
    )
    .unwrap();
    log.append(
        &(4..6).map(|i| rec(i, "value-xxxx")).collect::<Vec<_>>(),
        Compression::None,
        0,
    )
    .unwrap();
    assert_eq!(
        log.active().offset_index().entries().collect::<Vec<_>>(),
        [(5, 180)]
    );
    assert_eq!(
        log.active().time_index().entries().collect::<Vec<_>>(),
        [(5, 5)]
    );
}

#[test]
fn index_lookup_agrees_with_a_linear_scan_for_every_offset() {
    for compression in [Compression::None, Compression::Gzip] {
        let mut log = Log::new(
            LogConfig {
                segment_bytes: 2000,
                index_interval_bytes: 30,
                ..config()
            },
            0,
        )
        .unwrap();
        for n in 0..60 {
            let batch: Vec<_> = (0..(n % 4) + 1)
                .map(|i| rec(n * 10 + i, "some value"))
                .collect();
            log.append(&batch, compression, 0).unwrap();
        }
        assert!(log.segments().len() > 2);
        for segment in log.segments() {
            let all: Vec<_> = segment.scan_from(0).collect();
            assert!(segment.offset_index().len() > 3);
            for target in segment.base_offset()..segment.next_offset() {
                let linear = all.iter().find(|e| e.offset >= target).copied();
                assert_eq!(segment.translate_offset(target), linear, "offset {target}");
                // The index entry found is at or before the answer.
                let (indexed, position) = segment.offset_index().lookup(target);
                assert!(indexed <= target.max(segment.base_offset()));
                assert!(position as usize <= linear.unwrap().position);
            }
        }
    }
}

#[test]
fn reads_return_whole_entries_below_the_bound() {
    let mut log = Log::new(config(), 0).unwrap();
    append_n(&mut log, 20, 0);
    // From each offset, a read starts at that message.
    for offset in 0..20 {
        let bytes = log.read(offset, 100, 20, false).unwrap();
        let read = record::decode_entries(&bytes).unwrap();
        assert_eq!(read[0].offset, offset);
        assert_eq!(
            read.len(),
            2.min(
                log.segments()
                    .iter()
                    .find(|s| s.next_offset() > offset)
                    .unwrap()
                    .next_offset()
                    - offset
            ) as usize
        );
    }
    // The high watermark bounds what a consumer sees.
    let bytes = log.read(0, 10_000, 3, false).unwrap();
    assert_eq!(record::decode_entries(&bytes).unwrap().len(), 3);
    assert!(log.read(3, 10_000, 3, false).unwrap().is_empty());
    // min_one_message returns the first message even if it is over max_bytes.
    assert!(log.read(0, 10, 20, false).unwrap().is_empty());
    assert_eq!(log.read(0, 10, 20, true).unwrap().len(), 45);
    assert!(
        log.read(20, 100, 20, false).unwrap().is_empty(),
        "reading at the LEO returns nothing"
    );
    assert_eq!(
        log.read(21, 100, 20, false),
        Err(LogError::OffsetOutOfRange {
            offset: 21,
            log_start_offset: 0,
            log_end_offset: 20
        })
    );
}

#[test]
fn a_read_inside_a_wrapper_returns_the_whole_wrapper() {
    let mut log = Log::new(config(), 0).unwrap();
    log.append(
        &[rec(1, "a"), rec(2, "b"), rec(3, "c")],
        Compression::Gzip,
        0,
    )
    .unwrap();
    let bytes = log.read(1, 1000, 3, false).unwrap();
    let read: Vec<_> = record::decode_entries(&bytes)
        .unwrap()
        .iter()
        .map(|e| e.offset)
        .collect();
    assert_eq!(
        read,
        [0, 1, 2],
        "the consumer skips offsets below the one it asked for"
    );
}

#[test]
fn offset_for_timestamp_finds_the_first_message_at_or_after_it() {
    let mut log = Log::new(
        LogConfig {
            index_interval_bytes: 0,
            ..config()
        },
        0,
    )
    .unwrap();
    for i in 0..30 {
        log.append(
            &[rec(1000 + 10 * i, "value-xxxx")],
            if i % 3 == 0 {
                Compression::Gzip
            } else {
                Compression::None
            },
            0,
        )
        .unwrap();
    }
    assert!(log.segments().len() > 2);
    let timestamps: Vec<_> = log
        .entries()
        .unwrap()
        .iter()
        .map(|e| (e.message.timestamp, e.offset))
        .collect();
    for target in 990..1300 {
        let linear = timestamps.iter().find(|(ts, _)| *ts >= target).copied();
        assert_eq!(log.offset_for_timestamp(target), linear, "target {target}");
    }
    assert_eq!(
        log.offset_for_timestamp(log::EARLIEST_TIMESTAMP),
        Some((NO_TIMESTAMP, 0))
    );
    assert_eq!(
        log.offset_for_timestamp(log::LATEST_TIMESTAMP),
        Some((NO_TIMESTAMP, 30))
    );
    assert_eq!(
        log.offset_for_timestamp(log::MAX_TIMESTAMP),
        Some((1290, 29))
    );
}

#[test]
fn retention_ms_deletes_old_segments_and_moves_the_log_start() {
    let config = LogConfig {
        retention_ms: 1000,
        ..config()
    };
    let mut log = Log::new(config, 0).unwrap();
    for i in 0..20 {
        log.append(&[rec(i * 100, "value-xxxx")], Compression::None, i * 100)
            .unwrap();
    }
    // Segments hold offsets 0..8 (newest ts 700), 8..16 (1500), 16..20 (1900).
    let outcome = log.delete_old_segments(1701, 20);
    assert_eq!(outcome.deleted.len(), 1);
    assert_eq!(
        outcome.deleted[0].reason,
        DeletionReason::RetentionMs {
            age_ms: 1001,
            limit_ms: 1000
        }
    );
    assert_eq!(
        (
            outcome.deleted[0].base_offset,
            outcome.deleted[0].next_offset
        ),
        (0, 8)
    );
    assert_eq!((log.log_start_offset(), outcome.log_start_offset), (8, 8));
    assert_eq!(offsets(&log), (8..20).collect::<Vec<_>>());
    assert_eq!(
        log.read(3, 100, 20, false),
        Err(LogError::OffsetOutOfRange {
            offset: 3,
            log_start_offset: 8,
            log_end_offset: 20
        })
    );
}

#[test]
fn retention_never_passes_the_high_watermark() {
    let mut log = Log::new(
        LogConfig {
            retention_ms: 10,
            ..config()
        },
        0,
    )
    .unwrap();
    append_n(&mut log, 20, 0);
    // Segment 8..16 is expired, but offset 12 is not yet committed: it stays.
    let outcome = log.delete_old_segments(1000, 12);
    assert_eq!(
        outcome
            .deleted
            .iter()
            .map(|d| d.base_offset)
            .collect::<Vec<_>>(),
        [0]
    );
    assert_eq!(log.log_start_offset(), 8);
}

#[test]
fn when_everything_expires_the_log_rolls_first_and_keeps_an_active_segment() {
    let mut log = Log::new(
        LogConfig {
            retention_ms: 10,
            ..config()
        },
        0,
    )
    .unwrap();
    append_n(&mut log, 20, 0);
    let active_before = log.active().base_offset();
    let outcome = log.delete_old_segments(1000, 20);
    assert_eq!(
        outcome.roll.unwrap().reason,
        RollReason::RetentionDeletesAll
    );
    assert_eq!(outcome.deleted.len(), 3);
    assert_eq!(outcome.deleted.last().unwrap().base_offset, active_before);
    assert_eq!(log.segments().len(), 1);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 20));
    assert_eq!(log.active().base_offset(), 20);
    // The new active segment is empty and is never deleted.
    assert!(log.delete_old_segments(1_000_000, 20).deleted.is_empty());
    assert_eq!(
        log.append(&[rec(0, "x")], Compression::None, 0)
            .unwrap()
            .first_offset,
        20
    );
}

#[test]
fn retention_bytes_deletes_oldest_segments_until_the_log_fits() {
    let mut log = Log::new(
        LogConfig {
            retention_bytes: 500,
            ..config()
        },
        0,
    )
    .unwrap();
    append_n(&mut log, 20, 0); // 360 + 360 + 180 bytes
    let outcome = log.delete_old_segments(0, 20);
    assert_eq!(
        outcome.deleted.len(),
        1,
        "900 - 360 = 540 is still over 500, but deleting the next would cut too far"
    );
    assert_eq!(
        outcome.deleted[0].reason,
        DeletionReason::RetentionBytes {
            log_size: 900,
            limit: 500
        }
    );
    assert_eq!(log.size(), 540);
    // The active segment alone over the limit is kept: there is no older segment to go.
    let mut log = Log::new(
        LogConfig {
            retention_bytes: 50,
            segment_bytes: 1 << 20,
            ..config()
        },
        0,
    )
    .unwrap();
    append_n(&mut log, 20, 0);
    assert!(log.delete_old_segments(0, 20).deleted.is_empty());
}

#[test]
fn truncation_removes_messages_at_and_above_the_offset() {
    let mut log = Log::new(config(), 0).unwrap();
    append_n(&mut log, 20, 0);
    assert!(log.truncate_to(11, 0));
    assert_eq!(log.log_end_offset(), 11);
    assert_eq!(offsets(&log), (0..11).collect::<Vec<_>>());
    assert_eq!(log.segments().len(), 2);
    assert!(
        !log.truncate_to(11, 0),
        "nothing at or above the LEO to remove"
    );
    assert_eq!(
        log.append(&[rec(0, "new")], Compression::None, 0)
            .unwrap()
            .first_offset,
        11
    );
    // Truncating to the base of a segment empties it but keeps it as the active one.
    assert!(log.truncate_to(8, 0));
    assert_eq!(
        log.segments()
            .iter()
            .map(|s| s.base_offset())
            .collect::<Vec<_>>(),
        [0, 8]
    );
    assert!(log.active().is_empty());
    // A wrapper holding the offset goes whole.
    log.append(
        &[rec(0, "a"), rec(0, "b"), rec(0, "c")],
        Compression::Gzip,
        0,
    )
    .unwrap();
    log.truncate_to(9, 0);
    assert_eq!(log.log_end_offset(), 8);
}

#[test]
fn a_follower_copying_the_leader_ends_with_the_same_bytes() {
    let mut leader = Log::new(config(), 0).unwrap();
    for i in 0..30 {
        let compression = if i % 4 == 0 {
            Compression::Gzip
        } else {
            Compression::None
        };
        leader
            .append(&[rec(i, "value-xxxx"), rec(i, "second")], compression, 0)
            .unwrap();
    }
    let mut follower = Log::new(config(), 0).unwrap();
    while follower.log_end_offset() < leader.log_end_offset() {
        let set = leader
            .read(
                follower.log_end_offset(),
                200,
                leader.log_end_offset(),
                true,
            )
            .unwrap();
        follower.append_as_follower(&set, 0).unwrap().unwrap();
    }
    let all_bytes = |log: &Log| {
        log.segments()
            .iter()
            .flat_map(|s| s.log_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(all_bytes(&follower), all_bytes(&leader));
    // Appending the same set again is refused: it starts below the LEO.
    let set = leader.read(0, 200, 60, false).unwrap();
    assert_eq!(
        follower.append_as_follower(&set, 0),
        Err(LogError::UnexpectedAppendOffset {
            first_offset: 0,
            log_end_offset: 60
        })
    );
}

#[test]
fn size_limits_are_kafkas_errors() {
    let mut log = Log::new(
        LogConfig {
            max_message_bytes: 100,
            ..config()
        },
        0,
    )
    .unwrap();
    let big = Record::new(0, None, Some(&[0u8; 200]));
    assert_eq!(
        log.append(std::slice::from_ref(&big), Compression::None, 0),
        Err(LogError::MessageTooLarge {
            size: 222,
            max_message_bytes: 100
        })
    );
    let mut log = Log::new(
        LogConfig {
            segment_bytes: 100,
            ..config()
        },
        0,
    )
    .unwrap();
    assert_eq!(
        log.append(&[big], Compression::None, 0),
        Err(LogError::LargerThanSegment {
            size: 234,
            segment_bytes: 100
        })
    );
    assert_eq!(log.log_end_offset(), 0, "a refused append changes nothing");
}

#[test]
fn invalid_configs_are_refused_with_kafkas_names() {
    let error = Log::new(
        LogConfig {
            segment_bytes: 10,
            ..config()
        },
        0,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid segment.bytes = 10: expected at least 14 bytes"
    );
}

#[test]
fn topic_compression_type_overrides_the_producer() {
    let mut log = Log::new(
        LogConfig {
            compression_type: CompressionType::Gzip,
            ..config()
        },
        0,
    )
    .unwrap();
    log.append(&[rec(1, "a"), rec(2, "b")], Compression::None, 0)
        .unwrap();
    let wrapper = record::shallow_entries(log.active().log_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        (wrapper.compression, wrapper.offset),
        (Compression::Gzip, 1)
    );
    let mut log = Log::new(
        LogConfig {
            message_timestamp_type: TimestampType::LogAppendTime,
            ..config()
        },
        0,
    )
    .unwrap();
    let append = log.append(&[rec(1, "a")], Compression::None, 777).unwrap();
    assert_eq!(
        (append.log_append_time_ms, append.max_timestamp),
        (Some(777), 777)
    );
}

/// The `.log` files of a log, as the disk holds them.
fn log_files(log: &Log) -> Vec<(i64, Vec<u8>)> {
    log.segments()
        .iter()
        .map(|s| (s.base_offset(), s.log_bytes().to_vec()))
        .collect()
}

/// A log of three segments, mixing single messages and compressed sets.
fn multi_segment_log() -> Log {
    let mut log = Log::new(config(), 0).unwrap();
    for i in 0..16 {
        let compression = if i % 5 == 4 {
            Compression::Gzip
        } else {
            Compression::None
        };
        let batch: Vec<_> = (0..1 + i % 2)
            .map(|j| rec(i * 10 + j, "value-xxxx"))
            .collect();
        log.append(&batch, compression, 0).unwrap();
    }
    assert!(
        log.segments().len() >= 3,
        "{} segments",
        log.segments().len()
    );
    log
}

#[test]
fn recovery_from_every_truncation_point_keeps_exactly_the_complete_entries_before_it() {
    let log = multi_segment_log();
    let files = log_files(&log);
    for (k, (base, bytes)) in files.iter().enumerate() {
        let starts: Vec<_> = record::shallow_entries(bytes).map(|h| h.unwrap()).collect();
        for cut in 0..=bytes.len() {
            // The disk lost everything after `cut` in segment k (later segments too).
            let mut disk = files[..k].to_vec();
            disk.push((*base, bytes[..cut].to_vec()));
            let (recovered, report) = Log::recover(config(), disk.clone(), 0).unwrap();
            let complete: Vec<_> = starts.iter().filter(|h| h.end() <= cut).collect();
            let expected_end = complete.last().map_or(*base, |h| h.offset + 1);
            assert_eq!(
                recovered.log_end_offset(),
                expected_end,
                "segment {k} cut at {cut}"
            );
            let kept: usize = complete.iter().map(|h| h.entry_len()).sum();
            assert_eq!(recovered.active().size(), kept);
            let expected_offsets: Vec<_> = log
                .entries()
                .unwrap()
                .iter()
                .map(|e| e.offset)
                .filter(|&o| o < expected_end)
                .collect();
            assert_eq!(offsets(&recovered), expected_offsets);
            assert_eq!(
                report.truncation.is_some(),
                kept < cut,
                "a partial entry is reported"
            );
            // The rebuilt index answers as a scan does.
            for target in recovered.active().base_offset()..recovered.log_end_offset() {
                let linear = recovered.active().scan_from(0).find(|e| e.offset >= target);
                assert_eq!(recovered.active().translate_offset(target), linear);
            }
            // With the later segments still there, Kafka deletes them after a loss.
            if kept < cut {
                let mut with_later = disk;
                with_later.extend_from_slice(&files[k + 1..]);
                let (again, report) = Log::recover(config(), with_later, 0).unwrap();
                assert_eq!(again.log_end_offset(), expected_end);
                assert_eq!(
                    report.deleted_segments,
                    files[k + 1..].iter().map(|f| f.0).collect::<Vec<_>>()
                );
            }
        }
    }
}

#[test]
fn recovery_stops_at_a_corrupt_entry_and_names_it() {
    let log = multi_segment_log();
    let mut files = log_files(&log);
    let victim = record::shallow_entries(&files[1].1)
        .nth(2)
        .unwrap()
        .unwrap();
    files[1].1[victim.position + 20] ^= 0xff;
    let (recovered, report) = Log::recover(config(), files.clone(), 0).unwrap();
    let truncation = report.truncation.unwrap();
    assert_eq!(truncation.segment_base_offset, files[1].0);
    assert_eq!(truncation.valid_bytes, victim.position);
    assert_eq!(truncation.error.offset, Some(victim.offset));
    assert!(
        truncation.error.to_string().contains("CRC mismatch"),
        "{}",
        truncation.error
    );
    assert_eq!(
        report.deleted_segments,
        files[2..].iter().map(|f| f.0).collect::<Vec<_>>()
    );
    assert!(recovered.log_end_offset() <= victim.offset);
}

#[test]
fn recovery_rebuilds_the_indexes_that_single_message_appends_built() {
    // Recovery indexes entry by entry, as Kafka's LogSegment.recover walks legacy
    // messages one by one; appends index per append. With one message per append the
    // two give the same bytes.
    let mut log = Log::new(config(), 0).unwrap();
    for i in 0..20 {
        log.append(&[rec(100 + i, "value-xxxx")], Compression::None, 0)
            .unwrap();
    }
    let (recovered, _) = Log::recover(config(), log_files(&log), 0).unwrap();
    for (original, rebuilt) in log.segments().iter().zip(recovered.segments()) {
        assert!(!original.offset_index().is_empty());
        assert_eq!(rebuilt.offset_index(), original.offset_index());
    }
    // The time index of a rolled segment also has its final entry (added when it
    // became inactive), which recovery of the same segment does not add.
    assert_eq!(recovered.active().time_index(), log.active().time_index());
}

#[test]
fn a_segment_named_below_the_previous_ones_end_cuts_it_there() {
    let log = multi_segment_log();
    let mut files = log_files(&log);
    files[1].0 -= 1;
    let (recovered, report) = Log::recover(config(), files.clone(), 0).unwrap();
    let truncation = report.truncation.unwrap();
    assert_eq!(truncation.segment_base_offset, 0);
    assert_eq!(truncation.error.offset, Some(files[1].0));
    assert!(
        truncation
            .error
            .to_string()
            .contains("where the next segment starts"),
        "{}",
        truncation.error
    );
    assert_eq!(recovered.log_end_offset(), files[1].0);
}

#[test]
fn a_power_loss_keeps_everything_below_the_recovery_point() {
    let mut log = Log::new(config(), 0).unwrap();
    append_n(&mut log, 20, 0);
    // Rolling flushed every segment before the active one.
    assert_eq!(log.recovery_point(), log.active().base_offset());
    assert!(
        log.segments()[..2]
            .iter()
            .all(|s| s.flushed_len() == s.size())
    );
    assert_eq!(log.active().flushed_len(), 0);
    assert_eq!(log.unflushed_messages(), 4);
    // Whatever part of the unflushed tail the disk kept, recovery keeps the flushed part.
    let files = log_files(&log);
    let active = files.last().unwrap();
    for kept in 0..=active.1.len() {
        let mut disk = files.clone();
        disk.last_mut().unwrap().1.truncate(kept);
        let (recovered, _) = Log::recover(config(), disk, 0).unwrap();
        assert!(recovered.log_end_offset() >= log.recovery_point());
    }
    log.flush();
    assert_eq!((log.recovery_point(), log.unflushed_messages()), (20, 0));
    assert_eq!(log.active().flushed_len(), log.active().size());
    // flush.messages forces the fsync on append.
    let mut log = Log::new(
        LogConfig {
            flush_messages: 3,
            segment_bytes: 1 << 20,
            ..config()
        },
        0,
    )
    .unwrap();
    let flushed: Vec<_> = (0..6)
        .map(|_| {
            log.append(&[rec(0, "x")], Compression::None, 0)
                .unwrap()
                .flushed
        })
        .collect();
    assert_eq!(flushed, [false, false, true, false, false, true]);
    // Truncation lowers the recovery point with the log end.
    log.truncate_to(4, 0);
    assert_eq!(log.recovery_point(), 4);
}

/// A model of the log: the appends it holds, each a list of offsets that stand or fall
/// together (a compressed wrapper is one unit; uncompressed messages are one each).
#[derive(Debug, Clone)]
enum Op {
    Append {
        count: usize,
        value_len: usize,
        gzip: bool,
        advance_ms: i64,
    },
    Truncate {
        back: i64,
    },
    Retain {
        hw_back: i64,
    },
    Flush,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..5, 0usize..80, prop::bool::ANY, 0i64..400)
            .prop_map(|(count, value_len, gzip, advance_ms)| Op::Append { count, value_len, gzip, advance_ms }),
        1 => (0i64..12).prop_map(|back| Op::Truncate { back }),
        1 => (0i64..6).prop_map(|hw_back| Op::Retain { hw_back }),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_log_behaves_like_its_model(ops in prop::collection::vec(arb_op(), 1..60), retention_bytes in prop::option::of(200i64..1500)) {
        let config = LogConfig {
            segment_bytes: 300,
            index_interval_bytes: 50,
            retention_ms: 2000,
            retention_bytes: retention_bytes.unwrap_or(-1),
            ..LogConfig::default()
        };
        let mut log = Log::new(config.clone(), 0).unwrap();
        let mut model: Vec<Vec<(i64, Bytes)>> = Vec::new(); // units of (offset, value)
        let mut now = 0;
        for op in ops {
            match op {
                Op::Append { count, value_len, gzip, advance_ms } => {
                    now += advance_ms;
                    let value = Bytes::from(vec![b'v'; value_len]);
                    let records: Vec<_> = (0..count).map(|_| Record { timestamp: now, key: None, value: Some(value.clone()) }).collect();
                    let compression = if gzip { Compression::Gzip } else { Compression::None };
                    match log.append(&records, compression, now) {
                        Ok(info) => {
                            let offsets = info.first_offset..=info.last_offset;
                            if gzip {
                                model.push(offsets.map(|o| (o, value.clone())).collect());
                            } else {
                                model.extend(offsets.map(|o| vec![(o, value.clone())]));
                            }
                        }
                        Err(LogError::LargerThanSegment { .. }) => {}
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Op::Truncate { back } => {
                    let target = (log.log_end_offset() - back).max(log.log_start_offset());
                    log.truncate_to(target, now);
                    model.retain(|unit| unit[0].0 < target && unit.last().unwrap().0 < target);
                }
                Op::Retain { hw_back } => {
                    let hw = (log.log_end_offset() - hw_back).max(log.log_start_offset());
                    let outcome = log.delete_old_segments(now, hw);
                    for deleted in &outcome.deleted {
                        prop_assert!(deleted.next_offset <= hw, "deleted past the high watermark");
                    }
                    model.retain(|unit| unit[0].0 >= log.log_start_offset());
                }
                Op::Flush => log.flush(),
            }
            // The log holds exactly the model's messages.
            let entries = log.entries().unwrap();
            let expected: Vec<_> = model.iter().flatten().cloned().collect();
            let got: Vec<_> = entries.iter().map(|e| (e.offset, e.message.value.clone().unwrap())).collect();
            prop_assert_eq!(got, expected);
            let model_end = model.last().map(|u| u.last().unwrap().0 + 1);
            prop_assert_eq!(log.log_end_offset(), model_end.unwrap_or(log.active().base_offset()));
            // Segments are contiguous, the last one active, and no index lies.
            prop_assert!(!log.segments().is_empty());
            for pair in log.segments().windows(2) {
                prop_assert!(pair[0].next_offset() <= pair[1].base_offset());
            }
            for segment in log.segments() {
                for (offset, position) in segment.offset_index().entries() {
                    let at = segment.scan_from(position as usize).next();
                    prop_assert!(at.is_some_and(|e| e.offset <= offset), "index entry ({offset}, {position})");
                }
            }
            prop_assert!(log.recovery_point() <= log.log_end_offset());
            // Recovery from the bytes gives the same messages back.
            let (recovered, report) = Log::recover(config.clone(), log_files(&log), now).unwrap();
            prop_assert!(report.truncation.is_none());
            prop_assert_eq!(recovered.entries().unwrap(), entries);
        }
    }
}

proptest! {
    #[test]
    fn recovery_from_arbitrary_bytes_never_panics(
        files in prop::collection::vec((0i64..1000, prop::collection::vec(any::<u8>(), 0..300)), 0..4),
    ) {
        if let Ok((log, report)) = Log::recover(config(), files, 0) {
            // Whatever survived decodes, and the log is usable.
            let entries = log.entries().unwrap();
            prop_assert!(entries.windows(2).all(|w| w[0].offset < w[1].offset));
            prop_assert_eq!(report.log_end_offset, log.log_end_offset());
            let mut log = log;
            let end = log.log_end_offset();
            prop_assert_eq!(log.append(&[rec(0, "after")], Compression::None, 0).unwrap().first_offset, end);
        }
    }

    #[test]
    fn recovery_of_a_valid_log_with_one_corrupt_byte_keeps_a_valid_prefix(
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let log = multi_segment_log();
        let mut files = log_files(&log);
        let total: usize = files.iter().map(|f| f.1.len()).sum();
        let mut at = at.index(total);
        let file = files.iter_mut().find(|f| if at < f.1.len() { true } else { at -= f.1.len(); false }).unwrap();
        file.1[at] ^= xor;
        let (recovered, _) = Log::recover(config(), files, 0).unwrap();
        // What survives is a prefix of the original messages (a corrupted offset field,
        // outside the CRC, may rename one, so compare the offsets before it).
        let original = log.entries().unwrap();
        let kept = recovered.entries().unwrap();
        prop_assert!(kept.len() <= original.len());
        for (k, o) in kept.iter().zip(&original) {
            prop_assert_eq!(&k.message, &o.message);
        }
    }
}

#[test]
fn crafted_offsets_in_segment_files_are_refused_not_overflowed() {
    let entry = |offset: i64| {
        let mut bytes = Vec::new();
        record::Message::new(Magic::V1, 0, None, Some(Bytes::from("x")))
            .encode_entry(offset, &mut bytes);
        bytes
    };
    for (base, offset) in [
        (5, i64::MIN),
        (0, i64::MAX),
        (i64::MAX - 5, i64::MAX),
        (7, -1),
    ] {
        let (log, report) = Log::recover(config(), vec![(base, entry(offset))], 0).unwrap();
        assert!(report.truncation.is_some(), "base {base}, offset {offset}");
        assert_eq!(log.log_end_offset(), base);
    }
    // A log that has reached the end of the offset space refuses more.
    let (mut log, _) =
        Log::recover(config(), vec![(i64::MAX - 2, entry(i64::MAX - 1))], 0).unwrap();
    assert_eq!(log.log_end_offset(), i64::MAX);
    assert_eq!(
        log.append(&[rec(0, "x")], Compression::None, 0),
        Err(LogError::OffsetOverflow {
            log_end_offset: i64::MAX
        })
    );
}

proptest! {
    #[test]
    fn retention_never_deletes_the_active_segment(
        appends in prop::collection::vec((1usize..4, 0i64..500), 1..40),
        retention_ms in 100i64..3000,
        retention_bytes in prop::option::of(100i64..2000),
        hw_back in 0i64..5,
        later_ms in 0i64..5000,
    ) {
        let config = LogConfig {
            segment_bytes: 300,
            retention_ms,
            retention_bytes: retention_bytes.unwrap_or(-1),
            ..LogConfig::default()
        };
        let mut log = Log::new(config, 0).unwrap();
        let mut now = 0;
        for (count, advance) in appends {
            now += advance;
            let records: Vec<_> = (0..count).map(|_| rec(now, "value-xxxx")).collect();
            log.append(&records, Compression::None, now).unwrap();
        }
        let active = log.active().base_offset();
        let active_expired = now + later_ms - log.active().largest_timestamp() > retention_ms;
        let leo = log.log_end_offset();
        let hw = (leo - hw_back).max(log.log_start_offset());
        let outcome = log.delete_old_segments(now + later_ms, hw);
        // The segment active now was never deleted; the log still has one.
        prop_assert!(outcome.deleted.iter().all(|d| d.base_offset != log.active().base_offset()));
        prop_assert_eq!(log.log_end_offset(), leo, "retention never changes the LEO");
        // The segment that was active is gone only if it had expired by time and was
        // fully below the HW, and then only after a roll made a new active segment.
        if outcome.deleted.iter().any(|d| d.base_offset == active) {
            prop_assert!(active_expired && hw == leo);
            prop_assert!(outcome.roll.is_some());
            prop_assert!(log.active().is_empty());
        }
    }
}
