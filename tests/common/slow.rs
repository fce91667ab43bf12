//! A collector that blocks inside `collect` until the test opens its gate, and tells
//! the test when it is entered: the deliberately slow collector of the limit, timeout,
//! coalescing and shutdown tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use promsdk::{Collected, Collector, Desc, MetricType, Opts};
use tokio::sync::mpsc;

/// The slow collector; reports `slow_value 1`.
pub struct Slow {
    desc: Desc,
    gate: Arc<(Mutex<bool>, Condvar)>,
    entered: mpsc::UnboundedSender<()>,
    calls: Arc<AtomicUsize>,
}

/// The test's side: open the gate, wait for entries, count calls.
pub struct SlowControl {
    gate: Arc<(Mutex<bool>, Condvar)>,
    entered: mpsc::UnboundedReceiver<()>,
    calls: Arc<AtomicUsize>,
}

/// A new slow collector (gate closed) and its control.
pub fn slow() -> (Slow, SlowControl) {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let desc = Desc::new(Opts::new("slow_value", "Slow."), MetricType::Gauge, &[]).unwrap();
    (
        Slow {
            desc,
            gate: gate.clone(),
            entered: tx,
            calls: calls.clone(),
        },
        SlowControl {
            gate,
            entered: rx,
            calls,
        },
    )
}

impl Collector for Slow {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        // Relaxed: a plain event count, read after the collector calls are over.
        self.calls.fetch_add(1, Ordering::Relaxed);
        let _ = self.entered.send(());
        let (open, opened) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        out.family(&self.desc).gauge(&[], 1.0);
    }
}

impl SlowControl {
    /// Waits until `collect` has been entered once more.
    pub async fn entered(&mut self) {
        self.entered.recv().await.expect("collector dropped");
    }

    /// Lets every waiting and future `collect` through.
    pub fn open(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }

    /// How many times `collect` was called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}
