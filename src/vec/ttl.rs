//! TTL expiry of idle vec children.
//!
//! A vec built with [`VecBuilder::ttl`](crate::VecBuilder::ttl) stops exporting a child
//! that has not been **updated** (a lookup alone is not an update) for longer than the
//! TTL, and frees it. A background thread sweeps every TTL vec about four times per TTL,
//! so memory is reclaimed even when nobody scrapes; [`MetricVec::expire_idle`] sweeps at
//! once.
//!
//! # No update is ever lost
//! Every update marks its metric ([`Lifecycle::touch`](crate::Lifecycle::touch)) after
//! changing the value, or changes a number the sweep compares with the one it saw at its
//! previous look ([`Metric::untouched_progress`]: a counter's integer total, so `inc`
//! stays one atomic add). A sweep, holding the write lock of the child's shard of the
//! vec's map (so no lookup can hand out a new handle to it meanwhile), treats a child as
//! idle only if it was not marked since the previous look, and then:
//! - **frees** it only if the vec holds the last reference to it (no handle you kept,
//!   no thread's lookup cache) and a second look, after finding that, still sees it
//!   idle: a handle dropped between the two looks was dropped after its last update, and
//!   the drop (a release of the reference count, which the sweep reads and follows with
//!   an acquire fence) makes that update visible to the second look. Nobody else can
//!   update a freed child, so no update can go to it; the next lookup of those labels
//!   starts a fresh series (a counter restarts at zero, as after a restart). A child kept only by lookup caches is released by each
//!   thread at its next lookup of the vec and freed by the following sweep. (A freed
//!   child's memory goes back at the next gather, which drops it from the list of
//!   children it keeps in label order, or once freed and removed children outnumber the
//!   live ones.)
//! - otherwise **keeps** it, unexported. A handle you cached keeps its child alive: when
//!   you update it again, the series comes back at the next gather **with its full
//!   value** (nothing was reset), and a lookup of the same labels finds the same child.
//!   Once you drop the handle, the next sweep frees the child if it is still idle.
//!
//! An update racing with a sweep therefore either marks (or moves) the child before the sweep looks
//! (the child stays exported) or after it (the child is hidden for at most one gather and
//! then exported again with every update included).
//!
//! [`MetricVec::expire_idle`]: crate::MetricVec::expire_idle

use std::hash::BuildHasher;
use std::time::Duration;

use super::{child, Inner};
use crate::metrics::{Lifecycle, Metric};
use crate::prefetch::AHEAD;
use crate::sync::{fence, AtomicU64, Ordering};

/// A vec's TTL settings and sweep schedule.
pub(crate) struct Ttl {
    nanos: u64,
    /// The vec-clock time at which the background thread should sweep next.
    next_sweep: AtomicU64,
}

impl Ttl {
    pub(crate) fn new(ttl: Duration) -> Self {
        Ttl {
            nanos: u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX),
            next_sweep: AtomicU64::new(0),
        }
    }

    /// Folds the child's update mark and progress into its last-seen time, then says
    /// whether it has been idle for longer than the TTL.
    pub(crate) fn is_expired<M: Metric>(&self, e: &M, now: u64) -> bool {
        // Relaxed throughout: `last_seen` and `last_progress` are only accessed by a
        // gather or a sweep (one at a time: both hold the lock of the vec's sorted list),
        // and a stale read of the mark or the progress merely delays expiry
        // by one look.
        let touched = e.lifecycle().take_touched();
        let progress = e.untouched_progress();
        let state = child(e);
        let moved = state.last_progress.load(Ordering::Relaxed) != progress;
        if touched || moved {
            state.last_progress.store(progress, Ordering::Relaxed);
            state.last_seen.store(now, Ordering::Relaxed);
            return false;
        }

        now.saturating_sub(state.last_seen.load(Ordering::Relaxed)) > self.nanos
    }
}

/// The handles a vec itself holds to each child in its map while a sweep runs: the
/// map's, and that of one of the gather's lists. A child is in its shard's list of new
/// children from its insert (under the shard's write lock) until a gather takes it into
/// the sorted list (holding that list's lock, as a sweep does), and leaves the sorted
/// list only once removed from the map. Any handle beyond these is a caller's or a
/// thread cache's.
const VEC_HANDLES: usize = 2;

