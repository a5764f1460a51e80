//! kafkasim's message bus on madsim's clock and seeded randomness.
//!
//! madsim's own `Endpoint` sleeps 1 ms per send and per receive and has no per-link
//! faults (shared/reference/madsim-notes.md), so kafkasim carries its messages itself:
//!
//! - every directed pair of nodes is a FIFO connection, as Kafka's TCP connections are:
//!   latency is drawn per message from the link's range, but a message is never delivered
//!   before one sent earlier on the same link;
//! - links can lose messages (a seeded draw per message). Over TCP a message is only
//!   lost when its connection breaks, so a loss breaks the connection: what is in
//!   flight both ways between the pair is dropped, and both ends are told (a
//!   "connection lost" notice, when the network was given a way to make one), as
//!   Kafka's network client learns of a disconnect and fails its in-flight requests;
//! - links can be blocked by a network partition: a blocked link drops what it carries,
//!   in flight or new, until healed. Nobody is told: the ends find out by timeouts;
//! - links can be held: messages wait, in order, until the hold is released, as TCP
//!   retransmits across a short outage (a slow or stalled link, nothing lost);
//! - resetting a node (a crash) drops its mailbox and everything in flight to or from
//!   it; a process crash also tells its peers (the OS resets its connections) and, until
//!   the node starts again, refuses new messages (the sender is told at once, as a TCP
//!   connect to a closed port is refused); a machine that lost power does neither;
//! - the messages in flight can be listed at any time, for snapshots and the TUI.
//!
//! Deliveries are timed by madsim timers on a node of the bus's own, which no fault
//! touches. Everything random comes from madsim's seeded generator, so one seed gives one
//! delivery order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use madsim::rand::Rng;
use madsim::runtime::{Handle, NodeHandle};
use madsim::time::Instant;

/// A node's address on the bus (a broker id, the metadata node, a client).
pub type Addr = i32;

/// A message on its way, or delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<M> {
    /// Unique and increasing in send order.
    pub id: u64,
    pub from: Addr,
    pub to: Addr,
    pub sent_ms: i64,
    pub deliver_ms: i64,
    pub message: M,
}

/// A link's delay and loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// Delay of each message, drawn uniformly from `latency_min_ms..=latency_max_ms`.
    pub latency_min_ms: i64,
    pub latency_max_ms: i64,
    /// Probability that a message is lost.
    pub loss: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency_min_ms: 1,
            latency_max_ms: 5,
            loss: 0.0,
        }
    }
}

/// Counters of what the bus did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    /// Lost to the link's loss rate.
    pub lost: u64,
    /// Dropped by a partition, a reset, or a missing mailbox.
    pub dropped: u64,
}

struct Link<M> {
    queue: VecDeque<Envelope<M>>,
    /// No message on this link is delivered before this time (FIFO).
    last_deliver_ms: i64,
    /// Wakes the link's delivery task when a message arrives on an empty link. One
    /// long-lived task per link, rather than one per burst: spawning is the costly part.
    doorbell: async_channel::Sender<()>,
}

struct State<M> {
    mailboxes: BTreeMap<Addr, async_channel::Sender<Envelope<M>>>,
    links: BTreeMap<(Addr, Addr), Link<M>>,
    configs: BTreeMap<(Addr, Addr), LinkConfig>,
    default_config: LinkConfig,
    blocked: BTreeSet<(Addr, Addr)>,
    /// Links whose messages wait until released.
    held: BTreeSet<(Addr, Addr)>,
    next_id: u64,
    stats: NetStats,
    /// Builds the notice an end gets when its connection to the given peer breaks.
    disconnect_notice: Option<fn(Addr) -> M>,
    /// Nodes whose process died on a running machine: their OS refuses connections.
    refusing: BTreeSet<Addr>,
    /// The last delivered messages, oldest first, at most `keep_recent` (for the TUI's
    /// space-time view; 0 keeps none and copies nothing).
    recent: VecDeque<Envelope<M>>,
    keep_recent: usize,
}

/// The bus. Cheap to clone: clones share one network.
pub struct Network<M> {
    state: Arc<Mutex<State<M>>>,
    start: Instant,
    node: Arc<NodeHandle>,
}

impl<M> Clone for Network<M> {
    fn clone(&self) -> Self {
        Network {
            state: self.state.clone(),
            start: self.start,
            node: self.node.clone(),
        }
    }
}

