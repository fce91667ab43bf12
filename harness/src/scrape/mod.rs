//! The Prometheus side of promsdk: scrape loops that read
//! expositions into an in-memory store with Prometheus's staleness semantics
//! (queried through [`crate::query`]).
//!
//! - [`target`]: [`Target`], whose identity is its full label set and URL, built from
//!   discovered labels by [`populate_labels`] (relabeling, Prometheus's URL).
//! - [`scraper`]: the [`Scraper`] trait (fetch one body), the hyper [`HttpScraper`] and
//!   the [`FakeScraper`] for tests.
//! - [`scrape_loop`]: one target's loop: interval, offset, timeout, limits, target
//!   labels, `up` and `scrape_*` series, staleness markers.
//! - [`pool`]: one job's loops, kept in step with its target list by
//!   [`ScrapePool::sync`].
//! - [`manager`]: every job's pool, fed target sets per job.
//! - [`store`]: the [`Appender`]/[`Storage`] traits and [`MemoryStore`].
//!
//! Timestamps are milliseconds since the Unix epoch, read from a [`WallClock`]; loops
//! wait on tokio's clock, so tests drive them with `tokio::time::pause()` and
//! `advance()` and a [`WallClock::tokio`].

pub mod manager;
pub mod pool;
pub mod scrape_loop;
pub mod scraper;
pub mod store;
pub mod target;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::tls::{TlsConfig, TlsError, TlsSettings};
pub use manager::ScrapeManager;
pub use pool::ScrapePool;
pub use scrape_loop::{ScrapeLoop, ScrapeReport};
pub use scraper::{FakeScraper, HttpScraper, ScrapeError, Scraped, Scraper, ACCEPT_HEADER};
pub use store::{is_stale_nan, Appender, MemoryStore, Storage, StoreReader, STALE_NAN};
pub use target::{
    populate_labels, Health, Populated, ScrapeHealth, Target, TargetError, TargetStatus,
};

use crate::relabel::RelabelConfig;
use promsdk::labels::{LabelPair, LabelSet};

/// How one job is scraped: the settings of a prometheus.yml `scrape_configs` entry
/// other than its targets. Build with [`ScrapeConfig::new`] and the chained setters.
///
/// ```
/// use promsdk_harness::scrape::ScrapeConfig;
/// use std::time::Duration;
/// let cfg = ScrapeConfig::new("node").interval(Duration::from_secs(5)).sample_limit(1000);
/// assert_eq!((cfg.job_name.as_str(), cfg.timeout), ("node", Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfig {
    /// The job name, the `job` label of every target.
    pub job_name: String,
    /// Time between scrapes of one target (default 1 minute).
    pub interval: Duration,
    /// How long one scrape may take (default 10 s, never more than the interval).
    pub timeout: Duration,
    /// The HTTP path (default `/metrics`).
    pub metrics_path: String,
    /// `http` (default) or `https`.
    pub scheme: String,
    /// How `https` targets are verified; `None`: against the system's root
    /// certificates, by the target's host name.
    pub tls: Option<TlsConfig>,
    /// Keep the exposed value of a label that clashes with a target label.
    pub honor_labels: bool,
    /// Fail a scrape with more samples than this; 0 means no limit.
    pub sample_limit: usize,
    /// Fail a scrape whose uncompressed body is larger than this; 0 means no limit.
    pub body_size_limit: u64,
    /// URL parameters of every target (`params`): name -> values; a target's
    /// `__param_<name>` label replaces the first value.
    pub params: BTreeMap<String, Vec<String>>,
    /// Rules applied to each discovered target's labels ([`populate_labels`]).
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to each scraped series' labels before it is stored.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl ScrapeConfig {
    /// Prometheus's defaults for job `job_name`.
    pub fn new(job_name: impl Into<String>) -> Self {
        ScrapeConfig {
            job_name: job_name.into(),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            tls: None,
            honor_labels: false,
            sample_limit: 0,
            body_size_limit: 0,
            params: BTreeMap::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
        }
    }

    /// Sets the interval; the timeout is capped at it.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self.timeout = self.timeout.min(interval);
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets `honor_labels`.
    pub fn honor_labels(mut self, on: bool) -> Self {
        self.honor_labels = on;
        self
    }

    /// Sets the sample limit (0: none).
    pub fn sample_limit(mut self, limit: usize) -> Self {
        self.sample_limit = limit;
        self
    }

    /// Sets the body size limit in bytes (0: none).
    pub fn body_size_limit(mut self, limit: u64) -> Self {
        self.body_size_limit = limit;
        self
    }

    /// Sets the metrics path.
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = path.into();
        self
    }

    /// Sets the scheme of the targets' URLs (`http` or `https`).
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Sets the TLS settings of `https` targets.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the URL parameters of every target.
    pub fn params(mut self, params: BTreeMap<String, Vec<String>>) -> Self {
        self.params = params;
        self
    }

    /// Sets the target relabeling rules.
    pub fn relabel_configs(mut self, rules: Vec<RelabelConfig>) -> Self {
        self.relabel_configs = rules;
        self
    }

    /// Sets the rules applied to scraped series.
    pub fn metric_relabel_configs(mut self, rules: Vec<RelabelConfig>) -> Self {
        self.metric_relabel_configs = rules;
        self
    }
}

