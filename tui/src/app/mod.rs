//! The terminal UI, in The Elm Architecture: a [`Model`] (what the UI knows), messages
//! ([`Msg`]: keys, ticks, the simulation's reports), [`update`] (the only place the model
//! changes; it returns the requests for the simulation) and a pure [`view::view`]. The
//! simulation runs on its own thread ([`driver`]); the UI holds no Kafka logic, only
//! snapshots the simulation built.

pub mod driver;
pub mod keymap;
pub mod strings;
mod terminal;
pub mod view;

#[cfg(test)]
mod tests;

use kafkasim_sim::conductor::{Command, Timed};
use kafkasim_sim::disk::Crash;
use kafkasim_sim::fault::{Action as FaultAction, Fault, Selector};
use kafkasim_sim::lang::Lang;
use kafkasim_sim::scenario::Scenario;
use kafkasim_sim::snapshot::ClusterSnapshot;
use kafkasim_sim::trace::TraceEntry;

use driver::{Driver, Report, Request};
use keymap::Action;

pub use terminal::run_tui;

/// Playback speeds: simulated milliseconds per wall second.
pub const SPEEDS_MS: &[i64] = &[100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];
/// Wall milliseconds between playback ticks.
pub const TICK_WALL_MS: i64 = 50;
/// How far "play to the next beat" moves per tick.
const BEAT_STRIDE_MS: i64 = 1_000;
/// How long the stall key stops a consumer's polling.
const STALL_MS: i64 = 20_000;
/// How far the arrows scrub.
const SCRUB_MS: i64 = 1_000;
/// The closest two remembered moments are, for rewinding.
const SHOT_SPACING_MS: i64 = 100;
/// How many delivered messages each snapshot keeps for the space-time view.
const RECENT_MESSAGES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Dark,
    Light,
}

/// The cluster at one moment the UI was shown.
#[derive(Clone, Debug)]
pub struct Shot {
    pub time_ms: i64,
    pub snapshot: ClusterSnapshot,
    /// The acknowledged writes lost by then.
    pub lost: Vec<kafkasim_sim::check::LostWrite>,
    /// How much of the trace had happened by then.
    pub trace_len: usize,
}

/// Everything the UI knows.
pub struct Model {
    pub title: String,
    pub title_zh: Option<String>,
    /// The language everything on screen is in (`L` switches it).
    pub lang: Lang,
    /// The scenario's name (file stem) and text, for saving the session.
    pub name: String,
    pub text: String,
    pub seed: u64,
    pub duration_ms: i64,
    pub brokers: i32,
    /// Consumers the scenario named: the targets of the consumer keys.
    pub consumer_names: Vec<String>,
    /// Each frame the simulation reported, in time order: what rewinding shows.
    pub history: Vec<Shot>,
    pub trace: Vec<TraceEntry>,
    /// Rewound: the index in `history` on screen. None: the present.
    pub cursor: Option<usize>,
    pub playing: bool,
    /// Playing until the next lesson caption.
    pub until_beat: bool,
    pub speed: usize,
    /// A request is out; the next waits for its report.
    pub waiting: bool,
    pub selected_broker: Option<i32>,
    pub show_internal: bool,
    /// The space-time view shows ZooKeeper pings and group heartbeats too.
    pub all_messages: bool,
    pub theme: Theme,
    pub help: bool,
    /// The last lesson caption reached, shown until playback resumes: its text and its
    /// Chinese, if the file gives one.
    pub caption: Option<(String, Option<String>)>,
    /// A one-line answer to the last key.
    pub status: Option<String>,
    /// The scenario's own commands for this seed: a fork replays them all.
    pub plan: Vec<Timed>,
    /// Every command given from the keyboard on the timeline on screen, with its time.
    pub user_commands: Vec<Timed>,
    /// Clients started from the keyboard, as the scenario tables that start them (for
    /// saving) with their start times.
    pub added: Vec<(i64, String, toml::Table)>,
    /// Consumers crashed or closed from the keyboard.
    pub crashed_consumers: Vec<String>,
    pub quit: bool,
}

