//! Brokers, the controller and ZooKeeper wired together in memory: messages are
//! delivered in time order with a fixed 1 ms latency, timers fire when due. No madsim:
//! protocol bugs show up here in microseconds. The simulation proper is in `sim`.

use kafkasim_core::actor::{Actor, Outbox};
use std::collections::{BTreeMap, BTreeSet};

use kafkasim_core::broker::{Broker, BrokerConfig, BrokerDisk};
use kafkasim_core::event::{ElectionReason, Event, EventKind};
use kafkasim_core::partition::Acks;
use kafkasim_core::protocol::{
    ConsumerFetch, CreateTopic, FIRST_CLIENT, Message, NodeId, ProduceRequest, TopicConfig,
    TopicPartition, ZOOKEEPER,
};
use kafkasim_core::record::Record;
use kafkasim_core::zookeeper::ZooKeeper;

const CLIENT: NodeId = FIRST_CLIENT;

enum Node {
    Zk(ZooKeeper),
    Broker(Box<Broker>),
}

impl Node {
    fn actor(&mut self) -> &mut dyn Actor<Event = Event> {
        match self {
            Node::Zk(z) => z,
            Node::Broker(b) => b.as_mut(),
        }
    }
}

struct Harness {
    now_ms: i64,
    nodes: BTreeMap<NodeId, Node>,
    /// (deliver at, sequence) -> (from, to, message)
    queue: BTreeMap<(i64, u64), (NodeId, NodeId, Message)>,
    seq: u64,
    events: Vec<Event>,
    client_inbox: Vec<Message>,
    /// Links that drop everything: (from, to).
    cut: BTreeSet<(NodeId, NodeId)>,
    config: BrokerConfig,
    /// What the invariant check already compared.
    verified: kafkasim_core::invariants::VerifiedLogs,
}

impl Harness {
    fn new(brokers: i32, config: BrokerConfig) -> Harness {
        let mut h = Harness {
            now_ms: 0,
            nodes: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            events: Vec::new(),
            client_inbox: Vec::new(),
            cut: BTreeSet::new(),
            config,
            verified: Default::default(),
        };
        h.nodes.insert(ZOOKEEPER, Node::Zk(ZooKeeper::new()));
        for id in 1..=brokers {
            h.start_broker(id, BrokerDisk::default());
        }
        h
    }

    fn start_broker(&mut self, id: i32, disk: BrokerDisk) {
        let mut out = Outbox::default();
        let broker = Broker::start(
            id,
            self.config.clone(),
            disk,
            id as u64,
            self.now_ms,
            &mut out,
        );
        self.nodes.insert(id, Node::Broker(Box::new(broker)));
        self.dispatch(id, out);
    }

    fn dispatch(&mut self, from: NodeId, out: Outbox<Event>) {
        self.events.extend(out.events);
        for (to, message) in out.sends {
            if self.cut.contains(&(from, to)) {
                continue;
            }
            self.seq += 1;
            self.queue
                .insert((self.now_ms + 1, self.seq), (from, to, message));
        }
    }

    fn broker(&self, id: i32) -> &Broker {
        match &self.nodes[&id] {
            Node::Broker(b) => b,
            Node::Zk(_) => panic!("node {id} is not a broker"),
        }
    }

    fn send(&mut self, to: NodeId, message: Message) {
        let out = Outbox {
            sends: vec![(to, message)],
            events: Vec::new(),
        };
        self.dispatch(CLIENT, out);
    }

