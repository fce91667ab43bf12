//! # promsdk
//!
//! A Prometheus instrumentation SDK: counters, gauges, histograms and summaries,
//! labelled vecs that can forget series (explicit removal, partial-match removal, TTL
//! expiry, a cardinality limit), on-demand [`Collector`]s, a [`Registry`] gathering
//! both, and text 0.0.4 / OpenMetrics 1.0 encoders.
//!
//! ## Map of modules
//! - [`labels`], [`desc`], [`clock`], [`family`], [`collector`]: names, descriptors,
//!   time, the gathered data model and the `Collector` trait.
//! - [`metrics`]: the live metric types.
//! - [`vec`](mod@vec), [`typed_labels`]: labelled vecs of metrics, looked up by label values or by
//!   a typed label struct (`#[derive(Labels)]`, [`TypedVec`]).
//! - [`registry`]: registering collectors with checks, gathering, prefix and
//!   constant-label views, the default registry.
//! - `testutil` (feature `test-util`): `to_f64`, `collect_and_count`, `lint`.
//! - [`parser`]: text 0.0.4 and OpenMetrics 1.0 readers (a zero-copy pull [`parser::Parser`],
//!   `LINE:COLUMN` errors) and [`parser::parse_families`].
//! - [`encoding`]: text 0.0.4 and OpenMetrics 1.0 writers ([`encode`]) and `Accept`
//!   negotiation ([`negotiate`]).
//! - `http` (feature `http`, default): the hyper `/metrics` service and standalone
//!   server.
//! - `process` (feature `process`, Linux): the process collector reading `/proc`.
//!
//! The Prometheus side (discovery, scrape loops with staleness markers, a store, the
//! query API and `promsdk-harness`) is the separate `promsdk-harness` crate, so an
//! instrumented service never compiles a scraper.
#![deny(missing_docs)]

// The derives name `::promsdk`; this lets the crate's own tests use them.
extern crate self as promsdk;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod clock;
pub mod collector;
pub mod desc;
pub mod encoding;
pub mod error;
pub mod family;
#[cfg(feature = "http")]
pub mod http;
pub mod labels;
pub mod metrics;
pub mod parser;
mod prefetch;
#[cfg(all(feature = "process", target_os = "linux"))]
pub mod process;
pub mod registry;
mod sync;
#[cfg(feature = "test-util")]
pub mod testutil;
pub mod typed_labels;
pub mod vec;

pub use clock::{Clock, ManualClock, SystemClock};
pub use collector::{Collected, Collector, FamilyWriter};
pub use desc::{Desc, Opts};
pub use encoding::{encode, negotiate, Format};
pub use error::{Error, ExistingCollector, Result};
pub use family::{
    Bucket, Exemplar, HistogramValue, MetricFamily, MetricType, Sample, SummaryValue, Value,
    MAX_EXEMPLAR_LABEL_CHARS,
};
pub use labels::{LabelPair, LabelSet};
pub use metrics::counter::Counter;
pub use metrics::gauge::Gauge;
pub use metrics::histogram::{
    exponential_buckets, linear_buckets, Histogram, HistogramConfig, DEFAULT_BUCKETS,
};
pub use metrics::info::Info;
pub use metrics::sharded_counter::ShardedCounter;
pub use metrics::stateset::{StateSet, StateSetConfig};
pub use metrics::summary::{Summary, SummaryConfig};
pub use metrics::timer::{Observe, Timer};
pub use metrics::{Lifecycle, Metric, NewChild};
/// Derives [`LabelValue`](trait@LabelValue) for an enum of unit variants (see [`typed_labels`]).
pub use promsdk_derive::LabelValue;
/// Derives [`Labels`](trait@Labels) for a struct whose fields are labels (see [`typed_labels`]).
pub use promsdk_derive::Labels;
pub use registry::{
    default_registry, gather_all, gather_all_into, CollectorId, Gathered, MetricCollector,
    Registry, RegistryView,
};
pub use typed_labels::{LabelValue, Labels};
pub use vec::{
    CounterVec, GaugeVec, HistogramVec, InfoVec, MetricVec, StateSetVec, SummaryVec, TypedVec,
    VecBuilder,
};
