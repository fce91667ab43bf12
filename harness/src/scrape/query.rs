//! Selector queries over a [`MemoryStore`]: `name{l="v", l!="v", l=~"re", l!~"re"}`,
//! instant queries with Prometheus's 5-minute lookback that honour staleness markers,
//! range queries, and series listings. No PromQL functions or operators.
//!
//! ```
//! use promsdk_harness::scrape::{instant_query, series_labels, Appender, MemoryStore, Selector, Storage, STALE_NAN};
//! use std::time::Duration;
//!
//! let store = MemoryStore::new(Duration::from_secs(3600));
//! let mut app = store.appender();
//! app.append(&series_labels("step_seconds", &[("step", "clone")]), 1_000, 1.5);
//! app.append(&series_labels("step_seconds", &[("step", "build")]), 1_000, 2.0);
//! app.commit();
//! let sel: Selector = r#"step_seconds{step=~"cl.*"}"#.parse().unwrap();
//! assert_eq!(instant_query(&store, &sel, 2_000)[0].1, (1_000, 1.5));
//!
//! let mut app = store.appender();
//! app.append(&series_labels("step_seconds", &[("step", "clone")]), 3_000, STALE_NAN);
//! app.commit();
//! assert!(instant_query(&store, &sel, 4_000).is_empty(), "stale: gone at once");
//! assert_eq!(instant_query(&store, &sel, 2_000).len(), 1, "still there before");
//! ```

use std::str::FromStr;
use std::time::Duration;

use regex::Regex;

use crate::scrape::store::{is_stale_nan, MemoryStore, SeriesSamples};
use crate::scrape::NAME_LABEL;
use promsdk::labels::{is_valid_label_name, is_valid_metric_name, LabelSet};

/// How far back an instant query looks for a series' latest sample (Prometheus's
/// default `--query.lookback-delta`).
pub const LOOKBACK: Duration = Duration::from_secs(300);
const LOOKBACK_MS: i64 = 300_000;

/// The most points a range query may return per series, as Prometheus.
pub const MAX_POINTS: i64 = 11_000;

/// A query that could not be parsed or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The selector is malformed.
    #[error("parse error at char {position} of {query:?}: {message}")]
    Parse {
        /// The query text.
        query: String,
        /// 1-based character position.
        position: usize,
        /// What was expected.
        message: String,
    },
    /// A range query asks for too many points or has a non-positive step or end
    /// before start.
    #[error("invalid range query: {0}")]
    Range(String),
}

/// A label matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    Regex,
    /// `!~` (fully anchored)
    NotRegex,
}

/// One label matcher. A missing label matches as the empty value, as in Prometheus.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name (`__name__` for the metric name).
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or regular expression as written.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Whether `value` (empty for a missing label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (_, None) => false,
        }
    }
}

/// A parsed vector selector: the metric name (as a `__name__` matcher) and label
/// matchers. At least one matcher must not match the empty string.
#[derive(Debug, Clone)]
pub struct Selector {
    /// All matchers, the name first.
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// Whether a series' labels satisfy every matcher.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
    }
}

impl FromStr for Selector {
    type Err = QueryError;

    fn from_str(query: &str) -> Result<Self, QueryError> {
        SelectorParser { query, pos: 0 }.parse()
    }
}

struct SelectorParser<'a> {
    query: &'a str,
    pos: usize,
}

