//! [`Summary`]: quantiles over a sliding time window, plus a count and sum of all
//! observations, configured by [`SummaryConfig`] as client_golang's `SummaryOpts`.
//!
//! Without objectives a summary is just a consistent count and sum, kept lock-free with
//! the same bucket counts as a histogram (one bucket, `+Inf`). With objectives,
//! observations go through a mutex, as in client_golang: they are buffered (no
//! allocation) and merged in sorted batches into `age_buckets` CKMS streams
//! (`quantile.rs`); one stream is reset every `max_age / age_buckets`, and quantiles
//! come from the oldest one, which has seen between
//! `max_age * (age_buckets - 1) / age_buckets` and `max_age` of observations.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::bucket_counts::BucketCounts;
use super::quantile::QuantileStream;
use super::shared::{HasLifecycle, Shared};
use super::timer::{Observe, Timer};
use super::{Lifecycle, Metric, NewChild};
use crate::clock::{system_clock, Clock};
use crate::error::{Error, Result};
use crate::family::{MetricType, SummaryValue, Value};

/// Observations buffered before they are merged into the streams (client_golang's
/// `DefBufCap`).
const BUFFER_CAPACITY: usize = 500;

/// client_golang's default `MaxAge`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// client_golang's default `AgeBuckets`.
pub const DEFAULT_AGE_BUCKETS: u32 = 5;

/// How every summary of a vec is built: quantile objectives and their sliding window.
///
/// The default has no objectives (only `_count` and `_sum`, as in client_golang), a
/// [`DEFAULT_MAX_AGE`] of 10 minutes in [`DEFAULT_AGE_BUCKETS`] = 5 buckets, and the
/// system clock. Validated by [`Metric::check_config`] (or [`Summary::new`]).
///
/// ```
/// use std::time::Duration;
/// use promsdk::SummaryConfig;
/// let config = SummaryConfig::default()
///     .objectives(&[(0.99, 0.001), (0.5, 0.05)])
///     .max_age(Duration::from_secs(60));
/// assert_eq!(config.get_objectives(), &[(0.5, 0.05), (0.99, 0.001)]);
/// ```
#[derive(Debug, Clone)]
pub struct SummaryConfig {
    objectives: Arc<[(f64, f64)]>,
    max_age: Duration,
    age_buckets: u32,
    clock: Arc<dyn Clock>,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig {
            objectives: Arc::new([]),
            max_age: DEFAULT_MAX_AGE,
            age_buckets: DEFAULT_AGE_BUCKETS,
            clock: system_clock(),
        }
    }
}

impl SummaryConfig {
    /// Sets the `(quantile, allowed absolute error)` objectives (sorted by quantile).
    pub fn objectives(mut self, objectives: &[(f64, f64)]) -> Self {
        let mut sorted = objectives.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.objectives = sorted.into();
        self
    }

    /// Sets how long an observation influences the quantiles.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Sets into how many buckets the window is cut (how smoothly it slides).
    pub fn age_buckets(mut self, age_buckets: u32) -> Self {
        self.age_buckets = age_buckets;
        self
    }

    /// Sets the clock that drives the window (a `ManualClock` in tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The objectives, sorted by quantile.
    pub fn get_objectives(&self) -> &[(f64, f64)] {
        &self.objectives
    }

    /// The window length.
    pub fn get_max_age(&self) -> Duration {
        self.max_age
    }

    /// The number of age buckets.
    pub fn get_age_buckets(&self) -> u32 {
        self.age_buckets
    }

