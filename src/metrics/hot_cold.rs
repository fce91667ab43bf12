//! [`HotCold`]: lock-free bucket counts, `_count` and `_sum` that a concurrent snapshot
//! always reads as one consistent set of observations.
//!
//! The scheme is client_golang's (`countAndHotIdx`): two shards of counters, one *hot*
//! (observers write it) and one *cold* (zero, idle). A snapshot flips which shard is
//! hot, waits until every observation that started on the old hot shard has finished,
//! reads that shard — now quiescent — then folds it into the new hot shard and zeroes
//! it. Observers never wait and never take a lock; snapshots are serialised by a mutex
//! (the only lock, and only on the gather side).
//!
//! Unlike client_golang, a shard keeps no count of finished observations: every
//! observation ends by incrementing exactly one bucket counter (`+Inf` has one here), so
//! the bucket counters add up to the observations finished. That saves an observation
//! one of its four atomic read-modify-writes.
//!
//! Used by [`Histogram`](crate::Histogram) and by summaries without objectives (zero
//! buckets: just a consistent count and sum).

use crate::sync::{AtomicU64, Mutex, Ordering};

use super::atomic_f64_add;

/// Bit 63 of `count_and_hot`: the index of the hot shard.
const HOT_BIT: u64 = 1 << 63;
/// Bits 0..63 of `count_and_hot`: how many observations have started.
const COUNT_MASK: u64 = HOT_BIT - 1;

#[derive(Debug)]
struct Shard {
    /// Non-cumulative counts, one per finite upper bound and a last one for `+Inf`:
    /// together, the observations that have *finished* on this shard (each increments
    /// one of them, last).
    buckets: Box<[AtomicU64]>,
    /// Sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Shard {
    fn new(buckets: usize) -> Self {
        Shard {
            buckets: (0..=buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Observations finished on this shard so far. Acquire: pairs with the observers'
    /// Release increments (see `HotCold::observe`).
    fn finished(&self) -> u64 {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Acquire))
            .fold(0, u64::wrapping_add)
    }
}

/// Consistent counts of observations into `buckets` finite buckets.
#[derive(Debug)]
pub(crate) struct HotCold {
    /// Hot shard index (bit 63) and observations started (bits 0..63), changed together
    /// by one atomic add so each observer learns its shard and is counted in one step.
    count_and_hot: AtomicU64,
    shards: [Shard; 2],
    /// Serialises snapshots: only a snapshot flips the hot bit or touches a cold shard.
    snapshot_lock: Mutex<()>,
}

/// What a snapshot read: observation count and sum (bucket counts go to a caller slice).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub count: u64,
    pub sum: f64,
}

impl HotCold {
    /// Counters for `buckets` finite buckets, all zero.
    pub(crate) fn new(buckets: usize) -> Self {
        HotCold {
            count_and_hot: AtomicU64::new(0),
            shards: [Shard::new(buckets), Shard::new(buckets)],
            snapshot_lock: Mutex::new(()),
        }
    }

    /// Records `v`, counted in bucket `bucket`: a finite bucket's index, or the number of
    /// finite buckets (or more) for `+Inf`. Lock-free and allocation-free: three atomic
    /// read-modify-writes.
    #[inline]
    pub(crate) fn observe(&self, bucket: usize, v: f64) {
        // Acquire: a snapshot zeroes the cold shard, then a later snapshot flips it to
        // hot with a Release add; reading that flip (or a later add in its release
        // sequence) makes the zeroing happen-before our increments, so they can never
        // be ordered before it and lost.
        let n = self.count_and_hot.fetch_add(1, Ordering::Acquire);
        let shard = &self.shards[usize::from(n & HOT_BIT != 0)];
        // Relaxed: published by the Release bucket increment below.
        atomic_f64_add(&shard.sum, v);
        // Never out of range (there is always the `+Inf` counter): an observation that
        // incremented nothing would never count as finished.
        let cell = &shard.buckets[bucket.min(shard.buckets.len() - 1)];
        // Release: a snapshot that Acquire-reads a bucket total including this increment
        // sees the sum update above. While a shard is hot its counters change only by
        // read-modify-writes, so a read of a counter's final total synchronises with
        // every observer that incremented it.
        cell.fetch_add(1, Ordering::Release);
    }

    /// Writes the non-cumulative finite bucket counts into `counts` (its length must be
    /// the finite bucket count; extra entries are left alone) and returns count and sum,
    /// all from the same set of observations.
    pub(crate) fn snapshot(&self, counts: &mut [u64]) -> Totals {
        let _serialised = self.snapshot_lock.lock();
        // Release: publishes our previous zeroing of this shard (ordered before us by
        // the mutex) to observers that will now pick it as hot. No Acquire needed: the
        // observations we read arrive through the shard's `count` below.
        let n = self.count_and_hot.fetch_add(HOT_BIT, Ordering::Release);
        let started = n & COUNT_MASK;
        let old_hot = usize::from(n & HOT_BIT != 0);
        let cold = &self.shards[old_hot];
        let hot = &self.shards[old_hot ^ 1];

        // Every observation counted in `started` chose `cold`; wait until all finished.
        // Each counter only grows meanwhile, so the total of the loads reaches `started`
        // only once every observation's increment has been read.
        let mut spins = 0u32;
        while cold.finished() != started {
            spins += 1;
            // Under loom, yield at once: the model only moves on when a spin yields.
            if spins < 64 && !cfg!(promsdk_loom) {
                std::hint::spin_loop();
            } else {
                crate::sync::yield_now();
            }
        }

        // The cold shard is quiescent: no observer writes it until the next flip, which
        // needs the mutex we hold. Relaxed loads and stores are enough for the same
        // reason; the next snapshot sees them through the mutex, observers through the
        // Release flip above.
        let finite = &cold.buckets[..cold.buckets.len() - 1];
        for (out, cell) in counts.iter_mut().zip(finite) {
            *out = cell.load(Ordering::Relaxed);
        }
        let sum = f64::from_bits(cold.sum.load(Ordering::Relaxed));

        // Fold the cold totals into the hot shard (which keeps taking observations; the
        // adds commute with theirs) and zero the cold shard for its next turn.
        for (cold_cell, hot_cell) in cold.buckets.iter().zip(hot.buckets.iter()) {
            let c = cold_cell.load(Ordering::Relaxed);
            if c != 0 {
                hot_cell.fetch_add(c, Ordering::Relaxed);
                cold_cell.store(0, Ordering::Relaxed);
            }
        }
        atomic_f64_add(&hot.sum, sum);
        cold.sum.store(0, Ordering::Relaxed);

        Totals {
            count: started,
            sum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_accumulate_across_flips() {
        let hc = HotCold::new(2);
        hc.observe(0, 1.0);
        hc.observe(2, 10.0);
        let mut counts = [0; 2];
        assert_eq!(
            hc.snapshot(&mut counts),
            Totals {
                count: 2,
                sum: 11.0
            }
        );
        assert_eq!(counts, [1, 0]);
        hc.observe(1, 2.0);
        // Second snapshot reads the other shard: it must hold the folded totals too.
        assert_eq!(hc.snapshot(&mut counts).count, 3);
        assert_eq!(counts, [1, 1]);
        assert_eq!(hc.snapshot(&mut counts).sum, 13.0);
        assert_eq!(counts, [1, 1]);
    }

    #[test]
    fn out_of_range_bucket_only_counts() {
        let hc = HotCold::new(1);
        hc.observe(7, 1.0);
        let mut counts = [0; 1];
        assert_eq!(hc.snapshot(&mut counts).count, 1);
        assert_eq!(counts, [0]);
    }
}
