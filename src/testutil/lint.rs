//! [`lint`]: what `promtool check metrics` (client_golang's promlint) reports.

use std::fmt;

use crate::family::{MetricFamily, MetricType};

/// A problem [`lint`] found with a metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The metric name as exposed (a counter's with `_total`).
    pub metric: String,
    /// What is wrong, in promlint's words.
    pub text: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.metric, self.text)
    }
}

/// Base units and the base unit of each known non-base unit (promlint's table).
const UNITS: &[(&str, &str)] = &[
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    ("bits", "bytes"),
    ("calories", "joules"),
    ("pounds", "grams"),
    ("ounces", "grams"),
];

const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];

const UNIT_ABBREVIATIONS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

const TYPE_NAMES: &[&str] = &["counter", "gauge", "histogram", "summary"];

/// Reports what `promtool check metrics` (client_golang's promlint) reports about
/// `families`: missing help, non-base units, `_total` on non-counters, histogram and
/// summary suffixes or labels on other types, a type in the name, `:` in the name,
/// camelCase names, abbreviated units and repeated series. Sorted by metric.
///
/// ```
/// use promsdk::{testutil::lint, Gauge, MetricFamily, MetricType};
/// let families = vec![MetricFamily::new("latency_milliseconds", "", MetricType::Gauge)];
/// let texts: Vec<String> = lint(&families).into_iter().map(|p| p.text).collect();
/// assert!(texts.contains(&"no help text".to_string()));
/// assert!(texts.contains(&r#"use base unit "seconds" instead of "milliseconds""#.to_string()));
/// ```
pub fn lint(families: &[MetricFamily]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for family in families {
        let name = match family.metric_type {
            MetricType::Counter => format!("{}_total", family.name),
            _ => family.name.to_string(),
        };
        let mut report = |text: String| {
            problems.push(Problem {
                metric: name.clone(),
                text,
            })
        };
        lint_family(family, &name, &mut report);
    }
    problems.sort();
    problems.dedup();
    problems
}

