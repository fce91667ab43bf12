//! The [`Scraper`] trait, the I/O edge of a scrape loop: fetch one exposition. The
//! hyper-based [`HttpScraper`] does it over HTTP or HTTPS like Prometheus 2.42; the
//! [`FakeScraper`] hands out bodies set by a test.

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;

use crate::scrape::{ScrapeConfig, Target};
use crate::tls::{TlsConfig, TlsError, TlsSettings};
use promsdk::encoding::Format;

/// The `Accept` header Prometheus 2.42 sends: OpenMetrics first, then the text format.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A fetched exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Scraped {
    /// The uncompressed body.
    pub body: Vec<u8>,
    /// The format, from the response's `Content-Type`.
    pub format: Format,
}

impl Scraped {
    /// A body in the text format.
    pub fn text(body: impl Into<Vec<u8>>) -> Self {
        Scraped {
            body: body.into(),
            format: Format::Text,
        }
    }
}

/// Why a scrape failed (also the `lastError` of `/api/v1/targets`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// The request could not be made or the connection failed.
    #[error("fetching {url}: {message}")]
    Request {
        /// The target URL.
        url: String,
        /// What the client said.
        message: String,
    },
    /// The target answered with a status other than 200.
    #[error("server returned HTTP status {status} for {url}")]
    Status {
        /// The target URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The scrape took longer than the timeout.
    #[error("scrape of {url} timed out after {timeout:?}")]
    Timeout {
        /// The target URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The (uncompressed) body exceeded the body size limit.
    #[error("body size limit exceeded: {url} sent {limit} bytes or more")]
    BodySizeLimit {
        /// The target URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The body could not be parsed.
    #[error("parsing the body of {url}: {message}")]
    Parse {
        /// The target URL.
        url: String,
        /// `LINE:COLUMN: message`.
        message: String,
    },
    /// More samples than the sample limit.
    #[error("sample limit exceeded: {url} exposed more than {limit} samples")]
    SampleLimit {
        /// The target URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Metric relabeling left a series without a metric name or with invalid names.
    #[error("metric relabeling of a series of {url}: {message}")]
    InvalidSeries {
        /// The target URL.
        url: String,
        /// What is wrong, as Prometheus says it.
        message: String,
    },
}

/// A boxed future returned by [`Scraper::scrape`].
pub type ScrapeFuture = Pin<Box<dyn Future<Output = Result<Scraped, ScrapeError>> + Send>>;

/// Fetches expositions. Implementations must be cheap to share across loops and jobs
/// (`Send + Sync`), must honour `cfg.body_size_limit` without buffering more than it
/// (0 means no limit), and connect as `cfg` says (`cfg.tls` for `https`). The caller
/// applies the timeout (the target's, else `cfg.timeout`), so an implementation need not.
pub trait Scraper: Send + Sync + 'static {
    /// Fetches `target`'s current exposition, `target` being one of job `cfg`'s.
    fn scrape(&self, target: &Target, cfg: &ScrapeConfig) -> ScrapeFuture;
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Scrapes over HTTP/1.1 with hyper: sends [`ACCEPT_HEADER`],
/// `Accept-Encoding: gzip` and `X-Prometheus-Scrape-Timeout-Seconds`, requires status
/// 200, decompresses gzip, and fails as soon as the body passes the limit. `https`
/// targets are reached with rustls as the job's [`TlsConfig`] says (without one:
/// verified against the system's roots); each distinct `TlsConfig` gets its own
/// connection pool, dropped once no configuration holds that `TlsConfig` any more.
#[derive(Clone)]
pub struct HttpScraper {
    client: Client<HttpConnector, Empty<Bytes>>,
    tls: Arc<Mutex<TlsClients>>,
}

#[derive(Default)]
struct TlsClients {
    /// The settings of `https` jobs without `tls_config`, loaded on first use.
    system: Option<TlsConfig>,
    clients: Vec<(TlsConfig, HttpsClient)>,
}

impl TlsClients {
    fn client(&mut self, tls: Option<&TlsConfig>) -> Result<HttpsClient, TlsError> {
        let tls = match tls {
            Some(tls) => tls.clone(),
            None => match &self.system {
                Some(system) => system.clone(),
                None => self
                    .system
                    .insert(TlsConfig::load(TlsSettings::default())?)
                    .clone(),
            },
        };
        if let Some((_, client)) = self.clients.iter().find(|(t, _)| *t == tls) {
            return Ok(client.clone());
        }
        // Drop the configurations only this list holds (the connector owns a copy of
        // the rustls configuration): their jobs changed or went away.
        self.clients
            .retain(|(t, _)| Arc::strong_count(t.client_config()) > 1);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let builder = HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::clone(tls.client_config()))
            .https_or_http();
        let builder = match tls.server_name() {
            Some(name) => {
                builder.with_server_name_resolver(FixedServerNameResolver::new(name.clone()))
            }
            None => builder,
        };
        let client = Client::builder(TokioExecutor::new())
            .build(builder.enable_http1().wrap_connector(http));
        self.clients.push((tls, client.clone()));
        Ok(client)
    }
}

impl std::fmt::Debug for HttpScraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpScraper")
    }
}

