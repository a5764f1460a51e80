//! Partition replicas wired together by hand (no network, no clock but `now`): HW lagging
//! LEO, acks and min.insync.replicas, ISR shrink and expand, and the two KIP-101 failure
//! timelines (kafka-facts.md section 5.5) under the pre-0.11 high-watermark truncation
//! and under leader-epoch truncation.

use std::collections::BTreeSet;

use bytes::Bytes;
use kafkasim_core::controller::{IsrChange, LeaderAndIsr, apply_isr_change};
use kafkasim_core::partition::{
    Acks, Partition, PartitionConfig, PartitionError, PartitionEvent, TruncationProtocol,
    TruncationReason,
};
use kafkasim_core::record::{self, Compression, Record};

fn set(ids: &[i32]) -> BTreeSet<i32> {
    ids.iter().copied().collect()
}

fn config(min_insync_replicas: usize, truncation: TruncationProtocol) -> PartitionConfig {
    PartitionConfig {
        min_insync_replicas,
        truncation,
        ..PartitionConfig::default()
    }
}

fn msg(value: &str) -> Vec<Record> {
    vec![Record::new(0, None, Some(value.as_bytes()))]
}

fn values(p: &Partition) -> Vec<String> {
    p.log()
        .entries()
        .unwrap()
        .iter()
        .map(|e| String::from_utf8(e.message.value.clone().unwrap().to_vec()).unwrap())
        .collect()
}

/// One fetch round trip from `follower` to `leader`; returns the ISR change the leader
/// proposed, if any.
fn fetch(leader: &mut Partition, follower: &mut Partition, now_ms: i64) -> Option<IsrChange> {
    let request = follower
        .fetch_request()
        .expect("a follower with a leader fetches");
    let (response, change) = leader.handle_fetch(&request, now_ms).unwrap();
    follower.handle_fetch_response(&response, now_ms).unwrap();
    change
}

/// The controller commits a proposed ISR change and tells the leader.
fn commit(
    state: &mut LeaderAndIsr,
    change: IsrChange,
    leader: &mut Partition,
    assignment: &[i32],
    live: &BTreeSet<i32>,
    now_ms: i64,
) {
    *state = apply_isr_change(state, &change, assignment, live).unwrap();
    leader.isr_change_completed(Ok(state), now_ms);
}

struct Cluster {
    replicas: Vec<Partition>, // index = broker id - 1
    state: LeaderAndIsr,
    assignment: Vec<i32>,
}

impl Cluster {
    /// Brokers 1..=n, broker 1 leading epoch 0 with everyone in the ISR.
    fn new(n: i32, config: PartitionConfig) -> Cluster {
        let assignment: Vec<i32> = (1..=n).collect();
        let state = LeaderAndIsr {
            leader: Some(1),
            leader_epoch: 0,
            isr: set(&assignment),
            partition_epoch: 0,
        };
        let mut replicas: Vec<Partition> = assignment
            .iter()
            .map(|&b| Partition::new(b, config.clone(), 0).unwrap())
            .collect();
        replicas[0].make_leader(&state, &assignment, &set(&assignment), 0);
        for follower in &mut replicas[1..] {
            follower.make_follower(&state, 0);
        }
        Cluster {
            replicas,
            state,
            assignment,
        }
    }

    fn pair(&mut self, leader: i32, follower: i32) -> (&mut Partition, &mut Partition) {
        let (l, f) = ((leader - 1) as usize, (follower - 1) as usize);
        if l < f {
            let (a, b) = self.replicas.split_at_mut(f);
            (&mut a[l], &mut b[0])
        } else {
            let (a, b) = self.replicas.split_at_mut(l);
            (&mut b[0], &mut a[f])
        }
    }

    fn fetch(&mut self, leader: i32, follower: i32, now_ms: i64) {
        let live = set(&self.assignment);
        let assignment = self.assignment.clone();
        let (l, f) = self.pair(leader, follower);
        if let Some(change) = fetch(l, f, now_ms) {
            let mut state = self.state.clone();
            let (l, _) = self.pair(leader, follower);
            commit(&mut state, change, l, &assignment, &live, now_ms);
            self.state = state;
        }
    }

    fn replica(&mut self, broker: i32) -> &mut Partition {
        &mut self.replicas[(broker - 1) as usize]
    }
}

