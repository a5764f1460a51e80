//! Building a cluster: brokers, ZooKeeper, topics, until every partition has a leader.

use super::*;

/// How to build a cluster.
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    pub brokers: i32,
    pub broker: BrokerConfig,
    pub link: LinkConfig,
    pub topics: Vec<TopicSpec>,
    pub invariants: Invariants,
    /// Keep every core event in the trace (off for benchmarks).
    pub trace_events: bool,
    /// How many delivered messages snapshots show (the TUI's space-time view; 0: none).
    pub recent_messages: usize,
    /// This broker starts alone and the others start once it holds /controller: in
    /// ZooKeeper mode the first broker up creates /controller (`KafkaController.elect`).
    /// None: all start together and the seed decides who wins.
    pub first_controller: Option<BrokerId>,
}

impl ClusterBuilder {
    /// `brokers` brokers numbered 1..=brokers, Kafka's defaults, 1-5 ms links, replica
    /// invariants checked after every step.
    pub fn new(brokers: i32) -> ClusterBuilder {
        ClusterBuilder {
            brokers,
            broker: BrokerConfig::default(),
            link: LinkConfig::default(),
            topics: Vec::new(),
            invariants: Invariants::Panic,
            trace_events: true,
            recent_messages: 0,
            first_controller: None,
        }
    }

    /// A topic with the default topic config.
    pub fn topic(self, name: &str, partitions: u32, replication_factor: usize) -> ClusterBuilder {
        let config = self.broker.default_topic_config.clone();
        self.topic_with(name, partitions, replication_factor, config)
    }

    pub fn topic_with(
        mut self,
        name: &str,
        partitions: u32,
        replication_factor: usize,
        config: TopicConfig,
    ) -> ClusterBuilder {
        self.topics.push(TopicSpec {
            name: name.to_string(),
            partitions,
            replication_factor,
            replica_assignment: None,
            config,
        });
        self
    }

    /// `min.insync.replicas` for topics added after this call.
    pub fn min_insync_replicas(mut self, n: usize) -> ClusterBuilder {
        self.broker.default_topic_config.min_insync_replicas = n;
        self
    }

    /// `unclean.leader.election.enable` for topics added after this call.
    pub fn unclean_leader_election(mut self, enable: bool) -> ClusterBuilder {
        self.broker
            .default_topic_config
            .unclean_leader_election_enable = enable;
        self
    }

    /// The follower truncation rule: leader epochs (default) or the pre-0.11 HW rule.
    pub fn replication_protocol(mut self, protocol: TruncationProtocol) -> ClusterBuilder {
        self.broker.replication_protocol = protocol;
        self
    }

    pub fn broker_config(mut self, edit: impl FnOnce(&mut BrokerConfig)) -> ClusterBuilder {
        edit(&mut self.broker);
        self
    }

    pub fn link(mut self, link: LinkConfig) -> ClusterBuilder {
        self.link = link;
        self
    }

    pub fn invariants(mut self, invariants: Invariants) -> ClusterBuilder {
        self.invariants = invariants;
        self
    }

    pub fn trace_events(mut self, on: bool) -> ClusterBuilder {
        self.trace_events = on;
        self
    }

    /// Starts ZooKeeper and the brokers, waits until every broker registered and a
    /// controller loaded the cluster, then creates the topics and waits until each
    /// partition has a leader. Call inside a simulation.
    pub async fn start(self) -> Cluster {
        let net: Network<Message> = Network::new(self.link)
            .with_disconnect_notices(|_| Message::ConnectionLost)
            .keep_recent(self.recent_messages);
        let world = Arc::new(World {
            net: net.clone(),
            brokers: Mutex::new(BTreeMap::new()),
            trace: Mutex::new(Vec::new()),
            invariants: self.invariants,
            trace_events: self.trace_events,
            verified: Mutex::new(kafkasim_core::invariants::VerifiedLogs::default()),
        });
        let admin_inbox = net.register(FIRST_CLIENT);
        let mut cluster = Cluster {
            handle: Handle::current(),
            world,
            config: self.broker.clone(),
            nodes: BTreeMap::new(),
            down: BTreeMap::new(),
            down_replicas: BTreeMap::new(),
            paused: BTreeSet::new(),
            producers: BTreeMap::new(),
            consumers: BTreeMap::new(),
            consumer_names: BTreeMap::new(),
            kafka_producers: BTreeMap::new(),
            consumer_histories: BTreeMap::new(),
            admin_inbox,
            next_client: FIRST_CLIENT + 1,
            admin: AdminClient::new(
                AdminConfig {
                    bootstrap: (1..=self.brokers).collect(),
                    ..AdminConfig::default()
                },
                SimRng.next_seed(),
            ),
            broker_ids: (1..=self.brokers).collect(),
            admin_history: Vec::new(),
            zookeeper: Arc::new(Mutex::new(Some(ZooKeeper::new()))),
        };
        cluster.spawn_node(ZOOKEEPER, "zookeeper", cluster.zookeeper.clone());
        if let Some(first) = self.first_controller {
            cluster.start_broker(first, BrokerDisk::default());
            cluster
                .wait_until(60_000, |s| s.controller.map(|(b, _)| b) == Some(first))
                .await
                .expect("a broker alone wins the controller election within a minute");
        }
        for id in 1..=self.brokers {
            if Some(id) != self.first_controller {
                cluster.start_broker(id, BrokerDisk::default());
            }
        }
        cluster
            .wait_until(60_000, |s| {
                s.controller.is_some()
                    && s.brokers.values().all(|b| b.registered)
                    // Brokers that started after the controller: it has seen them.
                    && self.first_controller.is_none_or(|first| {
                        s.brokers.values().all(|b| b.known_controller == Some(first))
                    })
            })
            .await
            .expect("the brokers register and elect a controller within a minute");
        for topic in &self.topics {
            cluster
                .create_topic_spec(topic)
                .await
                .unwrap_or_else(|e| panic!("topic {}: {e}", topic.name));
        }
        cluster
    }
}
