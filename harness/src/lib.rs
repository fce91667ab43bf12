//! # promsdk-harness
//!
//! The Prometheus side of promsdk, modelled on Prometheus's own packages: scrape loops
//! that write Prometheus 2.42's staleness markers, an in-memory store, PromQL
//! and Prometheus's HTTP API, driven by a `prometheus.yml` subset. It proves end to end
//! that a series an exporter stops exposing disappears from queries as it does in
//! Prometheus.
//!
//! ## Map of modules
//! Layers only point forward: configuration → scrape manager → pool → loop → store →
//! query → API.
//! - [`config`]: the strict `prometheus.yml` subset.
//! - [`discovery`]: target groups from providers (static, file_sd, http_sd, your own)
//!   through a throttled manager.
//! - [`relabel`]: Prometheus's relabeling rules (`relabel_configs`,
//!   `metric_relabel_configs`) and [`relabel::process`].
//! - [`scrape`]: targets, the scrape manager and pools (diffing targets by their full
//!   label set), scrape loops with staleness markers, the store and selector queries.
//! - [`query`]: the PromQL engine (parsed by `promql-parser`, evaluated with
//!   Prometheus 2.42's semantics).
//! - [`tls`]: `tls_config` for https targets and endpoints, shared by scraping and
//!   discovery.
//! - [`api`]: Prometheus's HTTP API shapes over the store.
//! - [`web`]: the web page at `/` (targets, query graph) and `/demo` (series lifetimes).
//! - [`Harness`]: the wiring behind `promsdk-harness run`.
//! - [`demo`]: `promsdk-harness demo`, the end-to-end stale-series demo.
#![deny(missing_docs)]

pub mod api;
pub mod config;
pub mod demo;
pub mod discovery;
mod harness;
pub mod query;
mod query_api;
pub mod relabel;
pub mod reload;
pub mod scrape;
mod time;
pub mod tls;
pub mod web;

pub use harness::{Harness, HarnessOpts};
