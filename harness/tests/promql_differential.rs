//! The PromQL differential test: the harness's query API against a real Prometheus
//! 2.42 (Debian's package, installed by `scripts/install-deps.sh`), on the queries of
//! `tests/data/promql_queries.txt`.
//!
//! Both servers scrape one exporter run by the test every second. The exporter
//! serves a synthetic data set ([`exporter`]) on a grid of 15 s steps starting 30
//! minutes ago (Prometheus takes samples up to an hour behind its newest one): every
//! series carries an explicit timestamp, its grid time, so what a server stores does
//! not depend on when it scrapes. The test publishes the grid in lockstep: step k
//! (every series at `t_k`, and the marker series `diff_step` = k), then waits until
//! every server answers `diff_step` = k at `t_k` (one scrape commits atomically), then
//! publishes step k+1. Every server therefore holds exactly the same samples, and
//! instant queries at fixed times on the grid must give exactly the same answers.
//!
//! Staleness: series with explicit timestamps are never marked stale, so the
//! exporter also exposes `diff_vanishing` without timestamps (stored at each
//! server's own scrape times) until step [`exporter::VANISH_STEP`]. Its samples'
//! timestamps differ between servers, so its queries (group `[wall]`) read only
//! answers that do not depend on the scrape phase (no `timestamp`, no
//! `count_over_time`), at two wall-clock times:
//! - "present": one second before every server confirmed the last step with the
//!   series. Each has scraped it since the first step (over half a minute), and no
//!   staleness marker can exist before the next publication;
//! - "gone": two seconds after every server confirmed the first step without it. The
//!   confirming scrape wrote the marker at its own time, before the confirmation,
//!   and nothing is written for the series afterwards.
//!
//! The lockstep costs about one scrape interval per step, so the grid has 48 steps
//! (12 minutes) and a run takes about a minute.
//!
//! Each query is evaluated at five grid times (off-grid mid-range, mid-range, after
//! `diff_ended` ended but within the 5-minute lookback, past the lookback, the last
//! step) and as two range queries; answers must agree (see [`compare`]). Every
//! mismatch is printed on one line; the count of matched queries ends the report.
//!
//! `two_prometheus_servers_agree` runs the Prometheus half twice (two instances) and
//! requires them to agree exactly, Prometheus to answer every query as its group
//! expects, and the data to be the model's: the proof that ingestion is
//! deterministic. `harness_matches_prometheus` compares the harness with Prometheus.
//!
//! Fails (never skips) when `prometheus` is missing.

