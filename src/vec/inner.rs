//! [`Inner`]: what the clones of a vec share: its children in a hash map split into
//! shards, each with its own lock, the list a gather keeps in label order, and the
//! bookkeeping between them (how many children were removed, and how many of those the
//! gather's lists have dropped).

use std::sync::Arc;

use hashbrown::HashTable;

use super::buckets::Buckets;
use super::cache::ThreadCaches;
use super::child;
use super::order::Sorted;
use super::ttl::Ttl;
use crate::clock::Clock;
use crate::desc::Desc;
use crate::metrics::Metric;
use crate::sync::{AtomicU64, Mutex, Ordering, RwLock};

/// One shard of the map of children: those whose hash picks it.
pub(crate) struct Map<M> {
    pub(crate) table: HashTable<M>,
    /// The shard's children inserted since the last gather took them.
    pub(super) fresh: Entries<M>,
}

/// Children in some order: handles to the metrics the map holds.
pub(super) type Entries<M> = Vec<M>;

/// Shards of the map, each with its own lock: threads creating (or removing) different
/// series at once mostly take different locks, instead of taking turns at one lock whose
/// cache line moves between their cores on every insert.
///
/// One under `cfg(promsdk_loom)`: a vec's hash keys are random, and loom replays each
/// execution expecting the same locks to be taken.
pub(crate) const SHARDS: usize = if cfg!(promsdk_loom) { 1 } else { 16 };

/// A shard's lock and table, and where the table's buckets are, on cache lines of their
/// own (two lines: some CPUs fetch lines in pairs), so that threads working in different
/// shards share no line.
#[repr(align(128))]
pub(crate) struct Shard<M> {
    pub(crate) map: RwLock<Map<M>>,
    /// Read without the lock, to ask for the buckets a hash probes before taking it.
    pub(super) buckets: Buckets,
}

impl<M> Shard<M> {
    /// An empty shard.
    pub(crate) fn new() -> Self {
        Shard {
            map: RwLock::new(Map {
                table: HashTable::new(),
                fresh: Vec::new(),
            }),
            buckets: Buckets::new(),
        }
    }
}

/// Removed children that the gather's lists may still hold, beyond the number of live
/// ones, before a removal drops them from the lists itself (see
/// [`Inner::compaction_due`]).
const DEAD_SLACK: u64 = 1024;

/// What the clones of a vec share: its children, the gather's list of them in label
/// order, and the counts that keep the two in step (see the module doc).
pub(crate) struct Inner<M: Metric, S> {
    pub(crate) desc: Desc,
    pub(super) config: M::Config,
    pub(super) hasher: S,
    /// The children, in [`SHARDS`] shards picked by their hash.
    pub(crate) shards: Box<[Shard<M>]>,
    /// How many children the shards hold together, counted only under `max_series`
    /// (inserts reserve from it): a count every insert changed would be a cache line
    /// moving between the cores of threads that create series at once.
    pub(super) limited: AtomicU64,
    /// The children a gather has seen, in label order. A gather adds the children
    /// inserted since (sorting only them) and drops removed ones as it reads the list;
    /// a TTL sweep holds it while it looks at children, so the two never look at once.
    /// Taken before any shard's lock, never after.
    pub(crate) sorted: Mutex<Sorted<M>>,
    /// The count of [`Inner::removals`] that the gather's lists have caught up with:
    /// every child removed before it was counted is out of `sorted` and the shards'
    /// `fresh` lists. Written only with `sorted` locked.
    pub(super) accounted: AtomicU64,
    /// The positions of the variable labels in name order, the order of exported
    /// series; empty when that is the declaration order.
    pub(super) key_order: Box<[usize]>,
    pub(super) max_series: Option<usize>,
    pub(super) rejected_desc: Option<Desc>,
    pub(super) rejected: AtomicU64,
    pub(super) overflow: once_cell::sync::OnceCell<M>,
    /// Infallible lookups answered with a detached metric (wrong label count).
    pub(super) invalid_lookups: AtomicU64,
    pub(crate) ttl: Option<Ttl>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Removed children, counted (under the write lock of the shard they leave) as they
    /// leave, plus one whenever children are kept only because a thread cache holds
    /// them: thread caches whose epoch is older empty themselves, and what it counts
    /// beyond [`Inner::accounted`] are removed children the gather's lists may still
    /// hold. One count for both, so a removal takes one locked instruction on the vec.
    pub(super) removals: AtomicU64,
    pub(super) caches: ThreadCaches<M>,
}

