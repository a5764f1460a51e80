//! The replication rules: the leader epoch cache, the follower truncation rule on the
//! KIP-101 and KIP-279 timelines (kafka-facts.md section 5.5), and the leader's ISR and
//! high-watermark rules (section 5.1-5.2).

use std::collections::BTreeSet;

use kafkasim_core::replication::epoch::{
    EpochEndOffset, LeaderEpochCache, TruncationState, UNDEFINED_EPOCH, truncation_state,
};
use kafkasim_core::replication::replica::{
    Follower, FollowerState, HighWatermarkInputs, can_join_isr, effective_min_isr, maximal_isr,
    next_high_watermark, out_of_sync_followers,
};

fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
    let mut cache = LeaderEpochCache::new();
    for &(epoch, start) in entries {
        assert!(cache.assign(epoch, start));
    }
    cache
}

fn entries(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
    cache.entries().collect()
}

#[test]
fn assign_keeps_epochs_and_offsets_increasing() {
    let mut c = cache(&[(0, 0), (1, 5), (3, 9)]);
    // The latest epoch again, at the same or a later offset: nothing changes.
    assert!(!c.assign(3, 9));
    assert!(!c.assign(3, 12));
    // An older epoch, or an earlier start, removes what contradicts it.
    assert!(c.assign(2, 7));
    assert_eq!(entries(&c), [(0, 0), (1, 5), (2, 7)]);
    assert!(c.assign(4, 3));
    assert_eq!(entries(&c), [(0, 0), (4, 3)]);
    assert_eq!(c.epoch_for_offset(2), Some(0));
    assert_eq!(c.epoch_for_offset(3), Some(4));
    assert_eq!(LeaderEpochCache::new().epoch_for_offset(0), None);
}

#[test]
fn end_offset_for_follows_kafkas_rules() {
    let c = cache(&[(2, 6), (3, 8), (5, 20)]);
    let answer = |epoch| c.end_offset_for(epoch, 30);
    assert_eq!(
        answer(5),
        EpochEndOffset {
            epoch: 5,
            end_offset: 30
        },
        "the latest epoch ends at the LEO"
    );
    assert_eq!(
        answer(3),
        EpochEndOffset {
            epoch: 3,
            end_offset: 20
        }
    );
    assert_eq!(
        answer(4),
        EpochEndOffset {
            epoch: 3,
            end_offset: 20
        },
        "largest epoch <= 4 is 3"
    );
    assert_eq!(
        answer(1),
        EpochEndOffset {
            epoch: 1,
            end_offset: 6
        },
        "older than all: the first start"
    );
    assert_eq!(answer(6), EpochEndOffset::UNDEFINED, "newer than all");
    assert_eq!(answer(UNDEFINED_EPOCH), EpochEndOffset::UNDEFINED);
}

#[test]
fn the_cache_follows_the_log_when_it_is_truncated() {
    let mut c = cache(&[(0, 0), (1, 5), (2, 9)]);
    c.truncate_from_end(9);
    assert_eq!(entries(&c), [(0, 0), (1, 5)]);
    c.truncate_from_end(6);
    assert_eq!(entries(&c), [(0, 0), (1, 5)], "epoch 1 still has offset 5");
    c.truncate_from_start(7);
    assert_eq!(
        entries(&c),
        [(1, 7)],
        "retention moved the log start into epoch 1"
    );
}

#[test]
fn the_checkpoint_file_round_trips_and_reports_bad_lines() {
    let c = cache(&[(0, 0), (1, 11), (3, 21)]);
    let text = c.to_checkpoint();
    assert_eq!(text, "0\n3\n0 0\n1 11\n3 21\n");
    assert_eq!(LeaderEpochCache::from_checkpoint(&text).unwrap(), c);
    let error = LeaderEpochCache::from_checkpoint("0\n2\n0 0\n1 x\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "leader-epoch-checkpoint line 4: \"1 x\" is not \"<epoch> <start offset>\""
    );
    let error = LeaderEpochCache::from_checkpoint("0\n3\n0 0\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "leader-epoch-checkpoint line 4: the file says 3 entries but holds 1"
    );
    let error = LeaderEpochCache::from_checkpoint("0\n2\n2 5\n1 9\n").unwrap_err();
    assert_eq!(error.line, 4);
    assert!(LeaderEpochCache::from_checkpoint("1\n0\n").is_err());
}

