//! The Prometheus text format 0.0.4 reader, accepting and rejecting what Prometheus
//! 2.42's `promparse` does (see the module docs of [`crate::parser`]).

use super::lex::{parse_float, unescape, Cursor, Labels, SeenLabel};
use super::{Entry, ParseError, ParsedSample, ParsedType, Timestamp};

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(super) struct TextParser<'a> {
    cur: Cursor<'a>,
    done: bool,
    /// The last `# TYPE`: samples whose names belong to it get its name and type.
    family: Option<(&'a str, ParsedType)>,
    /// Scratch for the label-set check.
    seen: Vec<SeenLabel<'a>>,
}

impl<'a> TextParser<'a> {
    pub(super) fn new(body: &'a [u8]) -> Self {
        TextParser {
            cur: Cursor::new(body),
            done: false,
            family: None,
            seen: Vec::new(),
        }
    }

    pub(super) fn next(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        if self.done {
            return None;
        }
        let item = self.entry();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }

    fn entry(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        loop {
            let (blanks, name) = self.cur.take_while(is_blank);
            match self.cur.peek() {
                None | Some(0) => return None,
                Some(b'\n') => self.cur.bump(),
                Some(b'#') => return Some(self.comment()),
                Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {
                    // Prometheus takes blanks before a sample's name as part of the
                    // name, which is then invalid and fails the scrape.
                    if blanks != name {
                        return Some(Err(self.cur.error_at(
                            blanks,
                            "blanks before a metric name (Prometheus reads them as part of the name)",
                        )));
                    }
                    return Some(self.sample().map(Entry::Sample));
                }
                Some(_) => {
                    return Some(Err(self
                        .cur
                        .error("expected a metric name, a comment or a blank line")))
                }
            }
        }
    }

