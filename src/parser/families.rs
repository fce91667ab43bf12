//! [`parse_families`]: a body read back into the gathered data model.

use std::collections::HashMap;
use std::sync::Arc;

use crate::encoding::Format;
use crate::family::{
    Bucket, Exemplar, HistogramValue, MetricFamily, MetricType, Sample, SummaryValue, Value,
};
use crate::labels::LabelSet;

use super::{Entry, ParseError, ParsedExemplar, ParsedSample, ParsedType, Parser};

/// One series while its samples come in.
#[derive(Default)]
struct Series {
    labels: Option<LabelSet>,
    timestamp_ms: Option<i64>,
    value: Option<f64>,
    created: Option<f64>,
    exemplar: Option<Exemplar>,
    buckets: Vec<Bucket>,
    quantiles: Vec<(f64, f64)>,
    states: Vec<(Arc<str>, bool)>,
    count: Option<u64>,
    sum: Option<f64>,
}

#[derive(Default)]
struct Builder<'a> {
    help: Option<String>,
    unit: Option<&'a str>,
    kind: Option<ParsedType>,
    series: Vec<Series>,
    index: HashMap<LabelSet, usize>,
}

/// Parses `body` into families, in the order each family first appears, series in the
/// order they first appear, label pairs sorted.
///
/// Names follow the data model: a counter family drops `_total` (the text format's
/// `# TYPE foo_total counter` becomes family `foo`), an OpenMetrics info family its
/// `_info`. Histogram `le`, summary `quantile` and the state label of a state set
/// become part of the value. A gauge histogram, which the model cannot hold, is an
/// error, as is a bucket or count that is not a non-negative integer, or a label the
/// model rejects (such as `__name__`).
///
/// ```
/// use promsdk::{parser::parse_families, Format, MetricType, Value};
///
/// let body = b"# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total{queue=\"a\"} 3\n";
/// let families = parse_families(body, Format::Text).unwrap();
/// assert_eq!((&*families[0].name, &*families[0].help), ("jobs", "Jobs."));
/// assert_eq!(families[0].metric_type, MetricType::Counter);
/// assert_eq!(families[0].samples[0].labels.get("queue"), Some("a"));
/// assert_eq!(families[0].samples[0].value, Value::counter(3.0));
/// ```
pub fn parse_families(body: &[u8], format: Format) -> Result<Vec<MetricFamily>, ParseError> {
    let mut order: Vec<&str> = Vec::new();
    let mut builders: HashMap<&str, Builder<'_>> = HashMap::new();
    for entry in Parser::new(body, format) {
        match entry? {
            Entry::Help { name, help } => {
                get(&mut builders, &mut order, name).help = Some(help.into_owned());
            }
            Entry::Type { name, metric_type } => {
                get(&mut builders, &mut order, name).kind = Some(metric_type);
            }
            Entry::Unit { name, unit } => get(&mut builders, &mut order, name).unit = Some(unit),
            Entry::Sample(s) => {
                let b = get(&mut builders, &mut order, s.family);
                let kind = *b.kind.get_or_insert(s.family_type);
                add_sample(b, kind, &s)?;
            }
            Entry::Comment(_) | Entry::Eof => {}
        }
    }
    order
        .into_iter()
        .filter_map(|name| builders.remove(name).map(|b| (name, b)))
        .map(|(name, b)| finish(name, b, format))
        .collect()
}

fn get<'a, 'm>(
    builders: &'m mut HashMap<&'a str, Builder<'a>>,
    order: &mut Vec<&'a str>,
    name: &'a str,
) -> &'m mut Builder<'a> {
    builders.entry(name).or_insert_with(|| {
        order.push(name);
        Builder::default()
    })
}

fn error(s: &ParsedSample<'_>, message: impl Into<String>) -> ParseError {
    ParseError {
        line: s.line,
        column: 1,
        message: message.into(),
    }
}

fn count(s: &ParsedSample<'_>) -> Result<u64, ParseError> {
    let v = s.value;
    if v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
        Ok(v as u64)
    } else {
        Err(error(s, format!("{}: {v} is not a count", s.name)))
    }
}

fn exemplar(s: &ParsedSample<'_>, e: &ParsedExemplar<'_>) -> Result<Exemplar, ParseError> {
    let pairs: Vec<_> = e.labels.iter().collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_ref())).collect();
    Ok(Exemplar {
        labels: LabelSet::from_pairs(s.name, &pairs).map_err(|err| error(s, err.to_string()))?,
        value: e.value,
        timestamp: e.timestamp.map(|t| t.as_seconds()),
    })
}

