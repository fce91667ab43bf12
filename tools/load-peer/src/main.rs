//! Peer for scripts/load.sh: serves `prometheus` (tikv/rust-prometheus) text exposition
//! of a gauge vec with N series over hyper http1, one connection task per client, as
//! promsdk's standalone server does, while a thread updates the series.
//!
//! Usage: load-peer ADDR SERIES

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, GaugeVec, Opts, Registry, TextEncoder};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args.next().expect("ADDR").parse().expect("ADDR");
    let series: usize = args.next().expect("SERIES").parse().expect("SERIES");
    let registry = Registry::new();
    let shards = GaugeVec::new(Opts::new("demo_shard_value", "A value per shard and key."), &["shard", "key"]).unwrap();
    registry.register(Box::new(shards.clone())).unwrap();
    for i in 0..series {
        shards.with_label_values(&[&(i % 16).to_string(), &i.to_string()]).set(i as f64);
    }
    std::thread::spawn(move || {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        loop {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % series.max(1);
            shards.with_label_values(&[&(i % 16).to_string(), &i.to_string()]).add(1.0);
            std::thread::sleep(Duration::from_micros(100));
        }
    });
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    eprintln!("load-peer serving {series} series on {addr}");
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let registry = registry.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let registry = registry.clone();
                async move {
                    let families = registry.gather();
                    let mut buf = Vec::new();
                    TextEncoder::new().encode(&families, &mut buf).unwrap();
                    let mut response = Response::new(Full::new(Bytes::from(buf)));
                    response.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