    /// How long each age bucket lasts, in nanoseconds (at least 1 once validated).
    fn bucket_nanos(&self) -> u64 {
        let nanos = self.max_age.as_nanos() / u128::from(self.age_buckets.max(1));
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    fn check(&self, metric: &str) -> Result<()> {
        let error = |reason: String| {
            Err(Error::InvalidBuckets {
                metric: metric.to_owned(),
                reason,
            })
        };
        for &(q, e) in self.objectives.iter() {
            if !(0.0..=1.0).contains(&q) {
                return error(format!("quantile {q} is not in [0, 1]"));
            }
            if !(0.0..=1.0).contains(&e) {
                return error(format!(
                    "allowed error {e} for quantile {q} is not in [0, 1]"
                ));
            }
        }
        if let Some(w) = self.objectives.windows(2).find(|w| w[0].0 == w[1].0) {
            return error(format!("quantile {} is given twice", w[0].0));
        }
        if self.age_buckets == 0 {
            return error("age_buckets must be at least 1".into());
        }
        if self.max_age.as_nanos() < u128::from(self.age_buckets) {
            return error(format!(
                "max_age {:?} is shorter than 1ns per age bucket",
                self.max_age
            ));
        }
        Ok(())
    }
}

/// The sliding window of a summary with objectives; always behind the summary's mutex.
#[derive(Debug)]
struct Window {
    /// Observations not yet merged; capacity [`BUFFER_CAPACITY`], never exceeded.
    buffer: Vec<f64>,
    streams: Box<[QuantileStream]>,
    /// The stream quantiles are read from: the one reset longest ago.
    head: usize,
    /// When (monotonic nanoseconds) the head stream is reset and the next takes over.
    head_expires: u64,
    bucket_nanos: u64,
    count: u64,
    sum: f64,
}

impl Window {
    fn new(config: &SummaryConfig) -> Self {
        let bucket_nanos = config.bucket_nanos().max(1);
        let streams = (0..config.age_buckets.max(1))
            .map(|_| QuantileStream::new(config.objectives.clone()))
            .collect();
        Window {
            buffer: Vec::with_capacity(BUFFER_CAPACITY),
            streams,
            head: 0,
            head_expires: config.clock.monotonic_nanos().saturating_add(bucket_nanos),
            bucket_nanos,
            count: 0,
            sum: 0.0,
        }
    }

    /// Merges the buffer into every stream.
    fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.buffer.sort_unstable_by(f64::total_cmp);
        for stream in self.streams.iter_mut() {
            stream.insert_sorted(&self.buffer);
        }
        self.buffer.clear();
    }

    /// Flushes what was observed before `now` (so it is reset with its stream), then
    /// resets every stream whose age bucket ended by `now` and moves the head on.
    fn advance(&mut self, now: u64) {
        if now < self.head_expires {
            return;
        }
        self.flush();
        let expired = (now - self.head_expires) / self.bucket_nanos + 1;
        let len = self.streams.len();
        if expired >= len as u64 {
            self.streams.iter_mut().for_each(QuantileStream::reset);
        } else {
            for i in 0..expired as usize {
                self.streams[(self.head + i) % len].reset();
            }
        }
        self.head = (self.head + (expired % len as u64) as usize) % len;
        self.head_expires = self
            .head_expires
            .saturating_add(expired.saturating_mul(self.bucket_nanos));
    }

    fn observe(&mut self, now: u64, v: f64) {
        self.advance(now);
        self.count += 1;
        self.sum += v;
        // NaN has no rank: it counts in `_count` and `_sum` but not in the quantiles.
        if !v.is_nan() {
            self.buffer.push(v);
            if self.buffer.len() >= BUFFER_CAPACITY {
                self.flush();
            }
        }
    }
}

#[derive(Debug)]
enum Kind {
    /// No objectives: count and sum only, lock-free.
    Plain(BucketCounts),
    /// Objectives: the window, behind a mutex as in client_golang.
    Windowed(Mutex<Window>),
}

/// The lifecycle first, as in every metric's state (see [`Lifecycle`]): a gather asks for
/// the line after it.
#[derive(Debug)]
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    objectives: Arc<[(f64, f64)]>,
    clock: Arc<dyn Clock>,
    kind: Kind,
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// A summary: quantiles of recent observations (over a sliding window), plus the count
/// and sum of all observations.
///
/// ```
/// use promsdk::{Summary, SummaryConfig};
/// let s = Summary::new(SummaryConfig::default().objectives(&[(0.5, 0.05)])).unwrap();
/// for v in 1..=100 {
///     s.observe(f64::from(v));
/// }
/// let snap = s.snapshot();
/// assert_eq!((snap.count, snap.sum), (100, 5050.0));
/// let (q, median) = snap.quantiles[0];
/// assert_eq!(q, 0.5);
/// assert!((45.0..=55.0).contains(&median), "{median}");
/// ```
#[derive(Debug, Clone)]
pub struct Summary(Shared<Core>);

