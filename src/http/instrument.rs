//! The handler's own metrics, as promhttp's `InstrumentMetricHandler` registers them.

use http::StatusCode;

use crate::desc::Opts;
use crate::error::{Error, Result};
use crate::metrics::counter::Counter;
use crate::metrics::gauge::Gauge;
use crate::registry::{MetricCollector, Registry};
use crate::vec::CounterVec;

/// `promhttp_metric_handler_requests_total{code}` and
/// `promhttp_metric_handler_requests_in_flight`.
pub(crate) struct HandlerMetrics {
    requests: CounterVec,
    /// The children promhttp creates up front, so they are exported at 0.
    ok: Counter,
    failed: Counter,
    unavailable: Counter,
    in_flight: Gauge,
}

/// Decrements the in-flight gauge when the scrape ends, however it ends.
pub(crate) struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl HandlerMetrics {
    /// Registers both metrics in `registry`, or takes the ones another service
    /// registered there.
    pub(crate) fn register(registry: &Registry) -> Result<Self> {
        let requests = CounterVec::new(
            Opts::new(
                "promhttp_metric_handler_requests_total",
                "Total number of scrapes by HTTP status code.",
            ),
            &["code"],
        )?;
        let requests = match registry.register(requests.clone()) {
            Ok(()) => requests,
            Err(Error::AlreadyRegistered { existing, name }) => existing
                .downcast::<CounterVec>()
                .map(|v| (*v).clone())
                .ok_or_else(|| not_ours(name))?,
            Err(e) => return Err(e),
        };
        let in_flight = MetricCollector::new(
            Opts::new(
                "promhttp_metric_handler_requests_in_flight",
                "Current number of scrapes being served.",
            ),
            Gauge::default(),
        )?;
        let in_flight = match registry.register(in_flight.clone()) {
            Ok(()) => in_flight.metric().clone(),
            Err(Error::AlreadyRegistered { existing, name }) => existing
                .downcast::<MetricCollector<Gauge>>()
                .map(|c| c.metric().clone())
                .ok_or_else(|| not_ours(name))?,
            Err(e) => return Err(e),
        };
        Ok(Self {
            ok: requests.with_label_values(&["200"]),
            failed: requests.with_label_values(&["500"]),
            unavailable: requests.with_label_values(&["503"]),
            requests,
            in_flight,
        })
    }

    /// Counts a scrape in flight until the guard is dropped.
    pub(crate) fn enter(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Counts a finished scrape by its status code.
    pub(crate) fn count(&self, status: StatusCode) {
        match status.as_u16() {
            200 => self.ok.inc(),
            500 => self.failed.inc(),
            503 => self.unavailable.inc(),
            other => {
                let mut digits = itoa::Buffer::new();
                self.requests
                    .with_label_values(&[digits.format(other)])
                    .inc();
            }
        }
    }
}

fn not_ours(name: String) -> Error {
    Error::ConflictingDescriptor {
        name,
        reason: "registered by another collector type than the /metrics handler's".to_owned(),
    }
}