fn add_sample(
    b: &mut Builder<'_>,
    kind: ParsedType,
    s: &ParsedSample<'_>,
) -> Result<(), ParseError> {
    let suffix = s.name.strip_prefix(s.family).unwrap_or("");
    let special = match (kind, suffix) {
        (ParsedType::Histogram, "_bucket") => Some("le"),
        (ParsedType::Summary, "") => Some("quantile"),
        (ParsedType::StateSet, _) => Some(s.family),
        (ParsedType::GaugeHistogram, _) => {
            return Err(error(
                s,
                format!(
                    "gauge histogram {:?} has no place in the data model",
                    s.family
                ),
            ))
        }
        _ => None,
    };
    let all: Vec<_> = s.labels.iter().collect();
    let mut special_value = None;
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(all.len());
    for (name, value) in &all {
        if Some(*name) == special {
            special_value = Some(value.as_ref());
        } else {
            pairs.push((name, value.as_ref()));
        }
    }
    let labels = LabelSet::from_pairs(s.family, &pairs).map_err(|e| error(s, e.to_string()))?;
    let i = match b.index.get(&labels) {
        Some(&i) => i,
        None => {
            b.index.insert(labels.clone(), b.series.len());
            b.series.push(Series {
                labels: Some(labels),
                ..Series::default()
            });
            b.series.len() - 1
        }
    };
    let series = &mut b.series[i];
    if series.timestamp_ms.is_none() {
        if let Some(t) = s.timestamp {
            let ms = i64::try_from(t.as_millis())
                .map_err(|_| error(s, format!("{}: timestamp out of range", s.name)))?;
            series.timestamp_ms = Some(ms);
        }
    }
    let number = |text: Option<&str>| text.and_then(super::lex::parse_float);
    match (kind, suffix) {
        (_, "_created") => series.created = Some(s.value),
        (ParsedType::Histogram, "_bucket") => {
            let upper_bound = number(special_value)
                .ok_or_else(|| error(s, format!("{}: bucket without a numeric le", s.name)))?;
            let exemplar = s.exemplar.as_ref().map(|e| exemplar(s, e)).transpose()?;
            series.buckets.push(Bucket {
                upper_bound,
                cumulative_count: count(s)?,
                exemplar,
            });
        }
        (ParsedType::Histogram | ParsedType::Summary, "_count") => series.count = Some(count(s)?),
        (ParsedType::Histogram | ParsedType::Summary, "_sum") => series.sum = Some(s.value),
        (ParsedType::Summary, "") => {
            let q = number(special_value)
                .ok_or_else(|| error(s, format!("{}: quantile without a numeric value", s.name)))?;
            series.quantiles.push((q, s.value));
        }
        (ParsedType::StateSet, _) => {
            let state = special_value.ok_or_else(|| {
                error(
                    s,
                    format!("{}: state set sample without its state label", s.name),
                )
            })?;
            series.states.push((Arc::from(state), s.value != 0.0));
        }
        (ParsedType::Counter, _) => {
            series.value = Some(s.value);
            if let Some(e) = &s.exemplar {
                series.exemplar = Some(exemplar(s, e)?);
            }
        }
        _ => series.value = Some(s.value),
    }
    Ok(())
}

fn finish(name: &str, b: Builder<'_>, format: Format) -> Result<MetricFamily, ParseError> {
    let kind = b.kind.unwrap_or(ParsedType::Unknown);
    let metric_type = kind.metric_type().unwrap_or(MetricType::Unknown);
    let model_name = match (format, kind) {
        (Format::Text, ParsedType::Counter) => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    let mut family = MetricFamily::new(model_name, b.help.unwrap_or_default(), metric_type);
    family.unit = b.unit.filter(|u| !u.is_empty()).map(Arc::from);
    for series in b.series {
        let value = match metric_type {
            MetricType::Counter => Value::Counter {
                total: series.value.unwrap_or(0.0),
                created: series.created,
                exemplar: series.exemplar.map(Box::new),
            },
            MetricType::Gauge => Value::Gauge(series.value.unwrap_or(0.0)),
            MetricType::Unknown => Value::Unknown(series.value.unwrap_or(0.0)),
            MetricType::Info => Value::Info,
            MetricType::StateSet => Value::StateSet(series.states),
            MetricType::Histogram => {
                let inf = series.buckets.last().map_or(0, |b| b.cumulative_count);
                Value::Histogram(Box::new(HistogramValue {
                    count: series.count.unwrap_or(inf),
                    buckets: series.buckets,
                    sum: series.sum.unwrap_or(0.0),
                    created: series.created,
                }))
            }
            MetricType::Summary => Value::Summary(Box::new(SummaryValue {
                quantiles: series.quantiles,
                count: series.count.unwrap_or(0),
                sum: series.sum.unwrap_or(0.0),
                created: series.created,
            })),
        };
        let mut sample = Sample::new(series.labels.unwrap_or_else(LabelSet::empty), value);
        sample.timestamp_ms = series.timestamp_ms;
        family.samples.push(sample);
    }
    Ok(family)
}
