//! [`Histogram`]: observations counted into cumulative buckets; [`HistogramConfig`] and
//! the bucket helpers [`DEFAULT_BUCKETS`], [`linear_buckets`] and
//! [`exponential_buckets`].
//!
//! Observing is lock-free and, after a thread's first observation, allocation-free.
//! A gather running concurrently with observations always sees buckets, `_count` and
//! `_sum` from one and the same set of observations (each thread's shard is read
//! between two equal sequence numbers; see `bucket_counts.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::bounds::Bounds;
use super::bucket_counts::BucketCounts;
use super::shared::{HasLifecycle, Shared};
use super::timer::{Observe, Timer};
use super::{Lifecycle, Metric, NewChild};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::family::{Bucket, Exemplar, HistogramValue, MetricType, Value};
use crate::labels::LabelSet;

/// client_golang's default upper bounds, tuned for request latencies in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn bucket_error(reason: String) -> Error {
    Error::InvalidBuckets {
        metric: String::new(),
        reason,
    }
}

/// Collects `count` bounds, each `next(previous)` (computed step by step as in
/// client_golang, so the values match it bit for bit), checking they are finite and
/// strictly increasing.
fn make_buckets(count: usize, start: f64, next: impl Fn(f64) -> f64) -> Result<Vec<f64>> {
    if count < 1 {
        return Err(bucket_error("count must be at least 1".into()));
    }
    let mut bounds = Vec::new();
    bounds
        .try_reserve_exact(count)
        .map_err(|_| bucket_error(format!("cannot allocate {count} buckets")))?;
    bounds.extend(std::iter::successors(Some(start), |&b| Some(next(b))).take(count));
    check_bounds("", &bounds)?;
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return Err(bucket_error(format!("bound {b} is not finite")));
    }
    Ok(bounds)
}

/// `count` bounds starting at `start`, each `width` above the previous one.
///
/// Errors (where client_golang panics) if `count` is 0 or `width` is not positive, or
/// if the bounds would not be finite and strictly increasing.
///
/// ```
/// use promsdk::linear_buckets;
/// assert_eq!(linear_buckets(1.0, 2.0, 3).unwrap(), vec![1.0, 3.0, 5.0]);
/// assert!(linear_buckets(1.0, 0.0, 3).is_err());
/// ```
pub fn linear_buckets(start: f64, width: f64, count: usize) -> Result<Vec<f64>> {
    if width.is_nan() || width <= 0.0 {
        return Err(bucket_error(format!("width {width} must be positive")));
    }
    make_buckets(count, start, |b| b + width)
}

/// `count` bounds starting at `start`, each `factor` times the previous one.
///
/// Errors (where client_golang panics) if `count` is 0, `start` is not positive or
/// `factor` is not greater than 1, or if the bounds would not be finite.
///
/// ```
/// use promsdk::exponential_buckets;
/// assert_eq!(exponential_buckets(1.0, 2.0, 4).unwrap(), vec![1.0, 2.0, 4.0, 8.0]);
/// assert!(exponential_buckets(0.0, 2.0, 4).is_err());
/// assert!(exponential_buckets(1.0, 1.0, 4).is_err());
/// ```
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Result<Vec<f64>> {
    if start.is_nan() || start <= 0.0 {
        return Err(bucket_error(format!("start {start} must be positive")));
    }
    if factor.is_nan() || factor <= 1.0 {
        return Err(bucket_error(format!(
            "factor {factor} must be greater than 1"
        )));
    }
    make_buckets(count, start, |b| b * factor)
}

/// Checks upper bounds: none NaN, strictly increasing.
fn check_bounds(metric: &str, bounds: &[f64]) -> Result<()> {
    let error = |reason: String| Error::InvalidBuckets {
        metric: metric.to_owned(),
        reason,
    };
    if let Some(i) = bounds.iter().position(|b| b.is_nan()) {
        return Err(error(format!("bound #{i} is NaN")));
    }
    if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
        return Err(error(format!(
            "bounds must be strictly increasing, got {} then {}",
            w[0], w[1]
        )));
    }
    Ok(())
}

/// The upper bounds every histogram of a vec is built with; `+Inf` is implicit.
///
/// Built once and shared by all children (in an `Arc`, with the table that finds a
/// value's bucket among the bounds in a step or two). Validated by
/// [`Metric::check_config`] (or [`Histogram::new`]): bounds must be strictly increasing
/// and not NaN.
///
/// ```
/// use promsdk::{HistogramConfig, DEFAULT_BUCKETS};
/// assert_eq!(HistogramConfig::default().bounds(), &DEFAULT_BUCKETS[..]);
/// // A trailing +Inf is dropped: it is always there.
/// assert_eq!(HistogramConfig::new(&[1.0, f64::INFINITY]).bounds(), &[1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramConfig {
    bounds: Arc<Bounds>,
}

