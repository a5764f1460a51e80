//! The simulation on its own thread. The UI sends requests and reads frames from a
//! channel without ever waiting on the simulation: a slow step never freezes the keys.

use std::sync::mpsc;
use std::thread;

use kafkasim_sim::cluster::ClusterBuilder;
use kafkasim_sim::conductor::{Command, Frame, Simulation, Timed, panic_message};

/// What the UI asks of the simulation.
#[derive(Debug)]
pub enum Request {
    /// Run until this sim time and report.
    RunUntil(i64),
    /// Run until the next narrated event (at most `limit_ms` further) and report.
    Step { limit_ms: i64 },
    /// Apply a command now and report.
    Inject(Box<Command>),
    /// Re-simulate from the seed with these commands (the timeline's past and a new
    /// fault), up to `at_ms`, then report: a fork after a rewind.
    Fork { commands: Vec<Timed>, at_ms: i64 },
}

/// What the simulation reports: a frame.
pub struct Report {
    pub frame: Frame,
    /// The frame comes from a new run started by a fork: its entries are the whole
    /// trace, not the ones since the last report.
    pub forked: bool,
}

/// The UI's end of the simulation thread.
pub struct Driver {
    requests: mpsc::Sender<Request>,
    reports: mpsc::Receiver<Result<Report, String>>,
    _thread: thread::JoinHandle<()>,
}

impl Driver {
    /// Starts the simulation (cluster up, topics led) on its own thread; the first report
    /// is the frame at the start.
    pub fn start(seed: u64, builder: ClusterBuilder, commands: Vec<Timed>) -> Driver {
        let (requests, request_rx) = mpsc::channel::<Request>();
        let (report_tx, reports) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("kafkasim driver".to_string())
            .spawn(move || {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut simulation = Simulation::start(seed, builder.clone(), commands);
                    simulation.judge_lost_writes();
                    let mut first = simulation.run_until_without_records(0);
                    // Starting took the first frame: its entries are the whole trace.
                    first.new_entries = simulation.trace().to_vec();
                    let report = |frame, forked| Report { frame, forked };
                    if report_tx.send(Ok(report(first, false))).is_err() {
                        return;
                    }
                    while let Ok(request) = request_rx.recv() {
                        let (frame, forked) = match request {
                            Request::RunUntil(at_ms) => {
                                (simulation.run_until_without_records(at_ms), false)
                            }
                            Request::Step { limit_ms } => (simulation.step(limit_ms), false),
                            Request::Inject(command) => {
                                simulation.inject(*command);
                                let now = simulation.time_ms();
                                (simulation.run_until_without_records(now), false)
                            }
                            Request::Fork { commands, at_ms } => {
                                simulation = Simulation::start(seed, builder.clone(), commands);
                                simulation.judge_lost_writes();
                                let mut frame = simulation.run_until_without_records(at_ms);
                                frame.new_entries = simulation.trace().to_vec();
                                (frame, true)
                            }
                        };
                        if report_tx.send(Ok(report(frame, forked))).is_err() {
                            return;
                        }
                    }
                }));
                if let Err(panic) = run {
                    let _ = report_tx.send(Err(panic_message(panic.as_ref())));
                }
            })
            .expect("the OS could not start the simulation's thread");
        Driver {
            requests,
            reports,
            _thread: thread,
        }
    }

    pub fn send(&self, request: Request) {
        // A closed channel means the simulation failed; its error arrives as a report.
        let _ = self.requests.send(request);
    }

    /// A report if one is ready; never waits.
    pub fn try_report(&self) -> Option<Result<Report, String>> {
        self.reports.try_recv().ok()
    }

    /// Waits for the next report (tests, and the first frame).
    pub fn wait_report(&self) -> Option<Result<Report, String>> {
        self.reports.recv().ok()
    }
}
