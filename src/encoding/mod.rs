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

mod negotiate;
mod openmetrics;
mod text;

pub use negotiate::negotiate;

use crate::family::{MetricFamily, Sample, Value};
use crate::labels::{LabelPair, LabelSet};

use std::mem::MaybeUninit;

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

/// Writes the samples of a counter, gauge or untyped family, each with
/// [`write_plain_line`] when `value` reads a value it can write that way (no timestamp
/// either), else with `general` (which leaves out what the format cannot carry).
#[inline(always)]
pub(crate) fn plain_lines(
    samples: &[Sample],
    prefix: &SeriesPrefix,
    buf: &mut Vec<u8>,
    value: impl Fn(&Value) -> Option<f64>,
    general: impl Fn(&Sample, &mut Vec<u8>),
) {
    for sample in samples_prefetching(samples) {
        let plain = match value(&sample.value) {
            Some(v) if sample.timestamp_ms.is_none() => {
                write_plain_line(buf, prefix, &sample.labels, v)
            }
            _ => false,
        };
        if !plain {
            general(sample, buf);
        }
    }
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
    // Room for the unescaped text (`name="value"` and a comma each): one allocation.
    let len: usize = pairs.iter().map(|p| p.name.len() + p.value.len() + 4).sum();
    buf.reserve(len);
    for (i, p) in pairs.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(p.name.as_bytes());
        buf.extend_from_slice(b"=\"");
        write_escaped(buf, &p.value, true);
        buf.push(b'"');
    }
}

/// Writes `pairs` as [`write_pairs`] appends them to the start of `out` and returns the
/// length written, when none of their values may need escaping (see [`maybe_escaped`])
/// and the text fits; else `None`, `out` then holding part of it.
///
/// For a set built from a descriptor, rendered once into a buffer on the stack: unlike
/// `write_pairs`, no capacity check per piece and no `memcpy` call per name or value
/// (each is copied, and each value checked, a word at a time: see [`put`]).
pub(crate) fn render_plain_pairs(pairs: &[LabelPair], out: &mut [u8]) -> Option<usize> {
    let mut at = 0;
    for (i, p) in pairs.iter().enumerate() {
        if i > 0 {
            // The previous value's closing quote and the comma, as one piece.
            at = put(out, at, b"\",")?;
        }
        let value = p.value.as_bytes();
        if value.len() > SHORT || maybe_escaped(value) {
            return None;
        }
        at = put(out, at, p.name.as_bytes())?;
        at = put(out, at, b"=\"")?;
        at = put(out, at, value)?;
    }
    if !pairs.is_empty() {
        at = put(out, at, b"\"")?;
    }
    Some(at)
}

/// Copies `src` into `out` at `at` and returns where it ends, or `None` if it does not
/// fit. Inline (see [`copy_exact`]): a `memcpy` call costs more than that for the few
/// bytes of a label name or value.
#[inline(always)]
fn put(out: &mut [u8], at: usize, src: &[u8]) -> Option<usize> {
    let end = at.checked_add(src.len())?;
    copy_exact(out.get_mut(at..end)?, src)?;
    Some(end)
}

/// A byte [`copy_exact`] can write: a `u8`, or one of a `Vec`'s spare capacity, which is
/// not initialized yet (see [`write_plain_line`]).
trait Byte: Copy {
    /// The byte holding `b`.
    fn new(b: u8) -> Self;
}

impl Byte for u8 {
    #[inline(always)]
    fn new(b: u8) -> Self {
        b
    }
}

impl Byte for MaybeUninit<u8> {
    #[inline(always)]
    fn new(b: u8) -> Self {
        MaybeUninit::new(b)
    }
}

