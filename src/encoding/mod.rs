//! Exposition encoders: the Prometheus text format 0.0.4 and OpenMetrics 1.0.0, and
//! `Accept`-header negotiation between them.
//!
//! Encoders see only the gathered data model ([`MetricFamily`]), never a registry. They
//! append to a caller-owned `Vec<u8>`, so a server that reuses one buffer across scrapes
//! encodes without allocating once the buffer has grown to the exposition's size.
//! Families are written in the order given (a registry gather sorts them).
//!
//! ```
//! use promsdk::{encode, Format, LabelSet, MetricFamily, MetricType, Sample, Value};
//!
//! let mut family = MetricFamily::new("requests", "Requests served.", MetricType::Counter);
//! let labels = LabelSet::from_pairs("requests", &[("path", "/a\"b")]).unwrap();
//! family.samples.push(Sample::new(labels, Value::counter(3.0)));
//!
//! let mut buf = Vec::new();
//! encode(&[family.clone()], Format::Text, &mut buf);
//! let text = [
//!     "# HELP requests_total Requests served.",
//!     "# TYPE requests_total counter",
//!     r#"requests_total{path="/a\"b"} 3.0"#,
//!     "",
//! ];
//! assert_eq!(String::from_utf8(buf).unwrap(), text.join("\n"));
//!
//! let mut buf = Vec::new();
//! encode(&[family], Format::OpenMetrics, &mut buf);
//! let openmetrics = [
//!     "# TYPE requests counter",
//!     "# HELP requests Requests served.",
//!     r#"requests_total{path="/a\"b"} 3.0"#,
//!     "# EOF",
//!     "",
//! ];
//! assert_eq!(String::from_utf8(buf).unwrap(), openmetrics.join("\n"));
//! ```

mod copy;
mod line;
mod negotiate;
mod number;
mod openmetrics;
mod text;

pub use negotiate::negotiate;

use crate::family::{MetricFamily, Sample};
use crate::labels::{LabelPair, LabelSet};
use copy::put;
pub(crate) use line::family_lines;
pub(crate) use number::{
    write_canonical_float, write_f64, write_go_float, write_i64, write_ms_as_seconds, write_u64,
};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// OpenMetrics text, version 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header value for this format.
    ///
    /// ```
    /// use promsdk::Format;
    /// assert_eq!(Format::Text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Appends the exposition of `families` in `format` to `buf`.
///
/// Writing into a `Vec` cannot fail, so there is no `Result`. Input the data model
/// allows but a format cannot express is left out rather than written invalid: a
/// sample whose value type differs from its family's type, and (OpenMetrics) an
/// exemplar whose labels exceed [`MAX_EXEMPLAR_LABEL_CHARS`](crate::MAX_EXEMPLAR_LABEL_CHARS)
/// characters (only a hand-built one: `Counter` and `Histogram` refuse to record it, and
/// a registry gather removes it with [`Error::ExemplarDropped`](crate::Error::ExemplarDropped)) or
/// a unit the name does not end with.
/// See the crate-level example in [`crate::encoding`].
pub fn encode(families: &[MetricFamily], format: Format, buf: &mut Vec<u8>) {
    match format {
        Format::Text => text::encode(families, buf),
        Format::OpenMetrics => openmetrics::encode(families, buf),
    }
}

/// The extra label a sample line carries besides the series' own labels.
#[derive(Clone, Copy)]
pub(crate) enum Extra<'a> {
    /// No extra label.
    None,
    /// A numeric label (`le`, `quantile`), written by the format's label-number writer.
    Number(&'static str, f64),
    /// A text label (a state set's state), escaped like any label value.
    Text(&'a str, &'a str),
}

/// A sample value: a float (`1.0`, `NaN`) or an integer count.
#[derive(Clone, Copy)]
pub(crate) enum Num {
    /// Written by [`write_f64`].
    Float(f64),
    /// Written as a plain integer.
    Int(u64),
}

impl Num {
    /// Appends the value.
    pub(crate) fn write(self, buf: &mut Vec<u8>) {
        match self {
            Num::Float(v) => write_f64(buf, v),
            Num::Int(v) => write_u64(buf, v),
        }
    }
}

/// Writes `name` `suffix` `{labels,extra}` (no braces when there are no labels).
/// `number` writes the value of an [`Extra::Number`] label.
pub(crate) fn write_series(
    buf: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &LabelSet,
    extra: Extra<'_>,
    number: fn(&mut Vec<u8>, f64),
) {
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(suffix.as_bytes());
    write_labels(buf, labels, extra, number);
}

