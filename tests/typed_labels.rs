//! Typed label sets (`#[derive(Labels)]`, `TypedVec`): the same exposition as a string
//! vec given the same label values, the same lifecycle (removal, partial-match removal,
//! TTL expiry, the series limit and its overflow series), and concurrent stress tests in
//! which no update is lost to removal or expiry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use promsdk::{
    encode, Collected, Collector, Counter, CounterVec, Format, LabelValue, Labels, ManualClock,
    MetricVec, Opts, Registry, TypedVec, Value, VecBuilder,
};

#[derive(LabelValue, Clone, Copy, Debug, PartialEq)]
enum Op {
    Read,
    WriteBack,
    #[label(rename = "DEL")]
    Delete,
}

const OPS: [Op; 3] = [Op::Read, Op::WriteBack, Op::Delete];

/// Every label dense: looked up by index.
#[derive(Labels, Clone, Copy, Debug)]
struct Dense {
    op: Op,
    ok: bool,
    #[label(rename = "shard", max = 3)]
    shard_id: u32,
}

/// The combinations of `Dense` with shards 0..=3 (24).
fn dense_sets() -> Vec<Dense> {
    let mut sets = Vec::new();
    for op in OPS {
        for ok in [false, true] {
            for shard_id in 0..4 {
                sets.push(Dense { op, ok, shard_id });
            }
        }
    }
    sets
}

/// A string field: looked up by values.
#[derive(Labels)]
struct Mixed<'a> {
    op: Op,
    path: &'a str,
    code: u16,
}

fn values(labels: &impl Labels) -> Vec<String> {
    labels.with_values(|v| v.iter().map(|s| (*s).to_owned()).collect())
}

/// Both expositions of everything `c` collects.
fn expositions(c: impl Collector) -> (String, String) {
    let registry = Registry::default();
    registry.register(c).unwrap();
    let families = registry.gather().families;
    let (mut text, mut om) = (Vec::new(), Vec::new());
    encode(&families, Format::Text, &mut text);
    encode(&families, Format::OpenMetrics, &mut om);
    (
        String::from_utf8(text).unwrap(),
        String::from_utf8(om).unwrap(),
    )
}

/// The exported `(labels, value)` pairs of a counter vec, in gather order.
fn exported(c: &impl Collector) -> Vec<(String, f64)> {
    let mut out = Collected::default();
    c.collect(&mut out);
    out.families()[0]
        .samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
            match &s.value {
                Value::Counter { total, .. } => (labels.join(","), *total),
                other => panic!("unexpected {other:?}"),
            }
        })
        .collect()
}

/// The sum of every exported series of a counter vec.
fn exported_total(c: &impl Collector) -> f64 {
    exported(c).iter().map(|(_, v)| v).sum()
}

