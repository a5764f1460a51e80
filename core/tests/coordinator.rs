//! The group coordinator (classic protocol) against Kafka's rules: the KIP-394 join with
//! MEMBER_ID_REQUIRED, the initial rebalance delay, generations, the leader's SyncGroup,
//! heartbeats per state, session and rebalance timeouts, LeaveGroup, static members, and
//! offset commits per state and generation.

use kafkasim_core::group::assignor::Subscription;
use kafkasim_core::group::coordinator::{
    Coordinator, CoordinatorConfig, GroupChange, GroupError, GroupEventKind, GroupState,
    GroupWrite, JoinGroup, JoinGroupResponse, Reply, ReplyTo, SyncGroup, SyncGroupResponse,
};
use kafkasim_core::protocol::TopicPartition;

const GROUP: &str = "billing";

struct Harness {
    c: Coordinator,
    now_ms: i64,
    next_correlation: u64,
    /// Group writes not yet stored (while `hold_writes`).
    held: Vec<GroupWrite>,
    hold_writes: bool,
}

fn subscription(topics: &[&str]) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        ..Subscription::default()
    }
}

fn join_request(member_id: &str, instance: Option<&str>) -> JoinGroup {
    JoinGroup {
        group_id: GROUP.to_string(),
        member_id: member_id.to_string(),
        group_instance_id: instance.map(str::to_string),
        client_id: "consumer".to_string(),
        session_timeout_ms: 45_000,
        rebalance_timeout_ms: 300_000,
        protocol_type: "consumer".to_string(),
        protocols: vec![("range".to_string(), subscription(&["orders"]))],
    }
}

impl Harness {
    fn new() -> Harness {
        Harness {
            c: Coordinator::new(CoordinatorConfig::default(), 7),
            now_ms: 0,
            next_correlation: 1,
            held: Vec::new(),
            hold_writes: false,
        }
    }

    fn reply_to(&mut self) -> ReplyTo {
        self.next_correlation += 1;
        ReplyTo {
            client: 20_001,
            correlation_id: self.next_correlation,
        }
    }

    /// Sends a JoinGroup; returns its reply-to, to find the answer later.
    fn join(&mut self, request: JoinGroup) -> ReplyTo {
        let to = self.reply_to();
        self.c.join(self.now_ms, to, request);
        to
    }

    fn sync(
        &mut self,
        member: &str,
        generation: i32,
        assignments: &[(&str, &[TopicPartition])],
    ) -> ReplyTo {
        let to = self.reply_to();
        let request = SyncGroup {
            group_id: GROUP.to_string(),
            member_id: member.to_string(),
            group_instance_id: None,
            generation,
            assignments: assignments
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_vec()))
                .collect(),
        };
        self.c.sync(self.now_ms, to, request);
        to
    }

    fn advance(&mut self, ms: i64) {
        let end = self.now_ms + ms;
        while let Some(t) = self.c.next_timer_ms().filter(|&t| t <= end) {
            self.now_ms = t.max(self.now_ms);
            self.c.tick(self.now_ms);
        }
        self.now_ms = end;
    }

    /// What the coordinator answered. Its group writes are stored at once (as the broker
    /// does once `__consumer_offsets` commits them), unless they are held.
    fn replies(&mut self) -> Vec<Reply> {
        let mut replies = self.c.take_replies();
        loop {
            let writes = self.c.take_writes();
            if writes.is_empty() {
                break;
            }
            if self.hold_writes {
                self.held.extend(writes);
                break;
            }
            for w in writes {
                replies.extend(self.store(w, Ok(())));
            }
        }
        replies
    }

    /// Ends a held write with `result`; returns the answers it released.
    fn store(&mut self, w: GroupWrite, result: Result<(), GroupError>) -> Vec<Reply> {
        let mut replies = w.replies;
        if let Some(on) = w.on_stored {
            self.c.stored(self.now_ms, &w.group, on, result);
        }
        replies.extend(self.c.take_replies());
        replies
    }

    fn state(&self) -> GroupState {
        self.c.group(GROUP).unwrap().state
    }

    /// A new dynamic member: MEMBER_ID_REQUIRED, then the join with its id.
    fn new_member(&mut self) -> (String, ReplyTo) {
        let first = self.join(join_request("", None));
        let id = match self.replies().as_slice() {
            [Reply::Join(to, r)]
                if *to == first && r.error == Some(GroupError::MemberIdRequired) =>
            {
                r.member_id.clone()
            }
            other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
        };
        let to = self.join(join_request(&id, None));
        (id, to)
    }
}

