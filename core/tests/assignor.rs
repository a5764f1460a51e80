//! The assignors against the test vectors of Kafka's own tests (kafka-facts.md 4.4):
//! RangeAssignorTest, RoundRobinAssignorTest, AbstractStickyAssignorTest,
//! CooperativeStickyAssignorTest and the StickyAssignor javadoc examples.

use std::collections::BTreeMap;

use kafkasim_core::group::assignor::{Outcome, Strategy, Subscription, assign};
use kafkasim_core::protocol::TopicPartition;

/// `"t1-0"` is topic1 partition 0, `"t-2"` is topic partition 2, `"t0p1"` is t0 partition 1.
fn tp(name: &str) -> TopicPartition {
    if let Some((topic, p)) = name
        .split_once('p')
        .filter(|(t, _)| t.starts_with('t') && t.len() == 2)
    {
        return TopicPartition::new(topic, p.parse().unwrap());
    }
    let (topic, p) = name.rsplit_once('-').unwrap();
    let topic = match topic {
        "t" => "topic".to_string(),
        t => format!("topic{}", &t[1..]),
    };
    TopicPartition::new(&topic, p.parse().unwrap())
}

fn tps(names: &[&str]) -> Vec<TopicPartition> {
    names.iter().map(|n| tp(n)).collect()
}

fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

