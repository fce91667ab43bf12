//! What both readers share: a byte cursor that knows its line and column, the number
//! grammar, label-value unescaping and the borrowed [`Labels`] view.

use std::borrow::Cow;

use super::ParseError;

/// The label holding the metric name.
const NAME_LABEL: &str = "__name__";

/// A label name read inside braces, kept until its set is complete for
/// [`Cursor::check_label_set`].
#[derive(Debug, Clone, Copy)]
pub(super) struct SeenLabel<'a> {
    name: &'a str,
    /// Where the name starts.
    at: usize,
    /// Whether its value is empty.
    empty: bool,
}

impl<'a> SeenLabel<'a> {
    /// Label `name` starting at byte `at`, its value as written `value`.
    pub(super) fn new(name: &'a str, at: usize, value: &str) -> Self {
        SeenLabel {
            name,
            at,
            empty: value.is_empty(),
        }
    }
}

/// A position in the body plus the line bookkeeping needed for `LINE:COLUMN` errors.
pub(super) struct Cursor<'a> {
    pub(super) src: &'a [u8],
    pub(super) pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a [u8]) -> Self {
        Cursor {
            src,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// Moves past one byte, counting lines.
    pub(super) fn bump(&mut self) {
        if let Some(&b) = self.src.get(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.pos;
            }
        }
    }

    /// Consumes `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes bytes while `f` holds (never a newline unless `f` accepts it).
    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> (usize, usize) {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !f(b) {
                break;
            }
            self.bump();
        }
        (start, self.pos)
    }

    /// Whether the bytes at the cursor start with `s`.
    pub(super) fn starts_with(&self, s: &[u8]) -> bool {
        self.src[self.pos.min(self.src.len())..].starts_with(s)
    }

    /// Consumes a metric name `[a-zA-Z_:][a-zA-Z0-9_:]*`, if one starts here.
    pub(super) fn metric_name(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
            _ => return None,
        }
        let (s, e) = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
        self.ascii(s, e)
    }

    /// Consumes a label name `[a-zA-Z_][a-zA-Z0-9_]*`, if one starts here.
    pub(super) fn label_name(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            _ => return None,
        }
        let (s, e) = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
        self.ascii(s, e)
    }

    /// Consumes a label name, returning it and where it starts; fails when none starts
    /// here.
    pub(super) fn expect_label_name(&mut self) -> Result<(&'a str, usize), ParseError> {
        let at = self.pos;
        match self.label_name() {
            Some(name) => Ok((name, at)),
            None => Err(self.error("expected label name")),
        }
    }

    /// Checks a complete label set as Prometheus's scrape loop does before it stores a
    /// sample: a label name may appear once, and the metric name is the `__name__`
    /// label, so `__name__` may not appear inside the braces of a series (`metric` is
    /// `Some`; `None` for exemplar labels). With `empty_is_absent`, a name given an
    /// empty value anywhere in the set is absent, as Prometheus drops every label of
    /// that name, so repeating it is no clash (the text format).
    pub(super) fn check_label_set(
        &self,
        seen: &[SeenLabel<'a>],
        metric: Option<&str>,
        empty_is_absent: bool,
    ) -> Result<(), ParseError> {
        for (i, label) in seen.iter().enumerate() {
            if let Some(metric) = metric.filter(|_| label.name == NAME_LABEL) {
                let message = if label.empty {
                    format!("empty label {NAME_LABEL:?} removes the metric name {metric:?}")
                } else {
                    format!("label name {NAME_LABEL:?} repeats the metric name {metric:?}")
                };
                return Err(self.error_at(label.at, message));
            }
            if !seen[..i].iter().any(|l| l.name == label.name) {
                continue;
            }
            if empty_is_absent && seen.iter().any(|l| l.name == label.name && l.empty) {
                continue;
            }
            let owner = match metric {
                Some(metric) => format!("metric {metric:?}"),
                None => "an exemplar".to_owned(),
            };
            return Err(self.error_at(
                label.at,
                format!("duplicate label name {:?} for {owner}", label.name),
            ));
        }
        Ok(())
    }

    /// Consumes a label value after its opening quote, up to and including the closing
    /// one, and returns its text as written; a backslash escapes the next byte, which
    /// may not be a line break. The value is unterminated at the end of the input, or
    /// also at a newline when `newline_ends` (OpenMetrics).
    pub(super) fn quoted_value(&mut self, newline_ends: bool) -> Result<&'a str, ParseError> {
        let start = self.pos;
        // The next byte, unless the value cannot go on.
        let next = |cur: &Self| cur.peek().filter(|&b| !(newline_ends && b == b'\n'));
        loop {
            let Some(b) = next(self) else {
                return Err(self.error_at(start, "unterminated label value"));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let backslash = self.pos;
                    self.bump();
                    match next(self) {
                        None => return Err(self.error_at(start, "unterminated label value")),
                        Some(b'\n') => {
                            return Err(self.error_at(
                                backslash,
                                "a backslash may not escape a line break in a label value",
                            ))
                        }
                        Some(_) => self.bump(),
                    }
                }
                _ => self.bump(),
            }
        }
        let value = self.utf8(start, self.pos, "label value")?;
        self.bump();
        Ok(value)
    }

    fn ascii(&self, s: usize, e: usize) -> Option<&'a str> {
        std::str::from_utf8(&self.src[s..e]).ok()
    }

    /// The bytes `s..e` as UTF-8, or an error at `s`.
    pub(super) fn utf8(&self, s: usize, e: usize, what: &str) -> Result<&'a str, ParseError> {
        std::str::from_utf8(&self.src[s..e])
            .map_err(|_| self.error_at(s, format!("{what} is not valid UTF-8")))
    }

    /// An error at the cursor.
    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// An error at byte `pos`, which must lie on the current line or later on it.
    pub(super) fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let (line, line_start) = if pos >= self.line_start {
            (self.line, self.line_start)
        } else {
            let before = &self.src[..pos];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            (line, start)
        };
        let end = pos.min(self.src.len());
        let column = String::from_utf8_lossy(&self.src[line_start..end])
            .chars()
            .count()
            + 1;
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    /// The current line number (1-based).
    pub(super) fn line(&self) -> usize {
        self.line
    }
}

