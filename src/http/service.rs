//! [`MetricsService`]: answers one `/metrics` request, as promhttp's `HandlerFor`
//! wrapped in `InstrumentMetricHandler` does.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{request, Method, Request, Response, StatusCode};
use http_body_util::Full;
use parking_lot::Mutex;
use tokio::sync::Semaphore;

use super::compress::{gzip, wants_gzip};
use super::gather::Gatherer;
use super::instrument::HandlerMetrics;
use super::opts::{ErrorPolicy, ServeOpts};
use super::query::selected_names;
use crate::encoding::{encode, negotiate, Format};
use crate::error::Result;
use crate::family::{MetricFamily, MetricType};
use crate::registry::Registry;

/// The response body: the whole exposition, ready to send.
pub type Body = Full<Bytes>;

/// The future a [`MetricsService`] call returns.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// How many idle encode buffers are kept for reuse.
const SPARE_BUFFERS: usize = 8;

/// A hyper (and tower) service answering scrapes of one registry, or of several merged
/// into one exposition. Mount it on any path of a hyper or axum server; clones share
/// everything (limits, buffers, the coalesced gather).
///
/// - `GET` and `HEAD` (headers only) are answered; other methods get `405`. The path
///   is not looked at, and request bodies are never read.
/// - The format is negotiated from `Accept` as client_golang does ([`negotiate`]), or
///   fixed by [`ServeOpts::format`]; the body is gzipped when `Accept-Encoding` allows.
/// - `name[]` query parameters select families by name (client_golang 1.24): a counter
///   matches its name with or without `_total`, an info family with or without `_info`.
/// - Limits and the error policy come from [`ServeOpts`].
///
/// ```
/// use http::Request;
/// use http_body_util::BodyExt;
/// use hyper::service::Service;
/// use promsdk::http::{MetricsService, ServeOpts};
/// use promsdk::{Gauge, Opts, Registry};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let registry = Registry::new();
/// let up = Gauge::default();
/// up.set(1.0);
/// registry.register_metric(Opts::new("up", "Up."), up).unwrap();
/// let service = MetricsService::new(registry, ServeOpts::default().instrument(false)).unwrap();
///
/// let response = service.call(Request::get("/metrics").body(()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), 200);
/// let body = response.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(&body[..], b"# HELP up Up.\n# TYPE up gauge\nup 1.0\n");
/// # });
/// ```
#[derive(Clone)]
pub struct MetricsService {
    inner: Arc<Inner>,
}

struct Inner {
    gatherer: Arc<Gatherer>,
    opts: ServeOpts,
    in_flight: Option<Arc<Semaphore>>,
    metrics: Option<HandlerMetrics>,
    buffers: Mutex<Vec<Vec<u8>>>,
}

impl MetricsService {
    /// Serves `registry`. Fails only when the handler's own metrics
    /// ([`ServeOpts::instrument`]) conflict with a different metric already registered
    /// under their names; a second service on the same registry shares them.
    pub fn new(registry: Registry, opts: ServeOpts) -> Result<Self> {
        Self::merged(vec![registry], opts)
    }

    /// Serves several registries as one exposition (merged like
    /// [`gather_all`](crate::gather_all)); the handler's own metrics go to the first.
    pub fn merged(registries: Vec<Registry>, opts: ServeOpts) -> Result<Self> {
        let metrics = match (opts.instrument, registries.first()) {
            (true, Some(first)) => Some(HandlerMetrics::register(first)?),
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                gatherer: Arc::new(Gatherer::new(registries, opts.coalesce)),
                in_flight: opts
                    .max_requests_in_flight
                    .map(|n| Arc::new(Semaphore::new(n))),
                opts,
                metrics,
                buffers: Mutex::default(),
            }),
        })
    }

    /// Answers one request (what both `Service` implementations call).
    pub fn respond<B>(&self, request: Request<B>) -> ResponseFuture {
        // The body is dropped unread here: only the head is needed.
        let (head, _body) = request.into_parts();
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { Ok(inner.respond(head).await) })
    }
}

impl std::fmt::Debug for MetricsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsService")
            .field("opts", &self.inner.opts)
            .finish()
    }
}

impl<B> hyper::service::Service<Request<B>> for MetricsService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> Self::Future {
        self.respond(request)
    }
}

