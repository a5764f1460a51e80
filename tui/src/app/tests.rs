//! Frames after scripted keys, rendered with ratatui's TestBackend and snapshotted, and
//! the promises the UI makes: a saved session replays, a fork re-simulates, any size draws.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use kafkasim_sim::lang::Lang;
use kafkasim_sim::scenario::parse;
use kafkasim_sim::trace::TraceEntry;

use super::keymap::Action;
use super::{App, Msg, SPEEDS_MS};
use crate::run::{DEFAULT_LESSON, read};

fn start(name: &str) -> App {
    let (file, text) = read(name).unwrap();
    let scenario = parse(&file, &text).unwrap();
    let mut app = App::start(&scenario, name, &text, scenario.seed);
    app.settle();
    app
}

fn key(app: &mut App, action: Action) {
    app.handle(Msg::Key(action));
    app.settle();
}

/// Plays (at the top speed) until the present reaches `ms`, through lesson pauses.
fn play_until(app: &mut App, ms: i64) {
    app.model.speed = SPEEDS_MS.len() - 1;
    while app.model.live_ms() < ms && !app.model.at_end() {
        app.model.playing = true;
        app.handle(Msg::Tick);
        app.settle();
    }
    app.model.playing = false;
}

/// Plays to the next lesson caption, as the `b` key does.
fn next_beat(app: &mut App) {
    key(app, Action::NextBeat);
    while app.model.playing {
        app.handle(Msg::Tick);
        app.settle();
    }
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| super::view::view(&app.model, frame))
        .unwrap();
    terminal
}

fn screen(app: &App, width: u16, height: u16) -> String {
    render(app, width, height).backend().to_string()
}

#[test]
fn the_default_lesson_at_its_first_beats() {
    let mut app = start(DEFAULT_LESSON);
    insta::assert_snapshot!("default-start", screen(&app, 120, 40));
    next_beat(&mut app);
    let first = app
        .model
        .caption
        .clone()
        .expect("the first beat shows its caption");
    insta::assert_snapshot!("default-beat-1", screen(&app, 120, 40));
    next_beat(&mut app);
    assert_ne!(
        app.model.caption.as_ref(),
        Some(&first),
        "the second beat is another caption"
    );
    insta::assert_snapshot!("default-beat-2", screen(&app, 120, 40));
}

#[test]
fn crashing_the_leader_from_the_keyboard_moves_leadership() {
    let mut app = start("06-slow-follower-isr");
    play_until(&mut app, 3_000);
    let tp = kafkasim_core::protocol::TopicPartition::new("orders", 0);
    let leader = app.model.shot().unwrap().snapshot.partitions[&tp]
        .leader
        .unwrap();
    key(&mut app, Action::Crash);
    assert!(
        app.model
            .status
            .as_deref()
            .unwrap()
            .contains("select a broker first")
    );
    key(&mut app, Action::SelectBroker(leader));
    key(&mut app, Action::Crash);
    let crashed_at = app.model.live_ms();
    play_until(&mut app, crashed_at + 12_000);
    let partition = &app.model.shot().unwrap().snapshot.partitions[&tp];
    assert!(
        partition.leader.is_some_and(|l| l != leader),
        "{partition:?}"
    );
    assert!(!partition.isr.contains(&leader));
    insta::assert_snapshot!("leader-crash", screen(&app, 120, 40));
}

#[test]
fn a_consumer_crash_shows_the_rebalance() {
    let mut app = start("14-consumer-crash-rebalance");
    // Worker 2 dies at 20 s; the coordinator gives up on it 10 s later.
    play_until(&mut app, 31_000);
    let group = &app.model.shot().unwrap().snapshot.groups["billing"];
    assert_eq!(group.members.len(), 2);
    assert!(group.generation >= 2);
    insta::assert_snapshot!("rebalance", screen(&app, 120, 40));
    // Closing a consumer from the keyboard: it leaves at once, no session timeout.
    let generation = group.generation;
    key(&mut app, Action::CloseConsumer);
    assert!(
        app.model
            .status
            .as_deref()
            .unwrap()
            .contains("close consumer")
    );
    // The survivor learns of the rebalance at its next heartbeat (3 s) and rejoins.
    play_until(&mut app, 37_000);
    let group = &app.model.shot().unwrap().snapshot.groups["billing"];
    assert_eq!(group.members.len(), 1, "{group:?}");
    assert!(group.generation > generation, "{group:?}");
    assert_eq!(group.state.to_string(), "Stable");
    // Adding a consumer like the scenario's own: it joins the group.
    key(&mut app, Action::StartConsumer);
    assert!(
        app.model
            .status
            .as_deref()
            .unwrap()
            .contains("start consumer live-1")
    );
    play_until(&mut app, 45_000);
    let group = &app.model.shot().unwrap().snapshot.groups["billing"];
    assert_eq!(group.members.len(), 2, "the survivor and live-1: {group:?}");
}

