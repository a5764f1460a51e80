//! Consumer groups on the simulated cluster: the coordinator hosted by the leader of the
//! group's `__consumer_offsets` partition, its records replicated like any partition,
//! and a new coordinator finding the group and its offsets after the old one dies.

mod common;

use std::collections::BTreeSet;

use common::{assert_events, kafka_2_4_timeouts, orders, show};
use kafkasim_core::client::consumer::{
    AppCommit, ConsumedRecord, ConsumerConfig, OffsetReset, Processing, Subscribe,
};
use kafkasim_core::group::assignor::{Strategy, Subscription};
use kafkasim_core::group::coordinator::{Group, GroupError, GroupState, JoinGroup, SyncGroup};
use kafkasim_core::group::storage::{OFFSETS_TOPIC, partition_for_group};
use kafkasim_core::protocol::{GroupRequest, GroupResponse, NodeId, TopicPartition};
use kafkasim_core::workload::ProducerConfig;
use kafkasim_sim::cluster::{Cluster, ClusterBuilder};
use kafkasim_sim::disk::Crash;
use kafkasim_sim::runtime::run_seeded;

const GROUP: &str = "billing";

fn join_request(member_id: &str) -> GroupRequest {
    GroupRequest::Join(JoinGroup {
        group_id: GROUP.to_string(),
        member_id: member_id.to_string(),
        group_instance_id: None,
        client_id: "consumer-1".to_string(),
        session_timeout_ms: 45_000,
        rebalance_timeout_ms: 300_000,
        protocol_type: "consumer".to_string(),
        protocols: vec![(
            "range".to_string(),
            Subscription {
                topics: vec!["orders".to_string()],
                ..Subscription::default()
            },
        )],
    })
}

/// Joins as the only member: returns (member id, generation).
async fn join_alone(c: &mut Cluster, coordinator: i32) -> (String, i32) {
    let first = c.group_request(coordinator, join_request(""), 5_000).await;
    let Some(GroupResponse::Join(r)) = first else {
        panic!("no JoinGroup answer: {first:?}");
    };
    assert_eq!(r.error, Some(GroupError::MemberIdRequired), "KIP-394");
    let member = r.member_id;
    let second = c
        .group_request(coordinator, join_request(&member), 10_000)
        .await;
    let Some(GroupResponse::Join(r)) = second else {
        panic!("no JoinGroup answer: {second:?}");
    };
    assert_eq!(r.error, None);
    assert_eq!(r.leader, member, "the only member leads");
    (member, r.generation)
}

#[test]
fn the_coordinator_moves_with_its_offsets_partition_and_keeps_the_group() {
    run_seeded(7, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(3))
            .broker_config(|b| b.offsets_topic_num_partitions = 3)
            .topic("orders", 2, 3)
            .start()
            .await;
        let coordinator = c.find_coordinator(GROUP, 30_000).await.unwrap();
        let offsets_tp = TopicPartition::new(OFFSETS_TOPIC, partition_for_group(GROUP, 3));
        assert_eq!(c.leader(&offsets_tp), Some(coordinator));

        let (member, generation) = join_alone(&mut c, coordinator).await;
        assert_eq!(generation, 1);
        let assignment = vec![orders(0), orders(1)];
        let sync = GroupRequest::Sync(SyncGroup {
            group_id: GROUP.to_string(),
            member_id: member.clone(),
            group_instance_id: None,
            generation,
            assignments: [(member.clone(), assignment.clone())].into(),
        });
        let answer = c.group_request(coordinator, sync, 5_000).await;
        let Some(GroupResponse::Sync(r)) = answer else {
            panic!("no SyncGroup answer: {answer:?}");
        };
        assert_eq!((r.error, r.assignment), (None, assignment.clone()));

        let commit = GroupRequest::OffsetCommit {
            group_id: GROUP.to_string(),
            member_id: member.clone(),
            group_instance_id: None,
            generation,
            offsets: vec![(orders(0), 42), (orders(1), 7)],
        };
        let answer = c.group_request(coordinator, commit, 10_000).await;
        assert_eq!(answer, Some(GroupResponse::OffsetCommit(Ok(()))));
        // Acknowledged means committed: the group record and both offsets are on every
        // replica and below the leader's HW (the followers learn that HW on their next
        // fetch).
        let snapshot = c.snapshot_without_records();
        let replicas = &snapshot.partitions[&offsets_tp].replica_states;
        assert!(
            replicas.values().all(|r| r.log_end_offset == 3),
            "{replicas:?}"
        );
        assert_eq!(replicas[&coordinator].high_watermark, 3);

        // A broker that is not the coordinator refuses group requests.
        let other = *c.broker_ids().iter().find(|b| **b != coordinator).unwrap();
        let fetch = GroupRequest::OffsetFetch {
            group_id: GROUP.to_string(),
            partitions: vec![orders(0), orders(1)],
        };
        let answer = c.group_request(other, fetch.clone(), 5_000).await;
        assert_eq!(
            answer,
            Some(GroupResponse::OffsetFetch(Err(GroupError::NotCoordinator)))
        );

        c.crash(coordinator, Crash::Process);
        // Until its ZooKeeper session expires, metadata still names the dead broker.
        c.wait_until(60_000, |s| {
            s.partitions[&offsets_tp]
                .leader
                .is_some_and(|l| l != coordinator)
        })
        .await
        .expect("a new leader for the offsets partition");
        // A broker answers FindCoordinator from its metadata, which the controller's
        // UpdateMetadata may not have reached yet: ask until it names the new leader.
        let mut new_coordinator = coordinator;
        for _ in 0..50 {
            new_coordinator = c.find_coordinator(GROUP, 60_000).await.unwrap();
            if new_coordinator != coordinator {
                break;
            }
            c.sleep_ms(100).await;
        }
        assert_ne!(new_coordinator, coordinator);
        assert_eq!(c.leader(&offsets_tp), Some(new_coordinator));
        let answer = c.group_request(new_coordinator, fetch, 5_000).await;
        assert_eq!(
            answer,
            Some(GroupResponse::OffsetFetch(Ok(vec![
                (orders(0), 42),
                (orders(1), 7)
            ])))
        );
        // The group came back Stable with its member, whose session restarted at load.
        let heartbeat = GroupRequest::Heartbeat {
            group_id: GROUP.to_string(),
            member_id: member.clone(),
            group_instance_id: None,
            generation,
        };
        let answer = c.group_request(new_coordinator, heartbeat, 5_000).await;
        assert_eq!(answer, Some(GroupResponse::Heartbeat(Ok(()))));
        let group = c
            .with_broker(new_coordinator, |b| b.coordinator().group(GROUP).cloned())
            .flatten()
            .expect("the group is loaded");
        assert_eq!(group.generation, generation);
        assert_eq!(group.assignment()[&member], assignment);
        assert_events(&c.trace(), &["group-state why=loaded generation=1"]);
    });
}

