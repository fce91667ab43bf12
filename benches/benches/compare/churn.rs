//! `churn`: series that come and go. A 2-label counter vec holds 10,000 live series;
//! each iteration (a round) creates 1,000 new ones (one increment each), removes the
//! 1,000 oldest, then gathers and encodes the family as text. The label sets come from
//! a pool of 20,000 built before measuring, taken in blocks of 1,000, so a block comes
//! back 10 rounds after it was removed: its series are new to the vec again, though an
//! interner (`measured`'s) still knows their values.
//!
//! - `promsdk`: removes with `remove`;
//! - `promsdk/ttl`: removes nothing itself: the vec has a TTL of 9.5 s on a manual
//!   clock that advances 1 s per round, and `expire_idle` (what the background sweeper
//!   does about four times per TTL) frees the block that has not been updated for 10
//!   rounds, so the same 10,000 series are live after every round;
//! - `prometheus`: `remove_label_values`; `prometheus-client`: `Family::remove` (with
//!   an owned key, as for lookups); `measured`: `remove_metric` of the label id.
//!
//! `metrics` and `fastmetrics` have no way to remove one series, so they do not run.

use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use measured::metric::name::MetricName;
use measured::metric::MetricFamilyEncoding;
use measured::text::TextEncoder;
use prometheus::Encoder;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::peers::{
    assert_samples, label_sets, Labels, MeasuredLabels, MeasuredLabelsSet, Utf8Buf, LABEL_NAMES,
};

/// Series created, and removed, per round.
const BLOCK: usize = 1_000;
/// Blocks live after every round: 10,000 series.
const LIVE_BLOCKS: usize = 10;
/// Blocks in the pool of label sets.
const BLOCKS: usize = 2 * LIVE_BLOCKS;
/// The family's name; `prometheus-client`, which adds `_total` itself, gets `BASE_NAME`.
const NAME: &str = "http_requests_total";
const BASE_NAME: &str = "http_requests";

pub fn churn(c: &mut Criterion) {
    let pool = label_sets(BLOCKS * BLOCK);
    let block = |n: usize| &pool[(n % BLOCKS) * BLOCK..][..BLOCK];
    // Round `r` creates block `r` and removes block `r - LIVE_BLOCKS` (nothing in the
    // first rounds).
    let new = |r: usize| block(r);
    let old = |r: usize| block(r + BLOCKS - LIVE_BLOCKS);
    let mut group = crate::group(c, "churn");
    // Milliseconds per iteration: fewer, flat samples keep the group to seconds.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);

    let registry = promsdk::Registry::default();
    let vec =
        promsdk::CounterVec::new(promsdk::Opts::new(NAME, "Requests."), &LABEL_NAMES).unwrap();
    registry.register(vec.clone()).unwrap();
    let mut sink = promsdk::Collected::default();
    bench(&mut group, "promsdk", |r, buf| {
        for (a, b) in new(r) {
            vec.update(&[a, b], |c| c.inc());
        }
        for (a, b) in old(r) {
            vec.remove(&[a, b]);
        }
        registry.gather_into(&mut sink);
        promsdk::encode(sink.families(), promsdk::Format::Text, buf);
    });
    assert_eq!(vec.len(), LIVE_BLOCKS * BLOCK, "promsdk: live series");

    let clock = promsdk::ManualClock::new();
    let registry = promsdk::Registry::default();
    let vec = promsdk::CounterVec::builder(promsdk::Opts::new(NAME, "Requests."), &LABEL_NAMES)
        .ttl(Duration::from_millis(9_500))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    registry.register(vec.clone()).unwrap();
    bench(&mut group, "promsdk/ttl", |r, buf| {
        clock.advance(Duration::from_secs(1));
        for (a, b) in new(r) {
            vec.update(&[a, b], |c| c.inc());
        }
        vec.expire_idle();
        registry.gather_into(&mut sink);
        promsdk::encode(sink.families(), promsdk::Format::Text, buf);
    });
    assert_eq!(vec.len(), LIVE_BLOCKS * BLOCK, "promsdk/ttl: live series");

    let registry = prometheus::Registry::new();
    let vec =
        prometheus::IntCounterVec::new(prometheus::Opts::new(NAME, "Requests."), &LABEL_NAMES)
            .unwrap();
    registry.register(Box::new(vec.clone())).unwrap();
    let encoder = prometheus::TextEncoder::new();
    bench(&mut group, "prometheus", |r, buf| {
        for (a, b) in new(r) {
            vec.with_label_values(&[a, b]).inc();
        }
        for (a, b) in old(r) {
            // An error only says the series was not there (the first rounds).
            let _ = vec.remove_label_values(&[a, b]);
        }
        encoder.encode(&registry.gather(), buf).unwrap();
    });

    let mut registry = prometheus_client::registry::Registry::default();
    let family = Family::<Labels, Counter>::default();
    registry.register(BASE_NAME, "Requests.", family.clone());
    let labels = |a: &str, b: &str| Labels {
        service: a.to_owned(),
        endpoint: b.to_owned(),
    };
    bench(&mut group, "prometheus-client", |r, buf| {
        for (a, b) in new(r) {
            family.get_or_create(&labels(a, b)).inc();
        }
        for (a, b) in old(r) {
            family.remove(&labels(a, b));
        }
        prometheus_client::encoding::text::encode(&mut Utf8Buf(buf), &registry).unwrap();
    });

    let vec = measured::CounterVec::with_label_set(MeasuredLabelsSet::new());
    bench(&mut group, "measured", |r, buf| {
        for (service, endpoint) in new(r) {
            vec.inc(MeasuredLabels { service, endpoint });
        }
        for (service, endpoint) in old(r) {
            vec.remove_metric(vec.with_labels(MeasuredLabels { service, endpoint }));
        }
        vec.collect_family_into(MetricName::from_str(NAME), &mut TextEncoder::new(buf))
            .unwrap();
    });

    group.finish();
}

/// Runs the first `LIVE_BLOCKS` rounds (filling the vec), then measures one `round`
/// per iteration, each encoding into a buffer reused across rounds. Checks before and
/// after measuring that the exposition holds exactly the live series.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    library: &str,
    mut round: impl FnMut(usize, &mut Vec<u8>),
) {
    let mut buf = Vec::new();
    let mut r = 0;
    let mut next = |buf: &mut Vec<u8>| {
        buf.clear();
        round(r, buf);
        r += 1;
    };
    for _ in 0..LIVE_BLOCKS {
        next(&mut buf);
    }
    assert_samples(library, &buf, "http_requests_total{", LIVE_BLOCKS * BLOCK);
    group.bench_function(library, |b| b.iter(|| next(&mut buf)));
    assert_samples(library, &buf, "http_requests_total{", LIVE_BLOCKS * BLOCK);
}