#[test]
fn a_fault_after_rewinding_forks_the_timeline() {
    let mut app = start(DEFAULT_LESSON);
    play_until(&mut app, 10_000);
    let old_trace = app.model.trace.clone();
    for _ in 0..4 {
        key(&mut app, Action::Back);
    }
    let at = app.model.shot().unwrap().time_ms;
    assert!((3_000..=8_000).contains(&at), "rewound to {at}");
    assert!(app.model.cursor.is_some());
    // Crash a broker that does not lead orders-0, so the lesson's own crash of the
    // leader at 6 s still finds its target.
    let partitions = &app.model.shot().unwrap().snapshot.partitions;
    let orders_0 = partitions
        .iter()
        .find(|(tp, _)| tp.topic == "orders" && tp.partition == 0)
        .map(|(_, p)| p)
        .expect("orders-0");
    let follower = *orders_0
        .replicas
        .iter()
        .find(|b| Some(**b) != orders_0.leader)
        .expect("a follower");
    key(&mut app, Action::SelectBroker(follower));
    key(&mut app, Action::Crash);
    assert!(
        app.model.cursor.is_none(),
        "back in the present of the new timeline"
    );
    assert_eq!(app.model.live_ms(), at);
    // The new timeline is the old one up to the fork, then the crash.
    let kept = old_trace.iter().filter(|e| e.time_ms() <= at).count();
    assert_eq!(app.model.trace[..kept], old_trace[..kept]);
    assert!(
        matches!(app.model.trace[kept], TraceEntry::Fault { .. }),
        "{:?}",
        app.model.trace[kept]
    );
    play_until(&mut app, at + 5_000);
    // The scenario's own future still happens: the leader dies at 6 s.
    assert!(
        app.model.trace.iter().any(|e| matches!(
            e,
            TraceEntry::Fault { time_ms, fault: kafkasim_sim::trace::Injected::Crash { .. } }
                if (6_000..6_100).contains(time_ms)
        )),
        "the scripted crash of the leader is in the forked timeline"
    );
    insta::assert_snapshot!("fork", screen(&app, 120, 40));
}