impl<M: Clone + Send + 'static> Network<M> {
    /// A network whose links default to `default_config`. Call inside a simulation.
    pub fn new(default_config: LinkConfig) -> Network<M> {
        let node = Handle::current()
            .create_node()
            .name("kafkasim-network")
            .build();
        Network {
            state: Arc::new(Mutex::new(State {
                mailboxes: BTreeMap::new(),
                links: BTreeMap::new(),
                configs: BTreeMap::new(),
                default_config,
                blocked: BTreeSet::new(),
                held: BTreeSet::new(),
                next_id: 1,
                stats: NetStats::default(),
                disconnect_notice: None,
                refusing: BTreeSet::new(),
                recent: VecDeque::new(),
                keep_recent: 0,
            })),
            start: Instant::now(),
            node: Arc::new(node),
        }
    }

    /// Tells each end of a broken connection, with `notice(peer)` from the peer.
    pub fn with_disconnect_notices(self, notice: fn(Addr) -> M) -> Network<M> {
        self.lock().disconnect_notice = Some(notice);
        self
    }

    /// Keeps the last `count` delivered messages for [`Network::recent`].
    pub fn keep_recent(self, count: usize) -> Network<M> {
        self.lock().keep_recent = count;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.state
            .lock()
            .expect("the network's state is never poisoned: nothing panics holding it")
    }

    /// Milliseconds since the network was created: the simulation's clock.
    pub fn now_ms(&self) -> i64 {
        self.start.elapsed().as_millis() as i64
    }

    /// Opens (or reopens, after a reset) `addr`'s mailbox.
    pub fn register(&self, addr: Addr) -> async_channel::Receiver<Envelope<M>> {
        let (sender, receiver) = async_channel::unbounded();
        let mut state = self.lock();
        state.refusing.remove(&addr);
        state.mailboxes.insert(addr, sender);
        drop(state);
        receiver
    }

    /// Sets the delay and loss of the link `from -> to`.
    pub fn set_link(&self, from: Addr, to: Addr, config: LinkConfig) {
        self.lock().configs.insert((from, to), config);
    }

    /// Splits the nodes into groups that cannot reach each other (nodes in no group are
    /// not affected). What is in flight between groups is lost.
    pub fn partition(&self, groups: &[&[Addr]]) {
        let mut state = self.lock();
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for &x in a.iter() {
                    for &y in b.iter() {
                        state.blocked.insert((x, y));
                        state.blocked.insert((y, x));
                    }
                }
            }
        }
        drop_blocked_in_flight(&mut state);
    }

    /// Cuts `addr` off from `others`, both ways.
    pub fn isolate(&self, addr: Addr, others: &[Addr]) {
        self.partition(&[&[addr], others]);
    }

    /// Holds the messages of `from -> to`: they wait, in order, until released.
    pub fn hold(&self, from: Addr, to: Addr) {
        self.lock().held.insert((from, to));
    }

    /// Releases held links: what waited is delivered at once, in order.
    pub fn release(&self, from: Addr, to: Addr) {
        let mut state = self.lock();
        state.held.remove(&(from, to));
        if let Some(link) = state.links.get(&(from, to)) {
            // Wake the link's task; a full doorbell means it will look anyway.
            let _ = link.doorbell.try_send(());
        }
    }

    /// The links held now.
    pub fn held(&self) -> BTreeSet<(Addr, Addr)> {
        self.lock().held.clone()
    }

    /// Removes every partition.
    pub fn heal(&self) {
        self.lock().blocked.clear();
    }

    /// A crash: `addr`'s mailbox closes and its connections break, dropping everything in
    /// flight to or from it.
    pub fn reset(&self, addr: Addr) {
        self.reset_node(addr, false);
    }

    /// A process crash: like [`Network::reset`], and every node that had a connection
    /// with `addr` is told it broke.
    pub fn reset_and_notify(&self, addr: Addr) {
        self.reset_node(addr, true);
    }

    fn reset_node(&self, addr: Addr, notify: bool) {
        let now_ms = self.now_ms();
        let mut state = self.lock();
        state.mailboxes.remove(&addr);
        if notify {
            state.refusing.insert(addr);
            let peers: BTreeSet<Addr> = state
                .links
                .keys()
                .filter_map(|&(a, b)| match (a == addr, b == addr) {
                    (true, false) => Some(b),
                    (false, true) => Some(a),
                    _ => None,
                })
                .collect();
            for peer in peers {
                notify_end(&mut state, peer, addr, now_ms);
            }
        }
        let mut dropped = 0;
        for (&(from, to), link) in state.links.iter_mut() {
            if from == addr || to == addr {
                dropped += link.queue.len() as u64;
                link.queue.clear();
            }
        }
        state.stats.dropped += dropped;
    }

    /// Sends `message`. It arrives after the link's delay, in order with the link's other
    /// messages, unless it is lost, the link is blocked, or a reset breaks it first.
    /// Returns the message's id.
    pub fn send(&self, from: Addr, to: Addr, message: M) -> u64 {
        let now_ms = self.now_ms();
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.stats.sent += 1;
        let config = state
            .configs
            .get(&(from, to))
            .copied()
            .unwrap_or(state.default_config);
        // Both draws happen for every message, so a fault on one link does not shift the
        // random numbers every other link sees.
        let mut rng = madsim::rand::thread_rng();
        let latency_ms =
            rng.gen_range(config.latency_min_ms..=config.latency_max_ms.max(config.latency_min_ms));
        let lost = rng.gen_bool(config.loss.clamp(0.0, 1.0));
        if state.blocked.contains(&(from, to)) {
            state.stats.dropped += 1;
            return id;
        }
        if lost {
            state.stats.lost += 1;
            break_connection(&mut state, from, to, now_ms);
            return id;
        }
        let link = state.links.entry((from, to)).or_insert_with(|| {
            let (doorbell, ring) = async_channel::bounded(1);
            let network = self.clone();
            self.node
                .spawn(async move { network.run_link((from, to), ring).await });
            Link {
                queue: VecDeque::new(),
                last_deliver_ms: 0,
                doorbell,
            }
        });
        let deliver_ms = (now_ms + latency_ms).max(link.last_deliver_ms);
        link.last_deliver_ms = deliver_ms;
        let was_empty = link.queue.is_empty();
        link.queue.push_back(Envelope {
            id,
            from,
            to,
            sent_ms: now_ms,
            deliver_ms,
            message,
        });
        if was_empty {
            // Full means the task has not yet taken the previous ring: it will look.
            let _ = link.doorbell.try_send(());
        }
        id
    }

    /// Delivers a link's messages as they fall due, for as long as the network lives.
    async fn run_link(self, link: (Addr, Addr), ring: async_channel::Receiver<()>) {
        loop {
            let next_ms = {
                let state = self.lock();
                if state.held.contains(&link) {
                    None
                } else {
                    state
                        .links
                        .get(&link)
                        .and_then(|l| l.queue.front())
                        .map(|e| e.deliver_ms)
                }
            };
            let Some(next_ms) = next_ms else {
                if ring.recv().await.is_err() {
                    return;
                }
                continue;
            };
            if next_ms > self.now_ms() {
                madsim::time::sleep_until(self.start + Duration::from_millis(next_ms as u64)).await;
            }
            let now_ms = self.now_ms();
            let mut state = self.lock();
            let state = &mut *state;
            if state.held.contains(&link) {
                continue;
            }
            let entry = state.links.get_mut(&link).expect("links are never removed");
            let mut refused = false;
            while entry.queue.front().is_some_and(|e| e.deliver_ms <= now_ms) {
                let envelope = entry.queue.pop_front().expect("checked");
                let copy = (state.keep_recent > 0).then(|| envelope.clone());
                let delivered = match state.mailboxes.get(&envelope.to) {
                    Some(mailbox) => mailbox.try_send(envelope).is_ok(),
                    None => {
                        refused |= state.refusing.contains(&envelope.to);
                        false
                    }
                };
                if delivered {
                    state.stats.delivered += 1;
                    if let Some(copy) = copy {
                        if state.recent.len() == state.keep_recent {
                            state.recent.pop_front();
                        }
                        state.recent.push_back(copy);
                    }
                } else {
                    state.stats.dropped += 1;
                }
            }
            if refused {
                notify_end(state, link.0, link.1, now_ms);
            }
        }
    }

    pub fn stats(&self) -> NetStats {
        self.lock().stats
    }

    /// The directed links a partition blocks now.
    pub fn blocked(&self) -> BTreeSet<(Addr, Addr)> {
        self.lock().blocked.clone()
    }

    /// Whether `from` can currently reach `to`.
    pub fn reachable(&self, from: Addr, to: Addr) -> bool {
        !self.lock().blocked.contains(&(from, to))
    }

    /// Every message in flight, in delivery order: what a snapshot shows moving.
    pub fn in_flight(&self) -> Vec<Envelope<M>> {
        let state = self.lock();
        let mut all: Vec<Envelope<M>> = state
            .links
            .values()
            .flat_map(|l| l.queue.iter().cloned())
            .collect();
        all.sort_by_key(|e| (e.deliver_ms, e.id));
        all
    }

    /// The last delivered messages, oldest first (see [`Network::keep_recent`]).
    pub fn recent(&self) -> Vec<Envelope<M>> {
        self.lock().recent.iter().cloned().collect()
    }
}

