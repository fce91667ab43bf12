//! Series selection: label matchers (from the parser) against the store's label
//! sets, and `match[]` selectors of the series and label endpoints.

use std::cell::{Cell, OnceCell};
use std::collections::HashSet;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr, VectorSelector};

use super::{drop_name, QueryError, NAME_LABEL};
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

/// A key whose byte order is the order of label sets: sorting by it sorts as
/// `LabelSet`'s `Ord` does, comparing contiguous bytes instead of following a
/// pointer per label name and value, which over thousands of series misses the
/// cache at almost every comparison.
///
/// The key is each name and value in turn, each with its `0x00` bytes written
/// `0x00 0xFF` and ended by `0x00 0x00`. Label sets compare pair by pair, a pair by
/// name then value, strings byte by byte with a prefix first, and a set that is a
/// prefix of another first. The key keeps every one of these: two encoded strings
/// first differ where the strings do (a byte against a byte, or `0x00 0xFF`, a zero
/// byte, against any larger byte, which is at least `0x01`), or where the shorter
/// ends: its `0x00 0x00` is below both an escaped zero and any other byte. So the
/// keys first differ at the first differing string and order as it does, and a key
/// that is a prefix of another belongs to a set that is a prefix of the other.
pub(super) fn sort_key(labels: &LabelSet) -> Vec<u8> {
    let mut key = Vec::with_capacity(labels.len() * 24);
    for (name, value) in labels.iter() {
        for s in [name.as_bytes(), value.as_bytes()] {
            if s.contains(&0) {
                for &b in s {
                    key.push(b);
                    if b == 0 {
                        key.push(0xff);
                    }
                }
            } else {
                key.extend_from_slice(s);
            }
            key.extend_from_slice(&[0, 0]);
        }
    }
    key
}

/// Whether any sample of `samples` (time order) lies in `[start, end]`.
pub(super) fn has_sample_in(samples: &[(i64, f64)], start: i64, end: i64) -> bool {
    let from = samples.partition_point(|&(t, _)| t < start);
    samples.get(from).is_some_and(|&(t, _)| t <= end)
}

/// The series one selector matched, sorted by labels: found once per query and
/// reused by every step, with what the steps of a range query would otherwise redo
/// per series (see [`Selected`]).
pub(super) struct Selection<'s> {
    pub series: Vec<Selected<'s>>,
    /// Whether the series' label sets stay distinct without `__name__`, computed on
    /// first use.
    unnamed_distinct: OnceCell<bool>,
}

/// One series of a [`Selection`].
pub(super) struct Selected<'s> {
    pub labels: &'s LabelSet,
    pub samples: &'s [(i64, f64)],
    /// `labels` without `__name__`, made on first use.
    unnamed: OnceCell<LabelSet>,
    /// Where the last lookups of this series ended: the start of the next search.
    from: Cell<Option<usize>>,
    to: Cell<Option<usize>>,
}

impl<'s> Selection<'s> {
    /// The series of `found` (sorted by labels).
    pub fn new(found: Vec<(&'s LabelSet, &'s [(i64, f64)])>) -> Self {
        Selection {
            series: found
                .into_iter()
                .map(|(labels, samples)| Selected {
                    labels,
                    samples,
                    unnamed: OnceCell::new(),
                    from: Cell::new(None),
                    to: Cell::new(None),
                })
                .collect(),
            unnamed_distinct: OnceCell::new(),
        }
    }

    /// Whether no two series have the same labels once `__name__` is dropped. Then
    /// no subset of them does either, so a function's result over any steps' subset
    /// needs no check for duplicates.
    pub fn unnamed_distinct(&self) -> bool {
        *self.unnamed_distinct.get_or_init(|| {
            let mut seen = HashSet::with_capacity(self.series.len());
            self.series.iter().all(|s| seen.insert(s.unnamed()))
        })
    }
}

impl<'s> Selected<'s> {
    /// The labels without `__name__`, made once per query rather than once per step:
    /// every step then hands out clones of one set, which later compare equal by
    /// pointer.
    pub fn unnamed(&self) -> &LabelSet {
        self.unnamed.get_or_init(|| drop_name(self.labels))
    }

    /// The samples with times in `[from_t, to_t]`, found from where the previous call
    /// ended (see [`seek`]): a range query's steps move forward, so each step moves a
    /// window by a sample or two instead of binary-searching the series afresh.
    pub fn window(&self, from_t: i64, to_t: i64) -> &'s [(i64, f64)] {
        let from = seek(self.samples, self.from.get(), |ts| ts < from_t);
        let to = seek(self.samples, self.to.get(), |ts| ts <= to_t).max(from);
        self.from.set(Some(from));
        self.to.set(Some(to));
        &self.samples[from..to]
    }

    /// The latest sample at or before `t`, found from where the previous call ended.
    pub fn at_or_before(&self, t: i64) -> Option<(i64, f64)> {
        let upto = seek(self.samples, self.to.get(), |ts| ts <= t);
        self.to.set(Some(upto));
        upto.checked_sub(1).map(|i| self.samples[i])
    }
}

/// `samples.partition_point(|s| before(s.0))` for a `before` that holds for a prefix
/// of the samples (they are in time order), searched from `hint`, or from the end
/// without one.
///
/// This is the same index as a binary search over the whole slice, only found
/// touching less memory; over a large store each probe of a binary search is a cache
/// miss.
/// - With a hint: if the sample just below it satisfies `before`, so do all below
///   it, and the answer lies at or after the hint, found by stepping a few samples
///   and binary-searching the rest; otherwise it lies below and is binary-searched
///   there. A range query's steps move forward, so the answer is the hint or a
///   sample or two past it.
/// - Without: probes 1, 2, 4, … samples back from the end until one satisfies
///   `before` (all samples from the first probe that does not are past the answer),
///   then binary-searches between the last two probes. Queries mostly read recent
///   samples, so this stays within the lines a window then reads.
pub(super) fn seek(
    samples: &[(i64, f64)],
    hint: Option<usize>,
    before: impl Fn(i64) -> bool,
) -> usize {
    let Some(hint) = hint else {
        let mut hi = samples.len();
        let mut step = 1;
        while hi > 0 {
            let probe = hi.saturating_sub(step);
            if before(samples[probe].0) {
                return probe + 1 + samples[probe + 1..hi].partition_point(|s| before(s.0));
            }
            hi = probe;
            step *= 2;
        }
        return 0;
    };
    let hint = hint.min(samples.len());
    if hint > 0 && !before(samples[hint - 1].0) {
        return samples[..hint].partition_point(|s| before(s.0));
    }
    let mut i = hint;
    for _ in 0..4 {
        match samples.get(i) {
            Some(s) if before(s.0) => i += 1,
            _ => return i,
        }
    }
    i + samples[i..].partition_point(|s| before(s.0))
}