/// Writes `{a="x",b="y"}` with the extra label last; nothing for an empty set and no
/// extra label.
pub(crate) fn write_labels(
    buf: &mut Vec<u8>,
    labels: &LabelSet,
    extra: Extra<'_>,
    number: fn(&mut Vec<u8>, f64),
) {
    if labels.is_empty() && matches!(extra, Extra::None) {
        return;
    }
    let mut sep = b'{';
    if !labels.is_empty() {
        buf.push(sep);
        sep = b',';
        match labels.rendered() {
            [] => write_pairs(buf, labels.pairs()),
            text => buf.extend_from_slice(text),
        }
    }
    match extra {
        Extra::None => {}
        Extra::Number(name, v) => {
            buf.push(sep);
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b"=\"");
            number(buf, v);
            buf.push(b'"');
        }
        Extra::Text(name, v) => {
            buf.push(sep);
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b"=\"");
            write_escaped(buf, v, true);
            buf.push(b'"');
        }
    }
    buf.push(b'}');
}

/// `samples` in order, asking for the label set of the one [`AHEAD`] further on as each
/// is handed out (see `crate::prefetch`).
///
/// [`AHEAD`]: crate::prefetch::AHEAD
fn samples_prefetching(samples: &[Sample]) -> impl Iterator<Item = &Sample> {
    samples.iter().enumerate().map(move |(i, sample)| {
        if let Some(ahead) = samples.get(i + crate::prefetch::AHEAD) {
            ahead.labels.prefetch();
        }
        sample
    })
}

/// Appends `a="x",b="y"`: label pairs as both formats write them inside `{…}` (and as a
/// [`LabelSet`] built from a descriptor keeps them).
pub(crate) fn write_pairs(buf: &mut Vec<u8>, pairs: &[LabelPair]) {
    write_named(buf, pairs.iter().map(|p| (&*p.name, &*p.value)));
}

/// [`write_pairs`] for `(name, value)` pairs.
pub(crate) fn write_named<'a>(
    buf: &mut Vec<u8>,
    pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) {
    // Room for the unescaped text (`name="value"` and a comma each): one allocation.
    let len: usize = pairs.clone().map(|(n, v)| n.len() + v.len() + 4).sum();
    buf.reserve(len);
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"=\"");
        write_escaped(buf, value, true);
        buf.push(b'"');
    }
}

/// Writes a label set's text from its constant `text` and the values of its holes, as
/// [`write_named`] appends its pairs, to the start of `out`: `text` up to each hole's
/// place, the hole's value, and after the last hole the rest of `text`. Returns the
/// length written, or `None` (`out` then holding part of it) when a value may need
/// escaping (see [`maybe_escaped`]), or the text does not fit.
///
/// For a set built from a descriptor's template, rendered on the stack: unlike
/// `write_named`, no capacity check per piece and no `memcpy` call per piece (each is
/// copied, and each value checked, a word at a time: see [`put`]).
pub(crate) fn render_holes<'a>(
    text: &[u8],
    holes: impl Iterator<Item = (usize, &'a str)>,
    out: &mut [u8],
) -> Option<usize> {
    let mut at = 0;
    let mut from = 0;
    for (place, value) in holes {
        let value = value.as_bytes();
        if value.len() > SHORT || maybe_escaped(value) {
            return None;
        }
        at = put(out, at, text.get(from..place)?)?;
        at = put(out, at, value)?;
        from = place;
    }
    put(out, at, text.get(from..)?)
}

/// Appends `s` with `\` → `\\` and newline → `\n`, and `"` → `\"` when `quote` is set.
/// Every other character (including non-ASCII) is copied as is.
pub(crate) fn write_escaped(buf: &mut Vec<u8>, s: &str, quote: bool) {
    let bytes = s.as_bytes();
    // Most values need no escaping: find that out with one scan and copy at once. Short
    // ones (most label values) are scanned a word at a time inline rather than by a call
    // into `memchr`, which halves the cost of writing them (measured with callgrind on
    // values of 4 to 29 bytes: 88 instructions a call, copy included, instead of 177);
    // a byte the quick scan cannot rule out sends them to the exact one.
    if bytes.len() <= SHORT && !maybe_escaped(bytes) {
        buf.extend_from_slice(bytes);
        return;
    }
    let needs_escaping = if quote {
        memchr::memchr3(b'\\', b'\n', b'"', bytes).is_some()
    } else {
        memchr::memchr2(b'\\', b'\n', bytes).is_some()
    };
    if !needs_escaping {
        buf.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if quote => b"\\\"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(escaped);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Values up to this many bytes are scanned by [`maybe_escaped`] rather than `memchr`.
const SHORT: usize = 64;

/// Whether `bytes` may hold a byte that [`write_escaped`] rewrites when quoting (`\`,
/// newline or `"`): false guarantees it holds none. Any byte below `#` (`"`, newline and
/// the other control characters, space, `!`) or a `\` answers true.
///
/// Looks at eight bytes at a time as one word, with overlapping reads for the tail (a
/// byte looked at twice answers the same), so it makes no call, and reads no byte
/// outside `bytes`.
#[inline(always)]
fn maybe_escaped(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |at: usize| match bytes.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or_default()),
        None => 0,
    };
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            if word_maybe_escaped(word(at)) {
                return true;
            }
            at += 8;
        }
        return word_maybe_escaped(word(n - 8));
    }
    // Under eight bytes: at most two overlapping 4-byte reads, or each of 1 to 3 bytes,
    // padded with `a` (which needs no escaping) to a word.
    let half = |at: usize| match bytes.get(at..at + 4) {
        Some(h) => u64::from(u32::from_le_bytes(h.try_into().unwrap_or_default())),
        None => 0,
    };
    let w = if n >= 4 {
        half(0) | (half(n - 4) << 32)
    } else {
        let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(b'a'));
        let padding = (ONES * u64::from(b'a')) << 24;
        byte(0) | (byte(n / 2) << 8) | (byte(n.wrapping_sub(1)) << 16) | padding
    };
    word_maybe_escaped(w)
}

