//! The evaluator: one expression at one evaluation time. A range query evaluates the
//! expression at every step; the series a selector matches are found once per query
//! and read as borrowed slices of the store, each step moving a series' window on from
//! where the last step left it, never copying its samples. What steps would redo
//! is kept for the query: a selection's name-dropped labels, an aggregation's groups
//! (`aggregate::Groups`), and a range function of a selector computed for all steps
//! at once, series by series (`all_steps`).
//!
//! Sample accounting follows Prometheus's `--query.max-samples`: the samples a step
//! loads (selected points, range windows) plus the samples already held in the result
//! may not exceed the limit.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::label::Matcher;
use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};

use super::all_steps::AllSteps;
use super::select::{matchers, matches_all, sort_key, Selection};
use super::{aggregate, binary, drop_name, functions, EngineOpts, QueryError, Sample};
use crate::scrape::store::{is_stale_nan, StoreReader};
use promsdk::labels::LabelSet;

/// A range-vector series: borrowed from the store unless markers had to be dropped
/// or a subquery computed it.
#[derive(Debug, Clone)]
pub(super) struct RangeSeries<'s> {
    pub labels: LabelSet,
    pub points: Cow<'s, [(i64, f64)]>,
}

/// The value of an expression at one evaluation time.
#[derive(Debug, Clone)]
pub(super) enum Value<'s> {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<RangeSeries<'s>>),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "instant vector",
            Value::Matrix(_) => "range vector",
        }
    }
}

/// An internal error for a value of the wrong type (the parser's type checks make
/// this unreachable for valid ASTs).
pub(super) fn wrong_type(what: &str, got: &Value<'_>) -> QueryError {
    QueryError::Execution(format!("expected {what}, got {}", got.kind()))
}

/// Evaluates expressions of one query.
pub(super) struct Evaluator<'s> {
    reader: &'s StoreReader<'s>,
    lookback_ms: i64,
    max_samples: usize,
    subquery_step_ms: i64,
    start_ms: i64,
    end_ms: i64,
    deadline: Instant,
    /// Selections by their selector's address.
    selected: HashMap<usize, Rc<Selection<'s>>>,
    /// Aggregations' groups kept from the last step, by the aggregation's address.
    groups: HashMap<usize, aggregate::Groups>,
    /// A range query's step (none for an instant query).
    step_ms: Option<i64>,
    /// How many subqueries the expression being evaluated is inside.
    subquery_depth: usize,
    /// Range functions evaluated for every step at once, by their matrix selector's
    /// address (see [`super::all_steps`]).
    pub(super) all_steps: HashMap<usize, AllSteps>,
    step_samples: usize,
    held: usize,
}

impl<'s> Evaluator<'s> {
    pub(super) fn new(
        reader: &'s StoreReader<'s>,
        opts: &EngineOpts,
        start_ms: i64,
        end_ms: i64,
        deadline: Instant,
    ) -> Self {
        Evaluator {
            reader,
            lookback_ms: millis(opts.lookback),
            max_samples: opts.max_samples,
            subquery_step_ms: millis(opts.subquery_step).max(1),
            start_ms,
            end_ms,
            deadline,
            selected: HashMap::new(),
            groups: HashMap::new(),
            step_ms: None,
            subquery_depth: 0,
            all_steps: HashMap::new(),
            step_samples: 0,
            held: 0,
        }
    }

    /// Makes this the evaluator of a range query stepping by `step_ms` from the start
    /// to the end time.
    pub(super) fn set_step(&mut self, step_ms: i64) {
        self.step_ms = Some(step_ms);
    }

    /// The index of `t` among the range query's steps, when the expression being
    /// evaluated is evaluated at every step (not inside a subquery) and `t` is one.
    pub(super) fn step_index(&self, t: i64) -> Option<usize> {
        let step = self.step_ms?;
        if self.subquery_depth > 0 || t < self.start_ms || t > self.end_ms {
            return None;
        }
        let offset = t - self.start_ms;
        if offset % step != 0 {
            return None;
        }
        usize::try_from(offset / step).ok()
    }

    /// The range query's evaluation times (empty for an instant query).
    pub(super) fn step_times(&self) -> Vec<i64> {
        let Some(step) = self.step_ms else {
            return Vec::new();
        };
        let mut times = Vec::new();
        let mut t = self.start_ms;
        while t <= self.end_ms {
            times.push(t);
            t = t.saturating_add(step);
            if t == i64::MAX {
                break;
            }
        }
        times
    }

