//! Kafka's admin client (`KafkaAdminClient`) as a sans-IO state machine: the calls that
//! go to the controller (CreateTopics, CreatePartitions, AlterConfigs, ElectLeaders),
//! the controller found from a broker's Metadata answer, and Kafka's retry rules.
//!
//! The rules, from `KafkaAdminClient` (3.7):
//! - `ControllerNodeProvider.provide`: a call goes to the controller the last metadata
//!   named; with none known it waits and the metadata is refreshed (`AdminMetadataManager`,
//!   asked of the brokers in turn, at most every `retry.backoff.ms`).
//! - `handleNotControllerError`: NOT_CONTROLLER clears the controller, asks for new
//!   metadata and fails the attempt with a retriable error.
//! - `AdminClientRunnable.handleResponses`: a broken connection fails the attempt
//!   (`DisconnectException`, retriable); `AdminMetadataUpdater.handleServerDisconnect`
//!   asks for new metadata. `timeoutCallsInFlight`: an attempt unanswered after
//!   `request.timeout.ms` fails the same way.
//! - `Call.fail`: a retriable failure is tried again after `retryBackoff.backoff(tries)`
//!   (exponential, 100 ms to 1 s with jitter) until the call's deadline,
//!   `default.api.timeout.ms` after it was made; then TimeoutException. Any other error
//!   ends the call with that error (TOPIC_ALREADY_EXISTS included: whether an earlier
//!   attempt made the topic is the caller's question).

use std::collections::BTreeMap;

use crate::actor::Actor;
use crate::controller::Assignment;
use crate::ids::{NodeId, TopicPartition};
use crate::protocol::{ClientError, CreateTopic, Message, TopicConfig};
use crate::replication::BrokerId;
use crate::rng::SplitMix64;

use super::{Brokers, InFlight, exponential_backoff_ms};

/// This module's actors tell the narration [`crate::event::Event`]s.
type Outbox = crate::actor::Outbox<crate::event::Event>;

/// `AdminClientConfig`'s settings that shape the calls.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    pub bootstrap: Vec<BrokerId>,
    /// `request.timeout.ms`: one attempt's wait for its answer.
    pub request_timeout_ms: i64,
    /// `default.api.timeout.ms`: a call's whole life, retries included.
    pub default_api_timeout_ms: i64,
    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub retry_backoff_ms: i64,
    pub retry_backoff_max_ms: i64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            bootstrap: Vec::new(),
            request_timeout_ms: 30_000,
            default_api_timeout_ms: 60_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1_000,
        }
    }
}

/// What a call asks the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminRequest {
    /// `Admin.createTopics`; `replica_assignment` gives the partitions explicitly.
    CreateTopic {
        name: String,
        partitions: u32,
        replication_factor: usize,
        replica_assignment: Option<Assignment>,
        config: TopicConfig,
    },
    /// `Admin.createPartitions`: `total` partitions in all.
    CreatePartitions { topic: String, total: u32 },
    /// `Admin.incrementalAlterConfigs` for a topic, every config given.
    AlterConfigs { topic: String, config: TopicConfig },
    /// `Admin.electLeaders(ElectionType.PREFERRED, all partitions)`.
    ElectPreferredLeaders,
}

/// A call's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminAnswer {
    /// The new topic's replicas, or the new partitions' replicas.
    Assignment(Assignment),
    ConfigsAltered,
    /// The partitions whose leader moved.
    LeadersMoved(Vec<TopicPartition>),
}

/// Why a call ended without its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminError {
    /// The controller refused it (a non-retriable error).
    Refused { error: ClientError, tries: u32 },
    /// `default.api.timeout.ms` passed; `last` is the last attempt's failure.
    TimedOut { tries: u32, last: String },
}

impl AdminError {
    /// How many attempts were sent.
    pub fn tries(&self) -> u32 {
        match self {
            AdminError::Refused { tries, .. } | AdminError::TimedOut { tries, .. } => *tries,
        }
    }
}

pub type CallId = u64;

#[derive(Clone, Debug)]
struct Call {
    request: AdminRequest,
    deadline_ms: i64,
    tries: u32,
    next_try_ms: i64,
    last_failure: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Metadata,
    Call(CallId),
}

/// Kafka's admin client: calls in, requests to the controller out, answers kept until
/// [`AdminClient::take_result`] collects them.
#[derive(Clone, Debug)]
pub struct AdminClient {
    config: AdminConfig,
    brokers: Brokers,
    /// The controller the last metadata named.
    controller: Option<BrokerId>,
    metadata_wanted: bool,
    last_metadata_attempt_ms: Option<i64>,
    in_flight: InFlight<Pending>,
    calls: BTreeMap<CallId, Call>,
    results: BTreeMap<CallId, Result<AdminAnswer, AdminError>>,
    next_call: CallId,
    rng: SplitMix64,
    now_ms: i64,
}

