//! [`Gauge`]: a value that goes up and down.

use super::shared::{HasLifecycle, Shared};
use super::{atomic_f64_add, Lifecycle, Metric, NewChild, STATE_GAP};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::family::{MetricType, Value};
use crate::sync::{AtomicU64, Ordering};

/// The lifecycle, which every vec lookup reads, then the value, which updates write,
/// each off the other's cache line, as in [`Counter`](crate::Counter)'s: threads
/// updating one child through its vec move only the value's line between their cores.
#[derive(Debug)]
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    value: Value64,
    _after: [u8; STATE_GAP],
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// The value as `f64` bits, 16-byte aligned so that it ends where the padding after it
/// starts counting (see `STATE_GAP`).
#[derive(Debug)]
#[repr(C, align(16))]
struct Value64 {
    bits: AtomicU64,
}

impl Core {
    fn new(lifecycle: Lifecycle) -> Self {
        Core {
            lifecycle,
            value: Value64 {
                bits: AtomicU64::new(0),
            },
            _after: [0; STATE_GAP],
        }
    }
}

/// A gauge: a value that can be set, increased and decreased.
///
/// ```
/// use promsdk::Gauge;
/// let g = Gauge::default();
/// g.set(10.0);
/// g.inc();
/// g.sub(2.5);
/// assert_eq!(g.get(), 8.5);
/// ```
#[derive(Debug, Clone)]
pub struct Gauge(Shared<Core>);

impl Default for Gauge {
    fn default() -> Self {
        Self::from_config(&(), NewChild::default())
    }
}

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        // Relaxed: a plain store of the latest value; see the `metrics` module doc.
        self.0.value.bits.store(v.to_bits(), Ordering::Relaxed);
        self.0.lifecycle.touch();
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// Adds `v` (may be negative).
    #[inline]
    pub fn add(&self, v: f64) {
        atomic_f64_add(&self.0.value.bits, v);
        self.0.lifecycle.touch();
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        self.add(-v);
    }

    /// Sets the value to the current Unix time in seconds.
    pub fn set_to_current_time(&self) {
        self.set(SystemClock.unix_seconds());
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.value.bits.load(Ordering::Relaxed))
    }
}

impl Metric for Gauge {
    type Config = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn check_config(_: &str, _: &()) -> Result<()> {
        Ok(())
    }

    fn from_config(_: &(), child: NewChild<'_>) -> Self {
        Gauge(Shared::new(child, Core::new))
    }

    fn value(&self) -> Value {
        Value::Gauge(self.get())
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(Gauge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity a lookup reads, the value an update writes and the handle count a
    /// clone writes are on different 64-byte lines.
    #[test]
    fn identity_and_value_have_cache_lines_of_their_own() {
        crate::metrics::layout::assert_state_apart(
            std::mem::offset_of!(Core, lifecycle),
            (
                std::mem::offset_of!(Core, value),
                std::mem::size_of::<Value64>(),
            ),
            std::mem::size_of::<Core>(),
            std::mem::align_of::<Core>(),
        );
    }

    #[test]
    fn concurrent_adds_are_exact() {
        let g = Gauge::default();
        std::thread::scope(|s| {
            for i in 0..4 {
                let g = g.clone();
                s.spawn(move || {
                    for _ in 0..10_000 {
                        if i % 2 == 0 {
                            g.add(2.0)
                        } else {
                            g.dec()
                        }
                    }
                });
            }
        });
        assert_eq!(g.get(), 20_000.0);
    }

    #[test]
    fn current_time_is_recent() {
        let g = Gauge::default();
        g.set_to_current_time();
        assert!(g.get() > 1.7e9, "{}", g.get());
    }
}
