//! [`HttpSdConfig`]: Prometheus's `http_sd_configs`. The endpoint is polled every
//! `refresh_interval` (default 60s) with Prometheus's request headers (`Accept:
//! application/json`, `X-Prometheus-Refresh-Interval-Seconds`); an answer counts only
//! with status 200, a JSON content type and a JSON list of groups. Group `i` has source
//! `"{url}:{i}"` and label `__meta_url`; groups unchanged since the previous answer are
//! shared with it (see [`JsonDecoder`]). A failing endpoint (connection error,
//! timeout, error status, other content type, bad JSON) keeps the last good targets,
//! is logged and counted in `prometheus_sd_http_failures_total`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::json_decoder::JsonDecoder;
use super::refresh::{RefreshDiscoverer, RefreshFuture, Refresher};
use super::{
    Discoverer, DiscovererOptions, DiscoveryError, DiscoveryMetrics, SdConfig, TargetGroup,
};
use crate::tls::{TlsConfig, TlsSettings};

/// The label naming the endpoint a target came from.
pub const URL_LABEL: &str = "__meta_url";

/// An `http_sd_configs` entry.
///
/// ```
/// use promsdk_harness::discovery::http_sd::HttpSdConfig;
/// use std::time::Duration;
/// assert!(HttpSdConfig::new("http://127.0.0.1:8080/sd", Duration::from_secs(60)).is_ok());
/// let err = HttpSdConfig::new("ftp://127.0.0.1/sd", Duration::from_secs(60)).unwrap_err();
/// assert!(err.to_string().contains("URL scheme must be 'http' or 'https'"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSdConfig {
    url: String,
    refresh_interval: Duration,
}

impl HttpSdConfig {
    /// Prometheus's default refresh interval.
    pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

    /// Checks the URL as Prometheus does: `http` or `https`, with a host.
    pub fn new(url: impl Into<String>, refresh_interval: Duration) -> Result<Self, DiscoveryError> {
        let url = url.into();
        let invalid = |message: &str| DiscoveryError::Config {
            mechanism: "http_sd".into(),
            message: format!("{message}: {url:?}"),
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid("invalid URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid("URL scheme must be 'http' or 'https'"));
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("host is missing in URL"));
        }
        Ok(HttpSdConfig {
            url,
            refresh_interval,
        })
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

impl SdConfig for HttpSdConfig {
    fn name(&self) -> &str {
        "http"
    }

    fn new_discoverer(
        &self,
        opts: &DiscovererOptions,
    ) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        let tls = TlsConfig::load(TlsSettings::default()).map_err(|e| DiscoveryError::Config {
            mechanism: "http_sd".into(),
            message: e.to_string(),
        })?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::clone(tls.client_config()))
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Box::new(RefreshDiscoverer::new(
            "http",
            self.refresh_interval,
            HttpRefresher {
                decoder: JsonDecoder::new(self.url.clone()),
                cfg: self.clone(),
                client,
                metrics: opts.metrics.clone(),
            },
        )))
    }
}

struct HttpRefresher {
    cfg: HttpSdConfig,
    /// Unchanged groups of an answer are shared with the previous one, not decoded.
    decoder: JsonDecoder,
    client: HttpsClient,
    metrics: DiscoveryMetrics,
}

impl HttpRefresher {
    async fn fetch(&mut self) -> Result<Vec<TargetGroup>, String> {
        let request = http::Request::get(self.cfg.url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "promsdk-harness")
            .header(
                "X-Prometheus-Refresh-Interval-Seconds",
                self.cfg.refresh_interval.as_secs().to_string(),
            )
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("server returned HTTP status {}", response.status()));
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !is_json(&content_type) {
            return Err(format!("unsupported content type {content_type:?}"));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let url = &self.cfg.url;
        self.decoder.decode(&body, |g| g.with_label(URL_LABEL, url))
    }
}

/// `^application/json(;.*)?$`, as Prometheus matches it.
fn is_json(content_type: &str) -> bool {
    content_type
        .strip_prefix("application/json")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(';'))
}

impl Refresher for HttpRefresher {
    fn refresh(&mut self) -> RefreshFuture<'_> {
        Box::pin(async move {
            let timeout = if self.cfg.refresh_interval.is_zero() {
                HttpSdConfig::DEFAULT_REFRESH_INTERVAL
            } else {
                self.cfg.refresh_interval
            };
            let result = match tokio::time::timeout(timeout, self.fetch()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {timeout:?}")),
            };
            result.map_err(|message| {
                self.metrics.http_failures.inc();
                DiscoveryError::Source {
                    source_name: self.cfg.url.clone(),
                    message,
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_as_prometheus() {
        for (ct, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/jsonx", false),
            ("text/plain", false),
            ("", false),
        ] {
            assert_eq!(is_json(ct), ok, "{ct}");
        }
    }
}
