//! The ZooKeeper node: [`MetadataStore`] behind requests. One node, so every request
//! applies atomically in arrival order (linearizable). Sessions expire after their
//! timeout without traffic, taking their ephemeral nodes with them; watches are sent
//! to their clients as messages.

use crate::actor::Actor;
use crate::event::{Event, EventKind};
use crate::metadata::{MetadataError, MetadataStore, Notification, SessionId};
use crate::protocol::{
    Message, MultiResult, NodeId, ZNode, ZOOKEEPER, ZkOp, ZkOpResult, ZkRequest, ZkResponse,
};

/// This module's actors tell the narration [`crate::event::Event`]s.
type Outbox = crate::actor::Outbox<crate::event::Event>;

/// The paths Kafka's brokers expect to exist.
pub const BROKER_IDS: &str = "/brokers/ids";
pub const TOPICS: &str = "/brokers/topics";
pub const CONTROLLER: &str = "/controller";
pub const CONTROLLER_EPOCH: &str = "/controller_epoch";

pub fn broker_path(broker: i32) -> String {
    format!("{BROKER_IDS}/{broker}")
}

pub fn topic_path(topic: &str) -> String {
    format!("{TOPICS}/{topic}")
}

pub fn partition_state_path(topic: &str, partition: u32) -> String {
    format!("{TOPICS}/{topic}/partitions/{partition}/state")
}

/// ZooKeeper's `tickTime` (its default): sessions are negotiated into
/// [2 × tickTime, 20 × tickTime] (4 s to 40 s).
pub const TICK_TIME_MS: i64 = 2_000;

/// The session timeout ZooKeeper grants for a requested one
/// (`ZooKeeperServer.processConnectRequest`: raised to `minSessionTimeout`, default
/// 2 × tickTime, and lowered to `maxSessionTimeout`, default 20 × tickTime).
pub fn negotiated_session_timeout_ms(requested_ms: i64) -> i64 {
    requested_ms.clamp(2 * TICK_TIME_MS, 20 * TICK_TIME_MS)
}

/// The ZooKeeper server.
#[derive(Clone, Debug)]
pub struct ZooKeeper {
    store: MetadataStore<ZNode>,
}

impl Default for ZooKeeper {
    fn default() -> Self {
        ZooKeeper::new()
    }
}

impl ZooKeeper {
    /// A store holding Kafka's persistent directories.
    pub fn new() -> ZooKeeper {
        let mut store = MetadataStore::new();
        for path in ["/brokers", BROKER_IDS, TOPICS] {
            store
                .create(path, ZNode::Empty, None)
                .expect("a new store has room for Kafka's directories");
        }
        ZooKeeper { store }
    }

    pub fn store(&self) -> &MetadataStore<ZNode> {
        &self.store
    }

    fn apply(
        &mut self,
        session: SessionId,
        op: &ZkOp,
    ) -> Result<(ZkOpResult, Vec<Notification>), MetadataError> {
        match op {
            ZkOp::Create {
                path,
                value,
                ephemeral,
            } => {
                let fired = self
                    .store
                    .create(path, value.clone(), ephemeral.then_some(session))?;
                Ok((ZkOpResult::Done, fired))
            }
            ZkOp::Set {
                path,
                value,
                version,
            } => {
                let (version, fired) = self.store.set(path, value.clone(), *version)?;
                Ok((ZkOpResult::Version(version), fired))
            }
            ZkOp::Delete { path, version } => {
                Ok((ZkOpResult::Done, self.store.delete(path, *version)?))
            }
            ZkOp::Check { path, version } => match self.store.peek(path) {
                None => Err(MetadataError::NoNode { path: path.clone() }),
                Some((_, actual)) if actual != *version => Err(MetadataError::BadVersion {
                    path: path.clone(),
                    expected: *version,
                    actual,
                }),
                Some(_) => Ok((ZkOpResult::Done, Vec::new())),
            },
            ZkOp::Get { path, watch } => {
                let client = watch.then(|| self.client_of(session)).flatten();
                Ok((ZkOpResult::Value(self.store.get(path, client)), Vec::new()))
            }
            ZkOp::Children { path, watch } => {
                let client = watch.then(|| self.client_of(session)).flatten();
                Ok((
                    ZkOpResult::Children(self.store.children(path, client)),
                    Vec::new(),
                ))
            }
        }
    }

