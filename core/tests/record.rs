//! The legacy message format: Kafka's byte-exact vectors, wrappers, errors, and
//! property tests that decoding round-trips and never panics.

use bytes::{BufMut, Bytes, BytesMut};
use kafkasim_core::record::{
    self, Compression, ErrorKind, LogEntry, Magic, Message, NO_TIMESTAMP, Record, RecordError,
    SetFormat, TimestampType,
};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn message(magic: Magic, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Message {
    Message::new(
        magic,
        timestamp,
        key.map(Bytes::copy_from_slice),
        value.map(Bytes::copy_from_slice),
    )
}

fn encoded(message: &Message) -> Vec<u8> {
    let mut buf = Vec::new();
    message.encode(&mut buf);
    buf
}

/// The vectors of kafka-facts.md section 2.1 (kafka-python's test_protocol.py, and two
/// computed with zlib.crc32).
#[test]
fn messages_match_kafkas_bytes() {
    let cases: [(Message, u32, &str); 6] = [
        (
            message(Magic::V0, NO_TIMESTAMP, Some(b"key"), Some(b"test")),
            0xaaf18f5b,
            "aaf18f5b 00 00 00000003 6b6579 00000004 74657374",
        ),
        (
            message(Magic::V1, 1234, Some(b"key"), Some(b"test")),
            0x4f56c75b,
            "4f56c75b 01 00 00000000000004d2 00000003 6b6579 00000004 74657374",
        ),
        (
            message(Magic::V0, NO_TIMESTAMP, Some(b"k1"), Some(b"v1")),
            0x57e7496e,
            "57e7496e 00 00 00000002 6b31 00000002 7631",
        ),
        (
            message(Magic::V0, NO_TIMESTAMP, Some(b"k2"), Some(b"v2")),
            0xff060249,
            "ff060249 00 00 00000002 6b32 00000002 7632",
        ),
        (
            message(Magic::V0, NO_TIMESTAMP, None, Some(b"hello")),
            0x87a77ab2,
            "87a77ab2 00 00 ffffffff 00000005 68656c6c6f",
        ),
        (
            message(Magic::V0, NO_TIMESTAMP, None, None),
            0xa7ec6803,
            "a7ec6803 00 00 ffffffff ffffffff",
        ),
    ];
    for (message, crc, bytes) in cases {
        let expected = hex(bytes);
        assert_eq!(encoded(&message), expected, "{message:?}");
        assert_eq!(message.crc(), crc);
        assert_eq!(message.size(), expected.len());
        // Decoding the same bytes, in a log entry, gives the message back.
        let mut entry = Vec::new();
        message.encode_entry(7, &mut entry);
        let decoded = record::decode_entries(&Bytes::from(entry)).unwrap();
        assert_eq!(decoded, vec![LogEntry { offset: 7, message }]);
    }
}

#[test]
fn a_message_set_is_entries_of_offset_size_and_message() {
    // kafka-python puts the k1/v1 message in a MessageSet at offset 0 with size 18.
    let mut set = Vec::new();
    message(Magic::V0, NO_TIMESTAMP, Some(b"k1"), Some(b"v1")).encode_entry(0, &mut set);
    message(Magic::V0, NO_TIMESTAMP, Some(b"k2"), Some(b"v2")).encode_entry(1, &mut set);
    let expected = hex(
        "0000000000000000 00000012 57e7496e 00 00 00000002 6b31 00000002 7631
         0000000000000001 00000012 ff060249 00 00 00000002 6b32 00000002 7632",
    );
    assert_eq!(set, expected);
    let headers: Vec<_> = record::shallow_entries(&set).map(Result::unwrap).collect();
    assert_eq!(
        headers
            .iter()
            .map(|h| (h.offset, h.position, h.message_size))
            .collect::<Vec<_>>(),
        [(0, 0, 18), (1, 30, 18)]
    );
}

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::new(
                1000 + i as i64,
                Some(format!("k{i}").as_bytes()),
                Some(format!("value {i}").as_bytes()),
            )
        })
        .collect()
}