/// Copies `src` into `dst`, which must be as long (else `None`, nothing written). When it
/// returns `Some`, every byte of `dst` has been written.
///
/// Inline, in 16-byte words (the last one overlapping the one before), or in two
/// overlapping halves (8 or 4 bytes) or single bytes when shorter, with no `memcpy`
/// call: for the few bytes of a label name, a label set's text or a family's name, the
/// call and its size dispatch cost more than the copy.
#[inline(always)]
fn copy_exact<T: Byte>(dst: &mut [T], src: &[u8]) -> Option<()> {
    let n = src.len();
    if dst.len() != n {
        return None;
    }
    if n > 32 {
        let mut i = 0;
        while i + 16 < n {
            copy_word::<T, 16>(dst.get_mut(i..i + 16)?, src.get(i..i + 16)?)?;
            i += 16;
        }
        copy_word::<T, 16>(dst.get_mut(n - 16..)?, src.get(n - 16..)?)
    } else if n >= 16 {
        copy_word::<T, 16>(dst.get_mut(..16)?, src.get(..16)?)?;
        copy_word::<T, 16>(dst.get_mut(n - 16..)?, src.get(n - 16..)?)
    } else if n >= 8 {
        copy_word::<T, 8>(dst.get_mut(..8)?, src.get(..8)?)?;
        copy_word::<T, 8>(dst.get_mut(n - 8..)?, src.get(n - 8..)?)
    } else if n >= 4 {
        copy_word::<T, 4>(dst.get_mut(..4)?, src.get(..4)?)?;
        copy_word::<T, 4>(dst.get_mut(n - 4..)?, src.get(n - 4..)?)
    } else {
        // 0 to 3 bytes: the first, the middle and the last cover them all.
        for i in [0, n / 2, n.wrapping_sub(1)] {
            if let (Some(d), Some(&s)) = (dst.get_mut(i), src.get(i)) {
                *d = T::new(s);
            }
        }
        Some(())
    }
}

/// Copies `N` bytes, as one load and one store once optimized; `None` (nothing written)
/// unless both slices are `N` long.
#[inline(always)]
fn copy_word<T: Byte, const N: usize>(dst: &mut [T], src: &[u8]) -> Option<()> {
    let dst: &mut [T; N] = dst.try_into().ok()?;
    let src: [u8; N] = src.try_into().ok()?;
    *dst = src.map(T::new);
    Some(())
}

/// Longest family name and suffix a [`SeriesPrefix`] holds; longer ones take the general
/// path.
const PREFIX_MAX: usize = 127;

/// The start of a family's sample lines, its name and line suffix (`_total`) and then
/// `{`, built once per family so that each line copies it as one piece.
pub(crate) struct SeriesPrefix {
    /// `name`, `suffix`, `{`.
    bytes: [u8; PREFIX_MAX + 1],
    /// The length of `name` and `suffix`, without the brace.
    len: usize,
}

impl SeriesPrefix {
    /// The prefix for `name` `suffix`, or `None` if longer than [`PREFIX_MAX`].
    pub(crate) fn new(name: &str, suffix: &str) -> Option<Self> {
        let mut bytes = [0; PREFIX_MAX + 1];
        let len = put(&mut bytes, 0, name.as_bytes())?;
        let len = put(&mut bytes, len, suffix.as_bytes())?;
        put(&mut bytes, len, b"{")?;
        Some(SeriesPrefix { bytes, len })
    }

    /// The name and suffix, with the brace when `labels`.
    #[inline(always)]
    fn get(&self, labels: bool) -> &[u8] {
        // `len` is at most `PREFIX_MAX` (see `new`), so `get` always answers; falling
        // back to the whole buffer (never taken) rather than to an empty slice keeps the
        // address the same either way, which lets the copy read it in words.
        self.bytes
            .get(..self.len + usize::from(labels))
            .unwrap_or(&self.bytes)
    }
}

