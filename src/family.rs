//! The gathered data model: a [`MetricFamily`] (name, help, unit, type) holding
//! [`Sample`]s (labels, a typed [`Value`], optional timestamp). Encoders see only this
//! model, never the registry.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::labels::LabelSet;

/// The type of a metric family, as written in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    /// A monotonically increasing total.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into cumulative buckets.
    Histogram,
    /// Observations summarised as quantiles over a sliding window.
    Summary,
    /// Constant labels describing the target (OpenMetrics `info`).
    Info,
    /// A set of boolean states (OpenMetrics `stateset`).
    StateSet,
    /// A value of unknown type (`untyped` in the text format).
    Unknown,
}

impl MetricType {
    /// The type's name in OpenMetrics (`counter`, …, `unknown`).
    pub fn as_openmetrics_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// The suffix the family name must not carry because the sample name adds it
    /// (`_total` for counters, `_info` for info).
    pub(crate) fn reserved_suffix(self) -> Option<&'static str> {
        match self {
            MetricType::Counter => Some("_total"),
            MetricType::Info => Some("_info"),
            _ => None,
        }
    }

    /// The label name this type adds to its samples and which users may not declare
    /// (`le` for histograms, `quantile` for summaries).
    pub(crate) fn reserved_label(self) -> Option<&'static str> {
        match self {
            MetricType::Histogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        }
    }
}

/// An exemplar: a reference (usually a trace id) attached to a counter or a bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels, e.g. `trace_id`.
    pub labels: LabelSet,
    /// The observed value.
    pub value: f64,
    /// When it was observed, in seconds since the Unix epoch.
    pub timestamp: Option<f64>,
}

/// The most characters (Unicode code points, not bytes) an exemplar's label names and
/// values may have together: OpenMetrics 1.0 says they MUST NOT exceed 128.
pub const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

impl Exemplar {
    /// How many characters (Unicode code points, not bytes) the label names and values
    /// of `labels` have together: the count OpenMetrics limits to
    /// [`MAX_EXEMPLAR_LABEL_CHARS`].
    ///
    /// ```
    /// use promsdk::{Exemplar, LabelSet};
    /// let labels = LabelSet::from_pairs("c", &[("trace_id", "été")]).unwrap();
    /// assert_eq!(Exemplar::label_chars(&labels), 8 + 3); // "été" is 5 bytes
    /// ```
    pub fn label_chars(labels: &LabelSet) -> usize {
        labels
            .iter()
            .map(|(name, value)| name.chars().count() + value.chars().count())
            .sum()
    }

    /// Checks that `labels` fit [`MAX_EXEMPLAR_LABEL_CHARS`], as the recording APIs
    /// (`Counter::add_with_exemplar`, `Histogram::observe_with_exemplar`) do before
    /// changing anything. A collector building exemplars for const samples can call it
    /// too: a registry gather removes an exemplar that does not fit and reports
    /// [`Error::ExemplarDropped`], and the OpenMetrics encoder leaves one out.
    ///
    /// # Errors
    ///
    /// [`Error::ExemplarTooLong`] naming `metric` (may be empty when unknown), the label
    /// names, their character count and the limit.
    ///
    /// ```
    /// use promsdk::{Error, Exemplar, LabelSet};
    /// let fits = LabelSet::from_pairs("c", &[("trace_id", &"é".repeat(120))]).unwrap();
    /// assert!(Exemplar::check_labels("c", &fits).is_ok());
    /// let long = LabelSet::from_pairs("c", &[("trace_id", &"é".repeat(121))]).unwrap();
    /// let err = Exemplar::check_labels("c", &long).unwrap_err();
    /// assert!(matches!(err, Error::ExemplarTooLong { chars: 129, limit: 128, .. }));
    /// ```
    pub fn check_labels(metric: &str, labels: &LabelSet) -> Result<()> {
        if Self::fits(labels) {
            return Ok(());
        }
        Err(Error::ExemplarTooLong {
            metric: metric.to_owned(),
            label_names: labels.iter().map(|(name, _)| name.to_owned()).collect(),
            chars: Self::label_chars(labels),
            limit: MAX_EXEMPLAR_LABEL_CHARS,
        })
    }

    /// Whether `labels` fit [`MAX_EXEMPLAR_LABEL_CHARS`]: the one test the recording
    /// APIs, the registry gather and the OpenMetrics encoder share. No more bytes than
    /// the limit means no more characters either, which spares counting them in the
    /// common case.
    pub(crate) fn fits(labels: &LabelSet) -> bool {
        let bytes: usize = labels.iter().map(|(n, v)| n.len() + v.len()).sum();
        bytes <= MAX_EXEMPLAR_LABEL_CHARS || Self::label_chars(labels) <= MAX_EXEMPLAR_LABEL_CHARS
    }
}

