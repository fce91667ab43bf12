//! Per-thread lookup caches in front of a vec's map.
//!
//! A lookup through the map takes the read lock: two atomic read-modify-writes on a
//! cache line every thread shares. A thread that keeps updating the same children
//! instead finds them in its own small set-associative cache, keyed by the label values'
//! hash and checked against the full values: no lock, no reference-count traffic, no
//! allocation.
//!
//! # Staying correct
//! - Every removal (explicit, partial-match, `clear`, `retain`, TTL) bumps the vec's
//!   removal epoch while holding the map's write lock. A cache whose epoch is older
//!   empties itself before its next lookup, so a thread never reaches a removed child
//!   after it could have learnt of the removal (an update racing with a removal may land
//!   just before it, as with a handle taken before the removal).
//! - A cached slot holds a handle to the child's metric, which a TTL sweep sees as any
//!   other handle (see `ttl::sweep`): a cached child is hidden when idle but never freed,
//!   so no update can be lost to expiry. A sweep that keeps idle children because of
//!   handles bumps the epoch too, so threads let go of them at their next lookup and the
//!   next sweep can free them (the sweeping thread lets go of its own at once); a thread
//!   that never looks up this vec again keeps at most its cache's worth alive.
//! - A hit reads the slot, then one cache line of the metric: the child's label values
//!   and update mark live in its [`Lifecycle`](crate::Lifecycle), next to the value.

use std::cell::RefCell;
use thread_local::ThreadLocal;

use crate::metrics::Metric;

/// Slots a cache starts with, and the most it grows to.
const MIN_SLOTS: usize = 8;
const MAX_SLOTS: usize = 4096;
/// Slots per set: a set takes one 64-byte line, and a child can be in any slot of its
/// set. With two ways, a thread cycling through as many children as half the slots
/// still missed about 4% of lookups (three children landing in one set evict each
/// other in turn); with four, well under 1%.
const WAYS: usize = 4;
/// Lookups between two checks of whether the cache should grow.
const WINDOW: u32 = 256;

/// A cached child's metric and its hash, compared before following the pointer, so the
/// other ways of a set cost no memory access beyond the set's own line.
struct Slot<M> {
    hash: u64,
    metric: Option<M>,
}

pub(super) struct Cache<M> {
    epoch: u64,
    /// Sets of `WAYS` slots.
    slots: Box<[Slot<M>]>,
    lookups: u32,
    misses: u32,
}

impl<M: Metric> Cache<M> {
    fn new(epoch: u64) -> Self {
        Cache {
            epoch,
            slots: empty_slots(MIN_SLOTS),
            lookups: 0,
            misses: 0,
        }
    }

    /// The cached child for these values, after bringing the cache to `epoch`.
    #[inline]
    pub(super) fn get(&mut self, epoch: u64, hash: u64, values: &[&str]) -> Option<&M> {
        if self.epoch != epoch {
            self.reset(epoch);
        }
        // Wrapping: `put` resets the count long before it could wrap, unless this thread
        // never misses, and then the count does not matter.
        self.lookups = self.lookups.wrapping_add(1);
        let i = index(hash, self.slots.len());
        let set = self.slots.get(i..i + WAYS)?;
        let found = set.iter().find_map(|slot| match &slot.metric {
            Some(m) if slot.hash == hash && m.lifecycle().key().matches(values) => Some(m),
            _ => None,
        });
        if found.is_none() {
            self.misses = self.misses.wrapping_add(1);
        }
        found
    }

    /// Empties the cache: children were removed since it was filled.
    #[cold]
    fn reset(&mut self, epoch: u64) {
        self.slots = empty_slots(MIN_SLOTS);
        self.epoch = epoch;
        self.lookups = 0;
        self.misses = 0;
    }

    /// Remembers the child `metric`, just found in the map after a `get` miss, growing
    /// the cache if it misses often and the vec has more children than slots; returns
    /// the cached handle.
    pub(super) fn put(&mut self, metric: &M, children: usize) -> &M {
        if self.lookups >= WINDOW {
            let wants_more = self.misses.saturating_mul(64) > self.lookups
                && self.slots.len() < MAX_SLOTS
                && self.slots.len() < children.saturating_mul(4);
            if wants_more {
                self.grow();
            }
            self.lookups = 0;
            self.misses = 0;
        }
        let hash = metric.lifecycle().hash();
        let i = index(hash, self.slots.len());
        let set = &mut self.slots[i..i + WAYS];
        // An empty way if there is one, else a victim picked by the miss count, so the
        // victim's place moves from miss to miss. Always evicting the oldest would make
        // a set with one child too many miss on every lookup of a cycle over them;
        // this way most of them stay.
        let way = set
            .iter()
            .position(|s| s.metric.is_none())
            .unwrap_or(self.misses as usize % WAYS);
        let slot = &mut set[way];
        slot.hash = hash;
        slot.metric.insert(metric.clone())
    }