#[test]
fn no_offsets_topic_while_fewer_brokers_live_than_its_replication_factor() {
    run_seeded(3, || async {
        let mut c = kafka_2_4_timeouts(ClusterBuilder::new(2))
            .broker_config(|b| b.offsets_topic_num_partitions = 3)
            .start()
            .await;
        let err = c.find_coordinator(GROUP, 5_000).await.unwrap_err();
        assert!(err.contains("COORDINATOR_NOT_AVAILABLE"), "{err}");
        assert!(
            c.snapshot_without_records()
                .partitions
                .keys()
                .all(|tp| tp.topic != OFFSETS_TOPIC),
            "offsets.topic.replication.factor is 3: two brokers cannot host it"
        );
    });
}

// ----- consumers ---------------------------------------------------------------------

/// A cluster for the consumer tests: 3 brokers, `orders` with 6 partitions on 3
/// replicas, a small `__consumer_offsets` (3 partitions) for quick runs.
async fn cluster_with_orders(partitions: u32) -> Cluster {
    kafka_2_4_timeouts(ClusterBuilder::new(3))
        .broker_config(|b| b.offsets_topic_num_partitions = 3)
        .topic("orders", partitions, 3)
        .start()
        .await
}

fn member(group: &str, commit: AppCommit) -> ConsumerConfig {
    ConsumerConfig {
        client_id: "c".to_string(),
        group_id: Some(group.to_string()),
        subscribe: Subscribe::Topics(vec!["orders".to_string()]),
        assignors: vec![Strategy::Range],
        session_timeout_ms: 10_000,
        max_poll_interval_ms: 20_000,
        enable_auto_commit: commit == AppCommit::Nothing,
        auto_offset_reset: OffsetReset::Earliest,
        processing_ms: 5,
        app_commit: commit,
        ..ConsumerConfig::default()
    }
}

/// Polls every 100 ms until `done` holds; panics with `what` after `timeout_ms`.
async fn wait_for(c: &Cluster, timeout_ms: i64, what: &str, done: impl Fn(&Cluster) -> bool) {
    let start = c.now_ms();
    while !done(c) {
        assert!(
            c.now_ms() - start < timeout_ms,
            "{what}: not within {timeout_ms} ms\n{}",
            c.timeline()
        );
        c.sleep_ms(100).await;
    }
}

/// The group as its coordinator holds it.
fn coordinator_group(c: &Cluster, group: &str) -> Option<Group> {
    let tp = TopicPartition::new(OFFSETS_TOPIC, partition_for_group(group, 3));
    let coordinator = c.leader(&tp)?;
    c.with_broker(coordinator, |b| b.coordinator().group(group).cloned())
        .flatten()
}

/// Every consumer listed is Stable in the group's current generation, and their
/// assignments split the topic's partitions exactly.
fn settled(c: &Cluster, group: &str, consumers: &[NodeId], partitions: u32) -> bool {
    let Some(g) = coordinator_group(c, group) else {
        return false;
    };
    if g.state != GroupState::Stable || g.member_ids().len() != consumers.len() {
        return false;
    }
    let mut owned = Vec::new();
    for &consumer in consumers {
        let Some((stable, generation, assignment)) = c.with_consumer(consumer, |k| {
            (k.is_stable(), k.generation(), k.assignment())
        }) else {
            return false;
        };
        if !stable || generation != g.generation {
            return false;
        }
        owned.extend(assignment);
    }
    owned.sort();
    owned == (0..partitions).map(orders).collect::<Vec<_>>()
}

/// Values acknowledged by the producer.
fn acknowledged(c: &Cluster, producer: NodeId) -> BTreeSet<String> {
    c.history(producer)
        .iter()
        .filter(|w| w.acknowledged_offset().is_some())
        .map(|w| w.value.clone())
        .collect()
}

