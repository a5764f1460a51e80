//! The fault verbs: crashes and power losses, restarts, controlled shutdowns, network
//! partitions and links, pauses, and the consumers' own faults; each records what it did.

use super::*;

impl Cluster {
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
        self.put_down(id, disk);
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
            self.put_down(id, broker.clean_disk());
        }
        Ok(())
    }

    /// Starts a crashed broker again on what its disk kept.
    pub fn restart(&mut self, id: BrokerId) {
        self.down_replicas.remove(&id);
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
}