#[test]
fn v1_gzip_wrapper_has_relative_inner_offsets_and_the_last_absolute_offset() {
    let format = SetFormat {
        magic: Magic::V1,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::CreateTime,
    };
    let (bytes, info) = record::encode_message_set(format, 100, &records(3), 0);
    assert_eq!(
        (info.first_offset, info.last_offset, info.max_timestamp),
        (100, 102, 1002)
    );
    let shallow: Vec<_> = record::shallow_entries(&bytes)
        .map(Result::unwrap)
        .collect();
    assert_eq!(shallow.len(), 1, "one wrapper");
    let wrapper = &shallow[0];
    assert_eq!(
        (wrapper.offset, wrapper.compression, wrapper.timestamp),
        (102, Compression::Gzip, 1002)
    );
    assert_eq!(wrapper.key, None, "a wrapper has a null key");
    // Inside, v1 offsets are 0, 1, 2.
    let inner_bytes = {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[wrapper.value.clone().unwrap()])
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let inner: Vec<_> = record::shallow_entries(&inner_bytes)
        .map(|h| h.unwrap().offset)
        .collect();
    assert_eq!(inner, [0, 1, 2]);
    // Read deep, they are 100..=102 with their own CreateTime timestamps.
    let entries = record::decode_entries(&bytes).unwrap();
    let got: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.offset,
                e.message.timestamp,
                e.message.key.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (100, 1000, Bytes::from("k0")),
            (101, 1001, Bytes::from("k1")),
            (102, 1002, Bytes::from("k2"))
        ]
    );
}

#[test]
fn v0_gzip_wrapper_has_absolute_inner_offsets() {
    let format = SetFormat {
        magic: Magic::V0,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::CreateTime,
    };
    let (bytes, _) = record::encode_message_set(format, 100, &records(3), 0);
    let wrapper = record::shallow_entries(&bytes).next().unwrap().unwrap();
    assert_eq!(wrapper.offset, 102);
    let entries = record::decode_entries(&bytes).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.offset).collect::<Vec<_>>(),
        [100, 101, 102]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.message.timestamp == NO_TIMESTAMP && e.message.magic == Magic::V0)
    );
}

#[test]
fn log_append_time_wrapper_stamps_its_inner_messages() {
    let format = SetFormat {
        magic: Magic::V1,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::LogAppendTime,
    };
    let (bytes, info) = record::encode_message_set(format, 0, &records(3), 55_000);
    assert_eq!(info.max_timestamp, 55_000);
    let wrapper = record::shallow_entries(&bytes).next().unwrap().unwrap();
    assert_eq!(
        wrapper.attributes,
        0x01 | 0x08,
        "gzip codec and the LogAppendTime bit"
    );
    for entry in record::decode_entries(&bytes).unwrap() {
        assert_eq!(
            (entry.message.timestamp, entry.message.timestamp_type),
            (55_000, TimestampType::LogAppendTime)
        );
    }
}

#[test]
fn a_v1_wrapper_at_offset_zero_keeps_inner_offsets_as_they_are() {
    // Some clients (librdkafka) produce wrappers with offset 0; Kafka reads the inner
    // relative offsets as they are.
    let format = SetFormat {
        magic: Magic::V1,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::CreateTime,
    };
    let (bytes, _) = record::encode_message_set(format, 0, &records(3), 0);
    let mut bytes = bytes.to_vec();
    bytes[..8].copy_from_slice(&0i64.to_be_bytes()); // offset is outside the CRC
    let entries = record::decode_entries(&Bytes::from(bytes)).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.offset).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn a_v1_wrapper_offset_below_its_inner_offsets_is_refused() {
    let format = SetFormat {
        magic: Magic::V1,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::CreateTime,
    };
    let (bytes, _) = record::encode_message_set(format, 0, &records(3), 0);
    let mut bytes = bytes.to_vec();
    bytes[..8].copy_from_slice(&1i64.to_be_bytes());
    let error = record::decode_entries(&Bytes::from(bytes)).unwrap_err();
    assert_eq!(
        error.kind,
        ErrorKind::InvalidWrapperOffset {
            wrapper_offset: 1,
            last_relative_offset: 2
        }
    );
}

