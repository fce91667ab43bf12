//! Whatever our encoders write, our parser reads back identically: families built from
//! arbitrary names, help, labels and values go through `encode` and `parse_families`
//! in both formats. OpenMetrics keeps everything; the text format has no units,
//! exemplars, `_created`, info or state sets, so its expectation is the family as the
//! text encoder projects it (info as gauge `<name>_info`, a state set as a gauge with
//! the state label).

use std::collections::BTreeMap;
use std::sync::Arc;

use promsdk::parser::parse_families;
use promsdk::{
    encode, Bucket, Exemplar, Format, HistogramValue, LabelSet, MetricFamily, MetricType, Sample,
    SummaryValue, Value,
};
use proptest::prelude::*;

const LABEL_VALUE: &str = "[a-zA-Z0-9 \\\\\"\n{}#,=é☃]{0,6}";

fn label_set(name: &str, pairs: BTreeMap<String, String>) -> LabelSet {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
    LabelSet::from_pairs(name, &pairs).unwrap()
}

fn label_maps() -> impl Strategy<Value = Vec<BTreeMap<String, String>>> {
    let map = prop::collection::btree_map("[a-z][a-z0-9_]{0,5}", LABEL_VALUE, 0..3).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| k != "le" && k != "quantile")
            .collect()
    });
    prop::collection::vec(map, 0..4).prop_map(|mut maps: Vec<BTreeMap<String, String>>| {
        maps.sort();
        maps.dedup();
        maps
    })
}

/// Values the OpenMetrics rules allow everywhere: finite, not negative zero.
fn plain() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..1e12f64, Just(0.0), Just(1.0), Just(0.1), Just(1e-300)]
}

/// Any gauge value, including NaN and infinities.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        plain(),
        -1e12..0.0f64,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY)
    ]
}

fn exemplar() -> impl Strategy<Value = Option<Exemplar>> {
    let ts = prop::option::of(prop_oneof![Just(1_700_000_000.125), -1e9..1e12f64]);
    prop::option::of(
        (LABEL_VALUE, plain(), ts).prop_map(|(v, value, timestamp)| Exemplar {
            labels: LabelSet::from_pairs("e", &[("trace_id", &v)]).unwrap(),
            value,
            timestamp,
        }),
    )
}

fn value(kind: MetricType) -> BoxedStrategy<Value> {
    let created = prop::option::of(plain());
    match kind {
        MetricType::Counter => (plain(), created, exemplar())
            .prop_map(|(total, created, e)| Value::Counter {
                total,
                created,
                exemplar: e.map(Box::new),
            })
            .boxed(),
        MetricType::Gauge => any_value().prop_map(Value::Gauge).boxed(),
        MetricType::Unknown => any_value().prop_map(Value::Unknown).boxed(),
        MetricType::Info => Just(Value::Info).boxed(),
        MetricType::StateSet => prop::collection::btree_map(LABEL_VALUE, any::<bool>(), 1..3)
            .prop_map(|m| Value::StateSet(m.into_iter().map(|(k, v)| (Arc::from(k), v)).collect()))
            .boxed(),
        MetricType::Histogram => {
            let bounds = prop::collection::btree_set(0u32..1000, 0..4);
            (
                bounds,
                prop::collection::vec((0u64..5, exemplar()), 4),
                0u64..5,
                plain(),
                created,
            )
                .prop_map(|(bounds, steps, extra, sum, created)| {
                    let mut total = 0;
                    let mut buckets: Vec<Bucket> = bounds
                        .into_iter()
                        .zip(steps)
                        .map(|(b, (step, exemplar))| {
                            total += step;
                            Bucket {
                                upper_bound: f64::from(b) / 8.0,
                                cumulative_count: total,
                                exemplar,
                            }
                        })
                        .collect();
                    let count = total + extra;
                    buckets.push(Bucket {
                        upper_bound: f64::INFINITY,
                        cumulative_count: count,
                        exemplar: None,
                    });
                    Value::Histogram(Box::new(HistogramValue {
                        buckets,
                        count,
                        sum,
                        created,
                    }))
                })
                .boxed()
        }
        MetricType::Summary => {
            let quantiles = prop::collection::btree_map(0u32..=100, plain(), 0..3);
            (quantiles, 0u64..100, plain(), created)
                .prop_map(|(q, count, sum, created)| {
                    let quantiles = q
                        .into_iter()
                        .map(|(q, v)| (f64::from(q) / 100.0, v))
                        .collect();
                    Value::Summary(Box::new(SummaryValue {
                        quantiles,
                        count,
                        sum,
                        created,
                    }))
                })
                .boxed()
        }
    }
}

