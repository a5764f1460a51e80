//! The broker as group coordinator (Kafka's `GroupCoordinator` with its
//! `GroupMetadataManager`): a broker coordinates the groups whose `__consumer_offsets`
//! partition it leads. It loads their metadata and offsets from that partition when it
//! becomes leader and drops them when it stops; commits and group assignments are
//! written to the partition with acks=all and answered once the write is committed, so
//! a new coordinator finds everything that was acknowledged.

use crate::event::EventKind;
use crate::group::coordinator::{GroupError, OnStored, Reply, ReplyTo, SyncGroupResponse};
use crate::group::storage::{self, OFFSETS_TOPIC, StoredOffset, partition_for_group};
use crate::partition::{Acks, PartitionError};
use crate::protocol::{
    ClientError, CreateTopic, GroupRequest, GroupResponse, Message, NodeId, TopicPartition,
};
use crate::record::{Compression, Record};
use crate::replication::BrokerId;

use super::{Broker, PendingProduce, Waiter};

/// This module's actors tell the narration [`crate::event::Event`]s.
type Outbox = crate::actor::Outbox<crate::event::Event>;

/// How long a broker waits before asking the controller again to create
/// `__consumer_offsets`.
const OFFSETS_TOPIC_CREATE_BACKOFF_MS: i64 = 1_000;

/// What waits for a write to `__consumer_offsets` (acks=all) in the produce purgatory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum OffsetsWrite {
    /// An OffsetCommit: stored in the coordinator's cache and answered once committed.
    Commit {
        reply_to: ReplyTo,
        group: String,
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// A group's metadata: answers and the coordinator's callback wait for it.
    Group {
        group: String,
        replies: Vec<Reply>,
        on_stored: Option<OnStored>,
    },
}

/// Kafka's mapping of a failed `__consumer_offsets` append to the commit's error
/// (`GroupMetadataManager.storeOffsets`): REQUEST_TIMED_OUT stays itself.
fn commit_error(error: &ClientError) -> GroupError {
    match error {
        ClientError::UnknownTopicOrPartition
        | ClientError::Partition(
            PartitionError::NotEnoughReplicas { .. }
            | PartitionError::NotEnoughReplicasAfterAppend { .. },
        ) => GroupError::CoordinatorNotAvailable,
        // A leader epoch check failing means another broker leads the partition now.
        ClientError::Partition(
            PartitionError::NotLeaderOrFollower { .. } | PartitionError::FencedLeaderEpoch { .. },
        ) => GroupError::NotCoordinator,
        ClientError::RequestTimedOut => GroupError::RequestTimedOut,
        _ => GroupError::UnknownServerError,
    }
}

/// The same for a group's metadata (`GroupMetadataManager.storeGroup`): a write that
/// timed out answers REBALANCE_IN_PROGRESS, so the members rejoin.
fn group_write_error(error: &ClientError) -> GroupError {
    match error {
        ClientError::RequestTimedOut => GroupError::RebalanceInProgress,
        other => commit_error(other),
    }
}

fn send_reply(out: &mut Outbox, to: NodeId, correlation_id: u64, response: GroupResponse) {
    out.send(
        to,
        Message::GroupReply {
            correlation_id,
            response,
        },
    );
}

fn send_coordinator_reply(out: &mut Outbox, reply: Reply) {
    let (to, response) = match reply {
        Reply::Join(to, r) => (to, GroupResponse::Join(r)),
        Reply::Sync(to, r) => (to, GroupResponse::Sync(r)),
    };
    send_reply(out, to.client, to.correlation_id, response);
}

impl Broker {
    fn offsets_partition(&self, group_id: &str) -> u32 {
        partition_for_group(group_id, self.config.offsets_topic_num_partitions)
    }

    /// Whether this broker has loaded the groups of `__consumer_offsets-partition`.
    pub fn coordinates(&self, group_id: &str) -> bool {
        self.coordinated.contains(&self.offsets_partition(group_id))
    }

    pub fn coordinator(&self) -> &crate::group::coordinator::Coordinator {
        &self.coordinator
    }