/// What happens to the UI.
pub enum Msg {
    Key(Action),
    /// Playback's clock: one tick of [`TICK_WALL_MS`].
    Tick,
    Report(Box<Result<Report, String>>),
}

impl Model {
    pub fn new(scenario: &Scenario, name: &str, text: &str, seed: u64) -> Model {
        let consumer_names = scenario
            .commands
            .iter()
            .filter_map(|t| match &t.command {
                Command::StartConsumer { name: Some(n), .. } => Some(n.clone()),
                _ => None,
            })
            .collect();
        Model {
            title: scenario.title.clone(),
            title_zh: scenario.title_zh.clone(),
            lang: Lang::En,
            name: name.to_string(),
            text: text.to_string(),
            seed,
            duration_ms: scenario.duration_ms,
            brokers: scenario.builder.brokers,
            consumer_names,
            history: Vec::new(),
            trace: Vec::new(),
            cursor: None,
            playing: false,
            until_beat: false,
            speed: 3,
            waiting: true,
            selected_broker: None,
            show_internal: false,
            all_messages: false,
            theme: Theme::Dark,
            help: false,
            caption: None,
            status: None,
            plan: Vec::new(),
            user_commands: Vec::new(),
            added: Vec::new(),
            crashed_consumers: Vec::new(),
            quit: false,
        }
    }

    /// The title in `lang` (the file's own when it has none in that language).
    pub fn title_in(&self, lang: Lang) -> &str {
        match (lang, &self.title_zh) {
            (Lang::ZhCn, Some(zh)) => zh,
            _ => &self.title,
        }
    }

    /// The caption on screen, in the UI's language when the file gives it.
    pub fn caption_text(&self) -> Option<&str> {
        self.caption
            .as_ref()
            .map(|(text, zh)| match (self.lang, zh) {
                (Lang::ZhCn, Some(zh)) => zh.as_str(),
                _ => text.as_str(),
            })
    }

    /// The UI's words.
    pub fn words(&self) -> &'static strings::Strings {
        strings::of(self.lang)
    }

    /// The moment on screen.
    pub fn shot(&self) -> Option<&Shot> {
        match self.cursor {
            Some(i) => self.history.get(i),
            None => self.history.last(),
        }
    }

    /// The simulation's own time (the present).
    pub fn live_ms(&self) -> i64 {
        self.history.last().map_or(0, |s| s.time_ms)
    }

    pub fn at_end(&self) -> bool {
        self.live_ms() >= self.duration_ms
    }

    /// The newest shot at or before `t`.
    fn index_at(&self, t: i64) -> usize {
        self.history
            .iter()
            .rposition(|s| s.time_ms <= t)
            .unwrap_or(0)
    }
}

/// The only place the model changes. Returns what to ask the simulation.
pub fn update(model: &mut Model, msg: Msg) -> Option<Request> {
    match msg {
        Msg::Tick => tick(model),
        Msg::Report(report) => {
            model.waiting = false;
            match *report {
                Ok(report) => reported(model, report),
                Err(why) => {
                    model.playing = false;
                    model.status = Some((model.words().simulation_failed)(&why));
                }
            }
            None
        }
        Msg::Key(action) => key(model, action),
    }
}

fn tick(model: &mut Model) -> Option<Request> {
    if !model.playing || model.waiting {
        return None;
    }
    let stride = if model.until_beat {
        BEAT_STRIDE_MS
    } else {
        SPEEDS_MS[model.speed] * TICK_WALL_MS / 1_000
    };
    // Playing the past replays what was recorded, then goes on live.
    if let Some(i) = model.cursor {
        let t = model.history[i].time_ms + stride;
        let next = model.index_at(t).max(i + 1);
        model.cursor = (next + 1 < model.history.len()).then_some(next);
        return None;
    }
    if model.at_end() {
        model.playing = false;
        return None;
    }
    model.waiting = true;
    Some(Request::RunUntil(
        (model.live_ms() + stride.max(1)).min(model.duration_ms),
    ))
}

