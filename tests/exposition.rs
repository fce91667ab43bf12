//! Golden tests: the exact text and OpenMetrics output for every metric type.

use std::sync::Arc;

use promsdk::{
    encode, Bucket, Exemplar, Format, HistogramValue, LabelSet, MetricFamily, MetricType, Sample,
    SummaryValue, Value,
};

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    LabelSet::from_pairs("test", pairs).unwrap()
}

fn family(name: &str, help: &str, t: MetricType, samples: Vec<Sample>) -> MetricFamily {
    let mut f = MetricFamily::new(name, help, t);
    f.samples = samples;
    f
}

fn render(families: &[MetricFamily], format: Format) -> String {
    let mut buf = Vec::new();
    encode(families, format, &mut buf);
    String::from_utf8(buf).unwrap()
}

fn exemplar(trace: &str, value: f64, ts: Option<f64>) -> Exemplar {
    Exemplar {
        labels: labels(&[("trace_id", trace)]),
        value,
        timestamp: ts,
    }
}

fn counter() -> MetricFamily {
    let mut with_everything = Sample::new(
        labels(&[("method", "GET")]),
        Value::Counter {
            total: 1027.0,
            created: Some(1_700_000_000.5),
            exemplar: Some(Box::new(exemplar("abc", 1.0, Some(1_700_000_001.25)))),
        },
    );
    with_everything.timestamp_ms = Some(1_700_000_002_123);
    family(
        "http_requests",
        "Requests served.",
        MetricType::Counter,
        vec![
            with_everything,
            Sample::new(labels(&[("method", "POST")]), Value::counter(3.0)),
        ],
    )
}

fn gauge() -> MetricFamily {
    family(
        "temperature_celsius",
        "Current temperature.",
        MetricType::Gauge,
        vec![
            Sample::new(labels(&[("room", "a")]), Value::Gauge(-3.5)),
            Sample::new(labels(&[("room", "b")]), Value::Gauge(f64::NAN)),
            Sample::new(labels(&[("room", "c")]), Value::Gauge(f64::INFINITY)),
            Sample::new(LabelSet::empty(), Value::Gauge(f64::NEG_INFINITY)),
        ],
    )
}

fn histogram() -> MetricFamily {
    let bucket = |upper_bound, cumulative_count, exemplar| Bucket {
        upper_bound,
        cumulative_count,
        exemplar,
    };
    let value = HistogramValue {
        buckets: vec![
            bucket(0.005, 1, None),
            bucket(0.5, 3, Some(exemplar("def", 0.25, None))),
            bucket(1.0, 4, None),
            bucket(1e6, 6, None),
            bucket(f64::INFINITY, 7, None),
        ],
        count: 7,
        sum: 2_000_003.25,
        created: Some(1_600_000_000.0),
    };
    let mut f = family(
        "request_duration_seconds",
        "Request latency.",
        MetricType::Histogram,
        vec![Sample::new(
            labels(&[("path", "/")]),
            Value::Histogram(Box::new(value)),
        )],
    );
    f.unit = Some(Arc::from("seconds"));
    f
}

fn summary() -> MetricFamily {
    let value = SummaryValue {
        quantiles: vec![(0.5, 0.25), (0.99, f64::NAN), (1.0, 3.0)],
        count: 12,
        sum: 7.5,
        created: None,
    };
    family(
        "rpc_duration_seconds",
        "RPC latency.",
        MetricType::Summary,
        vec![Sample::new(
            LabelSet::empty(),
            Value::Summary(Box::new(value)),
        )],
    )
}

fn info() -> MetricFamily {
    family(
        "build",
        "Build information.",
        MetricType::Info,
        vec![Sample::new(
            labels(&[("version", "1.2.3"), ("revision", "abc")]),
            Value::Info,
        )],
    )
}

fn state_set() -> MetricFamily {
    family(
        "door",
        "Door state.",
        MetricType::StateSet,
        vec![Sample::new(
            labels(&[("entity", "front")]),
            Value::StateSet(vec![
                (Arc::from("open"), true),
                (Arc::from("closed"), false),
            ]),
        )],
    )
}

fn unknown() -> MetricFamily {
    let mut s = Sample::new(LabelSet::empty(), Value::Unknown(42.0));
    s.timestamp_ms = Some(1_520_879_607_789);
    family("legacy_value", "", MetricType::Unknown, vec![s])
}

