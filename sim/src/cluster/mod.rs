//! A Kafka cluster on madsim: one madsim node per broker, one for ZooKeeper, one per
//! client, all talking over kafkasim's bus ([`crate::net`]). Each node runs one core
//! state machine: the runner feeds it messages and due timers and sends what it says.
//!
//! A broker's state lives outside its node's tasks, so killing the node (a crash)
//! leaves the disk behind: [`crate::disk`] decides what of it survives, and a restart
//! starts a new broker on that.
//!
//! Split along its seams: `builder.rs` builds a cluster, `world.rs` is what the nodes
//! share and the runner that feeds each actor, `faults.rs` holds the fault verbs,
//! `admin.rs` the admin client and direct client calls; this file is the facade
//! (clients, snapshots, the trace).
//!
//! Build one with [`ClusterBuilder`] inside a simulation ([`crate::runtime::run_seeded`]):
//!
//! ```ignore
//! let mut cluster = ClusterBuilder::new(3).topic("orders", 1, 3).start().await;
//! cluster.crash(1, Crash::Process);
//! cluster.sleep_ms(30_000).await;
//! let snapshot = cluster.snapshot();
//! ```

use kafkasim_core::actor::{Actor, Outbox};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafkasim_core::broker::{Broker, BrokerConfig, BrokerDisk, log_disk};
use kafkasim_core::client::admin::{AdminClient, AdminConfig};
use kafkasim_core::client::consumer::{Consumer, ConsumerConfig, ConsumerHistory};
use kafkasim_core::client::producer::{Producer, ProducerConfig as ClientProducerConfig};
use kafkasim_core::controller::Assignment;
use kafkasim_core::event::Event;
use kafkasim_core::partition::{Acks, TruncationProtocol};
use kafkasim_core::protocol::{
    ClientError, ConsumerFetch, FIRST_CLIENT, GroupRequest, GroupResponse, Message, NodeId,
    ProduceRequest, TopicConfig, TopicPartition, ZOOKEEPER,
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

mod admin;
mod builder;
mod faults;
mod world;

pub use builder::ClusterBuilder;
use world::{Slot, World, lock, run_node};

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
    /// What each down broker's disk holds, per replica (its disk does not change while it
    /// is down, so this is read once, when it goes down).
    down_replicas: BTreeMap<BrokerId, BTreeMap<TopicPartition, snapshot::DiskReplica>>,
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
    /// Kafka's admin client, at address FIRST_CLIENT (the direct probes share it).
    admin: AdminClient,
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

    fn spawn_node<A>(&mut self, addr: NodeId, name: &str, slot: Slot<A>)
    where
        A: Actor + Send + 'static,
        A::Event: Into<Event> + Send,
    {
        let inbox = self.world.net.register(addr);
        let node = self.handle.create_node().name(name).build();
        node.spawn(run_node(addr, slot, inbox, self.world.clone()));
        self.nodes.insert(addr, node);
    }

    fn dispatch<E: Into<Event>>(&self, from: NodeId, out: Outbox<E>) {
        for (to, message) in out.sends {
            self.world.net.send(from, to, message);
        }
        if self.world.trace_events {
            let mut trace = lock(&self.world.trace);
            trace.extend(out.events.into_iter().map(|e| TraceEntry::Event(e.into())));
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

    /// Keeps a stopped broker's disk until it restarts, and what it holds.
    fn put_down(&mut self, id: BrokerId, disk: BrokerDisk) {
        let replicas = disk
            .logs
            .iter()
            .map(|(tp, log)| {
                let hw = disk.high_watermarks.get(tp).copied();
                (tp.clone(), snapshot::DiskReplica::of(log, hw))
            })
            .collect();
        self.down_replicas.insert(id, replicas);
        self.down.insert(id, disk);
    }

    fn record(&self, fault: Injected) {
        self.world.record(TraceEntry::Fault {
            time_ms: self.now_ms(),
            fault,
        });
    }

    /// Puts a lesson's caption into the trace at the current time.
    /// Shows a lesson's caption, its placeholders filled in as things stand now.
    pub fn caption(&self, caption: &crate::scenario::CaptionText) {
        let text = caption.render(self);
        self.world.record(TraceEntry::Caption {
            time_ms: self.now_ms(),
            text,
            text_zh: caption.render_zh(self),
            written: caption.to_string(),
        });
    }

    /// Records the scenario runner's own news.
    pub fn note(&self, note: crate::trace::Note) {
        self.world.record(TraceEntry::Note {
            time_ms: self.now_ms(),
            note,
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
    fn start_client<A>(&mut self, addr: NodeId, kind: &str, actor: A) -> Slot<A>
    where
        A: Actor + Send + 'static,
        A::Event: Into<Event> + Send,
    {
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
                TraceEntry::Violation { violation, .. } => {
                    Some(crate::narrate::violation(violation, crate::lang::Lang::En))
                }
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
        let mut partitions = snapshot::partitions(&up, zookeeper.as_ref(), with_records);
        for (&id, replicas) in &self.down_replicas {
            for (tp, replica) in replicas {
                if let Some(p) = partitions.get_mut(tp) {
                    p.on_disk.insert(id, replica.clone());
                }
            }
        }
        ClusterSnapshot {
            time_ms: self.now_ms(),
            brokers,
            controller: controller.map(|(b, epoch)| (b.id(), epoch)),
            partitions,
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
