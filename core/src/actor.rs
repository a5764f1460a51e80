//! The contract every node's state machine keeps, sans IO: messages and due timers in,
//! sends and events out. The simulation's node runner is the only caller.

use crate::event::Event;
use crate::ids::NodeId;
use crate::protocol::Message;

/// Where a state machine's output goes: messages to send and events to narrate.
#[derive(Debug, Default)]
pub struct Outbox {
    pub sends: Vec<(NodeId, Message)>,
    pub events: Vec<Event>,
}

impl Outbox {
    pub fn send(&mut self, to: NodeId, message: Message) {
        self.sends.push((to, message));
    }

    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.events.is_empty()
    }
}

/// A node's state machine, sans IO: messages and due timers in, sends and events out.
pub trait Actor {
    fn handle(&mut self, now_ms: i64, from: NodeId, message: Message, out: &mut Outbox);
    /// Called when the time from [`Actor::next_timer_ms`] has come.
    fn tick(&mut self, now_ms: i64, out: &mut Outbox);
    /// When the actor next needs [`Actor::tick`], if ever.
    fn next_timer_ms(&self) -> Option<i64>;
}