fn processed(c: &Cluster, consumers: &[NodeId]) -> Vec<ConsumedRecord> {
    consumers
        .iter()
        .flat_map(|k| c.consumer_history(*k).processed)
        .collect()
}

fn producer(c: &mut Cluster, partitions: u32, stop_ms: i64) -> NodeId {
    c.add_producer(ProducerConfig {
        topic: "orders".to_string(),
        partitions,
        interval_ms: 50,
        stop_ms: Some(stop_ms),
        ..ProducerConfig::default()
    })
}

#[test]
fn a_group_of_three_rebalances_on_join_leave_crash_and_stall_and_consumes_everything() {
    run_seeded(11, || async {
        let mut c = cluster_with_orders(6).await;
        let start = c.now_ms();
        let p = producer(&mut c, 6, start + 150_000);
        let a = c.add_consumer(member(GROUP, AppCommit::Sync));
        wait_for(&c, 60_000, "a alone owns all six", |c| {
            settled(c, GROUP, &[a], 6)
        })
        .await;

        // Joins: b and c arrive, range gives each two partitions.
        let b = c.add_consumer(member(GROUP, AppCommit::Sync));
        let k = c.add_consumer(member(GROUP, AppCommit::Sync));
        wait_for(&c, 60_000, "three members", |c| {
            settled(c, GROUP, &[a, b, k], 6)
        })
        .await;
        for consumer in [a, b, k] {
            assert_eq!(c.with_consumer(consumer, |x| x.assignment().len()), Some(2));
        }
        let generation = coordinator_group(&c, GROUP).unwrap().generation;

        // Leave: k closes (LeaveGroup), a and b split six.
        c.close_consumer(k);
        wait_for(&c, 30_000, "after the leave", |c| {
            settled(c, GROUP, &[a, b], 6)
        })
        .await;
        let after_leave = coordinator_group(&c, GROUP).unwrap().generation;
        assert!(after_leave > generation);

        // Crash: d joins, then dies without a word; the session timeout removes it.
        let d = c.add_consumer(member(GROUP, AppCommit::Sync));
        wait_for(&c, 60_000, "d joined", |c| settled(c, GROUP, &[a, b, d], 6)).await;
        c.crash_consumer(d);
        let crashed_at = c.now_ms();
        wait_for(&c, 60_000, "after the crash", |c| {
            settled(c, GROUP, &[a, b], 6)
        })
        .await;
        assert!(
            c.now_ms() - crashed_at >= 9_000,
            "the group waited for session.timeout.ms (10000 ms)"
        );
        assert_events(
            &c.trace(),
            &["rebalance-start why=session-timeout timeout_ms=10000"],
        );

        // Stall: a's application hangs past max.poll.interval.ms; it leaves, b takes
        // everything, and a rejoins when it polls again.
        let stall_from = c.now_ms();
        c.with_consumer(a, |x| x.stall_until(stall_from + 30_000));
        wait_for(&c, 40_000, "b alone during a's stall", |c| {
            settled(c, GROUP, &[b], 6)
        })
        .await;
        assert_events(
            &c.trace(),
            &["left-group why=poll-timeout max_poll_interval_ms=20000"],
        );
        wait_for(&c, 60_000, "a back after its stall", |c| {
            settled(c, GROUP, &[a, b], 6)
        })
        .await;

        show("a group of three: join, leave, crash, stall", &c.timeline());
        // Every acknowledged record is processed at least once.
        let acked = acknowledged(&c, p);
        assert!(acked.len() > 1_000, "{} acknowledged", acked.len());
        c.sleep_until_ms(start + 150_000).await;
        wait_for(&c, 60_000, "every acknowledged record processed", |c| {
            let seen: BTreeSet<String> = processed(c, &[a, b, k, d])
                .into_iter()
                .map(|r| r.value)
                .collect();
            acknowledged(c, p).is_subset(&seen)
        })
        .await;
        // Commits follow processing: no committed offset is ahead of what its committer
        // processed in that partition.
        for consumer in [a, b, k, d] {
            let h = c.consumer_history(consumer);
            for commit in h.commits.iter().filter(|op| op.outcome == Some(Ok(()))) {
                for (tp, offset) in &commit.offsets {
                    assert!(
                        h.processed.iter().any(|r| &r.tp == tp
                            && r.offset == offset - 1
                            && r.time_ms <= commit.invoked_ms),
                        "consumer {consumer} committed {tp}@{offset} before processing offset {}",
                        offset - 1
                    );
                }
            }
        }
    });
}

/// What a crash mid-batch left behind, under auto-commit: records a polled that nobody
/// processed (skipped), records a processed that b was given again (redelivered), the
/// commits-ahead checker's findings, and every acknowledged record.
struct AutoCommitCrash {
    skipped: Vec<ConsumedRecord>,
    redelivered: Vec<ConsumedRecord>,
    commits_ahead: Vec<kafkasim_sim::check::Finding>,
    unseen: Vec<String>,
    timeline: String,
}