/// The label set of a stored series: `name` as `__name__` plus `labels`. Label names
/// are not validated (a parsed exposition already was); a repeated name keeps the
/// first.
///
/// ```
/// use promsdk_harness::scrape::series_labels;
/// let s = series_labels("up", &[("job", "a")]);
/// assert_eq!(format!("{s:?}"), r#"{__name__="up", job="a"}"#);
/// ```
pub fn series_labels(name: &str, labels: &[(&str, &str)]) -> LabelSet {
    let mut pairs = Vec::with_capacity(labels.len() + 1);
    pairs.push(LabelPair::new(NAME_LABEL, name));
    pairs.extend(labels.iter().map(|&(n, v)| LabelPair::new(n, v)));
    labels_from_pairs(pairs)
}

/// The label holding a series' metric name.
pub const NAME_LABEL: &str = "__name__";

/// Sorts `pairs` into a set; a repeated name keeps its first value.
pub(crate) fn labels_from_pairs(mut pairs: Vec<LabelPair>) -> LabelSet {
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    pairs.dedup_by(|b, a| a.name == b.name);
    // Cannot fail: the names are unique now.
    LabelSet::from_vec("", pairs).unwrap_or_default()
}

/// Where scrape loops read the wall-clock time they stamp samples with. Timers
/// always run on tokio's clock; [`WallClock::system`] (the default) reads the system
/// clock, [`WallClock::tokio`] follows tokio's clock from an anchor, so that under
/// `tokio::time::pause()` timestamps move only with `advance()` (share one between
/// the loops of a test).
///
/// ```
/// use promsdk_harness::scrape::WallClock;
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let clock = WallClock::tokio();
/// let t0 = clock.now_ms();
/// tokio::time::advance(std::time::Duration::from_secs(15)).await;
/// assert_eq!(clock.now_ms() - t0, 15_000);
/// # });
/// ```
#[derive(Clone)]
pub struct WallClock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl WallClock {
    /// The system clock.
    pub fn system() -> Self {
        WallClock(Arc::new(system_ms))
    }

    /// Tokio's clock, anchored to the system clock now. Must be called within a
    /// tokio runtime with time enabled.
    pub fn tokio() -> Self {
        let (instant, wall) = (tokio::time::Instant::now(), system_ms());
        WallClock(Arc::new(move || {
            let elapsed = tokio::time::Instant::now().saturating_duration_since(instant);
            wall.saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        }))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WallClock({})", self.now_ms())
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
