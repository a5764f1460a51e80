//! Kafka's group coordinator for the classic protocol (`GroupCoordinator.scala`, 3.x),
//! sans IO: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch go
//! in with the time; replies come out, some of them later (a JoinGroup waits for the
//! join phase to complete, a follower's SyncGroup for the leader's), together with
//! events that explain each state change. Timers: member sessions, KIP-394 pending
//! members, the join phase (`group.initial.rebalance.delay.ms`, then the rebalance
//! timeout) and the sync phase.
//!
//! Where Kafka's choice depends on hash-map order (the protocol vote's ties, a new
//! leader), this picks by member order, so runs are deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::assignor::Subscription;
use super::storage::{StoredGroup, StoredMember, StoredOffset, StoredRecord};
use crate::ids::{NodeId, TopicPartition};
use crate::rng::SplitMix64;

/// The group states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The coordinator's configs (broker-side `group.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// `group.min.session.timeout.ms`
    pub group_min_session_timeout_ms: i64,
    /// `group.max.session.timeout.ms`
    pub group_max_session_timeout_ms: i64,
    /// `group.initial.rebalance.delay.ms`
    pub group_initial_rebalance_delay_ms: i64,
    /// `group.max.size`
    pub group_max_size: usize,
    /// How long a new member (KIP-394) may take to join with its id.
    pub new_member_join_timeout_ms: i64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            group_max_size: usize::MAX,
            new_member_join_timeout_ms: 300_000,
        }
    }
}

/// Kafka's errors for group requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupError {
    InvalidGroupId,
    CoordinatorNotAvailable,
    InvalidSessionTimeout,
    InconsistentGroupProtocol,
    UnknownMemberId,
    MemberIdRequired,
    FencedInstanceId,
    GroupMaxSizeReached,
    IllegalGeneration,
    RebalanceInProgress,
    /// This broker does not host the group: its `__consumer_offsets` partition is led
    /// elsewhere (the client looks the coordinator up again).
    NotCoordinator,
    /// A commit's write to `__consumer_offsets` was not replicated in time.
    RequestTimedOut,
    /// A write to `__consumer_offsets` failed for a reason the client cannot act on.
    UnknownServerError,
}

impl GroupError {
    pub fn code(self) -> &'static str {
        match self {
            GroupError::InvalidGroupId => "INVALID_GROUP_ID",
            GroupError::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            GroupError::InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            GroupError::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            GroupError::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            GroupError::MemberIdRequired => "MEMBER_ID_REQUIRED",
            GroupError::FencedInstanceId => "FENCED_INSTANCE_ID",
            GroupError::GroupMaxSizeReached => "GROUP_MAX_SIZE_REACHED",
            GroupError::IllegalGeneration => "ILLEGAL_GENERATION",
            GroupError::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            GroupError::NotCoordinator => "NOT_COORDINATOR",
            GroupError::RequestTimedOut => "REQUEST_TIMED_OUT",
            GroupError::UnknownServerError => "UNKNOWN_SERVER_ERROR",
        }
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who to answer: the client and its request's correlation id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReplyTo {
    pub client: NodeId,
    pub correlation_id: u64,
}

/// What a member sends in JoinGroup for the "consumer" protocol type: its subscription
/// per assignor it supports, most preferred first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinGroup {
    pub group_id: String,
    /// Empty on the first join.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// `session.timeout.ms`
    pub session_timeout_ms: i64,
    /// `max.poll.interval.ms`, the rebalance timeout.
    pub rebalance_timeout_ms: i64,
    pub protocol_type: String,
    /// (assignor name, subscription), most preferred first.
    pub protocols: Vec<(String, Subscription)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinGroupResponse {
    pub error: Option<GroupError>,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// For the leader only: every member's subscription for the chosen protocol.
    pub members: Vec<Subscription>,
}

impl JoinGroupResponse {
    /// An answer that carries only an error (and the member id, for MEMBER_ID_REQUIRED).
    pub fn failed(member_id: impl Into<String>, error: GroupError) -> JoinGroupResponse {
        JoinGroupResponse {
            error: Some(error),
            generation: -1,
            protocol: None,
            leader: String::new(),
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation: i32,
    /// From the leader: every member's partitions.
    pub assignments: BTreeMap<String, Vec<TopicPartition>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupResponse {
    pub error: Option<GroupError>,
    pub assignment: Vec<TopicPartition>,
}

impl SyncGroupResponse {
    /// An answer that carries only an error.
    pub fn failed(error: GroupError) -> SyncGroupResponse {
        SyncGroupResponse {
            error: Some(error),
            assignment: Vec::new(),
        }
    }
}

/// A reply to send: to whom, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Join(ReplyTo, JoinGroupResponse),
    Sync(ReplyTo, SyncGroupResponse),
}

/// A group whose metadata must be written to `__consumer_offsets` before `replies` go
/// out (Kafka's `storeGroup`: members learn their assignment only once it is stored).
/// When the write ends, the broker tells the coordinator with [`Coordinator::stored`]
/// and the write's `on_stored`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupWrite {
    pub group: String,
    pub replies: Vec<Reply>,
    pub on_stored: Option<OnStored>,
}

/// What waits for a group write besides its replies (the callbacks Kafka's
/// `GroupCoordinator` hands `storeGroup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnStored {
    /// The leader's assignment for `generation` (`doSyncGroup`): Stable and every
    /// waiting member answered once stored; on an error, no assignment and a rebalance.
    Assignment { generation: i32 },
    /// A static member came back in Stable under `new` instead of `old`
    /// (`updateStaticMemberAndRebalance`): answered once stored; on an error the old
    /// member id is restored and the join fails.
    StaticRejoin {
        old: String,
        new: String,
        reply_to: ReplyTo,
        /// The member's protocols before the rejoin, restored on an error.
        protocols: Vec<(String, Subscription)>,
    },
}