#[test]
fn the_high_watermark_lags_the_log_end_and_followers_learn_it_a_round_later() {
    let mut c = Cluster::new(3, config(2, TruncationProtocol::LeaderEpoch));
    let info = c
        .replica(1)
        .append_as_leader(&msg("m0"), Compression::None, Acks::All, 10)
        .unwrap();
    let required = info.last_offset + 1;
    assert_eq!(
        (c.replica(1).log_end_offset(), c.replica(1).high_watermark()),
        (1, 0)
    );
    assert_eq!(
        c.replica(1).check_enough_replicas_reach_offset(required),
        None,
        "acks=all waits"
    );
    // First round: followers get m0; the leader does not know yet that they have it.
    c.fetch(1, 2, 20);
    c.fetch(1, 3, 20);
    assert_eq!(c.replica(1).high_watermark(), 0);
    assert_eq!(c.replica(2).log_end_offset(), 1);
    // Second round: their fetch offsets acknowledge m0; the HW moves; they learn it.
    c.fetch(1, 2, 30);
    assert_eq!(
        c.replica(1).high_watermark(),
        0,
        "broker 3 has not acknowledged yet"
    );
    c.fetch(1, 3, 30);
    assert_eq!(c.replica(1).high_watermark(), 1);
    assert_eq!(
        c.replica(1).check_enough_replicas_reach_offset(required),
        Some(Ok(()))
    );
    assert_eq!(
        c.replica(2).high_watermark(),
        0,
        "broker 2 learns the HW on its next fetch"
    );
    c.fetch(1, 2, 40);
    assert_eq!(c.replica(2).high_watermark(), 1);
    // Consumers see only what is below the HW.
    c.replica(1)
        .append_as_leader(&msg("m1"), Compression::None, Acks::Leader, 50)
        .unwrap();
    let visible =
        record::decode_entries(&c.replica(1).read_for_consumer(0, 1 << 20).unwrap()).unwrap();
    assert_eq!(visible.len(), 1);
    let events = c.replica(1).take_events();
    assert!(
        events.contains(&PartitionEvent::HighWatermarkAdvanced { from: 0, to: 1 }),
        "{events:#?}"
    );
}

#[test]
fn a_silent_follower_leaves_the_isr_and_acks_all_is_refused_below_min_isr() {
    let mut c = Cluster::new(3, config(2, TruncationProtocol::LeaderEpoch));
    let live = set(&[1, 2, 3]);
    // Broker 3 stops fetching; broker 2 keeps up. After replica.lag.time.max.ms, 3 leaves.
    for t in (0..=40_000).step_by(1_000) {
        c.replica(1)
            .append_as_leader(&msg("x"), Compression::None, Acks::Leader, t)
            .unwrap();
        c.fetch(1, 2, t);
        if t == 30_000 {
            assert_eq!(
                c.replica(1).maybe_shrink_isr(t),
                None,
                "exactly 30 s is still in sync"
            );
        }
    }
    let change = c
        .replica(1)
        .maybe_shrink_isr(40_000)
        .expect("broker 3 is out of sync");
    assert_eq!(change.new_isr, set(&[1, 2]));
    let events = c.replica(1).take_events();
    let shrink = events
        .iter()
        .find(|e| matches!(e, PartitionEvent::IsrShrinkProposed { .. }))
        .unwrap();
    assert_eq!(
        *shrink,
        PartitionEvent::IsrShrinkProposed {
            removed: set(&[3]),
            lag_ms: 30_000
        }
    );
    let mut state = c.state.clone();
    commit(&mut state, change, c.replica(1), &[1, 2, 3], &live, 40_000);
    c.state = state;
    assert_eq!(c.replica(1).isr(), Some(&set(&[1, 2])));
    // Broker 2 goes quiet too: ISR {1} < min.insync.replicas 2.
    let change = c
        .replica(1)
        .maybe_shrink_isr(80_000)
        .expect("broker 2 is out of sync");
    let mut state = c.state.clone();
    commit(&mut state, change, c.replica(1), &[1, 2, 3], &live, 80_000);
    c.state = state;
    let error = c
        .replica(1)
        .append_as_leader(&msg("y"), Compression::None, Acks::All, 80_001)
        .unwrap_err();
    assert_eq!(
        error,
        PartitionError::NotEnoughReplicas { isr: 1, min_isr: 2 }
    );
    assert!(
        error
            .to_string()
            .ends_with("nothing was written (NOT_ENOUGH_REPLICAS)")
    );
    // acks=1 is written, but the HW does not move while under min ISR (Kafka 3.7+).
    let hw = c.replica(1).high_watermark();
    c.replica(1)
        .append_as_leader(&msg("z"), Compression::None, Acks::Leader, 80_002)
        .unwrap();
    assert_eq!(c.replica(1).high_watermark(), hw);
    // Broker 3 comes back, catches up and rejoins; the HW moves again.
    for t in [90_000, 90_001, 90_002] {
        c.fetch(1, 3, t);
    }
    assert_eq!(c.replica(1).isr(), Some(&set(&[1, 3])));
    assert_eq!(c.replica(1).high_watermark(), c.replica(1).log_end_offset());
}

