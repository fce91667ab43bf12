//! The web page in a real browser: Debian's headless `chromium`, driven through
//! `chromedriver` (both installed by scripts/install-deps.sh), loads the page of a
//! `promsdk-harness run` scraping, through file_sd, an exporter whose target carries
//! a hostile label (`<script>alert(1)</script>`) and one of whose series has a
//! hostile label value, plus a target that is down. It checks the DOM: the targets
//! table and its filter form, one SVG path per series of a query with an end mark
//! for the series that went stale, the lifetimes view with a stale end, the hostile
//! values shown as text with no element injected; then it saves a screenshot and
//! checks that it is not blank.
//!
//! Fails (never skips) when chromium or chromedriver is missing.

#[path = "../../tests/common/prometheus.rs"]
mod prometheus;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use prometheus::{free_port, installed, Running};
use promsdk::http::{serve, ServeOpts};
use promsdk::{GaugeVec, Opts, Registry};
use serde_json::{json, Value};

const HOSTILE_TARGET_LABEL: &str = "<script>alert(1)</script>";
const HOSTILE_STEP: &str = "<img src=x onerror=alert(2)>";

fn need(tool: &str) -> String {
    installed(tool).unwrap_or_else(|| {
        panic!("`{tool}` is not installed: run scripts/install-deps.sh (Debian packages chromium, chromium-driver)")
    })
}

/// Waits until `addr` accepts connections, at most `limit`.
fn wait_listening(addr: SocketAddr, limit: Duration) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < limit,
            "nothing listening on {addr} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The series an instant query returns, through the harness's API.
