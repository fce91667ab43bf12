//! `promsdk-harness demo`: the end-to-end stale-series demo in one command.
//!
//! It starts the `pipeline-step-exporter` binary four times, once per strategy
//! (`collector`, `delete`, `ttl` with a short `--ttl`, `naive`), each on a free
//! loopback port with `--no-simulate`, lists them in a file_sd file (the `strategy`
//! label set by each group's labels) and runs a [`Harness`] that discovers them
//! through `file_sd_configs` and scrapes them every second. Then:
//!
//! 1. the same runs of pipeline `api` are posted to every exporter every
//!    [`RUN_INTERVAL`]; every second run changes the steps, so a step vanishes
//!    three times ([`PHASES`]);
//! 2. every [`POLL_INTERVAL`] an instant query for `pipeline_step_duration_seconds`
//!    shows which steps each strategy still exports, and the timeline says when a
//!    step appeared and when a vanished one stopped being returned;
//! 3. once the leak is plain, the `naive` exporter is taken out of the file_sd file,
//!    and the demo waits for every one of its series to stop being returned;
//! 4. the verdict table ([`report`]) holds each strategy to its bound.
//!
//! Timing: scrapes every [`SCRAPE_INTERVAL`]; the discovery manager sends updates
//! every [`DISCOVERY_INTERVAL`] (Prometheus's default, 5 s, would only make the demo
//! slower); the file is watched and also re-read every [`FILE_SD_REFRESH`]. A
//! vanished step must be gone within one scrape interval plus the strategy's own
//! delay (none for `collector` and `delete`, the TTL for `ttl`) plus
//! [`DemoOpts::tolerance`]. The TTL bound holds because runs come every
//! [`RUN_INTERVAL`], more often than the TTL: the vanished step's last update was a
//! run before the one that dropped it, and an expired child is left out of the next
//! gather, so the scrape that misses it comes at most one TTL plus one interval
//! after the drop. The removed exporter's series must be gone within the file_sd
//! refresh, one discovery update, and the two intervals plus 10% Prometheus's
//! scrape loop waits before it writes the staleness markers of a stopped target
//! (so that a target that comes straight back is not marked), plus the tolerance.
//! The default tolerance, 500 ms, covers the query poll ([`POLL_INTERVAL`]), the
//! scrape's own time (a loopback request, milliseconds) and timer and scheduling
//! delays on a busy 2-core machine; it is well under one scrape interval, so a
//! strategy that needed one more scrape would fail. The whole demo takes about 22 s.
//!
//! `naive` passes when it leaks: each vanished step must still be returned the
//! longest bound of the others later. Every path out of [`run`] (success, error,
//! panic, or the caller dropping the future on a signal) kills the exporters.

mod error;
mod exporters;
mod files;
pub mod report;

pub use error::DemoError;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::Config;
use crate::discovery::ManagerOpts;
use crate::query::{Engine, EngineOpts, QueryError, QueryValue};
use crate::scrape::WallClock;
use crate::{Harness, HarnessOpts};
use exporters::Exporters;
use files::{config_text, write_file, write_targets, WorkDir};
use report::{DemoReport, Expectation, ExporterInfo, Recorder, Settings};

/// The job's scrape interval.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);
/// The discovery manager's update interval during the demo.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(1);
/// The file_sd refresh interval (the file is also watched for changes).
pub const FILE_SD_REFRESH: Duration = Duration::from_secs(1);
/// Time between two runs posted to the exporters.
pub const RUN_INTERVAL: Duration = Duration::from_secs(2);
/// How often the demo queries the harness.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The steps of pipeline `api`'s runs: each phase is posted twice, and each drops a
/// step of the one before.
pub const PHASES: [&[&str]; 4] = [
    &["checkout", "build", "unit-test"],
    &["checkout", "build", "integration-test"],
    &["build", "integration-test", "deploy"],
    &["build", "deploy"],
];
const RUNS_PER_PHASE: usize = 2;
const PIPELINE: &str = "api";
const JOB: &str = "pipeline";
const STEP_METRIC: &str = "pipeline_step_duration_seconds";
/// The strategies, in table order.
pub const STRATEGIES: [&str; 4] = ["collector", "delete", "ttl", "naive"];
/// The strategy whose exporter is removed from the file_sd file.
pub const REMOVED: &str = "naive";
/// How long the exporters may take to be discovered and scraped.
const UP_TIMEOUT: Duration = Duration::from_secs(20);

