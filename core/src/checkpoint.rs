//! Kafka's checkpoint files: a version line (0), an entry count, then one entry per line
//! of space-separated fields (Kafka's `CheckpointFile`). Four files use the format:
//! `leader-epoch-checkpoint` ("epoch start_offset", one per partition directory) and the
//! broker-wide `replication-offset-checkpoint` (high watermarks),
//! `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint`
//! ("topic partition offset").

use std::collections::BTreeMap;
use std::fmt;

/// A checkpoint file that cannot be read: which file, which line, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointError {
    pub file: &'static str,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for CheckpointError {}

/// Writes a checkpoint file from its entry lines.
pub fn write(entries: &[String]) -> String {
    let mut out = format!("0\n{}\n", entries.len());
    for entry in entries {
        out.push_str(entry);
        out.push('\n');
    }
    out
}

/// Reads a checkpoint file: checks the version and count, and parses each entry's
/// fields with `parse`, which says what an entry should look like when it refuses one.
pub fn read<T>(
    file: &'static str,
    text: &str,
    expected_shape: &str,
    mut parse: impl FnMut(&[&str]) -> Option<T>,
) -> Result<Vec<(usize, T)>, CheckpointError> {
    let error = |line: usize, message: String| CheckpointError {
        file,
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.trim()));
    match lines.next() {
        Some((_, "0")) => {}
        Some((n, other)) => {
            return Err(error(
                n,
                format!("version {other:?}: only version 0 exists"),
            ));
        }
        None => {
            return Err(error(
                1,
                "the file is empty; it starts with the version line 0".to_string(),
            ));
        }
    }
    let (n, count) = lines
        .next()
        .ok_or_else(|| error(2, "the entry count line is missing".to_string()))?;
    let count: usize = count
        .parse()
        .map_err(|_| error(n, format!("entry count {count:?} is not a number")))?;
    let mut entries = Vec::with_capacity(count.min(1 << 16));
    for expected in 0..count {
        let (n, line) = lines.next().ok_or_else(|| {
            error(
                3 + expected,
                format!("the file says {count} entries but holds {expected}"),
            )
        })?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let entry = parse(&fields)
            .ok_or_else(|| error(n, format!("{line:?} is not \"{expected_shape}\"")))?;
        entries.push((n, entry));
    }
    Ok(entries)
}

/// One of the broker-wide offset checkpoints: an offset per (topic, partition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetCheckpoint {
    pub offsets: BTreeMap<(String, u32), i64>,
}

impl OffsetCheckpoint {
    pub fn to_text(&self) -> String {
        let entries: Vec<String> = self
            .offsets
            .iter()
            .map(|((topic, partition), offset)| format!("{topic} {partition} {offset}"))
            .collect();
        write(&entries)
    }

    /// Reads `file` (its name goes into errors, e.g. "replication-offset-checkpoint").
    pub fn from_text(file: &'static str, text: &str) -> Result<OffsetCheckpoint, CheckpointError> {
        let entries = read(
            file,
            text,
            "<topic> <partition> <offset>",
            |fields| match fields {
                [topic, partition, offset] => Some((
                    (topic.to_string(), partition.parse().ok()?),
                    offset.parse::<i64>().ok().filter(|&o| o >= 0)?,
                )),
                _ => None,
            },
        )?;
        Ok(OffsetCheckpoint {
            offsets: entries.into_iter().map(|(_, entry)| entry).collect(),
        })
    }
}