/// Builds an entry with arbitrary attributes and a correct CRC, to reach the checks
/// that come after the CRC.
fn entry_with_attributes(magic: u8, attributes: u8, value: &[u8]) -> Bytes {
    let mut message = BytesMut::new();
    message.put_u8(magic);
    message.put_u8(attributes);
    if magic == 1 {
        message.put_i64(0);
    }
    message.put_i32(-1);
    message.put_i32(value.len() as i32);
    message.put_slice(value);
    let mut entry = BytesMut::new();
    entry.put_i64(42);
    entry.put_i32(message.len() as i32 + 4);
    entry.put_u32(crc32fast::hash(&message));
    entry.put_slice(&message);
    entry.freeze()
}

fn valid_entry() -> Bytes {
    let mut buf = Vec::new();
    message(Magic::V1, 5, Some(b"key"), Some(b"value")).encode_entry(42, &mut buf);
    Bytes::from(buf)
}

#[test]
fn a_flipped_bit_is_a_bad_crc_naming_the_offset() {
    let mut bytes = valid_entry().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let error = record::decode_entries(&Bytes::from(bytes)).unwrap_err();
    assert!(matches!(error.kind, ErrorKind::BadCrc { .. }), "{error}");
    assert_eq!((error.position, error.offset), (0, Some(42)));
    assert!(
        error
            .to_string()
            .starts_with("at byte 0 (offset 42): CRC mismatch"),
        "{error}"
    );
}

