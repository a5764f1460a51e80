//! Kafka's legacy message format, magic 0 and 1 (the "MessageSet" of Kafka 0.8 to 0.10),
//! byte for byte as Kafka writes it.
//!
//! ```text
//! LogEntry   := offset:int64 message_size:int32 Message
//! Message v0 := crc:uint32 magic:int8(=0) attributes:int8                  key:BYTES value:BYTES
//! Message v1 := crc:uint32 magic:int8(=1) attributes:int8 timestamp:int64  key:BYTES value:BYTES
//! BYTES      := len:int32 then len bytes; -1 means null
//! ```
//!
//! The CRC is IEEE CRC-32 over the bytes from the magic byte to the end of the value.
//! Attributes: bits 0-2 the codec, bit 3 the timestamp type (v1 only), the rest zero.
//! A compressed message is a "wrapper": null key, the codec in its attributes, and a
//! value that holds a compressed set of inner log entries. The wrapper's offset is the
//! offset of its last inner message; v1 inner messages carry relative offsets 0..n-1.
//!
//! Decoding never panics: every problem is a [`RecordError`] naming the byte position,
//! the offset when it is known, and what was wrong.

use std::fmt;
use std::io::{Read, Write};
use std::ops::Range;

use bytes::Bytes;

/// Bytes before each message: the 8-byte offset and the 4-byte size.
pub const LOG_OVERHEAD: usize = 12;
/// A v0 message with null key and null value: crc 4 + magic 1 + attributes 1 + 2 lengths.
pub const RECORD_OVERHEAD_V0: usize = 14;
/// A v1 message with null key and null value: the v0 overhead plus an 8-byte timestamp.
pub const RECORD_OVERHEAD_V1: usize = 22;
/// The timestamp of a v0 message, or of a v1 message that has none.
pub const NO_TIMESTAMP: i64 = -1;

const CODEC_MASK: u8 = 0x07;
const TIMESTAMP_TYPE_MASK: u8 = 0x08;
/// A compressed set larger than this is refused rather than inflated: a corrupt or
/// hostile wrapper must not be able to exhaust memory.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// The message format version, stored in the magic byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Magic {
    /// Kafka 0.8 to 0.9: no timestamp.
    V0,
    /// Kafka 0.10: a timestamp, and relative offsets inside compressed wrappers.
    V1,
}

impl Magic {
    pub fn byte(self) -> u8 {
        match self {
            Magic::V0 => 0,
            Magic::V1 => 1,
        }
    }

    pub fn from_byte(byte: u8) -> Option<Magic> {
        match byte {
            0 => Some(Magic::V0),
            1 => Some(Magic::V1),
            _ => None,
        }
    }

    /// Size of a message of this version with null key and value.
    pub fn record_overhead(self) -> usize {
        match self {
            Magic::V0 => RECORD_OVERHEAD_V0,
            Magic::V1 => RECORD_OVERHEAD_V1,
        }
    }
}

/// The compression codecs kafkasim writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compression {
    None,
    Gzip,
}

impl Compression {
    /// The codec id stored in attribute bits 0-2.
    pub fn codec_id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
        }
    }

    fn from_codec_id(id: u8) -> Result<Compression, ErrorKind> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Err(ErrorKind::UnsupportedCodec("snappy")),
            3 => Err(ErrorKind::UnsupportedCodec("lz4")),
            other => Err(ErrorKind::UnknownCodec(other)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }
}

/// Attribute bit 3 of a v1 message (`message.timestamp.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TimestampType {
    /// The producer's timestamp.
    #[default]
    CreateTime,
    /// The time the leader appended the message.
    LogAppendTime,
}