fn join_answer(replies: &[Reply], to: ReplyTo) -> JoinGroupResponse {
    replies
        .iter()
        .find_map(|r| match r {
            Reply::Join(t, response) if *t == to => Some(response.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no join answer for {to:?} in {replies:?}"))
}

fn sync_answer(replies: &[Reply], to: ReplyTo) -> SyncGroupResponse {
    replies
        .iter()
        .find_map(|r| match r {
            Reply::Sync(t, response) if *t == to => Some(response.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no sync answer for {to:?} in {replies:?}"))
}

fn tp(p: u32) -> TopicPartition {
    TopicPartition::new("orders", p)
}

#[test]
fn a_first_member_joins_after_the_initial_delay_and_syncs_to_stable() {
    let mut h = Harness::new();
    let (a, to_a) = h.new_member();
    assert!(
        a.starts_with("consumer-"),
        "Kafka's member ids are client id + UUID: {a}"
    );
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    // group.initial.rebalance.delay.ms = 3000: nothing before it.
    h.advance(2_999);
    assert!(h.replies().is_empty());
    h.advance(1);
    let replies = h.replies();
    let answer = join_answer(&replies, to_a);
    assert_eq!(
        (answer.error, answer.generation, answer.leader.as_str()),
        (None, 1, a.as_str())
    );
    assert_eq!(answer.protocol.as_deref(), Some("range"));
    assert_eq!(
        answer.members.len(),
        1,
        "the leader gets every member's subscription"
    );
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let sync = h.sync(&a, 1, &[(&a, &[tp(0), tp(1)])]);
    let replies = h.replies();
    assert_eq!(sync_answer(&replies, sync).assignment, [tp(0), tp(1)]);
    assert_eq!(h.state(), GroupState::Stable);
    assert_eq!(h.c.heartbeat(h.now_ms, GROUP, &a, None, 1), Ok(()));
    let events = h.c.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, GroupEventKind::Generation { generation: 1, .. })),
        "{events:?}"
    );
}

#[test]
fn a_second_member_triggers_a_rebalance_that_the_first_learns_from_its_heartbeat() {
    let mut h = Harness::new();
    let (a, _) = h.new_member();
    h.advance(3_000);
    h.replies();
    h.sync(&a, 1, &[(&a, &[tp(0), tp(1)])]);
    h.replies();
    let (b, to_b) = h.new_member();
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    // The first member hears of it on its next heartbeat, and rejoins.
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &a, None, 1),
        Err(GroupError::RebalanceInProgress)
    );
    let to_a = h.join(join_request(&a, None));
    // Everyone rejoined: the join phase completes at once (no initial delay now).
    let replies = h.replies();
    let (ja, jb) = (join_answer(&replies, to_a), join_answer(&replies, to_b));
    assert_eq!((ja.generation, jb.generation), (2, 2));
    assert_eq!(ja.leader, a, "the leader stays");
    assert_eq!(
        (ja.members.len(), jb.members.len()),
        (2, 0),
        "only the leader gets the members"
    );
    // The follower's SyncGroup waits for the leader's.
    let sync_b = h.sync(&b, 2, &[]);
    assert!(h.replies().is_empty());
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &b, None, 2),
        Ok(()),
        "NONE in CompletingRebalance"
    );
    let sync_a = h.sync(&a, 2, &[(&a, &[tp(0)]), (&b, &[tp(1)])]);
    let replies = h.replies();
    assert_eq!(sync_answer(&replies, sync_a).assignment, [tp(0)]);
    assert_eq!(sync_answer(&replies, sync_b).assignment, [tp(1)]);
    assert_eq!(h.state(), GroupState::Stable);
    // An old generation is refused.
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &b, None, 1),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, "nobody", None, 2),
        Err(GroupError::UnknownMemberId)
    );
}

