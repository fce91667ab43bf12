//! Registry capability, registration side: conflict and suffix checks, already
//! registered collectors, unregistering, views, the default registry, concurrency.
//! Exported API only.

#[path = "common/collectors.rs"]
mod collectors;

use collectors::*;
use promsdk::{
    default_registry, Collected, Counter, Desc, Error, MetricCollector, MetricType, Opts, Registry,
    Value,
};

/// (case, first descriptors, second descriptors, metric named, words in the reason)
type ConflictCase = (
    &'static str,
    Vec<Desc>,
    Vec<Desc>,
    &'static str,
    &'static str,
);

#[test]
fn conflicting_registrations_name_the_metric_and_the_difference() {
    use MetricType::*;
    let d = |opts: Opts, t, labels: &[&str]| desc(opts, t, labels);
    let cases: Vec<ConflictCase> = vec![
        (
            "type",
            vec![d(Opts::new("x", "h"), Gauge, &[])],
            vec![d(Opts::new("x", "h"), Counter, &[])],
            "x",
            "type",
        ),
        (
            "help",
            vec![d(Opts::new("x", "h"), Gauge, &[])],
            vec![d(Opts::new("x", "other"), Gauge, &["a"])],
            "x",
            "help",
        ),
        (
            "unit",
            vec![d(Opts::new("x_bytes", "h"), Gauge, &[])],
            vec![d(Opts::new("x", "h").unit("bytes"), Gauge, &[])],
            "x_bytes",
            "unit",
        ),
        (
            "label names",
            vec![d(Opts::new("x", "h"), Gauge, &["a"])],
            vec![d(Opts::new("x", "h"), Gauge, &["b"])],
            "x",
            "label names",
        ),
        (
            "const label names",
            vec![d(Opts::new("x", "h").const_label("a", "1"), Gauge, &[])],
            vec![d(Opts::new("x", "h").const_label("b", "1"), Gauge, &[])],
            "x",
            "label names",
        ),
        (
            "same descriptor twice in one collector",
            vec![],
            vec![
                d(Opts::new("x", "h"), Gauge, &[]),
                d(Opts::new("x", "h"), Gauge, &[]),
            ],
            "x",
            "twice",
        ),
        (
            "partial overlap",
            vec![
                d(Opts::new("x", "h"), Gauge, &[]),
                d(Opts::new("y", "h"), Gauge, &[]),
            ],
            vec![
                d(Opts::new("x", "h"), Gauge, &[]),
                d(Opts::new("z", "h"), Gauge, &[]),
            ],
            "x",
            "another collector",
        ),
        (
            "inconsistent within one collector",
            vec![],
            vec![
                d(Opts::new("x", "h").const_label("i", "1"), Gauge, &[]),
                d(Opts::new("x", "other").const_label("i", "2"), Gauge, &[]),
            ],
            "x",
            "disagree",
        ),
        (
            "gauge _count beside histogram",
            vec![d(Opts::new("foo", "h"), Histogram, &[])],
            vec![d(Opts::new("foo_count", "h"), Gauge, &[])],
            "foo_count",
            "_count",
        ),
        (
            "gauge _bucket beside histogram",
            vec![d(Opts::new("foo", "h"), Histogram, &[])],
            vec![d(Opts::new("foo_bucket", "h"), Gauge, &[])],
            "foo_bucket",
            "_bucket",
        ),
        (
            "gauge _sum beside summary",
            vec![d(Opts::new("foo", "h"), Summary, &[])],
            vec![d(Opts::new("foo_sum", "h"), Gauge, &[])],
            "foo_sum",
            "_sum",
        ),
        (
            "gauge _total beside counter",
            vec![d(Opts::new("foo", "h"), Counter, &[])],
            vec![d(Opts::new("foo_total", "h"), Gauge, &[])],
            "foo_total",
            "_total",
        ),
        (
            "gauge _created beside counter",
            vec![d(Opts::new("foo", "h"), Counter, &[])],
            vec![d(Opts::new("foo_created", "h"), Gauge, &[])],
            "foo_created",
            "_created",
        ),
        (
            "gauge _info beside info",
            vec![d(Opts::new("foo", "h"), Info, &[])],
            vec![d(Opts::new("foo_info", "h"), Gauge, &[])],
            "foo_info",
            "_info",
        ),
        (
            "histogram registered after a gauge _count",
            vec![d(Opts::new("foo_count", "h"), Gauge, &[])],
            vec![d(Opts::new("foo", "h"), Histogram, &[])],
            "foo",
            "foo_count",
        ),
        (
            "suffix clash within one collector",
            vec![],
            vec![
                d(Opts::new("foo", "h"), Summary, &[]),
                d(Opts::new("foo_count", "h"), Gauge, &[]),
            ],
            "foo_count",
            "_count",
        ),
    ];
    for (case, first, second, metric, words) in cases {
        let registry = Registry::default();
        if !first.is_empty() {
            registry.register(described(first)).expect(case);
        }
        match registry.register(described(second)) {
            Err(Error::ConflictingDescriptor { name, reason }) => {
                assert_eq!(name, metric, "{case}: {reason}");
                assert!(reason.contains(words), "{case}: {reason}");
            }
            other => panic!("{case}: expected a conflict, got {other:?}"),
        }
        assert!(registry.len() <= 1, "{case}: nothing was added");
    }
}

