//! `pipeline-step-exporter`: a Prometheus exporter for CI pipeline runs, and the
//! reference example of writing an exporter with promsdk.
//!
//! Each run of a pipeline has a set of steps that can differ from the previous run, so
//! step series go stale; `--strategy` picks how they are handled (see [`strategy`]).
//! Runs arrive by `POST /runs` ([`run`], [`server`]) and, unless `--no-simulate`, from a
//! built-in simulation ([`simulate`]). `GET /metrics` serves them with the process
//! metrics.
//!
//! ```sh
//! cargo run -p pipeline-step-exporter -- --help
//! ```
//!
//! On start it prints `listening on ADDR` on stdout (the bound address, useful with
//! `--listen 127.0.0.1:0`); logs go to stderr (`RUST_LOG=debug` for more). Ctrl-C or
//! SIGTERM stops it gracefully: requests being served are answered first.

mod duration;
mod exporter;
mod run;
mod server;
mod simulate;
mod strategy;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use promsdk::http::{MetricsService, ServeOpts};
use promsdk::Registry;

use crate::exporter::Exporter;
use crate::strategy::Strategy;

/// Exposes the steps of CI pipeline runs as Prometheus metrics.
///
/// Runs are POSTed as JSON to /runs; metrics are served on /metrics.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9188")]
    listen: SocketAddr,
    /// How steps missing from a pipeline's latest run are handled: `collector` reports
    /// the latest runs afresh on every scrape, `delete` removes vanished steps from
    /// vecs, `ttl` lets them expire after --ttl, `naive` keeps them forever (the leak).
    #[arg(long, value_enum, default_value_t = Strategy::Collector)]
    strategy: Strategy,
    /// With --strategy ttl (an error with any other strategy): how long a step series
    /// lives without an update, as Prometheus writes durations (30s, 5m, 1h30m).
    #[arg(long, default_value = "5m", value_parser = duration::parse_positive)]
    ttl: Duration,
    /// Do not simulate pipelines; record only runs POSTed to /runs.
    #[arg(long)]
    no_simulate: bool,
    /// How often the simulation finishes a run (30s, 5m, 1h30m, 250ms).
    #[arg(long, default_value = "2s", value_parser = duration::parse_positive)]
    simulate_interval: Duration,
}

impl Args {
    /// Parses `argv` (program name first) like [`Parser::try_parse_from`], and also
    /// refuses `--ttl` given with a strategy other than `ttl`, where it would do nothing.
    fn try_parse_checked<I, T>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = Args::command();
        let matches = command.try_get_matches_from_mut(argv)?;
        let args = Args::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        let ttl_given = matches.value_source("ttl") == Some(ValueSource::CommandLine);
        if ttl_given && args.strategy != Strategy::Ttl {
            return Err(command.error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--ttl only applies to --strategy ttl, not --strategy {}: \
                     drop --ttl or use --strategy ttl",
                    args.strategy
                ),
            ));
        }
        Ok(args)
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::try_parse_checked(std::env::args_os()).unwrap_or_else(|e| e.exit());
    if let Err(error) = serve_until_stopped(args).await {
        eprintln!("pipeline-step-exporter: {error}");
        std::process::exit(1);
    }
}

/// Serves until Ctrl-C or SIGTERM; errors are what keeps it from starting.
async fn serve_until_stopped(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    #[cfg(target_os = "linux")]
    registry.register(promsdk::process::ProcessCollector::new())?;
    let exporter = Arc::new(Exporter::register(&registry, args.strategy, args.ttl)?);
    let metrics = MetricsService::new(registry, ServeOpts::default())?;
    let simulation = (!args.no_simulate)
        .then(|| simulate::start(Arc::clone(&exporter), args.simulate_interval, seed()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    // On stdout, flushed, for scripts and tests that started us with port 0.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()?;
    tracing::info!(
        %addr,
        strategy = %args.strategy,
        ttl = ?(args.strategy == Strategy::Ttl).then_some(args.ttl),
        simulate = !args.no_simulate,
        "serving /metrics and POST /runs"
    );
    axum::serve(listener, server::router(exporter, metrics))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    if let Some(simulation) = simulation {
        simulation.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// A seed that differs from one start to the next.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot wait for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot wait for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("interrupted, shutting down"),
        _ = terminate => tracing::info!("terminated, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_strategy_without_ttl_uses_the_default() {
        let args = Args::try_parse_checked(["x", "--strategy", "ttl"]).unwrap();
        assert_eq!(args.ttl, Duration::from_secs(300));
        let args = Args::try_parse_checked(["x", "--strategy", "ttl", "--ttl", "30s"]).unwrap();
        assert_eq!(args.ttl, Duration::from_secs(30));
    }

    #[test]
    fn ttl_with_another_strategy_is_a_conflict() {
        for argv in [
            &["x", "--ttl", "30s"][..],
            &["x", "--ttl=5m", "--strategy", "delete"],
        ] {
            let err = Args::try_parse_checked(argv).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{argv:?}");
        }
    }
}
