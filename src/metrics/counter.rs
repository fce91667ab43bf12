//! [`Counter`]: a monotonically increasing total with an integer fast path.

use super::shared::{HasLifecycle, Shared};
use super::{atomic_f64_add, Lifecycle, Metric, NewChild, STATE_GAP};
use crate::error::{Error, Result};
use crate::family::{Exemplar, MetricType, Value};
use crate::labels::LabelSet;
use crate::sync::{AtomicBool, AtomicU64, Mutex, Ordering};

/// The lifecycle, which every vec lookup reads (its identity), then the totals, which
/// updates write: threads updating one child through its vec move only the totals' line
/// between their cores, while the identity's stays shared (one line for both cost two
/// transfers per update: one to read the label values, one to add). The lifecycle keeps
/// its identity off the totals' line, and `_after`, with the label set's head
/// placed after the state, keeps the totals out of the 128-byte block of whatever the
/// allocator places next (see [`STATE_GAP`](super::STATE_GAP)).
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    totals: Totals,
    _after: [u8; STATE_GAP],
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// 16-byte aligned, so that it ends where the padding after it starts counting (see
/// `STATE_GAP`).
#[repr(C, align(16))]
struct Totals {
    /// Whole increments: one `fetch_add`, the fast path.
    int: AtomicU64,
    /// Fractional increments, as `f64` bits.
    float: AtomicU64,
    has_exemplar: AtomicBool,
    exemplar: Mutex<Option<Box<Exemplar>>>,
}

impl Core {
    fn new(lifecycle: Lifecycle) -> Self {
        Core {
            lifecycle,
            totals: Totals {
                int: AtomicU64::new(0),
                float: AtomicU64::new(0),
                has_exemplar: AtomicBool::new(false),
                exemplar: Mutex::new(None),
            },
            _after: [0; STATE_GAP],
        }
    }
}

/// A counter: a total that only goes up (until the process restarts).
///
/// `inc` and `inc_by` take the integer fast path (one atomic add); `add` takes any
/// non-negative `f64`. The exposed value is the sum of both.
///
/// ```
/// use promsdk::Counter;
/// let c = Counter::default();
/// c.inc();
/// c.inc_by(2);
/// c.add(0.5).unwrap();
/// assert!(c.add(-1.0).is_err());
/// assert_eq!(c.get(), 3.5);
/// ```
#[derive(Clone)]
pub struct Counter(Shared<Core>);

impl Default for Counter {
    fn default() -> Self {
        Self::from_config(&(), NewChild::default())
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds a whole number.
    ///
    /// One atomic add and no update mark: TTL expiry sees the integer total change (see
    /// [`Metric::untouched_progress`]). Only adding zero, which changes nothing, marks.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        if n == 0 {
            self.0.lifecycle.touch();
        }
        // Relaxed: only atomicity matters (see the `metrics` module doc).
        self.0.totals.int.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `v`, which must be non-negative and not NaN.
    #[inline]
    pub fn add(&self, v: f64) -> Result<()> {
        if v.is_nan() || v < 0.0 {
            return Err(Error::NegativeCounterAdd { value: v });
        }
        self.0.lifecycle.touch();
        atomic_f64_add(&self.0.totals.float, v);
        Ok(())
    }

    /// Adds `v` and records an exemplar (e.g. `trace_id`) shown in OpenMetrics output,
    /// replacing the previous one.
    ///
    /// # Errors
    ///
    /// Nothing changes (neither the total nor the exemplar) and
    /// - [`Error::ExemplarTooLong`] if the exemplar's label names and values have more
    ///   than [`MAX_EXEMPLAR_LABEL_CHARS`](crate::MAX_EXEMPLAR_LABEL_CHARS) characters
    ///   together (OpenMetrics' limit; client_golang panics here without adding);
    /// - [`Error::NegativeCounterAdd`] if `v` is negative or NaN.
    ///
    /// ```
    /// use promsdk::{Counter, Error, LabelSet};
    /// let c = Counter::default();
    /// let trace = LabelSet::from_pairs("c", &[("trace_id", "abc")]).unwrap();
    /// c.add_with_exemplar(2.0, trace).unwrap();
    /// // "trace_id" (8) + 121 characters is one over the limit: nothing is recorded.
    /// let long = LabelSet::from_pairs("c", &[("trace_id", &"x".repeat(121))]).unwrap();
    /// let err = c.add_with_exemplar(5.0, long).unwrap_err();
    /// assert!(matches!(err, Error::ExemplarTooLong { chars: 129, limit: 128, .. }));
    /// assert_eq!(c.get(), 2.0);
    /// ```
    pub fn add_with_exemplar(&self, v: f64, exemplar_labels: LabelSet) -> Result<()> {
        Exemplar::check_labels("", &exemplar_labels)?;
        self.add(v)?;
        *self.0.totals.exemplar.lock() = Some(Box::new(Exemplar {
            labels: exemplar_labels,
            value: v,
            timestamp: Some(crate::clock::Clock::unix_seconds(
                &crate::clock::SystemClock,
            )),
        }));
        // Release: pairs with the Acquire in `value` so a gather that sees the flag
        // finds the exemplar behind the lock (the lock itself also orders it).
        self.0.totals.has_exemplar.store(true, Ordering::Release);
        Ok(())
    }

