//! [`Opts`] (what a user writes) and [`Desc`] (the validated descriptor every metric,
//! vec and collector reports): name, help, unit, type, constant and variable labels.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::family::{MetricFamily, MetricType};
use crate::labels::{
    check_label_name, check_metric_name, render_sorted, LabelPair, LabelSet, LabelText, Part,
    Template,
};

/// Options naming a metric, in the style of client_golang's `Opts`.
///
/// The full name is `namespace_subsystem_name`, leaving out empty parts. A counter's
/// trailing `_total` (an info's `_info`) is dropped from the family name because the
/// sample name adds it back, so `requests_total` and `requests` name the same counter.
/// A unit is appended to the name unless the name already ends with it.
///
/// ```
/// use promsdk::{Desc, MetricType, Opts};
/// let desc = Desc::new(
///     Opts::new("request_duration", "Time spent serving requests.")
///         .namespace("http")
///         .unit("seconds")
///         .const_label("service", "api"),
///     MetricType::Histogram,
///     &["method"],
/// )
/// .unwrap();
/// assert_eq!(desc.name(), "http_request_duration_seconds");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Opts {
    namespace: String,
    subsystem: String,
    name: String,
    help: String,
    unit: Option<String>,
    const_labels: Vec<(String, String)>,
}

impl Opts {
    /// Options for metric `name` with `help` text.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Self {
        Opts {
            name: name.into(),
            help: help.into(),
            ..Self::default()
        }
    }

    /// Sets the namespace (the first name part).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the subsystem (the second name part).
    pub fn subsystem(mut self, subsystem: impl Into<String>) -> Self {
        self.subsystem = subsystem.into();
        self
    }

    /// Sets the unit (OpenMetrics `# UNIT`), e.g. `seconds` or `bytes`.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Adds a constant label carried by every series of the metric.
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.const_labels.push((name.into(), value.into()));
        self
    }

    /// The full name before type-specific suffix rules.
    fn fq_name(&self) -> String {
        [&self.namespace, &self.subsystem, &self.name]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("_")
    }
}

#[derive(PartialEq, Eq)]
struct DescInner {
    name: Arc<str>,
    help: Arc<str>,
    unit: Option<Arc<str>>,
    metric_type: MetricType,
    const_labels: Vec<LabelPair>,
    variable_labels: Arc<[Arc<str>]>,
    /// Every label in name order, as its index in the constant labels followed by the
    /// variable ones: a series' label set is built in this order, without sorting.
    name_order: Box<[usize]>,
    /// The text of a series' label set, with holes for the variable values.
    template: Template,
}

/// A validated metric descriptor, cheap to clone.
///
/// Two descriptors are equal when name, help, unit, type and labels are all equal.
#[derive(Clone, PartialEq, Eq)]
pub struct Desc(Arc<DescInner>);