/// A byte of value one in each of a word's eight bytes.
const ONES: u64 = u64::from_le_bytes([1; 8]);

/// Whether a byte of `w` is below `#` or is `\` (see [`maybe_escaped`]).
#[inline(always)]
fn word_maybe_escaped(w: u64) -> bool {
    const HIGH: u64 = ONES << 7;
    // The classic zero-byte tests: `x - ONES * k` borrows into a byte's top bit, where
    // `!x` has it set, exactly when some byte is below `k` (a borrow crossing into the
    // next byte only happens past a byte that already answers true).
    let below_hash = w.wrapping_sub(ONES * u64::from(b'#')) & !w;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (below_hash | backslash) & HIGH != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut buf = Vec::new();
        write_escaped(&mut buf, "a\\b\"c\nd é", true);
        assert_eq!(buf, b"a\\\\b\\\"c\\nd \xc3\xa9");
        buf.clear();
        write_escaped(&mut buf, "a\\b\"c\nd", false);
        assert_eq!(buf, b"a\\\\b\"c\\nd");
    }

    /// The word-at-a-time scan of short values sends every value holding a byte to
    /// escape to the exact path, whatever its length and wherever the byte is: the output
    /// is that of escaping byte by byte.
    #[test]
    // Safe code only, and its 65,000 values take Miri many minutes.
    #[cfg_attr(miri, ignore = "slow under Miri; no unsafe code")]
    fn short_values_escape_as_long_ones() {
        let reference = |s: &str, quote: bool| {
            let mut out = Vec::new();
            for &b in s.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'"' if quote => out.extend_from_slice(b"\\\""),
                    _ => out.push(b),
                }
            }
            out
        };
        let specials = [
            "\\", "\n", "\"", " ", "!", "#", "\0", "\x7f", "é", "😀", "[", "]",
        ];
        for len in 0..=SHORT + 9 {
            for special in specials {
                for at in 0..=len {
                    let mut value = "x".repeat(len);
                    value.insert_str(at, special);
                    for quote in [true, false] {
                        let mut buf = b"<".to_vec();
                        write_escaped(&mut buf, &value, quote);
                        assert_eq!(buf[1..], reference(&value, quote), "{value:?}");
                    }
                }
            }
            let plain = "ab".repeat(len);
            assert!(!maybe_escaped(&plain.as_bytes()[..len]), "{len}");
        }
    }

    /// A descriptor-built set's text rendered on the stack from a template whose every
    /// value is a hole is `write_pairs`' text, for names and values of every length
    /// around the word size; values that may need escaping, and text that does not fit,
    /// are left to `write_pairs`.
    #[test]
    fn values_in_holes_render_as_write_pairs_writes_them() {
        let names = ["a", "le", "kind", "route_name", "a_rather_long_label_name"];
        let mut text = Vec::new();
        let mut places = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(name.as_bytes());
            text.extend_from_slice(b"=\"");
            places.push(text.len());
            text.push(b'"');
        }
        let mut out = [0; 256];
        for len in 0..=SHORT + 9 {
            for special in ["", "é", "#", "\\", "\n", "\"", " "] {
                let digits: String = "0123456789".chars().cycle().take(len).collect();
                // Values of lengths `len` down to `len - 4`, each ending with `special`.
                let pairs: Vec<LabelPair> = names
                    .iter()
                    .enumerate()
                    .map(|(i, &name)| {
                        let value = format!("{}{special}", &digits[..len.saturating_sub(i)]);
                        LabelPair::new(name, value)
                    })
                    .collect();
                let value = format!("{digits}{special}");
                let mut expected = Vec::new();
                write_pairs(&mut expected, &pairs);
                let holes = || places.iter().copied().zip(pairs.iter().map(|p| &*p.value));
                match render_holes(&text, holes(), &mut out) {
                    Some(n) => assert_eq!(out[..n], expected, "{value:?}"),
                    None => assert!(
                        expected.len() > out.len()
                            || pairs.iter().any(|p| p.value.len() > SHORT
                                || maybe_escaped(p.value.as_bytes())),
                        "{value:?}"
                    ),
                }
                let plain = special.is_empty() || special == "é" || special == "#";
                if plain && expected.len() <= out.len() && len + special.len() <= SHORT {
                    assert!(
                        render_holes(&text, holes(), &mut out).is_some(),
                        "{value:?}"
                    );
                }
                let short = out.len().min(expected.len() - 1);
                assert_eq!(render_holes(&text, holes(), &mut out[..short]), None);
            }
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
