//! A range function of a matrix selector (`rate(x[5m])`) in a range query, evaluated
//! for every step at its first step, series by series, as Prometheus evaluates it.
//!
//! Step by step, each step visits every series once: over a large store every visit
//! misses the cache (the series' samples, its labels, the result's end), and a
//! 10,000-series query pays those misses at each of its hundreds of steps. Series by
//! series, the window slides along one series' samples through all the steps while
//! they are in the cache. The results are kept per step and handed out as the steps
//! come, with the samples each step loaded counted then, so the evaluation around
//! them (aggregations, operators, the limit on samples) sees exactly what the step
//! by step evaluation gives:
//! - the same windows: `[ref - range, ref]` per step, staleness markers dropped,
//!   series with no samples left out, found by the same [`seek`];
//! - the same values, computed by the same [`window_value`], in the same order (the
//!   selection's, sorted by labels), with the same labels (the selection's
//!   name-dropped ones, or the series' own for `last_over_time`);
//! - no check for duplicate label sets is skipped: this applies only when the
//!   selection's name-dropped label sets are distinct (see
//!   [`Selection::unnamed_distinct`](super::select::Selection::unnamed_distinct)),
//!   or for `last_over_time`, which keeps the distinct labels of the store's series.
//!
//! It applies only to functions of nothing but the window (not `quantile_over_time`,
//! `predict_linear`, `holt_winters`, whose other arguments could vary by step, nor
//! `absent_over_time`), outside subqueries, and when the results could not exceed
//! the query's sample limit (series times steps), so memory stays bounded as before.

use promql_parser::parser::{Expr, MatrixSelector};

use super::eval::{millis, without_markers, Evaluator};
use super::functions::unparen;
use super::range_functions::{window_value, Window};
use super::select::seek;
use super::{QueryError, Sample, Series};
use promsdk::labels::LabelSet;

/// One range function's results by step (taken as the steps are evaluated), or none
/// when it is evaluated step by step.
pub(super) type AllSteps = Option<Vec<Option<Step>>>;

/// One step's result and the samples its windows held.
type Step = (Vec<Sample>, usize);

/// The functions whose value depends on the window alone.
fn window_only(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "resets"
            | "changes"
            | "deriv"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "last_over_time"
            | "present_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
    )
}

/// The value of `name(ms)` at `t` if it was (or can now be) computed for every step
/// at once; none if it is to be evaluated step by step.
pub(super) fn at_step(
    ev: &mut Evaluator<'_>,
    name: &str,
    ms: &MatrixSelector,
    t: i64,
) -> Result<Option<Vec<Sample>>, QueryError> {
    if !window_only(name) {
        return Ok(None);
    }
    let Some(k) = ev.step_index(t) else {
        return Ok(None);
    };
    let key = ms as *const MatrixSelector as usize;
    if !ev.all_steps.contains_key(&key) {
        let mut steps = ByStep(Vec::new());
        let all = compute(ev, name, ms, &mut steps)?.map(|loaded| {
            steps
                .0
                .into_iter()
                .zip(loaded)
                .map(|(samples, loaded)| Some((samples, loaded)))
                .collect()
        });
        ev.all_steps.insert(key, all);
    }
    let step = ev
        .all_steps
        .get_mut(&key)
        .and_then(|all| all.as_mut())
        .and_then(|steps| steps.get_mut(k))
        .and_then(Option::take);
    let Some((samples, loaded)) = step else {
        return Ok(None);
    };
    ev.load(loaded)?;
    Ok(Some(samples))
}

/// The whole result of a range query of `expr` if it is such a function (`rate(x[5m])`
/// alone), built series by series: the series of the range query's result, unsorted,
/// with each step's samples counted against the limit as the step by step evaluation
/// counts them (loaded by the step, then held). None if `expr` is evaluated step by
/// step.
pub(super) fn whole_range(
    ev: &mut Evaluator<'_>,
    expr: &Expr,
) -> Result<Option<Vec<Series>>, QueryError> {
    let Expr::Call(c) = unparen(expr) else {
        return Ok(None);
    };
    let name = c.func.name;
    let Some(Expr::MatrixSelector(ms)) = c.args.args.first().map(|a| unparen(a)) else {
        return Ok(None);
    };
    if !window_only(name) {
        return Ok(None);
    }
    let mut series = BySeries::default();
    let Some(loaded) = compute(ev, name, ms, &mut series)? else {
        return Ok(None);
    };
    for (loaded, kept) in loaded.into_iter().zip(series.kept) {
        ev.check_deadline()?;
        ev.load(loaded)?;
        ev.end_step(kept)?;
    }
    Ok(Some(series.out))
}

