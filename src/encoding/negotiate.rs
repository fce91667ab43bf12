//! `Accept`-header negotiation, matching client_golang's
//! `expfmt.NegotiateIncludingOpenMetrics`.
//!
//! The header is split into clauses at `,` and each clause into a media range and
//! parameters at `;`, trimming spaces only. Clauses are ordered as Go's
//! `goautoneg.ParseAccept` orders them: a clause goes before another when its `q` is
//! higher, or when it names a concrete type (or subtype) and the other a `*`; for up
//! to 12 clauses that is Go's insertion sort step for step, so even the odd orders that
//! comparison produces are reproduced. The first clause that is `text/plain` with
//! `version` `0.0.4` or none picks [`Format::Text`]; the first that is
//! `application/openmetrics-text` with `version` `1.0.0`, `0.0.1` or none picks
//! [`Format::OpenMetrics`]. Protobuf, other types and other versions are skipped, and
//! with no match the answer is text. As in Go, `q=0` does not exclude a type.
//!
//! Known differences from Go, all on malformed or unusual headers: a `q` written as a
//! hexadecimal float counts as `0` (Go parses it), and with more than 12 clauses the
//! order is a stable sort by (`q`, concreteness) instead of Go's pattern-defeating
//! quicksort, whose result for this comparison depends on its internals.

use smallvec::SmallVec;

use super::Format;

/// Picks the exposition format for a request's `Accept` header (`None` when absent).
///
/// ```
/// use promsdk::{negotiate, Format};
/// // What Prometheus sends by default.
/// let prometheus = "application/openmetrics-text;version=1.0.0,\
///     application/openmetrics-text;version=0.0.1;q=0.75,\
///     text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
/// assert_eq!(negotiate(Some("text/html,*/*")), Format::Text);
/// assert_eq!(negotiate(None), Format::Text);
/// ```
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(header) = accept else {
        return Format::Text;
    };
    let mut clauses: SmallVec<[Clause<'_>; 12]> = header.split(',').filter_map(parse).collect();
    sort(&mut clauses);
    for c in &clauses {
        if c.kind == "text" && c.subtype == "plain" && matches!(c.version, "0.0.4" | "") {
            return Format::Text;
        }
        if c.kind == "application"
            && c.subtype == "openmetrics-text"
            && matches!(c.version, "1.0.0" | "0.0.1" | "")
        {
            return Format::OpenMetrics;
        }
    }
    Format::Text
}

/// One media range of an `Accept` header.
#[derive(Debug, Clone, Copy)]
struct Clause<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f64,
    version: &'a str,
}

fn trim(s: &str) -> &str {
    s.trim_matches(' ')
}

/// Parses one clause as goautoneg does; `None` for a media range that is neither
/// `type/subtype` nor a lone `*`.
fn parse(part: &str) -> Option<Clause<'_>> {
    let mut params = trim(part).split(';');
    let range = params.next().unwrap_or("");
    let mut halves = range.split('/');
    let kind = trim(halves.next().unwrap_or(""));
    let subtype = match (halves.next(), halves.next()) {
        (None, _) if kind == "*" => "*",
        (Some(sub), None) => trim(sub),
        _ => return None,
    };
    let mut clause = Clause {
        kind,
        subtype,
        q: 1.0,
        version: "",
    };
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        match trim(key) {
            // Go parses the untrimmed value as a float32 and keeps 0 when that fails.
            "q" => clause.q = value.parse::<f32>().map_or(0.0, f64::from),
            "version" => clause.version = trim(value),
            _ => {}
        }
    }
    Some(clause)
}

/// goautoneg's `Less`: not a strict weak order (a concrete type beats `*` whatever
/// their `q`), which is why the sorting algorithm matters.
fn less(a: &Clause<'_>, b: &Clause<'_>) -> bool {
    a.q > b.q || (a.kind != "*" && b.kind == "*") || (a.subtype != "*" && b.subtype == "*")
}

/// Go's `sort.Sort` for up to 12 elements: insertion sort.
const GO_INSERTION_SORT_MAX: usize = 12;

