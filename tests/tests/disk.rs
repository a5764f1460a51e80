//! A broker's disk across crashes: a process crash keeps every written message; a power
//! loss keeps the flushed ones and a seeded part of the rest.

use kafkasim_core::config::LogConfig;
use kafkasim_core::log::Log;
use kafkasim_core::record::{Compression, Record};
use kafkasim_core::rng::SplitMix64;
use kafkasim_sim::disk::{Crash, restart};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 500,
        ..LogConfig::default()
    }
}

/// 30 messages; segments roll (and are flushed) every ~9 messages, the tail is unflushed.
fn written_log() -> Log {
    let mut log = Log::new(config(), 0).unwrap();
    for i in 0..30 {
        log.append(
            &[Record::new(
                i,
                Some(b"key"),
                Some(format!("message {i:02}").as_bytes()),
            )],
            Compression::None,
            i,
        )
        .unwrap();
    }
    assert!(log.recovery_point() > 0 && log.recovery_point() < log.log_end_offset());
    log
}

#[test]
fn a_process_crash_loses_nothing() {
    let log = written_log();
    let (recovered, report) =
        restart(&log, Crash::Process, config(), 100, &mut SplitMix64::new(1)).unwrap();
    assert_eq!(recovered.entries().unwrap(), log.entries().unwrap());
    assert!(report.truncation.is_none());
}

#[test]
fn a_power_loss_keeps_the_flushed_messages_and_a_seeded_part_of_the_rest() {
    let log = written_log();
    let mut ends = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let (recovered, _) = restart(
            &log,
            Crash::PowerLoss,
            config(),
            100,
            &mut SplitMix64::new(seed),
        )
        .unwrap();
        let end = recovered.log_end_offset();
        assert!(
            end >= log.recovery_point() && end <= log.log_end_offset(),
            "seed {seed}: {end}"
        );
        // What survives is a prefix of what was written.
        let original = log.entries().unwrap();
        assert_eq!(
            recovered.entries().unwrap(),
            original[..end as usize].to_vec()
        );
        ends.insert(end);
        // The same seed cuts at the same byte.
        let (again, _) = restart(
            &log,
            Crash::PowerLoss,
            config(),
            100,
            &mut SplitMix64::new(seed),
        )
        .unwrap();
        assert_eq!(again.log_end_offset(), end);
    }
    assert!(
        ends.len() > 3,
        "different seeds tear the tail at different places: {ends:?}"
    );
    // After a flush, a power loss loses nothing.
    let mut flushed = log.clone();
    flushed.flush();
    let (recovered, _) = restart(
        &flushed,
        Crash::PowerLoss,
        config(),
        100,
        &mut SplitMix64::new(3),
    )
    .unwrap();
    assert_eq!(recovered.log_end_offset(), 30);
}
