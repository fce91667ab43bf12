//! A standalone `/metrics` server with every metric type, labelled vecs and a custom
//! collector, updated by background threads.
//!
//! ```sh
//! cargo run --example http_server -- --listen 127.0.0.1:9184 --series 10000 --update-threads 2
//! curl -s http://127.0.0.1:9184/metrics | head
//! ```
//! (`scripts/load.sh` runs it under `wrk`.) Logs go to stderr via `tracing`
//! (`RUST_LOG=debug` for more).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use promsdk::http::{serve, ErrorPolicy, ServeOpts};
use promsdk::{
    exponential_buckets, Collected, Collector, Counter, CounterVec, Desc, Gauge, GaugeVec,
    HistogramConfig, HistogramVec, InfoVec, MetricType, Opts, Registry, StateSet, StateSetConfig,
    Summary, VecBuilder,
};

#[derive(Parser)]
#[command(about = "Serves a demo registry on /metrics")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9184")]
    listen: SocketAddr,
    /// Series in the `demo_shard_value` gauge vec (the bulk of the exposition).
    #[arg(long, default_value_t = 100)]
    series: usize,
    /// Threads updating metrics while the server runs.
    #[arg(long, default_value_t = 1)]
    update_threads: usize,
    /// At most this many scrapes at once (0: no limit); past it: 503.
    #[arg(long, default_value_t = 0)]
    max_in_flight: usize,
    /// Gather once per scrape instead of sharing one gather among concurrent scrapes.
    #[arg(long)]
    no_coalesce: bool,
}

/// An on-demand collector: the open "connections" of a pretend connection pool, read
/// afresh on every scrape.
struct PoolCollector {
    desc: Desc,
}

impl Collector for PoolCollector {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let mut family = out.family(&self.desc);
        for (pool, open) in [("primary", 8.0), ("replica", 3.0)] {
            family.gauge(&[pool], open);
        }
    }
}

/// The demo metrics, kept by the updater threads.
struct Demo {
    requests: CounterVec,
    latency: HistogramVec,
    queue: Gauge,
    payload: Summary,
    jobs: Counter,
    phase: StateSet,
    shards: GaugeVec,
}

fn register(registry: &Registry, series: usize) -> Result<Demo, promsdk::Error> {
    let requests = CounterVec::new(
        Opts::new("demo_requests_total", "Requests served."),
        &["method", "code"],
    )?;
    let latency: HistogramVec = VecBuilder::new(
        Opts::new("demo_request_duration_seconds", "Request latency."),
        &["method"],
        HistogramConfig::new(&exponential_buckets(0.001, 4.0, 8)?),
    )
    .build()?;
    let shards = GaugeVec::builder(
        Opts::new("demo_shard_value", "A value per shard and key."),
        &["shard", "key"],
    )
    .ttl(Duration::from_secs(600))
    .build()?;
    let build = InfoVec::new(Opts::new("demo_build", "Build information."), &["version"])?;
    build.with_label_values(&[env!("CARGO_PKG_VERSION")]);
    let queue = Gauge::default();
    let payload = Summary::default();
    let jobs = Counter::default();
    let phase = StateSet::new(&StateSetConfig::new(&["starting", "serving", "draining"]))?;
    phase.set_only("serving")?;
    for i in 0..series {
        shards
            .with_label_values(&[&(i % 16).to_string(), &i.to_string()])
            .set(i as f64);
    }
    registry.register(requests.clone())?;
    registry.register(latency.clone())?;
    registry.register(shards.clone())?;
    registry.register(build)?;
    registry.register_metric(
        Opts::new("demo_queue_depth", "Jobs waiting."),
        queue.clone(),
    )?;
    registry.register_metric(
        Opts::new("demo_payload_bytes", "Payload sizes."),
        payload.clone(),
    )?;
    registry.register_metric(Opts::new("demo_jobs_total", "Jobs done."), jobs.clone())?;
    registry.register_metric(Opts::new("demo_phase", "Server phase."), phase.clone())?;
    let pool = Desc::new(
        Opts::new("demo_pool_open_connections", "Open connections."),
        MetricType::Gauge,
        &["pool"],
    )?;
    registry.register(PoolCollector { desc: pool })?;
    #[cfg(all(feature = "process", target_os = "linux"))]
    registry.register(promsdk::process::ProcessCollector::new())?;
    Ok(Demo {
        requests,
        latency,
        queue,
        payload,
        jobs,
        phase,
        shards,
    })
}

/// Updates every metric in a loop until `stop`.
fn update(demo: &Demo, series: usize, seed: u64, stop: &AtomicBool) {
    let mut x = seed | 1;
    let methods = ["GET", "POST"];
    // Relaxed: a stop flag; nothing else is published through it.
    while !stop.load(Ordering::Relaxed) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let method = methods[(x % 2) as usize];
        demo.requests
            .with_label_values(&[method, if x % 10 == 0 { "500" } else { "200" }])
            .inc();
        demo.latency
            .with_label_values(&[method])
            .observe((x % 1000) as f64 / 1000.0);
        demo.queue.set((x % 50) as f64);
        demo.payload.observe((x % 4096) as f64);
        demo.jobs.inc();
        if series > 0 {
            let i = (x as usize) % series;
            demo.shards
                .with_label_values(&[&(i % 16).to_string(), &i.to_string()])
                .add(1.0);
        }
        let _ = demo.phase.set_only("serving");
        std::thread::sleep(Duration::from_micros(100));
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let registry = Registry::new();
    let demo = Arc::new(register(&registry, args.series)?);
    let stop = Arc::new(AtomicBool::new(false));
    let updaters: Vec<_> = (0..args.update_threads)
        .map(|t| {
            let (demo, stop, series) = (demo.clone(), stop.clone(), args.series);
            std::thread::spawn(move || {
                update(&demo, series, 0x9E37_79B9_7F4A_7C15 ^ t as u64, &stop)
            })
        })
        .collect();
    let opts = ServeOpts::default()
        .error_policy(ErrorPolicy::Continue)
        .max_requests_in_flight(args.max_in_flight)
        .coalesce(!args.no_coalesce)
        .timeout(Duration::from_secs(10));
    let server = serve(args.listen, registry, opts).await?;
    tracing::info!(addr = %server.local_addr(), series = args.series, "serving /metrics");
    server
        .shutdown_on(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    // Relaxed: see `update`.
    stop.store(true, Ordering::Relaxed);
    for updater in updaters {
        let _ = updater.join();
    }
    tracing::info!("stopped");
    Ok(())
}
