//! What a broker's disk holds after it goes down. Kafka writes to the operating system's
//! page cache and fsyncs rarely (when a segment rolls, or per `flush.messages`):
//!
//! - a **process crash** loses nothing written: the page cache survives, and on restart
//!   recovery finds every complete message;
//! - a **power loss** keeps only what was flushed, plus whatever part of the unflushed
//!   tail the disk happened to write: the cut falls at a seeded byte, so the last
//!   message may be torn. Recovery then truncates at the first incomplete message.
//!
//! Core tracks the flushed bytes of every segment ([`kafkasim_core::log::Segment`]);
//! this module decides what survives and recovers the log from it.

use kafkasim_core::config::LogConfig;
use kafkasim_core::log::{Log, LogError, RecoveryReport};
use kafkasim_core::rng::RandomSource;

/// How a broker went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// The process died; the machine did not.
    Process,
    /// The machine lost power: a seeded prefix of each segment's unflushed tail had
    /// reached the platter.
    PowerLoss,
    /// The machine lost power before the disk wrote back any unflushed byte: only what
    /// was fsynced survives (a lesson's `unflushed = "lost"`, the same story on every seed).
    PowerLossUnflushedLost,
}

/// The `.log` bytes of each segment that survive `crash`, as (base offset, bytes).
pub fn surviving_segments(
    log: &Log,
    crash: Crash,
    rng: &mut dyn RandomSource,
) -> Vec<(i64, Vec<u8>)> {
    log.segments()
        .iter()
        .map(|segment| {
            let bytes = segment.log_bytes();
            let kept = match crash {
                Crash::Process => bytes.len(),
                Crash::PowerLoss => {
                    let unflushed = bytes.len() - segment.flushed_len();
                    // Any prefix of the unflushed tail may have reached the platter,
                    // from none of it to all of it.
                    segment.flushed_len() + (rng.next_u32() as usize % (unflushed + 1))
                }
                Crash::PowerLossUnflushedLost => segment.flushed_len(),
            };
            (segment.base_offset(), bytes[..kept].to_vec())
        })
        .collect()
}

/// The log a broker finds when it starts again after `crash`: recovered from what
/// survived, with a report of what recovery cut.
pub fn restart(
    log: &Log,
    crash: Crash,
    config: LogConfig,
    now_ms: i64,
    rng: &mut dyn RandomSource,
) -> Result<(Log, RecoveryReport), LogError> {
    Log::recover(config, surviving_segments(log, crash, rng), now_ms)
}
