//! [`ShardedCounter`]: a counter for values updated from many threads at once, spread
//! over one cache line per shard so that concurrent updates do not contend.

use super::shared::{HasLifecycle, Shared};
use super::thread_slot;
use super::{atomic_f64_add, Lifecycle, Metric, NewChild};
use crate::error::{Error, Result};
use crate::family::{MetricType, Value};
use crate::sync::{AtomicU64, Ordering};

/// One shard on a cache line of its own (128 bytes: adjacent-line prefetching makes
/// neighbouring 64-byte lines contend too).
#[repr(align(128))]
struct Shard {
    int: AtomicU64,
    float: AtomicU64,
}

/// The lifecycle first, as in every metric's state (see [`Lifecycle`]): a gather asks for
/// the line after it, which holds the shards' address.
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    shards: Box<[Shard]>,
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// A counter sharded across cache lines: each thread adds to its own shard, so updates
/// from many threads cost about what one thread's do (a plain [`Counter`](crate::Counter)
/// bounces its cache line between cores on every update). Reading sums the shards.
///
/// It takes one cache line per shard (a shard per core, rounded up to a power of two, at
/// most 16): use it for a few hot counters, not for every child of a large vec.
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
pub struct ShardedCounter(Shared<Core>);

impl ShardedCounter {
    #[inline]
    fn shard(&self) -> &Shard {
        let shards = &self.0.shards;
        // The thread's slot (0 while it exits); the length is a power of two, so the mask
        // is a cheap modulo.
        let slot = thread_slot::current().unwrap_or(0);
        &shards[slot & (shards.len() - 1)]
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds a whole number.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        // Mark first, as `Counter` does. Relaxed: only atomicity matters.
        self.0.lifecycle.touch();
        self.shard().int.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `v`, which must be non-negative and not NaN.
    #[inline]
    pub fn add(&self, v: f64) -> Result<()> {
        if v.is_nan() || v < 0.0 {
            return Err(Error::NegativeCounterAdd { value: v });
        }
        self.0.lifecycle.touch();
        atomic_f64_add(&self.shard().float, v);
        Ok(())
    }

    /// The current total: the sum of all shards.
    pub fn get(&self) -> f64 {
        let (int, float) = self.0.shards.iter().fold((0u64, 0f64), |(i, f), s| {
            // Relaxed: a statistic; each shard is read atomically.
            (
                i.wrapping_add(s.int.load(Ordering::Relaxed)),
                f + f64::from_bits(s.float.load(Ordering::Relaxed)),
            )
        });
        int as f64 + float
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
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let n = cores.next_power_of_two().clamp(2, 16);
        let shards = (0..n)
            .map(|_| Shard {
                int: AtomicU64::new(0),
                float: AtomicU64::new(0),
            })
            .collect();
        ShardedCounter(Shared::new(child, |lifecycle| Core { lifecycle, shards }))
    }

    fn value(&self) -> Value {
        Value::counter(self.get())
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
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

    #[test]
    fn many_threads_add_up_exactly() {
        let c = ShardedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                let c = c.clone();
                s.spawn(move || {
                    for _ in 0..20_000 {
                        c.inc();
                        c.add(0.25).unwrap();
                    }
                });
            }
        });
        assert_eq!(c.get(), 8.0 * 20_000.0 * 1.25);
    }

    #[test]
    fn rejects_negative_and_nan() {
        let c = ShardedCounter::default();
        assert!(c.add(-1.0).is_err());
        assert!(c.add(f64::NAN).is_err());
        assert_eq!(c.get(), 0.0);
    }
}
