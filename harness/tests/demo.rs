//! `promsdk-harness demo` as a user runs it: the real binary starts the real
//! `pipeline-step-exporter` four times, discovers them through file_sd and scrapes
//! them every second. The result (`--json -`) must say that every vanished step of
//! `collector`, `delete` and `ttl` was gone within its bound, that `naive` leaked, and
//! that the removed exporter's series went stale, with exit status 0; and the
//! exporters must be gone once the demo has exited, after a verdict or a SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const HARNESS: &str = env!("CARGO_BIN_EXE_promsdk-harness");

/// The exporter binary beside the harness's, built first when missing (`cargo test
/// -p promsdk-harness` alone does not build it).
fn exporter() -> PathBuf {
    let beside = Path::new(HARNESS).with_file_name(format!(
        "pipeline-step-exporter{}",
        std::env::consts::EXE_SUFFIX
    ));
    if !beside.is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "pipeline-step-exporter"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p pipeline-step-exporter failed"
        );
    }
    assert!(beside.is_file(), "{} missing", beside.display());
    beside
}

/// Waits for `child` at most `limit`, killing it past that.
fn wait(mut child: Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the demo") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the demo ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_closed(addrs: &[SocketAddr]) {
    // The exit status comes when the harness exits; its children were killed and
    // waited for before that, so their ports are closed now.
    for addr in addrs {
        assert!(
            TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_err(),
            "exporter at {addr} still listening after the demo exited"
        );
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn the_demo_passes_and_reports_every_vanished_step() {
    let mut child = Command::new(HARNESS)
        .args(["demo", "--json", "-", "--exporter"])
        .arg(exporter())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let status = wait(child, Duration::from_secs(120));
    let (json, timeline) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(
        status.code(),
        Some(0),
        "timeline:\n{timeline}\njson:\n{json}"
    );
    let report: Value = serde_json::from_str(&json).expect("JSON on stdout");
    assert_eq!(report["passed"], true);
    assert!(
        f(&report["duration_seconds"]) < 60.0,
        "{}",
        report["duration_seconds"]
    );

    let settings = &report["settings"];
    let (interval, ttl, tolerance) = (
        f(&settings["scrape_interval_seconds"]),
        f(&settings["ttl_seconds"]),
        f(&settings["tolerance_seconds"]),
    );
    assert_eq!((interval, ttl, tolerance), (1.0, 3.0, 0.5));
    assert_eq!(f(&settings["discovery_update_interval_seconds"]), 1.0);

    let exporters = report["exporters"].as_array().unwrap();
    let strategies: Vec<&str> = exporters
        .iter()
        .map(|e| e["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(strategies, ["collector", "delete", "ttl", "naive"]);
    let addrs: Vec<SocketAddr> = exporters
        .iter()
        .map(|e| e["address"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    assert_closed(&addrs);

    let verdicts = report["verdicts"].as_array().unwrap();
    let rows: Vec<&str> = verdicts
        .iter()
        .map(|v| v["row"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "collector",
            "delete",
            "ttl",
            "naive",
            "removed target (naive)"
        ]
    );
    for v in verdicts {
        assert_eq!(v["passed"], true, "{v}");
    }
    for (row, bound) in [
        ("collector", interval + tolerance),
        ("delete", interval + tolerance),
        ("ttl", interval + ttl + tolerance),
    ] {
        let v = verdicts.iter().find(|v| v["row"] == row).unwrap();
        assert_eq!(f(&v["limit_seconds"]), bound, "{v}");
        let steps = v["steps"].as_array().unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["unit-test", "checkout", "integration-test"],
            "{row}"
        );
        for s in steps {
            let gone = f(&s["gone_after_seconds"]);
            assert!(gone > 0.0 && gone <= bound, "{row}: {s}");
        }
    }
    let naive = &verdicts[3];
    assert_eq!(naive["steps"].as_array().unwrap().len(), 3);
    for s in naive["steps"].as_array().unwrap() {
        assert!(
            s["gone_after_seconds"].is_null(),
            "naive dropped a step: {s}"
        );
        assert!(
            f(&s["seen_for_seconds"]) >= f(&naive["limit_seconds"]),
            "{s}"
        );
    }
    assert_eq!(report["removed"], "naive");

    let timeline_events = report["timeline"].as_array().unwrap();
    let count = |kind: &str| timeline_events.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(count("run"), 4, "one line per step set");
    assert_eq!(
        count("gone"),
        9,
        "three vanished steps for each of three strategies"
    );
    assert_eq!(count("unexpected"), 0);
    assert_eq!(count("target_removed"), 1);
    assert_eq!(count("target_gone"), 1);
    let appeared: usize = timeline_events
        .iter()
        .filter(|e| e["kind"] == "appeared")
        .map(|e| e["steps"].as_array().unwrap().len())
        .sum();
    assert_eq!(appeared, 4 * 5, "five steps appeared for each strategy");
    for line in [
        "PASS    collector",
        "PASS    naive",
        "PASS    removed target (naive)",
        "web page: http://127.0.0.1:",
    ] {
        assert!(
            timeline.contains(line),
            "{line:?} missing from:\n{timeline}"
        );
    }
}

#[test]
fn sigterm_stops_the_demo_and_its_exporters() {
    let mut child = Command::new(HARNESS)
        .args(["demo", "--exporter"])
        .arg(exporter())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // "  collector  http://127.0.0.1:PORT/metrics"
        if line.contains("/metrics") {
            let addr = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next());
            addrs.push(addr.unwrap().parse().unwrap());
        }
        if line.contains("timeline") {
            break;
        }
    }
    assert_eq!(addrs.len(), 4, "the four exporters' addresses are printed");
    for addr in &addrs {
        assert!(
            TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_ok(),
            "{addr} is up while the demo runs"
        );
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::spawn(move || lines.for_each(drop));
    let status = wait(child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    assert_closed(&addrs);
}

#[test]
fn a_missing_exporter_or_a_public_listen_address_is_refused() {
    for (args, message) in [
        (
            &["--exporter", "/nonexistent/pipeline-step-exporter"][..],
            "pipeline-step-exporter not found at /nonexistent/pipeline-step-exporter",
        ),
        (
            &["--listen", "0.0.0.0:0"][..],
            "0.0.0.0:0 is not a loopback address",
        ),
        (&["--ttl", "1s"][..], "invalid option --ttl"),
    ] {
        let out = Command::new(HARNESS)
            .arg("demo")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
