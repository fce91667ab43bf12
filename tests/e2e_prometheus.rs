//! Proof against real software: a real Prometheus (Debian's package, installed by
//! `scripts/install-deps.sh`) scrapes our server every second, once as text 0.0.4 and
//! once as OpenMetrics, and its HTTP API must return every series we exposed with our
//! value; `promtool check metrics` must find nothing to report; a series removed from
//! a vec, and one expired by its TTL, must stop being returned after the next scrape.
//!
//! Fails (never skips) when `prometheus` or `promtool` is missing.

#[path = "common/http_client.rs"]
mod client;
#[path = "common/prometheus.rs"]
mod prometheus;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{free_port, promtool_check_metrics, require, start_prometheus};
use promsdk::http::{MetricsService, ServeOpts, Server};
use promsdk::{
    encode, CounterVec, Format, Gauge, GaugeVec, Histogram, HistogramConfig, InfoVec, ManualClock,
    Opts, Registry, StateSet, StateSetConfig, Summary, SummaryConfig,
};

/// A series as Prometheus stores it: name and labels (without `job` and `instance`).
type Series = BTreeMap<String, String>;

/// The registry scraped: every metric type, a vec to remove from, a vec with a TTL.
struct Fixture {
    registry: Registry,
    jobs: CounterVec,
    steps: GaugeVec,
    clock: Arc<ManualClock>,
}

fn fixture() -> Fixture {
    let registry = Registry::new();
    let jobs = CounterVec::new(Opts::new("e2e_jobs_total", "Jobs done."), &["queue"]).unwrap();
    jobs.with_label_values(&["email"]).inc_by(42);
    jobs.with_label_values(&["billing"]).inc_by(7);
    registry.register(jobs.clone()).unwrap();
    let clock = Arc::new(ManualClock::new());
    let steps = GaugeVec::builder(
        Opts::new("e2e_step_duration_seconds", "Step time."),
        &["step"],
    )
    .ttl(Duration::from_secs(60))
    .clock(clock.clone())
    .build()
    .unwrap();
    steps.with_label_values(&["clone"]).set(1.5);
    steps.with_label_values(&["build"]).set(42.25);
    registry.register(steps.clone()).unwrap();
    let temperature = Gauge::default();
    temperature.set(-3.75);
    registry
        .register_metric(
            Opts::new("e2e_temperature_celsius", "Temperature."),
            temperature,
        )
        .unwrap();
    let latency = Histogram::new(&HistogramConfig::new(&[0.1, 0.5, 1.0])).unwrap();
    for v in [0.05, 0.2, 0.7, 3.0] {
        latency.observe(v);
    }
    registry
        .register_metric(Opts::new("e2e_latency_seconds", "Latency."), latency)
        .unwrap();
    let sizes =
        Summary::new(SummaryConfig::default().objectives(&[(0.5, 0.05), (0.9, 0.01)])).unwrap();
    for v in 1..=100 {
        sizes.observe(v as f64);
    }
    registry
        .register_metric(Opts::new("e2e_payload_bytes", "Payload sizes."), sizes)
        .unwrap();
    let build = InfoVec::new(Opts::new("e2e_build", "Build."), &["version"]).unwrap();
    build.with_label_values(&["1.2.3"]);
    registry.register(build).unwrap();
    let phase = StateSet::new(&StateSetConfig::new(&["starting", "serving"])).unwrap();
    phase.set_only("serving").unwrap();
    registry
        .register_metric(Opts::new("e2e_phase", "Phase."), phase)
        .unwrap();
    Fixture {
        registry,
        jobs,
        steps,
        clock,
    }
}

async fn serve_as(registry: &Registry, format: Option<Format>) -> Server {
    let mut opts = ServeOpts::default().instrument(false);
    if let Some(format) = format {
        opts = opts.format(format);
    }
    let service = MetricsService::new(registry.clone(), opts.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Server::start(listener, service, opts).unwrap()
}

/// Runs an instant query, returning each result's labels (less job and instance) and
/// value; `None` while Prometheus is not answering yet.
async fn query(port: u16, promql: &str, job: &str) -> Option<Vec<(Series, f64)>> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut encoded = String::new();
    for b in promql.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => encoded.push(b as char),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        return None;
    }
    let reply = client::request(addr, "GET", &format!("/api/v1/query?query={encoded}"), &[]).await;
    if reply.status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON answer");
    let results = json["data"]["result"].as_array().expect("vector result");
    let mut out = Vec::new();
    for r in results {
        let labels = r["metric"].as_object().unwrap();
        if labels.get("job").and_then(|j| j.as_str()) != Some(job) {
            continue;
        }
        let series: Series = labels
            .iter()
            .filter(|(k, _)| *k != "job" && *k != "instance")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        out.push((series, number(r["value"][1].as_str().unwrap())));
    }
    Some(out)
}