/// Two members in Stable, generation 1.
fn stable_pair() -> (Harness, String, String) {
    let mut h = Harness::new();
    let (a, _) = h.new_member();
    let (b, _) = h.new_member();
    // b arrived during group.initial.rebalance.delay.ms: the delay is extended once more.
    h.advance(3_000);
    assert!(
        h.replies().is_empty(),
        "the initial delay was extended for the newcomer"
    );
    h.advance(3_000);
    assert_eq!(
        h.replies().len(),
        2,
        "both joins answered after the second delay"
    );
    let sync_a = h.sync(&a, 1, &[(&a, &[tp(0)]), (&b, &[tp(1)])]);
    let sync_b = h.sync(&b, 1, &[]);
    let replies = h.replies();
    sync_answer(&replies, sync_a);
    sync_answer(&replies, sync_b);
    assert_eq!(h.state(), GroupState::Stable);
    (h, a, b)
}

#[test]
fn a_member_that_stops_heartbeating_is_removed_after_its_session_timeout() {
    let (mut h, a, b) = stable_pair();
    // b heartbeats every 3 s; a falls silent.
    for _ in 0..15 {
        h.advance(3_000);
        let _ = h.c.heartbeat(h.now_ms, GROUP, &b, None, 1);
    }
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let events = h.c.take_events();
    let expected = GroupChange::SessionTimeout {
        member: a.clone(),
        timeout_ms: 45_000,
    };
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, GroupEventKind::Transition { why, .. } if *why == expected)),
        "{events:?}"
    );
    let to_b = h.join(join_request(&b, None));
    let answer = join_answer(&h.replies(), to_b);
    assert_eq!(
        (
            answer.generation,
            answer.leader.as_str(),
            answer.members.len()
        ),
        (2, b.as_str(), 1)
    );
}

#[test]
fn a_member_that_does_not_rejoin_within_the_rebalance_timeout_is_dropped() {
    let (mut h, a, b) = stable_pair();
    let to_a = h.join(join_request(&a, None)); // the leader rejoins: a rebalance
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    // b keeps heartbeating (REBALANCE_IN_PROGRESS) but never rejoins (a stalled poll loop).
    for _ in 0..100 {
        h.advance(3_000);
        let _ = h.c.heartbeat(h.now_ms, GROUP, &b, None, 1);
        if h.state() != GroupState::PreparingRebalance {
            break;
        }
    }
    let answer = join_answer(&h.replies(), to_a);
    assert_eq!(
        (answer.generation, answer.members.len()),
        (2, 1),
        "b was dropped"
    );
    assert!(
        h.now_ms >= 300_000,
        "after max.poll.interval.ms, at {}",
        h.now_ms
    );
    let events = h.c.take_events();
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            GroupEventKind::Transition {
                why: GroupChange::JoinComplete { dropped },
                ..
            } if !dropped.is_empty()
        )),
        "{events:?}"
    );
}

#[test]
fn leaving_rebalances_and_the_last_leaver_empties_the_group() {
    let (mut h, a, b) = stable_pair();
    assert_eq!(h.c.leave(h.now_ms, GROUP, &b, None), Ok(()));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(h.c.leave(h.now_ms, GROUP, &a, None), Ok(()));
    assert_eq!(h.state(), GroupState::Empty);
    assert_eq!(h.c.group(GROUP).unwrap().generation, 2);
    assert_eq!(
        h.c.leave(h.now_ms, GROUP, &a, None),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn sync_errors_follow_the_state() {
    let (mut h, a, _b) = stable_pair();
    h.join(join_request(&a, None));
    let to = h.sync(&a, 1, &[]);
    assert_eq!(
        sync_answer(&h.replies(), to).error,
        Some(GroupError::RebalanceInProgress)
    );
    let to = h.sync(&a, 7, &[]);
    assert_eq!(
        sync_answer(&h.replies(), to).error,
        Some(GroupError::IllegalGeneration)
    );
    let to = h.sync("nobody", 1, &[]);
    assert_eq!(
        sync_answer(&h.replies(), to).error,
        Some(GroupError::UnknownMemberId)
    );
}

#[test]
fn join_validation() {
    let mut h = Harness::new();
    let short = JoinGroup {
        session_timeout_ms: 1_000,
        ..join_request("", None)
    };
    let to = h.join(short);
    assert_eq!(
        join_answer(&h.replies(), to).error,
        Some(GroupError::InvalidSessionTimeout)
    );
    let to = h.join(join_request("made-up", None));
    assert_eq!(
        join_answer(&h.replies(), to).error,
        Some(GroupError::UnknownMemberId)
    );
    let (_a, _) = h.new_member();
    let other_protocol = JoinGroup {
        protocols: vec![("roundrobin".to_string(), subscription(&["orders"]))],
        ..join_request("", None)
    };
    let to = h.join(other_protocol);
    assert_eq!(
        join_answer(&h.replies(), to).error,
        Some(GroupError::InconsistentGroupProtocol)
    );
}

#[test]
fn a_static_member_comes_back_without_a_rebalance_and_fences_its_old_id() {
    let mut h = Harness::new();
    let first = h.join(join_request("", Some("app-1")));
    h.advance(3_000);
    let answer = join_answer(&h.replies(), first);
    let old = answer.member_id.clone();
    assert!(
        old.starts_with("app-1-"),
        "static ids start with the instance id: {old}"
    );
    h.sync(&old, 1, &[(&old, &[tp(0), tp(1)])]);
    h.replies();
    // It restarts (a new member id) with the same subscription: no rebalance in Stable.
    let again = h.join(join_request("", Some("app-1")));
    let answer = join_answer(&h.replies(), again);
    assert_eq!(answer.error, None);
    assert_eq!(answer.generation, 1);
    assert_eq!(h.state(), GroupState::Stable);
    let new = answer.member_id;
    assert_ne!(new, old);
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &old, Some("app-1"), 1),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &new, Some("app-1"), 1),
        Ok(())
    );
    assert_eq!(
        h.c.group(GROUP).unwrap().assignment()[&new],
        [tp(0), tp(1)],
        "it keeps its partitions"
    );
}