/// Frees the idle children of `inner` that nobody else holds; returns how many.
pub(crate) fn sweep<M: Metric, S: BuildHasher>(inner: &Inner<M, S>) -> usize {
    let Some(ttl) = &inner.ttl else {
        return 0;
    };
    let now = inner.clock.monotonic_nanos();
    // Relaxed: only schedules the background thread.
    ttl.next_sweep
        .store(now.saturating_add(ttl.nanos / 4), Ordering::Relaxed);
    inner.forget_own_cache();
    // Not while a gather looks at the children: both fold update marks into the time a
    // child was last seen. Taken before the shards' locks, as everywhere.
    let mut sorted = inner.sorted.lock();
    let mut removed = 0;
    let mut live = 0;
    let mut kept_for_handles = false;
    for shard in inner.shards.iter() {
        let mut map = shard.map.write();
        let before = map.table.len();
        // Where each child's lifecycle is, in the order `retain` visits them (the
        // table's), to ask a few children ahead for the lines a look reads (see
        // `Lifecycle::prefetch_look`): children lie anywhere in memory, and a look at
        // each in turn waited for every miss. Reads only the table.
        let lifecycles: Vec<*const Lifecycle> = map
            .table
            .iter()
            .map(|e| std::ptr::from_ref(e.lifecycle()))
            .collect();
        let mut at = 0;
        // With the shard's write lock held no lookup can hand out a handle to one of its
        // children or fill a thread cache with one, so a child that only the vec
        // references stays that way until it is gone.
        map.table.retain(|e| {
            if let Some(&ahead) = lifecycles.get(at + AHEAD) {
                Lifecycle::prefetch_look(ahead);
            }
            at += 1;
            if !ttl.is_expired(e, now) {
                return true;
            }
            let held = e.handle_count() > VEC_HANDLES;
            kept_for_handles |= held;
            if held {
                return true;
            }
            // A handle dropped after the look above may have updated the child before
            // it went: the drop lowered the count just read with a release, so this
            // fence makes everything done through the handle visible to a second look
            // (the first may have read the mark or the progress before the update).
            fence(Ordering::Acquire);
            if !ttl.is_expired(e, now) {
                return true;
            }
            // Relaxed: see `Child::removed`.
            child(e).removed.store(true, Ordering::Relaxed);
            false
        });
        let gone = before - map.table.len();
        if gone > 0 {
            inner.removed(gone);
        }
        removed += gone;
        live += map.table.len();
    }
    if removed > 0 {
        if inner.compaction_due(live) {
            inner.compact(&mut sorted);
        }
    } else if kept_for_handles {
        // Idle children kept alive by handles, some of which may be thread caches':
        // make the caches let go so the next sweep can free what only they held.
        inner.forget_cached();
    }
    removed
}

#[cfg(not(promsdk_loom))]
pub(crate) use background::watch;

#[cfg(not(promsdk_loom))]
mod background {
    use std::hash::BuildHasher;
    use std::sync::{Arc, Weak};
    use std::time::Duration;

    use once_cell::sync::Lazy;
    use parking_lot::Mutex;

    use crate::metrics::Metric;
    use crate::sync::Ordering;
    use crate::vec::{Inner, MetricVec};

    /// What the sweeper thread needs of a vec, with its types erased.
    trait Sweep: Send + Sync {
        /// Sweeps if the vec's schedule says it is time.
        fn sweep_if_due(&self);
    }

    impl<M: Metric, S: BuildHasher + Send + Sync + 'static> Sweep for Inner<M, S> {
        fn sweep_if_due(&self) {
            let due = self.ttl.as_ref().is_some_and(|ttl| {
                // Relaxed: a schedule hint; sweeping early or late is harmless.
                self.clock.monotonic_nanos() >= ttl.next_sweep.load(Ordering::Relaxed)
            });
            if due {
                super::sweep(self);
            }
        }
    }

    /// How often the sweeper thread wakes; each vec sweeps when its own schedule
    /// (a quarter of its TTL) says so.
    const TICK: Duration = Duration::from_millis(250);

    static WATCHED: Lazy<Mutex<Vec<Weak<dyn Sweep>>>> = Lazy::new(|| {
        let spawned = std::thread::Builder::new()
            .name("promsdk-ttl-sweeper".into())
            .spawn(|| loop {
                std::thread::sleep(TICK);
                let live: Vec<Arc<dyn Sweep>> = {
                    let mut watched = WATCHED.lock();
                    watched.retain(|w| w.strong_count() > 0);
                    watched.iter().filter_map(Weak::upgrade).collect()
                };
                for vec in live {
                    vec.sweep_if_due();
                }
            });
        if let Err(e) = spawned {
            // Without the thread, expiry still happens at every gather (unexported) and
            // through `expire_idle`; say so rather than fail.
            eprintln!("promsdk: could not start the TTL sweeper thread: {e}");
        }
        Mutex::new(Vec::new())
    });

    /// Adds a TTL vec to the background sweeper's list (it holds only a weak reference).
    pub(crate) fn watch<M: Metric, S: BuildHasher + Send + Sync + 'static>(vec: &MetricVec<M, S>) {
        let strong: Arc<dyn Sweep> = vec.inner.clone();
        WATCHED.lock().push(Arc::downgrade(&strong));
    }
}