/// One cumulative histogram bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The inclusive upper bound (`le`); the last bucket is `+Inf`.
    pub upper_bound: f64,
    /// Observations less than or equal to `upper_bound`.
    pub cumulative_count: u64,
    /// The latest exemplar that fell into this bucket.
    pub exemplar: Option<Exemplar>,
}

/// A histogram's gathered state; buckets are cumulative and end with `+Inf`, whose count
/// equals `count`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// The buckets, ascending, the last one `+Inf`.
    pub buckets: Vec<Bucket>,
    /// The number of observations.
    pub count: u64,
    /// The sum of observations.
    pub sum: f64,
    /// When the histogram was created, in seconds since the Unix epoch.
    pub created: Option<f64>,
}

/// A summary's gathered state.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValue {
    /// `(quantile, value)` pairs, quantiles ascending in `[0, 1]`.
    pub quantiles: Vec<(f64, f64)>,
    /// The number of observations.
    pub count: u64,
    /// The sum of observations.
    pub sum: f64,
    /// When the summary was created, in seconds since the Unix epoch.
    pub created: Option<f64>,
}

/// A gathered value; its variant must agree with the family's [`MetricType`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter total.
    Counter {
        /// The total.
        total: f64,
        /// When the counter was created, in seconds since the Unix epoch.
        created: Option<f64>,
        /// The latest exemplar.
        exemplar: Option<Box<Exemplar>>,
    },
    /// A gauge value.
    Gauge(f64),
    /// A histogram.
    Histogram(Box<HistogramValue>),
    /// A summary.
    Summary(Box<SummaryValue>),
    /// An info metric: its labels are the information; the value is always 1.
    Info,
    /// A state set: the name of each state and whether it is set.
    StateSet(Vec<(Arc<str>, bool)>),
    /// An untyped value.
    Unknown(f64),
}

impl Value {
    /// The metric type this value belongs to.
    pub fn metric_type(&self) -> MetricType {
        match self {
            Value::Counter { .. } => MetricType::Counter,
            Value::Gauge(_) => MetricType::Gauge,
            Value::Histogram(_) => MetricType::Histogram,
            Value::Summary(_) => MetricType::Summary,
            Value::Info => MetricType::Info,
            Value::StateSet(_) => MetricType::StateSet,
            Value::Unknown(_) => MetricType::Unknown,
        }
    }

    /// A counter value with no creation time and no exemplar.
    pub fn counter(total: f64) -> Self {
        Value::Counter {
            total,
            created: None,
            exemplar: None,
        }
    }
}

/// One series of a family: its labels, value and optional timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (without the family name and without `le`/`quantile`).
    pub labels: LabelSet,
    /// The value.
    pub value: Value,
    /// An explicit timestamp in milliseconds since the Unix epoch (rarely wanted).
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// A sample with no timestamp.
    pub fn new(labels: LabelSet, value: Value) -> Self {
        Sample {
            labels,
            value,
            timestamp_ms: None,
        }
    }
}

/// A gathered family: everything exposed under one metric name.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name (for counters without `_total`, for info without `_info`).
    pub name: Arc<str>,
    /// The help text.
    pub help: Arc<str>,
    /// The unit, if any (the name then ends with `_<unit>`).
    pub unit: Option<Arc<str>>,
    /// The type.
    pub metric_type: MetricType,
    /// The series, in label order after a registry gather.
    pub samples: Vec<Sample>,
    /// The crate's bookkeeping about this family (see [`Marks`]).
    pub(crate) marks: Marks,
}

/// What the crate knows about a family beyond its content. It is bookkeeping, not
/// content: two families that differ only in it are equal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marks {
    /// The samples are already what a registry gather checks for: labels matching the
    /// descriptor, strictly increasing by labels (so sorted and unique), values of the
    /// family's type, no timestamps. Only the crate sets it (a vec writing its children,
    /// which it keeps sorted); merging families or handing them out through
    /// [`Collected::families_mut`](crate::Collected::families_mut) clears it, so the
    /// gather checks them in full again.
    pub(crate) verified: bool,
    /// The writer will want these samples back at the next gather (see
    /// [`Collected::family_reusing`](crate::Collected)), so clearing the sink keeps them
    /// instead of dropping them.
    pub(crate) reuse: bool,
}

impl PartialEq for Marks {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl MetricFamily {
    /// An empty family.
    pub fn new(
        name: impl Into<Arc<str>>,
        help: impl Into<Arc<str>>,
        metric_type: MetricType,
    ) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            unit: None,
            metric_type,
            samples: Vec::new(),
            marks: Marks::default(),
        }
    }
}
