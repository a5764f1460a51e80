//! Every sentence the terminal UI shows, in one place, so a translation (Chinese first:
//! the course notes kafkasim comes from are Chinese) replaces this file and nothing else.
//! The narrated events come from the simulation, which says the same sentences in
//! `kafkasim run`, `--json` and here.

pub const APP: &str = "kafkasim";
pub const PLAYING: &str = "playing";
pub const PAUSED: &str = "paused";
pub const AT_END: &str = "end of scenario";
pub const REWOUND: &str = "rewound";
pub const WAITING: &str = "simulating…";

pub const BROKERS: &str = "Brokers and network";
pub const PARTITIONS: &str =
    "Partitions: each replica's log (░ deleted, █ below its HW, ▒ above, LEO at the end)";
pub const PARTITIONS_SHORT: &str = "Partitions";
pub const GROUPS: &str = "Consumer groups";
pub const EVENTS: &str = "What happened";
pub const IN_FLIGHT: &str = "Messages in flight";
pub const SPACE_TIME: &str = "Messages between nodes, newest last (m: all)";
pub const HELP: &str = "Keys";
pub const LESSON: &str = "LESSON";

pub const UP: &str = "up";
pub const DOWN: &str = "down";
pub const PAUSED_NODE: &str = "paused";
pub const CONTROLLER: &str = "controller";
pub const UNREGISTERED: &str = "not registered";
pub const ZOOKEEPER: &str = "ZooKeeper";
pub const CUT_OFF_FROM: &str = "cannot reach";

pub const LEADER: &str = "leader";
pub const EPOCH: &str = "epoch";
pub const ISR: &str = "ISR";
pub const OSR: &str = "OSR";
pub const OFFLINE: &str = "OFFLINE: no leader";
pub const UNDER_REPLICATED: &str = "under-replicated";
pub const NO_REPLICA: &str = "down: no replica to show";
pub const CAUGHT_UP: &str = "caught up";
pub const NEVER_CAUGHT_UP: &str = "never caught up";
pub const AGO: &str = "ago";
pub const NO_PARTITIONS: &str = "No topics yet.";

pub const NO_GROUPS: &str = "No consumer groups.";
pub const GENERATION: &str = "generation";
pub const COORDINATOR: &str = "coordinator";
pub const LAG: &str = "lag";
pub const NO_MEMBERS: &str = "no members";
pub const MEMBER_LEGEND: &str = "each member: partition @committed offset +lag";

pub const NOTHING_IN_FLIGHT: &str = "nothing in flight";

pub fn saved(path: &str) -> String {
    format!("saved the session as {path}: kafkasim run {path} replays it")
}

pub fn save_failed(why: &str) -> String {
    format!("could not save the session: {why}")
}

pub fn forked(at_s: f64) -> String {
    format!("forked the timeline at {at_s:.3}s: the future is simulated again with the new fault")
}

pub fn injected(what: &str) -> String {
    format!("injected: {what}")
}

pub fn select_first(what: &str) -> String {
    format!("{what}: select a broker first (keys 1-9)")
}

pub fn no_consumer() -> &'static str {
    "no consumer to act on: this scenario starts none (a adds one if it has a [[consumers]] table)"
}

pub fn cannot_add(why: &str) -> String {
    format!("cannot start the client: {why}")
}

pub fn no_template(what: &str) -> String {
    format!(
        "cannot add {what}: {}",
        "the scenario has no table to copy it from"
    )
}

pub fn simulation_failed(why: &str) -> String {
    format!("the simulation stopped: {why}")
}

pub const NO_TERMINAL: &str =
    "kafkasim: no terminal here (output is not a TTY); running the lesson headless instead.\n";
