//! A Kafka cluster on madsim: one madsim node per broker, one for ZooKeeper, one per
//! client, all talking over kafkasim's bus ([`crate::net`]). Each node runs one core
//! state machine: the runner feeds it messages and due timers and sends what it says.
//!
//! A broker's state lives outside its node's tasks, so killing the node (a crash)
//! leaves the disk behind: [`crate::disk`] decides what of it survives, and a restart
//! starts a new broker on that.
//!
//! Build one with [`ClusterBuilder`] inside a simulation ([`crate::runtime::run_seeded`]):
//!
//! ```ignore
//! let mut cluster = ClusterBuilder::new(3).topic("orders", 1, 3).start().await;
//! cluster.crash(1, Crash::Process);
//! cluster.sleep_ms(30_000).await;
//! let snapshot = cluster.snapshot();
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafkasim_core::broker::{Broker, BrokerConfig, BrokerDisk, log_disk};
use kafkasim_core::client::consumer::{Consumer, ConsumerConfig, ConsumerHistory};
use kafkasim_core::client::producer::{Producer, ProducerConfig as ClientProducerConfig};
use kafkasim_core::controller::Assignment;
use kafkasim_core::partition::{Acks, TruncationProtocol};
use kafkasim_core::protocol::{
    Actor, ClientError, ConsumerFetch, CreateTopic, FIRST_CLIENT, GroupRequest, GroupResponse,
    Message, NodeId, Outbox, ProduceRequest, TopicConfig, TopicPartition, ZOOKEEPER,
};
use kafkasim_core::record::Record;
use kafkasim_core::replication::BrokerId;
use kafkasim_core::rng::RandomSource;
use kafkasim_core::workload::{Outcome, ProducerConfig, ProducerStats, TestProducer, WriteOp};
use kafkasim_core::zookeeper::ZooKeeper;
use madsim::runtime::{Handle, NodeHandle};

use crate::disk::{Crash, surviving_segments};
use crate::net::{Envelope, LinkConfig, Network};
use crate::rng::SimRng;
use crate::snapshot::{self, BrokerStatus, ClusterSnapshot, InFlight, NetworkSnapshot};
use crate::trace::{Injected, TraceEntry};

/// What to do when a replica invariant fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invariants {
    Off,
    /// Record the violation in the trace (lessons that show a violation on purpose).
    Record,
    /// Panic at once: a broken invariant must fail loudly.
    Panic,
}

/// A topic to create (`kafka-topics.sh --create`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: usize,
    /// `--replica-assignment`: each partition's replicas, preferred leader first; when
    /// given it decides the partition count and replication factor.
    pub replica_assignment: Option<Assignment>,
    pub config: TopicConfig,
}

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
            paused: BTreeSet::new(),
            producers: BTreeMap::new(),
            consumers: BTreeMap::new(),
            consumer_names: BTreeMap::new(),
            kafka_producers: BTreeMap::new(),
            consumer_histories: BTreeMap::new(),
            admin_inbox,
            next_client: FIRST_CLIENT + 1,
            next_correlation: 1,
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

/// What every node runner shares.
struct World {
    net: Network<Message>,
    /// Each broker's state; None while it is down.
    brokers: Mutex<BTreeMap<BrokerId, Slot<Broker>>>,
    trace: Mutex<Vec<TraceEntry>>,
    invariants: Invariants,
    trace_events: bool,
    /// What the invariant check already compared, so each step reads only new records.
    verified: Mutex<kafkasim_core::invariants::VerifiedLogs>,
}

type Slot<A> = Arc<Mutex<Option<A>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
        .expect("no simulation code panics while holding a lock")
}

impl World {
    fn record(&self, entry: TraceEntry) {
        lock(&self.trace).push(entry);
    }

    /// Runs the replica invariants over every broker that is up.
    fn check_invariants(&self, now_ms: i64) {
        if self.invariants == Invariants::Off {
            return;
        }
        let slots: Vec<Slot<Broker>> = lock(&self.brokers).values().cloned().collect();
        let guards: Vec<MutexGuard<'_, Option<Broker>>> = slots.iter().map(|s| lock(s)).collect();
        let brokers: Vec<&Broker> = guards.iter().filter_map(|g| g.as_ref()).collect();
        let mut verified = lock(&self.verified);
        for violation in kafkasim_core::invariants::violations(&brokers, &mut verified) {
            let violation = crate::narrate::violation(&violation);
            match self.invariants {
                Invariants::Panic => panic!("at {now_ms} ms: invariant violated: {violation}"),
                Invariants::Record => {
                    let mut trace = lock(&self.trace);
                    // One line per distinct violation, not one per step.
                    let seen = trace.iter().any(
                        |e| matches!(e, TraceEntry::Violation { text, .. } if *text == violation),
                    );
                    if !seen {
                        trace.push(TraceEntry::Violation {
                            time_ms: now_ms,
                            text: violation,
                        });
                    }
                }
                Invariants::Off => {}
            }
        }
    }
}