#[path = "../../tests/common/http_client.rs"]
mod client;
#[path = "promql_diff/compare.rs"]
mod compare;
#[path = "promql_diff/exporter.rs"]
mod exporter;
#[path = "../../tests/common/prometheus.rs"]
mod prometheus;
#[path = "promql_diff/queries.rs"]
mod queries;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use compare::{difference, Answer};
use exporter::{Exporter, Grid, ENDED_STEP, STEPS, VANISH_STEP};
use prometheus::{free_port, start_prometheus, Running};
use queries::{Kind, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INTERVAL: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(100);
/// How long the first step may take (servers starting up).
const FIRST_STEP_LIMIT: Duration = Duration::from_secs(60);
/// How long any later step may take (a scrape every second).
const STEP_LIMIT: Duration = Duration::from_secs(15);
const QUERIES: &str = include_str!("data/promql_queries.txt");
/// Grid steps of the instant evaluations, with an offset in ms (off-grid times).
const EVAL_STEPS: [(usize, i64); 5] = [
    (12, 7_000),
    (20, 0),
    (ENDED_STEP + 3, 0),
    (ENDED_STEP + 21, 0),
    (STEPS - 1, 0),
];

/// A server of the query API.
#[derive(Clone, Debug)]
struct Server {
    name: &'static str,
    addr: SocketAddr,
}

/// The wall-clock evaluation times of the `[wall]` group (ms since the epoch).
#[derive(Clone, Copy, Debug)]
struct WallTimes {
    present_ms: i64,
    gone_ms: i64,
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// `ms` as the API's Unix seconds with milliseconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET target` on `server`; `None` while it does not accept connections.
async fn get(server: &Server, target: &str) -> Option<Answer> {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.ok()?;
    let head = client::request_head(server.addr, "GET", target, &[], b"");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let reply = client::parse(&raw);
    Some(Answer {
        status: reply.status,
        json: serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null),
    })
}

/// `GET target` on `server`, which must be answering by now.
async fn must_get(server: &Server, target: &str) -> Answer {
    get(server, target)
        .await
        .unwrap_or_else(|| panic!("{} stopped answering ({target})", server.name))
}

fn instant_target(query: &str, t_ms: i64) -> String {
    format!(
        "/api/v1/query?query={}&time={}",
        encode(query),
        seconds(t_ms)
    )
}

fn range_target(query: &str, (start, end, step_ms): (i64, i64, i64)) -> String {
    format!(
        "/api/v1/query_range?query={}&start={}&end={}&step={}",
        encode(query),
        seconds(start),
        seconds(end),
        seconds(step_ms)
    )
}

/// The value of `diff_step` at `t_ms` on `server`, if it answers one.
async fn step_seen(server: &Server, t_ms: i64) -> Option<f64> {
    let answer = get(server, &instant_target("diff_step", t_ms)).await?;
    let result = answer.json["data"]["result"].as_array()?;
    match result.as_slice() {
        [only] => only["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// Publishes the grid step by step, each once every server holds the previous one;
/// returns the wall-clock times around `diff_vanishing`'s disappearance.
async fn ingest(exporter: &Exporter, grid: &Grid, servers: &[Server]) -> WallTimes {
    let mut present_ms = None;
    let mut gone_ms = None;
    for k in 0..STEPS {
        exporter.publish(exporter::body(grid, k));
        let limit = if k == 0 { FIRST_STEP_LIMIT } else { STEP_LIMIT };
        let started = Instant::now();
        for server in servers {
            loop {
                let seen = step_seen(server, grid.at(k)).await;
                if seen == Some(k as f64) {
                    break;
                }
                assert!(
                    started.elapsed() < limit,
                    "lockstep: {} did not hold step {k} of {STEPS} within {limit:?} \
                     (diff_step at t_{k} = {seen:?}); is it scraping the exporter?",
                    server.name
                );
                tokio::time::sleep(POLL).await;
            }
        }
        if k + 1 == VANISH_STEP {
            present_ms = Some(now_ms() - 1000);
        } else if k == VANISH_STEP {
            gone_ms = Some(now_ms() + 2000);
        }
    }
    let gone_ms = gone_ms.unwrap();
    let wait = gone_ms - now_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    WallTimes {
        present_ms: present_ms.unwrap(),
        gone_ms,
    }
}

/// One evaluation of a query: an instant query at a time, or a range query.
#[derive(Clone, Copy, Debug)]
enum Eval {
    Instant(i64),
    Range(i64, i64, i64),
}

impl Eval {
    fn target(self, query: &str) -> String {
        match self {
            Eval::Instant(t) => instant_target(query, t),
            Eval::Range(start, end, step) => range_target(query, (start, end, step)),
        }
    }

    fn describe(self) -> String {
        match self {
            Eval::Instant(t) => format!("time={}", seconds(t)),
            Eval::Range(s, e, st) => {
                format!("range {}..{} step {}", seconds(s), seconds(e), seconds(st))
            }
        }
    }
}

/// Where `query` is evaluated.
fn evaluations(query: &Query, grid: &Grid, wall: WallTimes) -> Vec<Eval> {
    if query.kind == Kind::Wall {
        return vec![Eval::Instant(wall.present_ms), Eval::Instant(wall.gone_ms)];
    }
    let mut evals: Vec<Eval> = EVAL_STEPS
        .iter()
        .map(|&(k, off)| Eval::Instant(grid.at(k) + off))
        .collect();
    evals.push(Eval::Range(grid.at(5), grid.at(STEPS - 1), 60_000));
    evals.push(Eval::Range(
        grid.at(ENDED_STEP - 5) + 5_000,
        grid.at(ENDED_STEP + 10) + 5_000,
        15_000,
    ));
    evals
}

/// Per query group: its size, how many of its queries matched, how many reference
/// answers held at least one sample.
#[derive(Debug)]
struct GroupStats {
    name: String,
    kind: Kind,
    queries: usize,
    matched: usize,
    non_empty: usize,
}

/// The outcome of comparing a candidate with a reference on every query.
#[derive(Debug, Default)]
struct Report {
    queries: usize,
    matched: usize,
    unsupported: usize,
    mismatches: Vec<String>,
    /// Reference answers that broke their group's rule (an error where a result was
    /// due, or a result where an error was).
    reference_faults: Vec<String>,
    groups: Vec<GroupStats>,
}

/// Whether `answer` has a non-empty result.
fn has_samples(answer: &Answer) -> bool {
    let result = &answer.json["data"]["result"];
    result
        .as_array()
        .map_or(!result.is_null(), |r| !r.is_empty())
}

/// Evaluates every query on both servers and compares the answers.
async fn run_queries(
    reference: &Server,
    candidate: &Server,
    grid: &Grid,
    wall: WallTimes,
) -> Report {
    let list = queries::parse(QUERIES);
    let mut report = Report {
        queries: list.len(),
        groups: queries::groups(&list)
            .into_iter()
            .map(|(name, kind, queries)| GroupStats {
                name,
                kind,
                queries,
                matched: 0,
                non_empty: 0,
            })
            .collect(),
        ..Report::default()
    };
    for query in &list {
        let at = report.groups.iter().position(|g| g.name == query.group);
        let group = at.unwrap();
        let text = queries::expand(&query.text, |k| grid.at(k) / 1000);
        let mut ok = true;
        let mut unsupported = false;
        for eval in evaluations(query, grid, wall) {
            let target = eval.target(&text);
            let (a, b) = tokio::join!(must_get(reference, &target), must_get(candidate, &target));
            let instant = matches!(eval, Eval::Instant(_));
            let line = |why: &str| {
                format!(
                    "[{}] {text} @ {}: {why} | {}: {} | {}: {}",
                    query.group,
                    eval.describe(),
                    reference.name,
                    a.short(),
                    candidate.name,
                    b.short()
                )
            };
            let fault = match query.kind {
                Kind::Error => a.is_success(),
                Kind::Empty => !a.is_success() || has_samples(&a),
                _ => !a.is_success(),
            };
            if instant && fault {
                report
                    .reference_faults
                    .push(line("reference answer breaks the group's rule"));
            }
            if has_samples(&a) {
                report.groups[group].non_empty += 1;
            }
            if let Kind::Optional(word) = &query.kind {
                if b.status == 400
                    && b.error_type() == Some("bad_data")
                    && b.error().to_lowercase().contains(word.as_str())
                {
                    unsupported = true;
                    continue;
                }
            }
            if let Some(why) = difference(&text, &a, &b) {
                report.mismatches.push(line(&why));
                ok = false;
            }
        }
        if ok && unsupported {
            report.unsupported += 1;
        } else if ok {
            report.matched += 1;
            report.groups[group].matched += 1;
        }
    }
    report
}

/// Prints the report: one line per mismatch, then the totals.
fn print(report: &Report, what: &str) {
    for line in report.reference_faults.iter().chain(&report.mismatches) {
        println!("MISMATCH {line}");
    }
    for group in &report.groups {
        println!(
            "  {:<28} {:>3}/{:<3} matched",
            group.name, group.matched, group.queries
        );
    }
    println!(
        "promql differential ({what}): {}/{} queries matched{}",
        report.matched,
        report.queries,
        if report.unsupported > 0 {
            format!(", {} reported unsupported", report.unsupported)
        } else {
            String::new()
        }
    );
}

/// Checks the reference holds the model's data: at each grid evaluation time, the
/// number of `diff_*` series it returns is the number the exporter exposed within
/// the lookback; `diff_vanishing` has its two series at the "present" time and none
/// at the "gone" time.
async fn check_model(reference: &Server, grid: &Grid, wall: WallTimes) {
    for (t, expected) in [(wall.present_ms, Some("2")), (wall.gone_ms, None)] {
        let answer = must_get(reference, &instant_target("count(diff_vanishing)", t)).await;
        assert_eq!(
            answer.json["data"]["result"][0]["value"][1].as_str(),
            expected,
            "{}: count(diff_vanishing) at {}: {}",
            reference.name,
            seconds(t),
            answer.short()
        );
    }
    for (k, off) in EVAL_STEPS {
        let t = grid.at(k) + off;
        let answer = must_get(
            reference,
            &instant_target("count({__name__=~\"diff_.+\"})", t),
        )
        .await;
        let got = answer.json["data"]["result"][0]["value"][1].clone();
        let expected = exporter::series_within_lookback(k, off).to_string();
        assert_eq!(
            got.as_str(),
            Some(expected.as_str()),
            "{} holds other data than the model at step {k}: {}",
            reference.name,
            answer.short()
        );
    }
}

/// Starts `promsdk-harness run` on `config`, listening on `port`.
fn start_harness(config: &Path, port: u16) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg("--retention=3h")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start promsdk-harness"),
    )
}

/// A temporary directory, an exporter serving step 0, and the grid.
async fn setup() -> (tempfile::TempDir, Exporter, Grid) {
    prometheus::require("prometheus");
    let grid = Grid::before(now_ms());
    let exporter = Exporter::start(exporter::body(&grid, 0)).await;
    (tempfile::tempdir().unwrap(), exporter, grid)
}

fn server(name: &'static str, port: u16) -> Server {
    Server {
        name,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_prometheus_servers_agree() {
    let (dir, exporter, grid) = setup().await;
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let (p1, p2) = (free_port(), free_port());
    let targets = [("diff", exporter.addr)];
    let _first = start_prometheus(&one, p1, INTERVAL, &targets);
    let _second = start_prometheus(&two, p2, INTERVAL, &targets);
    let servers = [server("prometheus-1", p1), server("prometheus-2", p2)];

    let started = Instant::now();
    let wall = ingest(&exporter, &grid, &servers).await;
    let ingested = started.elapsed();
    check_model(&servers[0], &grid, wall).await;
    let report = run_queries(&servers[0], &servers[1], &grid, wall).await;
    println!(
        "ingested {STEPS} steps in {ingested:.1?}, queried in {:.1?}",
        started.elapsed() - ingested
    );
    print(&report, "prometheus vs prometheus");
    assert!(
        report.reference_faults.is_empty() && report.mismatches.is_empty(),
        "Prometheus broke a group's rule or disagreed with itself (lines above)"
    );
    assert_eq!(report.unsupported, 0);
    let empty: Vec<_> = report
        .groups
        .iter()
        .filter(|g| g.non_empty == 0 && ![Kind::Error, Kind::Empty].contains(&g.kind))
        .map(|g| &g.name)
        .collect();
    assert!(empty.is_empty(), "groups without any sample: {empty:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_matches_prometheus() {
    let (dir, exporter, grid) = setup().await;
    let (prometheus_port, harness_port) = (free_port(), free_port());
    let _prometheus = start_prometheus(
        dir.path(),
        prometheus_port,
        INTERVAL,
        &[("diff", exporter.addr)],
    );
    let _harness = start_harness(&dir.path().join("prometheus.yml"), harness_port);
    let reference = server("prometheus", prometheus_port);
    let candidate = server("harness", harness_port);

    let started = Instant::now();
    let wall = ingest(&exporter, &grid, &[reference.clone(), candidate.clone()]).await;
    let ingested = started.elapsed();
    check_model(&reference, &grid, wall).await;
    let report = run_queries(&reference, &candidate, &grid, wall).await;
    println!(
        "ingested {STEPS} steps in {ingested:.1?}, queried in {:.1?}",
        started.elapsed() - ingested
    );
    print(&report, "harness vs prometheus");
    assert!(
        report.reference_faults.is_empty(),
        "Prometheus broke a group's rule (lines above)"
    );
    assert!(
        report.mismatches.is_empty(),
        "the harness disagrees with Prometheus on {} of {} queries (lines above)",
        report.queries - report.matched - report.unsupported,
        report.queries
    );
}