/// The value grammar both formats share (the OpenMetrics `number` rule, which is also
/// what Go's `strconv.ParseFloat` accepts once hex floats and `_` are ruled out):
/// `[+-] digits [. digits] [e [+-] digits]` with a digit somewhere in the mantissa,
/// `[+-]Inf`/`[+-]Infinity` and `NaN` (case-insensitive). An overflowing decimal comes
/// back infinite; callers decide whether that is an error.
pub(super) fn parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if !is_real_number(s) {
        return None;
    }
    s.parse().ok()
}

/// The OpenMetrics `realnumber` rule: a decimal with optional sign, point and exponent.
pub(super) fn is_real_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let exp_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

/// Converts a `realnumber` of seconds into whole nanoseconds exactly, truncating digits
/// below a nanosecond toward zero. `None` when the text is not a `realnumber` or the
/// result does not fit in an `i128`.
pub(super) fn decimal_seconds_to_nanos(s: &str) -> Option<i128> {
    if !is_real_number(s) {
        return None;
    }
    let negative = s.starts_with('-');
    let unsigned = s.trim_start_matches(['+', '-']);
    let (mantissa, exp) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => {
            let e = e.trim_start_matches('+');
            // Exponents beyond any i128 are clamped; the range check below catches them.
            (
                m,
                e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                    i64::MIN / 2
                } else {
                    i64::MAX / 2
                }),
            )
        }
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // value = digits * 10^(shift - 9) seconds, i.e. digits * 10^shift nanoseconds.
    let shift = exp.checked_sub(frac_part.len() as i64)?.checked_add(9)?;
    let digits = int_part.bytes().chain(frac_part.bytes());
    let total = int_part.len() + frac_part.len();
    let keep = if shift < 0 {
        total.saturating_sub(usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX))
    } else {
        total
    };
    let mut value: i128 = 0;
    for d in digits.take(keep) {
        value = value.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    if shift > 0 && value != 0 {
        let shift = u32::try_from(shift).ok()?;
        value = value.checked_mul(10i128.checked_pow(shift)?)?;
    }
    Some(if negative { -value } else { value })
}

