//! The keymap as data: each key, what it does, and the words for it. The help overlay
//! and the header's hints are generated from this table, so they cannot drift apart.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    PlayPause,
    StepEvent,
    NextBeat,
    Faster,
    Slower,
    Back,
    Forward,
    Live,
    SelectBroker(i32),
    Crash,
    PowerLoss,
    Restart,
    Isolate,
    Heal,
    PauseBroker,
    CrashConsumer,
    CloseConsumer,
    StallConsumer,
    StartConsumer,
    Produce,
    ToggleInternal,
    AllMessages,
    Theme,
    Save,
    Help,
    Quit,
}

pub struct Binding {
    pub codes: &'static [KeyCode],
    /// The keys as the help shows them.
    pub label: &'static str,
    pub action: Action,
    pub desc: &'static str,
    /// Shown in the header as well as in the help.
    pub hint: bool,
}

const fn bind(
    codes: &'static [KeyCode],
    label: &'static str,
    action: Action,
    desc: &'static str,
    hint: bool,
) -> Binding {
    Binding {
        codes,
        label,
        action,
        desc,
        hint,
    }
}

use KeyCode::Char;

/// Every key. The digits select brokers (`SelectBroker` carries the digit).
#[rustfmt::skip]
pub const KEYMAP: &[Binding] = &[
    bind(&[Char(' ')], "space", Action::PlayPause, "play / pause", true),
    bind(&[Char('n')], "n", Action::StepEvent, "step to the next event", true),
    bind(&[Char('b')], "b", Action::NextBeat, "play to the next lesson beat", false),
    bind(&[Char('+'), Char('=')], "+", Action::Faster, "faster", false),
    bind(&[Char('-')], "-", Action::Slower, "slower", false),
    bind(&[KeyCode::Left], "←", Action::Back, "rewind 1 s", true),
    bind(&[KeyCode::Right], "→", Action::Forward, "forward 1 s", false),
    bind(&[KeyCode::End], "end", Action::Live, "back to the present", false),
    bind(&[], "1-9", Action::SelectBroker(1), "select a broker", true),
    bind(&[Char('c')], "c", Action::Crash, "crash its process", true),
    bind(&[Char('p')], "p", Action::PowerLoss, "power loss (unflushed lost)", false),
    bind(&[Char('r')], "r", Action::Restart, "restart it", true),
    bind(&[Char('i')], "i", Action::Isolate, "cut it off the network", false),
    bind(&[Char('h')], "h", Action::Heal, "heal the network", false),
    bind(&[Char('z')], "z", Action::PauseBroker, "pause / resume it (a GC)", false),
    bind(&[Char('k')], "k", Action::CrashConsumer, "crash a consumer", false),
    bind(&[Char('x')], "x", Action::CloseConsumer, "close a consumer (leaves)", false),
    bind(&[Char('l')], "l", Action::StallConsumer, "stall a consumer 20 s", false),
    bind(&[Char('a')], "a", Action::StartConsumer, "add a consumer", false),
    bind(&[Char('w')], "w", Action::Produce, "write one record", false),
    bind(&[Char('o')], "o", Action::ToggleInternal, "show __consumer_offsets", false),
    bind(&[Char('m')], "m", Action::AllMessages, "all messages (pings too)", false),
    bind(&[Char('t')], "t", Action::Theme, "light / dark theme", false),
    bind(&[Char('s')], "s", Action::Save, "save session as scenario", false),
    bind(&[Char('?')], "?", Action::Help, "help", true),
    bind(&[Char('q'), KeyCode::Esc], "q", Action::Quit, "quit", true),
];

/// The action a key press asks for, if any.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == Char('c') {
        return Some(Action::Quit);
    }
    if let Char(d @ '1'..='9') = key.code {
        return Some(Action::SelectBroker(d as i32 - '0' as i32));
    }
    KEYMAP
        .iter()
        .find(|b| b.codes.contains(&key.code))
        .map(|b| b.action)
}

/// The header's hints: the few keys that matter.
pub fn hints() -> String {
    KEYMAP
        .iter()
        .filter(|b| b.hint)
        .map(|b| format!("{} {}", b.label, short(b.desc)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// A description's first words, for the header.
fn short(desc: &str) -> &str {
    desc.split([' ', '(', ':']).next().unwrap_or(desc)
}
