//! [`ServeOpts`]: how the `/metrics` service answers (client_golang's `HandlerOpts`) and,
//! for the standalone server, how it treats connections.

use std::time::Duration;

use crate::encoding::Format;

/// What a scrape answers when gathering reported errors (a collector panicked, emitted
/// inconsistent samples, or reported an error of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorPolicy {
    /// Answer `500 Internal Server Error` with the error text, as promhttp's default
    /// `HTTPErrorOnError` does.
    #[default]
    HttpError,
    /// Log every error with `tracing` and serve what could be gathered (promhttp's
    /// `ContinueOnError`).
    Continue,
}

/// Options for [`MetricsService`](super::MetricsService) and [`serve`](super::serve),
/// built from [`Default`] with chained setters.
///
/// ```
/// use std::time::Duration;
/// use promsdk::http::{ErrorPolicy, ServeOpts};
///
/// let opts = ServeOpts::default()
///     .error_policy(ErrorPolicy::Continue)
///     .max_requests_in_flight(4)
///     .timeout(Duration::from_secs(5));
/// assert_eq!(opts.get_max_requests_in_flight(), Some(4));
/// assert_eq!(opts.get_error_policy(), ErrorPolicy::Continue);
/// ```
#[derive(Debug, Clone)]
pub struct ServeOpts {
    pub(crate) error_policy: ErrorPolicy,
    pub(crate) max_requests_in_flight: Option<usize>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) coalesce: bool,
    pub(crate) compression: bool,
    pub(crate) instrument: bool,
    pub(crate) format: Option<Format>,
    pub(crate) path: String,
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for ServeOpts {
    /// 500 on gather errors, no in-flight limit, no timeout, coalescing and gzip on,
    /// the handler instrumented, `Accept` negotiation; for the standalone server:
    /// path `/metrics`, 10 s to send request headers, 1024 connections, 10 s to drain
    /// connections on shutdown.
    fn default() -> Self {
        Self {
            error_policy: ErrorPolicy::default(),
            max_requests_in_flight: None,
            timeout: None,
            coalesce: true,
            compression: true,
            instrument: true,
            format: None,
            path: "/metrics".to_owned(),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeOpts {
    /// What to answer when gathering reports errors.
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.error_policy = policy;
        self
    }

    /// At most `limit` scrapes are served at once; more get `503 Service Unavailable`
    /// at once (promhttp's `MaxRequestsInFlight`). `0` means no limit.
    pub fn max_requests_in_flight(mut self, limit: usize) -> Self {
        self.max_requests_in_flight = (limit > 0).then_some(limit);
        self
    }

    /// A scrape whose gather takes longer than `timeout` gets `503 Service
    /// Unavailable` (promhttp's `Timeout`). The gather itself runs on to its end on a
    /// blocking thread; with coalescing, later scrapes join it rather than start more.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether scrapes arriving while a gather is under way wait for that gather and
    /// share its result instead of starting their own (default `true`).
    pub fn coalesce(mut self, on: bool) -> Self {
        self.coalesce = on;
        self
    }

    /// Whether to gzip the answer when the client's `Accept-Encoding` allows it
    /// (default `true`).
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Whether to count scrapes in `promhttp_metric_handler_requests_total{code}` and
    /// `promhttp_metric_handler_requests_in_flight`, registered in the (first) served
    /// registry, as promhttp's `InstrumentMetricHandler` does (default `true`).
    pub fn instrument(mut self, on: bool) -> Self {
        self.instrument = on;
        self
    }

    /// Always answer in `format`, whatever the `Accept` header asks (for scrapers that
    /// always ask for OpenMetrics when text is wanted). Default: negotiate.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// The path the standalone server serves metrics on (default `/metrics`); other
    /// paths get `404 Not Found`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// How long the standalone server waits for a request's headers (default 10 s);
    /// a client that takes longer, or keeps an idle connection open longer, is
    /// disconnected.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How many connections the standalone server keeps open at once (default 1024,
    /// at least 1); further clients wait in the listen backlog.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = limit.max(1);
        self
    }

    /// How long a graceful shutdown waits for open connections to finish (default
    /// 10 s) before closing them.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The error policy.
    pub fn get_error_policy(&self) -> ErrorPolicy {
        self.error_policy
    }

    /// The in-flight limit, `None` when unlimited.
    pub fn get_max_requests_in_flight(&self) -> Option<usize> {
        self.max_requests_in_flight
    }

    /// The scrape timeout, `None` when unlimited.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }
}
