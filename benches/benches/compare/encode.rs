//! `encode_text_10k`: a 2-label counter vec with 10,000 series, gathered and encoded to
//! text into a buffer reused across iterations.

use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use fastmetrics::format::text::TextProfile;
use measured::metric::name::MetricName;
use measured::metric::MetricFamilyEncoding;
use measured::text::BufferedTextEncoder;
use metrics::Recorder;
use prometheus::Encoder;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::peers::{
    assert_samples, key, label_sets, recorder, FastLabels, Labels, MeasuredLabels,
    MeasuredLabelsSet, LABEL_NAMES, METADATA,
};

const SERIES: usize = 10_000;

pub fn encode_text_10k(c: &mut Criterion) {
    let sets = label_sets(SERIES);
    let mut group = crate::group(c, "encode_text_10k");
    // Milliseconds per iteration: fewer, flat samples keep the group to seconds.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));

    let registry = promsdk::Registry::default();
    let vec = promsdk::CounterVec::new(
        promsdk::Opts::new("http_requests_total", "Requests."),
        &LABEL_NAMES,
    )
    .unwrap();
    registry.register(vec.clone()).unwrap();
    for (i, (a, b)) in sets.iter().enumerate() {
        vec.with_label_values(&[a, b]).inc_by(i as u64);
    }
    let mut sink = promsdk::Collected::default();
    let mut buf = Vec::new();
    let mut encode = |buf: &mut Vec<u8>| {
        registry.gather_into(&mut sink);
        buf.clear();
        promsdk::encode(sink.families(), promsdk::Format::Text, buf);
    };
    encode(&mut buf);
    check_series("promsdk", &buf);
    group.bench_function("promsdk", |b| b.iter(|| encode(&mut buf)));

    let registry = prometheus::Registry::new();
    let vec = prometheus::IntCounterVec::new(
        prometheus::Opts::new("http_requests_total", "Requests."),
        &LABEL_NAMES,
    )
    .unwrap();
    registry.register(Box::new(vec.clone())).unwrap();
    for (i, (a, b)) in sets.iter().enumerate() {
        vec.with_label_values(&[a, b]).inc_by(i as u64);
    }
    let encoder = prometheus::TextEncoder::new();
    let mut buf = Vec::new();
    let encode = |buf: &mut Vec<u8>| {
        buf.clear();
        encoder.encode(&registry.gather(), buf).unwrap();
    };
    encode(&mut buf);
    check_series("prometheus", &buf);
    group.bench_function("prometheus", |b| b.iter(|| encode(&mut buf)));

    let mut registry = prometheus_client::registry::Registry::default();
    let family = Family::<Labels, Counter>::default();
    registry.register("http_requests", "Requests.", family.clone());
    for (i, (a, b)) in sets.iter().enumerate() {
        let labels = Labels {
            service: a.clone(),
            endpoint: b.clone(),
        };
        family.get_or_create(&labels).inc_by(i as u64);
    }
    let mut buf = String::new();
    let encode = |buf: &mut String| {
        buf.clear();
        prometheus_client::encoding::text::encode(buf, &registry).unwrap();
    };
    encode(&mut buf);
    check_series("prometheus-client", buf.as_bytes());
    group.bench_function("prometheus-client", |b| b.iter(|| encode(&mut buf)));

    let recorder = recorder();
    for (i, (a, b)) in sets.iter().enumerate() {
        recorder
            .register_counter(&key("http_requests_total", a, b), &METADATA)
            .increment(i as u64);
    }
    let handle = recorder.handle();
    let mut buf = Vec::new();
    let encode = |buf: &mut Vec<u8>| {
        buf.clear();
        handle.render_to_write(buf).unwrap();
    };
    encode(&mut buf);
    check_series("metrics", &buf);
    group.bench_function("metrics", |b| b.iter(|| encode(&mut buf)));

    // measured encodes straight from its vec; `finish` hands out the encoder's bytes.
    let vec = measured::CounterVec::with_label_set(MeasuredLabelsSet::new());
    for (i, (service, endpoint)) in sets.iter().enumerate() {
        vec.inc_by(MeasuredLabels { service, endpoint }, i as u64);
    }
    let mut encoder = BufferedTextEncoder::new();
    let mut encode = || {
        vec.collect_family_into(MetricName::from_str("http_requests_total"), &mut encoder)
            .unwrap();
        encoder.finish()
    };
    check_series("measured", &encode());
    group.bench_function("measured", |b| b.iter(&mut encode));

    let mut registry = fastmetrics::registry::Registry::default();
    let family = fastmetrics::metrics::family::Family::<FastLabels, _>::new(
        fastmetrics::metrics::counter::Counter::<u64>::default,
    );
    registry
        .register("http_requests_total", "Requests.", family.clone())
        .unwrap();
    for (i, (a, b)) in sets.iter().enumerate() {
        let labels = FastLabels {
            service: a.clone(),
            endpoint: b.clone(),
        };
        family.with_or_new(&labels, |c| c.inc_by(i as u64));
    }
    let mut buf = String::new();
    let encode = |buf: &mut String| {
        buf.clear();
        fastmetrics::format::text::encode(buf, &registry, TextProfile::PrometheusV0_0_4).unwrap();
    };
    encode(&mut buf);
    check_series("fastmetrics", buf.as_bytes());
    group.bench_function("fastmetrics", |b| b.iter(|| encode(&mut buf)));

    group.finish();
}

/// Guards against measuring an incomplete exposition: one sample line per series.
fn check_series(library: &str, text: &[u8]) {
    assert_samples(library, text, "http_requests_total{", SERIES);
}
