//! The demo's child processes: one `pipeline-step-exporter` per strategy, on a free
//! loopback port each, killed when [`Exporters`] is stopped or dropped (so on every
//! way out of the demo: success, error, panic or signal).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::DemoError;

/// How long an exporter may take to print `listening on ADDR`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The last lines an exporter wrote on stderr, for error messages.
const STDERR_LINES: usize = 20;

/// The binary's file name.
pub(crate) const EXPORTER_NAME: &str = "pipeline-step-exporter";

/// A running exporter.
pub(crate) struct Exporter {
    /// Its `--strategy`.
    pub strategy: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

/// Every exporter of the demo.
pub(crate) struct Exporters {
    pub list: Vec<Exporter>,
}

impl Exporters {
    /// Starts `bin` once per `(strategy, ttl)` (`--ttl` given when set), with
    /// `--no-simulate` and `--listen 127.0.0.1:0`, and waits for each to say where it
    /// listens. On error the ones already started are killed.
    pub async fn start(
        bin: &Path,
        strategies: &[(&'static str, Option<Duration>)],
    ) -> Result<Self, DemoError> {
        let mut started = Exporters { list: Vec::new() };
        for &(strategy, ttl) in strategies {
            let exporter = start_one(bin, strategy, ttl).await?;
            started.list.push(exporter);
        }
        Ok(started)
    }

    /// Kills every exporter and waits for them to exit.
    pub async fn stop(mut self) {
        for e in &mut self.list {
            let _ = e.child.kill().await;
        }
    }
}

impl Drop for Exporters {
    fn drop(&mut self) {
        // Already gone after `stop`; otherwise (an error, a panic, the demo dropped on
        // a signal) SIGKILL now and reap them, briefly blocking, so that none outlives
        // the demo.
        for e in &mut self.list {
            let _ = e.child.start_kill();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        for e in &mut self.list {
            while matches!(e.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

async fn start_one(
    bin: &Path,
    strategy: &'static str,
    ttl: Option<Duration>,
) -> Result<Exporter, DemoError> {
    let mut command = Command::new(bin);
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-simulate",
            "--strategy",
            strategy,
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(ttl) = ttl {
        command.args(["--ttl", &format!("{}ms", ttl.as_millis())]);
    }
    let mut child = command.spawn().map_err(|source| DemoError::Spawn {
        bin: bin.to_path_buf(),
        source,
    })?;
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(pipe) = child.stderr.take() {
        let tail = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = tail.lock();
                if tail.len() == STDERR_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }
    let failed = |message: String, stderr: &Mutex<VecDeque<String>>| DemoError::ExporterStart {
        strategy,
        message,
        stderr: stderr.lock().iter().cloned().collect::<Vec<_>>().join("\n"),
    };
    let Some(stdout) = child.stdout.take() else {
        return Err(failed("no stdout".into(), &stderr));
    };
    let mut lines = BufReader::new(stdout).lines();
    let line = match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) => {
            // Give its stderr reader a moment to collect why it exited.
            let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(failed("exited before printing its address".into(), &stderr));
        }
        Ok(Err(e)) => return Err(failed(format!("cannot read its stdout: {e}"), &stderr)),
        Err(_) => {
            return Err(failed(
                format!("printed no address within {START_TIMEOUT:?}"),
                &stderr,
            ))
        }
    };
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        .filter(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            failed(
                format!("printed {line:?}, not `listening on` a loopback address"),
                &stderr,
            )
        })?;
    Ok(Exporter {
        strategy,
        addr,
        child,
    })
}

/// Where the exporter binary is: `explicit` if given (it must exist), else the
/// `pipeline-step-exporter` beside the running executable (the same cargo target
/// directory). Under `cargo run` (the `CARGO` and `CARGO_MANIFEST_DIR` variables set)
/// a missing binary is built first, with the profile of the running executable.
pub(crate) fn locate(explicit: Option<&Path>) -> Result<PathBuf, DemoError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(DemoError::ExporterMissing {
                path: path.to_path_buf(),
                hint: "no such file".into(),
            })
        };
    }
    let exe = std::env::current_exe().map_err(|source| DemoError::Io {
        what: "cannot find the running executable".into(),
        path: PathBuf::new(),
        source,
    })?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let beside = dir.join(format!("{EXPORTER_NAME}{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Ok(beside);
    }
    let (Some(cargo), Some(manifest_dir)) = (
        std::env::var_os("CARGO"),
        std::env::var_os("CARGO_MANIFEST_DIR"),
    ) else {
        return Err(DemoError::ExporterMissing {
            path: beside,
            hint: format!("build it with `cargo build -p {EXPORTER_NAME}` (same profile as this binary) or pass --exporter PATH"),
        });
    };
    let release = dir.file_name().is_some_and(|n| n == "release");
    eprintln!(
        "{EXPORTER_NAME} is not beside {}: building it (cargo build -p {EXPORTER_NAME})",
        exe.display()
    );
    let mut build = std::process::Command::new(cargo);
    build
        .current_dir(&manifest_dir)
        .args(["build", "--quiet", "-p", EXPORTER_NAME]);
    if release {
        build.arg("--release");
    }
    let status = build.status().map_err(|source| DemoError::Io {
        what: "cannot run cargo to build the exporter".into(),
        path: PathBuf::from(manifest_dir),
        source,
    })?;
    if status.success() && beside.is_file() {
        Ok(beside)
    } else {
        Err(DemoError::ExporterMissing {
            path: beside,
            hint: format!("`cargo build -p {EXPORTER_NAME}` did not produce it ({status}); pass --exporter PATH"),
        })
    }
}
