//! Vec lifecycle: lookups, exact removal under hash collisions, partial-match removal,
//! currying, TTL expiry with held handles, the series limit, and a concurrent stress test
//! with exact totals.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use promsdk::{
    Collected, Collector, Counter, CounterVec, Error, GaugeVec, Lifecycle, ManualClock, Metric,
    MetricType, MetricVec, NewChild, Opts, ShardedCounter, Value,
};

/// A hasher that sends every key to the same bucket.
#[derive(Clone, Default)]
struct Colliding;

struct ZeroHasher;

impl Hasher for ZeroHasher {
    fn finish(&self) -> u64 {
        42
    }
    fn write(&mut self, _: &[u8]) {}
}

impl BuildHasher for Colliding {
    type Hasher = ZeroHasher;
    fn build_hasher(&self) -> ZeroHasher {
        ZeroHasher
    }
}

fn colliding_vec() -> MetricVec<Counter, Colliding> {
    CounterVec::builder(Opts::new("c_total", "help"), &["a", "b"])
        .hasher(Colliding)
        .build()
        .unwrap()
}

/// The exported `(labels, value)` pairs of a counter or gauge vec, in gather order.
fn exported(c: &impl Collector) -> Vec<(Vec<String>, f64)> {
    let mut out = Collected::default();
    c.collect(&mut out);
    out.families()[0]
        .samples
        .iter()
        .map(|s| {
            let labels = s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let v = match &s.value {
                Value::Counter { total, .. } => *total,
                Value::Gauge(v) => *v,
                other => panic!("unexpected {other:?}"),
            };
            (labels, v)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().map(|(n, v)| format!("{n}={v}")).collect()
}

#[test]
fn lookups_by_values_and_by_pairs_reach_the_same_child() {
    let v = CounterVec::new(Opts::new("req_total", "h"), &["method", "code"]).unwrap();
    v.with_label_values(&["GET", "200"]).inc();
    v.with_labels(&[("code", "200"), ("method", "GET")])
        .unwrap()
        .inc();
    assert_eq!(
        exported(&v),
        vec![(labels(&[("code", "200"), ("method", "GET")]), 2.0)]
    );

    let err = v.try_with_label_values(&["GET"]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelCount {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = v
        .with_labels(&[("method", "GET"), ("nope", "x")])
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let err = v.with_labels(&[("method", "GET")]).unwrap_err();
    assert!(matches!(err, Error::MissingLabel { .. }), "{err}");
}

#[test]
fn infallible_lookup_with_wrong_count_is_detached_and_reported() {
    let v = CounterVec::new(Opts::new("req_total", "h"), &["method"]).unwrap();
    v.with_label_values(&["a", "b"]).inc();
    assert!(v.is_empty());
    let mut out = Collected::default();
    v.collect(&mut out);
    assert!(out.families()[0].samples.is_empty());
    assert_eq!(out.errors().len(), 1);
    assert!(out.errors()[0].to_string().contains("\"req\""));
}

#[test]
fn colliding_hashes_never_alias_label_sets() {
    let v = colliding_vec();
    // "ab"+"c" and "a"+"bc" concatenate to the same text and here hash the same too.
    v.with_label_values(&["ab", "c"]).inc();
    v.with_label_values(&["a", "bc"]).inc_by(2);
    v.with_label_values(&["a", "b"]).inc_by(3);
    assert_eq!(v.len(), 3);
    assert_eq!(v.with_label_values(&["a", "bc"]).get(), 2.0);

    assert!(v.remove(&["ab", "c"]));
    assert!(!v.remove(&["ab", "c"]));
    assert_eq!(
        exported(&v),
        vec![
            (labels(&[("a", "a"), ("b", "b")]), 3.0),
            (labels(&[("a", "a"), ("b", "bc")]), 2.0),
        ]
    );
}

#[test]
fn partial_match_removal_is_exact_under_collisions() {
    let v = colliding_vec();
    for a in ["x", "y"] {
        for b in ["1", "2", "3"] {
            v.with_label_values(&[a, b]).inc();
        }
    }
    assert_eq!(v.remove_matching(&[("a", "x")]).unwrap(), 3);
    assert_eq!(v.remove_matching(&[("a", "x")]).unwrap(), 0);
    assert_eq!(v.remove_matching(&[("a", "y"), ("b", "2")]).unwrap(), 1);
    let left: Vec<_> = exported(&v).into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        left,
        vec![
            labels(&[("a", "y"), ("b", "1")]),
            labels(&[("a", "y"), ("b", "3")])
        ]
    );
    assert!(matches!(
        v.remove_matching(&[("zzz", "1")]),
        Err(Error::UnknownLabel { .. })
    ));
}

#[test]
fn clear_and_retain() {
    let v = GaugeVec::new(Opts::new("g", "h"), &["k"]).unwrap();
    for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
        v.with_label_values(&[k]).set(i as f64);
    }
    assert_eq!(v.retain(|_, g| g.get() >= 2.0), 2);
    assert_eq!(exported(&v).len(), 2);
    v.clear();
    assert!(v.is_empty());
    assert!(exported(&v).is_empty());
}

#[test]
fn curried_views_fix_labels_and_share_children() {
    let v = CounterVec::new(Opts::new("c_total", "h"), &["svc", "code"]).unwrap();
    let api = v.curry_with(&[("svc", "api")]).unwrap();
    api.with_label_values(&["200"]).inc();
    api.with_labels(&[("code", "500")]).unwrap().inc();
    v.with_label_values(&["web", "200"]).inc();
    assert_eq!(v.with_label_values(&["api", "200"]).get(), 1.0);
    assert!(api.try_with_label_values(&["api", "200"]).is_err());
    assert!(api.curry_with(&[("svc", "x")]).is_err());
    assert_eq!(api.remove_matching(&[("code", "200")]).unwrap(), 1);
    api.clear();
    assert_eq!(
        exported(&v),
        vec![(labels(&[("code", "200"), ("svc", "web")]), 1.0)]
    );
    assert!(!api.remove(&["500"]));
}

#[test]
fn gathered_series_are_sorted_by_labels() {
    let v = GaugeVec::new(Opts::new("g", "h"), &["k"]).unwrap();
    for k in ["m", "b", "z", "a"] {
        v.with_label_values(&[k]).set(1.0);
    }
    let keys: Vec<_> = exported(&v)
        .into_iter()
        .map(|(l, _)| l[0].clone())
        .collect();
    assert_eq!(keys, ["k=a", "k=b", "k=m", "k=z"]);
}

/// Gathers between inserts and removals report exactly the live series, in label order:
/// each gather sorts only the children new since the last one into the list it keeps.
/// The labels are declared out of name order, with a constant label between them; some
/// values share long prefixes, and some hold a zero byte (which the gather's sort keys
/// cannot hold: it then compares the children's keys).
#[test]
fn gathers_between_inserts_and_removals_report_the_live_series_in_order() {
    let v = CounterVec::new(Opts::new("c", "h").const_label("m", "1"), &["z", "a"]).unwrap();
    let mut live: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    for round in 0..40 {
        let value = |n: usize| match n % 4 {
            0 => format!("v{}", n / 4),
            1 => format!("v{}\0", n / 4),
            _ => format!("v-shared-long-prefix-{}", n / 4),
        };
        for _ in 0..next() % 40 {
            let (z, a) = ((next() % 13).to_string(), value(next() % 36));
            v.with_label_values(&[&z, &a]).inc();
            *live.entry((a, z)).or_default() += 1.0;
        }
        for _ in 0..next() % 30 {
            let (z, a) = ((next() % 13).to_string(), value(next() % 36));
            assert_eq!(v.remove(&[&z, &a]), live.remove(&(a, z)).is_some());
        }
        if round % 3 == 2 {
            continue; // some rounds change twice between gathers
        }
        let expected: Vec<_> = live
            .iter()
            .map(|((a, z), n)| (labels(&[("a", a), ("m", "1"), ("z", z)]), *n))
            .collect();
        assert_eq!(exported(&v), expected, "round {round}");
    }
}

/// Removed children are freed even if nobody gathers again: the list a gather keeps
/// holds them only until removals outnumber the live children (plus some slack).
#[test]
fn removed_children_are_freed_without_a_gather() {
    let v = CounterVec::new(Opts::new("c", "h"), &["k"]).unwrap();
    let held = v.with_label_values(&["x"]);
    assert_eq!(exported(&v).len(), 1, "the gather's list now holds x");
    assert!(v.remove(&["x"]));
    for i in 0..3000 {
        let k = i.to_string();
        v.with_label_values(&[&k]).inc();
        assert!(v.remove(&[&k]));
    }
    assert_eq!(held.handle_count(), 1, "only the held handle is left");
}

/// A gathered sample keeps its label set (which lives in the child's allocation) after
/// the child is removed, its handles dropped and the vec itself dropped: the set is freed
/// with the last sample, and reads the same until then.
#[test]
fn gathered_samples_outlive_their_children_and_vec() {
    let v = CounterVec::new(Opts::new("c_total", "h"), &["path", "code"]).unwrap();
    let values = [["/a", "200"], ["/b\"q\"\\", "500"], ["/\n", "404"]];
    for vals in &values {
        v.with_label_values(vals).inc();
    }
    let mut out = Collected::default();
    v.collect(&mut out);
    let families = out.families().to_vec();
    let mut before = Vec::new();
    promsdk::encode(&families, promsdk::Format::Text, &mut before);
    for vals in &values {
        assert!(v.remove(vals));
    }
    drop(out);
    drop(v);
    let mut after = Vec::new();
    promsdk::encode(&families, promsdk::Format::Text, &mut after);
    assert_eq!(after, before);
    let samples = &families[0].samples;
    assert_eq!(samples.len(), 3);
    let paths: Vec<&str> = samples
        .iter()
        .filter_map(|s| s.labels.get("path"))
        .collect();
    // In label order: `code` first.
    assert_eq!(paths, ["/a", "/\n", "/b\"q\"\\"]);
    assert_eq!(samples[1].labels.pairs()[0].value.as_ref(), "404");
}

/// A vec of `M` labelled `k` whose children expire after `ttl` idle, timed by `clock`.
fn vec_with_ttl<M: Metric<Config = ()>>(clock: &ManualClock, ttl: Duration) -> MetricVec<M> {
    MetricVec::builder(Opts::new("c_total", "h"), &["k"])
        .ttl(ttl)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

fn ttl_vec(clock: &ManualClock) -> CounterVec {
    vec_with_ttl(clock, Duration::from_secs(60))
}

#[test]
fn ttl_stops_exporting_and_frees_idle_children_without_a_scrape() {
    let clock = ManualClock::new();
    let v = ttl_vec(&clock);
    v.with_label_values(&["old"]).inc();
    clock.advance(Duration::from_secs(30));
    v.with_label_values(&["new"]).inc();
    clock.advance(Duration::from_secs(31));
    assert_eq!(v.expire_idle(), 0, "the first look folds the updates");
    clock.advance(Duration::from_secs(61));
    // Nobody gathered; the sweep alone frees both idle children.
    assert_eq!(v.expire_idle(), 2);
    assert!(v.is_empty());
    // A new lookup starts a fresh series.
    v.with_label_values(&["old"]).inc();
    assert_eq!(exported(&v), vec![(labels(&[("k", "old")]), 1.0)]);
}

/// A counter that, when a sweep first reads its progress, lets the handle left in
/// [`RACER`] increment it and go, as another thread can between two steps of a sweep:
/// after the sweep read the progress and before it counts the handles.
#[derive(Clone)]
struct RacingCounter(Counter);

/// The handle [`RacingCounter`] updates through and drops at the next progress read.
static RACER: std::sync::Mutex<Option<RacingCounter>> = std::sync::Mutex::new(None);

impl Metric for RacingCounter {
    type Config = ();
    const TYPE: MetricType = MetricType::Counter;

    fn check_config(metric: &str, config: &()) -> promsdk::Result<()> {
        Counter::check_config(metric, config)
    }

    fn from_config(config: &(), child: NewChild<'_>) -> Self {
        RacingCounter(Counter::from_config(config, child))
    }

    fn value(&self) -> Value {
        self.0.value()
    }

    fn lifecycle(&self) -> &Lifecycle {
        self.0.lifecycle()
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn untouched_progress(&self) -> u64 {
        let seen = self.0.untouched_progress();
        let racer = RACER.lock().unwrap().take();
        if let Some(racer) = racer {
            racer.0.inc();
        }
        seen
    }
}

/// A handle that updates its idle child and is dropped while a sweep looks at the child
/// (after the sweep read the progress, before it counted the handles) keeps its update:
/// the sweep, finding no handle left, looks again before freeing the child.
#[test]
fn an_update_through_a_handle_dropped_during_a_sweep_is_kept() {
    let clock = ManualClock::new();
    let v: MetricVec<RacingCounter> = vec_with_ttl(&clock, Duration::from_secs(1));
    let handle = v.with_label_values(&["a"]);
    handle.0.inc();
    clock.advance(Duration::from_secs(5));
    assert_eq!(v.expire_idle(), 0, "the first look folds the first update");
    clock.advance(Duration::from_secs(5));
    *RACER.lock().unwrap() = Some(handle);
    assert_eq!(
        v.expire_idle(),
        0,
        "the child updated during the sweep was freed"
    );
    assert!(
        RACER.lock().unwrap().is_none(),
        "the sweep read no progress"
    );
    assert_eq!(exported(&v), vec![(labels(&[("k", "a")]), 2.0)]);
}

/// The vec holds each child from its map and from one of its gather lists (the sorted
/// one once gathered, the list of new children before): a sweep frees an idle child in
/// either list that nothing else holds, and keeps one a caller still holds.
#[test]
fn ttl_frees_idle_children_whether_gathered_or_not() {
    let clock = ManualClock::new();
    let v = ttl_vec(&clock);
    v.with_label_values(&["gathered"]).inc();
    let held = v.with_label_values(&["held"]);
    held.inc();
    // The gather looks at both (and folds their updates): now in the sorted list.
    assert_eq!(exported(&v).len(), 2);
    v.with_label_values(&["new"]).inc();
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        v.expire_idle(),
        1,
        "the gathered child, idle since the gather's look"
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(v.expire_idle(), 1, "the new child, never gathered");
    assert_eq!(v.len(), 1, "the held one is kept, idle as it is");
    held.inc();
    assert_eq!(exported(&v), vec![(labels(&[("k", "held")]), 2.0)]);
    drop(held);
    clock.advance(Duration::from_secs(61));
    assert_eq!(v.expire_idle(), 1, "idle and no longer held");
    assert!(v.is_empty());
}

#[test]
fn ttl_hides_idle_series_at_gather() {
    let clock = ManualClock::new();
    let v = ttl_vec(&clock);
    v.with_label_values(&["a"]).inc();
    v.with_label_values(&["b"]).inc();
    assert_eq!(exported(&v).len(), 2);
    clock.advance(Duration::from_secs(50));
    v.with_label_values(&["b"]).inc();
    clock.advance(Duration::from_secs(50));
    // a: idle 100 s; b: updated 50 s ago.
    assert_eq!(exported(&v), vec![(labels(&[("k", "b")]), 2.0)]);
}

/// Whole increments leave no mark (the sweep sees the total move instead); adding zero,
/// which moves nothing, marks: every kind of counter update keeps its series alive.
#[test]
fn every_kind_of_counter_update_keeps_its_series() {
    let clock = ManualClock::new();
    let v = ttl_vec(&clock);
    type Update = fn(&Counter);
    let updates: [(&str, Update); 4] = [
        ("inc", |c| c.inc()),
        ("inc_by_0", |c| c.inc_by(0)),
        ("add", |c| c.add(0.5).unwrap()),
        ("idle", |_| {}),
    ];
    for (k, _) in &updates {
        v.with_label_values(&[k]).inc();
    }
    assert_eq!(exported(&v).len(), 4);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(50));
        for (k, update) in &updates {
            update(&v.with_label_values(&[k]));
        }
    }
    let kept: Vec<Vec<String>> = exported(&v).into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        kept,
        [
            labels(&[("k", "add")]),
            labels(&[("k", "inc")]),
            labels(&[("k", "inc_by_0")])
        ]
    );
    assert_eq!(v.expire_idle(), 1, "only the idle child is freed");
}

/// A `ShardedCounter` child counts in rows per thread, without an update mark: its
/// increments, there and not in its shared total, still keep its series alive.
#[test]
fn sharded_counter_children_are_kept_by_increments_in_their_rows() {
    let clock = ManualClock::new();
    let v: MetricVec<ShardedCounter> = vec_with_ttl(&clock, Duration::from_secs(60));
    // From a thread of its own as well, which takes a row of its own.
    thread::scope(|s| {
        s.spawn(|| v.with_label_values(&["busy"]).inc());
    });
    v.with_label_values(&["idle"]).inc();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(50));
        v.with_label_values(&["busy"]).inc();
        v.expire_idle();
    }
    assert_eq!(exported(&v), vec![(labels(&[("k", "busy")]), 4.0)]);
}