/// Errors `Call.fail` tries again (Kafka's `RetriableException`s among the answers).
fn retriable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::NotController | ClientError::RequestTimedOut
    )
}

impl AdminClient {
    pub fn new(config: AdminConfig, rng_seed: u64) -> AdminClient {
        AdminClient {
            brokers: Brokers::new(&config.bootstrap),
            config,
            controller: None,
            metadata_wanted: true,
            last_metadata_attempt_ms: None,
            in_flight: InFlight::new(),
            calls: BTreeMap::new(),
            results: BTreeMap::new(),
            next_call: 1,
            rng: SplitMix64::new(rng_seed),
            now_ms: 0,
        }
    }

    /// Makes a call at `now_ms`; its answer comes back through
    /// [`AdminClient::take_result`].
    pub fn submit(&mut self, now_ms: i64, request: AdminRequest, out: &mut Outbox) -> CallId {
        self.now_ms = now_ms;
        let id = self.next_call;
        self.next_call += 1;
        self.calls.insert(
            id,
            Call {
                request,
                deadline_ms: now_ms + self.config.default_api_timeout_ms,
                tries: 0,
                next_try_ms: now_ms,
                last_failure: "no controller known".to_string(),
            },
        );
        self.drive(out);
        id
    }

    /// The call's answer, once it has one.
    pub fn take_result(&mut self, id: CallId) -> Option<Result<AdminAnswer, AdminError>> {
        self.results.remove(&id)
    }

    /// The controller the client would send a call to now.
    pub fn controller(&self) -> Option<BrokerId> {
        self.controller
    }

    /// A correlation id no request of this client uses, for other requests sent from
    /// its address (the simulation's direct probes share it).
    pub fn reserve_correlation_id(&mut self) -> u64 {
        self.in_flight.reserve()
    }

    /// `Call.fail` for a retriable failure: try again after the backoff, or time out.
    fn retry_later(&mut self, id: CallId, why: String) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let backoff = exponential_backoff_ms(
            self.config.retry_backoff_ms,
            self.config.retry_backoff_max_ms,
            call.tries.saturating_sub(1),
            &mut self.rng,
        );
        call.next_try_ms = self.now_ms + backoff;
        call.last_failure = why;
        if self.now_ms >= call.deadline_ms {
            self.time_out(id);
        }
    }

    fn time_out(&mut self, id: CallId) {
        if let Some(call) = self.calls.remove(&id) {
            self.results.insert(
                id,
                Err(AdminError::TimedOut {
                    tries: call.tries,
                    last: call.last_failure,
                }),
            );
        }
    }

    fn finish(&mut self, id: CallId, result: Result<AdminAnswer, ClientError>) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        let result = result.map_err(|error| AdminError::Refused {
            error,
            tries: call.tries,
        });
        self.results.insert(id, result);
    }

    fn on_answer(&mut self, id: CallId, result: Result<AdminAnswer, ClientError>) {
        match result {
            Err(error) if retriable(&error) => {
                if error == ClientError::NotController {
                    // KafkaAdminClient.handleNotControllerError
                    self.controller = None;
                    self.metadata_wanted = true;
                }
                self.retry_later(id, error.code().to_string());
            }
            result => self.finish(id, result),
        }
    }

    fn request(&self, id: CallId, correlation_id: u64) -> Message {
        match &self.calls[&id].request {
            AdminRequest::CreateTopic {
                name,
                partitions,
                replication_factor,
                replica_assignment,
                config,
            } => Message::CreateTopic(CreateTopic {
                correlation_id,
                name: name.clone(),
                partitions: *partitions,
                replication_factor: *replication_factor,
                replica_assignment: replica_assignment.clone(),
                config: config.clone(),
            }),
            AdminRequest::CreatePartitions { topic, total } => Message::CreatePartitions {
                correlation_id,
                topic: topic.clone(),
                total: *total,
            },
            AdminRequest::AlterConfigs { topic, config } => Message::AlterConfigs {
                correlation_id,
                topic: topic.clone(),
                config: config.clone(),
            },
            AdminRequest::ElectPreferredLeaders => Message::ElectLeaders { correlation_id },
        }
    }

    /// `AdminClientRunnable.runOnce`: time out calls, refresh metadata, send what can go.
    fn drive(&mut self, out: &mut Outbox) {
        let now = self.now_ms;
        for (to, pending) in self.in_flight.take_failed(now, None) {
            self.attempt_failed(to, pending, "REQUEST_TIMED_OUT (no answer)".to_string());
        }
        let expired: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.deadline_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if !self.in_flight.contains(&Pending::Call(id)) {
                self.time_out(id);
            }
        }
        if self.calls.is_empty() {
            return;
        }
        let metadata_due = self
            .last_metadata_attempt_ms
            .is_none_or(|at| now >= at + self.config.retry_backoff_ms);
        if (self.metadata_wanted || self.controller.is_none())
            && metadata_due
            && !self.in_flight.contains(&Pending::Metadata)
        {
            self.last_metadata_attempt_ms = Some(now);
            let broker = self.brokers.next();
            let deadline = now + self.config.request_timeout_ms;
            self.in_flight
                .send(out, broker, Pending::Metadata, deadline, |correlation_id| {
                    Message::Metadata { correlation_id }
                });
        }
        let Some(controller) = self.controller else {
            return;
        };
        let ready: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(id, c)| {
                c.next_try_ms <= now && !self.in_flight.contains(&Pending::Call(**id))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let call = self.calls.get_mut(&id).expect("listed");
            call.tries += 1;
            // TimeoutProcessor.callHasExpired: an attempt ends at the call's deadline too.
            let deadline = (now + self.config.request_timeout_ms).min(call.deadline_ms);
            let correlation_id = self.in_flight.reserve();
            let message = self.request(id, correlation_id);
            self.in_flight
                .track(correlation_id, controller, Pending::Call(id), deadline);
            out.send(controller, message);
        }
    }

    fn attempt_failed(&mut self, _to: NodeId, pending: Pending, why: String) {
        match pending {
            Pending::Metadata => {}
            Pending::Call(id) => self.retry_later(id, why),
        }
    }
}

