//! Exposition readers: the Prometheus text format 0.0.4 and OpenMetrics 1.0.0, the
//! mirror image of [`crate::encoding`].
//!
//! [`Parser`] is a pull parser over a borrowed body: it yields [`Entry`] items whose
//! names, label text and help borrow from the input (a value containing escapes comes
//! back as an owned [`Cow`]), so reading a scrape allocates nothing per sample beyond
//! what a caller keeps. The first error ends the iteration; it carries the line and
//! column and displays as `LINE:COLUMN: message`.
//!
//! - **Text 0.0.4** accepts and rejects what a Prometheus 2.42 scrape does (see
//!   [`text`](self#text-format)): its text parser, plus the rules of its scrape loop
//!   on a sample's own labels (see [label sets](self#label-sets)).
//! - **OpenMetrics 1.0.0** follows the specification and its official parser test
//!   suite: family grouping and metadata placement, type suffixes, counter-like values
//!   (never negative or NaN), histogram bucket rules, `_created`, exemplar placement and
//!   their 128-character limit, timestamps that never go backwards, `# EOF`. A sample
//!   that repeats a series at the timestamp of the sample before it is skipped (the
//!   first one wins, as in Prometheus's storage and the Python client). Where
//!   Prometheus 2.42 is laxer than the specification (a repeated label name beside an
//!   empty value, a repeated exemplar label name), the specification wins.
//!
//! [`parse_families`] builds the gathered data model from a body.
//!
//! ```
//! use promsdk::parser::{Entry, ParsedType, Parser};
//! use promsdk::Format;
//!
//! let body = b"# TYPE jobs counter\njobs_total{queue=\"a\"} 3 1700000000.5\n# EOF\n";
//! let entries: Vec<Entry> = Parser::new(body, Format::OpenMetrics)
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! let Entry::Sample(sample) = &entries[1] else { panic!("{:?}", entries[1]) };
//! assert_eq!((sample.name, sample.family, sample.family_type), ("jobs_total", "jobs", ParsedType::Counter));
//! assert_eq!(sample.value, 3.0);
//! assert_eq!(sample.timestamp.unwrap().as_millis(), 1_700_000_000_500);
//!
//! let err = Parser::new(b"jobs_total -1\n", Format::OpenMetrics).find_map(Result::err).unwrap();
//! assert_eq!(err.to_string(), "2:1: missing \"# EOF\" at the end");
//! ```
//!
//! # Text format
//! Prometheus 2.42 allows blank lines, blanks and tabs before a comment, between
//! tokens and at the end of a line, spaces inside `{…}`, a trailing comma and even a
//! missing comma between labels, a value glued to `}`, raw newlines inside a quoted
//! label value, and comments of any shape; a NUL byte at the start of a line ends the
//! input. A `# HELP` line whose text is only blanks has empty help. It rejects blanks
//! before a sample's metric name (it reads them as part of the name), a backslash
//! before a line break in a label value, a `# TYPE` other than `counter`, `gauge`,
//! `histogram`, `summary` or `untyped`, values Go's `ParseFloat` refuses (hex, `_`,
//! overflow), timestamps that are not a plain unsigned 64-bit integer of
//! milliseconds, and anything else after the timestamp.
//!
//! # Label sets
//! Prometheus 2.42's scrape loop fails a scrape whose sample has a label name twice
//! (`a{b="1",b="2"}`) or has `__name__` inside its braces (`a{__name__="b"}`: the
//! metric name is that label); both formats reject these. It first drops every label
//! of a name given an empty value, so in the text format `a{b="",b="1"}` is accepted
//! and stored as `a` (OpenMetrics forbids the repeated name). Whether a scrape with a
//! repeated `job` or `instance` label survives depends on the target's configuration
//! (`honor_labels`), which a parser does not know: both formats reject it.

mod families;
mod lex;
mod om_rules;
mod openmetrics;
mod text;

use std::borrow::Cow;
use std::fmt;

pub use families::parse_families;
pub use lex::{LabelIter, Labels};

use crate::encoding::Format;
use crate::family::MetricType;

/// A parse failure: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A family type as written in `# TYPE` (both formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParsedType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics only).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics only).
    Info,
    /// `stateset` (OpenMetrics only).
    StateSet,
    /// `unknown` (OpenMetrics), `untyped` (text), or no `# TYPE` at all.
    Unknown,
}

impl ParsedType {
    /// The OpenMetrics name (`unknown` for the text format's `untyped`).
    pub fn as_str(self) -> &'static str {
        match self {
            ParsedType::Counter => "counter",
            ParsedType::Gauge => "gauge",
            ParsedType::Histogram => "histogram",
            ParsedType::GaugeHistogram => "gaugehistogram",
            ParsedType::Summary => "summary",
            ParsedType::Info => "info",
            ParsedType::StateSet => "stateset",
            ParsedType::Unknown => "unknown",
        }
    }

    /// The data model's type; `None` for a gauge histogram, which it cannot hold.
    pub fn metric_type(self) -> Option<MetricType> {
        Some(match self {
            ParsedType::Counter => MetricType::Counter,
            ParsedType::Gauge => MetricType::Gauge,
            ParsedType::Histogram => MetricType::Histogram,
            ParsedType::GaugeHistogram => return None,
            ParsedType::Summary => MetricType::Summary,
            ParsedType::Info => MetricType::Info,
            ParsedType::StateSet => MetricType::StateSet,
            ParsedType::Unknown => MetricType::Unknown,
        })
    }
}

