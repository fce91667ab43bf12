//! The shortcuts taken for speed give what the plain evaluation gives: searches from
//! a hint find what a binary search finds, sort keys order as label sets do, and a
//! range query (evaluated series by series where it can be, with groups and window
//! positions kept from step to step) equals its steps evaluated one by one as
//! instant queries, which take none of those shortcuts.

use std::collections::BTreeMap;
use std::time::Duration;

use super::select::{seek, sort_key};
use super::*;
use crate::scrape::{series_labels, Storage, STALE_NAN};
use promsdk::labels::LabelPair;

#[test]
fn seek_finds_what_a_binary_search_finds() {
    let times: Vec<i64> = vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];
    for len in 0..=times.len() {
        let samples: Vec<(i64, f64)> = times[..len].iter().map(|&t| (t, 0.0)).collect();
        for t in 0..=130 {
            let below = samples.partition_point(|s| s.0 < t);
            let upto = samples.partition_point(|s| s.0 <= t);
            let hints = std::iter::once(None).chain((0..len + 3).map(Some));
            for hint in hints {
                assert_eq!(
                    seek(&samples, hint, |ts| ts < t),
                    below,
                    "{len} {t} {hint:?}"
                );
                assert_eq!(
                    seek(&samples, hint, |ts| ts <= t),
                    upto,
                    "{len} {t} {hint:?}"
                );
            }
        }
    }
}

#[test]
fn sort_keys_order_as_label_sets_do() {
    let sets: Vec<LabelSet> = [
        &[][..],
        &[("a", "")],
        &[("a", "x")],
        &[("a", "x\0")],
        &[("a", "x\0y")],
        &[("a", "x\0\0")],
        &[("a", "xy")],
        &[("a", "x"), ("b", "")],
        &[("a", "x"), ("b", "\0")],
        &[("a", "x\u{e9}")],
        &[("ab", "")],
        &[("ab", "x")],
        &[("b", "a")],
        &[("__name__", "m"), ("a", "x")],
    ]
    .iter()
    .map(|pairs| {
        let pairs = pairs.iter().map(|&(n, v)| LabelPair::new(n, v)).collect();
        LabelSet::from_vec("m", pairs).unwrap()
    })
    .collect();
    for a in &sets {
        for b in &sets {
            assert_eq!(sort_key(a).cmp(&sort_key(b)), a.cmp(b), "{a:?} {b:?}");
        }
    }
}

/// Counters with resets, a gauge, staleness markers, a series that stops and one
/// that starts late, at 15 s; a second metric `y` with the same other labels.
fn store() -> MemoryStore {
    let store = MemoryStore::new(Duration::from_secs(24 * 3600));
    let mut app = store.appender();
    for i in 0..6 {
        let a = (i % 2).to_string();
        let b = i.to_string();
        let x = series_labels("x", &[("a", &a), ("b", &b)]);
        let y = series_labels("y", &[("a", &a), ("b", &b)]);
        let mut v = i as f64;
        for k in 0..80i64 {
            let t = k * 15_000;
            v = if k % 23 == 7 + i {
                1.0
            } else {
                v + (k * 7 + i) as f64 % 5.0
            };
            let value = match (i, k) {
                (1, 30 | 31) => STALE_NAN,
                (2, 50..) => continue,
                (3, ..40) => continue,
                _ => v,
            };
            app.append(&x, t, value);
            app.append(&y, t, ((k * i) % 11) as f64 - 5.0);
        }
    }
    app.commit();
    store
}

const QUERIES: &[&str] = &[
    "rate(x[1m])",
    "increase(x[90s])",
    "delta(y[1m])",
    "irate(x[1m])",
    "idelta(y[1m])",
    "resets(x[2m])",
    "changes(y[2m])",
    "deriv(y[2m])",
    "avg_over_time(y[1m])",
    "min_over_time(y[1m])",
    "max_over_time(y[1m])",
    "sum_over_time(y[1m])",
    "count_over_time(x[1m])",
    "last_over_time(x[1m])",
    "present_over_time(x[1m])",
    "stddev_over_time(y[2m])",
    "stdvar_over_time(y[2m])",
    "rate(x[1m] offset 45s)",
    "rate(x[1m] @ 600)",
    "(rate(x[1m]))",
    "quantile_over_time(0.5, y[1m])",
    "predict_linear(y[2m], 60)",
    "rate({__name__=~\"x|y\"}[1m])",
    "last_over_time({__name__=~\"x|y\"}[1m])",
    "sum by (a) (rate(x[1m]))",
    "sum without (b) (rate(x[1m]))",
    "avg by (a) (rate(x[1m]))",
    "min by (a) (y)",
    "max(rate(x[1m]))",
    "count by (a) (rate(x[1m]))",
    "stddev by (a) (deriv(y[2m]))",
    "stdvar(y)",
    "group by (a) (x)",
    "count_values(\"v\", y)",
    "topk(2, rate(x[1m]))",
    "quantile by (a) (0.9, rate(x[1m]))",
    "sum(rate(x[1m])) / sum by (a) (rate(x[1m]))",
    "rate(x[1m]) * on (a, b) group_left rate(y[1m])",
    "max_over_time(rate(x[1m])[2m:30s])",
    "sum by (a) (sum_over_time(rate(x[1m])[1m:15s]))",
    "x",
];

