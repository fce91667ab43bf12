//! Updates through a handle held by the caller: `counter_inc`, `gauge_set`,
//! `histogram_observe`.

use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use criterion::Criterion;
use measured::metric::histogram::Thresholds;
use metrics::{Key, Recorder};

use crate::peers::{recorder, BUCKETS, METADATA, OBSERVED};

pub fn counter_inc(c: &mut Criterion) {
    let mut group = crate::group(c, "counter_inc");

    let counter = promsdk::Counter::default();
    group.bench_function("promsdk", |b| b.iter(|| counter.inc()));

    let counter = prometheus::IntCounter::new("requests_total", "Requests.").unwrap();
    group.bench_function("prometheus", |b| b.iter(|| counter.inc()));

    let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
    group.bench_function("prometheus-client", |b| b.iter(|| counter.inc()));

    let recorder = recorder();
    let counter = recorder.register_counter(&Key::from_static_name("requests_total"), &METADATA);
    group.bench_function("metrics", |b| b.iter(|| counter.increment(1)));

    let counter = measured::Counter::new();
    group.bench_function("measured", |b| b.iter(|| counter.inc()));

    let counter = fastmetrics::metrics::counter::Counter::<u64>::default();
    group.bench_function("fastmetrics", |b| b.iter(|| counter.inc()));

    group.finish();
}

pub fn gauge_set(c: &mut Criterion) {
    let mut group = crate::group(c, "gauge_set");

    let gauge = promsdk::Gauge::default();
    group.bench_function("promsdk", |b| b.iter(|| gauge.set(black_box(42.5))));

    let gauge = prometheus::Gauge::new("temperature", "Temperature.").unwrap();
    group.bench_function("prometheus", |b| b.iter(|| gauge.set(black_box(42.5))));

    let gauge = prometheus_client::metrics::gauge::Gauge::<f64, AtomicU64>::default();
    group.bench_function("prometheus-client", |b| {
        b.iter(|| gauge.set(black_box(42.5)))
    });

    let recorder = recorder();
    let gauge = recorder.register_gauge(&Key::from_static_name("temperature"), &METADATA);
    group.bench_function("metrics", |b| b.iter(|| gauge.set(black_box(42.5))));

    let gauge = measured::FloatGauge::new();
    group.bench_function("measured", |b| b.iter(|| gauge.set(black_box(42.5))));

    let gauge = fastmetrics::metrics::gauge::Gauge::<f64>::default();
    group.bench_function("fastmetrics", |b| b.iter(|| gauge.set(black_box(42.5))));

    group.finish();
}

/// Observes `OBSERVED` in a cycle, one value per iteration.
pub fn histogram_observe(c: &mut Criterion) {
    let mut group = crate::group(c, "histogram_observe");

    let histogram = promsdk::Histogram::default();
    group.bench_function("promsdk", |b| {
        let mut i = 0;
        b.iter(|| histogram.observe(next(&mut i)))
    });

    let histogram = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("latency_seconds", "Latency.").buckets(BUCKETS.to_vec()),
    )
    .unwrap();
    group.bench_function("prometheus", |b| {
        let mut i = 0;
        b.iter(|| histogram.observe(next(&mut i)))
    });

    let histogram = prometheus_client::metrics::histogram::Histogram::new(BUCKETS);
    group.bench_function("prometheus-client", |b| {
        let mut i = 0;
        b.iter(|| histogram.observe(next(&mut i)))
    });

    // `metrics` histograms only append the value; the exporter sorts values into buckets
    // when upkeep drains them (every few seconds in a real exporter), so the drain is
    // part of the measured time.
    let recorder = recorder();
    let handle = recorder.handle();
    let histogram =
        recorder.register_histogram(&Key::from_static_name("latency_seconds"), &METADATA);
    group.bench_function("metrics", |b| {
        let mut i = 0;
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                histogram.record(next(&mut i));
            }
            handle.run_upkeep();
            start.elapsed()
        })
    });

    let histogram = measured::Histogram::with_metadata(Thresholds::with_buckets(BUCKETS));
    group.bench_function("measured", |b| {
        let mut i = 0;
        b.iter(|| histogram.observe(next(&mut i)))
    });

    let histogram = fastmetrics::metrics::histogram::Histogram::new(BUCKETS);
    group.bench_function("fastmetrics", |b| {
        let mut i = 0;
        b.iter(|| histogram.observe(next(&mut i)))
    });

    group.finish();
}

/// The next observed value, cycling through `OBSERVED`.
#[inline]
pub fn next(i: &mut usize) -> f64 {
    *i = (*i + 1) % OBSERVED.len();
    black_box(OBSERVED[*i])
}