/// What happened, for the narration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEvent {
    pub time_ms: i64,
    pub group: String,
    pub kind: GroupEventKind,
}

/// Why a group changed state (members by member id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupChange {
    /// The leader sent JoinGroup again in a settled generation.
    LeaderRejoined {
        member: String,
    },
    SubscriptionChanged {
        member: String,
    },
    MemberJoined {
        member: String,
    },
    /// A static member rejoined under a new member id (KIP-345).
    StaticMemberReplaced {
        member: String,
        old: String,
    },
    /// Every member rejoined, or the rebalance timeout passed: `dropped` did not rejoin.
    JoinComplete {
        dropped: Vec<String>,
    },
    AssignmentStored,
    AssignmentStoreFailed {
        error: String,
    },
    MemberLeft {
        member: String,
    },
    SessionTimeout {
        member: String,
        timeout_ms: i64,
    },
    /// Members sent no SyncGroup within the rebalance timeout.
    SyncTimeout {
        late: Vec<String>,
    },
    /// The coordinator loaded the group from `__consumer_offsets`.
    Loaded {
        generation: i32,
    },
    /// The broker no longer leads the group's `__consumer_offsets` partition.
    Unloaded,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupEventKind {
    Transition {
        from: GroupState,
        to: GroupState,
        why: GroupChange,
    },
    Generation {
        generation: i32,
        leader: String,
        protocol: String,
        members: Vec<String>,
    },
    Assigned {
        generation: i32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    id: String,
    instance: Option<String>,
    client_id: String,
    session_timeout_ms: i64,
    rebalance_timeout_ms: i64,
    protocols: Vec<(String, Subscription)>,
    assignment: Vec<TopicPartition>,
    awaiting_join: Option<ReplyTo>,
    awaiting_sync: Option<ReplyTo>,
    /// Joined but not through a completed join phase yet (its session is the new
    /// member join timeout).
    is_new: bool,
    /// When its session expires without a heartbeat; None while suspended.
    session_deadline_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinTimer {
    /// `group.initial.rebalance.delay.ms`, extended while members keep arriving.
    Initial {
        at_ms: i64,
        remaining_ms: i64,
    },
    Normal {
        at_ms: i64,
    },
}

/// A committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub metadata: String,
    pub commit_ms: i64,
}

/// One group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// KIP-394: member ids handed out, waiting for their second JoinGroup.
    pending: BTreeMap<String, i64>,
    pending_sync: BTreeSet<String>,
    join_timer: Option<JoinTimer>,
    sync_deadline_ms: Option<(i64, i32)>,
    new_member_added: bool,
    pub offsets: BTreeMap<TopicPartition, Committed>,
}

impl Group {
    fn new(id: &str) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            join_timer: None,
            sync_deadline_ms: None,
            new_member_added: false,
            offsets: BTreeMap::new(),
        }
    }

    /// Members and their current partitions.
    pub fn assignment(&self) -> BTreeMap<String, Vec<TopicPartition>> {
        self.members
            .iter()
            .map(|(id, m)| (id.clone(), m.assignment.clone()))
            .collect()
    }

    /// Each member's `client.id`, by member id.
    pub fn client_ids(&self) -> BTreeMap<String, String> {
        self.members
            .iter()
            .map(|(id, m)| (id.clone(), m.client_id.clone()))
            .collect()
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    fn static_member(&self, instance: &str) -> Option<&String> {
        self.members
            .iter()
            .find(|(_, m)| m.instance.as_deref() == Some(instance))
            .map(|(id, _)| id)
    }

    /// Kafka's `validateCurrentMember`.
    fn validate_member(&self, member_id: &str, instance: Option<&str>) -> Result<(), GroupError> {
        match instance {
            Some(instance) => match self.static_member(instance) {
                Some(current) if current != member_id => Err(GroupError::FencedInstanceId),
                Some(_) => Ok(()),
                None => Err(GroupError::UnknownMemberId),
            },
            None if self.members.contains_key(member_id) => Ok(()),
            None => Err(GroupError::UnknownMemberId),
        }
    }

    /// Every member and pending member supports one of these protocols.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Subscription)]) -> bool {
        if self.members.is_empty() {
            return !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
    }

    fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// The protocol every member supports that most members prefer (ties: the one the
    /// first member prefers).
    fn vote(&self) -> Option<String> {
        let candidates: Vec<&String> = self
            .members
            .values()
            .next()?
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(x, _)| x == *n))
            })
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(choice) = m
                .protocols
                .iter()
                .map(|(n, _)| n)
                .find(|n| candidates.contains(n))
            {
                *votes.entry(choice).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        candidates
            .into_iter()
            .find(|c| votes.get(c) == Some(&best))
            .cloned()
    }
}

/// The coordinator for the groups whose `__consumer_offsets` partition this broker leads.
#[derive(Clone, Debug)]
pub struct Coordinator {
    config: CoordinatorConfig,
    groups: BTreeMap<String, Group>,
    rng: SplitMix64,
    replies: Vec<Reply>,
    writes: Vec<GroupWrite>,
    events: Vec<GroupEvent>,
    now_ms: i64,
}