/// A sample or exemplar timestamp, exact to the nanosecond.
///
/// The text format writes milliseconds, OpenMetrics decimal seconds of any precision;
/// both are kept exactly (digits below a nanosecond are truncated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timestamp {
    nanos: i128,
    seconds: f64,
}

impl Timestamp {
    /// A timestamp of `ms` milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp {
            nanos: i128::from(ms) * 1_000_000,
            seconds: ms as f64 / 1000.0,
        }
    }

    pub(crate) fn from_parts(nanos: i128, seconds: f64) -> Self {
        Timestamp { nanos, seconds }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(self) -> i128 {
        self.nanos
    }

    /// Milliseconds since the Unix epoch, truncated toward zero (as Prometheus does).
    pub fn as_millis(self) -> i128 {
        self.nanos / 1_000_000
    }

    /// Seconds since the Unix epoch, the nearest `f64` to what was written.
    pub fn as_seconds(self) -> f64 {
        self.seconds
    }
}

/// One item of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`, unescaped.
    Help {
        /// The name as written (text counters usually include `_total`).
        name: &'a str,
        /// The help text.
        help: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The name as written.
        name: &'a str,
        /// The type.
        metric_type: ParsedType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The family name.
        name: &'a str,
        /// The unit (may be empty).
        unit: &'a str,
    },
    /// Any other `#` line of the text format: the text after `#`.
    Comment(Cow<'a, str>),
    /// A sample line.
    Sample(ParsedSample<'a>),
    /// `# EOF` (OpenMetrics): nothing follows.
    Eof,
}

/// A sample line, borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample<'a> {
    /// The sample name, suffix included (`http_requests_total`).
    pub name: &'a str,
    /// The labels, including `le`, `quantile` or a state set's state.
    pub labels: Labels<'a>,
    /// The value.
    pub value: f64,
    /// The explicit timestamp, if any.
    pub timestamp: Option<Timestamp>,
    /// The exemplar, if any (OpenMetrics counters and buckets).
    pub exemplar: Option<ParsedExemplar<'a>>,
    /// The family the sample belongs to (`http_requests` for `http_requests_total`
    /// in OpenMetrics; the `# TYPE` name in the text format).
    pub family: &'a str,
    /// The family's type (`Unknown` when there is no matching `# TYPE`).
    pub family_type: ParsedType,
    /// The 1-based line the sample starts on.
    pub line: usize,
}

/// An exemplar: ` # {labels} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedExemplar<'a> {
    /// The exemplar's labels.
    pub labels: Labels<'a>,
    /// The exemplar's value.
    pub value: f64,
    /// The exemplar's timestamp, if any.
    pub timestamp: Option<Timestamp>,
}

/// The format a body is most likely in: OpenMetrics when its last line is `# EOF`,
/// otherwise text. This is how `promsdk-harness parse` picks a default.
///
/// ```
/// use promsdk::{parser::detect_format, Format};
/// assert_eq!(detect_format(b"a 1\n# EOF\n"), Format::OpenMetrics);
/// assert_eq!(detect_format(b"a 1\n# EOF"), Format::OpenMetrics);
/// assert_eq!(detect_format(b"a 1\n"), Format::Text);
/// ```
pub fn detect_format(body: &[u8]) -> Format {
    let trimmed = body.strip_suffix(b"\n").unwrap_or(body);
    let last = trimmed
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(trimmed, |i| &trimmed[i + 1..]);
    if last == b"# EOF" {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// The pull parser: an iterator of [`Entry`] results over a borrowed body. After the
/// first error it yields nothing more.
pub struct Parser<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Text(text::TextParser<'a>),
    OpenMetrics(Box<openmetrics::OpenMetricsParser<'a>>),
}

impl<'a> Parser<'a> {
    /// A parser reading `body` in `format`.
    pub fn new(body: &'a [u8], format: Format) -> Self {
        let inner = match format {
            Format::Text => Inner::Text(text::TextParser::new(body)),
            Format::OpenMetrics => {
                Inner::OpenMetrics(Box::new(openmetrics::OpenMetricsParser::new(body)))
            }
        };
        Parser { inner }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Text(p) => p.next(),
            Inner::OpenMetrics(p) => p.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_is_line_colon_column() {
        let e = ParseError {
            line: 3,
            column: 7,
            message: "expected value".into(),
        };
        assert_eq!(e.to_string(), "3:7: expected value");
    }

    #[test]
    fn timestamps_convert_exactly() {
        let t = Timestamp::from_millis(-1500);
        assert_eq!((t.as_nanos(), t.as_millis()), (-1_500_000_000, -1500));
        assert_eq!(t.as_seconds(), -1.5);
    }
}