#[test]
fn offset_commits_follow_generation_and_state() {
    let (mut h, a, _b) = stable_pair();
    assert_eq!(
        h.c.commit(h.now_ms, GROUP, &a, None, 1, &[(tp(0), 42)]),
        Ok(())
    );
    assert_eq!(
        h.c.fetch_offsets(GROUP, &[tp(0), tp(1)]),
        [(tp(0), 42), (tp(1), -1)]
    );
    assert_eq!(
        h.c.commit(h.now_ms, GROUP, &a, None, 0, &[(tp(0), 50)]),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        h.c.commit(h.now_ms, GROUP, "", None, -1, &[(tp(0), 50)]),
        Err(GroupError::UnknownMemberId)
    );
    // In CompletingRebalance the member must sync first.
    let to_a = h.join(join_request(&a, None));
    let _ = h.join(join_request(&_b, None));
    let generation = join_answer(&h.replies(), to_a).generation;
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    assert_eq!(
        h.c.commit(h.now_ms, GROUP, &a, None, generation, &[(tp(0), 60)]),
        Err(GroupError::RebalanceInProgress)
    );
    // A standalone consumer (assign(), no group membership) commits with generation -1.
    assert_eq!(
        h.c.commit(h.now_ms, "tools", "", None, -1, &[(tp(3), 7)]),
        Ok(())
    );
    assert_eq!(h.c.fetch_offsets("tools", &[tp(3)]), [(tp(3), 7)]);
    assert_eq!(
        h.c.commit(h.now_ms, "unknown", "x", None, 3, &[(tp(3), 7)]),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(h.c.fetch_offsets("unknown", &[tp(3)]), [(tp(3), -1)]);
}

/// Two members through their joins: the leader `a` and `b`, both waiting to sync in
/// generation 1.
fn joined_pair() -> (Harness, String, String) {
    let mut h = Harness::new();
    let (a, _) = h.new_member();
    let (b, _) = h.new_member();
    h.advance(6_000);
    assert_eq!(h.replies().len(), 2, "both joins answered");
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    (h, a, b)
}

#[test]
fn the_group_turns_stable_only_once_the_leaders_assignment_is_stored() {
    // GroupCoordinator.doSyncGroup: storeGroup first; Stable and the answers in its
    // callback. Until then the group is CompletingRebalance: commits are refused and a
    // member's SyncGroup waits with the leader's.
    let (mut h, a, b) = joined_pair();
    h.hold_writes = true;
    let sync_a = h.sync(&a, 1, &[(&a, &[tp(0)]), (&b, &[tp(1)])]);
    assert!(
        h.replies().is_empty(),
        "nobody hears the assignment before it is stored"
    );
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    assert_eq!(
        h.c.commit(h.now_ms, GROUP, &a, None, 1, &[(tp(0), 5)]),
        Err(GroupError::RebalanceInProgress)
    );
    let sync_b = h.sync(&b, 1, &[]);
    assert!(h.replies().is_empty());
    let write = h.held.remove(0);
    let replies = h.store(write, Ok(()));
    assert_eq!(h.state(), GroupState::Stable);
    assert_eq!(sync_answer(&replies, sync_a).assignment, [tp(0)]);
    assert_eq!(sync_answer(&replies, sync_b).assignment, [tp(1)]);
}

#[test]
fn a_failed_assignment_write_answers_its_error_and_rebalances() {
    // resetAndPropagateAssignmentError, then maybePrepareRebalance.
    let (mut h, a, b) = joined_pair();
    h.hold_writes = true;
    let sync_a = h.sync(&a, 1, &[(&a, &[tp(0)]), (&b, &[tp(1)])]);
    let sync_b = h.sync(&b, 1, &[]);
    assert!(h.replies().is_empty());
    let write = h.held.remove(0);
    let replies = h.store(write, Err(GroupError::NotCoordinator));
    for to in [sync_a, sync_b] {
        let answer = sync_answer(&replies, to);
        assert_eq!(answer.error, Some(GroupError::NotCoordinator));
        assert!(answer.assignment.is_empty());
    }
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(
        h.c.group(GROUP)
            .unwrap()
            .assignment()
            .values()
            .all(Vec::is_empty)
    );
}

/// A static member `app-1` alone and Stable in generation 1; returns its member id.
fn stable_static_member(h: &mut Harness) -> String {
    let first = h.join(join_request("", Some("app-1")));
    h.advance(3_000);
    let old = join_answer(&h.replies(), first).member_id;
    h.sync(&old, 1, &[(&old, &[tp(0), tp(1)])]);
    h.replies();
    assert_eq!(h.state(), GroupState::Stable);
    old
}

#[test]
fn a_static_member_that_rejoins_is_answered_once_its_new_member_id_is_stored() {
    // updateStaticMemberAndRebalance stores the group before it answers, so a coordinator
    // that takes over right after knows the new member id.
    let mut h = Harness::new();
    let old = stable_static_member(&mut h);
    h.hold_writes = true;
    let again = h.join(join_request("", Some("app-1")));
    assert!(h.replies().is_empty(), "no answer before the write");
    let write = h.held.remove(0);
    let answer = join_answer(&h.store(write, Ok(())), again);
    assert_eq!(answer.error, None);
    assert_ne!(answer.member_id, old);
    assert_eq!(h.state(), GroupState::Stable);
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &answer.member_id, Some("app-1"), 1),
        Ok(())
    );
}