impl Default for HttpScraper {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpScraper {
    /// A scraper with its own connection pool.
    pub fn new() -> Self {
        HttpScraper {
            client: Client::builder(TokioExecutor::new()).build_http(),
            tls: Arc::default(),
        }
    }
}

impl Scraper for HttpScraper {
    fn scrape(&self, target: &Target, cfg: &ScrapeConfig) -> ScrapeFuture {
        let url = target.url().to_owned();
        let (timeout, limit) = (target.timeout().unwrap_or(cfg.timeout), cfg.body_size_limit);
        if !url.starts_with("https://") {
            let client = self.client.clone();
            return Box::pin(async move { fetch(client, url, timeout, limit).await });
        }
        match self.tls.lock().client(cfg.tls.as_ref()) {
            Ok(client) => Box::pin(async move { fetch(client, url, timeout, limit).await }),
            Err(e) => {
                let message = e.to_string();
                Box::pin(async move { Err(ScrapeError::Request { url, message }) })
            }
        }
    }
}

/// An error and its sources, `: `-separated (hyper's own message alone says only
/// "client error (Connect)").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let message = e.to_string();
        if !out.ends_with(&message) {
            out.push_str(": ");
            out.push_str(&message);
        }
        source = e.source();
    }
    out
}

async fn fetch<C>(
    client: Client<C, Empty<Bytes>>,
    url: String,
    timeout: Duration,
    limit: u64,
) -> Result<Scraped, ScrapeError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let request_error = |message: String| ScrapeError::Request {
        url: url.clone(),
        message,
    };
    let request = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, ACCEPT_HEADER)
        .header(http::header::ACCEPT_ENCODING, "gzip")
        .header(http::header::USER_AGENT, "promsdk-harness")
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", timeout.as_secs_f64()),
        )
        .body(Empty::new())
        .map_err(|e| request_error(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| request_error(error_chain(&e)))?;
    if response.status() != http::StatusCode::OK {
        return Err(ScrapeError::Status {
            url,
            status: response.status().as_u16(),
        });
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let format = match header(http::header::CONTENT_TYPE) {
        Some(ct) if ct.starts_with("application/openmetrics-text") => Format::OpenMetrics,
        _ => Format::Text,
    };
    let gzip = header(http::header::CONTENT_ENCODING).is_some_and(|e| e == "gzip");
    let too_big = || ScrapeError::BodySizeLimit {
        url: url.clone(),
        limit,
    };
    let mut body = Vec::new();
    let mut incoming = response.into_body();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| request_error(error_chain(&e)))?;
        if let Some(data) = frame.data_ref() {
            body.extend_from_slice(data);
            // A gzip body is limited after decompression, where it matters; before,
            // only past what incompressible data of the limit's size could take.
            // As in Prometheus, a body that reaches the limit fails.
            let too_long = if gzip {
                body.len() as u64 > limit + limit / 64 + 64
            } else {
                body.len() as u64 >= limit
            };
            if limit > 0 && too_long {
                return Err(too_big());
            }
        }
    }
    if gzip {
        let cap = if limit > 0 { limit + 1 } else { u64::MAX };
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(cap)
            .read_to_end(&mut plain)
            .map_err(|e| request_error(format!("decompressing gzip: {e}")))?;
        if limit > 0 && plain.len() as u64 >= limit {
            return Err(too_big());
        }
        body = plain;
    }
    Ok(Scraped { body, format })
}

