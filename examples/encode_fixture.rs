//! Writes an exposition fixture for checking our encoders against an independent reader
//! (`scripts/python_interop.sh` feeds it to the Python client's parsers).
//!
//! `cargo run --example encode_fixture -- OUT_DIR` writes into `OUT_DIR`:
//! - `fixture.prom`: the text format 0.0.4 exposition;
//! - `fixture.om.txt`: the OpenMetrics 1.0 exposition;
//! - `expected.json`: what we meant, per format: each family's metadata name, type,
//!   help and unit, and each sample's full name, labels, value, timestamp and exemplar.
//!
//! The expectations are written out by hand below (sample names, `le`/`quantile`
//! strings), not derived from the encoder, so an encoder bug cannot hide itself.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use promsdk::{
    encode, Bucket, Exemplar, Format, HistogramValue, LabelSet, MetricFamily, MetricType, Sample,
    SummaryValue, Value,
};

const HELP: &str = "Tricky help: \"quoted\", back\\slash, new\nline, ünïcødé ✓.";
const TRICKY_PATH: &str = "/a\"b\\c\nd";
const TRICKY_ROUTE: &str = "a,b=c} 1 # {x=\"y\"}";

/// Label pairs in the order written.
type Labels = Vec<(String, String)>;

/// One sample as the reader should see it.
struct Want {
    name: String,
    labels: Labels,
    value: f64,
    timestamp_ms: Option<i64>,
    exemplar: Option<(Labels, f64, Option<f64>)>,
}

/// One family as the reader should see it.
struct WantFamily {
    name: &'static str,
    kind: &'static str,
    unit: &'static str,
}

#[derive(Default)]
struct Expectation {
    families: Vec<WantFamily>,
    samples: Vec<Want>,
}

impl Expectation {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64, ts: Option<i64>) {
        self.samples.push(Want {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|&(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            value,
            timestamp_ms: ts,
            exemplar: None,
        });
    }