#[test]
fn exposition_is_the_string_vecs_for_the_same_values() {
    let opts = || Opts::new("requests_total", "Requests.").const_label("app", "x");
    let typed: TypedVec<Mixed<'static>, Counter> = TypedVec::new(opts()).unwrap();
    let strings = CounterVec::new(opts(), Mixed::NAMES).unwrap();
    // Values that need escaping, in every position the exposition escapes.
    let paths = ["/a", "quote\"d", "back\\slash", "new\nline", "ünï"];
    for (i, path) in paths.iter().enumerate() {
        for (j, op) in OPS.iter().enumerate() {
            let labels = Mixed {
                op: *op,
                path,
                code: (200 + i * 100 + j) as u16,
            };
            typed.update(&labels, |c| c.inc_by((i * 3 + j) as u64));
            labels.with_values(|v| strings.update(v, |c| c.inc_by((i * 3 + j) as u64)));
        }
    }
    let dense: TypedVec<Dense, Counter> = TypedVec::new(Opts::new("ops_total", "Ops.")).unwrap();
    let dense_strings = CounterVec::new(Opts::new("ops_total", "Ops."), Dense::NAMES).unwrap();
    for (i, labels) in dense_sets().iter().enumerate() {
        dense.update(labels, |c| c.inc_by(i as u64));
        labels.with_values(|v| dense_strings.update(v, |c| c.inc_by(i as u64)));
    }
    let from_typed = expositions(typed);
    assert_eq!(from_typed, expositions(strings));
    assert!(
        from_typed.0.contains(r#"path="quote\"d""#),
        "{}",
        from_typed.0
    );
    assert!(from_typed.0.contains(r#"op="DEL""#), "{}", from_typed.0);
    let from_dense = expositions(dense);
    assert_eq!(from_dense, expositions(dense_strings));
    assert!(
        from_dense
            .0
            .contains(r#"ops_total{ok="true",op="write_back",shard="2"} 14.0"#),
        "{}",
        from_dense.0
    );
}

#[test]
fn remove_remove_matching_clear_and_retain_through_the_typed_api() {
    let vec: TypedVec<Dense, Counter> = TypedVec::new(Opts::new("c_total", "h")).unwrap();
    for labels in dense_sets() {
        vec.update(&labels, |c| c.inc());
    }
    assert_eq!(vec.len(), 24);
    let one = Dense {
        op: Op::Read,
        ok: true,
        shard_id: 1,
    };
    assert!(vec.remove(&one));
    assert!(!vec.remove(&one));
    assert_eq!(vec.len(), 23);
    // A removed series comes back fresh.
    vec.update(&one, |c| c.inc_by(7));
    assert_eq!(vec.with(&one).get(), 7.0);
    assert_eq!(vec.remove_matching(&[("op", "DEL")]).unwrap(), 8);
    assert_eq!(vec.len(), 16);
    assert!(vec.remove_matching(&[("nope", "x")]).is_err());
    assert_eq!(
        vec.retain(|labels, _| labels.get("shard") != Some("0")),
        4,
        "read and write_back, ok and not, shard 0"
    );
    // Every lookup after a removal reaches a live child of the vec.
    for labels in dense_sets() {
        vec.update(&labels, |c| c.inc());
    }
    assert_eq!(vec.len(), 24);
    // One more each, on the 11 kept children at 1, `one` at 7 and 12 fresh ones.
    assert_eq!(exported_total(&vec), 24.0 + 11.0 + 7.0);
    vec.clear();
    assert!(vec.is_empty());
    vec.update(&one, |c| c.inc());
    assert_eq!(
        exported(&vec),
        vec![("ok=true,op=read,shard=1".into(), 1.0)]
    );
}

#[test]
fn a_bounded_integer_past_its_max_is_still_its_own_series() {
    let vec: TypedVec<Dense, Counter> = TypedVec::new(Opts::new("c_total", "h")).unwrap();
    let far = Dense {
        op: Op::Read,
        ok: false,
        shard_id: 1_000_000,
    };
    for _ in 0..3 {
        vec.update(&far, |c| c.inc());
    }
    assert_eq!(values(&far), ["read", "false", "1000000"]);
    assert_eq!(
        vec.vec()
            .with_label_values(&["read", "false", "1000000"])
            .get(),
        3.0
    );
    assert!(vec.remove(&far));
    assert!(vec.is_empty());
}

fn ttl_vec(clock: &ManualClock) -> TypedVec<Dense, Counter> {
    CounterVec::builder(Opts::new("c_total", "h"), Dense::NAMES)
        .ttl(Duration::from_secs(60))
        .clock(Arc::new(clock.clone()))
        .build_typed()
        .unwrap()
}

#[test]
fn ttl_hides_and_frees_idle_children_and_a_held_handle_keeps_its_value() {
    let clock = ManualClock::new();
    let vec = ttl_vec(&clock);
    let (a, b) = (dense_sets()[0], dense_sets()[1]);
    vec.update(&a, |c| c.inc());
    let held = vec.with(&b);
    held.inc_by(5);
    clock.advance(Duration::from_secs(30));
    vec.update(&a, |c| c.inc());
    clock.advance(Duration::from_secs(61));
    // Both idle: `a` is freed (the calling thread's table lets go of it), `b` is kept
    // for its handle.
    vec.expire_idle();
    clock.advance(Duration::from_secs(61));
    assert_eq!(vec.expire_idle(), 1);
    assert_eq!(vec.len(), 1);
    assert!(exported(&vec).is_empty(), "b is idle, so hidden");
    held.inc();
    assert_eq!(
        exported_total(&vec),
        6.0,
        "b comes back with its full value"
    );
    assert_eq!(vec.with(&b).get(), 6.0, "and a lookup finds the same child");
    vec.update(&a, |c| c.inc());
    assert_eq!(vec.with(&a).get(), 1.0, "a starts afresh");
}

/// An idle child in another thread's table is kept (hidden) rather than freed, is let
/// go at that thread's next lookup, and is freed by the following sweep.
#[test]
fn children_in_other_threads_tables_are_freed_after_they_let_go() {
    use std::sync::mpsc;
    let clock = ManualClock::new();
    let vec = ttl_vec(&clock);
    let sets = dense_sets();
    let (to_worker, work) = mpsc::channel::<Dense>();
    let (to_main, done) = mpsc::channel::<()>();
    thread::scope(|s| {
        let vec = &vec;
        s.spawn(move || {
            while let Ok(labels) = work.recv() {
                vec.update(&labels, |c| c.inc());
                to_main.send(()).unwrap();
            }
        });
        to_worker.send(sets[0]).unwrap();
        done.recv().unwrap();
        clock.advance(Duration::from_secs(61));
        vec.expire_idle(); // folds the update
        clock.advance(Duration::from_secs(61));
        assert_eq!(vec.expire_idle(), 0, "the worker's table still holds it");
        assert!(exported(vec).is_empty(), "idle, so hidden");
        to_worker.send(sets[1]).unwrap(); // any lookup lets go of stale children
        done.recv().unwrap();
        assert_eq!(vec.expire_idle(), 1);
        assert_eq!(exported(vec).len(), 1);
        drop(to_worker);
    });
}

#[test]
fn series_limit_and_overflow_match_the_string_vec() {
    let typed: TypedVec<Dense, Counter> =
        CounterVec::builder(Opts::new("c_total", "h"), Dense::NAMES)
            .max_series(3)
            .build_typed()
            .unwrap();
    let strings: MetricVec<Counter> = CounterVec::builder(Opts::new("c_total", "h"), Dense::NAMES)
        .max_series(3)
        .build()
        .unwrap();
    let sets = dense_sets();
    // Five sets, each updated three times: two go to the overflow series every time.
    for _ in 0..3 {
        for labels in &sets[..5] {
            typed.update(labels, |c| c.inc());
            labels.with_values(|v| strings.update(v, |c| c.inc()));
        }
    }
    assert_eq!(typed.rejected_label_sets(), strings.rejected_label_sets());
    assert_eq!(typed.rejected_label_sets(), 6);
    assert!(exported(&typed).contains(&(
        "ok=__overflow__,op=__overflow__,shard=__overflow__".into(),
        6.0
    )));
    // Room again after a removal: the next lookup of a rejected set gets its own child.
    assert!(typed.remove(&sets[0]));
    assert!(strings.remove(&["read", "false", "0"]));
    for labels in &sets[3..5] {
        typed.update(labels, |c| c.inc());
        labels.with_values(|v| strings.update(v, |c| c.inc()));
    }
    assert_eq!(
        typed.vec().with_label_values(&["read", "false", "3"]).get(),
        1.0
    );
    assert_eq!(expositions(typed), expositions(strings));
}

/// Sets its flag when dropped, also while unwinding from a failed assertion.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Many threads update through typed labels while another removes series (one at a
/// time and by partial match) and another gathers. Afterwards every update is
/// accounted for: in a live series or in a removed child the remover kept a handle to.
/// And once every updater has seen a removal, no update reaches the removed child: it
/// lands in the live one, as through the string API.
#[test]
fn concurrent_typed_updates_and_removals_lose_nothing_and_never_reach_a_removed_child() {
    const THREADS: usize = 3;
    const ROUNDS: u64 = 200;
    let vec: TypedVec<Dense, Counter> = TypedVec::new(Opts::new("c_total", "h")).unwrap();
    let sets = dense_sets();
    // How many removals the remover made, and how many each updater has seen.
    let removals = AtomicU64::new(0);
    let seen: Vec<AtomicU64> = (0..THREADS).map(|_| AtomicU64::new(0)).collect();
    let done = AtomicBool::new(false);
    let (updates, removed) = thread::scope(|s| {
        let updaters: Vec<_> = (0..THREADS)
            .map(|t| {
                let (vec, sets, removals, seen, done) = (&vec, &sets, &removals, &seen[t], &done);
                s.spawn(move || {
                    let mut updates = 0u64;
                    loop {
                        // Acquire/Release: an update made after this store follows the
                        // removal it acknowledges.
                        let n = removals.load(Ordering::Acquire);
                        seen.store(n, Ordering::Release);
                        if n >= ROUNDS || done.load(Ordering::Relaxed) {
                            return updates;
                        }
                        let i = updates as usize;
                        vec.update(&sets[(i * 7 + t) % sets.len()], |c| c.inc());
                        updates += 1;
                    }
                })
            })
            .collect();
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                exported(&vec);
            }
        });
        // A failed assertion below stops the other threads, so the test fails, not hangs.
        let _stop = SetOnDrop(&done);
        // Handles to removed children, and their values once every updater had seen the
        // removal.
        let mut removed: Vec<(Counter, f64)> = Vec::new();
        for round in 0..ROUNDS as usize {
            // Handles through the string API: the typed path under test is the updaters'.
            let handle = |l: &Dense| l.with_values(|v| vec.vec().with_label_values(v));
            let kept: Vec<Counter> = if round % 4 == 3 {
                // Only this thread removes, so these are the children removed next.
                let matching = sets.iter().filter(|l| l.op == Op::WriteBack);
                let handles = matching.map(handle).collect();
                assert_eq!(vec.remove_matching(&[("op", "write_back")]).unwrap(), 8);
                handles
            } else {
                let labels = &sets[round * 5 % sets.len()];
                let kept = handle(labels);
                assert!(vec.remove(labels));
                vec![kept]
            };
            let n = removals.fetch_add(1, Ordering::Release) + 1;
            while seen.iter().any(|s| s.load(Ordering::Acquire) < n) {
                thread::yield_now();
            }
            removed.extend(kept.into_iter().map(|h| {
                let value = h.get();
                (h, value)
            }));
        }
        let updates: u64 = updaters.into_iter().map(|u| u.join().unwrap()).sum();
        (updates, removed)
    });
    for (handle, value) in &removed {
        assert_eq!(
            handle.get(),
            *value,
            "an update reached a child removed before its thread's lookup"
        );
    }
    let in_removed: f64 = removed.iter().map(|(h, _)| h.get()).sum();
    assert!(in_removed > 0.0, "no removed child was ever updated");
    assert_eq!(exported_total(&vec) + in_removed, updates as f64);
}

/// Many threads update through typed labels while another expires idle children with a
/// clock racing ahead and gathers. Handles kept to every series keep them from being
/// freed, so every update must be found in them: none went to a child the sweep let go.
#[test]
fn concurrent_typed_updates_and_expiry_lose_nothing() {
    const THREADS: usize = 3;
    const INCS: u64 = 100_000;
    let clock = ManualClock::new();
    let vec: TypedVec<Dense, Counter> =
        VecBuilder::new(Opts::new("c_total", "h"), Dense::NAMES, ())
            .ttl(Duration::from_millis(1))
            .clock(Arc::new(clock.clone()))
            .build_typed()
            .unwrap();
    let sets = dense_sets();
    let handles: Vec<Counter> = sets.iter().map(|l| vec.with(l)).collect();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let updaters: Vec<_> = (0..THREADS)
            .map(|t| {
                let (vec, sets) = (&vec, &sets);
                s.spawn(move || {
                    for i in 0..INCS {
                        vec.update(&sets[(i as usize * 5 + t) % sets.len()], |c| c.inc());
                    }
                })
            })
            .collect();
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                clock.advance(Duration::from_millis(5));
                vec.expire_idle();
                exported(&vec);
            }
        });
        for u in updaters {
            u.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    let total: f64 = handles.iter().map(Counter::get).sum();
    assert_eq!(total, (THREADS as u64 * INCS) as f64);
    for (labels, handle) in sets.iter().zip(&handles) {
        assert_eq!(vec.with(labels).get(), handle.get(), "{labels:?}");
    }
    // However long the series idled, one more update exports the full value.
    clock.advance(Duration::from_secs(10));
    vec.expire_idle();
    for labels in &sets {
        vec.update(labels, |c| c.inc());
    }
    assert_eq!(exported_total(&vec), total + sets.len() as f64);
}
