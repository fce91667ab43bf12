//! Serving `/metrics` over HTTP with hyper 1.x (feature `http`, on by default).
//!
//! - [`MetricsService`] answers scrapes of a [`Registry`](crate::Registry) (or several
//!   merged). It implements both hyper's and tower's `Service`, so it mounts in any
//!   hyper server or axum router (`Router::new().route_service("/metrics", service)`).
//! - [`serve`] is the one-call standalone server, returning a [`Server`] handle for
//!   graceful shutdown.
//! - [`ServeOpts`] holds the options, as client_golang's `HandlerOpts`: the
//!   [`ErrorPolicy`], the in-flight limit and the timeout (both answered with 503),
//!   coalescing of concurrent scrapes, gzip, the handler's own metrics, and the
//!   standalone server's connection limits.
//!
//! Behaviour follows client_golang's promhttp: the format is negotiated from `Accept`
//! ([`negotiate`](crate::negotiate)), `Content-Type` names it, the body is gzipped when
//! `Accept-Encoding` allows, `HEAD` answers headers only, other methods get 405, and
//! `name[]` query parameters select families.
//!
//! ```no_run
//! use promsdk::http::{serve, ServeOpts};
//! use promsdk::{default_registry, Counter, Opts};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), promsdk::Error> {
//!     let jobs = Counter::default();
//!     default_registry().register_metric(Opts::new("jobs_total", "Jobs done."), jobs.clone())?;
//!     let server = serve("127.0.0.1:9100".parse().unwrap(), default_registry().clone(), ServeOpts::default()).await?;
//!     server.shutdown_on(async { let _ = tokio::signal::ctrl_c().await; }).await;
//!     Ok(())
//! }
//! ```

mod compress;
mod gather;
mod instrument;
mod opts;
mod query;
mod server;
mod service;

pub use opts::{ErrorPolicy, ServeOpts};
pub use server::{serve, Server};
pub use service::{Body, MetricsService, ResponseFuture};
