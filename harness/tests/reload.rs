//! Reloading the configuration (`POST /-/reload`): an unchanged job keeps its scrape
//! loop (its series cache survives, so `scrape_series_added` stays 0), a changed job
//! restarts, a removed job's series go stale, and a broken file is refused with an
//! error naming file and line while everything keeps running. Targets are scraped
//! through a fake scraper, so the loopback addresses below get no traffic.

#[path = "../../tests/common/http_client.rs"]
mod client;

use std::sync::Arc;
use std::time::Duration;

use promsdk_harness::config::Config;
use promsdk_harness::discovery::ManagerOpts;
use promsdk_harness::scrape::{is_stale_nan, FakeScraper, MemoryStore, Scraped};
use promsdk_harness::{Harness, HarnessOpts};

fn config(b_interval: &str, with_c: bool) -> String {
    let mut s = format!(
        "scrape_configs:
  - job_name: a
    scrape_interval: 200ms
    static_configs: [{{targets: ['127.0.10.1:9100']}}]
  - job_name: b
    scrape_interval: {b_interval}
    static_configs: [{{targets: ['127.0.10.2:9100']}}]
"
    );
    if with_c {
        s.push_str("  - job_name: c\n    scrape_interval: 200ms\n    static_configs: [{targets: ['127.0.10.3:9100']}]\n");
    }
    s
}

/// The `scrape_series_added` samples of `job`.
fn series_added(store: &MemoryStore, job: &str) -> Vec<f64> {
    store
        .select(
            |l| l.get("__name__") == Some("scrape_series_added") && l.get("job") == Some(job),
            i64::MIN,
            i64::MAX,
        )
        .into_iter()
        .flat_map(|(_, s)| s.into_iter().map(|(_, v)| v))
        .collect()
}

fn up_is_stale(store: &MemoryStore, job: &str) -> bool {
    store
        .select(
            |l| l.get("__name__") == Some("up") && l.get("job") == Some(job),
            i64::MIN,
            i64::MAX,
        )
        .iter()
        .any(|(_, s)| s.last().is_some_and(|&(_, v)| is_stale_nan(v)))
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within 10 s"));
}

#[tokio::test]
async fn reload_keeps_unchanged_loops_restarts_changed_ones_and_refuses_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, config("200ms", true)).unwrap();
    let fake = FakeScraper::default();
    for i in 1..=3 {
        fake.set(
            &format!("http://127.0.10.{i}:9100/metrics"),
            Ok(Scraped::text("m 1\n")),
        );
    }
    let opts = HarnessOpts {
        scraper: Arc::new(fake.clone()),
        config_file: Some(path.clone()),
        discovery: ManagerOpts {
            updates_interval: Duration::from_millis(50),
        },
        ..HarnessOpts::default()
    };
    let harness = Harness::start(
        &Config::load(&path).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        opts,
    )
    .await
    .unwrap();
    let (addr, store) = (harness.local_addr(), harness.store().clone());
    wait_for("three scrapes of a and b", || {
        series_added(&store, "a").len() >= 3 && series_added(&store, "b").len() >= 3
    })
    .await;

    // b's interval changes, c goes.
    std::fs::write(&path, config("300ms", false)).unwrap();
    let reply = client::request(addr, "POST", "/-/reload", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (a_before, b_before) = (
        series_added(&store, "a").len(),
        series_added(&store, "b").len(),
    );
    wait_for("three more scrapes of a and b", || {
        series_added(&store, "a").len() >= a_before + 3
            && series_added(&store, "b").len() >= b_before + 3
    })
    .await;
    let a = series_added(&store, "a");
    assert_eq!(a[0], 1.0, "the first scrape adds the series");
    assert!(
        a[1..].iter().all(|&v| v == 0.0),
        "job a's loop never restarted: {a:?}"
    );
    let b = series_added(&store, "b");
    assert!(
        b[b_before..].contains(&1.0),
        "job b restarted with a new loop and series cache: {b:?}"
    );
    wait_for("job c's series stale", || up_is_stale(&store, "c")).await;

    // A broken file: refused with file and line, the running configuration stays.
    std::fs::write(
        &path,
        config("200ms", false).replace("scrape_interval: 200ms", "scrape_intervall: 1s"),
    )
    .unwrap();
    let reply = client::request(addr, "POST", "/-/reload", &[]).await;
    assert_eq!(reply.status, 500);
    let text = reply.text();
    assert!(
        text.contains("failed to reload config")
            && text.contains(&*path.to_string_lossy())
            && text.contains("line 3")
            && text.contains("scrape_intervall"),
        "{text}"
    );
    let metrics = client::request(addr, "GET", "/metrics", &[]).await.text();
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );
    let a_now = series_added(&store, "a").len();
    wait_for("job a still scraping", || {
        series_added(&store, "a").len() > a_now + 2
    })
    .await;
    assert!(!up_is_stale(&store, "a") && !up_is_stale(&store, "b"));

    // A good file again; GET is not a reload.
    std::fs::write(&path, config("300ms", false)).unwrap();
    assert_eq!(
        client::request(addr, "GET", "/-/reload", &[]).await.status,
        405
    );
    assert_eq!(
        client::request(addr, "PUT", "/-/reload", &[]).await.status,
        200
    );
    let metrics = client::request(addr, "GET", "/metrics", &[]).await.text();
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("prometheus_sd_discovered_targets{config=\"a\",name=\"scrape\"} 1"),
        "{metrics}"
    );
    harness.shutdown().await;
}

#[path = "../../tests/common/prometheus.rs"]
mod prometheus;

/// The binary re-reads its configuration on SIGHUP: a job added to the file appears
/// in `/api/v1/targets`, and `prometheus_config_last_reload_successful` stays 1.
#[tokio::test]
async fn sighup_reloads_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    let job = |name: &str, last: u8| {
        format!(
            "  - job_name: {name}\n    static_configs: [{{targets: ['127.0.10.{last}:9100']}}]\n"
        )
    };
    std::fs::write(&path, format!("scrape_configs:\n{}", job("a", 1))).unwrap();
    let port = prometheus::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
        .args(["run", "--config"])
        .arg(&path)
        .arg(format!("--listen=127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start promsdk-harness");
    let pid = child.id().to_string();
    let _running = prometheus::Running(child);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let pools = || async move {
        let Ok(_) = tokio::net::TcpStream::connect(addr).await else {
            return String::new();
        };
        client::request(addr, "GET", "/api/v1/targets", &[])
            .await
            .text()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !pools().await.contains("\"scrapePool\":\"a\"") {
        assert!(std::time::Instant::now() < deadline, "job a never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(
        &path,
        format!("scrape_configs:\n{}{}", job("a", 1), job("b", 2)),
    )
    .unwrap();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    while !pools().await.contains("\"scrapePool\":\"b\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "job b not listed after SIGHUP: {}",
            pools().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = client::request(addr, "GET", "/metrics", &[]).await.text();
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 1"),
        "{metrics}"
    );
}