impl Actor for AdminClient {
    type Event = crate::event::Event;

    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox) {
        self.now_ms = now_ms;
        if message == Message::ConnectionLost {
            // AdminMetadataUpdater.handleServerDisconnect
            self.metadata_wanted = true;
            for (to, pending) in self.in_flight.take_failed(now_ms, Some(from)) {
                self.attempt_failed(to, pending, format!("NETWORK_EXCEPTION (broker {from})"));
            }
            self.drive(out);
            return;
        }
        let Some((_, pending)) = self.in_flight.answered(&message) else {
            self.drive(out);
            return;
        };
        match (pending, message) {
            (Pending::Metadata, Message::MetadataReply(r)) => {
                self.controller = r.controller;
                self.metadata_wanted = r.controller.is_none();
                self.brokers.update(r.brokers);
            }
            (Pending::Call(id), Message::CreateTopicReply(r)) => {
                self.on_answer(id, r.result.map(AdminAnswer::Assignment));
            }
            (Pending::Call(id), Message::CreatePartitionsReply { result, .. }) => {
                self.on_answer(id, result.map(AdminAnswer::Assignment));
            }
            (Pending::Call(id), Message::AlterConfigsReply { result, .. }) => {
                self.on_answer(id, result.map(|()| AdminAnswer::ConfigsAltered));
            }
            (Pending::Call(id), Message::ElectLeadersReply { result, .. }) => {
                self.on_answer(id, result.map(AdminAnswer::LeadersMoved));
            }
            _ => {}
        }
        self.drive(out);
    }

    fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        self.now_ms = now_ms;
        self.drive(out);
    }

    fn next_timer_ms(&self) -> Option<i64> {
        if self.calls.is_empty() {
            return self.in_flight.next_deadline_ms();
        }
        let calls = self.calls.iter().map(|(id, c)| {
            if self.in_flight.contains(&Pending::Call(*id)) {
                c.deadline_ms
            } else if self.controller.is_some() {
                c.next_try_ms.min(c.deadline_ms)
            } else {
                c.deadline_ms
            }
        });
        let metadata = (self.metadata_wanted || self.controller.is_none())
            .then(|| {
                if self.in_flight.contains(&Pending::Metadata) {
                    None
                } else {
                    Some(
                        self.last_metadata_attempt_ms
                            .map_or(self.now_ms, |at| at + self.config.retry_backoff_ms),
                    )
                }
            })
            .flatten();
        calls
            .chain(metadata)
            .chain(self.in_flight.next_deadline_ms())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CreateTopicResponse, MetadataResponse};

    fn metadata(correlation_id: u64, controller: Option<BrokerId>) -> Message {
        Message::MetadataReply(MetadataResponse {
            correlation_id,
            controller,
            brokers: [1, 2, 3].into_iter().collect(),
            partitions: Default::default(),
        })
    }

    fn client() -> AdminClient {
        let config = AdminConfig {
            bootstrap: vec![1, 2, 3],
            ..AdminConfig::default()
        };
        AdminClient::new(config, 7)
    }

    fn only_send(out: &mut Outbox) -> (NodeId, Message) {
        assert_eq!(out.sends.len(), 1, "{:?}", out.sends);
        out.sends.pop().unwrap()
    }

    fn create_reply(correlation_id: u64, result: Result<Assignment, ClientError>) -> Message {
        Message::CreateTopicReply(CreateTopicResponse {
            correlation_id,
            name: "orders".to_string(),
            result,
        })
    }

    fn create() -> AdminRequest {
        AdminRequest::CreateTopic {
            name: "orders".to_string(),
            partitions: 1,
            replication_factor: 1,
            replica_assignment: None,
            config: TopicConfig::default(),
        }
    }

    #[test]
    fn not_controller_refreshes_the_metadata_and_retries_at_the_new_controller() {
        let mut admin = client();
        let mut out = Outbox::default();
        let id = admin.submit(0, create(), &mut out);
        // No controller known: metadata first.
        let (to, request) = only_send(&mut out);
        assert_eq!(to, 1);
        let Message::Metadata { correlation_id } = request else {
            panic!("{request:?}")
        };
        admin.handle(5, 1, metadata(correlation_id, Some(2)), &mut out);
        let (to, request) = only_send(&mut out);
        assert_eq!(to, 2, "the call goes to the controller the metadata named");
        let Message::CreateTopic(r) = request else {
            panic!("{request:?}")
        };
        admin.handle(
            9,
            2,
            create_reply(r.correlation_id, Err(ClientError::NotController)),
            &mut out,
        );
        assert_eq!(
            admin.controller(),
            None,
            "handleNotControllerError clears it"
        );
        assert!(admin.take_result(id).is_none(), "NOT_CONTROLLER is retried");
        // The metadata refresh waits retry.backoff.ms after the last attempt (at 0 ms).
        let mut due = 0;
        while out.sends.is_empty() {
            due = admin.next_timer_ms().unwrap();
            admin.tick(due, &mut out);
        }
        assert_eq!(due, 100);
        let (to, request) = only_send(&mut out);
        let Message::Metadata { correlation_id } = request else {
            panic!("{request:?}")
        };
        admin.handle(due + 2, to, metadata(correlation_id, Some(3)), &mut out);
        // The retry itself waits its backoff (80 to 120 ms after the failure at 9 ms).
        while out.sends.is_empty() {
            due = admin.next_timer_ms().unwrap();
            admin.tick(due, &mut out);
        }
        assert!((89..=129).contains(&due), "{due}");
        let (to, request) = only_send(&mut out);
        assert_eq!(to, 3);
        let Message::CreateTopic(r) = request else {
            panic!("{request:?}")
        };
        admin.handle(
            due + 5,
            3,
            create_reply(r.correlation_id, Ok(vec![vec![3]])),
            &mut out,
        );
        assert_eq!(
            admin.take_result(id),
            Some(Ok(AdminAnswer::Assignment(vec![vec![3]])))
        );
    }

    #[test]
    fn a_refusal_ends_the_call_and_silence_times_it_out_after_default_api_timeout_ms() {
        let mut admin = client();
        let mut out = Outbox::default();
        let id = admin.submit(0, create(), &mut out);
        let (_, Message::Metadata { correlation_id }) = only_send(&mut out) else {
            panic!()
        };
        admin.handle(1, 1, metadata(correlation_id, Some(1)), &mut out);
        let (_, Message::CreateTopic(r)) = only_send(&mut out) else {
            panic!()
        };
        admin.handle(
            2,
            1,
            create_reply(r.correlation_id, Err(ClientError::TopicAlreadyExists)),
            &mut out,
        );
        assert_eq!(
            admin.take_result(id),
            Some(Err(AdminError::Refused {
                error: ClientError::TopicAlreadyExists,
                tries: 1
            }))
        );

        // The controller never answers: each attempt ends after request.timeout.ms, and
        // the call after default.api.timeout.ms.
        let id = admin.submit(10, create(), &mut out);
        let mut now = 10;
        let mut attempts = 0;
        while admin.take_result(id).is_none_or(|r| {
            assert!(
                matches!(r, Err(AdminError::TimedOut { tries: 2, .. })),
                "{r:?}"
            );
            false
        }) {
            attempts += out.sends.drain(..).count();
            now = admin.next_timer_ms().expect("a call is out");
            assert!(now <= 60_010, "{now}");
            admin.tick(now, &mut out);
        }
        assert_eq!(attempts, 2, "30 s each");
        assert_eq!(now, 60_010);
    }
}