#[test]
fn a_held_handle_restores_its_series_with_the_full_value() {
    let clock = ManualClock::new();
    let v = ttl_vec(&clock);
    let held = v.with_label_values(&["k1"]);
    held.inc_by(5);
    assert_eq!(exported(&v).len(), 1);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(120));
        assert_eq!(v.expire_idle(), 0, "a held child is never freed");
    }
    assert!(exported(&v).is_empty(), "idle: not exported");
    assert_eq!(v.len(), 1);
    held.inc();
    assert_eq!(exported(&v), vec![(labels(&[("k", "k1")]), 6.0)]);
    // A lookup finds the same child.
    assert_eq!(v.with_label_values(&["k1"]).get(), 6.0);
    // Once the handle is dropped and the child idles, it is freed.
    drop(held);
    clock.advance(Duration::from_secs(120));
    assert_eq!(v.expire_idle(), 1);
    assert!(v.is_empty());
}

/// Threads creating series at once (in different shards of the map) never take a vec
/// past `max_series`: exactly the limit is created, every other label set is rejected
/// once and counted into the overflow series, and no increment is lost.
#[test]
fn concurrent_creation_stops_exactly_at_the_series_limit() {
    const THREADS: usize = 4;
    const EACH: usize = 250;
    let v = CounterVec::builder(Opts::new("c_total", "h"), &["k"])
        .max_series(300)
        .build()
        .unwrap();
    thread::scope(|s| {
        for t in 0..THREADS {
            let v = &v;
            s.spawn(move || {
                for i in 0..EACH {
                    v.update(&[&format!("{t}-{i}")], |c| c.inc());
                }
            });
        }
    });
    assert_eq!(v.len(), 300);
    assert_eq!(v.rejected_label_sets(), (THREADS * EACH - 300) as u64);
    let series = exported(&v);
    assert_eq!(series.len(), 301, "the children and the overflow series");
    let overflow = labels(&[("k", "__overflow__")]);
    let (overflowed, created): (Vec<_>, Vec<_>) =
        series.into_iter().partition(|(l, _)| *l == overflow);
    assert!(created.iter().all(|(_, n)| *n == 1.0));
    assert_eq!(overflowed[0].1, (THREADS * EACH - 300) as f64);
}

