//! End to end: a promsdk exporter is scraped by the harness's scrape loop and pool,
//! and every way a series can disappear ends in a staleness marker that makes
//! instant queries stop returning it. A failed fetch marks every series stale; a
//! scrape failing part-way (here the sample limit) only those past the failure, as
//! Prometheus does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use promsdk::http::{serve, ServeOpts};
use promsdk::{
    encode, Collected, Collector, Desc, Format, GaugeVec, ManualClock, MetricType, Opts, Registry,
};
use promsdk_harness::query::{Engine, EngineOpts, QueryValue, Sample};
use promsdk_harness::scrape::scraper::ScrapeFuture;
use promsdk_harness::scrape::{
    is_stale_nan, HttpScraper, MemoryStore, ScrapeConfig, ScrapeError, ScrapeLoop, ScrapePool,
    Scraped, Scraper, Target, WallClock,
};

const STEP: &str = "pipeline_step_duration_seconds";

fn steps(registry: &Registry, clock: Option<ManualClock>) -> GaugeVec {
    let mut builder = GaugeVec::builder(Opts::new(STEP, "Step time."), &["step"]);
    if let Some(clock) = clock {
        builder = builder.ttl(Duration::from_secs(60)).clock(Arc::new(clock));
    }
    let vec = builder.build().unwrap();
    registry.register(vec.clone()).unwrap();
    vec
}

fn store() -> MemoryStore {
    MemoryStore::new(Duration::from_secs(3600))
}

/// A loop scraping `addr` over HTTP into `store`.
fn http_loop(addr: std::net::SocketAddr, store: &MemoryStore) -> ScrapeLoop {
    let cfg = Arc::new(ScrapeConfig::new("exporter").interval(Duration::from_secs(15)));
    let target = Target::new(&cfg, &addr.to_string(), &[]);
    ScrapeLoop::new(
        target,
        cfg,
        Arc::new(HttpScraper::new()),
        Arc::new(store.clone()),
    )
}

/// The samples an instant query of `query` at `t_ms` returns.
fn instant(store: &MemoryStore, query: &str, t_ms: i64) -> Vec<Sample> {
    let engine = Engine::new(store.clone(), EngineOpts::default());
    match engine.instant(query, t_ms, None).unwrap() {
        QueryValue::Vector(v) => v,
        other => panic!("{query}: {other:?}"),
    }
}

/// The `step` labels an instant query at `t_ms` returns for `query`.
fn visible(store: &MemoryStore, query: &str, t_ms: i64) -> Vec<String> {
    instant(store, query, t_ms)
        .into_iter()
        .map(|s| s.labels.get("step").unwrap_or("").to_owned())
        .collect()
}

/// The (sample time, value) of the one series `name` at `t_ms`.
fn latest(store: &MemoryStore, name: &str, t_ms: i64) -> (i64, f64) {
    let value = instant(store, name, t_ms)[0].value;
    let time = instant(store, &format!("timestamp({name})"), t_ms)[0].value;
    ((time * 1000.0) as i64, value)
}

/// The last stored sample of the series with `step="<step>"`.
fn last_of(store: &MemoryStore, step: &str) -> (i64, f64) {
    let found = store.select(|l| l.get("step") == Some(step), i64::MIN, i64::MAX);
    assert_eq!(found.len(), 1, "{step}: {found:?}");
    *found[0].1.last().unwrap()
}

async fn scrape_ok(sl: &mut ScrapeLoop, t_ms: i64) {
    let report = sl.scrape_at(t_ms).await;
    assert_eq!(report.error, None, "scrape at {t_ms}");
}

