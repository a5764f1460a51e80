//! `kafkasim dump-log`: prints Kafka segment files entry by entry, in the spirit of
//! Kafka's `kafka-dump-log.sh` (DumpLogSegments), for message format v0 and v1.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafkasim_core::log::index::{OFFSET_INDEX_ENTRY_SIZE, TIME_INDEX_ENTRY_SIZE};
use kafkasim_core::record::{self, Compression, EntryHeader, LogEntry, Message};
use kafkasim_sim::export::segment_base_offset;

#[derive(clap::Args)]
pub struct Args {
    /// Segment files: NNNNNNNNNNNNNNNNNNNN.log, .index or .timeindex
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also print the messages inside compressed wrappers
    #[arg(long)]
    deep_iteration: bool,
    /// Print each message's key and value
    #[arg(long)]
    print_data_log: bool,
}

pub fn run(args: &Args, out: &mut impl Write) -> Result<(), String> {
    let mut failures = Vec::new();
    for path in &args.files {
        if let Err(message) = dump_file(args, path, out) {
            failures.push(format!("{}: {message}", crate::shown(path)));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\nerror: "))
    }
}

fn dump_file(args: &Args, path: &Path, out: &mut impl Write) -> Result<(), String> {
    let io = crate::output_error;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let base_offset = segment_base_offset(path).ok_or_else(|| {
        "not a segment file name: Kafka names segment files by their base offset in 20 digits, \
         such as 00000000000000000000.log"
            .to_string()
    })?;
    writeln!(out, "Dumping {}", crate::shown(path)).map_err(io)?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("log") => dump_log(args, base_offset, Bytes::from(bytes), out),
        Some("index") => {
            check_entry_size(&bytes, OFFSET_INDEX_ENTRY_SIZE)?;
            for entry in bytes.chunks_exact(OFFSET_INDEX_ENTRY_SIZE) {
                let relative = u32::from_be_bytes(entry[..4].try_into().expect("4 bytes"));
                let position = u32::from_be_bytes(entry[4..].try_into().expect("4 bytes"));
                writeln!(
                    out,
                    "offset: {} position: {position}",
                    base_offset.saturating_add(i64::from(relative))
                )
                .map_err(io)?;
            }
            Ok(())
        }
        Some("timeindex") => {
            check_entry_size(&bytes, TIME_INDEX_ENTRY_SIZE)?;
            for entry in bytes.chunks_exact(TIME_INDEX_ENTRY_SIZE) {
                let timestamp = i64::from_be_bytes(entry[..8].try_into().expect("8 bytes"));
                let relative = u32::from_be_bytes(entry[8..].try_into().expect("4 bytes"));
                writeln!(
                    out,
                    "timestamp: {timestamp} offset: {}",
                    base_offset.saturating_add(i64::from(relative))
                )
                .map_err(io)?;
            }
            Ok(())
        }
        _ => Err(
            "unknown kind of file: dump-log reads .log, .index and .timeindex files".to_string(),
        ),
    }
}

fn check_entry_size(bytes: &[u8], entry_size: usize) -> Result<(), String> {
    if !bytes.len().is_multiple_of(entry_size) {
        return Err(format!(
            "the file holds {} bytes, which is not a whole number of {entry_size}-byte index entries: \
             it is corrupt or not an index",
            bytes.len()
        ));
    }
    Ok(())
}

fn dump_log(
    args: &Args,
    base_offset: i64,
    bytes: Bytes,
    out: &mut impl Write,
) -> Result<(), String> {
    let io = crate::output_error;
    writeln!(out, "Starting offset: {base_offset}").map_err(io)?;
    for header in record::shallow_entries(&bytes) {
        let header = header.map_err(|e| {
            format!(
                "{e}\n{} bytes from byte {} on were not read; Kafka's recovery would truncate the segment there",
                bytes.len() - e.position,
                e.position
            )
        })?;
        let message = header.message(&bytes);
        writeln!(out, "{}", describe(&header, &message, args.print_data_log)).map_err(io)?;
        if args.deep_iteration && header.compression != Compression::None {
            let inner = record::decode_wrapper(&bytes, &header).map_err(|e| e.to_string())?;
            for LogEntry { offset, message } in inner {
                let line = describe_inner(offset, &message, args.print_data_log);
                writeln!(out, "| {line}").map_err(io)?;
            }
        }
    }
    Ok(())
}

fn timestamp(message: &Message) -> String {
    match message.magic {
        record::Magic::V0 => "NoTimestampType".to_string(),
        record::Magic::V1 => format!("{}: {}", message.timestamp_type.name(), message.timestamp),
    }
}

fn describe(header: &EntryHeader, message: &Message, data: bool) -> String {
    let mut line = format!(
        "offset: {} position: {} {} isvalid: true keysize: {} valuesize: {} magic: {} compresscodec: {} crc: {}",
        header.offset,
        header.position,
        timestamp(message),
        size(&message.key),
        size(&message.value),
        message.magic.byte(),
        message.compression.name(),
        header.crc,
    );
    if data && message.compression == Compression::None {
        line.push_str(&format!(
            " key: {} payload: {}",
            text(&message.key),
            text(&message.value)
        ));
    }
    line
}

fn describe_inner(offset: i64, message: &Message, data: bool) -> String {
    let mut line = format!(
        "offset: {offset} {} keysize: {} valuesize: {} magic: {}",
        timestamp(message),
        size(&message.key),
        size(&message.value),
        message.magic.byte(),
    );
    if data {
        line.push_str(&format!(
            " key: {} payload: {}",
            text(&message.key),
            text(&message.value)
        ));
    }
    line
}

fn size(bytes: &Option<Bytes>) -> i64 {
    bytes.as_ref().map_or(-1, |b| b.len() as i64)
}

/// Bytes as text when they are printable UTF-8, else as hex.
fn text(bytes: &Option<Bytes>) -> String {
    match bytes {
        None => "null".to_string(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
            _ => format!(
                "0x{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        },
    }
}
