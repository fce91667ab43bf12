//! The live metric types and the [`Metric`] trait that lets a
//! [`MetricVec`](crate::MetricVec) create, snapshot and expire them.
//!
//! Every metric is a cheap `Clone` handle over shared atomics: clones update the same
//! value. Update paths are lock-free, allocation-free and use `Relaxed` orderings: a
//! metric value is a statistic read by a later gather, nothing else is published
//! through it, so only the atomicity of each update matters.

use crate::error::Result;
use crate::family::{MetricType, Value};
use crate::labels::LabelSet;
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
/// values a lookup compares), whether the metric was updated since the last TTL sweep
/// looked at it, and what the vec keeps about the child ([`Child`]).
///
/// Two 64-byte lines, first in the 64-byte-aligned shared state of every metric type,
/// with the values updates write starting on the next line. The identity takes the first
/// line (label values up to 46 bytes encoded are kept inline), so a vec lookup answered
/// from a thread cache reads one line and does not move the line that threads updating
/// the same child take turns at; the [`Child`] state takes the second, which gathers and
/// sweeps read beside the value. A vec's map and lists hold the metric itself: finding a
/// child's labels, key or marks follows no pointer beyond the metric's own.
#[repr(C, align(64))]
pub struct Lifecycle {
    hash: u64,
    key: Key,
    touched: AtomicBool,
    pub(crate) child: Child,
}

/// What a vec keeps about a child beside its identity, on a line of its own: read by
/// gathers and TTL sweeps, never by lookups or updates.
#[repr(C, align(64))]
pub(crate) struct Child {
    /// The child's full label set, as exported.
    pub(crate) labels: LabelSet,
    /// When the child was last seen updated, in the vec clock's nanoseconds.
    pub(crate) last_seen: AtomicU64,
    /// The metric's [`Metric::untouched_progress`] at that time.
    pub(crate) last_progress: AtomicU64,
    /// Set, under its shard's write lock, when the child leaves the vec's map: the
    /// gather's sorted list drops it at its next pass. Relaxed loads and stores: it
    /// publishes nothing, and readers that must see it (gathers, compaction) are
    /// ordered after the store by the vec's removal count (see `Inner::removed`).
    pub(crate) removed: AtomicBool,
}

impl Default for Lifecycle {
    /// The lifecycle of a metric that is no vec's child.
    fn default() -> Self {
        Lifecycle::for_child(0, &[], LabelSet::empty(), 0)
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
    /// The lifecycle of the vec child with these label values, hashed to `hash`, whose
    /// label set is `labels`, seen at `now` (vec clock nanoseconds).
    pub(crate) fn for_child(hash: u64, values: &[&str], labels: LabelSet, now: u64) -> Self {
        Lifecycle {
            hash,
            key: Key::new(values),
            touched: AtomicBool::new(false),
            child: Child {
                labels,
                last_seen: AtomicU64::new(now),
                last_progress: AtomicU64::new(0),
                removed: AtomicBool::new(false),
            },
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