fn number(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
    }
}

/// The series and values of an exposition (no timestamps, simple label values).
fn exposed(text: &str) -> Vec<(Series, f64)> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let mut labels = Series::new();
        let name = match series.split_once('{') {
            Some((name, rest)) => {
                for pair in rest
                    .trim_end_matches('}')
                    .split(',')
                    .filter(|p| !p.is_empty())
                {
                    let (k, v) = pair.split_once('=').unwrap();
                    labels.insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
                name
            }
            None => series,
        };
        labels.insert("__name__".to_owned(), name.to_owned());
        out.push((labels, number(value)));
    }
    out
}

/// Polls `check` every 200 ms until it holds, failing after `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    loop {
        let last = check().await;
        match last {
            Ok(()) => return,
            Err(e) if start.elapsed() > limit => panic!("{what}: not true after {limit:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_ingests_what_we_expose_and_sees_removed_series_go_stale() {
    require("promtool");
    let fx = fixture();
    let text_server = serve_as(&fx.registry, Some(Format::Text)).await;
    let om_server = serve_as(&fx.registry, None).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _prometheus = start_prometheus(
        dir.path(),
        port,
        Duration::from_secs(1),
        &[
            ("text", text_server.local_addr()),
            ("openmetrics", om_server.local_addr()),
        ],
    );

    // promtool's linter has nothing to say about our text output.
    let mut body = Vec::new();
    encode(&fx.registry.gather().families, Format::Text, &mut body);
    let report = promtool_check_metrics(&body);
    assert!(
        report.as_ref().is_ok_and(|r| r.trim().is_empty()),
        "promtool check metrics: {report:?}"
    );

    for (job, format) in [("text", Format::Text), ("openmetrics", Format::OpenMetrics)] {
        eventually(
            &format!("{job} target up"),
            Duration::from_secs(20),
            || async move {
                match query(port, "up", job).await {
                    Some(r) if r.iter().any(|(_, v)| *v == 1.0) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        let mut body = Vec::new();
        encode(&fx.registry.gather().families, format, &mut body);
        let want = exposed(std::str::from_utf8(&body).unwrap());
        assert!(want.len() >= 18, "{job}: too few series exposed: {want:?}");
        let selector = format!("{{job=\"{job}\",__name__=~\"e2e_.*\"}}");
        eventually(
            &format!("{job}: every exposed series ingested"),
            Duration::from_secs(10),
            || {
                let (want, selector) = (want.clone(), selector.clone());
                async move {
                    let got: BTreeMap<Series, f64> = query(port, &selector, job)
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                    for (series, value) in &want {
                        match got.get(series) {
                            Some(v) if v == value || (v.is_nan() && value.is_nan()) => {}
                            other => {
                                return Err(format!(
                                    "{series:?}: exposed {value}, Prometheus has {other:?}"
                                ))
                            }
                        }
                    }
                    if got.len() != want.len() {
                        return Err(format!(
                            "Prometheus has {} series, we exposed {}",
                            got.len(),
                            want.len()
                        ));
                    }
                    Ok(())
                }
            },
        )
        .await;
    }

    // A series removed from a vec, and one expired by its TTL, go stale after the
    // next scrape of each target.
    assert!(fx.jobs.remove(&["billing"]));
    fx.steps.with_label_values(&["build"]).set(43.0);
    fx.clock.advance(Duration::from_secs(45));
    fx.steps.with_label_values(&["build"]).set(44.0);
    fx.clock.advance(Duration::from_secs(30)); // "clone" idle 75 s > 60 s TTL; "build" 30 s
    for job in ["text", "openmetrics"] {
        eventually(
            &format!("{job}: removed and expired series stale"),
            Duration::from_secs(10),
            || async move {
                let billing = query(port, "e2e_jobs_total{queue=\"billing\"}", job).await;
                let clone = query(port, "e2e_step_duration_seconds{step=\"clone\"}", job).await;
                let build = query(port, "e2e_step_duration_seconds{step=\"build\"}", job).await;
                let email = query(port, "e2e_jobs_total{queue=\"email\"}", job).await;
                let done = matches!(&billing, Some(r) if r.is_empty())
                    && matches!(&clone, Some(r) if r.is_empty())
                    && matches!(&build, Some(r) if r.len() == 1 && r[0].1 == 44.0)
                    && matches!(&email, Some(r) if r.len() == 1 && r[0].1 == 42.0);
                if done {
                    Ok(())
                } else {
                    Err(format!(
                        "billing {billing:?}, clone {clone:?}, build {build:?}, email {email:?}"
                    ))
                }
            },
        )
        .await;
    }
    text_server.shutdown().await;
    om_server.shutdown().await;
}