/// Replaces `\\`, `\"` and `\n` in an escaped label value or OpenMetrics help text;
/// any other backslash sequence is kept as written (as Prometheus and the Python
/// client do). Borrows when there is nothing to replace.
pub(super) fn unescape(raw: &str, quote: bool) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// The labels of a sample or exemplar: the validated text between `{` and `}`,
/// decoded on demand without allocating (a value with escapes comes back owned).
///
/// ```
/// use promsdk::parser::{Entry, Parser};
/// use promsdk::Format;
///
/// let body = b"req_total{path=\"/a\\\"b\",code=\"200\"} 3\n";
/// let Some(Ok(Entry::Sample(s))) = Parser::new(body, Format::Text).next() else { panic!() };
/// let labels: Vec<_> = s.labels.iter().collect();
/// assert_eq!(labels, [("path", "/a\"b".into()), ("code", "200".into())]);
/// assert_eq!(s.labels.get("code").as_deref(), Some("200"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Labels<'a> {
    raw: &'a str,
}

impl<'a> Labels<'a> {
    /// Wraps label text already checked by a reader.
    pub(super) fn new(raw: &'a str) -> Self {
        Labels { raw }
    }

    /// The text between the braces, exactly as written.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The `(name, value)` pairs in written order, values unescaped.
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter {
            rest: self.raw.as_bytes(),
            raw: self.raw,
            pos: 0,
        }
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Iterator over [`Labels`].
#[derive(Debug, Clone)]
pub struct LabelIter<'a> {
    raw: &'a str,
    rest: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest;
        let skip = |i: &mut usize, set: &[u8]| {
            while *i < b.len() && set.contains(&b[*i]) {
                *i += 1;
            }
        };
        let mut i = self.pos;
        skip(&mut i, b" \t,");
        if i >= b.len() {
            return None;
        }
        let name_start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let name = &self.raw[name_start..i];
        skip(&mut i, b" \t=");
        // Opening quote.
        i += 1;
        let value_start = i;
        while i < b.len() && b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        let value = &self.raw[value_start..i.min(b.len())];
        self.pos = i + 1;
        Some((name, unescape(value, true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_grammar() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1", Some(1.0)),
            ("-1.5e3", Some(-1500.0)),
            ("+.5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1E+2", Some(100.0)),
            ("+Inf", Some(f64::INFINITY)),
            ("-infinity", Some(f64::NEG_INFINITY)),
            ("inf", Some(f64::INFINITY)),
            ("1e400", Some(f64::INFINITY)),
            ("0x1p-3", None),
            ("1_000", None),
            (".", None),
            ("e5", None),
            ("1e", None),
            ("+NaN", None),
            ("", None),
            ("1 ", None),
        ];
        for &(text, want) in cases {
            let got = parse_float(text);
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "case {text:?}"
            );
        }
        assert!(parse_float("nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn seconds_to_nanos() {
        let cases: &[(&str, Option<i128>)] = &[
            ("0", Some(0)),
            ("1.1", Some(1_100_000_000)),
            ("-1.1", Some(-1_100_000_000)),
            ("1.5e3", Some(1_500_000_000_000)),
            ("0.0000000001", Some(0)),
            ("0.000000001", Some(1)),
            ("000", Some(0)),
            (
                "12345678901234567890.1234567890",
                Some(12_345_678_901_234_567_890_123_456_789),
            ),
            ("1e-20", Some(0)),
            ("1e40", None),
            ("NaN", None),
            ("1z", None),
        ];
        for &(text, want) in cases {
            assert_eq!(decimal_seconds_to_nanos(text), want, "case {text:?}");
        }
    }

    #[test]
    fn unescaping() {
        let cases = [
            (r"plain", "plain"),
            (r"a\\b", r"a\b"),
            (r#"a\"b"#, "a\"b"),
            (r"a\nb", "a\nb"),
            (r"a\zb", r"a\zb"),
            (r"tail\", r"tail\"),
        ];
        for (raw, want) in cases {
            assert_eq!(unescape(raw, true), want, "case {raw:?}");
        }
        assert_eq!(unescape(r#"\""#, false), r#"\""#);
    }
}
