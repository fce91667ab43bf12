//! OpenMetrics' 128-character limit on exemplar labels: the recording APIs refuse a
//! longer exemplar and change nothing; a hand-built one (a collector's const sample) is
//! removed by the gather, which reports it and keeps the sample; the encoder still
//! leaves out one it is handed directly.

use promsdk::{
    encode, gather_all, Bucket, Collected, Collector, CounterVec, Desc, Error, Exemplar, Format,
    Gathered, HistogramConfig, HistogramValue, HistogramVec, LabelSet, MetricFamily, MetricType,
    Opts, Registry, Value, VecBuilder, MAX_EXEMPLAR_LABEL_CHARS,
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
    exposition(&gathered.families, Format::OpenMetrics)
}

fn exposition(families: &[MetricFamily], format: Format) -> String {
    let mut buf = Vec::new();
    encode(families, format, &mut buf);
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

fn exemplar(labels: LabelSet) -> Exemplar {
    Exemplar {
        labels,
        value: 1.0,
        timestamp: None,
    }
}

fn counter_with(labels: LabelSet) -> Value {
    Value::Counter {
        total: 3.0,
        created: None,
        exemplar: Some(Box::new(exemplar(labels))),
    }
}

/// Two observations: one in `le="1"` with exemplar `low`, one above with `inf`.
fn histogram_with(low: LabelSet, inf: LabelSet) -> Value {
    let bucket = |upper_bound, cumulative_count, labels| Bucket {
        upper_bound,
        cumulative_count,
        exemplar: Some(exemplar(labels)),
    };
    Value::Histogram(Box::new(HistogramValue {
        buckets: vec![bucket(1.0, 1, low), bucket(f64::INFINITY, 2, inf)],
        count: 2,
        sum: 3.5,
        created: None,
    }))
}

/// Reports one const sample per entry of `samples` (label value, value) in one family;
/// checked (describes it) or unchecked (describes nothing).
struct HandBuilt {
    desc: Desc,
    checked: bool,
    samples: Vec<(&'static str, Value)>,
}

impl HandBuilt {
    fn counters(checked: bool) -> Self {
        let desc = Desc::new(Opts::new("jobs", "Jobs."), MetricType::Counter, &["kind"]).unwrap();
        let samples = vec![
            ("fits", counter_with(at_limit())),
            ("long", counter_with(over_limit())),
        ];
        HandBuilt {
            desc,
            checked,
            samples,
        }
    }
}

impl Collector for HandBuilt {
    fn describe(&self) -> Vec<Desc> {
        if self.checked {
            vec![self.desc.clone()]
        } else {
            Vec::new()
        }
    }

    fn collect(&self, out: &mut Collected) {
        let mut family = out.family(&self.desc);
        for (kind, value) in &self.samples {
            family.sample(&[kind], value.clone());
        }
    }
}

/// The gather's one error: the family's first too-long exemplar (129 characters) on
/// series `kind="long"`, in `bucket`, and how many were dropped.
fn assert_dropped(gathered: &Gathered, metric: &str, bucket: Option<f64>, dropped: usize) {
    match gathered.errors.as_slice() {
        [e @ Error::ExemplarDropped {
            metric: m,
            series,
            bucket: b,
            label_names,
            chars: 129,
            limit: 128,
            dropped: d,
        }] => {
            assert_eq!(
                (
                    m.as_str(),
                    series.get("kind"),
                    *b,
                    label_names.as_slice(),
                    *d
                ),
                (
                    metric,
                    Some("long"),
                    bucket,
                    &["trace_id".to_owned()][..],
                    dropped
                )
            );
            let message = e.to_string();
            assert!(message.contains(&format!("{metric:?}")), "{message}");
            assert!(message.contains("129 characters"), "{message}");
            assert!(message.contains("limit of 128"), "{message}");
        }
        other => panic!("expected one ExemplarDropped, got {other:?}"),
    }
}

#[test]
fn gather_keeps_a_128_character_hand_built_exemplar_silently() {
    let registry = Registry::new();
    let mut collector = HandBuilt::counters(true);
    collector.samples.truncate(1);
    registry.register(collector).unwrap();
    let out = openmetrics(&registry);
    let fits = format!(
        "jobs_total{{kind=\"fits\"}} 3.0 # {{trace_id=\"{}\"}} 1.0\n",
        "€".repeat(120)
    );
    assert!(out.contains(&fits), "{out}");
}

#[test]
fn gather_reports_a_129_character_counter_exemplar_and_keeps_the_sample() {
    for checked in [true, false] {
        let registry = Registry::new();
        registry.register(HandBuilt::counters(checked)).unwrap();
        let gathered = registry.gather();
        assert_dropped(&gathered, "jobs", None, 1);
        let samples = &gathered.families[0].samples;
        assert_eq!(samples.len(), 2, "checked: {checked}");
        assert_eq!(samples[1].value, Value::counter(3.0), "checked: {checked}");

        let om = exposition(&gathered.families, Format::OpenMetrics);
        let fits = format!(
            "jobs_total{{kind=\"fits\"}} 3.0 # {{trace_id=\"{}\"}} 1.0\n",
            "€".repeat(120)
        );
        assert!(om.contains(&fits), "checked: {checked}\n{om}");
        assert!(
            om.contains("jobs_total{kind=\"long\"} 3.0\n"),
            "checked: {checked}\n{om}"
        );
        let text = exposition(&gathered.families, Format::Text);
        assert!(
            text.contains("jobs_total{kind=\"fits\"} 3.0\njobs_total{kind=\"long\"} 3.0\n"),
            "checked: {checked}\n{text}"
        );
    }
}

#[test]
fn every_gather_entry_point_reports_it() {
    let registry = Registry::new();
    registry.register(HandBuilt::counters(true)).unwrap();
    assert_dropped(&gather_all(&[&registry]), "jobs", None, 1);
    let mut sink = Collected::default();
    for _ in 0..2 {
        registry.gather_into(&mut sink);
        let (families, errors) = (sink.families().to_vec(), sink.take().1);
        assert_dropped(&Gathered { families, errors }, "jobs", None, 1);
    }
}

#[test]
fn gather_reports_a_129_character_bucket_exemplar_and_keeps_the_buckets() {
    let registry = Registry::new();
    let desc = Desc::new(
        Opts::new("latency_seconds", "Latency."),
        MetricType::Histogram,
        &["kind"],
    )
    .unwrap();
    let samples = vec![
        ("fits", histogram_with(at_limit(), at_limit())),
        ("long", histogram_with(at_limit(), over_limit())),
    ];
    registry
        .register(HandBuilt {
            desc,
            checked: true,
            samples,
        })
        .unwrap();
    let gathered = registry.gather();
    assert_dropped(&gathered, "latency_seconds", Some(f64::INFINITY), 1);

    let kept = format!(" # {{trace_id=\"{}\"}} 1.0\n", "€".repeat(120));
    let om = exposition(&gathered.families, Format::OpenMetrics);
    for line in [
        format!("latency_seconds_bucket{{kind=\"fits\",le=\"1.0\"}} 1{kept}"),
        format!("latency_seconds_bucket{{kind=\"fits\",le=\"+Inf\"}} 2{kept}"),
        format!("latency_seconds_bucket{{kind=\"long\",le=\"1.0\"}} 1{kept}"),
        "latency_seconds_bucket{kind=\"long\",le=\"+Inf\"} 2\nlatency_seconds_sum{kind=\"long\"} 3.5\n".to_owned(),
    ] {
        assert!(om.contains(&line), "{line}\n{om}");
    }
    let text = exposition(&gathered.families, Format::Text);
    assert!(
        text.contains("latency_seconds_bucket{kind=\"long\",le=\"+Inf\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("latency_seconds_count{kind=\"long\"} 2\n"),
        "{text}"
    );
}

/// A vec whose gathered family a collector edits through `families_mut`: the vec's
/// exemplars were checked when recorded, but an edit can bring in a long one.
struct Edited {
    jobs: CounterVec,
}

impl Collector for Edited {
    fn describe(&self) -> Vec<Desc> {
        self.jobs.describe()
    }

    fn collect(&self, out: &mut Collected) {
        self.jobs.collect(out);
        for family in out.families_mut() {
            for sample in &mut family.samples {
                if let Value::Counter { exemplar, .. } = &mut sample.value {
                    *exemplar = Some(Box::new(crate::exemplar(over_limit())));
                }
            }
        }
    }
}

#[test]
fn gather_checks_a_vec_family_edited_by_hand() {
    let registry = Registry::new();
    let jobs = CounterVec::new(Opts::new("jobs", "Jobs."), &["kind"]).unwrap();
    jobs.with_label_values(&["long"])
        .add_with_exemplar(2.0, at_limit())
        .unwrap();
    registry.register(Edited { jobs }).unwrap();
    let gathered = registry.gather();
    assert_dropped(&gathered, "jobs", None, 1);
    let om = exposition(&gathered.families, Format::OpenMetrics);
    assert!(om.contains("jobs_total{kind=\"long\"} 2.0\n"), "{om}");
}

#[test]
fn encoder_still_leaves_out_a_long_exemplar_it_is_handed() {
    assert!(Exemplar::check_labels("jobs", &at_limit()).is_ok());
    match Exemplar::check_labels("jobs", &over_limit()) {
        Err(e @ Error::ExemplarTooLong { .. }) => {
            assert!(e.to_string().contains("for metric \"jobs\""), "{e}");
        }
        other => panic!("expected ExemplarTooLong, got {other:?}"),
    }
    let mut family = MetricFamily::new("jobs", "Jobs.", MetricType::Counter);
    let labels = LabelSet::from_pairs("jobs", &[("kind", "long")]).unwrap();
    family
        .samples
        .push(promsdk::Sample::new(labels, counter_with(over_limit())));
    let om = exposition(&[family], Format::OpenMetrics);
    assert!(om.contains("jobs_total{kind=\"long\"} 3.0\n"), "{om}");
}
