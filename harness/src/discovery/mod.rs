//! Service discovery, as Prometheus's `discovery` package: providers find targets and
//! send them as [`TargetGroup`]s; the [`Manager`] runs one provider per distinct
//! configuration, merges what each sends by group source, and hands the scrape side
//! every job's complete set of groups, throttled.
//!
//! - [`TargetGroup`] and its JSON/YAML form ([`target_group`]).
//! - [`Discoverer`]: one running provider; [`SdConfig`]: a provider's configuration,
//!   which builds its discoverer.
//! - Providers: [`static_sd`], [`file_sd`], [`http_sd`]; [`refresh`] turns a polled
//!   source into a discoverer.
//! - [`Manager`] ([`manager`]) and its metrics ([`metrics`]).
//!
//! # Writing a provider
//! Implement [`SdConfig`] for the configuration and [`Discoverer`] for the running
//! provider, or, for a source that is polled, [`refresh::Refresher`], which
//! [`refresh::RefreshDiscoverer`] turns into a discoverer. Pass the configuration to
//! [`Manager::apply_config`] like any other:
//!
//! ```
//! use std::sync::Arc;
//! use promsdk_harness::discovery::{
//!     BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, TargetGroup,
//!     Updates,
//! };
//!
//! /// One fixed target, to show the shape.
//! #[derive(Debug)]
//! struct OneTarget(String);
//!
//! struct OneTargetDiscoverer(String);
//!
//! impl SdConfig for OneTarget {
//!     fn name(&self) -> &str { "one" }
//!     fn new_discoverer(&self, _: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
//!         Ok(Box::new(OneTargetDiscoverer(self.0.clone())))
//!     }
//! }
//!
//! impl Discoverer for OneTargetDiscoverer {
//!     fn run(self: Box<Self>, updates: Updates) -> BoxFuture {
//!         Box::pin(async move {
//!             let group = TargetGroup::of("one", &[&self.0]);
//!             // The full set first; then (here) nothing more until cancelled.
//!             let _ = updates.send(vec![group]).await;
//!             std::future::pending::<()>().await;
//!         })
//!     }
//! }
//!
//! let config: Arc<dyn SdConfig> = Arc::new(OneTarget("127.0.10.1:9100".into()));
//! # let _ = config;
//! ```

pub mod file_sd;
pub mod http_sd;
pub mod json_decoder;
pub mod manager;
pub mod metrics;
pub mod refresh;
pub mod static_sd;
pub mod target_group;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;

pub use manager::{Manager, ManagerOpts, TargetSets};
pub use metrics::DiscoveryMetrics;
pub use target_group::TargetGroup;

/// A boxed future that runs a discoverer.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where a discoverer sends its target groups.
pub type Updates = mpsc::Sender<Vec<TargetGroup>>;

/// A running provider.
///
/// The contract, as Prometheus's `Discoverer`:
/// - `run` sends the full set of groups it knows first, as soon as it has them, then
///   whenever something changes; it may send only the groups that changed, which are
///   identified by [`TargetGroup::source`]. A group with no targets means "this source
///   is now empty" (for example a deleted file).
/// - It runs until cancelled. Cancelling drops the future at any `.await`, so it must
///   hold nothing that outlives it (a file watcher is dropped with it).
/// - It may stop sending when the channel closes (the manager went away); it never
///   needs to close the channel itself.
/// - It keeps its last good groups when its source fails: it sends nothing rather
///   than an empty set, logs why, and counts the failure.
pub trait Discoverer: Send + 'static {
    /// Runs the provider, sending groups on `updates`.
    fn run(self: Box<Self>, updates: Updates) -> BoxFuture;
}

/// A provider's configuration: an entry of a job's `*_sd_configs` (or the job's
/// `static_configs`). The manager runs one discoverer for identical configurations,
/// however many jobs use them: two configurations are identical when their names and
/// `Debug` renderings are equal (derive `Debug`).
pub trait SdConfig: fmt::Debug + Send + Sync + 'static {
    /// The mechanism's name: `static`, `file`, `http` or your own. Names the
    /// provider in logs and metrics (`file/0`).
    fn name(&self) -> &str;

    /// Builds the discoverer; it starts when the manager calls [`Discoverer::run`].
    fn new_discoverer(
        &self,
        opts: &DiscovererOptions,
    ) -> Result<Box<dyn Discoverer>, DiscoveryError>;
}

/// The configurations of one job.
pub type SdConfigs = Vec<Arc<dyn SdConfig>>;

/// What the manager gives a provider it builds.
#[derive(Debug, Clone)]
pub struct DiscovererOptions {
    /// The discovery metrics (file read errors, http_sd failures) to count into.
    pub metrics: DiscoveryMetrics,
}

/// Why a provider could not be built or refreshed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The configuration is invalid.
    #[error("invalid {mechanism} configuration: {message}")]
    Config {
        /// The mechanism (`file`, `http`, …).
        mechanism: String,
        /// What is wrong.
        message: String,
    },
    /// A source could not be read or decoded; the last good groups are kept.
    #[error("{source_name}: {message}")]
    Source {
        /// The file or URL.
        source_name: String,
        /// What went wrong.
        message: String,
    },
}

/// The key under which identical configurations share one provider.
pub(crate) fn config_key(cfg: &dyn SdConfig) -> String {
    format!("{}/{cfg:?}", cfg.name())
}
