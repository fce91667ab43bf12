//! Gathering for the service: on a blocking thread (a slow collector must not stall the
//! async runtime, and a timeout must be able to give up on it), into sinks reused across
//! scrapes, optionally coalescing concurrent scrapes into one gather.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::collector::Collected;
use crate::registry::{gather_all_into, Registry};

/// How many idle sinks are kept for reuse; more only appear when gathers overlap.
const SPARE_SINKS: usize = 4;

/// The result of one gather, shared by the scrapes that waited for it. Its sink goes
/// back to the pool when the last of them drops it.
pub(crate) struct Snapshot {
    collected: Collected,
    pool: Arc<Mutex<Vec<Collected>>>,
}

impl Snapshot {
    /// The gathered families and errors.
    pub(crate) fn collected(&self) -> &Collected {
        &self.collected
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut pool = self.pool.lock();
        if pool.len() < SPARE_SINKS {
            pool.push(std::mem::take(&mut self.collected));
        }
    }
}

type Pending = watch::Receiver<Option<Arc<Snapshot>>>;

/// Gathers the served registries.
pub(crate) struct Gatherer {
    registries: Vec<Registry>,
    coalesce: bool,
    /// The gather under way, when coalescing.
    pending: Mutex<Option<Pending>>,
    pool: Arc<Mutex<Vec<Collected>>>,
}

/// The gather ended without a result (its thread was cancelled, e.g. at runtime
/// shutdown).
#[derive(Debug)]
pub(crate) struct GatherLost;

impl Gatherer {
    pub(crate) fn new(registries: Vec<Registry>, coalesce: bool) -> Self {
        Self {
            registries,
            coalesce,
            pending: Mutex::new(None),
            pool: Arc::default(),
        }
    }

    /// Gathers now, or, when coalescing, joins the gather under way.
    pub(crate) async fn gather(self: &Arc<Self>) -> Result<Arc<Snapshot>, GatherLost> {
        if !self.coalesce {
            let this = Arc::clone(self);
            return tokio::task::spawn_blocking(move || Arc::new(this.gather_now()))
                .await
                .map_err(|_| GatherLost);
        }
        let mut pending = {
            let mut slot = self.pending.lock();
            match &*slot {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    *slot = Some(rx.clone());
                    self.start(tx);
                    rx
                }
            }
        };
        let snapshot = pending
            .wait_for(Option::is_some)
            .await
            .map_err(|_| GatherLost)?;
        snapshot.clone().ok_or(GatherLost)
    }

    /// Runs one coalesced gather on a blocking thread and publishes its result.
    fn start(self: &Arc<Self>, tx: watch::Sender<Option<Arc<Snapshot>>>) {
        /// Frees the slot however the gather ends, so the next scrape starts afresh.
        struct Clear(Arc<Gatherer>);
        impl Drop for Clear {
            fn drop(&mut self) {
                *self.0.pending.lock() = None;
            }
        }
        let clear = Clear(Arc::clone(self));
        tokio::task::spawn_blocking(move || {
            let snapshot = clear.0.gather_now();
            drop(clear);
            // No receiver left (every scrape timed out or went away): nothing to do.
            let _ = tx.send(Some(Arc::new(snapshot)));
        });
    }

    fn gather_now(&self) -> Snapshot {
        let mut collected = self.pool.lock().pop().unwrap_or_default();
        let registries: smallvec::SmallVec<[&Registry; 4]> = self.registries.iter().collect();
        gather_all_into(&registries, &mut collected);
        Snapshot {
            collected,
            pool: Arc::clone(&self.pool),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Gauge, Opts};

    #[tokio::test]
    async fn sinks_are_reused_once_every_scrape_is_done() {
        let registry = Registry::new();
        registry
            .register_metric(Opts::new("up", "Up."), Gauge::default())
            .unwrap();
        let gatherer = Arc::new(Gatherer::new(vec![registry], true));
        let first = gatherer.gather().await.unwrap();
        assert_eq!(first.collected().families().len(), 1);
        assert!(gatherer.pool.lock().is_empty(), "still in use");
        drop(first);
        // The blocking thread that published the snapshot may still hold the channel
        // (and with it the snapshot) for a moment after the scrape got its answer.
        for _ in 0..1000 {
            if !gatherer.pool.lock().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(gatherer.pool.lock().len(), 1);
        let second = gatherer.gather().await.unwrap();
        assert_eq!(second.collected().families().len(), 1);
        assert!(
            gatherer.pool.lock().is_empty(),
            "the pooled sink was taken again"
        );
    }
}
