//! promsdk side by side with `prometheus`, `prometheus-client`, `metrics` (with
//! `metrics-exporter-prometheus`'s recorder), `measured` and `fastmetrics`: one criterion
//! group per operation, one function per library (and per variant, named
//! `LIBRARY/VARIANT`), so every result is a ratio taken in the same run.
//!
//! Each library is used the cheapest way that is still correct for it:
//! - handles are looked up once and kept, except in the `labeled_*` groups, which look
//!   the child up by its label values on every iteration;
//! - the `metrics` recorder is built locally (never installed globally) and its
//!   `Recorder` methods are called directly, which is what the `counter!` family of
//!   macros does after finding the recorder;
//! - `metrics` defers histogram bucketing to `PrometheusHandle::run_upkeep`, so its
//!   `histogram_observe` time includes the upkeep that drains the observations it made.
//!
//! Run with `scripts/bench.sh` (prints a table of medians) or
//! `cargo bench -p promsdk-bench`.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

mod churn;
mod contended;
mod encode;
mod errors;
mod fixed_cardinality;
mod high_cardinality;
mod labeled;
mod parse;
mod peers;
mod threads;
mod typed;
mod updates;

/// A group with short measurement times, so the whole run takes a few minutes.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    updates::counter_inc(&mut c);
    updates::gauge_set(&mut c);
    updates::histogram_observe(&mut c);
    labeled::labeled_inc(&mut c, "labeled_inc_2", 1);
    labeled::labeled_inc(&mut c, "labeled_inc_1000", 1000);
    typed::labeled_typed(&mut c);
    contended::contended_inc_2threads(&mut c);
    contended::contended_observe_2threads(&mut c);
    encode::encode_text_10k(&mut c);
    high_cardinality::mt_high_cardinality(&mut c);
    high_cardinality::high_cardinality_split(&mut c);
    fixed_cardinality::mt_fixed_cardinality(&mut c);
    churn::churn(&mut c);
    parse::parse_text(&mut c);
    c.final_summary();
}