/// Appends `prefix` `{labels} value` and a newline as the general path writes a sample
/// line with no extra label and no timestamp (the value as [`write_f64`] writes it).
/// Returns true; false, writing nothing, only if the lengths overflow or the room
/// reserved is missing, which cannot happen (the caller then writes the line its own way).
///
/// Cheaper than the general path, which checks capacity and calls `memcpy` for each
/// piece: for a set with rendered text (a descriptor's, the common case), one capacity
/// check, the prefix and the label text copied inline (see
/// [`copy_exact`]), the end of the line (formatted on the stack) copied as one fixed
/// 32-byte block whatever its length, and `labels`' emptiness looked at once. Inlined
/// into the caller's loop: as a call, with its registers saved and restored, it took
/// about 33 instructions more per line (measured with callgrind, of 170).
#[inline(always)]
pub(crate) fn write_plain_line(
    buf: &mut Vec<u8>,
    prefix: &SeriesPrefix,
    labels: &LabelSet,
    value: f64,
) -> bool {
    let text = labels.rendered();
    let braces = !labels.is_empty();
    if braces && text.is_empty() {
        unrendered_line(buf, prefix.get(true), labels, value);
        return true;
    }
    let mut end = [0; 2 * LINE_END];
    let end_start = line_end(&mut end, value) + usize::from(!braces);
    // `end_start` is below `LINE_END` (see `line_end`): always `Some`.
    let Some(Ok(window)) = end
        .get(end_start..end_start + LINE_END)
        .map(<&[u8; LINE_END]>::try_from)
    else {
        return false;
    };
    let end_len = LINE_END - end_start;
    let prefix = prefix.get(braces);
    let Some(start) = prefix.len().checked_add(text.len()) else {
        return false;
    };
    let Some(reserved) = start.checked_add(LINE_END) else {
        return false;
    };
    buf.reserve(reserved);
    let len = buf.len();
    if copy_line(buf.spare_capacity_mut(), prefix, text, window).is_none() {
        // Unreachable: `reserve` made room for all of it; nothing was committed.
        return false;
    }
    // SAFETY: `copy_line` returned `Some`, so it wrote the first `start + LINE_END`
    // bytes of the spare capacity (see its doc), which therefore exist and are
    // initialized; `end_len` is at most `LINE_END`, so the `Vec`'s first
    // `len + start + end_len` bytes are initialized and within its capacity.
    unsafe { buf.set_len(len + start + end_len) };
    true
}

/// Appends `prefix` (with its brace), the pairs of `labels`, which has no rendered text
/// (a parsed set, not one built from a descriptor), and the line's end with `value`:
/// [`write_plain_line`]'s line for such a set, in fewer pieces than the general path's.
/// Out of line, and apart from the common case's work: in it, it slowed that case (by 6
/// instructions per line in the churn probe).
#[inline(never)]
fn unrendered_line(buf: &mut Vec<u8>, prefix: &[u8], labels: &LabelSet, value: f64) {
    buf.extend_from_slice(prefix);
    write_pairs(buf, labels.pairs());
    let mut end = [0; 2 * LINE_END];
    let start = line_end(&mut end, value);
    buf.extend_from_slice(end.get(start..LINE_END).unwrap_or_default());
}

/// Copies `prefix`, `text` and `window` one after the other to the start of `spare`;
/// `None` if it is shorter than the three. `Some` means all their bytes were written,
/// the first `prefix.len() + text.len() + LINE_END` of `spare` (see [`copy_exact`]).
#[inline(always)]
fn copy_line(
    spare: &mut [MaybeUninit<u8>],
    prefix: &[u8],
    text: &[u8],
    window: &[u8; LINE_END],
) -> Option<()> {
    // One length check for the three (the splits below then cannot fail).
    let spare = spare.get_mut(..prefix.len() + text.len() + LINE_END)?;
    let (to_prefix, rest) = spare.split_at_mut_checked(prefix.len())?;
    let (to_text, rest) = rest.split_at_mut_checked(text.len())?;
    copy_exact(to_prefix, prefix)?;
    copy_exact(to_text, text)?;
    // Two 16-byte words: `map` on a 32-byte array is a call, not two moves.
    let (window, rest_of_window) = window.split_at(16);
    let (to_window, to_rest_of_window) = rest.split_at_mut_checked(16)?;
    copy_word::<_, 16>(to_window, window)?;
    copy_word::<_, 16>(to_rest_of_window, rest_of_window)
}

/// The size of the block [`write_plain_line`] copies the end of a line in: at least `} `,
/// the longest value (ryu writes at most 24 bytes, the whole-number path at most 18) and
/// the newline.
const LINE_END: usize = 32;

