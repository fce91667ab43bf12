//! A local http_sd endpoint for tests: answers every request with the status, content
//! type and body the test sets, and with 400 when Prometheus's
//! `X-Prometheus-Refresh-Interval-Seconds` header is missing.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;

/// What the test endpoint answers: status, content type, body.
pub type Answer = Arc<Mutex<(u16, &'static str, String)>>;

/// Serves `answer` on a free loopback port until the runtime ends.
pub async fn serve(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (status, ct, body) = answer.lock().clone();
                    let refresh = req
                        .headers()
                        .get("X-Prometheus-Refresh-Interval-Seconds")
                        .is_some();
                    async move {
                        let status = if refresh { status } else { 400 };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("Content-Type", ct)
                                .body(Full::new(Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
