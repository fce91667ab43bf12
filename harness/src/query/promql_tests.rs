//! Prometheus's own PromQL test vectors (promql/testdata/*.test at v2.42.0), run by a
//! small interpreter of that format: `load <interval>` with series and value
//! sequences (`0+10x10`, `_`, `stale`, `NaN`, `Inf`), `eval instant at <time> <expr>`
//! with the expected samples (compared with Prometheus's relative tolerance 1e-6),
//! `eval_ordered` (order checked too), `eval_fail` and `clear`.

use std::time::Duration;

use super::*;
use crate::config::parse_duration;
use crate::scrape::{Storage, STALE_NAN};
use promql_parser::parser::Expr as PExpr;
use promsdk::labels::LabelPair;

/// Runs one script, failing with the script's name and line of every mismatch.
pub(super) fn run_script(name: &str, script: &str) {
    let failures = script_failures(name, script);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The mismatches of one script.
fn script_failures(name: &str, script: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut store = MemoryStore::new(Duration::from_secs(10 * 365 * 86_400));
    let lines: Vec<&str> = script.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let block_end = (i..lines.len())
            .find(|&j| {
                let l = lines[j].trim();
                l.is_empty() || !lines[j].starts_with([' ', '\t'])
            })
            .unwrap_or(lines.len());
        let body: Vec<&str> = lines[i..block_end]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.starts_with('#'))
            .collect();
        let at = format!("{name}:{i}: {line}");
        if line == "clear" {
            store = MemoryStore::new(Duration::from_secs(10 * 365 * 86_400));
        } else if let Some(interval) = line.strip_prefix("load ") {
            load(&store, interval.trim(), &body, &at);
        } else if let Some(rest) = line.strip_prefix("eval") {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                eval(&store, rest, &body, &at)
            }));
            if let Err(e) = outcome {
                let message = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(message);
            }
        } else {
            panic!("{at}: unknown command");
        }
        i = block_end;
    }
    failures
}

fn duration_ms(s: &str, at: &str) -> i64 {
    let d = parse_duration(s).unwrap_or_else(|| panic!("{at}: bad duration {s:?}"));
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Splits `name{a="b"} rest` into the series text and the rest.
fn split_series(line: &str) -> (&str, &str) {
    let end = match line.find('{') {
        Some(open) if !line[..open].contains([' ', '\t']) => {
            let mut in_quote = false;
            let mut end = line.len();
            for (k, c) in line.char_indices().skip(open) {
                match c {
                    '"' => in_quote = !in_quote,
                    '}' if !in_quote => {
                        end = k + 1;
                        break;
                    }
                    _ => {}
                }
            }
            end
        }
        _ => line.find([' ', '\t']).unwrap_or(line.len()),
    };
    (&line[..end], line[end..].trim())
}

/// The label set a series descriptor names (parsed as a selector).
fn series_of(desc: &str, at: &str) -> LabelSet {
    if desc == "{}" {
        return LabelSet::empty();
    }
    let expr = parser::parse(desc).unwrap_or_else(|e| panic!("{at}: {desc}: {e}"));
    let PExpr::VectorSelector(vs) = expr else {
        panic!("{at}: {desc} is not a series");
    };
    let mut pairs: Vec<LabelPair> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| LabelPair::new(m.name.as_str(), m.value.as_str()))
        .collect();
    if let Some(n) = vs.name {
        pairs.push(LabelPair::new(NAME_LABEL, n));
    }
    labels_from_pairs(pairs)
}

fn number(s: &str) -> Option<f64> {
    match s {
        "stale" => Some(STALE_NAN),
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// A value sequence: `1 2 _ stale 0+10x3 _x2 1x2 5-1x2`.
fn values(s: &str, at: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for item in s.split_whitespace() {
        if item == "_" {
            out.push(None);
        } else if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().unwrap_or_else(|_| panic!("{at}: {item}"));
            out.extend(std::iter::repeat_n(None, n));
        } else if let Some((head, times)) = item.rsplit_once('x') {
            let times: usize = times.parse().unwrap_or_else(|_| panic!("{at}: {item}"));
            // `a+bxn` / `a-bxn` (the sign after the first character), or `axn`.
            let split = head[1..].find(['+', '-']).map(|k| k + 1);
            let (mut v, inc) = match split {
                Some(k) => (number(&head[..k]), number(&head[k..])),
                None => (number(head), Some(0.0)),
            };
            let inc = inc.unwrap_or_else(|| panic!("{at}: {item}"));
            for _ in 0..=times {
                out.push(v);
                v = v.map(|x| x + inc);
            }
        } else {
            out.push(Some(number(item).unwrap_or_else(|| panic!("{at}: {item}"))));
        }
    }
    out
}

fn load(store: &MemoryStore, interval: &str, body: &[&str], at: &str) {
    let step = duration_ms(interval, at);
    // A series defined twice keeps its last definition, as Prometheus's loader.
    let mut defs: Vec<(LabelSet, Vec<Option<f64>>)> = Vec::new();
    for line in body {
        let (desc, rest) = split_series(line);
        let labels = series_of(desc, at);
        defs.retain(|(l, _)| *l != labels);
        defs.push((labels, values(rest, at)));
    }
    let mut app = store.appender();
    for (labels, values) in defs {
        for (k, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                app.append(&labels, k as i64 * step, v);
            }
        }
    }
    app.commit();
}

/// Prometheus's test comparison: relative error under 1e-6, NaN equals NaN.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    let min_normal = f64::MIN_POSITIVE;
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < min_normal {
        return diff < EPSILON * min_normal;
    }
    diff / (a.abs() + b.abs()) < EPSILON
}

fn eval(store: &MemoryStore, rest: &str, body: &[&str], at: &str) {
    let (mode, rest) = match rest.split_once(' ') {
        Some((m, r)) => (m, r.trim()),
        None => panic!("{at}: bad eval"),
    };
    let rest = rest
        .strip_prefix("instant at ")
        .unwrap_or_else(|| panic!("{at}: only instant evals"));
    let (time, query) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("{at}: bad eval"));
    let t = duration_ms(time, at);
    let engine = Engine::new(store.clone(), EngineOpts::default());
    let got = engine.instant(query.trim(), t, None);
    if mode == "_fail" {
        assert!(got.is_err(), "{at}: expected an error, got {got:?}");
        return;
    }
    let got = got.unwrap_or_else(|e| panic!("{at}: {e}"));
    match got {
        QueryValue::Scalar(v) => {
            let want = body.first().and_then(|l| number(l));
            assert!(
                want.is_some_and(|w| almost_equal(w, v)),
                "{at}: got scalar {v}, want {body:?}"
            );
        }
        QueryValue::Vector(v) => {
            let want: Vec<(LabelSet, f64)> = body
                .iter()
                .map(|l| {
                    let (desc, value) = split_series(l);
                    let value = number(value).unwrap_or_else(|| panic!("{at}: {l}"));
                    (series_of(desc, at), value)
                })
                .collect();
            assert_eq!(v.len(), want.len(), "{at}: got {v:?}, want {want:?}");
            for (k, (labels, value)) in want.iter().enumerate() {
                let found = if mode == "_ordered" {
                    v.get(k).filter(|s| s.labels == *labels)
                } else {
                    v.iter().find(|s| s.labels == *labels)
                };
                let found = found.unwrap_or_else(|| panic!("{at}: no {labels:?} (#{k}) in {v:?}"));
                assert!(
                    almost_equal(found.value, *value),
                    "{at}: {labels:?}: got {}, want {value}",
                    found.value
                );
            }
        }
        other => panic!("{at}: unexpected result {other:?}"),
    }
}
