//! Exhaustive model check of a counter made on its own, whose threads each count in a
//! row of their own, and of a vec's child getting rows, read while they count (run with
//! `RUSTFLAGS="--cfg promsdk_loom" cargo test --release --test loom_counter`; see
//! scripts/loom.sh): whatever the interleaving, a read sees whole increments only, two
//! reads in turn never go down, and none is lost.
#![cfg(promsdk_loom)]

use promsdk::Counter;

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

/// Two threads each adding 1 and then 0.5 in their rows (made by their first
/// increment), read twice meanwhile.
#[test]
fn reads_race_with_two_counting_threads() {
    model(|| {
        let c = Counter::default();
        let counting: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                loom::thread::spawn(move || {
                    c.inc();
                    c.add(0.5).unwrap();
                })
            })
            .collect();
        let first = c.get();
        let second = c.get();
        // Each thread's whole and fractional words are read apart (as a plain counter's
        // two totals always were): its part is 0, 0.5, 1 or 1.5, each word's value one
        // it had.
        let possible = |t: f64| (0..=6).any(|halves| t == f64::from(halves) / 2.0);
        assert!(
            possible(first) && possible(second),
            "{first}, then {second}"
        );
        assert!(second >= first, "{first}, then {second}");
        for t in counting {
            t.join().unwrap();
        }
        assert_eq!(c.get(), 3.0);
    });
}

/// A vec's child, which starts with one shared total, gets rows while two threads count
/// in it (under loom every increment is a crossing, and the first makes them), read
/// twice meanwhile: whatever the interleaving, no increment is lost on the way from the
/// shared total to the rows, and two reads in turn never go down.
#[test]
fn a_child_getting_rows_while_counted_and_read_loses_nothing() {
    model(|| {
        let vec = promsdk::CounterVec::new(promsdk::Opts::new("c_total", "C."), &["k"]).unwrap();
        let child = vec.with_label_values(&["a"]);
        let counting: Vec<_> = (0..2)
            .map(|_| {
                let c = child.clone();
                loom::thread::spawn(move || {
                    c.inc();
                    c.inc();
                })
            })
            .collect();
        let first = child.get();
        let second = child.get();
        assert!((0.0..=4.0).contains(&first), "{first}");
        assert!(second >= first, "{first}, then {second}");
        for t in counting {
            t.join().unwrap();
        }
        assert_eq!(child.get(), 4.0);
    });
}
