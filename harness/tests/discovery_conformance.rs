//! The harness and a real Prometheus 2.42 (Debian's package) run the same
//! `prometheus.yml`, with static, file_sd and http_sd targets and relabeling (drop,
//! replace, labelmap, hashmod, `params`, a relabeled `__metrics_path__`): their
//! `/api/v1/targets` must list the same active targets (labels, scrape URL, pool) and
//! the same dropped ones, and a target removed from a file_sd file must leave the
//! target list, and its `up` series go stale, no later in the harness than in
//! Prometheus (one scrape interval of slack for the two processes' clocks and polling).
//!
//! The targets are loopback addresses where nothing listens: both scrape them and
//! record `up` 0, which is all this test needs.

#[path = "../../tests/common/http_client.rs"]
mod client;
#[path = "common/http_sd.rs"]
mod http_sd;
#[path = "../../tests/common/prometheus.rs"]
mod prometheus;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::{free_port, start_prometheus_config, Running};
use serde_json::Value;

const INTERVAL: Duration = Duration::from_secs(1);

fn config(files: &Path, http_sd: SocketAddr) -> String {
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: static
    static_configs:
      - targets: ['127.0.10.1:9100', '127.0.10.2:9100']
        labels: {{env: prod, __metrics_path__: /probe}}
      - targets: ['127.0.10.3:9100']
  - job_name: files
    metrics_path: /m
    file_sd_configs:
      - files: ['{files}/*.json', '{files}/*.yml']
    relabel_configs:
      - source_labels: [team]
        regex: c
        action: drop
      - source_labels: [__address__]
        regex: '127[.]0[.]10[.]([0-9]+):.*'
        target_label: host_id
        replacement: 'host-$1'
  - job_name: http
    params:
      module: [http_2xx]
    http_sd_configs:
      - url: http://{http_sd}/sd
        refresh_interval: 1s
    relabel_configs:
      - regex: __meta_(url)
        action: labelmap
      - source_labels: [svc]
        regex: api
        target_label: __metrics_path__
        replacement: /api/metrics
      - source_labels: [__address__]
        modulus: 3
        target_label: shard
        action: hashmod
      - source_labels: [shard]
        regex: '2'
        action: drop
  - job_name: empty
    static_configs:
      - targets: []
",
        files = files.display()
    )
}

const FILE_A: &str = r#"[{"targets": ["127.0.10.11:9100", "127.0.10.12:9100"], "labels": {"team": "a", "__meta_extra": "x"}}]"#;
const FILE_A_SHRUNK: &str =
    r#"[{"targets": ["127.0.10.11:9100"], "labels": {"team": "a", "__meta_extra": "x"}}]"#;
const FILE_B: &str =
    "- targets: ['127.0.10.13:9100']\n  labels:\n    team: b\n    instance: named\n- targets: ['127.0.10.14:9100']\n  labels:\n    team: c\n";
const HTTP_SD: &str = r#"[{"targets": ["127.0.10.21:9100"], "labels": {"svc": "api"}}, {"targets": ["127.0.10.22:9100", "127.0.10.23:9100"]}]"#;

/// A server's targets, normalised for comparison: active `(pool, url, labels)` and
/// dropped discovered label sets, sorted.
#[derive(Debug, PartialEq, Default)]
struct Targets {
    active: Vec<(String, String, BTreeMap<String, String>)>,
    dropped: Vec<BTreeMap<String, String>>,
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

async fn targets(port: u16) -> Option<Targets> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    tokio::net::TcpStream::connect(addr).await.ok()?;
    let reply = client::request(addr, "GET", "/api/v1/targets", &[]).await;
    let json: Value = serde_json::from_slice(&reply.body).ok()?;
    let data = &json["data"];
    let mut t = Targets::default();
    for a in data["activeTargets"].as_array()? {
        t.active.push((
            a["scrapePool"].as_str()?.to_owned(),
            a["scrapeUrl"].as_str()?.to_owned(),
            labels(&a["labels"]),
        ));
    }
    for d in data["droppedTargets"].as_array()? {
        t.dropped.push(labels(&d["discoveredLabels"]));
    }
    t.active.sort();
    t.dropped.sort();
    Some(t)
}