#[test]
fn a_static_rejoin_whose_write_fails_keeps_the_old_member_id() {
    let mut h = Harness::new();
    let old = stable_static_member(&mut h);
    h.hold_writes = true;
    let again = h.join(join_request("", Some("app-1")));
    assert!(h.replies().is_empty());
    let write = h.held.remove(0);
    let answer = join_answer(
        &h.store(write, Err(GroupError::CoordinatorNotAvailable)),
        again,
    );
    assert_eq!(answer.error, Some(GroupError::CoordinatorNotAvailable));
    assert_eq!(answer.member_id, "");
    // The old id is back; the group still holds its assignment.
    assert_eq!(
        h.c.heartbeat(h.now_ms, GROUP, &old, Some("app-1"), 1),
        Ok(())
    );
    assert_eq!(h.c.group(GROUP).unwrap().assignment()[&old], [tp(0), tp(1)]);
}

#[test]
fn a_static_rejoin_waiting_for_its_write_is_answered_by_a_rebalance_that_starts_meanwhile() {
    // The JoinGroup is parked on the member (updateMember with its callback): a rebalance
    // counts it as rejoined and answers it; the write's callback then answers nothing.
    let mut h = Harness::new();
    let _old = stable_static_member(&mut h);
    h.hold_writes = true;
    let again = h.join(join_request("", Some("app-1")));
    assert!(h.replies().is_empty());
    // Every member is waiting to join (the static one parked), so the join phase ends.
    let (b, to_b) = h.new_member();
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let replies = h.replies();
    let answer = join_answer(&replies, again);
    assert_eq!((answer.error, answer.generation), (None, 2));
    assert_eq!(join_answer(&replies, to_b).member_id, b);
    let write = h.held.remove(0);
    let late = h.store(write, Ok(()));
    assert!(
        !late
            .iter()
            .any(|r| matches!(r, Reply::Join(to, _) if *to == again)),
        "answered once: {late:?}"
    );
}
