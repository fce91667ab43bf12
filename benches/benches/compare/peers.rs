//! Shared set-up: the `metrics` recorder, each library's 2-label label set, the label
//! values and the observed values.

use metrics::{Key, Label, Level, Metadata};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use prometheus_client::encoding::EncodeLabelSet;

/// The metadata passed to `metrics` registrations (the exporter ignores it).
pub const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The default histogram buckets of `prometheus` and client_golang, used by every
/// library's histogram.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Values observed by `histogram_observe`, spread over the buckets and beyond them.
pub const OBSERVED: [f64; 16] = [
    0.001, 0.007, 0.02, 0.04, 0.07, 0.2, 0.3, 0.6, 0.9, 1.7, 3.0, 4.2, 7.5, 9.9, 12.0, 30.0,
];

/// The two label names of every labelled benchmark.
pub const LABEL_NAMES: [&str; 2] = ["service", "endpoint"];

/// `prometheus-client`'s label set: a derived struct of two owned strings, built from
/// the string label values on every lookup.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Labels {
    pub service: String,
    pub endpoint: String,
}

/// `measured`'s label group for open-ended string values (its own high-cardinality
/// benchmark's choice): each value is interned in a concurrent interner (`ParaCord`),
/// and the pair of interned ids keys a sharded map of counters.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredLabelsSet)]
pub struct MeasuredLabels<'a> {
    #[label(dynamic_with = paracord::ParaCord, default)]
    pub service: &'a str,
    #[label(dynamic_with = paracord::ParaCord, default)]
    pub endpoint: &'a str,
}

/// `measured`'s read-only interner for string values all known when the vec is built,
/// with a fast hasher, as in `measured`'s own benchmarks (lasso's default is SipHash):
/// the same family of hasher as `ParaCord`'s.
pub type FixedValues =
    measured::lasso::RodeoReader<measured::lasso::Spur, foldhash::fast::RandomState>;

/// Builds a [`FixedValues`] interner of `values` (repeated values are interned once).
pub fn fixed_values<'a>(values: impl IntoIterator<Item = &'a str>) -> FixedValues {
    values
        .into_iter()
        .collect::<measured::lasso::Rodeo<_, _>>()
        .into_reader()
}

/// `measured`'s label group for string values all known when the vec is built: each
/// value's index in a [`FixedValues`] interner, and the pair of indexes picks the
/// counter in a dense array (no map) when there are at most 1024 pairs.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredFixedLabelsSet)]
pub struct MeasuredFixedLabels<'a> {
    #[label(fixed_with = FixedValues)]
    pub service: &'a str,
    #[label(fixed_with = FixedValues)]
    pub endpoint: &'a str,
}

/// `fastmetrics`'s label set: a derived struct of two owned strings, built from the
/// string label values on every lookup, as for `prometheus-client`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, fastmetrics::derive::LabelSet)]
pub struct FastLabels {
    pub service: String,
    pub endpoint: String,
}

/// A `metrics` recorder that is not installed: benchmarks call it directly.
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("the buckets are not empty")
        .build_recorder()
}

/// The `metrics` key of a labelled counter: the values are runtime strings, so `metrics`
/// needs owned copies (its label values are `Cow<'static, str>`).
pub fn key(name: &'static str, a: &str, b: &str) -> Key {
    Key::from_parts(
        name,
        vec![
            Label::new(LABEL_NAMES[0], a.to_owned()),
            Label::new(LABEL_NAMES[1], b.to_owned()),
        ],
    )
}

/// `n` distinct label-value pairs, built at run time as label values usually are.
pub fn label_sets(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("service-{}", i / 100),
                format!("/api/v1/endpoint/{}", i % 100),
            )
        })
        .collect()
}

/// Guards against measuring an incomplete exposition: `text` must hold `expected`
/// sample lines starting with `prefix` (the metric name and `{`).
pub fn assert_samples(library: &str, text: &[u8], prefix: &str, expected: usize) {
    let samples = text
        .split(|&byte| byte == b'\n')
        .filter(|line| line.starts_with(prefix.as_bytes()))
        .count();
    assert_eq!(
        samples, expected,
        "{library}: sample lines in the exposition"
    );
}

/// A `fmt::Write` appending to a byte buffer, for the libraries that encode into a
/// `fmt::Write`: the same appends as into a `String`.
pub struct Utf8Buf<'a>(pub &'a mut Vec<u8>);

impl std::fmt::Write for Utf8Buf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
