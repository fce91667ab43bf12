//! `contended_inc_2threads`: two threads increment the same counter. The time reported
//! per iteration is the wall time one increment takes while the other thread runs the
//! same loop: both threads do `iters` increments, timed from a common start until both
//! are done.
//!
//! promsdk runs twice: `promsdk` is the plain `Counter` (one atomic, like every peer's
//! counter), `promsdk/sharded` the `ShardedCounter` made for contended updates (one
//! cache line per shard).

use std::time::Duration;

use criterion::Criterion;
use metrics::{Key, Recorder};

use crate::peers::{recorder, METADATA};
use crate::threads::both;

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

/// `iters` calls of `inc` on each of two threads at the same time.
fn two_threads(iters: u64, inc: impl Fn() + Sync) -> Duration {
    both(|_| {
        for _ in 0..iters {
            inc();
        }
    })
}