impl Desc {
    /// Validates `opts` for a metric of `metric_type` with `variable_labels`.
    ///
    /// Errors name the metric: an invalid metric, label or unit name, a label declared
    /// twice, a reserved label (`__*`, `le` on histograms, `quantile` on summaries).
    pub fn new(opts: Opts, metric_type: MetricType, variable_labels: &[&str]) -> Result<Self> {
        let mut name = opts.fq_name();
        check_metric_name(&name)?;
        if let Some(suffix) = metric_type.reserved_suffix() {
            if let Some(stripped) = name.strip_suffix(suffix) {
                if !stripped.is_empty() {
                    name.truncate(stripped.len());
                }
            }
        }
        if let Some(unit) = &opts.unit {
            let valid = !unit.is_empty()
                && unit
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
            if !valid {
                return Err(Error::InvalidUnit {
                    metric: name,
                    unit: unit.clone(),
                });
            }
            if !name.ends_with(&format!("_{unit}")) {
                name = format!("{name}_{unit}");
            }
        }
        if metric_type == MetricType::StateSet {
            // A state set's samples carry a label named after the metric.
            check_label_name(&name, &name)?;
        }
        let mut seen: Vec<&str> = Vec::new();
        let reserved = metric_type.reserved_label();
        for label in opts
            .const_labels
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(variable_labels.iter().copied())
        {
            check_label_name(&name, label)?;
            if Some(label) == reserved || (metric_type == MetricType::StateSet && label == name) {
                return Err(Error::InvalidLabelName {
                    metric: name,
                    label: label.to_owned(),
                    reason: "this label name is reserved for the metric type",
                });
            }
            if seen.contains(&label) {
                return Err(Error::DuplicateLabelName {
                    metric: name,
                    label: label.to_owned(),
                });
            }
            seen.push(label);
        }
        let mut const_labels: Vec<LabelPair> = opts
            .const_labels
            .iter()
            .map(|(n, v)| LabelPair::new(n.as_str(), v.as_str()))
            .collect();
        const_labels.sort();
        let variable_labels: Arc<[Arc<str>]> =
            variable_labels.iter().map(|&l| Arc::from(l)).collect();
        let mut name_order: Vec<usize> = (0..const_labels.len() + variable_labels.len()).collect();
        let label_name = |i: usize| match const_labels.get(i) {
            Some(pair) => &*pair.name,
            None => variable_labels
                .get(i - const_labels.len())
                .map_or("", |name| &**name),
        };
        name_order.sort_by(|&a, &b| label_name(a).cmp(label_name(b)));
        let template = Template::new(name_order.iter().map(|&i| match const_labels.get(i) {
            Some(pair) => (&*pair.name, Part::Constant(&pair.value)),
            None => (label_name(i), Part::Variable(i - const_labels.len())),
        }));
        Ok(Desc(Arc::new(DescInner {
            name: name.into(),
            help: opts.help.into(),
            unit: opts.unit.map(Into::into),
            metric_type,
            const_labels,
            variable_labels,
            name_order: name_order.into(),
            template,
        })))
    }

    /// The family name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The help text.
    pub fn help(&self) -> &str {
        &self.0.help
    }

    /// The unit, if any.
    pub fn unit(&self) -> Option<&str> {
        self.0.unit.as_deref()
    }

    /// The metric type.
    pub fn metric_type(&self) -> MetricType {
        self.0.metric_type
    }

    /// The constant labels, sorted by name.
    pub fn const_labels(&self) -> &[LabelPair] {
        &self.0.const_labels
    }

    /// The variable label names, in declaration order.
    pub fn variable_labels(&self) -> &[Arc<str>] {
        &self.0.variable_labels
    }

    /// The label set of the series with these variable label `values` (in declaration
    /// order), constant labels included.
    pub fn labels(&self, values: &[&str]) -> Result<LabelSet> {
        self.with_label_text(values, |text| text.into_set())
    }