#[test]
fn compatible_registrations_are_accepted() {
    use MetricType::*;
    let registry = Registry::default();
    // A summary has no buckets, so a gauge `foo_bucket` beside it is fine.
    registry
        .register(described(vec![desc(Opts::new("foo", "h"), Summary, &[])]))
        .unwrap();
    registry
        .register(described(vec![desc(
            Opts::new("foo_bucket", "h"),
            Gauge,
            &[],
        )]))
        .unwrap();
    // The same name with other constant label values, in another collector.
    for instance in ["a", "b"] {
        registry
            .register_metric(
                Opts::new("up", "Up.").const_label("instance", instance),
                promsdk::Gauge::default(),
            )
            .unwrap();
    }
    // Unchecked collectors are always accepted, even twice.
    registry.register(unchecked(vec![])).unwrap();
    registry.register(unchecked(vec![])).unwrap();
    assert_eq!(registry.len(), 6);
    let gathered = registry.gather();
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    let up = gathered.families.iter().find(|f| &*f.name == "up").unwrap();
    let instances: Vec<_> = up
        .samples
        .iter()
        .map(|s| s.labels.get("instance").unwrap())
        .collect();
    assert_eq!(instances, ["a", "b"], "merged into one family, sorted");
}

#[test]
fn already_registered_hands_back_the_existing_collector() {
    let registry = Registry::default();
    let first = Counter::default();
    registry
        .register_metric(Opts::new("jobs_total", "Jobs."), first.clone())
        .unwrap();
    let err = registry
        .register_metric(Opts::new("jobs", "Jobs."), Counter::default())
        .unwrap_err();
    let Error::AlreadyRegistered { name, existing } = err else {
        panic!("{err:?}")
    };
    assert_eq!(name, "jobs");
    let existing = existing
        .downcast::<MetricCollector<Counter>>()
        .expect("same type");
    existing.metric().inc_by(5);
    assert_eq!(first.get(), 5.0, "the handle is the first counter");
    assert!(a_view_hands_back_the_unwrapped_collector(&registry));
}

/// Registering through a view reports the unwrapped collector.
fn a_view_hands_back_the_unwrapped_collector(registry: &Registry) -> bool {
    let view = registry.with_prefix("v_");
    view.register_metric(Opts::new("g", "G."), promsdk::Gauge::default())
        .unwrap();
    let again = view
        .register(gauge_metric(Opts::new("g", "G.")))
        .unwrap_err();
    matches!(again, Error::AlreadyRegistered { ref existing, ref name }
        if name == "v_g" && existing.downcast::<MetricCollector<promsdk::Gauge>>().is_some())
}

#[test]
fn unregister_removes_checked_and_unchecked_collectors() {
    let registry = Registry::default();
    let checked = registry
        .register_with_id(gauge_metric(Opts::new("a", "A.")))
        .unwrap();
    let fam = family("b", MetricType::Gauge, &[(&[], Value::Gauge(1.0))]);
    let free = registry.register_with_id(unchecked(vec![fam])).unwrap();
    assert_eq!(names(&registry.gather().families), ["a", "b"]);
    assert!(registry.unregister(free));
    assert_eq!(names(&registry.gather().families), ["a"]);
    assert!(registry.unregister(checked));
    assert!(!registry.unregister(checked));
    assert!(registry.gather().families.is_empty());
    // The name is free again, for another type too.
    registry
        .register_metric(Opts::new("a", "other"), Counter::default())
        .unwrap();
}

