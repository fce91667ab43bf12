//! `parse_text`: parse a real exposition (node_exporter's, captured in tests/data) in the
//! text format, visiting every sample's name, labels and value. Throughput in bytes, so
//! criterion reports MB/s; the samples per second follow from the sample count printed
//! once at the start.

use std::hint::black_box;
use std::io;

use criterion::{Criterion, Throughput};

const BODY: &str = include_str!("../../../tests/data/node_exporter.prom");

pub fn parse_text(c: &mut Criterion) {
    // The two count a little differently (prometheus-parse folds histogram and summary
    // lines into one value each; the estimate below unfolds them), so both are shown.
    eprintln!(
        "parse_text: {} bytes; samples: promsdk {}, prometheus-parse about {}",
        BODY.len(),
        count_promsdk(),
        count_prometheus_parse()
    );

    let mut group = crate::group(c, "parse_text");
    group.throughput(Throughput::Bytes(BODY.len() as u64));
    group.bench_function("promsdk", |b| b.iter(|| black_box(count_promsdk())));
    group.bench_function("prometheus-parse", |b| {
        b.iter(|| black_box(count_prometheus_parse()))
    });
    group.finish();
}

/// Samples parsed by promsdk's zero-copy reader, with every label decoded.
fn count_promsdk() -> usize {
    let mut n = 0;
    for entry in promsdk::parser::Parser::new(BODY.as_bytes(), promsdk::Format::Text) {
        if let promsdk::parser::Entry::Sample(s) = entry.expect("valid exposition") {
            for (name, value) in s.labels.iter() {
                black_box((name, value));
            }
            black_box((s.name, s.value));
            n += 1;
        }
    }
    n
}

/// Samples parsed by `prometheus-parse` (which takes owned lines), counting each
/// histogram and summary as about the number of lines it was written as.
fn count_prometheus_parse() -> usize {
    let lines = BODY.lines().map(|l| Ok::<_, io::Error>(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(b) => b.len() + 2,
            prometheus_parse::Value::Summary(q) => q.len() + 2,
            _ => 1,
        })
        .sum()
}
