//! The crate's error type: every variant names the metric or label involved.

use std::sync::Arc;

use crate::collector::Collector;
use crate::labels::LabelSet;

/// Everything that can go wrong when describing, registering, looking up or collecting
/// metrics. Messages say what was wrong and with which name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName {
        /// The rejected name.
        name: String,
    },
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`, or is reserved.
    #[error("invalid label name {label:?} for metric {metric:?}: {reason}")]
    InvalidLabelName {
        /// The metric the label belongs to.
        metric: String,
        /// The rejected label name.
        label: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A unit is not a valid metric-name suffix.
    #[error("invalid unit {unit:?} for metric {metric:?}: must match [a-zA-Z0-9_:]+")]
    InvalidUnit {
        /// The metric.
        metric: String,
        /// The rejected unit.
        unit: String,
    },
    /// The same label name appears twice among a metric's labels.
    #[error("duplicate label name {label:?} for metric {metric:?}")]
    DuplicateLabelName {
        /// The metric.
        metric: String,
        /// The repeated label name.
        label: String,
    },
    /// A lookup or const sample passed the wrong number of label values.
    #[error("metric {metric:?} has {expected} variable labels {names:?}, got {got} values")]
    LabelCount {
        /// The metric.
        metric: String,
        /// The variable label names.
        names: Vec<String>,
        /// How many values the metric takes.
        expected: usize,
        /// How many values were passed.
        got: usize,
    },
    /// A lookup by name/value pairs named a label the metric does not have, or left one out.
    #[error("metric {metric:?} has no variable label {label:?} (labels: {names:?})")]
    UnknownLabel {
        /// The metric.
        metric: String,
        /// The unknown label name.
        label: String,
        /// The variable label names.
        names: Vec<String>,
    },
    /// A lookup by name/value pairs did not give a value for every variable label.
    #[error("metric {metric:?}: no value given for label {label:?}")]
    MissingLabel {
        /// The metric.
        metric: String,
        /// The label left out.
        label: String,
    },
    /// A counter was asked to go down.
    #[error("counter cannot decrease: add({value}) is negative or NaN")]
    NegativeCounterAdd {
        /// The rejected increment.
        value: f64,
    },
    /// Histogram buckets or summary objectives are not usable.
    #[error("invalid buckets or objectives for metric {metric:?}: {reason}")]
    InvalidBuckets {
        /// The metric (may be empty for an unnamed child template).
        metric: String,
        /// What is wrong.
        reason: String,
    },
    /// A state set's configured state names are not usable (empty list, empty or
    /// repeated name, more than 64 states).
    #[error("invalid states for state set {metric:?}: {reason}")]
    InvalidStates {
        /// The metric (may be empty for an unnamed child template).
        metric: String,
        /// What is wrong.
        reason: String,
    },
    /// A state set was asked to change or read a state it was not configured with.
    #[error("unknown state {state:?} (states: {states:?})")]
    UnknownState {
        /// The state asked for.
        state: String,
        /// The configured states.
        states: Vec<String>,
    },
    /// An exemplar's label names and values together have more characters than
    /// OpenMetrics allows ([`crate::MAX_EXEMPLAR_LABEL_CHARS`]); nothing was recorded.
    #[error(
        "exemplar labels {label_names:?}{} have {chars} characters, more than the \
         OpenMetrics limit of {limit}; nothing recorded",
        for_metric(.metric)
    )]
    ExemplarTooLong {
        /// The metric (empty when unknown: a counter or histogram handle does not know
        /// its name).
        metric: String,
        /// The exemplar's label names.
        label_names: Vec<String>,
        /// The characters (Unicode code points) of the label names and values together.
        chars: usize,
        /// The most characters allowed.
        limit: usize,
    },
    /// A gathered sample carried an exemplar whose label names and values have more
    /// characters than OpenMetrics allows ([`crate::MAX_EXEMPLAR_LABEL_CHARS`]): only a
    /// hand-built one can (a collector's const sample), since the recording APIs refuse
    /// it with [`Error::ExemplarTooLong`]. The gather removed the exemplar and kept the
    /// sample and its value; one error per family describes the first such exemplar.
    #[error(
        "collected metric {metric:?}: exemplar labels {label_names:?} on series {series:?}{} \
         have {chars} characters, more than the OpenMetrics limit of {limit}; {dropped} \
         exemplar(s) in this family dropped, their samples kept",
        in_bucket(*.bucket)
    )]
    ExemplarDropped {
        /// The family name.
        metric: String,
        /// The labels of the first sample whose exemplar was dropped.
        series: LabelSet,
        /// The upper bound (`le`) of its bucket, for a histogram's exemplar.
        bucket: Option<f64>,
        /// That exemplar's label names.
        label_names: Vec<String>,
        /// That exemplar's characters (Unicode code points) of label names and values.
        chars: usize,
        /// The most characters allowed.
        limit: usize,
        /// How many exemplars of the family were dropped.
        dropped: usize,
    },
    /// A vector reached its `max_series` cardinality limit.
    #[error("metric {metric:?} reached its limit of {limit} series; label set rejected")]
    SeriesLimit {
        /// The metric.
        metric: String,
        /// The configured limit.
        limit: usize,
    },
    /// An equal collector is already registered; the existing one is handed back.
    #[error("a collector for {name:?} with the same descriptors is already registered")]
    AlreadyRegistered {
        /// The first metric name of the collector.
        name: String,
        /// The collector that was registered first.
        existing: ExistingCollector,
    },
    /// A descriptor conflicts with one already registered (same name, other type, help,
    /// or label names), or a collector repeats a descriptor.
    #[error("descriptor {name:?} conflicts with a registered one: {reason}")]
    ConflictingDescriptor {
        /// The metric name.
        name: String,
        /// What differs.
        reason: String,
    },
    /// A collected sample does not agree with its family or its descriptor.
    #[error("collected metric {name:?} is inconsistent: {reason}")]
    InconsistentSample {
        /// The family name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A collector panicked while collecting; only its own metrics are missing.
    #[error("collector for {names:?} panicked while collecting: {message}")]
    CollectorPanicked {
        /// The metric names the collector describes (empty if unchecked).
        names: Vec<String>,
        /// The panic payload, if it was a string.
        message: String,
    },
    /// The standalone `/metrics` server could not listen on its address.
    #[error("cannot serve metrics on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// Why listening failed.
        #[source]
        source: std::io::Error,
    },
    /// A collector reported an error of its own.
    #[error("collector error for {name:?}: {message}")]
    Collect {
        /// The metric (or subsystem) it concerns.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// ` for metric "name"`, or nothing when the metric is unknown (empty).
fn for_metric(metric: &str) -> String {
    if metric.is_empty() {
        String::new()
    } else {
        format!(" for metric {metric:?}")
    }
}

/// ` in bucket le="1.0"`, or nothing for an exemplar not on a bucket.
fn in_bucket(le: Option<f64>) -> String {
    match le {
        None => String::new(),
        Some(le) if le == f64::INFINITY => " in bucket le=\"+Inf\"".to_owned(),
        Some(le) => format!(" in bucket le=\"{le:?}\""),
    }
}

/// Shorthand for `Result<T, promsdk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The collector already registered, handed back by [`Error::AlreadyRegistered`] so the
/// caller can use it instead of its own (downcast with [`ExistingCollector::downcast`]).
#[derive(Clone)]
pub struct ExistingCollector(pub Arc<dyn Collector>);

impl ExistingCollector {
    /// The registered collector as its concrete type, if it is a `T`.
    pub fn downcast<T: Collector>(&self) -> Option<Arc<T>> {
        let any: Arc<dyn std::any::Any + Send + Sync> = self.0.clone();
        any.downcast::<T>().ok()
    }
}

impl std::fmt::Debug for ExistingCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExistingCollector(..)")
    }
}