impl Summary {
    /// A summary built from `config`, checked as [`Metric::check_config`] does (the error
    /// names no metric: a standalone summary does not know its name).
    pub fn new(config: SummaryConfig) -> Result<Self> {
        Self::check_config("", &config)?;
        Ok(Self::from_config(&config, NewChild::default()))
    }

    /// Records one observation. Without objectives lock-free; with objectives it takes
    /// the summary's mutex (and every `BUFFER_CAPACITY` observations merges the buffer
    /// into the streams while holding it, where client_golang hands that to a
    /// goroutine). Never allocates outside that merge.
    #[inline]
    pub fn observe(&self, v: f64) {
        match &self.0.kind {
            Kind::Plain(counts) => counts.observe(0, v),
            Kind::Windowed(window) => {
                let now = self.0.clock.monotonic_nanos();
                window.lock().observe(now, v);
            }
        }
        self.0.lifecycle.touch();
    }

    /// Starts a [`Timer`] on the summary's clock that observes the elapsed seconds when
    /// dropped.
    pub fn start_timer(&self) -> Timer<Summary> {
        Timer::with_clock(self.clone(), self.0.clock.clone())
    }

    /// A consistent snapshot: quantiles (NaN when no observation is in the window),
    /// count and sum, all taken together.
    pub fn snapshot(&self) -> SummaryValue {
        match &self.0.kind {
            Kind::Plain(counts) => {
                let totals = counts.snapshot(&mut []);
                SummaryValue {
                    quantiles: Vec::new(),
                    count: totals.count,
                    sum: totals.sum,
                    created: None,
                }
            }
            Kind::Windowed(window) => {
                let now = self.0.clock.monotonic_nanos();
                let mut w = window.lock();
                w.advance(now);
                w.flush();
                let head = &w.streams[w.head];
                let quantiles = self
                    .0
                    .objectives
                    .iter()
                    .map(|&(q, _)| (q, head.query(q)))
                    .collect();
                SummaryValue {
                    quantiles,
                    count: w.count,
                    sum: w.sum,
                    created: None,
                }
            }
        }
    }
}

impl Observe for Summary {
    fn observe(&self, v: f64) {
        Summary::observe(self, v);
    }
}

impl Default for Summary {
    /// A summary without objectives: only count and sum.
    fn default() -> Self {
        Self::from_config(&SummaryConfig::default(), NewChild::default())
    }
}

impl Metric for Summary {
    type Config = SummaryConfig;
    const TYPE: MetricType = MetricType::Summary;

    fn check_config(metric: &str, config: &SummaryConfig) -> Result<()> {
        config.check(metric)
    }

    fn from_config(config: &SummaryConfig, child: NewChild<'_>) -> Self {
        let kind = if config.objectives.is_empty() {
            Kind::Plain(BucketCounts::new(0))
        } else {
            Kind::Windowed(Mutex::new(Window::new(config)))
        };
        Summary(Shared::new(child, |lifecycle| Core {
            lifecycle,
            objectives: config.objectives.clone(),
            clock: config.clock.clone(),
            kind,
        }))
    }