/// Settings of [`run`].
#[derive(Debug, Clone)]
pub struct DemoOpts {
    /// The `pipeline-step-exporter` binary; default: the one beside the running
    /// executable (built first under `cargo run` when missing).
    pub exporter: Option<PathBuf>,
    /// Where the harness serves its API and web page (a loopback address; port 0
    /// picks a free one).
    pub listen: SocketAddr,
    /// The `ttl` exporter's `--ttl`; more than [`RUN_INTERVAL`], at most 30 s.
    pub ttl: Duration,
    /// Slack added to every bound (default 500 ms; see the module doc).
    pub tolerance: Duration,
    /// How long to keep serving the page after the verdict (runs keep coming).
    pub linger: Duration,
}

impl Default for DemoOpts {
    fn default() -> Self {
        DemoOpts {
            exporter: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ttl: Duration::from_secs(3),
            tolerance: Duration::from_millis(500),
            linger: Duration::ZERO,
        }
    }
}

/// The bound each strategy is held to, given the demo's settings.
pub fn expectations(ttl: Duration, tolerance: Duration) -> Vec<(String, Expectation)> {
    let quick = SCRAPE_INTERVAL + tolerance;
    let ttl_bound = SCRAPE_INTERVAL + ttl + tolerance;
    STRATEGIES
        .iter()
        .map(|&s| {
            let e = match s {
                "ttl" => Expectation::GoneWithin(ttl_bound),
                "naive" => Expectation::LeaksFor(ttl_bound.max(quick)),
                _ => Expectation::GoneWithin(quick),
            };
            (s.to_owned(), e)
        })
        .collect()
}

/// The bound on the removed exporter's series: see the module doc.
pub fn removal_limit(tolerance: Duration) -> Duration {
    FILE_SD_REFRESH + DISCOVERY_INTERVAL + SCRAPE_INTERVAL * 2 + SCRAPE_INTERVAL / 10 + tolerance
}

