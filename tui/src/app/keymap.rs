//! The keymap as data: each key, what it does, and the words for it. The help overlay
//! and the header's hints are generated from this table, so they cannot drift apart.

use kafkasim_sim::lang::Lang;
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
    /// English and Chinese, in turn.
    Language,
    Save,
    Help,
    Quit,
}

pub struct Binding {
    pub codes: &'static [KeyCode],
    /// The keys as the help shows them.
    pub label: &'static str,
    pub action: Action,
    /// What it does, in English and in Chinese.
    pub desc: [&'static str; 2],
    /// The header's word for it, in both languages, when the header shows it.
    pub hint: Option<[&'static str; 2]>,
}

impl Binding {
    pub fn desc(&self, lang: Lang) -> &'static str {
        self.desc[index(lang)]
    }

    /// The label as `lang` writes it (`space` is 空格 in Chinese).
    pub fn label(&self, lang: Lang) -> &'static str {
        match (self.label, lang) {
            ("space", Lang::ZhCn) => "空格",
            ("end", Lang::ZhCn) => "End",
            (label, _) => label,
        }
    }
}

fn index(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::ZhCn => 1,
    }
}

const fn bind(
    codes: &'static [KeyCode],
    label: &'static str,
    action: Action,
    desc: [&'static str; 2],
    hint: Option<[&'static str; 2]>,
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

/// Every key. The digits select brokers (`SelectBroker` carries the digit). Chinese per
/// glossary-zh.md: 播放/单步/回退 for playback, 暂停 the playback but 挂起 a node.
#[rustfmt::skip]
pub const KEYMAP: &[Binding] = &[
    bind(&[Char(' ')], "space", Action::PlayPause, ["play / pause", "播放 / 暂停"], Some(["play", "播放"])),
    bind(&[Char('n')], "n", Action::StepEvent, ["step to the next event", "单步到下一个事件"], Some(["step", "单步"])),
    bind(&[Char('b')], "b", Action::NextBeat, ["play to the next lesson beat", "播放到下一段讲解"], None),
    bind(&[Char('+'), Char('=')], "+", Action::Faster, ["faster", "加快"], None),
    bind(&[Char('-')], "-", Action::Slower, ["slower", "减慢"], None),
    bind(&[KeyCode::Left], "←", Action::Back, ["rewind 1 s", "回退1秒"], Some(["rewind", "回退"])),
    bind(&[KeyCode::Right], "→", Action::Forward, ["forward 1 s", "前进1秒"], None),
    bind(&[KeyCode::End], "end", Action::Live, ["back to the present", "回到现在"], None),
    bind(&[], "1-9", Action::SelectBroker(1), ["select a broker", "选择broker"], Some(["select", "选择"])),
    bind(&[Char('c')], "c", Action::Crash, ["crash its process", "让其进程崩溃"], Some(["crash", "崩溃"])),
    bind(&[Char('p')], "p", Action::PowerLoss, ["power loss (unflushed lost)", "断电（未刷盘的丢失）"], None),
    bind(&[Char('r')], "r", Action::Restart, ["restart it", "重启它"], Some(["restart", "重启"])),
    bind(&[Char('i')], "i", Action::Isolate, ["cut it off the network", "把它与网络隔离"], None),
    bind(&[Char('h')], "h", Action::Heal, ["heal the network", "网络恢复"], None),
    bind(&[Char('z')], "z", Action::PauseBroker, ["pause / resume it (a GC)", "挂起 / 恢复运行（如GC）"], None),
    bind(&[Char('k')], "k", Action::CrashConsumer, ["crash a consumer", "让一个消费者崩溃"], None),
    bind(&[Char('x')], "x", Action::CloseConsumer, ["close a consumer (leaves)", "关闭一个消费者（离开）"], None),
    bind(&[Char('l')], "l", Action::StallConsumer, ["stall a consumer 20 s", "让一个消费者停顿20秒"], None),
    bind(&[Char('a')], "a", Action::StartConsumer, ["add a consumer", "添加一个消费者"], None),
    bind(&[Char('w')], "w", Action::Produce, ["write one record", "写入一条消息"], None),
    bind(&[Char('o')], "o", Action::ToggleInternal, ["show __consumer_offsets", "显示__consumer_offsets"], None),
    bind(&[Char('m')], "m", Action::AllMessages, ["all messages (pings too)", "全部网络消息（含心跳）"], None),
    bind(&[Char('t')], "t", Action::Theme, ["light / dark theme", "浅色 / 深色主题"], None),
    bind(&[Char('L')], "L", Action::Language, ["English / 中文", "English / 中文"], None),
    bind(&[Char('s')], "s", Action::Save, ["save session as scenario", "把会话保存为场景"], None),
    bind(&[Char('?')], "?", Action::Help, ["help", "帮助"], Some(["help", "帮助"])),
    bind(&[Char('q'), KeyCode::Esc], "q", Action::Quit, ["quit", "退出"], Some(["quit", "退出"])),
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
pub fn hints(lang: Lang) -> String {
    KEYMAP
        .iter()
        .filter_map(|b| {
            b.hint
                .map(|h| format!("{} {}", b.label(lang), h[index(lang)]))
        })
        .collect::<Vec<_>>()
        .join("  ")
}
