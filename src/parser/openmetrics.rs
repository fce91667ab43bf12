//! The OpenMetrics 1.0.0 reader: the line syntax of the specification's ABNF (single
//! spaces, no blank lines, `# EOF` last); the rules spanning lines are in `om_rules.rs`.

use super::lex::{decimal_seconds_to_nanos, parse_float, unescape, Cursor, Labels, SeenLabel};
use super::om_rules::{Rules, SampleFacts, Violation};
use super::{Entry, ParseError, ParsedExemplar, ParsedSample, ParsedType, Timestamp};
use crate::family::MAX_EXEMPLAR_LABEL_CHARS;

pub(super) struct OpenMetricsParser<'a> {
    cur: Cursor<'a>,
    done: bool,
    eof: bool,
    rules: Rules<'a>,
    /// Scratch for the label-set check.
    seen: Vec<SeenLabel<'a>>,
}

impl<'a> OpenMetricsParser<'a> {
    pub(super) fn new(body: &'a [u8]) -> Self {
        OpenMetricsParser {
            cur: Cursor::new(body),
            done: false,
            eof: false,
            rules: Rules::default(),
            seen: Vec::new(),
        }
    }

    pub(super) fn next(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        if self.done {
            return None;
        }
        match self.entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn violation(&self, (line, message): Violation) -> ParseError {
        ParseError {
            line,
            column: 1,
            message,
        }
    }

    fn entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        loop {
            if self.cur.at_end() {
                if self.eof {
                    return Ok(None);
                }
                return Err(self.cur.error("missing \"# EOF\" at the end"));
            }
            if self.eof {
                return Err(self.cur.error("text after \"# EOF\""));
            }
            match self.cur.peek() {
                Some(b'\n') => return Err(self.cur.error("blank line")),
                Some(b'#') => return self.hash_line().map(Some),
                Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {
                    if let Some(sample) = self.sample()? {
                        return Ok(Some(Entry::Sample(sample)));
                    }
                }
                Some(_) => return Err(self.cur.error("expected a metric name or \"#\"")),
                None => {}
            }
        }
    }