    /// Runs until `until_ms`, delivering messages and firing timers in time order.
    fn run_until(&mut self, until_ms: i64) {
        loop {
            let next_message = self.queue.keys().next().map(|k| k.0);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|(&id, n)| {
                    let t = match n {
                        Node::Zk(z) => z.next_timer_ms(),
                        Node::Broker(b) => b.next_timer_ms(),
                    };
                    t.map(|t| (t.max(self.now_ms), id))
                })
                .min();
            let message_first = match (next_message, next_timer) {
                (Some(m), Some((t, _))) => m <= t,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return,
            };
            let at = if message_first {
                next_message.unwrap()
            } else {
                next_timer.unwrap().0
            };
            if at > until_ms {
                self.now_ms = until_ms;
                return;
            }
            self.now_ms = at;
            if message_first {
                let key = *self.queue.keys().next().unwrap();
                let (from, to, message) = self.queue.remove(&key).unwrap();
                if to == CLIENT {
                    self.client_inbox.push(message);
                    continue;
                }
                let Some(node) = self.nodes.get_mut(&to) else {
                    continue;
                };
                let mut out = Outbox::default();
                node.actor().handle(at, from, message, &mut out);
                self.dispatch(to, out);
            } else {
                let id = next_timer.unwrap().1;
                let mut out = Outbox::default();
                self.nodes.get_mut(&id).unwrap().actor().tick(at, &mut out);
                self.dispatch(id, out);
            }
            self.check_invariants();
        }
    }

    /// The replica invariants, as sim checks them (`kafkasim_core::invariants`).
    fn check_invariants(&mut self) {
        let brokers: Vec<&Broker> = self
            .nodes
            .values()
            .filter_map(|n| match n {
                Node::Broker(b) => Some(b.as_ref()),
                _ => None,
            })
            .collect();
        let violations = kafkasim_core::invariants::violations(&brokers, &mut self.verified);
        assert!(
            violations.is_empty(),
            "at {} ms: {violations:#?}",
            self.now_ms
        );
    }

    fn controller(&self) -> Option<i32> {
        self.nodes.values().find_map(|n| match n {
            Node::Broker(b) if b.controller().is_some_and(|c| c.is_loaded()) => Some(b.id()),
            _ => None,
        })
    }

    fn create_topic(&mut self, name: &str, partitions: u32, rf: usize, config: TopicConfig) {
        let controller = self.controller().expect("a controller");
        self.send(
            controller,
            Message::CreateTopic(CreateTopic {
                correlation_id: 1,
                name: name.to_string(),
                partitions,
                replication_factor: rf,
                replica_assignment: None,
                config,
            }),
        );
    }

    fn leader_of(&self, tp: &TopicPartition) -> Option<i32> {
        self.nodes.values().find_map(|n| match n {
            Node::Broker(b)
                if b.replicas()
                    .get(tp)
                    .is_some_and(|r| r.partition.is_leader()) =>
            {
                Some(b.id())
            }
            _ => None,
        })
    }

    fn crash(&mut self, id: i32) -> BrokerDisk {
        let Some(Node::Broker(b)) = self.nodes.remove(&id) else {
            panic!("no broker {id}")
        };
        // A process crash: everything written survives.
        let mut disk = BrokerDisk {
            high_watermarks: b.high_watermark_checkpoint().clone(),
            ..BrokerDisk::default()
        };
        for (tp, p) in b.logs() {
            disk.logs.insert(
                tp.clone(),
                kafkasim_core::broker::log_disk(p, |s| s.log_bytes().to_vec()),
            );
        }
        self.queue
            .retain(|_, (from, to, _)| *from != id && *to != id);
        disk
    }

    fn explained(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| format!("{:>6} {:?}", e.time_ms, e.kind))
            .collect()
    }
}

fn produce(h: &mut Harness, tp: &TopicPartition, correlation_id: u64, value: &str, acks: Acks) {
    let leader = h.leader_of(tp).expect("a leader");
    h.send(
        leader,
        Message::Produce(ProduceRequest {
            correlation_id,
            tp: tp.clone(),
            records: vec![Record::new(0, None, Some(value.as_bytes()))],
            acks,
            timeout_ms: 30_000,
            producer: None,
        }),
    );
}

