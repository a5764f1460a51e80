//! What the group coordinator writes to `__consumer_offsets`, in Kafka's record schemas
//! (`GroupMetadataManager`, `OffsetCommitKey`/`OffsetCommitValue`,
//! `GroupMetadataKey`/`GroupMetadataValue`): big-endian integers, strings with an int16
//! length (-1 for null), byte arrays with an int32 length, arrays with an int32 count.
//!
//! - offset commit: key v1 (group, topic, partition), value v3 (offset, leader epoch,
//!   metadata, commit timestamp);
//! - group metadata: key v2 (group), value v3 (protocol type, generation, protocol,
//!   leader, state timestamp, members with their subscription and assignment, each in
//!   the consumer protocol's own schema: `ConsumerProtocolSubscription` v2 and
//!   `ConsumerProtocolAssignment` v0).
//!
//! A null value is a tombstone.

use std::collections::BTreeMap;
use std::fmt;

use super::assignor::Subscription;
use crate::ids::TopicPartition;

/// `__consumer_offsets`: the internal topic holding commits and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The partition of `__consumer_offsets` that holds a group: Kafka's
/// `Utils.abs(groupId.hashCode) % offsets.topic.num.partitions`.
pub fn partition_for_group(group_id: &str, num_partitions: u32) -> u32 {
    let hash = super::java::string_hash(group_id);
    // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs as u32 % num_partitions
}

/// One member as the group metadata record stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The subscription for the group's protocol.
    pub subscription: Subscription,
    pub assignment: Vec<TopicPartition>,
}

/// A group as the group metadata record stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredGroup {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp_ms: i64,
    pub members: Vec<StoredMember>,
}

/// One record of `__consumer_offsets`, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredRecord {
    /// An offset commit; None is a tombstone (the offset was deleted).
    Offset {
        group: String,
        tp: TopicPartition,
        value: Option<StoredOffset>,
    },
    /// A group's metadata; None is a tombstone (the group was deleted).
    Group {
        group: String,
        value: Option<StoredGroup>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

/// A record that is not one of the schemas above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError(pub String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a __consumer_offsets record: {}", self.0)
    }
}

// ----- encoding --------------------------------------------------------------------------

