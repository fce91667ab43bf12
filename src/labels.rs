//! Label name and value rules, and [`LabelSet`], the immutable, cheaply cloned set of
//! label pairs every gathered sample carries.
//!
use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, OnceLock};

use once_cell::sync::Lazy;
use smallvec::SmallVec;

use crate::error::{Error, Result};

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// Names starting with `__` pass this check but are reserved for Prometheus; see
/// [`check_label_name`].
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks a metric name, returning [`Error::InvalidMetricName`] naming it.
pub fn check_metric_name(name: &str) -> Result<()> {
    if is_valid_metric_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidMetricName {
            name: name.to_owned(),
        })
    }
}

/// Checks a label name of `metric`: valid syntax and not reserved (`__` prefix).
pub fn check_label_name(metric: &str, label: &str) -> Result<()> {
    let reason = if !is_valid_label_name(label) {
        "must match [a-zA-Z_][a-zA-Z0-9_]*"
    } else if label.starts_with("__") {
        "names starting with __ are reserved"
    } else {
        return Ok(());
    };
    Err(Error::InvalidLabelName {
        metric: metric.to_owned(),
        label: label.to_owned(),
        reason,
    })
}

/// One label: a name and its value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LabelPair {
    /// The label name (shared with the descriptor that declared it).
    pub name: Arc<str>,
    /// The label value: any UTF-8 text.
    pub value: Arc<str>,
}

impl LabelPair {
    /// A pair from a name and a value.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        LabelPair {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl PartialOrd for LabelPair {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LabelPair {
    fn cmp(&self, other: &Self) -> Ordering {
        let names = if Arc::ptr_eq(&self.name, &other.name) {
            Ordering::Equal
        } else {
            self.name.cmp(&other.name)
        };
        names.then_with(|| self.value.cmp(&other.value))
    }
}

impl fmt::Debug for LabelPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value)
    }
}

static EMPTY: Lazy<Arc<Inner>> = Lazy::new(|| Arc::new(Inner::new(Pairs::default())));

/// The pairs, in an allocation of their own sized to them: a set of four pairs kept
/// inline would make every set, the scrape harness's one-label target addresses
/// included, carry room for four (measured: 2,454 instead of 2,036 bytes per idle
/// target in the `discovery` benchmark), for no measurable gain in `churn`.
type Pairs = Box<[LabelPair]>;

/// What a [`LabelSet`] shares between its clones. `repr(C)`, the rendered text first:
/// an encode then reads the two cache lines after the reference counts, not lines
/// further on behind the pairs.
#[repr(C)]
struct Inner {
    /// The pairs as an exposition writes them, `a="x",b="y"` with values escaped:
    /// built by the first encode of a sample carrying this set, then copied as is by
    /// every later one (text 0.0.4 and OpenMetrics escape label values alike).
    /// Inline up to 56 bytes (two or three short labels), so encoding such a set reads
    /// no other allocation.
    rendered: OnceLock<SmallVec<[u8; 56]>>,
    pairs: Pairs,
}

impl Inner {
    fn new(pairs: Pairs) -> Self {
        Inner {
            pairs,
            rendered: OnceLock::new(),
        }
    }
}

/// An immutable set of label pairs, sorted by name, cheap to clone (one reference count).
///
/// Ordering compares the pairs in turn (name, then value), which is the order gathered
/// series come out in.
///
/// ```
/// use promsdk::LabelSet;
/// let set = LabelSet::from_pairs("http_requests_total", &[("path", "/"), ("method", "GET")]).unwrap();
/// assert_eq!(set.get("method"), Some("GET"));
/// assert_eq!(format!("{set:?}"), r#"{method="GET", path="/"}"#);
/// ```
#[derive(Clone)]
pub struct LabelSet(Arc<Inner>);

impl PartialEq for LabelSet {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.pairs == other.0.pairs
    }
}

impl Eq for LabelSet {}

impl std::hash::Hash for LabelSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.pairs.hash(state);
    }
}

impl PartialOrd for LabelSet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LabelSet {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.pairs.cmp(&other.0.pairs)
    }
}

impl LabelSet {
    /// The set with no labels (shared, allocates nothing).
    pub fn empty() -> Self {
        LabelSet(EMPTY.clone())
    }