    fn value(&self) -> Value {
        Value::Summary(Box::new(self.snapshot()))
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(Summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

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

    fn windowed(clock: &ManualClock) -> Summary {
        let config = SummaryConfig::default()
            .objectives(&[(0.5, 0.05), (0.9, 0.01)])
            .max_age(Duration::from_secs(100))
            .age_buckets(5)
            .clock(Arc::new(clock.clone()));
        Summary::new(config).unwrap()
    }

    #[test]
    fn old_observations_leave_the_quantiles_but_not_count_and_sum() {
        let clock = ManualClock::new();
        let s = windowed(&clock);
        for _ in 0..1_000 {
            s.observe(100.0);
        }
        clock.advance(Duration::from_secs(50));
        assert_eq!(s.snapshot().quantiles, [(0.5, 100.0), (0.9, 100.0)]);
        for _ in 0..10 {
            s.observe(1.0);
        }
        // 100s after the first batch its age bucket expired; the 1.0s are 50s old.
        clock.advance(Duration::from_secs(50));
        let snap = s.snapshot();
        assert_eq!(snap.quantiles, [(0.5, 1.0), (0.9, 1.0)]);
        assert_eq!((snap.count, snap.sum), (1_010, 100_010.0));
        // Long idle: every stream is reset; quantiles are NaN, totals stay.
        clock.advance(Duration::from_secs(1_000));
        let snap = s.snapshot();
        assert!(snap.quantiles.iter().all(|(_, v)| v.is_nan()), "{snap:?}");
        assert_eq!(snap.count, 1_010);
    }

    #[test]
    fn window_slides_one_age_bucket_at_a_time() {
        let clock = ManualClock::new();
        let config = SummaryConfig::default()
            .objectives(&[(0.0, 0.0), (1.0, 0.0)])
            .max_age(Duration::from_secs(100))
            .age_buckets(5)
            .clock(Arc::new(clock.clone()));
        let s = Summary::new(config).unwrap();
        // One observation per 20s age bucket: value v at t = 20v seconds.
        for v in 0..10 {
            s.observe(f64::from(v));
            clock.advance(Duration::from_secs(20));
        }
        // At t=200s the head stream was reset at t=120s: it holds exactly 6..=9.
        let snap = s.snapshot();
        assert_eq!(snap.quantiles, [(0.0, 6.0), (1.0, 9.0)]);
        assert_eq!(snap.count, 10);
    }

    #[test]
    fn invalid_objectives_are_rejected_with_the_metric_name() {
        let cases = [
            SummaryConfig::default().objectives(&[(1.5, 0.01)]),
            SummaryConfig::default().objectives(&[(0.5, f64::NAN)]),
            SummaryConfig::default().objectives(&[(0.5, 0.1), (0.5, 0.01)]),
            SummaryConfig::default().age_buckets(0),
            SummaryConfig::default().max_age(Duration::ZERO),
        ];
        for config in cases {
            let err = Summary::check_config("rpc", &config).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidBuckets { metric, .. } if metric == "rpc"),
                "{config:?}: {err}"
            );
        }
    }

    #[test]
    fn quantiles_of_random_data_are_within_the_objectives() {
        let clock = ManualClock::new();
        let objectives = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)];
        let config = SummaryConfig::default()
            .objectives(&objectives)
            .clock(Arc::new(clock.clone()));
        let s = Summary::new(config).unwrap();
        // A linear congruential sequence: deterministic, well spread over [0, 1000).
        let mut x: u64 = 12345;
        let mut values = Vec::new();
        for _ in 0..10_007 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = (x >> 33) as f64 % 1000.0;
            values.push(v);
            s.observe(v);
            clock.advance(Duration::from_millis(10));
        }
        values.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let snap = s.snapshot();
        assert_eq!(snap.count, 10_007);
        for (&(q, e), &(got_q, v)) in objectives.iter().zip(&snap.quantiles) {
            assert_eq!(q, got_q);
            let below = values.partition_point(|&x| x < v) as f64;
            let at_most = values.partition_point(|&x| x <= v) as f64;
            assert!(
                at_most >= ((q - e) * n).floor() && below <= ((q + e) * n).ceil(),
                "q={q}: {v} has ranks {below}..{at_most} of {n}"
            );
        }
    }

    #[test]
    fn nan_counts_but_has_no_rank() {
        let clock = ManualClock::new();
        let s = windowed(&clock);
        s.observe(f64::NAN);
        s.observe(3.0);
        let snap = s.snapshot();
        assert_eq!(snap.count, 2);
        assert!(snap.sum.is_nan());
        assert_eq!(snap.quantiles[0], (0.5, 3.0));
    }

    #[test]
    fn without_objectives_only_count_and_sum() {
        let s = Summary::default();
        s.observe(2.0);
        s.observe(3.0);
        let snap = s.snapshot();
        assert!(snap.quantiles.is_empty());
        assert_eq!((snap.count, snap.sum), (2, 5.0));
    }
}
