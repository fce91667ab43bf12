//! Running a real Prometheus (Debian's package, installed by scripts/install-deps.sh)
//! from tests: finding its tools, picking a port, starting it on a scrape config, and
//! stopping every child process on every exit path. Shared by the SDK's, the harness's
//! and the exporter's interop tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed (and reaped) when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The path of `tool`, if it is installed.
pub fn installed(tool: &str) -> Option<String> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .expect("run sh");
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    (found.status.success() && !path.is_empty()).then_some(path)
}

/// The path of `tool`; fails loudly, never skips, when it is not installed.
pub fn require(tool: &str) -> String {
    installed(tool).unwrap_or_else(|| {
        panic!(
            "`{tool}` is not installed: run scripts/install-deps.sh (Debian package `prometheus`)"
        )
    })
}

/// The path of `tool`; `None` when it is not installed and `CI` is not set, after
/// printing that `test` skips and how to install it. On CI a missing tool fails, as
/// with [`require`].
pub fn require_unless_local(tool: &str, test: &str) -> Option<String> {
    match installed(tool) {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIP {test}: `{tool}` is not installed (run scripts/install-deps.sh, \
                 Debian package `prometheus`); with CI set this fails instead"
            );
            None
        }
        None => Some(require(tool)),
    }
}

/// What `promtool check metrics` says about `body` (its output, empty when it has
/// nothing to say), or an error with that output when it rejects it.
pub fn promtool_check_metrics(body: &[u8]) -> Result<String, String> {
    use std::io::Write;
    let mut promtool = Command::new(require("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(body).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    if checked.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus on `127.0.0.1:port`, its config and data in `dir`, scraping each
/// `(job, target)` every `interval` (whole seconds).
pub fn start_prometheus(
    dir: &Path,
    port: u16,
    interval: Duration,
    targets: &[(&str, SocketAddr)],
) -> Running {
    let jobs: Vec<_> = targets
        .iter()
        .map(|&(job, addr)| (job, addr, "/metrics"))
        .collect();
    start_prometheus_paths(dir, port, interval, &jobs)
}

/// Like [`start_prometheus`], each `(job, target, metrics_path)` scraped at its own
/// path; job names are quoted, so they may hold any character but `'`.
pub fn start_prometheus_paths(
    dir: &Path,
    port: u16,
    interval: Duration,
    jobs: &[(&str, SocketAddr, &str)],
) -> Running {
    let secs = interval.as_secs();
    let mut config = format!(
        "global:\n  scrape_interval: {secs}s\n  scrape_timeout: {secs}s\nscrape_configs:\n"
    );
    for (job, addr, path) in jobs {
        config.push_str(&format!(
            "- job_name: '{job}'\n  metrics_path: '{path}'\n  static_configs:\n  - targets: ['{addr}']\n"
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    start_prometheus_config(dir, port, &dir.join("prometheus.yml"))
}

/// Starts Prometheus on `127.0.0.1:port` with the configuration file `config`, its data
/// in `dir`.
pub fn start_prometheus_config(dir: &Path, port: u16, config: &Path) -> Running {
    let child = Command::new(require("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start prometheus");
    Running(child)
}
