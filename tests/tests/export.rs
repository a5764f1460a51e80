//! A log written as real files in Kafka's layout reads back to the same log.

use kafkasim_core::config::LogConfig;
use kafkasim_core::log::Log;
use kafkasim_core::record::{Compression, Record};
use kafkasim_sim::export::{ExportError, read_log_dir, write_log_dir};
use kafkasim_tests::TempDir;

fn small_log() -> Log {
    let config = LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 40,
        ..LogConfig::default()
    };
    let mut log = Log::new(config, 0).unwrap();
    for i in 0..25 {
        let compression = if i % 3 == 0 {
            Compression::Gzip
        } else {
            Compression::None
        };
        let records = [Record::new(
            1_000 + i,
            Some(format!("key-{i}").as_bytes()),
            Some(b"a value of some bytes"),
        )];
        log.append(&records, compression, i).unwrap();
    }
    log
}

#[test]
fn a_log_exported_in_kafkas_layout_reads_back_the_same() {
    let dir = TempDir::new("export-roundtrip");
    let log = small_log();
    let written = write_log_dir(dir.path(), "orders", 2, &log).unwrap();
    assert_eq!(written.len(), log.segments().len() * 3);
    let partition_dir = dir.path().join("orders-2");
    for segment in log.segments() {
        let stem = format!("{:020}", segment.base_offset());
        assert_eq!(
            std::fs::read(partition_dir.join(format!("{stem}.log"))).unwrap(),
            segment.log_bytes()
        );
        assert_eq!(
            std::fs::read(partition_dir.join(format!("{stem}.index"))).unwrap(),
            segment.offset_index().bytes()
        );
        assert_eq!(
            std::fs::read(partition_dir.join(format!("{stem}.timeindex"))).unwrap(),
            segment.time_index().bytes()
        );
    }
    let (read, report) = read_log_dir(&partition_dir, log.config().clone(), 0).unwrap();
    assert!(report.truncation.is_none());
    assert_eq!(read.entries().unwrap(), log.entries().unwrap());
    assert_eq!(read.log_end_offset(), 25);
}

#[test]
fn a_torn_file_on_disk_recovers_to_its_valid_prefix() {
    let dir = TempDir::new("export-torn");
    let log = small_log();
    write_log_dir(dir.path(), "orders", 0, &log).unwrap();
    let partition_dir = dir.path().join("orders-0");
    let active = partition_dir.join(format!("{:020}.log", log.active().base_offset()));
    let mut bytes = std::fs::read(&active).unwrap();
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&active, bytes).unwrap();
    let (read, report) = read_log_dir(&partition_dir, log.config().clone(), 0).unwrap();
    let truncation = report.truncation.expect("the torn entry is reported");
    assert_eq!(truncation.segment_base_offset, log.active().base_offset());
    assert!(
        truncation.error.to_string().contains("truncated entry"),
        "{}",
        truncation.error
    );
    assert_eq!(read.log_end_offset(), 24);
}

#[test]
fn a_file_that_is_not_a_segment_is_named_in_the_error() {
    let dir = TempDir::new("export-badname");
    std::fs::write(dir.path().join("notes.log"), b"hello").unwrap();
    let error = read_log_dir(dir.path(), LogConfig::default(), 0).unwrap_err();
    assert!(matches!(error, ExportError::BadSegmentName { .. }));
    assert!(error.to_string().ends_with("notes.log: not a segment file: Kafka names segments by their base offset in 20 digits, such as 00000000000000000000.log"), "{error}");
    let error = read_log_dir(&dir.path().join("missing"), LogConfig::default(), 0).unwrap_err();
    assert!(error.to_string().contains("missing"), "{error}");
}
