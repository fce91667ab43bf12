//! The query API over HTTP against a running harness: GET and POST forms, time
//! formats, result shapes written byte for byte as Prometheus 2.42 writes them, error
//! bodies and status codes, the labels and label values endpoints and the sample
//! limit.

#[path = "../../tests/common/http_client.rs"]
mod client;

use std::net::SocketAddr;

use promsdk_harness::config::Config;
use promsdk_harness::query::EngineOpts;
use promsdk_harness::scrape::{series_labels, Storage, STALE_NAN};
use promsdk_harness::{Harness, HarnessOpts};
use serde_json::{json, Value};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

async fn harness(max_samples: usize) -> Harness {
    let config = Config::parse("scrape_configs: []\n").unwrap();
    let opts = HarnessOpts {
        query: EngineOpts::default().max_samples(max_samples),
        ..HarnessOpts::default()
    };
    let h = Harness::start(&config, "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let mut app = h.store().appender();
    for k in 0..=10 {
        let t = T0 + k * 15_000;
        let v = k as f64 * 15.0;
        app.append(&series_labels("req_total", &[("path", "/a")]), t, v);
        app.append(&series_labels("req_total", &[("path", "/b")]), t, 2.0 * v);
    }
    app.append(&series_labels("temp", &[("room", "<hall>")]), T0, 1.5e-7);
    app.append(
        &series_labels("temp", &[("room", "<hall>")]),
        T0 + 60_000,
        STALE_NAN,
    );
    app.commit();
    h
}

async fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    let reply = client::request(addr, "GET", target, &[]).await;
    (reply.status, reply.text())
}

async fn post(addr: SocketAddr, path: &str, form: &str) -> (u16, String) {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let reply = client::request_with_body(addr, "POST", path, &headers, form.as_bytes()).await;
    (reply.status, reply.text())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn instant_queries_by_get_and_post_in_both_time_formats() {
    let h = harness(50_000_000).await;
    let addr = h.local_addr();
    let (status, body) = get(
        addr,
        "/api/v1/query?query=sum%20by%20(path)%20(rate(req_total%5B1m%5D))&time=1700000150",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"path":"/a"},"value":[1700000150,"1"]},{"metric":{"path":"/b"},"value":[1700000150,"2"]}]}}"#
    );
    let (status, body) = post(
        addr,
        "/api/v1/query",
        "query=temp&time=2023-11-14T22%3A13%3A30.25Z",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"temp","room":"\u003chall\u003e"},"value":[1700000010.250,"1.5e-07"]}]}}"#
    );
    let (_, body) = get(addr, "/api/v1/query?query=temp&time=1700000060").await;
    assert_eq!(json_of(&body)["data"]["result"], json!([]), "stale");
    let (_, body) = get(addr, "/api/v1/query?query=1%2F0&time=1700000000.5").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"+Inf"]}}"#
    );
    let (_, body) = get(addr, "/api/v1/query?query=%22hi%22&time=1").await;
    assert_eq!(
        json_of(&body)["data"],
        json!({"resultType": "string", "result": [1, "hi"]})
    );
    let (_, body) = get(
        addr,
        "/api/v1/query?query=req_total%7Bpath%3D%22%2Fa%22%7D%5B30s%5D&time=1700000030",
    )
    .await;
    assert_eq!(
        json_of(&body)["data"],
        json!({"resultType": "matrix", "result": [{"metric": {"__name__": "req_total", "path": "/a"},
            "values": [[1700000000, "0"], [1700000015, "15"], [1700000030, "30"]]}]})
    );
    h.shutdown().await;
}