/// Feeds one actor its messages and due timers, forever (until its node is killed).
async fn run_node<A: Actor + Send + 'static>(
    addr: NodeId,
    slot: Slot<A>,
    inbox: async_channel::Receiver<Envelope<Message>>,
    world: Arc<World>,
) {
    loop {
        let now_ms = world.net.now_ms();
        let next = match lock(&slot).as_ref() {
            Some(actor) => actor.next_timer_ms(),
            None => return,
        };
        let first = match next {
            Some(at) if at <= now_ms => None,
            Some(at) => {
                let wait = Duration::from_millis((at - now_ms) as u64);
                match madsim::time::timeout(wait, inbox.recv()).await {
                    Ok(Ok(envelope)) => Some(envelope),
                    Ok(Err(_)) => return,
                    Err(_) => None,
                }
            }
            None => match inbox.recv().await {
                Ok(envelope) => Some(envelope),
                Err(_) => return,
            },
        };
        let now_ms = world.net.now_ms();
        let mut out = Outbox::default();
        let ticked = {
            let mut guard = lock(&slot);
            let Some(actor) = guard.as_mut() else {
                return;
            };
            let ticked = match first {
                Some(envelope) => {
                    actor.handle(now_ms, envelope.from, envelope.message, &mut out);
                    false
                }
                None => {
                    actor.tick(now_ms, &mut out);
                    true
                }
            };
            // Everything else already delivered is handled at the same instant.
            while let Ok(envelope) = inbox.try_recv() {
                actor.handle(now_ms, envelope.from, envelope.message, &mut out);
            }
            ticked && actor.next_timer_ms().is_some_and(|at| at <= now_ms)
        };
        for (to, message) in out.sends {
            world.net.send(addr, to, message);
        }
        if world.trace_events && !out.events.is_empty() {
            let mut trace = lock(&world.trace);
            trace.extend(out.events.into_iter().map(TraceEntry::Event));
        }
        world.check_invariants(now_ms);
        if ticked {
            // A timer that stays due after its tick must not spin at one instant.
            madsim::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// What every client did: producers' sends and consumers' polls, processing and commits.
#[derive(Clone, Debug, Default)]
pub struct Histories {
    pub producers: BTreeMap<NodeId, Vec<WriteOp>>,
    /// The writes made with [`Cluster::produce`].
    pub admin: Vec<WriteOp>,
    pub consumers: BTreeMap<NodeId, ConsumerHistory>,
}

impl Histories {
    /// Every write, of every producer.
    pub fn writes(&self) -> Vec<WriteOp> {
        self.producers
            .values()
            .flatten()
            .chain(&self.admin)
            .cloned()
            .collect()
    }
}

/// A running cluster. Its methods act at the current sim time.
pub struct Cluster {
    handle: Handle,
    world: Arc<World>,
    config: BrokerConfig,
    nodes: BTreeMap<NodeId, NodeHandle>,
    /// The disks of brokers that are down.
    down: BTreeMap<BrokerId, BrokerDisk>,
    paused: BTreeSet<NodeId>,
    producers: BTreeMap<NodeId, Slot<TestProducer>>,
    consumers: BTreeMap<NodeId, Slot<Consumer>>,
    /// Consumers a scenario named, for faults that target them.
    consumer_names: BTreeMap<String, NodeId>,
    kafka_producers: BTreeMap<NodeId, Slot<Producer>>,
    /// Histories of consumers that crashed.
    consumer_histories: BTreeMap<NodeId, ConsumerHistory>,
    admin_inbox: async_channel::Receiver<Envelope<Message>>,
    next_client: NodeId,
    next_correlation: u64,
    broker_ids: Vec<BrokerId>,
    admin_history: Vec<WriteOp>,
    zookeeper: Slot<ZooKeeper>,
}

impl Cluster {
    pub fn now_ms(&self) -> i64 {
        self.world.net.now_ms()
    }

    pub fn network(&self) -> &Network<Message> {
        &self.world.net
    }

    pub fn broker_ids(&self) -> &[BrokerId] {
        &self.broker_ids
    }

    fn spawn_node<A: Actor + Send + 'static>(&mut self, addr: NodeId, name: &str, slot: Slot<A>) {
        let inbox = self.world.net.register(addr);
        let node = self.handle.create_node().name(name).build();
        node.spawn(run_node(addr, slot, inbox, self.world.clone()));
        self.nodes.insert(addr, node);
    }

    fn dispatch(&self, from: NodeId, out: Outbox) {
        for (to, message) in out.sends {
            self.world.net.send(from, to, message);
        }
        if self.world.trace_events {
            let mut trace = lock(&self.world.trace);
            trace.extend(out.events.into_iter().map(TraceEntry::Event));
        }
    }

    fn start_broker(&mut self, id: BrokerId, disk: BrokerDisk) {
        let mut out = Outbox::default();
        let seed = SimRng.next_seed();
        let broker = Broker::start(id, self.config.clone(), disk, seed, self.now_ms(), &mut out);
        let slot = {
            let mut brokers = lock(&self.world.brokers);
            let slot = brokers.entry(id).or_default().clone();
            *lock(&slot) = Some(broker);
            slot
        };
        // Register the mailbox before the broker's first requests can be answered.
        self.spawn_node(id, &format!("broker-{id}"), slot);
        self.dispatch(id, out);
    }

    fn record(&self, fault: Injected) {
        self.world.record(TraceEntry::Fault {
            time_ms: self.now_ms(),
            fault,
        });
    }

    /// Puts a lesson's caption into the trace at the current time.
    pub fn caption(&self, text: &str) {
        self.world.record(TraceEntry::Caption {
            time_ms: self.now_ms(),
            text: text.to_string(),
        });
    }

    /// The brokers' configs.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The brokers that are down now.
    pub fn down_brokers(&self) -> Vec<BrokerId> {
        self.down.keys().copied().collect()
    }

    /// Writes every broker's logs under `dir` in Kafka's on-disk layout:
    /// `broker-<id>/<topic>-<partition>/<base offset>.{log,index,timeindex}`. A broker that
    /// is down gets the `.log` files its disk holds (what a restart would recover).
    pub fn export_logs(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
        let mut written = Vec::new();
        let slots: BTreeMap<BrokerId, Slot<Broker>> = lock(&self.world.brokers).clone();
        for (id, slot) in &slots {
            let guard = lock(slot);
            let Some(broker) = guard.as_ref() else {
                continue;
            };
            let root = dir.join(format!("broker-{id}"));
            for (tp, partition) in broker.logs() {
                let files =
                    crate::export::write_log_dir(&root, &tp.topic, tp.partition, partition.log())
                        .map_err(|e| e.to_string())?;
                written.extend(files);
            }
        }
        for (id, disk) in &self.down {
            for (tp, log) in &disk.logs {
                let partition_dir = dir
                    .join(format!("broker-{id}"))
                    .join(format!("{}-{}", tp.topic, tp.partition));
                std::fs::create_dir_all(&partition_dir)
                    .map_err(|e| format!("{}: {e}", partition_dir.display()))?;
                for (base, bytes) in &log.segments {
                    let path = partition_dir.join(format!("{base:020}.log"));
                    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                    written.push(path);
                }
            }
        }
        Ok(written)
    }

    /// Every client's history so far: what checkers judge.
    pub fn histories(&self) -> Histories {
        let producers = self
            .producers
            .keys()
            .map(|p| (*p, self.history(*p)))
            .chain(
                self.kafka_producers
                    .keys()
                    .map(|p| (*p, self.kafka_producer_history(*p))),
            )
            .collect();
        let consumers = self
            .consumers
            .keys()
            .chain(self.consumer_histories.keys())
            .map(|k| (*k, self.consumer_history(*k)))
            .collect();
        Histories {
            producers,
            admin: self.admin_history.clone(),
            consumers,
        }
    }

    /// Kills broker `id`'s process (`Crash::Process`) or its machine's power
    /// (`Crash::PowerLoss`). Its connections break; its disk keeps what the crash kind
    /// leaves, until [`Cluster::restart`].
    pub fn crash(&mut self, id: BrokerId, crash: Crash) {
        let Some(node) = self.nodes.remove(&id) else {
            return;
        };
        self.paused.remove(&id);
        self.handle.kill(node.id());
        match crash {
            // The OS of a crashed process resets its connections: peers know at once.
            Crash::Process => self.world.net.reset_and_notify(id),
            // A machine without power says nothing: peers find out by timeouts.
            Crash::PowerLoss | Crash::PowerLossUnflushedLost => self.world.net.reset(id),
        }
        let slot = lock(&self.world.brokers).get(&id).cloned();
        let Some(broker) = slot.and_then(|s| lock(&s).take()) else {
            return;
        };
        let mut disk = BrokerDisk {
            high_watermarks: broker.high_watermark_checkpoint().clone(),
            ..BrokerDisk::default()
        };
        for (tp, partition) in broker.logs() {
            let kept = surviving_segments(partition.log(), crash, &mut SimRng);
            let mut files = log_disk(partition, |_| Vec::new());
            files.segments = kept;
            disk.logs.insert(tp.clone(), files);
        }
        self.down.insert(id, disk);
        self.record(Injected::Crash { broker: id, crash });
    }

    /// A clean stop (`kafka-server-stop.sh`): the broker's controlled shutdown moves its
    /// leaderships away, then it flushes, checkpoints and closes its ZooKeeper session;
    /// its node stops once its registration is gone. [`Cluster::restart`] starts it again
    /// on a disk that needs no recovery.
    pub async fn shutdown(&mut self, id: BrokerId) -> Result<(), String> {
        let mut out = Outbox::default();
        let now_ms = self.now_ms();
        let slot = lock(&self.world.brokers)
            .get(&id)
            .cloned()
            .ok_or("no such broker")?;
        match lock(&slot).as_mut() {
            Some(broker) => broker.begin_controlled_shutdown(now_ms, &mut out),
            None => return Err(format!("broker {id} is down")),
        }
        self.dispatch(id, out);
        let stopped = self
            .wait_until(60_000, |_| {
                self.with_broker(id, Broker::is_shut_down).unwrap_or(true)
            })
            .await;
        stopped.ok_or_else(|| format!("broker {id} did not finish its controlled shutdown"))?;
        let path = kafkasim_core::zookeeper::broker_path(id);
        let registered = |c: &Cluster| {
            lock(&c.zookeeper)
                .as_ref()
                .is_some_and(|zk| zk.store().peek(&path).is_some())
        };
        // Its session's close reaches ZooKeeper before the process exits.
        for _ in 0..100 {
            if !registered(self) {
                break;
            }
            self.sleep_ms(10).await;
        }
        if let Some(node) = self.nodes.remove(&id) {
            self.handle.kill(node.id());
        }
        self.paused.remove(&id);
        self.world.net.reset_and_notify(id);
        if let Some(mut broker) = lock(&slot).take() {
            self.down.insert(id, broker.clean_disk());
        }
        Ok(())
    }

    /// Starts a crashed broker again on what its disk kept.
    pub fn restart(&mut self, id: BrokerId) {
        let Some(disk) = self.down.remove(&id) else {
            return;
        };
        self.record(Injected::Restart { broker: id });
        self.start_broker(id, disk);
    }

    pub fn is_up(&self, id: BrokerId) -> bool {
        self.nodes.contains_key(&id)
    }

    /// Splits the nodes into groups that cannot reach each other. ZooKeeper and clients
    /// are nodes too: put ZooKeeper in a group to say which side can reach it.
    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        self.world.net.partition(groups);
        self.record(Injected::Partition {
            groups: groups.iter().map(|g| g.to_vec()).collect(),
        });
    }

    /// Cuts `node` off from every other node, ZooKeeper and clients included.
    pub fn isolate(&mut self, node: NodeId) {
        let others: Vec<NodeId> = self
            .nodes
            .keys()
            .copied()
            .chain(std::iter::once(FIRST_CLIENT))
            .filter(|&n| n != node)
            .collect();
        self.world.net.isolate(node, &others);
        self.record(Injected::Isolate { node });
    }

    pub fn heal(&mut self) {
        self.world.net.heal();
        self.record(Injected::Heal);
    }

    /// Sets the delay and loss of the link `from -> to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.world.net.set_link(from, to, config);
        self.record(Injected::Link { from, to, config });
    }

    /// Holds the messages of the link `from -> to` until [`Cluster::release`].
    pub fn hold(&mut self, from: NodeId, to: NodeId) {
        self.world.net.hold(from, to);
        self.record(Injected::Hold { from, to });
    }

    pub fn release(&mut self, from: NodeId, to: NodeId) {
        self.world.net.release(from, to);
        self.record(Injected::Release { from, to });
    }

    /// Freezes a node (a stop-the-world pause): its messages wait in its mailbox.
    pub fn pause(&mut self, node: NodeId) {
        if let Some(handle) = self.nodes.get(&node)
            && self.paused.insert(node)
        {
            self.handle.pause(handle.id());
            self.record(Injected::Pause { node });
        }
    }

    pub fn resume(&mut self, node: NodeId) {
        if let Some(handle) = self.nodes.get(&node)
            && self.paused.remove(&node)
        {
            self.handle.resume(handle.id());
            self.record(Injected::Resume { node });
        }
    }

    /// Advances sim time by `ms`.
    pub async fn sleep_ms(&self, ms: i64) {
        madsim::time::sleep(Duration::from_millis(ms.max(0) as u64)).await;
    }

    pub async fn sleep_until_ms(&self, at_ms: i64) {
        let now = self.now_ms();
        if at_ms > now {
            self.sleep_ms(at_ms - now).await;
        }
    }

    /// Polls the snapshot every 10 ms until `done` holds; returns the time it took, or
    /// None after `timeout_ms`.
    pub async fn wait_until(
        &self,
        timeout_ms: i64,
        done: impl Fn(&ClusterSnapshot) -> bool,
    ) -> Option<i64> {
        let start = self.now_ms();
        loop {
            if done(&self.snapshot_without_records()) {
                return Some(self.now_ms() - start);
            }
            if self.now_ms() - start >= timeout_ms {
                return None;
            }
            self.sleep_ms(10).await;
        }
    }

    /// Sends an admin request to the controller and waits for its answer, trying again
    /// (a new controller, a lost message) up to 20 times. `request` builds the message
    /// from a correlation id; `answer` picks the reply out of the admin mailbox:
    /// `Some(Ok)` is done, `Some(Err)` is final unless it is NOT_CONTROLLER.
    async fn ask_controller<T>(
        &mut self,
        request: impl Fn(u64) -> Message,
        answer: impl Fn(Message, u64) -> Option<Result<T, ClientError>>,
    ) -> Result<T, String> {
        for _attempt in 0..20 {
            let Some(controller) = self.controller() else {
                self.sleep_ms(100).await;
                continue;
            };
            let correlation_id = self.next_correlation;
            self.next_correlation += 1;
            self.world
                .net
                .send(FIRST_CLIENT, controller, request(correlation_id));
            let reply = self
                .await_reply(controller, 5_000, |m| answer(m, correlation_id))
                .await;
            match reply {
                Some(Ok(value)) => return Ok(value),
                Some(Err(e)) if e.code() != "NOT_CONTROLLER" => return Err(e.to_string()),
                _ => continue,
            }
        }
        Err("no controller answered 20 attempts".to_string())
    }

    /// Waits for the admin client's answer from `peer`: the first message `pick` takes,
    /// or None when the connection to `peer` breaks (the answer will never come) or
    /// `timeout_ms` passes.
    async fn await_reply<T>(
        &self,
        peer: NodeId,
        timeout_ms: i64,
        pick: impl Fn(Message) -> Option<T>,
    ) -> Option<T> {
        let inbox = &self.admin_inbox;
        let wait = Duration::from_millis(timeout_ms.max(0) as u64);
        let found = madsim::time::timeout(wait, async {
            while let Ok(envelope) = inbox.recv().await {
                if envelope.message == Message::ConnectionLost {
                    if envelope.from == peer {
                        return None;
                    }
                } else if let Some(found) = pick(envelope.message) {
                    return Some(found);
                }
            }
            None
        })
        .await;
        found.ok().flatten()
    }

    /// Waits until partitions `from..to` of `topic` have a leader.
    async fn wait_for_leaders(&self, topic: &str, from: u32, to: u32) -> Result<(), String> {
        self.wait_until(60_000, |s| {
            (from..to).all(|p| {
                s.partitions
                    .get(&TopicPartition::new(topic, p))
                    .is_some_and(|ps| ps.replica_states.values().any(|r| r.is_leader))
            })
        })
        .await
        .map(|_| ())
        .ok_or_else(|| format!("topic {topic}'s partitions got no leader within a minute"))
    }

    /// Creates a topic through the controller (Kafka's CreateTopics) and waits until
    /// every partition has a leader.
    pub async fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        replication_factor: usize,
        config: TopicConfig,
    ) -> Result<(), String> {
        self.create_topic_spec(&TopicSpec {
            name: name.to_string(),
            partitions,
            replication_factor,
            replica_assignment: None,
            config,
        })
        .await
    }

    /// [`Cluster::create_topic`] with every option, an explicit assignment included.
    pub async fn create_topic_spec(&mut self, topic: &TopicSpec) -> Result<(), String> {
        let partitions = topic
            .replica_assignment
            .as_ref()
            .map_or(topic.partitions, |a| a.len() as u32);
        let request = |correlation_id| {
            Message::CreateTopic(CreateTopic {
                correlation_id,
                name: topic.name.clone(),
                partitions,
                replication_factor: topic.replication_factor,
                replica_assignment: topic.replica_assignment.clone(),
                config: topic.config.clone(),
            })
        };
        let answer = |message, correlation_id| match message {
            Message::CreateTopicReply(r) if r.correlation_id == correlation_id => Some(r.result),
            _ => None,
        };
        // An earlier attempt whose answer was lost may have created it.
        let first_correlation = self.next_correlation;
        let answer = |message, correlation_id| match answer(message, correlation_id) {
            Some(Err(ClientError::TopicAlreadyExists)) if correlation_id > first_correlation => {
                Some(Ok(Default::default()))
            }
            other => other,
        };
        self.ask_controller(request, answer).await?;
        self.wait_for_leaders(&topic.name, 0, partitions).await
    }

    /// Grows a topic to `total` partitions (`kafka-topics.sh --alter --partitions`) and
    /// waits until the new ones have a leader. Returns the new partitions' replicas.
    pub async fn add_partitions(&mut self, topic: &str, total: u32) -> Result<Assignment, String> {
        let request = |correlation_id| Message::CreatePartitions {
            correlation_id,
            topic: topic.to_string(),
            total,
        };
        let answer = |message, correlation_id| match message {
            Message::CreatePartitionsReply {
                correlation_id: c,
                result,
                ..
            } if c == correlation_id => Some(result),
            _ => None,
        };
        let added = self.ask_controller(request, answer).await?;
        let first = total - added.len() as u32;
        self.wait_for_leaders(topic, first, total).await?;
        Ok(added)
    }

    /// Changes a topic's configs (`kafka-configs.sh --alter --entity-type topics`): the
    /// controller writes them and every broker applies them from its next metadata update.
    pub async fn alter_topic_config(
        &mut self,
        topic: &str,
        config: TopicConfig,
    ) -> Result<(), String> {
        let request = |correlation_id| Message::AlterConfigs {
            correlation_id,
            topic: topic.to_string(),
            config: config.clone(),
        };
        let answer = |message, correlation_id| match message {
            Message::AlterConfigsReply {
                correlation_id: c,
                result,
                ..
            } if c == correlation_id => Some(result),
            _ => None,
        };
        self.ask_controller(request, answer).await
    }

    /// Preferred-leader election for every partition (`kafka-leader-election.sh
    /// --election-type preferred --all-topic-partitions`). Returns the partitions moved.
    pub async fn elect_preferred_leaders(&mut self) -> Result<Vec<TopicPartition>, String> {
        let request = |correlation_id| Message::ElectLeaders { correlation_id };
        let answer = |message, correlation_id| match message {
            Message::ElectLeadersReply {
                correlation_id: c,
                moved,
            } if c == correlation_id => Some(Ok(moved)),
            _ => None,
        };
        self.ask_controller(request, answer).await
    }

    /// The partition's leader: the live replica that leads it (None: offline).
    pub fn leader(&self, tp: &TopicPartition) -> Option<BrokerId> {
        self.snapshot_without_records()
            .partitions
            .get(tp)
            .and_then(|p| p.leader)
    }

    /// The active controller.
    pub fn controller(&self) -> Option<BrokerId> {
        self.snapshot_without_records().controller.map(|(b, _)| b)
    }

    /// Writes one record with `value` through the admin client to the partition's
    /// leader and waits for the answer: the offset, Kafka's error code, or
    /// `NO_LEADER` / `NO_RESPONSE`.
    pub async fn produce(
        &mut self,
        tp: &TopicPartition,
        value: &str,
        acks: Acks,
    ) -> Result<i64, String> {
        let Some(leader) = self.leader(tp) else {
            self.admin_history.push(WriteOp {
                value: value.to_string(),
                tp: tp.clone(),
                leader: -1,
                invoked_ms: self.now_ms(),
                outcome: Outcome::Failed {
                    code: "NO_LEADER",
                    completed_ms: self.now_ms(),
                },
            });
            return Err("NO_LEADER".to_string());
        };
        let invoked_ms = self.now_ms();
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let request_timeout_ms = 30_000;
        self.world.net.send(
            FIRST_CLIENT,
            leader,
            Message::Produce(ProduceRequest {
                correlation_id,
                tp: tp.clone(),
                records: vec![Record::new(self.now_ms(), None, Some(value.as_bytes()))],
                acks,
                timeout_ms: request_timeout_ms,
                producer: None,
            }),
        );
        if acks == Acks::None {
            return Ok(-1);
        }
        let reply = self
            .await_reply(leader, request_timeout_ms + 1_000, |m| match m {
                Message::ProduceReply(r) if r.correlation_id == correlation_id => Some(r.result),
                _ => None,
            })
            .await;
        let completed_ms = self.now_ms();
        let (outcome, result) = match reply {
            Some(Ok(offset)) => (
                Outcome::Ok {
                    offset: Some(offset),
                    completed_ms,
                },
                Ok(offset),
            ),
            Some(Err(e)) => (
                Outcome::Failed {
                    code: e.code(),
                    completed_ms,
                },
                Err(e.code().to_string()),
            ),
            _ => (
                Outcome::Unknown { completed_ms },
                Err("NO_RESPONSE".to_string()),
            ),
        };
        self.admin_history.push(WriteOp {
            value: value.to_string(),
            tp: tp.clone(),
            leader,
            invoked_ms,
            outcome,
        });
        result
    }

    /// A consumer's fetch from the partition's leader at `offset`: the values it may
    /// read (only below the high watermark) and the HW, or Kafka's error code.
    pub async fn fetch(
        &mut self,
        tp: &TopicPartition,
        offset: i64,
    ) -> Result<(Vec<(i64, String)>, i64), String> {
        let leader = self.leader(tp).ok_or("NO_LEADER")?;
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        self.world.net.send(
            FIRST_CLIENT,
            leader,
            Message::Fetch(ConsumerFetch {
                correlation_id,
                tp: tp.clone(),
                offset,
                max_bytes: 1024 * 1024,
            }),
        );
        let reply = self
            .await_reply(leader, 30_000, |m| match m {
                Message::FetchReply(r) if r.correlation_id == correlation_id => Some(r.result),
                _ => None,
            })
            .await;
        let records = match reply {
            Some(Ok(records)) => records,
            Some(Err(e)) => return Err(e.code().to_string()),
            _ => return Err("NO_RESPONSE".to_string()),
        };
        let entries =
            kafkasim_core::record::decode_entries(&records.records).map_err(|e| e.to_string())?;
        let values = entries
            .into_iter()
            .filter(|e| e.offset >= offset)
            .map(|e| {
                let value = e
                    .message
                    .value
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
                (e.offset, value.unwrap_or_default())
            })
            .collect();
        Ok((values, records.high_watermark))
    }

    /// Sends one group request from the admin client to `broker` and waits up to
    /// `timeout_ms` for the answer (None: no answer, or the connection broke).
    pub async fn group_request(
        &mut self,
        broker: BrokerId,
        request: GroupRequest,
        timeout_ms: i64,
    ) -> Option<GroupResponse> {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        self.world.net.send(
            FIRST_CLIENT,
            broker,
            Message::Group {
                correlation_id,
                request,
            },
        );
        self.await_reply(broker, timeout_ms, |m| match m {
            Message::GroupReply {
                correlation_id: c,
                response,
            } if c == correlation_id => Some(response),
            _ => None,
        })
        .await
    }

    /// The group's coordinator, asked of the live brokers in turn until one names it
    /// (the first lookup creates `__consumer_offsets`), or an error after `timeout_ms`.
    pub async fn find_coordinator(
        &mut self,
        group: &str,
        timeout_ms: i64,
    ) -> Result<BrokerId, String> {
        let start = self.now_ms();
        let mut last = String::from("no answer");
        while self.now_ms() - start < timeout_ms {
            let live: Vec<BrokerId> = self
                .broker_ids
                .clone()
                .into_iter()
                .filter(|b| self.is_up(*b))
                .collect();
            for broker in live {
                let request = GroupRequest::FindCoordinator {
                    group_id: group.to_string(),
                };
                match self.group_request(broker, request, 1_000).await {
                    Some(GroupResponse::FindCoordinator(Ok(coordinator))) => {
                        return Ok(coordinator);
                    }
                    Some(GroupResponse::FindCoordinator(Err(e))) => last = e.code().to_string(),
                    _ => {}
                }
            }
            self.sleep_ms(200).await;
        }
        Err(format!(
            "no coordinator for group {group} within {timeout_ms} ms: {last}"
        ))
    }

    /// The writes made with [`Cluster::produce`].
    pub fn admin_history(&self) -> &[WriteOp] {
        &self.admin_history
    }

    /// The values of a broker's replica of `tp`, by offset.
    pub fn log_values(&self, broker: BrokerId, tp: &TopicPartition) -> Vec<String> {
        self.with_broker(broker, |b| {
            b.replicas()
                .get(tp)
                .map(|r| {
                    snapshot::records(&r.partition)
                        .into_iter()
                        .map(|(_, v)| v)
                        .collect()
                })
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    /// A new client's address; an empty `bootstrap` becomes every broker.
    fn new_client(&mut self, bootstrap: &mut Vec<BrokerId>) -> NodeId {
        if bootstrap.is_empty() {
            bootstrap.clone_from(&self.broker_ids);
        }
        self.next_client += 1;
        self.next_client - 1
    }

    /// Runs a client's state machine on its own node.
    fn start_client<A: Actor + Send + 'static>(
        &mut self,
        addr: NodeId,
        kind: &str,
        actor: A,
    ) -> Slot<A> {
        let slot = Arc::new(Mutex::new(Some(actor)));
        self.spawn_node(addr, &format!("{kind}-{addr}"), slot.clone());
        slot
    }

    /// Starts a test producer node; returns its address.
    pub fn add_producer(&mut self, mut config: ProducerConfig) -> NodeId {
        let addr = self.new_client(&mut config.bootstrap);
        let producer = TestProducer::new(config, self.now_ms());
        let slot = self.start_client(addr, "producer", producer);
        self.producers.insert(addr, slot);
        addr
    }

    /// Starts a Kafka producer node (the client with retries, batching and idempotence,
    /// and its application); returns its address.
    pub fn add_kafka_producer(&mut self, mut config: ClientProducerConfig) -> NodeId {
        let addr = self.new_client(&mut config.bootstrap);
        let producer = Producer::new(config, addr, SimRng.next_seed(), self.now_ms());
        let slot = self.start_client(addr, "producer", producer);
        self.kafka_producers.insert(addr, slot);
        addr
    }

    /// A Kafka producer's sends so far.
    pub fn kafka_producer_history(&self, producer: NodeId) -> Vec<WriteOp> {
        self.kafka_producers
            .get(&producer)
            .and_then(|s| lock(s).as_ref().map(|p| p.history().to_vec()))
            .unwrap_or_default()
    }

    /// Starts a consumer node (a client and its application); returns its address.
    pub fn add_consumer(&mut self, mut config: ConsumerConfig) -> NodeId {
        let addr = self.new_client(&mut config.bootstrap);
        let consumer = Consumer::new(config, addr, self.now_ms());
        let slot = self.start_client(addr, "consumer", consumer);
        self.consumers.insert(addr, slot);
        addr
    }

    /// Starts a consumer under a name that scenario faults can target.
    pub fn add_named_consumer(&mut self, name: &str, config: ConsumerConfig) -> NodeId {
        let addr = self.add_consumer(config);
        self.consumer_names.insert(name.to_string(), addr);
        addr
    }

    /// Whether `node` is a running consumer.
    pub fn is_consumer(&self, node: NodeId) -> bool {
        self.consumers.contains_key(&node)
    }

    /// The consumer started under `name`, if any.
    pub fn consumer_named(&self, name: &str) -> Option<NodeId> {
        self.consumer_names.get(name).copied()
    }

    /// Runs `f` on a consumer (None once it crashed).
    pub fn with_consumer<T>(
        &self,
        consumer: NodeId,
        f: impl FnOnce(&mut Consumer) -> T,
    ) -> Option<T> {
        let slot = self.consumers.get(&consumer)?;
        let mut guard = lock(slot);
        guard.as_mut().map(f)
    }

    /// The consumer's history, also after a crash.
    pub fn consumer_history(&self, consumer: NodeId) -> ConsumerHistory {
        self.consumer_histories
            .get(&consumer)
            .cloned()
            .or_else(|| self.with_consumer(consumer, |c| c.history().clone()))
            .unwrap_or_default()
    }

    /// `consumer.close()`: it commits, leaves its group and stops.
    pub fn close_consumer(&mut self, consumer: NodeId) {
        let now_ms = self.now_ms();
        let mut out = Outbox::default();
        if let Some(name) = self.with_consumer(consumer, |c| {
            c.close(now_ms, &mut out);
            c.config().client_id.clone()
        }) {
            self.record(Injected::ConsumerClose { consumer, name });
        }
        self.dispatch(consumer, out);
    }

    /// The consumer's application stops polling until `until_ms` (its heartbeats go on).
    pub fn stall_consumer(&mut self, consumer: NodeId, until_ms: i64) {
        if let Some(name) = self.with_consumer(consumer, |c| {
            c.stall_until(until_ms);
            c.config().client_id.clone()
        }) {
            self.record(Injected::ConsumerStall {
                consumer,
                name,
                until_ms,
            });
        }
    }

    /// Kills a consumer's process: no LeaveGroup, no commit; its group notices by
    /// `session.timeout.ms`.
    pub fn crash_consumer(&mut self, consumer: NodeId) {
        let name = self
            .with_consumer(consumer, |c| c.config().client_id.clone())
            .unwrap_or_else(|| consumer.to_string());
        let Some(node) = self.nodes.remove(&consumer) else {
            return;
        };
        self.record(Injected::ConsumerCrash { consumer, name });
        self.handle.kill(node.id());
        self.world.net.reset_and_notify(consumer);
        if let Some(history) = self
            .consumers
            .get(&consumer)
            .and_then(|s| lock(s).take())
            .map(|c| c.history().clone())
        {
            self.consumer_histories.insert(consumer, history);
        }
    }

    /// A producer's writes so far.
    pub fn history(&self, producer: NodeId) -> Vec<WriteOp> {
        self.producers
            .get(&producer)
            .and_then(|s| lock(s).as_ref().map(|p| p.history().to_vec()))
            .unwrap_or_default()
    }

    pub fn producer_stats(&self, producer: NodeId) -> ProducerStats {
        self.producers
            .get(&producer)
            .and_then(|s| lock(s).as_ref().map(|p| p.stats().clone()))
            .unwrap_or_default()
    }

    /// Everything narrated so far.
    pub fn trace(&self) -> Vec<TraceEntry> {
        lock(&self.world.trace).clone()
    }

    /// How many entries the trace has.
    pub fn trace_len(&self) -> usize {
        lock(&self.world.trace).len()
    }

    /// The trace entries from `start` on.
    pub fn trace_since(&self, start: usize) -> Vec<TraceEntry> {
        lock(&self.world.trace)[start..].to_vec()
    }

    /// The narrated timeline, one line per entry.
    pub fn timeline(&self) -> String {
        lock(&self.world.trace)
            .iter()
            .map(TraceEntry::line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Invariant violations recorded so far (in [`Invariants::Record`] mode).
    pub fn violations(&self) -> Vec<String> {
        lock(&self.world.trace)
            .iter()
            .filter_map(|e| match e {
                TraceEntry::Violation { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// Runs `f` on a broker that is up.
    pub fn with_broker<T>(&self, id: BrokerId, f: impl FnOnce(&Broker) -> T) -> Option<T> {
        let slot = lock(&self.world.brokers).get(&id).cloned()?;
        let guard = lock(&slot);
        guard.as_ref().map(f)
    }

    /// The cluster now, every replica's records included.
    pub fn snapshot(&self) -> ClusterSnapshot {
        self.snapshot_with(true)
    }

    /// The cluster now, without the records (cheaper).
    pub fn snapshot_without_records(&self) -> ClusterSnapshot {
        self.snapshot_with(false)
    }

    fn snapshot_with(&self, with_records: bool) -> ClusterSnapshot {
        let slots: BTreeMap<BrokerId, Slot<Broker>> = lock(&self.world.brokers).clone();
        let guards: BTreeMap<BrokerId, MutexGuard<'_, Option<Broker>>> =
            slots.iter().map(|(&id, s)| (id, lock(s))).collect();
        let up: BTreeMap<BrokerId, &Broker> = guards
            .iter()
            .filter_map(|(&id, g)| g.as_ref().map(|b| (id, b)))
            .collect();
        let controller = up
            .values()
            .filter_map(|b| {
                b.controller()
                    .filter(|c| c.is_loaded())
                    .map(|c| (b, c.epoch()))
            })
            .max_by_key(|(_, epoch)| *epoch);
        let brokers = self
            .broker_ids
            .iter()
            .map(|&id| {
                let broker = up.get(&id);
                (
                    id,
                    BrokerStatus {
                        up: broker.is_some(),
                        paused: self.paused.contains(&id),
                        registered: broker.is_some_and(|b| b.is_registered()),
                        known_controller: broker.and_then(|b| b.known_controller()),
                    },
                )
            })
            .collect();
        let net = &self.world.net;
        let zookeeper = lock(&self.zookeeper);
        ClusterSnapshot {
            time_ms: self.now_ms(),
            brokers,
            controller: controller.map(|(b, epoch)| (b.id(), epoch)),
            partitions: snapshot::partitions(&up, zookeeper.as_ref(), with_records),
            groups: snapshot::groups(&up),
            network: NetworkSnapshot {
                blocked: net.blocked(),
                held: net.held(),
                in_flight: net.in_flight().iter().map(InFlight::of).collect(),
                recent: net.recent().iter().map(InFlight::of).collect(),
                stats: net.stats(),
            },
        }
    }
}
