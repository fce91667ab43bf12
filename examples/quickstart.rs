//! Instrument a service in ten lines: a counter vec, a histogram, the default registry,
//! and the text exposition a `/metrics` endpoint would serve.

use promsdk::{default_registry, encode, CounterVec, Format, Histogram, Opts};

fn main() -> Result<(), promsdk::Error> {
    let requests = CounterVec::new(
        Opts::new("http_requests_total", "Requests served."),
        &["method", "code"],
    )?;
    let latency = Histogram::default();
    default_registry().register(requests.clone())?;
    default_registry().register_metric(
        Opts::new("http_request_duration_seconds", "Latency."),
        latency.clone(),
    )?;

    requests.with_label_values(&["GET", "200"]).inc();
    latency.observe(0.042);

    let mut body = Vec::new();
    encode(
        &default_registry().gather().families,
        Format::Text,
        &mut body,
    );
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
