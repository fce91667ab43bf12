//! The gather's exemplar check: OpenMetrics allows at most
//! [`MAX_EXEMPLAR_LABEL_CHARS`] characters of exemplar label names and values. The
//! recording APIs refuse a longer exemplar, so only a hand-built one (a collector's
//! const sample) gets here; the gather removes it, keeps the sample and its value, and
//! reports [`Error::ExemplarDropped`], rather than leaving the OpenMetrics encoder to
//! drop it silently.

use crate::error::Error;
use crate::family::{Exemplar, MetricFamily, Sample, Value, MAX_EXEMPLAR_LABEL_CHARS};
use crate::labels::LabelSet;

/// Removes every exemplar of `family` (counter totals and histogram buckets) whose
/// labels exceed [`MAX_EXEMPLAR_LABEL_CHARS`]; the samples stay. Pushes one
/// [`Error::ExemplarDropped`] for the family, describing the first, if any was removed.
pub(super) fn drop_long_exemplars(family: &mut MetricFamily, errors: &mut Vec<Error>) {
    let mut count = 0usize;
    let mut first: Option<(LabelSet, Option<f64>, Exemplar)> = None;
    let mut dropped = |series: &LabelSet, bucket: Option<f64>, exemplar: Exemplar| {
        count += 1;
        first.get_or_insert_with(|| (series.clone(), bucket, exemplar));
    };
    for Sample { labels, value, .. } in &mut family.samples {
        match value {
            Value::Counter { exemplar, .. } => {
                if let Some(e) = exemplar.take_if(|e| too_long(e)) {
                    dropped(labels, None, *e);
                }
            }
            Value::Histogram(h) => {
                for bucket in &mut h.buckets {
                    if let Some(e) = bucket.exemplar.take_if(|e| too_long(e)) {
                        dropped(labels, Some(bucket.upper_bound), e);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some((series, bucket, exemplar)) = first {
        errors.push(Error::ExemplarDropped {
            metric: family.name.to_string(),
            series,
            bucket,
            label_names: exemplar.labels.iter().map(|(n, _)| n.to_owned()).collect(),
            chars: Exemplar::label_chars(&exemplar.labels),
            limit: MAX_EXEMPLAR_LABEL_CHARS,
            dropped: count,
        });
    }
}

/// Whether the exemplar's labels exceed the limit.
fn too_long(e: &Exemplar) -> bool {
    !Exemplar::fits(&e.labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Bucket, HistogramValue, MetricType};

    /// An exemplar of `trace_id` (8 characters) and `chars - 8` two-byte "é".
    fn exemplar(chars: usize) -> Exemplar {
        let value = "é".repeat(chars - 8);
        Exemplar {
            labels: LabelSet::from_pairs("h", &[("trace_id", &value)]).unwrap(),
            value: 0.5,
            timestamp: None,
        }
    }

    fn histogram(series: &str, exemplars: [Option<Exemplar>; 2]) -> Sample {
        let [low, inf] = exemplars;
        let buckets = vec![
            Bucket {
                upper_bound: 1.0,
                cumulative_count: 1,
                exemplar: low,
            },
            Bucket {
                upper_bound: f64::INFINITY,
                cumulative_count: 2,
                exemplar: inf,
            },
        ];
        let value = HistogramValue {
            buckets,
            count: 2,
            sum: 3.0,
            created: None,
        };
        let labels = LabelSet::from_pairs("h", &[("s", series)]).unwrap();
        Sample::new(labels, Value::Histogram(Box::new(value)))
    }

    fn bucket_exemplars(family: &MetricFamily) -> Vec<Vec<Option<usize>>> {
        let chars = |b: &Bucket| {
            b.exemplar
                .as_ref()
                .map(|e| Exemplar::label_chars(&e.labels))
        };
        family
            .samples
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(h) => h.buckets.iter().map(chars).collect(),
                other => panic!("not a histogram: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn counts_characters_not_bytes() {
        // 8 + 120 two-byte characters: 248 bytes, 128 characters.
        assert!(!too_long(&exemplar(128)));
        assert!(too_long(&exemplar(129)));
    }

    #[test]
    fn drops_only_long_bucket_exemplars_and_counts_them() {
        let mut family = MetricFamily::new("h", "H.", MetricType::Histogram);
        family.samples = vec![
            histogram("a", [Some(exemplar(128)), Some(exemplar(130))]),
            histogram("b", [Some(exemplar(129)), None]),
        ];
        let before: Vec<_> = family.samples.iter().map(|s| s.labels.clone()).collect();
        let mut errors = Vec::new();
        drop_long_exemplars(&mut family, &mut errors);
        assert_eq!(
            bucket_exemplars(&family),
            [vec![Some(128), None], vec![None, None]]
        );
        let after: Vec<_> = family.samples.iter().map(|s| s.labels.clone()).collect();
        assert_eq!(before, after);
        match errors.as_slice() {
            [Error::ExemplarDropped {
                metric,
                series,
                bucket: Some(le),
                chars: 130,
                limit: 128,
                dropped: 2,
                ..
            }] => {
                assert_eq!(
                    (metric.as_str(), series.get("s"), *le),
                    ("h", Some("a"), f64::INFINITY)
                );
            }
            other => panic!("expected one ExemplarDropped, got {other:?}"),
        }
        let message = errors[0].to_string();
        assert!(message.contains("le=\"+Inf\""), "{message}");
    }

    #[test]
    fn leaves_fitting_exemplars_without_error() {
        let mut family = MetricFamily::new("h", "H.", MetricType::Histogram);
        family.samples = vec![histogram("a", [Some(exemplar(128)), Some(exemplar(9))])];
        let mut errors = Vec::new();
        drop_long_exemplars(&mut family, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(bucket_exemplars(&family), [vec![Some(128), Some(9)]]);
    }
}
