//! Stepping, pausing and forking a simulation (madsim has no `step()`).
//!
//! The simulation runs on its own thread. A conductor task wakes every [`TICK_MS`] of
//! sim time, applies the commands that are due, and, when the caller's target is
//! reached, sends a [`Frame`] and blocks the thread on a std channel until told to go
//! on: virtual time stands still meanwhile. The ticks fall at the same sim times
//! whether the run pauses a thousand times or never, so pausing, stepping and running
//! headless follow one trajectory (shared/reference/madsim-notes.md).
//!
//! A command given while paused is applied at that tick and stamped with its sim time;
//! [`Simulation::commands`] lists them all, so a run replays from its seed and command
//! list, and [`Simulation::fork`] re-runs it with more commands: a fresh runtime that
//! reaches exactly the same state before the first new one.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use kafkasim_core::client::consumer::ConsumerConfig;
use kafkasim_core::client::producer::ProducerConfig as KafkaProducerConfig;
use kafkasim_core::workload::ProducerConfig;

use crate::cluster::{Cluster, ClusterBuilder, Histories, TopicSpec};
use crate::fault::Fault;
use crate::snapshot::ClusterSnapshot;
use crate::trace::{Note, TraceEntry};

/// The conductor's cadence: commands apply and runs pause on multiples of it.
pub const TICK_MS: i64 = 10;

/// Something to do to the cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Starts a test producer node.
    StartProducer(ProducerConfig),
    /// A fault or its undoing (restart, heal, resume, release), its target chosen when
    /// it applies (`leader of orders-0`); a controlled shutdown takes sim time.
    Fault(Fault),
    /// Starts a Kafka producer with its application.
    StartKafkaProducer(KafkaProducerConfig),
    /// Starts a consumer with its application, named if faults target it.
    StartConsumer {
        config: ConsumerConfig,
        name: Option<String>,
    },
    /// A lesson's caption.
    Caption(crate::scenario::CaptionText),
    /// `kafka-topics.sh --create`: an admin client asks the controller.
    CreateTopic(TopicSpec),
    /// `kafka-topics.sh --alter --partitions`: the topic grows to `total` partitions.
    AddPartitions { topic: String, total: u32 },
    /// `kafka-configs.sh --alter --entity-type topics`: the topic's configs, all of them.
    AlterConfigs {
        topic: String,
        config: kafkasim_core::protocol::TopicConfig,
    },
    /// A lesson's caption shown right after the first entry, from this command's time on,
    /// that `trigger` matches.
    CaptionOn {
        trigger: Trigger,
        text: crate::scenario::CaptionText,
    },
}

impl From<Fault> for Command {
    fn from(fault: Fault) -> Command {
        Command::Fault(fault)
    }
}

/// A command and the sim time it applies at.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    pub at_ms: i64,
    pub command: Command,
}

impl Timed {
    pub fn new(at_ms: i64, command: impl Into<Command>) -> Timed {
        Timed {
            at_ms,
            command: command.into(),
        }
    }
}

async fn apply(cluster: &mut Cluster, command: &Command) {
    match command {
        Command::Fault(fault) => fault.apply(cluster).await,
        Command::StartProducer(config) => {
            cluster.add_producer(config.clone());
        }
        Command::StartKafkaProducer(config) => {
            cluster.add_kafka_producer(config.clone());
        }
        Command::StartConsumer { config, name } => match name {
            Some(name) => {
                cluster.add_named_consumer(name, config.clone());
            }
            None => {
                cluster.add_consumer(config.clone());
            }
        },
        Command::Caption(text) => cluster.caption(text),
        Command::CreateTopic(topic) => {
            if let Err(e) = cluster.create_topic_spec(topic).await {
                cluster.note(Note::AdminFailed {
                    operation: "create-topic",
                    topic: topic.name.clone(),
                    error: e,
                });
            }
        }
        Command::AddPartitions { topic, total } => {
            if let Err(e) = cluster.add_partitions(topic, *total).await {
                cluster.note(Note::AdminFailed {
                    operation: "add-partitions",
                    topic: topic.clone(),
                    error: e,
                });
            }
        }
        Command::AlterConfigs { topic, config } => {
            if let Err(e) = cluster.alter_topic_config(topic, config.clone()).await {
                cluster.note(Note::AdminFailed {
                    operation: "alter-configs",
                    topic: topic.clone(),
                    error: e,
                });
            }
        }
        // The conductor watches the trace for it (see `Watchers`).
        Command::CaptionOn { .. } => {}
    }
}

/// What a caption waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// An event of a kind with these fields.
    Event(crate::scenario::EventMatch),
}

