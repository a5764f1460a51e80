//! The admin client and the direct client calls tests use: requests to the controller
//! (create topics, add partitions, alter configs, elect preferred leaders), produce,
//! fetch and group requests.

use super::*;

use kafkasim_core::client::admin::{AdminAnswer, AdminError, AdminRequest, CallId};

/// An admin call's failure as the facade reports it (Kafka's error code inside).
fn admin_error(e: AdminError) -> String {
    match e {
        AdminError::Refused { error, .. } => error.to_string(),
        AdminError::TimedOut { tries, last } => {
            format!("no answer within default.api.timeout.ms ({tries} attempts, the last: {last})")
        }
    }
}

impl Cluster {
    /// Makes one admin call (Kafka's `KafkaAdminClient`, core's [`AdminClient`]) and
    /// waits for its answer.
    async fn admin_call(&mut self, request: AdminRequest) -> Result<AdminAnswer, String> {
        let id = self.admin_submit(request);
        self.admin_answer(id).await.map_err(admin_error)
    }

    fn admin_submit(&mut self, request: AdminRequest) -> CallId {
        // What arrived since the last call (a broken connection, a late answer) is the
        // client's news before it sends anything new.
        let now_ms = self.now_ms();
        let mut out = Outbox::default();
        while let Ok(envelope) = self.admin_inbox.try_recv() {
            self.admin
                .handle(now_ms, envelope.from, envelope.message, &mut out);
        }
        let id = self.admin.submit(now_ms, request, &mut out);
        self.dispatch(FIRST_CLIENT, out);
        id
    }

    /// Runs the admin client until call `id` has its answer: between calls nothing needs
    /// it, so the facade is its node runner while a call is out.
    async fn admin_answer(&mut self, id: CallId) -> Result<AdminAnswer, AdminError> {
        loop {
            if let Some(result) = self.admin.take_result(id) {
                return result;
            }
            let now_ms = self.now_ms();
            let next = self.admin.next_timer_ms();
            let envelope = match next {
                Some(at) if at <= now_ms => None,
                Some(at) => {
                    let wait = Duration::from_millis((at - now_ms) as u64);
                    madsim::time::timeout(wait, self.admin_inbox.recv())
                        .await
                        .ok()
                        .and_then(Result::ok)
                }
                None => self.admin_inbox.recv().await.ok(),
            };
            let now_ms = self.now_ms();
            let mut out = Outbox::default();
            match envelope {
                Some(envelope) => {
                    self.admin
                        .handle(now_ms, envelope.from, envelope.message, &mut out)
                }
                None => {
                    self.admin.tick(now_ms, &mut out);
                    if self.admin.next_timer_ms().is_some_and(|at| at <= now_ms) {
                        // A timer that stays due after its tick must not spin at one instant.
                        self.sleep_ms(1).await;
                    }
                }
            }
            self.dispatch(FIRST_CLIENT, out);
        }
    }

    /// Waits for the answer to a direct request just sent to `peer`: the first message
    /// `pick` takes, or None when the connection to `peer` breaks (the answer will never
    /// come) or `timeout_ms` passes. A break noticed before the request was sent is old
    /// news; every other message goes to the admin client, whose address this is.
    pub(super) async fn await_reply<T>(
        &mut self,
        peer: NodeId,
        timeout_ms: i64,
        pick: impl Fn(&Message) -> Option<T>,
    ) -> Option<T> {
        let sent_ms = self.now_ms();
        let deadline_ms = sent_ms + timeout_ms.max(0);
        loop {
            let wait = Duration::from_millis((deadline_ms - self.now_ms()).max(0) as u64);
            let envelope = madsim::time::timeout(wait, self.admin_inbox.recv())
                .await
                .ok()?
                .ok()?;
            if envelope.message == Message::ConnectionLost
                && envelope.from == peer
                && envelope.sent_ms >= sent_ms
            {
                return None;
            }
            if let Some(found) = pick(&envelope.message) {
                return Some(found);
            }
            let mut out = Outbox::default();
            self.admin
                .handle(self.now_ms(), envelope.from, envelope.message, &mut out);
            self.dispatch(FIRST_CLIENT, out);
        }
    }

    /// Waits until partitions `from..to` of `topic` have a leader.
    pub(super) async fn wait_for_leaders(
        &self,
        topic: &str,
        from: u32,
        to: u32,
    ) -> Result<(), String> {
        self.wait_until(60_000, |s| {
            (from..to).all(|p| {
                s.partitions
                    .get(&TopicPartition::new(topic, p))
                    .is_some_and(|ps| ps.replica_states.values().any(|r| r.is_leader))
            })
        })
        .await
        .map(|_| ())
        .ok_or_else(|| format!("topic {topic}'s partitions got no leader within a minute"))
    }