#[test]
fn a_cut_entry_is_truncated_and_says_how_much_is_missing() {
    let bytes = valid_entry();
    let error = record::decode_entries(&bytes.slice(..bytes.len() - 3)).unwrap_err();
    assert_eq!(
        error.kind,
        ErrorKind::Truncated {
            needed: bytes.len(),
            available: bytes.len() - 3
        }
    );
    let error = record::decode_entries(&bytes.slice(..5)).unwrap_err();
    assert_eq!(error.offset, None, "no offset can be read from 5 bytes");
    assert_eq!(
        error.kind,
        ErrorKind::Truncated {
            needed: 12,
            available: 5
        }
    );
    // A reader of fetch responses skips a partial last message instead.
    let mut two = valid_entry().to_vec();
    two.extend_from_slice(&bytes[..bytes.len() - 3]);
    assert_eq!(
        record::decode_entries_allow_partial(&Bytes::from(two))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn bad_magic_bad_length_and_codecs_are_named() {
    let mut bytes = valid_entry().to_vec();
    bytes[16] = 2;
    let error = record::decode_entries(&Bytes::from(bytes)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::BadMagic(2));
    assert!(
        error.to_string().contains("record batch (Kafka 0.11+)"),
        "{error}"
    );

    let mut bytes = valid_entry().to_vec();
    bytes[8..12].copy_from_slice(&3i32.to_be_bytes());
    let error = record::decode_entries(&Bytes::from(bytes)).unwrap_err();
    assert!(matches!(error.kind, ErrorKind::BadLength { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("message_size 3 is below the minimum"),
        "{error}"
    );

    let error = record::decode_entries(&entry_with_attributes(0, 2, b"x")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnsupportedCodec("snappy"));
    assert!(
        error
            .to_string()
            .contains("snappy is not implemented by kafkasim; use gzip or none")
    );
    let error = record::decode_entries(&entry_with_attributes(1, 3, b"x")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnsupportedCodec("lz4"));
    let error = record::decode_entries(&entry_with_attributes(1, 5, b"x")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnknownCodec(5));
    let error = record::decode_entries(&entry_with_attributes(0, 0x08, b"x")).unwrap_err();
    assert_eq!(
        error.kind,
        ErrorKind::InvalidAttributes(0x08),
        "v0 has no timestamp type"
    );
    let error = record::decode_entries(&entry_with_attributes(1, 1, b"not gzip")).unwrap_err();
    assert!(matches!(error.kind, ErrorKind::Decompression(_)), "{error}");
}

#[test]
fn a_key_length_past_the_message_is_a_bad_length() {
    let mut bytes = valid_entry().to_vec();
    // v1 key length sits at 12 + 14; make it 1000 and fix the CRC so the length check
    // is what fails.
    bytes[26..30].copy_from_slice(&1000i32.to_be_bytes());
    let crc = crc32fast::hash(&bytes[16..]);
    bytes[12..16].copy_from_slice(&crc.to_be_bytes());
    let error = record::decode_entries(&Bytes::from(bytes)).unwrap_err();
    assert_eq!(
        error.kind,
        ErrorKind::BadLength {
            detail: "key length 1000 does not fit in a message of 30 bytes".to_string()
        }
    );
}

fn gzip_wrapper(magic: Magic, inner: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(inner).unwrap();
    let wrapper = Message {
        magic,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::CreateTime,
        timestamp: if magic == Magic::V1 { 0 } else { NO_TIMESTAMP },
        key: None,
        value: Some(Bytes::from(encoder.finish().unwrap())),
    };
    let mut buf = Vec::new();
    wrapper.encode_entry(9, &mut buf);
    Bytes::from(buf)
}

#[test]
fn wrappers_must_hold_uncompressed_messages_of_their_own_magic() {
    let nested = gzip_wrapper(Magic::V1, &valid_entry());
    let error = record::decode_entries(&gzip_wrapper(Magic::V1, &nested)).unwrap_err();
    let ErrorKind::InWrapper(inner) = &error.kind else {
        panic!("{error}")
    };
    assert_eq!(inner.kind, ErrorKind::NestedCompression);
    assert!(
        error
            .to_string()
            .starts_with("at byte 0 (offset 9): inside the compressed wrapper, at byte 0 (offset"),
        "{error}"
    );

    let error = record::decode_entries(&gzip_wrapper(Magic::V0, &valid_entry())).unwrap_err();
    let ErrorKind::InWrapper(inner) = &error.kind else {
        panic!("{error}")
    };
    assert_eq!(
        inner.kind,
        ErrorKind::InnerMagicMismatch {
            wrapper: 0,
            inner: 1
        }
    );

    let error = record::decode_entries(&gzip_wrapper(Magic::V1, &[])).unwrap_err();
    assert_eq!(error.kind, ErrorKind::EmptyWrapper);
}

fn arb_bytes() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from))
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        prop::bool::ANY,
        any::<i64>(),
        prop::bool::ANY,
        arb_bytes(),
        arb_bytes(),
    )
        .prop_map(|(v1, timestamp, log_append, key, value)| {
            let magic = if v1 { Magic::V1 } else { Magic::V0 };
            let mut message = Message::new(magic, timestamp, key, value);
            if v1 && log_append {
                message.timestamp_type = TimestampType::LogAppendTime;
            }
            message
        })
}

fn arb_records() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec(
        (0i64..1 << 40, arb_bytes(), arb_bytes()).prop_map(|(timestamp, key, value)| Record {
            timestamp,
            key,
            value,
        }),
        1..12,
    )
}