/// Writes the end of a sample line into `out`, `} ` then a value as [`write_f64`] writes
/// it then a newline, so that it ends at `LINE_END`, and returns where it starts (where
/// the `}` is), below `LINE_END - 2`: the `LINE_END` bytes from there hold it all.
#[inline(always)]
fn line_end(out: &mut [u8; 2 * LINE_END], v: f64) -> usize {
    let newline = LINE_END - 1;
    if let Some(n) = out.get_mut(newline) {
        *n = b'\n';
    }
    let value = match whole_number_before(out, newline, v) {
        Some(at) => Some(at),
        None => {
            let mut ryu_buf = ryu::Buffer::new();
            let text = match non_finite(v) {
                Some(s) => s,
                None => ryu_buf.format_finite(v).as_bytes(),
            };
            newline
                .checked_sub(text.len())
                .and_then(|at| put(out, at, text).map(|_| at))
        }
    };
    // `value` is `None` only if the value does not fit, which no `f64`'s text can (see
    // `LINE_END`): the line would then lack its value rather than panic.
    let at = value.unwrap_or(newline);
    let start = at.saturating_sub(2);
    let _ = put(out, start, b"} ");
    start
}

/// Two decimal digits for each of 0 to 99.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v` as ryu writes whole numbers (`123.0`, `-0.0`) so that it ends right before
/// `end` in `out`, and returns where it starts; `None` (possibly after writing part of
/// it) unless `v` is whole and below 1e15 in magnitude, or if it does not fit.
///
/// Two digits per step from a table, right to left, in place: no call, no copy.
#[inline(always)]
fn whole_number_before(out: &mut [u8], end: usize, v: f64) -> Option<usize> {
    // `as` truncates toward zero (NaN gives 0, infinities saturate) in one instruction,
    // where `fract()` calls libm's `trunc` on baseline x86-64.
    let whole = v as i64;
    if whole as f64 != v || v.abs() >= 1e15 {
        return None;
    }
    let mut at = end.checked_sub(2)?;
    out.get_mut(at..end)?.copy_from_slice(b".0");
    let mut n = whole.unsigned_abs();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at = at.checked_sub(2)?;
        out.get_mut(at..at + 2)?
            .copy_from_slice(DIGIT_PAIRS.get(pair..pair + 2)?);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at = at.checked_sub(2)?;
        out.get_mut(at..at + 2)?
            .copy_from_slice(DIGIT_PAIRS.get(pair..pair + 2)?);
    } else {
        at = at.checked_sub(1)?;
        *out.get_mut(at)? = b'0' + n as u8;
    }
    // Negative numbers and -0.0 (which ryu writes `-0.0`).
    if v.is_sign_negative() {
        at = at.checked_sub(1)?;
        *out.get_mut(at)? = b'-';
    }
    Some(at)
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

