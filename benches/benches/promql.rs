//! PromQL evaluation at scale (issue 13): `rate(x[5m])` and `sum by (a) (rate(x[5m]))`
//! over 10,000 counter series holding 1 h of 15 s samples (241 each), as an instant
//! query at the last sample and as a 1 h range query at a 15 s step (241 steps).
//!
//! - `promql/rate_instant`, `promql/sum_rate_instant`: [`Engine::instant`], the call
//!   behind `/api/v1/query`, without HTTP or JSON.
//! - `promql/rate_range_1h_15s`, `promql/sum_rate_range_1h_15s`: [`Engine::range`],
//!   the call behind `/api/v1/query_range`.
//! - `promql/rate_instant_json`: the whole `/api/v1/query` answer for `rate(x[5m])`
//!   built by [`Api::respond`] from a request (query string parsed, engine run, JSON
//!   written), without a socket.
//!
//! The series are `x{a="0".."99", b="0".."99"}` (so `sum by (a)` has 100 groups):
//! monotonic counters with integer increments of 1 to 50 per sample, and one reset in
//! every 25th series. They are appended to a [`MemoryStore`] one 15 s step per commit,
//! as scrapes would. The data are defined once, here: with
//! `PROMQL_BENCH_WRITE=FILE` this binary writes the same samples as OpenMetrics text to
//! FILE (for `promtool tsdb create-blocks-from openmetrics`), the harness's
//! `/api/v1/query` answer to `sum by (a) (rate(x[5m]))` to FILE.sum_rate.json, and
//! exits. `PROMQL_BENCH_END` (Unix seconds) sets the time of the last sample.
//! `scripts/bench_promql.sh` uses both to put Prometheus 2.42's timings beside these.
//!
//! Run: `cargo bench -p promsdk-bench --bench promql`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use http_body_util::BodyExt;
use promsdk_harness::api::Api;
use promsdk_harness::query::{Engine, EngineOpts, QueryValue};
use promsdk_harness::scrape::{series_labels, FakeScraper, MemoryStore, ScrapeManager, Storage};

/// Distinct values of label `a` (the `sum by (a)` groups) and of label `b`.
const A_VALUES: usize = 100;
const B_VALUES: usize = 100;
const SERIES: usize = A_VALUES * B_VALUES;
/// 1 h of samples at 15 s, both ends included.
const SAMPLES: usize = 241;
const STEP_MS: i64 = 15_000;
/// The last sample's time when `PROMQL_BENCH_END` is not set (Unix seconds).
const DEFAULT_END_S: i64 = 1_699_999_200;

const RATE: &str = "rate(x[5m])";
const SUM_RATE: &str = "sum by (a) (rate(x[5m]))";

/// Series `i`'s label values `(a, b)`.
fn label_values(i: usize) -> (String, String) {
    ((i / B_VALUES).to_string(), (i % B_VALUES).to_string())
}

/// Series `i`'s samples in time order: a counter starting at `i % 1000` that grows by
/// 1 to 50 per sample (a fixed hash of series and sample), restarting from zero once
/// in every 25th series. All values are small integers, exact in text and in `f64`.
fn values(i: usize) -> Vec<f64> {
    let reset_at = (i % 25 == 0).then_some(40 + (i / 25) % 160);
    let mut v = (i % 1000) as u64;
    (0..SAMPLES)
        .map(|k| {
            let mut h = (i as u64) << 32 | k as u64;
            h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 33;
            let inc = 1 + h % 50;
            v = if Some(k) == reset_at { inc } else { v + inc };
            v as f64
        })
        .collect()
}

/// The time of sample `k` (milliseconds) when the last one is at `end_ms`.
fn sample_time(end_ms: i64, k: usize) -> i64 {
    end_ms - (SAMPLES - 1 - k) as i64 * STEP_MS
}

/// The store holding every series, one commit per 15 s step.
fn store(end_ms: i64) -> MemoryStore {
    let store = MemoryStore::new(Duration::from_secs(24 * 3600));
    let series: Vec<_> = (0..SERIES)
        .map(|i| {
            let (a, b) = label_values(i);
            (series_labels("x", &[("a", &a), ("b", &b)]), values(i))
        })
        .collect();
    for k in 0..SAMPLES {
        let mut app = store.appender();
        for (labels, values) in &series {
            app.append(labels, sample_time(end_ms, k), values[k]);
        }
        app.commit();
    }
    store
}

