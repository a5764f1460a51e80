//! The nemesis: seeded random faults, each undone.

use super::*;

/// A kind of fault the nemesis injects, and how it is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NemesisFault {
    Crash,
    PowerLoss,
    Shutdown,
    /// One broker cut off from the other brokers (ZooKeeper and clients reach both).
    Partition,
    /// One broker or ZooKeeper cut off from everyone.
    Isolate,
    Pause,
}

pub(super) const NEMESIS_FAULTS: &[(&str, NemesisFault)] = &[
    ("crash", NemesisFault::Crash),
    ("power-loss", NemesisFault::PowerLoss),
    ("shutdown", NemesisFault::Shutdown),
    ("partition", NemesisFault::Partition),
    ("isolate", NemesisFault::Isolate),
    ("pause", NemesisFault::Pause),
];

/// A seeded random fault schedule (Jepsen's nemesis): one fault at a time, each undone
/// before the next, at jittered intervals; targets drawn from the brokers, the
/// partitions' leaders, the controller and ZooKeeper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nemesis {
    pub faults: Vec<NemesisFault>,
    pub start_ms: i64,
    pub stop_ms: i64,
    pub interval_ms: i64,
    pub heal_after_ms: i64,
}

impl Nemesis {
    /// The faults and their undoing, drawn from `seed` alone.
    pub fn schedule(&self, seed: u64, cluster: &ClusterBuilder) -> Vec<Timed> {
        use kafkasim_core::rng::{RandomSource, SplitMix64};
        let mut rng = SplitMix64::new(seed ^ 0x6e65_6d65_7369_7321);
        let mut draw = |n: usize| (rng.next_u32() as usize) % n.max(1);
        let brokers: Vec<BrokerId> = (1..=cluster.brokers).collect();
        let leaders: Vec<Selector> = cluster
            .topics
            .iter()
            .flat_map(|t| {
                (0..t.partitions).map(|p| Selector::LeaderOf(TopicPartition::new(&t.name, p)))
            })
            .collect();
        let mut out = Vec::new();
        let mut at = self.start_ms;
        loop {
            // Jitter: from half to one and a half of the mean.
            at += self.interval_ms / 2 + draw(self.interval_ms as usize + 1) as i64;
            let lasts = self.heal_after_ms / 2 + draw(self.heal_after_ms as usize + 1) as i64;
            if at + lasts > self.stop_ms {
                break;
            }
            let kind = self.faults[draw(self.faults.len())];
            let broker = Selector::Broker(brokers[draw(brokers.len())]);
            // Crashes and pauses hit a chosen broker, a leader or the controller.
            let victim = match draw(3) {
                0 => broker.clone(),
                1 if !leaders.is_empty() => leaders[draw(leaders.len())].clone(),
                _ => Selector::Controller,
            };
            let act = |action, target| Command::Fault(Fault { action, target });
            let (fault, undo) = match kind {
                NemesisFault::Crash => (
                    act(Action::Crash(Crash::Process), Some(victim)),
                    act(Action::Restart, Some(Selector::Crashed)),
                ),
                NemesisFault::PowerLoss => (
                    act(Action::Crash(Crash::PowerLoss), Some(victim)),
                    act(Action::Restart, Some(Selector::Crashed)),
                ),
                NemesisFault::Shutdown => (
                    act(Action::Shutdown, Some(victim)),
                    act(Action::Restart, Some(Selector::Crashed)),
                ),
                NemesisFault::Partition => {
                    let Selector::Broker(b) = broker else {
                        unreachable!("a broker");
                    };
                    let others = brokers
                        .iter()
                        .filter(|o| **o != b)
                        .map(|o| Selector::Broker(*o))
                        .collect();
                    (
                        act(
                            Action::Partition(vec![vec![Selector::Broker(b)], others]),
                            None,
                        ),
                        act(Action::Heal, None),
                    )
                }
                NemesisFault::Isolate => {
                    let target = if draw(4) == 0 {
                        Selector::ZooKeeper
                    } else {
                        broker
                    };
                    (act(Action::Isolate, Some(target)), act(Action::Heal, None))
                }
                NemesisFault::Pause => {
                    // Resume what was paused: a broker named now.
                    let b = broker;
                    (
                        act(Action::Pause, Some(b.clone())),
                        act(Action::Resume, Some(b)),
                    )
                }
            };
            out.push(Timed::new(at, fault));
            out.push(Timed::new(at + lasts, undo));
            at += lasts;
        }
        out
    }
}