/// A slow consumer (50 records a poll, 200 ms each) with auto-commit every second crashes
/// in the middle of a batch; b takes over from the committed offset.
fn auto_commit_crash(processing: Processing) -> AutoCommitCrash {
    run_seeded(5, move || async move {
        let mut c = cluster_with_orders(1).await;
        let slow = ConsumerConfig {
            client_id: "slow".to_string(),
            max_poll_records: 50,
            processing_ms: 200,
            auto_commit_interval_ms: 1_000,
            processing,
            ..member(GROUP, AppCommit::Nothing)
        };
        let a = c.add_consumer(slow.clone());
        wait_for(&c, 60_000, "a owns orders-0", |c| {
            settled(c, GROUP, &[a], 1)
        })
        .await;
        let start = c.now_ms();
        let p = producer(&mut c, 1, start + 10_000);
        wait_for(&c, 60_000, "a is processing a full batch", |c| {
            let h = c.consumer_history(a);
            h.polled.len() >= 50
                && h.processed.len() + 10 < h.polled.len()
                && h.commits.iter().any(|op| op.outcome == Some(Ok(())))
        })
        .await;
        c.sleep_ms(1_500).await;
        c.crash_consumer(a);
        let b = c.add_consumer(ConsumerConfig {
            client_id: "next".to_string(),
            ..member(GROUP, AppCommit::Sync)
        });
        wait_for(&c, 60_000, "b took over", |c| settled(c, GROUP, &[b], 1)).await;
        c.sleep_until_ms(start + 40_000).await;

        let ha = c.consumer_history(a);
        let hb = c.consumer_history(b);
        let processed: BTreeSet<String> = processed(&c, &[a, b])
            .into_iter()
            .map(|r| r.value)
            .collect();
        let skipped = ha
            .polled
            .iter()
            .filter(|r| !processed.contains(&r.value))
            .cloned()
            .collect();
        let redelivered = ha
            .processed
            .iter()
            .filter(|r| hb.polled.iter().any(|x| x.value == r.value))
            .cloned()
            .collect();
        let histories = [(a, ha.clone()), (b, hb.clone())].into_iter().collect();
        let unseen = acknowledged(&c, p)
            .into_iter()
            .filter(|v| !processed.contains(v))
            .collect();
        AutoCommitCrash {
            skipped,
            redelivered,
            commits_ahead: kafkasim_sim::check::commits_ahead(&histories),
            unseen,
            timeline: c.timeline(),
        }
    })
}

#[test]
fn auto_commit_runs_inside_poll_so_a_crash_mid_batch_redelivers_and_skips_nothing() {
    // ConsumerCoordinator.poll commits what earlier polls returned, and the application
    // processed those before it called poll again: at-least-once.
    let run = auto_commit_crash(Processing::Synchronous);
    show(
        "auto-commit, synchronous processing, a crash",
        &run.timeline,
    );
    assert!(run.skipped.is_empty(), "skipped {:?}", run.skipped);
    assert!(run.unseen.is_empty(), "never processed: {:?}", run.unseen);
    assert!(
        !run.redelivered.is_empty(),
        "the part of the batch processed since the last poll is delivered again"
    );
    assert!(run.commits_ahead.is_empty(), "{:?}", run.commits_ahead);
}

#[test]
fn auto_commit_with_records_handed_to_a_worker_skips_them_after_a_crash() {
    // The loop polls again at once; auto-commit commits what was handed over, processed
    // or not: at-most-once.
    let run = auto_commit_crash(Processing::Handoff);
    show(
        "auto-commit, records handed to a worker, a crash",
        &run.timeline,
    );
    assert!(
        !run.skipped.is_empty(),
        "at-most-once: a polled records, auto-commit committed past them, a died before processing them"
    );
    // Every acknowledged record is processed or skipped, none lost otherwise.
    let skipped: BTreeSet<&String> = run.skipped.iter().map(|r| &r.value).collect();
    assert!(
        run.unseen.iter().all(|v| skipped.contains(v)),
        "{:?}",
        run.unseen
    );
    assert!(!run.commits_ahead.is_empty());
}

/// Two members own six partitions; `a`'s application stalls for `stall_ms` (heartbeats
/// go on) and a third member joins a second later. Returns the group's state while the
/// stall lasts, then whether `a` was still a member, and the members after it.
struct SlowMember {
    states_during_stall: BTreeSet<GroupState>,
    a_member_through_stall: bool,
    a_left: bool,
    stable_after_stall: Vec<NodeId>,
    timeline: String,
    trace: Vec<kafkasim_sim::trace::TraceEntry>,
}

fn slow_member_during_a_join(stall_ms: i64) -> SlowMember {
    run_seeded(23, move || async move {
        let mut c = cluster_with_orders(6).await;
        let start = c.now_ms();
        producer(&mut c, 6, start + 120_000);
        let named = |name: &str| ConsumerConfig {
            client_id: name.to_string(),
            ..member(GROUP, AppCommit::Sync)
        };
        let a = c.add_consumer(named("a"));
        let b = c.add_consumer(named("b"));
        wait_for(&c, 60_000, "a and b", |c| settled(c, GROUP, &[a, b], 6)).await;
        let a_member_id = c.with_consumer(a, |x| x.member_id().to_string()).unwrap();
        let stall_from = c.now_ms();
        c.with_consumer(a, |x| x.stall_until(stall_from + stall_ms));
        c.sleep_ms(1_000).await;
        let k = c.add_consumer(named("k"));
        let mut states = BTreeSet::new();
        let mut a_member = true;
        while c.now_ms() < stall_from + stall_ms - 100 {
            let g = coordinator_group(&c, GROUP).unwrap();
            if c.now_ms() > stall_from + 1_500 {
                states.insert(g.state);
            }
            a_member &= g.member_ids().contains(&a_member_id);
            c.sleep_ms(100).await;
        }
        let a_left = !a_member;
        let members = if a_left { vec![b, k] } else { vec![a, b, k] };
        wait_for(&c, 30_000, "the group settles", |c| {
            settled(c, GROUP, &members, 6)
        })
        .await;
        SlowMember {
            states_during_stall: states,
            a_member_through_stall: a_member,
            a_left,
            stable_after_stall: members,
            timeline: c.timeline(),
            trace: c.trace(),
        }
    })
}