#[tokio::test]
async fn removed_vec_child_goes_stale_over_http() {
    let registry = Registry::new();
    let vec = steps(&registry, None);
    vec.with_label_values(&["clone"]).set(1.5);
    vec.with_label_values(&["build"]).set(2.0);
    let server = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();
    let store = store();
    let mut sl = http_loop(server.local_addr(), &store);
    scrape_ok(&mut sl, 10_000).await;
    assert_eq!(visible(&store, STEP, 10_000), ["build", "clone"]);

    assert!(vec.remove(&["clone"]));
    scrape_ok(&mut sl, 25_000).await;
    let (t, v) = last_of(&store, "clone");
    assert_eq!(t, 25_000);
    assert!(is_stale_nan(v), "a staleness marker, not {v}");
    assert_eq!(visible(&store, STEP, 25_000), ["build"]);
    assert_eq!(
        visible(&store, STEP, 24_999),
        ["build", "clone"],
        "before the marker"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ttl_expired_child_goes_stale() {
    let clock = ManualClock::new();
    let registry = Registry::new();
    let vec = steps(&registry, Some(clock.clone()));
    vec.with_label_values(&["clone"]).set(1.0);
    vec.with_label_values(&["build"]).set(1.0);
    let server = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();
    let store = store();
    let mut sl = http_loop(server.local_addr(), &store);
    scrape_ok(&mut sl, 10_000).await;
    clock.advance(Duration::from_secs(45));
    vec.with_label_values(&["build"]).set(2.0);
    clock.advance(Duration::from_secs(30));
    // `clone` has been idle 75 s > 60 s TTL; `build` only 30 s.
    scrape_ok(&mut sl, 25_000).await;
    assert!(is_stale_nan(last_of(&store, "clone").1));
    assert_eq!(last_of(&store, "build"), (25_000, 2.0));
    assert_eq!(visible(&store, STEP, 30_000), ["build"]);
    server.shutdown().await;
}

/// Reports `build` always and `clone` while `with_clone` is set: the on-demand style.
struct Steps {
    desc: Desc,
    with_clone: Arc<AtomicBool>,
}

impl Collector for Steps {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let mut family = out.family(&self.desc);
        family.gauge(&["build"], 2.0);
        // Relaxed: a test flag, read once per scrape; the HTTP round trip orders it.
        if self.with_clone.load(Ordering::Relaxed) {
            family.gauge(&["clone"], 1.0);
        }
    }
}

#[tokio::test]
async fn collector_that_stops_reporting_a_series() {
    let registry = Registry::new();
    let with_clone = Arc::new(AtomicBool::new(true));
    registry
        .register(Steps {
            desc: Desc::new(Opts::new(STEP, "Step time."), MetricType::Gauge, &["step"]).unwrap(),
            with_clone: Arc::clone(&with_clone),
        })
        .unwrap();
    let server = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();
    let store = store();
    let mut sl = http_loop(server.local_addr(), &store);
    scrape_ok(&mut sl, 10_000).await;
    with_clone.store(false, Ordering::Relaxed);
    scrape_ok(&mut sl, 25_000).await;
    assert!(is_stale_nan(last_of(&store, "clone").1));
    assert_eq!(visible(&store, STEP, 25_000), ["build"]);
    // It comes back: visible again from its next sample.
    with_clone.store(true, Ordering::Relaxed);
    scrape_ok(&mut sl, 40_000).await;
    assert_eq!(visible(&store, STEP, 40_000), ["build", "clone"]);
    server.shutdown().await;
}

#[tokio::test]
async fn failed_scrape_marks_everything_stale_and_up_zero() {
    let registry = Registry::new();
    let vec = steps(&registry, None);
    vec.with_label_values(&["clone"]).set(1.0);
    vec.with_label_values(&["build"]).set(1.0);
    let server = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();
    let store = store();
    let mut sl = http_loop(server.local_addr(), &store);
    let first = sl.scrape_at(10_000).await;
    assert!(first.samples >= 2, "{first:?}");
    server.shutdown().await;
    let report = sl.scrape_at(25_000).await;
    assert!(
        matches!(report.error, Some(ScrapeError::Request { .. })),
        "connection refused: {report:?}"
    );
    // A failed fetch is an empty scrape for Prometheus: every series of the previous
    // scrape is marked stale (the server's own metrics too) and nothing is counted.
    assert_eq!(report.stale_markers, first.samples);
    for step in ["build", "clone"] {
        let (t, v) = last_of(&store, step);
        assert!(t == 25_000 && is_stale_nan(v), "{step}: ({t}, {v})");
    }
    assert!(visible(&store, STEP, 25_000).is_empty());
    for (name, want) in [("up", 0.0), ("scrape_samples_scraped", 0.0)] {
        assert_eq!(latest(&store, name, 25_000), (25_000, want), "{name}");
    }
}

/// A loop with a sample limit scraping `registry` in process.
fn limited_loop(registry: Registry, limit: usize, store: &MemoryStore) -> ScrapeLoop {
    let cfg = Arc::new(ScrapeConfig::new("exporter").sample_limit(limit));
    let target = Target::new(&cfg, "exporter:9000", &[]);
    ScrapeLoop::new(
        target,
        cfg,
        Arc::new(InProcess(registry)),
        Arc::new(store.clone()),
    )
}

#[tokio::test]
async fn scrape_over_the_sample_limit_marks_only_the_series_past_it() {
    let registry = Registry::new();
    let vec = steps(&registry, None);
    vec.with_label_values(&["build"]).set(1.0);
    vec.with_label_values(&["clone"]).set(1.0);
    let store = store();
    let mut sl = limited_loop(registry, 2, &store);
    scrape_ok(&mut sl, 10_000).await;

    // Exposed in label order: alpha and build within the limit, clone past it.
    vec.with_label_values(&["alpha"]).set(3.0);
    vec.with_label_values(&["build"]).set(2.0);
    let report = sl.scrape_at(25_000).await;
    assert!(
        matches!(
            report.error,
            Some(ScrapeError::SampleLimit { limit: 2, .. })
        ),
        "{report:?}"
    );
    // Prometheus rolls the samples back, but the series within the limit count as
    // present: build keeps its last value unmarked, only clone is marked stale.
    assert_eq!(report.samples, 3, "the whole body is counted");
    assert_eq!(report.stale_markers, 1);
    assert_eq!(last_of(&store, "build"), (10_000, 1.0));
    let (t, v) = last_of(&store, "clone");
    assert!(t == 25_000 && is_stale_nan(v), "clone: ({t}, {v})");
    assert!(store
        .select(|l| l.get("step") == Some("alpha"), i64::MIN, i64::MAX)
        .is_empty());
    assert_eq!(visible(&store, STEP, 25_000), ["build"]);
    for (name, want) in [("up", 0.0), ("scrape_samples_scraped", 3.0)] {
        assert_eq!(latest(&store, name, 25_000), (25_000, want), "{name}");
    }

    // Back under the limit: alpha, appended before the failure, is the previous
    // scrape's and gets a marker; clone is visible again.
    assert!(vec.remove(&["alpha"]));
    scrape_ok(&mut sl, 40_000).await;
    let (t, v) = last_of(&store, "alpha");
    assert!(t == 40_000 && is_stale_nan(v), "alpha: ({t}, {v})");
    assert_eq!(visible(&store, STEP, 40_000), ["build", "clone"]);
}

/// Serves a registry's exposition without sockets, so a pool can run under tokio's
/// paused clock.
struct InProcess(Registry);

impl Scraper for InProcess {
    fn scrape(&self, _: &Target, _: &ScrapeConfig) -> ScrapeFuture {
        let mut body = Vec::new();
        encode(&self.0.gather().families, Format::OpenMetrics, &mut body);
        Box::pin(async move {
            Ok(Scraped {
                body,
                format: Format::OpenMetrics,
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn removed_target_goes_stale_one_interval_after_its_next_scrape() {
    let interval = Duration::from_secs(15);
    let registry = Registry::new();
    steps(&registry, None)
        .with_label_values(&["build"])
        .set(1.0);
    let store = store();
    let cfg = ScrapeConfig::new("exporter").interval(interval);
    let target = Target::new(&cfg, "exporter:9000", &[]);
    let mut pool = ScrapePool::new(cfg, Arc::new(InProcess(registry)), Arc::new(store.clone()))
        .with_clock(WallClock::tokio());
    pool.sync(vec![target]);
    tokio::time::sleep(interval * 2).await;
    let (last_t, _) = last_of(&store, "build");
    pool.sync(Vec::new());
    tokio::time::sleep(interval + interval / 20).await;
    assert!(
        !is_stale_nan(last_of(&store, "build").1),
        "not yet: it may come back"
    );
    tokio::time::sleep(interval + interval / 10).await;
    let (t, v) = last_of(&store, "build");
    assert!(is_stale_nan(v));
    assert_eq!(t, last_t + 15_000, "marked at the next scrape time");
    assert!(visible(&store, STEP, t).is_empty());
    assert_eq!(visible(&store, STEP, t - 1), ["build"]);
}
