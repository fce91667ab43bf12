//! Series selection: label matchers (from the parser) against the store's label
//! sets, and `match[]` selectors of the series and label endpoints.

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr, VectorSelector};

use super::{QueryError, NAME_LABEL};
use promsdk::labels::LabelSet;

/// A series selector as `match[]` takes one (`up{job="api"}`): matchers only, no
/// offset or `@`.
///
/// ```
/// use promsdk_harness::query::Selector;
/// use promsdk_harness::scrape::series_labels;
/// let s: Selector = r#"up{job=~"a.*"}"#.parse().unwrap();
/// assert!(s.matches(&series_labels("up", &[("job", "api")])));
/// assert!(!s.matches(&series_labels("up", &[("job", "db")])));
/// assert!("rate(up[5m])".parse::<Selector>().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Selector {
    matchers: Vec<Matcher>,
}

impl Selector {
    /// Whether a series' labels satisfy every matcher (a missing label matches as
    /// the empty value).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        matches_all(&self.matchers, labels)
    }
}

impl std::str::FromStr for Selector {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, QueryError> {
        match parser::parse(s).map_err(QueryError::Parse)? {
            Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none() => {
                if !vs.matchers.or_matchers.is_empty() {
                    return Err(QueryError::Unsupported("label matcher \"or\"".into()));
                }
                Ok(Selector {
                    matchers: matchers(&vs),
                })
            }
            _ => Err(QueryError::Parse(format!(
                "expected a series selector such as up{{job=\"api\"}}, got {s:?}"
            ))),
        }
    }
}

/// Every matcher of `vs`, its metric name included.
pub(super) fn matchers(vs: &VectorSelector) -> Vec<Matcher> {
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::new(MatchOp::Equal, NAME_LABEL, name));
    }
    out.extend(vs.matchers.matchers.iter().cloned());
    out
}

/// Whether `labels` satisfy every matcher.
pub(super) fn matches_all(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers
        .iter()
        .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
}

/// Whether any sample of `samples` (time order) lies in `[start, end]`.
pub(super) fn has_sample_in(samples: &[(i64, f64)], start: i64, end: i64) -> bool {
    let from = samples.partition_point(|&(t, _)| t < start);
    samples.get(from).is_some_and(|&(t, _)| t <= end)
}
