//! [`Timer`]: a guard that observes the seconds elapsed since it was started into a
//! histogram or summary when it is dropped.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};

/// A metric that takes observations: [`Histogram`](crate::Histogram) and
/// [`Summary`](crate::Summary).
pub trait Observe {
    /// Records one observation.
    fn observe(&self, v: f64);
}

/// Observes the elapsed time in seconds into its metric when dropped, unless stopped
/// first with [`Timer::stop_and_discard`]. [`Timer::stop_and_record`] observes at once
/// and returns the seconds.
///
/// Time comes from a [`Clock`] (the system clock unless given one), so tests drive it
/// with a [`ManualClock`](crate::ManualClock):
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use promsdk::{Histogram, ManualClock, Timer};
/// let clock = ManualClock::new();
/// let h = Histogram::default();
/// let timer = Timer::with_clock(h.clone(), Arc::new(clock.clone()));
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(timer.stop_and_record(), 0.25);
/// assert_eq!((h.snapshot().count, h.snapshot().sum), (1, 0.25));
/// ```
#[must_use = "a timer observes when dropped: dropping it at once records about zero seconds"]
#[derive(Debug)]
pub struct Timer<O: Observe> {
    /// `None` once recorded or discarded, so `Drop` does nothing more.
    target: Option<O>,
    /// `None`: the system clock (saves a shared reference count per timer).
    clock: Option<Arc<dyn Clock>>,
    start_nanos: u64,
}

impl<O: Observe> Timer<O> {
    /// Starts timing with the system clock.
    pub fn new(target: O) -> Self {
        Timer {
            target: Some(target),
            clock: None,
            start_nanos: SystemClock.monotonic_nanos(),
        }
    }

    /// Starts timing with `clock`.
    pub fn with_clock(target: O, clock: Arc<dyn Clock>) -> Self {
        let start_nanos = clock.monotonic_nanos();
        Timer {
            target: Some(target),
            clock: Some(clock),
            start_nanos,
        }
    }

    /// Seconds elapsed since the timer started.
    pub fn elapsed_seconds(&self) -> f64 {
        let now = match &self.clock {
            Some(clock) => clock.monotonic_nanos(),
            None => SystemClock.monotonic_nanos(),
        };
        now.saturating_sub(self.start_nanos) as f64 / 1e9
    }

    /// Observes the elapsed seconds now and returns them.
    pub fn stop_and_record(mut self) -> f64 {
        let seconds = self.elapsed_seconds();
        if let Some(target) = self.target.take() {
            target.observe(seconds);
        }
        seconds
    }

    /// Stops without observing anything.
    pub fn stop_and_discard(mut self) {
        self.target = None;
    }
}

impl<O: Observe> Drop for Timer<O> {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            target.observe(self.elapsed_seconds());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::{Histogram, Summary, SummaryConfig};

    #[test]
    fn drop_records_discard_does_not() {
        let clock = ManualClock::new();
        let h = Histogram::default();
        {
            let _t = Timer::with_clock(h.clone(), Arc::new(clock.clone()));
            clock.advance(Duration::from_secs(2));
        }
        Timer::with_clock(h.clone(), Arc::new(clock.clone())).stop_and_discard();
        let snap = h.snapshot();
        assert_eq!((snap.count, snap.sum), (1, 2.0));
    }

    #[test]
    fn summary_timer_uses_the_summary_clock() {
        let clock = ManualClock::new();
        let s = Summary::new(SummaryConfig::default().clock(Arc::new(clock.clone()))).unwrap();
        let t = s.start_timer();
        clock.advance(Duration::from_millis(1500));
        assert_eq!(t.elapsed_seconds(), 1.5);
        assert_eq!(t.stop_and_record(), 1.5);
        let snap = s.snapshot();
        assert_eq!((snap.count, snap.sum), (1, 1.5));
    }
}
