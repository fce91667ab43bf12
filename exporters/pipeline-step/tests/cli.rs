//! Runs the real `pipeline-step-exporter` binary and talks HTTP to it: flags, refused
//! runs, what each `--strategy` exposes after the same runs, concurrent posts, the
//! simulation, and a graceful stop.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, pipeline_lines, run_json, value, Exporter, BIN};

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for wanted in [
        "--listen",
        "127.0.0.1:9188",
        "--strategy",
        "collector",
        "delete",
        "ttl",
        "naive",
        "--ttl",
        "5m",
        "--no-simulate",
        "--simulate-interval",
    ] {
        assert!(help.contains(wanted), "--help lacks {wanted:?}:\n{help}");
    }
}

struct BadFlags {
    name: &'static str,
    args: &'static [&'static str],
    says: &'static str,
}

const BAD_FLAGS: &[BadFlags] = &[
    BadFlags {
        name: "ttl without unit",
        args: &["--strategy", "ttl", "--ttl", "30"],
        says: "invalid duration \"30\": missing unit",
    },
    BadFlags {
        name: "ttl with unknown unit",
        args: &["--strategy", "ttl", "--ttl", "5x"],
        says: "unknown unit \"x\"",
    },
    BadFlags {
        name: "ttl in the wrong order",
        args: &["--strategy", "ttl", "--ttl", "30m1h"],
        says: "largest to smallest",
    },
    BadFlags {
        name: "zero ttl",
        args: &["--strategy", "ttl", "--ttl", "0s"],
        says: "must be longer than 0",
    },
    BadFlags {
        name: "ttl with the default strategy",
        args: &["--ttl", "30s"],
        says: "--ttl only applies to --strategy ttl, not --strategy collector",
    },
    BadFlags {
        name: "ttl with another strategy",
        args: &["--strategy", "delete", "--ttl=1m"],
        says: "--ttl only applies to --strategy ttl, not --strategy delete",
    },
    BadFlags {
        name: "ttl before naive",
        args: &["--ttl", "1m", "--strategy", "naive"],
        says: "not --strategy naive: drop --ttl or use --strategy ttl",
    },
    BadFlags {
        name: "fractional interval",
        args: &["--simulate-interval", "1.5s"],
        says: "invalid duration \"1.5s\"",
    },
    BadFlags {
        name: "unknown strategy",
        args: &["--strategy", "lru"],
        says: "invalid value 'lru'",
    },
    BadFlags {
        name: "listen without port",
        args: &["--listen", "localhost"],
        says: "invalid value 'localhost'",
    },
];

#[test]
fn bad_flags_are_clear_errors() {
    for case in BAD_FLAGS {
        // On port 0 (unless the case is about --listen) and killed after a while: a
        // flag wrongly accepted fails the case instead of serving forever.
        let mut args = case.args.to_vec();
        if !args.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", case.name);
        assert!(
            stderr.contains(case.says),
            "{}: {stderr:?} lacks {:?}",
            case.name,
            case.says
        );
    }
}

