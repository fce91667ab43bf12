//! Comparing two Prometheus API answers: same status and `errorType` for errors; for
//! successes the same `resultType`, the same series (label sets), the same timestamps
//! and the same values (equal as strings, or as floats within 1e-9 relative; NaN
//! equals NaN, infinities by sign). Series order counts only for `sort`/`sort_desc`,
//! and then only as the order of values (ties may come in either order).

use std::collections::BTreeMap;

use serde_json::Value;

/// One HTTP answer of the query API.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`Value::Null` when the body is not JSON).
    pub json: Value,
}

impl Answer {
    /// `errorType` of an error answer.
    pub fn error_type(&self) -> Option<&str> {
        (self.json["status"] == "error").then(|| self.json["errorType"].as_str().unwrap_or(""))
    }

    /// The error message of an error answer.
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }

    /// Whether this is a successful answer.
    pub fn is_success(&self) -> bool {
        self.status == 200 && self.json["status"] == "success"
    }

    /// The answer on one line, for reports (long ones cut).
    pub fn short(&self) -> String {
        let text = format!("{} {}", self.status, self.json);
        if text.len() > 600 {
            let cut = (0..=600).rev().find(|&i| text.is_char_boundary(i)).unwrap();
            format!("{}…", &text[..cut])
        } else {
            text
        }
    }
}

/// Whether two sample values (as the API writes them) agree.
fn values_agree(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let (Some(a), Some(b)) = (a.as_str(), b.as_str()) else {
        return false;
    };
    let (Ok(x), Ok(y)) = (parse_value(a), parse_value(b)) else {
        return false;
    };
    if x.is_nan() || y.is_nan() {
        return x.is_nan() && y.is_nan();
    }
    if x.is_infinite() || y.is_infinite() {
        return x == y;
    }
    (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
}

fn parse_value(s: &str) -> Result<f64, std::num::ParseFloatError> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse(),
    }
}

/// Whether two `[timestamp, value]` points agree: timestamps exactly (to the
/// millisecond), values by [`values_agree`].
fn points_agree(a: &Value, b: &Value) -> bool {
    let ts = |p: &Value| p[0].as_f64().map(|t| (t * 1000.0).round() as i64);
    ts(a).is_some() && ts(a) == ts(b) && values_agree(&a[1], &b[1])
}

/// A result's series keyed by their label set, with the order of their values.
fn by_labels(result: &[Value]) -> Option<BTreeMap<String, &Value>> {
    let mut out = BTreeMap::new();
    for series in result {
        let labels: BTreeMap<&str, &str> = series["metric"]
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect::<Option<_>>()?;
        if out.insert(format!("{labels:?}"), series).is_some() {
            return None;
        }
    }
    Some(out)
}

/// Why answers `a` and `b` to `query` differ, or `None` when they agree.
pub fn difference(query: &str, a: &Answer, b: &Answer) -> Option<String> {
    if !a.is_success() || !b.is_success() {
        return (a.status != b.status || a.error_type() != b.error_type()).then(|| {
            format!(
                "status/errorType differ: {} {:?} vs {} {:?}",
                a.status,
                a.error_type(),
                b.status,
                b.error_type()
            )
        });
    }
    let (da, db) = (&a.json["data"], &b.json["data"]);
    if da["resultType"] != db["resultType"] {
        return Some("resultType differs".into());
    }
    match da["resultType"].as_str() {
        Some("scalar" | "string") => {
            (!points_agree(&da["result"], &db["result"])).then(|| "value differs".into())
        }
        Some(kind @ ("vector" | "matrix")) => {
            let (Some(ra), Some(rb)) = (da["result"].as_array(), db["result"].as_array()) else {
                return Some("result is not an array".into());
            };
            series_difference(query, kind, ra, rb)
        }
        other => Some(format!("unknown resultType {other:?}")),
    }
}

fn series_difference(query: &str, kind: &str, ra: &[Value], rb: &[Value]) -> Option<String> {
    let (Some(sa), Some(sb)) = (by_labels(ra), by_labels(rb)) else {
        return Some("malformed or duplicate label sets".into());
    };
    if sa.keys().ne(sb.keys()) {
        return Some("series (label sets) differ".into());
    }
    for (labels, x) in &sa {
        let y = sb[labels];
        let agree = if kind == "vector" {
            points_agree(&x["value"], &y["value"])
        } else {
            match (x["values"].as_array(), y["values"].as_array()) {
                (Some(p), Some(q)) => {
                    p.len() == q.len() && p.iter().zip(q).all(|(p, q)| points_agree(p, q))
                }
                _ => false,
            }
        };
        if !agree {
            return Some(format!("samples of {labels} differ"));
        }
    }
    let ordered = query.starts_with("sort(") || query.starts_with("sort_desc(");
    let order_agrees = || {
        ra.iter()
            .zip(rb)
            .all(|(x, y)| values_agree(&x["value"][1], &y["value"][1]))
    };
    (ordered && kind == "vector" && !order_agrees()).then(|| "order differs".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(data: Value) -> Answer {
        Answer {
            status: 200,
            json: json!({"status": "success", "data": data}),
        }
    }

    fn vector(points: &[(&str, &str)]) -> Answer {
        let result: Vec<Value> = points
            .iter()
            .map(|(l, v)| json!({"metric": {"l": l}, "value": [1.5, v]}))
            .collect();
        ok(json!({"resultType": "vector", "result": result}))
    }

    #[test]
    fn floats_agree_within_tolerance_and_specials_by_kind() {
        let q = "x";
        assert!(difference(
            q,
            &vector(&[("a", "1")]),
            &vector(&[("a", "1.0000000000001")])
        )
        .is_none());
        assert!(difference(q, &vector(&[("a", "1")]), &vector(&[("a", "1.00001")])).is_some());
        assert!(difference(q, &vector(&[("a", "NaN")]), &vector(&[("a", "NaN")])).is_none());
        assert!(difference(q, &vector(&[("a", "+Inf")]), &vector(&[("a", "-Inf")])).is_some());
        assert!(difference(q, &vector(&[("a", "NaN")]), &vector(&[("a", "0")])).is_some());
        assert!(difference(q, &vector(&[("a", "1")]), &vector(&[("b", "1")])).is_some());
        assert!(difference(q, &vector(&[("a", "1")]), &vector(&[])).is_some());
    }

    #[test]
    fn order_counts_only_for_sort() {
        let (x, y) = (
            vector(&[("a", "1"), ("b", "2")]),
            vector(&[("b", "2"), ("a", "1")]),
        );
        assert!(difference("sum(x)", &x, &y).is_none());
        assert!(difference("sort(x)", &x, &y).is_some());
    }

    #[test]
    fn errors_compare_by_type() {
        let error = |status, kind| Answer {
            status,
            json: json!({"status": "error", "errorType": kind, "error": "any"}),
        };
        assert!(difference("q", &error(400, "bad_data"), &error(400, "bad_data")).is_none());
        assert!(difference("q", &error(400, "bad_data"), &error(422, "execution")).is_some());
        assert!(difference("q", &error(400, "bad_data"), &vector(&[])).is_some());
    }
}