#[test]
fn series_limit_is_explicit() {
    let v = CounterVec::builder(Opts::new("c_total", "h"), &["k"])
        .max_series(2)
        .build()
        .unwrap();
    v.with_label_values(&["a"]).inc();
    v.with_label_values(&["b"]).inc();
    let err = v.try_with_label_values(&["c"]).unwrap_err();
    assert!(matches!(err, Error::SeriesLimit { limit: 2, .. }), "{err}");
    assert!(err.to_string().contains("\"c\""));
    v.with_label_values(&["d"]).inc_by(7);
    v.with_label_values(&["e"]).inc();
    // Existing children are still reachable.
    v.with_label_values(&["a"]).inc();
    assert_eq!(v.len(), 2);
    assert_eq!(v.rejected_label_sets(), 3);

    let mut out = Collected::default();
    v.collect(&mut out);
    let fams = out.families();
    let main: Vec<_> = fams[0]
        .samples
        .iter()
        .map(|s| (s.labels.get("k").unwrap().to_owned(), s.value.clone()))
        .collect();
    assert_eq!(
        main,
        vec![
            ("a".to_owned(), Value::counter(2.0)),
            ("b".to_owned(), Value::counter(1.0)),
            ("__overflow__".to_owned(), Value::counter(8.0)),
        ]
    );
    assert_eq!(&*fams[1].name, "promsdk_vec_rejected_label_sets");
    assert_eq!(fams[1].samples[0].labels.get("metric"), Some("c"));
    assert_eq!(fams[1].samples[0].value, Value::counter(3.0));
    // Removing makes room again.
    assert!(v.remove(&["a"]));
    assert!(v.try_with_label_values(&["c"]).is_ok());
}