/// A [`Scraper`] for tests: answers each URL with what [`FakeScraper::set`] last put
/// there (a missing URL fails like a refused connection). Clones share the answers.
///
/// ```
/// use promsdk_harness::scrape::{FakeScraper, Scraped, Scraper, ScrapeConfig, Target};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let fake = FakeScraper::default();
/// let target = Target::new(&ScrapeConfig::new("j"), "a:1", &[]);
/// fake.set(target.url(), Ok(Scraped::text("metric_a 1\n")));
/// let got = fake.scrape(&target, &ScrapeConfig::new("j")).await.unwrap();
/// assert_eq!(got.body, b"metric_a 1\n");
/// # });
/// ```
#[derive(Clone, Default, Debug)]
pub struct FakeScraper {
    answers: Arc<Mutex<HashMap<String, Result<Scraped, ScrapeError>>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl FakeScraper {
    /// Answers `url` with `answer` from now on.
    pub fn set(&self, url: &str, answer: Result<Scraped, ScrapeError>) {
        self.answers.lock().insert(url.to_owned(), answer);
    }

    /// Makes `url` fail like a refused connection.
    pub fn fail(&self, url: &str) {
        self.set(
            url,
            Err(ScrapeError::Request {
                url: url.to_owned(),
                message: "connection refused".into(),
            }),
        );
    }

    /// How many times `url` was scraped.
    pub fn count(&self, url: &str) -> usize {
        self.counts.lock().get(url).copied().unwrap_or(0)
    }
}

impl Scraper for FakeScraper {
    fn scrape(&self, target: &Target, cfg: &ScrapeConfig) -> ScrapeFuture {
        let (url, body_limit) = (target.url(), cfg.body_size_limit);
        *self.counts.lock().entry(url.to_owned()).or_default() += 1;
        let answer = self
            .answers
            .lock()
            .get(url)
            .cloned()
            .unwrap_or_else(|| {
                Err(ScrapeError::Request {
                    url: url.to_owned(),
                    message: "no answer set".into(),
                })
            })
            .and_then(|s| {
                if body_limit > 0 && s.body.len() as u64 >= body_limit {
                    Err(ScrapeError::BodySizeLimit {
                        url: url.to_owned(),
                        limit: body_limit,
                    })
                } else {
                    Ok(s)
                }
            });
        Box::pin(async move { answer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::ScrapeConfig;
    use promsdk::http::{serve, ServeOpts};
    use promsdk::{GaugeVec, Opts, Registry};

    async fn exporter(series: usize, opts: ServeOpts) -> (promsdk::http::Server, Target) {
        let registry = Registry::new();
        let vec = GaugeVec::new(Opts::new("g", "G."), &["i"]).unwrap();
        registry.register(vec.clone()).unwrap();
        for i in 0..series {
            vec.with_label_values(&[&i.to_string()]).set(i as f64);
        }
        let server = serve(
            "127.0.0.1:0".parse().unwrap(),
            registry,
            opts.instrument(false),
        )
        .await
        .unwrap();
        let target = Target::new(
            &ScrapeConfig::new("j"),
            &server.local_addr().to_string(),
            &[],
        );
        (server, target)
    }

    #[tokio::test]
    async fn prefers_openmetrics_and_reads_gzip_and_plain_bodies() {
        for compression in [true, false] {
            let (server, target) = exporter(3, ServeOpts::default().compression(compression)).await;
            let got = HttpScraper::new()
                .scrape(&target, &ScrapeConfig::new("j"))
                .await
                .unwrap();
            assert_eq!(got.format, Format::OpenMetrics, "compression={compression}");
            let text = String::from_utf8(got.body).unwrap();
            assert!(
                text.contains("g{i=\"2\"} 2") && text.ends_with("# EOF\n"),
                "{text}"
            );
            server.shutdown().await;
        }
    }

    #[tokio::test]
    async fn body_size_limit_fails_the_scrape_compressed_or_not() {
        for compression in [true, false] {
            let (server, target) =
                exporter(500, ServeOpts::default().compression(compression)).await;
            let err = HttpScraper::new()
                .scrape(&target, &ScrapeConfig::new("j").body_size_limit(1000))
                .await
                .unwrap_err();
            assert!(
                matches!(err, ScrapeError::BodySizeLimit { limit: 1000, .. }),
                "compression={compression}: {err}"
            );
            server.shutdown().await;
        }
    }

    /// Prometheus's `readResponse` fails a body that reaches the limit (`n >= limit`).
    #[tokio::test]
    async fn a_body_of_exactly_the_limit_fails_as_in_prometheus() {
        for compression in [true, false] {
            let (server, target) =
                exporter(20, ServeOpts::default().compression(compression)).await;
            let scraper = HttpScraper::new();
            let full = scraper
                .scrape(&target, &ScrapeConfig::new("j"))
                .await
                .unwrap();
            let len = full.body.len() as u64;
            let at = scraper
                .scrape(&target, &ScrapeConfig::new("j").body_size_limit(len))
                .await;
            assert!(
                matches!(at, Err(ScrapeError::BodySizeLimit { .. })),
                "compression={compression}, limit = body length {len}: {at:?}"
            );
            let above = scraper
                .scrape(&target, &ScrapeConfig::new("j").body_size_limit(len + 1))
                .await
                .unwrap();
            assert_eq!(above.body, full.body, "compression={compression}");
            server.shutdown().await;
        }
    }

    #[test]
    fn tls_clients_are_shared_per_config_and_dropped_with_it() {
        let load = |name: &str| {
            TlsConfig::load(TlsSettings {
                server_name: Some(name.into()),
                ..TlsSettings::default()
            })
            .unwrap()
        };
        let mut clients = TlsClients::default();
        let a = load("a.test");
        clients.client(Some(&a)).unwrap();
        clients.client(Some(&load("a.test"))).unwrap();
        clients.client(None).unwrap();
        assert_eq!(clients.clients.len(), 2, "equal configs share a client");
        drop(a);
        clients.client(Some(&load("b.test"))).unwrap();
        let names: Vec<_> = clients
            .clients
            .iter()
            .map(|(t, _)| t.settings().server_name.clone())
            .collect();
        assert_eq!(names, [None, Some("b.test".into())], "a's is gone");
    }

    #[tokio::test]
    async fn refused_connections_and_bad_statuses_are_errors() {
        let (server, target) = exporter(1, ServeOpts::default().path("/other")).await;
        let err = HttpScraper::new()
            .scrape(&target, &ScrapeConfig::new("j"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ScrapeError::Status { status: 404, .. }),
            "{err}"
        );
        server.shutdown().await;
        let err = HttpScraper::new()
            .scrape(&target, &ScrapeConfig::new("j"))
            .await
            .unwrap_err();
        assert!(matches!(err, ScrapeError::Request { .. }), "{err}");
    }
}
