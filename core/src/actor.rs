//! The contract every node's state machine keeps, sans IO: messages and due timers in,
//! sends and events out. The simulation's node runner is the only caller.

use crate::ids::NodeId;
use crate::protocol::Message;

/// Where a state machine's output goes: messages to send and events to narrate. `E` is
/// the actor's own event type (the broker's is `event::Event`; a client's is its own, so
/// that it needs nothing of the others' events).
#[derive(Debug)]
pub struct Outbox<E> {
    pub sends: Vec<(NodeId, Message)>,
    pub events: Vec<E>,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Outbox {
            sends: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<E> Outbox<E> {
    pub fn send(&mut self, to: NodeId, message: Message) {
        self.sends.push((to, message));
    }

    pub fn emit(&mut self, event: E) {
        self.events.push(event);
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.events.is_empty()
    }
}

/// A node's state machine, sans IO: messages and due timers in, sends and events out.
pub trait Actor {
    /// What it tells the narration.
    type Event;
    fn handle(
        &mut self,
        now_ms: i64,
        from: NodeId,
        message: Message,
        out: &mut Outbox<Self::Event>,
    );
    /// Called when the time from [`Actor::next_timer_ms`] has come.
    fn tick(&mut self, now_ms: i64, out: &mut Outbox<Self::Event>);
    /// When the actor next needs [`Actor::tick`], if ever.
    fn next_timer_ms(&self) -> Option<i64>;
}
