//! Exhaustive model check of a histogram snapshot racing with observations (run with
//! `RUSTFLAGS="--cfg promsdk_loom" cargo test --release --test loom_histogram`; see
//! scripts/loom.sh): whatever the interleaving, a snapshot's buckets, count and sum
//! describe one set of finished observations, and none is lost.
//!
//! Each loom thread has a shard of its own, so these models check the shards' sequence
//! numbers: an observation seen in part would show as a snapshot no set of finished
//! observations explains. Interleavings with up to three preemptions are explored
//! (unbounded, the first model ran for over 12 minutes without finishing); taking out
//! the shard writer's release fence or the snapshot's sequence check fails them.
#![cfg(promsdk_loom)]

use promsdk::{Histogram, HistogramConfig, HistogramValue};

/// `(observations at or below 1, count, sum)` of a snapshot.
fn read(h: &Histogram) -> (u64, u64, f64) {
    let HistogramValue {
        buckets,
        count,
        sum,
        ..
    } = h.snapshot();
    (buckets[0].cumulative_count, count, sum)
}

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

/// Two observers (0.5 into `le="1"`, 2.0 into `+Inf`) and a snapshot between them.
#[test]
fn snapshot_races_with_two_observers() {
    model(|| {
        let h = Histogram::new(&HistogramConfig::new(&[1.0])).unwrap();
        let observers: Vec<_> = [0.5, 2.0]
            .into_iter()
            .map(|v| {
                let h = h.clone();
                loom::thread::spawn(move || h.observe(v))
            })
            .collect();
        let (low, count, sum) = read(&h);
        // The only consistent states: which of the two observations are in.
        let consistent = [(0, 0, 0.0), (1, 1, 0.5), (0, 1, 2.0), (1, 2, 2.5)];
        assert!(
            consistent.contains(&(low, count, sum)),
            "inconsistent snapshot: le=1 {low}, count {count}, sum {sum}"
        );
        for o in observers {
            o.join().unwrap();
        }
        assert_eq!(read(&h), (1, 2, 2.5));
    });
}

/// One observer observing twice (0.5, then 2.0) while two snapshots read its shard: the
/// snapshot retries while an observation is in flight and never sees one in part.
#[test]
fn snapshots_race_with_one_observer_observing_twice() {
    model(|| {
        let h = Histogram::new(&HistogramConfig::new(&[1.0])).unwrap();
        let observer = {
            let h = h.clone();
            loom::thread::spawn(move || {
                h.observe(0.5);
                h.observe(2.0);
            })
        };
        let consistent = [(0, 0, 0.0), (1, 1, 0.5), (1, 2, 2.5)];
        let first = read(&h);
        let second = read(&h);
        for snap in [first, second] {
            assert!(consistent.contains(&snap), "inconsistent snapshot {snap:?}");
        }
        assert!(
            second.1 >= first.1,
            "count went back: {first:?} then {second:?}"
        );
        observer.join().unwrap();
        assert_eq!(read(&h), (1, 2, 2.5));
    });
}
