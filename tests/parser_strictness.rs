//! Where blanks may stand and which label sets are allowed, in both exposition formats:
//! the corpus in `tests/data/strictness/` (one case per file, each file's verdict and
//! why in `verdicts.tsv`) holds Prometheus 2.42's verdicts, and
//!
//! - `our_parser_gives_every_case_its_verdict` checks our parser against them (an
//!   invalid case must fail with a `LINE:COLUMN: message` error);
//! - `a_real_prometheus_gives_every_case_its_verdict` proves them against a real
//!   Prometheus (Debian's package, installed by `scripts/install-deps.sh`): one target
//!   per case, served at its own path with its format's content type, scraped every
//!   second; a target that is up makes its case valid, one that is down invalid. For
//!   every valid case Prometheus must also have scraped as many samples as our parser
//!   reads, stored the series and values of those without a timestamp (samples with
//!   one may fall outside the storage's time window), and kept the same help texts.
//!
//! The second test skips, saying so, only when `prometheus` is not installed and `CI`
//! is not set.

#[path = "common/http_client.rs"]
mod client;
#[path = "common/prometheus.rs"]
mod prometheus;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use prometheus::{free_port, require_unless_local, start_prometheus_paths};
use promsdk::parser::{Entry, Parser};
use promsdk::Format;
use serde_json::Value as Json;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/strictness");

/// One corpus case.
struct Case {
    file: String,
    format: Format,
    valid: bool,
    reason: String,
    body: Vec<u8>,
}

impl Case {
    fn content_type(&self) -> &'static str {
        match self.format {
            Format::Text => "text/plain; version=0.0.4",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    fn verdict(&self) -> &'static str {
        verdict(self.valid)
    }
}

fn verdict(valid: bool) -> &'static str {
    if valid {
        "valid"
    } else {
        "invalid"
    }
}

/// The cases of `verdicts.tsv`, which must name every other file of the corpus once.
fn corpus() -> Vec<Case> {
    let manifest = std::fs::read_to_string(Path::new(DIR).join("verdicts.tsv")).unwrap();
    let mut cases = Vec::new();
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [file, format, verdict, reason] = fields[..] else {
            panic!("verdicts.tsv: not 4 tab-separated fields: {line:?}");
        };
        let format = match format {
            "text" => Format::Text,
            "openmetrics" => Format::OpenMetrics,
            other => panic!("verdicts.tsv: {file}: unknown format {other:?}"),
        };
        let valid = match verdict {
            "valid" => true,
            "invalid" => false,
            other => panic!("verdicts.tsv: {file}: unknown verdict {other:?}"),
        };
        let body = std::fs::read(Path::new(DIR).join(file))
            .unwrap_or_else(|e| panic!("verdicts.tsv names {file}: {e}"));
        cases.push(Case {
            file: file.to_owned(),
            format,
            valid,
            reason: reason.to_owned(),
            body,
        });
    }
    let listed: BTreeSet<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    assert_eq!(listed.len(), cases.len(), "verdicts.tsv lists a file twice");
    for entry in std::fs::read_dir(DIR).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "verdicts.tsv" || listed.contains(name.as_str()),
            "{name} is not in verdicts.tsv"
        );
    }
    for format in [Format::Text, Format::OpenMetrics] {
        for valid in [true, false] {
            let n = cases
                .iter()
                .filter(|c| c.format == format && c.valid == valid)
                .count();
            assert!(n >= 5, "only {n} {format:?} cases are {}", verdict(valid));
        }
    }
    cases
}

/// What our parser reads from a case: its entries, or the error's text.
fn parse(case: &Case) -> Result<Vec<Entry<'_>>, String> {
    Parser::new(&case.body, case.format)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            let text = e.to_string();
            let prefix = format!("{}:{}: ", e.line, e.column);
            assert!(
                e.line >= 1
                    && e.column >= 1
                    && text.starts_with(&prefix)
                    && text.len() > prefix.len(),
                "{}: error without LINE:COLUMN and message: {text:?}",
                case.file
            );
            text
        })
}