impl<M: Metric, S> Inner<M, S> {
    /// The shard of the children whose hash is `hash`.
    #[inline]
    pub(super) fn shard(&self, hash: u64) -> &Shard<M> {
        // Bits that neither the thread caches (from bit 32 up, at most 12 of them) nor
        // hashbrown (the lowest and the top seven) pick by, so none of them sees a
        // shard's children share bits.
        &self.shards[(hash >> 52) as usize % SHARDS]
    }

    /// Bookkeeping after `count` (at least one) children left a shard (each marked
    /// `removed`), with that shard's write lock held: thread caches must let go of them,
    /// and the gather's lists drop them at the next gather (or [`Inner::compact`] does).
    pub(crate) fn removed(&self, count: usize) {
        if self.max_series.is_some() {
            // Relaxed: a count; `insert` reserves with a read-modify-write.
            self.limited.fetch_sub(count as u64, Ordering::Relaxed);
        }
        // Release: pairs with the Acquire load of the gather or of `compact`, so the
        // marks counted in what they load are seen set. Thread caches read it as their
        // epoch (see `forget_cached`).
        self.removals.fetch_add(count as u64, Ordering::Release);
    }

    /// Whether the gather's lists may hold more removed children than the `live` ones
    /// (plus [`DEAD_SLACK`]): then they should be compacted, so that a vec nobody
    /// gathers does not keep removed children forever (linear work paid for by as many
    /// removals). `live` may be an estimate.
    pub(crate) fn compaction_due(&self, live: usize) -> bool {
        // Relaxed: only decides whether to compact.
        let dead = self
            .removals
            .load(Ordering::Relaxed)
            .saturating_sub(self.accounted.load(Ordering::Relaxed));
        dead > live as u64 + DEAD_SLACK
    }

    /// Drops removed children from `sorted` (the locked list) and from the shards'
    /// `fresh` lists.
    pub(crate) fn compact(&self, sorted: &mut Sorted<M>) {
        // Acquire: see `removed`; every child counted here is seen marked and dropped.
        let seen = self.removals.load(Ordering::Acquire);
        // Relaxed: see `Child::removed`.
        sorted.retain(|e| !child(e).removed.load(Ordering::Relaxed));
        for shard in self.shards.iter() {
            shard
                .map
                .write()
                .fresh
                .retain(|e| !child(e).removed.load(Ordering::Relaxed));
        }
        self.dropped(seen);
    }

    /// The children inserted since the last call, and the count of removals whose
    /// children the caller (holding `sorted`) must drop from its lists before it passes
    /// that count to [`Inner::dropped`].
    pub(crate) fn take_fresh(&self) -> (Entries<M>, u64) {
        // Acquire: see `removed`.
        let seen = self.removals.load(Ordering::Acquire);
        let mut fresh = Vec::new();
        for shard in self.shards.iter() {
            fresh.append(&mut shard.map.write().fresh);
        }
        (fresh, seen)
    }

    /// Records that the children of the first `seen` removals are out of the lists.
    pub(crate) fn dropped(&self, seen: u64) {
        // Relaxed: written and read for compaction only by those holding `sorted`, one at
        // a time, each having loaded `removals` after the previous one's store (so `seen`
        // never goes back); elsewhere only an estimate.
        self.accounted.store(seen, Ordering::Relaxed);
    }

    /// Makes every thread cache empty itself before its next lookup, without a removal
    /// (a sweep's, when only handles kept idle children). Removals do the same through
    /// their count (see [`Inner::removed`]).
    pub(crate) fn forget_cached(&self) {
        // Relaxed: a reader that must see the bump (one that learnt of it, by a lock or
        // otherwise) is ordered after it by that very synchronisation, and coherence
        // then forbids it from reading an older epoch.
        self.removals.fetch_add(1, Ordering::Relaxed);
    }

    /// Empties the calling thread's lookup cache for this vec.
    pub(crate) fn forget_own_cache(&self) {
        self.caches.clear_mine();
    }
}