fn lint_family(family: &MetricFamily, name: &str, report: &mut impl FnMut(String)) {
    let t = family.metric_type;
    let untyped = t == MetricType::Unknown;
    let lower = name.to_ascii_lowercase();
    let has_part =
        |part: &str| lower.contains(&format!("_{part}_")) || lower.ends_with(&format!("_{part}"));
    if family.help.is_empty() {
        report("no help text".into());
    }
    if let Some((unit, base)) = metric_unit(name) {
        if unit != base {
            report(format!("use base unit {base:?} instead of {unit:?}"));
        }
    }
    if !untyped && t != MetricType::Counter && name.ends_with("_total") {
        report(r#"non-counter metrics should not have "_total" suffix"#.into());
    }
    if !untyped && t != MetricType::Gauge && name.ends_with("_timestamp_seconds") {
        report(r#"non-gauge metrics should not have "_timestamp_seconds" suffix"#.into());
    }
    let (histogram, summary) = (t == MetricType::Histogram, t == MetricType::Summary);
    if !untyped {
        if !histogram && name.ends_with("_bucket") {
            report(r#"non-histogram metrics should not have "_bucket" suffix"#.into());
        }
        for suffix in ["_count", "_sum"] {
            if !histogram && !summary && name.ends_with(suffix) {
                report(format!(
                    "non-histogram and non-summary metrics should not have {suffix:?} suffix"
                ));
            }
        }
    }
    for type_name in TYPE_NAMES {
        if has_part(type_name) {
            report(format!("metric name should not include type '{type_name}'"));
        }
    }
    if name.contains(':') {
        report("metric names should not contain ':'".into());
    }
    if is_camel_case(name) {
        report("metric names should be written in 'snake_case' not 'camelCase'".into());
    }
    if UNIT_ABBREVIATIONS.iter().any(|a| has_part(a)) {
        report("metric names should not contain abbreviated units".into());
    }
    for sample in &family.samples {
        for (label, _) in sample.labels.iter() {
            if is_camel_case(label) {
                report("label names should be written in 'snake_case' not 'camelCase'".into());
            }
            if !untyped && !histogram && label == "le" {
                report(r#"non-histogram metrics should not have "le" label"#.into());
            }
            if !untyped && !summary && label == "quantile" {
                report(r#"non-summary metrics should not have "quantile" label"#.into());
            }
        }
    }
    let mut labels: Vec<_> = family.samples.iter().map(|s| &s.labels).collect();
    labels.sort();
    if labels.windows(2).any(|w| w[0] == w[1]) {
        report("metric not unique".into());
    }
}

/// The first known unit among the name's `_`-separated parts, and its base unit.
fn metric_unit(name: &str) -> Option<(&str, &'static str)> {
    name.split('_').find_map(|part| {
        let lookup = |u: &str| UNITS.iter().find(|(n, _)| *n == u).map(|&(_, b)| b);
        lookup(part)
            .or_else(|| {
                UNIT_PREFIXES
                    .iter()
                    .find_map(|p| part.strip_prefix(p).and_then(lookup))
            })
            .map(|base| (part, base))
    })
}

fn is_camel_case(name: &str) -> bool {
    name.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LabelSet, Sample, Value};

    fn fam(name: &str, help: &str, t: MetricType, labels: &[&[(&str, &str)]]) -> MetricFamily {
        let mut f = MetricFamily::new(name, help, t);
        for pairs in labels {
            let labels = LabelSet::from_pairs(name, pairs).unwrap();
            let value = match t {
                MetricType::Counter => Value::counter(1.0),
                _ => Value::Gauge(1.0),
            };
            f.samples.push(Sample::new(labels, value));
        }
        f
    }

    #[test]
    fn lint_cases() {
        use MetricType::*;
        let cases: &[(&str, MetricFamily, &[&str])] = &[
            ("clean", fam("http_requests", "h", Counter, &[&[]]), &[]),
            ("no help", fam("up", "", Gauge, &[]), &["no help text"]),
            (
                "non-base unit",
                fam("latency_milliseconds", "h", Gauge, &[]),
                &[r#"use base unit "seconds" instead of "milliseconds""#],
            ),
            (
                "total on gauge",
                fam("queue_total", "h", Gauge, &[]),
                &[r#"non-counter metrics should not have "_total" suffix"#],
            ),
            (
                "count on gauge",
                fam("jobs_count", "h", Gauge, &[]),
                &[r#"non-histogram and non-summary metrics should not have "_count" suffix"#],
            ),
            (
                "bucket on summary",
                fam("rpc_bucket", "h", Summary, &[]),
                &[r#"non-histogram metrics should not have "_bucket" suffix"#],
            ),
            (
                "type in name",
                fam("temperature_gauge", "h", Gauge, &[]),
                &["metric name should not include type 'gauge'"],
            ),
            (
                "colon",
                fam("job:rate", "h", Gauge, &[]),
                &["metric names should not contain ':'"],
            ),
            (
                "camel name",
                fam("requestCount", "h", Unknown, &[]),
                &["metric names should be written in 'snake_case' not 'camelCase'"],
            ),
            (
                "camel label",
                fam("x", "h", Gauge, &[&[("statusCode", "200")]]),
                &["label names should be written in 'snake_case' not 'camelCase'"],
            ),
            (
                "le label",
                fam("x", "h", Gauge, &[&[("le", "1")]]),
                &[r#"non-histogram metrics should not have "le" label"#],
            ),
            (
                "abbreviation",
                fam("latency_ms", "h", Gauge, &[]),
                &["metric names should not contain abbreviated units"],
            ),
            (
                "duplicate",
                fam("x", "h", Gauge, &[&[("a", "1")], &[("a", "1")]]),
                &["metric not unique"],
            ),
            (
                "untyped skips type rules",
                fam("jobs_count", "h", Unknown, &[]),
                &[],
            ),
        ];
        for (case, family, expected) in cases {
            let problems = lint(std::slice::from_ref(family));
            let texts: Vec<&str> = problems.iter().map(|p| p.text.as_str()).collect();
            assert_eq!(&texts, expected, "{case}");
            assert!(
                problems.iter().all(|p| p.metric.starts_with(&*family.name)),
                "{case}: {problems:?}"
            );
        }
    }

    #[test]
    fn counters_are_linted_under_their_total_name() {
        let problems = lint(&[fam("jobs", "", MetricType::Counter, &[])]);
        assert_eq!(problems[0].to_string(), "jobs_total: no help text");
    }
}
