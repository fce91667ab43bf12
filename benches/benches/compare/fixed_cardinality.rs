//! `mt_fixed_cardinality`: `measured`'s README counter scenario, on two threads. A
//! 2-label counter vec (`kind`: an enum of 3, `route`: one of 6 strings) with its 18
//! label sets; each iteration, each of two threads increments 20,000 times, passing the
//! label values on every call (the 18 sets picked in a pseudo-random order, different
//! per thread, fixed before measuring), then this thread gathers and encodes the family
//! as text. The vec lives across iterations, so after the first one every lookup is a
//! hit.
//!
//! Label values per call: promsdk and `prometheus` take the strings;
//! `prometheus-client` and `fastmetrics` a derived struct of the enum and the route;
//! `metrics` a key of the two static labels (what `counter!` builds from non-literal
//! `&'static str` values); `measured` its label group (the enum, the route in a
//! read-only interner: a dense array of 18 counters).

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use fastmetrics::format::text::TextProfile;
use measured::metric::name::MetricName;
use measured::metric::MetricFamilyEncoding;
use measured::text::TextEncoder;
use metrics::{Key, Label, Recorder};
use prometheus::Encoder;

use crate::errors::{combination, route_reader, Kind, COMBINATIONS};
use crate::peers::{assert_samples, recorder, FixedValues, Utf8Buf, METADATA};
use crate::threads::rounds;

/// Increments each thread makes per iteration.
const INCREMENTS: usize = 20_000;
/// The family's name; `prometheus-client`, which adds `_total` itself, gets `BASE_NAME`.
const NAME: &str = "http_request_errors_total";
const BASE_NAME: &str = "http_request_errors";
const LABELS: [&str; 2] = ["kind", "route"];

#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredErrorSet)]
struct MeasuredError<'a> {
    kind: Kind,
    #[label(fixed_with = FixedValues)]
    route: &'a str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ClientError {
    kind: Kind,
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, fastmetrics::derive::LabelSet)]
struct FastError {
    kind: Kind,
    route: &'static str,
}

pub fn mt_fixed_cardinality(c: &mut Criterion) {
    let picks = [picks(1), picks(2)];
    let mut group = crate::group(c, "mt_fixed_cardinality");
    // About a millisecond per iteration: flat samples.
    group.sampling_mode(SamplingMode::Flat).sample_size(20);

    let registry = promsdk::Registry::default();
    let vec = promsdk::CounterVec::new(promsdk::Opts::new(NAME, "Errors."), &LABELS).unwrap();
    registry.register(vec.clone()).unwrap();
    let mut sink = promsdk::Collected::default();
    bench(
        &mut group,
        "promsdk",
        &picks,
        |kind, route| vec.update(&[kind.as_str(), route], |c| c.inc()),
        |buf| {
            registry.gather_into(&mut sink);
            promsdk::encode(sink.families(), promsdk::Format::Text, buf);
        },
    );

    let registry = prometheus::Registry::new();
    let vec =
        prometheus::IntCounterVec::new(prometheus::Opts::new(NAME, "Errors."), &LABELS).unwrap();
    registry.register(Box::new(vec.clone())).unwrap();
    let encoder = prometheus::TextEncoder::new();
    bench(
        &mut group,
        "prometheus",
        &picks,
        |kind, route| vec.with_label_values(&[kind.as_str(), route]).inc(),
        |buf| encoder.encode(&registry.gather(), buf).unwrap(),
    );

    let mut registry = prometheus_client::registry::Registry::default();
    let family = prometheus_client::metrics::family::Family::<
        ClientError,
        prometheus_client::metrics::counter::Counter,
    >::default();
    registry.register(BASE_NAME, "Errors.", family.clone());
    bench(
        &mut group,
        "prometheus-client",
        &picks,
        |kind, route| {
            family.get_or_create(&ClientError { kind, route }).inc();
        },
        |buf| prometheus_client::encoding::text::encode(&mut Utf8Buf(buf), &registry).unwrap(),
    );

    let recorder = recorder();
    let handle = recorder.handle();
    bench(
        &mut group,
        "metrics",
        &picks,
        |kind, route| {
            let labels = vec![
                Label::from_static_parts(LABELS[0], kind.as_str()),
                Label::from_static_parts(LABELS[1], route),
            ];
            recorder
                .register_counter(&Key::from_parts(NAME, labels), &METADATA)
                .increment(1)
        },
        |buf| handle.render_to_write(buf).unwrap(),
    );

    let vec = measured::CounterVec::with_label_set(MeasuredErrorSet::new(route_reader()));
    bench(
        &mut group,
        "measured",
        &picks,
        |kind, route| vec.inc(MeasuredError { kind, route }),
        |buf| {
            vec.collect_family_into(MetricName::from_str(NAME), &mut TextEncoder::new(buf))
                .unwrap()
        },
    );

    let mut registry = fastmetrics::registry::Registry::default();
    let family = fastmetrics::metrics::family::Family::<FastError, _>::new(
        fastmetrics::metrics::counter::Counter::<u64>::default,
    );
    registry.register(NAME, "Errors.", family.clone()).unwrap();
    bench(
        &mut group,
        "fastmetrics",
        &picks,
        |kind, route| family.with_or_new(&FastError { kind, route }, |c| c.inc()),
        |buf| {
            fastmetrics::format::text::encode(
                &mut Utf8Buf(buf),
                &registry,
                TextProfile::PrometheusV0_0_4,
            )
            .unwrap()
        },
    );

    group.finish();
}

/// `INCREMENTS` label-set numbers in `0..COMBINATIONS`, pseudo-random (xorshift) from
/// `seed`, so the two threads rarely update the same counter at the same moment.
fn picks(seed: u64) -> Vec<usize> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..INCREMENTS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % COMBINATIONS as u64) as usize
        })
        .collect()
}

/// Measures rounds of: each thread's increments through `inc`, then `encode` into a
/// buffer reused across rounds. One round runs first to create every series and check
/// the exposition holds all of them.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    library: &str,
    picks: &[Vec<usize>; 2],
    inc: impl Fn(Kind, &'static str) + Sync,
    mut encode: impl FnMut(&mut Vec<u8>),
) {
    let work = |_: &(), thread: usize| {
        for &pick in &picks[thread] {
            let (kind, route) = combination(pick);
            inc(kind, route);
        }
    };
    let mut buf = Vec::new();
    rounds(1, || (), work, |_| encode(&mut buf));
    assert_samples(library, &buf, "http_request_errors_total{", COMBINATIONS);

    group.bench_function(library, |b| {
        b.iter_custom(|iters| {
            rounds(
                iters,
                || (),
                work,
                |_| {
                    buf.clear();
                    encode(&mut buf)
                },
            )
        })
    });
}
