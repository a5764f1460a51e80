//! A partition's log as real files, in Kafka's on-disk layout:
//! `<dir>/<topic>-<partition>/<20-digit base offset>.{log,index,timeindex}`. What the
//! simulation stored can then be read by Kafka's own tools (`kafka-dump-log.sh`) or any
//! client library, and read back here.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use kafkasim_core::config::LogConfig;
use kafkasim_core::log::{Log, LogError, RecoveryReport};

/// A failure to write or read a log directory, naming the path.
#[derive(Debug)]
pub enum ExportError {
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// A `.log` file whose name is not a 20-digit base offset.
    BadSegmentName {
        path: PathBuf,
    },
    Log {
        dir: PathBuf,
        error: LogError,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            ExportError::BadSegmentName { path } => write!(
                f,
                "{}: not a segment file: Kafka names segments by their base offset in 20 digits, \
                 such as 00000000000000000000.log",
                path.display()
            ),
            ExportError::Log { dir, error } => write!(f, "{}: {error}", dir.display()),
        }
    }
}

impl std::error::Error for ExportError {}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |error| ExportError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `log` under `root` as `<topic>-<partition>/...` and returns the paths written.
pub fn write_log_dir(
    root: &Path,
    topic: &str,
    partition: u32,
    log: &Log,
) -> Result<Vec<PathBuf>, ExportError> {
    let dir = root.join(format!("{topic}-{partition}"));
    fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let mut written = Vec::new();
    for (name, bytes) in log.files(topic, partition) {
        let path = root.join(name);
        fs::write(&path, bytes).map_err(io_error(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// The base offset a segment file's name states, if it is a Kafka segment name.
pub fn segment_base_offset(path: &Path) -> Option<i64> {
    let stem = path.file_stem()?.to_str()?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Reads every `.log` segment in `dir` (one partition's directory) and recovers the log
/// from their bytes, as a broker does after an unclean shutdown.
pub fn read_log_dir(
    dir: &Path,
    config: LogConfig,
    now_ms: i64,
) -> Result<(Log, RecoveryReport), ExportError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let base_offset = segment_base_offset(&path)
            .ok_or_else(|| ExportError::BadSegmentName { path: path.clone() })?;
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        segments.push((base_offset, bytes));
    }
    Log::recover(config, segments, now_ms).map_err(|error| ExportError::Log {
        dir: dir.to_path_buf(),
        error,
    })
}