/// Appends a sample value: `NaN`, `+Inf`, `-Inf`, or the shortest decimal that reads
/// back as the same `f64` (always with a `.` or an exponent, e.g. `1.0`, `1e-7`).
pub(crate) fn write_f64(buf: &mut Vec<u8>, v: f64) {
    // Whole numbers below 1e15 (most counters) take the integer formatter: the same
    // text as `ryu` writes for them (`123.0`), several times faster.
    let mut whole = [0; 24];
    if let Some(at) = whole_number_before(&mut whole, 24, v) {
        buf.extend_from_slice(whole.get(at..).unwrap_or_default());
    } else if !write_non_finite(buf, v) {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

/// Appends an unsigned integer.
pub(crate) fn write_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends a signed integer.
pub(crate) fn write_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_non_finite(buf: &mut Vec<u8>, v: f64) -> bool {
    match non_finite(v) {
        Some(s) => {
            buf.extend_from_slice(s);
            true
        }
        None => false,
    }
}

/// The text of a NaN or infinite value: `NaN`, `+Inf`, `-Inf`; `None` for a finite one.
#[inline(always)]
fn non_finite(v: f64) -> Option<&'static [u8]> {
    if v.is_nan() {
        Some(b"NaN")
    } else if v == f64::INFINITY {
        Some(b"+Inf")
    } else if v == f64::NEG_INFINITY {
        Some(b"-Inf")
    } else {
        None
    }
}

/// Appends `v` exactly as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does, with
/// client_golang's special values (`+Inf`, `-Inf`, `NaN`, and `0` for both zeros):
/// `1`, `0.5`, `100000`, `1e+06`, `1e-05`. This is how client_golang writes `le` and
/// `quantile` in the text format, so our series carry the same label values as a Go
/// exporter's.
pub(crate) fn write_go_float(buf: &mut Vec<u8>, v: f64) {
    if write_non_finite(buf, v) {
        return;
    }
    if v == 0.0 {
        buf.push(b'0');
        return;
    }
    let mut ryu_buf = ryu::Buffer::new();
    let d = Digits::parse(ryu_buf.format_finite(v));
    if v < 0.0 {
        buf.push(b'-');
    }
    let digits = &d.digits[..d.len];
    let exp = d.point - 1;
    if !(-4..6).contains(&exp) {
        // %e: d.ddde±XX, at least two exponent digits.
        buf.push(digits[0]);
        if digits.len() > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        buf.push(b'e');
        buf.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            buf.push(b'0');
        }
        write_u64(buf, u64::from(e));
    } else if d.point <= 0 {
        buf.extend_from_slice(b"0.");
        buf.extend(std::iter::repeat_n(b'0', d.point.unsigned_abs() as usize));
        buf.extend_from_slice(digits);
    } else {
        let point = d.point as usize;
        if point >= digits.len() {
            buf.extend_from_slice(digits);
            buf.extend(std::iter::repeat_n(b'0', point - digits.len()));
        } else {
            buf.extend_from_slice(&digits[..point]);
            buf.push(b'.');
            buf.extend_from_slice(&digits[point..]);
        }
    }
}

/// Appends `v` as OpenMetrics canonical numbers want it for `le` and `quantile`: Go's
/// `%g` with `.0` appended when there is neither a `.` nor an exponent (`1.0`, `0.5`,
/// `1e+06`, `+Inf`), as client_golang's OpenMetrics writer does.
pub(crate) fn write_canonical_float(buf: &mut Vec<u8>, v: f64) {
    let start = buf.len();
    write_go_float(buf, v);
    if v.is_finite() && !buf[start..].iter().any(|&b| b == b'.' || b == b'e') {
        buf.extend_from_slice(b".0");
    }
}

/// The significant decimal digits of a finite non-zero number and where its decimal
/// point goes: the value is `0.d1d2d3… × 10^point`.
struct Digits {
    digits: [u8; 24],
    len: usize,
    point: i32,
}

impl Digits {
    /// Reads ryu's shortest round-trip output (`123.45`, `0.00012`, `1.5e-7`, `1e30`).
    fn parse(s: &str) -> Digits {
        let s = s.trim_start_matches('-');
        let (mantissa, exp) = match s.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (s, 0),
        };
        let int_len = mantissa.find('.').unwrap_or(mantissa.len());
        let mut out = Digits {
            digits: [0; 24],
            len: 0,
            point: int_len as i32 + exp,
        };
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            if out.len == 0 && b == b'0' {
                // A leading zero moves the point left.
                out.point -= 1;
                continue;
            }
            if out.len < out.digits.len() {
                out.digits[out.len] = b;
                out.len += 1;
            }
        }
        while out.len > 1 && out.digits[out.len - 1] == b'0' {
            out.len -= 1;
        }
        out
    }
}

