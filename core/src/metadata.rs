//! A ZooKeeper-like metadata store, as ZooKeeper-era Kafka used it: a tree of nodes with
//! versions, sessions that expire when their owner stops heartbeating for
//! `zookeeper.session.timeout.ms`, ephemeral nodes that vanish with their session (a
//! broker's registration, the `/controller` node), versioned conditional writes (how a
//! stale leader or controller is stopped from overwriting newer state), and one-shot
//! watches. It is one linearizable value: the simulation runs it on one node and every
//! operation applies atomically, in the order the node receives it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A session, as ZooKeeper numbers them.
pub type SessionId = u64;

/// Whoever opens sessions and sets watches (a broker id, in practice).
pub type ClientId = i32;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node<V> {
    value: V,
    /// Starts at 0 and grows by one on every write.
    version: i32,
    /// The session that owns an ephemeral node.
    ephemeral_owner: Option<SessionId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    client: ClientId,
    timeout_ms: i64,
    last_heartbeat_ms: i64,
}

/// What a watch reports (ZooKeeper's event types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WatchEvent {
    NodeCreated,
    NodeDataChanged,
    NodeDeleted,
    NodeChildrenChanged,
}

/// A watch that fired: tell `client` that `path` saw `event`. Watches are one-shot, as
/// in ZooKeeper: the client sets it again if it still cares.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Notification {
    pub client: ClientId,
    pub path: String,
    pub event: WatchEvent,
}

/// Errors with ZooKeeper's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataError {
    NodeExists {
        path: String,
    },
    NoNode {
        path: String,
    },
    /// A conditional write expected another version.
    BadVersion {
        path: String,
        expected: i32,
        actual: i32,
    },
    /// The session is unknown or has expired.
    SessionExpired {
        session: SessionId,
    },
    /// The parent of a new node does not exist.
    NoParent {
        path: String,
    },
    /// Deleting a node that still has children.
    NotEmpty {
        path: String,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::NodeExists { path } => write!(f, "{path} already exists (NODEEXISTS)"),
            MetadataError::NoNode { path } => write!(f, "{path} does not exist (NONODE)"),
            MetadataError::BadVersion {
                path,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{path} is at version {actual}, not {expected}: someone wrote it first (BADVERSION)"
                )
            }
            MetadataError::SessionExpired { session } => {
                write!(f, "session {session:#x} has expired (SESSIONEXPIRED)")
            }
            MetadataError::NoParent { path } => {
                write!(f, "the parent of {path} does not exist (NONODE)")
            }
            MetadataError::NotEmpty { path } => write!(f, "{path} still has children (NOTEMPTY)"),
        }
    }
}

impl std::error::Error for MetadataError {}

/// A session that expired, and the ephemeral nodes that went with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub session: SessionId,
    pub client: ClientId,
    /// The session's timeout (`zookeeper.session.timeout.ms`).
    pub timeout_ms: i64,
    pub deleted: Vec<String>,
}

/// The store. `V` is whatever the nodes hold (the simulation stores typed values rather
/// than ZooKeeper's JSON bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataStore<V> {
    nodes: BTreeMap<String, Node<V>>,
    sessions: BTreeMap<SessionId, Session>,
    next_session: SessionId,
    data_watches: BTreeMap<String, BTreeSet<ClientId>>,
    child_watches: BTreeMap<String, BTreeSet<ClientId>>,
}

impl<V> Default for MetadataStore<V> {
    fn default() -> Self {
        MetadataStore {
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
            data_watches: BTreeMap::new(),
            child_watches: BTreeMap::new(),
        }
    }
}

/// `/a/b/c` -> `/a/b`; `/a` -> `/` (the root, which always exists).
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(at) => &path[..at],
    }
}

impl<V: Clone> MetadataStore<V> {
    pub fn new() -> Self {
        MetadataStore::default()
    }

