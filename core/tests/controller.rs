//! The controller's rules: replica placement, leader election, conditional ISR changes,
//! preferred-leader imbalance.

use std::collections::{BTreeMap, BTreeSet};

use kafkasim_core::controller::{
    ElectionKind, IsrChange, IsrChangeRejected, LeaderAndIsr, PlacementError, apply_isr_change,
    assign_added_partitions, assign_new_topic, assign_replicas, elect_leader, leader_imbalance,
    validate_assignment,
};
use kafkasim_core::rng::{Scripted, SplitMix64};

fn set(ids: &[i32]) -> BTreeSet<i32> {
    ids.iter().copied().collect()
}

#[test]
fn placement_matches_kafkas_round_robin() {
    // Kafka's AdminUtilsTest.testReplicaAssignment: 5 brokers, 10 partitions, RF 3,
    // fixed start index 0.
    let expected: Vec<Vec<i32>> = vec![
        vec![0, 1, 2],
        vec![1, 2, 3],
        vec![2, 3, 4],
        vec![3, 4, 0],
        vec![4, 0, 1],
        vec![0, 2, 3],
        vec![1, 3, 4],
        vec![2, 4, 0],
        vec![3, 0, 1],
        vec![4, 1, 2],
    ];
    assert_eq!(
        assign_replicas(10, 3, &[4, 3, 2, 1, 0], 0, 0, 0).unwrap(),
        expected
    );
    // Every broker leads as many partitions as any other, and no partition repeats a broker.
    let assignment = assign_replicas(30, 3, &[1, 2, 3, 4, 5], 2, 4, 0).unwrap();
    let mut leaders = BTreeMap::new();
    for replicas in &assignment {
        *leaders.entry(replicas[0]).or_insert(0) += 1;
        assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), 3);
    }
    assert!(leaders.values().all(|&n| n == 6), "{leaders:?}");
}

#[test]
fn placement_refuses_impossible_topics() {
    let error = assign_replicas(3, 4, &[1, 2, 3], 0, 0, 0).unwrap_err();
    assert_eq!(
        error,
        PlacementError::ReplicationFactor {
            replication_factor: 4,
            brokers: 3
        }
    );
    assert!(error.to_string().contains("INVALID_REPLICATION_FACTOR"));
    assert_eq!(
        assign_replicas(0, 1, &[1], 0, 0, 0),
        Err(PlacementError::Partitions)
    );
    assert_eq!(
        assign_replicas(2, 1, &[7], 0, 0, 0).unwrap(),
        vec![vec![7], vec![7]]
    );
}

#[test]
fn an_explicit_assignment_is_checked_as_kafka_checks_it() {
    let brokers = [1, 2, 3];
    assert_eq!(
        validate_assignment(&vec![vec![2, 3], vec![3, 1]], &brokers),
        Ok(())
    );
    let refused = |assignment: Vec<Vec<i32>>| {
        let error = validate_assignment(&assignment, &brokers).unwrap_err();
        assert!(
            error.to_string().ends_with("(INVALID_REPLICA_ASSIGNMENT)")
                || error == PlacementError::Partitions,
            "{error}"
        );
        error.to_string()
    };
    assert!(refused(vec![]).contains("INVALID_PARTITIONS"));
    assert!(refused(vec![vec![1, 2], vec![3]]).contains("same number"));
    assert!(refused(vec![vec![]]).contains("at least 1"));
    assert!(refused(vec![vec![2, 2]]).contains("broker twice"));
    assert!(refused(vec![vec![1, 4]]).contains("broker 4, which is not registered"));
}

#[test]
fn random_placement_comes_from_the_injected_source() {
    let a = assign_new_topic(6, 3, &[1, 2, 3], &mut SplitMix64::new(9)).unwrap();
    assert_eq!(
        a,
        assign_new_topic(6, 3, &[1, 2, 3], &mut SplitMix64::new(9)).unwrap()
    );
    let fixed = assign_new_topic(6, 3, &[1, 2, 3], &mut Scripted::new(vec![1, 2])).unwrap();
    assert_eq!(fixed, assign_replicas(6, 3, &[1, 2, 3], 1, 2, 0).unwrap());
}

#[test]
fn added_partitions_continue_the_pattern() {
    let existing = assign_replicas(3, 2, &[1, 2, 3], 0, 0, 0).unwrap();
    let added = assign_added_partitions(&existing, 3, &[1, 2, 3]).unwrap();
    assert_eq!(
        added,
        assign_replicas(6, 2, &[1, 2, 3], 0, 0, 0).unwrap()[3..].to_vec()
    );
}

#[test]
fn clean_election_takes_the_first_live_isr_replica_in_assignment_order() {
    let assignment = [3, 1, 2];
    let offline = ElectionKind::Offline {
        unclean_leader_election_enable: false,
    };
    let none = BTreeSet::new();
    let e = elect_leader(offline, &assignment, &set(&[1, 2, 3]), &set(&[1, 2]), &none).unwrap();
    assert_eq!(
        (e.leader, e.isr.clone(), e.unclean),
        (1, set(&[1, 2]), false)
    );
    // Only broker 3 is in the ISR and it is dead: with unclean election off, offline.
    assert_eq!(
        elect_leader(offline, &assignment, &set(&[3]), &set(&[1, 2]), &none),
        None
    );
    // With it on, the first live replica leads alone, and that is marked unclean.
    let unclean = ElectionKind::Offline {
        unclean_leader_election_enable: true,
    };
    let e = elect_leader(unclean, &assignment, &set(&[3]), &set(&[1, 2]), &none).unwrap();
    assert_eq!((e.leader, e.isr, e.unclean), (1, set(&[1]), true));
    // Nothing live at all: offline either way.
    assert_eq!(
        elect_leader(unclean, &assignment, &set(&[3]), &none, &none),
        None
    );
}

