//! Proof with real software: four exporters, one per `--strategy`, pass
//! `promtool check metrics`, and a real Prometheus (Debian's package, installed by
//! `scripts/install-deps.sh`) scraping them every second ingests every series they
//! expose. When a new run drops a step, Prometheus's instant query stops returning it
//! within two scrape intervals for `collector` and `delete`, within two intervals after
//! the TTL for `ttl`, and keeps returning it for `naive`.
//!
//! Fails (never skips) when `prometheus` or `promtool` is missing.

mod common;
#[path = "../../../tests/common/prometheus.rs"]
mod prometheus;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{eventually, request, run_json, Exporter};
use prometheus::{free_port, promtool_check_metrics, require, start_prometheus};

const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);
const TTL: Duration = Duration::from_secs(4);
const STRATEGIES: [&str; 4] = ["collector", "delete", "ttl", "naive"];

/// `promtool check metrics` has nothing to say about `body`.
fn promtool_accepts(strategy: &str, body: &str) {
    let report = promtool_check_metrics(body.as_bytes());
    assert!(
        report.as_ref().is_ok_and(|r| r.trim().is_empty()),
        "{strategy}: promtool check metrics: {report:?}"
    );
}

/// A series as Prometheus returns it, without `job` and `instance`, and its value.
type Series = (BTreeMap<String, String>, f64);

/// The results of an instant query, per job: each series' labels (less `job` and
/// `instance`) and value. `Err` while Prometheus is not answering yet.
fn query(port: u16, promql: &str) -> Result<BTreeMap<String, Vec<Series>>, String> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    if std::net::TcpStream::connect(addr).is_err() {
        return Err("Prometheus not listening yet".into());
    }
    let mut encoded = String::new();
    for b in promql.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => encoded.push(b as char),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    let reply = request(
        addr,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        &[],
        b"",
    );
    if reply.status != 200 {
        return Err(format!("{}: {}", reply.status, reply.text()));
    }
    let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON answer");
    let mut by_job: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for r in json["data"]["result"].as_array().expect("vector result") {
        let labels = r["metric"].as_object().unwrap();
        let job = labels["job"].as_str().unwrap().to_owned();
        let series = labels
            .iter()
            .filter(|(k, _)| *k != "job" && *k != "instance")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let value = r["value"][1].as_str().unwrap().parse().unwrap();
        by_job.entry(job).or_default().push((series, value));
    }
    Ok(by_job)
}

/// The steps of pipeline `deploy` Prometheus returns for `job` now.
fn steps(port: u16, job: &str) -> Result<BTreeSet<String>, String> {
    let results = query(port, "pipeline_step_duration_seconds{pipeline=\"deploy\"}")?;
    Ok(results
        .get(job)
        .into_iter()
        .flatten()
        .map(|(labels, _)| labels["step"].clone())
        .collect())
}

