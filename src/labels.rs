//! Label name and value rules, and [`LabelSet`], the immutable, cheaply cloned set of
//! label pairs every gathered sample carries.
//!
use std::alloc::Layout;
use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::{Error, Result};

use packed::Packed;
pub(crate) use packed::PLACED_HEAD;
pub(crate) use template::{Part, Template};

mod packed;
mod template;

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

thread_local! {
    /// The buffer a descriptor-built set's text is rendered into before it is copied into
    /// the set, when it is not rendered on the stack (see [`PLAIN_TEXT`]), kept so that
    /// building a set allocates only the set.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The longest text of a descriptor-built set rendered on the stack rather than in
/// [`SCRATCH`], if none of its values needs escaping: no thread-local to take and put
/// back, no capacity check and `memcpy` call per name and value (measured with callgrind
/// for three labels: about 170 instructions fewer per set, of 520).
const PLAIN_TEXT: usize = 256;

/// A scratch buffer longer than this is not kept for the next set.
const SCRATCH_KEPT: usize = 4096;

/// An immutable set of label pairs, sorted by name, cheap to clone (one reference count).
///
/// Ordering compares the pairs in turn (name, then value), which is the order gathered
/// series come out in.
///
/// A set is one allocation, or for a vec child's, part of the child's (after its value).
/// A set built from a descriptor (a metric's or a vec child's labels, which exist to be
/// exposed) holds the reference count and the pairs as both
/// exposition formats write them, rendered once when the set is built; its pairs are
/// parsed from that text when first asked for ([`LabelSet::pairs`], and what uses it),
/// so that creating a series allocates no string per label value. Other sets
/// ([`LabelSet::from_vec`], [`LabelSet::from_pairs`]: parsed series, scrape targets,
/// exemplars) hold their pairs and are rendered by each encode instead, so that sets
/// never exposed carry no text.
///
/// ```
/// use promsdk::LabelSet;
/// let set = LabelSet::from_pairs("http_requests_total", &[("path", "/"), ("method", "GET")]).unwrap();
/// assert_eq!(set.get("method"), Some("GET"));
/// assert_eq!(format!("{set:?}"), r#"{method="GET", path="/"}"#);
/// ```
#[derive(Clone)]
pub struct LabelSet(Packed);

impl PartialEq for LabelSet {
    fn eq(&self, other: &Self) -> bool {
        self.0.ptr_eq(&other.0) || self.iter().eq(other.iter())
    }
}

impl Eq for LabelSet {}

impl std::hash::Hash for LabelSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for pair in self.iter() {
            pair.hash(state);
        }
    }
}

impl PartialOrd for LabelSet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LabelSet {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl LabelSet {
    /// The set with no labels (shared, allocates nothing).
    pub fn empty() -> Self {
        LabelSet(Packed::empty())
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
        // Inline capacity 0: the vec's buffer is taken over, not copied.
        let mut pairs = SmallVec::<[LabelPair; 0]>::from_vec(pairs);
        Ok(LabelSet(Packed::new(&mut pairs, &[])))
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[LabelPair] {
        self.0.pairs()
    }

    /// The pairs as written inside `{…}` by both exposition formats (`a="x",b="y"`,
    /// values escaped), if rendered when the set was built: empty otherwise.
    #[inline]
    pub(crate) fn rendered(&self) -> &[u8] {
        self.0.text()
    }

    /// An iterator over `(name, value)`, sorted by name.
    ///
    /// For a set built from a descriptor whose values need no escaping, the pairs are
    /// read from its text as they go, without making strings of their own (as
    /// [`LabelSet::pairs`] does): comparing, hashing and checking sets (what a registry
    /// does with the samples of a collector at each gather) allocates nothing.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        match self.0.plain_text().map(std::str::from_utf8) {
            Some(Ok(rest)) => Pairs::Text {
                rest,
                left: self.len(),
            },
            _ => Pairs::Stored(self.pairs().iter()),
        }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|&(n, _)| n == name).map(|(_, v)| v)
    }

    /// The number of labels.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both are clones of one set (so certainly equal), without comparing pairs.
    pub(crate) fn same_set(&self, other: &LabelSet) -> bool {
        self.0.ptr_eq(&other.0)
    }

    /// Starts loading what an encode of this set reads into the cache (see
    /// `crate::prefetch`): its start and its rendered text, or its pairs if it has none.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        self.0.prefetch();
    }

    /// Asks for the line of the set's reference count, which a clone changes.
    #[inline(always)]
    pub(crate) fn prefetch_count(&self) {
        self.0.prefetch_count();
    }

    /// Whether both sets have the same label names in the same order.
    pub fn same_names(&self, other: &LabelSet) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a.0 == b.0)
    }

    /// A new set with `extra` pairs added (used by const-label wrapping).
    pub fn with_pairs(&self, metric: &str, extra: &[LabelPair]) -> Result<Self> {
        let mut pairs = Vec::with_capacity(self.len() + extra.len());
        pairs.extend_from_slice(self.pairs());
        pairs.extend_from_slice(extra);
        Self::from_vec(metric, pairs)
    }
}

