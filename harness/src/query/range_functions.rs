//! Functions of range vectors (`rate`, `increase`, `deriv`, `*_over_time`, …), one
//! value per series and step, computed with the same floating-point operations in
//! the same order as Prometheus 2.42's `functions.go` (Kahan-compensated sums,
//! `extrapolatedRate`, least squares relative to the first sample).

use promql_parser::parser::Expr;

use super::aggregate::go_sort;
use super::all_steps;
use super::eval::{check_unique, millis, wrong_type, Evaluator, Value};
use super::functions::absent_labels;
use super::{drop_name, QueryError, Sample};

/// The index of the range-vector argument of a range function.
pub(super) fn matrix_arg(name: &str) -> Option<usize> {
    match name {
        "quantile_over_time" => Some(1),
        "rate" | "irate" | "increase" | "delta" | "idelta" | "resets" | "changes" | "deriv"
        | "predict_linear" | "holt_winters" | "avg_over_time" | "min_over_time"
        | "max_over_time" | "sum_over_time" | "count_over_time" | "last_over_time"
        | "present_over_time" | "stddev_over_time" | "stdvar_over_time" | "absent_over_time" => {
            Some(0)
        }
        _ => None,
    }
}

/// A function of a range vector: one output per series with samples in its window,
/// checked for duplicate label sets.
pub(super) fn range_function<'s>(
    ev: &mut Evaluator<'s>,
    name: &str,
    args: &[&Expr],
    index: usize,
    t: i64,
) -> Result<Vec<Sample>, QueryError> {
    let mut scalars = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i != index {
            scalars.push(ev.eval_scalar(a, t)?);
        }
    }
    let range_expr = args[index];
    if let Expr::MatrixSelector(ms) = range_expr {
        if let Some(out) = all_steps::at_step(ev, name, ms, t)? {
            return Ok(out);
        }
    }
    let (range_ms, end) = match range_expr {
        Expr::MatrixSelector(ms) => (
            millis(ms.range),
            ev.ref_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), t),
        ),
        Expr::Subquery(sq) => (
            millis(sq.range),
            ev.ref_time(sq.at.as_ref(), sq.offset.as_ref(), t),
        ),
        _ => {
            return Err(QueryError::Execution(format!(
                "{name} needs a range vector"
            )))
        }
    };
    // A function's result has no `__name__`, except last_over_time's. Over a matrix
    // selector, the selection hands out its series' name-dropped labels, made once per
    // query, and tells whether they are distinct: if so, the result of any step is
    // too (it has one sample per series at most), and needs no check.
    let keeps_name = name == "last_over_time";
    let (matrix, names_dropped, distinct) = match range_expr {
        Expr::MatrixSelector(ms) if !keeps_name => {
            let distinct = ev.unnamed_distinct(&ms.vs)?;
            (ev.range_selector(ms, t, true)?, true, distinct)
        }
        _ => match ev.eval(range_expr, t)? {
            Value::Matrix(m) => (m, false, false),
            other => return Err(wrong_type("range vector", &other)),
        },
    };
    if name == "absent_over_time" {
        if !matrix.is_empty() {
            return Ok(Vec::new());
        }
        return Ok(vec![Sample {
            labels: absent_labels(range_expr),
            value: 1.0,
        }]);
    }
    let window = Window {
        start: end - range_ms,
        end,
        range_secs: range_ms as f64 / 1000.0,
        t,
    };
    let mut out = Vec::with_capacity(matrix.len());
    for series in matrix {
        let value = window_value(name, &series.points, &window, &scalars)?;
        if let Some(value) = value {
            let labels = if keeps_name || names_dropped {
                series.labels
            } else {
                drop_name(&series.labels)
            };
            out.push(Sample { labels, value });
        }
    }
    if !distinct {
        check_unique(&out)?;
    }
    Ok(out)
}

/// The evaluation window of a range function.
pub(super) struct Window {
    /// The window's first and last millisecond, both included.
    pub start: i64,
    pub end: i64,
    /// Its length in seconds.
    pub range_secs: f64,
    /// The evaluation time.
    pub t: i64,
}

