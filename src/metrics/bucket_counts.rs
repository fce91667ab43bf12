//! [`BucketCounts`]: lock-free bucket counts, `_count` and `_sum` that a concurrent
//! snapshot always reads as one consistent set of observations.
//!
//! Each bucket (one per finite upper bound, and one for `+Inf`) keeps how many
//! observations fell into it *and their sum*, together in one 16-byte atomic word
//! ([`CountSum`]): an observation changes both by one compare-and-swap, so it is never
//! half done. A snapshot reads each bucket's word atomically and derives `_count` as the
//! total of the counts and `_sum` as the total of the sums: buckets, count and sum then
//! describe exactly the observations in the words as read, whatever observers do
//! meanwhile. Observers never wait; snapshots never wait, flip or lock.
//!
//! That is one atomic read-modify-write per observation. client_golang's hot/cold scheme
//! (`countAndHotIdx`) takes four (hot index and started count, sum, bucket, finished
//! count) and makes a snapshot wait for observations in flight; with 8-byte atomics
//! only, a count and a sum cannot change in one step, which is what it works around.
//!
//! `_sum` adds the per-bucket sums: the same total as adding the observations in any
//! other order, up to floating-point rounding (which concurrent adds make unordered
//! anyway).
//!
//! Used by [`Histogram`](crate::Histogram) and by summaries without objectives (zero
//! finite buckets: just a count and a sum).

use crate::sync::CountSum;

/// Consistent counts of observations into `buckets` finite buckets and `+Inf`.
#[derive(Debug)]
pub(crate) struct BucketCounts {
    /// Non-cumulative count and sum per bucket, one per finite upper bound and a last
    /// one for `+Inf`.
    buckets: Box<[CountSum]>,
}

/// What a snapshot read: observation count and sum (bucket counts go to a caller slice).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub count: u64,
    pub sum: f64,
}

impl BucketCounts {
    /// Counters for `buckets` finite buckets, all zero.
    pub(crate) fn new(buckets: usize) -> Self {
        BucketCounts {
            buckets: (0..=buckets).map(|_| CountSum::new()).collect(),
        }
    }

    /// Records `v`, counted in bucket `bucket`: a finite bucket's index, or the number of
    /// finite buckets (or more) for `+Inf`. Lock-free and allocation-free: one atomic
    /// read-modify-write.
    #[inline]
    pub(crate) fn observe(&self, bucket: usize, v: f64) {
        // Never out of range: there is always the `+Inf` bucket.
        self.buckets[bucket.min(self.buckets.len() - 1)].add(v);
    }

    /// Writes the non-cumulative finite bucket counts into `counts` (its length must be
    /// the finite bucket count; extra entries are left alone) and returns count and sum,
    /// all from the same set of observations.
    pub(crate) fn snapshot(&self, counts: &mut [u64]) -> Totals {
        let finite = self.buckets.len() - 1;
        let mut totals = Totals { count: 0, sum: 0.0 };
        for (i, bucket) in self.buckets.iter().enumerate() {
            let (count, sum) = bucket.load();
            totals.count = totals.count.wrapping_add(count);
            totals.sum += sum;
            if let Some(out) = counts.get_mut(i).filter(|_| i < finite) {
                *out = count;
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_count_and_sum_every_bucket() {
        let bc = BucketCounts::new(2);
        bc.observe(0, 1.0);
        bc.observe(2, 10.0);
        let mut counts = [0; 2];
        assert_eq!(
            bc.snapshot(&mut counts),
            Totals {
                count: 2,
                sum: 11.0
            }
        );
        assert_eq!(counts, [1, 0]);
        bc.observe(1, 2.0);
        assert_eq!(bc.snapshot(&mut counts).count, 3);
        assert_eq!(counts, [1, 1]);
        assert_eq!(bc.snapshot(&mut counts).sum, 13.0);
    }

    #[test]
    fn out_of_range_bucket_counts_as_inf() {
        let bc = BucketCounts::new(1);
        bc.observe(7, 1.0);
        let mut counts = [0; 1];
        assert_eq!(bc.snapshot(&mut counts), Totals { count: 1, sum: 1.0 });
        assert_eq!(counts, [0]);
    }

    #[test]
    fn concurrent_observers_and_snapshots_stay_consistent() {
        // Each thread observes 1.0 into bucket 0 and 2.0 into `+Inf` in turn: in any
        // consistent snapshot, sum == count_0 * 1 + (count - count_0) * 2.
        let bc = BucketCounts::new(1);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for i in 0..50_000 {
                        if i % 2 == 0 {
                            bc.observe(0, 1.0);
                        } else {
                            bc.observe(1, 2.0);
                        }
                    }
                });
            }
            s.spawn(|| {
                let mut counts = [0; 1];
                for _ in 0..2_000 {
                    let t = bc.snapshot(&mut counts);
                    assert_eq!(t.sum, (counts[0] + 2 * (t.count - counts[0])) as f64);
                }
            });
        });
        let mut counts = [0; 1];
        assert_eq!(
            bc.snapshot(&mut counts),
            Totals {
                count: 100_000,
                sum: 150_000.0
            }
        );
        assert_eq!(counts, [50_000]);
    }
}
