//! The ZooKeeper-like metadata store: sessions, ephemeral nodes, conditional writes,
//! watches; and the controller election Kafka builds on them.

use kafkasim_core::metadata::{MetadataError, MetadataStore, Notification, WatchEvent};

const SESSION_TIMEOUT_MS: i64 = 18_000; // zookeeper.session.timeout.ms

fn store() -> MetadataStore<String> {
    let mut store = MetadataStore::new();
    store.create("/brokers", String::new(), None).unwrap();
    store.create("/brokers/ids", String::new(), None).unwrap();
    store
}

#[test]
fn a_broker_registration_lives_as_long_as_its_session() {
    let mut store = store();
    let session = store.open_session(1, SESSION_TIMEOUT_MS, 0);
    store
        .create("/brokers/ids/1", "host-1:9092".to_string(), Some(session))
        .unwrap();
    assert_eq!(store.children("/brokers/ids", None), ["1"]);
    // Heartbeats keep it alive past the timeout.
    store.heartbeat(session, 10_000).unwrap();
    assert!(store.expire_sessions(25_000).0.is_empty());
    assert_eq!(store.next_expiry_ms(), Some(28_000));
    // Silence for longer than the timeout: the session and its node go.
    let (expiries, _) = store.expire_sessions(28_001);
    assert_eq!(expiries.len(), 1);
    assert_eq!(
        (expiries[0].client, expiries[0].deleted.clone()),
        (1, vec!["/brokers/ids/1".to_string()])
    );
    assert!(store.children("/brokers/ids", None).is_empty());
    assert_eq!(
        store.heartbeat(session, 28_002),
        Err(MetadataError::SessionExpired { session })
    );
    let error = store
        .create("/brokers/ids/1", String::new(), Some(session))
        .unwrap_err();
    assert!(
        error.to_string().contains("has expired (SESSIONEXPIRED)"),
        "{error}"
    );
}

#[test]
fn the_first_broker_to_create_controller_is_the_controller() {
    let mut store = store();
    let s1 = store.open_session(1, SESSION_TIMEOUT_MS, 0);
    let s2 = store.open_session(2, SESSION_TIMEOUT_MS, 0);
    store
        .create("/controller", "1".to_string(), Some(s1))
        .unwrap();
    // Broker 2 loses the race and watches the node instead.
    assert_eq!(
        store.create("/controller", "2".to_string(), Some(s2)),
        Err(MetadataError::NodeExists {
            path: "/controller".to_string()
        })
    );
    assert_eq!(store.get("/controller", Some(2)).unwrap().0, "1");
    // Broker 1 goes silent; broker 2 keeps heartbeating and is told.
    store.heartbeat(s2, 15_000).unwrap();
    let (expiries, fired) = store.expire_sessions(18_001);
    assert_eq!(expiries.iter().map(|e| e.client).collect::<Vec<_>>(), [1]);
    assert_eq!(
        fired,
        [Notification {
            client: 2,
            path: "/controller".to_string(),
            event: WatchEvent::NodeDeleted
        }]
    );
    store
        .create("/controller", "2".to_string(), Some(s2))
        .unwrap();
    assert_eq!(store.peek("/controller").unwrap().0, "2");
}

#[test]
fn conditional_writes_stop_a_stale_writer() {
    let mut store = store();
    store
        .create_recursive(
            "/brokers/topics/orders/partitions/0/state",
            "leader 1, isr [1,2,3]".into(),
            String::new(),
        )
        .unwrap();
    let path = "/brokers/topics/orders/partitions/0/state";
    let (_, version) = store.get(path, None).unwrap();
    // The controller elects a new leader: version 1.
    let (new_version, _) = store
        .set(path, "leader 2, isr [2,3]".into(), Some(version))
        .unwrap();
    assert_eq!(new_version, 1);
    // The old leader, which read version 0, tries to shrink the ISR: refused.
    let error = store
        .set(path, "leader 1, isr [1]".into(), Some(version))
        .unwrap_err();
    assert_eq!(
        error,
        MetadataError::BadVersion {
            path: path.to_string(),
            expected: 0,
            actual: 1
        }
    );
    assert!(
        error
            .to_string()
            .ends_with("someone wrote it first (BADVERSION)")
    );
    assert_eq!(
        store.peek(path).unwrap(),
        (&"leader 2, isr [2,3]".to_string(), 1)
    );
    // Unconditional writes and deletes.
    assert_eq!(store.set(path, "x".into(), None).unwrap().0, 2);
    assert_eq!(
        store.delete(path, Some(1)),
        Err(MetadataError::BadVersion {
            path: path.to_string(),
            expected: 1,
            actual: 2
        })
    );
    store.delete(path, Some(2)).unwrap();
    assert!(store.peek(path).is_none());
    let error = store.delete("/brokers/topics", None).unwrap_err();
    assert_eq!(
        error,
        MetadataError::NotEmpty {
            path: "/brokers/topics".to_string()
        }
    );
}

#[test]
fn watches_fire_once() {
    let mut store = store();
    assert!(store.children("/brokers/ids", Some(7)).is_empty());
    let session = store.open_session(3, SESSION_TIMEOUT_MS, 0);
    let fired = store
        .create("/brokers/ids/3", String::new(), Some(session))
        .unwrap();
    assert_eq!(
        fired,
        [Notification {
            client: 7,
            path: "/brokers/ids".to_string(),
            event: WatchEvent::NodeChildrenChanged
        }]
    );
    // One-shot: the next change is not reported unless the watch is set again.
    let other = store.open_session(4, SESSION_TIMEOUT_MS, 0);
    assert!(
        store
            .create("/brokers/ids/4", String::new(), Some(other))
            .unwrap()
            .is_empty()
    );
    store.get("/brokers/ids/4", Some(7));
    let (_, fired) = store.set("/brokers/ids/4", "moved".into(), None).unwrap();
    assert_eq!(fired[0].event, WatchEvent::NodeDataChanged);
    // Missing parents are refused, as in ZooKeeper.
    assert_eq!(
        store.create("/a/b", String::new(), None),
        Err(MetadataError::NoParent {
            path: "/a/b".to_string()
        })
    );
    // Children are listed one level deep and sorted.
    store
        .create_recursive("/x/b/deep", String::new(), String::new())
        .unwrap();
    store.create("/x/a", String::new(), None).unwrap();
    assert_eq!(store.children("/x", None), ["a", "b"]);
}