#[test]
fn ttl_strategy_without_ttl_starts_with_the_default() {
    let exporter = Exporter::start(&["--no-simulate", "--strategy", "ttl"]);
    exporter.post_run(&run_json("a", &[("clone", 1.0, "success")], 10.0));
    let metrics = exporter.pipeline_metrics();
    assert!(
        metrics.contains("pipeline_step_duration_seconds{pipeline=\"a\",step=\"clone\"} 1"),
        "{metrics}"
    );
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["--no-simulate", "--listen", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn unknown_paths_and_methods_are_refused() {
    let exporter = Exporter::start(&["--no-simulate"]);
    assert_eq!(exporter.get("/runs", &[]).status, 405);
    assert_eq!(exporter.post("/metrics", b"{}").status, 405);
    assert_eq!(exporter.get("/nope", &[]).status, 404);
    assert!(exporter.get("/", &[]).text().contains("POST /runs"));
}

struct Refused {
    name: &'static str,
    body: &'static str,
    says: &'static str,
}

#[rustfmt::skip]
const REFUSED: &[Refused] = &[
    Refused { name: "not JSON", body: "pipeline=a", says: "invalid run JSON" },
    Refused { name: "empty body", body: "", says: "invalid run JSON" },
    Refused { name: "missing steps", body: r#"{"pipeline":"a"}"#, says: "missing field `steps`" },
    Refused { name: "missing step status", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1}]}"#, says: "missing field `status`" },
    Refused { name: "negative duration", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":-2,"status":"success"}]}"#, says: "steps[0].duration_seconds: -2 is not a finite number" },
    Refused { name: "infinite duration", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1e400,"status":"success"}]}"#, says: "out of range" },
    Refused { name: "unknown status", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1,"status":"ok"}]}"#, says: "steps[0].status: unknown status \"ok\" (expected one of success, failed, skipped, cancelled)" },
    Refused { name: "empty pipeline", body: r#"{"pipeline":"","steps":[{"name":"x","duration_seconds":1,"status":"success"}]}"#, says: "pipeline: name \"\" must not be empty" },
    Refused { name: "empty step name", body: r#"{"pipeline":"a","steps":[{"name":"","duration_seconds":1,"status":"success"}]}"#, says: "steps[0].name: name \"\" must not be empty" },
    Refused { name: "control character", body: r#"{"pipeline":"a\u0000","steps":[{"name":"x","duration_seconds":1,"status":"success"}]}"#, says: "control character" },
    Refused { name: "no steps", body: r#"{"pipeline":"a","steps":[]}"#, says: "at least one step" },
    Refused { name: "repeated step", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1,"status":"success"},{"name":"x","duration_seconds":2,"status":"failed"}]}"#, says: "appears more than once" },
    Refused { name: "misspelt field", body: r#"{"pipeline":"a","steps":[{"name":"x","duration":1,"status":"success"}]}"#, says: "unknown field `duration`" },
];

/// The body limit documented in the README and in `src/run.rs`.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A valid run padded with spaces to exactly `len` bytes.
fn padded_run(len: usize) -> Vec<u8> {
    let mut body = run_json("big", &[("x", 1.0, "success")], 5.0).into_bytes();
    body.resize(len, b' ');
    body
}

#[test]
fn refused_runs_get_400_or_413_and_change_nothing() {
    for strategy in ["collector", "delete"] {
        let exporter = Exporter::start(&["--no-simulate", "--strategy", strategy]);
        exporter.post_run(&run_json("a", &[("clone", 1.0, "success")], 10.0));
        let before = exporter.pipeline_metrics();
        for case in REFUSED {
            let reply = exporter.post("/runs", case.body.as_bytes());
            let text = reply.text();
            assert_eq!(reply.status, 400, "{strategy}/{}: {text}", case.name);
            assert!(
                text.contains(case.says),
                "{strategy}/{}: {text:?} lacks {:?}",
                case.name,
                case.says
            );
            assert_eq!(
                exporter.pipeline_metrics(),
                before,
                "{strategy}/{}",
                case.name
            );
        }
        let reply = exporter.post("/runs", &padded_run(MAX_BODY_BYTES + 1));
        assert_eq!(reply.status, 413, "{strategy}: {}", reply.text());
        assert!(reply.text().contains("65536 bytes"), "{}", reply.text());
        assert_eq!(exporter.pipeline_metrics(), before, "{strategy}: 413");

        // A body of exactly the limit is read.
        exporter.post_run(std::str::from_utf8(&padded_run(MAX_BODY_BYTES)).unwrap());
        assert!(exporter.pipeline_metrics().contains("pipeline=\"big\""));
    }
}

/// Two runs of `a` whose step sets differ, then one of `b`.
fn changing_runs() -> Vec<String> {
    vec![
        run_json(
            "a",
            &[
                ("clone", 1.5, "success"),
                ("build", 40.0, "success"),
                ("test", 12.0, "failed"),
            ],
            100.0,
        ),
        run_json("b", &[("lint", 3.0, "success")], 150.0),
        run_json(
            "a",
            &[
                ("build", 38.5, "success"),
                ("test", 11.0, "success"),
                ("push", 2.0, "cancelled"),
            ],
            200.0,
        ),
    ]
}

#[test]
fn collector_and_delete_give_identical_exposition() {
    let collector = Exporter::start(&["--no-simulate", "--strategy", "collector"]);
    let delete = Exporter::start(&["--no-simulate", "--strategy", "delete"]);
    for run in changing_runs() {
        collector.post_run(&run);
        delete.post_run(&run);
        assert_eq!(collector.pipeline_metrics(), delete.pipeline_metrics());
    }
    let text = collector.pipeline_metrics();
    assert!(!text.contains("step=\"clone\""), "{text}");
    assert_eq!(
        value(
            &text,
            "pipeline_step_duration_seconds{pipeline=\"a\",step=\"build\"}"
        ),
        Some(38.5)
    );
    assert_eq!(
        value(
            &text,
            "pipeline_step_status{pipeline=\"a\",status=\"cancelled\",step=\"push\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "pipeline_runs_total{pipeline=\"a\",status=\"cancelled\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "pipeline_last_run_timestamp_seconds{pipeline=\"a\"}"),
        Some(200.0)
    );
    assert_eq!(
        value(&text, "pipeline_run_duration_seconds_count"),
        Some(3.0)
    );
    // The same holds in OpenMetrics.
    let openmetrics = [("Accept", "application/openmetrics-text;version=1.0.0")];
    let om = |e: &Exporter| {
        let reply = e.get("/metrics", &openmetrics);
        assert!(reply
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"));
        pipeline_lines(&reply.text())
    };
    assert_eq!(om(&collector), om(&delete));
    assert!(om(&collector).contains("# TYPE pipeline_runs counter"));
}

#[test]
fn naive_keeps_every_step_ever_seen() {
    let naive = Exporter::start(&["--no-simulate", "--strategy", "naive"]);
    let collector = Exporter::start(&["--no-simulate", "--strategy", "collector"]);
    for run in changing_runs() {
        naive.post_run(&run);
        collector.post_run(&run);
    }
    let step_of_a = |text: &str, step: &str| {
        value(
            text,
            &format!("pipeline_step_duration_seconds{{pipeline=\"a\",step=\"{step}\"}}"),
        )
    };
    let naive = naive.pipeline_metrics();
    let collector = collector.pipeline_metrics();
    assert_eq!(step_of_a(&naive, "clone"), Some(1.5), "{naive}");
    assert_eq!(step_of_a(&collector, "clone"), None, "{collector}");
    for step in ["build", "test", "push"] {
        assert_eq!(
            step_of_a(&naive, step),
            step_of_a(&collector, step),
            "{step}"
        );
    }
    // Everything else agrees: naive has exactly the vanished step's series on top.
    let extra: Vec<&str> = naive
        .lines()
        .filter(|l| !collector.lines().any(|c| c == *l))
        .collect();
    assert_eq!(extra.len(), 1 + 4, "{extra:#?}");
    assert!(
        extra.iter().all(|l| l.contains("step=\"clone\"")),
        "{extra:#?}"
    );
}

#[test]
fn ttl_converges_to_collector_once_the_ttl_passed() {
    let ttl = Exporter::start(&["--no-simulate", "--strategy", "ttl", "--ttl", "2s"]);
    let collector = Exporter::start(&["--no-simulate", "--strategy", "collector"]);
    let runs = changing_runs();
    let start = std::time::Instant::now();
    for run in &runs {
        ttl.post_run(run);
        collector.post_run(run);
    }
    // Well within the TTL, the vanished step is still there.
    let first = ttl.pipeline_metrics();
    assert!(first.contains("step=\"clone\""), "{first}");
    assert_ne!(first, collector.pipeline_metrics());
    // The pipelines keep running (so their current steps stay fresh) until the
    // vanished step has been idle for the TTL.
    eventually(
        "ttl exposition equals collector's",
        Duration::from_secs(15),
        Duration::from_millis(250),
        || {
            for run in &runs[1..] {
                ttl.post_run(run);
                collector.post_run(run);
            }
            let (t, c) = (ttl.pipeline_metrics(), collector.pipeline_metrics());
            if t == c {
                Ok(())
            } else {
                Err(format!("ttl:\n{t}\ncollector:\n{c}"))
            }
        },
    );
    // `clone` was last updated after `start`, so it cannot have expired any sooner.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "converged after {took:?}, before the TTL"
    );
}

#[test]
fn concurrent_posts_lose_nothing() {
    const THREADS: usize = 6;
    const POSTS: usize = 40;
    let statuses = ["success", "failed", "cancelled"];
    for strategy in ["collector", "delete", "ttl", "naive"] {
        let exporter = Exporter::start(&["--no-simulate", "--strategy", strategy]);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let exporter = &exporter;
                s.spawn(move || {
                    for i in 0..POSTS {
                        let pipeline = format!("p{}", (t + i) % 3);
                        let status = statuses[i % 3];
                        let step = format!("s{}", i % 5);
                        let body = run_json(
                            &pipeline,
                            &[("clone", 1.0, "success"), (&step, 2.0, status)],
                            i as f64,
                        );
                        exporter.post_run(&body);
                    }
                });
            }
        });
        let mut want: BTreeMap<String, f64> = BTreeMap::new();
        for t in 0..THREADS {
            for i in 0..POSTS {
                let series = format!(
                    "pipeline_runs_total{{pipeline=\"p{}\",status=\"{}\"}}",
                    (t + i) % 3,
                    statuses[i % 3]
                );
                *want.entry(series).or_default() += 1.0;
            }
        }
        let text = exporter.pipeline_metrics();
        for (series, count) in &want {
            assert_eq!(value(&text, series), Some(*count), "{strategy}: {series}");
        }
        assert_eq!(
            value(&text, "pipeline_run_duration_seconds_count"),
            Some((THREADS * POSTS) as f64),
            "{strategy}"
        );
    }
}

#[test]
fn the_simulation_shows_every_pipeline_at_once_and_keeps_running() {
    let exporter = Exporter::start(&["--simulate-interval", "50ms"]);
    let total = |text: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("pipeline_runs_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let text = exporter.pipeline_metrics();
    for pipeline in ["api", "web", "docs", "nightly"] {
        assert!(
            text.contains(&format!(
                "pipeline_last_run_timestamp_seconds{{pipeline=\"{pipeline}\"}}"
            )),
            "{pipeline}: {text}"
        );
    }
    let start = total(&text);
    assert!(start >= 4.0, "{text}");
    eventually(
        "more simulated runs",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let now = total(&exporter.pipeline_metrics());
            if now >= start + 3.0 {
                Ok(())
            } else {
                Err(format!("{now} runs"))
            }
        },
    );
}

#[test]
fn interrupt_stops_the_exporter_gracefully() {
    let mut exporter = Exporter::start(&[]);
    assert_eq!(exporter.get("/metrics", &[]).status, 200);
    let sent = Command::new("kill")
        .args(["-INT", &exporter.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = exporter
        .wait_exit(Duration::from_secs(10))
        .expect("exited after SIGINT");
    assert!(status.success(), "{status:?}");
}