/// Whether `up{instance=…}` has a current value (not stale) on the server.
async fn up_present(port: u16, instance: &str) -> bool {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = format!("/api/v1/query?query=up%7Binstance%3D%22{instance}%22%7D");
    let reply = client::request(addr, "GET", &query, &[]).await;
    let json: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    json["data"]["result"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
}

fn start(dir: &Path, harness_port: u16, prometheus_port: u16) -> (Running, Running) {
    let config = dir.join("prometheus.yml");
    let harness = Running(
        Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
            .args(["run", "--config"])
            .arg(&config)
            .arg(format!("--listen=127.0.0.1:{harness_port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start promsdk-harness"),
    );
    let prometheus = start_prometheus_config(dir, prometheus_port, &config);
    (harness, prometheus)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_and_removal_staleness_match_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("sd");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("a.json"), FILE_A).unwrap();
    std::fs::write(files.join("b.yml"), FILE_B).unwrap();
    let answer = (200, "application/json", HTTP_SD.to_owned());
    let http_sd = http_sd::serve(Arc::new(Mutex::new(answer))).await;
    std::fs::write(dir.path().join("prometheus.yml"), config(&files, http_sd)).unwrap();
    let (harness_port, prometheus_port) = (free_port(), free_port());
    let _running = start(dir.path(), harness_port, prometheus_port);

    // Both settle on the same targets (Prometheus takes up to two 5 s ticks).
    let deadline = Instant::now() + Duration::from_secs(40);
    let (ours, theirs) = loop {
        let (ours, theirs) = (targets(harness_port).await, targets(prometheus_port).await);
        if let (Some(o), Some(t)) = (&ours, &theirs) {
            // Every source read: file b's dropped team c, and both file targets.
            let settled = o
                .dropped
                .iter()
                .any(|d| d.get("team").map(String::as_str) == Some("c"))
                && o.active.iter().any(|(_, u, _)| u.contains("127.0.10.13"))
                && o.active.iter().any(|(_, u, _)| u.contains("127.0.10.12"));
            if o == t && settled {
                break (ours.unwrap(), theirs.unwrap());
            }
        }
        assert!(
            Instant::now() < deadline,
            "targets differ after 40 s:\nharness:    {ours:#?}\nprometheus: {theirs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ours, theirs);
    let urls: Vec<&str> = ours.active.iter().map(|(_, u, _)| u.as_str()).collect();
    assert!(urls.contains(&"http://127.0.10.1:9100/probe"), "{urls:?}");
    assert!(urls.contains(&"http://127.0.10.13:9100/m"), "{urls:?}");
    assert!(
        urls.iter()
            .any(|u| u.starts_with("http://127.0.10.21:9100/api/metrics?module=http_2xx")),
        "{urls:?}"
    );
    println!(
        "discovery conformance: {} active targets, {} dropped, equal to Prometheus 2.42",
        ours.active.len(),
        ours.dropped.len()
    );

    // Both have scraped the target about to go.
    let gone = "127.0.10.12:9100";
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(up_present(harness_port, gone).await && up_present(prometheus_port, gone).await) {
        assert!(
            Instant::now() < deadline,
            "up{{instance={gone:?}}} never seen on both"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    std::fs::write(files.join("a.json"), FILE_A_SHRUNK).unwrap();
    let removed = Instant::now();
    let (mut target_gone, mut up_gone): ([Option<Duration>; 2], [Option<Duration>; 2]) =
        ([None; 2], [None; 2]);
    let ports = [harness_port, prometheus_port];
    while up_gone.iter().any(Option::is_none) || target_gone.iter().any(Option::is_none) {
        assert!(
            removed.elapsed() < Duration::from_secs(40),
            "after 40 s: target gone {target_gone:?}, up stale {up_gone:?} (harness, prometheus)"
        );
        for (i, &port) in ports.iter().enumerate() {
            if target_gone[i].is_none() {
                let listed = targets(port).await.is_some_and(|t| {
                    t.active
                        .iter()
                        .any(|(_, _, l)| l.get("instance").map(String::as_str) == Some(gone))
                });
                if !listed {
                    target_gone[i] = Some(removed.elapsed());
                }
            }
            if up_gone[i].is_none() && !up_present(port, gone).await {
                up_gone[i] = Some(removed.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let [Some(ours_t), Some(theirs_t)] = target_gone else {
        unreachable!()
    };
    let [Some(ours_up), Some(theirs_up)] = up_gone else {
        unreachable!()
    };
    println!(
        "removed target: left the target list after {ours_t:?} (Prometheus {theirs_t:?}); up stale after {ours_up:?} (Prometheus {theirs_up:?})"
    );
    assert!(
        ours_t <= theirs_t + INTERVAL,
        "harness dropped the target later: {ours_t:?} vs {theirs_t:?}"
    );
    assert!(
        ours_up <= theirs_up + INTERVAL,
        "harness's up went stale later: {ours_up:?} vs {theirs_up:?}"
    );
    // And the rest still agrees.
    assert_eq!(targets(harness_port).await, targets(prometheus_port).await);
}