    /// Creates a topic through the controller (Kafka's CreateTopics) and waits until
    /// every partition has a leader.
    pub async fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        replication_factor: usize,
        config: TopicConfig,
    ) -> Result<(), String> {
        self.create_topic_spec(&TopicSpec {
            name: name.to_string(),
            partitions,
            replication_factor,
            replica_assignment: None,
            config,
        })
        .await
    }

    /// [`Cluster::create_topic`] with every option, an explicit assignment included.
    /// Like `kafka-topics.sh --create --if-not-exists` (`TopicCommand.createTopic`), a
    /// TOPIC_ALREADY_EXISTS after a retried attempt is success: the attempt whose answer
    /// was lost made it (a scenario never names a topic twice).
    pub async fn create_topic_spec(&mut self, topic: &TopicSpec) -> Result<(), String> {
        let partitions = topic
            .replica_assignment
            .as_ref()
            .map_or(topic.partitions, |a| a.len() as u32);
        let request = AdminRequest::CreateTopic {
            name: topic.name.clone(),
            partitions,
            replication_factor: topic.replication_factor,
            replica_assignment: topic.replica_assignment.clone(),
            config: topic.config.clone(),
        };
        let id = self.admin_submit(request);
        match self.admin_answer(id).await {
            Ok(_) => {}
            Err(AdminError::Refused {
                error: ClientError::TopicAlreadyExists,
                tries,
            }) if tries > 1 => {}
            Err(e) => return Err(admin_error(e)),
        }
        self.wait_for_leaders(&topic.name, 0, partitions).await
    }

    /// Grows a topic to `total` partitions (`kafka-topics.sh --alter --partitions`) and
    /// waits until the new ones have a leader. Returns the new partitions' replicas.
    pub async fn add_partitions(&mut self, topic: &str, total: u32) -> Result<Assignment, String> {
        let request = AdminRequest::CreatePartitions {
            topic: topic.to_string(),
            total,
        };
        let count =
            |s: &ClusterSnapshot| s.partitions.keys().filter(|tp| tp.topic == topic).count() as u32;
        let before = count(&self.snapshot_without_records());
        let id = self.admin_submit(request);
        let added = match self.admin_answer(id).await {
            Ok(AdminAnswer::Assignment(added)) => added,
            Ok(other) => unreachable!("CreatePartitions answers an assignment, not {other:?}"),
            // An attempt whose answer was lost (or timed out) may have added them: a
            // retry then hears INVALID_PARTITIONS. The topic's partitions say.
            Err(AdminError::Refused {
                error: ClientError::InvalidPartitions(why),
                tries,
            }) if tries > 1 => {
                let s = self.snapshot_without_records();
                if count(&s) != total || before >= total {
                    return Err(why);
                }
                (before..total)
                    .filter_map(|p| s.partitions.get(&TopicPartition::new(topic, p)))
                    .map(|p| p.replicas.clone())
                    .collect()
            }
            Err(e) => return Err(admin_error(e)),
        };
        let first = total - added.len() as u32;
        self.wait_for_leaders(topic, first, total).await?;
        Ok(added)
    }

    /// Changes a topic's configs (`kafka-configs.sh --alter --entity-type topics`): the
    /// controller writes them and every broker applies them from its next metadata update.
    pub async fn alter_topic_config(
        &mut self,
        topic: &str,
        config: TopicConfig,
    ) -> Result<(), String> {
        let request = AdminRequest::AlterConfigs {
            topic: topic.to_string(),
            config,
        };
        self.admin_call(request).await.map(|_| ())
    }

    /// Preferred-leader election for every partition (`kafka-leader-election.sh
    /// --election-type preferred --all-topic-partitions`). Returns the partitions moved.
    pub async fn elect_preferred_leaders(&mut self) -> Result<Vec<TopicPartition>, String> {
        match self.admin_call(AdminRequest::ElectPreferredLeaders).await? {
            AdminAnswer::LeadersMoved(moved) => Ok(moved),
            other => unreachable!("ElectLeaders answers the partitions moved, not {other:?}"),
        }
    }

    /// Writes one record with `value` through the admin client to the partition's
    /// leader and waits for the answer: the offset, Kafka's error code, or
    /// `NO_LEADER` / `NO_RESPONSE`.
    pub async fn produce(
        &mut self,
        tp: &TopicPartition,
        value: &str,
        acks: Acks,
    ) -> Result<i64, String> {
        let Some(leader) = self.leader(tp) else {
            self.admin_history.push(WriteOp {
                value: value.to_string(),
                tp: tp.clone(),
                leader: -1,
                invoked_ms: self.now_ms(),
                outcome: Outcome::Failed {
                    code: "NO_LEADER",
                    completed_ms: self.now_ms(),
                },
            });
            return Err("NO_LEADER".to_string());
        };
        let invoked_ms = self.now_ms();
        let correlation_id = self.admin.reserve_correlation_id();
        let request_timeout_ms = 30_000;
        self.world.net.send(
            FIRST_CLIENT,
            leader,
            Message::Produce(ProduceRequest {
                correlation_id,
                tp: tp.clone(),
                records: vec![Record::new(self.now_ms(), None, Some(value.as_bytes()))],
                acks,
                timeout_ms: request_timeout_ms,
                producer: None,
            }),
        );
        if acks == Acks::None {
            return Ok(-1);
        }
        let reply = self
            .await_reply(leader, request_timeout_ms + 1_000, |m| match m {
                Message::ProduceReply(r) if r.correlation_id == correlation_id => {
                    Some(r.result.clone())
                }
                _ => None,
            })
            .await;
        let completed_ms = self.now_ms();
        let (outcome, result) = match reply {
            Some(Ok(offset)) => (
                Outcome::Ok {
                    offset: Some(offset),
                    completed_ms,
                },
                Ok(offset),
            ),
            Some(Err(e)) => (
                Outcome::Failed {
                    code: e.code(),
                    completed_ms,
                },
                Err(e.code().to_string()),
            ),
            _ => (
                Outcome::Unknown { completed_ms },
                Err("NO_RESPONSE".to_string()),
            ),
        };
        self.admin_history.push(WriteOp {
            value: value.to_string(),
            tp: tp.clone(),
            leader,
            invoked_ms,
            outcome,
        });
        result
    }

    /// A consumer's fetch from the partition's leader at `offset`: the values it may
    /// read (only below the high watermark) and the HW, or Kafka's error code.
    pub async fn fetch(
        &mut self,
        tp: &TopicPartition,
        offset: i64,
    ) -> Result<(Vec<(i64, String)>, i64), String> {
        let leader = self.leader(tp).ok_or("NO_LEADER")?;
        let correlation_id = self.admin.reserve_correlation_id();
        self.world.net.send(
            FIRST_CLIENT,
            leader,
            Message::Fetch(ConsumerFetch {
                correlation_id,
                tp: tp.clone(),
                offset,
                max_bytes: 1024 * 1024,
            }),
        );
        let reply = self
            .await_reply(leader, 30_000, |m| match m {
                Message::FetchReply(r) if r.correlation_id == correlation_id => {
                    Some(r.result.clone())
                }
                _ => None,
            })
            .await;
        let records = match reply {
            Some(Ok(records)) => records,
            Some(Err(e)) => return Err(e.code().to_string()),
            _ => return Err("NO_RESPONSE".to_string()),
        };
        let entries =
            kafkasim_core::record::decode_entries(&records.records).map_err(|e| e.to_string())?;
        let values = entries
            .into_iter()
            .filter(|e| e.offset >= offset)
            .map(|e| {
                let value = e
                    .message
                    .value
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
                (e.offset, value.unwrap_or_default())
            })
            .collect();
        Ok((values, records.high_watermark))
    }

    /// Sends one group request from the admin client to `broker` and waits up to
    /// `timeout_ms` for the answer (None: no answer, or the connection broke).
    pub async fn group_request(
        &mut self,
        broker: BrokerId,
        request: GroupRequest,
        timeout_ms: i64,
    ) -> Option<GroupResponse> {
        let correlation_id = self.admin.reserve_correlation_id();
        self.world.net.send(
            FIRST_CLIENT,
            broker,
            Message::Group {
                correlation_id,
                request,
            },
        );
        self.await_reply(broker, timeout_ms, |m| match m {
            Message::GroupReply {
                correlation_id: c,
                response,
            } if *c == correlation_id => Some(response.clone()),
            _ => None,
        })
        .await
    }

    /// The group's coordinator, asked of the live brokers in turn until one names it
    /// (the first lookup creates `__consumer_offsets`), or an error after `timeout_ms`.
    pub async fn find_coordinator(
        &mut self,
        group: &str,
        timeout_ms: i64,
    ) -> Result<BrokerId, String> {
        let start = self.now_ms();
        let mut last = String::from("no answer");
        while self.now_ms() - start < timeout_ms {
            let live: Vec<BrokerId> = self
                .broker_ids
                .clone()
                .into_iter()
                .filter(|b| self.is_up(*b))
                .collect();
            for broker in live {
                let request = GroupRequest::FindCoordinator {
                    group_id: group.to_string(),
                };
                match self.group_request(broker, request, 1_000).await {
                    Some(GroupResponse::FindCoordinator(Ok(coordinator))) => {
                        return Ok(coordinator);
                    }
                    Some(GroupResponse::FindCoordinator(Err(e))) => last = e.code().to_string(),
                    _ => {}
                }
            }
            self.sleep_ms(200).await;
        }
        Err(format!(
            "no coordinator for group {group} within {timeout_ms} ms: {last}"
        ))
    }

    /// The writes made with [`Cluster::produce`].
    pub fn admin_history(&self) -> &[WriteOp] {
        &self.admin_history
    }
}