#[test]
fn a_deposed_leader_is_fenced() {
    let mut c = Cluster::new(2, config(1, TruncationProtocol::LeaderEpoch));
    let mut request = c.replica(2).fetch_request().unwrap();
    request.current_leader_epoch = -1;
    let error = c.replica(1).handle_fetch(&request, 0).unwrap_err();
    assert_eq!(
        error,
        PartitionError::FencedLeaderEpoch {
            request: -1,
            current: 0
        }
    );
    let error = c
        .replica(2)
        .append_as_leader(&msg("x"), Compression::None, Acks::Leader, 0)
        .unwrap_err();
    assert_eq!(
        error,
        PartitionError::NotLeaderOrFollower { leader: Some(1) }
    );
}

/// KIP-101 failure 1. B=2 leads with m1, m2; A=1 fetched m2, and B's HW moved to 2 (m2 is
/// acknowledged with acks=all), but A restarts before learning HW 2. Then B dies and A
/// leads. Returns A's log after it becomes leader.
fn kip_101_restart_then_failover(truncation: TruncationProtocol) -> Vec<String> {
    let config = config(1, truncation);
    let assignment = [1, 2];
    let live = set(&[1, 2]);
    let mut state = LeaderAndIsr {
        leader: Some(2),
        leader_epoch: 0,
        isr: live.clone(),
        partition_epoch: 0,
    };
    let mut a = Partition::new(1, config.clone(), 0).unwrap();
    let mut b = Partition::new(2, config.clone(), 0).unwrap();
    b.make_leader(&state, &assignment, &live, 0);
    a.make_follower(&state, 0);
    let m1 = b
        .append_as_leader(&msg("m1"), Compression::None, Acks::All, 1)
        .unwrap();
    fetch(&mut b, &mut a, 2); // A gets m1
    fetch(&mut b, &mut a, 3); // A acknowledges m1, learns HW 1
    let m2 = b
        .append_as_leader(&msg("m2"), Compression::None, Acks::All, 4)
        .unwrap();
    fetch(&mut b, &mut a, 5); // A gets m2; its HW is still 1
    assert_eq!(
        (m1.last_offset, m2.last_offset, a.high_watermark()),
        (0, 1, 1)
    );
    // A's next fetch (offset 2) reaches B: m2 is committed and acknowledged...
    let request = a.fetch_request().unwrap();
    let (_response, _) = b.handle_fetch(&request, 6).unwrap();
    assert_eq!(b.high_watermark(), 2);
    assert_eq!(
        b.check_enough_replicas_reach_offset(2),
        Some(Ok(())),
        "m2 is acknowledged"
    );
    // ...but A restarts before the response arrives: its process dies, its log and its
    // checkpointed HW (1) survive.
    let log = a.log().clone();
    let mut a = Partition::with_log(1, config, log, a.epochs().clone(), a.high_watermark());
    a.make_follower(&state, 7);
    if let Some(request) = a.fetch_request() {
        // The restarted follower's first fetch reaches B before B dies; its answer is lost.
        let _ = b.handle_fetch(&request, 8);
    }
    // B dies; the controller elects A, which is in the ISR.
    state = LeaderAndIsr {
        leader: Some(1),
        leader_epoch: 1,
        isr: set(&[1]),
        partition_epoch: 1,
    };
    a.make_leader(&state, &assignment, &set(&[1]), 9);
    values(&a)
}

#[test]
fn kip_101_restart_loses_an_acknowledged_message_only_with_hw_truncation() {
    assert_eq!(
        kip_101_restart_then_failover(TruncationProtocol::HighWatermark),
        ["m1"],
        "m2 is lost"
    );
    assert_eq!(
        kip_101_restart_then_failover(TruncationProtocol::LeaderEpoch),
        ["m1", "m2"],
        "m2 survives"
    );
}

