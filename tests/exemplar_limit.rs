//! OpenMetrics' 128-character limit on exemplar labels: the recording APIs refuse a
//! longer exemplar and change nothing; a hand-built one (a collector's const sample)
//! reaches the encoder, which leaves it out and keeps the sample.

use promsdk::{
    encode, Collected, Collector, CounterVec, Desc, Error, Exemplar, Format, HistogramConfig,
    HistogramVec, LabelSet, MetricType, Opts, Registry, Value, VecBuilder,
    MAX_EXEMPLAR_LABEL_CHARS,
};

/// `trace_id` (8 characters) plus a value of `value_chars` "€" (3 bytes each).
fn trace(value_chars: usize) -> LabelSet {
    LabelSet::from_pairs("test", &[("trace_id", &"€".repeat(value_chars))]).unwrap()
}

/// 128 characters (360 bytes): the most allowed.
fn at_limit() -> LabelSet {
    trace(MAX_EXEMPLAR_LABEL_CHARS - 8)
}

/// 129 characters: one too many.
fn over_limit() -> LabelSet {
    trace(MAX_EXEMPLAR_LABEL_CHARS - 7)
}

fn openmetrics(registry: &Registry) -> String {
    let gathered = registry.gather();
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    let mut buf = Vec::new();
    encode(&gathered.families, Format::OpenMetrics, &mut buf);
    String::from_utf8(buf).unwrap()
}

fn assert_too_long(result: promsdk::Result<()>) {
    match result {
        Err(e @ Error::ExemplarTooLong { chars: 129, .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("[\"trace_id\"]") && message.contains("129 characters"),
                "{message}"
            );
            assert!(message.contains("limit of 128"), "{message}");
        }
        other => panic!("expected ExemplarTooLong with 129 characters, got {other:?}"),
    }
}

#[test]
fn counter_refuses_a_long_exemplar_and_keeps_the_previous_one() {
    let registry = Registry::new();
    let jobs = CounterVec::new(Opts::new("jobs", "Jobs."), &["kind"]).unwrap();
    registry.register(jobs.clone()).unwrap();
    let child = jobs.with_label_values(&["a"]);
    child.add_with_exemplar(1.0, at_limit()).unwrap();
    assert_too_long(child.add_with_exemplar(10.0, over_limit()));
    assert_eq!(child.get(), 1.0);
    let out = openmetrics(&registry);
    let kept = format!(
        "jobs_total{{kind=\"a\"}} 1.0 # {{trace_id=\"{}\"}} 1.0 ",
        "€".repeat(120)
    );
    assert!(out.contains(&kept), "{out}");
}

#[test]
fn histogram_refuses_a_long_exemplar_without_observing() {
    let registry = Registry::new();
    let latency: HistogramVec = VecBuilder::new(
        Opts::new("latency_seconds", "Latency."),
        &["kind"],
        HistogramConfig::new(&[1.0]),
    )
    .build()
    .unwrap();
    registry.register(latency.clone()).unwrap();
    let child = latency.with_label_values(&["a"]);
    child.observe_with_exemplar(0.5, at_limit()).unwrap();
    assert_too_long(child.observe_with_exemplar(2.0, over_limit()));
    let snap = child.snapshot();
    assert_eq!((snap.count, snap.sum), (1, 0.5));
    let out = openmetrics(&registry);
    assert!(
        out.contains("latency_seconds_bucket{kind=\"a\",le=\"+Inf\"} 1\n"),
        "{out}"
    );
    assert!(out.contains(&format!("{{trace_id=\"{}\"}} 0.5 ", "€".repeat(120))));
}

#[test]
fn concurrent_long_exemplars_add_nothing() {
    let jobs = CounterVec::new(Opts::new("jobs", "Jobs."), &["kind"]).unwrap();
    let (ok, long) = (at_limit(), over_limit());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (jobs, ok, long) = (jobs.clone(), ok.clone(), long.clone());
            s.spawn(move || {
                let child = jobs.with_label_values(&["a"]);
                for _ in 0..1_000 {
                    if t % 2 == 0 {
                        child.add_with_exemplar(1.0, ok.clone()).unwrap();
                    } else {
                        assert_too_long(child.add_with_exemplar(1.0, long.clone()));
                    }
                }
            });
        }
    });
    assert_eq!(jobs.with_label_values(&["a"]).get(), 2_000.0);
}

/// Reports one const counter per entry of `traces`, each with that exemplar.
struct HandBuilt {
    desc: Desc,
    traces: Vec<(&'static str, LabelSet)>,
}

impl Collector for HandBuilt {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let mut family = out.family(&self.desc);
        for (kind, labels) in &self.traces {
            let exemplar = Exemplar {
                labels: labels.clone(),
                value: 1.0,
                timestamp: None,
            };
            let value = Value::Counter {
                total: 3.0,
                created: None,
                exemplar: Some(Box::new(exemplar)),
            };
            family.sample(&[kind], value);
        }
    }
}

#[test]
fn encoder_leaves_out_a_long_hand_built_exemplar_and_keeps_the_sample() {
    assert!(Exemplar::check_labels("jobs", &at_limit()).is_ok());
    match Exemplar::check_labels("jobs", &over_limit()) {
        Err(e @ Error::ExemplarTooLong { .. }) => {
            assert!(e.to_string().contains("for metric \"jobs\""), "{e}");
        }
        other => panic!("expected ExemplarTooLong, got {other:?}"),
    }
    let registry = Registry::new();
    let desc = Desc::new(Opts::new("jobs", "Jobs."), MetricType::Counter, &["kind"]).unwrap();
    registry
        .register(HandBuilt {
            desc,
            traces: vec![("fits", at_limit()), ("long", over_limit())],
        })
        .unwrap();
    let out = openmetrics(&registry);
    let fits = format!(
        "jobs_total{{kind=\"fits\"}} 3.0 # {{trace_id=\"{}\"}} 1.0\n",
        "€".repeat(120)
    );
    assert!(out.contains(&fits), "{out}");
    assert!(out.contains("jobs_total{kind=\"long\"} 3.0\n"), "{out}");
}
