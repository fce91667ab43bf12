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
use key::Key;

mod bucket_counts;
pub mod counter;
pub mod gauge;
pub mod histogram;
pub mod info;
pub(crate) mod key;
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

    /// A fresh metric built from a configuration that passed [`Metric::check_config`],
    /// keeping `lifecycle` in its shared state (returned by [`Metric::lifecycle`]).
    /// A vec hands in the child's identity this way; a metric that is not a child gets
    /// `Lifecycle::default()`.
    fn from_config(config: &Self::Config, lifecycle: Lifecycle) -> Self;

    /// A consistent snapshot of the current value.
    fn value(&self) -> Value;

    /// The shared lifecycle state: the child's identity in its vec, and the mark that
    /// updates set (used for TTL expiry).
    fn lifecycle(&self) -> &Lifecycle;

    /// How many handles share this metric (the vec's own included); a vec frees an
    /// expired child only when it holds the last one.
    fn handle_count(&self) -> usize;

    /// A number that changes with every update that does not call
    /// [`Lifecycle::touch`]: TTL expiry counts a change of it since its previous look as
    /// an update. `0` (the default) for metric types whose updates all touch.
    ///
    /// A [`Counter`](crate::Counter) returns its integer total, so its `inc` is a single
    /// atomic add: a mark on the counter's cache line would make threads sharing a
    /// counter move that line between cores twice per increment, once to read the mark
    /// and once to add.
    fn untouched_progress(&self) -> u64 {
        0
    }
}

/// Per-metric state that vecs use: the child's identity in its vec (the hash and label
/// values a lookup compares) and whether the metric was updated since the last TTL
/// sweep looked at it.
///
/// It takes one 64-byte line (label values up to 46 bytes encoded are kept inline), and
/// metric types keep it first in their 64-byte-aligned shared state, with the values
/// updates write starting on the next line: a vec lookup answered from a thread cache
/// reads the line it compares without moving the line that threads updating the same
/// child take turns at.
pub struct Lifecycle {
    hash: u64,
    key: Key,
    touched: AtomicBool,
}

impl Default for Lifecycle {
    /// The lifecycle of a metric that is no vec's child.
    fn default() -> Self {
        Lifecycle::for_child(0, &[])
    }
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("label_values", &self.key.values().collect::<Vec<_>>())
            .field("touched", &self.touched)
            .finish()
    }
}

impl Lifecycle {
    /// The lifecycle of the vec child with these label values, hashed to `hash`.
    pub(crate) fn for_child(hash: u64, values: &[&str]) -> Self {
        Lifecycle {
            hash,
            key: Key::new(values),
            touched: AtomicBool::new(false),
        }
    }

    /// The hash of the child's label values (0 for a metric that is no child).
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// The child's label values.
    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// Whether this is the child with these label values, whose hash is `hash`: the
    /// hash rules most candidates out, the values decide.
    #[inline]
    pub(crate) fn is_child(&self, hash: u64, values: &[&str]) -> bool {
        self.hash == hash && self.key.matches(values)
    }

    /// Marks an update. Called with every update that does not move the metric's
    /// [`Metric::untouched_progress`] (before or after the value changes:
    /// TTL correctness rests on reference counts, see [`crate::vec::ttl`], and the mark only
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