fn reported(model: &mut Model, report: Report) {
    let frame = report.frame;
    if report.forked {
        // The new run's trace is whole; its past equals the old one up to the fork.
        model.history.retain(|s| s.time_ms < frame.time_ms);
        model.trace = frame.new_entries;
    } else {
        model.trace.extend(frame.new_entries);
    }
    let new_from = model.history.last().map_or(0, |s| s.trace_len);
    let caption = model.trace[new_from.min(model.trace.len())..]
        .iter()
        .rev()
        .find_map(|e| match e {
            TraceEntry::Caption { text, text_zh, .. } => Some((text.clone(), text_zh.clone())),
            _ => None,
        });
    // Keep a moment every SHOT_SPACING_MS for rewinding: slow playback reports every few
    // simulated milliseconds, and an hour of them would fill the memory.
    if let [.., before, last] = model.history.as_slice()
        && last.time_ms - before.time_ms < SHOT_SPACING_MS
        && caption.is_none()
    {
        model.history.pop();
    }
    model.history.push(Shot {
        time_ms: frame.time_ms,
        snapshot: frame.snapshot,
        lost: frame.lost,
        trace_len: model.trace.len(),
    });
    if let Some(text) = caption {
        // A lesson beat: stop so the class can read it.
        model.caption = Some(text);
        model.playing = false;
        model.until_beat = false;
    }
    if model.at_end() {
        model.playing = false;
        model.until_beat = false;
    }
}

fn key(model: &mut Model, action: Action) -> Option<Request> {
    model.status = None;
    match action {
        Action::Quit => model.quit = true,
        Action::Help => model.help = !model.help,
        Action::Language => {
            model.lang = model.lang.next();
            model.status = Some(model.words().language_switched.to_string());
        }
        Action::Theme => {
            model.theme = match model.theme {
                Theme::Dark => Theme::Light,
                Theme::Light => Theme::Dark,
            }
        }
        Action::ToggleInternal => model.show_internal = !model.show_internal,
        Action::AllMessages => model.all_messages = !model.all_messages,
        Action::PlayPause => {
            // At the end of the present there is nothing left to play.
            let finished = model.cursor.is_none() && model.at_end();
            model.playing = !model.playing && !finished;
            model.until_beat = false;
            if model.playing {
                model.caption = None;
            }
        }
        Action::NextBeat => {
            if !model.at_end() || model.cursor.is_some() {
                model.playing = true;
                model.until_beat = true;
                model.caption = None;
            }
        }
        Action::Faster => model.speed = (model.speed + 1).min(SPEEDS_MS.len() - 1),
        Action::Slower => model.speed = model.speed.saturating_sub(1),
        Action::StepEvent => {
            model.playing = false;
            if model.cursor.is_some() {
                // In the past, a step shows the next recorded moment.
                let i = model.cursor.unwrap_or(0) + 1;
                model.cursor = (i + 1 < model.history.len()).then_some(i);
            } else if !model.waiting && !model.at_end() {
                model.caption = None;
                model.waiting = true;
                return Some(Request::Step {
                    limit_ms: model.duration_ms - model.live_ms(),
                });
            }
        }
        Action::Back => {
            model.playing = false;
            let now = model.shot().map_or(0, |s| s.time_ms);
            if !model.history.is_empty() {
                model.cursor = Some(model.index_at(now - SCRUB_MS));
            }
        }
        Action::Forward => {
            if let Some(i) = model.cursor {
                let t = model.history[i].time_ms + SCRUB_MS;
                let next = model.index_at(t).max(i + 1);
                model.cursor = (next + 1 < model.history.len()).then_some(next);
            }
        }
        Action::Live => model.cursor = None,
        Action::SelectBroker(b) => {
            if b <= model.brokers {
                model.selected_broker = Some(b);
            }
        }
        Action::Crash => return broker_fault(model, FaultAction::Crash(Crash::Process), "crash"),
        Action::PowerLoss => {
            return broker_fault(model, FaultAction::Crash(Crash::PowerLoss), "power-loss");
        }
        Action::Restart => return broker_fault(model, FaultAction::Restart, "restart"),
        Action::Isolate => return broker_fault(model, FaultAction::Isolate, "isolate"),
        Action::PauseBroker => {
            let paused = model.selected_broker.is_some_and(|b| {
                model
                    .shot()
                    .and_then(|s| s.snapshot.brokers.get(&b))
                    .is_some_and(|s| s.paused)
            });
            return if paused {
                broker_fault(model, FaultAction::Resume, "resume")
            } else {
                broker_fault(model, FaultAction::Pause, "pause")
            };
        }
        Action::Heal => {
            let act = Fault {
                action: FaultAction::Heal,
                target: None,
            };
            return inject(model, act, "heal".to_string());
        }
        Action::CrashConsumer | Action::CloseConsumer | Action::StallConsumer => {
            let Some(name) = model
                .consumer_names
                .iter()
                .find(|n| !model.crashed_consumers.contains(n))
                .cloned()
            else {
                model.status = Some(model.words().no_consumer.to_string());
                return None;
            };
            let (action, what) = match action {
                Action::CrashConsumer => {
                    model.crashed_consumers.push(name.clone());
                    (FaultAction::Crash(Crash::Process), "crash")
                }
                Action::CloseConsumer => {
                    model.crashed_consumers.push(name.clone());
                    (FaultAction::Close, "close")
                }
                _ => (FaultAction::Stall(STALL_MS), "stall"),
            };
            let act = Fault {
                action,
                target: Some(Selector::Consumer(name.clone())),
            };
            return inject(model, act, format!("{what} consumer {name}"));
        }
        Action::Produce => return add_client(model, "producers"),
        Action::StartConsumer => return add_client(model, "consumers"),
        Action::Save => save(model),
    }
    None
}