/// A range query's series as instant queries at each step give them, or the first
/// error.
fn by_steps(
    e: &Engine,
    q: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Result<BTreeMap<LabelSet, Vec<(i64, u64)>>, QueryError> {
    let mut out: BTreeMap<LabelSet, Vec<(i64, u64)>> = BTreeMap::new();
    let mut t = start;
    while t <= end {
        match e.instant(q, t, None)? {
            QueryValue::Vector(v) => {
                for s in v {
                    out.entry(s.labels)
                        .or_default()
                        .push((t, s.value.to_bits()));
                }
            }
            other => panic!("{q}: {other:?}"),
        }
        t += step;
    }
    Ok(out)
}

#[test]
fn range_queries_equal_their_steps() {
    let e = Engine::new(store(), EngineOpts::default());
    // Steps on the samples, between them, and from a start off the 15 s grid.
    for (start, end, step) in [
        (0, 1_200_000, 15_000),
        (0, 1_185_000, 10_000),
        (7_000, 1_000_000, 45_000),
        (300_000, 300_000, 15_000),
    ] {
        for q in QUERIES {
            let want = by_steps(&e, q, start, end, step);
            let got = e
                .range(q, start, end, Duration::from_millis(step as u64), None)
                .map(|series| {
                    series
                        .into_iter()
                        .map(|s| {
                            let points = s.points.iter().map(|&(t, v)| (t, v.to_bits()));
                            (s.labels, points.collect())
                        })
                        .collect::<BTreeMap<_, _>>()
                });
            assert_eq!(got, want, "{q} from {start} to {end} by {step}");
        }
    }
    let dup = e.range(
        "rate({__name__=~\"x|y\"}[1m])",
        0,
        600_000,
        Duration::from_secs(15),
        None,
    );
    assert!(dup.is_err(), "x and y collide without their names: {dup:?}");
}

/// The smallest `--query.max-samples` a range query of `q` needs if it counts as
/// the step by step evaluation: at each step, what it holds plus what the step loads
/// (the samples in the windows of `rate(x[1m])`), then what it holds after.
fn samples_needed(e: &Engine, q: &str, start: i64, end: i64, step: i64) -> usize {
    let count = |q: &str, t: i64| match e.instant(q, t, None).unwrap() {
        QueryValue::Vector(v) => v.first().map_or(0, |s| s.value as usize),
        other => panic!("{q}: {other:?}"),
    };
    let (mut held, mut needed) = (0, 0);
    let mut t = start;
    while t <= end {
        let loaded = count("sum(count_over_time(x[1m]))", t);
        needed = needed.max(held + loaded);
        held += count(&format!("count({q})"), t);
        needed = needed.max(held);
        t += step;
    }
    needed
}

#[test]
fn range_queries_count_samples_as_steps_do() {
    for q in ["rate(x[1m])", "sum by (a) (rate(x[1m]))"] {
        let (start, end, step) = (600_000, 700_000, 15_000);
        let needed = samples_needed(
            &Engine::new(store(), EngineOpts::default()),
            q,
            start,
            end,
            step,
        );
        assert!(needed > 0);
        let run = |max| {
            Engine::new(store(), EngineOpts::default().max_samples(max)).range(
                q,
                start,
                end,
                Duration::from_millis(step as u64),
                None,
            )
        };
        assert!(run(needed).is_ok(), "{q} with {needed}");
        assert_eq!(
            run(needed - 1).unwrap_err(),
            QueryError::TooManySamples,
            "{q}"
        );
    }
}
