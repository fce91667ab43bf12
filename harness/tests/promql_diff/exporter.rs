//! The differential test's exporter: a synthetic data set on a fixed time grid, and
//! a tiny HTTP server serving whichever body the test last published.
//!
//! Every series but two is exposed with an explicit timestamp (its grid time), so
//! what a scraper stores does not depend on when it scrapes. `diff_vanishing` has no
//! timestamp (stored at the scrape time, so it goes stale when it disappears at
//! [`VANISH_STEP`]).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Steps on the grid.
pub const STEPS: usize = 48;
/// Milliseconds between grid steps.
pub const STEP_MS: i64 = 15_000;
/// The first step without the `diff_ended` series.
pub const ENDED_STEP: usize = 24;
/// The first step without the timestamp-less `diff_vanishing` series.
pub const VANISH_STEP: usize = 38;
/// The counter `diff_requests_total{code="500"}` starts again from zero here.
const RESETS_500: [usize; 2] = [14, 34];
/// Where `diff_requests_total{method="post",code="200"}` starts again from zero.
const RESET_POST: usize = 28;
/// Where `diff_requests_total{code="404"}` first appears.
const FIRST_404: usize = 8;
/// Where the `/static` histogram's counters start again from zero.
const RESET_STATIC: usize = 32;
/// Where the `/api` histogram's observations shift to slower buckets.
const SHIFT_API: usize = 24;
/// Histogram bucket bounds.
const BOUNDS: [&str; 5] = ["0.1", "0.25", "1", "5", "+Inf"];

/// The grid: step `k` is at `base_ms + k * STEP_MS`.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Milliseconds since the epoch of step 0.
    pub base_ms: i64,
}

impl Grid {
    /// A grid starting 30 minutes before `now_ms`, on a whole minute: its first step
    /// stays well within the hour behind the newest sample that Prometheus accepts,
    /// its last (12 minutes later) well in the past.
    pub fn before(now_ms: i64) -> Grid {
        let start = now_ms - 30 * 60_000;
        Grid {
            base_ms: start - start.rem_euclid(60_000),
        }
    }

    /// Milliseconds since the epoch of step `k`.
    pub fn at(&self, k: usize) -> i64 {
        self.base_ms + STEP_MS * k as i64
    }
}

/// A value as the text format writes it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Every timestamped series at step `k`: `(name{labels}, value)`.
fn series_at(k: usize) -> Vec<(String, f64)> {
    let kf = k as f64;
    let mut out = Vec::new();
    let mut push = |series: &str, v: f64| out.push((series.to_owned(), v));

    // Counters: steady, with two resets, with a reset and a growing rate, late.
    push("diff_requests_total{method=\"get\",code=\"200\"}", 4.0 * kf);
    let since_500 = RESETS_500
        .iter()
        .rev()
        .find(|&&r| k >= r)
        .map_or(k, |&r| k - r);
    push(
        "diff_requests_total{method=\"get\",code=\"500\"}",
        3.0 * since_500 as f64,
    );
    let since_post = if k >= RESET_POST { k - RESET_POST } else { k };
    push(
        "diff_requests_total{method=\"post\",code=\"200\"}",
        (since_post * (since_post + 1) / 2) as f64,
    );
    if k >= FIRST_404 {
        push(
            "diff_requests_total{method=\"post\",code=\"404\"}",
            7.0 * (k - FIRST_404) as f64 + 1.0,
        );
    }

    // Gauges with distinct value ranges (no ties for topk/bottomk/sort).
    push(
        "diff_temperature{room=\"kitchen\",sensor=\"s1\"}",
        20.0 + ((k * 7) % 11) as f64 * 0.5,
    );
    push(
        "diff_temperature{room=\"kitchen\",sensor=\"s2\"}",
        16.0 + ((k * 5) % 13) as f64 * 0.25,
    );
    push(
        "diff_temperature{room=\"hall\",sensor=\"s1\"}",
        15.0 - ((k * 3) % 7) as f64,
    );
    push(
        "diff_temperature{room=\"attic\",sensor=\"s1\"}",
        -5.0 + ((k * 11) % 17) as f64 * 0.75,
    );
    for (room, owner) in [("kitchen", "ann"), ("hall", "bob"), ("attic", "cy")] {
        push(
            &format!("diff_room_info{{room=\"{room}\",owner=\"{owner}\"}}"),
            1.0,
        );
    }
    for (room, capacity) in [
        ("kitchen", 4.0),
        ("hall", 2.0),
        ("attic", 1.0),
        ("cellar", 3.0),
    ] {
        push(&format!("diff_capacity{{room=\"{room}\"}}"), capacity);
    }
    for (a, av) in [("1", 10.0), ("2", 20.0)] {
        for (b, bv) in [("x", 0.0), ("y", 3.0)] {
            push(
                &format!("diff_load{{a=\"{a}\",b=\"{b}\"}}"),
                av + bv + (k % 6) as f64,
            );
        }
    }

    // Special values.
    push("diff_special{kind=\"nan\"}", f64::NAN);
    push("diff_special{kind=\"pinf\"}", f64::INFINITY);
    push("diff_special{kind=\"ninf\"}", f64::NEG_INFINITY);
    push("diff_special{kind=\"zero\"}", 0.0);
    let cycle = [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -2.5];
    push("diff_special{kind=\"mixed\"}", cycle[k % cycle.len()]);

    // Series that end mid-way (never marked stale: they carry timestamps).
    if k < ENDED_STEP {
        push("diff_ended{a=\"x\",b=\"1\"}", 2.0 * kf);
        push("diff_ended{a=\"x\",b=\"2\"}", 100.0 - kf);
    }

    // Classic histograms.
    histogram(&mut push, "/api", k);
    histogram(&mut push, "/static", k);

    push("diff_step", kf);
    out
}

