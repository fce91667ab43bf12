//! The running harness: a configuration ([`config`](crate::config)) drives a
//! [`ScrapeManager`] writing into a [`MemoryStore`]; one HTTP server answers the
//! Prometheus-style [`api`](crate::api), the [`web`](crate::web) page and the
//! harness's own `/metrics` (through [`MetricsService`]). `promsdk-harness run` is [`Harness::start`] plus signal
//! handling.
//!
//! ```no_run
//! use promsdk_harness::{config::Config, Harness};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load("prometheus.yml".as_ref())?;
//! let harness = Harness::start(&config, "127.0.0.1:9091".parse()?, Default::default()).await?;
//! tokio::signal::ctrl_c().await?;
//! harness.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::discovery::{DiscoveryMetrics, Manager, ManagerOpts};
use crate::reload::Reloader;
use crate::scrape::{HttpScraper, MemoryStore, ScrapeManager, Scraper};
use promsdk::collector::{Collected, Collector};
use promsdk::desc::{Desc, Opts};
use promsdk::error::{Error, Result};
use promsdk::family::MetricType;
use promsdk::http::{MetricsService, ServeOpts};
use promsdk::registry::Registry;

use crate::api::Api;
use crate::config::Config;
use crate::query::EngineOpts;
use crate::web::Web;

/// Settings of a [`Harness`] other than its configuration file.
#[derive(Clone)]
pub struct HarnessOpts {
    /// How much data the store keeps (default 1 hour).
    pub retention: Duration,
    /// How targets are fetched (default: [`HttpScraper`]).
    pub scraper: Arc<dyn Scraper>,
    /// The configuration file `POST /-/reload` and SIGHUP re-read (default: none,
    /// reloads fail).
    pub config_file: Option<std::path::PathBuf>,
    /// The discovery manager's settings (how often it updates the scrape side).
    pub discovery: ManagerOpts,
    /// How queries are evaluated: lookback, `--query.max-samples`, timeout
    /// (default: Prometheus's).
    pub query: EngineOpts,
}

impl Default for HarnessOpts {
    fn default() -> Self {
        HarnessOpts {
            retention: Duration::from_secs(3600),
            scraper: Arc::new(HttpScraper::new()),
            config_file: None,
            discovery: ManagerOpts::default(),
            query: EngineOpts::default(),
        }
    }
}

impl std::fmt::Debug for HarnessOpts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarnessOpts")
            .field("retention", &self.retention)
            .field("config_file", &self.config_file)
            .field("discovery", &self.discovery)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

/// A running harness: scrape loops, store and HTTP server.
#[derive(Debug)]
pub struct Harness {
    local_addr: SocketAddr,
    store: MemoryStore,
    manager: ScrapeManager,
    discovery: Manager,
    reloader: Reloader,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    syncer: JoinHandle<()>,
}

impl Harness {
    /// Starts scraping the jobs of `config` and serving on `listen`. Must be called
    /// within a tokio runtime.
    pub async fn start(config: &Config, listen: SocketAddr, opts: HarnessOpts) -> Result<Self> {
        let store = MemoryStore::new(opts.retention);
        let manager = ScrapeManager::new(opts.scraper, Arc::new(store.clone()));
        let registry = Registry::new();
        registry.register(HarnessCollector::new(store.clone(), manager.clone())?)?;
        let (discovery, mut target_sets) = Manager::new(
            opts.discovery,
            DiscoveryMetrics::register(&registry, "scrape")?,
        );
        let syncer = tokio::spawn({
            let manager = manager.clone();
            async move {
                while let Some(sets) = target_sets.recv().await {
                    manager.sync_groups(sets);
                }
            }
        });
        let reloader = Reloader::new(
            opts.config_file,
            manager.clone(),
            discovery.clone(),
            &registry,
        )?;
        let metrics = MetricsService::new(registry, ServeOpts::default())?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: listen.to_string(),
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let web = Web::new(store.clone(), manager.clone(), opts.query.clone());
        let api = Api::with_query_opts(store.clone(), manager.clone(), opts.query);
        let server = tokio::spawn(serve(
            listener,
            (api, web),
            metrics,
            reloader.clone(),
            stopped,
        ));
        let harness = Harness {
            local_addr,
            store,
            manager,
            discovery,
            reloader,
            stop,
            server,
            syncer,
        };
        harness.apply(config);
        tracing::info!(addr = %local_addr, %config, "harness listening");
        Ok(harness)
    }