/// A lost message breaks the connection between `a` and `b`: both directions lose what
/// they carry, and both ends are told.
fn break_connection<M>(state: &mut State<M>, a: Addr, b: Addr, now_ms: i64) {
    let mut dropped = 0;
    for pair in [(a, b), (b, a)] {
        if let Some(link) = state.links.get_mut(&pair) {
            dropped += link.queue.len() as u64;
            link.queue.clear();
        }
    }
    state.stats.dropped += dropped;
    notify_end(state, a, b, now_ms);
    notify_end(state, b, a, now_ms);
}

/// Puts "the connection to `peer` broke" straight into `end`'s mailbox.
fn notify_end<M>(state: &mut State<M>, end: Addr, peer: Addr, now_ms: i64) {
    let Some(notice) = state.disconnect_notice else {
        return;
    };
    let Some(mailbox) = state.mailboxes.get(&end) else {
        return;
    };
    let id = state.next_id;
    state.next_id += 1;
    let envelope = Envelope {
        id,
        from: peer,
        to: end,
        sent_ms: now_ms,
        deliver_ms: now_ms,
        message: notice(peer),
    };
    let _ = mailbox.try_send(envelope);
}

/// A partition breaks the connections it cuts: their messages in flight are lost.
fn drop_blocked_in_flight<M>(state: &mut State<M>) {
    let mut dropped = 0;
    for (pair, link) in state.links.iter_mut() {
        if state.blocked.contains(pair) {
            dropped += link.queue.len() as u64;
            link.queue.clear();
        }
    }
    state.stats.dropped += dropped;
}