    /// Renders the full label set for these variable label values (as
    /// [`Desc::labels`] builds it) and hands its text to `f`: how a vec gives a new child
    /// its set, which the child's metric places in its own allocation.
    pub(crate) fn with_label_text<R>(
        &self,
        values: &[&str],
        f: impl FnOnce(LabelText<'_>) -> R,
    ) -> Result<R> {
        self.check_label_count(values.len())?;
        let f = match self.0.template.render(values, f) {
            Ok(r) => return Ok(r),
            Err(f) => f,
        };
        // A value to escape, or a long text: pair by pair, in name order straight away
        // (names were checked distinct by `Desc::new`): no sort, no duplicate check.
        let consts = &self.0.const_labels;
        let variable = &self.0.variable_labels;
        let pairs = self
            .0
            .name_order
            .iter()
            .filter_map(move |&i| match consts.get(i) {
                Some(pair) => Some((&*pair.name, &*pair.value)),
                None => {
                    let at = i - consts.len();
                    Some((&**variable.get(at)?, *values.get(at)?))
                }
            });
        Ok(render_sorted(pairs, f))
    }

    /// Fails with [`Error::LabelCount`] unless `got` values match the variable labels.
    #[inline]
    pub fn check_label_count(&self, got: usize) -> Result<()> {
        let expected = self.0.variable_labels.len();
        if got == expected {
            Ok(())
        } else {
            Err(Error::LabelCount {
                metric: self.0.name.to_string(),
                names: self.variable_label_names(),
                expected,
                got,
            })
        }
    }

    /// The variable label names as owned strings (for error messages).
    pub(crate) fn variable_label_names(&self) -> Vec<String> {
        self.0
            .variable_labels
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    /// An empty family with this descriptor's name, help, unit and type.
    pub fn family(&self) -> MetricFamily {
        MetricFamily {
            name: self.0.name.clone(),
            help: self.0.help.clone(),
            unit: self.0.unit.clone(),
            metric_type: self.0.metric_type,
            samples: Vec::new(),
            marks: crate::family::Marks::default(),
        }
    }
}

impl fmt::Debug for Desc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Desc")
            .field("name", &self.0.name)
            .field("type", &self.0.metric_type)
            .field("const_labels", &self.0.const_labels)
            .field("variable_labels", &self.0.variable_labels)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(opts: Opts, t: MetricType, labels: &[&str]) -> Result<Desc> {
        Desc::new(opts, t, labels)
    }

    #[test]
    fn names_are_joined_and_suffixes_handled() {
        let d = desc(
            Opts::new("requests_total", "h")
                .namespace("ns")
                .subsystem("sub"),
            MetricType::Counter,
            &[],
        )
        .unwrap();
        assert_eq!(d.name(), "ns_sub_requests");
        let d = desc(Opts::new("build_info", "h"), MetricType::Info, &[]).unwrap();
        assert_eq!(d.name(), "build");
        let d = desc(Opts::new("size", "h").unit("bytes"), MetricType::Gauge, &[]).unwrap();
        assert_eq!(d.name(), "size_bytes");
        let d = desc(
            Opts::new("size_bytes", "h").unit("bytes"),
            MetricType::Gauge,
            &[],
        )
        .unwrap();
        assert_eq!(d.name(), "size_bytes");
    }

    #[test]
    fn invalid_inputs_are_errors_naming_the_metric() {
        let cases: &[(&str, Opts, MetricType, &[&str])] = &[
            ("bad name", Opts::new("a-b", "h"), MetricType::Gauge, &[]),
            (
                "bad label",
                Opts::new("m", "h"),
                MetricType::Gauge,
                &["a-b"],
            ),
            (
                "reserved label",
                Opts::new("m", "h"),
                MetricType::Gauge,
                &["__x"],
            ),
            (
                "le on histogram",
                Opts::new("m", "h"),
                MetricType::Histogram,
                &["le"],
            ),
            (
                "quantile",
                Opts::new("m", "h"),
                MetricType::Summary,
                &["quantile"],
            ),
            (
                "duplicate",
                Opts::new("m", "h").const_label("a", "1"),
                MetricType::Gauge,
                &["a"],
            ),
            (
                "bad unit",
                Opts::new("m", "h").unit("a b"),
                MetricType::Gauge,
                &[],
            ),
        ];
        for (name, opts, t, labels) in cases {
            let err = desc(opts.clone(), *t, labels).expect_err(name).to_string();
            assert!(
                err.contains("\"m\"") || err.contains("\"a-b\""),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn labels_merge_const_and_variable() {
        let d = desc(
            Opts::new("m", "h").const_label("z", "1"),
            MetricType::Gauge,
            &["a"],
        )
        .unwrap();
        let set = d.labels(&["x"]).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![("a", "x"), ("z", "1")]);
        assert!(matches!(
            d.labels(&[]),
            Err(Error::LabelCount {
                expected: 1,
                got: 0,
                ..
            })
        ));
    }

    /// Constant and variable labels interleave by name, whatever order they were given in.
    #[test]
    fn labels_come_out_in_name_order() {
        let d = desc(
            Opts::new("m", "h")
                .const_label("z", "1")
                .const_label("b", "2"),
            MetricType::Gauge,
            &["c", "a", "y"],
        )
        .unwrap();
        let set = d.labels(&["3", "4", "5"]).unwrap();
        let expected = [("a", "4"), ("b", "2"), ("c", "3"), ("y", "5"), ("z", "1")];
        assert_eq!(set.iter().collect::<Vec<_>>(), expected);
        let pairs: Vec<(&str, &str)> = expected.to_vec();
        assert_eq!(set, LabelSet::from_pairs("m", &pairs).unwrap());
    }
}
