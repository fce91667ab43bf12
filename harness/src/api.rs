//! The harness's HTTP API, a subset of Prometheus's with its JSON shapes:
//! `/api/v1/query` (selector only; `time` as Unix seconds or RFC 3339),
//! `/api/v1/query_range` (`start`, `end`, `step` as seconds or a duration),
//! `/api/v1/series` (`match[]`, `start`, `end`) and `/api/v1/targets`. Parameters come
//! from the query string or, for POST, a form body (promtool POSTs).

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{json, Map, Value};

use crate::scrape::{
    instant_query, range_query, series_query, MemoryStore, ScrapeManager, Selector, TargetStatus,
    WallClock,
};
use promsdk::labels::LabelSet;

use crate::config::parse_duration;
use crate::time::{format_rfc3339, parse_time};

/// The largest request body read (form parameters).
const MAX_FORM_BYTES: usize = 1 << 20;

/// What the API reads: the store and the scrape manager.
#[derive(Clone, Debug)]
pub struct Api {
    store: MemoryStore,
    manager: ScrapeManager,
}

type Params = Vec<(String, String)>;

struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

fn bad_data(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        kind: "bad_data",
        message: message.into(),
    }
}

impl Api {
    /// An API over `store` and `manager`.
    pub fn new(store: MemoryStore, manager: ScrapeManager) -> Self {
        Api { store, manager }
    }

    /// Whether `path` is one of the API's.
    pub fn handles(path: &str) -> bool {
        path.starts_with("/api/v1/")
    }

    /// Answers one request.
    pub async fn respond<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let result = match self.params(request).await {
            Ok((path, params)) => self.route(&path, &params),
            Err(e) => Err(e),
        };
        let (status, body) = match result {
            Ok(data) => (StatusCode::OK, json!({"status": "success", "data": data})),
            Err(e) => (
                e.status,
                json!({"status": "error", "errorType": e.kind, "error": e.message}),
            ),
        };
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap_or_default()
    }

    async fn params<B>(&self, request: Request<B>) -> Result<(String, Params), ApiError>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (head, body) = request.into_parts();
        let mut params = head.uri.query().map(parse_form).unwrap_or_default();
        if head.method == Method::POST {
            let bytes = Limited::new(body, MAX_FORM_BYTES)
                .collect()
                .await
                .map_err(|e| bad_data(format!("reading the form body: {e}")))?
                .to_bytes();
            params.extend(parse_form(&String::from_utf8_lossy(&bytes)));
        } else if head.method != Method::GET {
            return Err(ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                kind: "bad_data",
                message: format!("method {} not allowed", head.method),
            });
        }
        Ok((head.uri.path().to_owned(), params))
    }

    fn route(&self, path: &str, params: &Params) -> Result<Value, ApiError> {
        match path {
            "/api/v1/query" => self.query(params),
            "/api/v1/query_range" => self.query_range(params),
            "/api/v1/series" => self.series(params),
            "/api/v1/targets" => Ok(self.targets(params)),
            _ => Err(ApiError {
                status: StatusCode::NOT_FOUND,
                kind: "not_found",
                message: format!("unknown endpoint {path}"),
            }),
        }
    }

    fn query(&self, params: &Params) -> Result<Value, ApiError> {
        let selector = selector(required(params, "query")?)?;
        let t = time_param(params, "time")?.unwrap_or_else(|| WallClock::system().now_ms());
        let result: Vec<Value> = instant_query(&self.store, &selector, t)
            .into_iter()
            .map(|(labels, (_, v))| json!({"metric": metric(&labels), "value": point(t, v)}))
            .collect();
        Ok(json!({"resultType": "vector", "result": result}))
    }

    fn query_range(&self, params: &Params) -> Result<Value, ApiError> {
        let selector = selector(required(params, "query")?)?;
        let start = time_param(params, "start")?.ok_or_else(|| bad_data("missing start"))?;
        let end = time_param(params, "end")?.ok_or_else(|| bad_data("missing end"))?;
        let step = required(params, "step")?;
        let step = parse_step(step).ok_or_else(|| bad_data(format!("invalid step {step:?}")))?;
        let result: Vec<Value> = range_query(&self.store, &selector, start, end, step)
            .map_err(|e| bad_data(e.to_string()))?
            .into_iter()
            .map(|(labels, points)| {
                let values: Vec<Value> = points.iter().map(|&(t, v)| point(t, v)).collect();
                json!({"metric": metric(&labels), "values": values})
            })
            .collect();
        Ok(json!({"resultType": "matrix", "result": result}))
    }

    fn series(&self, params: &Params) -> Result<Value, ApiError> {
        let selectors = params
            .iter()
            .filter(|(k, _)| k == "match[]")
            .map(|(_, v)| selector(v))
            .collect::<Result<Vec<_>, _>>()?;
        if selectors.is_empty() {
            return Err(bad_data("no match[] parameter provided"));
        }
        let start = time_param(params, "start")?.unwrap_or(i64::MIN);
        let end = time_param(params, "end")?.unwrap_or(i64::MAX);
        let found = series_query(&self.store, &selectors, start, end);
        Ok(Value::Array(found.iter().map(metric).collect()))
    }

    /// `?state=active|dropped|any` (default any; anything else shows neither), as
    /// Prometheus.
    fn targets(&self, params: &Params) -> Value {
        let state = params
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let any = state.is_empty() || state == "any";
        let active: Vec<Value> = if any || state == "active" {
            self.manager.targets().iter().map(target_json).collect()
        } else {
            Vec::new()
        };
        let dropped: Vec<Value> = if any || state == "dropped" {
            self.manager
                .dropped_targets()
                .iter()
                .map(|(_, labels)| json!({ "discoveredLabels": metric(labels) }))
                .collect()
        } else {
            Vec::new()
        };
        json!({"activeTargets": active, "droppedTargets": dropped})
    }
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| bad_data(format!("missing {name}")))
}