#[test]
fn views_prefix_and_label_descriptors_and_samples() {
    let registry = Registry::default();
    let view = registry
        .with_const_labels(&[("shard", "1")])
        .unwrap()
        .with_prefix("app_");
    let d = desc(
        Opts::new("jobs", "h").unit("bytes"),
        MetricType::Gauge,
        &["queue"],
    );
    let inner = d.clone();
    let id = view
        .register_with_id(FnCollector(vec![d], move |out: &mut Collected| {
            out.family(&inner).gauge(&["q"], 2.0);
        }))
        .unwrap();
    // Unchecked collectors are wrapped too.
    view.register(unchecked(vec![family(
        "free",
        MetricType::Gauge,
        &[(&[], Value::Gauge(1.0))],
    )]))
    .unwrap();
    let gathered = registry.gather();
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    assert_eq!(names(&gathered.families), ["app_free", "app_jobs_bytes"]);
    let labels: Vec<_> = gathered.families[1].samples[0].labels.iter().collect();
    assert_eq!(labels, [("queue", "q"), ("shard", "1")]);
    assert_eq!(gathered.families[1].unit.as_deref(), Some("bytes"));

    // A clash with the view's label is refused at registration.
    let clash = view.register_metric(
        Opts::new("x", "h").const_label("shard", "2"),
        promsdk::Gauge::default(),
    );
    assert!(
        matches!(clash, Err(Error::DuplicateLabelName { ref label, .. }) if label == "shard"),
        "{clash:?}"
    );
    // An unchecked collector's clashing samples are reported at gather time.
    let clashing = family(
        "c",
        MetricType::Gauge,
        &[(&[("shard", "9")], Value::Gauge(1.0))],
    );
    view.register(unchecked(vec![clashing])).unwrap();
    let errors = registry.gather().errors;
    assert!(
        matches!(&errors[..], [Error::DuplicateLabelName { metric, .. }] if metric == "app_c"),
        "{errors:?}"
    );

    assert!(view.unregister(id));
    assert!(!names(&registry.gather().families).contains(&"app_jobs_bytes".to_string()));
}

#[test]
fn an_invalid_prefix_is_refused_at_registration() {
    let registry = Registry::default();
    let err = registry
        .with_prefix("9")
        .register_metric(Opts::new("x", "h"), promsdk::Gauge::default());
    assert!(
        matches!(err, Err(Error::InvalidMetricName { ref name }) if name == "9x"),
        "{err:?}"
    );
}

#[test]
fn the_default_registry_is_one_shared_instance() {
    let g = promsdk::Gauge::default();
    default_registry()
        .register_metric(Opts::new("tests_default_registry", "h"), g.clone())
        .unwrap();
    g.set(4.0);
    let gathered = default_registry().gather();
    let f = gathered
        .families
        .iter()
        .find(|f| &*f.name == "tests_default_registry")
        .unwrap();
    assert_eq!(f.samples[0].value, Value::Gauge(4.0));
}

#[test]
fn concurrent_register_unregister_and_gather() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let registry = Registry::default();
    let total = Counter::default();
    registry
        .register_metric(Opts::new("total", "h"), total.clone())
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (registry, total) = (&registry, &total);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let name = format!("t{t}");
                    let id = registry
                        .register_with_id(gauge_metric(Opts::new(name.as_str(), "h")))
                        .unwrap();
                    // Only this thread uses its name, so a second registration is always
                    // refused as already registered.
                    let again = registry.register(gauge_metric(Opts::new(name.as_str(), "h")));
                    assert!(
                        matches!(again, Err(Error::AlreadyRegistered { .. })),
                        "{round}: {again:?}"
                    );
                    total.inc();
                    assert!(registry.unregister(id));
                }
            });
        }
        for _ in 0..2 {
            let registry = &registry;
            s.spawn(move || {
                for _ in 0..ROUNDS {
                    let gathered = registry.gather();
                    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
                    assert!(gathered.families.iter().any(|f| &*f.name == "total"));
                    assert!(gathered.families.windows(2).all(|w| w[0].name < w[1].name));
                }
            });
        }
    });
    assert_eq!(registry.len(), 1);
    let gathered = registry.gather();
    assert_eq!(names(&gathered.families), ["total"]);
    assert_eq!(
        gathered.families[0].samples[0].value,
        Value::counter((THREADS * ROUNDS) as f64)
    );
}
