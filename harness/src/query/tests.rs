//! Hand-built cases for what Prometheus's test vectors do not cover: staleness
//! markers inside instant and range selectors, range queries, the sample limit,
//! errors and their classes, result order, and the unsupported constructs.

use std::time::Duration;

use super::promql_tests::run_script;
use super::*;
use crate::scrape::{series_labels, Storage, STALE_NAN};

type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], i64, f64);

fn store_with(rows: &[Row<'_>]) -> MemoryStore {
    let store = MemoryStore::new(Duration::from_secs(24 * 3600));
    let mut app = store.appender();
    for &(name, labels, t, v) in rows {
        app.append(&series_labels(name, labels), t, v);
    }
    app.commit();
    store
}

fn engine(rows: &[Row<'_>]) -> Engine {
    Engine::new(store_with(rows), EngineOpts::default())
}

fn vector(e: &Engine, q: &str, t: i64) -> Vec<(String, f64)> {
    match e.instant(q, t, None) {
        Ok(QueryValue::Vector(v)) => v
            .into_iter()
            .map(|s| (labels_string(&s.labels), s.value))
            .collect(),
        other => panic!("{q}: {other:?}"),
    }
}

fn scalar(e: &Engine, q: &str, t: i64) -> f64 {
    match e.instant(q, t, None) {
        Ok(QueryValue::Scalar(v)) => v,
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn instant_selector_honours_lookback_and_staleness() {
    let e = engine(&[
        ("m", &[], 1_000, 1.0),
        ("m", &[], 2_000, STALE_NAN),
        ("m", &[], 9_000, 5.0),
        ("old", &[], 0, 7.0),
    ]);
    assert_eq!(vector(&e, "m", 1_500), [(r#"{__name__="m"}"#.into(), 1.0)]);
    assert!(vector(&e, "m", 2_000).is_empty(), "a marker hides at once");
    assert!(vector(&e, "m", 8_999).is_empty());
    assert_eq!(vector(&e, "m", 9_000)[0].1, 5.0);
    assert_eq!(vector(&e, "old", 300_000).len(), 1, "lookback is inclusive");
    assert!(vector(&e, "old", 300_001).is_empty());
    assert!(
        vector(&e, "m", 999).is_empty(),
        "nothing before the first sample"
    );
    assert_eq!(vector(&e, "m offset 7500ms", 9_000)[0].1, 1.0);
    assert!(
        vector(&e, "m offset 7s", 9_000).is_empty(),
        "the marker at 2s"
    );
    assert_eq!(vector(&e, "m @ 1.5", 100_000)[0].1, 1.0);
}

#[test]
fn range_selectors_drop_markers_and_keep_both_ends() {
    let e = engine(&[
        ("c", &[], 0, 0.0),
        ("c", &[], 10_000, 10.0),
        ("c", &[], 20_000, STALE_NAN),
        ("c", &[], 30_000, 5.0),
        ("c", &[], 40_000, 15.0),
    ]);
    match e.instant("c[40s]", 40_000, None).unwrap() {
        QueryValue::Matrix(m) => assert_eq!(
            m[0].points,
            vec![(0, 0.0), (10_000, 10.0), (30_000, 5.0), (40_000, 15.0)]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(vector(&e, "count_over_time(c[40s])", 40_000)[0].1, 4.0);
    assert_eq!(vector(&e, "resets(c[40s])", 40_000)[0].1, 1.0);
    // The reset adds the value before it: 10 + 15 over the samples' 40s span.
    assert_eq!(vector(&e, "increase(c[40s])", 40_000)[0].1, 25.0);
    assert_eq!(vector(&e, "changes(c[40s])", 40_000)[0].1, 3.0);
    assert!(
        vector(&e, "rate(c[5s])", 40_000).is_empty(),
        "one sample: no rate"
    );
    assert!(
        vector(&e, "count_over_time(c[5s])", 25_000).is_empty(),
        "only a marker"
    );
}

#[test]
fn range_query_evaluates_every_step() {
    let e = engine(&[
        ("m", &[("a", "x")], 1_000, 1.0),
        ("m", &[("a", "x")], 3_000, 2.0),
        ("m", &[("a", "x")], 5_000, STALE_NAN),
        ("m", &[("a", "y")], 2_000, 10.0),
    ]);
    let got = e
        .range("m * 2", 0, 6_000, Duration::from_secs(1), None)
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].points,
        vec![(1_000, 2.0), (2_000, 2.0), (3_000, 4.0), (4_000, 4.0)]
    );
    assert_eq!(labels_string(&got[1].labels), r#"{a="y"}"#);
    let got = e
        .range("time()", 0, 2_000, Duration::from_secs(1), None)
        .unwrap();
    assert_eq!(got[0].labels, LabelSet::empty());
    assert_eq!(got[0].points, vec![(0, 0.0), (1_000, 1.0), (2_000, 2.0)]);
    let err = e
        .range("m[1m]", 0, 1, Duration::from_secs(1), None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid expression type "range vector" for range query, must be Scalar or instant Vector"#
    );
    assert_eq!(err.error_type(), "bad_data");
    assert!(e.range("m", 5, 0, Duration::from_secs(1), None).is_err());
    assert!(e.range("m", 0, 5, Duration::ZERO, None).is_err());
}

#[test]
fn literals_and_scalars() {
    let e = engine(&[("m", &[], 0, 1.0)]);
    assert_eq!(scalar(&e, "1 + 2 * 3", 0), 7.0);
    assert_eq!(scalar(&e, "-(2 ^ 3)", 0), -8.0);
    assert_eq!(scalar(&e, "7 % 4", 0), 3.0);
    assert_eq!(scalar(&e, "1 > bool 2", 0), 0.0);
    assert_eq!(scalar(&e, "time()", 12_345), 12.345);
    assert!(scalar(&e, "scalar(nothing)", 0).is_nan());
    assert_eq!(
        e.instant(r#""text""#, 0, None).unwrap(),
        QueryValue::String("text".into())
    );
    assert_eq!(scalar(&e, "0x10", 0), 16.0);
    assert!(scalar(&e, "NaN", 0).is_nan());
    assert_eq!(scalar(&e, "-Inf", 0), f64::NEG_INFINITY);
}

#[test]
fn nan_and_infinities_flow_through_operators() {
    let e = engine(&[
        ("v", &[("k", "nan")], 0, f64::NAN),
        ("v", &[("k", "inf")], 0, f64::INFINITY),
        ("v", &[("k", "ninf")], 0, f64::NEG_INFINITY),
    ]);
    let got = vector(&e, "v > 0", 0);
    assert_eq!(got, [(r#"{__name__="v", k="inf"}"#.into(), f64::INFINITY)]);
    let got = vector(&e, "v == bool v", 0);
    let values: Vec<f64> = got.iter().map(|g| g.1).collect();
    assert_eq!(values, [1.0, 0.0, 1.0], "NaN never equals itself");
    assert!(vector(&e, "sum(v)", 0)[0].1.is_nan());
    assert_eq!(vector(&e, r#"max(v{k!="ninf"})"#, 0)[0].1, f64::INFINITY);
    assert!(vector(&e, r#"clamp_max(v{k="nan"}, 1)"#, 0)[0].1.is_nan());
    let sorted: Vec<String> = vector(&e, "sort_desc(v)", 0)
        .into_iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(
        sorted,
        [
            r#"{__name__="v", k="inf"}"#,
            r#"{__name__="v", k="ninf"}"#,
            r#"{__name__="v", k="nan"}"#
        ],
        "NaN sorts last"
    );
}

#[test]
fn vector_matching_errors_are_prometheus_messages() {
    let e = engine(&[
        ("a", &[("i", "1"), ("j", "x")], 0, 1.0),
        ("a", &[("i", "1"), ("j", "y")], 0, 2.0),
        ("b", &[("i", "1")], 0, 10.0),
        ("c", &[("i", "1"), ("k", "p")], 0, 1.0),
        ("c", &[("i", "1"), ("k", "q")], 0, 1.0),
        ("d", &[("i", "1")], 0, 1.0),
    ]);
    let err = e.instant("b + on(i) a", 0, None).unwrap_err();
    assert_eq!(err.error_type(), "execution");
    assert!(
        err.to_string().starts_with(
            r#"found duplicate series for the match group {i="1"} on the right hand-side of the operation: [{__name__="a", i="1", j="y"}, {__name__="a", i="1", j="x"}];many-to-many"#
        ),
        "{err}"
    );
    let err = e.instant("a + on(i) b", 0, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    let got = vector(&e, "a + on(i) group_left b", 0);
    assert_eq!(
        got,
        [
            (r#"{i="1", j="x"}"#.into(), 11.0),
            (r#"{i="1", j="y"}"#.into(), 12.0)
        ]
    );
    let got = vector(&e, "b - on(i) group_right a", 0);
    assert_eq!(got[0], (r#"{i="1", j="x"}"#.into(), 9.0));
    let err = e.instant("a * on(i) group_left c", 0, None).unwrap_err();
    assert!(err.to_string().contains("on the right hand-side"), "{err}");
    let err = e.instant(r#"{__name__=~"a|c"} * 1"#, 0, None);
    assert!(err.is_ok(), "different label sets once the name is gone");
    let err = e.instant(r#"-{__name__=~"b|d"}"#, 0, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn set_operators_match_on_signatures() {
    let e = engine(&[
        ("a", &[("i", "1")], 0, 1.0),
        ("a", &[("i", "2")], 0, 2.0),
        ("b", &[("i", "2")], 0, 20.0),
        ("b", &[("i", "3")], 0, 30.0),
    ]);
    let names = |q: &str| -> Vec<String> { vector(&e, q, 0).into_iter().map(|g| g.0).collect() };
    assert_eq!(names("a and b"), [r#"{__name__="a", i="2"}"#]);
    assert_eq!(names("a unless b"), [r#"{__name__="a", i="1"}"#]);
    assert_eq!(names("a or b").len(), 3);
    assert_eq!(names("a and on() b").len(), 2);
    assert!(names("a unless on() b").is_empty());
    assert!(names("a and nothing").is_empty());
}

#[test]
fn max_samples_limits_loaded_samples() {
    let store = store_with(&[
        ("m", &[("i", "1")], 0, 1.0),
        ("m", &[("i", "1")], 10_000, 2.0),
        ("m", &[("i", "2")], 0, 1.0),
    ]);
    let e = Engine::new(store.clone(), EngineOpts::default().max_samples(2));
    assert_eq!(vector(&e, "m", 10_000).len(), 2);
    assert_eq!(
        e.instant("count_over_time(m[1m])", 10_000, None)
            .unwrap_err(),
        QueryError::TooManySamples
    );
    assert_eq!(
        QueryError::TooManySamples.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    let err = e
        .range("m", 0, 10_000, Duration::from_secs(5), None)
        .unwrap_err();
    assert_eq!(err.error_type(), "execution", "the result holds 6 samples");
    let e = Engine::new(store, EngineOpts::default().max_samples(3));
    assert!(e.instant("count_over_time(m[1m])", 10_000, None).is_ok());
}

#[test]
fn unsupported_and_invalid_queries_are_bad_data() {
    let e = engine(&[("m", &[], 0, 1.0)]);
    for (q, want) in [
        (
            "sort_by_label(m)",
            r#"unsupported function "sort_by_label""#,
        ),
        ("limitk(1, m)", r#"unsupported aggregation "limitk""#),
        (
            "histogram_avg(m)",
            r#"unsupported function "histogram_avg""#,
        ),
    ] {
        let err = e.instant(q, 0, None).unwrap_err();
        assert_eq!(err.to_string(), want, "{q}");
        assert_eq!(err.error_type(), "bad_data");
    }
    for q in ["m{", "rate(m)", "sum(", "1 >", ""] {
        let err = e.instant(q, 0, None).unwrap_err();
        assert!(matches!(err, QueryError::Parse(_)), "{q}: {err:?}");
    }
    let err = e
        .instant(r#"label_replace(m, "1x", "", "", "")"#, 0, None)
        .unwrap_err();
    assert_eq!(err.error_type(), "execution");
}

#[test]
fn timeout_is_its_own_error() {
    let e = engine(&[("m", &[], 0, 1.0)]);
    let err = e
        .range(
            "m",
            0,
            100_000_000,
            Duration::from_secs(1),
            Some(Duration::ZERO),
        )
        .unwrap_err();
    assert_eq!(err, QueryError::Timeout);
    assert_eq!(err.error_type(), "timeout");
}

#[test]
fn order_is_kept_only_where_prometheus_orders() {
    let e = engine(&[
        ("m", &[("i", "a")], 0, 3.0),
        ("m", &[("i", "b")], 0, 1.0),
        ("m", &[("i", "c")], 0, 2.0),
    ]);
    let order = |q: &str| -> Vec<f64> { vector(&e, q, 0).into_iter().map(|g| g.1).collect() };
    assert_eq!(order("m"), [3.0, 1.0, 2.0], "by labels");
    assert_eq!(order("sort(m)"), [1.0, 2.0, 3.0]);
    assert_eq!(order("(sort_desc(m))"), [3.0, 2.0, 1.0]);
    assert_eq!(order("topk(2, m)"), [3.0, 2.0]);
    assert_eq!(order("bottomk(2, m)"), [1.0, 2.0]);
}

#[test]
fn subqueries_step_on_absolute_multiples() {
    let e = engine(&[
        ("c", &[], 0, 0.0),
        ("c", &[], 30_000, 30.0),
        ("c", &[], 60_000, 60.0),
        ("c", &[], 90_000, 90.0),
    ]);
    // Steps at 30s, 60s, 90s (the window [25s, 95s]).
    assert_eq!(vector(&e, "count_over_time(c[70s:10s])", 95_000)[0].1, 7.0);
    assert_eq!(vector(&e, "max_over_time(c[70s:30s])", 95_000)[0].1, 90.0);
    assert_eq!(vector(&e, "min_over_time(c[70s:30s])", 95_000)[0].1, 30.0);
    // The default step is the evaluation interval, one minute.
    assert_eq!(vector(&e, "count_over_time(c[2m:])", 95_000)[0].1, 2.0);
}

#[test]
fn label_endpoints_read_the_store() {
    let e = engine(&[
        ("a", &[("job", "x")], 1_000, 1.0),
        ("b", &[("job", "y"), ("zone", "z")], 5_000, 1.0),
    ]);
    assert_eq!(
        e.label_names(&[], i64::MIN, i64::MAX),
        ["__name__", "job", "zone"]
    );
    assert_eq!(e.label_names(&[], 0, 2_000), ["__name__", "job"]);
    let sel: Selector = r#"{job="y"}"#.parse().unwrap();
    assert_eq!(e.label_values("job", &[], i64::MIN, i64::MAX), ["x", "y"]);
    assert_eq!(
        e.label_values("__name__", std::slice::from_ref(&sel), i64::MIN, i64::MAX),
        ["b"]
    );
    assert_eq!(e.series(&[sel], i64::MIN, i64::MAX).len(), 1);
}

#[test]
fn format_value_matches_go() {
    for (v, s) in [
        (1.0, "1"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.234e-7, "1.234e-07"),
        (1e-6, "0.000001"),
        (1e100, "1e+100"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
    ] {
        assert_eq!(format_value(v), s);
    }
    assert_eq!(format_f(1e21), "1000000000000000000000");
}

/// Selected scripts of Prometheus's promql/testdata (v2.42.0), each with known answers.
const SCRIPTS: &[(&str, &str)] = &[
    ("aggregators", include_str!("testdata/aggregators.test")),
    ("functions", include_str!("testdata/functions.test")),
    ("operators", include_str!("testdata/operators.test")),
    ("selectors", include_str!("testdata/selectors.test")),
    ("staleness", include_str!("testdata/staleness.test")),
    ("subquery", include_str!("testdata/subquery.test")),
    ("at_modifier", include_str!("testdata/at_modifier.test")),
    ("histograms", include_str!("testdata/histograms.test")),
    ("literals", include_str!("testdata/literals.test")),
];

#[test]
fn prometheus_test_vectors() {
    for (name, script) in SCRIPTS {
        run_script(name, script);
    }
}