    /// Builds a set from `(name, value)` pairs for metric `metric` (named in errors):
    /// names are validated, duplicates rejected, and pairs sorted by name.
    pub fn from_pairs(metric: &str, pairs: &[(&str, &str)]) -> Result<Self> {
        let mut out: Vec<LabelPair> = Vec::with_capacity(pairs.len());
        for &(name, value) in pairs {
            check_label_name(metric, name)?;
            out.push(LabelPair::new(name, value));
        }
        Self::from_vec(metric, out)
    }

    /// Builds a set from pairs whose names the caller has already validated (a parsed
    /// exposition, a relabeled target): sorts them by name and rejects a repeated name
    /// with [`Error::DuplicateLabelName`] naming `metric`. Names are not checked again.
    pub fn from_vec(metric: &str, mut pairs: Vec<LabelPair>) -> Result<Self> {
        if pairs.is_empty() {
            return Ok(Self::empty());
        }
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = pairs.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(Error::DuplicateLabelName {
                metric: metric.to_owned(),
                label: w[0].name.to_string(),
            });
        }
        Ok(LabelSet(Arc::new(Inner::new(pairs.into_boxed_slice()))))
    }

    /// A set from pairs already sorted by name, with distinct names (a descriptor's
    /// labels, put in order once when it was built).
    pub(crate) fn from_sorted(pairs: impl IntoIterator<Item = LabelPair>) -> Self {
        let pairs: Pairs = pairs.into_iter().collect();
        if pairs.is_empty() {
            return Self::empty();
        }
        LabelSet(Arc::new(Inner::new(pairs)))
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[LabelPair] {
        &self.0.pairs
    }

    /// The pairs as written inside `{…}` by both exposition formats, rendered by
    /// `render` on first use and kept for every later encode.
    pub(crate) fn rendered(&self, render: impl FnOnce(&[LabelPair]) -> Vec<u8>) -> &[u8] {
        self.0
            .rendered
            // `from_vec` keeps a long text in the vec's own allocation.
            .get_or_init(|| SmallVec::from_vec(render(&self.0.pairs)))
    }

    /// An iterator over `(name, value)`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.pairs.iter().map(|p| (&*p.name, &*p.value))
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .pairs
            .iter()
            .find(|p| &*p.name == name)
            .map(|p| &*p.value)
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.pairs.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.pairs.is_empty()
    }

    /// Whether both are clones of one set (so certainly equal), without comparing pairs.
    pub(crate) fn same_set(&self, other: &LabelSet) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Starts loading the set's rendered text into the cache ahead of an encode (see
    /// `crate::prefetch`). The text and the state saying it is rendered span up to two
    /// lines after the reference counts, so the set's first line alone would leave the
    /// encode waiting on the next one.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        crate::prefetch::prefetch_ends(&self.0.rendered);
    }

    /// Whether both sets have the same label names in the same order.
    pub fn same_names(&self, other: &LabelSet) -> bool {
        self.0.pairs.len() == other.0.pairs.len()
            && self
                .0
                .pairs
                .iter()
                .zip(other.0.pairs.iter())
                .all(|(a, b)| Arc::ptr_eq(&a.name, &b.name) || a.name == b.name)
    }

    /// A new set with `extra` pairs added (used by const-label wrapping).
    pub fn with_pairs(&self, metric: &str, extra: &[LabelPair]) -> Result<Self> {
        let mut pairs = self.0.pairs.to_vec();
        pairs.extend_from_slice(extra);
        Self::from_vec(metric, pairs)
    }
}

impl Default for LabelSet {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, p) in self.0.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in ["a", "_a", ":a", "a_b:c9", "A"] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a b", "ä", "a.b"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
            assert!(check_metric_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["a", "_a", "le", "a9"] {
            assert!(check_label_name("m", ok).is_ok(), "{ok}");
        }
        for bad in ["", "9a", "a:b", "__name__", "__x", "a-b"] {
            let err = check_label_name("m", bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn label_set_sorts_and_rejects_duplicates() {
        let s = LabelSet::from_pairs("m", &[("b", "1"), ("a", "2")]).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![("a", "2"), ("b", "1")]);
        let err = LabelSet::from_pairs("m", &[("a", "1"), ("a", "2")]).unwrap_err();
        assert!(matches!(err, Error::DuplicateLabelName { .. }), "{err}");
        assert!(LabelSet::from_pairs("m", &[("1", "x")]).is_err());
    }

    #[test]
    fn ordering_is_by_pairs() {
        let a = LabelSet::from_pairs("m", &[("x", "a")]).unwrap();
        let b = LabelSet::from_pairs("m", &[("x", "b")]).unwrap();
        assert!(a < b);
        assert!(LabelSet::empty() < a);
    }
}
