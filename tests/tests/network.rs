//! kafkasim's message bus: per-link FIFO under random latency, determinism by seed,
//! partitions, resets, loss, and the in-flight listing.

use std::time::Duration;

use kafkasim_sim::net::{Envelope, LinkConfig, Network};
use kafkasim_sim::runtime::run_seeded;

const WIDE: LinkConfig = LinkConfig {
    latency_min_ms: 1,
    latency_max_ms: 50,
    loss: 0.0,
};

/// Drains what has arrived in a mailbox so far.
fn drain(mailbox: &async_channel::Receiver<Envelope<u32>>) -> Vec<Envelope<u32>> {
    std::iter::from_fn(|| mailbox.try_recv().ok()).collect()
}

#[test]
fn each_link_is_fifo_whatever_the_latency() {
    let delivered = run_seeded(1, || async {
        let net = Network::new(WIDE);
        let inbox = net.register(2);
        for i in 0..200 {
            net.send(1, 2, i);
            if i % 7 == 0 {
                madsim::time::sleep(Duration::from_millis(3)).await;
            }
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
        drain(&inbox)
    });
    assert_eq!(
        delivered.iter().map(|e| e.message).collect::<Vec<_>>(),
        (0..200).collect::<Vec<_>>()
    );
    for e in &delivered {
        assert!(e.deliver_ms > e.sent_ms, "at least 1 ms: {e:?}");
    }
    // Latencies really vary (so FIFO is the bus's doing, not the draw's).
    let latencies: std::collections::BTreeSet<_> =
        delivered.iter().map(|e| e.deliver_ms - e.sent_ms).collect();
    assert!(latencies.len() > 5, "{latencies:?}");
}

/// Three nodes sending to each other; the arrival trace at node 3.
fn trace(seed: u64) -> Vec<(u64, i32, i64, u32)> {
    run_seeded(seed, || async {
        let net = Network::new(WIDE);
        let inbox = net.register(3);
        for i in 0..50 {
            net.send(1, 3, i);
            net.send(2, 3, 1000 + i);
            madsim::time::sleep(Duration::from_millis(2)).await;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
        drain(&inbox)
            .into_iter()
            .map(|e| (e.id, e.from, e.deliver_ms, e.message))
            .collect()
    })
}

#[test]
fn one_seed_one_delivery_order() {
    let first = trace(7);
    assert_eq!(first.len(), 100);
    assert_eq!(first, trace(7));
    assert_ne!(first, trace(8));
}

#[test]
fn partitions_drop_traffic_between_groups_until_healed() {
    let (during, after, stats) = run_seeded(3, || async {
        let net = Network::new(LinkConfig {
            latency_min_ms: 10,
            latency_max_ms: 10,
            loss: 0.0,
        });
        let inbox2 = net.register(2);
        let inbox3 = net.register(3);
        net.send(1, 2, 1); // in flight when the partition starts: lost
        madsim::time::sleep(Duration::from_millis(2)).await;
        net.partition(&[&[1], &[2, 3]]);
        assert!(!net.reachable(1, 2) && net.reachable(2, 3));
        net.send(1, 2, 2);
        net.send(2, 3, 3); // same side: delivered
        madsim::time::sleep(Duration::from_millis(50)).await;
        let during = (drain(&inbox2), drain(&inbox3));
        net.heal();
        net.send(1, 2, 4);
        madsim::time::sleep(Duration::from_millis(50)).await;
        (during, drain(&inbox2), net.stats())
    });
    assert!(during.0.is_empty());
    assert_eq!(during.1.iter().map(|e| e.message).collect::<Vec<_>>(), [3]);
    assert_eq!(after.iter().map(|e| e.message).collect::<Vec<_>>(), [4]);
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (4, 2, 2));
}

#[test]
fn a_reset_drops_the_mailbox_and_what_is_in_flight() {
    let (in_flight, after_reset, after_restart) = run_seeded(4, || async {
        let net = Network::new(LinkConfig {
            latency_min_ms: 20,
            latency_max_ms: 20,
            loss: 0.0,
        });
        let _old = net.register(2);
        net.send(1, 2, 1);
        net.send(2, 1, 2);
        net.send(1, 3, 3);
        let in_flight: Vec<(i32, i32, u32)> = net
            .in_flight()
            .iter()
            .map(|e| (e.from, e.to, e.message))
            .collect();
        net.reset(2);
        let after_reset: Vec<u32> = net.in_flight().iter().map(|e| e.message).collect();
        // Restarted, node 2 gets what is sent from now on.
        let inbox = net.register(2);
        net.send(1, 2, 4);
        madsim::time::sleep(Duration::from_millis(40)).await;
        (
            in_flight,
            after_reset,
            drain(&inbox).iter().map(|e| e.message).collect::<Vec<_>>(),
        )
    });
    assert_eq!(in_flight, [(1, 2, 1), (2, 1, 2), (1, 3, 3)]);
    assert_eq!(
        after_reset,
        [3],
        "only the message not touching node 2 is still in flight"
    );
    assert_eq!(after_restart, [4]);
}

/// Messages at or above this are "connection lost" notices: NOTICE + the peer.
const NOTICE: u32 = 1_000_000;

#[test]
fn a_lost_message_breaks_its_connection_and_both_ends_are_told() {
    // Over TCP a message is only lost with its connection: what the link carried both
    // ways is dropped, and each end gets a notice from the other.
    let (stats, got, notices_at_1) = run_seeded(5, || async {
        let net = Network::new(LinkConfig::default())
            .with_disconnect_notices(|peer| NOTICE + peer as u32);
        net.set_link(
            1,
            2,
            LinkConfig {
                loss: 0.3,
                ..LinkConfig::default()
            },
        );
        let inbox1 = net.register(1);
        let inbox2 = net.register(2);
        for i in 0..1000 {
            net.send(1, 2, i);
        }
        madsim::time::sleep(Duration::from_millis(20)).await;
        let got = drain(&inbox2);
        let at_1 = drain(&inbox1);
        (net.stats(), got, at_1)
    });
    assert_eq!(stats.sent, 1000);
    assert_eq!(stats.lost + stats.dropped + stats.delivered, 1000);
    assert!((230..=370).contains(&stats.lost), "{stats:?}");
    let (notices, data): (Vec<u32>, Vec<u32>) =
        got.iter().map(|e| e.message).partition(|&m| m >= NOTICE);
    assert_eq!(
        notices.len() as u64,
        stats.lost,
        "node 2 hears of every break"
    );
    assert!(notices.iter().all(|&m| m == NOTICE + 1), "from node 1");
    assert_eq!(notices_at_1.len() as u64, stats.lost, "and so does node 1");
    // What arrives is still in order.
    assert!(data.windows(2).all(|w| w[0] < w[1]));
}