/// The cumulative bucket counts, `_count` and `_sum` of histogram `path` at step `k`.
fn histogram(push: &mut impl FnMut(&str, f64), path: &str, k: usize) {
    // Observations per bucket (not cumulative) since the start or the last reset,
    // from per-step rates, and their sum.
    let (counts, sum): ([f64; 5], f64) = if path == "/api" {
        let early = k.min(SHIFT_API) as f64;
        let late = k.saturating_sub(SHIFT_API) as f64;
        let before = [2.0, 3.0, 1.0, 0.0, 1.0];
        let after = [0.0, 1.0, 3.0, 2.0, 0.0];
        (
            std::array::from_fn(|i| before[i] * early + after[i] * late),
            1.75 * early + 9.5 * late,
        )
    } else {
        let n = if k >= RESET_STATIC {
            k - RESET_STATIC
        } else {
            k
        } as f64;
        ([5.0 * n, n, 0.0, 0.0, 0.0], 0.25 * n)
    };
    let mut cumulative = 0.0;
    for (bound, count) in BOUNDS.iter().zip(counts) {
        cumulative += count;
        push(
            &format!("diff_latency_seconds_bucket{{path=\"{path}\",le=\"{bound}\"}}"),
            cumulative,
        );
    }
    push(
        &format!("diff_latency_seconds_count{{path=\"{path}\"}}"),
        cumulative,
    );
    push(&format!("diff_latency_seconds_sum{{path=\"{path}\"}}"), sum);
}

/// The exposition of step `k`: every series with its grid timestamp, and the
/// timestamp-less `diff_vanishing` series before [`VANISH_STEP`].
pub fn body(grid: &Grid, k: usize) -> String {
    let mut text = String::new();
    let t = grid.at(k);
    for (series, v) in series_at(k) {
        writeln!(text, "{series} {} {t}", number(v)).unwrap();
    }
    if k < VANISH_STEP {
        text.push_str("diff_vanishing{a=\"1\"} 42\ndiff_vanishing{a=\"2\"} 7\n");
    }
    text
}

/// How many distinct timestamped series an instant query at `off_ms` after step `k`
/// sees: those with a sample in the 5-minute lookback before it.
pub fn series_within_lookback(k: usize, off_ms: i64) -> usize {
    let t = STEP_MS * k as i64 + off_ms;
    let mut seen = std::collections::HashSet::new();
    for j in 0..STEPS {
        let tj = STEP_MS * j as i64;
        if tj <= t && tj >= t - 300_000 {
            seen.extend(series_at(j).into_iter().map(|(series, _)| series));
        }
    }
    seen.len()
}

/// A running exporter; [`publish`](Exporter::publish) swaps the body it serves.
pub struct Exporter {
    /// Where it listens.
    pub addr: SocketAddr,
    body: Arc<Mutex<Bytes>>,
    task: tokio::task::JoinHandle<()>,
}

impl Exporter {
    /// Starts serving `initial` on a free loopback port.
    pub async fn start(initial: String) -> Exporter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(Bytes::from(initial)));
        let shared = body.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                        let bytes = shared.lock().unwrap().clone();
                        async move {
                            Response::builder()
                                .header("Content-Type", "text/plain; version=0.0.4")
                                .body(Full::new(bytes))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Exporter { addr, body, task }
    }

    /// Serves `text` from now on.
    pub fn publish(&self, text: String) {
        *self.body.lock().unwrap() = Bytes::from(text);
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}
