//! `promsdk-harness`: the Prometheus-side tools of promsdk.
//!
//! `promsdk-harness run --config FILE [--listen ADDR]` scrapes the jobs of a
//! prometheus.yml subset (targets from static_configs, file_sd_configs and
//! http_sd_configs) and serves `/api/v1/{query,query_range,series,labels,targets}`,
//! `/api/v1/label/NAME/values`, its own `/metrics` and a web page (`/`: targets and a
//! query graph; `/demo`: series lifetimes) until SIGINT or SIGTERM; SIGHUP
//! or `POST /-/reload` re-reads the configuration.
//!
//! `promsdk-harness demo [--exporter PATH] [--json FILE|-] [--listen ADDR] [--ttl D]
//! [--tolerance D] [--linger D]` runs the end-to-end stale-series demo
//! ([`promsdk_harness::demo`]): four pipeline-step exporters discovered through
//! file_sd, a live timeline, then a verdict table; exit status 0 when every row
//! passed, 1 when one failed, 2 when the demo could not be carried out.
//!
//! `promsdk-harness parse [--format text|openmetrics] FILE|-` reads an exposition and
//! prints one JSON object per sample (`name`, `labels`, `value` as a number or `"NaN"`,
//! `"+Inf"`, `"-Inf"`, `timestamp_ms` or null, `family`, `type`). Without `--format`
//! the input is OpenMetrics when its last line is `# EOF`, text otherwise. Invalid
//! input exits with status 1 and `LINE:COLUMN: message` on stderr.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use clap::{Parser as _, Subcommand, ValueEnum};
use promsdk::parser::{detect_format, Entry, ParsedSample, Parser};
use promsdk::Format;
use promsdk_harness::config::Config;
use promsdk_harness::query::EngineOpts;
use promsdk_harness::{Harness, HarnessOpts};

/// mimalloc rather than the system allocator: a discovery update allocates and frees
/// label sets and scrape loops by the thousand, and glibc's allocator spends a third of
/// a churn sync consolidating and unlinking chunks (see the `discovery` benchmark,
/// which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(clap::Parser)]
#[command(
    name = "promsdk-harness",
    version,
    about = "Prometheus-side tools of promsdk"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scrape the jobs of a configuration and serve the query API.
    ///
    /// The configuration is a strict subset of prometheus.yml: `global`
    /// (scrape_interval, scrape_timeout) and `scrape_configs` (job_name,
    /// scrape_interval, scrape_timeout, metrics_path, scheme (http, https),
    /// tls_config (ca_file, cert_file, key_file, server_name, insecure_skip_verify),
    /// honor_labels, sample_limit, body_size_limit, static_configs, file_sd_configs,
    /// http_sd_configs). SIGHUP or POST /-/reload re-reads the file; an invalid file
    /// keeps the running configuration. Logs go to stderr (RUST_LOG sets the level,
    /// default info).
    Run {
        /// The configuration file.
        #[arg(long)]
        config: std::path::PathBuf,
        /// The address serving the API and /metrics.
        #[arg(long, default_value = "127.0.0.1:9091")]
        listen: std::net::SocketAddr,
        /// How much data to keep in memory (Prometheus duration syntax).
        #[arg(long, default_value = "1h", value_parser = parse_retention)]
        retention: std::time::Duration,
        /// The most samples a single query may load into memory (Prometheus's flag).
        #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
        query_max_samples: usize,
    },
    /// Run the end-to-end stale-series demo and judge each strategy.
    ///
    /// Starts pipeline-step-exporter once per strategy (collector, delete, ttl,
    /// naive) on free loopback ports, discovers them through a file_sd file, posts the
    /// same pipeline runs (whose steps change) to all of them, scrapes every second
    /// (discovery updates every second too) and prints when each vanished step stopped
    /// being returned by queries; then removes the naive exporter from the file and
    /// waits for its series to go stale. Exit status 0 when every verdict row passed,
    /// 1 when one failed (they are printed on stderr), 2 when the demo could not run.
    Demo {
        /// The pipeline-step-exporter binary (default: the one beside this
        /// executable; under `cargo run` it is built when missing).
        #[arg(long)]
        exporter: Option<std::path::PathBuf>,
        /// Also write the result as JSON to this file, or "-" for stdout (the
        /// timeline then goes to stderr).
        #[arg(long)]
        json: Option<String>,
        /// Where the harness serves its API and web page (loopback; port 0: any).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// The ttl exporter's --ttl (more than the 2s between runs).
        #[arg(long, default_value = "3s", value_parser = parse_retention)]
        ttl: std::time::Duration,
        /// Slack added to every bound.
        #[arg(long, default_value = "500ms", value_parser = parse_duration)]
        tolerance: std::time::Duration,
        /// Keep serving the web page this long after the verdict (runs keep coming).
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        linger: std::time::Duration,
    },
    /// Parse an exposition and print one JSON object per sample.
    ///
    /// Without --format, input whose last line is "# EOF" is read as OpenMetrics,
    /// anything else as the text format 0.0.4. Invalid input exits with status 1 and
    /// "LINE:COLUMN: message" on stderr.
    Parse {
        /// The exposition format (default: detected from the input).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// The file to read, or "-" for standard input.
        input: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    Openmetrics,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Parse { format, input } => parse(format, &input),
        Command::Run {
            config,
            listen,
            retention,
            query_max_samples,
        } => run(&config, listen, retention, query_max_samples),
        Command::Demo {
            exporter,
            json,
            listen,
            ttl,
            tolerance,
            linger,
        } => demo(
            &promsdk_harness::demo::DemoOpts {
                exporter,
                listen,
                ttl,
                tolerance,
                linger,
            },
            json.as_deref(),
        ),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    promsdk_harness::config::parse_duration(s)
        .ok_or_else(|| format!("not a duration: {s:?} (write 30s, 500ms, 1m)"))
}

