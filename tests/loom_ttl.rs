//! Exhaustive model check of the TTL-versus-update race (run with
//! `RUSTFLAGS="--cfg promsdk_loom" cargo test --release --test loom_ttl`; see scripts/loom.sh).
#![cfg(promsdk_loom)]

use std::sync::Arc;
use std::time::Duration;

use promsdk::{Collected, Collector, CounterVec, ManualClock, Opts};

fn vec(clock: &ManualClock) -> CounterVec {
    CounterVec::builder(Opts::new("c_total", "h"), &["k"])
        .ttl(Duration::from_secs(1))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

fn exported_total(v: &CounterVec) -> Option<f64> {
    let mut out = Collected::default();
    v.collect(&mut out);
    out.families()[0].samples.first().map(|s| match s.value {
        promsdk::Value::Counter { total, .. } => total,
        _ => unreachable!(),
    })
}

/// A lookup-and-update racing with an expiry sweep: the update always survives.
#[test]
fn update_through_lookup_races_with_sweep() {
    loom::model(|| {
        let clock = ManualClock::new();
        let v = vec(&clock);
        clock.advance(Duration::from_secs(5));
        let updater = {
            let v = v.clone();
            loom::thread::spawn(move || v.with_label_values(&["a"]).inc())
        };
        let sweeper = {
            let v = v.clone();
            loom::thread::spawn(move || {
                v.expire_idle();
            })
        };
        updater.join().unwrap();
        sweeper.join().unwrap();
        assert_eq!(v.len(), 1, "a child updated in the race is never freed");
        assert_eq!(exported_total(&v), Some(1.0));
    });
}

/// A cached handle updating while its idle child is swept: the series keeps (or gets
/// back) its full value.
#[test]
fn update_through_cached_handle_races_with_sweep() {
    loom::model(|| {
        let clock = ManualClock::new();
        let v = vec(&clock);
        let handle = v.with_label_values(&["a"]);
        handle.inc();
        clock.advance(Duration::from_secs(5));
        v.expire_idle(); // folds the first update
        clock.advance(Duration::from_secs(5));
        let updater = loom::thread::spawn(move || handle.inc());
        let sweeper = {
            let v = v.clone();
            loom::thread::spawn(move || {
                v.expire_idle();
            })
        };
        updater.join().unwrap();
        sweeper.join().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(exported_total(&v), Some(2.0));
    });
}