impl TimestampType {
    pub fn name(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// What a producer hands to the log: the offset and format are the log's to decide.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Record {
    /// Milliseconds since the epoch (CreateTime); ignored by v0.
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

impl Record {
    pub fn new(timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Record {
        Record {
            timestamp,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
        }
    }
}

/// One message: the unit a CRC covers.
///
/// For v0 the timestamp is always [`NO_TIMESTAMP`] and the type `CreateTime`: the
/// format has no room for them, so encoding ignores them and decoding sets them so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub magic: Magic,
    pub compression: Compression,
    pub timestamp_type: TimestampType,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

impl Message {
    /// An uncompressed message of the given version; v0 drops the timestamp.
    pub fn new(magic: Magic, timestamp: i64, key: Option<Bytes>, value: Option<Bytes>) -> Message {
        Message {
            magic,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            timestamp: if magic == Magic::V0 {
                NO_TIMESTAMP
            } else {
                timestamp
            },
            key,
            value,
        }
    }

    /// The attributes byte, as Kafka's `computeAttributes`: bit 3 only for v1.
    pub fn attributes(&self) -> u8 {
        let mut attributes = self.compression.codec_id();
        if self.magic == Magic::V1 && self.timestamp_type == TimestampType::LogAppendTime {
            attributes |= TIMESTAMP_TYPE_MASK;
        }
        attributes
    }

    /// Bytes of the message alone (what `message_size` says), without the log overhead.
    pub fn size(&self) -> usize {
        message_size(self.magic, self.key.as_deref(), self.value.as_deref())
    }

    /// The CRC Kafka stores in the first four bytes.
    pub fn crc(&self) -> u32 {
        let mut buf = Vec::with_capacity(self.size());
        self.encode(&mut buf);
        u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]])
    }

    /// Appends the message alone (no offset or size) to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let mut entry = Vec::with_capacity(LOG_OVERHEAD + self.size());
        self.encode_entry(0, &mut entry);
        buf.extend_from_slice(&entry[LOG_OVERHEAD..]);
    }

    /// Appends a whole log entry to `buf`: offset, size, message.
    pub fn encode_entry(&self, offset: i64, buf: &mut Vec<u8>) {
        let (key, value) = (self.key.as_deref(), self.value.as_deref());
        write_entry(
            buf,
            offset,
            self.magic,
            self.attributes(),
            self.timestamp,
            key,
            value,
        );
    }
}

/// Magic, attributes, timestamp (v1) and the key length: everything between the CRC
/// and the key bytes.
fn header_after_crc(
    magic: Magic,
    attributes: u8,
    timestamp: i64,
    key: Option<&[u8]>,
) -> ([u8; 14], usize) {
    let mut header = [0u8; 14];
    header[0] = magic.byte();
    header[1] = attributes;
    let mut at = 2;
    if magic == Magic::V1 {
        header[at..at + 8].copy_from_slice(&timestamp.to_be_bytes());
        at += 8;
    }
    header[at..at + 4].copy_from_slice(&bytes_len(key).to_be_bytes());
    (header, at + 4)
}

fn bytes_len(bytes: Option<&[u8]>) -> i32 {
    bytes.map_or(-1, |b| b.len() as i32)
}

/// Size of a message (without log overhead) with this key and value.
pub fn message_size(magic: Magic, key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
    magic.record_overhead() + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len)
}

/// A message with its offset in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub offset: i64,
    pub message: Message,
}

