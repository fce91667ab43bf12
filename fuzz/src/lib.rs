//! The fuzz body shared by the cargo-fuzz target (`fuzz_targets/parse.rs`) and the
//! stable-toolchain replay runner (`src/bin/replay.rs`).

use promsdk::parser::{parse_families, Entry, Parser};
use promsdk::{encode, Format, MetricFamily, Value};

/// Whether a family has a histogram with a negative bucket: the model always has a
/// `_sum`, which OpenMetrics forbids beside negative buckets, so such families cannot
/// be written back as valid OpenMetrics.
fn negative_buckets(f: &MetricFamily) -> bool {
    f.samples.iter().any(|s| match &s.value {
        Value::Histogram(h) => h.buckets.iter().any(|b| b.upper_bound < 0.0),
        _ => false,
    })
}

/// Runs both parsers over `data` and checks what must hold for any input: no panic,
/// errors point at a real position, nothing is yielded after an error, and whatever
/// OpenMetrics input builds families is re-encoded into something that parses again.
pub fn check(data: &[u8]) {
    for format in [Format::Text, Format::OpenMetrics] {
        let mut parser = Parser::new(data, format);
        let mut samples = 0usize;
        while let Some(entry) = parser.next() {
            match entry {
                Ok(Entry::Sample(s)) => {
                    samples += 1;
                    assert!(s.line >= 1);
                    for (name, _) in s.labels.iter() {
                        assert!(!name.is_empty());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
                    assert!(e.line >= 1 && e.line <= lines + 1, "{e} in {lines} lines");
                    assert!(e.column >= 1, "{e}");
                    assert!(parser.next().is_none(), "entries after an error");
                    break;
                }
            }
        }
        assert!(samples <= data.len());
        if let Ok(families) = parse_families(data, format) {
            let mut again = Vec::new();
            encode(&families, format, &mut again);
            if format == Format::OpenMetrics && !families.iter().any(negative_buckets) {
                // Our own output of a valid input must be valid again.
                if let Err(e) = parse_families(&again, format) {
                    panic!("re-encoded exposition rejected: {e}\n{}", String::from_utf8_lossy(&again));
                }
            }
        }
    }
}