/// Many threads update through cached handles while others gather, create and remove
/// churn series, and expire with a clock racing ahead. Afterwards every update is
/// accounted for, and no gather ever saw a counter go backwards.
#[test]
fn concurrent_updates_gathers_removals_and_expiry_lose_nothing() {
    const SERIES: usize = 8;
    const THREADS: usize = 4;
    const INCS: u64 = 200_000;
    let clock = ManualClock::new();
    let v = CounterVec::builder(Opts::new("c_total", "h"), &["k"])
        .ttl(Duration::from_millis(1))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..SERIES).map(|i| format!("s{i}")).collect();
    let handles: Vec<Vec<Counter>> = (0..THREADS)
        .map(|_| keys.iter().map(|k| v.with_label_values(&[k])).collect())
        .collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        let mut updaters = Vec::new();
        for (t, mine) in handles.iter().enumerate() {
            updaters.push(s.spawn(move || {
                for i in 0..INCS {
                    mine[(i as usize + t) % SERIES].inc();
                }
            }));
        }
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                clock.advance(Duration::from_millis(5));
                v.expire_idle();
            }
        });
        s.spawn(|| {
            let mut last = std::collections::HashMap::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for (l, value) in exported(&v) {
                    if l[0].starts_with("k=s") {
                        let prev = last.insert(l.clone(), value).unwrap_or(0.0);
                        assert!(value >= prev, "{l:?} went back from {prev} to {value}");
                    }
                }
            }
        });
        s.spawn(|| {
            let mut i = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let k = format!("tmp{}", i % 16);
                v.update(&[&k], |c| c.inc());
                if i % 3 == 0 {
                    v.remove(&[&k]);
                }
                i += 1;
            }
        });
        for u in updaters {
            u.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let per_series = (THREADS as u64 * INCS / SERIES as u64) as f64;
    for k in &keys {
        // Held handles keep their children: a lookup finds the same child, full value.
        assert_eq!(v.with_label_values(&[k]).get(), per_series, "{k}");
    }
    // However long the series idled, one more update exports the full value.
    clock.advance(Duration::from_secs(10));
    v.expire_idle();
    for h in &handles[0] {
        h.inc();
    }
    let exported: Vec<_> = exported(&v)
        .into_iter()
        .filter(|(l, _)| l[0].starts_with("k=s"))
        .collect();
    assert_eq!(exported.len(), SERIES);
    for (l, value) in exported {
        assert_eq!(value, per_series + 1.0, "{l:?}");
    }
}

