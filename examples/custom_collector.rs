//! The on-demand collector of the seed scenario, served over HTTP: every scrape reports
//! one sample under a fresh random `id` label. A vec would keep every id it ever saw;
//! the collector builds its samples afresh per request, so old values never pile up.
//!
//! ```sh
//! cargo run --example custom_collector -- --listen 127.0.0.1:9185
//! curl -s http://127.0.0.1:9185/metrics   # a new id each time, always one series
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use promsdk::http::{serve, ServeOpts};
use promsdk::{Collected, Collector, Desc, MetricType, Opts, Registry};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9185")]
    listen: SocketAddr,
}

/// Reports the "current" random value under a random id, drawn on every collect.
struct RandomCollector {
    desc: Desc,
    state: AtomicU64,
}

impl RandomCollector {
    /// The next xorshift64 draw (no extra dependency needed for a demo).
    fn draw(&self) -> u64 {
        // Relaxed: only the value matters; concurrent scrapes may draw the same one.
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        x
    }
}

impl Collector for RandomCollector {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let id = format!("{:08x}", self.draw() as u32);
        let value = (self.draw() % 1000) as f64 / 10.0;
        out.family(&self.desc).gauge(&[&id], value);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let registry = Registry::new();
    let desc = Desc::new(
        Opts::new(
            "seed_collector",
            "A random value under a random id, drawn per scrape.",
        ),
        MetricType::Gauge,
        &["id"],
    )?;
    let seed = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64 | 1;
    registry.register(RandomCollector {
        desc,
        state: AtomicU64::new(seed),
    })?;
    let server = serve(args.listen, registry, ServeOpts::default()).await?;
    tracing::info!(addr = %server.local_addr(), "serving /metrics");
    server
        .shutdown_on(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
