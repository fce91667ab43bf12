//! The `/metrics` server over real HTTP on 127.0.0.1:0: negotiation, gzip, methods,
//! paths, limits, timeout, error policy, `name[]`, the handler's own metrics, slow
//! clients, coalescing and graceful shutdown.

#[path = "common/http_client.rs"]
mod client;
#[path = "common/slow.rs"]
mod slow;

use std::io::Read;
use std::time::Duration;

use client::{request, request_with_body};
use promsdk::http::{serve, ErrorPolicy, MetricsService, ServeOpts, Server};
use promsdk::{Collected, Collector, CounterVec, Desc, Error, Gauge, InfoVec, Opts, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A registry with a counter vec, a gauge and an info.
fn sample_registry() -> Registry {
    let registry = Registry::new();
    let requests =
        CounterVec::new(Opts::new("app_requests_total", "Requests."), &["code"]).unwrap();
    requests.with_label_values(&["200"]).inc_by(7);
    registry.register(requests).unwrap();
    let temp = Gauge::default();
    temp.set(21.5);
    registry
        .register_metric(Opts::new("app_temperature_celsius", "Temp."), temp)
        .unwrap();
    let build = InfoVec::new(Opts::new("app_build", "Build."), &["version"]).unwrap();
    build.with_label_values(&["1.2"]);
    registry.register(build).unwrap();
    registry
}

async fn start(registry: Registry, opts: ServeOpts) -> Server {
    serve("127.0.0.1:0".parse().unwrap(), registry, opts)
        .await
        .unwrap()
}

fn quiet() -> ServeOpts {
    ServeOpts::default().instrument(false)
}

struct Negotiation {
    name: &'static str,
    accept: Option<&'static str>,
    content_type: &'static str,
}

const NEGOTIATION: &[Negotiation] = &[
    Negotiation { name: "no Accept", accept: None, content_type: TEXT },
    Negotiation {
        name: "Prometheus 2.42",
        accept: Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
        content_type: OPENMETRICS,
    },
    Negotiation { name: "text preferred by q", accept: Some("application/openmetrics-text;q=0.5,text/plain;version=0.0.4"), content_type: TEXT },
    Negotiation { name: "OpenMetrics 0.0.1", accept: Some("application/openmetrics-text; version=0.0.1"), content_type: OPENMETRICS },
    Negotiation { name: "unknown OpenMetrics version", accept: Some("application/openmetrics-text;version=2.0.0"), content_type: TEXT },
    Negotiation { name: "browser", accept: Some("text/html,application/xhtml+xml,*/*;q=0.8"), content_type: TEXT },
    Negotiation { name: "protobuf", accept: Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"), content_type: TEXT },
];

#[tokio::test]
async fn negotiates_the_format_like_promhttp() {
    let server = start(sample_registry(), quiet()).await;
    for case in NEGOTIATION {
        let headers: Vec<(&str, &str)> = case.accept.map(|a| ("Accept", a)).into_iter().collect();
        let reply = request(server.local_addr(), "GET", "/metrics", &headers).await;
        assert_eq!(reply.status, 200, "case {:?}", case.name);
        assert_eq!(
            reply.header("content-type"),
            Some(case.content_type),
            "case {:?}",
            case.name
        );
        let body = reply.text();
        assert_eq!(
            body.len().to_string(),
            reply.header("content-length").unwrap(),
            "case {:?}",
            case.name
        );
        let openmetrics = case.content_type == OPENMETRICS;
        assert_eq!(
            body.ends_with("# EOF\n"),
            openmetrics,
            "case {:?}: {body}",
            case.name
        );
        assert!(
            body.contains("app_requests_total{code=\"200\"} 7"),
            "case {:?}: {body}",
            case.name
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn forced_format_ignores_accept() {
    let server = start(sample_registry(), quiet().format(promsdk::Format::Text)).await;
    let reply = request(
        server.local_addr(),
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    )
    .await;
    assert_eq!(reply.header("content-type"), Some(TEXT));
    assert!(!reply.text().contains("# EOF"));
}

#[tokio::test]
async fn gzip_round_trips_when_accepted() {
    let server = start(sample_registry(), quiet()).await;
    let addr = server.local_addr();
    let plain = request(addr, "GET", "/metrics", &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    let packed = request(
        addr,
        "GET",
        "/metrics",
        &[("Accept-Encoding", "gzip, deflate")],
    )
    .await;
    assert_eq!(packed.status, 200);
    assert_eq!(packed.header("content-encoding"), Some("gzip"));
    assert_eq!(packed.header("content-type"), Some(TEXT));
    assert_ne!(packed.body, plain.body);
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed.body[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain.body);

    let refused = request(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip;q=0")]).await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, plain.body);

    let off = start(sample_registry(), quiet().compression(false)).await;
    let reply = request(
        off.local_addr(),
        "GET",
        "/metrics",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(reply.header("content-encoding"), None);
    assert_eq!(reply.body, plain.body);
}

#[tokio::test]
async fn head_answers_headers_without_body() {
    let server = start(sample_registry(), quiet()).await;
    let get = request(server.local_addr(), "GET", "/metrics", &[]).await;
    let head = request(server.local_addr(), "HEAD", "/metrics", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "{:?}", head.text());
    assert_eq!(head.header("content-type"), Some(TEXT));
    assert_eq!(
        head.header("content-length").unwrap(),
        get.body.len().to_string()
    );
}

#[tokio::test]
async fn other_methods_get_405_and_bodies_are_ignored() {
    let server = start(sample_registry(), quiet()).await;
    let addr = server.local_addr();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let reply = request_with_body(addr, method, "/metrics", &[], b"{\"x\":1}").await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method}");
    }
    let reply = request_with_body(addr, "GET", "/metrics", &[], &[b'x'; 100_000]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("app_temperature_celsius 21.5"));
}

#[tokio::test]
async fn other_paths_get_404_and_the_path_is_configurable() {
    let server = start(sample_registry(), quiet()).await;
    for target in ["/", "/metricsx", "/metrics/", "/api/v1/query"] {
        assert_eq!(
            request(server.local_addr(), "GET", target, &[])
                .await
                .status,
            404,
            "{target}"
        );
    }
    assert_eq!(
        request(server.local_addr(), "GET", "/metrics?x=1", &[])
            .await
            .status,
        200
    );
    let custom = start(sample_registry(), quiet().path("/prom")).await;
    assert_eq!(
        request(custom.local_addr(), "GET", "/prom", &[])
            .await
            .status,
        200
    );
    assert_eq!(
        request(custom.local_addr(), "GET", "/metrics", &[])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn name_parameters_select_families() {
    let server = start(sample_registry(), quiet()).await;
    let addr = server.local_addr();
    let reply = request(
        addr,
        "GET",
        "/metrics?name[]=app_requests_total&name%5B%5D=app_build_info",
        &[],
    )
    .await;
    let body = reply.text();
    assert!(
        body.contains("app_requests_total{code=\"200\"} 7"),
        "{body}"
    );
    assert!(body.contains("app_build_info{version=\"1.2\"} 1"), "{body}");
    assert!(!body.contains("app_temperature_celsius"), "{body}");

    let reply = request(
        addr,
        "GET",
        "/metrics?name[]=app_temperature_celsius",
        &[("Accept", "application/openmetrics-text")],
    )
    .await;
    let text = reply.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "# TYPE app_temperature_celsius gauge",
            "# HELP app_temperature_celsius Temp.",
            "app_temperature_celsius 21.5",
            "# EOF"
        ]
    );
    let none = request(addr, "GET", "/metrics?name[]=nothing", &[]).await;
    assert_eq!((none.status, none.body.len()), (200, 0));
}

/// A collector that writes one good family and reports an error.
struct Failing(Desc);

impl Collector for Failing {
    fn describe(&self) -> Vec<Desc> {
        vec![self.0.clone()]
    }
    fn collect(&self, out: &mut Collected) {
        out.family(&self.0).gauge(&[], 3.0);
        out.error(Error::Collect {
            name: "backend".into(),
            message: "backend unreachable".into(),
        });
    }
}

fn failing_registry() -> Registry {
    let registry = Registry::new();
    let desc = Desc::new(
        Opts::new("partial_value", "P."),
        promsdk::MetricType::Gauge,
        &[],
    )
    .unwrap();
    registry.register(Failing(desc)).unwrap();
    registry
}

#[tokio::test]
async fn gather_errors_give_500_or_continue_by_policy() {
    let strict = start(failing_registry(), quiet()).await;
    let reply = request(strict.local_addr(), "GET", "/metrics", &[]).await;
    assert_eq!(reply.status, 500);
    let body = reply.text();
    assert!(
        body.starts_with("An error has occurred while serving metrics:"),
        "{body}"
    );
    assert!(body.contains("backend unreachable"), "{body}");
    assert!(!body.contains("partial_value 3"), "{body}");

    let lenient = start(
        failing_registry(),
        quiet().error_policy(ErrorPolicy::Continue),
    )
    .await;
    let reply = request(lenient.local_addr(), "GET", "/metrics", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.text().contains("partial_value 3.0"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn the_handler_counts_its_own_scrapes() {
    let server = start(sample_registry(), ServeOpts::default()).await;
    let addr = server.local_addr();
    let first = request(addr, "GET", "/metrics", &[]).await.text();
    assert!(
        first.contains("promhttp_metric_handler_requests_in_flight 1.0"),
        "{first}"
    );
    assert!(
        first.contains("promhttp_metric_handler_requests_total{code=\"200\"} 0"),
        "{first}"
    );
    assert!(
        first.contains("promhttp_metric_handler_requests_total{code=\"500\"} 0"),
        "{first}"
    );
    assert!(
        first.contains("promhttp_metric_handler_requests_total{code=\"503\"} 0"),
        "{first}"
    );
    assert_eq!(request(addr, "POST", "/metrics", &[]).await.status, 405);
    let third = request(addr, "GET", "/metrics", &[]).await.text();
    assert!(
        third.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1"),
        "{third}"
    );
    assert!(
        third.contains("promhttp_metric_handler_requests_total{code=\"405\"} 1"),
        "{third}"
    );

    // A second service on the same registry shares the handler's metrics.
    let registry = sample_registry();
    let _a = MetricsService::new(registry.clone(), ServeOpts::default()).unwrap();
    let _b = MetricsService::new(registry.clone(), ServeOpts::default()).unwrap();
    let off = start(sample_registry(), quiet()).await;
    assert!(!request(off.local_addr(), "GET", "/metrics", &[])
        .await
        .text()
        .contains("promhttp"));
}

#[tokio::test]
async fn past_the_in_flight_limit_scrapes_get_503() {
    let registry = sample_registry();
    let (collector, mut control) = slow::slow();
    registry.register(collector).unwrap();
    let server = start(
        registry,
        ServeOpts::default()
            .max_requests_in_flight(1)
            .coalesce(false),
    )
    .await;
    let addr = server.local_addr();
    let first = tokio::spawn(async move { request(addr, "GET", "/metrics", &[]).await });
    control.entered().await;
    let second = request(addr, "GET", "/metrics", &[]).await;
    assert_eq!(second.status, 503);
    assert!(
        second
            .text()
            .contains("Limit of concurrent requests reached (1)"),
        "{}",
        second.text()
    );
    control.open();
    let first = first.await.unwrap();
    assert_eq!(first.status, 200);
    let after = request(addr, "GET", "/metrics", &[]).await.text();
    assert!(
        after.contains("promhttp_metric_handler_requests_total{code=\"503\"} 1"),
        "{after}"
    );
    assert!(
        after.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1"),
        "{after}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_gather_past_the_timeout_gets_503() {
    let registry = sample_registry();
    let (collector, mut control) = slow::slow();
    registry.register(collector).unwrap();
    let timeout = Duration::from_secs(5);
    let server = start(registry, quiet().timeout(timeout)).await;
    let addr = server.local_addr();
    let scrape = tokio::spawn(async move { request(addr, "GET", "/metrics", &[]).await });
    control.entered().await;
    tokio::time::advance(timeout + Duration::from_millis(1)).await;
    let reply = scrape.await.unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.text(), "Exceeded configured timeout of 5s.\n");
    control.open();
    let reply = request(addr, "GET", "/metrics", &[]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn concurrent_scrapes_share_one_gather_when_coalescing() {
    for (coalesce, expected_calls) in [(true, 1), (false, 3)] {
        let (front, slow_registry) = (Registry::new(), Registry::new());
        let (collector, mut control) = slow::slow();
        slow_registry.register(collector).unwrap();
        let service = MetricsService::merged(
            vec![front.clone(), slow_registry],
            ServeOpts::default().coalesce(coalesce),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(listener, service, ServeOpts::default()).unwrap();
        let addr = server.local_addr();
        let scrapes: Vec<_> = (0..3)
            .map(|_| tokio::spawn(async move { request(addr, "GET", "/metrics", &[]).await }))
            .collect();
        // All three are in the handler once the in-flight gauge (in the front
        // registry, gathered without the slow one) says so.
        loop {
            let families = front.gather().families;
            let in_flight = families
                .iter()
                .find(|f| &*f.name == "promhttp_metric_handler_requests_in_flight");
            if in_flight.map(|f| &f.samples[0].value) == Some(&promsdk::Value::Gauge(3.0)) {
                break;
            }
            tokio::task::yield_now().await;
        }
        control.entered().await;
        control.open();
        for scrape in scrapes {
            let reply = scrape.await.unwrap();
            assert_eq!(reply.status, 200, "coalesce {coalesce}");
            assert!(
                reply.text().contains("slow_value 1.0"),
                "coalesce {coalesce}"
            );
        }
        assert_eq!(control.calls(), expected_calls, "coalesce {coalesce}");
        server.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let server = start(
        sample_registry(),
        quiet().header_read_timeout(Duration::from_secs(3)),
    )
    .await;
    let addr = server.local_addr();
    let started = tokio::time::Instant::now();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    // Cut off: the server closes (possibly after a 408), never answering 200.
    partial.read_to_end(&mut buf).await.unwrap();
    assert!(!String::from_utf8_lossy(&buf).contains(" 200 "), "{buf:?}");
    buf.clear();
    idle.read_to_end(&mut buf).await.unwrap();
    assert!(!String::from_utf8_lossy(&buf).contains(" 200 "), "{buf:?}");
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    let timeout = Duration::from_secs(3);
    let server = start(
        sample_registry(),
        quiet().max_connections(1).header_read_timeout(timeout),
    )
    .await;
    let addr = server.local_addr();
    let started = tokio::time::Instant::now();
    let _hog = TcpStream::connect(addr).await.unwrap();
    tokio::task::yield_now().await;
    // Served only once the idle connection holding the only slot is cut off.
    let reply = request(addr, "GET", "/metrics", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
}

#[tokio::test]
async fn shutdown_lets_a_scrape_in_progress_finish_then_stops_listening() {
    let registry = sample_registry();
    let (collector, mut control) = slow::slow();
    registry.register(collector).unwrap();
    let server = start(registry, quiet()).await;
    let addr = server.local_addr();
    let scrape = tokio::spawn(async move { request(addr, "GET", "/metrics", &[]).await });
    control.entered().await;
    let shutdown = tokio::spawn(server.shutdown());
    tokio::task::yield_now().await;
    control.open();
    let reply = scrape.await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("slow_value 1.0"));
    shutdown.await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn several_registries_are_served_merged() {
    let (a, b) = (sample_registry(), Registry::new());
    b.register_metric(Opts::new("other_up", "Up."), Gauge::default())
        .unwrap();
    let service = MetricsService::merged(vec![a, b], quiet()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::start(listener, service, quiet()).unwrap();
    let body = request(server.local_addr(), "GET", "/metrics", &[])
        .await
        .text();
    assert!(
        body.contains("other_up 0.0") && body.contains("app_temperature_celsius 21.5"),
        "{body}"
    );
}

#[tokio::test]
async fn listening_on_a_taken_port_is_a_typed_error() {
    let server = start(Registry::new(), quiet()).await;
    let err = serve(server.local_addr(), Registry::new(), quiet())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Listen { ref addr, .. } if *addr == server.local_addr().to_string()),
        "{err}"
    );
}