#[test]
fn a_busy_member_holds_the_rebalance_until_it_polls_and_its_heartbeats_keep_it_in() {
    // 12 s away from poll(): longer than session.timeout.ms (10 s), shorter than
    // max.poll.interval.ms (20 s). KIP-62: the heartbeat thread keeps the session; the
    // JoinGroup waits for the application's next poll() (ConsumerCoordinator.poll).
    let run = slow_member_during_a_join(12_000);
    show("a slow member holds up the rebalance", &run.timeline);
    assert_eq!(
        run.states_during_stall,
        [GroupState::PreparingRebalance].into_iter().collect(),
        "the group waits for a all through its stall"
    );
    assert!(
        run.a_member_through_stall,
        "its heartbeats kept its session"
    );
    assert_eq!(run.stable_after_stall.len(), 3);
    assert_events(&run.trace, &["rejoin-requested"]);
}

#[test]
fn a_member_away_from_poll_past_max_poll_interval_is_removed_and_the_rebalance_completes() {
    let run = slow_member_during_a_join(40_000);
    show(
        "a stalled member leaves on max.poll.interval.ms",
        &run.timeline,
    );
    assert!(run.a_left);
    assert!(
        run.states_during_stall
            .contains(&GroupState::PreparingRebalance)
            && run.states_during_stall.contains(&GroupState::Stable),
        "{:?}",
        run.states_during_stall
    );
    assert_eq!(run.stable_after_stall.len(), 2);
    assert_events(
        &run.trace,
        &["left-group why=poll-timeout max_poll_interval_ms=20000"],
    );
}

#[test]
fn one_group_shares_the_records_and_two_groups_each_get_all_of_them() {
    run_seeded(21, || async {
        let mut c = cluster_with_orders(6).await;
        let queue: Vec<NodeId> = (0..3)
            .map(|_| c.add_consumer(member("workers", AppCommit::Sync)))
            .collect();
        let audit = c.add_consumer(member("audit", AppCommit::Sync));
        wait_for(&c, 60_000, "both groups stable", |c| {
            settled(c, "workers", &queue, 6) && settled(c, "audit", &[audit], 6)
        })
        .await;
        let start = c.now_ms();
        let p = producer(&mut c, 6, start + 20_000);
        c.sleep_until_ms(start + 20_000).await;
        wait_for(&c, 60_000, "both groups processed everything", |c| {
            let acked = acknowledged(c, p);
            let w: BTreeSet<String> = processed(c, &queue).into_iter().map(|r| r.value).collect();
            let a: BTreeSet<String> = processed(c, &[audit])
                .into_iter()
                .map(|r| r.value)
                .collect();
            acked.is_subset(&w) && acked.is_subset(&a)
        })
        .await;
        let acked = acknowledged(&c, p);
        assert!(acked.len() > 300);
        // Point-to-point: each record went to exactly one worker.
        let mut per_worker = Vec::new();
        let mut all = Vec::new();
        for &w in &queue {
            let values: Vec<String> = c
                .consumer_history(w)
                .processed
                .into_iter()
                .map(|r| r.value)
                .collect();
            per_worker.push(values.len());
            all.extend(values);
        }
        let distinct: BTreeSet<&String> = all.iter().collect();
        assert_eq!(
            distinct.len(),
            all.len(),
            "no record processed twice in the group"
        );
        assert!(per_worker.iter().all(|n| *n > 0), "{per_worker:?}");
        // Publish-subscribe: the other group got every record too.
        assert_eq!(c.consumer_history(audit).processed.len(), all.len());
    });
}

#[test]
fn after_the_coordinator_dies_the_group_finds_the_new_one_and_its_offsets() {
    run_seeded(9, || async {
        let mut c = cluster_with_orders(2).await;
        let a = c.add_consumer(member(GROUP, AppCommit::Sync));
        wait_for(&c, 60_000, "a stable", |c| settled(c, GROUP, &[a], 2)).await;
        let start = c.now_ms();
        let p = producer(&mut c, 2, start + 30_000);
        c.sleep_ms(5_000).await;
        let offsets_tp = TopicPartition::new(OFFSETS_TOPIC, partition_for_group(GROUP, 3));
        let old = c.leader(&offsets_tp).unwrap();
        c.crash(old, Crash::Process);
        c.sleep_until_ms(start + 30_000).await;
        wait_for(&c, 60_000, "everything processed after the failover", |c| {
            let seen: BTreeSet<String> = processed(c, &[a]).into_iter().map(|r| r.value).collect();
            acknowledged(c, p).is_subset(&seen)
        })
        .await;
        let new = c.leader(&offsets_tp).unwrap();
        assert_ne!(new, old);
        // The new coordinator holds the group and the last commits.
        wait_for(&c, 10_000, "the last commit stored", |c| {
            let Some(g) = coordinator_group(c, GROUP) else {
                return false;
            };
            let positions = c.with_consumer(a, |x| x.positions()).unwrap();
            positions
                .iter()
                .all(|(tp, o)| g.offsets.get(tp).map(|x| x.offset) == Some(*o))
        })
        .await;
        // A second consumer of the group, started now, resumes from the commits: it
        // processes nothing old.
        c.close_consumer(a);
        let b = c.add_consumer(member(GROUP, AppCommit::Sync));
        wait_for(&c, 60_000, "b stable", |c| settled(c, GROUP, &[b], 2)).await;
        c.sleep_ms(5_000).await;
        assert!(
            c.consumer_history(b).processed.is_empty(),
            "b starts at the committed offsets"
        );
        assert_events(&c.trace(), &["group-state why=loaded"]);
    });
}