/// Runs the demo, printing the timeline and the verdict table on `out` as it goes,
/// and returns the report. Must be called within a multi-threaded tokio runtime;
/// dropping the future kills the exporters.
///
/// ```no_run
/// # async fn demo() -> Result<(), promsdk_harness::demo::DemoError> {
/// let report = promsdk_harness::demo::run(&Default::default(), &mut std::io::stdout()).await?;
/// std::process::exit(if report.passed { 0 } else { 1 });
/// # }
/// ```
pub async fn run(opts: &DemoOpts, out: &mut dyn Write) -> Result<DemoReport, DemoError> {
    check(opts)?;
    let started = Instant::now();
    let bin = exporters::locate(opts.exporter.as_deref())?;
    let dir = WorkDir::new()?;
    let strategies: Vec<(&'static str, Option<Duration>)> = STRATEGIES
        .iter()
        .map(|&s| (s, (s == "ttl").then_some(opts.ttl)))
        .collect();
    let exporters = Exporters::start(&bin, &strategies).await?;
    let targets = dir.path().join("targets.json");
    write_targets(&targets, &exporters, None)?;
    let config_file = dir.path().join("prometheus.yml");
    write_file(&config_file, &config_text(&targets))?;
    let config = Config::load(&config_file)?;
    let harness_opts = HarnessOpts {
        config_file: Some(config_file),
        discovery: ManagerOpts {
            updates_interval: DISCOVERY_INTERVAL,
        },
        ..HarnessOpts::default()
    };
    let harness = Harness::start(&config, opts.listen, harness_opts).await?;
    let engine = Engine::new(harness.store().clone(), EngineOpts::default());
    let web = format!("http://{}", harness.local_addr());
    let mut say = |line: &str| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(&header(&exporters, &targets, &web, opts));
    wait_up(&engine, exporters.list.len()).await?;
    say(&format!("all {} exporters discovered and scraped after {:.1}s; timeline (seconds since the first run):", exporters.list.len(), started.elapsed().as_secs_f64()));

    let expectations = expectations(opts.ttl, opts.tolerance);
    let leak = expectations
        .iter()
        .filter_map(|(_, e)| match e {
            Expectation::GoneWithin(d) => Some(*d),
            Expectation::LeaksFor(_) => None,
        })
        .max()
        .unwrap_or_default();
    let mut rec = Recorder::new(expectations);
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let last_drop = RUN_INTERVAL * (RUNS_PER_PHASE * (PHASES.len() - 1)) as u32;
    let remove_at = last_drop + leak + Duration::from_secs(1);
    let removal_limit = removal_limit(opts.tolerance);
    let t0 = Instant::now();
    let mut next_run = t0;
    let mut runs = 0;
    let mut removed: Option<Instant> = None;
    let mut printed = 0;
    loop {
        if Instant::now() >= next_run {
            runs += 1;
            let recorded = post_run(&client, &exporters, runs, t0).await?;
            rec.run(runs, phase(runs), &recorded);
            next_run += RUN_INTERVAL;
        }
        rec.observe(&returned_steps(&engine)?, t0.elapsed());
        if removed.is_none() && t0.elapsed() >= remove_at {
            let before = count(&engine, &removed_selector())?;
            write_targets(&targets, &exporters, Some(REMOVED))?;
            let addr = exporters
                .list
                .iter()
                .find(|e| e.strategy == REMOVED)
                .map(|e| e.addr.to_string())
                .unwrap_or_default();
            rec.target_removed(REMOVED, &addr, t0.elapsed(), removal_limit, before);
            removed = Some(Instant::now());
        }
        if let Some(at) = removed {
            rec.removed_series(count(&engine, &removed_selector())?, t0.elapsed());
            if rec.removed_gone() || at.elapsed() > removal_limit + Duration::from_secs(1) {
                break;
            }
        }
        for e in &rec.events()[printed..] {
            say(&format!(
                "{:>8}  {}",
                format!("+{:.2}s", e.at_seconds),
                e.message
            ));
        }
        printed = rec.events().len();
        tokio::time::sleep(POLL_INTERVAL.min(next_run.saturating_duration_since(Instant::now())))
            .await;
    }
    for e in &rec.events()[printed..] {
        say(&format!(
            "{:>8}  {}",
            format!("+{:.2}s", e.at_seconds),
            e.message
        ));
    }
    let settings = Settings {
        scrape_interval_seconds: SCRAPE_INTERVAL.as_secs_f64(),
        discovery_update_interval_seconds: DISCOVERY_INTERVAL.as_secs_f64(),
        file_sd_refresh_interval_seconds: FILE_SD_REFRESH.as_secs_f64(),
        run_interval_seconds: RUN_INTERVAL.as_secs_f64(),
        ttl_seconds: opts.ttl.as_secs_f64(),
        tolerance_seconds: opts.tolerance.as_secs_f64(),
        poll_interval_seconds: POLL_INTERVAL.as_secs_f64(),
    };
    let infos = exporters
        .list
        .iter()
        .map(|e| ExporterInfo {
            strategy: e.strategy.to_owned(),
            address: e.addr.to_string(),
        })
        .collect();
    let report = rec.finish(started.elapsed(), settings, infos);
    say(&format!(
        "\nverdict after {:.1}s:\n{}",
        report.duration_seconds,
        report.table()
    ));
    if !opts.linger.is_zero() {
        say(&format!(
            "serving {web}/ and {web}/demo for {:?} more (Ctrl-C stops)",
            opts.linger
        ));
        let until = Instant::now() + opts.linger;
        while Instant::now() < until {
            runs += 1;
            post_run(&client, &exporters, runs, t0).await?;
            tokio::time::sleep(RUN_INTERVAL.min(until.saturating_duration_since(Instant::now())))
                .await;
        }
    }
    harness.shutdown().await;
    exporters.stop().await;
    Ok(report)
}

fn check(opts: &DemoOpts) -> Result<(), DemoError> {
    if !opts.listen.ip().is_loopback() {
        return Err(DemoError::Option {
            option: "--listen",
            message: format!("{} is not a loopback address", opts.listen),
        });
    }
    if opts.ttl <= RUN_INTERVAL || opts.ttl > Duration::from_secs(30) {
        return Err(DemoError::Option {
            option: "--ttl",
            message: format!(
                "{:?} must be more than the {:?} between runs (or the ttl strategy drops steps that are still running) and at most 30s",
                opts.ttl, RUN_INTERVAL
            ),
        });
    }
    if opts.tolerance > Duration::from_secs(10) {
        return Err(DemoError::Option {
            option: "--tolerance",
            message: format!("{:?} is over 10s", opts.tolerance),
        });
    }
    Ok(())
}

/// The steps of run `n` (1-based).
fn phase(n: usize) -> &'static [&'static str] {
    PHASES[((n - 1) / RUNS_PER_PHASE).min(PHASES.len() - 1)]
}

