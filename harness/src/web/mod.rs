//! The harness's web page, server-rendered HTML with inline SVG (no script, nothing
//! loaded from elsewhere): every input is a form field in the query string.
//!
//! - `GET /`: the targets table (`targets.rs`; `?pool=JOB&health=up|down|unknown`)
//!   and the query box (`query.rs`; `?query=EXPR&range=5m&tab=graph|table`): a line
//!   graph over the range (one line per series, an end mark where a series went
//!   stale) or a table of the instant result.
//! - `GET /demo`: series lifetimes (`demo.rs`; `?metric=NAME&by=LABEL&range=5m&refresh=N`):
//!   one row per value of the `by` label (default `strategy`), one bar per series of
//!   `metric` (default `pipeline_step_duration_seconds`) from its first sample to its
//!   staleness marker, on one time axis; stale ends in red.
//!
//! Everything that comes from labels, targets or the request is HTML-escaped.
//!
//! ```
//! use promsdk_harness::web::esc;
//! assert_eq!(esc(r#"<script>alert("1")</script>"#), "&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt;");
//! ```

mod demo;
mod query;
mod svg;
mod targets;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::api::parse_form;
use crate::query::{Engine, EngineOpts};
use crate::scrape::{MemoryStore, ScrapeManager, WallClock};

/// What the page reads: the store (directly and through the query engine) and the
/// scrape manager. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Web {
    engine: Engine,
    store: MemoryStore,
    manager: ScrapeManager,
}

/// Request parameters (query string), first value wins.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }
}

impl Web {
    /// A page over `store` and `manager`, querying with `opts`.
    pub fn new(store: MemoryStore, manager: ScrapeManager, opts: EngineOpts) -> Self {
        Web {
            engine: Engine::new(store.clone(), opts),
            store,
            manager,
        }
    }

    /// Whether `path` is one of the page's.
    pub fn handles(path: &str) -> bool {
        matches!(path, "/" | "/demo")
    }

    /// Answers one request (`GET` or `HEAD`; others get 405).
    pub async fn respond<B>(&self, request: Request<B>) -> Response<Full<Bytes>> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return Response::builder()
                .status(StatusCode::METHOD_NOT_ALLOWED)
                .header(http::header::ALLOW, "GET, HEAD")
                .body(Full::new(Bytes::from_static(
                    b"Only GET or HEAD requests allowed\n",
                )))
                .unwrap_or_default();
        }
        let path = request.uri().path().to_owned();
        let params = Params(request.uri().query().map(parse_form).unwrap_or_default());
        let web = self.clone();
        // Queries hold the store's read lock and may take long: off the runtime.
        let html = tokio::task::spawn_blocking(move || web.render(&path, &params))
            .await
            .unwrap_or_else(|e| {
                page(
                    "Error",
                    "",
                    &format!("<p class=\"error\">{}</p>", esc(&e.to_string())),
                    None,
                )
            });
        Response::builder()
            .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'")
            .body(Full::new(Bytes::from(html)))
            .unwrap_or_default()
    }

    fn render(&self, path: &str, params: &Params) -> String {
        let now = WallClock::system().now_ms();
        if path == "/demo" {
            let refresh = params
                .get("refresh")
                .parse::<u32>()
                .ok()
                .filter(|r| (1..=3600).contains(r));
            let body = demo::render(&self.store, params, now);
            return page("Series lifetimes", "/demo", &body, refresh);
        }
        let mut body = targets::render(&self.manager.targets(), params, now);
        body.push_str(&query::render(&self.engine, params, now));
        page("promsdk-harness", "/", &body, None)
    }
}

/// `s` safe inside HTML text and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` as a query-string value.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `<select>` named `name` with `options` (value, text), `selected` chosen.
pub(crate) fn select(name: &str, options: &[(String, String)], selected: &str) -> String {
    let mut out = format!(r#"<select name="{}" id="{}">"#, esc(name), esc(name));
    for (value, text) in options {
        let sel = if value == selected { " selected" } else { "" };
        out.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(value),
            esc(text)
        ));
    }
    out.push_str("</select>");
    out
}