#[test]
fn commit_sync_retries_through_a_coordinator_failover_and_gives_up_on_a_fatal_error() {
    run_seeded(9, || async {
        let mut c = cluster_with_orders(2).await;
        let a = c.add_consumer(ConsumerConfig {
            client_id: "a".to_string(),
            ..member(GROUP, AppCommit::Sync)
        });
        wait_for(&c, 60_000, "a stable", |c| settled(c, GROUP, &[a], 2)).await;
        let start = c.now_ms();
        producer(&mut c, 2, start + 60_000);
        c.sleep_ms(5_000).await;
        // The coordinator's broker dies: commitSync gets no answer, then finds the new
        // coordinator and commits there (ConsumerCoordinator.commitOffsetsSync).
        let offsets_tp = TopicPartition::new(OFFSETS_TOPIC, partition_for_group(GROUP, 3));
        let old = c.leader(&offsets_tp).unwrap();
        let crashed_ms = c.now_ms();
        c.crash(old, Crash::Process);
        wait_for(&c, 60_000, "a new coordinator", |c| {
            c.leader(&offsets_tp).is_some_and(|l| l != old)
        })
        .await;
        c.sleep_ms(5_000).await;
        let h = c.consumer_history(a);
        let sync: Vec<_> = h.commits.iter().filter(|op| op.kind == "sync").collect();
        let through = sync
            .iter()
            .find(|op| {
                op.invoked_ms <= crashed_ms + 1_000
                    && op.outcome == Some(Ok(()))
                    && op.completed_ms.unwrap() - op.invoked_ms > 1_000
            })
            .unwrap_or_else(|| panic!("no commitSync spanned the failover: {sync:?}"));
        assert!(through.completed_ms.unwrap() > crashed_ms);
        assert!(
            sync.iter()
                .all(|op| op.outcome.as_ref().is_none_or(Result::is_ok)),
            "a retriable error ended a commitSync: {sync:?}"
        );
        assert_events(&c.trace(), &["commit-retry"]);

        // a's process is paused past session.timeout.ms: the coordinator removes it, and
        // its first commit after it wakes fails at once, for good (CommitFailedException).
        let paused_ms = c.now_ms();
        c.pause(a);
        c.sleep_ms(15_000).await;
        c.resume(a);
        wait_for(&c, 30_000, "a back in the group", |c| {
            settled(c, GROUP, &[a], 2)
        })
        .await;
        let h = c.consumer_history(a);
        let fatal: Vec<_> = h
            .commits
            .iter()
            .filter(|op| op.invoked_ms >= paused_ms && matches!(&op.outcome, Some(Err(_))))
            .collect();
        assert!(!fatal.is_empty(), "{:?}", h.commits);
        for op in fatal {
            let Some(Err(code)) = &op.outcome else {
                unreachable!()
            };
            assert!(
                [
                    "UNKNOWN_MEMBER_ID",
                    "ILLEGAL_GENERATION",
                    "COMMIT_FAILED (not part of an active group)",
                    "REBALANCE_IN_PROGRESS"
                ]
                .contains(&code.as_str()),
                "{op:?}"
            );
            assert!(
                op.completed_ms.unwrap() - op.invoked_ms < 1_000,
                "not retried: {op:?}"
            );
        }
        show(
            "commitSync through a coordinator failover, then after a pause",
            &c.timeline(),
        );
    });
}

#[test]
fn new_partitions_and_matching_topics_reach_subscribers_but_not_assign_consumers() {
    run_seeded(13, || async {
        let mut c = cluster_with_orders(2).await;
        let refresh = |config: ConsumerConfig| ConsumerConfig {
            metadata_max_age_ms: 5_000,
            ..config
        };
        let subscriber = c.add_consumer(refresh(member(GROUP, AppCommit::Sync)));
        let pattern = c.add_consumer(refresh(ConsumerConfig {
            subscribe: Subscribe::Pattern("orders.*".to_string()),
            ..member("regex", AppCommit::Sync)
        }));
        let standalone = c.add_consumer(refresh(ConsumerConfig {
            group_id: None,
            subscribe: Subscribe::Assign(vec![orders(0), orders(1)]),
            ..member(GROUP, AppCommit::Nothing)
        }));
        wait_for(&c, 60_000, "subscriber stable", |c| {
            settled(c, GROUP, &[subscriber], 2)
        })
        .await;

        c.add_partitions("orders", 3).await.unwrap();
        c.create_topic("orders-eu", 2, 3, Default::default())
            .await
            .unwrap();
        wait_for(&c, 60_000, "the subscriber owns orders-2", |c| {
            settled(c, GROUP, &[subscriber], 3)
        })
        .await;
        wait_for(&c, 60_000, "the pattern picked up orders-eu", |c| {
            c.with_consumer(pattern, |k| k.assignment()).unwrap()
                == vec![
                    orders(0),
                    orders(1),
                    orders(2),
                    TopicPartition::new("orders-eu", 0),
                    TopicPartition::new("orders-eu", 1),
                ]
        })
        .await;
        assert_events(
            &c.trace(),
            &["subscription-changed topics=[orders,orders-eu]"],
        );
        // assign() is not told about new partitions (seed 001).
        assert_eq!(
            c.with_consumer(standalone, |k| k.assignment()).unwrap(),
            vec![orders(0), orders(1)]
        );
    });
}

