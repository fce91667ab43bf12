//! Target relabeling against a real Prometheus 2.42 (Debian's package, installed by
//! `scripts/install-deps.sh`): one prometheus.yml with static targets and
//! `relabel_configs` using most actions, `params`, default ports, IPv6 and characters
//! that need escaping is loaded by Prometheus and by the harness's config; every
//! active target's labels, `scrapeUrl`, interval and timeout in Prometheus's
//! `/api/v1/targets` must equal what `populate_labels` built, and the dropped targets'
//! discovered labels must be Prometheus's `droppedTargets`.
//!
//! The `discoveredLabels` of active targets are compared for the job without
//! relabeling only: Prometheus 2.42's `relabel.Process` builds each rule's result in
//! the array of its input ("May return the input labelSet modified"), so once a rule
//! changes a target's labels, the `discoveredLabels` it shows are partly overwritten
//! by the relabeled ones (2.43 keeps them intact). The harness shows the labels as
//! they were before relabeling.
//!
//! A second test scrapes one promsdk exporter with the harness binary and with
//! Prometheus under the same `metric_relabel_configs`: both must store the same series
//! and report the same sample counts.
//!
//! Fails (never skips) when `prometheus` is missing.

#[path = "../../tests/common/http_client.rs"]
mod client;
#[path = "../../tests/common/prometheus.rs"]
mod prometheus;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prometheus::{free_port, start_prometheus_config, Running};
use promsdk::http::{serve, ServeOpts};
use promsdk::labels::{LabelPair, LabelSet};
use promsdk::{Gauge, GaugeVec, Opts, Registry};
use promsdk_harness::config::{parse_duration, Config};
use promsdk_harness::scrape::{populate_labels, Populated};
use serde_json::Value;

const CONFIG: &str = r#"
global:
  scrape_interval: 1m
  scrape_timeout: 10s
scrape_configs:
  - job_name: rewrite
    scrape_interval: 30s
    params:
      module: [http_2xx, tcp]
      'a b': ['x&y=z/é+1']
    relabel_configs:
      - {source_labels: [__address__], regex: 'drop.*', action: drop}
      - {source_labels: [__address__], target_label: __tmp_hash, modulus: 7, action: hashmod}
      - {source_labels: [__tmp_hash], target_label: shard}
      - {source_labels: [__address__], regex: '(.*):(\d+)', target_label: port, replacement: 'p$2'}
      - {source_labels: [__address__], regex: '(.*):(\d+)', target_label: nothing, replacement: '$2x'}
      - {source_labels: [env], target_label: ENV, action: uppercase}
      - {source_labels: [__meta_team], target_label: team_lc, action: lowercase}
      - {regex: '__meta_(.+)', action: labelmap}
      - {source_labels: [__address__], target_label: __param_target}
      - {target_label: __scrape_timeout__, replacement: 5s}
      - {source_labels: [env, __address__], separator: '@', target_label: joined}
      - {source_labels: [__address__], regex: '\[.*', target_label: __address__, replacement: '127.0.10.9:9100'}
      - {regex: env, action: labeldrop}
    static_configs:
      - targets: ['127.0.10.1', '127.0.10.2:9100', 'drop-me:1', '[::1]']
        labels: {env: prod, __meta_team: Core}
  - job_name: https-path
    scheme: https
    metrics_path: '/x y?z'
    static_configs:
      - targets: ['127.0.10.3']
        labels: {__param_q: 'a b', __scrape_interval__: 20s}
  - job_name: equal
    relabel_configs:
      - {source_labels: [want], target_label: have, action: keepequal}
      - {source_labels: [want], target_label: other, action: dropequal}
      - {regex: '(want|have|other)', action: labeldrop}
    static_configs:
      - targets: ['127.0.10.4:1']
        labels: {want: a, have: a, other: b}
      - targets: ['127.0.10.5:1']
        labels: {want: a, have: b}
      - targets: ['127.0.10.6:1']
        labels: {want: a, have: a, other: a}
"#;

type Labels = BTreeMap<String, String>;

