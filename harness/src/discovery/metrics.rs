//! [`DiscoveryMetrics`]: the discovery manager's and providers' own metrics, under
//! the names Prometheus 2.42 uses, served on the harness's `/metrics`.

use promsdk::{Counter, Gauge, GaugeVec, Opts, Registry, Result};

/// The `prometheus_sd_*` metrics. Cheap to clone (handles).
#[derive(Debug, Clone)]
pub struct DiscoveryMetrics {
    /// `prometheus_sd_discovered_targets{config,name}`: targets per job.
    pub discovered_targets: GaugeVec,
    /// `prometheus_sd_failed_configs{name}`: configurations that failed to load.
    pub failed_configs: Gauge,
    /// `prometheus_sd_received_updates_total{name}`: updates received from providers.
    pub received_updates: Counter,
    /// `prometheus_sd_updates_total{name}`: updates sent to the scrape side.
    pub updates: Counter,
    /// `prometheus_sd_updates_delayed_total{name}`: sends put off because the
    /// receiver was busy.
    pub updates_delayed: Counter,
    /// `prometheus_sd_file_read_errors_total`: file_sd files that failed to read.
    pub file_read_errors: Counter,
    /// `prometheus_sd_http_failures_total`: failed http_sd refreshes.
    pub http_failures: Counter,
}

impl DiscoveryMetrics {
    /// The manager `name`'s metrics (Prometheus names its scrape manager's `scrape`),
    /// registered in `registry`.
    ///
    /// ```
    /// use promsdk_harness::discovery::DiscoveryMetrics;
    /// let registry = promsdk::Registry::new();
    /// let m = DiscoveryMetrics::register(&registry, "scrape").unwrap();
    /// m.updates.inc();
    /// let names: Vec<String> = registry.gather().families.iter().map(|f| f.name.to_string()).collect();
    /// assert!(names.contains(&"prometheus_sd_updates".to_owned()), "{names:?}");
    /// ```
    pub fn register(registry: &Registry, name: &str) -> Result<Self> {
        let named = |metric: &str, help: &str| Opts::new(metric, help).const_label("name", name);
        let m = DiscoveryMetrics {
            discovered_targets: GaugeVec::new(
                Opts::new(
                    "prometheus_sd_discovered_targets",
                    "Current number of discovered targets.",
                ),
                &["config", "name"],
            )?,
            failed_configs: Gauge::default(),
            received_updates: Counter::default(),
            updates: Counter::default(),
            updates_delayed: Counter::default(),
            file_read_errors: Counter::default(),
            http_failures: Counter::default(),
        };
        registry.register(m.discovered_targets.clone())?;
        registry.register_metric(
            named(
                "prometheus_sd_failed_configs",
                "Current number of service discovery configurations that failed to load.",
            ),
            m.failed_configs.clone(),
        )?;
        registry.register_metric(
            named(
                "prometheus_sd_received_updates_total",
                "Total number of update events received from the SD providers.",
            ),
            m.received_updates.clone(),
        )?;
        registry.register_metric(
            named(
                "prometheus_sd_updates_total",
                "Total number of update events sent to the SD consumers.",
            ),
            m.updates.clone(),
        )?;
        registry.register_metric(
            named(
                "prometheus_sd_updates_delayed_total",
                "Total number of update events that couldn't be sent immediately.",
            ),
            m.updates_delayed.clone(),
        )?;
        registry.register_metric(
            Opts::new(
                "prometheus_sd_file_read_errors_total",
                "The number of File-SD read errors.",
            ),
            m.file_read_errors.clone(),
        )?;
        registry.register_metric(
            Opts::new(
                "prometheus_sd_http_failures_total",
                "Number of HTTP service discovery refresh failures.",
            ),
            m.http_failures.clone(),
        )?;
        Ok(m)
    }

    /// Metrics registered nowhere (tests, or a manager whose metrics are not served).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new(), "scrape").unwrap_or_else(|_| {
            unreachable!("the metric names and labels above are valid and distinct")
        })
    }
}