/// KIP-101 failure 1: follower A restarts with m1, m2 (epoch 0) and HW 1; leader B has
/// the same. The high-watermark rule drops the acknowledged m2; the epoch rule keeps it.
#[test]
fn kip_101_restart_after_fetch_keeps_the_acknowledged_message() {
    let leader_b = cache(&[(0, 0)]);
    let follower_a = cache(&[(0, 0)]);
    let (a_log_end, a_high_watermark) = (2, 1);
    let answer = leader_b.end_offset_for(follower_a.latest_epoch().unwrap(), 2);
    assert_eq!(
        answer,
        EpochEndOffset {
            epoch: 0,
            end_offset: 2
        }
    );
    let state = truncation_state(&follower_a, a_log_end, a_high_watermark, answer);
    assert_eq!(
        state,
        TruncationState {
            offset: 2,
            completed: true
        },
        "m2 at offset 1 survives"
    );
    // The pre-0.11 rule truncated to the HW: offset 1, dropping m2.
    assert!(a_high_watermark < state.offset);
}

/// KIP-101 failure 2: after a double power loss B (log [m1]) led epoch 1 and wrote m3 at
/// offset 1; A comes back with [m1, m2] from epoch 0. A must drop m2.
#[test]
fn kip_101_divergence_after_double_power_loss_is_truncated_away() {
    let leader_b = cache(&[(0, 0), (1, 1)]);
    let follower_a = cache(&[(0, 0)]);
    let answer = leader_b.end_offset_for(0, 2);
    assert_eq!(
        answer,
        EpochEndOffset {
            epoch: 0,
            end_offset: 1
        }
    );
    let state = truncation_state(&follower_a, 2, 2, answer);
    assert_eq!(
        state,
        TruncationState {
            offset: 1,
            completed: true
        },
        "m2 goes, m3 will be fetched"
    );
}

/// KIP-279 (KAFKA-6361): A = e1:[0..20], e3:[21..30]; B = e1:[0..10], e2:[11..n]. B asks
/// about epoch 2, which A never had.
#[test]
fn kip_279_fast_failover_no_longer_diverges() {
    let leader_a = cache(&[(1, 0), (3, 21)]);
    let answer = leader_a.end_offset_for(2, 31);
    assert_eq!(
        answer,
        EpochEndOffset {
            epoch: 1,
            end_offset: 21
        },
        "the answer names epoch 1"
    );
    for n in [15, 20, 25] {
        let follower_b = cache(&[(1, 0), (2, 11)]);
        let fixed = truncation_state(&follower_b, n + 1, 11, answer);
        assert_eq!(
            fixed,
            TruncationState {
                offset: 11,
                completed: true
            },
            "n = {n}"
        );
        // Before KIP-279 the answer carried no epoch: B kept its epoch-2 data at n <= 20.
        let old_answer = EpochEndOffset {
            epoch: UNDEFINED_EPOCH,
            end_offset: 21,
        };
        let old = truncation_state(&follower_b, n + 1, 11, old_answer);
        assert_eq!(old.offset, (n + 1).min(21), "n = {n}");
        assert!(
            old.offset > 11,
            "the pre-KIP-279 rule keeps diverging data at n = {n}"
        );
    }
}

#[test]
fn an_epoch_the_follower_never_had_means_ask_again() {
    let follower = cache(&[(0, 0), (2, 5)]);
    // The leader has epoch 1, which the follower never saw.
    let first = truncation_state(
        &follower,
        9,
        0,
        EpochEndOffset {
            epoch: 1,
            end_offset: 7,
        },
    );
    assert_eq!(
        first,
        TruncationState {
            offset: 5,
            completed: false
        }
    );
    // The follower truncates to 5, forgets epoch 2, and asks about epoch 0.
    let mut follower = follower;
    follower.truncate_from_end(5);
    let second = truncation_state(
        &follower,
        5,
        0,
        EpochEndOffset {
            epoch: 0,
            end_offset: 3,
        },
    );
    assert_eq!(
        second,
        TruncationState {
            offset: 3,
            completed: true
        }
    );
    // With no end offset from the leader, fall back to the high watermark.
    let fallback = truncation_state(&follower, 5, 2, EpochEndOffset::UNDEFINED);
    assert_eq!(
        fallback,
        TruncationState {
            offset: 2,
            completed: true
        }
    );
}