    pub(super) fn on_group_request(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        request: GroupRequest,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let reply_to = ReplyTo {
            client: from,
            correlation_id,
        };
        if let GroupRequest::FindCoordinator { group_id } = &request {
            let result = self.find_coordinator(group_id, now_ms, out);
            return send_reply(
                out,
                from,
                correlation_id,
                GroupResponse::FindCoordinator(result),
            );
        }
        if !self.coordinates(request.group_id()) {
            let response = request.failed(GroupError::NotCoordinator);
            return send_reply(out, from, correlation_id, response);
        }
        let c = &mut self.coordinator;
        let response = match request {
            GroupRequest::FindCoordinator { .. } => unreachable!("answered above"),
            GroupRequest::Join(join) => {
                c.join(now_ms, reply_to, join);
                None
            }
            GroupRequest::Sync(sync) => {
                c.sync(now_ms, reply_to, sync);
                None
            }
            GroupRequest::Heartbeat {
                group_id,
                member_id,
                group_instance_id,
                generation,
            } => Some(GroupResponse::Heartbeat(c.heartbeat(
                now_ms,
                &group_id,
                &member_id,
                group_instance_id.as_deref(),
                generation,
            ))),
            GroupRequest::Leave {
                group_id,
                member_id,
                group_instance_id,
            } => Some(GroupResponse::Leave(c.leave(
                now_ms,
                &group_id,
                &member_id,
                group_instance_id.as_deref(),
            ))),
            GroupRequest::OffsetCommit {
                group_id,
                member_id,
                group_instance_id,
                generation,
                offsets,
            } => match c.check_commit(
                now_ms,
                &group_id,
                &member_id,
                group_instance_id.as_deref(),
                generation,
            ) {
                Err(e) => Some(GroupResponse::OffsetCommit(Err(e))),
                Ok(()) => {
                    let records = offsets
                        .iter()
                        .map(|(tp, offset)| {
                            let value = storage::offset_value(&StoredOffset {
                                offset: *offset,
                                leader_epoch: -1,
                                metadata: String::new(),
                                commit_timestamp_ms: now_ms,
                            });
                            Record::new(
                                now_ms,
                                Some(&storage::offset_key(&group_id, tp)),
                                Some(&value),
                            )
                        })
                        .collect();
                    let partition = self.offsets_partition(&group_id);
                    let kind = OffsetsWrite::Commit {
                        reply_to,
                        group: group_id,
                        offsets,
                    };
                    self.write_group_records(partition, records, kind, now_ms, out);
                    None
                }
            },
            GroupRequest::OffsetFetch {
                group_id,
                partitions,
            } => Some(GroupResponse::OffsetFetch(Ok(
                c.fetch_offsets(&group_id, &partitions)
            ))),
        };
        if let Some(response) = response {
            send_reply(out, from, correlation_id, response);
        }
        self.drain_coordinator(now_ms, out);
    }

    /// FindCoordinator: the leader of the group's `__consumer_offsets` partition. The
    /// first lookup has the controller create the topic (Kafka creates it on demand,
    /// once enough brokers are alive for `offsets.topic.replication.factor`).
    fn find_coordinator(
        &mut self,
        group_id: &str,
        now_ms: i64,
        out: &mut Outbox,
    ) -> Result<BrokerId, GroupError> {
        let tp = TopicPartition::new(OFFSETS_TOPIC, self.offsets_partition(group_id));
        if let Some(ps) = self.metadata.partitions.get(&tp) {
            return ps
                .state
                .leader
                .filter(|l| self.metadata.live_brokers.contains(l))
                .ok_or(GroupError::CoordinatorNotAvailable);
        }
        let replication_factor = self.config.offsets_topic_replication_factor;
        let asked_recently = self
            .offsets_topic_requested_ms
            .is_some_and(|at| now_ms - at < OFFSETS_TOPIC_CREATE_BACKOFF_MS);
        if let Some(controller) = self.controller_id
            && self.metadata.live_brokers.len() >= replication_factor
            && !asked_recently
        {
            self.offsets_topic_requested_ms = Some(now_ms);
            let correlation_id = self.next_correlation;
            self.next_correlation += 1;
            out.send(
                controller,
                Message::CreateTopic(CreateTopic {
                    correlation_id,
                    name: OFFSETS_TOPIC.to_string(),
                    partitions: self.config.offsets_topic_num_partitions,
                    replication_factor,
                    replica_assignment: None,
                    config: self.config.default_topic_config.clone(),
                }),
            );
        }
        Err(GroupError::CoordinatorNotAvailable)
    }

    /// Sends what the coordinator produced: events, replies, and group writes (whose
    /// replies wait for the write).
    pub(super) fn drain_coordinator(&mut self, now_ms: i64, out: &mut Outbox) {
        for event in self.coordinator.take_events() {
            let broker = self.id;
            self.emit(now_ms, out, EventKind::Group { broker, event });
        }
        for reply in self.coordinator.take_replies() {
            send_coordinator_reply(out, reply);
        }
        for write in self.coordinator.take_writes() {
            let value = self
                .coordinator
                .stored_group(&write.group)
                .map(|g| storage::group_value(&g));
            let record = Record::new(
                now_ms,
                Some(&storage::group_key(&write.group)),
                value.as_deref(),
            );
            let partition = self.offsets_partition(&write.group);
            let kind = OffsetsWrite::Group {
                group: write.group.clone(),
                replies: write.replies,
                on_stored: write.on_stored,
            };
            self.write_group_records(partition, vec![record], kind, now_ms, out);
        }
    }