#[test]
fn a_saved_session_replays_to_the_same_state() {
    let mut app = start(DEFAULT_LESSON);
    play_until(&mut app, 4_000);
    key(&mut app, Action::SelectBroker(2));
    key(&mut app, Action::PowerLoss);
    play_until(&mut app, 6_000);
    key(&mut app, Action::Restart);
    play_until(&mut app, 9_000);
    key(&mut app, Action::Produce);
    key(&mut app, Action::StartConsumer);
    play_until(&mut app, 12_000);
    let added: Vec<(String, toml::Table)> = app
        .model
        .added
        .iter()
        .map(|(_, l, t)| (l.clone(), t.clone()))
        .collect();
    assert_eq!(
        added.len(),
        1,
        "the default lesson has no consumer to copy: {:?}",
        app.model.status
    );
    let text =
        kafkasim_sim::sweep::session_scenario(&app.model.text, &app.model.user_commands, &added)
            .unwrap();
    let replay = parse("session.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let until = app.model.live_ms();
    let report = kafkasim_sim::run::run(&replay, app.model.seed, Some(until));
    if report.trace != app.model.trace {
        let (a, b) = (&report.trace, &app.model.trace);
        let at = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        let show = |t: &[TraceEntry]| {
            t.iter()
                .skip(at.saturating_sub(2))
                .take(5)
                .map(TraceEntry::line)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "the replay narrates another run from entry {at}:\n--- replay\n{}\n--- live\n{}\n{text}",
            show(a),
            show(b)
        );
    }
    let live = &app.model.shot().unwrap().snapshot;
    for (tp, p) in &live.partitions {
        let r = &report.snapshot.partitions[tp];
        assert_eq!(
            (r.leader, &r.isr, r.leader_epoch),
            (p.leader, &p.isr, p.leader_epoch),
            "{tp}"
        );
    }
}

#[test]
fn every_size_draws_and_the_help_fits() {
    let mut app = start(DEFAULT_LESSON);
    next_beat(&mut app);
    insta::assert_snapshot!("default-80x24", screen(&app, 80, 24));
    key(&mut app, Action::Help);
    insta::assert_snapshot!("help-80x24", screen(&app, 80, 24));
    key(&mut app, Action::Help);
    key(&mut app, Action::Theme);
    for (w, h) in [(80, 24), (200, 60), (40, 12), (20, 8), (120, 40)] {
        let text = screen(&app, w, h);
        assert!(text.lines().count() >= h as usize, "{w}x{h}");
    }
}

#[test]
fn slow_playback_keeps_a_moment_every_100_ms() {
    let mut app = start(DEFAULT_LESSON);
    app.model.speed = 0; // 100 simulated ms per wall second: 5 ms per tick
    key(&mut app, Action::PlayPause);
    let (before, start_ms) = (app.model.history.len(), app.model.live_ms());
    for _ in 0..100 {
        app.handle(Msg::Tick);
        app.settle();
    }
    // Each report lands on the simulation's next 10 ms tick.
    let elapsed = app.model.live_ms() - start_ms;
    assert!((500..=1_000).contains(&elapsed), "{elapsed}");
    let kept = (app.model.history.len() - before) as i64;
    let expected = elapsed / 100;
    assert!(
        (expected - 1..=expected + 2).contains(&kept),
        "{kept} moments kept for {elapsed} ms"
    );
}

/// Every bundled scenario plays to its end and draws at every size on the way, with
/// keys pressed in the middle: no panic, whatever the cluster does.
#[test]
fn every_bundled_scenario_plays_and_draws() {
    for (name, _) in crate::run::BUNDLED {
        let mut app = start(name);
        let end = app.model.duration_ms;
        let mut next_draw = 0;
        app.model.speed = SPEEDS_MS.len() - 1;
        while !app.model.at_end() {
            app.model.playing = true;
            app.handle(Msg::Tick);
            app.settle();
            if app.model.live_ms() >= next_draw {
                for (w, h) in [(80, 24), (120, 40)] {
                    let _ = screen(&app, w, h);
                }
                next_draw += end / 6;
            }
        }
        for action in [
            Action::ToggleInternal,
            Action::AllMessages,
            Action::Back,
            Action::Help,
        ] {
            key(&mut app, action);
            let _ = screen(&app, 200, 60);
        }
        let failed = app
            .model
            .status
            .as_deref()
            .is_some_and(|s| s.contains("stopped"));
        assert!(!failed, "{name}: {:?}", app.model.status);
        assert!(app.model.history.len() > 2, "{name} played");
    }
}

#[test]
fn retention_shows_the_deleted_prefix_of_each_log() {
    let mut app = start("19-retention");
    let end = app.model.duration_ms;
    play_until(&mut app, end);
    let shot = app.model.shot().unwrap();
    assert!(
        shot.snapshot
            .partitions
            .values()
            .any(|p| p.replica_states.values().any(|r| r.log_start_offset > 0))
    );
    assert!(
        screen(&app, 120, 40).contains('░'),
        "{}",
        screen(&app, 120, 40)
    );
}

/// The book's chapter on the UI names every key of the keymap, in both editions.
#[test]
fn the_book_lists_every_key() {
    let editions = [
        (
            "book/src/tui.md",
            include_str!("../../../book/src/tui.md"),
            "A digit",
        ),
        (
            "book/zh-CN/src/tui.md",
            include_str!("../../../book/zh-CN/src/tui.md"),
            "数字键",
        ),
    ];
    for (path, book, digit) in editions {
        for binding in super::keymap::KEYMAP {
            let key = match binding.label {
                "1-9" => digit.to_string(),
                label => format!("`{label}`"),
            };
            assert!(
                book.contains(&key),
                "{path} does not mention {key} ({})",
                binding.desc(Lang::En)
            );
        }
    }
}

/// Wrapping measures display width (a CJK character takes two columns) and keeps every
/// character: Chinese, Japanese and mixed Latin/CJK captions at projector widths.
#[test]
fn wrapping_keeps_every_character_of_cjk_text_within_the_width() {
    use unicode_width::UnicodeWidthStr;
    let texts = [
        "leader所在的broker崩溃后，ISR中的一个follower当选新的leader：它的LEO可能低于旧leader的LEO，offset高于HW的消息在截断时被丢弃（replica.lag.time.max.ms）。这就是acks=1可能丢失已确认写入的原因。",
        "リーダーのブローカーがクラッシュすると、ISRのフォロワーが新しいリーダーに選ばれ、ハイウォーターマークより上のメッセージは切り捨てられます。",
        "broker 2在epoch 1当选orders-0的leader，ISR为[2]（AR中第一个存活且在ISR中的副本） and then the producer retries NOT_ENOUGH_REPLICAS_AFTER_APPEND 重试3次",
    ];
    for text in texts {
        for width in [20, 80, 100, 120] {
            let lines = super::view::wrap(text, width);
            for line in &lines {
                assert!(
                    line.width() <= width,
                    "{width}: {line:?} is {} wide",
                    line.width()
                );
            }
            let squeeze = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
            assert_eq!(
                squeeze(&lines.concat()),
                squeeze(text),
                "{width}: a character was lost"
            );
        }
    }
}

/// `L` switches the whole screen to Chinese at the same moment, and back.
#[test]
fn the_language_switches_live_keeping_the_moment() {
    let mut app = start(DEFAULT_LESSON);
    next_beat(&mut app);
    let moment = app.model.shot().unwrap().time_ms;
    let trace = app.model.trace.len();
    key(&mut app, Action::Language);
    assert_eq!(app.model.lang, Lang::ZhCn);
    assert_eq!(app.model.shot().unwrap().time_ms, moment);
    assert_eq!(app.model.trace.len(), trace);
    let zh = screen(&app, 120, 40);
    assert!(zh.contains("消费组") || zh.contains("分区"), "{zh}");
    assert!(zh.contains("【讲解】"), "the caption bar is Chinese: {zh}");
    insta::assert_snapshot!("default-beat-1-zh-120x40", zh);
    insta::assert_snapshot!("default-beat-1-zh-80x24", screen(&app, 80, 24));
    key(&mut app, Action::Language);
    assert_eq!(app.model.lang, Lang::En);
    assert!(screen(&app, 120, 40).contains("LESSON"));
}

/// Chinese typesetting: no line of a wrapped caption starts with a closing mark.
#[test]
fn no_wrapped_line_starts_with_a_closing_mark() {
    let text = "orders-0的follower与它们的leader断开。它们在replica.lag.time.max.ms（10 s）内仍留在ISR中，但拉取不到任何消息：从现在起，每条acks=1的消息都只在leader上。";
    for width in 10..60 {
        for line in super::view::wrap(text, width) {
            let first = line.chars().next().unwrap();
            assert!(!"，。：；、！？）".contains(first), "{width}: {line:?}");
        }
    }
}

/// Five lessons in Chinese at projector sizes, at their second beat: the frames a class
/// sees (partitions, groups, captions wrapped by display width).
#[test]
fn five_lessons_in_chinese_at_80x24_and_120x40() {
    for lesson in [
        "06-slow-follower-isr",
        "08-unclean-leader-election",
        "11c-kip-101-hw-truncation-diverges",
        "14-consumer-crash-rebalance",
        "23-coordinator-failover",
    ] {
        let mut app = start(lesson);
        app.model.lang = Lang::ZhCn;
        next_beat(&mut app);
        next_beat(&mut app);
        let big = screen(&app, 120, 40);
        assert!(big.contains("【讲解】"), "{lesson}: {big}");
        insta::assert_snapshot!(format!("{lesson}-zh-120x40"), big);
        insta::assert_snapshot!(format!("{lesson}-zh-80x24"), screen(&app, 80, 24));
    }
}

/// A crashed leader keeps its strip: greyed, what its disk holds (a process crash keeps
/// the page cache, so the LEO it died with), and the new leader's beside it.
#[test]
fn a_crashed_broker_keeps_its_strip_showing_its_disk() {
    let mut app = start(DEFAULT_LESSON);
    play_until(&mut app, 4_000);
    let before = app.model.shot().unwrap().snapshot.clone();
    let (tp, orders) = before
        .partitions
        .iter()
        .find(|(tp, _)| tp.topic == "orders")
        .map(|(tp, p)| (tp.clone(), p.clone()))
        .unwrap();
    let leader = orders.leader.unwrap_or_else(|| {
        panic!(
            "a leader before the crash at {}: {orders:?}",
            before.time_ms
        )
    });
    play_until(&mut app, 15_000);
    let shot = app.model.shot().unwrap();
    let after = &shot.snapshot.partitions[&tp];
    assert!(
        !after.replica_states.contains_key(&leader),
        "the leader is down"
    );
    let disk = after.on_disk.get(&leader).expect("its disk is shown");
    let led = orders.replica_states[&leader].log_end_offset;
    assert!(
        disk.log_end_offset >= led,
        "its disk holds at least what it had before the crash: {} < {led}",
        disk.log_end_offset
    );
    let screen = screen(&app, 120, 40);
    assert!(
        screen.contains(&format!("b{leader} ✖ ")) && screen.contains("down: its disk holds LEO"),
        "{screen}"
    );
    // The new leader lacks what the old one acknowledged alone: the loss is on screen.
    assert!(
        !shot.lost.is_empty(),
        "the lost-writes checker finds them by 15 s"
    );
    assert!(
        screen.contains(&format!("✗ LOST: {} acknowledged records", shot.lost.len())),
        "{screen}"
    );
    insta::assert_snapshot!("crashed-leader-disk", screen);
}