fn put_string(buf: &mut Vec<u8>, s: &str) {
    let len = i16::try_from(s.len()).expect("strings in group records are short");
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_nullable_string(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.extend_from_slice(&(-1i16).to_be_bytes()),
    }
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// Topic partitions grouped by topic, as the consumer protocol's schemas list them.
fn put_topic_partitions(buf: &mut Vec<u8>, partitions: &[TopicPartition]) {
    let mut by_topic: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    buf.extend_from_slice(&(by_topic.len() as i32).to_be_bytes());
    for (topic, partitions) in by_topic {
        put_string(buf, topic);
        buf.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
        for p in partitions {
            buf.extend_from_slice(&(p as i32).to_be_bytes());
        }
    }
}

/// `OffsetCommitKey` v1.
pub fn offset_key(group: &str, tp: &TopicPartition) -> Vec<u8> {
    let mut buf = 1i16.to_be_bytes().to_vec();
    put_string(&mut buf, group);
    put_string(&mut buf, &tp.topic);
    buf.extend_from_slice(&(tp.partition as i32).to_be_bytes());
    buf
}

/// `OffsetCommitValue` v3.
pub fn offset_value(value: &StoredOffset) -> Vec<u8> {
    let mut buf = 3i16.to_be_bytes().to_vec();
    buf.extend_from_slice(&value.offset.to_be_bytes());
    buf.extend_from_slice(&value.leader_epoch.to_be_bytes());
    put_string(&mut buf, &value.metadata);
    buf.extend_from_slice(&value.commit_timestamp_ms.to_be_bytes());
    buf
}

/// `GroupMetadataKey` v2.
pub fn group_key(group: &str) -> Vec<u8> {
    let mut buf = 2i16.to_be_bytes().to_vec();
    put_string(&mut buf, group);
    buf
}

/// `ConsumerProtocolSubscription` v2: topics, user data (null), owned partitions,
/// generation.
pub fn subscription_bytes(subscription: &Subscription) -> Vec<u8> {
    let mut buf = 2i16.to_be_bytes().to_vec();
    buf.extend_from_slice(&(subscription.topics.len() as i32).to_be_bytes());
    for topic in &subscription.topics {
        put_string(&mut buf, topic);
    }
    buf.extend_from_slice(&(-1i32).to_be_bytes());
    put_topic_partitions(&mut buf, &subscription.owned);
    buf.extend_from_slice(&subscription.generation.unwrap_or(-1).to_be_bytes());
    buf
}

/// `ConsumerProtocolAssignment` v0: partitions, user data (null).
pub fn assignment_bytes(assignment: &[TopicPartition]) -> Vec<u8> {
    let mut buf = 0i16.to_be_bytes().to_vec();
    put_topic_partitions(&mut buf, assignment);
    buf.extend_from_slice(&(-1i32).to_be_bytes());
    buf
}

/// `GroupMetadataValue` v3.
pub fn group_value(group: &StoredGroup) -> Vec<u8> {
    let mut buf = 3i16.to_be_bytes().to_vec();
    put_string(&mut buf, &group.protocol_type);
    buf.extend_from_slice(&group.generation.to_be_bytes());
    put_nullable_string(&mut buf, group.protocol.as_deref());
    put_nullable_string(&mut buf, group.leader.as_deref());
    buf.extend_from_slice(&group.state_timestamp_ms.to_be_bytes());
    buf.extend_from_slice(&(group.members.len() as i32).to_be_bytes());
    for m in &group.members {
        put_string(&mut buf, &m.member_id);
        put_nullable_string(&mut buf, m.group_instance_id.as_deref());
        put_string(&mut buf, &m.client_id);
        put_string(&mut buf, &m.client_host);
        buf.extend_from_slice(&m.rebalance_timeout_ms.to_be_bytes());
        buf.extend_from_slice(&m.session_timeout_ms.to_be_bytes());
        put_bytes(&mut buf, &subscription_bytes(&m.subscription));
        put_bytes(&mut buf, &assignment_bytes(&m.assignment));
    }
    buf
}

// ----- decoding --------------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(StorageError(format!(
                "the {} ends at byte {} but {n} more bytes were expected at byte {}",
                self.what,
                self.buf.len(),
                self.pos
            )));
        };
        let slice = &self.buf[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn i16(&mut self) -> Result<i16, StorageError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2")))
    }

    fn i32(&mut self) -> Result<i32, StorageError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn i64(&mut self) -> Result<i64, StorageError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn nullable_string(&mut self) -> Result<Option<String>, StorageError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| StorageError(format!("a string in the {} is not UTF-8", self.what)))
    }

    fn string(&mut self) -> Result<String, StorageError> {
        let what = self.what;
        self.nullable_string()?
            .ok_or_else(|| StorageError(format!("a null string in the {what}")))
    }

    fn count(&mut self) -> Result<usize, StorageError> {
        let n = self.i32()?;
        usize::try_from(n)
            .map_err(|_| StorageError(format!("a negative array length {n} in the {}", self.what)))
    }

    fn bytes(&mut self) -> Result<&'a [u8], StorageError> {
        let n = self.count()?;
        self.take(n)
    }

    fn topic_partitions(&mut self) -> Result<Vec<TopicPartition>, StorageError> {
        let mut out = Vec::new();
        for _ in 0..self.count()? {
            let topic = self.string()?;
            for _ in 0..self.count()? {
                out.push(TopicPartition::new(&topic, self.i32()? as u32));
            }
        }
        Ok(out)
    }
}

fn decode_subscription(bytes: &[u8]) -> Result<Subscription, StorageError> {
    let mut r = Reader::new(bytes, "consumer subscription");
    let version = r.i16()?;
    let mut subscription = Subscription::default();
    for _ in 0..r.count()? {
        subscription.topics.push(r.string()?);
    }
    let user_data = r.i32()?;
    if user_data > 0 {
        r.take(user_data as usize)?;
    }
    if version >= 1 {
        subscription.owned = r.topic_partitions()?;
    }
    if version >= 2 {
        subscription.generation = Some(r.i32()?).filter(|g| *g >= 0);
    }
    Ok(subscription)
}

fn decode_assignment(bytes: &[u8]) -> Result<Vec<TopicPartition>, StorageError> {
    let mut r = Reader::new(bytes, "consumer assignment");
    r.i16()?;
    r.topic_partitions()
}

