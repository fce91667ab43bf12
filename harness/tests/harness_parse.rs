//! The harness contract's `parse` command, run as a process.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn prints_one_json_object_per_sample() {
    let body = b"# TYPE a counter\na_total{x=\"1\"} 2 1.5\n# TYPE g gauge\ng NaN\ng{y=\"\\\"\"} -Inf\n# EOF\n";
    let (code, out, err) = run(&["parse", "-"], body);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"name": "a_total", "labels": {"x": "1"}, "value": 2.0,
                           "timestamp_ms": 1500, "family": "a", "type": "counter"})
    );
    assert_eq!(lines[1]["value"], "NaN");
    assert_eq!(lines[1]["timestamp_ms"], serde_json::Value::Null);
    assert_eq!(lines[2]["value"], "-Inf");
    assert_eq!(lines[2]["labels"]["y"], "\"");
    assert_eq!(lines.len(), 3);
}

#[test]
fn format_defaults_from_the_last_line() {
    // Valid text, but OpenMetrics forbids the blank line: the default must be text.
    let (code, out, _) = run(&["parse", "-"], b"a 1\n\nb 2\n");
    assert_eq!((code, out.lines().count()), (0, 2));
    let (code, _, err) = run(&["parse", "-"], b"a 1\n\n# EOF\n");
    assert_eq!((code, err.trim()), (1, "2:1: blank line"));
    let (code, _, err) = run(&["parse", "--format", "openmetrics", "-"], b"a 1\n");
    assert_eq!((code, err.trim()), (1, "2:1: missing \"# EOF\" at the end"));
}

#[test]
fn invalid_input_exits_1_with_line_and_column() {
    let (code, out, err) = run(&["parse", "--format", "text", "-"], b"a 1\nb{c=d} 2\n");
    assert_eq!(code, 1);
    assert_eq!(out, "", "nothing is printed for invalid input");
    assert_eq!(err.trim(), "2:5: expected quoted label value");
}

#[test]
fn help_describes_the_command() {
    let (code, out, _) = run(&["parse", "--help"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("--format") && out.contains("# EOF"), "{out}");
}