    /// The current total.
    pub fn get(&self) -> f64 {
        self.0.totals.int.load(Ordering::Relaxed) as f64
            + f64::from_bits(self.0.totals.float.load(Ordering::Relaxed))
    }
}

impl Metric for Counter {
    type Config = ();
    const TYPE: MetricType = MetricType::Counter;

    fn check_config(_: &str, _: &()) -> Result<()> {
        Ok(())
    }

    fn from_config(_: &(), child: NewChild<'_>) -> Self {
        Counter(Shared::new(child, Core::new))
    }

    fn value(&self) -> Value {
        let exemplar = if self.0.totals.has_exemplar.load(Ordering::Acquire) {
            self.0.totals.exemplar.lock().clone()
        } else {
            None
        };
        Value::Counter {
            total: self.get(),
            created: None,
            exemplar,
        }
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    /// The integer total, which every `inc_by` of at least one changes (it would take
    /// 2^64 increments between two looks of a sweep to come back to the same value).
    fn untouched_progress(&self) -> u64 {
        // Relaxed: an older total only makes a child look idle; a sweep frees one only
        // after a second look ordered after the drops of the handles that updated it
        // (see `crate::vec::ttl`), and a gather hides it for that gather at most. A
        // plain load: a read-modify-write here (as before) took the totals' line
        // exclusive at every gather of a TTL vec, a locked instruction per child.
        self.0.totals.int.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity a lookup reads, the totals an update writes and the handle count a
    /// clone writes are on different 64-byte lines, without the over-alignment that
    /// would take the allocator's slow path.
    #[test]
    fn identity_and_totals_have_cache_lines_of_their_own() {
        crate::metrics::layout::assert_state_apart(
            std::mem::offset_of!(Core, lifecycle),
            (
                std::mem::offset_of!(Core, totals),
                std::mem::size_of::<Totals>(),
            ),
            std::mem::size_of::<Core>(),
            std::mem::align_of::<Core>(),
        );
    }

    /// `inc` is one atomic add: no mark, but the progress TTL expiry compares moves;
    /// adding zero (which moves nothing) and fractional adds mark.
    #[test]
    fn whole_increments_move_the_progress_and_the_rest_marks() {
        let c = Counter::default();
        c.inc();
        c.inc_by(2);
        assert!(!c.lifecycle().take_touched());
        assert_eq!(c.untouched_progress(), 3);
        c.inc_by(0);
        assert!(c.lifecycle().take_touched());
        c.add(0.5).unwrap();
        assert!(c.lifecycle().take_touched());
        assert_eq!(c.untouched_progress(), 3);
    }

    #[test]
    fn clones_share_the_value_across_threads() {
        let c = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let c = c.clone();
                s.spawn(move || {
                    for _ in 0..10_000 {
                        c.inc();
                        c.add(0.5).unwrap();
                    }
                });
            }
        });
        assert_eq!(c.get(), 60_000.0);
    }

    #[test]
    fn rejects_negative_and_nan() {
        let c = Counter::default();
        assert!(matches!(c.add(-0.1), Err(Error::NegativeCounterAdd { .. })));
        assert!(c.add(f64::NAN).is_err());
        assert_eq!(c.get(), 0.0);
    }

    #[test]
    fn exemplar_is_reported() {
        let c = Counter::default();
        let labels = LabelSet::from_pairs("c", &[("trace_id", "abc")]).unwrap();
        c.add_with_exemplar(2.0, labels.clone()).unwrap();
        match c.value() {
            Value::Counter {
                total,
                exemplar: Some(e),
                ..
            } => {
                assert_eq!(total, 2.0);
                assert_eq!(e.labels, labels);
                assert_eq!(e.value, 2.0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The exemplar and total a gather reports.
    fn exemplar_and_total(c: &Counter) -> (Option<Box<Exemplar>>, f64) {
        match c.value() {
            Value::Counter {
                total, exemplar, ..
            } => (exemplar, total),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn too_long_exemplar_changes_nothing() {
        let c = Counter::default();
        // "trace_id" is 8 characters, each "€" one character of 3 bytes.
        let at_limit = LabelSet::from_pairs("c", &[("trace_id", &"€".repeat(120))]).unwrap();
        let over = LabelSet::from_pairs("c", &[("trace_id", &"€".repeat(121))]).unwrap();
        c.add_with_exemplar(1.0, at_limit.clone()).unwrap();
        match c.add_with_exemplar(4.0, over) {
            Err(Error::ExemplarTooLong {
                label_names,
                chars,
                limit,
                ..
            }) => {
                assert_eq!(label_names, ["trace_id"]);
                assert_eq!((chars, limit), (129, 128));
            }
            other => panic!("expected ExemplarTooLong, got {other:?}"),
        }
        let (exemplar, total) = exemplar_and_total(&c);
        assert_eq!(total, 1.0);
        assert_eq!(exemplar.unwrap().labels, at_limit);
    }

    #[test]
    fn negative_add_with_exemplar_changes_nothing() {
        let c = Counter::default();
        let labels = LabelSet::from_pairs("c", &[("trace_id", "abc")]).unwrap();
        assert!(matches!(
            c.add_with_exemplar(-1.0, labels),
            Err(Error::NegativeCounterAdd { .. })
        ));
        assert_eq!(exemplar_and_total(&c), (None, 0.0));
    }
}