fn set(steps: &[&str]) -> BTreeSet<String> {
    steps.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn prometheus_sees_vanished_steps_go_stale_except_with_naive() {
    require("promtool");
    let ttl = format!("{}s", TTL.as_secs());
    let exporters: Vec<(&str, Exporter)> = STRATEGIES
        .iter()
        .map(|&strategy| {
            let mut args = vec!["--no-simulate", "--strategy", strategy];
            if strategy == "ttl" {
                args.extend(["--ttl", &ttl]);
            }
            (strategy, Exporter::start(&args))
        })
        .collect();
    let first = run_json(
        "deploy",
        &[
            ("clone", 1.5, "success"),
            ("build", 40.0, "success"),
            ("push", 2.0, "success"),
        ],
        100.0,
    );
    let second = run_json(
        "deploy",
        &[
            ("build", 38.0, "success"),
            ("test", 9.5, "failed"),
            ("push", 2.5, "skipped"),
        ],
        200.0,
    );
    let post_all = |run: &str| {
        for (_, exporter) in &exporters {
            exporter.post_run(run);
        }
    };
    post_all(&first);
    for (strategy, exporter) in &exporters {
        promtool_accepts(strategy, &exporter.metrics());
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let targets: Vec<(&str, SocketAddr)> = exporters.iter().map(|(s, e)| (*s, e.addr)).collect();
    let _prometheus = start_prometheus(dir.path(), port, SCRAPE_INTERVAL, &targets);

    // Every series each exporter exposes is ingested. The pipeline keeps running its
    // first step set meanwhile, so nothing expires under `ttl` before the change.
    let selector = "{__name__=~\"pipeline_.+\"}";
    let mut last_first = Instant::now();
    eventually(
        "every exposed series ingested",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            last_first = Instant::now();
            post_all(&first);
            let results = query(port, selector)?;
            for (strategy, exporter) in &exporters {
                let exposed = exporter
                    .pipeline_metrics()
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .count();
                let ingested = results.get(*strategy).map_or(0, Vec::len);
                if ingested != exposed {
                    return Err(format!(
                        "{strategy}: {ingested} series ingested, {exposed} exposed"
                    ));
                }
            }
            Ok(())
        },
    );
    for strategy in STRATEGIES {
        assert_eq!(
            steps(port, strategy),
            Ok(set(&["clone", "build", "push"])),
            "{strategy}"
        );
    }

    // The step set changes: `clone` is gone.
    post_all(&second);
    let changed = Instant::now();
    let two_scrapes = 2 * SCRAPE_INTERVAL;
    for job in ["collector", "delete"] {
        eventually(
            &format!("{job}: clone stale"),
            two_scrapes,
            Duration::from_millis(50),
            || match steps(port, job)? {
                s if s == set(&["build", "test", "push"]) => Ok(()),
                s => Err(format!("{job} returns {s:?}")),
            },
        );
    }
    let fresh = changed.elapsed();
    assert!(fresh <= two_scrapes, "collector and delete took {fresh:?}");
    // By now Prometheus has scraped the new run from every exporter at least once;
    // `ttl` still exposes `clone` (updated less than the TTL ago), `naive` too.
    eventually(
        "ttl and naive scraped the new run",
        two_scrapes,
        Duration::from_millis(50),
        || {
            for job in ["ttl", "naive"] {
                let s = steps(port, job)?;
                if s != set(&["clone", "build", "test", "push"]) {
                    return Err(format!("{job} returns {s:?}"));
                }
            }
            Ok(())
        },
    );

    // `clone` was last updated between `last_first` and `changed`: under `ttl` it goes
    // stale within two scrapes after the TTL, never before the TTL. The pipeline keeps
    // running its new step set.
    let limit = TTL + two_scrapes - changed.elapsed();
    eventually(
        "ttl: clone stale after the TTL",
        limit,
        Duration::from_millis(100),
        || {
            post_all(&second);
            match steps(port, "ttl")? {
                s if s == set(&["build", "test", "push"]) => Ok(()),
                s => Err(format!("ttl returns {s:?}")),
            }
        },
    );
    let expired = last_first.elapsed();
    assert!(
        expired >= TTL,
        "ttl dropped clone after {expired:?}, before the TTL"
    );

    // `naive` still returns `clone`, with its last value, while the others agree.
    let durations = query(
        port,
        "pipeline_step_duration_seconds{pipeline=\"deploy\",step=\"clone\"}",
    )
    .unwrap();
    let naive: Vec<f64> = durations
        .get("naive")
        .into_iter()
        .flatten()
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(naive, [1.5], "naive: {durations:?}");
    for job in ["collector", "delete", "ttl"] {
        assert!(!durations.contains_key(job), "{job}: {durations:?}");
        assert_eq!(
            steps(port, job),
            Ok(set(&["build", "test", "push"])),
            "{job}"
        );
    }
    assert_eq!(
        steps(port, "naive"),
        Ok(set(&["clone", "build", "test", "push"]))
    );
}
