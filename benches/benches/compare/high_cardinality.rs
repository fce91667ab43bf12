//! `mt_high_cardinality`: `measured`'s own high-cardinality benchmark, on two threads.
//! Every iteration starts from a fresh, empty vec (and registry): each of two threads
//! creates 2,000 new series of a 3-label counter (`kind`: an enum of 3, `route`: one of 6
//! strings, `user_name`: a distinct string per series) with one increment each, then this
//! thread gathers and encodes all 4,000 as text. Building the vec (and registry) and
//! dropping them with what the gather kept are not timed; the user names are built once,
//! before measuring.
//!
//! `high_cardinality_split` runs the same scenario on one thread (4,000 series) and
//! times its phases apart, one function per library and phase: `LIBRARY/inserts`,
//! `LIBRARY/first-gather` and `LIBRARY/second-gather` (each with the text encode) and
//! `LIBRARY/drop` (dropping the state with its 4,000 series).
//!
//! Each library takes the label values as it best can: promsdk and `prometheus` as
//! strings; `prometheus-client` and `fastmetrics` as a derived struct of the enum, the
//! route and an owned copy of the user name; `metrics` as a key of owned labels;
//! `measured` as in its benchmark (the enum, the route in a read-only interner, the user
//! name in a concurrent interner).

use criterion::measurement::WallTime;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use fastmetrics::format::text::TextProfile;
use measured::metric::name::MetricName;
use measured::metric::MetricFamilyEncoding;
use measured::text::TextEncoder;
use metrics::{Key, Label, Recorder};
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use prometheus::Encoder;

use crate::errors::{combination, route_reader, Kind};
use crate::peers::{assert_samples, recorder, FixedValues, Utf8Buf, METADATA};
use crate::threads::{both, rounds};

/// New series each thread creates per iteration.
const SERIES_PER_THREAD: usize = 2_000;
/// The family's name; `prometheus-client`, which adds `_total` itself, gets `BASE_NAME`.
const NAME: &str = "http_request_errors_total";
const BASE_NAME: &str = "http_request_errors";
const LABELS: [&str; 3] = ["kind", "route", "user_name"];

#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredErrorSet)]
struct MeasuredError<'a> {
    kind: Kind,
    #[label(fixed_with = FixedValues)]
    route: &'a str,
    #[label(dynamic_with = paracord::ParaCord, default)]
    user_name: &'a str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ClientError {
    kind: Kind,
    route: &'static str,
    user_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, fastmetrics::derive::LabelSet)]
struct FastError {
    kind: Kind,
    route: &'static str,
    user_name: String,
}

type ClientFamily = prometheus_client::metrics::family::Family<
    ClientError,
    prometheus_client::metrics::counter::Counter,
>;
type FastFamily =
    fastmetrics::metrics::family::Family<FastError, fastmetrics::metrics::counter::Counter<u64>>;

/// How the scenario runs: on two threads, timed as a whole, or on one thread with its
/// phases timed apart.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    TwoThreads,
    Split,
}

pub fn mt_high_cardinality(c: &mut Criterion) {
    scenario(c, "mt_high_cardinality", Mode::TwoThreads);
}

pub fn high_cardinality_split(c: &mut Criterion) {
    scenario(c, "high_cardinality_split", Mode::Split);
}