fn all() -> Vec<MetricFamily> {
    vec![
        counter(),
        gauge(),
        histogram(),
        summary(),
        info(),
        state_set(),
        unknown(),
    ]
}

#[test]
fn text_format_golden() {
    let want = r#"# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET"} 1027.0 1700000002123
http_requests_total{method="POST"} 3.0
# HELP temperature_celsius Current temperature.
# TYPE temperature_celsius gauge
temperature_celsius{room="a"} -3.5
temperature_celsius{room="b"} NaN
temperature_celsius{room="c"} +Inf
temperature_celsius -Inf
# HELP request_duration_seconds Request latency.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{path="/",le="0.005"} 1
request_duration_seconds_bucket{path="/",le="0.5"} 3
request_duration_seconds_bucket{path="/",le="1"} 4
request_duration_seconds_bucket{path="/",le="1e+06"} 6
request_duration_seconds_bucket{path="/",le="+Inf"} 7
request_duration_seconds_sum{path="/"} 2000003.25
request_duration_seconds_count{path="/"} 7
# HELP rpc_duration_seconds RPC latency.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 0.25
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds{quantile="1"} 3.0
rpc_duration_seconds_sum 7.5
rpc_duration_seconds_count 12
# HELP build_info Build information.
# TYPE build_info gauge
build_info{revision="abc",version="1.2.3"} 1
# HELP door Door state.
# TYPE door gauge
door{entity="front",door="open"} 1
door{entity="front",door="closed"} 0
# TYPE legacy_value untyped
legacy_value 42.0 1520879607789
"#;
    assert_eq!(render(&all(), Format::Text), want);
}

#[test]
fn openmetrics_golden() {
    let want = r#"# TYPE http_requests counter
# HELP http_requests Requests served.
http_requests_total{method="GET"} 1027.0 1700000002.123 # {trace_id="abc"} 1.0 1700000001.25
http_requests_created{method="GET"} 1700000000.5 1700000002.123
http_requests_total{method="POST"} 3.0
# TYPE temperature_celsius gauge
# HELP temperature_celsius Current temperature.
temperature_celsius{room="a"} -3.5
temperature_celsius{room="b"} NaN
temperature_celsius{room="c"} +Inf
temperature_celsius -Inf
# TYPE request_duration_seconds histogram
# UNIT request_duration_seconds seconds
# HELP request_duration_seconds Request latency.
request_duration_seconds_bucket{path="/",le="0.005"} 1
request_duration_seconds_bucket{path="/",le="0.5"} 3 # {trace_id="def"} 0.25
request_duration_seconds_bucket{path="/",le="1.0"} 4
request_duration_seconds_bucket{path="/",le="1e+06"} 6
request_duration_seconds_bucket{path="/",le="+Inf"} 7
request_duration_seconds_sum{path="/"} 2000003.25
request_duration_seconds_count{path="/"} 7
request_duration_seconds_created{path="/"} 1600000000.0
# TYPE rpc_duration_seconds summary
# HELP rpc_duration_seconds RPC latency.
rpc_duration_seconds{quantile="0.5"} 0.25
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds{quantile="1.0"} 3.0
rpc_duration_seconds_sum 7.5
rpc_duration_seconds_count 12
# TYPE build info
# HELP build Build information.
build_info{revision="abc",version="1.2.3"} 1
# TYPE door stateset
# HELP door Door state.
door{entity="front",door="open"} 1
door{entity="front",door="closed"} 0
# TYPE legacy_value unknown
legacy_value 42.0 1520879607.789
# EOF
"#;
    assert_eq!(render(&all(), Format::OpenMetrics), want);
}

#[test]
fn empty_input() {
    assert_eq!(render(&[], Format::Text), "");
    assert_eq!(render(&[], Format::OpenMetrics), "# EOF\n");
    let empty = family("idle", "Nothing yet.", MetricType::Gauge, Vec::new());
    assert_eq!(
        render(std::slice::from_ref(&empty), Format::Text),
        "# HELP idle Nothing yet.\n# TYPE idle gauge\n"
    );
    assert_eq!(
        render(&[empty], Format::OpenMetrics),
        "# TYPE idle gauge\n# HELP idle Nothing yet.\n# EOF\n"
    );
}

#[test]
fn appends_to_existing_buffer_contents() {
    let mut buf = b"prefix\n".to_vec();
    encode(&[gauge()], Format::Text, &mut buf);
    assert!(buf.starts_with(b"prefix\n# HELP temperature_celsius"));
}

