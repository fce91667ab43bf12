//! The live metric types and the [`Metric`] trait that lets a
//! [`MetricVec`](crate::MetricVec) create, snapshot and expire them.
//!
//! Every metric is a cheap `Clone` handle over shared atomics: clones update the same
//! value. Update paths are lock-free, allocation-free and use `Relaxed` orderings: a
//! metric value is a statistic read by a later gather, nothing else is published
//! through it, so only the atomicity of each update matters.

use crate::error::Result;
use crate::family::{MetricType, Value};
use crate::sync::{AtomicBool, AtomicU64, Ordering};

pub mod counter;
pub mod gauge;
pub mod histogram;
mod hot_cold;
pub mod info;
mod quantile;
pub mod sharded_counter;
pub mod stateset;
pub mod summary;
pub mod timer;

/// A metric type that can be a child of a [`MetricVec`](crate::MetricVec) or be
/// registered alone.
pub trait Metric: Clone + Send + Sync + 'static {
    /// What every child of a vec is built from (bucket bounds, quantile objectives);
    /// `()` for counters and gauges.
    type Config: Clone + Send + Sync + 'static;

    /// The family type this metric reports.
    const TYPE: MetricType;

    /// Checks a configuration before any child is built from it.
    fn check_config(metric: &str, config: &Self::Config) -> Result<()>;

    /// A fresh metric built from a configuration that passed [`Metric::check_config`].
    fn from_config(config: &Self::Config) -> Self;

    /// A consistent snapshot of the current value.
    fn value(&self) -> Value;

    /// The shared lifecycle state that updates mark (used for TTL expiry).
    fn lifecycle(&self) -> &Lifecycle;

    /// How many handles share this metric (the vec's own included); a vec frees an
    /// expired child only when it holds the last one.
    fn handle_count(&self) -> usize;
}

/// Per-metric state used by TTL expiry: whether the metric was updated since the last
/// sweep looked at it.
#[derive(Debug)]
pub struct Lifecycle {
    touched: AtomicBool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            touched: AtomicBool::new(false),
        }
    }
}

impl Lifecycle {
    /// Marks an update. Called with every update (before or after the value changes:
    /// TTL correctness rests on reference counts, see [`crate::ttl`], and the mark only
    /// decides whether an idle child is exported), so kept to one relaxed load in the
    /// common case: the store only happens once per sweep period, which keeps the cache
    /// line shared between cores instead of bouncing it on every update.
    #[inline]
    pub fn touch(&self) {
        // Relaxed: a stale read only delays when the sweep sees the update; the value
        // itself is never lost because it lives in the metric, not in this flag.
        if !self.touched.load(Ordering::Relaxed) {
            self.touched.store(true, Ordering::Relaxed);
        }
    }

    /// Clears the mark, returning whether it was set (used by TTL sweeps and gathers).
    pub(crate) fn take_touched(&self) -> bool {
        // Relaxed: as in `touch`; the read-modify-write is atomic, so no mark is lost
        // between the read and the clear. A compare-exchange rather than `swap` because
        // loom mis-models a store racing a `swap` (tokio-rs/loom#254) and we model-check
        // this race.
        self.touched
            .compare_exchange(true, false, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Adds `delta` to an `f64` stored as bits in `cell`, with a compare-and-swap loop.
#[inline]
pub(crate) fn atomic_f64_add(cell: &AtomicU64, delta: f64) {
    // Relaxed: see the module doc; the CAS makes the read-modify-write atomic.
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(old) + delta).to_bits();
        match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => old = actual,
        }
    }
}
