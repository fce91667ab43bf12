//! The query endpoints of the HTTP API with Prometheus 2.42's parameters, errors and
//! JSON, byte for byte: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//! `/api/v1/labels` and `/api/v1/label/NAME/values`. Bodies are written here rather
//! than through serde so that numbers and escapes come out as Go writes them
//! (timestamps `1.500`, values `"1e-07"`, `<` as `\u003c`).

use std::fmt::Write as _;
use std::time::Duration;

use http::StatusCode;

use crate::config::parse_duration;
use crate::query::{format_value, Engine, QueryError, QueryValue, Selector, Series};
use crate::time::parse_time;
use promsdk::labels::{is_valid_label_name, LabelSet};

/// Request parameters in the order Go's `r.Form` holds them (form body first).
pub(crate) type Params = Vec<(String, String)>;

/// An API error: status code, Prometheus's `errorType` and message.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

pub(crate) fn bad_data(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        kind: "bad_data",
        message: message.into(),
    }
}

fn invalid_param(name: &str, message: impl std::fmt::Display) -> ApiError {
    bad_data(format!("invalid parameter {name:?}: {message}"))
}

/// How a failed evaluation is reported (`returnAPIError`).
fn exec_error(e: QueryError) -> ApiError {
    let status = match e.error_type() {
        "timeout" => StatusCode::SERVICE_UNAVAILABLE,
        "bad_data" => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError {
        status,
        kind: e.error_type(),
        message: e.to_string(),
    }
}

/// The first value of `name` (empty when absent), as Go's `FormValue`.
fn form_value<'a>(params: &'a Params, name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// `/api/v1/query`: `data` of the response.
pub(crate) fn query(engine: &Engine, params: &Params, now_ms: i64) -> Result<String, ApiError> {
    let t = time_param(params, "time")?.unwrap_or(now_ms);
    let timeout = timeout_param(params)?;
    let q = form_value(params, "query");
    let value = engine.instant(q, t, timeout).map_err(|e| match e {
        QueryError::Parse(_) | QueryError::Unsupported(_) => invalid_param("query", &e),
        other => exec_error(other),
    })?;
    let mut out = format!("{{\"resultType\":\"{}\",\"result\":", value.result_type());
    match &value {
        QueryValue::Vector(v) => {
            out.push('[');
            for (i, s) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"value\":");
                write_point(&mut out, t, s.value);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(m) => write_matrix(&mut out, m),
        QueryValue::Scalar(v) => {
            let _ = write!(out, "[{},", go_json_float(t as f64 / 1000.0));
            write_str(&mut out, &crate::query::format_f(*v));
            out.push(']');
        }
        QueryValue::String(s) => {
            let _ = write!(out, "[{},", go_json_float(t as f64 / 1000.0));
            write_str(&mut out, s);
            out.push(']');
        }
    }
    out.push('}');
    Ok(out)
}

/// `/api/v1/query_range`: `data` of the response.
pub(crate) fn query_range(engine: &Engine, params: &Params) -> Result<String, ApiError> {
    let parse = |name: &str| {
        let v = form_value(params, name);
        parse_time(v)
            .ok_or_else(|| invalid_param(name, format!("cannot parse {v:?} to a valid timestamp")))
    };
    let start = parse("start")?;
    let end = parse("end")?;
    if end < start {
        return Err(invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns = duration_ns(form_value(params, "step")).map_err(|m| invalid_param("step", m))?;
    if step_ns <= 0 {
        return Err(invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if i128::from(end - start) * 1_000_000 / step_ns > 11_000 {
        return Err(bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let timeout = timeout_param(params)?;
    let step = Duration::from_nanos(u64::try_from(step_ns).unwrap_or(u64::MAX));
    let matrix = engine
        .range(form_value(params, "query"), start, end, step, timeout)
        .map_err(|e| match e {
            QueryError::Parse(_) | QueryError::Unsupported(_) | QueryError::BadRequest(_) => {
                bad_data(e.to_string())
            }
            other => exec_error(other),
        })?;
    let mut out = String::from("{\"resultType\":\"matrix\",\"result\":");
    write_matrix(&mut out, &matrix);
    out.push('}');
    Ok(out)
}

/// `/api/v1/series`: `data` of the response.
pub(crate) fn series(engine: &Engine, params: &Params) -> Result<String, ApiError> {
    let raw: Vec<&str> = match_params(params);
    if raw.is_empty() {
        return Err(bad_data("no match[] parameter provided"));
    }
    let (start, end) = time_range(params)?;
    let selectors = selectors(&raw).map_err(|e| invalid_param("match[]", e))?;
    let found = engine.series(&selectors, start, end);
    let mut out = String::from("[");
    for (i, labels) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_labels(&mut out, labels);
    }
    out.push(']');
    Ok(out)
}

/// `/api/v1/labels`: `data` of the response.
pub(crate) fn labels(engine: &Engine, params: &Params) -> Result<String, ApiError> {
    let (start, end) = time_range(params)?;
    let selectors = selectors(&match_params(params)).map_err(|e| bad_data(e.to_string()))?;
    Ok(string_array(&engine.label_names(&selectors, start, end)))
}

/// `/api/v1/label/NAME/values`: `data` of the response.
pub(crate) fn label_values(
    engine: &Engine,
    name: &str,
    params: &Params,
) -> Result<String, ApiError> {
    if !is_valid_label_name(name) {
        return Err(bad_data(format!("invalid label name: {name:?}")));
    }
    let (start, end) = time_range(params)?;
    let selectors = selectors(&match_params(params)).map_err(|e| bad_data(e.to_string()))?;
    Ok(string_array(
        &engine.label_values(name, &selectors, start, end),
    ))
}

fn match_params(params: &Params) -> Vec<&str> {
    params
        .iter()
        .filter(|(k, _)| k == "match[]")
        .map(|(_, v)| v.as_str())
        .collect()
}

fn selectors(raw: &[&str]) -> Result<Vec<Selector>, QueryError> {
    raw.iter().map(|s| s.parse()).collect()
}

/// `start` and `end` of the series and label endpoints (unbounded by default).
fn time_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let start = time_param(params, "start")?.unwrap_or(i64::MIN);
    let end = time_param(params, "end")?.unwrap_or(i64::MAX);
    Ok((start, end))
}

/// An optional time parameter (`parseTimeParam`).
fn time_param(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match form_value(params, name) {
        "" => Ok(None),
        v => parse_time(v).map(Some).ok_or_else(|| {
            invalid_param(
                name,
                format!("Invalid time value for '{name}': cannot parse {v:?} to a valid timestamp"),
            )
        }),
    }
}

fn timeout_param(params: &Params) -> Result<Option<Duration>, ApiError> {
    match form_value(params, "timeout") {
        "" => Ok(None),
        v => {
            let ns = duration_ns(v).map_err(|m| invalid_param("timeout", m))?;
            Ok(Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(0))))
        }
    }
}

/// A duration in nanoseconds as Prometheus's API reads one: float seconds (negative
/// allowed) or a Prometheus duration (`1m30s`).
fn duration_ns(s: &str) -> Result<i128, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let ns = secs * 1e9;
        if !(-9.223_372_036_854_776e18..=9.223_372_036_854_776e18).contains(&ns) {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ns as i128);
    }
    parse_duration(s)
        .map(|d| d.as_nanos() as i128)
        .ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

fn write_matrix(out: &mut String, m: &[Series]) {
    out.push('[');
    for (i, s) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        write_labels(out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, &(t, v)) in s.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(out, t, v);
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// `[ts,"value"]` as Prometheus's `marshalPointJSON` writes it.
fn write_point(out: &mut String, t_ms: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t_ms);
    out.push_str(",\"");
    out.push_str(&format_value(v));
    out.push_str("\"]");
}

/// Milliseconds as seconds with the fraction written only when not zero, always
/// with three digits (`1.500`), as `jsonutil.MarshalTimestamp`.
pub(crate) fn write_timestamp(out: &mut String, t_ms: i64) {
    let t = i128::from(t_ms);
    if t < 0 {
        out.push('-');
    }
    let t = t.abs();
    let _ = write!(out, "{}", t / 1000);
    if t % 1000 != 0 {
        let _ = write!(out, ".{:03}", t % 1000);
    }
}

/// A float as Go's `encoding/json` writes one.
fn go_json_float(v: f64) -> String {
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes e-07 as e-7 here.
        let s = format_value(v);
        s.replace("e-0", "e-").replace("e+0", "e+")
    } else {
        format!("{v}")
    }
}

/// A label set as a JSON object (keys sorted, as Go marshals a map).
pub(crate) fn write_labels(out: &mut String, labels: &LabelSet) {
    out.push('{');
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, n);
        out.push(':');
        write_str(out, v);
    }
    out.push('}');
}