fn header(exporters: &Exporters, targets: &Path, web: &str, opts: &DemoOpts) -> String {
    let mut s = format!(
        "promsdk-harness demo: the same runs of pipeline {PIPELINE:?} go to one pipeline-step-exporter per strategy,\n\
         discovered through file_sd ({}), scraped every {:?}; discovery updates every {:?} (Prometheus: 5s)\n",
        targets.display(),
        SCRAPE_INTERVAL,
        DISCOVERY_INTERVAL
    );
    for e in &exporters.list {
        let ttl = if e.strategy == "ttl" {
            format!(" --ttl {:?}", opts.ttl)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  {:<9}  http://{}/metrics{ttl}\n",
            e.strategy, e.addr
        ));
    }
    s.push_str(&format!("web page: {web}/  (demo view: {web}/demo)"));
    s
}

fn instant(engine: &Engine, query: &str) -> Result<Vec<crate::query::Sample>, DemoError> {
    let failed = |source| DemoError::Query {
        query: query.to_owned(),
        source,
    };
    match engine
        .instant(query, WallClock::system().now_ms(), None)
        .map_err(failed)?
    {
        QueryValue::Vector(v) => Ok(v),
        other => Err(failed(QueryError::Execution(format!(
            "a {} instead of a vector",
            other.result_type()
        )))),
    }
}

fn count(engine: &Engine, query: &str) -> Result<usize, DemoError> {
    instant(engine, query).map(|v| v.len())
}

fn removed_selector() -> String {
    format!("{{job=\"{JOB}\",strategy=\"{REMOVED}\"}}")
}

/// Which steps each strategy's series currently show.
fn returned_steps(engine: &Engine) -> Result<BTreeMap<String, BTreeSet<String>>, DemoError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in instant(engine, &format!("{STEP_METRIC}{{job=\"{JOB}\"}}"))? {
        if let (Some(strategy), Some(step)) = (s.labels.get("strategy"), s.labels.get("step")) {
            out.entry(strategy.to_owned())
                .or_default()
                .insert(step.to_owned());
        }
    }
    Ok(out)
}

