//! Concurrent observations and gathers: every histogram and summary snapshot taken while
//! other threads observe is self-consistent, and the final totals are exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use promsdk::{Histogram, HistogramConfig, ManualClock, Summary, SummaryConfig};

const THREADS: usize = 4;
const PER_THREAD: u64 = 50_000;

/// Thread `t` observes `t + 0.5`, which falls into bucket `le = t + 1` alone.
fn value_of(thread: usize) -> f64 {
    thread as f64 + 0.5
}

#[test]
fn concurrent_histogram_snapshots_are_self_consistent() {
    let bounds: Vec<f64> = (1..=THREADS).map(|b| b as f64).collect();
    let h = Histogram::new(&HistogramConfig::new(&bounds)).unwrap();
    let done = AtomicBool::new(false);
    let snapshots = std::thread::scope(|s| {
        for t in 0..THREADS {
            let h = h.clone();
            s.spawn(move || {
                for _ in 0..PER_THREAD {
                    h.observe(value_of(t));
                }
            });
        }
        let checker = s.spawn(|| {
            let mut taken = 0u64;
            let mut last_count = 0;
            while !done.load(Ordering::Relaxed) || taken < 2_000 {
                let snap = h.snapshot();
                let inf = snap.buckets.last().unwrap();
                assert_eq!(inf.upper_bound, f64::INFINITY);
                assert_eq!(inf.cumulative_count, snap.count, "+Inf bucket != count");
                // Per-bucket counts, each from one thread's single value: the sum must
                // be exactly what those observations add up to (all values are exact
                // binary fractions, so the float sum is exact).
                let mut previous = 0;
                let mut expected_sum = 0.0;
                for (i, b) in snap.buckets.iter().enumerate() {
                    assert!(b.cumulative_count >= previous, "not cumulative");
                    if i < THREADS {
                        expected_sum += (b.cumulative_count - previous) as f64 * value_of(i);
                    }
                    previous = b.cumulative_count;
                }
                assert_eq!(
                    snap.buckets[THREADS].cumulative_count,
                    snap.buckets[THREADS - 1].cumulative_count
                );
                assert_eq!(
                    snap.sum, expected_sum,
                    "sum disagrees with buckets: {snap:?}"
                );
                assert!(snap.count >= last_count, "count went backwards");
                last_count = snap.count;
                taken += 1;
            }
            taken
        });
        // Keep the checker running until every observation has landed.
        while h.snapshot().count < THREADS as u64 * PER_THREAD {
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
        checker.join().unwrap()
    });
    assert!(snapshots >= 2_000);
    let snap = h.snapshot();
    assert_eq!(snap.count, THREADS as u64 * PER_THREAD);
    for (i, b) in snap.buckets.iter().take(THREADS).enumerate() {
        assert_eq!(b.cumulative_count, (i as u64 + 1) * PER_THREAD);
    }
    let expected: f64 = (0..THREADS).map(|t| value_of(t) * PER_THREAD as f64).sum();
    assert_eq!(snap.sum, expected);
}

#[test]
fn concurrent_summary_snapshots_are_self_consistent() {
    let clock = ManualClock::new();
    let config = SummaryConfig::default()
        .objectives(&[(0.5, 0.05), (0.99, 0.001)])
        .clock(Arc::new(clock));
    let with_objectives = Summary::new(config).unwrap();
    let plain = Summary::default();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let observers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (a, b) = (with_objectives.clone(), plain.clone());
                s.spawn(move || {
                    for _ in 0..PER_THREAD / 5 {
                        a.observe(2.0);
                        b.observe(2.0);
                    }
                })
            })
            .collect();
        let checker = s.spawn(|| {
            let mut taken = 0;
            while !done.load(Ordering::Relaxed) || taken < 1_000 {
                for summary in [&with_objectives, &plain] {
                    let snap = summary.snapshot();
                    assert_eq!(snap.sum, 2.0 * snap.count as f64, "{snap:?}");
                    for &(_, v) in &snap.quantiles {
                        assert!(v == 2.0 || (snap.count == 0 && v.is_nan()), "{snap:?}");
                    }
                }
                taken += 1;
            }
        });
        for o in observers {
            o.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        checker.join().unwrap();
    });
    for summary in [&with_objectives, &plain] {
        let snap = summary.snapshot();
        assert_eq!(snap.count, THREADS as u64 * PER_THREAD / 5);
        assert_eq!(snap.sum, 2.0 * (THREADS as u64 * PER_THREAD / 5) as f64);
    }
}
