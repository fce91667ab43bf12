//! The fast path for the sample lines of counter, gauge and untyped families: the
//! family's series prefix built once, one capacity check a line, the pieces copied inline
//! and the value formatted on the stack (see [`write_plain_line`]).

use std::mem::MaybeUninit;

use super::copy::{copy_exact, copy_word, put};
use super::number::{non_finite, whole_number_before};
use super::{samples_prefetching, write_pairs};
use crate::family::{MetricFamily, MetricType, Sample, Value};
use crate::labels::LabelSet;

/// Writes the samples of `family`: those of a counter, gauge or untyped family one line
/// each, mostly by the fast path ([`plain_lines`]), with the family's series prefix
/// built once and one loop for each type, so that reading the value is one test; the
/// rest, and every sample of other families, with `general` (which leaves out what the
/// format cannot carry). `counter` reads the total of a counter sample the format
/// writes as one plain line (both formats but OpenMetrics' with a creation time or an
/// exemplar).
#[inline(always)]
pub(crate) fn family_lines(
    family: &MetricFamily,
    buf: &mut Vec<u8>,
    counter: impl Fn(&Value) -> Option<f64>,
    general: impl Fn(&Sample, &mut Vec<u8>),
) {
    let name = &family.name;
    let samples = &family.samples;
    let prefix = match family.metric_type {
        MetricType::Counter => SeriesPrefix::new(name, "_total"),
        MetricType::Gauge | MetricType::Unknown => SeriesPrefix::new(name, ""),
        _ => None,
    };
    match (family.metric_type, prefix) {
        (MetricType::Counter, Some(prefix)) => {
            plain_lines(samples, &prefix, buf, counter, general);
        }
        (MetricType::Gauge, Some(prefix)) => {
            let value = |v: &Value| match v {
                Value::Gauge(v) => Some(*v),
                _ => None,
            };
            plain_lines(samples, &prefix, buf, value, general);
        }
        (MetricType::Unknown, Some(prefix)) => {
            let value = |v: &Value| match v {
                Value::Unknown(v) => Some(*v),
                _ => None,
            };
            plain_lines(samples, &prefix, buf, value, general);
        }
        _ => {
            for sample in samples_prefetching(samples) {
                general(sample, buf);
            }
        }
    }
}

/// Writes the samples of a counter, gauge or untyped family, each with
/// [`write_plain_line`] when `value` reads a value it can write that way (no timestamp
/// either), else with `general` (which leaves out what the format cannot carry).
#[inline(always)]
fn plain_lines(
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
/// line with no extra label and no timestamp (the value as [`write_f64`](super::write_f64) writes it).
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

/// Writes the end of a sample line into `out`, `} ` then a value as [`write_f64`](super::write_f64) writes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::number::tests::{reference_value, sample_value_cases};
    use crate::encoding::{encode, write_f64, write_go_float, write_series, Extra, Format};
    use crate::family::MetricFamily;

    /// A descriptor-built set (with rendered text) of `pairs`.
    fn rendered_set(pairs: &[(&str, &str)]) -> LabelSet {
        let set = crate::labels::render_sorted(pairs.iter().copied(), |t| t.into_set());
        assert_eq!(set.rendered().is_empty(), pairs.is_empty());
        set
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
}
