//! Time as a parameter: [`Clock`], the [`SystemClock`] used in production and the
//! [`ManualClock`] that tests advance by hand (TTL expiry, summary windows) instead of
//! sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;

/// A source of time.
///
/// Implementations must be cheap to call and safe to share between threads.
/// `monotonic_nanos` never goes backwards.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since an arbitrary, fixed origin; never decreases.
    fn monotonic_nanos(&self) -> u64;
    /// Wall-clock time as seconds since the Unix epoch.
    fn unix_seconds(&self) -> f64;
}

/// The real clock: `Instant` for monotonic time, `SystemTime` for wall time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

static ORIGIN: Lazy<Instant> = Lazy::new(Instant::now);

impl Clock for SystemClock {
    fn monotonic_nanos(&self) -> u64 {
        u64::try_from(ORIGIN.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn unix_seconds(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use promsdk::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let t0 = clock.monotonic_nanos();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.monotonic_nanos() - t0, 5_000_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock at monotonic time zero and Unix time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // SeqCst: tests advance the clock on one thread and read it on others; the
        // total order keeps "advance, then act" sequences easy to reason about.
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn monotonic_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }

    fn unix_seconds(&self) -> f64 {
        self.monotonic_nanos() as f64 / 1e9
    }
}

/// The shared system clock as a trait object.
pub fn system_clock() -> Arc<dyn Clock> {
    static CLOCK: Lazy<Arc<dyn Clock>> = Lazy::new(|| Arc::new(SystemClock));
    CLOCK.clone()
}