/// Where [`compute`] puts the values.
trait Sink {
    /// Gets ready for `steps` steps.
    fn start(&mut self, steps: usize);
    /// Series `labels` has `value` at step `k`, time `t`.
    fn value(&mut self, k: usize, t: i64, labels: &LabelSet, value: f64);
    /// Series `labels` has had all its values.
    fn end_series(&mut self, labels: &LabelSet);
}

/// The values as one vector per step.
struct ByStep(Vec<Vec<Sample>>);

impl Sink for ByStep {
    fn start(&mut self, steps: usize) {
        self.0 = vec![Vec::new(); steps];
    }

    fn value(&mut self, k: usize, _: i64, labels: &LabelSet, value: f64) {
        self.0[k].push(Sample {
            labels: labels.clone(),
            value,
        });
    }

    fn end_series(&mut self, _: &LabelSet) {}
}

/// The values as the series of a range query's result, and how many each step has.
#[derive(Default)]
struct BySeries {
    points: Vec<(i64, f64)>,
    out: Vec<Series>,
    kept: Vec<usize>,
}

impl Sink for BySeries {
    fn start(&mut self, steps: usize) {
        self.kept = vec![0; steps];
    }

    fn value(&mut self, k: usize, t: i64, _: &LabelSet, value: f64) {
        if self.points.capacity() == 0 {
            self.points.reserve_exact(self.kept.len() - k);
        }
        self.points.push((t, value));
        self.kept[k] += 1;
    }

    fn end_series(&mut self, labels: &LabelSet) {
        if !self.points.is_empty() {
            self.out.push(Series {
                labels: labels.clone(),
                points: std::mem::take(&mut self.points),
            });
        }
    }
}

/// `name(ms)` at every step of the range query, series by series, into `sink`: the
/// samples each step's windows held, or none if this does not apply.
fn compute(
    ev: &mut Evaluator<'_>,
    name: &str,
    ms: &MatrixSelector,
    sink: &mut impl Sink,
) -> Result<Option<Vec<usize>>, QueryError> {
    let selection = ev.select(&ms.vs)?;
    let keeps_name = name == "last_over_time";
    if !keeps_name && !selection.unnamed_distinct() {
        return Ok(None);
    }
    let times = ev.step_times();
    if times.is_empty() || selection.series.len().saturating_mul(times.len()) > ev.max_samples() {
        return Ok(None);
    }
    let range_ms = millis(ms.range);
    let range_secs = range_ms as f64 / 1000.0;
    let ends: Vec<i64> = times
        .iter()
        .map(|&t| ev.ref_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), t))
        .collect();
    let mut loaded = vec![0; times.len()];
    sink.start(times.len());
    for (i, s) in selection.series.iter().enumerate() {
        if i % 256 == 0 {
            ev.check_deadline()?;
        }
        let labels = if keeps_name { s.labels } else { s.unnamed() };
        let (mut from, mut to) = (None, None);
        for (k, (&t, &end)) in times.iter().zip(&ends).enumerate() {
            let start = end - range_ms;
            let first = seek(s.samples, from, |ts| ts < start);
            let last = seek(s.samples, to, |ts| ts <= end).max(first);
            (from, to) = (Some(first), Some(last));
            let Some(points) = without_markers(&s.samples[first..last]) else {
                continue;
            };
            let window = Window {
                start,
                end,
                range_secs,
                t,
            };
            loaded[k] += points.len();
            if let Some(value) = window_value(name, &points, &window, &[])? {
                sink.value(k, t, labels, value);
            }
        }
        sink.end_series(labels);
    }
    Ok(Some(loaded))
}