    /// Applies a (new) configuration: jobs added, removed or changed, discovery
    /// providers started or cancelled (unchanged ones keep running).
    pub fn apply(&self, config: &Config) {
        self.reloader.apply(config);
    }

    /// Re-reads the configuration file (as `POST /-/reload` and SIGHUP do); on error
    /// the running configuration stays.
    pub fn reload(&self) -> std::result::Result<(), crate::config::ConfigError> {
        self.reloader.reload()
    }

    /// The reloader, for a signal handler to keep.
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The store the loops write to.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// The scrape manager.
    pub fn manager(&self) -> &ScrapeManager {
        &self.manager
    }

    /// Stops scraping (without staleness markers, as a Prometheus shutdown), waits
    /// for every scrape loop to end, then stops the server, letting requests in
    /// progress finish.
    pub async fn shutdown(self) {
        self.discovery.stop();
        self.syncer.abort();
        self.manager.stop(false).await;
        let _ = self.stop.send(true);
        let _ = self.server.await;
        tracing::info!("harness stopped");
    }
}

async fn serve(
    listener: TcpListener,
    api: (Api, Web),
    metrics: MetricsService,
    reloader: Reloader,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let (api, metrics, reloader) = (api.clone(), metrics.clone(), reloader.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (api, metrics, reloader) = (api.clone(), metrics.clone(), reloader.clone());
            async move { Ok::<_, Infallible>(route(&api, &metrics, &reloader, request).await) }
        });
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

async fn route(
    (api, web): &(Api, Web),
    metrics: &MetricsService,
    reloader: &Reloader,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let text = |status: http::StatusCode, body: String| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if path == "/-/reload" {
        if !matches!(*request.method(), http::Method::POST | http::Method::PUT) {
            return text(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "Only POST or PUT requests allowed\n".into(),
            );
        }
        // Reading and applying the file is blocking work (small, but off the reactor).
        let reloader = reloader.clone();
        return match tokio::task::spawn_blocking(move || reloader.reload()).await {
            Ok(Ok(())) => text(http::StatusCode::OK, String::new()),
            Ok(Err(e)) => text(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            ),
            Err(e) => text(http::StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        };
    }
    if Api::handles(&path) {
        api.respond(request).await
    } else if Web::handles(&path) {
        web.respond(request).await
    } else if path == "/metrics" {
        match metrics.respond(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    } else {
        Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from(format!("{path} not found\n"))))
            .unwrap_or_default()
    }
}

/// The harness's own metrics, read on each scrape of its `/metrics`.
struct HarnessCollector {
    store: MemoryStore,
    manager: ScrapeManager,
    series: Desc,
    samples: Desc,
    targets: Desc,
}

impl HarnessCollector {
    fn new(store: MemoryStore, manager: ScrapeManager) -> Result<Self> {
        Ok(HarnessCollector {
            store,
            manager,
            series: Desc::new(
                Opts::new("promsdk_harness_head_series", "Series held in the store."),
                MetricType::Gauge,
                &[],
            )?,
            samples: Desc::new(
                Opts::new(
                    "promsdk_harness_head_samples",
                    "Samples held in the store, staleness markers included.",
                ),
                MetricType::Gauge,
                &[],
            )?,
            targets: Desc::new(
                Opts::new(
                    "promsdk_harness_targets",
                    "Targets scraped, by job and health.",
                ),
                MetricType::Gauge,
                &["job", "health"],
            )?,
        })
    }
}

impl Collector for HarnessCollector {
    fn describe(&self) -> Vec<Desc> {
        vec![
            self.series.clone(),
            self.samples.clone(),
            self.targets.clone(),
        ]
    }

    fn collect(&self, out: &mut Collected) {
        let stats = self.store.stats();
        out.family(&self.series).gauge(&[], stats.series as f64);
        out.family(&self.samples).gauge(&[], stats.samples as f64);
        let mut counts: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
        for t in self.manager.targets() {
            *counts.entry((t.job, t.health.as_str())).or_default() += 1;
        }
        let mut family = out.family(&self.targets);
        for ((job, health), n) in counts {
            family.gauge(&[&job, health], n as f64);
        }
    }
}