fn family(index: usize) -> impl Strategy<Value = MetricFamily> {
    let kinds = prop_oneof![
        Just(MetricType::Counter),
        Just(MetricType::Gauge),
        Just(MetricType::Histogram),
        Just(MetricType::Summary),
        Just(MetricType::Info),
        Just(MetricType::StateSet),
        Just(MetricType::Unknown),
    ];
    (
        "[a-z][a-z0-9_:]{0,6}",
        "[a-zA-Z0-9 \\\\\"\n.é]{0,10}",
        kinds,
        any::<bool>(),
        label_maps(),
    )
        .prop_flat_map(move |(base, help, kind, with_unit, maps)| {
            let unit = with_unit && !matches!(kind, MetricType::Info | MetricType::StateSet);
            // A state set's name is also a label name, which cannot hold ':'.
            let base = if kind == MetricType::StateSet {
                base.replace(':', "_")
            } else {
                base
            };
            let name = if unit {
                format!("{base}_m{index}_seconds")
            } else {
                format!("{base}_m{index}")
            };
            let timestamps = if kind == MetricType::Info {
                Just(None).boxed()
            } else {
                prop::option::of(0i64..4_000_000_000_000).boxed()
            };
            let samples = maps
                .into_iter()
                .map(|m| {
                    let labels = label_set(&name, m);
                    (value(kind), timestamps.clone()).prop_map(move |(value, ts)| {
                        let mut s = Sample::new(labels.clone(), value);
                        s.timestamp_ms = ts;
                        s
                    })
                })
                .collect::<Vec<_>>();
            (Just((name, help, kind, unit)), samples)
        })
        .prop_map(|((name, help, kind, unit), samples)| {
            let mut f = MetricFamily::new(name, help, kind);
            f.unit = unit.then(|| Arc::from("seconds"));
            f.samples = samples;
            f
        })
}

fn families() -> impl Strategy<Value = Vec<MetricFamily>> {
    (0usize..4).prop_flat_map(|n| (0..n).map(family).collect::<Vec<_>>())
}

/// What the text encoder keeps of a family.
fn text_projection(f: &MetricFamily) -> MetricFamily {
    let mut out = f.clone();
    out.unit = None;
    // Prometheus 2.42 reads a `# HELP` text of blanks only as empty help.
    if f.help.bytes().all(|b| b == b' ' || b == b'\t') {
        out.help = "".into();
    }
    match f.metric_type {
        MetricType::Info => {
            out.name = format!("{}_info", f.name).into();
            out.metric_type = MetricType::Gauge;
            for s in &mut out.samples {
                s.value = Value::Gauge(1.0);
            }
        }
        MetricType::StateSet => {
            out.metric_type = MetricType::Gauge;
            out.samples = f
                .samples
                .iter()
                .flat_map(|s| {
                    let Value::StateSet(states) = &s.value else {
                        unreachable!()
                    };
                    states.iter().map(move |(state, on)| {
                        let mut pairs: BTreeMap<String, String> = s
                            .labels
                            .iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        pairs.insert(f.name.to_string(), state.to_string());
                        let mut sample = Sample::new(
                            label_set(&f.name, pairs),
                            Value::Gauge(f64::from(u8::from(*on))),
                        );
                        sample.timestamp_ms = s.timestamp_ms;
                        sample
                    })
                })
                .collect();
        }
        _ => {}
    }
    for s in &mut out.samples {
        match &mut s.value {
            Value::Counter {
                created, exemplar, ..
            } => {
                *created = None;
                *exemplar = None;
            }
            Value::Histogram(h) => {
                h.created = None;
                h.buckets.iter_mut().for_each(|b| b.exemplar = None);
            }
            Value::Summary(summary) => summary.created = None,
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn openmetrics_reads_back_what_we_write(families in families()) {
        let mut body = Vec::new();
        encode(&families, Format::OpenMetrics, &mut body);
        let parsed = parse_families(&body, Format::OpenMetrics);
        let text = String::from_utf8_lossy(&body);
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, text);
        prop_assert_eq!(format!("{:?}", parsed.unwrap()), format!("{families:?}"), "{}", text);
    }

    #[test]
    fn text_reads_back_what_we_write(families in families()) {
        let mut body = Vec::new();
        encode(&families, Format::Text, &mut body);
        let parsed = parse_families(&body, Format::Text);
        let text = String::from_utf8_lossy(&body);
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, text);
        let want: Vec<_> = families.iter().map(text_projection).collect();
        prop_assert_eq!(format!("{:?}", parsed.unwrap()), format!("{want:?}"), "{}", text);
    }
}