    fn grow(&mut self) {
        let doubled = empty_slots(self.slots.len() * 2);
        let old = std::mem::replace(&mut self.slots, doubled);
        for slot in old.into_vec() {
            let i = index(slot.hash, self.slots.len());
            if let Some(free) = self.slots[i..i + WAYS]
                .iter_mut()
                .find(|s| s.metric.is_none())
            {
                *free = slot;
            }
        }
    }
}

fn empty_slots<M>(n: usize) -> Box<[Slot<M>]> {
    (0..n)
        .map(|_| Slot {
            hash: 0,
            metric: None,
        })
        .collect()
}

/// The first slot of the set `hash` maps to.
#[inline]
fn index(hash: u64, len: usize) -> usize {
    // `len` is a power of two of at least `WAYS`; the high bits of a good hash are as
    // good as the low ones, and the map (hashbrown) uses the low bits, so the two do not
    // share conflicts.
    (hash >> 32) as usize & (len - WAYS)
}

/// One cache per thread for one vec.
pub(super) struct ThreadCaches<M: Metric> {
    caches: ThreadLocal<RefCell<Cache<M>>>,
}

impl<M: Metric> ThreadCaches<M> {
    pub(super) fn new() -> Self {
        ThreadCaches {
            caches: ThreadLocal::new(),
        }
    }

    /// Empties this thread's cache (if it has one and is not inside a lookup), so a
    /// sweep running on this thread is not held back by its own cached references.
    pub(super) fn clear_mine(&self) {
        if let Some(cache) = self.caches.get() {
            if let Ok(mut cache) = cache.try_borrow_mut() {
                cache.slots = empty_slots(MIN_SLOTS);
            }
        }
    }

    /// This thread's cache, unless it is already borrowed (a lookup nested inside an
    /// update closure on the same vec); the caller then goes through the map.
    ///
    /// Under `cfg(promsdk_loom)` there are no thread caches: loom runs its threads on one OS
    /// thread, which would share one cache; the model checks the map path.
    #[inline]
    pub(super) fn mine(&self, epoch: u64) -> Option<std::cell::RefMut<'_, Cache<M>>> {
        if cfg!(promsdk_loom) {
            return None;
        }
        // `get` (inlined) before `get_or` (a call): a thread has its cache after its
        // first lookup.
        let cache = match self.caches.get() {
            Some(cache) => cache,
            None => self.first(epoch),
        };
        cache.try_borrow_mut().ok()
    }

    #[cold]
    fn first(&self, epoch: u64) -> &RefCell<Cache<M>> {
        self.caches.get_or(|| RefCell::new(Cache::new(epoch)))
    }
}

#[cfg(test)]
mod tests {
    use crate::{CounterVec, Opts};

    /// A thread cycling through many children ends up finding nearly all of them in its
    /// cache: it grows while it misses.
    #[test]
    fn a_thread_cycling_through_many_children_mostly_hits() {
        let sets: Vec<(String, String)> = (0..1000)
            .map(|i| {
                (
                    format!("service-{}", i / 100),
                    format!("/api/v1/endpoint/{}", i % 100),
                )
            })
            .collect();
        // The vec's random hash keys decide how many sets get more children than ways:
        // about 3.4 of 1024 on average, each missing one or two lookups per cycle.
        // Always evicting the oldest way would miss every lookup of such a set.
        let vec = CounterVec::new(Opts::new("c", "h"), &["a", "b"]).unwrap();
        for _ in 0..50 {
            for (a, b) in &sets {
                vec.update(&[a, b], |c| c.inc());
            }
        }
        let epoch = vec.inner.removals.load(crate::sync::Ordering::Relaxed);
        let mut cache = vec.inner.caches.mine(epoch).unwrap();
        let misses = sets
            .iter()
            .filter(|(a, b)| {
                let hash = super::super::hash_values(&vec.inner.hasher, &[a, b]);
                cache.get(epoch, hash, &[a, b]).is_none()
            })
            .count();
        assert!(
            misses < 25,
            "{misses} of 1000 missed with {} slots",
            cache.slots.len()
        );
    }
}
