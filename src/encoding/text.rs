//! The Prometheus text format 0.0.4, as Prometheus and client_golang read and write it.
//!
//! - `# HELP` escapes `\` and newline; label values escape `\`, `"` and newline.
//! - A counter family `foo` is written `# HELP foo_total`, `# TYPE foo_total counter`,
//!   `foo_total …`, as the Python client does, so the series name is the same as in
//!   OpenMetrics.
//! - Info family `foo` becomes gauge `foo_info{…} 1`; a state set becomes gauge
//!   `foo{…,foo="state"} 1|0`; unknown is `untyped`.
//! - `le` and `quantile` are written as client_golang writes them (`1`, `0.5`, `+Inf`,
//!   `1e+06`), so series match a Go exporter's label for label.
//! - No exemplars, units or `_created` samples; timestamps are milliseconds.

use crate::family::{MetricFamily, MetricType, Sample, Value};

use super::{family_lines, write_escaped, write_go_float, write_i64, write_series, Extra, Num};

/// Appends the text exposition of `families` to `buf`.
pub(crate) fn encode(families: &[MetricFamily], buf: &mut Vec<u8>) {
    for family in families {
        encode_family(family, buf);
    }
}

fn encode_family(family: &MetricFamily, buf: &mut Vec<u8>) {
    let name: &str = &family.name;
    let (meta_suffix, type_name) = match family.metric_type {
        MetricType::Counter => ("_total", "counter"),
        MetricType::Gauge => ("", "gauge"),
        MetricType::Histogram => ("", "histogram"),
        MetricType::Summary => ("", "summary"),
        MetricType::Info => ("_info", "gauge"),
        MetricType::StateSet => ("", "gauge"),
        MetricType::Unknown => ("", "untyped"),
    };
    if !family.help.is_empty() {
        buf.extend_from_slice(b"# HELP ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(meta_suffix.as_bytes());
        buf.push(b' ');
        write_escaped(buf, &family.help, false);
        buf.push(b'\n');
    }
    buf.extend_from_slice(b"# TYPE ");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(meta_suffix.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(type_name.as_bytes());
    buf.push(b'\n');
    // Left out: a value of another type, and a timestamp before 1970, which the text
    // format cannot carry (Prometheus reads only unsigned timestamps).
    let general = |sample: &Sample, buf: &mut Vec<u8>| {
        if sample.value.metric_type() == family.metric_type
            && sample.timestamp_ms.is_none_or(|ts| ts >= 0)
        {
            encode_sample(name, sample, buf);
        }
    };
    let counter = |v: &Value| match v {
        Value::Counter { total, .. } => Some(*total),
        _ => None,
    };
    family_lines(family, buf, counter, general);
}

fn encode_sample(name: &str, sample: &Sample, buf: &mut Vec<u8>) {
    let mut line = |suffix: &str, extra: Extra<'_>, value: Num| {
        write_series(buf, name, suffix, &sample.labels, extra, write_go_float);
        buf.push(b' ');
        value.write(buf);
        if let Some(ts) = sample.timestamp_ms {
            buf.push(b' ');
            write_i64(buf, ts);
        }
        buf.push(b'\n');
    };
    match &sample.value {
        Value::Counter { total, .. } => line("_total", Extra::None, Num::Float(*total)),
        Value::Gauge(v) | Value::Unknown(v) => line("", Extra::None, Num::Float(*v)),
        Value::Info => line("_info", Extra::None, Num::Int(1)),
        Value::StateSet(states) => {
            for (state, on) in states {
                line("", Extra::Text(name, state), Num::Int(u64::from(*on)));
            }
        }
        Value::Histogram(h) => {
            for bucket in &h.buckets {
                let extra = Extra::Number("le", bucket.upper_bound);
                line("_bucket", extra, Num::Int(bucket.cumulative_count));
            }
            if h.buckets
                .last()
                .is_none_or(|b| b.upper_bound != f64::INFINITY)
            {
                line(
                    "_bucket",
                    Extra::Number("le", f64::INFINITY),
                    Num::Int(h.count),
                );
            }
            line("_sum", Extra::None, Num::Float(h.sum));
            line("_count", Extra::None, Num::Int(h.count));
        }
        Value::Summary(s) => {
            for &(q, v) in &s.quantiles {
                line("", Extra::Number("quantile", q), Num::Float(v));
            }
            line("_sum", Extra::None, Num::Float(s.sum));
            line("_count", Extra::None, Num::Int(s.count));
        }
    }
}
