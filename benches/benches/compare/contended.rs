//! `contended_inc_2threads`: two threads increment the same counter. The time reported
//! per iteration is the wall time one increment takes while the other thread runs the
//! same loop: both threads do `iters` increments, timed from a common start until both
//! are done.
//!
//! promsdk runs twice: `promsdk` is the plain `Counter`, made on its own, and
//! `promsdk/sharded` the `ShardedCounter` (the same per-thread rows, also as a vec's
//! child). Both count in a row per thread (a plain load and store on a line of the
//! thread's own); every peer's counter is one atomic that both threads add to.
//!
//! `contended_observe_2threads`: the same with one histogram (default buckets), each
//! thread observing `OBSERVED` in a cycle. `metrics` drains its observations into
//! buckets (`run_upkeep`) once both threads are done, inside the timed region.

use std::time::{Duration, Instant};

use criterion::Criterion;
use metrics::{Key, Recorder};

use measured::metric::histogram::Thresholds;

use crate::peers::{recorder, BUCKETS, METADATA};
use crate::threads::both;
use crate::updates::next;

pub fn contended_inc_2threads(c: &mut Criterion) {
    let mut group = crate::group(c, "contended_inc_2threads");

    let counter = promsdk::Counter::default();
    group.bench_function("promsdk", |b| {
        b.iter_custom(|iters| two_threads(iters, || counter.inc()))
    });

    let counter = promsdk::ShardedCounter::default();
    group.bench_function("promsdk/sharded", |b| {
        b.iter_custom(|iters| two_threads(iters, || counter.inc()))
    });

    let counter = prometheus::IntCounter::new("requests_total", "Requests.").unwrap();
    group.bench_function("prometheus", |b| {
        b.iter_custom(|iters| two_threads(iters, || counter.inc()))
    });

    let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
    group.bench_function("prometheus-client", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                counter.inc();
            })
        })
    });

    let recorder = recorder();
    let counter = recorder.register_counter(&Key::from_static_name("requests_total"), &METADATA);
    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| two_threads(iters, || counter.increment(1)))
    });

    let counter = measured::Counter::new();
    group.bench_function("measured", |b| {
        b.iter_custom(|iters| two_threads(iters, || counter.inc()))
    });

    let counter = fastmetrics::metrics::counter::Counter::<u64>::default();
    group.bench_function("fastmetrics", |b| {
        b.iter_custom(|iters| two_threads(iters, || counter.inc()))
    });

    group.finish();
}

pub fn contended_observe_2threads(c: &mut Criterion) {
    let mut group = crate::group(c, "contended_observe_2threads");

    let histogram = promsdk::Histogram::default();
    group.bench_function("promsdk", |b| {
        b.iter_custom(|iters| two_threads_observing(iters, |v| histogram.observe(v)))
    });

    let histogram = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("latency_seconds", "Latency.").buckets(BUCKETS.to_vec()),
    )
    .unwrap();
    group.bench_function("prometheus", |b| {
        b.iter_custom(|iters| two_threads_observing(iters, |v| histogram.observe(v)))
    });

    let histogram = prometheus_client::metrics::histogram::Histogram::new(BUCKETS);
    group.bench_function("prometheus-client", |b| {
        b.iter_custom(|iters| two_threads_observing(iters, |v| histogram.observe(v)))
    });

    let recorder = recorder();
    let handle = recorder.handle();
    let histogram =
        recorder.register_histogram(&Key::from_static_name("latency_seconds"), &METADATA);
    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            let observing = two_threads_observing(iters, |v| histogram.record(v));
            let began = Instant::now();
            handle.run_upkeep();
            observing + began.elapsed()
        })
    });

    let histogram = measured::Histogram::with_metadata(Thresholds::with_buckets(BUCKETS));
    group.bench_function("measured", |b| {
        b.iter_custom(|iters| two_threads_observing(iters, |v| histogram.observe(v)))
    });

    let histogram = fastmetrics::metrics::histogram::Histogram::new(BUCKETS);
    group.bench_function("fastmetrics", |b| {
        b.iter_custom(|iters| two_threads_observing(iters, |v| histogram.observe(v)))
    });

    group.finish();
}

/// `iters` calls of `observe`, with values cycling through `OBSERVED`, on each of two
/// threads at the same time.
fn two_threads_observing(iters: u64, observe: impl Fn(f64) + Sync) -> Duration {
    both(|_| {
        let mut i = 0;
        for _ in 0..iters {
            observe(next(&mut i));
        }
    })
}

/// `iters` calls of `inc` on each of two threads at the same time.
fn two_threads(iters: u64, inc: impl Fn() + Sync) -> Duration {
    both(|_| {
        for _ in 0..iters {
            inc();
        }
    })
}
