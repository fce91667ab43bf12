//! PromQL over a [`MemoryStore`], with Prometheus 2.42's semantics: queries are parsed
//! by the [`promql_parser`] crate and evaluated here, instant or over a range of
//! steps, with the 5-minute lookback and staleness markers honoured as Prometheus
//! does (a series whose latest sample at or before the evaluation time is a
//! staleness marker has no value; range selectors skip markers).
//!
//! Supported: selectors (instant and range, `offset`, `@` with `start()`/`end()`),
//! subqueries, number and string literals, unary minus, arithmetic, comparison (with
//! `bool`) and set operators with `on`/`ignoring`/`group_left`/`group_right`, the
//! aggregations of Prometheus 2.42 and its functions over float samples. Anything
//! else is refused with [`QueryError::Unsupported`] naming the construct, never
//! answered wrongly.
//!
//! ```
//! use promsdk_harness::query::{Engine, EngineOpts, QueryValue};
//! use promsdk_harness::scrape::{series_labels, MemoryStore, Storage};
//! use std::time::Duration;
//!
//! let store = MemoryStore::new(Duration::from_secs(3600));
//! let mut app = store.appender();
//! for (t, v) in [(0, 0.0), (15_000, 30.0), (30_000, 60.0)] {
//!     app.append(&series_labels("requests_total", &[("path", "/")]), t, v);
//! }
//! app.commit();
//! let engine = Engine::new(store, EngineOpts::default());
//! let QueryValue::Vector(v) = engine.instant("rate(requests_total[30s])", 30_000, None).unwrap() else {
//!     panic!("a vector");
//! };
//! assert_eq!(v[0].value, 2.0);
//! assert_eq!(format!("{:?}", v[0].labels), r#"{path="/"}"#);
//! ```

mod aggregate;
mod all_steps;
mod binary;
mod check;
mod eval;
mod functions;
mod range_functions;
mod select;

use std::collections::HashMap;
use std::sync::Once;
use std::time::{Duration, Instant};

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr, Function};

use crate::scrape::{labels_from_pairs, MemoryStore};
use promsdk::labels::LabelSet;

pub use select::Selector;

use eval::{Evaluator, Value};

/// The label holding a series' metric name.
pub const NAME_LABEL: &str = "__name__";

/// How the [`Engine`] evaluates queries; the defaults are Prometheus's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineOpts {
    /// How far back an instant selector looks for a sample
    /// (`--query.lookback-delta`, default 5 minutes).
    pub lookback: Duration,
    /// The most samples a query may hold in memory at once (`--query.max-samples`,
    /// default 50,000,000).
    pub max_samples: usize,
    /// The longest a query may run (`--query.timeout`, default 2 minutes).
    pub timeout: Duration,
    /// The step of a subquery written without one (`[5m:]`): Prometheus's
    /// `evaluation_interval`, default 1 minute.
    pub subquery_step: Duration,
}

impl Default for EngineOpts {
    fn default() -> Self {
        EngineOpts {
            lookback: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            subquery_step: Duration::from_secs(60),
        }
    }
}

impl EngineOpts {
    /// These options with at most `max_samples` samples held by one query.
    ///
    /// ```
    /// use promsdk_harness::query::EngineOpts;
    /// assert_eq!(EngineOpts::default().max_samples(10).max_samples, 10);
    /// ```
    pub fn max_samples(mut self, max_samples: usize) -> Self {
        self.max_samples = max_samples;
        self
    }
}

/// A query that could not be run, classified as Prometheus's API reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query text is not valid PromQL.
    #[error("parse error: {0}")]
    Parse(String),
    /// Valid PromQL this engine does not evaluate (`unsupported function "..."`).
    #[error("unsupported {0}")]
    Unsupported(String),
    /// The request cannot be evaluated as asked (a range query of a string, a step
    /// that is not positive, an end before the start).
    #[error("{0}")]
    BadRequest(String),
    /// Evaluation failed (many-to-many matching, duplicate label sets, invalid
    /// function arguments).
    #[error("{0}")]
    Execution(String),
    /// The query would hold more samples than [`EngineOpts::max_samples`].
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query ran longer than its timeout.
    #[error("query timed out in expression evaluation")]
    Timeout,
}

impl QueryError {
    /// Prometheus's `errorType` for this error: `bad_data`, `execution` or `timeout`.
    ///
    /// ```
    /// use promsdk_harness::query::QueryError;
    /// assert_eq!(QueryError::TooManySamples.error_type(), "execution");
    /// ```
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) | QueryError::Unsupported(_) | QueryError::BadRequest(_) => {
                "bad_data"
            }
            QueryError::Execution(_) | QueryError::TooManySamples => "execution",
            QueryError::Timeout => "timeout",
        }
    }
}

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: LabelSet,
    /// The value.
    pub value: f64,
}