/// Writes the samples as OpenMetrics text (timestamps in seconds), series by series.
fn write_openmetrics(path: &str, end_ms: i64) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "# TYPE x gauge")?;
    for i in 0..SERIES {
        let (a, b) = label_values(i);
        for (k, v) in values(i).into_iter().enumerate() {
            let t_s = sample_time(end_ms, k) / 1000;
            writeln!(out, "x{{a=\"{a}\",b=\"{b}\"}} {v} {t_s}")?;
        }
    }
    writeln!(out, "# EOF")?;
    out.flush()
}

/// `/api/v1/query` answered in process (no socket): the response body.
async fn api_query(api: &Api, query: &str, t_ms: i64) -> String {
    let uri = format!(
        "/api/v1/query?query={}&time={}.{:03}",
        query
            .replace('(', "%28")
            .replace(')', "%29")
            .replace('[', "%5B")
            .replace(']', "%5D")
            .replace(' ', "+"),
        t_ms / 1000,
        t_ms % 1000
    );
    let request = http::Request::get(uri)
        .body(String::new())
        .expect("a valid request");
    let body = api
        .respond(request)
        .await
        .into_body()
        .collect()
        .await
        .expect("an in-memory body")
        .to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

fn main() {
    let end_ms = std::env::var("PROMQL_BENCH_END")
        .ok()
        .map(|s| s.parse::<i64>().expect("PROMQL_BENCH_END: Unix seconds"))
        .unwrap_or(DEFAULT_END_S)
        * 1000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let store = store(end_ms);
    let api = Api::new(
        store.clone(),
        ScrapeManager::new(Arc::new(FakeScraper::default()), Arc::new(store.clone())),
    );

    if let Ok(path) = std::env::var("PROMQL_BENCH_WRITE") {
        write_openmetrics(&path, end_ms).expect("writing the OpenMetrics file");
        let answer = runtime.block_on(api_query(&api, SUM_RATE, end_ms));
        std::fs::write(format!("{path}.sum_rate.json"), answer).expect("writing the answer");
        println!("wrote {SERIES} series x {SAMPLES} samples to {path}");
        return;
    }

    let engine = Engine::new(store, EngineOpts::default());
    let start_ms = end_ms - 3_600_000;
    let step = Duration::from_millis(STEP_MS as u64);
    // What each query returns, checked once so the benchmarks measure real work.
    let count = |q: &str| match engine.instant(q, end_ms, None).expect("instant query") {
        QueryValue::Vector(v) => v.len(),
        other => panic!("{q}: expected a vector, got {}", other.result_type()),
    };
    assert_eq!(count(RATE), SERIES);
    assert_eq!(count(SUM_RATE), A_VALUES);
    let range = engine
        .range(SUM_RATE, start_ms, end_ms, step, None)
        .expect("range query");
    assert_eq!(range.len(), A_VALUES);
    // The first step's window holds one sample per series, too few for a rate.
    assert_eq!(range[0].points.len(), SAMPLES - 1);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("promql");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("rate_instant", |b| {
        b.iter(|| engine.instant(RATE, end_ms, None).expect("query"))
    });
    group.bench_function("sum_rate_instant", |b| {
        b.iter(|| engine.instant(SUM_RATE, end_ms, None).expect("query"))
    });
    group.bench_function("rate_range_1h_15s", |b| {
        b.iter(|| {
            engine
                .range(RATE, start_ms, end_ms, step, None)
                .expect("query")
        })
    });
    group.bench_function("sum_rate_range_1h_15s", |b| {
        b.iter(|| {
            engine
                .range(SUM_RATE, start_ms, end_ms, step, None)
                .expect("query")
        })
    });
    group.bench_function("rate_instant_json", |b| {
        b.iter(|| runtime.block_on(api_query(&api, RATE, end_ms)))
    });
    group.finish();
    c.final_summary();
}
