//! Helpers for tests that run the real `pipeline-step-exporter` binary: start it on a
//! free port, talk HTTP/1.1 to it over a plain socket, and read its exposition.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../../tests/common/http_client.rs"]
mod http_client;
use http_client::request_head;
pub use http_client::{parse, Reply};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pipeline-step-exporter");

/// A running exporter, killed when dropped.
pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
}

impl Exporter {
    /// Starts the binary with `args` and `--listen 127.0.0.1:0`, and waits for the
    /// `listening on ADDR` line it prints on stdout.
    pub fn start(args: &[&str]) -> Exporter {
        let mut child = Command::new(BIN)
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pipeline-step-exporter");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the first line of stdout");
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!("expected `listening on ADDR` on stdout, got {line:?} (args {args:?})");
        };
        let addr = addr.parse().expect("a socket address");
        Exporter { child, addr }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// `GET path` with extra headers.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(self.addr, "GET", path, headers, b"")
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        request(
            self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body,
        )
    }

    /// `POST /runs`, which must succeed.
    pub fn post_run(&self, body: &str) {
        let reply = self.post("/runs", body.as_bytes());
        assert_eq!(reply.status, 200, "POST /runs {body}: {}", reply.text());
    }

    /// The text exposition of `/metrics`.
    pub fn metrics(&self) -> String {
        let reply = self.get("/metrics", &[]);
        assert_eq!(reply.status, 200, "GET /metrics: {}", reply.text());
        reply.text()
    }

    /// The lines of the `pipeline_*` families (metadata included) of `/metrics`: the
    /// exporter's own metrics, without the process and handler ones that change
    /// between scrapes.
    pub fn pipeline_metrics(&self) -> String {
        pipeline_lines(&self.metrics())
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of `text` that belong to `pipeline_*` families.
pub fn pipeline_lines(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let name = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
                .or_else(|| line.strip_prefix("# UNIT "))
                .unwrap_or(line);
            name.starts_with("pipeline_")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The value of the sample written exactly as `series` (name and labels), if exposed.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(rest.split(' ').next()?.parse().expect("a number"))
    })
}

/// A run of `pipeline` with these `(step, seconds, status)`, finished at `finished_at`.
pub fn run_json(pipeline: &str, steps: &[(&str, f64, &str)], finished_at: f64) -> String {
    let steps: Vec<String> = steps
        .iter()
        .map(|(name, seconds, status)| {
            format!(r#"{{"name":"{name}","duration_seconds":{seconds},"status":"{status}"}}"#)
        })
        .collect();
    format!(
        r#"{{"pipeline":"{pipeline}","steps":[{}],"finished_at":{finished_at}}}"#,
        steps.join(",")
    )
}

/// Polls `check` every `every` until it returns `Ok`, failing after `limit` with the
/// last error; returns how long it took.
pub fn eventually(
    what: &str,
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Duration {
    let start = Instant::now();
    loop {
        match check() {
            Ok(()) => return start.elapsed(),
            Err(e) if start.elapsed() > limit => panic!("{what}: not true after {limit:?}: {e}"),
            Err(_) => std::thread::sleep(every),
        }
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let head = request_head(addr, method, target, headers, body);
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(head.as_bytes()).expect("send head");
    // A server refusing a large body may answer and close before reading all of it.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}