/// Two members own six partitions; a third joins. (partitions each member gave up,
/// (time, generation, partitions) of every member's assignments, generations before and
/// after, the time the third joined, the timeline).
struct JoinRun {
    revoked: Vec<Vec<TopicPartition>>,
    /// When each of the two old members gave its partitions up (the first time).
    revoked_ms: Vec<i64>,
    /// The records each of the three polled.
    polled: Vec<Vec<ConsumedRecord>>,
    assignments: Vec<Vec<(i64, i32, Vec<TopicPartition>)>>,
    generations: (i32, i32),
    joined_ms: i64,
    timeline: String,
    trace: Vec<kafkasim_sim::trace::TraceEntry>,
}

fn third_member_joins(strategy: Strategy) -> JoinRun {
    run_seeded(17, move || async move {
        let mut c = cluster_with_orders(6).await;
        let config = ConsumerConfig {
            assignors: vec![strategy],
            ..member(GROUP, AppCommit::Sync)
        };
        let start = c.now_ms();
        producer(&mut c, 6, start + 120_000);
        let named = |name: &str| ConsumerConfig {
            client_id: name.to_string(),
            ..config.clone()
        };
        let a = c.add_consumer(named("a"));
        let b = c.add_consumer(named("b"));
        wait_for(&c, 60_000, "a and b", |c| settled(c, GROUP, &[a, b], 6)).await;
        let before = coordinator_group(&c, GROUP).unwrap().generation;
        c.sleep_ms(5_000).await;
        let joined_ms = c.now_ms();
        let k = c.add_consumer(named("k"));
        wait_for(&c, 60_000, "three members", |c| {
            settled(c, GROUP, &[a, b, k], 6)
        })
        .await;
        let after = coordinator_group(&c, GROUP).unwrap().generation;
        c.sleep_ms(2_000).await;
        let timeline = c.timeline();
        let trace = c.trace();
        // The revoked events of a consumer, by its client.id.
        let revocations = |x: &str| -> Vec<(i64, Vec<TopicPartition>)> {
            trace
                .iter()
                .filter_map(|e| match e {
                    kafkasim_sim::trace::TraceEntry::Event(kafkasim_core::event::Event {
                        time_ms,
                        kind:
                            kafkasim_core::event::EventKind::Consumer {
                                name,
                                event:
                                    kafkasim_core::client::consumer::ConsumerEvent::Revoked {
                                        partitions,
                                        ..
                                    },
                                ..
                            },
                        ..
                    }) if name == x => Some((*time_ms, partitions.clone())),
                    _ => None,
                })
                .collect()
        };
        let revoked = ["a", "b"]
            .iter()
            .map(|x| revocations(x).into_iter().flat_map(|(_, p)| p).collect())
            .collect();
        let revoked_ms = ["a", "b"].iter().map(|x| revocations(x)[0].0).collect();
        let assignments = [a, b, k]
            .iter()
            .map(|x| c.consumer_history(*x).assignments)
            .collect();
        let polled = [a, b, k]
            .iter()
            .map(|x| c.consumer_history(*x).polled)
            .collect();
        JoinRun {
            revoked,
            revoked_ms,
            polled,
            assignments,
            generations: (before, after),
            joined_ms,
            timeline,
            trace: c.trace(),
        }
    })
}

#[test]
fn cooperative_sticky_hands_over_only_what_moves_in_two_rebalances() {
    let run = third_member_joins(Strategy::CooperativeSticky);
    show("cooperative-sticky: a third member joins", &run.timeline);
    let (before, after) = run.generations;
    assert_eq!(after, before + 2, "two rounds: revoke, then assign");
    let owned_before: Vec<&Vec<TopicPartition>> = run.assignments[..2]
        .iter()
        .map(|h| &h.iter().rfind(|(_, g, _)| *g == before).unwrap().2)
        .collect();
    for (member, history) in run.assignments[..2].iter().enumerate() {
        let last = &history.last().unwrap().2;
        assert_eq!(last.len(), 2, "{history:?}");
        // Each gave up exactly the partition that moved, and kept the rest throughout:
        // no assignment of theirs after the join lacks a partition they kept.
        let moved: Vec<TopicPartition> = owned_before[member]
            .iter()
            .filter(|tp| !last.contains(tp))
            .cloned()
            .collect();
        assert_eq!(run.revoked[member], moved, "member {member}");
        assert_eq!(moved.len(), 1);
        for (_, _, partitions) in history.iter().filter(|(t, _, _)| *t >= run.joined_ms) {
            assert!(last.iter().all(|tp| partitions.contains(tp)), "{history:?}");
        }
    }
    // The newcomer got nothing in the first round and both moved partitions in the second.
    let newcomer = &run.assignments[2];
    assert_eq!(newcomer.last().unwrap().1, after);
    assert_eq!(newcomer.last().unwrap().2.len(), 2, "{newcomer:?}");
    assert!(
        newcomer
            .iter()
            .filter(|(_, g, _)| *g < after)
            .all(|(_, _, p)| p.is_empty()),
        "{newcomer:?}"
    );
    assert_events(&run.trace, &["revoked why=cooperative-moved"]);
    // KIP-429: between the two rounds, while the group rebalances again, each old
    // member goes on polling records of the partitions it kept.
    for member in 0..2 {
        let history = &run.assignments[member];
        let round = |g: i32| {
            history
                .iter()
                .find(|(_, generation, _)| *generation == g)
                .unwrap()
                .0
        };
        let (first, second) = (round(before + 1), round(before + 2));
        let kept = &history.last().unwrap().2;
        let during = run.polled[member]
            .iter()
            .filter(|r| r.time_ms >= first && r.time_ms < second && kept.contains(&r.tp))
            .count();
        assert!(
            during > 0,
            "member {member} polled nothing between rounds at {first} and {second} ms"
        );
    }
}