/// What went wrong while decoding, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// Byte position of the log entry in the buffer that was being decoded.
    pub position: usize,
    /// The entry's offset, when its header could be read.
    pub offset: Option<i64>,
    pub kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The buffer ends inside the entry.
    Truncated { needed: usize, available: usize },
    /// `message_size`, or a key or value length, is impossible.
    BadLength { detail: String },
    /// The magic byte is not 0 or 1.
    BadMagic(u8),
    /// The stored CRC does not match the bytes.
    BadCrc { stored: u32, computed: u32 },
    /// A codec id Kafka never defined for this format.
    UnknownCodec(u8),
    /// A codec Kafka defines that kafkasim does not implement.
    UnsupportedCodec(&'static str),
    /// Attribute bits that must be zero are set.
    InvalidAttributes(u8),
    /// The compressed value does not inflate.
    Decompression(String),
    /// A message inside a wrapper is itself compressed.
    NestedCompression,
    /// A wrapper holds no messages.
    EmptyWrapper,
    /// A v1 wrapper whose offset is smaller than its last relative inner offset.
    InvalidWrapperOffset {
        wrapper_offset: i64,
        last_relative_offset: i64,
    },
    /// An inner message has a different magic from its wrapper.
    InnerMagicMismatch { wrapper: u8, inner: u8 },
    /// An error inside the compressed set of a wrapper (positions are within the
    /// decompressed bytes).
    InWrapper(Box<RecordError>),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}", self.position)?;
        if let Some(offset) = self.offset {
            write!(f, " (offset {offset})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed, available } => write!(
                f,
                "truncated entry: it needs {needed} bytes but only {available} remain"
            ),
            ErrorKind::BadLength { detail } => write!(f, "bad length: {detail}"),
            ErrorKind::BadMagic(2) => write!(
                f,
                "magic 2 is a record batch (Kafka 0.11+), which kafkasim does not read; \
                 it reads message format v0 and v1 only"
            ),
            ErrorKind::BadMagic(magic) => {
                write!(
                    f,
                    "bad magic byte {magic}: message format v0 and v1 use 0 and 1"
                )
            }
            ErrorKind::BadCrc { stored, computed } => write!(
                f,
                "CRC mismatch: the message stores {stored:#010x} but its bytes hash to \
                 {computed:#010x}; the message is corrupt"
            ),
            ErrorKind::UnknownCodec(id) => write!(
                f,
                "unknown compression codec {id}: the legacy format defines 0 (none), 1 (gzip), \
                 2 (snappy) and 3 (lz4)"
            ),
            ErrorKind::UnsupportedCodec(name) => write!(
                f,
                "compression codec {name} is not implemented by kafkasim; use gzip or none"
            ),
            ErrorKind::InvalidAttributes(attributes) => write!(
                f,
                "invalid attributes {attributes:#04x}: only the codec bits (0-2) and, in v1, \
                 the timestamp type bit (3) may be set"
            ),
            ErrorKind::Decompression(reason) => {
                write!(f, "the compressed value does not decompress: {reason}")
            }
            ErrorKind::NestedCompression => {
                write!(
                    f,
                    "a message inside a compressed wrapper is itself compressed"
                )
            }
            ErrorKind::EmptyWrapper => write!(f, "a compressed wrapper holds no messages"),
            ErrorKind::InvalidWrapperOffset {
                wrapper_offset,
                last_relative_offset,
            } => write!(
                f,
                "wrapper offset {wrapper_offset} is smaller than its last relative inner \
                 offset {last_relative_offset}"
            ),
            ErrorKind::InnerMagicMismatch { wrapper, inner } => write!(
                f,
                "an inner message has magic {inner} but its wrapper has magic {wrapper}"
            ),
            ErrorKind::InWrapper(inner) => write!(f, "inside the compressed wrapper, {inner}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// The header of one log entry, validated (size, magic, CRC, attributes, lengths), with
/// the byte ranges of its key and value in the buffer it came from. Reading it copies
/// nothing, which is what recovery and index rebuilding need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    pub offset: i64,
    /// Position of the entry (its offset field) in the buffer.
    pub position: usize,
    /// `message_size`: bytes of the message after the 12-byte log overhead.
    pub message_size: usize,
    pub crc: u32,
    pub magic: Magic,
    pub attributes: u8,
    pub compression: Compression,
    pub timestamp_type: TimestampType,
    pub timestamp: i64,
    pub key: Option<Range<usize>>,
    pub value: Option<Range<usize>>,
}

impl EntryHeader {
    /// Bytes of the whole entry, log overhead included.
    pub fn entry_len(&self) -> usize {
        LOG_OVERHEAD + self.message_size
    }

    /// Position just past this entry.
    pub fn end(&self) -> usize {
        self.position + self.entry_len()
    }

    /// Builds the message, sharing the key and value bytes with `buf`.
    pub fn message(&self, buf: &Bytes) -> Message {
        Message {
            magic: self.magic,
            compression: self.compression,
            timestamp_type: self.timestamp_type,
            timestamp: self.timestamp,
            key: self.key.clone().map(|r| buf.slice(r)),
            value: self.value.clone().map(|r| buf.slice(r)),
        }
    }
}

/// Reads just the offset and size at `position`, without validating the message: how a
/// reader skips forward through a log whose entries it trusts.
pub fn peek_offset_and_size(buf: &[u8], position: usize) -> Option<(i64, usize)> {
    let header = buf.get(position..position.checked_add(LOG_OVERHEAD)?)?;
    let offset = i64::from_be_bytes(header[..8].try_into().ok()?);
    let size = i32::from_be_bytes(header[8..12].try_into().ok()?);
    usize::try_from(size).ok().map(|size| (offset, size))
}

/// Validates the log entry that starts at `position` and returns its header.
///
/// Checks, in Kafka's order: the entry is complete, `message_size` is at least the
/// minimum overhead, the magic byte, the CRC, the attributes, and that the key and value
/// lengths fill the message exactly.
pub fn decode_header(buf: &[u8], position: usize) -> Result<EntryHeader, RecordError> {
    let err = |offset: Option<i64>, kind| RecordError {
        position,
        offset,
        kind,
    };
    let available = buf.len().saturating_sub(position);
    if available < LOG_OVERHEAD {
        return Err(err(
            None,
            ErrorKind::Truncated {
                needed: LOG_OVERHEAD,
                available,
            },
        ));
    }
    let offset = read_i64(buf, position);
    let size = read_i32(buf, position + 8);
    let offset_known = Some(offset);
    if size < RECORD_OVERHEAD_V0 as i32 {
        return Err(err(
            offset_known,
            ErrorKind::BadLength {
                detail: format!(
                    "message_size {size} is below the minimum message size {RECORD_OVERHEAD_V0}"
                ),
            },
        ));
    }
    let message_size = size as usize;
    let needed = LOG_OVERHEAD + message_size;
    if available < needed {
        return Err(err(
            offset_known,
            ErrorKind::Truncated { needed, available },
        ));
    }
    let start = position + LOG_OVERHEAD;
    let message = &buf[start..start + message_size];
    let magic_byte = message[4];
    let magic = Magic::from_byte(magic_byte)
        .ok_or_else(|| err(offset_known, ErrorKind::BadMagic(magic_byte)))?;
    if message_size < magic.record_overhead() {
        return Err(err(
            offset_known,
            ErrorKind::BadLength {
                detail: format!(
                    "message_size {message_size} is below the v{} minimum {}",
                    magic.byte(),
                    magic.record_overhead()
                ),
            },
        ));
    }
    let stored = u32::from_be_bytes([message[0], message[1], message[2], message[3]]);
    let computed = crc32fast::hash(&message[4..]);
    if stored != computed {
        return Err(err(offset_known, ErrorKind::BadCrc { stored, computed }));
    }
    let attributes = message[5];
    let allowed = match magic {
        Magic::V0 => CODEC_MASK,
        Magic::V1 => CODEC_MASK | TIMESTAMP_TYPE_MASK,
    };
    if attributes & !allowed != 0 {
        return Err(err(offset_known, ErrorKind::InvalidAttributes(attributes)));
    }
    let compression = Compression::from_codec_id(attributes & CODEC_MASK)
        .map_err(|kind| err(offset_known, kind))?;
    let (timestamp_type, timestamp, mut at) = match magic {
        Magic::V0 => (TimestampType::CreateTime, NO_TIMESTAMP, 6),
        Magic::V1 => {
            let timestamp_type = if attributes & TIMESTAMP_TYPE_MASK != 0 {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            };
            (timestamp_type, read_i64(message, 6), 14)
        }
    };
    let key = read_bytes_field(message, &mut at, "key").map_err(|kind| err(offset_known, kind))?;
    let value =
        read_bytes_field(message, &mut at, "value").map_err(|kind| err(offset_known, kind))?;
    if at != message_size {
        return Err(err(
            offset_known,
            ErrorKind::BadLength {
                detail: format!(
                    "message_size {message_size} says {} more bytes follow the value",
                    message_size - at
                ),
            },
        ));
    }
    let shift = |range: Range<usize>| start + range.start..start + range.end;
    let (key, value) = (key.map(shift), value.map(shift));
    Ok(EntryHeader {
        offset,
        position,
        message_size,
        crc: stored,
        magic,
        attributes,
        compression,
        timestamp_type,
        timestamp,
        key,
        value,
    })
}

/// Reads a BYTES field (length, then bytes; -1 for null) of `message` at `*at`, which it
/// advances. The range is within `message`.
fn read_bytes_field(
    message: &[u8],
    at: &mut usize,
    name: &str,
) -> Result<Option<Range<usize>>, ErrorKind> {
    let size = message.len();
    if *at + 4 > size {
        return Err(ErrorKind::BadLength {
            detail: format!("the {name} length runs past the end of a {size}-byte message"),
        });
    }
    let len = read_i32(message, *at);
    *at += 4;
    if len == -1 {
        return Ok(None);
    }
    match usize::try_from(len).ok().filter(|len| *at + len <= size) {
        Some(len) => {
            let range = *at..*at + len;
            *at += len;
            Ok(Some(range))
        }
        None => Err(ErrorKind::BadLength {
            detail: format!("{name} length {len} does not fit in a message of {size} bytes"),
        }),
    }
}

fn read_i64(buf: &[u8], at: usize) -> i64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(bytes)
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// The shallow entries of a message set: wrappers are returned as they are, not opened.
/// Stops after the first error, which it yields.
pub fn shallow_entries(buf: &[u8]) -> ShallowEntries<'_> {
    ShallowEntries {
        buf,
        position: 0,
        failed: false,
    }
}