impl Trigger {
    fn fires(&self, entry: &TraceEntry) -> bool {
        match self {
            Trigger::Event(matcher) => matcher.matches(entry),
        }
    }
}

/// Captions waiting for their event: (trigger, text, the trace length when the watch
/// began).
#[derive(Default)]
struct Watchers(Vec<(Trigger, crate::scenario::CaptionText, usize)>);

impl Watchers {
    fn watch(&mut self, command: &Command, trace_len: usize) {
        if let Command::CaptionOn { trigger, text } = command {
            self.0.push((trigger.clone(), text.clone(), trace_len));
        }
    }

    /// Shows the captions whose event has happened since `scanned`.
    fn check(&mut self, cluster: &Cluster, scanned: usize) {
        if self.0.is_empty() {
            return;
        }
        let new = cluster.trace_since(scanned);
        let mut shown = Vec::new();
        self.0.retain(|(trigger, text, from)| {
            let happened = new
                .iter()
                .enumerate()
                .any(|(i, e)| scanned + i >= *from && trigger.fires(e));
            if happened {
                shown.push(text.clone());
            }
            !happened
        });
        for text in shown {
            cluster.caption(&text);
        }
    }
}

/// What a paused simulation shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub time_ms: i64,
    pub snapshot: ClusterSnapshot,
    /// The trace entries since the previous frame.
    pub new_entries: Vec<TraceEntry>,
    /// The acknowledged writes the cluster has lost by now (frames with records only):
    /// the lost-writes checker's finding, live.
    pub lost: Vec<crate::check::LostWrite>,
}

enum Request {
    /// Run until this sim time; the frame's snapshot holds every record when asked.
    RunUntil { at_ms: i64, records: bool },
    /// Run until the trace grows, or at most until this sim time.
    NextEvent { limit_ms: i64 },
    /// Apply now, and stay paused.
    Inject(Box<Command>),
    /// The clients' histories, staying paused.
    Histories,
    /// Write every broker's logs under this directory, staying paused.
    Export(std::path::PathBuf),
    /// From now on, every frame judges which acknowledged writes are lost (the TUI's).
    JudgeLostWrites,
}

enum Reply {
    Frame(Box<Frame>),
    /// The command was applied at this sim time.
    Applied(i64),
    Histories(Box<Histories>),
    Exported(Result<Vec<std::path::PathBuf>, String>),
}

/// A simulation on its own thread, paused between requests.
pub struct Simulation {
    seed: u64,
    builder: ClusterBuilder,
    commands: Vec<Timed>,
    requests: mpsc::Sender<Request>,
    replies: mpsc::Receiver<Reply>,
    thread: Option<thread::JoinHandle<()>>,
    time_ms: i64,
    trace: Vec<TraceEntry>,
}

impl Simulation {
    /// Starts the cluster (its brokers registered, its topics led) and pauses at the first
    /// tick. `commands` apply at their times as the run passes them.
    pub fn start(seed: u64, builder: ClusterBuilder, mut commands: Vec<Timed>) -> Simulation {
        commands.sort_by_key(|c| c.at_ms);
        let (requests, request_rx) = mpsc::channel();
        let (reply_tx, replies) = mpsc::channel();
        let script = commands.clone();
        let run_builder = builder.clone();
        let thread = thread::Builder::new()
            .name(format!("kafkasim seed {seed}"))
            .spawn(move || {
                let runtime =
                    madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
                runtime.block_on(conduct(run_builder, script, request_rx, reply_tx));
            })
            .expect("the OS could not start a simulation thread");
        let mut simulation = Simulation {
            seed,
            builder,
            commands,
            requests,
            replies,
            thread: Some(thread),
            time_ms: 0,
            trace: Vec::new(),
        };
        // The conductor sends a first frame once the cluster is up.
        simulation.receive_frame();
        simulation
    }

    fn receive_frame(&mut self) -> Frame {
        match self.replies.recv() {
            Ok(Reply::Frame(frame)) => {
                let frame = *frame;
                self.time_ms = frame.time_ms;
                self.trace.extend(frame.new_entries.iter().cloned());
                frame
            }
            Ok(_) => unreachable!("a frame was asked for"),
            Err(_) => self.resume_panic(),
        }
    }