/// Starts a client now, written as a scenario table (a copy of the file's first
/// `[[consumers]]`, or a one-record `[[producers]]` on its first topic) so the saved
/// session starts it the same way; the scenario parser turns the table into the command.
fn add_client(model: &mut Model, list: &str) -> Option<Request> {
    if model.waiting || (model.cursor.is_none() && model.at_end()) {
        return None;
    }
    let now = model.shot().map_or(0, |s| s.time_ms);
    let original: toml::Table = model.text.parse().ok()?;
    let first = |key: &str| match original.get(key) {
        Some(toml::Value::Array(entries)) => entries.first().and_then(|e| e.as_table()).cloned(),
        _ => None,
    };
    let ms = |t: i64| toml::Value::String(format!("{t}ms"));
    let (table, what) = if list == "producers" {
        let Some(topic) = first("topics").and_then(|t| t.get("name").cloned()) else {
            model.status = Some(model.words().no_record_template.to_string());
            return None;
        };
        let mut table = toml::Table::new();
        table.insert("topic".into(), topic);
        table.insert("start".into(), ms(now));
        // One send: the next would come a second later, after the producer stops.
        table.insert("stop".into(), ms((now + 1).min(model.duration_ms)));
        table.insert("interval".into(), ms(1_000));
        (table, "write one record".to_string())
    } else {
        let Some(mut table) = first("consumers") else {
            model.status = Some(model.words().no_consumer_template.to_string());
            return None;
        };
        let name = format!("live-{}", model.added.len() + 1);
        table.insert("name".into(), toml::Value::String(name.clone()));
        table.remove("count");
        table.remove("group_instance_id");
        table.insert("start".into(), ms(now));
        model.consumer_names.push(name.clone());
        (table, format!("start consumer {name}"))
    };
    let mut added = model.added.clone();
    added.retain(|(at, _, _)| *at <= now);
    added.push((now, list.to_string(), table));
    let tables: Vec<(String, toml::Table)> = added
        .iter()
        .map(|(_, l, t)| (l.clone(), t.clone()))
        .collect();
    let text = kafkasim_sim::sweep::session_scenario(&model.text, &[], &tables);
    let scenario = match text.map(|t| kafkasim_sim::scenario::parse(&model.name, &t)) {
        Ok(Ok(scenario)) => scenario,
        Ok(Err(errors)) => {
            model.status = Some((model.words().cannot_add)(&errors.to_string()));
            return None;
        }
        Err(why) => {
            model.status = Some((model.words().cannot_add)(&why));
            return None;
        }
    };
    // The new table is the last of its list, so its command is the last of its kind.
    let command = scenario
        .commands
        .iter()
        .rev()
        .find_map(|t| match &t.command {
            Command::StartKafkaProducer(_) if list == "producers" => Some(t.command.clone()),
            Command::StartConsumer { .. } if list == "consumers" => Some(t.command.clone()),
            _ => None,
        })?;
    model.added = added;
    inject_command(model, command, what)
}