fn scenario(c: &mut Criterion, name: &str, mode: Mode) {
    let users: [Vec<String>; 2] = [0, 1].map(|t| {
        (0..SERIES_PER_THREAD)
            .map(|i| format!("user-{t}-{i:04}"))
            .collect()
    });
    let mut group = crate::group(c, name);
    // Milliseconds per iteration: fewer, flat samples keep the group to seconds.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let mut group = Scenario {
        group,
        mode,
        users: &users,
    };

    // The gather's reused output is part of the state, as the other libraries' gathered
    // families are: kept across iterations, it would hold the last iteration's 4,000
    // label sets until the next gather replaced them, freeing them in its timed region.
    type State = (
        promsdk::Registry,
        promsdk::CounterVec,
        std::sync::Mutex<promsdk::Collected>,
    );
    bench(
        &mut group,
        "promsdk",
        || {
            let registry = promsdk::Registry::default();
            let vec =
                promsdk::CounterVec::new(promsdk::Opts::new(NAME, "Errors."), &LABELS).unwrap();
            registry.register(vec.clone()).unwrap();
            (registry, vec, Default::default())
        },
        |(_, vec, _): &State, kind, route, user| {
            vec.update(&[kind.as_str(), route, user], |c| c.inc())
        },
        |(registry, _, sink), buf| {
            let mut sink = sink.lock().unwrap();
            registry.gather_into(&mut sink);
            promsdk::encode(sink.families(), promsdk::Format::Text, buf);
        },
    );

    let encoder = prometheus::TextEncoder::new();
    bench(
        &mut group,
        "prometheus",
        || {
            let registry = prometheus::Registry::new();
            let vec =
                prometheus::IntCounterVec::new(prometheus::Opts::new(NAME, "Errors."), &LABELS)
                    .unwrap();
            registry.register(Box::new(vec.clone())).unwrap();
            (registry, vec)
        },
        |(_, vec): &(prometheus::Registry, prometheus::IntCounterVec), kind, route, user| {
            vec.with_label_values(&[kind.as_str(), route, user]).inc()
        },
        |(registry, _), buf| encoder.encode(&registry.gather(), buf).unwrap(),
    );

    bench(
        &mut group,
        "prometheus-client",
        || {
            let mut registry = prometheus_client::registry::Registry::default();
            let family = ClientFamily::default();
            registry.register(BASE_NAME, "Errors.", family.clone());
            (registry, family)
        },
        |(_, family): &(prometheus_client::registry::Registry, ClientFamily), kind, route, user| {
            family
                .get_or_create(&ClientError {
                    kind,
                    route,
                    user_name: user.to_owned(),
                })
                .inc();
        },
        |(registry, _), buf| {
            prometheus_client::encoding::text::encode(&mut Utf8Buf(buf), registry).unwrap()
        },
    );

    bench(
        &mut group,
        "metrics",
        || {
            let recorder = recorder();
            let handle = recorder.handle();
            (recorder, handle)
        },
        |(recorder, _): &(PrometheusRecorder, PrometheusHandle), kind, route, user| {
            let labels = vec![
                Label::new(LABELS[0], kind.as_str()),
                Label::new(LABELS[1], route),
                Label::new(LABELS[2], user.to_owned()),
            ];
            recorder
                .register_counter(&Key::from_parts(NAME, labels), &METADATA)
                .increment(1)
        },
        |(_, handle), buf| handle.render_to_write(buf).unwrap(),
    );

    bench(
        &mut group,
        "measured",
        || measured::CounterVec::with_label_set(MeasuredErrorSet::new(route_reader())),
        |vec: &measured::CounterVec<MeasuredErrorSet>, kind, route, user_name| {
            vec.inc(MeasuredError {
                kind,
                route,
                user_name,
            })
        },
        |vec, buf| {
            vec.collect_family_into(MetricName::from_str(NAME), &mut TextEncoder::new(buf))
                .unwrap()
        },
    );

    bench(
        &mut group,
        "fastmetrics",
        || {
            let mut registry = fastmetrics::registry::Registry::default();
            let family = FastFamily::new(Default::default);
            registry.register(NAME, "Errors.", family.clone()).unwrap();
            (registry, family)
        },
        |(_, family): &(fastmetrics::registry::Registry, FastFamily), kind, route, user| {
            let labels = FastError {
                kind,
                route,
                user_name: user.to_owned(),
            };
            family.with_or_new(&labels, |c| c.inc())
        },
        |(registry, _), buf| {
            fastmetrics::format::text::encode(
                &mut Utf8Buf(buf),
                registry,
                TextProfile::PrometheusV0_0_4,
            )
            .unwrap()
        },
    );

    group.group.finish();
}

/// A criterion group running the scenario in one mode, over the users of each thread.
struct Scenario<'a, 'c> {
    group: BenchmarkGroup<'c, WallTime>,
    mode: Mode,
    users: &'a [Vec<String>; 2],
}

/// Measures rounds of: a fresh state from `setup` (not timed), each thread's new series
/// created with `insert`, then `encode` of the state into a buffer reused across
/// rounds (in `Mode::Split`, all on this thread, each phase its own function). One
/// round runs first to check the exposition holds every series.
fn bench<S: Sync>(
    scenario: &mut Scenario<'_, '_>,
    library: &str,
    mut setup: impl FnMut() -> S,
    insert: impl Fn(&S, Kind, &'static str, &str) + Sync,
    mut encode: impl FnMut(&S, &mut Vec<u8>),
) {
    let users = scenario.users;
    let work = |state: &S, thread: usize| {
        for (i, user) in users[thread].iter().enumerate() {
            let (kind, route) = combination(i);
            insert(state, kind, route, user);
        }
    };
    let mut buf = Vec::new();
    let state = setup();
    both(|thread| work(&state, thread));
    encode(&state, &mut buf);
    drop(state);
    assert_samples(
        library,
        &buf,
        "http_request_errors_total{",
        2 * SERIES_PER_THREAD,
    );

    let group = &mut scenario.group;
    if scenario.mode == Mode::TwoThreads {
        group.bench_function(library, |b| {
            b.iter_custom(|iters| {
                rounds(iters, &mut setup, work, |state| {
                    buf.clear();
                    encode(state, &mut buf)
                })
            })
        });
        return;
    }
    // One thread: the phases in turn, timing one of them per function.
    let mut phases = |iters: u64, timed: Phase| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let state = setup();
            let began = Instant::now();
            work(&state, 0);
            work(&state, 1);
            let mut took = [began.elapsed(), Duration::ZERO, Duration::ZERO];
            for gather in &mut took[1..] {
                let began = Instant::now();
                buf.clear();
                encode(&state, &mut buf);
                *gather = began.elapsed();
            }
            let began = Instant::now();
            drop(state);
            let dropped = began.elapsed();
            total += match timed {
                Phase::Inserts => took[0],
                Phase::FirstGather => took[1],
                Phase::SecondGather => took[2],
                Phase::Drop => dropped,
            };
        }
        total
    };
    for (phase, id) in [
        (Phase::Inserts, "inserts"),
        (Phase::FirstGather, "first-gather"),
        (Phase::SecondGather, "second-gather"),
        (Phase::Drop, "drop"),
    ] {
        group.bench_function(format!("{library}/{id}"), |b| {
            b.iter_custom(|iters| phases(iters, phase))
        });
    }
}

/// The phases `Mode::Split` times apart.
#[derive(Clone, Copy)]
enum Phase {
    Inserts,
    FirstGather,
    SecondGather,
    Drop,
}