/// Hidden fields carrying `names` from `params` (so one form keeps the other's).
pub(crate) fn hidden(params: &Params, names: &[&str]) -> String {
    names
        .iter()
        .filter(|n| !params.get(n).is_empty())
        .map(|n| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                esc(n),
                esc(params.get(n))
            )
        })
        .collect()
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fff}\
header{background:#1d2b3a;color:#fff;padding:8px 16px;display:flex;gap:18px;align-items:baseline}\
header a{color:#cfe0f5;text-decoration:none}header a.active{color:#fff;font-weight:600}\
header .brand{font-weight:700;color:#fff}main{padding:8px 16px;max-width:1200px}\
h2{font-size:17px;margin:18px 0 6px}table{border-collapse:collapse;width:100%;margin:6px 0}\
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#f3f5f8;font-weight:600}td.labels span{display:inline-block;background:#eef2f7;\
border-radius:3px;padding:0 4px;margin:1px 2px;font:12px monospace}.health-up{color:#18794e;font-weight:600}\
.health-down{color:#c00;font-weight:600}.health-unknown{color:#888}form{margin:6px 0;display:flex;gap:8px;\
flex-wrap:wrap;align-items:center}input[type=text]{font:13px monospace;padding:4px;min-width:420px;flex:1}\
.error{color:#c00;background:#fff3f3;border:1px solid #f3c4c4;padding:6px}.legend{list-style:none;padding:0;\
margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font:12px monospace}.swatch{display:inline-block;\
width:12px;height:4px;margin-right:5px;vertical-align:middle}.note{color:#666;font-size:12px}\
svg text{font:11px system-ui,sans-serif;fill:#444}svg text.row-label{font-weight:600;fill:#1d2b3a}\
svg text.lane-label{font:11px monospace}";

/// The whole page: header with navigation, `body`, and a meta refresh every
/// `refresh` seconds if given.
fn page(title: &str, active: &str, body: &str, refresh: Option<u32>) -> String {
    let nav = [("/", "Targets & query"), ("/demo", "Series lifetimes")]
        .iter()
        .map(|(href, text)| {
            let class = if *href == active {
                " class=\"active\""
            } else {
                ""
            };
            format!("<a href=\"{href}\"{class}>{text}</a>")
        })
        .collect::<String>();
    let refresh = refresh.map_or(String::new(), |r| {
        format!("<meta http-equiv=\"refresh\" content=\"{r}\">")
    });
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}<title>{}</title><style>{STYLE}</style></head>\
         <body><header><span class=\"brand\">promsdk-harness</span>{nav}<a href=\"/api/v1/targets\">API</a><a href=\"/metrics\">/metrics</a></header>\
         <main>{body}</main></body></html>\n",
        esc(title)
    )
}

/// A duration as the page shows one (`5m`, `1h`, `30s`), from Prometheus's syntax;
/// `default` when absent or invalid.
pub(crate) fn range_param(params: &Params, default: i64) -> i64 {
    crate::config::parse_duration(params.get("range"))
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .filter(|ms| (1_000..=7 * 86_400_000).contains(ms))
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_encodes() {
        assert_eq!(esc("a&b'\""), "a&amp;b&#39;&quot;");
        assert_eq!(url_encode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
    }

    #[test]
    fn forms_keep_the_other_form_and_escape_values() {
        let params = Params(vec![
            ("query".into(), "up{a=\"<x>\"}".into()),
            ("pool".into(), String::new()),
        ]);
        let h = hidden(&params, &["query", "pool"]);
        assert_eq!(
            h,
            r#"<input type="hidden" name="query" value="up{a=&quot;&lt;x&gt;&quot;}">"#
        );
        let s = select(
            "health",
            &[("up".into(), "up".into()), ("<".into(), "<".into())],
            "<",
        );
        assert!(
            s.contains(r#"<option value="&lt;" selected>&lt;</option>"#),
            "{s}"
        );
    }

    #[tokio::test]
    async fn pages_are_html_without_scripts_and_only_read() {
        use crate::scrape::{FakeScraper, MemoryStore, ScrapeManager};
        use std::sync::Arc;
        use std::time::Duration;
        let store = MemoryStore::new(Duration::from_secs(60));
        let manager = ScrapeManager::new(Arc::new(FakeScraper::default()), Arc::new(store.clone()));
        let web = Web::new(store, manager, EngineOpts::default());
        let get = |uri: &str| Request::get(uri).body(()).unwrap();
        for uri in ["/", "/demo", "/?query=up&tab=table", "/demo?refresh=2"] {
            let response = web.respond(get(uri)).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            let headers = response.headers();
            assert_eq!(
                headers[http::header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert!(headers["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'none'"));
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            let html = String::from_utf8(body.to_vec()).unwrap();
            assert!(
                html.starts_with("<!DOCTYPE html>") && !html.contains("<script"),
                "{uri}"
            );
            assert_eq!(
                html.contains("http-equiv=\"refresh\" content=\"2\""),
                uri.contains("refresh"),
                "{uri}"
            );
        }
        let post = Request::post("/").body(()).unwrap();
        assert_eq!(
            web.respond(post).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert!(Web::handles("/") && Web::handles("/demo") && !Web::handles("/metrics"));
    }

    #[test]
    fn ranges_are_prometheus_durations_within_bounds() {
        let p = |v: &str| Params(vec![("range".into(), v.into())]);
        assert_eq!(range_param(&p("5m"), 1), 300_000);
        assert_eq!(range_param(&p("1h30m"), 1), 5_400_000);
        assert_eq!(range_param(&p("nope"), 7), 7);
        assert_eq!(range_param(&p("100ms"), 7), 7);
        assert_eq!(range_param(&p(""), 7), 7);
    }
}