async fn count(harness: SocketAddr, query: &str) -> usize {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri = format!("http://{harness}/api/v1/query?query={}", encode(query));
    let Ok(response) = client.get(uri.parse().unwrap()).await else {
        return 0;
    };
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    json["data"]["result"].as_array().map_or(0, Vec::len)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn wait_count(harness: SocketAddr, query: &str, want: usize) {
    let start = Instant::now();
    while count(harness, query).await != want {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{query} never returned {want} series"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn texts(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, Vec::new()).await.unwrap()
}

/// Clicks `button` and waits for the page its form loads (its URL has `expect`).
async fn submit(client: &Client, button: &str, expect: &str) {
    client
        .find(Locator::Css(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        let ready = js(client, "return document.readyState").await;
        if url.as_str().contains(expect) && ready == "complete" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no page with {expect:?} after submitting: at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No element came from a label: no script, image or event handler anywhere.
async fn assert_nothing_injected(client: &Client) {
    assert_eq!(
        js(
            client,
            "return document.getElementsByTagName('script').length"
        )
        .await,
        0
    );
    assert_eq!(
        js(client, "return document.getElementsByTagName('img').length").await,
        0
    );
    assert_eq!(
        js(
            client,
            "return document.querySelectorAll('[onerror]').length"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_targets_graphs_and_lifetimes_and_escapes_labels() {
    let (chromium, chromedriver) = (need("chromium"), need("chromedriver"));

    let registry = Registry::new();
    let steps = GaugeVec::new(
        Opts::new("pipeline_step_duration_seconds", "Step time."),
        &["step"],
    )
    .unwrap();
    registry.register(steps.clone()).unwrap();
    for (step, v) in [("clone", 1.5), ("build", 42.0), (HOSTILE_STEP, 7.0)] {
        steps.with_label_values(&[step]).set(v);
    }
    let exporter = serve(
        "127.0.0.1:0".parse().unwrap(),
        registry,
        ServeOpts::default(),
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let targets = json!([
        {"targets": [exporter.local_addr().to_string()], "labels": {"strategy": "delete", "note": HOSTILE_TARGET_LABEL}},
        // Nothing listens on port 1: a target that is down, with an error.
        {"targets": ["127.0.0.1:1"], "labels": {"strategy": "gone"}},
    ]);
    std::fs::write(dir.path().join("targets.json"), targets.to_string()).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pipeline\n    file_sd_configs:\n      - files: [targets.json]\n",
    )
    .unwrap();
    let harness: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let _harness = Running(
        Command::new(env!("CARGO_BIN_EXE_promsdk-harness"))
            .args(["run", "--config"])
            .arg(dir.path().join("prometheus.yml"))
            .arg(format!("--listen={harness}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start promsdk-harness"),
    );
    wait_count(harness, "pipeline_step_duration_seconds", 3).await;
    // clone vanishes: the next scrape writes its staleness marker.
    assert!(steps.remove(&["clone"]));
    wait_count(harness, "pipeline_step_duration_seconds", 2).await;
    wait_count(harness, "up == 0", 1).await;
    // A few more points after the end of clone's line.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let driver_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let _driver = Running(
        Command::new(chromedriver)
            .arg(format!("--port={}", driver_addr.port()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    wait_listening(driver_addr, Duration::from_secs(20));
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            // Root in a container: no sandbox; no GPU; /tmp rather than a small /dev/shm.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]
        }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://{driver_addr}"))
        .await
        .expect("a chromium session through chromedriver");
    let base = format!("http://{harness}");

    // Targets: both rows, the hostile label shown as text.
    client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "promsdk-harness");
    let rows = texts(&client, "#targets tbody tr.target").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let labels = texts(&client, "#targets td.labels").await;
    assert!(
        labels
            .iter()
            .any(|l| l.contains(&format!("note=\"{HOSTILE_TARGET_LABEL}\""))),
        "the hostile label is shown as text: {labels:?}"
    );
    assert_nothing_injected(&client).await;
    // The filter form: health down leaves the target on port 1, with its error.
    client
        .find(Locator::Css("#health"))
        .await
        .unwrap()
        .select_by_value("down")
        .await
        .unwrap();
    submit(&client, "#target-filter button", "health=down").await;
    let rows = texts(&client, "#targets tbody tr.target").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("127.0.0.1:1") && rows[0].contains("down"),
        "{rows:?}"
    );
    assert!(!texts(&client, "#targets td.last-error").await[0].is_empty());

    // The query box: a line per series, clone's ending in a stale mark.
    client.goto(&format!("{base}/")).await.unwrap();
    let input = client.find(Locator::Css("#query")).await.unwrap();
    input
        .send_keys("pipeline_step_duration_seconds")
        .await
        .unwrap();
    client
        .find(Locator::Css("#range"))
        .await
        .unwrap()
        .select_by_value("1m")
        .await
        .unwrap();
    submit(&client, "#query-form button", "tab=graph").await;
    let paths = client
        .find_all(Locator::Css("svg.graph path.series"))
        .await
        .unwrap();
    assert_eq!(
        paths.len(),
        3,
        "at {}: {}",
        client.current_url().await.unwrap(),
        texts(&client, "main").await.join("\n")
    );
    for p in &paths {
        let d = p.attr("d").await.unwrap().unwrap_or_default();
        assert!(d.starts_with('M') && d.contains('L'), "a drawn line: {d}");
    }
    let marks = client
        .find_all(Locator::Css("svg.graph g.stale-mark"))
        .await
        .unwrap();
    assert_eq!(marks.len(), 1, "one series went stale");
    let legend = texts(&client, "#legend li").await;
    assert_eq!(legend.len(), 3);
    let clone = legend
        .iter()
        .position(|l| l.contains("step=\"clone\""))
        .expect("clone in the legend");
    assert_eq!(
        marks[0].attr("data-series").await.unwrap(),
        Some(clone.to_string())
    );
    assert!(
        legend.iter().any(|l| l.contains(HOSTILE_STEP)),
        "{legend:?}"
    );
    assert_nothing_injected(&client).await;
    // The same as a table.
    client
        .find(Locator::Css("#tab"))
        .await
        .unwrap()
        .select_by_value("table")
        .await
        .unwrap();
    submit(&client, "#query-form button", "tab=table").await;
    assert_eq!(texts(&client, "#result tr.sample").await.len(), 2);

    // The lifetimes view: one row (strategy delete), three bars, clone's stale end.
    client.goto(&format!("{base}/demo")).await.unwrap();
    let rows = client
        .find_all(Locator::Css("svg.lifetimes g.row"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].attr("data-row").await.unwrap().as_deref(),
        Some("delete")
    );
    assert_eq!(
        client
            .find_all(Locator::Css("svg.lifetimes rect.bar"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        client
            .find_all(Locator::Css("svg.lifetimes g.stale-end"))
            .await
            .unwrap()
            .len(),
        1
    );
    // Long labels are cut on screen; the whole label is the lane's tooltip.
    let lanes = js(&client, "return Array.from(document.querySelectorAll('svg.lifetimes text.lane-label title')).map(t => t.textContent)").await;
    let lanes: Vec<String> = serde_json::from_value(lanes).unwrap();
    assert!(lanes.iter().any(|l| l.contains(HOSTILE_STEP)), "{lanes:?}");
    assert_nothing_injected(&client).await;

    let png = client.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web_page_demo.png");
    std::fs::write(&path, &png).unwrap();
    let (width, height, colors, inked) = png_stats(&png);
    assert!(width >= 800 && height >= 600, "{width}x{height}");
    assert!(
        colors >= 20,
        "a blank-looking screenshot ({colors} colours): {}",
        path.display()
    );
    assert!(
        inked > 0.02,
        "a blank-looking screenshot ({inked:.3} non-white): {}",
        path.display()
    );

    client.close().await.unwrap();
    exporter.shutdown().await;
}

/// Width, height, distinct colours and the fraction of pixels that are not white.
fn png_stats(png: &[u8]) -> (u32, u32, usize, f64) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let colors: HashSet<&[u8]> = pixels.iter().copied().collect();
    let inked = pixels
        .iter()
        .filter(|p| p.iter().take(3).any(|&c| c < 240))
        .count();
    (
        info.width,
        info.height,
        colors.len(),
        inked as f64 / pixels.len() as f64,
    )
}