fn replies(h: &mut Harness) -> BTreeMap<u64, Result<i64, String>> {
    h.client_inbox
        .drain(..)
        .filter_map(|m| match m {
            Message::ProduceReply(r) => {
                Some((r.correlation_id, r.result.map_err(|e| e.code().to_string())))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_cluster_elects_a_controller_creates_a_topic_and_commits_acks_all_writes() {
    let mut h = Harness::new(3, BrokerConfig::default());
    h.run_until(100);
    let controller = h.controller().expect("a controller is elected");
    for id in 1..=3 {
        assert!(h.broker(id).is_registered(), "broker {id} registered");
        assert_eq!(h.broker(id).known_controller(), Some(controller));
    }
    let config = TopicConfig {
        min_insync_replicas: 2,
        ..TopicConfig::default()
    };
    h.create_topic("orders", 2, 3, config);
    h.run_until(200);
    let tp = TopicPartition::new("orders", 0);
    let leader = h.leader_of(&tp).expect("orders-0 has a leader");
    produce(&mut h, &tp, 7, "hello", Acks::All);
    h.run_until(2_000);
    let replies = replies(&mut h);
    assert_eq!(replies.get(&7), Some(&Ok(0)), "{:#?}", h.explained());
    for id in 1..=3 {
        let p = &h.broker(id).replicas()[&tp].partition;
        assert_eq!(p.log_end_offset(), 1, "broker {id} has the record");
        assert_eq!(p.high_watermark(), 1, "broker {id} learned the HW");
    }
    assert_eq!(
        h.broker(leader).replicas()[&tp]
            .partition
            .isr()
            .unwrap()
            .len(),
        3
    );
    let text = h.explained().join("\n");
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ControllerElected { .. })),
        "{text}"
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::TopicCreated { topic, .. } if topic == "orders")),
        "{text}"
    );
}

#[test]
fn a_dead_leader_is_replaced_from_the_isr_and_its_session_expiry_is_narrated() {
    let mut h = Harness::new(3, BrokerConfig::default());
    h.run_until(100);
    h.create_topic("orders", 1, 3, TopicConfig::default());
    h.run_until(200);
    let tp = TopicPartition::new("orders", 0);
    let old = h.leader_of(&tp).unwrap();
    produce(&mut h, &tp, 1, "a", Acks::All);
    h.run_until(1_000);
    assert_eq!(replies(&mut h).get(&1), Some(&Ok(0)));
    h.crash(old);
    // zookeeper.session.timeout.ms = 18000: until it passes nobody leads.
    h.run_until(10_000);
    assert_eq!(h.leader_of(&tp), None);
    h.run_until(25_000);
    let new = h.leader_of(&tp).expect("a new leader");
    assert_ne!(new, old);
    let p = &h.broker(new).replicas()[&tp].partition;
    assert_eq!(p.leader_epoch(), 1);
    assert!(!p.isr().unwrap().contains(&old));
    let text = h.explained().join("\n");
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::SessionExpired { client, .. } if client == old)),
        "{text}"
    );
    assert!(
        h.events.iter().any(|e| matches!(
            e.kind,
            EventKind::LeaderElected {
                reason: ElectionReason::LeaderFailed { previous },
                ..
            } if previous == old
        )),
        "{text}"
    );
    produce(&mut h, &tp, 2, "b", Acks::All);
    h.run_until(26_000);
    assert_eq!(replies(&mut h).get(&2), Some(&Ok(1)), "{text}");
}

#[test]
fn a_restarted_broker_rejoins_the_isr() {
    let mut h = Harness::new(3, BrokerConfig::default());
    h.run_until(100);
    h.create_topic("orders", 1, 3, TopicConfig::default());
    h.run_until(200);
    let tp = TopicPartition::new("orders", 0);
    let leader = h.leader_of(&tp).unwrap();
    let follower = (1..=3)
        .find(|&b| b != leader && Some(b) != h.controller())
        .unwrap_or((leader % 3) + 1);
    let disk = h.crash(follower);
    for n in 0..5 {
        produce(&mut h, &tp, n, "x", Acks::Leader);
    }
    h.run_until(40_000);
    let isr = h.broker(leader).replicas()[&tp]
        .partition
        .isr()
        .unwrap()
        .clone();
    assert!(
        !isr.contains(&follower),
        "{isr:?}\n{}",
        h.explained().join("\n")
    );
    h.start_broker(follower, disk);
    h.run_until(60_000);
    let isr = h.broker(leader).replicas()[&tp]
        .partition
        .isr()
        .unwrap()
        .clone();
    assert!(
        isr.contains(&follower),
        "{isr:?}\n{}",
        h.explained().join("\n")
    );
    assert_eq!(
        h.broker(follower).replicas()[&tp]
            .partition
            .log_end_offset(),
        5
    );
}