#[test]
fn our_parser_gives_every_case_its_verdict() {
    let cases = corpus();
    let mut wrong = Vec::new();
    for case in &cases {
        match (case.valid, parse(case)) {
            (true, Ok(entries)) => {
                let eof = entries.last() == Some(&Entry::Eof);
                if case.format == Format::OpenMetrics && !eof {
                    wrong.push(format!("{}: no # EOF entry at the end", case.file));
                }
            }
            (false, Err(_)) => {}
            (true, Err(e)) => wrong.push(format!(
                "{}: valid ({}), but our parser says {e}",
                case.file, case.reason
            )),
            (false, Ok(_)) => wrong.push(format!(
                "{}: invalid ({}), but our parser accepts it",
                case.file, case.reason
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!(
        "our parser: {} of {} cases get their verdict",
        cases.len(),
        cases.len()
    );
}

/// A series as Prometheus stores it, less `job` and `instance`.
type Series = BTreeMap<String, String>;

/// What Prometheus should hold for a valid case, by our parser.
#[derive(Debug, Default)]
struct Expected {
    samples: usize,
    /// Series and values of the samples without a timestamp.
    series: BTreeMap<Series, f64>,
    /// Names of the samples with a timestamp.
    timestamped: BTreeSet<String>,
    /// Help text by metric name.
    help: BTreeMap<String, String>,
}

fn expected(case: &Case) -> Expected {
    let mut out = Expected::default();
    for entry in parse(case).unwrap_or_default() {
        match entry {
            Entry::Help { name, help } => {
                out.help.insert(name.to_owned(), help.into_owned());
            }
            Entry::Sample(s) => {
                out.samples += 1;
                if s.timestamp.is_some() {
                    out.timestamped.insert(s.name.to_owned());
                    continue;
                }
                // Prometheus drops every label of a name given an empty value.
                let pairs: Vec<_> = s.labels.iter().collect();
                let mut series: Series = pairs
                    .iter()
                    .filter(|(n, _)| !pairs.iter().any(|(m, v)| m == n && v.is_empty()))
                    .map(|(n, v)| ((*n).to_owned(), v.to_string()))
                    .collect();
                series.insert("__name__".into(), s.name.into());
                out.series.insert(series, s.value);
            }
            _ => {}
        }
    }
    out
}

/// Serves each case at `/cases/<file>` with its format's content type.
async fn serve(cases: &[Case]) -> SocketAddr {
    let bodies: Arc<HashMap<String, (Vec<u8>, &'static str)>> = Arc::new(
        cases
            .iter()
            .map(|c| {
                let at = format!("/cases/{}", c.file);
                (at, (c.body.clone(), c.content_type()))
            })
            .collect(),
    );
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let bodies = bodies.clone();
        async move {
            match bodies.get(uri.path()) {
                Some((body, content_type)) => {
                    ([(header::CONTENT_TYPE, *content_type)], body.clone()).into_response()
                }
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// `GET` of a Prometheus API path with `query` parameters; `None` while Prometheus
/// does not answer 200 yet.
async fn api(port: u16, path: &str, query: &[(&str, &str)]) -> Option<Json> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        return None;
    }
    let mut target = path.to_owned();
    for (i, (key, value)) in query.iter().enumerate() {
        target.push(if i == 0 { '?' } else { '&' });
        target.push_str(key);
        target.push('=');
        for b in value.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                    target.push(b as char)
                }
                _ => target.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let reply = client::request(addr, "GET", &target, &[]).await;
    if reply.status != 200 {
        return None;
    }
    let json: Json = serde_json::from_slice(&reply.body).expect("JSON answer");
    Some(json["data"].clone())
}

fn number(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
    }
}

/// `(health, lastError)` of every target by job once each has been scraped; `None`
/// while some has not.
async fn verdicts(port: u16) -> Option<BTreeMap<String, (String, String)>> {
    let data = api(port, "/api/v1/targets", &[("state", "active")]).await?;
    let mut out = BTreeMap::new();
    for t in data["activeTargets"].as_array()? {
        let health = t["health"].as_str()?;
        if health == "unknown" {
            return None;
        }
        let job = t["labels"]["job"].as_str()?.to_owned();
        let error = t["lastError"].as_str().unwrap_or_default().to_owned();
        out.insert(job, (health.to_owned(), error));
    }
    Some(out)
}

/// What Prometheus holds for job `job`, or why it is not yet what `want` says.
async fn check_samples(port: u16, job: &str, want: &Expected) -> Result<(), String> {
    let selector = format!("{{job=\"{job}\"}}");
    let scraped = api(
        port,
        "/api/v1/query",
        &[("query", &format!("scrape_samples_scraped{selector}"))],
    )
    .await;
    let scraped = scraped
        .as_ref()
        .and_then(|d| d["result"][0]["value"][1].as_str())
        .map(number);
    if scraped != Some(want.samples as f64) {
        return Err(format!(
            "Prometheus scraped {scraped:?} samples, our parser reads {}",
            want.samples
        ));
    }
    let query = format!("{{job=\"{job}\",__name__!~\"up|scrape_.+\"}}");
    let stored = api(port, "/api/v1/query", &[("query", &query)])
        .await
        .ok_or("no query answer")?;
    let mut got = BTreeMap::new();
    for r in stored["result"].as_array().into_iter().flatten() {
        let series: Series = r["metric"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "job" && *k != "instance")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        got.insert(series, number(r["value"][1].as_str().unwrap_or_default()));
    }
    for (series, value) in &want.series {
        match got.get(series) {
            Some(v) if v == value || (v.is_nan() && value.is_nan()) => {}
            other => {
                return Err(format!(
                    "{series:?}: our parser reads {value}, Prometheus has {other:?} (all: {got:?})"
                ))
            }
        }
    }
    let extra = got.keys().find(|series| {
        !want.series.contains_key(*series) && !want.timestamped.contains(&series["__name__"])
    });
    if let Some(series) = extra {
        return Err(format!(
            "Prometheus has {series:?}, our parser does not read it"
        ));
    }
    let metadata = api(
        port,
        "/api/v1/targets/metadata",
        &[("match_target", &selector)],
    )
    .await
    .ok_or("no metadata answer")?;
    let help: BTreeMap<&str, &str> = metadata
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m["metric"].as_str()?, m["help"].as_str()?)))
        .collect();
    for (name, text) in &want.help {
        if help.get(name.as_str()) != Some(&text.as_str()) {
            return Err(format!(
                "help of {name}: our parser reads {text:?}, Prometheus has {:?}",
                help.get(name.as_str())
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_gives_every_case_its_verdict() {
    let test = "a_real_prometheus_gives_every_case_its_verdict";
    if require_unless_local("prometheus", test).is_none() {
        return;
    }
    let cases = corpus();
    let addr = serve(&cases).await;
    let paths: Vec<String> = cases.iter().map(|c| format!("/cases/{}", c.file)).collect();
    let jobs: Vec<(&str, SocketAddr, &str)> = cases
        .iter()
        .zip(&paths)
        .map(|(c, path)| (c.file.as_str(), addr, path.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _prometheus = start_prometheus_paths(dir.path(), port, Duration::from_secs(1), &jobs);

    let start = Instant::now();
    let limit = Duration::from_secs(60);
    let seen = loop {
        match verdicts(port).await {
            Some(v) if v.len() == cases.len() => break v,
            _ if start.elapsed() > limit => panic!("not every target scraped after {limit:?}"),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let mut wrong = Vec::new();
    for case in &cases {
        let (health, error) = &seen[&case.file];
        let prometheus = health == "up";
        if prometheus != case.valid {
            wrong.push(format!(
                "{}: the manifest says {} ({}), Prometheus says {health} {error:?}",
                case.file,
                case.verdict(),
                case.reason
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The same samples, series and help for every accepted case.
    let valid: Vec<(&Case, Expected)> = cases
        .iter()
        .filter(|c| c.valid)
        .map(|c| (c, expected(c)))
        .collect();
    let start = Instant::now();
    let limit = Duration::from_secs(20);
    let mut last = Vec::new();
    while start.elapsed() < limit {
        last.clear();
        for (case, want) in &valid {
            if let Err(e) = check_samples(port, &case.file, want).await {
                last.push(format!("{}: {e}", case.file));
            }
        }
        if last.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(last.is_empty(), "{}", last.join("\n"));
    let samples: usize = valid.iter().map(|(_, w)| w.samples).sum();
    println!(
        "Prometheus 2.42: {} of {} cases match the manifest ({} valid, {} invalid); \
         {samples} samples of the valid ones match our parser's",
        cases.len(),
        cases.len(),
        valid.len(),
        cases.len() - valid.len()
    );
}
