//! Pausing, stepping and running headless give one trajectory; a fork is its parent up
//! to the fork point, and its own command list replays it exactly.

use kafkasim_core::partition::Acks;
use kafkasim_core::workload::ProducerConfig;
use kafkasim_sim::cluster::ClusterBuilder;
use kafkasim_sim::conductor::{Command, Simulation, Timed, run_headless};
use kafkasim_sim::disk::Crash;
use kafkasim_sim::fault::{Action, Fault, Selector};
use kafkasim_sim::trace::TraceEntry;

fn builder() -> ClusterBuilder {
    ClusterBuilder::new(3)
        .broker_config(|b| b.zookeeper_session_timeout_ms = 6_000)
        .min_insync_replicas(2)
        .topic("orders", 2, 3)
}

fn script() -> Vec<Timed> {
    vec![
        Timed::new(
            0,
            Command::StartProducer(ProducerConfig {
                partitions: 2,
                acks: Acks::All,
                interval_ms: 50,
                ..ProducerConfig::default()
            }),
        ),
        Timed::new(3_000, broker(Action::Crash(Crash::PowerLoss), 1)),
        Timed::new(
            6_000,
            Fault {
                action: Action::Partition(vec![
                    vec![Selector::Broker(2)],
                    vec![Selector::Broker(3)],
                ]),
                target: None,
            },
        ),
        Timed::new(
            9_000,
            Fault {
                action: Action::Heal,
                target: None,
            },
        ),
        Timed::new(11_000, broker(Action::Restart, 1)),
        Timed::new(13_000, broker(Action::Pause, 2)),
        Timed::new(14_000, broker(Action::Resume, 2)),
        // A clean stop takes sim time while the conductor waits for it.
        Timed::new(16_000, broker(Action::Shutdown, 3)),
        Timed::new(17_500, broker(Action::Restart, 3)),
    ]
}

fn broker(action: Action, id: i32) -> Fault {
    Fault {
        action,
        target: Some(Selector::Broker(id)),
    }
}

fn lines(entries: &[TraceEntry]) -> Vec<String> {
    entries.iter().map(TraceEntry::line).collect()
}

const END_MS: i64 = 20_000;

#[test]
fn pausing_stepping_and_headless_follow_one_trajectory() {
    let headless = run_headless(7, builder(), script(), END_MS);

    let mut stepped = Simulation::start(7, builder(), script());
    let mut frames = 0;
    while stepped.time_ms() < 4_000 {
        let before = stepped.time_ms();
        let frame = stepped.step(1_000);
        // A step ends at the first narrated event, or when its limit passes.
        assert!(
            !frame.new_entries.is_empty() || frame.time_ms >= before + 1_000,
            "a step from {before} ended at {} with nothing to show",
            frame.time_ms
        );
        frames += 1;
    }
    for at in (4_000..END_MS).step_by(777) {
        stepped.run_until(at);
        frames += 1;
    }
    let last = stepped.run_until(END_MS);
    assert!(frames > 20, "{frames} pauses");
    assert_eq!(last.time_ms, headless.time_ms);
    assert_eq!(lines(stepped.trace()), lines(&headless.new_entries));
    assert_eq!(
        last.snapshot, headless.snapshot,
        "the same cluster, record for record"
    );
    assert!(headless.new_entries.len() > 100);
    let narrated = lines(&headless.new_entries).join("\n");
    assert!(
        narrated.contains("broker 3 begins a controlled shutdown"),
        "{narrated}"
    );
    assert!(narrated.contains("broker 3 restarts"), "{narrated}");
}

#[test]
fn a_fork_is_its_parent_until_the_fork_point_and_replays_from_its_commands() {
    let parent = run_headless(9, builder(), script(), END_MS);

    let mut live = Simulation::start(9, builder(), script());
    live.run_until(7_500);
    let fork_ms = live.time_ms();
    live.inject(broker(Action::Crash(Crash::Process), 3));
    let forked = live.run_until(END_MS);
    let forked_trace = lines(live.trace());

    // Identical before the fork point, different after it.
    let before = |trace: &[String], entries: &[TraceEntry]| -> Vec<String> {
        trace
            .iter()
            .zip(entries)
            .filter(|(_, e)| e.time_ms() < fork_ms)
            .map(|(l, _)| l.clone())
            .collect()
    };
    let parent_lines = lines(&parent.new_entries);
    assert_eq!(
        before(&forked_trace, live.trace()),
        before(&parent_lines, &parent.new_entries)
    );
    assert_ne!(forked_trace, parent_lines);
    assert!(
        forked_trace
            .iter()
            .any(|l| l.contains("broker 3's process crashed"))
    );

    // The recorded commands replay the forked run exactly, headless.
    let replay = run_headless(9, builder(), live.commands().to_vec(), END_MS);
    assert_eq!(lines(&replay.new_entries), forked_trace);
    assert_eq!(replay.snapshot, forked.snapshot);

    // And Simulation::fork does the same from the parent's command list.
    let parent_sim = Simulation::start(9, builder(), script());
    let mut fork = parent_sim.fork(vec![Timed::new(
        fork_ms,
        broker(Action::Crash(Crash::Process), 3),
    )]);
    fork.run_until(END_MS);
    assert_eq!(lines(fork.trace()), forked_trace);
}
