use super::*;
use crate::scrape::{series_labels, FakeScraper, Storage, STALE_NAN};
use std::sync::Arc;
use std::time::Duration;

fn api() -> Api {
    let store = MemoryStore::new(Duration::from_secs(3600));
    let mut app = store.appender();
    app.append(&series_labels("m", &[("s", "a")]), 1_000, 1.5);
    app.append(&series_labels("m", &[("s", "b")]), 1_000, f64::INFINITY);
    app.append(&series_labels("m", &[("s", "b")]), 2_000, STALE_NAN);
    app.commit();
    let manager = ScrapeManager::new(Arc::new(FakeScraper::default()), Arc::new(store.clone()));
    Api::new(store, manager)
}

async fn call(api: &Api, request: Request<Full<Bytes>>) -> (StatusCode, Value) {
    let response = api.respond(request).await;
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn get(api: &Api, uri: &str) -> (StatusCode, Value) {
    call(api, Request::get(uri).body(Full::default()).unwrap()).await
}

#[tokio::test]
async fn instant_query_has_prometheus_shape() {
    let (status, body) = get(&api(), "/api/v1/query?query=m&time=1.5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "m", "s": "a"}, "value": [1.5, "1.5"]},
            {"metric": {"__name__": "m", "s": "b"}, "value": [1.5, "+Inf"]},
        ]}})
    );
    let (_, body) = get(&api(), "/api/v1/query?query=m&time=2").await;
    assert_eq!(
        body["data"]["result"].as_array().unwrap().len(),
        1,
        "b is stale"
    );
}

#[tokio::test]
async fn post_form_like_promtool() {
    let request = Request::post("/api/v1/query")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(
            "query=m%7Bs%3D%22a%22%7D&time=2023-01-01T00:00:00Z",
        )))
        .unwrap();
    let (status, body) = call(&api(), request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["result"], json!([]), "outside the lookback");
    let request = Request::post("/api/v1/query")
        .body(Full::new(Bytes::from("query=m%7Bs%3D%22a%22%7D&time=3")))
        .unwrap();
    let (_, body) = call(&api(), request).await;
    assert_eq!(body["data"]["result"][0]["value"], json!([3, "1.5"]));
}

#[tokio::test]
async fn range_query_and_series() {
    let (_, body) = get(&api(), "/api/v1/query_range?query=m&start=1&end=3&step=1s").await;
    assert_eq!(
        body["data"],
        json!({"resultType": "matrix", "result": [
            {"metric": {"__name__": "m", "s": "a"}, "values": [[1, "1.5"], [2, "1.5"], [3, "1.5"]]},
            {"metric": {"__name__": "m", "s": "b"}, "values": [[1, "+Inf"]]},
        ]})
    );
    let (_, body) = get(&api(), "/api/v1/series?match[]=m%7Bs%3D%22b%22%7D").await;
    assert_eq!(
        body,
        json!({"status": "success", "data": [{"__name__": "m", "s": "b"}]})
    );
}

#[tokio::test]
async fn errors_are_bad_data_with_400() {
    for uri in [
        "/api/v1/query",
        "/api/v1/query?query=rate(m%5B5m%5D",
        "/api/v1/query?query=predict_linear(m%5B5m%5D,1)%20%3E%20sort_by_label(m)",
        "/api/v1/query?query=m&time=soon",
        "/api/v1/query_range?query=m&start=1&end=3&step=0",
        "/api/v1/series",
    ] {
        let (status, body) = get(&api(), uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(
            (body["status"].as_str(), body["errorType"].as_str()),
            (Some("error"), Some("bad_data")),
            "{uri}"
        );
    }
    let (status, _) = get(&api(), "/api/v1/alerts").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn targets_list_active_targets() {
    let api = api();
    let cfg = crate::scrape::ScrapeConfig::new("j").interval(Duration::from_secs(90));
    api.manager.apply_config(vec![cfg.clone()]);
    api.manager.sync([(
        "j".to_owned(),
        vec![crate::scrape::Target::new(&cfg, "h:1", &[])],
    )]);
    let (_, body) = get(&api, "/api/v1/targets").await;
    let t = &body["data"]["activeTargets"][0];
    assert_eq!(t["labels"], json!({"instance": "h:1", "job": "j"}));
    assert_eq!(t["discoveredLabels"]["__address__"], "h:1");
    assert_eq!(t["scrapeUrl"], "http://h:1/metrics");
    assert_eq!(
        (t["health"].as_str(), t["scrapeInterval"].as_str()),
        (Some("unknown"), Some("1m30s"))
    );
    assert_eq!(t["lastScrape"], "0001-01-01T00:00:00Z");
    assert_eq!(body["data"]["droppedTargets"], json!([]));
    api.manager.stop(false).await;
}

#[test]
fn form_decoding_and_value_formatting() {
    assert_eq!(
        parse_form("a=1+2&b=%7B%zz&c"),
        vec![
            ("a".to_owned(), "1 2".to_owned()),
            ("b".to_owned(), "{%zz".to_owned()),
            ("c".to_owned(), String::new()),
        ]
    );
    assert_eq!(
        crate::config::format_duration(Duration::from_millis(3_723_500)),
        "1h2m3s500ms"
    );
}
