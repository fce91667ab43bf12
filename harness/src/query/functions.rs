//! PromQL function calls: the dispatch, and the functions of instant vectors and
//! scalars (math, dates, labels, `sort`, `clamp`, `round`, `absent`, `timestamp`,
//! `histogram_quantile` with `bucketQuantile`'s monotonicity fix), following
//! Prometheus 2.42's `functions.go`. Range-vector functions are in
//! [`range_functions`](super::range_functions).

use std::collections::HashMap;

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::aggregate::go_sort;
use super::eval::{check_unique, Evaluator, Value};
use super::range_functions::{matrix_arg, range_function};
use super::select::matchers;
use super::{drop_name, QueryError, Sample, NAME_LABEL};
use crate::scrape::labels_from_pairs;
use crate::time::civil_from_days;
use promql_parser::label::MatchOp;
use promsdk::labels::{is_valid_label_name, LabelPair, LabelSet};

/// `expr` without the parentheses around it.
pub(super) fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// Evaluates the call `c` at `t`.
pub(super) fn eval<'s>(ev: &mut Evaluator<'s>, c: &Call, t: i64) -> Result<Value<'s>, QueryError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| unparen(a)).collect();
    let arg = |i: usize| {
        args.get(i)
            .copied()
            .ok_or_else(|| QueryError::Execution(format!("missing argument {i} of {name}")))
    };
    match name {
        "time" => return Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => return Ok(Value::Scalar(std::f64::consts::PI)),
        "scalar" => {
            let v = ev.eval_vector(arg(0)?, t)?;
            return Ok(Value::Scalar(if v.len() == 1 {
                v[0].value
            } else {
                f64::NAN
            }));
        }
        "vector" => {
            let v = ev.eval_scalar(arg(0)?, t)?;
            return Ok(Value::Vector(vec![Sample {
                labels: LabelSet::empty(),
                value: v,
            }]));
        }
        _ => {}
    }
    if let Some(i) = matrix_arg(name) {
        return Ok(Value::Vector(range_function(ev, name, &args, i, t)?));
    }
    let out = vector_function(ev, name, &args, t)?;
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// The labels `absent` gives its result: the selector's equality matchers (a label
/// matched twice or otherwise is left out).
pub(super) fn absent_labels(expr: &Expr) -> LabelSet {
    let vs = match unparen(expr) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return LabelSet::empty(),
    };
    let mut pairs: Vec<LabelPair> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let ms = matchers(vs);
    for m in &ms {
        if m.name == NAME_LABEL {
            continue;
        }
        pairs.retain(|p| *p.name != *m.name);
        if m.op == MatchOp::Equal && !seen.contains(&m.name.as_str()) {
            pairs.push(LabelPair::new(m.name.as_str(), m.value.as_str()));
        }
        seen.push(&m.name);
    }
    labels_from_pairs(pairs)
}

/// A function of instant vectors and scalars.
fn vector_function<'s>(
    ev: &mut Evaluator<'s>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Vec<Sample>, QueryError> {
    if name == "timestamp" {
        if let Expr::VectorSelector(vs) = args[0] {
            return Ok(ev
                .instant_selector(vs, t)?
                .into_iter()
                .map(|(labels, ts, _)| Sample {
                    labels: drop_name(&labels),
                    value: ts as f64 / 1000.0,
                })
                .collect());
        }
        return Ok(map(ev.eval_vector(args[0], t)?, |_| t as f64 / 1000.0));
    }
    if let Some(f) = date_function(name) {
        if args.is_empty() {
            return Ok(vec![Sample {
                labels: LabelSet::empty(),
                value: f(t.div_euclid(1000)),
            }]);
        }
        return Ok(map(ev.eval_vector(args[0], t)?, |v| f(v as i64)));
    }
    if name == "histogram_quantile" {
        let q = ev.eval_scalar(args[0], t)?;
        return Ok(histogram_quantile(q, ev.eval_vector(args[1], t)?));
    }
    let input = ev.eval_vector(args[0], t)?;
    let mut scalar = |i: usize| -> Result<Option<f64>, QueryError> {
        args.get(i).map(|a| ev.eval_scalar(a, t)).transpose()
    };
    Ok(match name {
        "absent" => {
            if input.is_empty() {
                vec![Sample {
                    labels: absent_labels(args[0]),
                    value: 1.0,
                }]
            } else {
                Vec::new()
            }
        }
        "sort" | "sort_desc" => {
            let mut v = input;
            if name == "sort" {
                go_sort(&mut v, |a, b| b.value.is_nan() || b.value > a.value);
            } else {
                go_sort(&mut v, |a, b| b.value.is_nan() || b.value < a.value);
            }
            v
        }
        "clamp" => {
            let (lo, hi) = (
                scalar(1)?.unwrap_or(f64::NAN),
                scalar(2)?.unwrap_or(f64::NAN),
            );
            if hi < lo {
                return Ok(Vec::new());
            }
            map(input, |v| go_max(lo, go_min(hi, v)))
        }
        "clamp_max" => {
            let hi = scalar(1)?.unwrap_or(f64::NAN);
            map(input, |v| go_min(hi, v))
        }
        "clamp_min" => {
            let lo = scalar(1)?.unwrap_or(f64::NAN);
            map(input, |v| go_max(lo, v))
        }
        "round" => {
            let inverse = 1.0 / scalar(1)?.unwrap_or(1.0);
            map(input, |v| (v * inverse + 0.5).floor() / inverse)
        }
        "label_replace" => label_replace(input, &strings(args, 1)?)?,
        "label_join" => label_join(input, &strings(args, 1)?)?,
        _ => {
            let f = math_function(name)
                .ok_or_else(|| QueryError::Unsupported(format!("function \"{name}\"")))?;
            map(input, f)
        }
    })
}