    fn write_group_records(
        &mut self,
        partition: u32,
        records: Vec<Record>,
        kind: OffsetsWrite,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let appended = match self.replicas.get_mut(&tp) {
            None => Err(ClientError::UnknownTopicOrPartition),
            Some(r) => r
                .partition
                .append_as_leader(&records, Compression::None, Acks::All, now_ms)
                .map_err(ClientError::Partition),
        };
        match appended {
            Err(e) => self.finish_group_write(kind, Err(e), now_ms, out),
            Ok(info) => {
                self.take_partition_events(&tp, now_ms, out);
                self.produce_purgatory.push(PendingProduce {
                    tp: tp.clone(),
                    required_offset: info.last_offset + 1,
                    deadline_ms: now_ms + self.config.offsets_commit_timeout_ms,
                    waiter: Waiter::Group(kind),
                });
                self.complete_produces(&tp, now_ms, out);
                self.complete_parked_fetches(Some(&tp), now_ms, out);
            }
        }
    }

    /// Answers what waited for a write, Kafka's append errors mapped to group errors.
    pub(super) fn finish_group_write(
        &mut self,
        kind: OffsetsWrite,
        result: Result<(), ClientError>,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        match kind {
            OffsetsWrite::Commit {
                reply_to,
                group,
                offsets,
            } => {
                let result = result.map_err(|e| commit_error(&e));
                if result.is_ok() {
                    self.coordinator.store_offsets(now_ms, &group, &offsets);
                }
                send_reply(
                    out,
                    reply_to.client,
                    reply_to.correlation_id,
                    GroupResponse::OffsetCommit(result),
                );
            }
            OffsetsWrite::Group {
                group,
                replies,
                on_stored,
            } => {
                let result = result.map_err(|e| group_write_error(&e));
                if let Some(on_stored) = on_stored {
                    self.coordinator.stored(now_ms, &group, on_stored, result);
                }
                for reply in replies {
                    let reply = match (reply, result) {
                        (reply, Ok(())) => reply,
                        (Reply::Sync(to, _), Err(e)) => {
                            Reply::Sync(to, SyncGroupResponse::failed(e))
                        }
                        (reply @ Reply::Join(..), Err(_)) => reply,
                    };
                    send_coordinator_reply(out, reply);
                }
                // What the coordinator did in the callback: replies, events, writes.
                self.drain_coordinator(now_ms, out);
            }
        }
    }

    /// After a LeaderAndIsr for a `__consumer_offsets` partition: a new leader loads its
    /// groups, a former leader unloads them.
    pub(super) fn offsets_leadership_changed(
        &mut self,
        tp: &TopicPartition,
        now_ms: i64,
        out: &mut Outbox,
    ) {
        if tp.topic != OFFSETS_TOPIC {
            return;
        }
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let partition = tp.partition;
        let is_leader = replica.partition.is_leader();
        if is_leader && !self.coordinated.contains(&partition) {
            let mut records = Vec::new();
            let mut skipped = Vec::new();
            match replica.partition.log().entries() {
                Ok(entries) => {
                    for entry in entries {
                        let Some(key) = entry.message.key.as_deref() else {
                            skipped.push((entry.offset, "a record without a key".to_string()));
                            continue;
                        };
                        match storage::decode(key, entry.message.value.as_deref()) {
                            Ok(record) => records.push(record),
                            Err(e) => skipped.push((entry.offset, e.to_string())),
                        }
                    }
                }
                Err(e) => skipped.push((-1, e.to_string())),
            }
            let broker = self.id;
            for (offset, error) in skipped {
                self.emit(
                    now_ms,
                    out,
                    EventKind::OffsetsRecordSkipped {
                        broker,
                        tp: tp.clone(),
                        offset,
                        error,
                    },
                );
            }
            // The partition holds only its own groups' records.
            self.coordinator.load(now_ms, records);
            self.coordinated.insert(partition);
        } else if !is_leader && self.coordinated.remove(&partition) {
            let n = self.config.offsets_topic_num_partitions;
            self.coordinator
                .unload(now_ms, |group| partition_for_group(group, n) == partition);
        }
        self.drain_coordinator(now_ms, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_topic_append_errors_map_as_group_metadata_manager_maps_them() {
        let not_enough =
            ClientError::Partition(PartitionError::NotEnoughReplicas { isr: 1, min_isr: 2 });
        let not_leader =
            ClientError::Partition(PartitionError::NotLeaderOrFollower { leader: Some(2) });
        // storeOffsets: REQUEST_TIMED_OUT stays itself.
        assert_eq!(
            commit_error(&not_enough),
            GroupError::CoordinatorNotAvailable
        );
        assert_eq!(commit_error(&not_leader), GroupError::NotCoordinator);
        assert_eq!(
            commit_error(&ClientError::RequestTimedOut),
            GroupError::RequestTimedOut
        );
        assert_eq!(
            commit_error(&ClientError::UnknownTopicOrPartition),
            GroupError::CoordinatorNotAvailable
        );
        // storeGroup: a timed-out write makes the members rejoin.
        assert_eq!(
            group_write_error(&ClientError::RequestTimedOut),
            GroupError::RebalanceInProgress
        );
        assert_eq!(
            group_write_error(&not_enough),
            GroupError::CoordinatorNotAvailable
        );
        assert_eq!(group_write_error(&not_leader), GroupError::NotCoordinator);
    }
}