pub struct ShallowEntries<'a> {
    buf: &'a [u8],
    position: usize,
    failed: bool,
}

impl ShallowEntries<'_> {
    /// Where the next entry would start: after the last valid one.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl Iterator for ShallowEntries<'_> {
    type Item = Result<EntryHeader, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.buf.len() {
            return None;
        }
        match decode_header(self.buf, self.position) {
            Ok(header) => {
                self.position = header.end();
                Some(Ok(header))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

/// Decodes every message in `buf`, opening compressed wrappers and giving each inner
/// message its absolute offset and resolved timestamp, as a consumer sees them.
pub fn decode_entries(buf: &Bytes) -> Result<Vec<LogEntry>, RecordError> {
    let mut out = Vec::new();
    for header in shallow_entries(buf) {
        let header = header?;
        if header.compression == Compression::None {
            out.push(LogEntry {
                offset: header.offset,
                message: header.message(buf),
            });
        } else {
            out.extend(decode_wrapper(buf, &header)?);
        }
    }
    Ok(out)
}

/// Like [`decode_entries`], but a truncated last entry ends the set instead of failing:
/// a fetch response cut at its size limit ends this way, and Kafka's consumers skip the
/// partial message.
pub fn decode_entries_allow_partial(buf: &Bytes) -> Result<Vec<LogEntry>, RecordError> {
    match decode_entries(buf) {
        Err(RecordError {
            kind: ErrorKind::Truncated { .. },
            position,
            ..
        }) => decode_entries(&buf.slice(..position)),
        other => other,
    }
}

/// Opens one compressed wrapper: its inner messages with absolute offsets.
pub fn decode_wrapper(buf: &Bytes, wrapper: &EntryHeader) -> Result<Vec<LogEntry>, RecordError> {
    let err = |kind| RecordError {
        position: wrapper.position,
        offset: Some(wrapper.offset),
        kind,
    };
    let compressed = wrapper.value.clone().map(|r| &buf[r]).unwrap_or_default();
    let inflated = match wrapper.compression {
        Compression::None => unreachable!("decode_wrapper is only called on compressed messages"),
        Compression::Gzip => gunzip(compressed).map_err(err)?,
    };
    let inflated = Bytes::from(inflated);
    let mut inner = Vec::new();
    for header in shallow_entries(&inflated) {
        let header = header.map_err(|e| err(ErrorKind::InWrapper(Box::new(e))))?;
        let inner_err = |kind| {
            err(ErrorKind::InWrapper(Box::new(RecordError {
                position: header.position,
                offset: Some(header.offset),
                kind,
            })))
        };
        if header.compression != Compression::None {
            return Err(inner_err(ErrorKind::NestedCompression));
        }
        if header.magic != wrapper.magic {
            return Err(inner_err(ErrorKind::InnerMagicMismatch {
                wrapper: wrapper.magic.byte(),
                inner: header.magic.byte(),
            }));
        }
        inner.push(header);
    }
    let Some(last) = inner.last() else {
        return Err(err(ErrorKind::EmptyWrapper));
    };
    // v0 inner offsets are absolute. v1 inner offsets are relative to the first; the
    // wrapper carries the absolute offset of the last (Kafka's DeepRecordsIterator).
    // Offsets are outside the CRC: crafted ones must not overflow.
    let invalid = || {
        err(ErrorKind::InvalidWrapperOffset {
            wrapper_offset: wrapper.offset,
            last_relative_offset: last.offset,
        })
    };
    let base = match wrapper.magic {
        Magic::V0 => 0,
        Magic::V1 if wrapper.offset == 0 => 0,
        Magic::V1 if wrapper.offset < last.offset => return Err(invalid()),
        Magic::V1 => wrapper
            .offset
            .checked_sub(last.offset)
            .ok_or_else(invalid)?,
    };
    inner
        .iter()
        .map(|header| {
            let mut message = header.message(&inflated);
            if wrapper.magic == Magic::V1 {
                message.timestamp_type = wrapper.timestamp_type;
                if wrapper.timestamp_type == TimestampType::LogAppendTime {
                    message.timestamp = wrapper.timestamp;
                }
            }
            let offset = base.checked_add(header.offset).ok_or_else(invalid)?;
            Ok(LogEntry { offset, message })
        })
        .collect()
}

fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, ErrorKind> {
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    decoder
        .take(MAX_DECOMPRESSED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ErrorKind::Decompression(e.to_string()))?;
    if out.len() > MAX_DECOMPRESSED_BYTES {
        return Err(ErrorKind::Decompression(format!(
            "it inflates past kafkasim's limit of {MAX_DECOMPRESSED_BYTES} bytes"
        )));
    }
    Ok(out)
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    // Java's GZIPOutputStream uses the default level 6, as does flate2's default.
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 2 + 64),
        flate2::Compression::default(),
    );
    encoder
        .write_all(raw)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// How a set of records is to be written: the log's format decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetFormat {
    pub magic: Magic,
    pub compression: Compression,
    pub timestamp_type: TimestampType,
}