#[test]
fn preferred_and_controlled_shutdown_elections() {
    let assignment = [2, 1, 3];
    let all = set(&[1, 2, 3]);
    let none = BTreeSet::new();
    let e = elect_leader(ElectionKind::Preferred, &assignment, &all, &all, &none).unwrap();
    assert_eq!(e.leader, 2);
    assert_eq!(
        elect_leader(
            ElectionKind::Preferred,
            &assignment,
            &set(&[1, 3]),
            &all,
            &none
        ),
        None
    );
    let e = elect_leader(
        ElectionKind::ControlledShutdown,
        &assignment,
        &all,
        &all,
        &set(&[2]),
    )
    .unwrap();
    assert_eq!(
        (e.leader, e.isr),
        (1, set(&[1, 3])),
        "the broker shutting down leaves the ISR"
    );
}

fn state() -> LeaderAndIsr {
    LeaderAndIsr {
        leader: Some(1),
        leader_epoch: 4,
        isr: set(&[1, 2, 3]),
        partition_epoch: 10,
    }
}

#[test]
fn isr_changes_are_conditional_on_the_state_the_leader_read() {
    let live = set(&[1, 2, 3]);
    let shrink = IsrChange {
        leader: 1,
        leader_epoch: 4,
        new_isr: set(&[1, 2]),
        partition_epoch: 10,
    };
    let next = apply_isr_change(&state(), &shrink, &[1, 2, 3], &live).unwrap();
    assert_eq!(
        (next.isr.clone(), next.partition_epoch, next.leader_epoch),
        (set(&[1, 2]), 11, 4)
    );
    // The same request again is stale now.
    assert_eq!(
        apply_isr_change(&next, &shrink, &[1, 2, 3], &live),
        Err(IsrChangeRejected::InvalidUpdateVersion {
            current_partition_epoch: 11
        })
    );
    // A deposed leader is fenced.
    let elected = state().elected(
        &elect_leader(
            ElectionKind::Offline {
                unclean_leader_election_enable: false,
            },
            &[1, 2, 3],
            &set(&[1, 2, 3]),
            &set(&[2, 3]),
            &BTreeSet::new(),
        )
        .unwrap(),
    );
    assert_eq!(
        (
            elected.leader,
            elected.leader_epoch,
            elected.partition_epoch
        ),
        (Some(2), 5, 11)
    );
    let error = apply_isr_change(&elected, &shrink, &[1, 2, 3], &live).unwrap_err();
    assert_eq!(
        error,
        IsrChangeRejected::FencedLeaderEpoch {
            current_leader: Some(2),
            current_epoch: 5
        }
    );
    // Adding a dead broker, or one that is not a replica, is refused.
    let narrow = LeaderAndIsr {
        isr: set(&[1]),
        ..state()
    };
    let expand = IsrChange {
        new_isr: set(&[1, 3]),
        ..shrink.clone()
    };
    assert_eq!(
        apply_isr_change(&narrow, &expand, &[1, 2, 3], &set(&[1, 2])),
        Err(IsrChangeRejected::IneligibleReplica { broker: 3 })
    );
    let stranger = IsrChange {
        new_isr: set(&[1, 9]),
        ..shrink
    };
    assert_eq!(
        apply_isr_change(&state(), &stranger, &[1, 2, 3], &live),
        Err(IsrChangeRejected::IneligibleReplica { broker: 9 })
    );
}

#[test]
fn preferred_leaders_take_over_when_a_broker_is_imbalanced() {
    // Broker 1 prefers to lead 4 partitions and leads 3 of them: 25% > 10%.
    let mut partitions = BTreeMap::new();
    for p in 0..4 {
        let leader = if p == 3 { Some(2) } else { Some(1) };
        partitions.insert(("orders", p), (vec![1, 2, 3], leader));
    }
    partitions.insert(("orders", 4), (vec![2, 3, 1], Some(2)));
    let live = set(&[1, 2, 3]);
    let imbalanced = leader_imbalance(&partitions, &live, 10);
    assert_eq!(imbalanced, BTreeMap::from([(1, vec![("orders", 3)])]));
    assert!(
        leader_imbalance(&partitions, &live, 25).is_empty(),
        "25% is not above 25%"
    );
    assert!(
        leader_imbalance(&partitions, &set(&[2, 3]), 10).is_empty(),
        "broker 1 is down"
    );
}

#[test]
fn a_preferred_election_keeps_the_isr() {
    // PartitionStateMachine.leaderForPreferredReplica: leaderAndIsr.newLeader(leader).
    let isr = BTreeSet::from([1, 2, 3]);
    let election = elect_leader(
        ElectionKind::Preferred,
        &[1, 2, 3],
        &isr,
        &BTreeSet::from([1, 2]),
        &BTreeSet::new(),
    )
    .unwrap();
    assert_eq!((election.leader, election.isr), (1, isr));
}