impl SelectorParser<'_> {
    fn error(&self, message: impl Into<String>) -> QueryError {
        QueryError::Parse {
            query: self.query.to_owned(),
            position: self.query[..self.pos].chars().count() + 1,
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.query[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        let hit = self.rest().starts_with(token);
        if hit {
            self.pos += token.len();
        }
        hit
    }

    fn ident(&mut self, colon: bool) -> &str {
        self.skip_ws();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':')))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.query[start..self.pos]
    }

    fn parse(mut self) -> Result<Selector, QueryError> {
        let mut matchers = Vec::new();
        let name = self.ident(true).to_owned();
        if !name.is_empty() {
            if !is_valid_metric_name(&name) {
                return Err(self.error(format!("invalid metric name {name:?}")));
            }
            matchers.push(matcher(NAME_LABEL, MatchOp::Equal, name));
        }
        if self.eat("{") {
            while !self.eat("}") {
                let label = self.ident(false).to_owned();
                if !is_valid_label_name(&label) {
                    return Err(self.error("expected a label name"));
                }
                let op = if self.eat("=~") {
                    MatchOp::Regex
                } else if self.eat("!~") {
                    MatchOp::NotRegex
                } else if self.eat("!=") {
                    MatchOp::NotEqual
                } else if self.eat("=") {
                    MatchOp::Equal
                } else {
                    return Err(self.error("expected one of =, !=, =~, !~"));
                };
                let value = self.string()?;
                let mut m = matcher(&label, op, value);
                if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
                    let re = Regex::new(&format!("^(?s:{})$", m.value))
                        .map_err(|e| self.error(format!("invalid regex {:?}: {e}", m.value)))?;
                    m.re = Some(re);
                }
                matchers.push(m);
                if !self.eat(",") && !self.rest().trim_start().starts_with('}') {
                    return Err(self.error("expected , or }"));
                }
            }
        }
        self.skip_ws();
        if !self.rest().is_empty() {
            return Err(self
                .error("only vector selectors are supported (no functions, operators or ranges)"));
        }
        if matchers.iter().all(|m| m.matches("")) {
            return Err(self.error("vector selector must contain at least one non-empty matcher"));
        }
        Ok(Selector { matchers })
    }

    fn string(&mut self) -> Result<String, QueryError> {
        self.skip_ws();
        let mut chars = self.rest().char_indices();
        let quote = match chars.next() {
            Some((_, q @ ('"' | '\'' | '`'))) => q,
            _ => return Err(self.error("expected a quoted string")),
        };
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + 1;
                return Ok(out);
            }
            if c != '\\' || quote == '`' {
                out.push(c);
                continue;
            }
            match chars.next().map(|(_, e)| e) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(e @ ('\\' | '"' | '\'')) => out.push(e),
                Some(e) => {
                    // As Go's strconv.Unquote, which PromQL uses: write `\\d` for `\d`.
                    return Err(self.error(format!("invalid escape sequence \\{e}")));
                }
                None => break,
            }
        }
        Err(self.error("unterminated string"))
    }
}

fn matcher(name: &str, op: MatchOp, value: String) -> Matcher {
    Matcher {
        name: name.to_owned(),
        op,
        value,
        re: None,
    }
}

/// The latest sample at or before `t_ms` of each series matching `selector`, looking
/// back at most [`LOOKBACK`]; a series whose latest sample is a staleness marker is
/// left out. Sorted by label set.
pub fn instant_query(
    store: &MemoryStore,
    selector: &Selector,
    t_ms: i64,
) -> Vec<(LabelSet, (i64, f64))> {
    store
        .select(|l| selector.matches(l), t_ms - LOOKBACK_MS, t_ms)
        .into_iter()
        .filter_map(|(labels, samples)| {
            let last = *samples.last()?;
            (!is_stale_nan(last.1)).then_some((labels, last))
        })
        .collect()
}

/// The instant query evaluated at `start`, `start + step`, … up to `end`, grouped by
/// series (series with no point are left out). Each point carries its evaluation time.
pub fn range_query(
    store: &MemoryStore,
    selector: &Selector,
    start_ms: i64,
    end_ms: i64,
    step: Duration,
) -> Result<Vec<SeriesSamples>, QueryError> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    if step_ms <= 0 {
        return Err(QueryError::Range("zero or negative query resolution step widths are not accepted. Try a positive integer".into()));
    }
    if end_ms < start_ms {
        return Err(QueryError::Range(
            "end timestamp must not be before start time".into(),
        ));
    }
    if (end_ms - start_ms) / step_ms >= MAX_POINTS {
        return Err(QueryError::Range("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into()));
    }
    let found = store.select(|l| selector.matches(l), start_ms - LOOKBACK_MS, end_ms);
    Ok(found
        .into_iter()
        .filter_map(|(labels, samples)| {
            let mut points = Vec::new();
            let mut t = start_ms;
            while t <= end_ms {
                let upto = samples.partition_point(|&(ts, _)| ts <= t);
                if let Some(&(ts, v)) = upto.checked_sub(1).map(|i| &samples[i]) {
                    if ts >= t - LOOKBACK_MS && !is_stale_nan(v) {
                        points.push((t, v));
                    }
                }
                t += step_ms;
            }
            (!points.is_empty()).then_some((labels, points))
        })
        .collect())
}

/// The label sets of series matching any of `selectors` with a sample (staleness
/// markers included) in `[start_ms, end_ms]`, sorted and without repeats.
pub fn series_query(
    store: &MemoryStore,
    selectors: &[Selector],
    start_ms: i64,
    end_ms: i64,
) -> Vec<LabelSet> {
    store
        .select(|l| selectors.iter().any(|s| s.matches(l)), start_ms, end_ms)
        .into_iter()
        .map(|(labels, _)| labels)
        .collect()
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