#[test]
fn missing_inf_bucket_is_added_from_count() {
    let value = HistogramValue {
        buckets: vec![Bucket {
            upper_bound: 1.0,
            cumulative_count: 2,
            exemplar: None,
        }],
        count: 5,
        sum: 9.0,
        created: None,
    };
    let h = family(
        "h",
        "",
        MetricType::Histogram,
        vec![Sample::new(
            LabelSet::empty(),
            Value::Histogram(Box::new(value)),
        )],
    );
    assert_eq!(
        render(std::slice::from_ref(&h), Format::Text),
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 5\nh_sum 9.0\nh_count 5\n"
    );
    assert_eq!(
        render(&[h], Format::OpenMetrics),
        "# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 5\nh_sum 9.0\nh_count 5\n# EOF\n"
    );
}

#[test]
fn samples_of_another_type_are_left_out() {
    let g = family(
        "g",
        "",
        MetricType::Gauge,
        vec![
            Sample::new(LabelSet::empty(), Value::counter(1.0)),
            Sample::new(labels(&[("a", "b")]), Value::Gauge(2.0)),
        ],
    );
    assert_eq!(
        render(std::slice::from_ref(&g), Format::Text),
        "# TYPE g gauge\ng{a=\"b\"} 2.0\n"
    );
    assert_eq!(
        render(&[g], Format::OpenMetrics),
        "# TYPE g gauge\ng{a=\"b\"} 2.0\n# EOF\n"
    );
}

#[test]
fn openmetrics_drops_what_it_cannot_express() {
    // An exemplar over 128 characters, a unit the name lacks, a unit on an info.
    let long = "x".repeat(121);
    let mut c = family(
        "jobs",
        "",
        MetricType::Counter,
        vec![Sample::new(
            LabelSet::empty(),
            Value::Counter {
                total: 1.0,
                created: None,
                exemplar: Some(Box::new(exemplar(&long, 1.0, None))),
            },
        )],
    );
    c.unit = Some(Arc::from("bytes"));
    let mut i = family(
        "app",
        "",
        MetricType::Info,
        vec![Sample::new(LabelSet::empty(), Value::Info)],
    );
    i.unit = Some(Arc::from("app"));
    assert_eq!(
        render(&[c, i], Format::OpenMetrics),
        "# TYPE jobs counter\njobs_total 1.0\n# TYPE app info\napp_info 1\n# EOF\n"
    );
    // 120 characters of value plus `trace_id` is exactly 128: kept.
    let fits = exemplar(&"y".repeat(120), 2.0, None);
    let c = family(
        "jobs",
        "",
        MetricType::Counter,
        vec![Sample::new(
            LabelSet::empty(),
            Value::Counter {
                total: 1.0,
                created: None,
                exemplar: Some(Box::new(fits)),
            },
        )],
    );
    let out = render(&[c], Format::OpenMetrics);
    assert!(
        out.contains(&format!(
            "jobs_total 1.0 # {{trace_id=\"{}\"}} 2.0\n",
            "y".repeat(120)
        )),
        "{out}"
    );
}

#[test]
fn exemplar_without_labels_is_written_as_empty_braces() {
    let c = family(
        "jobs",
        "",
        MetricType::Counter,
        vec![Sample::new(
            LabelSet::empty(),
            Value::Counter {
                total: 2.0,
                created: None,
                exemplar: Some(Box::new(Exemplar {
                    labels: LabelSet::empty(),
                    value: 0.5,
                    timestamp: None,
                })),
            },
        )],
    );
    assert_eq!(
        render(std::slice::from_ref(&c), Format::OpenMetrics),
        "# TYPE jobs counter\njobs_total 2.0 # {} 0.5\n# EOF\n"
    );
    assert_eq!(
        render(&[c], Format::Text),
        "# TYPE jobs_total counter\njobs_total 2.0\n"
    );
}

#[test]
fn text_leaves_out_timestamps_before_1970() {
    let mut early = Sample::new(labels(&[("a", "early")]), Value::Gauge(1.0));
    early.timestamp_ms = Some(-1);
    let mut late = Sample::new(labels(&[("a", "late")]), Value::Gauge(2.0));
    late.timestamp_ms = Some(1);
    let families = [family("g", "G.", MetricType::Gauge, vec![early, late])];
    let text = render(&families, Format::Text);
    assert!(!text.contains("early"), "{text}");
    assert!(text.contains("g{a=\"late\"} 2.0 1\n"), "{text}");
}