/// KIP-101 failure 2. A=1 leads epoch 0 with m1, m2; B=2 replicated both but only m1 was
/// flushed. Both lose power. B comes back first, leads epoch 1 and takes m3 at offset 1;
/// then A comes back as follower. Returns (A's log, B's log) after A has caught up.
fn kip_101_double_power_loss(truncation: TruncationProtocol) -> (Vec<String>, Vec<String>) {
    let config = config(1, truncation);
    let assignment = [1, 2];
    let live = set(&[1, 2]);
    let state0 = LeaderAndIsr {
        leader: Some(1),
        leader_epoch: 0,
        isr: live.clone(),
        partition_epoch: 0,
    };
    let mut a = Partition::new(1, config.clone(), 0).unwrap();
    let mut b = Partition::new(2, config.clone(), 0).unwrap();
    a.make_leader(&state0, &assignment, &live, 0);
    b.make_follower(&state0, 0);
    a.append_as_leader(&msg("m1"), Compression::None, Acks::All, 1)
        .unwrap();
    fetch(&mut a, &mut b, 2);
    b.log_mut().flush(); // m1 reaches B's disk
    a.append_as_leader(&msg("m2"), Compression::None, Acks::All, 3)
        .unwrap();
    fetch(&mut a, &mut b, 4);
    fetch(&mut a, &mut b, 5);
    a.log_mut().flush();
    assert_eq!((a.high_watermark(), b.log_end_offset()), (2, 2));
    // Power loss: each keeps only what it flushed.
    let survive = |p: &Partition| {
        let files: Vec<(i64, Vec<u8>)> = p
            .log()
            .segments()
            .iter()
            .map(|s| (s.base_offset(), s.log_bytes()[..s.flushed_len()].to_vec()))
            .collect();
        let (log, _) =
            kafkasim_core::log::Log::recover(p.log().config().clone(), files, 10).unwrap();
        let mut epochs = p.epochs().clone();
        epochs.truncate_from_end(log.log_end_offset());
        Partition::with_log(p.broker(), config.clone(), log, epochs, p.high_watermark())
    };
    let (mut a, mut b) = (survive(&a), survive(&b));
    assert_eq!(
        (values(&a), values(&b)),
        (
            vec!["m1".to_string(), "m2".to_string()],
            vec!["m1".to_string()]
        )
    );
    // B restarts first and leads epoch 1 (the only live replica); it takes m3 at offset 1.
    let state1 = LeaderAndIsr {
        leader: Some(2),
        leader_epoch: 1,
        isr: set(&[2]),
        partition_epoch: 1,
    };
    b.make_leader(&state1, &assignment, &set(&[2]), 11);
    b.append_as_leader(&msg("m3"), Compression::None, Acks::Leader, 12)
        .unwrap();
    // A comes back as a follower and fetches until it has nothing more to do.
    a.make_follower(&state1, 13);
    b.update_live_brokers(&live);
    for t in 14..20 {
        fetch(&mut b, &mut a, t);
    }
    (values(&a), values(&b))
}

#[test]
fn kip_101_double_power_loss_diverges_only_with_hw_truncation() {
    let (a, b) = kip_101_double_power_loss(TruncationProtocol::HighWatermark);
    assert_eq!(
        (a, b),
        (
            vec!["m1".to_string(), "m2".to_string()],
            vec!["m1".to_string(), "m3".to_string()]
        ),
        "offset 1 differs forever"
    );
    let (a, b) = kip_101_double_power_loss(TruncationProtocol::LeaderEpoch);
    assert_eq!(a, b, "the follower truncated m2 and fetched m3");
    assert_eq!(a, ["m1", "m3"]);
}