fn demo(opts: &promsdk_harness::demo::DemoOpts, json: Option<&str>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // With the JSON on stdout, the timeline goes to stderr.
    let mut out: Box<dyn Write> = if json == Some("-") {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = promsdk_harness::demo::run(opts, &mut *out) => Some(result),
            // Dropping the demo kills the exporters.
            _ = shutdown_signal() => None,
        }
    });
    let report = match result {
        None => {
            eprintln!("demo interrupted");
            return ExitCode::from(130);
        }
        Some(Err(e)) => {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
        Some(Ok(report)) => report,
    };
    if let Some(json) = json {
        let text = match serde_json::to_string_pretty(&report) {
            Ok(text) => text + "\n",
            Err(e) => {
                eprintln!("demo: cannot encode the result: {e}");
                return ExitCode::from(2);
            }
        };
        let written = if json == "-" {
            io::stdout().lock().write_all(text.as_bytes())
        } else {
            std::fs::write(json, text)
        };
        if let Err(e) = written {
            eprintln!("demo: cannot write {json}: {e}");
            return ExitCode::from(2);
        }
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        let failed: Vec<_> = report
            .verdicts
            .iter()
            .filter(|v| !v.passed)
            .cloned()
            .collect();
        eprintln!(
            "demo FAILED:\n{}",
            promsdk_harness::demo::report::table(&failed)
        );
        ExitCode::from(1)
    }
}

fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    promsdk_harness::config::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("not a positive duration: {s:?}"))
}

fn run(
    config: &std::path::Path,
    listen: std::net::SocketAddr,
    retention: std::time::Duration,
    max_samples: usize,
) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config_file = config.to_path_buf();
    let config = match Config::load(config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let opts = HarnessOpts {
            retention,
            config_file: Some(config_file),
            query: EngineOpts::default().max_samples(max_samples),
            ..HarnessOpts::default()
        };
        let harness = match Harness::start(&config, listen, opts).await {
            Ok(harness) => harness,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        };
        let reloads = tokio::spawn(reload_on_sighup(harness.reloader()));
        shutdown_signal().await;
        reloads.abort();
        tracing::info!("shutting down");
        harness.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Re-reads the configuration on each SIGHUP, as Prometheus does.
async fn reload_on_sighup(reloader: promsdk_harness::reload::Reloader) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
        return;
    };
    while hup.recv().await.is_some() {
        let reloader = reloader.clone();
        // Errors are logged by the reloader and leave the running configuration.
        let _ = tokio::task::spawn_blocking(move || reloader.reload()).await;
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

fn read_input(input: &str) -> io::Result<Vec<u8>> {
    if input == "-" {
        let mut body = Vec::new();
        io::stdin().read_to_end(&mut body)?;
        Ok(body)
    } else {
        std::fs::read(input)
    }
}

fn parse(format: Option<FormatArg>, input: &str) -> ExitCode {
    let body = match read_input(input) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("cannot read {input}: {e}");
            return ExitCode::from(2);
        }
    };
    let format = match format {
        Some(FormatArg::Text) => Format::Text,
        Some(FormatArg::Openmetrics) => Format::OpenMetrics,
        None => detect_format(&body),
    };
    let mut out = String::new();
    for entry in Parser::new(&body, format) {
        match entry {
            Ok(Entry::Sample(sample)) => {
                write_sample(&mut out, &sample);
                out.push('\n');
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    }
    // Printed only once the whole input is known to be valid.
    if let Err(e) = io::stdout().lock().write_all(out.as_bytes()) {
        eprintln!("cannot write output: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn json_number(v: f64) -> String {
    if v.is_nan() {
        "\"NaN\"".into()
    } else if v == f64::INFINITY {
        "\"+Inf\"".into()
    } else if v == f64::NEG_INFINITY {
        "\"-Inf\"".into()
    } else {
        serde_json::Value::from(v).to_string()
    }
}

fn write_sample(out: &mut String, s: &ParsedSample<'_>) {
    let labels: serde_json::Map<String, serde_json::Value> = s
        .labels
        .iter()
        .map(|(n, v)| (n.to_owned(), v.into_owned().into()))
        .collect();
    let timestamp = s
        .timestamp
        .map_or_else(|| "null".to_owned(), |t| t.as_millis().to_string());
    out.push_str(&format!(
        "{{\"name\":{},\"labels\":{},\"value\":{},\"timestamp_ms\":{},\"family\":{},\"type\":{}}}",
        json_string(s.name),
        serde_json::Value::Object(labels),
        json_number(s.value),
        timestamp,
        json_string(s.family),
        json_string(s.family_type.as_str()),
    ));
}
