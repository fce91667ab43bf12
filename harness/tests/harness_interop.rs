//! `promsdk-harness run` against real software: a promsdk exporter is scraped every
//! second by the harness binary and by a real Prometheus (Debian's package, installed
//! by `scripts/install-deps.sh`). `promtool query instant` reads the harness API; when
//! a vec child is removed, both the harness and Prometheus stop returning it, within
//! one scrape interval of each other; SIGTERM stops the harness cleanly.
//!
//! Fails (never skips) when `prometheus` or `promtool` is missing.

#[path = "../../tests/common/http_client.rs"]
mod client;
#[path = "../../tests/common/prometheus.rs"]
mod prometheus;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prometheus::{free_port, require, start_prometheus_config, Running};
use promsdk::http::{serve, ServeOpts};
use promsdk::{GaugeVec, Opts, Registry};

const INTERVAL: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(50);
const QUERY: &str = "pipeline_step_duration_seconds{step=\"clone\"}";

fn config(exporter: SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         - job_name: exporter\n  static_configs:\n  - targets: ['{exporter}']\n"
    )
}

/// How many series an instant query for `QUERY` returns; `None` while the server is
/// not answering.
async fn count(port: u16) -> Option<usize> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    tokio::net::TcpStream::connect(addr).await.ok()?;
    let target = "/api/v1/query?query=pipeline_step_duration_seconds%7Bstep%3D%22clone%22%7D";
    let reply = client::request(addr, "GET", target, &[]).await;
    if reply.status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON answer");
    Some(json["data"]["result"].as_array().expect("vector").len())
}

/// Polls until both servers return the series, within `limit`.
async fn wait_visible(ports: [u16; 2], limit: Duration) {
    let start = Instant::now();
    loop {
        let mut seen = 0;
        for port in ports {
            if count(port).await == Some(1) {
                seen += 1;
            }
        }
        if seen == 2 {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "series not visible on both after {limit:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_and_prometheus_agree_on_staleness() {
    let promtool = require("promtool");
    let registry = Registry::new();
    let steps = GaugeVec::new(
        Opts::new("pipeline_step_duration_seconds", "Step time."),
        &["step"],
    )
    .unwrap();
    registry.register(steps.clone()).unwrap();
    steps.with_label_values(&["clone"]).set(1.5);
    steps.with_label_values(&["build"]).set(2.0);
    let exporter = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        config(exporter.local_addr()),
    )
    .unwrap();
    let (harness_port, prometheus_port) = (free_port(), free_port());
    let harness = Running(
        Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
            .args(["run", "--config"])
            .arg(dir.path().join("prometheus.yml"))
            .arg(format!("--listen=127.0.0.1:{harness_port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start promsdk-harness"),
    );
    let _prometheus = start_prometheus_config(
        dir.path(),
        prometheus_port,
        &dir.path().join("prometheus.yml"),
    );
    wait_visible([harness_port, prometheus_port], Duration::from_secs(30)).await;

    let out = Command::new(&promtool)
        .args(["query", "instant"])
        .arg(format!("http://127.0.0.1:{harness_port}"))
        .arg(QUERY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("step=\"clone\"") && text.contains("=> 1.5 @["),
        "promtool output: {text}"
    );

    let removed = Instant::now();
    assert!(steps.remove(&["clone"]));
    let mut gone: [Option<Duration>; 2] = [None, None];
    while gone.iter().any(Option::is_none) {
        for (i, port) in [harness_port, prometheus_port].into_iter().enumerate() {
            if gone[i].is_none() && count(port).await == Some(0) {
                gone[i] = Some(removed.elapsed());
            }
        }
        assert!(
            removed.elapsed() < INTERVAL * 10,
            "not gone in time: {gone:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    let (h, p) = (gone[0].unwrap(), gone[1].unwrap());
    // Each stops at its next scrape: within one interval (plus polling) of removal,
    // so within one interval of each other.
    assert!(h <= INTERVAL + POLL * 4, "harness took {h:?}");
    assert!(p <= INTERVAL + POLL * 4, "prometheus took {p:?}");
    assert!(h.abs_diff(p) <= INTERVAL, "harness {h:?}, prometheus {p:?}");

    let mut harness = harness;
    let status = Command::new("kill")
        .args(["-TERM", &harness.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = harness.0.wait().unwrap();
    assert!(exit.success(), "harness exit on SIGTERM: {exit:?}");
    exporter.shutdown().await;
}
