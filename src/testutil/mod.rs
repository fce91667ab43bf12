//! Helpers for testing instrumentation (feature `test-util`), after client_golang's
//! `testutil`: read one value ([`to_f64`]), count series ([`collect_and_count`]),
//! compare output with expected exposition text ([`collect_and_compare`],
//! [`gather_and_compare`]) and lint families the way `promtool check metrics` does
//! ([`lint`]).

use crate::collector::{Collected, Collector};
use crate::encoding::{encode, Format};
use crate::error::{Error, Result};
use crate::family::{MetricFamily, MetricType, Value};
use crate::registry::Registry;

/// Collects `collector` and returns its only sample's value, which must be a counter,
/// gauge or untyped sample; otherwise (or if collecting reported an error) an error
/// says what was found.
///
/// ```
/// use promsdk::{testutil::to_f64, Counter, MetricCollector, Opts};
/// let c = MetricCollector::new(Opts::new("jobs_total", "Jobs."), Counter::default()).unwrap();
/// c.metric().inc_by(3);
/// assert_eq!(to_f64(&c).unwrap(), 3.0);
/// ```
pub fn to_f64(collector: &(impl Collector + ?Sized)) -> Result<f64> {
    let mut out = Collected::default();
    collector.collect(&mut out);
    let (families, mut errors) = out.take();
    if !errors.is_empty() {
        return Err(errors.swap_remove(0));
    }
    let names = families
        .iter()
        .map(|f| &*f.name)
        .collect::<Vec<_>>()
        .join(", ");
    let samples: Vec<_> = families.iter().flat_map(|f| &f.samples).collect();
    let [sample] = samples.as_slice() else {
        return Err(Error::Collect {
            name: names,
            message: format!(
                "to_f64 needs exactly one sample, found {} in {} families",
                samples.len(),
                families.len()
            ),
        });
    };
    match sample.value {
        Value::Counter { total, .. } => Ok(total),
        Value::Gauge(v) | Value::Unknown(v) => Ok(v),
        ref other => Err(Error::Collect {
            name: names,
            message: format!(
                "to_f64 needs a counter, gauge or untyped sample, found a {:?}",
                other.metric_type()
            ),
        }),
    }
}

/// Collects `collector` and counts the series of the families named in `names` (all
/// families if `names` is empty). A counter matches its family name and the name with
/// `_total`, an info metric its name with `_info`.
///
/// ```
/// use promsdk::{testutil::collect_and_count, Gauge, MetricCollector, Opts};
/// let g = MetricCollector::new(Opts::new("up", "Up."), Gauge::default()).unwrap();
/// assert_eq!(collect_and_count(&g, &[]), 1);
/// assert_eq!(collect_and_count(&g, &["down"]), 0);
/// ```
pub fn collect_and_count(collector: &(impl Collector + ?Sized), names: &[&str]) -> usize {
    let mut out = Collected::default();
    collector.collect(&mut out);
    out.families()
        .iter()
        .filter(|f| names.is_empty() || names.iter().any(|n| name_matches(f, n)))
        .map(|f| f.samples.len())
        .sum()
}

fn name_matches(family: &MetricFamily, name: &str) -> bool {
    let suffix = match family.metric_type {
        MetricType::Counter => "_total",
        MetricType::Info => "_info",
        _ => "",
    };
    *family.name == *name
        || (!suffix.is_empty() && name.strip_suffix(suffix) == Some(&*family.name))
}

/// Collects `collector` and compares its families named in `names` (all if empty;
/// a counter may be named with or without `_total`) with `expected` text-format
/// exposition. Families and series are compared in gather order (sorted), as
/// [`encode`] writes them in [`Format::Text`]; leading indentation and blank lines in
/// `expected` are ignored, so it can be written as an indented raw string, and sample
/// values and timestamps are compared as numbers (`3`, `3.0` and `3e0` are equal).
/// Errors reported while collecting fail the comparison.
///
/// On a mismatch the error shows both texts line by line.
///
/// ```
/// use promsdk::{testutil::collect_and_compare, CounterVec, Opts};
/// let jobs = CounterVec::new(Opts::new("jobs_total", "Jobs run."), &["queue"]).unwrap();
/// jobs.with_label_values(&["email"]).inc_by(3);
/// collect_and_compare(&jobs, r#"
///     ## HELP jobs_total Jobs run.
///     ## TYPE jobs_total counter
///     jobs_total{queue="email"} 3
/// "#, &[]).unwrap();
/// ```
pub fn collect_and_compare(
    collector: &(impl Collector + ?Sized),
    expected: &str,
    names: &[&str],
) -> std::result::Result<(), Mismatch> {
    let mut out = Collected::default();
    collector.collect(&mut out);
    let families = out.families_mut();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for family in families.iter_mut() {
        family.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    compare(out.families(), out.errors(), expected, names)
}

/// Like [`collect_and_compare`] for everything `registry` gathers (with its checks).
pub fn gather_and_compare(
    registry: &Registry,
    expected: &str,
    names: &[&str],
) -> std::result::Result<(), Mismatch> {
    let gathered = registry.gather();
    compare(&gathered.families, &gathered.errors, expected, names)
}

fn compare(
    families: &[MetricFamily],
    errors: &[Error],
    expected: &str,
    names: &[&str],
) -> std::result::Result<(), Mismatch> {
    let selected: Vec<MetricFamily> = families
        .iter()
        .filter(|f| names.is_empty() || names.iter().any(|n| name_matches(f, n)))
        .cloned()
        .collect();
    let mut buf = Vec::new();
    encode(&selected, Format::Text, &mut buf);
    let got = String::from_utf8_lossy(&buf).into_owned();
    let normalize = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim_start)
            .filter(|l| !l.is_empty())
            .map(normalize_numbers)
            .collect()
    };
    let (want_lines, got_lines) = (normalize(expected), normalize(&got));
    if want_lines == got_lines && errors.is_empty() {
        return Ok(());
    }
    Err(Mismatch {
        expected: want_lines,
        got: got_lines,
        errors: errors.iter().map(ToString::to_string).collect(),
    })
}