#[test]
fn an_eager_rebalance_revokes_everything_first() {
    let run = third_member_joins(Strategy::Range);
    let (before, after) = run.generations;
    assert_eq!(after, before + 1, "one round");
    for (member, revoked) in run.revoked.iter().enumerate() {
        assert_eq!(revoked.len(), 3, "member {member} gave up all it owned");
        // Nothing is consumed from the revocation until the new assignment.
        let assigned_ms = run.assignments[member]
            .iter()
            .find(|(_, g, _)| *g == after)
            .unwrap()
            .0;
        let during = run.polled[member]
            .iter()
            .filter(|r| r.time_ms >= run.revoked_ms[member] && r.time_ms < assigned_ms)
            .count();
        assert_eq!(
            during, 0,
            "member {member} polled during the eager rebalance"
        );
    }
    assert_events(&run.trace, &["revoked why=eager-rebalance"]);
}

#[test]
fn a_static_member_restarting_within_its_session_keeps_its_partitions_without_a_rebalance() {
    run_seeded(19, || async {
        let mut c = cluster_with_orders(4).await;
        let static_member = |instance: &str| ConsumerConfig {
            group_instance_id: Some(instance.to_string()),
            session_timeout_ms: 30_000,
            ..member(GROUP, AppCommit::Sync)
        };
        let a = c.add_consumer(static_member("a"));
        let b = c.add_consumer(static_member("b"));
        wait_for(&c, 60_000, "a and b", |c| settled(c, GROUP, &[a, b], 4)).await;
        let generation = coordinator_group(&c, GROUP).unwrap().generation;
        let owned = c.with_consumer(a, |x| x.assignment()).unwrap();

        // a's process dies and a new one with the same group.instance.id starts 5 s
        // later, well within session.timeout.ms (30 s).
        c.crash_consumer(a);
        c.sleep_ms(5_000).await;
        let a2 = c.add_consumer(static_member("a"));
        wait_for(&c, 30_000, "a's successor owns a's partitions", |c| {
            c.with_consumer(a2, |x| x.is_stable() && x.assignment() == owned)
                .unwrap()
        })
        .await;
        let group = coordinator_group(&c, GROUP).unwrap();
        assert_eq!(group.generation, generation, "no rebalance");
        assert_eq!(group.state, GroupState::Stable);
        assert!(
            c.consumer_history(b)
                .assignments
                .iter()
                .all(|(_, g, _)| *g == generation),
            "b was never disturbed"
        );

        // A dynamic member that dies is gone after its session times out; a static one
        // that never comes back too.
        c.crash_consumer(a2);
        wait_for(&c, 60_000, "b alone", |c| settled(c, GROUP, &[b], 4)).await;
        assert_events(
            &c.trace(),
            &["rebalance-start why=session-timeout timeout_ms=30000"],
        );
    });
}

/// The eager sticky assignor remembers each member's last assignment in its
/// subscription's user data (Kafka's `memberAssignment`), although an eager rebalance
/// revoked it: when a member leaves, the others keep what they had.
#[test]
fn eager_sticky_keeps_the_survivors_partitions_when_a_member_leaves() {
    run_seeded(23, || async {
        let mut c = cluster_with_orders(6).await;
        let config = ConsumerConfig {
            assignors: vec![Strategy::Sticky],
            ..member(GROUP, AppCommit::Sync)
        };
        let members: Vec<NodeId> = (0..3).map(|_| c.add_consumer(config.clone())).collect();
        wait_for(&c, 60_000, "three members", |c| {
            settled(c, GROUP, &members, 6)
        })
        .await;
        let before: Vec<Vec<TopicPartition>> = members
            .iter()
            .map(|m| c.with_consumer(*m, |k| k.assignment()).unwrap())
            .collect();
        c.close_consumer(members[2]);
        wait_for(&c, 60_000, "two members", |c| {
            settled(c, GROUP, &members[..2], 6)
        })
        .await;
        for (i, m) in members[..2].iter().enumerate() {
            let after = c.with_consumer(*m, |k| k.assignment()).unwrap();
            assert_eq!(after.len(), 3);
            assert!(
                before[i].iter().all(|tp| after.contains(tp)),
                "member {i} had {:?}, now {after:?}",
                before[i]
            );
        }
    });
}