    /// Ends a line: a newline or the end of the body.
    fn end_line(&mut self, after: &str) -> Result<(), ParseError> {
        self.cur.take_while(is_blank);
        match self.cur.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.cur.bump();
                Ok(())
            }
            Some(_) => Err(self
                .cur
                .error(format!("expected end of line after {after}"))),
        }
    }

    fn comment(&mut self) -> Result<Entry<'a>, ParseError> {
        let hash = self.cur.pos;
        self.cur.bump();
        if self.cur.peek().is_some_and(is_blank) {
            self.cur.take_while(is_blank);
            for (keyword, help) in [(&b"HELP"[..], true), (&b"TYPE"[..], false)] {
                let after = self.cur.src.get(self.cur.pos + 4).copied();
                if self.cur.starts_with(keyword) && after.is_some_and(is_blank) {
                    for _ in 0..4 {
                        self.cur.bump();
                    }
                    return self.metadata(help);
                }
            }
        }
        let (_, end) = self.cur.take_while(|b| b != b'\n');
        self.cur.eat(b'\n');
        Ok(Entry::Comment(String::from_utf8_lossy(
            &self.cur.src[hash + 1..end],
        )))
    }

    fn metadata(&mut self, help: bool) -> Result<Entry<'a>, ParseError> {
        let keyword = if help { "HELP" } else { "TYPE" };
        self.cur.take_while(is_blank);
        let Some(name) = self.cur.metric_name() else {
            return Err(self
                .cur
                .error(format!("expected metric name after {keyword}")));
        };
        // Prometheus takes the rest of the line and drops its first character (the
        // separating blank, or whatever stands there); blanks alone are no text.
        let (start, end) = self.cur.take_while(|b| b != b'\n');
        let text = !self.cur.src[start..end].iter().all(|&b| is_blank(b));
        let start = if text && end - start > 1 {
            start + 1
        } else {
            end
        };
        self.cur.eat(b'\n');
        if help {
            let text = self.cur.utf8(start, end, "help text")?;
            return Ok(Entry::Help {
                name,
                help: unescape(text, false),
            });
        }
        let metric_type = match &self.cur.src[start..end] {
            b"counter" => ParsedType::Counter,
            b"gauge" => ParsedType::Gauge,
            b"histogram" => ParsedType::Histogram,
            b"summary" => ParsedType::Summary,
            b"untyped" => ParsedType::Unknown,
            other => {
                return Err(self.cur.error_at(
                    start,
                    format!("invalid metric type {:?}", String::from_utf8_lossy(other)),
                ))
            }
        };
        self.family = Some((name, metric_type));
        Ok(Entry::Type { name, metric_type })
    }

    fn sample(&mut self) -> Result<ParsedSample<'a>, ParseError> {
        let line = self.cur.line();
        let Some(name) = self.cur.metric_name() else {
            return Err(self.cur.error("expected metric name"));
        };
        self.cur.take_while(is_blank);
        let labels = if self.cur.eat(b'{') {
            let labels = self.labels(name)?;
            self.cur.take_while(is_blank);
            labels
        } else {
            Labels::default()
        };
        let (vs, ve) = self
            .cur
            .take_while(|b| !matches!(b, b'{' | b' ' | b'\t' | b'\n'));
        if vs == ve {
            return Err(self.cur.error("expected value after metric"));
        }
        let text = self.cur.utf8(vs, ve, "value")?;
        let value = match parse_float(text) {
            Some(v) if v.is_finite() || !is_real(text) => v,
            Some(_) => {
                return Err(self
                    .cur
                    .error_at(vs, format!("value {text:?} out of range")))
            }
            None => return Err(self.cur.error_at(vs, format!("invalid value {text:?}"))),
        };
        self.cur.take_while(is_blank);
        let timestamp = if self.cur.peek().is_some_and(|b| b.is_ascii_digit()) {
            let (ts, te) = self.cur.take_while(|b| b.is_ascii_digit());
            let digits = self.cur.utf8(ts, te, "timestamp")?;
            let ms = digits.parse::<i64>().map_err(|_| {
                self.cur
                    .error_at(ts, format!("timestamp {digits} out of range"))
            })?;
            Some(Timestamp::from_millis(ms))
        } else {
            None
        };
        let after = if timestamp.is_some() {
            "timestamp"
        } else {
            "value"
        };
        self.end_line(after)?;
        let (family, family_type) = match self.family {
            Some((family, t)) if belongs(name, family, t) => (family, t),
            _ => (name, ParsedType::Unknown),
        };
        Ok(ParsedSample {
            name,
            labels,
            value,
            timestamp,
            exemplar: None,
            family,
            family_type,
            line,
        })
    }

    /// Reads labels after `{` up to and including `}`.
    fn labels(&mut self, metric: &str) -> Result<Labels<'a>, ParseError> {
        let start = self.cur.pos;
        self.seen.clear();
        loop {
            self.cur.take_while(is_blank);
            if self.cur.peek() == Some(b'}') {
                break;
            }
            let (name, at) = self.cur.expect_label_name()?;
            self.cur.take_while(is_blank);
            if !self.cur.eat(b'=') {
                return Err(self.cur.error("expected \"=\" after label name"));
            }
            self.cur.take_while(is_blank);
            if !self.cur.eat(b'"') {
                return Err(self.cur.error("expected quoted label value"));
            }
            let value = self.cur.quoted_value(false)?;
            self.seen.push(SeenLabel::new(name, at, value));
            self.cur.take_while(is_blank);
            self.cur.eat(b',');
        }
        self.cur.check_label_set(&self.seen, Some(metric), true)?;
        let raw = self.cur.utf8(start, self.cur.pos, "labels")?;
        self.cur.bump();
        Ok(Labels::new(raw))
    }
}

fn is_real(text: &str) -> bool {
    super::lex::is_real_number(text)
}

