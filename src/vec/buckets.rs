//! [`Buckets`]: where a shard's hash table keeps the buckets a hash probes first, as last
//! seen under the shard's lock, so that a lookup, an insert or a removal can ask for
//! those lines before it takes the lock.
//!
//! In a churn round (1,000 series created and 1,000 removed among 10,000) a round's
//! children do not fit in a core's cache, and the shards' tables are pushed out with
//! them: an insert missed on the probed group of control bytes, then waited in the
//! lock's release for the line of the slot it wrote; a removal missed on the control
//! bytes, then on the slot, one after the other. A hash says where both are before the
//! lock is taken, and building the child (or hashing the values) takes longer than the
//! misses.
//!
//! The hint is hashbrown's layout (control bytes at the table's control pointer, bucket
//! `i`'s slot `i + 1` slots below it; a probe starts at the bucket the hash's low bits
//! pick), which its public API does not promise: were it to change, the lines asked for
//! would be the wrong ones, costing a prefetch and nothing else. The addresses are only
//! prefetched, never read: a hint from a table since grown (or from another table,
//! mixed with the other half of a later hint) is as harmless.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use hashbrown::hash_table::OccupiedEntry;

/// Where a shard's table had its control bytes, and its bucket mask, when a child was
/// last inserted (none before the first insert).
///
/// Plain `std` atomics, even under loom: the hint orders nothing and is only prefetched,
/// so models need not explore it.
pub(crate) struct Buckets {
    /// The table's control pointer (its slots end there), null before the first insert.
    ctrl: AtomicPtr<u8>,
    /// The table's number of buckets less one.
    mask: AtomicUsize,
}

/// The control bytes a probe reads at once (an SSE2 group).
const GROUP: usize = 16;

/// How many slots from a probe's first bucket a prefetch covers: with the table at most
/// seven-eighths full, a child sits, or an insert finds room, in the first few.
const SLOTS: usize = 8;

impl Buckets {
    /// No hint yet: nothing is asked for until the first insert records one.
    pub(crate) fn new() -> Self {
        Buckets {
            ctrl: AtomicPtr::new(std::ptr::null_mut()),
            mask: AtomicUsize::new(0),
        }
    }

    /// Records where the buckets are of the table that `entry`, a child just inserted,
    /// is in. Called under the shard's write lock.
    pub(crate) fn record<M>(&self, entry: OccupiedEntry<'_, M>) {
        let ctrl = std::ptr::from_ref(entry.get())
            .cast::<u8>()
            .cast_mut()
            .wrapping_add((entry.bucket_index() + 1) * size_of::<M>());
        // Relaxed: a hint; see the module doc.
        if self.ctrl.load(Ordering::Relaxed) != ctrl {
            self.ctrl.store(ctrl, Ordering::Relaxed);
            let mask = entry.into_table().num_buckets().wrapping_sub(1);
            self.mask.store(mask, Ordering::Relaxed);
        }
    }

    /// Asks for the lines a probe of `hash` reads first in a table of `M`: the group of
    /// control bytes it starts at and the slots of its first buckets.
    #[inline(always)]
    pub(crate) fn prefetch<M>(&self, hash: u64) {
        // Relaxed: a hint; see the module doc.
        let ctrl = self.ctrl.load(Ordering::Relaxed);
        if ctrl.is_null() {
            return;
        }
        let first = hash as usize & self.mask.load(Ordering::Relaxed);
        let group = ctrl.wrapping_add(first);
        crate::prefetch::prefetch_line(group);
        crate::prefetch::prefetch_line(group.wrapping_add(GROUP - 1));
        let slot = |i: usize| ctrl.wrapping_sub((first + i + 1) * size_of::<M>());
        crate::prefetch::prefetch_line(slot(0));
        crate::prefetch::prefetch_line(slot(SLOTS - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashTable;

    /// The recorded pointer is the table's control pointer: bucket `i`'s slot is `i + 1`
    /// slots below it, for every bucket of a table after it grew; and most values sit
    /// within the prefetched slots of the bucket their hash's low bits pick (were the
    /// layout or the probe's start to change, the prefetches would ask for the wrong
    /// lines; this says so).
    #[test]
    fn recorded_buckets_give_every_slots_address() {
        let mut table: HashTable<u64> = HashTable::new();
        let buckets = Buckets::new();
        let hash = |v: &u64| v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for v in 0..1000u64 {
            buckets.record(table.insert_unique(hash(&v), v, hash));
        }
        let ctrl = buckets.ctrl.load(Ordering::Relaxed);
        assert_eq!(
            buckets.mask.load(Ordering::Relaxed),
            table.num_buckets() - 1
        );
        let mask = table.num_buckets() - 1;
        let mut near = 0;
        for i in 0..table.num_buckets() {
            if let Some(v) = table.get_bucket(i) {
                let expected = ctrl.wrapping_sub((i + 1) * size_of::<u64>());
                assert_eq!(std::ptr::from_ref(v).cast::<u8>(), expected.cast_const());
                let first = hash(v) as usize & mask;
                near += usize::from(i.wrapping_sub(first) & mask < SLOTS);
            }
        }
        assert!(
            near > 900,
            "{near} of 1000 values within {SLOTS} slots of their first bucket"
        );
    }
}
