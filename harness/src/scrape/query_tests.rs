use super::*;
use crate::scrape::series_labels;
use crate::scrape::store::{Storage, STALE_NAN};

type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], i64, f64);

fn store_with(samples: &[Row<'_>]) -> MemoryStore {
    let store = MemoryStore::new(Duration::from_secs(24 * 3600));
    let mut app = store.appender();
    for &(name, labels, t, v) in samples {
        app.append(&series_labels(name, labels), t, v);
    }
    app.commit();
    store
}

fn sel(q: &str) -> Selector {
    q.parse().unwrap_or_else(|e| panic!("{q}: {e}"))
}

struct Case {
    name: &'static str,
    query: &'static str,
    want: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "bare name",
        query: "m",
        want: &["a", "b", "c"],
    },
    Case {
        name: "equal",
        query: r#"m{s="a"}"#,
        want: &["a"],
    },
    Case {
        name: "not equal",
        query: r#"m{s!="a"}"#,
        want: &["b", "c"],
    },
    Case {
        name: "regex anchored",
        query: r#"m{s=~"a|b"}"#,
        want: &["a", "b"],
    },
    Case {
        name: "regex is not a substring match",
        query: r#"m{s=~"."}"#,
        want: &["a", "b", "c"],
    },
    Case {
        name: "regex anchored at both ends",
        query: r#"m{s=~"a.*"}"#,
        want: &["a"],
    },
    Case {
        name: "not regex",
        query: r#"m{s!~"a|b"}"#,
        want: &["c"],
    },
    Case {
        name: "missing label is empty",
        query: r#"m{x=""}"#,
        want: &["a", "b", "c"],
    },
    Case {
        name: "name in braces",
        query: r#"{__name__="m", s='b'}"#,
        want: &["b"],
    },
    Case {
        name: "spaces and trailing comma",
        query: r#" m { s = "c" , } "#,
        want: &["c"],
    },
    Case {
        name: "backticks",
        query: r#"m{s=~`[bc]`}"#,
        want: &["b", "c"],
    },
    Case {
        name: "other metric",
        query: "other",
        want: &[],
    },
];

#[test]
fn selectors_match_like_prometheus() {
    let store = store_with(&[
        ("m", &[("s", "a")], 1_000, 1.0),
        ("m", &[("s", "b")], 1_000, 2.0),
        ("m", &[("s", "c")], 1_000, 3.0),
    ]);
    for case in CASES {
        let got: Vec<String> = instant_query(&store, &sel(case.query), 1_000)
            .into_iter()
            .map(|(l, _)| l.get("s").unwrap().to_owned())
            .collect();
        assert_eq!(got, case.want, "{}: {}", case.name, case.query);
    }
}

#[test]
fn bad_selectors_are_errors_with_a_position() {
    for (query, position) in [
        (r#"m{s="a"} + 1"#, 10),
        (r#"rate(m[5m])"#, 5),
        (r#"{s=""}"#, 7),
        (r#"m{s="a}"#, 5),
        (r#"m{s=~"("}"#, 9),
        (r#"m{s~"a"}"#, 4),
        (r#"m{s="\d"}"#, 5),
    ] {
        match query.parse::<Selector>() {
            Err(QueryError::Parse { position: p, .. }) => assert_eq!(p, position, "{query}"),
            other => panic!("{query}: {other:?}"),
        }
    }
}

#[test]
fn instant_lookback_is_five_minutes_inclusive() {
    let store = store_with(&[("m", &[], 1_000, 1.0)]);
    let m = sel("m");
    assert_eq!(instant_query(&store, &m, 1_000 + LOOKBACK_MS).len(), 1);
    assert!(instant_query(&store, &m, 1_001 + LOOKBACK_MS).is_empty());
    assert!(
        instant_query(&store, &m, 999).is_empty(),
        "nothing before the sample"
    );
}

#[test]
fn stale_marker_hides_series_until_a_new_sample() {
    let store = store_with(&[
        ("m", &[], 1_000, 1.0),
        ("m", &[], 2_000, STALE_NAN),
        ("m", &[], 9_000, 5.0),
    ]);
    let m = sel("m");
    assert_eq!(instant_query(&store, &m, 1_500)[0].1, (1_000, 1.0));
    assert!(instant_query(&store, &m, 2_000).is_empty());
    assert!(instant_query(&store, &m, 8_999).is_empty());
    assert_eq!(instant_query(&store, &m, 9_000)[0].1, (9_000, 5.0));
}

#[test]
fn range_query_steps_honour_staleness_and_lookback() {
    let store = store_with(&[
        ("m", &[], 1_000, 1.0),
        ("m", &[], 3_000, 2.0),
        ("m", &[], 5_000, STALE_NAN),
    ]);
    let got = range_query(&store, &sel("m"), 0, 7_000, Duration::from_secs(1)).unwrap();
    assert_eq!(
        got[0].1,
        vec![(1_000, 1.0), (2_000, 1.0), (3_000, 2.0), (4_000, 2.0)]
    );
    assert!(matches!(
        range_query(&store, &sel("m"), 0, 11_000_000, Duration::from_millis(1)),
        Err(QueryError::Range(_))
    ));
    assert!(matches!(
        range_query(&store, &sel("m"), 5, 0, Duration::from_secs(1)),
        Err(QueryError::Range(_))
    ));
}

#[test]
fn series_lists_matching_sets_in_range_including_stale_ones() {
    let store = store_with(&[
        ("a", &[], 1_000, 1.0),
        ("a", &[], 2_000, STALE_NAN),
        ("b", &[], 5_000, 1.0),
        ("c", &[], 1_000, 1.0),
    ]);
    let got = series_query(&store, &[sel("a"), sel("b")], 1_500, 5_000);
    assert_eq!(got, vec![series_labels("a", &[]), series_labels("b", &[])]);
}