/// Renders the `(name, value)` pairs `pairs`, already sorted by name, with distinct
/// names, as both exposition formats write them inside `{…}`, and hands the text to `f`.
///
/// Rendered in a buffer kept per thread. A descriptor renders most sets on the stack,
/// from its template (see `Template::render`); this renders the rest: sets with a value
/// that may need escaping, or a text too long for the stack.
pub(crate) fn render_sorted<'a, R>(
    pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    f: impl FnOnce(LabelText<'_>) -> R,
) -> R {
    let n = pairs.clone().count();
    if n == 0 {
        return f(LabelText::default());
    }
    // Cell::take: this thread's buffer, or a new one if its thread-locals are gone.
    let mut text = SCRATCH.try_with(Cell::take).unwrap_or_default();
    text.clear();
    crate::encoding::write_named(&mut text, pairs);
    let escaped = memchr::memchr(b'\\', &text).is_some();
    let out = f(LabelText {
        pairs: n,
        text: &text,
        escaped,
    });
    if text.capacity() <= SCRATCH_KEPT {
        // Err: the thread's locals are being destroyed; the buffer is dropped.
        let _ = SCRATCH.try_with(|scratch| scratch.set(text));
    }
    out
}

/// A label set rendered but not yet placed in an allocation: `pairs` pairs as both
/// exposition formats write them inside `{…}` (see [`render_sorted`]), `escaped` telling
/// whether any value in the text was escaped. A vec hands a new child's this way to the
/// child's metric, which places it in its own allocation (see `crate::metrics::shared`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LabelText<'a> {
    pairs: usize,
    text: &'a [u8],
    escaped: bool,
}

impl LabelText<'_> {
    /// The set in an allocation of its own.
    pub(crate) fn into_set(self) -> LabelSet {
        if self.pairs == 0 {
            return LabelSet::empty();
        }
        match Packed::from_text(self.pairs, self.text, self.escaped) {
            Some(packed) => LabelSet(packed),
            // A text too long for an allocation of its own (over `isize::MAX` bytes with
            // the header): the pairs, then, without it.
            None => LabelSet(Packed::new(
                &mut SmallVec::<[LabelPair; 0]>::from_vec(
                    packed::parse_text(self.text, self.pairs).into_vec(),
                ),
                &[],
            )),
        }
    }

    /// How many bytes of text the set has.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The layout of an allocation holding `prefix` (a metric's shared state) and then
    /// this set, with where the set starts in it; `None` when too large.
    pub(crate) fn layout_after(&self, prefix: Layout) -> Option<(Layout, usize)> {
        Packed::layout_within(prefix, self.text.len())
    }

    /// The set, placed at `at` in the allocation at `start`, which the set's last
    /// reference frees.
    ///
    /// # Safety
    ///
    /// As for `Packed::write_within`: `start` is a live allocation of `layout` from the
    /// global allocator, `(layout, at)` is what [`LabelText::layout_after`] returned, no
    /// one else touches the bytes from `at` on, and nothing but the set's last reference
    /// frees the allocation.
    pub(crate) unsafe fn place(self, start: NonNull<u8>, layout: Layout, at: usize) -> LabelSet {
        // SAFETY: the caller's promise, passed on.
        LabelSet(unsafe {
            Packed::write_within(start, layout, at, self.pairs, self.text, self.escaped)
        })
    }
}