    /// The most samples a query may hold.
    pub(super) fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// Fails once the query's time is up.
    pub(super) fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            Err(QueryError::Timeout)
        } else {
            Ok(())
        }
    }

    /// Counts `n` samples loaded by the current step.
    pub(super) fn load(&mut self, n: usize) -> Result<(), QueryError> {
        self.step_samples += n;
        if self.held + self.step_samples > self.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }

    /// Ends a step whose result holds `kept` samples.
    pub(super) fn end_step(&mut self, kept: usize) -> Result<(), QueryError> {
        self.step_samples = 0;
        self.held += kept;
        if self.held > self.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }

    /// The groups aggregation `key` (its node's address) kept from earlier steps, or
    /// none; hand them back with [`keep_groups`](Self::keep_groups).
    pub(super) fn take_groups(&mut self, key: usize) -> aggregate::Groups {
        self.groups.remove(&key).unwrap_or_default()
    }

    /// Keeps aggregation `key`'s groups for its next step.
    pub(super) fn keep_groups(&mut self, key: usize, groups: aggregate::Groups) {
        self.groups.insert(key, groups);
    }

    /// The value of `expr` at `t` (milliseconds).
    pub(super) fn eval(&mut self, expr: &Expr, t: i64) -> Result<Value<'s>, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(mut v) => {
                    for s in &mut v {
                        s.labels = drop_name(&s.labels);
                        s.value = -s.value;
                    }
                    check_unique(&v)?;
                    Ok(Value::Vector(v))
                }
                other => Err(wrong_type("scalar or instant vector", &other)),
            },
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Call(c) => functions::eval(self, c, t),
            Expr::VectorSelector(vs) => Ok(Value::Vector(
                self.instant_selector(vs, t)?
                    .into_iter()
                    .map(|(labels, _, value)| Sample { labels, value })
                    .collect(),
            )),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(self.range_selector(ms, t, false)?)),
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery(sq, t)?)),
            Expr::Extension(e) => Err(QueryError::Unsupported(format!(
                "expression \"{}\"",
                e.expr.name()
            ))),
        }
    }

    /// The value of `expr` at `t`, which must be an instant vector.
    pub(super) fn eval_vector(&mut self, expr: &Expr, t: i64) -> Result<Vec<Sample>, QueryError> {
        match self.eval(expr, t)? {
            Value::Vector(v) => Ok(v),
            other => Err(wrong_type("instant vector", &other)),
        }
    }

    /// The value of `expr` at `t`, which must be a scalar.
    pub(super) fn eval_scalar(&mut self, expr: &Expr, t: i64) -> Result<f64, QueryError> {
        match self.eval(expr, t)? {
            Value::Scalar(v) => Ok(v),
            other => Err(wrong_type("scalar", &other)),
        }
    }

    /// The time a selector reads at for evaluation time `t`: `@` fixes it, `offset`
    /// moves it back.
    pub(super) fn ref_time(&self, at: Option<&AtModifier>, offset: Option<&Offset>, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) => self.start_ms,
            Some(AtModifier::End) => self.end_ms,
            Some(AtModifier::At(time)) => system_ms(*time),
        };
        base - offset_ms(offset)
    }

    /// The series `vs` matches, sorted by labels (found once per query; sorted by
    /// [`sort_key`], which orders as the labels do).
    pub(super) fn select(&mut self, vs: &VectorSelector) -> Result<Rc<Selection<'s>>, QueryError> {
        let key = vs as *const VectorSelector as usize;
        if let Some(found) = self.selected.get(&key) {
            return Ok(found.clone());
        }
        self.check_deadline()?;
        let ms: Vec<Matcher> = matchers(vs);
        let reader: &'s StoreReader<'s> = self.reader;
        let mut found: Vec<_> = reader
            .series()
            .filter(|(labels, _)| matches_all(&ms, labels))
            .collect();
        found.sort_by_cached_key(|(labels, _)| sort_key(labels));
        let found = Rc::new(Selection::new(found));
        self.selected.insert(key, found.clone());
        Ok(found)
    }

    /// Whether the series `vs` matches stay distinct without `__name__` (see
    /// [`Selection::unnamed_distinct`]).
    pub(super) fn unnamed_distinct(&mut self, vs: &VectorSelector) -> Result<bool, QueryError> {
        Ok(self.select(vs)?.unnamed_distinct())
    }

    /// Each matching series' latest sample at or before the selector's time, within
    /// the lookback and not a staleness marker: `(labels, sample time, value)`.
    pub(super) fn instant_selector(
        &mut self,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vec<(LabelSet, i64, f64)>, QueryError> {
        let ref_t = self.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
        let selection = self.select(vs)?;
        let mut out = Vec::new();
        for s in &selection.series {
            let Some((ts, v)) = s.at_or_before(ref_t) else {
                continue;
            };
            if ts < ref_t - self.lookback_ms || is_stale_nan(v) {
                continue;
            }
            out.push((s.labels.clone(), ts, v));
        }
        self.load(out.len())?;
        Ok(out)
    }

    /// Each matching series' samples in `[ref - range, ref]`, staleness markers left
    /// out; series without any are left out. With `drop_names`, the series' labels
    /// come without `__name__` (as a function of the range vector gives them).
    pub(super) fn range_selector(
        &mut self,
        ms: &MatrixSelector,
        t: i64,
        drop_names: bool,
    ) -> Result<Vec<RangeSeries<'s>>, QueryError> {
        let ref_t = self.ref_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), t);
        let from_t = ref_t - millis(ms.range);
        let selection = self.select(&ms.vs)?;
        let mut out = Vec::new();
        let mut loaded = 0;
        for s in &selection.series {
            let Some(points) = without_markers(s.window(from_t, ref_t)) else {
                continue;
            };
            loaded += points.len();
            let labels = if drop_names { s.unnamed() } else { s.labels };
            out.push(RangeSeries {
                labels: labels.clone(),
                points,
            });
        }
        self.load(loaded)?;
        Ok(out)
    }

    /// The inner expression evaluated at every multiple of the step in
    /// `[ref - range, ref]`, grouped into series.
    fn subquery(&mut self, sq: &SubqueryExpr, t: i64) -> Result<Vec<RangeSeries<'s>>, QueryError> {
        let ref_t = self.ref_time(sq.at.as_ref(), sq.offset.as_ref(), t);
        let step = sq.step.map_or(self.subquery_step_ms, millis).max(1);
        let from_t = ref_t - millis(sq.range);
        let mut ts = step * from_t.div_euclid(step);
        if ts < from_t {
            ts += step;
        }
        let mut index: HashMap<LabelSet, usize> = HashMap::new();
        let mut out: Vec<(LabelSet, Vec<(i64, f64)>)> = Vec::new();
        let mut loaded = 0;
        while ts <= ref_t {
            self.check_deadline()?;
            self.subquery_depth += 1;
            let inner = self.eval(&sq.expr, ts);
            self.subquery_depth -= 1;
            let samples = match inner? {
                Value::Vector(v) => v,
                Value::Scalar(v) => vec![Sample {
                    labels: LabelSet::empty(),
                    value: v,
                }],
                other => return Err(wrong_type("instant vector in a subquery", &other)),
            };
            loaded += samples.len();
            for s in samples {
                let i = *index.entry(s.labels.clone()).or_insert_with(|| {
                    out.push((s.labels, Vec::new()));
                    out.len() - 1
                });
                out[i].1.push((ts, s.value));
            }
            ts += step;
        }
        self.load(loaded)?;
        let mut out: Vec<RangeSeries<'s>> = out
            .into_iter()
            .map(|(labels, points)| RangeSeries {
                labels,
                points: Cow::Owned(points),
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

/// A window's samples without staleness markers (borrowed when it has none), or none
/// if no sample is left.
pub(super) fn without_markers(window: &[(i64, f64)]) -> Option<Cow<'_, [(i64, f64)]>> {
    let points = if window.iter().any(|&(_, v)| is_stale_nan(v)) {
        Cow::Owned(
            window
                .iter()
                .filter(|&&(_, v)| !is_stale_nan(v))
                .copied()
                .collect(),
        )
    } else {
        Cow::Borrowed(window)
    };
    (!points.is_empty()).then_some(points)
}

/// Prometheus's check on every computed vector: no two samples with one label set.
pub(super) fn check_unique(v: &[Sample]) -> Result<(), QueryError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(v.len());
    if v.iter().all(|s| seen.insert(&s.labels)) {
        Ok(())
    } else {
        Err(QueryError::Execution(
            "vector cannot contain metrics with the same labelset".into(),
        ))
    }
}

/// `d` in whole milliseconds.
pub(super) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An `offset` in milliseconds (negative offsets look ahead).
pub(super) fn offset_ms(offset: Option<&Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => millis(*d),
        Some(Offset::Neg(d)) => -millis(*d),
    }
}

fn system_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => millis(d),
        Err(e) => -millis(e.duration()),
    }
}