#[tokio::test]
async fn range_queries_and_their_limits() {
    let h = harness(50_000_000).await;
    let addr = h.local_addr();
    let (status, body) = post(
        addr,
        "/api/v1/query_range",
        "query=req_total%7Bpath%3D%22%2Fa%22%7D+%2B+1&start=1700000000&end=1700000030&step=15s",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"path":"/a"},"values":[[1700000000,"1"],[1700000015,"16"],[1700000030,"31"]]}]}}"#
    );
    let (_, body) = get(
        addr,
        "/api/v1/query_range?query=time()&start=1700000000&end=2023-11-14T22:13:21Z&step=0.5",
    )
    .await;
    assert_eq!(
        json_of(&body)["data"]["result"][0]["values"],
        json!([
            [1700000000, "1700000000"],
            [1700000000.5, "1700000000.5"],
            [1700000001, "1700000001"]
        ])
    );
    for (target, message) in [
        ("/api/v1/query_range?query=up&start=2&end=1&step=1", r#"invalid parameter "end": end timestamp must not be before start time"#),
        ("/api/v1/query_range?query=up&start=1&end=2&step=0", r#"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#),
        ("/api/v1/query_range?query=up&start=1&end=2&step=x", r#"invalid parameter "step": cannot parse "x" to a valid duration"#),
        ("/api/v1/query_range?query=up&end=2&step=1", r#"invalid parameter "start": cannot parse "" to a valid timestamp"#),
        ("/api/v1/query_range?query=up&start=0&end=11001&step=1", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"),
        ("/api/v1/query_range?query=up%5B5m%5D&start=0&end=1&step=1", r#"invalid expression type "range vector" for range query, must be Scalar or instant Vector"#),
    ] {
        let (status, body) = get(addr, target).await;
        assert_eq!(status, 400, "{target}: {body}");
        assert_eq!(
            json_of(&body),
            json!({"status": "error", "errorType": "bad_data", "error": message}),
            "{target}"
        );
    }
    let (status, _) = get(
        addr,
        "/api/v1/query_range?query=up&start=0&end=11000&step=1",
    )
    .await;
    assert_eq!(status, 200, "11,000 steps are allowed");
    h.shutdown().await;
}

#[tokio::test]
async fn errors_have_prometheus_types_and_codes() {
    let h = harness(50_000_000).await;
    let addr = h.local_addr();
    for (target, status, kind) in [
        ("/api/v1/query?query=sum(", 400, "bad_data"),
        ("/api/v1/query", 400, "bad_data"),
        ("/api/v1/query?query=up&time=soon", 400, "bad_data"),
        ("/api/v1/query?query=up&timeout=later", 400, "bad_data"),
        (
            "/api/v1/query?query=predict_linear(up%5B5m%5D,1)%20or%20limitk(1,up)",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query?query=req_total%20%2B%20on()%20req_total&time=1700000000",
            422,
            "execution",
        ),
        (
            "/api/v1/query?query=label_replace(up,%221%22,%22%22,%22%22,%22%22)",
            422,
            "execution",
        ),
        (
            "/api/v1/query?query=count_over_time(req_total%5B1h%5D)&time=1700000150&timeout=0s",
            503,
            "timeout",
        ),
        ("/api/v1/series", 400, "bad_data"),
        ("/api/v1/label/1bad/values", 400, "bad_data"),
        ("/api/v1/nothing", 404, "not_found"),
    ] {
        let (got, body) = get(addr, target).await;
        let body = json_of(&body);
        assert_eq!(got, status, "{target}: {body}");
        assert_eq!(body["status"], "error", "{target}");
        assert_eq!(body["errorType"], kind, "{target}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{target}"
        );
    }
    let (_, body) = get(addr, "/api/v1/query?query=sort_by_label(up)").await;
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains(r#"unsupported function "sort_by_label""#),
        "{body}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn series_labels_and_label_values() {
    let h = harness(50_000_000).await;
    let addr = h.local_addr();
    let (status, body) = get(addr, "/api/v1/labels").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","path","room"]}"#
    );
    let (_, body) = post(addr, "/api/v1/labels", "match[]=temp").await;
    assert_eq!(json_of(&body)["data"], json!(["__name__", "room"]));
    let (_, body) = get(addr, "/api/v1/label/__name__/values").await;
    assert_eq!(json_of(&body)["data"], json!(["req_total", "temp"]));
    let (_, body) = get(
        addr,
        "/api/v1/label/path/values?match[]=req_total&match[]=temp",
    )
    .await;
    assert_eq!(json_of(&body)["data"], json!(["/a", "/b"]));
    let (_, body) = get(addr, "/api/v1/label/path/values?start=1800000000").await;
    assert_eq!(json_of(&body)["data"], json!([]));
    let (_, body) = get(
        addr,
        "/api/v1/series?match[]=%7Bpath%3D~%22.*b%22%7D&match[]=temp",
    )
    .await;
    assert_eq!(
        json_of(&body)["data"],
        json!([{"__name__": "req_total", "path": "/b"}, {"__name__": "temp", "room": "<hall>"}])
    );
    let (status, body) = get(addr, "/api/v1/series?match[]=rate(up%5B1m%5D)").await;
    assert_eq!(status, 400, "{body}");
    h.shutdown().await;
}

#[tokio::test]
async fn sample_limit_answers_422() {
    let h = harness(5).await;
    let addr = h.local_addr();
    let (status, _) = get(addr, "/api/v1/query?query=req_total&time=1700000150").await;
    assert_eq!(status, 200, "two samples fit");
    let (status, body) = get(
        addr,
        "/api/v1/query?query=sum(req_total%5B1m%5D)&time=1700000150",
    )
    .await;
    assert_eq!(status, 400, "a range vector cannot be summed: {body}");
    let (status, body) = get(
        addr,
        "/api/v1/query?query=sum(count_over_time(req_total%5B1m%5D))&time=1700000150",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        json_of(&body),
        json!({"status": "error", "errorType": "execution",
            "error": "query processing would load too many samples into memory in query execution"})
    );
    h.shutdown().await;
}
