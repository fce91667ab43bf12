//! The HTTP routes (axum):
//!
//! - `GET /metrics`: promsdk's [`MetricsService`] (text 0.0.4 or OpenMetrics by
//!   `Accept`, gzip, `HEAD`);
//! - `POST /runs`: one finished run as JSON ([`crate::run`]): `200` once recorded,
//!   `400` with a message naming the problem (nothing recorded), `413` for a body over
//!   [`MAX_BODY_BYTES`];
//! - `GET /`: a short page naming the two.
//!
//! Other methods on these paths get `405`, other paths `404`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use promsdk::http::MetricsService;

use crate::exporter::Exporter;
use crate::run::{Run, MAX_BODY_BYTES};

/// The routes, answering from `exporter` and `metrics`.
pub fn router(exporter: Arc<Exporter>, metrics: MetricsService) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs", post(post_run))
        .route_service("/metrics", metrics)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(exporter)
}

async fn index() -> &'static str {
    "pipeline-step-exporter\n\
     GET  /metrics  the metrics\n\
     POST /runs     one finished run: {\"pipeline\":\"a\",\"steps\":[{\"name\":\"clone\",\"duration_seconds\":1.5,\"status\":\"success\"}]}\n"
}

async fn post_run(
    State(exporter): State<Arc<Exporter>>,
    body: Result<Bytes, BytesRejection>,
) -> (StatusCode, String) {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::info!("run refused: body over {MAX_BODY_BYTES} bytes");
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is over the limit of {MAX_BODY_BYTES} bytes\n"),
            );
        }
        Err(rejection) => return (rejection.status(), format!("{}\n", rejection.body_text())),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    match Run::from_json(&body, now) {
        Ok(run) => {
            exporter.record(&run);
            tracing::debug!(
                pipeline = run.pipeline(),
                steps = run.steps().len(),
                status = run.status().as_str(),
                "run recorded"
            );
            (
                StatusCode::OK,
                format!(
                    "recorded a {} run of pipeline {:?} with {} steps\n",
                    run.status().as_str(),
                    run.pipeline(),
                    run.steps().len()
                ),
            )
        }
        Err(error) => {
            tracing::info!(%error, "run refused");
            (StatusCode::BAD_REQUEST, format!("{error}\n"))
        }
    }
}
