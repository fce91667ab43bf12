//! [`VecBuilder`]: the options of a [`MetricVec`] beyond its name and labels (child
//! config, TTL, series limit, clock, hasher).

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use super::order::Sorted;
use super::ttl::Ttl;
use super::{DefaultHasher, Inner, MetricVec, Shard, REJECTED_FAMILY, SHARDS};
use crate::clock::{system_clock, Clock};
use crate::desc::{Desc, Opts};
use crate::error::Result;
use crate::family::MetricType;
use crate::metrics::Metric;
use crate::sync::{AtomicU64, Mutex};

/// Options for building a [`MetricVec`] beyond name and labels.
///
/// ```
/// use std::time::Duration;
/// use promsdk::{GaugeVec, Opts};
/// let steps = GaugeVec::builder(Opts::new("step_duration_seconds", "Step time."), &["step"])
///     .ttl(Duration::from_secs(300))
///     .max_series(10_000)
///     .build()
///     .unwrap();
/// steps.with_label_values(&["clone"]).set(1.5);
/// ```
pub struct VecBuilder<M: Metric, S = DefaultHasher> {
    opts: Opts,
    labels: Vec<String>,
    config: M::Config,
    hasher: S,
    ttl: Option<Duration>,
    max_series: Option<usize>,
    clock: Arc<dyn Clock>,
}

impl<M: Metric, S: BuildHasher> VecBuilder<M, S> {
    /// Uses `config` for every child (histogram buckets, summary objectives, states).
    pub fn config(mut self, config: M::Config) -> Self {
        self.config = config;
        self
    }

    /// Stops exporting, and frees, children not updated for `ttl`. See [`crate::vec::ttl`]
    /// for the exact rule and what happens to handles you keep.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Allows at most `limit` children. Past it, [`MetricVec::try_with_label_values`]
    /// fails with [`Error::SeriesLimit`](crate::Error::SeriesLimit) and [`MetricVec::with_label_values`] answers with
    /// a shared overflow child whose label values are all [`OVERFLOW_LABEL_VALUE`](super::OVERFLOW_LABEL_VALUE); both
    /// count the rejected label set in the `promsdk_vec_rejected_label_sets_total` family.
    pub fn max_series(mut self, limit: usize) -> Self {
        self.max_series = Some(limit);
        self
    }

    /// Uses `clock` for TTL decisions (tests pass a [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `hasher` to hash label values (tests pass one that collides on purpose).
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> VecBuilder<M, S2> {
        VecBuilder {
            opts: self.opts,
            labels: self.labels,
            config: self.config,
            hasher,
            ttl: self.ttl,
            max_series: self.max_series,
            clock: self.clock,
        }
    }

    /// Validates everything and builds the vec.
    pub fn build(self) -> Result<MetricVec<M, S>>
    where
        S: Send + Sync + 'static,
    {
        let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        let desc = Desc::new(self.opts, M::TYPE, &labels)?;
        M::check_config(desc.name(), &self.config)?;
        let rejected_desc = match self.max_series {
            Some(_) => Some(Desc::new(
                Opts::new(
                    REJECTED_FAMILY,
                    "Label sets a vec rejected because it reached its max_series limit.",
                )
                .const_label("metric", desc.name()),
                MetricType::Counter,
                &[],
            )?),
            None => None,
        };
        let ttl = self.ttl.map(Ttl::new);
        let mut key_order: Vec<usize> = (0..labels.len()).collect();
        key_order.sort_by_key(|&i| labels.get(i));
        if key_order.is_sorted() {
            key_order.clear();
        }
        let vec = MetricVec {
            inner: Arc::new(Inner {
                desc,
                config: self.config,
                hasher: self.hasher,
                shards: (0..SHARDS).map(|_| Shard::new()).collect(),
                limited: AtomicU64::new(0),
                sorted: Mutex::new(Sorted::new()),
                accounted: AtomicU64::new(0),
                key_order: key_order.into(),
                max_series: self.max_series,
                rejected_desc,
                rejected: AtomicU64::new(0),
                overflow: once_cell::sync::OnceCell::new(),
                invalid_lookups: AtomicU64::new(0),
                ttl,
                clock: self.clock,
                removals: AtomicU64::new(0),
                caches: super::cache::ThreadCaches::new(),
            }),
            curried: None,
        };
        #[cfg(not(promsdk_loom))]
        if vec.inner.ttl.is_some() {
            super::ttl::watch(&vec);
        }
        Ok(vec)
    }
}

impl<M: Metric> MetricVec<M>
where
    M::Config: Default,
{
    /// A vec for metric `opts` with variable labels `labels`, default child config.
    pub fn new(opts: Opts, labels: &[&str]) -> Result<Self> {
        Self::builder(opts, labels).build()
    }

    /// A builder for a vec with a TTL, a series limit, a config or a clock.
    pub fn builder(opts: Opts, labels: &[&str]) -> VecBuilder<M> {
        VecBuilder::new(opts, labels, M::Config::default())
    }
}

impl<M: Metric> VecBuilder<M> {
    /// A builder for a vec whose children are built from `config`; for metric types
    /// without a default config, such as [`StateSet`](crate::StateSet).
    ///
    /// ```
    /// use promsdk::{Opts, StateSetConfig, StateSetVec, VecBuilder};
    /// let phase: StateSetVec = VecBuilder::new(
    ///     Opts::new("job_phase", "Phase of each job."),
    ///     &["job"],
    ///     StateSetConfig::new(&["pending", "running", "done"]),
    /// )
    /// .build()
    /// .unwrap();
    /// phase.with_label_values(&["backup"]).set_only("running").unwrap();
    /// ```
    pub fn new(opts: Opts, labels: &[&str], config: M::Config) -> Self {
        VecBuilder {
            opts,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            config,
            hasher: DefaultHasher::default(),
            ttl: None,
            max_series: None,
            clock: system_clock(),
        }
    }
}
