//! `contended_inc_2threads`: two threads increment the same counter. The time reported
//! per iteration is the wall time one increment takes while the other thread runs the
//! same loop: both threads do `iters` increments, timed from a common start until both
//! are done.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::Criterion;
use metrics::{Key, Recorder};

use crate::peers::{recorder, METADATA};

pub fn contended_inc_2threads(c: &mut Criterion) {
    let mut group = crate::group(c, "contended_inc_2threads");

    // The counter made for contended updates (one cache line per shard); a plain
    // `promsdk::Counter` behaves like the peers here.
    let counter = promsdk::ShardedCounter::default();
    group.bench_function("promsdk", |b| {
        b.iter_custom(|iters| two_threads(iters, &counter, |c| c.inc()))
    });

    let counter = prometheus::IntCounter::new("requests_total", "Requests.").unwrap();
    group.bench_function("prometheus", |b| {
        b.iter_custom(|iters| two_threads(iters, &counter, |c| c.inc()))
    });

    let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
    group.bench_function("prometheus-client", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &counter, |c| {
                c.inc();
            })
        })
    });

    let recorder = recorder();
    let counter = recorder.register_counter(&Key::from_static_name("requests_total"), &METADATA);
    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| two_threads(iters, &counter, |c| c.increment(1)))
    });

    group.finish();
}

/// Runs `iters` calls of `inc` on this thread and on a second one at the same time;
/// returns the time from the common start until both finished. The second thread is
/// spawned before the clock starts.
fn two_threads<C: Sync>(iters: u64, counter: &C, inc: impl Fn(&C) + Sync) -> Duration {
    let start = Barrier::new(2);
    thread::scope(|scope| {
        let other = scope.spawn(|| {
            start.wait();
            for _ in 0..iters {
                inc(counter);
            }
        });
        start.wait();
        let began = Instant::now();
        for _ in 0..iters {
            inc(counter);
        }
        other.join().expect("the second thread does not panic");
        began.elapsed()
    })
}