/// Whether sample `name` belongs to the family of the last `# TYPE` (a counter may or
/// may not carry `_total` in either name).
fn belongs(name: &str, family: &str, t: ParsedType) -> bool {
    let Some(suffix) = name.strip_prefix(family) else {
        return t == ParsedType::Counter
            && family
                .strip_suffix("_total")
                .is_some_and(|base| base == name);
    };
    match t {
        ParsedType::Counter => suffix.is_empty() || suffix == "_total",
        ParsedType::Histogram => matches!(suffix, "_bucket" | "_count" | "_sum"),
        ParsedType::Summary => matches!(suffix, "" | "_count" | "_sum"),
        _ => suffix.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::encoding::Format;
    use crate::parser::Parser;

    fn parse(body: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        Parser::new(body.as_bytes(), Format::Text).collect()
    }

    /// Inputs Prometheus 2.42 accepts, with the one sample each must yield.
    type Accepted = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );

    /// Inputs Prometheus 2.42 accepts: case, body, labels, value, timestamp.
    const ACCEPTED: &[(Accepted, f64, Option<i128>)] = &[
        (("plain", "a 1\n", &[]), 1.0, None),
        (("no final newline", "a 1", &[]), 1.0, None),
        (
            (
                "blanks before a comment",
                "  # HELP a x\n\t# TYPE a gauge\na 1\n",
                &[],
            ),
            1.0,
            None,
        ),
        (("trailing blanks", "a 1 \t\n", &[]), 1.0, None),
        (
            ("blanks after timestamp", "a 1 123  \n", &[]),
            1.0,
            Some(123),
        ),
        (("tab separators", "a\t1\t123\n", &[]), 1.0, Some(123)),
        (
            ("space before brace", "a {b=\"c\"} 1\n", &[("b", "c")]),
            1.0,
            None,
        ),
        (
            (
                "spaces in labels",
                "a{ b = \"c\" , d=\"e\" } 1\n",
                &[("b", "c"), ("d", "e")],
            ),
            1.0,
            None,
        ),
        (
            ("trailing comma", "a{b=\"c\",} 1\n", &[("b", "c")]),
            1.0,
            None,
        ),
        (
            (
                "missing comma",
                "a{b=\"c\"d=\"e\"} 1\n",
                &[("b", "c"), ("d", "e")],
            ),
            1.0,
            None,
        ),
        (
            ("value glued to brace", "a{b=\"c\"}1\n", &[("b", "c")]),
            1.0,
            None,
        ),
        (("empty braces", "a{} 1\n", &[]), 1.0, None),
        (
            (
                "escapes",
                "a{b=\"x\\\\y\\\"z\\n\\q\"} 1\n",
                &[("b", "x\\y\"z\n\\q")],
            ),
            1.0,
            None,
        ),
        (
            (
                "raw newline in value",
                "a{b=\"x\ny\"} 1\n",
                &[("b", "x\ny")],
            ),
            1.0,
            None,
        ),
        (
            ("nul in value", "a{b=\"x\0\"} 1\n", &[("b", "x\0")]),
            1.0,
            None,
        ),
        (
            (
                "colons and underscores",
                "_a:b_{_c=\"d\"} 1\n",
                &[("_c", "d")],
            ),
            1.0,
            None,
        ),
        (("exponent", "a 1.5e3\n", &[]), 1500.0, None),
        (("leading plus", "a +1\n", &[]), 1.0, None),
        (("inf", "a +Inf\n", &[]), f64::INFINITY, None),
        (
            ("infinity any case", "a -INFINITY\n", &[]),
            f64::NEG_INFINITY,
            None,
        ),
        (("blank lines", "\n\n  \na 1\n\n", &[]), 1.0, None),
        (
            (
                "repeated name with an empty value",
                "a{b=\"\",c=\"d\",b=\"e\"} 1\n",
                &[("b", ""), ("c", "d"), ("b", "e")],
            ),
            1.0,
            None,
        ),
        (
            (
                "escaped backslash before a raw newline",
                "a{b=\"x\\\\\ny\"} 1\n",
                &[("b", "x\\\ny")],
            ),
            1.0,
            None,
        ),
        (("comment", "# just words\na 1\n", &[]), 1.0, None),
        (("hash without space", "#HELP a x\na 1\n", &[]), 1.0, None),
        (("help without text", "# HELP a\na 1\n", &[]), 1.0, None),
        (
            ("tab after hash", "# \tTYPE a gauge\na 1\n", &[]),
            1.0,
            None,
        ),
        (("eof comment", "a 1\n# EOF\n", &[]), 1.0, None),
        (("nul ends input", "a 1\n\0garbage{\n", &[]), 1.0, None),
    ];

    #[test]
    fn accepts_what_prometheus_accepts() {
        for &((case, body, labels), value, ts) in ACCEPTED {
            let got = parse(body).unwrap_or_else(|e| panic!("case {case}: {e}"));
            let sample = got.iter().find_map(|e| match e {
                Entry::Sample(s) => Some(s),
                _ => None,
            });
            let s = sample.unwrap_or_else(|| panic!("case {case}: no sample in {got:?}"));
            let got_labels: Vec<_> = s.labels.iter().collect();
            let want: Vec<_> = labels.iter().map(|&(n, v)| (n, Cow::from(v))).collect();
            assert_eq!(got_labels, want, "case {case}");
            assert_eq!(s.value, value, "case {case}");
            assert_eq!(s.timestamp.map(Timestamp::as_millis), ts, "case {case}");
        }
    }

    /// Inputs Prometheus 2.42 rejects, with where our error points.
    const REJECTED: &[(&str, &str, &str)] = &[
        ("missing value", "a\n", "1:2:"),
        ("single quotes", "a{b='c'} 1\n", "1:5:"),
        ("unterminated value", "a{b=\"c} 1\n", "1:6:"),
        ("bad label name", "a{1=\"c\"} 1\n", "1:3:"),
        ("empty label name", "a{=\"\"} 0\n", "1:3:"),
        ("leading comma", "a{,b=\"c\"} 1\n", "1:3:"),
        ("double comma", "a{b=\"c\",,d=\"e\"} 1\n", "1:9:"),
        ("missing equals", "a{b} 1\n", "1:4:"),
        ("duplicate label", "a{b=\"1\",b=\"2\"} 1\n", "1:9:"),
        (
            "duplicate label, same value",
            "a{b=\"1\",b=\"1\"} 1\n",
            "1:9:",
        ),
        ("name label", "a{__name__=\"b\"} 1\n", "1:3:"),
        ("empty name label", "a{c=\"d\", __name__=\"\"} 1\n", "1:10:"),
        ("leading blanks", "  \ta 1\n", "1:1:"),
        ("leading blank on a later line", "a 1\n b 2\n", "2:1:"),
        (
            "backslash before a raw newline",
            "a{b=\"x\\\ny\"} 1\n",
            "1:7:",
        ),
        ("word value", "a true\n", "1:3:"),
        ("underscore value", "a 1_2\n", "1:3:"),
        ("hex value", "a 0x1p-3\n", "1:3:"),
        ("overflowing value", "a 1e400\n", "1:3:"),
        ("signed nan", "a +NaN\n", "1:3:"),
        ("float timestamp", "a 1 1.5\n", "1:6:"),
        ("negative timestamp", "a 1 -5\n", "1:5:"),
        ("huge timestamp", "a 1 99999999999999999999\n", "1:5:"),
        ("junk after timestamp", "a 1 2 3\n", "1:7:"),
        ("crlf", "a 1\r\n", "1:3:"),
        ("unknown type", "# TYPE a meter\n", "1:10:"),
        ("openmetrics type", "# TYPE a info\n", "1:10:"),
        ("type with trailing blank", "# TYPE a counter \n", "1:10:"),
        ("type without name", "# TYPE \n", "1:8:"),
        ("line starting with digit", "9 1\n", "1:1:"),
        ("brace at line start", "{a=\"b\"} 1\n", "1:1:"),
        ("nul in name", "a\0{b=\"c\"} 1\n", "1:2:"),
        ("second brace", "a{} {} 1\n", "1:5:"),
    ];

    #[test]
    fn rejects_what_prometheus_rejects() {
        for &(case, body, at) in REJECTED {
            let err = parse(body).expect_err(case);
            assert!(err.to_string().starts_with(at), "case {case}: {err}");
        }
    }

    #[test]
    fn invalid_utf8_is_rejected_in_help_and_label_values_only() {
        let bad_help = Parser::new(b"# HELP a \xff\na 1\n", Format::Text).find_map(Result::err);
        assert_eq!(
            bad_help.map(|e| e.to_string()),
            Some("1:10: help text is not valid UTF-8".into())
        );
        let bad_value = Parser::new(b"a{b=\"\xff\"} 1\n", Format::Text).find_map(Result::err);
        assert_eq!(
            bad_value.map(|e| e.to_string()),
            Some("1:6: label value is not valid UTF-8".into())
        );
        let comment: Result<Vec<_>, _> = Parser::new(b"# \xff\na 1\n", Format::Text).collect();
        assert_eq!(comment.map(|e| e.len()), Ok(2));
    }

    #[test]
    fn label_set_and_blank_errors_say_what_is_wrong() {
        let cases = [
            ("a{b=\"1\",\nb=\"2\"} 1\n", "1:9: expected label name"),
            (
                "a{b=\"x\ny\", b=\"2\"} 1\n",
                "2:5: duplicate label name \"b\" for metric \"a\"",
            ),
            (
                "a{__name__=\"a\"} 1\n",
                "1:3: label name \"__name__\" repeats the metric name \"a\"",
            ),
            (
                "a{__name__=\"\"} 1\n",
                "1:3: empty label \"__name__\" removes the metric name \"a\"",
            ),
            (
                "a 1\n\t b 2\n",
                "2:1: blanks before a metric name (Prometheus reads them as part of the name)",
            ),
            (
                "a{b=\"x\\\ny\"} 1\n",
                "1:7: a backslash may not escape a line break in a label value",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(parse(body).unwrap_err().to_string(), want, "{body:?}");
        }
    }

    #[test]
    fn help_of_blanks_only_is_empty() {
        for (body, want) in [
            ("# HELP a  \t\n", ""),
            ("# HELP a \n", ""),
            ("# HELP a  x \n", " x "),
            ("# HELP a\t\tx\n", "\tx"),
        ] {
            let got = parse(body).unwrap();
            assert_eq!(
                got[0],
                Entry::Help {
                    name: "a",
                    help: want.into()
                },
                "{body:?}"
            );
        }
    }

    #[test]
    fn metadata_entries() {
        let body = "# HELP a_total Requests\\n \\\\ \\\" served.\n# TYPE a_total counter\n# other\na_total 3\n";
        let got = parse(body).unwrap();
        assert_eq!(
            got[0],
            Entry::Help {
                name: "a_total",
                help: "Requests\n \\ \\\" served.".into()
            }
        );
        assert_eq!(
            got[1],
            Entry::Type {
                name: "a_total",
                metric_type: ParsedType::Counter
            }
        );
        assert_eq!(got[2], Entry::Comment(" other".into()));
        let Entry::Sample(s) = &got[3] else {
            panic!("{:?}", got[3])
        };
        assert_eq!((s.family, s.family_type), ("a_total", ParsedType::Counter));
    }

    #[test]
    fn samples_get_their_family() {
        let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 2\nh_count 1\nh_created 5\n\
                    # TYPE c counter\nc_total 1\n# TYPE d_total counter\nd 1\n";
        let families: Vec<_> = parse(body)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Sample(s) => Some((s.name, s.family, s.family_type)),
                _ => None,
            })
            .collect();
        use ParsedType::*;
        assert_eq!(
            families,
            [
                ("h_bucket", "h", Histogram),
                ("h_sum", "h", Histogram),
                ("h_count", "h", Histogram),
                ("h_created", "h_created", Unknown),
                ("c_total", "c", Counter),
                ("d", "d_total", Counter),
            ]
        );
    }

    #[test]
    fn multi_line_positions() {
        let err = parse("a 1\nb 2\nc{d=} 3\n").unwrap_err();
        assert_eq!(err.to_string(), "3:5: expected quoted label value");
        let got = parse("a 1\nb 2 5\n").unwrap();
        let Entry::Sample(b) = &got[1] else {
            panic!("{got:?}")
        };
        assert_eq!(
            (b.line, b.timestamp.map(Timestamp::as_millis)),
            (2, Some(5))
        );
    }
}