const LAG_MS: i64 = 30_000;

#[test]
fn a_follower_at_the_leaders_end_is_caught_up() {
    let mut f = FollowerState::on_become_leader(true, 1_000);
    assert!(
        f.is_caught_up(10, 31_000, LAG_MS),
        "ISR members start caught up"
    );
    assert!(
        !f.is_caught_up(10, 31_001, LAG_MS),
        "30 s without catching up"
    );
    f.update_fetch_state(10, 40_000, 10);
    assert_eq!(f.last_caught_up_time_ms, Some(40_000));
    assert!(
        f.is_caught_up(10, 100_000, LAG_MS),
        "at the leader's LEO it is caught up, however long ago"
    );
    let mut outsider = FollowerState::on_become_leader(false, 1_000);
    assert_eq!(outsider.last_caught_up_time_ms, None);
    assert!(
        !outsider.is_caught_up(10, 1_000, LAG_MS),
        "never caught up, even at sim time 1000 ms"
    );
    outsider.update_fetch_state(4, 2_000, 10);
    assert_eq!(
        outsider.last_caught_up_time_ms, None,
        "a first fetch behind the leader's LEO catches up nothing"
    );
}

#[test]
fn a_follower_keeping_pace_with_produces_stays_in_sync() {
    // The leader's LEO moves on between fetches; the follower always reaches the LEO the
    // leader had at its previous fetch, so it counts as caught up as of that fetch.
    let mut f = FollowerState::on_become_leader(true, 0);
    let mut leader_end = 0;
    for round in 1..=100 {
        let now = round * 1_000;
        let fetch_offset = leader_end; // what it had fetched by the previous round
        leader_end += 5; // produces arrived meanwhile
        f.update_fetch_state(fetch_offset, now, leader_end);
        assert!(f.is_caught_up(leader_end, now, LAG_MS), "round {round}");
    }
    // A follower stuck at one offset falls out after replica.lag.time.max.ms.
    let mut stuck = FollowerState::on_become_leader(true, 500);
    for round in 1..=40 {
        stuck.update_fetch_state(3, round * 1_000, 3 + round * 5);
        assert_eq!(
            stuck.is_caught_up(3 + round * 5, round * 1_000, LAG_MS),
            round * 1_000 - 500 <= LAG_MS
        );
    }
    assert_eq!(
        stuck.last_caught_up_time_ms,
        Some(500),
        "it was last caught up when the leader took over"
    );
}

fn state(log_end_offset: i64, last_caught_up_time_ms: i64) -> FollowerState {
    FollowerState {
        log_end_offset,
        last_caught_up_time_ms: Some(last_caught_up_time_ms),
        last_fetch_leader_log_end_offset: log_end_offset,
        last_fetch_time_ms: Some(0),
    }
}

fn set(ids: &[i32]) -> BTreeSet<i32> {
    ids.iter().copied().collect()
}

#[test]
fn the_isr_shrinks_to_the_followers_that_kept_up() {
    let (b2, b3) = (state(10, 50_000), state(4, 10_000));
    let followers = [
        Follower {
            broker: 2,
            state: &b2,
            isr_eligible: true,
        },
        Follower {
            broker: 3,
            state: &b3,
            isr_eligible: true,
        },
    ];
    let out = out_of_sync_followers(&set(&[1, 2, 3]), followers, 12, 50_000, LAG_MS);
    assert_eq!(out, set(&[3]));
    assert!(can_join_isr(12, 12, 8));
    assert!(!can_join_isr(11, 12, 8), "below the HW");
    assert!(
        !can_join_isr(12, 10, 13),
        "below the start of the leader's epoch"
    );
    assert_eq!(effective_min_isr(2, 1), 1);
    assert_eq!(
        maximal_isr(&set(&[1, 2]), Some(&set(&[1, 2, 3]))),
        set(&[1, 2, 3])
    );
}

