//! [`Reloader`]: applies a configuration to the scrape and discovery managers, and
//! re-reads the configuration file on `POST /-/reload` or SIGHUP, as Prometheus's
//! `reloadConfig`: a file that does not load keeps the running configuration, the
//! error says what is wrong (file, line), and
//! `prometheus_config_last_reload_successful` is 0 until a reload succeeds.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use promsdk::{Gauge, Opts, Registry};

use crate::config::{Config, ConfigError};
use crate::discovery::Manager;
use crate::scrape::{ScrapeManager, WallClock};

/// Applies configurations; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Reloader {
    file: Option<PathBuf>,
    scrape: ScrapeManager,
    discovery: Manager,
    successful: Gauge,
    success_time: Gauge,
    /// One reload at a time (a SIGHUP racing a POST applies both in turn).
    lock: Arc<Mutex<()>>,
}

impl Reloader {
    /// A reloader of `file` (none: reloads fail) driving both managers, its
    /// `prometheus_config_last_reload_*` gauges registered in `registry`.
    pub fn new(
        file: Option<PathBuf>,
        scrape: ScrapeManager,
        discovery: Manager,
        registry: &Registry,
    ) -> promsdk::Result<Self> {
        let (successful, success_time) = (Gauge::default(), Gauge::default());
        registry.register_metric(
            Opts::new(
                "prometheus_config_last_reload_successful",
                "Whether the last configuration reload attempt was successful.",
            ),
            successful.clone(),
        )?;
        registry.register_metric(
            Opts::new(
                "prometheus_config_last_reload_success_timestamp_seconds",
                "Timestamp of the last successful configuration reload.",
            ),
            success_time.clone(),
        )?;
        Ok(Reloader {
            file,
            scrape,
            discovery,
            successful,
            success_time,
            lock: Arc::default(),
        })
    }

    /// Applies `config`: jobs added, removed or changed in the scrape manager, then
    /// the discovery providers (unchanged ones keep running).
    pub fn apply(&self, config: &Config) {
        let _one = self.lock.lock();
        self.scrape.apply_config(config.scrape_configs());
        self.discovery.apply_config(config.discovery());
        self.successful.set(1.0);
        self.success_time
            .set(WallClock::system().now_ms() as f64 / 1000.0);
    }

    /// Re-reads the configuration file and applies it; on error nothing changes.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let Some(file) = &self.file else {
            return Err(ConfigError {
                line: None,
                message: "no configuration file to reload".into(),
            });
        };
        match Config::load(file) {
            Ok(config) => {
                self.apply(&config);
                tracing::info!(file = %file.display(), %config, "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.successful.set(0.0);
                tracing::error!(error = %e, "configuration reload failed; keeping the running one");
                Err(e)
            }
        }
    }
}