impl HistogramConfig {
    /// Upper bounds `bounds` (a trailing `+Inf` is dropped).
    pub fn new(bounds: &[f64]) -> Self {
        let bounds = match bounds.split_last() {
            Some((&last, rest)) if last == f64::INFINITY => rest,
            _ => bounds,
        };
        HistogramConfig {
            bounds: Arc::new(Bounds::new(bounds)),
        }
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> &[f64] {
        self.bounds.finite()
    }
}

impl Default for HistogramConfig {
    fn default() -> Self {
        HistogramConfig::new(&DEFAULT_BUCKETS)
    }
}

/// The lifecycle first: its padding keeps the identity that lookups read off the line
/// of the handle count before it (see [`Lifecycle`]). What observations write, the
/// buckets, is an allocation of its own; the rest is read only. No alignment beyond the
/// allocator's 16 bytes, which would take its slow path for every child a vec creates.
#[derive(Debug)]
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    bounds: Arc<Bounds>,
    counts: BucketCounts,
    has_exemplar: AtomicBool,
    /// The latest exemplar per bucket, `+Inf` last. A lock per bucket, taken only by
    /// `observe_with_exemplar` and by gathers; plain `observe` never touches it.
    exemplars: Box<[Mutex<Option<Exemplar>>]>,
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// A histogram: counts observations into buckets with fixed upper bounds, and keeps
/// their count and sum.
///
/// ```
/// use promsdk::{Histogram, HistogramConfig, Metric};
/// let h = Histogram::new(&HistogramConfig::new(&[1.0, 5.0])).unwrap();
/// h.observe(0.5);
/// h.observe(3.0);
/// h.observe(9.0);
/// let snap = h.snapshot();
/// let cumulative: Vec<u64> = snap.buckets.iter().map(|b| b.cumulative_count).collect();
/// assert_eq!(cumulative, [1, 2, 3]); // le="1", le="5", le="+Inf"
/// assert_eq!((snap.count, snap.sum), (3, 12.5));
/// ```
#[derive(Debug, Clone)]
pub struct Histogram(Shared<Core>);

impl Histogram {
    /// A histogram with the given bounds, checked as [`Metric::check_config`] does (the
    /// error names no metric: a standalone histogram does not know its name).
    pub fn new(config: &HistogramConfig) -> Result<Self> {
        Self::check_config("", config)?;
        Ok(Self::from_config(config, NewChild::default()))
    }

    /// Records one observation. Lock-free, with no atomic read-modify-write: each
    /// thread counts into a shard of its own (made by its first observation of this
    /// histogram, the one allocation), which no other thread writes. Beyond eight
    /// threads at once, the rest share one 16-byte compare-and-swap per observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.0.lifecycle.touch();
        self.0.counts.observe(self.0.bounds.index(v), v);
    }

    /// Records one observation and keeps `exemplar_labels` (e.g. `trace_id`) as the
    /// latest exemplar of the bucket `v` falls into, stamped with the current time.
    ///
    /// # Errors
    ///
    /// [`Error::ExemplarTooLong`] if the exemplar's label names and values have more
    /// than [`MAX_EXEMPLAR_LABEL_CHARS`](crate::MAX_EXEMPLAR_LABEL_CHARS) characters
    /// together (OpenMetrics' limit; client_golang panics here without observing). Then
    /// nothing changes: the observation is not counted and no exemplar is kept.
    ///
    /// ```
    /// use promsdk::{Error, Histogram, LabelSet};
    /// let h = Histogram::default();
    /// let trace = LabelSet::from_pairs("h", &[("trace_id", "abc")]).unwrap();
    /// h.observe_with_exemplar(0.3, trace.clone()).unwrap();
    /// let snap = h.snapshot();
    /// let bucket = snap.buckets.iter().find(|b| b.exemplar.is_some()).unwrap();
    /// assert_eq!(bucket.upper_bound, 0.5);
    /// assert_eq!(bucket.exemplar.as_ref().unwrap().labels, trace);
    ///
    /// let long = LabelSet::from_pairs("h", &[("trace_id", &"x".repeat(121))]).unwrap();
    /// let err = h.observe_with_exemplar(0.3, long).unwrap_err();
    /// assert!(matches!(err, Error::ExemplarTooLong { chars: 129, .. }));
    /// assert_eq!(h.snapshot().count, 1);
    /// ```
    pub fn observe_with_exemplar(&self, v: f64, exemplar_labels: LabelSet) -> Result<()> {
        Exemplar::check_labels("", &exemplar_labels)?;
        let bucket = self.0.bounds.index(v);
        self.0.counts.observe(bucket, v);
        if let Some(cell) = self.0.exemplars.get(bucket) {
            *cell.lock() = Some(Exemplar {
                labels: exemplar_labels,
                value: v,
                timestamp: Some(SystemClock.unix_seconds()),
            });
            // Release: pairs with the Acquire in `snapshot`, so a gather that sees the
            // flag also looks behind the locks (which order the exemplar themselves).
            self.0.has_exemplar.store(true, Ordering::Release);
        }
        self.0.lifecycle.touch();
        Ok(())
    }