impl Coordinator {
    pub fn new(config: CoordinatorConfig, rng_seed: u64) -> Coordinator {
        Coordinator {
            config,
            groups: BTreeMap::new(),
            rng: SplitMix64::new(rng_seed),
            replies: Vec::new(),
            writes: Vec::new(),
            events: Vec::new(),
            now_ms: 0,
        }
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Replies that became due (parked joins and syncs answered).
    pub fn take_replies(&mut self) -> Vec<Reply> {
        std::mem::take(&mut self.replies)
    }

    /// Groups to store, each with the replies that wait for the write.
    pub fn take_writes(&mut self) -> Vec<GroupWrite> {
        std::mem::take(&mut self.writes)
    }

    pub fn take_events(&mut self) -> Vec<GroupEvent> {
        std::mem::take(&mut self.events)
    }

    fn member_id(&mut self, prefix: &str) -> String {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        format!(
            "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    fn transition(&mut self, group: &str, to: GroupState, why: GroupChange) {
        let now_ms = self.now_ms;
        let g = self.groups.get_mut(group).expect("a group");
        let from = g.state;
        g.state = to;
        self.events.push(GroupEvent {
            time_ms: now_ms,
            group: group.to_string(),
            kind: GroupEventKind::Transition { from, to, why },
        });
    }

    // ----- JoinGroup ---------------------------------------------------------------------

    /// A JoinGroup. The answer may come now (an error, MEMBER_ID_REQUIRED, a member
    /// whose join changes nothing) or when the join phase completes.
    pub fn join(&mut self, now_ms: i64, reply_to: ReplyTo, request: JoinGroup) {
        self.now_ms = now_ms;
        if request.group_id.is_empty() {
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed("", GroupError::InvalidGroupId),
            ));
        }
        let config = &self.config;
        if !(config.group_min_session_timeout_ms..=config.group_max_session_timeout_ms)
            .contains(&request.session_timeout_ms)
        {
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed(&request.member_id, GroupError::InvalidSessionTimeout),
            ));
        }
        let new_member = request.member_id.is_empty();
        if !self.groups.contains_key(&request.group_id) {
            if !new_member {
                return self.reply(Reply::Join(
                    reply_to,
                    JoinGroupResponse::failed(&request.member_id, GroupError::UnknownMemberId),
                ));
            }
            self.groups
                .insert(request.group_id.clone(), Group::new(&request.group_id));
        }
        let group_id = request.group_id.clone();
        let g = &self.groups[&group_id];
        if g.state == GroupState::Dead {
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed(&request.member_id, GroupError::CoordinatorNotAvailable),
            ));
        }
        if !g.supports(&request.protocol_type, &request.protocols) {
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed(
                    &request.member_id,
                    GroupError::InconsistentGroupProtocol,
                ),
            ));
        }
        let known = g.members.contains_key(&request.member_id)
            || g.pending.contains_key(&request.member_id);
        if !known && g.members.len() + g.pending.len() >= self.config.group_max_size {
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed("", GroupError::GroupMaxSizeReached),
            ));
        }
        if new_member {
            let prefix = request
                .group_instance_id
                .clone()
                .unwrap_or_else(|| request.client_id.clone());
            let previous = request
                .group_instance_id
                .as_deref()
                .and_then(|instance| g.static_member(instance).cloned());
            let id = self.member_id(&prefix);
            if request.group_instance_id.is_some() {
                // KIP-345: a static member rejoining replaces its old member id.
                if let Some(old) = previous {
                    return self.replace_static_member(&group_id, &old, id, reply_to, request);
                }
                return self.add_and_rebalance(&group_id, id, reply_to, request);
            }
            // KIP-394: a new dynamic member learns its id first and joins with it.
            let deadline = now_ms + request.session_timeout_ms;
            self.groups
                .get_mut(&group_id)
                .expect("a group")
                .pending
                .insert(id.clone(), deadline);
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed(&id, GroupError::MemberIdRequired),
            ));
        }
        let member_id = request.member_id.clone();
        if self
            .groups
            .get_mut(&group_id)
            .expect("a group")
            .pending
            .remove(&member_id)
            .is_some()
        {
            return self.add_and_rebalance(&group_id, member_id, reply_to, request);
        }
        if let Err(e) =
            self.groups[&group_id].validate_member(&member_id, request.group_instance_id.as_deref())
        {
            return self.reply(Reply::Join(
                reply_to,
                JoinGroupResponse::failed(&member_id, e),
            ));
        }
        let g = self.groups.get_mut(&group_id).expect("a group");
        let member = g.members.get_mut(&member_id).expect("validated");
        let matches = member.protocols == request.protocols;
        match g.state {
            GroupState::PreparingRebalance => {
                update_member(member, reply_to, &request);
            }
            GroupState::CompletingRebalance if matches => {
                let response = self.join_response(&group_id, &member_id);
                return self.reply(Reply::Join(reply_to, response));
            }
            GroupState::Stable if matches && g.leader.as_deref() != Some(member_id.as_str()) => {
                let response = self.join_response(&group_id, &member_id);
                return self.reply(Reply::Join(reply_to, response));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                update_member(member, reply_to, &request);
                let member = member_id.clone();
                let why = if matches {
                    GroupChange::LeaderRejoined { member }
                } else {
                    GroupChange::SubscriptionChanged { member }
                };
                self.prepare_rebalance(&group_id, why);
            }
            GroupState::Empty | GroupState::Dead => {
                return self.reply(Reply::Join(
                    reply_to,
                    JoinGroupResponse::failed(&member_id, GroupError::UnknownMemberId),
                ));
            }
        }
        self.try_complete_join(&group_id);
    }

    fn reply(&mut self, reply: Reply) {
        self.replies.push(reply);
    }

    fn add_and_rebalance(
        &mut self,
        group_id: &str,
        id: String,
        reply_to: ReplyTo,
        request: JoinGroup,
    ) {
        let timeout = self.config.new_member_join_timeout_ms;
        let now_ms = self.now_ms;
        let g = self.groups.get_mut(group_id).expect("a group");
        if g.state == GroupState::PreparingRebalance && g.generation == 0 {
            g.new_member_added = true;
        }
        if g.members.is_empty() {
            g.protocol_type = Some(request.protocol_type.clone());
        }
        let member = Member {
            id: id.clone(),
            instance: request.group_instance_id.clone(),
            client_id: request.client_id.clone(),
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocols: request.protocols.clone(),
            assignment: Vec::new(),
            awaiting_join: Some(reply_to),
            awaiting_sync: None,
            is_new: true,
            session_deadline_ms: Some(now_ms + timeout),
        };
        g.members.insert(id.clone(), member);
        if g.leader.is_none() {
            g.leader = Some(id.clone());
        }
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty => {
                self.prepare_rebalance(group_id, GroupChange::MemberJoined { member: id });
            }
            _ => {}
        }
        self.try_complete_join(group_id);
    }

    fn replace_static_member(
        &mut self,
        group_id: &str,
        old: &str,
        id: String,
        reply_to: ReplyTo,
        request: JoinGroup,
    ) {
        let g = self.groups.get_mut(group_id).expect("a group");
        let mut member = g.members.remove(old).expect("a static member");
        // The old incarnation's parked requests are fenced.
        if let Some(to) = member.awaiting_join.take() {
            self.replies.push(Reply::Join(
                to,
                JoinGroupResponse::failed(old.to_string(), GroupError::FencedInstanceId),
            ));
        }
        if let Some(to) = member.awaiting_sync.take() {
            self.replies.push(Reply::Sync(
                to,
                SyncGroupResponse::failed(GroupError::FencedInstanceId),
            ));
        }
        let g = self.groups.get_mut(group_id).expect("a group");
        member.id = id.clone();
        let matches = member.protocols == request.protocols;
        let old_protocols = member.protocols.clone();
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.protocols = request.protocols.clone();
        member.session_deadline_ms = Some(self.now_ms + request.session_timeout_ms);
        if g.leader.as_deref() == Some(old) {
            g.leader = Some(id.clone());
        }
        if g.pending_sync.remove(old) {
            g.pending_sync.insert(id.clone());
        }
        let state = g.state;
        g.members.insert(id.clone(), member);
        match state {
            // KIP-345: a static member coming back with the same subscription needs no
            // rebalance in Stable; it gets its old assignment once its new member id is
            // stored (updateStaticMemberAndRebalance), so a coordinator that takes over
            // right after knows it.
            // The JoinGroup is parked on the member (`updateMember(..., responseCallback)`),
            // so a rebalance or a replacement meanwhile answers it.
            GroupState::Stable if matches => {
                let g = self.groups.get_mut(group_id).expect("a group");
                g.members.get_mut(&id).expect("inserted").awaiting_join = Some(reply_to);
                self.writes.push(GroupWrite {
                    group: group_id.to_string(),
                    replies: Vec::new(),
                    on_stored: Some(OnStored::StaticRejoin {
                        old: old.to_string(),
                        new: id,
                        reply_to,
                        protocols: old_protocols,
                    }),
                });
            }
            GroupState::PreparingRebalance => {
                let g = self.groups.get_mut(group_id).expect("a group");
                g.members.get_mut(&id).expect("inserted").awaiting_join = Some(reply_to);
                self.try_complete_join(group_id);
            }
            _ => {
                let g = self.groups.get_mut(group_id).expect("a group");
                g.members.get_mut(&id).expect("inserted").awaiting_join = Some(reply_to);
                self.prepare_rebalance(
                    group_id,
                    GroupChange::StaticMemberReplaced {
                        member: id,
                        old: old.to_string(),
                    },
                );
                self.try_complete_join(group_id);
            }
        }
    }

    fn join_response(&self, group_id: &str, member_id: &str) -> JoinGroupResponse {
        let g = &self.groups[group_id];
        let is_leader = g.leader.as_deref() == Some(member_id);
        let protocol = g.protocol.clone();
        let members = if is_leader {
            g.members
                .values()
                .map(|m| {
                    let subscription = m
                        .protocols
                        .iter()
                        .find(|(n, _)| Some(n) == protocol.as_ref())
                        .map(|(_, s)| s.clone())
                        .unwrap_or_default();
                    Subscription {
                        member_id: m.id.clone(),
                        group_instance_id: m.instance.clone(),
                        ..subscription
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            error: None,
            generation: g.generation,
            protocol,
            leader: g.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Kafka's `prepareRebalance`: parked syncs fail, the join phase starts.
    fn prepare_rebalance(&mut self, group_id: &str, why: GroupChange) {
        let now_ms = self.now_ms;
        let delay = self.config.group_initial_rebalance_delay_ms;
        let g = self.groups.get_mut(group_id).expect("a group");
        if g.state == GroupState::CompletingRebalance {
            for m in g.members.values_mut() {
                m.assignment.clear();
                if let Some(to) = m.awaiting_sync.take() {
                    self.replies.push(Reply::Sync(
                        to,
                        SyncGroupResponse::failed(GroupError::RebalanceInProgress),
                    ));
                    m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
                }
            }
        }
        g.pending_sync.clear();
        g.sync_deadline_ms = None;
        let timeout = g.rebalance_timeout_ms();
        g.join_timer = Some(if g.state == GroupState::Empty {
            Initial {
                at_ms: now_ms + delay,
                remaining_ms: (timeout - delay).max(0),
            }
        } else {
            Normal {
                at_ms: now_ms + timeout,
            }
        });
        self.transition(group_id, GroupState::PreparingRebalance, why);
    }

    fn try_complete_join(&mut self, group_id: &str) {
        let g = &self.groups[group_id];
        if g.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = g.members.values().all(|m| m.awaiting_join.is_some());
        if matches!(g.join_timer, Some(Normal { .. })) && all_joined && g.pending.is_empty() {
            self.complete_join(group_id);
        }
    }

    /// Kafka's `onCompleteJoin`: dynamic members that did not rejoin are dropped, the
    /// generation moves on, everyone waiting gets its JoinGroup answer.
    fn complete_join(&mut self, group_id: &str) {
        let now_ms = self.now_ms;
        let g = self.groups.get_mut(group_id).expect("a group");
        let dropped: Vec<String> = g
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.instance.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in &dropped {
            g.members.remove(id);
        }
        let joined: Vec<String> = g
            .members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .map(|m| m.id.clone())
            .collect();
        if g.leader.as_ref().is_none_or(|l| !joined.contains(l)) {
            g.leader = joined.first().cloned();
        }
        if g.leader.is_none() && !g.members.is_empty() {
            // Only static members that have not rejoined: wait another rebalance timeout.
            g.join_timer = Some(Normal {
                at_ms: now_ms + g.rebalance_timeout_ms(),
            });
            return;
        }
        g.generation += 1;
        g.join_timer = None;
        let why = GroupChange::JoinComplete { dropped };
        if g.members.is_empty() {
            g.protocol = None;
            g.leader = None;
            self.transition(group_id, GroupState::Empty, why);
            self.writes.push(GroupWrite {
                group: group_id.to_string(),
                replies: Vec::new(),
                on_stored: None,
            });
            return;
        }
        g.protocol = g.vote();
        let generation = g.generation;
        for m in g.members.values_mut() {
            m.is_new = false;
            m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
        }
        g.pending_sync = g.members.keys().cloned().collect();
        g.sync_deadline_ms = Some((now_ms + g.rebalance_timeout_ms(), generation));
        let event = GroupEventKind::Generation {
            generation,
            leader: g.leader.clone().unwrap_or_default(),
            protocol: g.protocol.clone().unwrap_or_default(),
            members: g.members.keys().cloned().collect(),
        };
        self.transition(group_id, GroupState::CompletingRebalance, why);
        self.events.push(GroupEvent {
            time_ms: now_ms,
            group: group_id.to_string(),
            kind: event,
        });
        let waiting: Vec<(String, ReplyTo)> = self.groups[group_id]
            .members
            .values()
            .filter_map(|m| m.awaiting_join.map(|to| (m.id.clone(), to)))
            .collect();
        for (id, to) in waiting {
            let response = self.join_response(group_id, &id);
            self.groups
                .get_mut(group_id)
                .expect("a group")
                .members
                .get_mut(&id)
                .expect("a member")
                .awaiting_join = None;
            self.reply(Reply::Join(to, response));
        }
    }

    // ----- SyncGroup ---------------------------------------------------------------------

    pub fn sync(&mut self, now_ms: i64, reply_to: ReplyTo, request: SyncGroup) {
        self.now_ms = now_ms;
        if request.group_id.is_empty() {
            return self.reply(Reply::Sync(
                reply_to,
                SyncGroupResponse::failed(GroupError::InvalidGroupId),
            ));
        }
        let Some(g) = self.groups.get(&request.group_id) else {
            return self.reply(Reply::Sync(
                reply_to,
                SyncGroupResponse::failed(GroupError::UnknownMemberId),
            ));
        };
        if g.state == GroupState::Dead {
            return self.reply(Reply::Sync(
                reply_to,
                SyncGroupResponse::failed(GroupError::CoordinatorNotAvailable),
            ));
        }
        if let Err(e) = g.validate_member(&request.member_id, request.group_instance_id.as_deref())
        {
            return self.reply(Reply::Sync(reply_to, SyncGroupResponse::failed(e)));
        }
        if request.generation != g.generation {
            return self.reply(Reply::Sync(
                reply_to,
                SyncGroupResponse::failed(GroupError::IllegalGeneration),
            ));
        }
        let group_id = request.group_id.clone();
        match g.state {
            GroupState::Empty => self.reply(Reply::Sync(
                reply_to,
                SyncGroupResponse::failed(GroupError::UnknownMemberId),
            )),
            GroupState::PreparingRebalance => self.reply(Reply::Sync(
                reply_to,
                SyncGroupResponse::failed(GroupError::RebalanceInProgress),
            )),
            GroupState::Stable => {
                let g = self.groups.get_mut(&group_id).expect("a group");
                g.pending_sync.remove(&request.member_id);
                let m = g.members.get_mut(&request.member_id).expect("validated");
                m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
                let assignment = m.assignment.clone();
                self.reply(Reply::Sync(
                    reply_to,
                    SyncGroupResponse {
                        error: None,
                        assignment,
                    },
                ));
            }
            GroupState::CompletingRebalance => {
                let g = self.groups.get_mut(&group_id).expect("a group");
                g.pending_sync.remove(&request.member_id);
                g.members
                    .get_mut(&request.member_id)
                    .expect("validated")
                    .awaiting_sync = Some(reply_to);
                if g.leader.as_deref() == Some(request.member_id.as_str()) {
                    // GroupCoordinator.doSyncGroup: the assignment is stored first; the
                    // group turns Stable and the members hear it in storeGroup's callback
                    // (`stored`). Members the leader left out get nothing.
                    for m in g.members.values_mut() {
                        m.assignment = request.assignments.get(&m.id).cloned().unwrap_or_default();
                    }
                    let generation = g.generation;
                    self.writes.push(GroupWrite {
                        group: group_id.clone(),
                        replies: Vec::new(),
                        on_stored: Some(OnStored::Assignment { generation }),
                    });
                }
            }
            GroupState::Dead => unreachable!("answered above"),
        }
    }

    /// A group write ended (storeGroup's callback): what waited for it goes on.
    pub fn stored(
        &mut self,
        now_ms: i64,
        group_id: &str,
        on_stored: OnStored,
        result: Result<(), GroupError>,
    ) {
        self.now_ms = now_ms;
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        match on_stored {
            OnStored::Assignment { generation } => {
                // Another member may have joined meanwhile: only the same generation, still
                // completing its rebalance, takes the result.
                if g.state != GroupState::CompletingRebalance || g.generation != generation {
                    return;
                }
                let mut replies = Vec::new();
                let failed = result.err();
                for m in g.members.values_mut() {
                    if failed.is_some() {
                        m.assignment.clear();
                    }
                    if let Some(to) = m.awaiting_sync.take() {
                        m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
                        replies.push(Reply::Sync(
                            to,
                            match failed {
                                None => SyncGroupResponse {
                                    error: None,
                                    assignment: m.assignment.clone(),
                                },
                                Some(e) => SyncGroupResponse::failed(e),
                            },
                        ));
                    }
                }
                match failed {
                    None => {
                        self.transition(
                            group_id,
                            GroupState::Stable,
                            GroupChange::AssignmentStored,
                        );
                        self.events.push(GroupEvent {
                            time_ms: now_ms,
                            group: group_id.to_string(),
                            kind: GroupEventKind::Assigned { generation },
                        });
                        self.replies.extend(replies);
                    }
                    // resetAndPropagateAssignmentError, then maybePrepareRebalance.
                    Some(e) => {
                        self.replies.extend(replies);
                        self.prepare_rebalance(
                            group_id,
                            GroupChange::AssignmentStoreFailed {
                                error: e.to_string(),
                            },
                        );
                    }
                }
            }
            OnStored::StaticRejoin {
                old,
                new,
                reply_to,
                protocols,
            } => {
                // Still parked on the member: nothing (a rebalance, a replacement) has
                // answered it meanwhile.
                let parked = g
                    .members
                    .get_mut(&new)
                    .filter(|m| m.awaiting_join == Some(reply_to))
                    .map(|m| m.awaiting_join.take())
                    .is_some();
                if !parked {
                    return;
                }
                match result {
                    Ok(()) => {
                        let response = self.join_response(group_id, &new);
                        self.reply(Reply::Join(reply_to, response));
                    }
                    Err(e) => {
                        // The new member id was not stored: the old one comes back.
                        let g = self.groups.get_mut(group_id).expect("a group");
                        if let Some(mut member) = g.members.remove(&new) {
                            member.id = old.clone();
                            member.protocols = protocols;
                            member.session_deadline_ms = Some(now_ms + member.session_timeout_ms);
                            if g.leader.as_deref() == Some(new.as_str()) {
                                g.leader = Some(old.clone());
                            }
                            if g.pending_sync.remove(&new) {
                                g.pending_sync.insert(old.clone());
                            }
                            g.members.insert(old, member);
                        }
                        self.reply(Reply::Join(reply_to, JoinGroupResponse::failed("", e)));
                    }
                }
            }
        }
    }

    // ----- Heartbeat, LeaveGroup -----------------------------------------------------------

    pub fn heartbeat(
        &mut self,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), GroupError> {
        self.now_ms = now_ms;
        let g = self.member_group(group_id)?;
        g.validate_member(member_id, instance)?;
        if generation != g.generation {
            return Err(GroupError::IllegalGeneration);
        }
        let state = g.state;
        let m = g
            .members
            .get_mut(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        match state {
            GroupState::Empty => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => {
                m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
                Err(GroupError::RebalanceInProgress)
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
                Ok(())
            }
            GroupState::Dead => Err(GroupError::CoordinatorNotAvailable),
        }
    }

    /// The group a member request names: INVALID_GROUP_ID for an empty id,
    /// UNKNOWN_MEMBER_ID for an unknown group, COORDINATOR_NOT_AVAILABLE when Dead.
    fn member_group(&mut self, group_id: &str) -> Result<&mut Group, GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let g = self
            .groups
            .get_mut(group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if g.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        Ok(g)
    }

    /// LeaveGroup for one member (the batch form is a loop over this).
    pub fn leave(
        &mut self,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), GroupError> {
        self.now_ms = now_ms;
        let g = self.member_group(group_id)?;
        if g.pending.remove(member_id).is_some() {
            self.try_complete_join(group_id);
            return Ok(());
        }
        g.validate_member(member_id, instance)?;
        self.remove_member(
            group_id,
            member_id,
            GroupChange::MemberLeft {
                member: member_id.to_string(),
            },
        );
        Ok(())
    }

    /// Kafka's `removeMemberAndUpdateGroup`.
    fn remove_member(&mut self, group_id: &str, member_id: &str, why: GroupChange) {
        let g = self.groups.get_mut(group_id).expect("a group");
        let Some(mut member) = g.members.remove(member_id) else {
            return;
        };
        g.pending_sync.remove(member_id);
        if let Some(to) = member.awaiting_join.take() {
            self.replies.push(Reply::Join(
                to,
                JoinGroupResponse::failed(String::new(), GroupError::UnknownMemberId),
            ));
        }
        let g = self.groups.get_mut(group_id).expect("a group");
        if g.leader.as_deref() == Some(member_id) {
            g.leader = g.members.keys().next().cloned();
        }
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(group_id, why)
            }
            GroupState::PreparingRebalance => self.try_complete_join(group_id),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ----- offsets -----------------------------------------------------------------------

    /// OffsetCommit: `generation` -1 with no member id is a commit from outside the group
    /// (`assign()` consumers, tools). Errors apply to every partition. This checks and
    /// stores at once; a broker checks, writes to `__consumer_offsets`, then stores.
    pub fn commit(
        &mut self,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<(), GroupError> {
        self.check_commit(now_ms, group_id, member_id, instance, generation)?;
        self.store_offsets(now_ms, group_id, offsets);
        Ok(())
    }

    /// Kafka's `validateOffsetCommit`; a valid commit also counts as a heartbeat.
    pub fn check_commit(
        &mut self,
        now_ms: i64,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), GroupError> {
        self.now_ms = now_ms;
        if !self.groups.contains_key(group_id) {
            if generation >= 0 {
                return Err(GroupError::IllegalGeneration);
            }
            self.groups
                .insert(group_id.to_string(), Group::new(group_id));
        }
        let g = self.groups.get_mut(group_id).expect("present");
        if g.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let member_style = generation >= 0 || !member_id.is_empty() || instance.is_some();
        if !(generation < 0 && g.state == GroupState::Empty) {
            if member_style {
                g.validate_member(member_id, instance)?;
                if generation != g.generation {
                    return Err(GroupError::IllegalGeneration);
                }
            } else if g.state != GroupState::Empty {
                return Err(GroupError::UnknownMemberId);
            }
        }
        match g.state {
            GroupState::CompletingRebalance => return Err(GroupError::RebalanceInProgress),
            GroupState::Stable | GroupState::PreparingRebalance => {
                if let Some(m) = g.members.get_mut(member_id) {
                    m.session_deadline_ms = Some(now_ms + m.session_timeout_ms);
                }
            }
            GroupState::Empty | GroupState::Dead => {}
        }
        Ok(())
    }

    /// Offsets that are stored (written to `__consumer_offsets`, or loaded from it).
    pub fn store_offsets(
        &mut self,
        now_ms: i64,
        group_id: &str,
        offsets: &[(TopicPartition, i64)],
    ) {
        let g = self
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id));
        for (tp, offset) in offsets {
            g.offsets.insert(
                tp.clone(),
                Committed {
                    offset: *offset,
                    metadata: String::new(),
                    commit_ms: now_ms,
                },
            );
        }
    }

    /// OffsetFetch: the committed offset of each partition, -1 where there is none.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
    ) -> Vec<(TopicPartition, i64)> {
        let g = self
            .groups
            .get(group_id)
            .filter(|g| g.state != GroupState::Dead);
        partitions
            .iter()
            .map(|tp| {
                let offset = g.and_then(|g| g.offsets.get(tp)).map_or(-1, |c| c.offset);
                (tp.clone(), offset)
            })
            .collect()
    }

    // ----- __consumer_offsets ------------------------------------------------------------

    /// The group as its metadata record stores it (Kafka's `groupMetadataValue`).
    pub fn stored_group(&self, group_id: &str) -> Option<StoredGroup> {
        let g = self.groups.get(group_id)?;
        let protocol = g.protocol.clone();
        Some(StoredGroup {
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            generation: g.generation,
            protocol: protocol.clone(),
            leader: g.leader.clone(),
            state_timestamp_ms: self.now_ms,
            members: g
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance.clone(),
                    client_id: m.client_id.clone(),
                    client_host: String::new(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms as i32,
                    session_timeout_ms: m.session_timeout_ms as i32,
                    subscription: m
                        .protocols
                        .iter()
                        .find(|(n, _)| Some(n) == protocol.as_ref())
                        .map(|(_, s)| s.clone())
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// Loads what a `__consumer_offsets` partition holds, oldest first, when this broker
    /// becomes its leader (Kafka's `loadGroupsAndOffsets`). The last record of each key
    /// wins; a group with members is Stable and its members' sessions start now.
    pub fn load(&mut self, now_ms: i64, records: impl IntoIterator<Item = StoredRecord>) {
        self.now_ms = now_ms;
        let mut offsets: BTreeMap<String, BTreeMap<TopicPartition, StoredOffset>> = BTreeMap::new();
        let mut groups: BTreeMap<String, Option<StoredGroup>> = BTreeMap::new();
        for record in records {
            match record {
                StoredRecord::Offset { group, tp, value } => {
                    let entry = offsets.entry(group).or_default();
                    match value {
                        Some(v) => entry.insert(tp, v),
                        None => entry.remove(&tp),
                    };
                }
                StoredRecord::Group { group, value } => {
                    groups.insert(group, value);
                }
            }
        }
        for (id, stored) in groups {
            let Some(stored) = stored else {
                self.groups.remove(&id);
                continue;
            };
            let mut g = Group::new(&id);
            g.generation = stored.generation;
            g.protocol_type = Some(stored.protocol_type).filter(|t| !t.is_empty());
            g.protocol = stored.protocol.clone();
            g.leader = stored.leader;
            for m in stored.members {
                let protocols = stored
                    .protocol
                    .iter()
                    .map(|p| (p.clone(), m.subscription.clone()))
                    .collect();
                g.members.insert(
                    m.member_id.clone(),
                    Member {
                        id: m.member_id,
                        instance: m.group_instance_id,
                        client_id: m.client_id,
                        session_timeout_ms: i64::from(m.session_timeout_ms),
                        rebalance_timeout_ms: i64::from(m.rebalance_timeout_ms),
                        protocols,
                        assignment: m.assignment,
                        awaiting_join: None,
                        awaiting_sync: None,
                        is_new: false,
                        session_deadline_ms: Some(now_ms + i64::from(m.session_timeout_ms)),
                    },
                );
            }
            let to = if g.members.is_empty() {
                GroupState::Empty
            } else {
                GroupState::Stable
            };
            let generation = g.generation;
            self.groups.insert(id.clone(), g);
            self.transition(&id, to, GroupChange::Loaded { generation });
        }
        for (id, stored) in offsets {
            let g = self
                .groups
                .entry(id.clone())
                .or_insert_with(|| Group::new(&id));
            for (tp, v) in stored {
                g.offsets.insert(
                    tp,
                    Committed {
                        offset: v.offset,
                        metadata: v.metadata,
                        commit_ms: v.commit_timestamp_ms,
                    },
                );
            }
        }
    }

    /// Drops the groups `unload` picks, when this broker stops leading their partition
    /// (Kafka's `onGroupUnloaded`): parked JoinGroups and SyncGroups get NOT_COORDINATOR
    /// and the members find the new coordinator.
    pub fn unload(&mut self, now_ms: i64, unload: impl Fn(&str) -> bool) {
        self.now_ms = now_ms;
        let ids: Vec<String> = self
            .groups
            .keys()
            .filter(|id| unload(id))
            .cloned()
            .collect();
        for id in ids {
            let g = self.groups.remove(&id).expect("listed");
            for m in g.members.into_values() {
                if let Some(to) = m.awaiting_join {
                    self.replies.push(Reply::Join(
                        to,
                        JoinGroupResponse::failed(m.id.clone(), GroupError::NotCoordinator),
                    ));
                }
                if let Some(to) = m.awaiting_sync {
                    self.replies.push(Reply::Sync(
                        to,
                        SyncGroupResponse::failed(GroupError::NotCoordinator),
                    ));
                }
            }
            if g.state != GroupState::Dead {
                self.events.push(GroupEvent {
                    time_ms: now_ms,
                    group: id,
                    kind: GroupEventKind::Transition {
                        from: g.state,
                        to: GroupState::Dead,
                        why: GroupChange::Unloaded,
                    },
                });
            }
        }
    }

    // ----- timers ------------------------------------------------------------------------

    pub fn next_timer_ms(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        let mut consider = |t: Option<i64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for g in self.groups.values() {
            for m in g.members.values() {
                // A member waiting for its join or sync answer does not time out.
                if m.is_new || (m.awaiting_join.is_none() && m.awaiting_sync.is_none()) {
                    consider(m.session_deadline_ms);
                }
            }
            consider(g.pending.values().min().copied());
            consider(g.join_timer.map(|t| match t {
                Initial { at_ms, .. } | Normal { at_ms } => at_ms,
            }));
            consider(g.sync_deadline_ms.map(|(at, _)| at));
        }
        next
    }

    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            self.tick_group(&id, now_ms);
        }
    }

    fn tick_group(&mut self, group_id: &str, now_ms: i64) {
        // Sessions: a member silent for session.timeout.ms is removed.
        let expired: Vec<(String, i64)> = self.groups[group_id]
            .members
            .values()
            .filter(|m| m.is_new || (m.awaiting_join.is_none() && m.awaiting_sync.is_none()))
            .filter(|m| m.session_deadline_ms.is_some_and(|d| d <= now_ms))
            .map(|m| (m.id.clone(), m.session_timeout_ms))
            .collect();
        for (member, timeout_ms) in expired {
            let why = GroupChange::SessionTimeout {
                member: member.clone(),
                timeout_ms,
            };
            self.remove_member(group_id, &member, why);
        }
        let g = self.groups.get_mut(group_id).expect("a group");
        let lapsed: Vec<String> = g
            .pending
            .iter()
            .filter(|(_, d)| **d <= now_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in lapsed {
            g.pending.remove(&id);
        }
        self.try_complete_join(group_id);
        let g = self.groups.get_mut(group_id).expect("a group");
        match g.join_timer {
            Some(Initial {
                at_ms,
                remaining_ms,
            }) if at_ms <= now_ms => {
                let delay = self.config.group_initial_rebalance_delay_ms;
                if g.new_member_added && remaining_ms != 0 {
                    // More members arrived: wait one more delay, within the rebalance timeout.
                    g.new_member_added = false;
                    let wait = delay.min(remaining_ms);
                    g.join_timer = Some(Initial {
                        at_ms: now_ms + wait,
                        remaining_ms: (remaining_ms - delay).max(0),
                    });
                } else {
                    self.complete_join(group_id);
                }
            }
            Some(Normal { at_ms }) if at_ms <= now_ms => self.complete_join(group_id),
            _ => {}
        }
        let g = self.groups.get_mut(group_id).expect("a group");
        if let Some((at_ms, generation)) = g.sync_deadline_ms
            && at_ms <= now_ms
        {
            g.sync_deadline_ms = None;
            if generation == g.generation
                && matches!(
                    g.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                )
                && !g.pending_sync.is_empty()
            {
                let late: Vec<String> = g.pending_sync.iter().cloned().collect();
                for member in &late {
                    g.members.remove(member);
                }
                g.pending_sync.clear();
                self.prepare_rebalance(group_id, GroupChange::SyncTimeout { late });
            }
        }
    }
}

use JoinTimer::{Initial, Normal};

fn update_member(member: &mut Member, reply_to: ReplyTo, request: &JoinGroup) {
    member.protocols = request.protocols.clone();
    member.session_timeout_ms = request.session_timeout_ms;
    member.rebalance_timeout_ms = request.rebalance_timeout_ms;
    member.awaiting_join = Some(reply_to);
}
