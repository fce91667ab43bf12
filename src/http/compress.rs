//! `Accept-Encoding` negotiation and gzip, as promhttp does them.
//!
//! promhttp offers `identity` then `gzip` and picks, for each offer in that order, the
//! clause naming it (or `*`) with the highest `q`; only a strictly higher `q` replaces
//! an earlier pick, so `identity` wins ties. Unlike promhttp, which answers an error
//! when every offer is refused (`q=0`), the body is then sent uncompressed.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Whether the response to a request with this `Accept-Encoding` should be gzipped.
pub(crate) fn wants_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };
    let mut best = ("identity", -1.0f64);
    for offer in ["identity", "gzip"] {
        for (coding, q) in header.split(',').filter_map(parse) {
            if q > best.1 && (coding == "*" || coding.eq_ignore_ascii_case(offer)) {
                best = (offer, q);
            }
        }
    }
    best.0 == "gzip" && best.1 > 0.0
}

/// One `coding;q=x` clause; `q` is 1 when absent and 0 when unreadable.
fn parse(clause: &str) -> Option<(&str, f64)> {
    let mut parts = clause.split(';');
    let coding = parts.next()?.trim();
    if coding.is_empty() {
        return None;
    }
    let mut q = 1.0;
    for param in parts {
        if let Some((key, value)) = param.split_once('=') {
            if key.trim().eq_ignore_ascii_case("q") {
                q = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|q| q.is_finite())
                    .unwrap_or(0.0);
            }
        }
    }
    Some((coding, q))
}

/// Gzips `input` into `out` (cleared first, its capacity reused).
pub(crate) fn gzip(input: &[u8], out: Vec<u8>) -> Vec<u8> {
    let mut out = out;
    out.clear();
    let mut encoder = GzEncoder::new(out, Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(input);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        header: Option<&'static str>,
        gzip: bool,
    }

    const CASES: &[Case] = &[
        Case {
            name: "absent",
            header: None,
            gzip: false,
        },
        Case {
            name: "empty",
            header: Some(""),
            gzip: false,
        },
        Case {
            name: "gzip",
            header: Some("gzip"),
            gzip: true,
        },
        Case {
            name: "Prometheus",
            header: Some("gzip"),
            gzip: true,
        },
        Case {
            name: "browser",
            header: Some("gzip, deflate, br"),
            gzip: true,
        },
        Case {
            name: "upper case",
            header: Some("GZIP"),
            gzip: true,
        },
        Case {
            name: "identity only",
            header: Some("identity"),
            gzip: false,
        },
        Case {
            name: "identity wins a tie",
            header: Some("gzip, identity"),
            gzip: false,
        },
        Case {
            name: "gzip preferred",
            header: Some("identity;q=0.5, gzip"),
            gzip: true,
        },
        Case {
            name: "gzip refused",
            header: Some("gzip;q=0"),
            gzip: false,
        },
        Case {
            name: "star",
            header: Some("*"),
            gzip: false,
        },
        Case {
            name: "star, identity lower",
            header: Some("*, identity;q=0.1"),
            gzip: false,
        },
        Case {
            name: "identity refused by q",
            header: Some("identity;q=0, gzip;q=0.2"),
            gzip: true,
        },
        Case {
            name: "bad q",
            header: Some("gzip;q=abc"),
            gzip: false,
        },
        Case {
            name: "deflate only",
            header: Some("deflate"),
            gzip: false,
        },
        Case {
            name: "spaces",
            header: Some(" gzip ; q=0.8 "),
            gzip: true,
        },
    ];

    #[test]
    fn negotiation_table() {
        for case in CASES {
            assert_eq!(wants_gzip(case.header), case.gzip, "case {:?}", case.name);
        }
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let input = b"metric_a 1\nmetric_b 2\n".repeat(100);
        let packed = gzip(&input, Vec::with_capacity(8));
        assert!(packed.len() < input.len());
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, input);
    }
}