    /// Opens a session for `client` that expires after `timeout_ms` without a heartbeat.
    pub fn open_session(&mut self, client: ClientId, timeout_ms: i64, now_ms: i64) -> SessionId {
        let session = self.next_session;
        self.next_session += 1;
        self.sessions.insert(
            session,
            Session {
                client,
                timeout_ms,
                last_heartbeat_ms: now_ms,
            },
        );
        session
    }

    /// A heartbeat keeps the session alive.
    pub fn heartbeat(&mut self, session: SessionId, now_ms: i64) -> Result<(), MetadataError> {
        let state = self
            .sessions
            .get_mut(&session)
            .ok_or(MetadataError::SessionExpired { session })?;
        state.last_heartbeat_ms = now_ms;
        Ok(())
    }

    /// The client that opened a live session.
    pub fn session_client(&self, session: SessionId) -> Option<ClientId> {
        self.sessions.get(&session).map(|s| s.client)
    }

    pub fn session_alive(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// When the next session would expire if no heartbeat arrives: the store's timer.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.sessions
            .values()
            .map(|s| s.last_heartbeat_ms + s.timeout_ms)
            .min()
    }

    /// Expires every session silent for longer than its timeout, deleting its ephemeral
    /// nodes (and firing their watches).
    pub fn expire_sessions(&mut self, now_ms: i64) -> (Vec<Expiry>, Vec<Notification>) {
        let expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| now_ms - s.last_heartbeat_ms > s.timeout_ms)
            .map(|(&id, _)| id)
            .collect();
        let mut expiries = Vec::new();
        let mut notifications = Vec::new();
        for session in expired {
            let (expiry, fired) = self.close_session(session);
            expiries.push(expiry);
            notifications.extend(fired);
        }
        (expiries, notifications)
    }

    /// Closes a session now (a clean shutdown), deleting its ephemeral nodes.
    pub fn close_session(&mut self, session: SessionId) -> (Expiry, Vec<Notification>) {
        let (client, timeout_ms) = self
            .sessions
            .remove(&session)
            .map_or((-1, 0), |s| (s.client, s.timeout_ms));
        let owned: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, node)| node.ephemeral_owner == Some(session))
            .map(|(path, _)| path.clone())
            .collect();
        let mut notifications = Vec::new();
        for path in &owned {
            self.nodes.remove(path);
            notifications.extend(self.fire_deleted(path));
        }
        (
            Expiry {
                session,
                client,
                timeout_ms,
                deleted: owned,
            },
            notifications,
        )
    }

    /// Creates a node (ephemeral when `ephemeral_session` is given). The parent must exist.
    pub fn create(
        &mut self,
        path: &str,
        value: V,
        ephemeral_session: Option<SessionId>,
    ) -> Result<Vec<Notification>, MetadataError> {
        if let Some(session) = ephemeral_session
            && !self.sessions.contains_key(&session)
        {
            return Err(MetadataError::SessionExpired { session });
        }
        if self.nodes.contains_key(path) {
            return Err(MetadataError::NodeExists {
                path: path.to_string(),
            });
        }
        let parent = parent(path);
        if parent != "/" && !self.nodes.contains_key(parent) {
            return Err(MetadataError::NoParent {
                path: path.to_string(),
            });
        }
        self.nodes.insert(
            path.to_string(),
            Node {
                value,
                version: 0,
                ephemeral_owner: ephemeral_session,
            },
        );
        let mut fired = self.fire(path, WatchEvent::NodeCreated);
        fired.extend(self.fire_children(parent));
        Ok(fired)
    }

    /// Creates `path` and any missing parents (with `fill` as their value), like Kafka's
    /// `makeSurePersistentPathExists`.
    pub fn create_recursive(
        &mut self,
        path: &str,
        value: V,
        fill: V,
    ) -> Result<Vec<Notification>, MetadataError> {
        let mut fired = Vec::new();
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for (n, part) in parts.iter().enumerate() {
            prefix.push('/');
            prefix.push_str(part);
            if n + 1 < parts.len() && !self.nodes.contains_key(&prefix) {
                fired.extend(self.create(&prefix, fill.clone(), None)?);
            }
        }
        fired.extend(self.create(path, value, None)?);
        Ok(fired)
    }

    /// The value and version at `path`; with `watch`, `client` hears of the next change.
    pub fn get(&mut self, path: &str, watch: Option<ClientId>) -> Option<(V, i32)> {
        if let Some(client) = watch {
            self.data_watches
                .entry(path.to_string())
                .or_default()
                .insert(client);
        }
        self.nodes
            .get(path)
            .map(|node| (node.value.clone(), node.version))
    }

    /// Reads without setting a watch.
    pub fn peek(&self, path: &str) -> Option<(&V, i32)> {
        self.nodes.get(path).map(|node| (&node.value, node.version))
    }

    /// The names of `path`'s children, sorted, without setting a watch.
    pub fn child_names(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| !p[prefix.len()..].contains('/'))
            .map(|(p, _)| p[prefix.len()..].to_string())
            .collect()
    }

    /// The names of `path`'s children, sorted; with `watch`, `client` hears when they change.
    pub fn children(&mut self, path: &str, watch: Option<ClientId>) -> Vec<String> {
        if let Some(client) = watch {
            self.child_watches
                .entry(path.to_string())
                .or_default()
                .insert(client);
        }
        self.child_names(path)
    }

    /// Writes `value` if the node is at `expected_version` (or unconditionally with None).
    /// Returns the new version.
    pub fn set(
        &mut self,
        path: &str,
        value: V,
        expected_version: Option<i32>,
    ) -> Result<(i32, Vec<Notification>), MetadataError> {
        self.check_version(path, expected_version)?;
        let node = self.nodes.get_mut(path).expect("checked above");
        node.value = value;
        node.version += 1;
        let version = node.version;
        Ok((version, self.fire(path, WatchEvent::NodeDataChanged)))
    }

    /// Deletes a childless node if it is at `expected_version` (or unconditionally).
    pub fn delete(
        &mut self,
        path: &str,
        expected_version: Option<i32>,
    ) -> Result<Vec<Notification>, MetadataError> {
        self.check_version(path, expected_version)?;
        if !self.children(path, None).is_empty() {
            return Err(MetadataError::NotEmpty {
                path: path.to_string(),
            });
        }
        self.nodes.remove(path);
        Ok(self.fire_deleted(path))
    }

    /// The node exists and, when a version is expected, is at that version.
    fn check_version(
        &self,
        path: &str,
        expected_version: Option<i32>,
    ) -> Result<(), MetadataError> {
        let node = self.nodes.get(path).ok_or_else(|| MetadataError::NoNode {
            path: path.to_string(),
        })?;
        match expected_version {
            Some(expected) if expected != node.version => Err(MetadataError::BadVersion {
                path: path.to_string(),
                expected,
                actual: node.version,
            }),
            _ => Ok(()),
        }
    }

    fn fire_deleted(&mut self, path: &str) -> Vec<Notification> {
        let mut fired = self.fire(path, WatchEvent::NodeDeleted);
        fired.extend(self.fire_children(parent(path)));
        fired
    }

    fn fire(&mut self, path: &str, event: WatchEvent) -> Vec<Notification> {
        self.data_watches
            .remove(path)
            .unwrap_or_default()
            .into_iter()
            .map(|client| Notification {
                client,
                path: path.to_string(),
                event,
            })
            .collect()
    }

    fn fire_children(&mut self, path: &str) -> Vec<Notification> {
        self.child_watches
            .remove(path)
            .unwrap_or_default()
            .into_iter()
            .map(|client| Notification {
                client,
                path: path.to_string(),
                event: WatchEvent::NodeChildrenChanged,
            })
            .collect()
    }
}