/// Applies `f` to every value, dropping the metric name.
fn map(input: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    input
        .into_iter()
        .map(|s| Sample {
            labels: drop_name(&s.labels),
            value: f(s.value),
        })
        .collect()
}

/// Go's `math.Max`: +Inf wins, then NaN.
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: -Inf wins, then NaN.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Date functions of Unix seconds, in UTC.
fn date_function(name: &str) -> Option<fn(i64) -> f64> {
    fn parts(secs: i64) -> (i64, i64, i64, i64) {
        let days = secs.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, days)
    }
    fn days_in_month(y: i64, m: i64) -> i64 {
        match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
    Some(match name {
        "year" => |s| parts(s).0 as f64,
        "month" => |s| parts(s).1 as f64,
        "day_of_month" => |s| parts(s).2 as f64,
        "day_of_week" => |s| (parts(s).3 + 4).rem_euclid(7) as f64,
        "day_of_year" => |s| {
            let (y, m, d, _) = parts(s);
            (1..m).map(|mm| days_in_month(y, mm)).sum::<i64>() as f64 + d as f64
        },
        "days_in_month" => |s| {
            let (y, m, _, _) = parts(s);
            days_in_month(y, m) as f64
        },
        "hour" => |s| s.rem_euclid(86_400).div_euclid(3600) as f64,
        "minute" => |s| s.rem_euclid(3600).div_euclid(60) as f64,
        _ => return None,
    })
}

/// The string literal arguments from `from` on.
fn strings(args: &[&Expr], from: usize) -> Result<Vec<String>, QueryError> {
    args[from..]
        .iter()
        .map(|a| match a {
            Expr::StringLiteral(s) => Ok(s.val.clone()),
            _ => Err(QueryError::Execution("expected a string literal".into())),
        })
        .collect()
}

fn label_replace(input: Vec<Sample>, a: &[String]) -> Result<Vec<Sample>, QueryError> {
    let [dst, repl, src, re] = a else {
        return Err(QueryError::Execution(
            "label_replace takes 5 arguments".into(),
        ));
    };
    let regex = Regex::new(&format!("^(?:{re})$")).map_err(|_| {
        QueryError::Execution(format!(
            "invalid regular expression in label_replace(): {re}"
        ))
    })?;
    if !is_valid_label_name(dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    Ok(input
        .into_iter()
        .map(|s| {
            let value = s.labels.get(src).unwrap_or("");
            let Some(caps) = regex.captures(value) else {
                return s;
            };
            let mut res = String::new();
            caps.expand(repl, &mut res);
            Sample {
                labels: set_label(&s.labels, dst, res),
                value: s.value,
            }
        })
        .collect())
}

/// `labels` with `dst` set to `value`, or without `dst` when `value` is empty (as
/// `label_replace` and `label_join` write their result).
fn set_label(labels: &LabelSet, dst: &str, value: String) -> LabelSet {
    let mut pairs: Vec<LabelPair> = labels
        .pairs()
        .iter()
        .filter(|p| &*p.name != dst)
        .cloned()
        .collect();
    if !value.is_empty() {
        pairs.push(LabelPair::new(dst, value));
    }
    labels_from_pairs(pairs)
}

fn label_join(input: Vec<Sample>, a: &[String]) -> Result<Vec<Sample>, QueryError> {
    let Some((dst, rest)) = a.split_first() else {
        return Err(QueryError::Execution(
            "label_join needs a destination".into(),
        ));
    };
    let Some((sep, srcs)) = rest.split_first() else {
        return Err(QueryError::Execution("label_join needs a separator".into()));
    };
    if let Some(bad) = srcs.iter().find(|s| !is_valid_label_name(s)) {
        return Err(QueryError::Execution(format!(
            "invalid source label name in label_join(): {bad}"
        )));
    }
    if !is_valid_label_name(dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(input
        .into_iter()
        .map(|s| {
            let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
            Sample {
                labels: set_label(&s.labels, dst, joined.join(sep)),
                value: s.value,
            }
        })
        .collect())
}

/// `histogram_quantile` over classic buckets: series grouped by their labels but
/// `le` (the name included, dropped from the result), each group's quantile by
/// Prometheus's `bucketQuantile`. Series without a parseable `le` are ignored.
fn histogram_quantile(q: f64, input: Vec<Sample>) -> Vec<Sample> {
    let mut index: HashMap<LabelSet, usize> = HashMap::new();
    let mut groups: Vec<(LabelSet, Vec<(f64, f64)>)> = Vec::new();
    for s in input {
        let Some(upper) = s.labels.get("le").and_then(|le| le.parse::<f64>().ok()) else {
            continue;
        };
        let key = labels_from_pairs(
            s.labels
                .pairs()
                .iter()
                .filter(|p| &*p.name != "le")
                .cloned()
                .collect(),
        );
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((drop_name(&key), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((upper, s.value));
    }
    groups
        .into_iter()
        .map(|(labels, mut buckets)| Sample {
            labels,
            value: bucket_quantile(q, &mut buckets),
        })
        .collect()
}

/// Prometheus's `bucketQuantile`: buckets `(upper bound, cumulative count)`.
fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce buckets with the same bound.
    buckets.dedup_by(|b, a| {
        let same = a.0 == b.0;
        if same {
            a.1 += b.1;
        }
        same
    });
    // Make the counts monotonic (precision problems in the counts).
    let mut max = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|b| b.1 < rank);
    if b == n {
        return buckets[n - 1].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}