#[test]
fn followers_copy_compressed_sets_and_epochs() {
    let mut c = Cluster::new(2, config(1, TruncationProtocol::LeaderEpoch));
    let batch: Vec<Record> = (0..5)
        .map(|i| Record::new(i, Some(b"k"), Some(format!("v{i}").as_bytes())))
        .collect();
    c.replica(1)
        .append_as_leader(&batch, Compression::Gzip, Acks::All, 1)
        .unwrap();
    c.fetch(1, 2, 2);
    c.fetch(1, 2, 3);
    let bytes = |p: &mut Partition| {
        p.log()
            .segments()
            .iter()
            .flat_map(|s| s.log_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    let leader_bytes = bytes(c.replica(1));
    assert_eq!(bytes(c.replica(2)), leader_bytes);
    assert_eq!(
        c.replica(2).epochs().entries().collect::<Vec<_>>(),
        [(0, 0)]
    );
    assert_eq!(c.replica(2).high_watermark(), 5);
    let _ = Bytes::from(leader_bytes);
}

/// Jepsen's 2013 Kafka 0.8 loss (kafka-facts.md section 8): RF 3, leader 1, acks=all.
/// Followers 2 and 3 are cut off past replica.lag.time.max.ms, so the ISR shrinks to {1}
/// and 1 acknowledges writes alone. Then 1 dies and 2 is elected; 1 comes back as a
/// follower. Returns the acknowledged writes, and what broker 1 holds at the end (None
/// when no leader could be elected).
fn jepsen_2013(min_insync_replicas: usize, unclean: bool) -> (Vec<String>, Option<Vec<String>>) {
    use kafkasim_core::controller::{ElectionKind, elect_leader};
    let mut c = Cluster::new(
        3,
        config(min_insync_replicas, TruncationProtocol::LeaderEpoch),
    );
    let live = set(&[1, 2, 3]);
    c.replica(1)
        .append_as_leader(&msg("w0"), Compression::None, Acks::All, 0)
        .unwrap();
    c.fetch(1, 2, 1);
    c.fetch(1, 3, 1);
    c.fetch(1, 2, 2);
    c.fetch(1, 3, 2);
    // 2 and 3 are partitioned away: no more fetches. Writes go on; a follower at the
    // leader's LEO counts as caught up however long it is silent, so the ISR shrinks only
    // once they fall behind for replica.lag.time.max.ms.
    let mut waiting = Vec::new();
    let mut produce = |c: &mut Cluster, value: &str, t: i64| match c.replica(1).append_as_leader(
        &msg(value),
        Compression::None,
        Acks::All,
        t,
    ) {
        Ok(info) => waiting.push((value.to_string(), info.last_offset + 1)),
        Err(PartitionError::NotEnoughReplicas { .. }) => {}
        Err(e) => panic!("{e}"),
    };
    produce(&mut c, "w1", 2_000);
    assert_eq!(
        c.replica(1).maybe_shrink_isr(20_000),
        None,
        "last caught up 20 s ago: still in sync"
    );
    let change = c
        .replica(1)
        .maybe_shrink_isr(40_000)
        .expect("followers fell behind");
    let mut state = c.state.clone();
    commit(&mut state, change, c.replica(1), &[1, 2, 3], &live, 40_000);
    c.state = state;
    produce(&mut c, "w2", 41_000);
    produce(&mut c, "w3", 42_000);
    let mut acknowledged = vec!["w0".to_string()];
    for (value, required_offset) in waiting {
        if c.replica(1)
            .check_enough_replicas_reach_offset(required_offset)
            == Some(Ok(()))
        {
            acknowledged.push(value);
        }
    }
    // Broker 1 dies. The controller elects from brokers 2 and 3.
    let alive = set(&[2, 3]);
    let kind = ElectionKind::Offline {
        unclean_leader_election_enable: unclean,
    };
    let Some(election) = elect_leader(kind, &[1, 2, 3], &c.state.isr, &alive, &BTreeSet::new())
    else {
        return (acknowledged, None);
    };
    let next = c.state.elected(&election);
    c.state = next.clone();
    c.replica(election.leader)
        .make_leader(&next, &[1, 2, 3], &alive, 50_000);
    c.replica(election.leader)
        .append_as_leader(&msg("after"), Compression::None, Acks::Leader, 50_001)
        .unwrap();
    // Broker 1 returns as a follower and catches up with the new leader.
    c.replica(1).make_follower(&next, 60_000);
    for t in 60_001..60_005 {
        c.fetch(election.leader, 1, t);
    }
    let held = values(c.replica(1));
    (acknowledged, Some(held))
}

#[test]
fn jepsen_2013_acknowledged_writes_are_lost_with_min_isr_1_and_unclean_election() {
    let (acknowledged, held) = jepsen_2013(1, true);
    assert_eq!(
        acknowledged,
        ["w0", "w1", "w2", "w3"],
        "leader 1 acknowledged alone"
    );
    let held = held.expect("broker 2 was elected uncleanly");
    assert_eq!(
        held,
        ["w0", "after"],
        "w1..w3 were acknowledged and are gone"
    );
}

#[test]
fn jepsen_2013_is_prevented_by_min_isr_2_or_by_clean_election() {
    // min.insync.replicas = 2: the lone leader refuses acks=all writes.
    let (acknowledged, _) = jepsen_2013(2, true);
    assert_eq!(
        acknowledged,
        ["w0"],
        "NOT_ENOUGH_REPLICAS: nothing acknowledged that could be lost"
    );
    // Unclean election off: nobody outside the ISR may lead; the partition goes offline
    // instead of losing data.
    let (acknowledged, held) = jepsen_2013(1, false);
    assert_eq!(acknowledged.len(), 4);
    assert_eq!(held, None, "offline, with broker 1 still holding w0..w3");
}

#[test]
fn acks_1_loses_what_the_leader_had_alone_when_it_crashes() {
    let mut c = Cluster::new(3, config(1, TruncationProtocol::LeaderEpoch));
    c.replica(1)
        .append_as_leader(&msg("a"), Compression::None, Acks::Leader, 0)
        .unwrap();
    c.fetch(1, 2, 1);
    c.fetch(1, 3, 1);
    // Acknowledged at once with acks=1, before any follower fetched it.
    c.replica(1)
        .append_as_leader(&msg("b"), Compression::None, Acks::Leader, 2)
        .unwrap();
    // Broker 1 crashes; broker 2 (in the ISR) is elected cleanly and writes on.
    let next = LeaderAndIsr {
        leader: Some(2),
        leader_epoch: 1,
        isr: set(&[2, 3]),
        partition_epoch: 1,
    };
    c.state = next.clone();
    c.replica(2)
        .make_leader(&next, &[1, 2, 3], &set(&[2, 3]), 10);
    c.replica(2)
        .append_as_leader(&msg("c"), Compression::None, Acks::Leader, 11)
        .unwrap();
    // Broker 1 returns: its "b" diverges from the new leader's log and is truncated.
    c.replica(1).make_follower(&next, 20);
    for t in 21..25 {
        c.fetch(2, 1, t);
    }
    assert_eq!(
        values(c.replica(1)),
        ["a", "c"],
        "the acknowledged b is lost"
    );
    let truncated = c
        .replica(1)
        .take_events()
        .into_iter()
        .find(|e| matches!(e, PartitionEvent::Truncated { .. }))
        .unwrap();
    assert_eq!(
        truncated,
        PartitionEvent::Truncated {
            from: 2,
            to: 1,
            reason: TruncationReason::DivergingEpoch {
                epoch: 0,
                leader_end_offset: 1
            }
        }
    );
}

#[test]
fn a_fetch_response_carries_only_the_epochs_of_its_records() {
    let small = PartitionConfig {
        replica_fetch_max_bytes: 50,
        ..config(1, TruncationProtocol::LeaderEpoch)
    };
    let mut leader = Partition::new(1, small.clone(), 0).unwrap();
    let mut follower = Partition::new(2, small, 0).unwrap();
    let assignment = [1, 2];
    let live = set(&[1, 2]);
    // Epoch 0 writes offsets 0..3, epoch 1 writes 3..6.
    let e0 = LeaderAndIsr {
        leader: Some(1),
        leader_epoch: 0,
        isr: live.clone(),
        partition_epoch: 0,
    };
    leader.make_leader(&e0, &assignment, &live, 0);
    for v in ["a", "b", "c"] {
        leader
            .append_as_leader(&msg(v), Compression::None, Acks::Leader, 1)
            .unwrap();
    }
    let e1 = LeaderAndIsr {
        leader_epoch: 1,
        partition_epoch: 1,
        ..e0
    };
    leader.make_leader(&e1, &assignment, &live, 2);
    for v in ["d", "e", "f"] {
        leader
            .append_as_leader(&msg(v), Compression::None, Acks::Leader, 3)
            .unwrap();
    }
    follower.make_follower(&e1, 4);
    // Each response holds one message (50 bytes max): the follower learns epoch 1 only
    // when the first record of epoch 1 arrives.
    let mut seen = Vec::new();
    for t in 5..12 {
        let request = follower.fetch_request().unwrap();
        let (response, _) = leader.handle_fetch(&request, t).unwrap();
        // One record per response: no epoch may start after it.
        assert!(
            response
                .epochs
                .iter()
                .all(|&(_, start)| start <= request.fetch_offset),
            "{response:?}"
        );
        follower.handle_fetch_response(&response, t).unwrap();
        seen.push(follower.epochs().entries().collect::<Vec<_>>());
    }
    assert_eq!(
        seen[2],
        [(0, 0)],
        "three records of epoch 0 fetched, epoch 1 not yet seen"
    );
    assert_eq!(seen[3], [(0, 0), (1, 3)]);
    assert_eq!(values(&follower), ["a", "b", "c", "d", "e", "f"]);
}

/// A replica that became leader and appended nothing has an epoch entry at its log end.
/// Following a newer leader that never had that epoch, it must drop the entry, or the
/// leader reports the same divergence on every fetch and the follower never catches up.
#[test]
fn an_empty_epoch_at_the_log_end_is_dropped_so_the_follower_catches_up() {
    let config = config(1, TruncationProtocol::LeaderEpoch);
    let assignment = [1, 2];
    let live = set(&[1, 2]);
    let epoch = |leader, leader_epoch| LeaderAndIsr {
        leader: Some(leader),
        leader_epoch,
        isr: live.clone(),
        partition_epoch: leader_epoch,
    };
    let mut a = Partition::new(1, config.clone(), 0).unwrap();
    let mut b = Partition::new(2, config, 0).unwrap();
    a.make_leader(&epoch(1, 0), &assignment, &live, 0);
    b.make_follower(&epoch(1, 0), 0);
    a.append_as_leader(&msg("m0"), Compression::None, Acks::Leader, 1)
        .unwrap();
    fetch(&mut a, &mut b, 2);
    // B leads epoch 1 for a moment (a stale LeaderAndIsr) and appends nothing...
    b.make_leader(&epoch(2, 1), &assignment, &live, 3);
    assert_eq!(b.epochs().entries().last(), Some((1, 1)));
    // ...while A moved on to lead epoch 2 and took m1.
    a.make_leader(&epoch(1, 2), &assignment, &live, 4);
    a.append_as_leader(&msg("m1"), Compression::None, Acks::Leader, 5)
        .unwrap();
    b.make_follower(&epoch(1, 2), 6);
    for t in 7..10 {
        fetch(&mut a, &mut b, t);
    }
    assert_eq!(values(&b), ["m0", "m1"], "B caught up");
    assert!(
        b.epochs().entries().all(|(e, _)| e != 1),
        "epoch 1 is gone: {:?}",
        b.epochs().entries().collect::<Vec<_>>()
    );
}

/// An idempotent batch's header travels with its records to the follower, even when a
/// response cuts the batch; the follower that becomes leader recognises a retry of it;
/// a restart keeps the headers of the batches its recovered log holds.
#[test]
fn followers_learn_idempotent_batches_and_keep_recognising_retries() {
    use kafkasim_core::partition::IdempotentAppend;
    use kafkasim_core::protocol::ProducerBatch;
    let small = PartitionConfig {
        replica_fetch_max_bytes: 50,
        ..config(1, TruncationProtocol::LeaderEpoch)
    };
    let mut c = Cluster::new(2, small);
    let batch = |base_sequence| ProducerBatch {
        producer_id: 9,
        producer_epoch: 0,
        base_sequence,
    };
    let records: Vec<Record> = ["a", "b", "c"].iter().flat_map(|v| msg(v)).collect();
    let first = c
        .replica(1)
        .append_idempotent_as_leader(&records, &batch(0), Acks::Leader, 1)
        .unwrap();
    assert!(matches!(first, IdempotentAppend::Appended(_)));
    // 50-byte responses carry one message each: the header comes with every part and
    // counts once the whole batch is in.
    for t in 2..6 {
        c.fetch(1, 2, t);
    }
    assert_eq!(values(c.replica(2)), ["a", "b", "c"]);
    assert_eq!(c.replica(2).producer_state().batch_count(), 1);
    // Broker 2 takes over: the producer's retry of the batch is a duplicate.
    let state = LeaderAndIsr {
        leader: Some(2),
        leader_epoch: 1,
        isr: set(&[2]),
        partition_epoch: 1,
    };
    c.replica(2).make_leader(&state, &[1, 2], &set(&[1, 2]), 10);
    let retry = c
        .replica(2)
        .append_idempotent_as_leader(&records, &batch(0), Acks::Leader, 11)
        .unwrap();
    let IdempotentAppend::Duplicate(header) = retry else {
        panic!("a retry appended again: {retry:?}");
    };
    assert_eq!((header.first_offset, header.last_offset), (0, 2));
    let gap = c
        .replica(2)
        .append_idempotent_as_leader(&msg("z"), &batch(7), Acks::Leader, 12)
        .unwrap_err();
    assert_eq!(
        gap.to_string(),
        "sequence 7 does not follow the last appended batch; expected 3 (OUT_OF_ORDER_SEQUENCE_NUMBER)"
    );

    // A restart: the headers on disk beside a log recovered to 2 records keep nothing
    // of a batch the recovery cut.
    let headers: Vec<_> = c.replica(2).producer_state().headers().collect();
    let mut restarted = Partition::new(2, config(1, TruncationProtocol::LeaderEpoch), 20).unwrap();
    for v in ["a", "b"] {
        restarted
            .log_mut()
            .append(&msg(v), Compression::None, 20)
            .unwrap();
    }
    restarted.restore_producer_batches(&headers);
    assert_eq!(restarted.producer_state().batch_count(), 0);
    restarted
        .log_mut()
        .append(&msg("c"), Compression::None, 21)
        .unwrap();
    restarted.restore_producer_batches(&headers);
    assert_eq!(restarted.producer_state().batch_count(), 1);
}

#[test]
fn a_follower_takes_its_leaders_high_watermark_even_when_it_is_lower() {
    // ReplicaFetcherThread.processPartitionData → log.updateHighWatermark(leader's HW):
    // min(leader HW, LEO), also downwards (a new leader's HW may trail the old one's).
    let mut c = Cluster::new(2, config(1, TruncationProtocol::LeaderEpoch));
    for (i, value) in ["m0", "m1", "m2"].iter().enumerate() {
        c.replica(1)
            .append_as_leader(&msg(value), Compression::None, Acks::All, i as i64)
            .unwrap();
    }
    for t in [10, 20, 30] {
        c.fetch(1, 2, t);
    }
    assert_eq!(c.replica(2).high_watermark(), 3);
    let request = c.replica(2).fetch_request().unwrap();
    let (mut response, _) = c.replica(1).handle_fetch(&request, 40).unwrap();
    response.high_watermark = 1;
    c.replica(2).handle_fetch_response(&response, 40).unwrap();
    assert_eq!(c.replica(2).high_watermark(), 1);
    assert!(
        c.replica(2)
            .take_events()
            .iter()
            .any(|e| matches!(e, PartitionEvent::HighWatermarkLowered { from: 3, to: 1 })),
    );
    // Never above its own LEO.
    response.high_watermark = 99;
    c.replica(2).handle_fetch_response(&response, 50).unwrap();
    assert_eq!(c.replica(2).high_watermark(), 3);
}

#[test]
fn a_leader_reelected_under_a_new_epoch_keeps_its_followers_log_end_offsets() {
    // Partition.makeLeader: resetReplicaState(isNewLeader = !isLeader). Re-elected, the
    // leader still knows where each follower is; a new leader knows nobody's LEO.
    let mut c = Cluster::new(3, config(2, TruncationProtocol::LeaderEpoch));
    c.replica(1)
        .append_as_leader(&msg("m0"), Compression::None, Acks::All, 1)
        .unwrap();
    // A second round: each fetch acknowledges what the one before it brought.
    for t in [10, 11] {
        c.fetch(1, 2, t);
        c.fetch(1, 3, t);
    }
    let known = |p: &Partition, b: i32| p.followers().unwrap()[&b].log_end_offset;
    assert_eq!(known(c.replica(1), 2), 1);
    let next = LeaderAndIsr {
        leader_epoch: 1,
        partition_epoch: 1,
        ..c.state.clone()
    };
    let assignment = c.assignment.clone();
    c.replica(1)
        .make_leader(&next, &assignment, &set(&assignment), 20);
    assert_eq!(known(c.replica(1), 2), 1, "the re-elected leader keeps it");
    assert_eq!(c.replica(1).high_watermark(), 1);
    c.replica(2)
        .make_leader(&next, &assignment, &set(&assignment), 20);
    assert_eq!(known(c.replica(2), 1), -1, "a new leader does not know it");
}

#[test]
fn a_refused_isr_change_stays_pending_until_the_next_leader_and_isr_unless_ineligible() {
    // Partition.handleAlterPartitionError: FENCED_LEADER_EPOCH and INVALID_UPDATE_VERSION
    // wait for the metadata that won; INELIGIBLE_REPLICA puts the committed state back.
    use kafkasim_core::controller::IsrChangeRejected;
    let mut c = Cluster::new(3, config(1, TruncationProtocol::LeaderEpoch));
    let shrink = |p: &mut Partition, t| p.maybe_shrink_isr(t).expect("3 fell behind");
    // 3 stops fetching while records arrive: after replica.lag.time.max.ms it is out.
    for at in (0..=40_000).step_by(1_000) {
        c.replica(1)
            .append_as_leader(&msg("x"), Compression::None, Acks::Leader, at)
            .unwrap();
        c.fetch(1, 2, at);
    }
    shrink(c.replica(1), 40_000);
    assert!(c.replica(1).pending_isr().is_some());
    let refused = IsrChangeRejected::InvalidUpdateVersion {
        current_partition_epoch: 7,
    };
    c.replica(1).isr_change_completed(Err(&refused), 40_001);
    assert!(
        c.replica(1).pending_isr().is_some(),
        "it waits for LeaderAndIsr"
    );
    assert_eq!(
        c.replica(1).maybe_shrink_isr(50_000),
        None,
        "no new proposal meanwhile"
    );
    let ineligible = IsrChangeRejected::IneligibleReplica { broker: 3 };
    c.replica(1).isr_change_completed(Err(&ineligible), 50_001);
    assert_eq!(
        c.replica(1).pending_isr(),
        None,
        "back to the committed ISR"
    );
    assert_eq!(c.replica(1).isr().unwrap(), &set(&[1, 2, 3]));
}