/// One series of a matrix: points `(t_ms, value)` in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: LabelSet,
    /// The points.
    pub points: Vec<(i64, f64)>,
}

/// The result of an instant query, by Prometheus's `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// `vector`: one sample per series, at the evaluation time.
    Vector(Vec<Sample>),
    /// `matrix`: a range selector's samples (an instant query of `m[5m]`).
    Matrix(Vec<Series>),
    /// `scalar`.
    Scalar(f64),
    /// `string`.
    String(String),
}

impl QueryValue {
    /// Prometheus's `resultType` name.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
            QueryValue::Scalar(_) => "scalar",
            QueryValue::String(_) => "string",
        }
    }
}

/// Evaluates PromQL over a store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    store: MemoryStore,
    opts: EngineOpts,
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: MemoryStore, opts: EngineOpts) -> Self {
        Engine { store, opts }
    }

    /// The options in force.
    pub fn opts(&self) -> &EngineOpts {
        &self.opts
    }

    /// Evaluates `query` at `t_ms`. `timeout` shortens [`EngineOpts::timeout`].
    /// Vectors come sorted by labels, except the results of `sort`, `sort_desc`,
    /// `topk` and `bottomk`, which keep their order.
    pub fn instant(
        &self,
        query: &str,
        t_ms: i64,
        timeout: Option<Duration>,
    ) -> Result<QueryValue, QueryError> {
        let expr = parse(query)?;
        let reader = self.store.reader();
        let mut ev = Evaluator::new(&reader, &self.opts, t_ms, t_ms, self.deadline(timeout));
        let value = ev.eval(&expr, t_ms)?;
        ev.end_step(0)?;
        Ok(match value {
            Value::Scalar(v) => QueryValue::Scalar(v),
            Value::String(s) => QueryValue::String(s),
            Value::Vector(mut v) => {
                if !keeps_order(&expr) {
                    v.sort_by(|a, b| a.labels.cmp(&b.labels));
                }
                QueryValue::Vector(v)
            }
            Value::Matrix(m) => {
                let mut m: Vec<Series> = m
                    .into_iter()
                    .map(|r| Series {
                        labels: r.labels,
                        points: r.points.into_owned(),
                    })
                    .collect();
                m.sort_by(|a, b| a.labels.cmp(&b.labels));
                QueryValue::Matrix(m)
            }
        })
    }

    /// Evaluates `query` at `start_ms`, `start_ms + step`, … up to `end_ms`: one
    /// series per label set (a scalar becomes a series without labels), sorted by
    /// labels. Only instant vectors and scalars may be range-queried.
    pub fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step: Duration,
        timeout: Option<Duration>,
    ) -> Result<Vec<Series>, QueryError> {
        let expr = parse(query)?;
        match expr.value_type() {
            ValueType::Vector | ValueType::Scalar => {}
            other => {
                return Err(QueryError::BadRequest(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_name(other)
            )))
            }
        }
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        if step_ms <= 0 {
            return Err(QueryError::BadRequest(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadRequest(
                "end timestamp must not be before start time".into(),
            ));
        }
        let reader = self.store.reader();
        let mut ev = Evaluator::new(
            &reader,
            &self.opts,
            start_ms,
            end_ms,
            self.deadline(timeout),
        );
        ev.set_step(step_ms);
        if let Some(mut out) = all_steps::whole_range(&mut ev, &expr)? {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            return Ok(out);
        }
        let mut index: HashMap<LabelSet, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut first_of_last_step = 0;
        let mut t = start_ms;
        while t <= end_ms {
            ev.check_deadline()?;
            let step_out: Vec<Sample> = match ev.eval(&expr, t)? {
                Value::Scalar(v) => vec![Sample {
                    labels: LabelSet::empty(),
                    value: v,
                }],
                Value::Vector(v) => v,
                other => return Err(eval::wrong_type("range query result", &other)),
            };
            ev.end_step(step_out.len())?;
            // Steps mostly repeat the previous step's series in the same order: the
            // series after the last one found is tried before the index. A guess is
            // taken only when its labels are equal, so every sample still lands in
            // the one series with its label set; the guess saves hashing them.
            let mut next = first_of_last_step;
            for (j, s) in step_out.into_iter().enumerate() {
                let i = match out.get(next) {
                    Some(guess) if guess.labels == s.labels => next,
                    _ => *index.entry(s.labels.clone()).or_insert_with(|| {
                        out.push(Series {
                            labels: s.labels,
                            points: Vec::new(),
                        });
                        out.len() - 1
                    }),
                };
                if j == 0 {
                    first_of_last_step = i;
                }
                out[i].points.push((t, s.value));
                next = i + 1;
            }
            t = t.saturating_add(step_ms);
            if t == i64::MAX {
                break;
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// The label sets of series matching any of `selectors` with a sample (staleness
    /// markers included) in `[start_ms, end_ms]`, sorted and without repeats.
    pub fn series(&self, selectors: &[Selector], start_ms: i64, end_ms: i64) -> Vec<LabelSet> {
        let reader = self.store.reader();
        let mut out: Vec<LabelSet> = reader
            .series()
            .filter(|(labels, samples)| {
                selectors.iter().any(|s| s.matches(labels))
                    && select::has_sample_in(samples, start_ms, end_ms)
            })
            .map(|(labels, _)| labels.clone())
            .collect();
        out.sort();
        out
    }

    /// The label names of the series [`series`](Engine::series) would list (all
    /// series when `selectors` is empty), sorted.
    pub fn label_names(&self, selectors: &[Selector], start_ms: i64, end_ms: i64) -> Vec<String> {
        let mut names: Vec<String> = self
            .matching(selectors, start_ms, end_ms)
            .iter()
            .flat_map(|l| l.iter().map(|(n, _)| n.to_owned()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The values label `name` takes in the series [`series`](Engine::series) would
    /// list (all series when `selectors` is empty), sorted.
    pub fn label_values(
        &self,
        name: &str,
        selectors: &[Selector],
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<String> {
        let mut values: Vec<String> = self
            .matching(selectors, start_ms, end_ms)
            .iter()
            .filter_map(|l| l.get(name).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        values
    }

    fn matching(&self, selectors: &[Selector], start_ms: i64, end_ms: i64) -> Vec<LabelSet> {
        if selectors.is_empty() {
            let reader = self.store.reader();
            return reader
                .series()
                .filter(|(_, samples)| select::has_sample_in(samples, start_ms, end_ms))
                .map(|(labels, _)| labels.clone())
                .collect();
        }
        self.series(selectors, start_ms, end_ms)
    }

    fn deadline(&self, timeout: Option<Duration>) -> Instant {
        let timeout = timeout.map_or(self.opts.timeout, |t| t.min(self.opts.timeout));
        let now = Instant::now();
        now.checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
    }
}

/// Parses `query` and refuses what this engine does not evaluate.
fn parse(query: &str) -> Result<Expr, QueryError> {
    static EXTRA: Once = Once::new();
    // Prometheus 2.42's holt_winters, which the parser (following later releases)
    // knows only as double_exponential_smoothing.
    EXTRA.call_once(|| {
        let holt_winters = Function::new(
            "holt_winters",
            vec![ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
            0,
            ValueType::Vector,
            false,
        );
        // Fails only for a built-in name, which holt_winters is not.
        let _ = parser::register_extra_functions(vec![holt_winters]);
    });
    let expr = parser::parse(query).map_err(QueryError::Parse)?;
    check::supported(&expr)?;
    Ok(expr)
}

/// Whether the order of an instant vector result is meaningful (Prometheus returns
/// these in evaluation order).
fn keeps_order(expr: &Expr) -> bool {
    match expr {
        Expr::Paren(p) => keeps_order(&p.expr),
        Expr::Call(c) => matches!(c.func.name, "sort" | "sort_desc"),
        Expr::Aggregate(a) => matches!(a.op.to_string().as_str(), "topk" | "bottomk"),
        _ => false,
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    }
}

/// A value as Prometheus's API writes it: Go's `strconv.FormatFloat(v, 'f', -1, 64)`,
/// switching to the `e` form below 1e-6 and from 1e21 on, with `NaN`, `+Inf`, `-Inf`.
///
/// ```
/// use promsdk_harness::query::format_value;
/// assert_eq!(format_value(1e6), "1000000");
/// assert_eq!(format_value(1.5e-7), "1.5e-07");
/// assert_eq!(format_value(1e21), "1e+21");
/// assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
/// ```
pub fn format_value(v: f64) -> String {
    let abs = v.abs();
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        go_exp(v)
    } else {
        format!("{v}")
    }
}

/// A value as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it (count_values'
/// label), with Go's spellings of the special values.
pub(crate) fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Go's `e` format with the shortest digits: `1.5e-07`, `1e+21`.
fn go_exp(v: f64) -> String {
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// `labels` without `__name__`.
pub(crate) fn drop_name(labels: &LabelSet) -> LabelSet {
    if labels.get(NAME_LABEL).is_none() {
        return labels.clone();
    }
    labels_from_pairs(
        labels
            .pairs()
            .iter()
            .filter(|p| &*p.name != NAME_LABEL)
            .cloned()
            .collect(),
    )
}

/// Labels as Go's `labels.Labels.String` prints them: `{a="x", b="y"}`.
pub(crate) fn labels_string(labels: &LabelSet) -> String {
    let body: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", body.join(", "))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "promql_tests.rs"]
mod promql_tests;

#[cfg(test)]
#[path = "speed_tests.rs"]
mod speed_tests;
