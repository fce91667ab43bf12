//! Discovery at fleet scale: an http_sd answer of 20,000 targets in 200 groups.
//!
//! - `discovery/full_sync`: from the provider's answer (the JSON body) to every pool in
//!   sync: the body decoded into groups by the http_sd provider's decoder (which, on
//!   later answers, shares what did not change), then the scrape
//!   manager syncing a fresh pool: every target relabeled (labelmap, replace, drop)
//!   and 20,000 scrape loops started. The discovery
//!   manager's throttle (5 s by default) is a deliberate wait and is not counted; its
//!   merge is one map insert per group.
//! - `discovery/churn_10pct`: the same pool, synced to an answer where 10% of the
//!   targets changed, every tenth one, so every group changed: only those targets stop
//!   and start. `discovery/churn_10pct_groups`: 10% of the groups changed whole.
//! - Memory per idle target is printed once (allocated bytes after a full sync, over
//!   the target count, the provider's decoder included), counted by this binary's
//!   allocator, which is the harness binary's: mimalloc.
//!
//! Targets are `127.0.x.y` loopback addresses, and the scraper is a fake: nothing is
//! sent anywhere. Scrape loops wait for their first scrape (interval 1 h), as idle
//! targets do. Run: `cargo bench -p promsdk-bench --bench discovery`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use promsdk_harness::config::Config;
use promsdk_harness::discovery::json_decoder::JsonDecoder;
use promsdk_harness::discovery::TargetSets;
use promsdk_harness::scrape::{FakeScraper, MemoryStore, ScrapeManager};

/// Counts the bytes currently allocated, for the memory-per-target figure, over
/// mimalloc: the allocator of the `promsdk-harness` binary.
struct Counting;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to mimalloc unchanged; only a counter is
// updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is passed on.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TARGETS: usize = 20_000;
const GROUPS: usize = 200;
const JOB: &str = "fleet";
const URL: &str = "http://127.0.0.1:8080/sd";

/// Target `i`'s address, `generation` shifting the port of changed targets.
fn address(i: usize, generation: usize) -> String {
    format!(
        "127.0.{}.{}:{}",
        10 + i / 250,
        1 + i % 250,
        9100 + generation
    )
}

/// Which 10% of the targets churn.
#[derive(Clone, Copy)]
enum Churn {
    /// Every tenth target, so every group changes (the worst case for a pool).
    Spread,
    /// Every target of every tenth group (a deployment replacing some services).
    Groups,
}

/// The http_sd answer: `GROUPS` groups with a zone and rack label each; the targets
/// `churn` picks are at `generation`'s port.
fn answer(generation: usize, churn: Churn) -> String {
    let per = TARGETS / GROUPS;
    let groups: Vec<String> = (0..GROUPS)
        .map(|g| {
            let targets: Vec<String> = (g * per..(g + 1) * per)
                .map(|i| {
                    let moved = match churn {
                        Churn::Spread => i % 10 == 0,
                        Churn::Groups => g % 10 == 0,
                    };
                    format!("\"{}\"", address(i, if moved { generation } else { 0 }))
                })
                .collect();
            format!(
                r#"{{"targets": [{}], "labels": {{"__meta_zone": "z{}", "rack": "r{g}"}}}}"#,
                targets.join(","),
                g % 4
            )
        })
        .collect();
    format!("[{}]", groups.join(","))
}

/// What the http_sd provider makes of a body: its decoder, which remembers the
/// previous answer, then one update for the job.
fn decode(decoder: &mut JsonDecoder, body: &str) -> TargetSets {
    let groups = decoder
        .decode(body.as_bytes(), |g| g.with_label("__meta_url", URL))
        .expect("valid answer");
    TargetSets::from([(JOB.to_owned(), groups)])
}

/// The job: an hour between scrapes (the loops stay idle), and relabeling that
/// touches every target: the zone copied out of its meta label, a host label cut from
/// the address, and a drop rule that matches no zone.
const CONFIG: &str = "scrape_configs:
  - job_name: fleet
    scrape_interval: 1h
    scrape_timeout: 10s
    relabel_configs:
      - regex: __meta_(zone)
        action: labelmap
      - source_labels: [__address__]
        regex: '127[.]0[.]([0-9]+)[.]([0-9]+):.*'
        target_label: host
        replacement: 'h-$1-$2'
      - source_labels: [zone]
        regex: z9
        action: drop
";

fn manager() -> ScrapeManager {
    let store = MemoryStore::new(Duration::from_secs(3600));
    let m = ScrapeManager::new(Arc::new(FakeScraper::default()), Arc::new(store));
    m.apply_config(
        Config::parse(CONFIG)
            .expect("valid config")
            .scrape_configs(),
    );
    m
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _enter = runtime.enter();
    let first = answer(0, Churn::Spread);
    println!(
        "http_sd answer: {} bytes, {TARGETS} targets in {GROUPS} groups",
        first.len()
    );

    let before = ALLOCATED.load(Ordering::Relaxed);
    let m = manager();
    // The provider's decoder stays alive: what it remembers counts too.
    let mut decoder = JsonDecoder::new(URL);
    m.sync_groups(decode(&mut decoder, &first));
    assert_eq!(m.targets().len(), TARGETS);
    let per_target = (ALLOCATED.load(Ordering::Relaxed) - before) as f64 / TARGETS as f64;
    println!(
        "memory per idle target: {per_target:.0} bytes ({:.2} KiB)",
        per_target / 1024.0
    );
    runtime.block_on(m.stop(false));
    drop(decoder);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("discovery");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("full_sync", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let m = manager();
                let mut decoder = JsonDecoder::new(URL);
                let start = Instant::now();
                m.sync_groups(decode(&mut decoder, &first));
                total += start.elapsed();
                runtime.block_on(m.stop(false));
            }
            total
        })
    });
    for (name, churn) in [
        ("churn_10pct", Churn::Spread),
        ("churn_10pct_groups", Churn::Groups),
    ] {
        group.bench_function(name, |b| {
            let m = manager();
            let mut decoder = JsonDecoder::new(URL);
            m.sync_groups(decode(&mut decoder, &first));
            let mut generation = 0;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    generation += 1;
                    let body = answer(generation, churn);
                    let start = Instant::now();
                    m.sync_groups(decode(&mut decoder, &body));
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
    c.final_summary();
}
