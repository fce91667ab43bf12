//! `labeled_inc_2` and `labeled_inc_1000`: find the child of a 2-label counter vec by its
//! (string) label values on every iteration, then increment it. One label set, or 1000
//! label sets visited in a cycle. Every series exists before measuring starts, so the
//! lookups measured are hits.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use metrics::Recorder;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::peers::{key, label_sets, recorder, Labels, LABEL_NAMES, METADATA};

pub fn labeled_inc(c: &mut Criterion, name: &str, series: usize) {
    let sets = label_sets(series);
    let mut group = crate::group(c, name);

    let vec = promsdk::CounterVec::new(
        promsdk::Opts::new("http_requests", "Requests."),
        &LABEL_NAMES,
    )
    .unwrap();
    // `update` runs the closure on the child: the fastest labelled update, without a
    // lock or reference-count traffic on a hit (`with_label_values` returns a handle).
    bench(&mut group, "promsdk", &sets, |a, b| {
        vec.update(&[a, b], |c| c.inc())
    });

    let vec = prometheus::IntCounterVec::new(
        prometheus::Opts::new("http_requests_total", "Requests."),
        &LABEL_NAMES,
    )
    .unwrap();
    bench(&mut group, "prometheus", &sets, |a, b| {
        vec.with_label_values(&[a, b]).inc()
    });

    let family = Family::<Labels, Counter>::default();
    bench(&mut group, "prometheus-client", &sets, |a, b| {
        family
            .get_or_create(&Labels {
                service: a.to_owned(),
                endpoint: b.to_owned(),
            })
            .inc();
    });

    let recorder = recorder();
    bench(&mut group, "metrics", &sets, |a, b| {
        recorder
            .register_counter(&key("http_requests_total", a, b), &METADATA)
            .increment(1)
    });

    group.finish();
}

/// Creates every series with `inc`, then measures `inc` over the label sets in a cycle.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    library: &str,
    sets: &[(String, String)],
    inc: impl Fn(&str, &str),
) {
    for (a, b) in sets {
        inc(a, b);
    }
    group.bench_function(library, |bencher| {
        let mut i = 0;
        bencher.iter(|| {
            let (a, b) = &sets[i];
            i = if i + 1 == sets.len() { 0 } else { i + 1 };
            inc(a, b)
        })
    });
}