    /// Starts a [`Timer`] that observes the elapsed seconds (system clock) when dropped.
    ///
    /// ```
    /// use promsdk::Histogram;
    /// let h = Histogram::default();
    /// drop(h.start_timer());
    /// assert_eq!(h.snapshot().count, 1);
    /// ```
    pub fn start_timer(&self) -> Timer<Histogram> {
        Timer::new(self.clone())
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> &[f64] {
        self.0.bounds.finite()
    }

    /// A consistent snapshot: cumulative buckets ending with `+Inf` (whose count equals
    /// `count`), count and sum, all from the same set of observations.
    pub fn snapshot(&self) -> HistogramValue {
        let bounds = self.0.bounds.finite();
        let mut counts = vec![0u64; bounds.len()];
        let totals = self.0.counts.snapshot(&mut counts);
        // Acquire: pairs with the Release in `observe_with_exemplar`.
        let with_exemplars = self.0.has_exemplar.load(Ordering::Acquire);
        let exemplar = |i: usize| {
            if with_exemplars {
                self.0.exemplars.get(i).and_then(|e| e.lock().clone())
            } else {
                None
            }
        };
        let mut cumulative = 0u64;
        let mut buckets: Vec<Bucket> = bounds
            .iter()
            .zip(&counts)
            .enumerate()
            .map(|(i, (&upper_bound, &c))| {
                cumulative += c;
                Bucket {
                    upper_bound,
                    cumulative_count: cumulative,
                    exemplar: exemplar(i),
                }
            })
            .collect();
        buckets.push(Bucket {
            upper_bound: f64::INFINITY,
            cumulative_count: totals.count,
            exemplar: exemplar(bounds.len()),
        });
        HistogramValue {
            buckets,
            count: totals.count,
            sum: totals.sum,
            created: None,
        }
    }
}

impl Observe for Histogram {
    fn observe(&self, v: f64) {
        Histogram::observe(self, v);
    }
}

impl Default for Histogram {
    /// A histogram with [`DEFAULT_BUCKETS`].
    fn default() -> Self {
        Self::from_config(&HistogramConfig::default(), NewChild::default())
    }
}

impl Metric for Histogram {
    type Config = HistogramConfig;
    const TYPE: MetricType = MetricType::Histogram;

    fn check_config(metric: &str, config: &HistogramConfig) -> Result<()> {
        check_bounds(metric, config.bounds())
    }

    fn from_config(config: &HistogramConfig, child: NewChild<'_>) -> Self {
        let bounds = config.bounds.clone();
        Histogram(Shared::new(child, |lifecycle| Core {
            lifecycle,
            counts: BucketCounts::new(bounds.finite().len()),
            has_exemplar: AtomicBool::new(false),
            exemplars: (0..=bounds.finite().len())
                .map(|_| Mutex::new(None))
                .collect(),
            bounds,
        }))
    }