    fn exemplar(&mut self, labels: &[(&str, &str)], value: f64, ts: Option<f64>) {
        let last = self.samples.last_mut().expect("a sample to attach to");
        let labels = labels
            .iter()
            .map(|&(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        last.exemplar = Some((labels, value, ts));
    }
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    LabelSet::from_pairs("fixture", pairs).expect("valid fixture labels")
}

fn family(name: &str, t: MetricType, unit: Option<&str>, samples: Vec<Sample>) -> MetricFamily {
    let mut f = MetricFamily::new(name, HELP, t);
    f.unit = unit.map(Arc::from);
    f.samples = samples;
    f
}

fn at(mut s: Sample, ms: i64) -> Sample {
    s.timestamp_ms = Some(ms);
    s
}

fn trace(id: &str, value: f64, ts: Option<f64>) -> Option<Box<Exemplar>> {
    Some(Box::new(Exemplar {
        labels: labels(&[("trace_id", id)]),
        value,
        timestamp: ts,
    }))
}

fn families() -> Vec<MetricFamily> {
    let counter = family(
        "fixture_sent_bytes",
        MetricType::Counter,
        Some("bytes"),
        vec![
            at(
                Sample::new(
                    labels(&[("method", "GET"), ("path", TRICKY_PATH)]),
                    Value::Counter {
                        total: 1027.0,
                        created: Some(1_700_000_000.5),
                        exemplar: trace("4bf92f3577b34da6", 0.5, Some(1_700_000_000.123)),
                    },
                ),
                1_700_000_002_123,
            ),
            Sample::new(
                labels(&[("method", ""), ("path", "ünïcødé/日本語")]),
                Value::counter(f64::INFINITY),
            ),
        ],
    );
    let gauge = family(
        "fixture_temperature_celsius",
        MetricType::Gauge,
        Some("celsius"),
        vec![
            Sample::new(labels(&[("room", "tab\there")]), Value::Gauge(f64::NAN)),
            Sample::new(
                labels(&[("room", "quote\"")]),
                Value::Gauge(f64::NEG_INFINITY),
            ),
            Sample::new(labels(&[("room", "back\\slash\\")]), Value::Gauge(-3.5)),
            at(
                Sample::new(labels(&[("room", "new\nline")]), Value::Gauge(1e21)),
                1_700_000_000_000,
            ),
        ],
    );
    let bucket = |upper_bound, cumulative_count, exemplar: Option<Box<Exemplar>>| Bucket {
        upper_bound,
        cumulative_count,
        exemplar: exemplar.map(|e| *e),
    };
    let histogram = family(
        "fixture_latency_seconds",
        MetricType::Histogram,
        Some("seconds"),
        vec![Sample::new(
            labels(&[("route", TRICKY_ROUTE)]),
            Value::Histogram(Box::new(HistogramValue {
                buckets: vec![
                    bucket(0.005, 1, None),
                    bucket(0.5, 3, trace("b1", 0.25, None)),
                    bucket(1.0, 4, None),
                    bucket(1e6, 6, trace("b2", 900_000.0, Some(1_700_000_000.0))),
                    bucket(f64::INFINITY, 7, None),
                ],
                count: 7,
                sum: 2_000_003.25,
                created: Some(1_600_000_000.0),
            })),
        )],
    );
    let summary = family(
        "fixture_rpc_seconds",
        MetricType::Summary,
        Some("seconds"),
        vec![Sample::new(
            LabelSet::empty(),
            Value::Summary(Box::new(SummaryValue {
                quantiles: vec![(0.0, 0.001), (0.5, 0.25), (0.99, f64::NAN), (1.0, 3.0)],
                count: 12,
                sum: 7.5,
                created: Some(1_600_000_000.25),
            })),
        )],
    );
    let info = family(
        "fixture_build",
        MetricType::Info,
        None,
        vec![Sample::new(
            labels(&[("revision", "abc\"def"), ("version", "1.2.3")]),
            Value::Info,
        )],
    );
    let state_set = family(
        "fixture_door",
        MetricType::StateSet,
        None,
        vec![Sample::new(
            labels(&[("entity", "front")]),
            Value::StateSet(vec![
                (Arc::from("open"), true),
                (Arc::from("clo\"sed\\\n"), false),
            ]),
        )],
    );
    let unknown = family(
        "fixture_legacy",
        MetricType::Unknown,
        None,
        vec![at(
            Sample::new(LabelSet::empty(), Value::Unknown(-0.125)),
            1_520_879_607_789,
        )],
    );
    vec![counter, gauge, histogram, summary, info, state_set, unknown]
}

/// What a reader of `format` should find, written out by hand.
fn expectation(om: bool) -> Expectation {
    let mut e = Expectation::default();
    let fam = |name, kind, unit| WantFamily { name, kind, unit };
    let unit = |u: &'static str| if om { u } else { "" };
    let get = [("method", "GET"), ("path", TRICKY_PATH)];
    let ts = Some(1_700_000_002_123);

    e.families.push(if om {
        fam("fixture_sent_bytes", "counter", "bytes")
    } else {
        fam("fixture_sent_bytes_total", "counter", "")
    });
    e.sample("fixture_sent_bytes_total", &get, 1027.0, ts);
    if om {
        e.exemplar(
            &[("trace_id", "4bf92f3577b34da6")],
            0.5,
            Some(1_700_000_000.123),
        );
        e.sample("fixture_sent_bytes_created", &get, 1_700_000_000.5, ts);
    }
    let unicode = [("method", ""), ("path", "ünïcødé/日本語")];
    e.sample("fixture_sent_bytes_total", &unicode, f64::INFINITY, None);

    let g = "fixture_temperature_celsius";
    e.families.push(fam(g, "gauge", unit("celsius")));
    e.sample(g, &[("room", "tab\there")], f64::NAN, None);
    e.sample(g, &[("room", "quote\"")], f64::NEG_INFINITY, None);
    e.sample(g, &[("room", "back\\slash\\")], -3.5, None);
    e.sample(g, &[("room", "new\nline")], 1e21, Some(1_700_000_000_000));

    let h = "fixture_latency_seconds";
    e.families.push(fam(h, "histogram", unit("seconds")));
    // `le` as client_golang writes it in each format.
    let les: [(&str, &str, f64); 5] = [
        ("0.005", "0.005", 1.0),
        ("0.5", "0.5", 3.0),
        ("1", "1.0", 4.0),
        ("1e+06", "1e+06", 6.0),
        ("+Inf", "+Inf", 7.0),
    ];
    for (text_le, om_le, count) in les {
        let le = if om { om_le } else { text_le };
        e.sample(
            &format!("{h}_bucket"),
            &[("route", TRICKY_ROUTE), ("le", le)],
            count,
            None,
        );
        if om && le == "0.5" {
            e.exemplar(&[("trace_id", "b1")], 0.25, None);
        }
        if om && le == "1e+06" {
            e.exemplar(&[("trace_id", "b2")], 900_000.0, Some(1_700_000_000.0));
        }
    }
    e.sample(
        &format!("{h}_sum"),
        &[("route", TRICKY_ROUTE)],
        2_000_003.25,
        None,
    );
    e.sample(&format!("{h}_count"), &[("route", TRICKY_ROUTE)], 7.0, None);
    if om {
        e.sample(
            &format!("{h}_created"),
            &[("route", TRICKY_ROUTE)],
            1_600_000_000.0,
            None,
        );
    }

    let s = "fixture_rpc_seconds";
    e.families.push(fam(s, "summary", unit("seconds")));
    let quantiles = [
        ("0", "0.0", 0.001),
        ("0.5", "0.5", 0.25),
        ("0.99", "0.99", f64::NAN),
        ("1", "1.0", 3.0),
    ];
    for (text_q, om_q, v) in quantiles {
        e.sample(s, &[("quantile", if om { om_q } else { text_q })], v, None);
    }
    e.sample(&format!("{s}_sum"), &[], 7.5, None);
    e.sample(&format!("{s}_count"), &[], 12.0, None);
    if om {
        e.sample(&format!("{s}_created"), &[], 1_600_000_000.25, None);
    }

    e.families.push(if om {
        fam("fixture_build", "info", "")
    } else {
        fam("fixture_build_info", "gauge", "")
    });
    e.sample(
        "fixture_build_info",
        &[("revision", "abc\"def"), ("version", "1.2.3")],
        1.0,
        None,
    );

    let d = "fixture_door";
    e.families
        .push(fam(d, if om { "stateset" } else { "gauge" }, ""));
    e.sample(d, &[("entity", "front"), (d, "open")], 1.0, None);
    e.sample(d, &[("entity", "front"), (d, "clo\"sed\\\n")], 0.0, None);

    e.families.push(fam(
        "fixture_legacy",
        if om { "unknown" } else { "untyped" },
        "",
    ));
    e.sample("fixture_legacy", &[], -0.125, Some(1_520_879_607_789));
    e
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_num(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" });
    } else {
        let _ = write!(out, "{v:?}");
    }
}

fn json_labels(out: &mut String, labels: &[(String, String)]) {
    out.push('{');
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        json_str(out, n);
        out.push_str(": ");
        json_str(out, v);
    }
    out.push('}');
}

fn json_expectation(out: &mut String, e: &Expectation) {
    out.push_str("{\"families\": [");
    for (i, f) in e.families.iter().enumerate() {
        out.push_str(if i > 0 { ",\n  " } else { "\n  " });
        out.push_str("{\"name\": ");
        json_str(out, f.name);
        out.push_str(", \"type\": ");
        json_str(out, f.kind);
        out.push_str(", \"help\": ");
        json_str(out, HELP);
        out.push_str(", \"unit\": ");
        json_str(out, f.unit);
        out.push('}');
    }
    out.push_str("],\n \"samples\": [");
    for (i, s) in e.samples.iter().enumerate() {
        out.push_str(if i > 0 { ",\n  " } else { "\n  " });
        out.push_str("{\"name\": ");
        json_str(out, &s.name);
        out.push_str(", \"labels\": ");
        json_labels(out, &s.labels);
        out.push_str(", \"value\": ");
        json_num(out, s.value);
        out.push_str(", \"timestamp_ms\": ");
        match s.timestamp_ms {
            Some(ms) => {
                let _ = write!(out, "{ms}");
            }
            None => out.push_str("null"),
        }
        out.push_str(", \"exemplar\": ");
        match &s.exemplar {
            Some((labels, value, ts)) => {
                out.push_str("{\"labels\": ");
                json_labels(out, labels);
                out.push_str(", \"value\": ");
                json_num(out, *value);
                out.push_str(", \"timestamp\": ");
                match ts {
                    Some(t) => json_num(out, *t),
                    None => out.push_str("null"),
                }
                out.push('}');
            }
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("]}");
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let families = families();
    for (format, file) in [
        (Format::Text, "fixture.prom"),
        (Format::OpenMetrics, "fixture.om.txt"),
    ] {
        let mut buf = Vec::new();
        encode(&families, format, &mut buf);
        std::fs::write(dir.join(file), buf)?;
    }
    let mut json = String::from("{\"text\": ");
    json_expectation(&mut json, &expectation(false));
    json.push_str(",\n\"openmetrics\": ");
    json_expectation(&mut json, &expectation(true));
    json.push_str("}\n");
    std::fs::write(dir.join("expected.json"), json)?;
    println!(
        "wrote fixture.prom, fixture.om.txt and expected.json to {}",
        dir.display()
    );
    Ok(())
}
