//! The `kafkasim` binary, run as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kafkasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(args)
        .output()
        .expect("the binary runs")
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
fn without_arguments_it_says_what_it_is_and_lists_the_commands() {
    let output = kafkasim(&[]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains("deterministic simulated network and clock"),
        "{text}"
    );
    for command in ["partition", "make-log", "dump-log"] {
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