impl<B> tower_service::Service<Request<B>> for MetricsService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.respond(request)
    }
}

impl Inner {
    async fn respond(&self, head: request::Parts) -> Response<Body> {
        let _in_flight = self.metrics.as_ref().map(HandlerMetrics::enter);
        let response = self.scrape(&head).await;
        if let Some(metrics) = &self.metrics {
            metrics.count(response.status());
        }
        response
    }

    async fn scrape(&self, head: &request::Parts) -> Response<Body> {
        if head.method != Method::GET && head.method != Method::HEAD {
            let mut response = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed: use GET or HEAD.\n".into(),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let _permit = match &self.in_flight {
            Some(semaphore) => match Arc::clone(semaphore).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    let limit = self.opts.max_requests_in_flight.unwrap_or_default();
                    let text = format!(
                        "Limit of concurrent requests reached ({limit}), try again later.\n"
                    );
                    return plain(StatusCode::SERVICE_UNAVAILABLE, text);
                }
            },
            None => None,
        };
        let gathering = self.gatherer.gather();
        let gathered = match self.opts.timeout {
            Some(timeout) => match tokio::time::timeout(timeout, gathering).await {
                Ok(gathered) => gathered,
                Err(_) => {
                    let text = format!("Exceeded configured timeout of {timeout:?}.\n");
                    return plain(StatusCode::SERVICE_UNAVAILABLE, text);
                }
            },
            None => gathering.await,
        };
        let Ok(snapshot) = gathered else {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The gather was cancelled.\n".into(),
            );
        };
        let collected = snapshot.collected();
        if !collected.errors().is_empty() {
            match self.opts.error_policy {
                ErrorPolicy::HttpError => {
                    let mut text = String::from("An error has occurred while serving metrics:\n\n");
                    for error in collected.errors() {
                        text.push_str(&error.to_string());
                        text.push('\n');
                    }
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, text);
                }
                ErrorPolicy::Continue => {
                    for error in collected.errors() {
                        tracing::error!(%error, "error gathering metrics");
                    }
                }
            }
        }
        let format = self
            .opts
            .format
            .unwrap_or_else(|| negotiate(header_str(head, header::ACCEPT)));
        let mut buf = self.buffers.lock().pop().unwrap_or_default();
        buf.clear();
        match selected_names(head.uri.query()) {
            Some(names) => {
                let chosen: Vec<MetricFamily> = collected
                    .families()
                    .iter()
                    .filter(|f| names.iter().any(|n| family_is_named(f, n)))
                    .cloned()
                    .collect();
                encode(&chosen, format, &mut buf);
            }
            None => encode(collected.families(), format, &mut buf),
        }
        drop(snapshot);
        let gzipped =
            self.opts.compression && wants_gzip(header_str(head, header::ACCEPT_ENCODING));
        if gzipped {
            let spare = self.buffers.lock().pop().unwrap_or_default();
            let packed = gzip(&buf, spare);
            self.recycle(std::mem::replace(&mut buf, packed));
        }
        let response = exposition(head.method == Method::HEAD, format, gzipped, &buf);
        self.recycle(buf);
        response
    }

    fn recycle(&self, buf: Vec<u8>) {
        let mut buffers = self.buffers.lock();
        if buffers.len() < SPARE_BUFFERS {
            buffers.push(buf);
        }
    }
}

/// Whether `name` (from `name[]`) names `family`.
fn family_is_named(family: &MetricFamily, name: &str) -> bool {
    let suffix = match family.metric_type {
        MetricType::Counter => "_total",
        MetricType::Info => "_info",
        _ => "",
    };
    let base: &str = &family.name;
    name == base || (!suffix.is_empty() && name.strip_prefix(base) == Some(suffix))
}

fn header_str(head: &request::Parts, name: header::HeaderName) -> Option<&str> {
    head.headers.get(name).and_then(|v| v.to_str().ok())
}

fn exposition(head_only: bool, format: Format, gzipped: bool, body: &[u8]) -> Response<Body> {
    let mut response = Response::new(if head_only {
        Body::default()
    } else {
        Body::new(Bytes::copy_from_slice(body))
    });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// A plain-text answer (errors, limits), never compressed.
pub(crate) fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