/// What a message set holds, as the log's roll rule and indexes need to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// Largest timestamp in the set, [`NO_TIMESTAMP`] for v0.
    pub max_timestamp: i64,
    /// The shallow offset (a wrapper's own, for a compressed set) of the max timestamp.
    pub offset_of_max_timestamp: i64,
    /// The timestamp of the first shallow entry: what `segment.ms` measures from.
    pub first_entry_timestamp: i64,
}

/// Encodes `records` as a message set whose first message gets `first_offset`.
///
/// Uncompressed: one entry per record. Compressed: one wrapper holding them all, with
/// v1's relative inner offsets. With `LogAppendTime`, every timestamp (v1) is
/// `log_append_time_ms`. `records` must not be empty.
pub fn encode_message_set(
    format: SetFormat,
    first_offset: i64,
    records: &[Record],
    log_append_time_ms: i64,
) -> (Bytes, SetInfo) {
    let mut buf = Vec::new();
    write_message_set(format, first_offset, records, log_append_time_ms, &mut buf);
    let info = set_info(format, first_offset, records, log_append_time_ms);
    (Bytes::from(buf), info)
}

/// Bytes an uncompressed message set of `records` takes.
pub fn message_set_size_uncompressed(magic: Magic, records: &[Record]) -> usize {
    records
        .iter()
        .map(|r| LOG_OVERHEAD + message_size(magic, r.key.as_deref(), r.value.as_deref()))
        .sum()
}

