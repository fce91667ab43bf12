//! `labeled_inc_2` and `labeled_inc_1000`: find the child of a 2-label counter vec by its
//! (string) label values on every iteration, then increment it. One label set, or 1000
//! label sets visited in a cycle. Every series exists before measuring starts, so the
//! lookups measured are hits.
//!
//! Each library runs twice:
//! - `LIBRARY`: the label strings stay in place (a `Vec` of label sets built once), as
//!   with literals or values kept in a struct;
//! - `LIBRARY/reused-buffers`: before each lookup the values are copied into two
//!   `String`s rewritten in place, as a handler formatting its label values into the same
//!   buffers would. The addresses never change while the contents do, so a shortcut by
//!   address cannot find the child (with one label set the contents never change, and it
//!   still can).
//!
//! `measured/fixed-values` is `measured` with every label value given when the vec is
//! built (a read-only interner per label, counters in a dense array): faster, but only
//! for values known up front.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use metrics::Recorder;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::peers::{
    fixed_values, key, label_sets, recorder, FastLabels, Labels, MeasuredFixedLabels,
    MeasuredFixedLabelsSet, MeasuredLabels, MeasuredLabelsSet, LABEL_NAMES, METADATA,
};

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
    both_ways(&mut group, "promsdk", &sets, |a, b| {
        vec.update(&[a, b], |c| c.inc())
    });

    let vec = prometheus::IntCounterVec::new(
        prometheus::Opts::new("http_requests_total", "Requests."),
        &LABEL_NAMES,
    )
    .unwrap();
    both_ways(&mut group, "prometheus", &sets, |a, b| {
        vec.with_label_values(&[a, b]).inc()
    });

    let family = Family::<Labels, Counter>::default();
    both_ways(&mut group, "prometheus-client", &sets, |a, b| {
        family
            .get_or_create(&Labels {
                service: a.to_owned(),
                endpoint: b.to_owned(),
            })
            .inc();
    });

    let recorder = recorder();
    both_ways(&mut group, "metrics", &sets, |a, b| {
        recorder
            .register_counter(&key("http_requests_total", a, b), &METADATA)
            .increment(1)
    });

    let vec = measured::CounterVec::with_label_set(MeasuredLabelsSet::new());
    both_ways(&mut group, "measured", &sets, |service, endpoint| {
        vec.inc(MeasuredLabels { service, endpoint })
    });

    let vec = measured::CounterVec::with_label_set(MeasuredFixedLabelsSet::new(
        fixed_values(sets.iter().map(|(a, _)| a.as_str())),
        fixed_values(sets.iter().map(|(_, b)| b.as_str())),
    ));
    bench(
        &mut group,
        "measured/fixed-values",
        &sets,
        |service, endpoint| vec.inc(MeasuredFixedLabels { service, endpoint }),
    );

    let family = fastmetrics::metrics::family::Family::<FastLabels, _>::new(
        fastmetrics::metrics::counter::Counter::<u64>::default,
    );
    both_ways(&mut group, "fastmetrics", &sets, |a, b| {
        family.with_or_new(
            &FastLabels {
                service: a.to_owned(),
                endpoint: b.to_owned(),
            },
            |c| c.inc(),
        )
    });

    group.finish();
}

/// Measures `inc` as `library` (strings in place) and as `library/reused-buffers`.
fn both_ways(
    group: &mut BenchmarkGroup<'_, WallTime>,
    library: &str,
    sets: &[(String, String)],
    inc: impl Fn(&str, &str),
) {
    bench(group, library, sets, &inc);
    group.bench_function(format!("{library}/reused-buffers"), |bencher| {
        let mut service = String::with_capacity(64);
        let mut endpoint = String::with_capacity(64);
        let mut i = 0;
        bencher.iter(|| {
            let (a, b) = &sets[i];
            i = if i + 1 == sets.len() { 0 } else { i + 1 };
            service.clear();
            service.push_str(a);
            endpoint.clear();
            endpoint.push_str(b);
            inc(&service, &endpoint)
        })
    });
}

/// Creates every series with `inc`, then measures `inc` over the label sets in a cycle.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    sets: &[(String, String)],
    inc: impl Fn(&str, &str),
) {
    for (a, b) in sets {
        inc(a, b);
    }
    group.bench_function(id, |bencher| {
        let mut i = 0;
        bencher.iter(|| {
            let (a, b) = &sets[i];
            i = if i + 1 == sets.len() { 0 } else { i + 1 };
            inc(a, b)
        })
    });
}