fn broker_fault(model: &mut Model, action: FaultAction, what: &str) -> Option<Request> {
    let Some(broker) = model.selected_broker else {
        model.status = Some((model.words().select_first)(what));
        return None;
    };
    let act = Fault {
        action,
        target: Some(Selector::Broker(broker)),
    };
    inject(model, act, format!("{what} broker {broker}"))
}

/// A fault now: at the present it is applied to the running simulation; in the past it
/// forks the timeline there and the future is simulated again.
fn inject(model: &mut Model, act: Fault, what: String) -> Option<Request> {
    inject_command(model, Command::Fault(act), what)
}

/// Applies `command` at the moment on screen: in the present, to the running simulation;
/// in the past, by forking the timeline there.
fn inject_command(model: &mut Model, command: Command, what: String) -> Option<Request> {
    if model.waiting {
        return None;
    }
    model.caption = None;
    match model.cursor.take() {
        Some(i) if model.history[i].time_ms < model.live_ms() => {
            let at_ms = model.history[i].time_ms;
            model.playing = false;
            model.waiting = true;
            // What was done after this moment belongs to the timeline left behind.
            model.added.retain(|(at, _, _)| *at <= at_ms);
            model.user_commands.retain(|t| t.at_ms <= at_ms);
            model.user_commands.push(Timed::new(at_ms, command));
            // The scenario's future still happens; the old timeline's keys do not.
            let mut commands = model.plan.clone();
            commands.extend(model.user_commands.iter().cloned());
            model.status = Some((model.words().forked)(at_ms as f64 / 1000.0));
            Some(Request::Fork { commands, at_ms })
        }
        _ => {
            model.waiting = true;
            model.status = Some((model.words().injected)(&what));
            model
                .user_commands
                .push(Timed::new(model.live_ms(), command.clone()));
            Some(Request::Inject(Box::new(command)))
        }
    }
}

fn save(model: &mut Model) {
    let path = format!("{}.session.toml", model.name);
    let added: Vec<(String, toml::Table)> = model
        .added
        .iter()
        .map(|(_, list, table)| (list.clone(), table.clone()))
        .collect();
    // The faults among the keys; the clients started are their tables.
    let result = kafkasim_sim::sweep::session_scenario(&model.text, &model.user_commands, &added)
        .and_then(|text| std::fs::write(&path, text).map_err(|e| e.to_string()));
    model.status = Some(match result {
        Ok(()) => (model.words().saved)(&path),
        Err(why) => (model.words().save_failed)(&why),
    });
}

/// The model and the simulation it talks to.
pub struct App {
    pub model: Model,
    driver: Driver,
}

impl App {
    pub fn start(scenario: &Scenario, name: &str, text: &str, seed: u64) -> App {
        let (mut builder, commands) = scenario.plan(seed);
        // The space-time view draws the last messages delivered.
        builder.recent_messages = RECENT_MESSAGES;
        let mut model = Model::new(scenario, name, text, seed);
        model.plan = commands.clone();
        let driver = Driver::start(seed, builder, commands);
        App { model, driver }
    }

    /// Handles a message and sends what it asks of the simulation.
    pub fn handle(&mut self, msg: Msg) {
        if let Some(request) = update(&mut self.model, msg) {
            self.driver.send(request);
        }
    }

    /// Takes the simulation's reports that are ready, without waiting.
    pub fn poll_reports(&mut self) {
        while let Some(report) = self.driver.try_report() {
            self.handle(Msg::Report(Box::new(report)));
        }
    }

    /// Waits until no request is out (tests and the first frame).
    pub fn settle(&mut self) {
        while self.model.waiting {
            match self.driver.wait_report() {
                Some(report) => self.handle(Msg::Report(Box::new(report))),
                None => {
                    self.model.waiting = false;
                }
            }
        }
    }
}