/// The timestamp `record` is stored with.
fn stored_timestamp(format: SetFormat, record: &Record, log_append_time_ms: i64) -> i64 {
    match (format.magic, format.timestamp_type) {
        (Magic::V0, _) => NO_TIMESTAMP,
        (Magic::V1, TimestampType::CreateTime) => record.timestamp,
        (Magic::V1, TimestampType::LogAppendTime) => log_append_time_ms,
    }
}

/// The [`SetInfo`] of the set [`write_message_set`] writes, without writing it.
pub fn set_info(
    format: SetFormat,
    first_offset: i64,
    records: &[Record],
    log_append_time_ms: i64,
) -> SetInfo {
    assert!(
        !records.is_empty(),
        "a message set holds at least one message"
    );
    let last_offset = first_offset + records.len() as i64 - 1;
    let (mut max_timestamp, mut offset_of_max_timestamp) = (NO_TIMESTAMP, first_offset);
    for (i, record) in records.iter().enumerate() {
        let timestamp = stored_timestamp(format, record, log_append_time_ms);
        if timestamp > max_timestamp {
            max_timestamp = timestamp;
            offset_of_max_timestamp = first_offset + i as i64;
        }
    }
    match format.compression {
        Compression::None => SetInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp,
            first_entry_timestamp: stored_timestamp(format, &records[0], log_append_time_ms),
        },
        // A wrapper is one shallow entry, stamped with the set's max timestamp.
        Compression::Gzip => SetInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp: last_offset,
            first_entry_timestamp: max_timestamp,
        },
    }
}

