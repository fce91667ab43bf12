//! [`ShardedCounter`]: a counter that counts per thread even as a vec's child.

use super::{Lifecycle, Metric, NewChild};
use crate::error::Result;
use crate::family::{MetricType, Value};
use crate::Counter;

/// A [`Counter`] whose every thread counts in a row of its own, also as a vec's child:
/// updates from many threads at once cost about what one thread's do. A `Counter` made
/// on its own already counts so; a vec's `Counter` children have one atomic total,
/// which threads updating one child at once pass between their cores on every update.
///
/// Each updating thread's row takes 128 bytes (for the first 8 threads alive at once):
/// use it for a few hot series, not for every child of a large vec.
///
/// ```
/// use promsdk::ShardedCounter;
/// let c = ShardedCounter::default();
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| for _ in 0..1000 { c.inc() });
///     }
/// });
/// assert_eq!(c.get(), 4000.0);
/// ```
#[derive(Clone)]
pub struct ShardedCounter(pub(crate) Counter);

impl ShardedCounter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.inc();
    }

    /// Adds a whole number.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.inc_by(n);
    }

    /// Adds `v`, which must be non-negative and not NaN.
    #[inline]
    pub fn add(&self, v: f64) -> Result<()> {
        self.0.add(v)
    }

    /// The current total: the sum of all rows.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

impl Default for ShardedCounter {
    fn default() -> Self {
        Self::from_config(&(), NewChild::default())
    }
}

impl std::fmt::Debug for ShardedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ShardedCounter").field(&self.get()).finish()
    }
}

impl Metric for ShardedCounter {
    type Config = ();
    const TYPE: MetricType = MetricType::Counter;

    fn check_config(_: &str, _: &()) -> Result<()> {
        Ok(())
    }

    fn from_config(_: &(), child: NewChild<'_>) -> Self {
        ShardedCounter(Counter::with_rows(child, true))
    }

    fn value(&self) -> Value {
        self.0.value()
    }

    fn lifecycle(&self) -> &Lifecycle {
        self.0.lifecycle()
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(ShardedCounter)
    }

    fn untouched_progress(&self) -> u64 {
        self.0.untouched_progress()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_threads_add_up_exactly() {
        const PER_THREAD: u32 = if cfg!(miri) { 20 } else { 20_000 };
        let c = ShardedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                let c = c.clone();
                s.spawn(move || {
                    for _ in 0..PER_THREAD {
                        c.inc();
                        c.add(0.25).unwrap();
                    }
                });
            }
        });
        assert_eq!(c.get(), 8.0 * f64::from(PER_THREAD) * 1.25);
    }

    #[test]
    fn rejects_negative_and_nan() {
        let c = ShardedCounter::default();
        assert!(c.add(-1.0).is_err());
        assert!(c.add(f64::NAN).is_err());
        assert_eq!(c.get(), 0.0);
    }
}
