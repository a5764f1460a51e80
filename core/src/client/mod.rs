//! Kafka's clients as sans-IO state machines, each with a simulated application around
//! it: the consumer (groups, `assign()`, commits) and the producer; and the admin client.

pub mod admin;
pub mod consumer;
pub mod producer;

use std::collections::BTreeMap;

use crate::protocol::{Message, NodeId};
use crate::replication::BrokerId;
use crate::rng::RandomSource;

/// Kafka's `ExponentialBackoff` (KIP-580; the producer's retries since 3.7): the
/// `attempts`-th retry waits `initial * 2^attempts`, at most `max`, times a jitter
/// factor in [0.8, 1.2), so that batches failed together do not retry together. In
/// integers: Kafka's fractional exponent cap gives `max` exactly where this caps.
pub(crate) fn exponential_backoff_ms(
    initial_ms: i64,
    max_ms: i64,
    attempts: u32,
    rng: &mut impl RandomSource,
) -> i64 {
    if max_ms <= initial_ms {
        return initial_ms;
    }
    let term = initial_ms.saturating_mul(1 << attempts.min(32)).min(max_ms);
    let per_100k = 80_000 + i64::from(rng.next_u32() % 40_000);
    (term * per_100k / 100_000).min(max_ms)
}

/// A client's requests in flight: where each went, what it was for, and when it is
/// given up (Kafka's `NetworkClient` in-flight requests and their timeouts).
#[derive(Clone, Debug)]
pub(crate) struct InFlight<P> {
    next_correlation: u64,
    requests: BTreeMap<u64, (NodeId, P, i64)>,
}

impl<P: PartialEq> InFlight<P> {
    pub(crate) fn new() -> InFlight<P> {
        InFlight {
            next_correlation: 1,
            requests: BTreeMap::new(),
        }
    }

    /// Sends the request `make` builds from a new correlation id.
    pub(crate) fn send<E>(
        &mut self,
        out: &mut crate::actor::Outbox<E>,
        to: NodeId,
        pending: P,
        deadline_ms: i64,
        make: impl FnOnce(u64) -> Message,
    ) {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        self.requests
            .insert(correlation_id, (to, pending, deadline_ms));
        out.send(to, make(correlation_id));
    }

    /// A correlation id for a request built before it is tracked.
    pub(crate) fn reserve(&mut self) -> u64 {
        self.next_correlation += 1;
        self.next_correlation - 1
    }

    /// Waits for the answer to a request sent with a [`InFlight::reserve`]d id.
    pub(crate) fn track(&mut self, correlation_id: u64, to: NodeId, pending: P, deadline_ms: i64) {
        self.requests
            .insert(correlation_id, (to, pending, deadline_ms));
    }

    /// The request a reply answers, if it is still waited for.
    pub(crate) fn answered(&mut self, reply: &Message) -> Option<(NodeId, P)> {
        let correlation_id = reply.reply_correlation_id()?;
        self.requests
            .remove(&correlation_id)
            .map(|(to, pending, _)| (to, pending))
    }

    /// Requests that will get no answer: those on the connection to `lost` (when it
    /// broke) and those past their deadline.
    pub(crate) fn take_failed(&mut self, now_ms: i64, lost: Option<NodeId>) -> Vec<(NodeId, P)> {
        let failed: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, (to, _, deadline))| Some(*to) == lost || *deadline <= now_ms)
            .map(|(c, _)| *c)
            .collect();
        failed
            .into_iter()
            .map(|c| {
                let (to, pending, _) = self.requests.remove(&c).expect("listed");
                (to, pending)
            })
            .collect()
    }

    pub(crate) fn any(&self, f: impl Fn(&P) -> bool) -> bool {
        self.requests.values().any(|(_, p, _)| f(p))
    }

    pub(crate) fn contains(&self, pending: &P) -> bool {
        self.any(|p| p == pending)
    }

    pub(crate) fn next_deadline_ms(&self) -> Option<i64> {
        self.requests.values().map(|(_, _, d)| *d).min()
    }
}

/// The brokers a client asks for metadata and coordinators, in turn: the bootstrap list
/// until metadata names the live ones.
#[derive(Clone, Debug)]
pub(crate) struct Brokers {
    brokers: Vec<BrokerId>,
    next: usize,
}

impl Brokers {
    pub(crate) fn new(bootstrap: &[BrokerId]) -> Brokers {
        assert!(!bootstrap.is_empty(), "a client needs bootstrap brokers");
        Brokers {
            brokers: bootstrap.to_vec(),
            next: 0,
        }
    }

    pub(crate) fn next(&mut self) -> BrokerId {
        let b = self.brokers[self.next % self.brokers.len()];
        self.next += 1;
        b
    }

    /// The live brokers from a metadata answer (kept as they were when it names none).
    pub(crate) fn update(&mut self, live: impl IntoIterator<Item = BrokerId>) {
        let live: Vec<BrokerId> = live.into_iter().collect();
        if !live.is_empty() {
            self.brokers = live;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exponential_backoff_ms;
    use crate::rng::SplitMix64;

    #[test]
    fn backoff_doubles_up_to_the_max_with_jitter() {
        let mut rng = SplitMix64::new(1);
        for (attempts, term) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1_000),
            (40, 1_000),
        ] {
            for _ in 0..50 {
                let wait = exponential_backoff_ms(100, 1_000, attempts, &mut rng);
                assert!(
                    wait >= term * 8 / 10 && wait <= term.min(1_000) * 12 / 10,
                    "{attempts}: {wait}"
                );
                assert!(wait <= 1_000);
            }
        }
        assert_eq!(
            exponential_backoff_ms(100, 100, 5, &mut rng),
            100,
            "no max: fixed"
        );
    }
}