/// Writes the set at the end of `buf` (a segment's bytes, say), copying each key and
/// value once.
pub fn write_message_set(
    format: SetFormat,
    first_offset: i64,
    records: &[Record],
    log_append_time_ms: i64,
    buf: &mut Vec<u8>,
) {
    assert!(
        !records.is_empty(),
        "a message set holds at least one message"
    );
    match format.compression {
        Compression::None => {
            let attributes = match (format.magic, format.timestamp_type) {
                (Magic::V1, TimestampType::LogAppendTime) => TIMESTAMP_TYPE_MASK,
                _ => 0,
            };
            // Each entry reserves its own room; callers that know the total reserve it.
            let start = buf.len();
            for (i, record) in records.iter().enumerate() {
                let timestamp = stored_timestamp(format, record, log_append_time_ms);
                write_entry_unsigned(
                    buf,
                    first_offset + i as i64,
                    format.magic,
                    attributes,
                    timestamp,
                    record.key.as_deref(),
                    record.value.as_deref(),
                );
            }
            sign_entries(buf, start);
        }
        Compression::Gzip => {
            // Inner messages keep the producer's CreateTime; a LogAppendTime wrapper
            // overrides them when read, as Kafka's broker does without recompressing.
            let mut inner =
                Vec::with_capacity(message_set_size_uncompressed(format.magic, records));
            for (i, record) in records.iter().enumerate() {
                let relative = match format.magic {
                    Magic::V0 => first_offset + i as i64,
                    Magic::V1 => i as i64,
                };
                let timestamp = if format.magic == Magic::V1 {
                    record.timestamp
                } else {
                    NO_TIMESTAMP
                };
                write_entry(
                    &mut inner,
                    relative,
                    format.magic,
                    0,
                    timestamp,
                    record.key.as_deref(),
                    record.value.as_deref(),
                );
            }
            let info = set_info(format, first_offset, records, log_append_time_ms);
            let attributes = Message {
                magic: format.magic,
                compression: format.compression,
                timestamp_type: format.timestamp_type,
                timestamp: info.max_timestamp,
                key: None,
                value: None,
            }
            .attributes();
            let compressed = gzip(&inner);
            write_entry(
                buf,
                info.last_offset,
                format.magic,
                attributes,
                info.max_timestamp,
                None,
                Some(&compressed),
            );
        }
    }
}

