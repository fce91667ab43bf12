//! The parsers on expositions written by others (tests/data, see its README): every
//! file parses in its format, yields one sample per sample line, and builds families.

use std::fs;

use promsdk::parser::{detect_format, parse_families, Entry, Parser};
use promsdk::{Format, MetricType};

fn captured() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "prom" || e == "txt"))
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "captured files missing: {files:?}");
    files
}

fn format_of(path: &str) -> Format {
    if path.ends_with(".om.txt") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

#[test]
fn captured_expositions_parse_sample_for_sample_line() {
    for (path, body) in captured() {
        let format = format_of(&path);
        assert_eq!(detect_format(&body), format, "{path}");
        let entries: Vec<Entry<'_>> = Parser::new(&body, format)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let sample_lines = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count();
        let samples: Vec<_> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Sample(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(samples.len(), sample_lines, "{path}");
        let typed = samples
            .iter()
            .filter(|s| s.family_type.metric_type() != Some(MetricType::Unknown));
        assert!(
            typed.count() * 2 > samples.len(),
            "{path}: most samples should find their # TYPE"
        );
    }
}

#[test]
fn captured_expositions_build_families() {
    for (path, body) in captured() {
        let families =
            parse_families(&body, format_of(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let declared = body
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"# TYPE "))
            .count();
        assert_eq!(families.len(), declared, "{path}: one family per # TYPE");
        if path.ends_with("node_exporter.prom") {
            let gc = families
                .iter()
                .find(|f| &*f.name == "go_gc_duration_seconds")
                .unwrap();
            assert_eq!(gc.metric_type, MetricType::Summary);
        }
    }
}

#[test]
fn python_openmetrics_capture_has_every_type() {
    let (_, body) = captured()
        .into_iter()
        .find(|(p, _)| p.ends_with("python_client.om.txt"))
        .unwrap();
    let families = parse_families(&body, Format::OpenMetrics).unwrap();
    let mut types: Vec<_> = families.iter().map(|f| f.metric_type).collect();
    types.sort();
    types.dedup();
    use MetricType::*;
    assert_eq!(types, [Counter, Gauge, Histogram, Summary, Info, StateSet]);
    let gauge = families
        .iter()
        .find(|f| &*f.name == "capture_temperature_celsius")
        .unwrap();
    assert_eq!(gauge.unit.as_deref(), Some("celsius"));
}