async fn wait_up(engine: &Engine, want: usize) -> Result<(), DemoError> {
    let deadline = Instant::now() + UP_TIMEOUT;
    loop {
        let up = count(engine, &format!("up{{job=\"{JOB}\"}} == 1"))?;
        if up == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(DemoError::TargetsNotUp { up, want });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Posts run `n` to every exporter; returns when each recorded it (offsets from
/// `t0`).
async fn post_run(
    client: &Client<HttpConnector, Full<Bytes>>,
    exporters: &Exporters,
    n: usize,
    t0: Instant,
) -> Result<BTreeMap<String, Duration>, DemoError> {
    let steps: Vec<serde_json::Value> = phase(n)
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let seconds = 1.0 + i as f64 * 2.5 + (n % 3) as f64 * 0.25;
            serde_json::json!({"name": name, "duration_seconds": seconds, "status": "success"})
        })
        .collect();
    let body = serde_json::json!({"pipeline": PIPELINE, "steps": steps}).to_string();
    let mut recorded = BTreeMap::new();
    for e in &exporters.list {
        let failed = |message: String| DemoError::Post {
            run: n,
            strategy: e.strategy,
            addr: e.addr,
            message,
        };
        let request = http::Request::post(format!("http://{}/runs", e.addr))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|err| failed(err.to_string()))?;
        let response = tokio::time::timeout(Duration::from_secs(5), client.request(request))
            .await
            .map_err(|_| failed("no answer within 5s".into()))?
            .map_err(|err| failed(err.to_string()))?;
        let status = response.status();
        let text = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if !status.is_success() {
            return Err(failed(format!(
                "{status}: {}",
                String::from_utf8_lossy(&text).trim()
            )));
        }
        recorded.insert(e.strategy.to_owned(), t0.elapsed());
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_drops_one_step_of_the_one_before() {
        for pair in PHASES.windows(2) {
            let dropped: Vec<_> = pair[0].iter().filter(|s| !pair[1].contains(s)).collect();
            assert_eq!(dropped.len(), 1, "{pair:?}");
        }
        assert_eq!(phase(1), PHASES[0]);
        assert_eq!(phase(2), PHASES[0]);
        assert_eq!(phase(3), PHASES[1]);
        assert_eq!(phase(100), PHASES[3]);
    }

    #[test]
    fn bounds_follow_the_settings() {
        let e = expectations(Duration::from_secs(3), Duration::from_millis(500));
        let get = |s: &str| e.iter().find(|(n, _)| n == s).map(|(_, e)| *e);
        assert_eq!(
            get("collector"),
            Some(Expectation::GoneWithin(Duration::from_millis(1500)))
        );
        assert_eq!(
            get("ttl"),
            Some(Expectation::GoneWithin(Duration::from_millis(4500)))
        );
        assert_eq!(
            get("naive"),
            Some(Expectation::LeaksFor(Duration::from_millis(4500)))
        );
        assert_eq!(
            removal_limit(Duration::from_millis(500)),
            Duration::from_millis(4600)
        );
    }

    #[test]
    fn options_are_checked() {
        let bad = [
            DemoOpts {
                listen: "0.0.0.0:0".parse().unwrap(),
                ..DemoOpts::default()
            },
            DemoOpts {
                ttl: RUN_INTERVAL,
                ..DemoOpts::default()
            },
            DemoOpts {
                tolerance: Duration::from_secs(11),
                ..DemoOpts::default()
            },
        ];
        for opts in bad {
            assert!(
                matches!(check(&opts), Err(DemoError::Option { .. })),
                "{opts:?}"
            );
        }
        assert!(check(&DemoOpts::default()).is_ok());
    }

    #[test]
    fn the_configuration_is_valid_and_uses_file_sd() {
        let text = config_text(Path::new("/tmp/x y/targets.json"));
        let cfg = Config::parse(&text).unwrap();
        assert_eq!(cfg.jobs()[0].0.interval, SCRAPE_INTERVAL);
        assert!(text.contains("file_sd_configs"), "{text}");
    }
}