/// Appends one log entry to `buf` (offset, size, message) with its CRC field zeroed:
/// [`sign_entries`] fills it in.
fn write_entry_unsigned(
    buf: &mut Vec<u8>,
    offset: i64,
    magic: Magic,
    attributes: u8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let size = message_size(magic, key, value);
    buf.reserve(LOG_OVERHEAD + size);
    // Offset, size, a zeroed CRC, then magic, attributes, timestamp (v1) and the key
    // length: built on the stack and copied with one fixed-size copy (which compiles
    // to a couple of stores rather than a call), then trimmed to its real length.
    let (header, header_len) = header_after_crc(magic, attributes, timestamp, key);
    let mut prefix = [0u8; LOG_OVERHEAD + 4 + 14];
    prefix[..8].copy_from_slice(&offset.to_be_bytes());
    prefix[8..12].copy_from_slice(&(size as i32).to_be_bytes());
    prefix[16..].copy_from_slice(&header);
    let start = buf.len();
    buf.extend_from_slice(&prefix);
    buf.truncate(start + LOG_OVERHEAD + 4 + header_len);
    if let Some(key) = key {
        buf.extend_from_slice(key);
    }
    buf.extend_from_slice(&bytes_len(value).to_be_bytes());
    if let Some(value) = value {
        buf.extend_from_slice(value);
    }
}

/// Computes and stores the CRC of every entry in `buf[from..]`, which must hold whole
/// entries written by [`write_entry_unsigned`]. Signing after the whole set is written,
/// rather than message by message, matters: hashing bytes whose stores are still in
/// flight runs at about half speed, and the CRC is most of an append's cost.
fn sign_entries(buf: &mut [u8], from: usize) {
    let mut position = from;
    while position < buf.len() {
        let size = read_i32(buf, position + 8) as usize;
        let crc_at = position + LOG_OVERHEAD;
        let end = crc_at + size;
        let crc = crc32fast::hash(&buf[crc_at + 4..end]);
        buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
        position = end;
    }
}

/// Appends one signed log entry to `buf`.
fn write_entry(
    buf: &mut Vec<u8>,
    offset: i64,
    magic: Magic,
    attributes: u8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let start = buf.len();
    write_entry_unsigned(buf, offset, magic, attributes, timestamp, key, value);
    sign_entries(buf, start);
}

/// The timestamp of the shallow entry at `position`, read without validating it: how
/// a segment recomputes its max timestamp after truncation. None if it is not there.
pub fn peek_timestamp(buf: &[u8], position: usize) -> Option<i64> {
    let message = position.checked_add(LOG_OVERHEAD)?;
    match buf.get(message + 4)? {
        1 => buf
            .get(message + 6..message + 14)
            .map(|t| i64::from_be_bytes(t.try_into().expect("8 bytes"))),
        _ => Some(NO_TIMESTAMP),
    }
}