#[test]
fn followers_refuse_produce_and_consumer_fetch_and_acks_0_gets_no_answer() {
    let mut h = Harness::new(3, BrokerConfig::default());
    h.run_until(100);
    h.create_topic("orders", 1, 3, TopicConfig::default());
    h.run_until(200);
    let tp = TopicPartition::new("orders", 0);
    let leader = h.leader_of(&tp).unwrap();
    let follower = (1..=3).find(|&b| b != leader).unwrap();
    h.send(
        follower,
        Message::Produce(ProduceRequest {
            correlation_id: 1,
            tp: tp.clone(),
            records: vec![Record::new(0, None, Some(b"x"))],
            acks: Acks::Leader,
            timeout_ms: 30_000,
            producer: None,
        }),
    );
    h.send(
        follower,
        Message::Fetch(ConsumerFetch {
            correlation_id: 2,
            tp: tp.clone(),
            offset: 0,
            max_bytes: 1024,
        }),
    );
    produce(&mut h, &tp, 3, "fire-and-forget", Acks::None);
    h.run_until(1_000);
    let mut produce_codes = Vec::new();
    let mut fetch_codes = Vec::new();
    for message in h.client_inbox.drain(..) {
        match message {
            Message::ProduceReply(r) => {
                produce_codes.push((r.correlation_id, r.result.map_err(|e| e.code())))
            }
            Message::FetchReply(r) => {
                fetch_codes.push((r.correlation_id, r.result.map(|_| ()).map_err(|e| e.code())))
            }
            _ => {}
        }
    }
    assert_eq!(
        produce_codes,
        [(1, Err("NOT_LEADER_OR_FOLLOWER"))],
        "acks=0 (3) is not answered"
    );
    assert_eq!(fetch_codes, [(2, Err("NOT_LEADER_OR_FOLLOWER"))]);
    let p = &h.broker(leader).replicas()[&tp].partition;
    assert_eq!(p.log_end_offset(), 1, "the acks=0 record was written");
    assert_eq!(p.high_watermark(), 1, "and replicated");
}

#[test]
fn a_broker_that_knows_the_topic_but_holds_no_replica_answers_not_leader_or_follower() {
    // ReplicaManager.getPartitionOrError: the topic is in its metadata cache, the
    // partition is not on this broker: NOT_LEADER_OR_FOLLOWER (the client refreshes its
    // metadata); a partition it has never heard of: UNKNOWN_TOPIC_OR_PARTITION.
    let mut h = Harness::new(3, BrokerConfig::default());
    h.run_until(100);
    h.create_topic("orders", 3, 1, TopicConfig::default());
    h.run_until(300);
    let tp = TopicPartition::new("orders", 0);
    let leader = h.leader_of(&tp).unwrap();
    let other = (1..=3).find(|&b| b != leader).unwrap();
    assert!(!h.broker(other).replicas().contains_key(&tp));
    for (correlation_id, tp) in [(1, tp.clone()), (2, TopicPartition::new("orders", 9))] {
        h.send(
            other,
            Message::Produce(ProduceRequest {
                correlation_id,
                tp,
                records: vec![Record::new(0, None, Some(b"x"))],
                acks: Acks::Leader,
                timeout_ms: 30_000,
                producer: None,
            }),
        );
    }
    h.run_until(1_000);
    let replies = replies(&mut h);
    assert_eq!(replies[&1], Err("NOT_LEADER_OR_FOLLOWER".to_string()));
    assert_eq!(replies[&2], Err("UNKNOWN_TOPIC_OR_PARTITION".to_string()));
}