fn arb_format() -> impl Strategy<Value = SetFormat> {
    (prop::bool::ANY, prop::bool::ANY, prop::bool::ANY).prop_map(|(v1, gzip, log_append)| {
        SetFormat {
            magic: if v1 { Magic::V1 } else { Magic::V0 },
            compression: if gzip {
                Compression::Gzip
            } else {
                Compression::None
            },
            timestamp_type: if log_append {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
        }
    })
}

proptest! {
    #[test]
    fn messages_round_trip(messages in prop::collection::vec(arb_message(), 1..8), base in 0i64..1 << 50) {
        let mut buf = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            message.encode_entry(base + i as i64, &mut buf);
        }
        let bytes = Bytes::from(buf);
        let decoded = record::decode_entries(&bytes).unwrap();
        let expected: Vec<_> = messages.into_iter().enumerate()
            .map(|(i, message)| LogEntry { offset: base + i as i64, message }).collect();
        prop_assert_eq!(decoded, expected);
        // And the headers point at the same bytes again.
        let total: usize = record::shallow_entries(&bytes).map(|h| h.unwrap().entry_len()).sum();
        prop_assert_eq!(total, bytes.len());
    }

    #[test]
    fn message_sets_round_trip(format in arb_format(), records in arb_records(), first in 0i64..1 << 40, now in 0i64..1 << 40) {
        let (bytes, info) = record::encode_message_set(format, first, &records, now);
        let decoded = record::decode_entries(&bytes).unwrap();
        prop_assert_eq!(decoded.len(), records.len());
        prop_assert_eq!(info.last_offset, first + records.len() as i64 - 1);
        for (i, (entry, record)) in decoded.iter().zip(&records).enumerate() {
            prop_assert_eq!(entry.offset, first + i as i64);
            prop_assert_eq!(&entry.message.key, &record.key);
            prop_assert_eq!(&entry.message.value, &record.value);
            let timestamp = match (format.magic, format.timestamp_type) {
                (Magic::V0, _) => NO_TIMESTAMP,
                (Magic::V1, TimestampType::CreateTime) => record.timestamp,
                (Magic::V1, TimestampType::LogAppendTime) => now,
            };
            prop_assert_eq!(entry.message.timestamp, timestamp);
            prop_assert!(entry.message.timestamp <= info.max_timestamp);
        }
        if format.compression == Compression::None {
            prop_assert_eq!(bytes.len(), record::message_set_size_uncompressed(format.magic, &records));
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let bytes = Bytes::from(bytes);
        let _ = record::decode_entries(&bytes);
        let _ = record::decode_entries_allow_partial(&bytes);
        for header in record::shallow_entries(&bytes) {
            let _ = header.map(|h| h.message(&bytes));
        }
    }

    #[test]
    fn any_corruption_of_a_valid_set_is_caught_or_harmless(
        format in arb_format(),
        records in arb_records(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let (bytes, _) = record::encode_message_set(format, 10, &records, 99);
        let mut corrupt = bytes.to_vec();
        let at = at.index(corrupt.len());
        corrupt[at] ^= xor;
        let result = record::decode_entries(&Bytes::from(corrupt));
        // Bytes 0..8 of an entry (its offset) are outside the CRC: changing one still
        // decodes, with another offset. Anywhere else, the change must be caught.
        let in_crc_scope = record::shallow_entries(&bytes)
            .map(Result::unwrap)
            .any(|h| at >= h.position + 8 && at < h.end());
        if in_crc_scope {
            let error: RecordError = result.unwrap_err();
            prop_assert!(error.position < bytes.len());
        }
    }
}

#[test]
fn crafted_offsets_cannot_overflow_a_wrapper() {
    // Offsets are outside the CRC, so anyone can write any offset with a valid CRC.
    let mut inner = Vec::new();
    message(Magic::V1, 0, None, Some(b"x")).encode_entry(i64::MIN, &mut inner);
    let error = record::decode_entries(&gzip_wrapper(Magic::V1, &inner)).unwrap_err();
    assert!(
        matches!(error.kind, ErrorKind::InvalidWrapperOffset { .. }),
        "{error}"
    );
    let mut inner = Vec::new();
    message(Magic::V1, 0, None, Some(b"a")).encode_entry(i64::MAX, &mut inner);
    message(Magic::V1, 0, None, Some(b"b")).encode_entry(0, &mut inner);
    let error = record::decode_entries(&gzip_wrapper(Magic::V1, &inner)).unwrap_err();
    assert!(
        matches!(error.kind, ErrorKind::InvalidWrapperOffset { .. }),
        "{error}"
    );
}