/// Rewrites the value and timestamp of a sample line in one canonical number form;
/// comment lines are kept as they are.
fn normalize_numbers(line: &str) -> String {
    if line.starts_with('#') {
        return line.to_owned();
    }
    // The series part ends at the closing brace of the labels, or at the first space.
    let series_end = match (line.find('{'), line.rfind('}')) {
        (Some(open), Some(close)) if open < close => close + 1,
        _ => line.find(' ').unwrap_or(line.len()),
    };
    let (series, rest) = line.split_at(series_end);
    let numbers: Vec<String> = rest
        .split_whitespace()
        .map(|token| match token.parse::<f64>() {
            Ok(v) => format!("{v:?}"),
            Err(_) => token.to_owned(),
        })
        .collect();
    format!("{series} {}", numbers.join(" "))
}

/// What [`collect_and_compare`] and [`gather_and_compare`] found instead of the
/// expected text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The expected lines (indentation and blank lines removed).
    pub expected: Vec<String>,
    /// The lines the collector produced.
    pub got: Vec<String>,
    /// Errors reported while collecting.
    pub errors: Vec<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.errors {
            writeln!(f, "collect error: {e}")?;
        }
        let n = self.expected.len().max(self.got.len());
        for i in 0..n {
            let want = self.expected.get(i).map_or("", String::as_str);
            let got = self.got.get(i).map_or("", String::as_str);
            let mark = if want == got { ' ' } else { '!' };
            writeln!(f, "{mark} want: {want}")?;
            if want != got {
                writeln!(f, "{mark}  got: {got}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

mod lint;
pub use lint::{lint, Problem};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counter, CounterVec, Gauge, MetricCollector, Opts};

    #[test]
    fn compare_reports_a_wrong_value_and_a_missing_series() {
        let v = CounterVec::new(Opts::new("jobs_total", "Jobs."), &["q"]).unwrap();
        v.with_label_values(&["a"]).inc();
        v.with_label_values(&["b"]).inc();
        let header = "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n";
        let ok = format!("{header}jobs_total{{q=\"a\"}} 1\njobs_total{{q=\"b\"}} 1\n");
        collect_and_compare(&v, &ok, &["jobs"]).unwrap();
        let wrong = format!("{header}jobs_total{{q=\"a\"}} 2\n");
        let err = collect_and_compare(&v, &wrong, &[]).unwrap_err();
        assert_eq!(err.got.len(), 4);
        let text = err.to_string();
        assert!(text.contains("! want: jobs_total{q=\"a\"} 2"), "{text}");
        assert!(text.contains("!  got: jobs_total{q=\"b\"} 1"), "{text}");
        // Other families are left out by name.
        collect_and_compare(&v, "", &["other"]).unwrap();
    }

    #[test]
    fn to_f64_reads_one_value_or_says_what_it_found() {
        let g = MetricCollector::new(Opts::new("g", "h"), Gauge::default()).unwrap();
        g.metric().set(2.5);
        assert_eq!(to_f64(&g).unwrap(), 2.5);
        let two = vec![g.clone(), g];
        struct Both(Vec<MetricCollector<Gauge>>);
        impl Collector for Both {
            fn describe(&self) -> Vec<crate::Desc> {
                Vec::new()
            }
            fn collect(&self, out: &mut Collected) {
                self.0.iter().for_each(|c| c.collect(out));
            }
        }
        let err = to_f64(&Both(two)).unwrap_err().to_string();
        assert!(err.contains("found 2 in 2 families"), "{err}");
    }

    #[test]
    fn count_matches_counter_total_names() {
        let c = MetricCollector::new(Opts::new("jobs_total", "h"), Counter::default()).unwrap();
        assert_eq!(collect_and_count(&c, &["jobs_total"]), 1);
        assert_eq!(collect_and_count(&c, &["jobs"]), 1);
        assert_eq!(collect_and_count(&c, &["jobs_info"]), 0);
    }
}
