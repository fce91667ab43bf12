//! The OpenMetrics 1.0.0 reader: the line syntax of the specification's ABNF (single
//! spaces, no blank lines, `# EOF` last); the rules spanning lines are in `om_rules.rs`.

use super::lex::{decimal_seconds_to_nanos, parse_float, unescape, Cursor, Labels};
use super::om_rules::{Rules, SampleFacts, Violation};
use super::{Entry, ParseError, ParsedExemplar, ParsedSample, ParsedType, Timestamp};

/// The most characters an exemplar's label names and values may have together.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

pub(super) struct OpenMetricsParser<'a> {
    cur: Cursor<'a>,
    done: bool,
    eof: bool,
    rules: Rules<'a>,
    names: Vec<&'a str>,
}

impl<'a> OpenMetricsParser<'a> {
    pub(super) fn new(body: &'a [u8]) -> Self {
        OpenMetricsParser {
            cur: Cursor::new(body),
            done: false,
            eof: false,
            rules: Rules::default(),
            names: Vec::new(),
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

    /// Reads `{…}` strictly (no blanks, no trailing comma), the cursor on `{`.
    fn labels(&mut self, metric: &str) -> Result<Labels<'a>, ParseError> {
        self.cur.bump();
        let start = self.cur.pos;
        self.names.clear();
        if self.cur.eat(b'}') {
            return Ok(Labels::default());
        }
        loop {
            let at = self.cur.pos;
            let Some(label) = self.cur.label_name() else {
                return Err(self.cur.error("expected label name"));
            };
            if self.names.contains(&label) {
                return Err(self.cur.error_at(
                    at,
                    format!("duplicate label name {label:?} for metric {metric:?}"),
                ));
            }
            self.names.push(label);
            if !self.cur.eat(b'=') {
                return Err(self.cur.error("expected \"=\" after label name"));
            }
            if !self.cur.eat(b'"') {
                return Err(self.cur.error("expected quoted label value"));
            }
            let vs = self.cur.pos;
            loop {
                match self.cur.peek() {
                    None | Some(b'\n') => {
                        return Err(self.cur.error_at(vs, "unterminated label value"))
                    }
                    Some(b'"') => break,
                    Some(b'\\') => {
                        self.cur.bump();
                        if matches!(self.cur.peek(), None | Some(b'\n')) {
                            return Err(self.cur.error_at(vs, "unterminated label value"));
                        }
                        self.cur.bump();
                    }
                    Some(_) => self.cur.bump(),
                }
            }
            self.cur.utf8(vs, self.cur.pos, "label value")?;
            self.cur.bump();
            match self.cur.peek() {
                Some(b',') => self.cur.bump(),
                Some(b'}') => break,
                _ => return Err(self.cur.error("expected \",\" or \"}\" after label value")),
            }
        }
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
            self.labels(name)?
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
        let labels = self.labels("exemplar")?;
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