fn decode_group(bytes: &[u8]) -> Result<StoredGroup, StorageError> {
    let mut r = Reader::new(bytes, "group metadata value");
    let version = r.i16()?;
    if !(0..=3).contains(&version) {
        return Err(StorageError(format!(
            "group metadata value version {version} (known: 0 to 3)"
        )));
    }
    let protocol_type = r.string()?;
    let generation = r.i32()?;
    let protocol = r.nullable_string()?;
    let leader = r.nullable_string()?;
    let state_timestamp_ms = if version >= 2 { r.i64()? } else { -1 };
    let mut members = Vec::new();
    for _ in 0..r.count()? {
        let member_id = r.string()?;
        let group_instance_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        let client_id = r.string()?;
        let client_host = r.string()?;
        let rebalance_timeout_ms = if version >= 1 { r.i32()? } else { -1 };
        let session_timeout_ms = r.i32()?;
        let mut subscription = decode_subscription(r.bytes()?)?;
        subscription.member_id = member_id.clone();
        subscription.group_instance_id = group_instance_id.clone();
        let assignment = decode_assignment(r.bytes()?)?;
        members.push(StoredMember {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: if rebalance_timeout_ms < 0 {
                session_timeout_ms
            } else {
                rebalance_timeout_ms
            },
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Ok(StoredGroup {
        protocol_type,
        generation,
        protocol,
        leader,
        state_timestamp_ms,
        members,
    })
}

/// Decodes one `__consumer_offsets` record.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<StoredRecord, StorageError> {
    let mut r = Reader::new(key, "record key");
    match r.i16()? {
        0 | 1 => {
            let group = r.string()?;
            let topic = r.string()?;
            let partition = r.i32()? as u32;
            let value = match value {
                None => None,
                Some(bytes) => {
                    let mut r = Reader::new(bytes, "offset commit value");
                    let version = r.i16()?;
                    let offset = r.i64()?;
                    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
                    let metadata = r.string()?;
                    let commit_timestamp_ms = r.i64()?;
                    Some(StoredOffset {
                        offset,
                        leader_epoch,
                        metadata,
                        commit_timestamp_ms,
                    })
                }
            };
            Ok(StoredRecord::Offset {
                group,
                tp: TopicPartition::new(&topic, partition),
                value,
            })
        }
        2 => Ok(StoredRecord::Group {
            group: r.string()?,
            value: value.map(decode_group).transpose()?,
        }),
        v => Err(StorageError(format!(
            "key version {v} (0 and 1 are offset commits, 2 is group metadata)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_commit_round_trips_in_kafkas_layout() {
        let tp = TopicPartition::new("orders", 3);
        let key = offset_key("billing", &tp);
        // version 1, "billing", "orders", partition 3
        assert_eq!(
            key,
            [
                &[0, 1, 0, 7][..],
                b"billing",
                &[0, 6],
                b"orders",
                &[0, 0, 0, 3]
            ]
            .concat()
        );
        let value = StoredOffset {
            offset: 42,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 1_000,
        };
        let bytes = offset_value(&value);
        assert_eq!(bytes.len(), 2 + 8 + 4 + 2 + 8);
        assert_eq!(
            decode(&key, Some(&bytes)),
            Ok(StoredRecord::Offset {
                group: "billing".into(),
                tp: tp.clone(),
                value: Some(value)
            })
        );
        assert_eq!(
            decode(&key, None),
            Ok(StoredRecord::Offset {
                group: "billing".into(),
                tp,
                value: None
            })
        );
    }

    #[test]
    fn group_metadata_round_trips() {
        let group = StoredGroup {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("c-1".into()),
            state_timestamp_ms: 7,
            members: vec![StoredMember {
                member_id: "c-1".into(),
                group_instance_id: Some("i-1".into()),
                client_id: "c".into(),
                client_host: "/20001".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 45_000,
                subscription: Subscription {
                    member_id: "c-1".into(),
                    group_instance_id: Some("i-1".into()),
                    topics: vec!["orders".into(), "payments".into()],
                    owned: vec![TopicPartition::new("orders", 0)],
                    generation: Some(3),
                },
                assignment: vec![
                    TopicPartition::new("orders", 0),
                    TopicPartition::new("payments", 1),
                ],
            }],
        };
        let decoded = decode(&group_key("billing"), Some(&group_value(&group)));
        assert_eq!(
            decoded,
            Ok(StoredRecord::Group {
                group: "billing".into(),
                value: Some(group)
            })
        );
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        let key = group_key("billing");
        let value = group_value(&StoredGroup {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: None,
            leader: None,
            state_timestamp_ms: 0,
            members: Vec::new(),
        });
        for cut in 0..value.len() {
            assert!(decode(&key, Some(&value[..cut])).is_err(), "cut at {cut}");
        }
        let err = decode(&[0, 9, 0, 0], None).unwrap_err();
        assert!(err.to_string().contains("key version 9"), "{err}");
        assert!(decode(&[], None).is_err());
    }

    #[test]
    fn groups_map_to_partitions_as_kafka_does() {
        // "billing".hashCode() = -109829509 in Java; abs % 50 = 9.
        assert_eq!(super::super::java::string_hash("billing"), -109_829_509);
        assert_eq!(partition_for_group("billing", 50), 9);
        assert_eq!(partition_for_group("group-a", 50), 47);
        assert_eq!(partition_for_group("", 50), 0);
    }
}