/// Appends a millisecond timestamp as seconds with up to three decimals
/// (`1700000000.123`, `1700000000`), exactly, without going through a float.
pub(crate) fn write_ms_as_seconds(buf: &mut Vec<u8>, ms: i64) {
    if ms < 0 {
        buf.push(b'-');
    }
    let abs = ms.unsigned_abs();
    write_u64(buf, abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        buf.push(b'.');
        buf.extend_from_slice(&digits[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(v: f64) -> String {
        let mut buf = Vec::new();
        write_go_float(&mut buf, v);
        String::from_utf8(buf).unwrap()
    }

    fn canonical(v: f64) -> String {
        let mut buf = Vec::new();
        write_canonical_float(&mut buf, v);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn go_g_formatting_matches_strconv() {
        // Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints.
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-1.0, "-1"),
            (0.0, "0"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (2.5, "2.5"),
            (10.0, "10"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-10, "1e-10"),
            (100000.0, "100000"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e23, "1e+23"),
            (1.1e23, "1.1e+23"),
            (1e100, "1e+100"),
            (-0.00012, "-0.00012"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for &(v, want) in cases {
            assert_eq!(go(v), want, "formatting {v:e}");
        }
    }

    #[test]
    fn canonical_numbers_follow_the_openmetrics_examples() {
        // The spec's own lists of canonical renderings.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
            (f64::INFINITY, "+Inf"),
        ];
        for &(v, want) in cases {
            assert_eq!(canonical(v), want, "canonical {v:e}");
        }
    }

    #[test]
    fn go_formatting_round_trips() {
        for v in [0.1, 3.0e-7, 6.02214076e23, 1.0 / 3.0, 299792458.0, 4.9e-300] {
            let s = go(v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
    }

    #[test]
    fn sample_values() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.25, "0.25"),
            (-3.5, "-3.5"),
            (1e21, "1e21"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for &(v, want) in cases {
            let mut buf = Vec::new();
            write_f64(&mut buf, v);
            assert_eq!(buf, want.as_bytes(), "value {v:e}");
        }
    }

    #[test]
    fn millisecond_timestamps_as_seconds() {
        let cases: &[(i64, &str)] = &[
            (1_700_000_000_123, "1700000000.123"),
            (1_700_000_000_000, "1700000000"),
            (1_700_000_000_500, "1700000000.5"),
            (1_700_000_000_050, "1700000000.05"),
            (1_700_000_000_007, "1700000000.007"),
            (0, "0"),
            (-1, "-0.001"),
            (-1500, "-1.5"),
            (i64::MIN, "-9223372036854775.808"),
        ];
        for &(ms, want) in cases {
            let mut buf = Vec::new();
            write_ms_as_seconds(&mut buf, ms);
            assert_eq!(buf, want.as_bytes(), "{ms} ms");
        }
    }

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

    /// A descriptor-built set's text rendered on the stack is `write_pairs`' text, for
    /// names and values of every length around the word size; values that may need
    /// escaping, and text that does not fit, are left to `write_pairs`.
    #[test]
    fn plain_pairs_render_as_write_pairs_writes_them() {
        let names = ["a", "le", "kind", "route_name", "a_rather_long_label_name"];
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
                match render_plain_pairs(&pairs, &mut out) {
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
                    assert!(render_plain_pairs(&pairs, &mut out).is_some(), "{value:?}");
                }
                let short = out.len().min(expected.len() - 1);
                assert_eq!(render_plain_pairs(&pairs, &mut out[..short]), None);
            }
        }
    }

    #[test]
    fn whole_numbers_are_written_as_ryu_writes_them() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            42.0,
            1e14,
            999_999_999_999_999.0,
            1e15,
            -1e15,
        ];
        values.extend((0..64).map(|i| (1u64 << i) as f64));
        values.extend((0..64).map(|i| -((1u64 << i) as f64)));
        for v in values {
            let mut buf = Vec::new();
            write_f64(&mut buf, v);
            let expected = ryu::Buffer::new().format_finite(v).to_owned();
            assert_eq!(String::from_utf8(buf).unwrap(), expected, "{v:e}");
        }
    }

    /// A descriptor-built set (with rendered text) of `pairs`.
    fn rendered_set(pairs: &[(&str, &str)]) -> LabelSet {
        let mut sorted: crate::labels::SortedPairs =
            pairs.iter().map(|&(n, v)| LabelPair::new(n, v)).collect();
        let set = LabelSet::from_sorted(&mut sorted);
        assert_eq!(set.rendered().is_empty(), pairs.is_empty());
        set
    }

    /// Values for the sample-value tests: whole numbers of every digit count and sign
    /// (the table path), the bounds of that path, fractions, extremes, NaN, infinities,
    /// and pseudo-random bit patterns and whole numbers.
    fn sample_value_cases(random: usize) -> Vec<f64> {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -2.5,
            0.1,
            1e-7,
            123_456_789.5,
            -1_234_567.25,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
            999_999_999_999_999.5,
            1e15,
            -1e15,
            1e15 + 1.0,
            9_007_199_254_740_993.0,
            1e21,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut p = 1.0;
        for _ in 0..=15 {
            for d in [-1.0, 0.0, 1.0, 7.0] {
                values.push(p + d);
                values.push(-(p + d));
            }
            p *= 10.0;
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..random {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 2_000_000_000_000_000) as f64 - 1e15);
            values.push((x % 100_000) as f64);
        }
        values
    }

    /// The value as the text format writes it, independently of `write_f64`.
    fn reference_value(v: f64) -> String {
        if v.is_nan() {
            "NaN".into()
        } else if v.is_infinite() {
            if v > 0.0 { "+Inf" } else { "-Inf" }.into()
        } else {
            ryu::Buffer::new().format_finite(v).into()
        }
    }

    #[test]
    fn sample_values_are_written_as_ryu_writes_them() {
        for v in sample_value_cases(if cfg!(miri) { 20 } else { 2000 }) {
            let mut buf = b"<".to_vec();
            write_f64(&mut buf, v);
            assert_eq!(buf[1..], *reference_value(v).as_bytes(), "{v:e}");
        }
    }

    /// The fast path writes a line byte for byte as the general one (checked against
    /// text built independently of both), for names and label texts of every length
    /// around the copy's word sizes, with and without labels, into buffers with and
    /// without room, with sets with and without rendered text; a name too long for the
    /// prefix buffer is refused.
    #[test]
    fn plain_lines_are_written_as_the_general_path_writes_them() {
        let reference = |name: &str, suffix: &str, labels: &LabelSet, v: f64| {
            let mut line = format!("{name}{suffix}").into_bytes();
            if !labels.is_empty() {
                line.push(b'{');
                write_pairs(&mut line, labels.pairs());
                line.push(b'}');
            }
            line.extend_from_slice(format!(" {}\n", reference_value(v)).as_bytes());
            line
        };
        let check = |name: &str, suffix: &str, labels: &LabelSet, v: f64, buf: &mut Vec<u8>| {
            let Some(prefix) = SeriesPrefix::new(name, suffix) else {
                assert!(name.len() + suffix.len() > PREFIX_MAX, "{name}");
                return;
            };
            let before = buf.clone();
            assert!(write_plain_line(buf, &prefix, labels, v));
            assert_eq!(buf[..before.len()], before);
            let expected = reference(name, suffix, labels, v);
            assert_eq!(
                String::from_utf8_lossy(&buf[before.len()..]),
                String::from_utf8_lossy(&expected),
                "{v:e}"
            );
            // And as the general path writes it.
            let mut general = Vec::new();
            write_series(
                &mut general,
                name,
                suffix,
                labels,
                Extra::None,
                write_go_float,
            );
            general.push(b' ');
            write_f64(&mut general, v);
            general.push(b'\n');
            assert_eq!(general, expected);
        };
        let long = "0123456789".repeat(10);
        let mut sets = vec![
            LabelSet::empty(),
            LabelSet::from_pairs("m", &[("a", "b")]).unwrap(),
            LabelSet::from_pairs("m", &[("a", "x\"y"), ("b", &long)]).unwrap(),
            rendered_set(&[("a", "x\"y"), ("b", "1\\\n2")]),
            rendered_set(&[("b", "é")]),
        ];
        // Rendered texts of 4 + 0 to 4 + 100 bytes: `a="…"`.
        sets.extend((0..=long.len()).map(|n| rendered_set(&[("a", &long[..n])])));
        let names: Vec<String> = (1..=PREFIX_MAX + 2).map(|n| "n".repeat(n)).collect();
        let values = sample_value_cases(if cfg!(miri) { 2 } else { 200 });
        let mut buf = Vec::new();
        for v in &values {
            check("http_requests", "_total", &sets[2], *v, &mut buf);
        }
        for (i, labels) in sets.iter().enumerate() {
            check("m", "", labels, values[i % values.len()], &mut buf);
            // A buffer with no spare room, which the line must grow.
            let mut full = b"x".repeat(i);
            full.shrink_to_fit();
            check("m", "_total", labels, 1.0, &mut full);
        }
        for (i, name) in names.iter().enumerate() {
            check(name, "_total", &sets[i % sets.len()], 42.0, &mut buf);
            check(name, "", &sets[(i + 1) % sets.len()], -0.5, &mut buf);
        }
    }

    /// Families written through the fast path read as the general path writes them, with
    /// sets without rendered text and the samples it leaves to the general path (a
    /// timestamp, a value of another type, an OpenMetrics counter with a creation time or
    /// an exemplar) in order, in both formats.
    #[test]
    fn plain_families_encode_every_sample_in_order() {
        use crate::family::{Exemplar, MetricType};
        let set = rendered_set(&[("a", "x")]);
        let parsed = LabelSet::from_pairs("m", &[("a", "y")]).unwrap();
        let sample = |labels: &LabelSet, value: Value, ts: Option<i64>| Sample {
            labels: labels.clone(),
            value,
            timestamp_ms: ts,
        };
        let created = Value::Counter {
            total: 4.0,
            created: Some(1.5),
            exemplar: None,
        };
        let exemplar = Value::Counter {
            total: 5.0,
            created: None,
            exemplar: Some(Box::new(Exemplar {
                labels: LabelSet::empty(),
                value: 0.5,
                timestamp: None,
            })),
        };
        let cases = [
            (MetricType::Counter, Value::counter(3.0), "m_total"),
            (MetricType::Gauge, Value::Gauge(3.0), "m"),
            (MetricType::Unknown, Value::Unknown(3.0), "m"),
        ];
        for (metric_type, value, series) in cases {
            let mut family = MetricFamily::new("m", "", metric_type);
            family.samples = vec![
                sample(&set, value.clone(), None),
                sample(&parsed, value.clone(), None),
                sample(&LabelSet::empty(), value.clone(), Some(5)),
                sample(&set, value.clone(), Some(-5)),
                sample(&set, Value::Info, None),
                sample(&set, created.clone(), None),
                sample(&set, exemplar.clone(), None),
                sample(&LabelSet::empty(), value.clone(), None),
            ];
            let counter = metric_type == MetricType::Counter;
            let kind = match metric_type {
                MetricType::Counter => "counter",
                MetricType::Gauge => "gauge",
                _ => "untyped",
            };
            let mut text = format!(
                "# TYPE {series} {kind}\n\
                 {series}{{a=\"x\"}} 3.0\n\
                 {series}{{a=\"y\"}} 3.0\n\
                 {series} 3.0 5\n"
            );
            if counter {
                text += "m_total{a=\"x\"} 4.0\nm_total{a=\"x\"} 5.0\n";
            }
            text += &format!("{series} 3.0\n");
            let mut buf = Vec::new();
            encode(std::slice::from_ref(&family), Format::Text, &mut buf);
            assert_eq!(String::from_utf8(buf).unwrap(), text);

            let kind = kind.replace("untyped", "unknown");
            let mut openmetrics = format!(
                "# TYPE m {kind}\n\
                 {series}{{a=\"x\"}} 3.0\n\
                 {series}{{a=\"y\"}} 3.0\n\
                 {series} 3.0 0.005\n\
                 {series}{{a=\"x\"}} 3.0 -0.005\n"
            );
            if counter {
                openmetrics += "m_total{a=\"x\"} 4.0\nm_created{a=\"x\"} 1.5\n\
                                m_total{a=\"x\"} 5.0 # {} 0.5\n";
            }
            openmetrics += &format!("{series} 3.0\n# EOF\n");
            let mut buf = Vec::new();
            encode(&[family], Format::OpenMetrics, &mut buf);
            assert_eq!(String::from_utf8(buf).unwrap(), openmetrics);
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