fn selector(q: &str) -> Result<Selector, ApiError> {
    q.parse()
        .map_err(|e: crate::scrape::QueryError| bad_data(e.to_string()))
}

fn time_param(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => parse_time(v).map(Some).ok_or_else(|| {
            bad_data(format!(
                "invalid parameter {name:?}: cannot parse {v:?} to a valid timestamp"
            ))
        }),
    }
}

fn parse_step(s: &str) -> Option<Duration> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs));
    }
    parse_duration(s)
}

fn metric(labels: &LabelSet) -> Value {
    let map: Map<String, Value> = labels
        .iter()
        .map(|(n, v)| (n.to_owned(), Value::from(v)))
        .collect();
    Value::Object(map)
}

/// `[seconds, "value"]` as Prometheus writes a sample.
fn point(t_ms: i64, v: f64) -> Value {
    json!([t_ms as f64 / 1000.0, format_value(v)])
}

/// A value as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it, with Prometheus's
/// spellings of the special values.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// A duration as Prometheus prints one (`1m30s`, `500ms`, `0s`).
fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            let _ = write!(out, "{}{unit}", ms / size);
            ms %= size;
        }
    }
    out
}

fn target_json(s: &TargetStatus) -> Value {
    let url = s.target.url();
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (address, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let mut discovered = metric(s.target.labels());
    if let Value::Object(map) = &mut discovered {
        map.insert("__address__".into(), address.into());
        map.insert("__metrics_path__".into(), path.into());
        map.insert("__scheme__".into(), scheme.into());
        map.insert(
            "__scrape_interval__".into(),
            format_duration(s.interval).into(),
        );
        map.insert(
            "__scrape_timeout__".into(),
            format_duration(s.timeout).into(),
        );
    }
    json!({
        "discoveredLabels": discovered,
        "labels": metric(s.target.labels()),
        "scrapePool": s.job,
        "scrapeUrl": url,
        "globalUrl": url,
        "lastError": s.last_error,
        "lastScrape": s.last_scrape_ms.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), format_rfc3339),
        "lastScrapeDuration": s.last_duration.as_secs_f64(),
        "health": s.health.as_str(),
        "scrapeInterval": format_duration(s.interval),
        "scrapeTimeout": format_duration(s.timeout),
    })
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
fn parse_form(s: &str) -> Params {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