/// A thread keeps using its lookup cache across another thread's removal: its next
/// lookup after the removal must reach a fresh child, not the removed one.
#[test]
fn thread_caches_never_reach_a_removed_child() {
    use std::sync::mpsc;
    let v = CounterVec::new(Opts::new("c_total", "h"), &["k"]).unwrap();
    let (to_worker, work) = mpsc::channel::<()>();
    let (to_main, done) = mpsc::channel::<()>();
    thread::scope(|s| {
        let v = &v;
        s.spawn(move || {
            for _ in 0..2 {
                work.recv().unwrap();
                for _ in 0..10 {
                    v.update(&["a"], |c| c.inc());
                }
                to_main.send(()).unwrap();
            }
        });
        to_worker.send(()).unwrap();
        done.recv().unwrap();
        assert_eq!(exported(v), vec![(labels(&[("k", "a")]), 10.0)]);
        assert!(v.remove(&["a"]));
        to_worker.send(()).unwrap();
        done.recv().unwrap();
    });
    assert_eq!(
        exported(&v),
        vec![(labels(&[("k", "a")]), 10.0)],
        "a fresh child"
    );
}

/// An idle child cached by another thread is kept (hidden) rather than freed, is
/// released at that thread's next lookup, and is freed by the following sweep.
#[test]
fn children_cached_by_other_threads_are_freed_after_they_let_go() {
    use std::sync::mpsc;
    let clock = ManualClock::new();
    let v = ttl_vec(&clock);
    let (to_worker, work) = mpsc::channel::<&str>();
    let (to_main, done) = mpsc::channel::<()>();
    thread::scope(|s| {
        let v = &v;
        s.spawn(move || {
            while let Ok(key) = work.recv() {
                v.update(&[key], |c| c.inc());
                to_main.send(()).unwrap();
            }
        });
        to_worker.send("a").unwrap();
        done.recv().unwrap();
        clock.advance(Duration::from_secs(61));
        v.expire_idle(); // folds the update
        clock.advance(Duration::from_secs(61));
        assert_eq!(v.expire_idle(), 0, "the worker's cache still holds it");
        assert!(exported(v).is_empty(), "idle, so hidden");
        to_worker.send("b").unwrap(); // any lookup lets go of stale entries
        done.recv().unwrap();
        assert_eq!(v.expire_idle(), 1);
        assert_eq!(exported(v), vec![(labels(&[("k", "b")]), 1.0)]);
        drop(to_worker);
    });
}