    fn end_line(&mut self) -> Result<(), ParseError> {
        match self.cur.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.cur.bump();
                Ok(())
            }
            Some(_) => Err(self.cur.error("expected end of line")),
        }
    }

    fn hash_line(&mut self) -> Result<Entry<'a>, ParseError> {
        let line = self.cur.line();
        if self.cur.starts_with(b"# EOF") {
            let after = self.cur.src.get(self.cur.pos + 5).copied();
            if matches!(after, None | Some(b'\n')) {
                for _ in 0..6 {
                    self.cur.bump();
                }
                self.eof = true;
                self.rules.finish().map_err(|v| self.violation(v))?;
                return Ok(Entry::Eof);
            }
        }
        let keyword = ["HELP", "TYPE", "UNIT"]
            .into_iter()
            .find(|k| self.cur.starts_with(format!("# {k} ").as_bytes()));
        let Some(keyword) = keyword else {
            return Err(self
                .cur
                .error("expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\""));
        };
        for _ in 0..7 {
            self.cur.bump();
        }
        let Some(name) = self.cur.metric_name() else {
            return Err(self
                .cur
                .error(format!("expected metric name after {keyword}")));
        };
        if !self.cur.eat(b' ') {
            return Err(self.cur.error(format!("expected a space after {name:?}")));
        }
        let (start, end) = self.cur.take_while(|b| b != b'\n');
        let text = self.cur.utf8(start, end, "metadata")?;
        self.end_line()?;
        let (entry, kind, unit) = match keyword {
            "HELP" => (
                Entry::Help {
                    name,
                    help: unescape(text, true),
                },
                None,
                None,
            ),
            "TYPE" => {
                let metric_type = match text {
                    "counter" => ParsedType::Counter,
                    "gauge" => ParsedType::Gauge,
                    "histogram" => ParsedType::Histogram,
                    "gaugehistogram" => ParsedType::GaugeHistogram,
                    "summary" => ParsedType::Summary,
                    "info" => ParsedType::Info,
                    "stateset" => ParsedType::StateSet,
                    "unknown" => ParsedType::Unknown,
                    _ => {
                        return Err(self
                            .cur
                            .error_at(start, format!("invalid metric type {text:?}")))
                    }
                };
                (Entry::Type { name, metric_type }, Some(metric_type), None)
            }
            _ => {
                let ok = text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
                if !ok {
                    return Err(self.cur.error_at(start, format!("invalid unit {text:?}")));
                }
                (Entry::Unit { name, unit: text }, None, Some(text))
            }
        };
        self.rules
            .metadata(keyword, name, kind, unit, line)
            .map_err(|v| self.violation(v))?;
        Ok(entry)
    }

    /// Reads `{…}` strictly (no blanks, no trailing comma), the cursor on `{`: the
    /// labels of series `metric`, or of an exemplar when `None`. A label name may
    /// appear once (even with an empty value, which the specification forbids though
    /// Prometheus accepts it), and `__name__` not at all in a series.
    fn labels(&mut self, metric: Option<&str>) -> Result<Labels<'a>, ParseError> {
        self.cur.bump();
        let start = self.cur.pos;
        self.seen.clear();
        if self.cur.eat(b'}') {
            return Ok(Labels::default());
        }
        loop {
            let (name, at) = self.cur.expect_label_name()?;
            if !self.cur.eat(b'=') {
                return Err(self.cur.error("expected \"=\" after label name"));
            }
            if !self.cur.eat(b'"') {
                return Err(self.cur.error("expected quoted label value"));
            }
            let value = self.cur.quoted_value(true)?;
            self.seen.push(SeenLabel::new(name, at, value));
            match self.cur.peek() {
                Some(b',') => self.cur.bump(),
                Some(b'}') => break,
                _ => return Err(self.cur.error("expected \",\" or \"}\" after label value")),
            }
        }
        self.cur.check_label_set(&self.seen, metric, false)?;
        let raw = self.cur.utf8(start, self.cur.pos, "labels")?;
        self.cur.bump();
        Ok(Labels::new(raw))
    }

    /// A token up to the next space or end of line.
    fn token(&mut self, what: &str) -> Result<(usize, &'a str), ParseError> {
        let (s, e) = self.cur.take_while(|b| b != b' ' && b != b'\n');
        if s == e {
            return Err(self.cur.error(format!("expected {what}")));
        }
        Ok((s, self.cur.utf8(s, e, what)?))
    }

    fn number(&mut self, what: &str) -> Result<f64, ParseError> {
        let (at, text) = self.token(what)?;
        parse_float(text).ok_or_else(|| self.cur.error_at(at, format!("invalid {what} {text:?}")))
    }

    fn timestamp(&mut self, what: &str) -> Result<Timestamp, ParseError> {
        let (at, text) = self.token(what)?;
        let nanos = decimal_seconds_to_nanos(text);
        match (nanos, text.parse::<f64>()) {
            (Some(nanos), Ok(seconds)) => Ok(Timestamp::from_parts(nanos, seconds)),
            _ => Err(self.cur.error_at(at, format!("invalid {what} {text:?}"))),
        }
    }

    fn sample(&mut self) -> Result<Option<ParsedSample<'a>>, ParseError> {
        let line = self.cur.line();
        let Some(name) = self.cur.metric_name() else {
            return Err(self.cur.error("expected metric name"));
        };
        let labels = if self.cur.peek() == Some(b'{') {
            self.labels(Some(name))?
        } else {
            Labels::default()
        };
        if !self.cur.eat(b' ') {
            return Err(self.cur.error("expected a space before the value"));
        }
        let value = self.number("value")?;
        let mut timestamp = None;
        let mut exemplar = None;
        if self.cur.eat(b' ') {
            if self.cur.peek() != Some(b'#') {
                timestamp = Some(self.timestamp("timestamp")?);
                if self.cur.eat(b' ') && self.cur.peek() != Some(b'#') {
                    return Err(self.cur.error("expected \"#\" starting an exemplar"));
                }
            }
            if self.cur.peek() == Some(b'#') {
                exemplar = Some(self.exemplar()?);
            }
        }
        self.end_line()?;
        let facts = SampleFacts {
            name,
            labels,
            value,
            timestamp: timestamp.map(Timestamp::as_nanos),
            has_exemplar: exemplar.is_some(),
            line,
        };
        let Some((family, family_type)) =
            self.rules.sample(&facts).map_err(|v| self.violation(v))?
        else {
            return Ok(None);
        };
        Ok(Some(ParsedSample {
            name,
            labels,
            value,
            timestamp,
            exemplar,
            family,
            family_type,
            line,
        }))
    }

    /// ` # {labels} value [timestamp]`, the cursor on `#`.
    fn exemplar(&mut self) -> Result<ParsedExemplar<'a>, ParseError> {
        self.cur.bump();
        if !self.cur.eat(b' ') || self.cur.peek() != Some(b'{') {
            return Err(self.cur.error("expected \" {\" after \"#\" of an exemplar"));
        }
        let at = self.cur.pos;
        let labels = self.labels(None)?;
        let chars: usize = labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if chars > MAX_EXEMPLAR_LABEL_CHARS {
            return Err(self.cur.error_at(
                at,
                format!(
                    "exemplar labels have {chars} characters, more than {MAX_EXEMPLAR_LABEL_CHARS}"
                ),
            ));
        }
        if !self.cur.eat(b' ') {
            return Err(self.cur.error("expected a space before the exemplar value"));
        }
        let value = self.number("exemplar value")?;
        let timestamp = if self.cur.eat(b' ') {
            Some(self.timestamp("exemplar timestamp")?)
        } else {
            None
        };
        Ok(ParsedExemplar {
            labels,
            value,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::encoding::Format;
    use crate::parser::{Entry, ParseError, ParsedType, Parser};

    fn parse(body: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        Parser::new(body.as_bytes(), Format::OpenMetrics).collect()
    }

    /// Valid expositions and how many samples each yields.
    const VALID: &[(&str, &str, usize)] = &[
        ("eof only", "# EOF\n", 0),
        ("eof without newline", "a 1\n# EOF", 1),
        ("counter with created", "# TYPE a counter\na_total 1\na_created 5\n# EOF\n", 2),
        ("exemplar with timestamp", "# TYPE a counter\na_total 1 2 # {t=\"x\"} 1 1.5\n# EOF\n", 1),
        ("exemplar empty labels", "# TYPE a counter\na_total 1 # {} 1\n# EOF\n", 1),
        ("histogram", "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nh_created 1\n# EOF\n", 5),
        ("negative buckets without sum", "# TYPE h histogram\nh_bucket{le=\"-1\"} 0\nh_bucket{le=\"+Inf\"} 2\n# EOF\n", 2),
        ("gauge histogram", "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 2\ng_gcount 2\ng_gsum 1\n# EOF\n", 3),
        ("summary", "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n# EOF\n", 3),
        ("info", "# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n", 1),
        ("stateset", "# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# EOF\n", 2),
        ("unit", "# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n", 1),
        ("metadata only", "# HELP a x\n# EOF\n", 0),
        ("escapes", "a{b=\"\\\\ \\\" \\n \\z\"} 1\n# EOF\n", 1),
        ("duplicate timestamp skipped", "a 1 5\na 2 5\na 3 6\n# EOF\n", 2),
        ("duplicate without timestamp skipped", "a 1\na 2\n# EOF\n", 1),
        ("two series", "a{x=\"1\"} 1\na{x=\"2\"} 1\n# EOF\n", 2),
        ("info timestamps may go back", "# TYPE i info\ni_info{a=\"1\"} 1 2\ni_info{a=\"2\"} 1 1\n# EOF\n", 2),
    ];

    #[test]
    fn accepts_valid_expositions() {
        for &(case, body, samples) in VALID {
            let got = parse(body).unwrap_or_else(|e| panic!("case {case}: {e}"));
            let n = got.iter().filter(|e| matches!(e, Entry::Sample(_))).count();
            assert_eq!(n, samples, "case {case}");
            assert_eq!(got.last(), Some(&Entry::Eof), "case {case}");
        }
    }

    /// Invalid expositions, one per rule, with the error each must give.
    const INVALID: &[(&str, &str, &str)] = &[
        ("no eof", "a 1\n", "2:1: missing \"# EOF\""),
        ("text after eof", "# EOF\na 1\n", "2:1: text after"),
        ("blank line", "a 1\n\n# EOF\n", "2:1: blank line"),
        ("comment", "# hello\n# EOF\n", "1:1: expected \"# HELP\""),
        ("two spaces", "a  1\n# EOF\n", "1:3: expected value"),
        ("trailing space", "a 1 \n# EOF\n", "1:5: expected timestamp"),
        ("tab", "a\t1\n# EOF\n", "1:2: expected a space"),
        ("crlf", "a 1\r\n# EOF\n", "1:3: invalid value"),
        ("trailing comma", "a{b=\"c\",} 1\n# EOF\n", "1:9: expected label name"),
        ("raw newline in label", "a{b=\"c\nd\"} 1\n# EOF\n", "1:6: unterminated"),
        ("duplicate label", "a{b=\"1\",b=\"2\"} 1\n# EOF\n", "1:9: duplicate label name"),
        ("duplicate label, one empty", "a{b=\"\",b=\"2\"} 1\n# EOF\n", "1:8: duplicate label name \"b\" for metric \"a\""),
        ("name label", "a{__name__=\"b\"} 1\n# EOF\n", "1:3: label name \"__name__\" repeats the metric name \"a\""),
        ("empty name label", "a{__name__=\"\"} 1\n# EOF\n", "1:3: empty label \"__name__\" removes"),
        ("duplicate exemplar label", "# TYPE a counter\na_total 1 # {t=\"1\",t=\"2\"} 1\n# EOF\n", "2:20: duplicate label name \"t\" for an exemplar"),
        ("backslash before a raw newline", "a{b=\"x\\\ny\"} 1\n# EOF\n", "1:6: unterminated"),
        ("bad type", "# TYPE a untyped\n# EOF\n", "1:10: invalid metric type"),
        ("unit not suffix", "# UNIT a s\n# EOF\n", "1:1: \"a\" does not end"),
        ("unit on info", "# TYPE a_u info\n# UNIT a_u u\n# EOF\n", "2:1:"),
        ("repeated help", "# HELP a x\n# HELP a y\n# EOF\n", "2:1: second # HELP"),
        ("metadata after samples", "a 1\n# HELP a x\n# EOF\n", "2:1: # HELP for \"a\" after"),
        ("interleaved families", "a 1\nb 1\na 2\n# EOF\n", "3:1: family \"a\" clashes"),
        ("suffix clash", "# TYPE a_total gauge\na_total 1\n# TYPE a counter\n# EOF\n", "3:1: family \"a\" clashes"),
        ("negative counter", "# TYPE a counter\na_total -1\n# EOF\n", "2:1: a_total: counter-like values cannot be negative"),
        ("nan counter", "# TYPE a counter\na_total NaN\n# EOF\n", "2:1: a_total: counter-like values cannot be NaN"),
        ("counter without suffix", "# TYPE a counter\na 1\n# EOF\n", "2:1: family \"a\" clashes"),
        ("fractional bucket", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n", "2:1: bucket value"),
        ("no +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# EOF\n", "2:1: histogram \"h\": no +Inf"),
        ("+Inf spelled inf", "# TYPE h histogram\nh_bucket{le=\"inf\"} 1\n# EOF\n", "2:1: bucket of \"h\""),
        ("buckets out of order", "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n# EOF\n", "3:1: histogram \"h\": buckets out of order"),
        ("count mismatch", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\nh_sum 1\n# EOF\n", "2:1: histogram \"h\": _count differs"),
        ("sum with negative buckets", "# TYPE h histogram\nh_bucket{le=\"-1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n# EOF\n", "2:1: histogram \"h\": _sum is not allowed"),
        ("quantile out of range", "# TYPE s summary\ns{quantile=\"2\"} 1\n# EOF\n", "2:1: quantile of \"s\""),
        ("negative quantile value", "# TYPE s summary\ns{quantile=\"0.5\"} -1\n# EOF\n", "2:1: quantile values"),
        ("info value", "# TYPE i info\ni_info 2\n# EOF\n", "2:1: info \"i\" values must be 1"),
        ("stateset value", "# TYPE s stateset\ns{s=\"a\"} 2\n# EOF\n", "2:1: stateset \"s\" values"),
        ("stateset label", "# TYPE s stateset\ns 1\n# EOF\n", "2:1: stateset sample without"),
        ("exemplar on gauge", "a 1 # {t=\"x\"} 1\n# EOF\n", "1:1: a: only counter"),
        ("group split", "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 2\n# EOF\n", "3:1: a: samples of one MetricPoint"),
        ("timestamp backwards", "a 1 2\na 1 1\n# EOF\n", "2:1: a: timestamp goes backwards"),
        ("mixed timestamps", "a 1 2\na 1\n# EOF\n", "2:1: a: mix of samples"),
        ("nan timestamp", "a 1 NaN\n# EOF\n", "1:5: invalid timestamp"),
        ("hex value", "a 0x1\n# EOF\n", "1:3: invalid value"),
    ];

    #[test]
    fn rejects_what_the_spec_rejects() {
        for &(case, body, want) in INVALID {
            let err = parse(body).expect_err(case).to_string();
            assert!(
                err.starts_with(want),
                "case {case}: got {err:?}, want {want:?}…"
            );
        }
    }

    #[test]
    fn exemplar_labels_are_limited_to_128_characters() {
        let body =
            |value: &str| format!("# TYPE a counter\na_total 1 # {{t=\"{value}\"}} 1\n# EOF\n");
        let fits = body(&"é".repeat(127));
        assert!(
            parse(&fits).is_ok(),
            "128 characters fit even when more bytes"
        );
        let err = parse(&body(&"x".repeat(128))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2:13: exemplar labels have 129 characters, more than 128"
        );
    }

    #[test]
    fn samples_carry_family_type_and_exemplar() {
        let body = "# TYPE a counter\n# HELP a Help \\\"q\\\".\n# UNIT a \na_total{x=\"1\"} 1 2.5 # {t=\"y\"} 0.5 1.25\n# EOF\n";
        let got = parse(body).unwrap();
        assert_eq!(
            got[1],
            Entry::Help {
                name: "a",
                help: "Help \"q\".".into()
            }
        );
        assert_eq!(
            got[2],
            Entry::Unit {
                name: "a",
                unit: ""
            }
        );
        let Entry::Sample(s) = &got[3] else {
            panic!("{:?}", got[3])
        };
        assert_eq!(
            (s.family, s.family_type, s.line),
            ("a", ParsedType::Counter, 4)
        );
        assert_eq!(s.timestamp.map(|t| t.as_millis()), Some(2500));
        let e = s.exemplar.as_ref().unwrap();
        assert_eq!(e.labels.get("t").as_deref(), Some("y"));
        assert_eq!(
            (e.value, e.timestamp.map(|t| t.as_seconds())),
            (0.5, Some(1.25))
        );
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut p = Parser::new(b"a -\nb 1\n# EOF\n", Format::OpenMetrics);
        assert!(matches!(p.next(), Some(Err(_))));
        assert!(p.next().is_none());
    }
}