fn member(id: &str, topics: &[&str]) -> Subscription {
    Subscription {
        member_id: id.to_string(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        ..Subscription::default()
    }
}

fn owning(id: &str, topics: &[&str], owned: &[&str], generation: i32) -> Subscription {
    Subscription {
        owned: tps(owned),
        generation: Some(generation),
        ..member(id, topics)
    }
}

fn run(strategy: Strategy, t: &[(&str, u32)], members: &[Subscription]) -> Outcome {
    assign(strategy, &topics(t), members).unwrap()
}

fn expect(outcome: &Outcome, expected: &[(&str, &[&str])]) {
    let want: BTreeMap<String, Vec<TopicPartition>> = expected
        .iter()
        .map(|(m, p)| (m.to_string(), tps(p)))
        .collect();
    assert_eq!(outcome.assignment, want);
}

fn expect_sets(outcome: &Outcome, expected: &[(&str, &[&str])]) {
    let sorted = |mut v: Vec<TopicPartition>| {
        v.sort();
        v
    };
    let got: BTreeMap<String, Vec<TopicPartition>> = outcome
        .assignment
        .iter()
        .map(|(m, p)| (m.clone(), sorted(p.clone())))
        .collect();
    let want: BTreeMap<String, Vec<TopicPartition>> = expected
        .iter()
        .map(|(m, p)| (m.to_string(), sorted(tps(p))))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn range_r1_to_r5() {
    let r1 = run(
        Strategy::Range,
        &[("topic1", 3), ("topic2", 2)],
        &[
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ],
    );
    expect(
        &r1,
        &[
            ("consumer1", &["t1-0"]),
            ("consumer2", &["t1-1", "t2-0", "t2-1"]),
            ("consumer3", &["t1-2"]),
        ],
    );
    let both = ["topic1", "topic2"];
    let r2 = run(
        Strategy::Range,
        &[("topic1", 3), ("topic2", 3)],
        &[member("consumer1", &both), member("consumer2", &both)],
    );
    expect(
        &r2,
        &[
            ("consumer1", &["t1-0", "t1-1", "t2-0", "t2-1"]),
            ("consumer2", &["t1-2", "t2-2"]),
        ],
    );
    // Static members sort first.
    let r3 = run(
        Strategy::Range,
        &[("topic1", 3), ("topic2", 3)],
        &[
            Subscription {
                group_instance_id: Some("instance1".into()),
                ..member("consumer-b", &both)
            },
            member("consumer-a", &both),
        ],
    );
    expect(
        &r3,
        &[
            (
                "consumer-b",
                &["t1-0", "t1-1", "t2-0"][..2]
                    .iter()
                    .chain(&["t2-0", "t2-1"])
                    .copied()
                    .collect::<Vec<_>>(),
            ),
            ("consumer-a", &["t1-2", "t2-2"]),
        ],
    );
    let static_member = |id: &str, instance: &str| Subscription {
        group_instance_id: Some(instance.into()),
        ..member(id, &both)
    };
    let r4 = run(
        Strategy::Range,
        &[("topic1", 5), ("topic2", 4)],
        &[
            static_member("consumer1", "instance1"),
            static_member("consumer2", "instance2"),
            static_member("consumer3", "instance3"),
            member("consumer4", &both),
        ],
    );
    expect(
        &r4,
        &[
            ("consumer1", &["t1-0", "t1-1", "t2-0"]),
            ("consumer2", &["t1-2", "t2-1"]),
            ("consumer3", &["t1-3", "t2-2"]),
            ("consumer4", &["t1-4", "t2-3"]),
        ],
    );
    let r5 = run(
        Strategy::Range,
        &[("topic1", 1)],
        &[
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1"]),
        ],
    );
    expect(&r5, &[("consumer1", &["t1-0"]), ("consumer2", &[])]);
}

#[test]
fn roundrobin_rr1_to_rr3_and_the_javadoc_example() {
    let rr1 = run(
        Strategy::RoundRobin,
        &[("topic1", 3), ("topic2", 2)],
        &[
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ],
    );
    expect(
        &rr1,
        &[
            ("consumer1", &["t1-0"]),
            ("consumer2", &["t1-1", "t2-0", "t2-1"]),
            ("consumer3", &["t1-2"]),
        ],
    );
    let both = ["topic1", "topic2"];
    let rr2 = run(
        Strategy::RoundRobin,
        &[("topic1", 3), ("topic2", 3)],
        &[member("consumer1", &both), member("consumer2", &both)],
    );
    expect(
        &rr2,
        &[
            ("consumer1", &["t1-0", "t1-2", "t2-1"]),
            ("consumer2", &["t1-1", "t2-0", "t2-2"]),
        ],
    );
    let static_member = |id: &str, instance: &str| Subscription {
        group_instance_id: Some(instance.into()),
        ..member(id, &both)
    };
    let rr3 = run(
        Strategy::RoundRobin,
        &[("topic1", 3), ("topic2", 3)],
        &[
            static_member("consumer1", "instance1"),
            static_member("consumer2", "instance2"),
            static_member("consumer3", "instance3"),
            member("consumer4", &both),
        ],
    );
    expect(
        &rr3,
        &[
            ("consumer1", &["t1-0", "t2-1"]),
            ("consumer2", &["t1-1", "t2-2"]),
            ("consumer3", &["t1-2"]),
            ("consumer4", &["t2-0"]),
        ],
    );
    // RoundRobinAssignor javadoc: unequal subscriptions.
    let doc = run(
        Strategy::RoundRobin,
        &[("t0", 1), ("t1", 2), ("t2", 3)],
        &[
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ],
    );
    expect(
        &doc,
        &[
            ("C0", &["t0p0"]),
            ("C1", &["t1p0"]),
            ("C2", &["t1p1", "t2p0", "t2p1", "t2p2"]),
        ],
    );
}

const BOTH: [&str; 2] = ["topic1", "topic2"];

#[test]
fn sticky_s1_to_s4_both_variants() {
    for strategy in [Strategy::Sticky, Strategy::CooperativeSticky] {
        let s1 = run(
            strategy,
            &[("topic1", 3), ("topic2", 3)],
            &[member("consumer1", &BOTH), member("consumer2", &BOTH)],
        );
        expect(
            &s1,
            &[
                ("consumer1", &["t1-0", "t1-2", "t2-1"]),
                ("consumer2", &["t1-1", "t2-0", "t2-2"]),
            ],
        );
        let s2 = run(
            strategy,
            &[("topic1", 2), ("topic2", 3)],
            &[
                owning("consumer1", &BOTH, &["t1-0", "t2-1"], 1),
                owning("consumer2", &BOTH, &["t1-1", "t2-2"], 1),
            ],
        );
        expect(
            &s2,
            &[
                ("consumer1", &["t1-0", "t2-1", "t2-0"]),
                ("consumer2", &["t1-1", "t2-2"]),
            ],
        );
        assert!(s2.withheld.is_empty());
        let s4 = run(
            strategy,
            &[("topic1", 2), ("topic2", 3)],
            &[
                owning("consumer1", &BOTH, &["t1-0"], 1),
                owning("consumer2", &BOTH, &["t1-1"], 1),
                owning("consumer3", &BOTH, &[], 1),
            ],
        );
        expect(
            &s4,
            &[
                ("consumer1", &["t1-0", "t2-1"]),
                ("consumer2", &["t1-1", "t2-2"]),
                ("consumer3", &["t2-0"]),
            ],
        );
    }
    // S3: t2-0 moves from consumer1 to consumer3; cooperative withholds it for a round.
    let s3_members = [
        owning("consumer1", &BOTH, &["t1-0", "t2-0"], 1),
        owning("consumer2", &BOTH, &["t1-1", "t2-1"], 1),
        owning("consumer3", &BOTH, &[], 1),
    ];
    let eager = run(
        Strategy::Sticky,
        &[("topic1", 2), ("topic2", 2)],
        &s3_members,
    );
    expect(
        &eager,
        &[
            ("consumer1", &["t1-0"]),
            ("consumer2", &["t1-1", "t2-1"]),
            ("consumer3", &["t2-0"]),
        ],
    );
    let cooperative = run(
        Strategy::CooperativeSticky,
        &[("topic1", 2), ("topic2", 2)],
        &s3_members,
    );
    expect(
        &cooperative,
        &[
            ("consumer1", &["t1-0"]),
            ("consumer2", &["t1-1", "t2-1"]),
            ("consumer3", &[]),
        ],
    );
    assert_eq!(
        cooperative.withheld,
        BTreeMap::from([(tp("t2-0"), "consumer3".to_string())])
    );
}

#[test]
fn sticky_s5_add_then_remove_two_consumers() {
    let t = [("topic1", 3), ("topic2", 4)];
    let step1 = run(
        Strategy::Sticky,
        &t,
        &[member("consumer1", &BOTH), member("consumer2", &BOTH)],
    );
    expect(
        &step1,
        &[
            ("consumer1", &["t1-0", "t1-2", "t2-1", "t2-3"]),
            ("consumer2", &["t1-1", "t2-0", "t2-2"]),
        ],
    );
    let owned = |m: &str, o: &Outcome| -> Vec<String> {
        o.assignment[m]
            .iter()
            .map(|tp| format!("t{}-{}", &tp.topic[5..], tp.partition))
            .collect()
    };
    let c1 = owned("consumer1", &step1);
    let c2 = owned("consumer2", &step1);
    let step2 = run(
        Strategy::Sticky,
        &t,
        &[
            owning(
                "consumer1",
                &BOTH,
                &c1.iter().map(String::as_str).collect::<Vec<_>>(),
                1,
            ),
            owning(
                "consumer2",
                &BOTH,
                &c2.iter().map(String::as_str).collect::<Vec<_>>(),
                1,
            ),
            owning("consumer3", &BOTH, &[], 1),
            owning("consumer4", &BOTH, &[], 1),
        ],
    );
    expect(
        &step2,
        &[
            ("consumer1", &["t1-0", "t2-1"]),
            ("consumer2", &["t2-0", "t1-1"]),
            ("consumer3", &["t1-2", "t2-3"]),
            ("consumer4", &["t2-2"]),
        ],
    );
    let c3 = owned("consumer3", &step2);
    let c4 = owned("consumer4", &step2);
    let step3 = run(
        Strategy::Sticky,
        &t,
        &[
            owning(
                "consumer3",
                &BOTH,
                &c3.iter().map(String::as_str).collect::<Vec<_>>(),
                2,
            ),
            owning(
                "consumer4",
                &BOTH,
                &c4.iter().map(String::as_str).collect::<Vec<_>>(),
                2,
            ),
        ],
    );
    expect(
        &step3,
        &[
            ("consumer3", &["t1-2", "t2-3", "t1-0", "t2-1"]),
            ("consumer4", &["t2-2", "t1-1", "t2-0"]),
        ],
    );
}

#[test]
fn sticky_s6_to_s8_general_and_generations() {
    for strategy in [Strategy::Sticky, Strategy::CooperativeSticky] {
        let s6 = run(
            strategy,
            &[("topic1", 3), ("topic2", 2)],
            &[
                member("consumer1", &["topic1"]),
                member("consumer2", &["topic1", "topic2"]),
                member("consumer3", &["topic1"]),
            ],
        );
        expect(
            &s6,
            &[
                ("consumer1", &["t1-0", "t1-2"]),
                ("consumer2", &["t2-0", "t2-1"]),
                ("consumer3", &["t1-1"]),
            ],
        );
        let all3 = ["topic", "topic2", "topic3"];
        let s7 = run(
            strategy,
            &[("topic", 3), ("topic2", 3), ("topic3", 3)],
            &[
                owning("consumer1", &all3, &["t-0", "t2-0", "t3-0"], 10),
                owning("consumer2", &all3, &["t-1", "t2-1", "t3-1"], 9),
                owning("consumer3", &all3, &["t2-1", "t3-0", "t3-2"], 8),
            ],
        );
        expect_sets(
            &s7,
            &[
                ("consumer1", &["t-0", "t2-0", "t3-0"]),
                ("consumer2", &["t-1", "t2-1", "t3-1"]),
                ("consumer3", &["t-2", "t2-2", "t3-2"]),
            ],
        );
    }
    let two = ["topic", "topic2"];
    let s8 = run(
        Strategy::Sticky,
        &[("topic", 3), ("topic2", 3)],
        &[
            owning("consumer1", &two, &["t-0", "t2-1", "t-1"], 10),
            owning("consumer2", &two, &["t-0", "t2-1", "t2-2"], 8),
        ],
    );
    expect_sets(
        &s8,
        &[
            ("consumer1", &["t-0", "t2-1", "t-1"]),
            ("consumer2", &["t-2", "t2-2", "t2-0"]),
        ],
    );
}

#[test]
fn cooperative_c1_c2_contested_partitions_wait_a_round() {
    let members = |n| {
        vec![
            owning("consumer1", &["topic"], &["t-0", "t-1"], 1),
            owning("consumer2", &["topic"], &["t-0", "t-2"], 1),
            owning("consumer3", &["topic"], &[], 1),
        ]
        .into_iter()
        .map(move |m| (m, n))
    };
    let c1 = run(
        Strategy::CooperativeSticky,
        &[("topic", 3)],
        &members(3).map(|(m, _)| m).collect::<Vec<_>>(),
    );
    expect(
        &c1,
        &[
            ("consumer1", &["t-1"]),
            ("consumer2", &["t-2"]),
            ("consumer3", &[]),
        ],
    );
    let c2 = run(
        Strategy::CooperativeSticky,
        &[("topic", 4)],
        &members(4).map(|(m, _)| m).collect::<Vec<_>>(),
    );
    expect(
        &c2,
        &[
            ("consumer1", &["t-1", "t-3"]),
            ("consumer2", &["t-2"]),
            ("consumer3", &[]),
        ],
    );
}

#[test]
fn the_sticky_javadoc_examples() {
    let all = ["t0", "t1", "t2", "t3"];
    let t = [("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)];
    let start = run(
        Strategy::Sticky,
        &t,
        &[member("C0", &all), member("C1", &all), member("C2", &all)],
    );
    expect_sets(
        &start,
        &[
            ("C0", &["t0p0", "t1p1", "t3p0"]),
            ("C1", &["t0p1", "t2p0", "t3p1"]),
            ("C2", &["t1p0", "t2p1"]),
        ],
    );
    let as_owned = |m: &str| -> Vec<String> {
        start.assignment[m]
            .iter()
            .map(|tp| format!("{}p{}", tp.topic, tp.partition))
            .collect()
    };
    let (c0, c2) = (as_owned("C0"), as_owned("C2"));
    let after = run(
        Strategy::Sticky,
        &t,
        &[
            owning(
                "C0",
                &all,
                &c0.iter().map(String::as_str).collect::<Vec<_>>(),
                1,
            ),
            owning(
                "C2",
                &all,
                &c2.iter().map(String::as_str).collect::<Vec<_>>(),
                1,
            ),
        ],
    );
    // The javadoc, written for Kafka 0.11's algorithm, shows C0 taking t2p0; today's
    // constrained builder deals C1's partitions round robin to [C0, C2] in name order.
    // Its point holds either way: each survivor keeps all it had, and the load is even.
    expect(
        &after,
        &[
            // Kept partitions in Kafka's order: partition number first, then topic.
            ("C0", &["t0p0", "t3p0", "t1p1", "t0p1"]),
            ("C2", &["t1p0", "t2p1", "t2p0", "t3p1"]),
        ],
    );
    // Example 2: unequal subscriptions.
    let t2 = [("t0", 1), ("t1", 2), ("t2", 3)];
    let start = run(
        Strategy::Sticky,
        &t2,
        &[
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ],
    );
    expect_sets(
        &start,
        &[
            ("C0", &["t0p0"]),
            ("C1", &["t1p0", "t1p1"]),
            ("C2", &["t2p0", "t2p1", "t2p2"]),
        ],
    );
    let after = run(
        Strategy::Sticky,
        &t2,
        &[
            owning("C1", &["t0", "t1"], &["t1p0", "t1p1"], 1),
            owning("C2", &["t0", "t1", "t2"], &["t2p0", "t2p1", "t2p2"], 1),
        ],
    );
    expect_sets(
        &after,
        &[
            ("C1", &["t1p0", "t1p1", "t0p0"]),
            ("C2", &["t2p0", "t2p1", "t2p2"]),
        ],
    );
}

mod properties {
    use std::collections::{BTreeMap, BTreeSet};

    use kafkasim_core::group::assignor::{Outcome, Strategy as Assignor, Subscription, assign};
    use kafkasim_core::protocol::TopicPartition;
    use proptest::prelude::*;

    /// Topics t0.. with 1..=8 partitions, members m0.. subscribing to a non-empty subset
    /// (or all to every topic).
    fn group() -> impl Strategy<Value = (BTreeMap<String, u32>, Vec<Subscription>)> {
        (1usize..=4, 1usize..=6, any::<bool>()).prop_flat_map(|(topics, members, equal)| {
            (
                proptest::collection::vec(1u32..=8, topics),
                proptest::collection::vec(
                    proptest::collection::vec(any::<bool>(), topics),
                    members,
                ),
            )
                .prop_map(move |(counts, picks)| {
                    let topics: BTreeMap<String, u32> = counts
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (format!("t{i}"), *n))
                        .collect();
                    let names: Vec<String> = topics.keys().cloned().collect();
                    let members = picks
                        .iter()
                        .enumerate()
                        .map(|(i, pick)| {
                            let mut subscribed: Vec<String> = names
                                .iter()
                                .zip(pick)
                                .filter(|(_, p)| equal || **p)
                                .map(|(t, _)| t.clone())
                                .collect();
                            if subscribed.is_empty() {
                                subscribed.push(names[i % names.len()].clone());
                            }
                            Subscription {
                                member_id: format!("m{i}"),
                                topics: subscribed,
                                ..Subscription::default()
                            }
                        })
                        .collect();
                    (topics, members)
                })
        })
    }

    fn subscribed_partitions(
        topics: &BTreeMap<String, u32>,
        members: &[Subscription],
    ) -> BTreeSet<TopicPartition> {
        topics
            .iter()
            .filter(|(t, _)| members.iter().any(|m| m.topics.contains(t)))
            .flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t, p)))
            .collect()
    }

    /// Every subscribed partition exactly once (assigned or withheld), each to a member
    /// that subscribes to its topic.
    fn check_exclusive(topics: &BTreeMap<String, u32>, members: &[Subscription], out: &Outcome) {
        let mut seen = BTreeSet::new();
        for (member, list) in &out.assignment {
            let m = members
                .iter()
                .find(|m| &m.member_id == member)
                .expect("a member");
            for tp in list {
                assert!(
                    m.topics.contains(&tp.topic),
                    "{member} got {tp} without subscribing"
                );
                assert!(seen.insert(tp.clone()), "{tp} assigned twice");
            }
        }
        for tp in out.withheld.keys() {
            assert!(seen.insert(tp.clone()), "{tp} both assigned and withheld");
        }
        assert_eq!(seen, subscribed_partitions(topics, members));
    }

    fn spread(out: &Outcome) -> usize {
        let sizes: Vec<usize> = out.assignment.values().map(Vec::len).collect();
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap()
    }

    /// The next round: every member owns what it was given, one generation later.
    fn next_round(members: &[Subscription], out: &Outcome, generation: i32) -> Vec<Subscription> {
        members
            .iter()
            .map(|m| Subscription {
                owned: out.assignment[&m.member_id].clone(),
                generation: Some(generation),
                ..m.clone()
            })
            .collect()
    }

    proptest! {
        #[test]
        fn every_partition_is_assigned_exactly_once((topics, members) in group()) {
            for strategy in Assignor::ALL {
                let out = assign(strategy, &topics, &members).unwrap();
                check_exclusive(&topics, &members, &out);
            }
        }

        #[test]
        fn equal_subscriptions_are_balanced_within_one((topics, members) in group()) {
            let all: BTreeSet<&String> = members[0].topics.iter().collect();
            prop_assume!(members.iter().all(|m| m.topics.iter().collect::<BTreeSet<_>>() == all));
            for strategy in [Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky] {
                let out = assign(strategy, &topics, &members).unwrap();
                prop_assert!(spread(&out) <= 1, "{strategy:?}: {:?}", out.assignment);
            }
            // Range balances each topic on its own.
            let out = assign(Assignor::Range, &topics, &members).unwrap();
            for topic in topics.keys() {
                let counts: Vec<usize> = out.assignment.values().map(|l| l.iter().filter(|tp| &tp.topic == topic).count()).collect();
                prop_assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
            }
        }

        #[test]
        fn sticky_keeps_what_its_quota_allows_when_members_join((topics, members) in group(), joining in 1usize..=3) {
            let all: BTreeSet<&String> = members[0].topics.iter().collect();
            prop_assume!(members.iter().all(|m| m.topics.iter().collect::<BTreeSet<_>>() == all));
            let first = assign(Assignor::Sticky, &topics, &members).unwrap();
            let mut next = next_round(&members, &first, 1);
            for j in 0..joining {
                next.push(Subscription { member_id: format!("new{j}"), generation: Some(1), ..members[0].clone() });
            }
            let second = assign(Assignor::Sticky, &topics, &next).unwrap();
            let total: usize = subscribed_partitions(&topics, &next).len();
            let min_quota = total / next.len();
            for m in &members {
                let kept = second.assignment[&m.member_id].iter().filter(|tp| first.assignment[&m.member_id].contains(tp)).count();
                prop_assert!(kept >= first.assignment[&m.member_id].len().min(min_quota),
                    "{} kept {kept} of {:?}", m.member_id, first.assignment[&m.member_id]);
            }
        }

        #[test]
        fn cooperative_rebalances_converge_without_withheld_partitions((topics, members) in group(), leaving in 0usize..=2) {
            let first = assign(Assignor::CooperativeSticky, &topics, &members).unwrap();
            let mut current = next_round(&members, &first, 1);
            let keep = current.len().saturating_sub(leaving).max(1);
            current.truncate(keep);
            current.push(Subscription { member_id: "joiner".into(), generation: Some(1), ..members[0].clone() });
            // Kafka's test allows up to 4 rebalances for the revocations to settle.
            let mut settled = false;
            for generation in 2..6 {
                let out = assign(Assignor::CooperativeSticky, &topics, &current).unwrap();
                check_exclusive(&topics, &current, &out);
                if out.withheld.is_empty() {
                    settled = true;
                    break;
                }
                current = next_round(&current, &out, generation);
            }
            prop_assert!(settled, "still withholding after 4 rebalances");
        }
    }
}
