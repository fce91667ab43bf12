//! OpenMetrics 1.0.0 text.
//!
//! - Metadata in the order the spec recommends: `# TYPE`, `# UNIT` (only when the family
//!   has a unit its name ends with, and never for info or state sets), `# HELP` (escapes
//!   `\`, `"` and newline; left out when empty, which the spec treats the same).
//! - Counter `foo`: `foo_total`, then `foo_created` when the value carries a creation
//!   time. Histograms: `_bucket{le=…}`, `_sum`, `_count`, `_created`; summaries:
//!   `{quantile=…}`, `_sum`, `_count`, `_created`. Info `foo_info{…} 1`; state set
//!   `foo{…,foo="state"} 1|0`; unknown as `unknown`.
//! - `le` and `quantile` use canonical numbers (`1.0`, `0.5`, `1e+06`, `+Inf`).
//! - Exemplars (` # {trace_id="x"} 1.0 1700000000.123`) only on counter `_total` and
//!   histogram `_bucket` lines, and only when their labels fit the spec's 128
//!   characters. The recording APIs already refuse a longer exemplar and a registry
//!   gather removes and reports a hand-built one (a custom collector's const sample);
//!   this check is the last line of defence for families that skipped the gather.
//! - Timestamps in seconds; `# EOF` ends the exposition.

use crate::family::{Exemplar, MetricFamily, MetricType, Sample, Value};

use super::{
    family_lines, write_canonical_float, write_escaped, write_f64, write_labels,
    write_ms_as_seconds, write_series, Extra, Num,
};

/// Appends the OpenMetrics exposition of `families`, ending with `# EOF`, to `buf`.
pub(crate) fn encode(families: &[MetricFamily], buf: &mut Vec<u8>) {
    for family in families {
        encode_family(family, buf);
    }
    buf.extend_from_slice(b"# EOF\n");
}

fn encode_family(family: &MetricFamily, buf: &mut Vec<u8>) {
    let name: &str = &family.name;
    buf.extend_from_slice(b"# TYPE ");
    buf.extend_from_slice(name.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(family.metric_type.as_openmetrics_str().as_bytes());
    buf.push(b'\n');
    if let Some(unit) = family.unit.as_deref() {
        let allowed = !matches!(family.metric_type, MetricType::Info | MetricType::StateSet);
        let suffixed = name
            .strip_suffix(unit)
            .is_some_and(|rest| rest.ends_with('_'));
        if allowed && !unit.is_empty() && suffixed {
            buf.extend_from_slice(b"# UNIT ");
            buf.extend_from_slice(name.as_bytes());
            buf.push(b' ');
            buf.extend_from_slice(unit.as_bytes());
            buf.push(b'\n');
        }
    }
    if !family.help.is_empty() {
        buf.extend_from_slice(b"# HELP ");
        buf.extend_from_slice(name.as_bytes());
        buf.push(b' ');
        write_escaped(buf, &family.help, true);
        buf.push(b'\n');
    }
    // Left out: a value of another type.
    let general = |sample: &Sample, buf: &mut Vec<u8>| {
        if sample.value.metric_type() == family.metric_type {
            encode_sample(name, sample, buf);
        }
    };
    // Counters with a creation time or an exemplar take more than one plain line.
    let counter = |v: &Value| match v {
        Value::Counter {
            total,
            created: None,
            exemplar: None,
        } => Some(*total),
        _ => None,
    };
    family_lines(family, buf, counter, general);
}

fn encode_sample(name: &str, sample: &Sample, buf: &mut Vec<u8>) {
    let mut line = |suffix: &str, extra: Extra<'_>, value: Num, exemplar: Option<&Exemplar>| {
        write_series(
            buf,
            name,
            suffix,
            &sample.labels,
            extra,
            write_canonical_float,
        );
        buf.push(b' ');
        value.write(buf);
        if let Some(ts) = sample.timestamp_ms {
            buf.push(b' ');
            write_ms_as_seconds(buf, ts);
        }
        if let Some(e) = exemplar.filter(|e| Exemplar::fits(&e.labels)) {
            buf.extend_from_slice(b" # ");
            if e.labels.is_empty() {
                buf.extend_from_slice(b"{}");
            } else {
                write_labels(buf, &e.labels, Extra::None, write_canonical_float);
            }
            buf.push(b' ');
            write_f64(buf, e.value);
            if let Some(ts) = e.timestamp {
                buf.push(b' ');
                write_f64(buf, ts);
            }
        }
        buf.push(b'\n');
    };
    match &sample.value {
        Value::Counter {
            total,
            created,
            exemplar,
        } => {
            line(
                "_total",
                Extra::None,
                Num::Float(*total),
                exemplar.as_deref(),
            );
            if let Some(c) = created {
                line("_created", Extra::None, Num::Float(*c), None);
            }
        }
        Value::Gauge(v) | Value::Unknown(v) => line("", Extra::None, Num::Float(*v), None),
        Value::Info => line("_info", Extra::None, Num::Int(1), None),
        Value::StateSet(states) => {
            for (state, on) in states {
                let extra = Extra::Text(name, state);
                line("", extra, Num::Int(u64::from(*on)), None);
            }
        }
        Value::Histogram(h) => {
            for b in &h.buckets {
                let extra = Extra::Number("le", b.upper_bound);
                line(
                    "_bucket",
                    extra,
                    Num::Int(b.cumulative_count),
                    b.exemplar.as_ref(),
                );
            }
            if h.buckets
                .last()
                .is_none_or(|b| b.upper_bound != f64::INFINITY)
            {
                let extra = Extra::Number("le", f64::INFINITY);
                line("_bucket", extra, Num::Int(h.count), None);
            }
            line("_sum", Extra::None, Num::Float(h.sum), None);
            line("_count", Extra::None, Num::Int(h.count), None);
            if let Some(c) = h.created {
                line("_created", Extra::None, Num::Float(c), None);
            }
        }
        Value::Summary(s) => {
            for &(q, v) in &s.quantiles {
                line("", Extra::Number("quantile", q), Num::Float(v), None);
            }
            line("_sum", Extra::None, Num::Float(s.sum), None);
            line("_count", Extra::None, Num::Int(s.count), None);
            if let Some(c) = s.created {
                line("_created", Extra::None, Num::Float(c), None);
            }
        }
    }
}