    fn client_of(&self, session: SessionId) -> Option<NodeId> {
        self.store.session_client(session)
    }

    /// Applies `ops` all or nothing: on a failure the store is left as it was.
    fn multi(&mut self, session: SessionId, ops: &[ZkOp]) -> (MultiResult, Vec<Notification>) {
        let before = (ops.len() > 1).then(|| self.store.clone());
        let mut results = Vec::with_capacity(ops.len());
        let mut fired = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            match self.apply(session, op) {
                Ok((result, notifications)) => {
                    results.push(result);
                    fired.extend(notifications);
                }
                Err(error) => {
                    if let Some(before) = before {
                        self.store = before;
                    }
                    return (Err((n, error)), Vec::new());
                }
            }
        }
        (Ok(results), fired)
    }

    fn notify(out: &mut Outbox, fired: Vec<Notification>) {
        for notification in fired {
            out.send(notification.client, Message::ZkWatch(notification));
        }
    }
}

impl Actor for ZooKeeper {
    type Event = crate::event::Event;

    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox) {
        let Message::Zk(request) = message else {
            return;
        };
        let reply = match request {
            ZkRequest::OpenSession { xid, timeout_ms } => {
                let granted = negotiated_session_timeout_ms(timeout_ms);
                if granted != timeout_ms {
                    out.emit(Event {
                        time_ms: now_ms,
                        node: ZOOKEEPER,
                        kind: EventKind::SessionTimeoutNegotiated {
                            client: from,
                            requested_ms: timeout_ms,
                            granted_ms: granted,
                        },
                    });
                }
                ZkResponse::SessionOpened {
                    xid,
                    session: self.store.open_session(from, granted, now_ms),
                    timeout_ms: granted,
                }
            }
            ZkRequest::Ping { xid, session } => match self.store.heartbeat(session, now_ms) {
                Ok(()) => ZkResponse::Pong { xid },
                Err(_) => ZkResponse::SessionExpired { xid },
            },
            ZkRequest::CloseSession { xid, session } => {
                let (expiry, fired) = self.store.close_session(session);
                out.emit(Event {
                    time_ms: now_ms,
                    node: ZOOKEEPER,
                    kind: EventKind::SessionClosed {
                        client: expiry.client,
                        deleted: expiry.deleted,
                    },
                });
                out.send(from, Message::ZkReply(ZkResponse::Pong { xid }));
                Self::notify(out, fired);
                return;
            }
            ZkRequest::Multi { xid, session, ops } => {
                if self.store.heartbeat(session, now_ms).is_err() {
                    ZkResponse::SessionExpired { xid }
                } else {
                    let (result, fired) = self.multi(session, &ops);
                    out.send(from, Message::ZkReply(ZkResponse::Multi { xid, result }));
                    Self::notify(out, fired);
                    return;
                }
            }
        };
        out.send(from, Message::ZkReply(reply));
    }

    fn tick(&mut self, now_ms: i64, out: &mut Outbox) {
        let (expiries, fired) = self.store.expire_sessions(now_ms);
        for expiry in expiries {
            out.emit(Event {
                time_ms: now_ms,
                node: ZOOKEEPER,
                kind: EventKind::SessionExpired {
                    client: expiry.client,
                    timeout_ms: expiry.timeout_ms,
                    deleted: expiry.deleted,
                },
            });
        }
        Self::notify(out, fired);
    }

    fn next_timer_ms(&self) -> Option<i64> {
        // Expiry is "silent for longer than the timeout": one ms past the deadline.
        self.store.next_expiry_ms().map(|at| at + 1)
    }
}
