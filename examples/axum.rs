//! Mounting the `/metrics` service in an axum router beside the application's own
//! routes, the application counting its requests.
//!
//! ```sh
//! cargo run --example axum -- --listen 127.0.0.1:9186
//! curl -s http://127.0.0.1:9186/hello; curl -s http://127.0.0.1:9186/metrics
//! ```

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use clap::Parser;
use promsdk::http::{MetricsService, ServeOpts};
use promsdk::{CounterVec, Opts, Registry};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9186")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let registry = Registry::new();
    let hits = CounterVec::new(Opts::new("app_hits_total", "Hits per route."), &["route"])?;
    registry.register(hits.clone())?;

    let metrics = MetricsService::new(registry, ServeOpts::default())?;
    let app = Router::new()
        .route(
            "/hello",
            get(move || async move {
                hits.with_label_values(&["/hello"]).inc();
                "hello\n"
            }),
        )
        .route_service("/metrics", metrics);

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving /hello and /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