#[test]
fn the_high_watermark_is_the_smallest_leo_in_the_isr() {
    let (b2, b3) = (state(8, 0), state(5, 0));
    let followers = |b3_eligible| {
        [
            Follower {
                broker: 2,
                state: &b2,
                isr_eligible: true,
            },
            Follower {
                broker: 3,
                state: &b3,
                isr_eligible: b3_eligible,
            },
        ]
    };
    let inputs = HighWatermarkInputs {
        leader_log_end_offset: 10,
        high_watermark: 4,
        maximal_isr: set(&[1, 2, 3]),
        committed_isr_size: 3,
        effective_min_isr: 2,
        now_ms: 100_000,
        replica_lag_time_max_ms: LAG_MS,
        hold_below_min_isr: true,
    };
    assert_eq!(next_high_watermark(&inputs, followers(true)), Some(5));
    // Out of the ISR and not caught up: it no longer holds the HW back.
    let without_3 = HighWatermarkInputs {
        maximal_isr: set(&[1, 2]),
        committed_isr_size: 2,
        ..inputs.clone()
    };
    assert_eq!(next_high_watermark(&without_3, followers(true)), Some(8));
    // Never backwards.
    let ahead = HighWatermarkInputs {
        high_watermark: 9,
        ..without_3.clone()
    };
    assert_eq!(next_high_watermark(&ahead, followers(true)), None);
    // Below min.insync.replicas the HW stands still (Kafka 3.7+), or moves (older).
    let alone = HighWatermarkInputs {
        maximal_isr: set(&[1]),
        committed_isr_size: 1,
        ..inputs.clone()
    };
    assert_eq!(next_high_watermark(&alone, followers(true)), None);
    let old_rule = HighWatermarkInputs {
        hold_below_min_isr: false,
        ..alone
    };
    assert_eq!(next_high_watermark(&old_rule, followers(true)), Some(10));
    // A caught-up, eligible follower outside the ISR makes the HW wait for it to join.
    let (b4, joining) = (state(7, 99_000), set(&[1, 2]));
    let with_joiner = HighWatermarkInputs {
        maximal_isr: joining,
        committed_isr_size: 2,
        ..inputs
    };
    let followers = [
        Follower {
            broker: 2,
            state: &b2,
            isr_eligible: true,
        },
        Follower {
            broker: 4,
            state: &b4,
            isr_eligible: true,
        },
    ];
    assert_eq!(next_high_watermark(&with_joiner, followers), Some(7));
    let followers = [
        Follower {
            broker: 2,
            state: &b2,
            isr_eligible: true,
        },
        Follower {
            broker: 4,
            state: &b4,
            isr_eligible: false,
        },
    ];
    assert_eq!(
        next_high_watermark(&with_joiner, followers),
        Some(8),
        "a dead broker is not waited for"
    );
}

#[test]
fn offset_checkpoints_use_kafkas_format() {
    use kafkasim_core::checkpoint::OffsetCheckpoint;
    let mut hw = OffsetCheckpoint::default();
    hw.offsets.insert(("orders".to_string(), 0), 42);
    hw.offsets.insert(("orders".to_string(), 1), 7);
    hw.offsets.insert(("__consumer_offsets".to_string(), 12), 0);
    let text = hw.to_text();
    assert_eq!(
        text,
        "0\n3\n__consumer_offsets 12 0\norders 0 42\norders 1 7\n"
    );
    assert_eq!(
        OffsetCheckpoint::from_text("replication-offset-checkpoint", &text).unwrap(),
        hw
    );
    let error = OffsetCheckpoint::from_text("replication-offset-checkpoint", "0\n1\norders x 4\n")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "replication-offset-checkpoint line 3: \"orders x 4\" is not \"<topic> <partition> <offset>\""
    );
    assert!(OffsetCheckpoint::from_text("recovery-point-offset-checkpoint", "").is_err());
}