fn string_array(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, s);
    }
    out.push(']');
    out
}

/// A JSON string escaped as Go's `encoding/json` does (HTML characters and U+2028,
/// U+2029 as `\u` escapes).
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_strings_are_written_as_prometheus_does() {
        for (ms, want) in [
            (1_500, "1.500"),
            (1_000, "1"),
            (1_005, "1.005"),
            (-1_050, "-1.050"),
            (0, "0"),
        ] {
            let mut s = String::new();
            write_timestamp(&mut s, ms);
            assert_eq!(s, want);
        }
        let mut s = String::new();
        write_str(&mut s, "a\"<b>&\u{1}\n");
        assert_eq!(s, r#""a\"\u003cb\u003e\u0026\u0001\n""#);
        assert_eq!(go_json_float(1.5), "1.5");
        assert_eq!(go_json_float(1e-7), "1e-7");
    }

    #[test]
    fn durations_read_as_float_seconds_or_prometheus_durations() {
        assert_eq!(duration_ns("1.5"), Ok(1_500_000_000));
        assert_eq!(duration_ns("-1"), Ok(-1_000_000_000));
        assert_eq!(duration_ns("1m30s"), Ok(90_000_000_000));
        assert!(duration_ns("soon").is_err());
        assert!(duration_ns("1e300").unwrap_err().contains("overflows"));
    }
}
