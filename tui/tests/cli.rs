//! The `kafkasim` binary, run as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary in English whatever the machine's locale.
fn kafkasim(args: &[&str]) -> Output {
    kafkasim_in(None, args)
}

/// Runs the binary with `LANG` set to `locale` (and no other locale variable).
fn kafkasim_in(locale: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafkasim"));
    command
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    if let Some(locale) = locale {
        command.env("LANG", locale);
    }
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A fresh directory for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("kafkasim-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Scratch(path)
    }

    fn file(&self, relative: &str) -> String {
        self.0.join(relative).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn without_arguments_and_without_a_terminal_it_runs_the_default_lesson_headless() {
    let output = kafkasim(&[]);
    assert!(output.status.success());
    assert!(
        stderr(&output).contains("no terminal here"),
        "{}",
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(
        text.starts_with("== acks=1: the leader acknowledges alone"),
        "{text}"
    );
    assert!(text.contains("LESSON: "), "{text}");
    assert!(
        text.contains("lost-writes          fail (expected fail: met)"),
        "{text}"
    );
    assert!(
        text.ends_with("(kafkasim --help lists every command)\n"),
        "{text}"
    );
}

#[test]
fn help_says_what_it_is_and_lists_the_commands() {
    let output = kafkasim(&["--help"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains("deterministic simulated network and clock"),
        "{text}"
    );
    for command in ["partition", "make-log", "dump-log", "tui"] {
        assert!(
            text.contains(&format!("  {command} ")),
            "{command} is listed:\n{text}"
        );
    }
}

#[test]
fn partition_prints_kafkas_partition_for_each_key() {
    let output = kafkasim(&["partition", "--partitions", "1000", "abc", "123456789"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<_> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .collect();
    assert_eq!(lines[1], ["abc", "479470107", "479470107", "107"]);
    assert_eq!(lines[2], ["123456789", "-1822237082", "325246566", "566"]);
    let output = kafkasim(&["partition", "-n", "1000", "--hex", "0020"]);
    assert!(
        stdout(&output).lines().nth(1).unwrap().ends_with(" 742"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn partition_refuses_zero_partitions_and_bad_hex() {
    let output = kafkasim(&["partition", "--partitions", "0", "k"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--partitions"),
        "{}",
        stderr(&output)
    );
    let output = kafkasim(&["partition", "-n", "3", "--hex", "abc"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not hex: give an even number of hex digits"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn make_log_writes_a_log_that_dump_log_reads() {
    let dir = Scratch::new("make-dump");
    let output = kafkasim(&[
        "make-log",
        &dir.file(""),
        "--topic",
        "orders",
        "--partition",
        "3",
        "--messages",
        "30",
        "--batch",
        "3",
        "--compression",
        "gzip",
        "--segment-bytes",
        "500",
        "--key-prefix",
        "k",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("rolled a new segment at offset"), "{text}");
    assert!(text.contains("(segment.bytes)"), "{text}");
    assert!(text.contains("30 messages at offsets 0..30"), "{text}");

    let log = dir.file("orders-3/00000000000000000000.log");
    let output = kafkasim(&["dump-log", "--deep-iteration", "--print-data-log", &log]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    // Wrappers carry the last offset of their batch, inner messages every offset.
    assert!(
        text.contains("offset: 2 position: 0 CreateTime: 1700000002000 isvalid: true keysize: -1"),
        "{text}"
    );
    assert!(text.contains("compresscodec: gzip"), "{text}");
    assert!(text.contains("| offset: 0 CreateTime: 1700000000000 keysize: 2 valuesize: 100 magic: 1 key: k0 payload: message 0 "), "{text}");
}

#[test]
fn dump_log_reports_where_a_corrupt_log_stops() {
    let dir = Scratch::new("corrupt");
    assert!(
        kafkasim(&[
            "make-log",
            &dir.file(""),
            "--messages",
            "5",
            "--value-bytes",
            "10"
        ])
        .status
        .success()
    );
    let log = dir.file("demo-0/00000000000000000000.log");
    let mut bytes = std::fs::read(&log).unwrap();
    // Entries are 12 + 22 + 10 bytes long; damage the third one's value.
    bytes[2 * 44 + 40] ^= 0xff;
    std::fs::write(&log, bytes).unwrap();
    let output = kafkasim(&["dump-log", &log]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output)
            .lines()
            .filter(|l| l.starts_with("offset:"))
            .count(),
        2
    );
    let error = stderr(&output);
    assert!(
        error.contains("at byte 88 (offset 2): CRC mismatch"),
        "{error}"
    );
    assert!(
        error.contains("132 bytes from byte 88 on were not read"),
        "{error}"
    );
}

#[test]
fn dump_log_explains_files_it_cannot_read() {
    let dir = Scratch::new("names");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("hello.log"), b"x").unwrap();
    let output = kafkasim(&[
        "dump-log",
        &dir.file("hello.log"),
        &dir.file("00000000000000000000.index"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.contains("hello.log: not a segment file name"),
        "{error}"
    );
    assert!(
        error.contains("00000000000000000000.index: No such file"),
        "{error}"
    );
}

#[test]
fn make_log_refuses_impossible_configs_with_kafkas_names() {
    let dir = Scratch::new("badconfig");
    let output = kafkasim(&["make-log", &dir.file(""), "--segment-bytes", "10"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("invalid segment.bytes = 10: expected at least 14 bytes"),
        "{}",
        stderr(&output)
    );
    let output = kafkasim(&[
        "make-log",
        &dir.file(""),
        "--segment-bytes",
        "100",
        "--value-bytes",
        "200",
    ]);
    assert!(
        stderr(&output).contains("larger than a whole segment, segment.bytes = 100"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn assign_shows_what_each_assignor_gives_and_what_cooperative_holds_back() {
    let range = kafkasim(&[
        "assign",
        "-s",
        "range",
        "--topic",
        "orders:7",
        "--member",
        "c1=orders",
        "--member",
        "c2=orders",
        "--member",
        "c3=orders",
    ]);
    assert!(range.status.success(), "{}", stderr(&range));
    let text = stdout(&range);
    assert!(
        text.starts_with("range: 7 partitions of 1 topic to 3 members"),
        "{text}"
    );
    assert!(
        text.contains("c1          3     0  orders-0 orders-1 orders-2"),
        "{text}"
    );
    assert!(
        text.contains("c3          2     0  orders-5 orders-6"),
        "{text}"
    );

    let cooperative = kafkasim(&[
        "assign",
        "-s",
        "cooperative-sticky",
        "--topic",
        "t:4",
        "--member",
        "c1=t",
        "--member",
        "c2=t",
        "--member",
        "c3=t",
        "--owned",
        "c1=t-0,t-1",
        "--owned",
        "c2=t-2,t-3",
        "--json",
    ]);
    assert!(cooperative.status.success(), "{}", stderr(&cooperative));
    let json: serde_json::Value = serde_json::from_str(&stdout(&cooperative)).unwrap();
    assert_eq!(json["strategy"], "cooperative-sticky");
    assert_eq!(
        json["assignment"]["c3"],
        serde_json::json!([]),
        "the newcomer waits a round"
    );
    assert_eq!(json["withheld"].as_object().unwrap().len(), 1);
}

#[test]
fn assign_reads_a_group_file_and_explains_bad_input() {
    let scratch = Scratch::new("assign");
    std::fs::create_dir_all(&scratch.0).unwrap();
    let good = scratch.file("group.json");
    std::fs::write(
        &good,
        r#"{"strategy": "sticky", "topics": {"t0": 1, "t1": 2, "t2": 3},
            "members": [{"id": "C0", "topics": ["t0"]}, {"id": "C1", "topics": ["t0", "t1"]},
                        {"id": "C2", "topics": ["t0", "t1", "t2"], "instance": "app-2"}]}"#,
    )
    .unwrap();
    let out = kafkasim(&["assign", "--file", &good]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("C0          1     0  t0-0"), "{text}");
    assert!(
        text.contains("C2          3     0  t2-0 t2-1 t2-2"),
        "{text}"
    );

    let typo = scratch.file("typo.json");
    std::fs::write(
        &typo,
        r#"{"topics": {"t": 1}, "members": [{"id": "a", "topcs": ["t"]}]}"#,
    )
    .unwrap();
    let out = kafkasim(&["assign", "-s", "range", "--file", &typo]);
    assert!(!out.status.success());
    let error = stderr(&out);
    assert!(
        error.contains("typo.json:1:") && error.contains("unknown field `topcs`"),
        "{error}"
    );

    for (args, message) in [
        (
            vec![
                "assign", "-s", "range", "--topic", "orders", "--member", "c=orders",
            ],
            "write NAME:PARTITIONS",
        ),
        (
            vec![
                "assign", "-s", "range", "--topic", "orders:2", "--member", "c=order",
            ],
            "add it with --topic order:PARTITIONS",
        ),
        (
            vec![
                "assign", "-s", "sticky", "--topic", "o:2", "--member", "c=o", "--owned", "c=o-7",
            ],
            "topic o has partitions 0..1",
        ),
        (
            vec!["assign", "--topic", "o:2", "--member", "c=o"],
            "choose an assignor with --strategy",
        ),
        (
            vec![
                "assign", "-s", "range", "--topic", "o:2", "--member", "c=o", "--member", "c=o",
            ],
            "member c is listed twice",
        ),
    ] {
        let out = kafkasim(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn list_shows_the_bundled_scenarios_and_run_takes_their_names() {
    let list = kafkasim(&["list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(text.contains("04-acks-1-leader-crash"), "{text}");
    assert!(text.contains("Jepsen 2013"), "{text}");
    // Every bundled name runs (here only its first seconds).
    let run = kafkasim(&["run", "01-first-topic", "--until", "3s"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = stdout(&run);
    assert!(text.starts_with("== A first topic"), "{text}");
    assert!(text.contains("LESSON: A producer sends"), "{text}");
    assert!(
        text.contains("lost-writes          pass (expected pass: met)"),
        "{text}"
    );
}

#[test]
fn run_exits_with_1_and_the_replay_command_when_an_expectation_fails() {
    let scratch = Scratch::new("run-expect");
    std::fs::create_dir_all(&scratch.0).unwrap();
    let file = scratch.file("acks1.toml");
    // Lesson 4 with the opposite expectation: its run loses acknowledged writes.
    let lesson = include_str!("../../scenarios/04-acks-1-leader-crash.toml")
        .replace("lost_writes = \"fail\"", "lost_writes = \"pass\"");
    std::fs::write(&file, lesson).unwrap();
    let run = kafkasim(&["run", &file, "--seed", "3"]);
    assert_eq!(run.status.code(), Some(1));
    let out = stdout(&run);
    assert!(
        out.contains("lost-writes          fail (expected pass: NOT MET)"),
        "{out}"
    );
    assert!(out.contains("acknowledged at orders-0@"), "{out}");
    assert!(
        stderr(&run).contains(&format!("replay it with: kafkasim run {file} --seed 3")),
        "{}",
        stderr(&run)
    );
    // --json says the same for machines, and --trace writes every entry.
    let trace = scratch.file("trace.jsonl");
    let json = kafkasim(&["run", &file, "--json", "--trace", &trace]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["passed"], false);
    assert_eq!(value["checks"][0]["name"], "lost-writes");
    assert_eq!(value["checks"][0]["met"], false);
    let lines = std::fs::read_to_string(&trace).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(
        first["time_ms"].is_i64() && first["text"].is_string(),
        "{first}"
    );
    // Each line is the event as data: its kind and fields beside the sentence.
    assert_eq!(first["kind"], "broker-started", "{first}");
    assert_eq!(first["broker"], 1, "{first}");
    let events: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let crash = events
        .iter()
        .find(|e| e["kind"] == "fault" && e["action"] == "crash")
        .expect("the leader's crash");
    assert!(crash["broker"].is_i64(), "{crash}");
    let elected = events
        .iter()
        .find(|e| e["kind"] == "leader-elected" && e["reason"] == "leader-failed")
        .expect("a new leader after the crash");
    assert_eq!(elected["partition"], "orders-0");
    assert_eq!(elected["previous"], crash["broker"]);
    assert!(elected["isr"].is_array(), "{elected}");
    // --json's timeline carries the same entries.
    assert_eq!(value["timeline"].as_array().unwrap().len(), events.len());
    assert_eq!(value["timeline"][0], events[0]);
}

#[test]
fn run_explains_bad_files_and_flags() {
    let scratch = Scratch::new("run-bad");
    std::fs::create_dir_all(&scratch.0).unwrap();
    let file = scratch.file("typo.toml");
    std::fs::write(
        &file,
        "format = 1\ntitle = \"t\"\nduration = \"10s\"\n[cluster]\nbrokers = 3\n[cluster.config]\nmin_insync_replica = 2\n",
    )
    .unwrap();
    let run = kafkasim(&["run", &file]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(
        err.contains("typo.toml:7:22: unknown broker config \"min_insync_replica\""),
        "{err}"
    );
    assert!(err.contains("did you mean min_insync_replicas?"), "{err}");

    let missing = kafkasim(&["run", "no-such-lesson"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("kafkasim list shows them"),
        "{}",
        stderr(&missing)
    );

    let until = kafkasim(&["run", "01-first-topic", "--until", "soon"]);
    assert_eq!(until.status.code(), Some(1));
    assert!(
        stderr(&until).contains("--until soon: expected a time such as 30s"),
        "{}",
        stderr(&until)
    );
}

#[test]
fn sweep_runs_many_seeds_and_shrinks_the_first_failure() {
    let ok = kafkasim(&["sweep", "01-first-topic", "--seeds", "1..=3", "--jobs", "2"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok).starts_with("3 seeds, 0 failing, 2 at a time"),
        "{}",
        stdout(&ok)
    );

    let scratch = Scratch::new("sweep");
    std::fs::create_dir_all(&scratch.0).unwrap();
    let file = scratch.file("jepsen.toml");
    let lesson = include_str!("../../scenarios/09-jepsen-2013.toml")
        .replace("lost_writes = \"fail\"", "lost_writes = \"pass\"");
    std::fs::write(&file, lesson).unwrap();
    let failing = kafkasim(&["sweep", &file, "--seeds", "11..13", "--shard", "1/2"]);
    assert_eq!(failing.status.code(), Some(1));
    let out = stdout(&failing);
    assert!(out.starts_with("1 seeds, 1 failing"), "{out}");
    assert!(out.contains("seed 11: not met: lost-writes"), "{out}");
    let shrunk = scratch.file("jepsen.seed-11.shrunk.toml");
    assert!(out.contains("shrunk seed 11: 2 of 6 faults"), "{out}");
    let replay = kafkasim(&["run", &shrunk]);
    assert_eq!(replay.status.code(), Some(1), "{}", stderr(&replay));
    assert!(stdout(&replay).contains("lost-writes          fail (expected pass: NOT MET)"));

    let bad = kafkasim(&["sweep", &file, "--seeds", "9..3"]);
    assert!(
        stderr(&bad).contains("--seeds 9..3: the range is empty"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn describe_shows_partitions_at_a_time_and_check_determinism_runs_twice() {
    let describe = kafkasim(&["describe", "04-acks-1-leader-crash", "--at", "15s"]);
    assert!(describe.status.success(), "{}", stderr(&describe));
    let text = stdout(&describe);
    // Lesson 04 crashes the leader at 6 s: by 15 s one broker is down, another leads in
    // epoch 1, and the dead one is offline.
    let brokers = text
        .lines()
        .find(|l| l.starts_with("Brokers: "))
        .unwrap_or_default();
    let down: Vec<&str> = brokers
        .trim_start_matches("Brokers: ")
        .split(';')
        .next()
        .unwrap_or_default()
        .split(", ")
        .filter(|b| b.contains(" down"))
        .collect();
    assert_eq!(down.len(), 1, "{text}");
    let dead = down[0].trim_end_matches(" down");
    assert!(
        text.contains("Topic: orders\tPartition: 0\tLeader: "),
        "{text}"
    );
    assert!(!text.contains(&format!("Leader: {dead}\t")), "{text}");
    assert!(text.contains("\tEpoch: 1\t"), "{text}");
    assert!(text.contains(&format!("Offline: {dead}")), "{text}");
    assert!(!text.contains("__consumer_offsets"), "{text}");

    let check = kafkasim(&["check-determinism", "09-jepsen-2013"]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("every random draw compared"));
    assert!(stdout(&check).contains("deterministic: seed 11 gives the same run four times"));

    let bad = kafkasim(&["describe", "01-first-topic", "--at", "later"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("--at later: expected a time"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn describe_shows_groups_with_their_lag() {
    let describe = kafkasim(&["describe", "14-consumer-crash-rebalance", "--at", "25s"]);
    assert!(describe.status.success(), "{}", stderr(&describe));
    let text = stdout(&describe);
    assert!(text.contains("Group billing: Stable"), "{text}");
    assert!(text.contains("generation 1"), "{text}");
    assert!(
        text.contains("GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID"),
        "{text}"
    );
    // The dead worker still owns its partitions until session.timeout.ms: they lag.
    let lags: Vec<i64> = text
        .lines()
        .filter(|l| l.starts_with("billing\torders"))
        .map(|l| l.split('\t').nth(5).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lags.len(), 6, "{text}");
    assert!(lags.iter().any(|lag| *lag > 10), "{lags:?}");
}

#[test]
fn run_writes_every_brokers_logs_in_kafkas_layout() {
    let scratch = Scratch::new("data-dir");
    let dir = scratch.file("logs");
    let run = kafkasim(&["run", "04-acks-1-leader-crash", "--data-dir", &dir]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("log files written in Kafka's layout"));
    for broker in 1..=3 {
        let log = format!("{dir}/broker-{broker}/orders-0/00000000000000000000.log");
        let dump = kafkasim(&["dump-log", "--print-data-log", &log]);
        assert!(dump.status.success(), "{log}: {}", stderr(&dump));
        assert!(stdout(&dump).contains("payload: p1-0"), "{log}");
    }
}

#[test]
fn run_writes_the_client_history_as_jepsen_reads_it() {
    let path = std::env::temp_dir().join(format!("kafkasim-history-{}.jsonl", std::process::id()));
    let path_text = path.to_str().unwrap();
    let output = kafkasim(&["run", "18-idempotent-producer", "--history", path_text]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let ops: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(ops.len() > 100, "{}", ops.len());
    let mut last_time = 0;
    let mut sends: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op["index"], i, "{op}");
        let time = op["time_ms"].as_i64().unwrap();
        assert!(time >= last_time, "time order: {op}");
        last_time = time;
        if op["f"] == "send" {
            let value = op["value"].as_str().unwrap().to_string();
            sends
                .entry(value)
                .or_default()
                .push(op["type"].as_str().unwrap().to_string());
        }
    }
    // Each send is invoked once, then ends once: ok with its offset, fail, or info.
    for (value, types) in &sends {
        assert_eq!(types[0], "invoke", "{value}: {types:?}");
        assert!(types.len() <= 2, "{value}: {types:?}");
    }
    let ok_with_offset = ops
        .iter()
        .filter(|op| op["f"] == "send" && op["type"] == "ok")
        .all(|op| op["offset"].is_i64());
    assert!(ok_with_offset);
    assert!(ops.iter().any(|op| op["f"] == "send" && op["type"] == "ok"));
}

#[test]
fn lessons_open_by_number_or_unique_prefix_and_a_wrong_name_gets_a_suggestion() {
    for key in ["6", "06", "06-slow"] {
        let out = kafkasim(&["run", key, "--until", "1s"]);
        assert!(out.status.success(), "{key}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("A slow follower leaves the ISR"),
            "{key}: {}",
            stdout(&out)
        );
    }
    let ambiguous = kafkasim(&["run", "5"]);
    assert!(!ambiguous.status.success());
    assert!(
        stderr(&ambiguous)
            .contains("05 could be 05a-min-insync-replicas or 05b-min-insync-replicas-before-3-7"),
        "{}",
        stderr(&ambiguous)
    );
    let typo = kafkasim(&["run", "jepsen"]);
    assert!(
        stderr(&typo).contains("no bundled scenario jepsen: did you mean 09-jepsen-2013?"),
        "{}",
        stderr(&typo)
    );
    let missing = kafkasim(&["run", "mine/lesson.toml"]);
    assert!(
        stderr(&missing).contains("cannot read scenario mine/lesson.toml"),
        "{}",
        stderr(&missing)
    );
}

/// `--lang zh-CN`, or a Chinese locale, narrates a lesson in Chinese from its title to its
/// verdicts; `--lang en` wins over the locale; an unknown language is refused.
#[test]
fn the_language_comes_from_lang_or_the_locale() {
    let zh = kafkasim(&["--lang", "zh-CN", "run", "06"]);
    assert!(zh.status.success(), "{}", stderr(&zh));
    let text = stdout(&zh);
    for expected in [
        "（种子5）",
        "【讲解】",
        "== 检查器",
        "通过",
        "当选orders-0的leader",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(
        stderr(&zh).is_empty(),
        "lesson 06 is fully translated: {}",
        stderr(&zh)
    );

    let from_locale = kafkasim_in(Some("zh_CN.UTF-8"), &["run", "06"]);
    assert_eq!(
        stdout(&from_locale),
        text,
        "LANG=zh_CN.UTF-8 is the same as --lang zh-CN"
    );
    let english = kafkasim_in(Some("zh_CN.UTF-8"), &["--lang", "en", "run", "06"]);
    assert!(
        stdout(&english).contains("== checkers"),
        "{}",
        stdout(&english)
    );

    let list = kafkasim(&["--lang", "zh-CN", "list"]);
    assert!(
        stdout(&list).contains("落后的follower"),
        "{}",
        stdout(&list)
    );
    let describe = kafkasim(&["--lang", "zh-CN", "describe", "14", "--at", "30s"]);
    let described = stdout(&describe);
    assert!(described.contains("消费组billing"), "{described}");
    assert!(
        described.contains("Topic: orders\tPartition: 0"),
        "kafka-topics' layout stays: {described}"
    );

    let unknown = kafkasim(&["--lang", "fr", "list"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("--lang fr: kafkasim speaks en and zh-CN"),
        "{}",
        stderr(&unknown)
    );
}

/// A scenario without Chinese runs in Chinese showing its own text, and says what it
/// lacks.
#[test]
fn an_untranslated_scenario_runs_in_chinese_and_says_what_it_lacks() {
    let scratch = Scratch::new("untranslated");
    std::fs::create_dir_all(&scratch.0).unwrap();
    let file = scratch.file("plain.toml");
    std::fs::write(
        &file,
        "format = 1\ntitle = \"plain\"\nduration = \"2s\"\n[cluster]\nbrokers = 1\n[[captions]]\nat = \"1s\"\ntext = \"Only English here.\"\n",
    )
    .unwrap();
    let run = kafkasim(&["--lang", "zh-CN", "run", &file]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("【讲解】Only English here."),
        "{}",
        stdout(&run)
    );
    let warnings = stderr(&run);
    assert!(warnings.contains("缺少title_zh"), "{warnings}");
    assert!(
        warnings.contains("讲解“Only English here.”的text_zh"),
        "{warnings}"
    );
}

/// A missed expectation in Chinese: the difference, where it is in the file, and the
/// command that replays the run.
#[test]
fn a_missed_expectation_is_said_in_chinese() {
    let scratch = Scratch::new("missed-zh");
    std::fs::create_dir_all(&scratch.0).unwrap();
    let file = scratch.file("missed.toml");
    std::fs::write(
        &file,
        "format = 1\ntitle = \"missed\"\ntitle_zh = \"不符合\"\nduration = \"3s\"\n[cluster]\nbrokers = 3\n[[topics]]\nname = \"orders\"\npartitions = 1\nreplication_factor = 3\n[[expect.state]]\nat = \"2s\"\npartition = \"orders-0\"\nisr = [1]\n",
    )
    .unwrap();
    let run = kafkasim(&["--lang", "zh-CN", "run", &file]);
    assert!(!run.status.success());
    let text = stdout(&run);
    assert!(text.contains("orders-0的ISR是[1,2,3]，预期[1]"), "{text}");
    assert!(
        stderr(&run).starts_with("错误：本次运行不符合场景的预期；用此命令重放：kafkasim run"),
        "{}",
        stderr(&run)
    );
}

/// A scenario file's mistakes, with their hints, in Chinese.
#[test]
fn scenario_mistakes_are_said_in_chinese() {
    let run = kafkasim(&[
        "--lang",
        "zh-CN",
        "run",
        "../scenarios/invalid/bad-events.toml",
    ]);
    assert!(!run.status.success());
    let text = stderr(&run);
    assert!(
        text.contains("bad-events.toml:14:6: 未知的事件类型\"isr-shrunk\""),
        "{text}"
    );
    assert!(
        text.contains("  提示：是不是想写\"isr-shrink\"？"),
        "{text}"
    );
    let english = kafkasim(&["run", "../scenarios/invalid/bad-events.toml"]);
    assert!(
        stderr(&english).contains("unknown event kind \"isr-shrunk\""),
        "{}",
        stderr(&english)
    );
}

/// The command line's own errors and the engineers' commands in Chinese.
#[test]
fn sweep_determinism_and_cli_errors_in_chinese() {
    let unknown = kafkasim(&["--lang", "zh-CN", "run", "99"]);
    assert!(
        stderr(&unknown).starts_with("错误：没有名为99的内置场景"),
        "{}",
        stderr(&unknown)
    );
    let empty = kafkasim(&["--lang", "zh-CN", "sweep", "07", "--seeds", "5..1"]);
    assert!(
        stderr(&empty).contains("--seeds 5..1：范围为空"),
        "{}",
        stderr(&empty)
    );
    let sweep = kafkasim(&[
        "--lang", "zh-CN", "sweep", "07", "--seeds", "1..3", "--jobs", "1",
    ]);
    assert!(
        stdout(&sweep).starts_with("2个种子，0个不符合预期"),
        "{}",
        stdout(&sweep)
    );
    let check = kafkasim(&["--lang", "zh-CN", "check-determinism", "07"]);
    assert!(
        stdout(&check).contains("确定性：种子"),
        "{}",
        stdout(&check)
    );
}