    fn value(&self) -> Value {
        Value::Histogram(Box::new(self.snapshot()))
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(Histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifecycle comes first, its identity (which a lookup reads) off the line of the
    /// handle count (which a clone writes), without the over-alignment that takes the
    /// allocator's slow path.
    #[test]
    fn lifecycle_first_without_over_alignment() {
        crate::metrics::layout::assert_lifecycle_first(
            std::mem::offset_of!(Core, lifecycle),
            std::mem::align_of::<Core>(),
        );
    }

    fn cumulative(h: &Histogram) -> Vec<u64> {
        h.snapshot()
            .buckets
            .iter()
            .map(|b| b.cumulative_count)
            .collect()
    }

    #[test]
    fn bounds_are_inclusive_and_nan_goes_to_inf() {
        let h = Histogram::new(&HistogramConfig::new(&[1.0, 2.0])).unwrap();
        for v in [1.0, 2.0, 2.5, f64::NAN, f64::NEG_INFINITY] {
            h.observe(v);
        }
        assert_eq!(cumulative(&h), [2, 3, 5]);
    }

    #[test]
    fn binary_search_matches_linear_scan() {
        let many = linear_buckets(0.0, 1.0, 100).unwrap();
        let h = Histogram::new(&HistogramConfig::new(&many)).unwrap();
        for v in [-1.0, 0.0, 0.5, 42.0, 99.0, 99.5, f64::NAN] {
            h.observe(v);
        }
        let snap = h.snapshot();
        let le = |bound: f64| {
            snap.buckets
                .iter()
                .find(|b| b.upper_bound == bound)
                .unwrap()
                .cumulative_count
        };
        assert_eq!((le(0.0), le(1.0), le(42.0), le(99.0)), (2, 3, 4, 5));
        assert_eq!(snap.count, 7);
    }

    #[test]
    fn invalid_bounds_are_rejected_with_the_metric_name() {
        for bad in [&[1.0, 1.0][..], &[2.0, 1.0], &[f64::NAN]] {
            let err = Histogram::check_config("latency", &HistogramConfig::new(bad)).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidBuckets { metric, .. } if metric == "latency"),
                "{bad:?}: {err}"
            );
        }
        assert!(Histogram::check_config("ok", &HistogramConfig::new(&[])).is_ok());
    }

    #[test]
    fn bucket_helpers_follow_client_golang_rules() {
        assert_eq!(
            exponential_buckets(100.0, 1.2, 3).unwrap(),
            vec![100.0, 120.0, 144.0]
        );
        assert!(linear_buckets(0.0, 1.0, 0).is_err());
        assert!(linear_buckets(0.0, -1.0, 2).is_err());
        assert!(linear_buckets(0.0, f64::NAN, 2).is_err());
        assert!(linear_buckets(1e300, 1.0, 2).is_err(), "not increasing");
        assert!(exponential_buckets(1.0, f64::NAN, 2).is_err());
        assert!(exponential_buckets(1.0, 1e300, 3).is_err(), "overflows");
        assert!(linear_buckets(0.0, 1.0, usize::MAX).is_err());
    }

    #[test]
    fn exemplar_goes_to_its_bucket_with_a_timestamp() {
        let h = Histogram::new(&HistogramConfig::new(&[1.0])).unwrap();
        let first = LabelSet::from_pairs("h", &[("trace_id", "1")]).unwrap();
        let latest = LabelSet::from_pairs("h", &[("trace_id", "2")]).unwrap();
        h.observe_with_exemplar(5.0, first).unwrap();
        h.observe_with_exemplar(7.0, latest.clone()).unwrap();
        let snap = h.snapshot();
        assert!(snap.buckets[0].exemplar.is_none());
        let e = snap.buckets[1].exemplar.as_ref().unwrap();
        assert_eq!((e.labels.clone(), e.value), (latest, 7.0));
        assert!(e.timestamp.unwrap() > 1.7e9);
        assert_eq!(snap.count, 2);
    }

    #[test]
    fn too_long_exemplar_is_neither_observed_nor_kept() {
        let h = Histogram::new(&HistogramConfig::new(&[1.0])).unwrap();
        // Two labels: "span" (4) + "trace" (5) + 2 × 59 "ü" (2 bytes each) = 127, so a
        // value one code point longer reaches 128 and two longer 129.
        let labels = |extra: &str| {
            let value = format!("{}{extra}", "ü".repeat(59));
            LabelSet::from_pairs("h", &[("trace", &value), ("span", &"ü".repeat(59))]).unwrap()
        };
        let at_limit = labels("ß");
        h.observe_with_exemplar(0.5, at_limit.clone()).unwrap();
        let err = h.observe_with_exemplar(5.0, labels("ßß")).unwrap_err();
        match err {
            Error::ExemplarTooLong {
                label_names,
                chars,
                limit,
                ..
            } => {
                assert_eq!(label_names, ["span", "trace"]);
                assert_eq!((chars, limit), (129, 128));
            }
            other => panic!("expected ExemplarTooLong, got {other:?}"),
        }
        let snap = h.snapshot();
        assert_eq!((snap.count, snap.sum), (1, 0.5));
        assert_eq!(snap.buckets[1].cumulative_count, 1);
        assert!(snap.buckets[1].exemplar.is_none(), "+Inf got no exemplar");
        let kept = snap.buckets[0].exemplar.as_ref().unwrap();
        assert_eq!(kept.labels, at_limit);
    }

    #[test]
    fn clones_share_and_count_handles() {
        let h = Histogram::default();
        let h2 = h.clone();
        h2.observe(0.1);
        assert_eq!(h.snapshot().count, 1);
        assert_eq!(h.handle_count(), 2);
    }
}
