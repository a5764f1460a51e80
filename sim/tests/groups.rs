//! Consumer groups on the simulated cluster: the coordinator hosted by the leader of the
//! group's `__consumer_offsets` partition, its records replicated like any partition,
//! and a new coordinator finding the group and its offsets after the old one dies.

mod common;

use common::{kafka_2_4_timeouts, orders};
use kafkasim_core::group::assignor::Subscription;
use kafkasim_core::group::coordinator::{GroupError, JoinGroup, SyncGroup};
use kafkasim_core::group::storage::{OFFSETS_TOPIC, partition_for_group};
use kafkasim_core::protocol::{GroupRequest, GroupResponse, TopicPartition};
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
        let new_coordinator = c.find_coordinator(GROUP, 60_000).await.unwrap();
        assert_ne!(new_coordinator, coordinator);
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
        assert!(
            c.timeline()
                .contains("loaded from __consumer_offsets in generation 1"),
            "{}",
            c.timeline()
        );
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
