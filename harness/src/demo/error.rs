//! [`DemoError`]: why the demo could not be carried out.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::query::QueryError;

use super::UP_TIMEOUT;

/// Why the demo could not be carried out (a failed verdict is not an error: it is
/// in the [`DemoReport`](super::report::DemoReport)).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// An option is out of range.
    #[error("invalid option {option}: {message}")]
    Option {
        /// The flag.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The exporter binary is not where it was looked for.
    #[error("pipeline-step-exporter not found at {}: {hint}", path.display())]
    ExporterMissing {
        /// Where it was looked for.
        path: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// The exporter binary could not be started.
    #[error("cannot start {}: {source}", bin.display())]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An exporter started but did not say where it listens.
    #[error("the {strategy} exporter did not start: {message}{}", if stderr.is_empty() { String::new() } else { format!("; its stderr:\n{stderr}") })]
    ExporterStart {
        /// Its strategy.
        strategy: &'static str,
        /// What went wrong.
        message: String,
        /// The last lines it wrote on stderr.
        stderr: String,
    },
    /// A file could not be written or read.
    #[error("{what} ({}): {source}", path.display())]
    Io {
        /// What was being done.
        what: String,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The generated configuration was refused.
    #[error("the demo's configuration was refused: {0}")]
    Config(#[from] ConfigError),
    /// The harness did not start.
    #[error("the harness did not start: {0}")]
    Harness(#[from] promsdk::Error),
    /// A query of the demo failed.
    #[error("query {query:?} failed: {source}")]
    Query {
        /// The query.
        query: String,
        /// The error.
        source: QueryError,
    },
    /// The exporters were not all scraped successfully in time.
    #[error(
        "only {up} of {want} exporters were discovered and scraped within {:?}",
        UP_TIMEOUT
    )]
    TargetsNotUp {
        /// How many were up.
        up: usize,
        /// How many were expected.
        want: usize,
    },
    /// A run could not be posted.
    #[error("posting run {run} to the {strategy} exporter at {addr} failed: {message}")]
    Post {
        /// The run's number.
        run: usize,
        /// The exporter's strategy.
        strategy: &'static str,
        /// Its address.
        addr: SocketAddr,
        /// What went wrong.
        message: String,
    },
}