fn of_json(v: &Value) -> Labels {
    v.as_object()
        .expect("label object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
        .collect()
}

fn of_set(set: &LabelSet) -> Labels {
    set.iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// One target as both sides describe it.
#[derive(Debug, PartialEq)]
struct Described {
    pool: String,
    labels: Labels,
    url: String,
    /// `None` for the jobs with relabeling (see the module doc).
    discovered: Option<Labels>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
}

fn start(dir: &std::path::Path, port: u16, config: &str) -> Running {
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    start_prometheus_config(dir, port, &dir.join("prometheus.yml"))
}

/// Prometheus's `/api/v1/targets?state=any` once it lists `active` active targets.
async fn targets(port: u16, active: usize) -> Value {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let reply = client::request(addr, "GET", "/api/v1/targets?state=any", &[]).await;
            if reply.status == 200 {
                let json: Value = serde_json::from_slice(&reply.body).expect("JSON answer");
                let listed = json["data"]["activeTargets"].as_array().map_or(0, Vec::len);
                if listed == active {
                    return json["data"].clone();
                }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Prometheus did not list {active} active targets within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_labels_and_urls_match_prometheus() {
    let jobs = Config::parse(CONFIG)
        .expect("the harness loads the config")
        .jobs();
    let mut ours: Vec<Described> = jobs
        .iter()
        .flat_map(|(cfg, targets)| {
            targets.iter().map(|t| Described {
                pool: cfg.job_name.clone(),
                labels: of_set(t.labels()),
                url: t.url().to_owned(),
                discovered: cfg
                    .relabel_configs
                    .is_empty()
                    .then(|| of_set(&t.discovered_labels())),
                interval: t.interval(),
                timeout: t.timeout(),
            })
        })
        .collect();
    ours.sort_by(|a, b| a.url.cmp(&b.url));
    assert_eq!(ours.len(), 5, "{ours:#?}");
    for part in [
        "a+b=x%26y%3Dz%2F%C3%A9%2B1",
        "target=%5B%3A%3A1%5D",
        "127.0.10.1:80/",
        "/x%20y%3Fz?q=a+b",
    ] {
        assert!(
            ours.iter().any(|d| d.url.contains(part)),
            "no URL has {part}: {ours:#?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _prometheus = start(dir.path(), port, CONFIG);
    let data = targets(port, ours.len()).await;
    let mut theirs: Vec<Described> = data["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Described {
            pool: t["scrapePool"].as_str().unwrap().to_owned(),
            labels: of_json(&t["labels"]),
            url: t["scrapeUrl"].as_str().unwrap().to_owned(),
            discovered: (t["scrapePool"] == "https-path").then(|| of_json(&t["discoveredLabels"])),
            interval: t["scrapeInterval"].as_str().and_then(parse_duration),
            timeout: t["scrapeTimeout"].as_str().and_then(parse_duration),
        })
        .collect();
    theirs.sort_by(|a, b| a.url.cmp(&b.url));
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(o, t, "harness (left) and Prometheus (right) differ");
    }

    let dropped: Vec<Labels> = data["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| of_json(&t["discoveredLabels"]))
        .collect();
    let (rewrite, _) = &jobs[0];
    let drop_me = LabelSet::from_vec(
        "",
        vec![
            LabelPair::new("__address__", "drop-me:1"),
            LabelPair::new("__meta_team", "Core"),
            LabelPair::new("env", "prod"),
        ],
    )
    .unwrap();
    let Ok(Populated::Dropped(ours_dropped)) = populate_labels(&drop_me, rewrite) else {
        panic!("drop-me:1 is not dropped by the harness");
    };
    let equal = &jobs[2].0;
    let mut ours_dropped = vec![of_set(&ours_dropped)];
    for (have, other) in [("b", ""), ("a", "a")] {
        let mut pairs = vec![
            LabelPair::new(
                "__address__",
                if have == "b" {
                    "127.0.10.5:1"
                } else {
                    "127.0.10.6:1"
                },
            ),
            LabelPair::new("want", "a"),
            LabelPair::new("have", have),
        ];
        if !other.is_empty() {
            pairs.push(LabelPair::new("other", other));
        }
        let found = LabelSet::from_vec("", pairs).unwrap();
        let Ok(populated @ Populated::Dropped(_)) = populate_labels(&found, equal) else {
            panic!("have={have} other={other} is not dropped by the harness");
        };
        ours_dropped.push(of_set(&populated.discovered_labels()));
    }
    let mut dropped = dropped;
    dropped.sort();
    ours_dropped.sort();
    assert_eq!(
        ours_dropped, dropped,
        "dropped targets: harness (left), Prometheus (right)"
    );
}

fn metric_config(exporter: SocketAddr) -> String {
    format!(
        r#"
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: 'demo_drop_.*', action: drop}}
      - {{regex: tmp_id, action: labeldrop}}
      - {{source_labels: [room], target_label: room, action: lowercase}}
      - {{source_labels: [__name__], regex: 'demo_(temp)erature_celsius', target_label: __name__, replacement: 'demo_$1'}}
      - {{source_labels: [path], target_label: shard, modulus: 4, action: hashmod}}
      - {{source_labels: [exported_instance], target_label: origin}}
      - {{regex: exported_instance, action: labeldrop}}
    static_configs:
      - targets: ['{exporter}']
"#
    )
}

/// The series of job `app` as `/api/v1/series` lists them; empty while the server is
/// not answering.
async fn series(port: u16) -> BTreeSet<Labels> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        return BTreeSet::new();
    }
    let target = "/api/v1/series?match%5B%5D=%7Bjob%3D%22app%22%7D";
    let reply = client::request(addr, "GET", target, &[]).await;
    if reply.status != 200 {
        return BTreeSet::new();
    }
    let json: Value = serde_json::from_slice(&reply.body).expect("JSON answer");
    json["data"]
        .as_array()
        .map_or_else(BTreeSet::new, |s| s.iter().map(of_json).collect())
}

/// The latest value of `name` for job `app`.
async fn value(port: u16, name: &str) -> Option<String> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let target = format!("/api/v1/query?query={name}%7Bjob%3D%22app%22%7D");
    let reply = client::request(addr, "GET", &target, &[]).await;
    let json: Value = serde_json::from_slice(&reply.body).ok()?;
    json["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_relabeling_matches_prometheus() {
    let registry = Registry::new();
    let requests = GaugeVec::new(
        Opts::new("demo_requests", "Requests."),
        &["path", "tmp_id", "instance"],
    )
    .unwrap();
    let temperature = GaugeVec::new(
        Opts::new("demo_temperature_celsius", "Temperature."),
        &["room"],
    )
    .unwrap();
    let dropped = Gauge::default();
    registry.register(requests.clone()).unwrap();
    registry.register(temperature.clone()).unwrap();
    dropped.set(3.0);
    registry
        .register_metric(Opts::new("demo_drop_me", "Dropped."), dropped)
        .unwrap();
    requests
        .with_label_values(&["/a", "1", "upstream"])
        .set(1.0);
    requests
        .with_label_values(&["/b", "2", "upstream"])
        .set(2.0);
    temperature.with_label_values(&["Kitchen"]).set(21.0);
    let exporter = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = metric_config(exporter.local_addr());
    let (harness_port, prometheus_port) = (free_port(), free_port());
    let _prometheus = start(dir.path(), prometheus_port, &config);
    let _harness = Running(
        Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
            .args(["run", "--config"])
            .arg(dir.path().join("prometheus.yml"))
            .arg(format!("--listen=127.0.0.1:{harness_port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start promsdk-harness"),
    );

    let start = Instant::now();
    let has_temp = |s: &BTreeSet<Labels>| s.iter().any(|l| l["__name__"] == "demo_temp");
    let (ours, theirs) = loop {
        let (ours, theirs) = (series(harness_port).await, series(prometheus_port).await);
        if has_temp(&ours) && has_temp(&theirs) {
            break (ours, theirs);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no relabeled series on both within 60 s: harness {ours:#?}, Prometheus {theirs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ours, theirs, "series: harness (left), Prometheus (right)");
    assert!(
        ours.iter().all(|l| !l["__name__"].starts_with("demo_drop")),
        "{ours:#?}"
    );
    let requests: Vec<&Labels> = ours
        .iter()
        .filter(|l| l["__name__"] == "demo_requests")
        .collect();
    assert_eq!(requests.len(), 2, "{ours:#?}");
    for l in requests {
        let kept = ["__name__", "instance", "job", "origin", "path", "shard"];
        assert_eq!(
            l.keys().map(String::as_str).collect::<Vec<_>>(),
            kept,
            "{l:?}"
        );
        assert_eq!(l["origin"], "upstream");
    }
    for name in [
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
    ] {
        let (h, p) = (
            value(harness_port, name).await,
            value(prometheus_port, name).await,
        );
        assert!(h.is_some(), "{name}: harness has no value");
        assert_eq!(h, p, "{name}: harness (left), Prometheus (right)");
    }
    exporter.shutdown().await;
}
