//! The world the nodes share (the bus, the brokers' state, the trace, the invariant
//! check) and the node runner that feeds each actor.

use super::*;

/// What every node runner shares.
pub(super) struct World {
    pub(super) net: Network<Message>,
    /// Each broker's state; None while it is down.
    pub(super) brokers: Mutex<BTreeMap<BrokerId, Slot<Broker>>>,
    pub(super) trace: Mutex<Vec<TraceEntry>>,
    pub(super) invariants: Invariants,
    pub(super) trace_events: bool,
    /// What the invariant check already compared, so each step reads only new records.
    pub(super) verified: Mutex<kafkasim_core::invariants::VerifiedLogs>,
}

pub(super) type Slot<A> = Arc<Mutex<Option<A>>>;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
        .expect("no simulation code panics while holding a lock")
}

impl World {
    pub(super) fn record(&self, entry: TraceEntry) {
        lock(&self.trace).push(entry);
    }

    /// Runs the replica invariants over every broker that is up.
    pub(super) fn check_invariants(&self, now_ms: i64) {
        if self.invariants == Invariants::Off {
            return;
        }
        let slots: Vec<Slot<Broker>> = lock(&self.brokers).values().cloned().collect();
        let guards: Vec<MutexGuard<'_, Option<Broker>>> = slots.iter().map(|s| lock(s)).collect();
        let brokers: Vec<&Broker> = guards.iter().filter_map(|g| g.as_ref()).collect();
        let mut verified = lock(&self.verified);
        for violation in kafkasim_core::invariants::violations(&brokers, &mut verified) {
            match self.invariants {
                Invariants::Panic => panic!(
                    "at {now_ms} ms: invariant violated: {}",
                    crate::narrate::violation(&violation, crate::lang::Lang::En)
                ),
                Invariants::Record => {
                    let mut trace = lock(&self.trace);
                    // One line per distinct violation, not one per step.
                    let seen = trace.iter().any(
                        |e| matches!(e, TraceEntry::Violation { violation: v, .. } if *v == violation),
                    );
                    if !seen {
                        trace.push(TraceEntry::Violation {
                            time_ms: now_ms,
                            violation,
                        });
                    }
                }
                Invariants::Off => {}
            }
        }
    }
}

/// Feeds one actor its messages and due timers, forever (until its node is killed).
pub(super) async fn run_node<A>(
    addr: NodeId,
    slot: Slot<A>,
    inbox: async_channel::Receiver<Envelope<Message>>,
    world: Arc<World>,
) where
    A: Actor + Send + 'static,
    A::Event: Into<kafkasim_core::event::Event>,
{
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
            trace.extend(out.events.into_iter().map(|e| TraceEntry::Event(e.into())));
        }
        world.check_invariants(now_ms);
        if ticked {
            // A timer that stays due after its tick must not spin at one instant.
            madsim::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