/// The pairs of a [`LabelSet`] in order (see [`LabelSet::iter`]).
enum Pairs<'a> {
    /// From the text of a set built from its text alone, none of whose values is
    /// escaped: each value is the text between its quotes. `left` pairs remain.
    Text { rest: &'a str, left: usize },
    /// From the set's pairs.
    Stored(std::slice::Iter<'a, LabelPair>),
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        match self {
            Pairs::Stored(pairs) => pairs.next().map(|p| (&*p.name, &*p.value)),
            Pairs::Text { rest, left } => {
                if *left == 0 {
                    return None;
                }
                // No value is escaped, so each is as written.
                let Some((name, value, tail)) = packed::split_pair(rest) else {
                    *left = 0;
                    return None;
                };
                *rest = tail;
                *left -= 1;
                Some((name, value))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Pairs::Stored(pairs) => pairs.size_hint(),
            Pairs::Text { left, .. } => (*left, Some(*left)),
        }
    }
}

impl ExactSizeIterator for Pairs<'_> {}

impl Default for LabelSet {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={value:?}")?;
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

    /// Labels `a` and `b` with these values, in both kinds of set: rendered when built
    /// (as from a descriptor) and not (from pairs, given out of order).
    fn both_kinds(a: &str, b: &str) -> [LabelSet; 2] {
        let built = render_sorted([("a", a), ("b", b)].into_iter(), |t| t.into_set());
        let parsed = LabelSet::from_pairs("m", &[("b", b), ("a", a)]).unwrap();
        [built, parsed]
    }

    #[test]
    fn descriptor_sets_keep_their_text_others_have_none() {
        let [built, parsed] = both_kinds("x\"y", "1\\\n2");
        assert_eq!(built.rendered(), br#"a="x\"y",b="1\\\n2""#);
        assert!(parsed.rendered().is_empty());
        assert!(LabelSet::empty().rendered().is_empty());
        assert_eq!(built, parsed);
        assert_eq!(built.cmp(&parsed), Ordering::Equal);
        let hash = |s: &LabelSet| {
            std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::default(), s)
        };
        assert_eq!(hash(&built), hash(&parsed));
        assert_eq!(built.get("b"), Some("1\\\n2"));
        assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
    }

    #[test]
    fn both_kinds_encode_alike() {
        use crate::{encode, Format, MetricFamily, MetricType, Sample, Value};
        for (a, b) in [("x", "y"), ("x\"y", "1\\\n2"), ("", &*"é".repeat(100))] {
            for format in [Format::Text, Format::OpenMetrics] {
                let [built, parsed] = both_kinds(a, b).map(|labels| {
                    let mut family = MetricFamily::new("m", "h", MetricType::Gauge);
                    family.samples.push(Sample::new(labels, Value::Gauge(1.0)));
                    let mut buf = Vec::new();
                    encode(&[family], format, &mut buf);
                    String::from_utf8(buf).unwrap()
                });
                assert_eq!(built, parsed);
                let escaped = b.replace('\\', "\\\\").replace('\n', "\\n");
                let a = a.replace('"', "\\\"");
                assert!(
                    built.contains(&format!(r#"m{{a="{a}",b="{escaped}"}} 1"#)),
                    "{built}"
                );
            }
        }
    }

    /// A set built from its text and the same set built from pairs iterate, compare,
    /// hash, look up and show alike, for values read from the text as they are (with
    /// `=`, `,`, spaces, non-ASCII) and for values with escapes (read from parsed pairs).
    #[test]
    fn text_sets_and_pair_sets_behave_alike() {
        let all = [
            "",
            "x",
            "k=v,w=z",
            "a b",
            "é ü",
            "x\"y",
            "back\\slash",
            "two\nlines",
            "1",
        ];
        // Under Miri (`scripts/miri.sh`), every other value: comparing every pair of sets
        // with every other takes minutes there.
        let step = if cfg!(miri) { 2 } else { 1 };
        let values: Vec<&str> = all.iter().step_by(step).copied().collect();
        let hash = |s: &LabelSet| {
            std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::default(), s)
        };
        let mut sets = Vec::new();
        for &a in &values {
            for &b in &values {
                let [built, parsed] = both_kinds(a, b);
                assert_eq!(built.iter().collect::<Vec<_>>(), [("a", a), ("b", b)]);
                assert_eq!(built.iter().len(), 2);
                assert_eq!(built.get("b"), Some(b));
                assert_eq!(built.get("c"), None);
                assert_eq!(built, parsed);
                assert_eq!(hash(&built), hash(&parsed));
                assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
                assert!(built.same_names(&parsed) && parsed.same_names(&built));
                sets.push((built, parsed));
            }
        }
        for (x, px) in &sets {
            for (y, py) in &sets {
                assert_eq!(x.cmp(y), px.cmp(py), "{x:?} against {y:?}");
                assert_eq!(x.cmp(py), px.cmp(y), "{x:?} against {y:?}");
                assert_eq!(x == y, px == py);
            }
        }
        let one = render_sorted([("a", "x")].into_iter(), |t| t.into_set());
        assert!(!one.same_names(&sets[0].0));
    }

    #[test]
    fn with_pairs_adds_and_rejects_repeats() {
        let [built, _] = both_kinds("1", "2");
        let more = built.with_pairs("m", &[LabelPair::new("c", "3")]).unwrap();
        assert_eq!(
            more.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "2"), ("c", "3")]
        );
        assert!(built.same_names(&LabelSet::from_pairs("m", &[("a", "9"), ("b", "9")]).unwrap()));
        assert!(!built.same_names(&more));
        let err = built
            .with_pairs("m", &[LabelPair::new("a", "3")])
            .unwrap_err();
        assert!(matches!(err, Error::DuplicateLabelName { .. }), "{err}");
    }
}