    /// The simulation thread ended without answering: it panicked. Re-raise it here.
    fn resume_panic(&mut self) -> ! {
        match self.thread.take().map(thread::JoinHandle::join) {
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            _ => panic!("the simulation thread stopped"),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn time_ms(&self) -> i64 {
        self.time_ms
    }

    /// Every trace entry so far.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// The commands of this run, each with the time it applied (or will apply) at.
    pub fn commands(&self) -> &[Timed] {
        &self.commands
    }

    /// Runs until `at_ms` (rounded up to a tick) and pauses there.
    pub fn run_until(&mut self, at_ms: i64) -> Frame {
        self.run_until_with(at_ms, true)
    }

    /// Runs until `at_ms` and pauses there, with a snapshot without the records (cheaper:
    /// for a runner that only reads leaders, ISRs and offsets).
    pub fn run_until_without_records(&mut self, at_ms: i64) -> Frame {
        self.run_until_with(at_ms, false)
    }

    fn run_until_with(&mut self, at_ms: i64, records: bool) -> Frame {
        if self
            .requests
            .send(Request::RunUntil { at_ms, records })
            .is_err()
        {
            self.resume_panic();
        }
        self.receive_frame()
    }

    /// Runs until something is narrated (or `limit_ms` more passes) and pauses there.
    pub fn step(&mut self, limit_ms: i64) -> Frame {
        let limit_ms = self.time_ms + limit_ms;
        if self.requests.send(Request::NextEvent { limit_ms }).is_err() {
            self.resume_panic();
        }
        self.receive_frame()
    }

    /// Applies `command` now, while paused; it is recorded with the current time.
    pub fn inject(&mut self, command: impl Into<Command>) {
        let command = command.into();
        if self
            .requests
            .send(Request::Inject(Box::new(command.clone())))
            .is_err()
        {
            self.resume_panic();
        }
        match self.replies.recv() {
            Ok(Reply::Applied(at_ms)) => self.commands.push(Timed { at_ms, command }),
            Ok(_) => unreachable!("an injection is answered with its time"),
            Err(_) => self.resume_panic(),
        }
    }

    /// Writes every broker's logs under `dir` in Kafka's layout (see
    /// [`Cluster::export_logs`]); returns the files written.
    pub fn export_logs(
        &mut self,
        dir: &std::path::Path,
    ) -> Result<Vec<std::path::PathBuf>, String> {
        if self
            .requests
            .send(Request::Export(dir.to_path_buf()))
            .is_err()
        {
            self.resume_panic();
        }
        match self.replies.recv() {
            Ok(Reply::Exported(result)) => result,
            Ok(_) => unreachable!("an export was asked for"),
            Err(_) => self.resume_panic(),
        }
    }

    /// What every client did so far.
    /// Makes every later frame carry the acknowledged writes lost by then.
    pub fn judge_lost_writes(&mut self) {
        if self.requests.send(Request::JudgeLostWrites).is_err() {
            self.resume_panic();
        }
    }

    pub fn histories(&mut self) -> Histories {
        if self.requests.send(Request::Histories).is_err() {
            self.resume_panic();
        }
        match self.replies.recv() {
            Ok(Reply::Histories(histories)) => *histories,
            Ok(_) => unreachable!("histories were asked for"),
            Err(_) => self.resume_panic(),
        }
    }

    /// A new simulation of the same seed and commands plus `extra`: identical to this
    /// one until the first extra command.
    pub fn fork(&self, extra: Vec<Timed>) -> Simulation {
        let mut commands = self.commands.clone();
        commands.extend(extra);
        Simulation::start(self.seed, self.builder.clone(), commands)
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        // Closing the channel ends the conductor, which ends the runtime.
        let (dead, _) = mpsc::channel();
        self.requests = dead;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs the commands with no pauses until `until_ms`: the headless run.
pub fn run_headless(
    seed: u64,
    builder: ClusterBuilder,
    commands: Vec<Timed>,
    until_ms: i64,
) -> Frame {
    let mut simulation = Simulation::start(seed, builder, commands);
    let frame = simulation.run_until(until_ms);
    Frame {
        time_ms: frame.time_ms,
        snapshot: frame.snapshot,
        new_entries: simulation.trace.clone(),
        lost: frame.lost,
    }
}

enum Target {
    Paused,
    Until(i64),
    NextEvent { trace_len: usize, limit_ms: i64 },
}

/// The conductor: the simulation's main task.
async fn conduct(
    builder: ClusterBuilder,
    commands: Vec<Timed>,
    requests: mpsc::Receiver<Request>,
    replies: mpsc::Sender<Reply>,
) {
    let mut cluster = builder.start().await;
    let mut pending: VecDeque<Timed> = commands.into();
    let mut sent = 0;
    let mut target = Target::Paused;
    let mut records = true;
    let mut judge_lost = false;
    let mut watchers = Watchers::default();
    let mut scanned = 0;
    loop {
        let now_ms = cluster.now_ms();
        watchers.check(&cluster, scanned);
        scanned = cluster.trace_len();
        while pending.front().is_some_and(|c| c.at_ms <= now_ms) {
            let timed = pending.pop_front().expect("checked");
            watchers.watch(&timed.command, cluster.trace_len());
            apply(&mut cluster, &timed.command).await;
        }
        let trace_len = cluster.trace_len();
        let reached = match target {
            Target::Paused => true,
            Target::Until(at_ms) => now_ms >= at_ms,
            Target::NextEvent {
                trace_len: before,
                limit_ms,
            } => trace_len > before || now_ms >= limit_ms,
        };
        if reached {
            let snapshot = if records {
                cluster.snapshot()
            } else {
                cluster.snapshot_without_records()
            };
            // The checker reads the leaders' records: a frame without them takes its own.
            let lost = match (judge_lost, records) {
                (false, _) => Vec::new(),
                (true, true) => crate::check::lost_writes(&cluster.histories().writes(), &snapshot),
                (true, false) => {
                    crate::check::lost_writes(&cluster.histories().writes(), &cluster.snapshot())
                }
            };
            let frame = Frame {
                time_ms: now_ms,
                snapshot,
                new_entries: cluster.trace_since(sent),
                lost,
            };
            sent = trace_len;
            if replies.send(Reply::Frame(Box::new(frame))).is_err() {
                return;
            }
            // Paused: the whole simulation waits here, virtual time standing still.
            loop {
                match requests.recv() {
                    Ok(Request::RunUntil {
                        at_ms,
                        records: with,
                    }) => {
                        target = Target::Until(at_ms);
                        records = with;
                        break;
                    }
                    Ok(Request::NextEvent { limit_ms }) => {
                        records = true;
                        target = Target::NextEvent {
                            trace_len,
                            limit_ms,
                        };
                        break;
                    }
                    Ok(Request::Inject(command)) => {
                        watchers.watch(&command, cluster.trace_len());
                        apply(&mut cluster, &command).await;
                        if replies.send(Reply::Applied(now_ms)).is_err() {
                            return;
                        }
                    }
                    Ok(Request::Export(dir)) => {
                        if replies
                            .send(Reply::Exported(cluster.export_logs(&dir)))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(Request::JudgeLostWrites) => judge_lost = true,
                    Ok(Request::Histories) => {
                        let histories = Box::new(cluster.histories());
                        if replies.send(Reply::Histories(histories)).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
            // A time already reached is answered at once: asking twice for one time must
            // not move the run a tick further than asking once.
            if matches!(target, Target::Until(at_ms) if at_ms <= now_ms) {
                continue;
            }
        }
        madsim::time::sleep(Duration::from_millis(TICK_MS as u64)).await;
    }
}

/// What [`check_determinism`] runs: madsim's check takes a plain `fn`, so the run's
/// inputs wait here (one check at a time).
static DETERMINISM_RUN: std::sync::Mutex<Option<(ClusterBuilder, Vec<Timed>, i64)>> =
    std::sync::Mutex::new(None);

/// The headless run inside the caller's runtime: the conductor with its requests
/// already given (run to the end, then stop), returning the whole trace.
async fn run_in_this_runtime(
    builder: ClusterBuilder,
    mut commands: Vec<Timed>,
    until_ms: i64,
) -> Vec<TraceEntry> {
    commands.sort_by_key(|c| c.at_ms);
    let (requests, request_rx) = mpsc::channel();
    let (reply_tx, replies) = mpsc::channel();
    requests
        .send(Request::RunUntil {
            at_ms: until_ms,
            records: false,
        })
        .expect("the receiver is here");
    // With no sender left, the conductor returns after its last frame.
    drop(requests);
    conduct(builder, commands, request_rx, reply_tx).await;
    replies
        .try_iter()
        .flat_map(|reply| match reply {
            Reply::Frame(frame) => frame.new_entries,
            _ => Vec::new(),
        })
        .collect()
}

fn determinism_run() -> impl std::future::Future<Output = Vec<TraceEntry>> {
    let (builder, commands, until_ms) = DETERMINISM_RUN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .expect("check_determinism set the run");
    run_in_this_runtime(builder, commands, until_ms)
}

/// madsim's own determinism check: runs twice, logging every random draw of the first
/// run and failing the second at the first draw that differs (which names the seed).
/// Returns the trace on success, or what madsim reported.
pub fn check_determinism(
    seed: u64,
    builder: ClusterBuilder,
    commands: Vec<Timed>,
    until_ms: i64,
) -> Result<Vec<TraceEntry>, String> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *DETERMINISM_RUN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((builder, commands, until_ms));
    let outcome = std::panic::catch_unwind(|| {
        madsim::runtime::Runtime::check_determinism(
            seed,
            madsim::Config::default(),
            determinism_run,
        )
    });
    outcome.map_err(|panic| panic_message(panic.as_ref()))
}

/// What a caught panic said.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the run panicked".to_string())
}