/// Function `name` of one series' points `p` (time order, no staleness markers, not
/// empty) in window `w`; `scalars` are its other arguments. None when the function
/// gives this series no value (`rate` of a single sample).
pub(super) fn window_value(
    name: &str,
    p: &[(i64, f64)],
    w: &Window,
    scalars: &[f64],
) -> Result<Option<f64>, QueryError> {
    Ok(match name {
        "rate" => extrapolated_rate(p, w, true, true),
        "increase" => extrapolated_rate(p, w, true, false),
        "delta" => extrapolated_rate(p, w, false, false),
        "irate" => instant_value(p, true),
        "idelta" => instant_value(p, false),
        "resets" => Some(resets(p)),
        "changes" => Some(changes(p)),
        "deriv" => (p.len() >= 2).then(|| linear_regression(p, p[0].0).0),
        "predict_linear" => (p.len() >= 2).then(|| {
            let (slope, intercept) = linear_regression(p, w.t);
            slope * scalars[0] + intercept
        }),
        "holt_winters" => holt_winters(p, scalars[0], scalars[1])?,
        "avg_over_time" => Some(avg_over_time(p)),
        "min_over_time" => Some(extreme(p, |v, m| v < m)),
        "max_over_time" => Some(extreme(p, |v, m| v > m)),
        "sum_over_time" => Some(kahan_total(p.iter().map(|s| s.1))),
        "count_over_time" => Some(p.len() as f64),
        "last_over_time" => p.last().map(|s| s.1),
        "present_over_time" => Some(1.0),
        "stddev_over_time" => Some(variance(p).sqrt()),
        "stdvar_over_time" => Some(variance(p)),
        "quantile_over_time" => {
            let mut values: Vec<f64> = p.iter().map(|s| s.1).collect();
            Some(quantile(scalars[0], &mut values))
        }
        other => return Err(QueryError::Unsupported(format!("function \"{other}\""))),
    })
}

/// Prometheus's `extrapolatedRate` for `rate`, `increase` and `delta`.
fn extrapolated_rate(p: &[(i64, f64)], w: &Window, counter: bool, rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (first, last) = (p[0], p[p.len() - 1]);
    let mut result = last.1 - first.1;
    if counter && has_reset(p) {
        let mut prev = first.1;
        for &(_, v) in &p[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first.0 - w.start) as f64 / 1000.0;
    let to_end = (w.end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let average = sampled / (p.len() - 1) as f64;
    if counter && result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average / 2.0
    };
    let mut factor = interval / sampled;
    if rate {
        factor /= w.range_secs;
    }
    Some(result * factor)
}

/// Whether a value is below the one before it (a counter reset). Without one, the
/// correction loop of [`extrapolated_rate`] adds nothing, and is skipped: this check
/// has no branch per sample, so the compiler can vectorize it, and most windows of a
/// counter hold no reset.
fn has_reset(p: &[(i64, f64)]) -> bool {
    p.windows(2).fold(false, |any, w| any | (w[1].1 < w[0].1))
}

/// `irate` and `idelta`: the last two samples.
fn instant_value(p: &[(i64, f64)], rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (prev, last) = (p[p.len() - 2], p[p.len() - 1]);
    let mut result = if rate && last.1 < prev.1 {
        last.1
    } else {
        last.1 - prev.1
    };
    let interval = last.0 - prev.0;
    if interval == 0 {
        return None;
    }
    if rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

fn resets(p: &[(i64, f64)]) -> f64 {
    p.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64
}

fn changes(p: &[(i64, f64)]) -> f64 {
    p.windows(2)
        .filter(|w| w[1].1 != w[0].1 && !(w[1].1.is_nan() && w[0].1.is_nan()))
        .count() as f64
}

/// Go's `kahanSumInc` (Neumaier's variant).
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

fn kahan_total(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for v in values {
        (sum, c) = kahan_inc(v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

fn avg_over_time(p: &[(i64, f64)]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
    for &(_, v) in p {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}

/// `min_over_time`/`max_over_time`: `better(v, m)` replaces; NaN is replaced by
/// anything.
fn extreme(p: &[(i64, f64)], better: fn(f64, f64) -> bool) -> f64 {
    let mut m = p[0].1;
    for &(_, v) in p {
        if better(v, m) || m.is_nan() {
            m = v;
        }
    }
    m
}

/// The population variance as `stdvar_over_time` computes it.
fn variance(p: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(_, v) in p {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Least squares over `p` with times relative to `intercept_t`: `(slope, intercept)`.
fn linear_regression(p: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = p[0].1;
    let mut const_y = true;
    for (i, &(ts, v)) in p.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (ts - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn holt_winters(p: &[(i64, f64)], sf: f64, tf: f64) -> Result<Option<f64>, QueryError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(QueryError::Execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(QueryError::Execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    if p.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1, mut b) = (0.0, p[0].1, p[1].1 - p[0].1);
    for (i, &(_, v)) in p.iter().enumerate().skip(1) {
        let x = sf * v;
        b = if i == 1 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        };
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Ok(Some(s1))
}

/// Prometheus's `quantile` over `values` (sorted here): linear interpolation between
/// the closest ranks; NaN for none, ±Inf for q outside [0, 1].
pub(super) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    go_sort(values, |a, b| a.is_nan() || a < b);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}
