//! The harness's HTTP API, a subset of Prometheus's with its JSON shapes: the query
//! endpoints of the `query_api` module (`/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/NAME/values`) and
//! `/api/v1/targets`. Parameters come from the query string or, for POST, a form body
//! (promtool POSTs), the body's values first as in Go's `r.Form`.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{json, Map, Value};

use crate::query::{Engine, EngineOpts};
use crate::query_api::{self, bad_data, write_str, ApiError, Params};
use crate::scrape::{MemoryStore, ScrapeManager, TargetStatus, WallClock};
use promsdk::labels::LabelSet;

use crate::config::format_duration;
use crate::time::format_rfc3339;

/// The largest request body read (form parameters).
const MAX_FORM_BYTES: usize = 1 << 20;

/// What the API reads: the store (through the query engine) and the scrape manager.
#[derive(Clone, Debug)]
pub struct Api {
    engine: Engine,
    manager: ScrapeManager,
}

impl Api {
    /// An API over `store` and `manager` with Prometheus's default query options.
    pub fn new(store: MemoryStore, manager: ScrapeManager) -> Self {
        Self::with_query_opts(store, manager, EngineOpts::default())
    }

    /// An API over `store` and `manager` whose queries run with `opts`.
    pub fn with_query_opts(store: MemoryStore, manager: ScrapeManager, opts: EngineOpts) -> Self {
        Api {
            engine: Engine::new(store, opts),
            manager,
        }
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
            Ok((path, params)) => self.route(path, params).await,
            Err(e) => Err(e),
        };
        let (status, body) = match result {
            Ok(data) => (
                StatusCode::OK,
                format!("{{\"status\":\"success\",\"data\":{data}}}"),
            ),
            Err(e) => {
                let mut body = format!(
                    "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":",
                    e.kind
                );
                write_str(&mut body, &e.message);
                body.push('}');
                (e.status, body)
            }
        };
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    }

    async fn params<B>(&self, request: Request<B>) -> Result<(String, Params), ApiError>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (head, body) = request.into_parts();
        let mut params = Params::new();
        if head.method == Method::POST {
            let bytes = Limited::new(body, MAX_FORM_BYTES)
                .collect()
                .await
                .map_err(|e| bad_data(format!("error parsing form values: {e}")))?
                .to_bytes();
            params = parse_form(&String::from_utf8_lossy(&bytes));
        } else if head.method != Method::GET {
            return Err(ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                kind: "bad_data",
                message: format!("method {} not allowed", head.method),
            });
        }
        params.extend(head.uri.query().map(parse_form).unwrap_or_default());
        Ok((head.uri.path().to_owned(), params))
    }

    async fn route(&self, path: String, params: Params) -> Result<String, ApiError> {
        if path == "/api/v1/targets" {
            return Ok(self.targets(&params).to_string());
        }
        let engine = self.engine.clone();
        let label = path
            .strip_prefix("/api/v1/label/")
            .and_then(|rest| rest.strip_suffix("/values"))
            .map(str::to_owned);
        let run = move || match (path.as_str(), label) {
            ("/api/v1/query", _) => {
                query_api::query(&engine, &params, WallClock::system().now_ms())
            }
            ("/api/v1/query_range", _) => query_api::query_range(&engine, &params),
            ("/api/v1/series", _) => query_api::series(&engine, &params),
            ("/api/v1/labels", _) => query_api::labels(&engine, &params),
            (_, Some(name)) => query_api::label_values(&engine, &name, &params),
            _ => Err(ApiError {
                status: StatusCode::NOT_FOUND,
                kind: "not_found",
                message: format!("unknown endpoint {path}"),
            }),
        };
        // Evaluation holds the store's read lock and may take long: off the runtime.
        tokio::task::spawn_blocking(run).await.unwrap_or_else(|e| {
            Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "internal",
                message: format!("query evaluation failed: {e}"),
            })
        })
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

fn metric(labels: &LabelSet) -> Value {
    let map: Map<String, Value> = labels
        .iter()
        .map(|(n, v)| (n.to_owned(), Value::from(v)))
        .collect();
    Value::Object(map)
}

fn target_json(s: &TargetStatus) -> Value {
    let url = s.target.url();
    let (interval, timeout) = (
        s.target.interval().unwrap_or(s.interval),
        s.target.timeout().unwrap_or(s.timeout),
    );
    // A target built from parts has no discovered labels: its labels stand in.
    let discovered = match s.target.discovered_labels() {
        d if d.is_empty() => metric(s.target.labels()),
        d => metric(&d),
    };
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
        "scrapeInterval": format_duration(interval),
        "scrapeTimeout": format_duration(timeout),
    })
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
pub(crate) fn parse_form(s: &str) -> Params {
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