fn sort(clauses: &mut [Clause<'_>]) {
    if clauses.len() <= GO_INSERTION_SORT_MAX {
        for i in 1..clauses.len() {
            let mut j = i;
            while j > 0 && less(&clauses[j], &clauses[j - 1]) {
                clauses.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        // A total order: never panics, whatever the comparison would say.
        clauses.sort_by(|a, b| {
            b.q.total_cmp(&a.q)
                .then((a.kind == "*").cmp(&(b.kind == "*")))
                .then((a.subtype == "*").cmp(&(b.subtype == "*")))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        accept: Option<&'static str>,
        want: Format,
    }

    const OM: Format = Format::OpenMetrics;
    const TEXT: Format = Format::Text;

    const CASES: &[Case] = &[
        Case { name: "no header", accept: None, want: TEXT },
        Case { name: "empty header", accept: Some(""), want: TEXT },
        Case { name: "garbage", accept: Some(";;,,/,=,q"), want: TEXT },
        Case { name: "browser", accept: Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), want: TEXT },
        Case { name: "wildcard only", accept: Some("*/*"), want: TEXT },
        Case { name: "lone star", accept: Some("*"), want: TEXT },
        Case { name: "plain text", accept: Some("text/plain"), want: TEXT },
        Case { name: "text 0.0.4", accept: Some("text/plain;version=0.0.4"), want: TEXT },
        Case {
            name: "prometheus 2.x default",
            accept: Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            want: OM,
        },
        Case {
            name: "prometheus with text preferred",
            accept: Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"),
            want: TEXT,
        },
        Case { name: "openmetrics no version", accept: Some("application/openmetrics-text"), want: OM },
        Case { name: "openmetrics 0.0.1", accept: Some("application/openmetrics-text; version=0.0.1"), want: OM },
        Case { name: "openmetrics 1.0.0 with spaces", accept: Some(" application/openmetrics-text ; version = 1.0.0 ; charset=utf-8"), want: OM },
        Case { name: "openmetrics unknown version skipped", accept: Some("application/openmetrics-text;version=2.0.0"), want: TEXT },
        Case { name: "text unknown version skipped", accept: Some("text/plain;version=1.0.0,application/openmetrics-text;q=0.1"), want: OM },
        Case { name: "empty version counts as none", accept: Some("application/openmetrics-text;version="), want: OM },
        Case { name: "q orders clauses", accept: Some("text/plain;q=0.2,application/openmetrics-text;q=0.8"), want: OM },
        Case { name: "equal q keeps header order", accept: Some("application/openmetrics-text;q=0.5,text/plain;q=0.5"), want: OM },
        Case { name: "equal q keeps header order (text first)", accept: Some("text/plain;q=0.5,application/openmetrics-text;q=0.5"), want: TEXT },
        Case { name: "q=0 still accepted, as in Go", accept: Some("application/openmetrics-text;q=0"), want: OM },
        Case { name: "unparsable q counts as 0", accept: Some("application/openmetrics-text;q=high,text/plain;q=0.1"), want: TEXT },
        Case { name: "q with a space counts as 0", accept: Some("text/plain;q= 0.9,application/openmetrics-text;q=0.5"), want: OM },
        Case { name: "q parsed as float32", accept: Some("text/plain;q=0.30000001,application/openmetrics-text;q=0.3"), want: TEXT },
        Case {
            name: "protobuf skipped",
            accept: Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"),
            want: TEXT,
        },
        Case {
            name: "protobuf then openmetrics",
            accept: Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.9"),
            want: OM,
        },
        Case { name: "types are case sensitive", accept: Some("Application/OpenMetrics-Text"), want: TEXT },
        Case { name: "parameter names are case sensitive", accept: Some("application/openmetrics-text;Version=9"), want: OM },
        Case { name: "last version parameter wins", accept: Some("application/openmetrics-text;version=9;version=1.0.0"), want: OM },
        Case { name: "three-part range skipped", accept: Some("application/openmetrics-text/x,text/plain;q=0.1"), want: TEXT },
        // Go's Less makes a concrete type beat `*/*` whatever their q.
        Case { name: "star with higher q changes nothing", accept: Some("*/*;q=1,text/plain;q=0.1"), want: TEXT },
        // A NaN q compares false both ways, so insertion sort leaves text/plain first.
        Case { name: "NaN q blocks reordering, as in Go", accept: Some("text/plain;q=NaN,application/openmetrics-text;q=0.5"), want: TEXT },
        Case {
            name: "more than 12 clauses",
            accept: Some("a/a,b/b,c/c,d/d,e/e,f/f,g/g,h/h,i/i,j/j,k/k,l/l,m/m;q=0.5,application/openmetrics-text;q=0.9"),
            want: OM,
        },
    ];

    #[test]
    fn negotiation_table() {
        for case in CASES {
            assert_eq!(
                negotiate(case.accept),
                case.want,
                "case {:?}: Accept {:?}",
                case.name,
                case.accept
            );
        }
    }

    #[test]
    fn parses_clauses_like_goautoneg() {
        let c = parse(" text / plain ; q=0.5; version = 0.0.4 ").unwrap();
        assert_eq!((c.kind, c.subtype, c.version), ("text", "plain", "0.0.4"));
        assert_eq!(c.q, 0.5);
        // Go does not trim the q value: a trailing space makes it unparsable, so 0.
        assert_eq!(parse("text/plain;q=0.5 ;x=y").unwrap().q, 0.0);
        assert_eq!(parse("*").map(|c| c.subtype), Some("*"));
        assert!(parse("text").is_none());
        assert!(parse("a/b/c").is_none());
    }

    #[test]
    // Safe code only, and its 360,000-byte header takes Miri more than ten minutes.
    #[cfg_attr(miri, ignore = "slow under Miri; no unsafe code")]
    fn huge_headers_are_cheap_and_safe() {
        let header = "x/y;q=0.5,*/*;q=1,".repeat(20_000) + "application/openmetrics-text;q=0.7";
        assert_eq!(negotiate(Some(&header)), Format::OpenMetrics);
    }
}