#[test]
fn nested_updates_on_the_same_vec_work() {
    let v = CounterVec::new(Opts::new("c_total", "h"), &["k"]).unwrap();
    v.update(&["outer"], |outer| {
        outer.inc();
        v.update(&["inner"], |inner| inner.inc_by(2));
        v.update(&["outer"], |again| again.inc());
    });
    assert_eq!(v.with_label_values(&["outer"]).get(), 2.0);
    assert_eq!(v.with_label_values(&["inner"]).get(), 2.0);
}

#[test]
fn many_children_from_one_thread_grow_its_cache_and_stay_exact() {
    let v = CounterVec::new(Opts::new("c_total", "h"), &["a", "b"]).unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    for round in 0..20u64 {
        for k in &keys {
            v.update(&[k, "x"], |c| c.inc_by(round));
        }
    }
    let expected: u64 = (0..20).sum();
    for k in &keys {
        assert_eq!(v.with_label_values(&[k, "x"]).get(), expected as f64, "{k}");
    }
    assert_eq!(v.len(), 1000);
}

/// A thread that has just created many series in a row looks for the next one only
/// under the shard's write lock: a child another thread created meanwhile (which this
/// thread's cache does not hold) is still found and updated, never created twice; so is
/// one this thread finds after its run ends. With every hash equal, too.
#[test]
fn a_thread_creating_series_in_a_row_finds_children_others_made() {
    fn check<S: BuildHasher + Clone + Send + Sync + 'static>(v: MetricVec<Counter, S>) {
        for i in 0..50 {
            v.update(&[&format!("new-{i}")], |c| c.inc());
        }
        let other = v.clone();
        thread::spawn(move || other.update(&["shared"], |c| c.inc_by(5)))
            .join()
            .unwrap();
        for _ in 0..3 {
            v.update(&["shared"], |c| c.inc());
        }
        for i in 0..50 {
            v.update(&[&format!("new-{i}")], |c| c.inc());
        }
        assert_eq!(v.len(), 51);
        let series = exported(&v);
        assert_eq!(series.len(), 51);
        let shared: Vec<_> = series.iter().filter(|(l, _)| l[0] == "k=shared").collect();
        assert_eq!(shared, [&(vec!["k=shared".to_owned()], 8.0)]);
        assert!(series.iter().all(|(l, v)| l[0] == "k=shared" || *v == 2.0));
    }
    check(CounterVec::new(Opts::new("c_total", "h"), &["k"]).unwrap());
    check(
        CounterVec::builder(Opts::new("c_total", "h"), &["k"])
            .hasher(Colliding)
            .build()
            .unwrap(),
    );
}
