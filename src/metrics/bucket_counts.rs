//! [`BucketCounts`]: lock-free bucket counts, `_count` and `_sum` that a concurrent
//! snapshot always reads as one consistent set of observations.
//!
//! **A shard per thread.** Each thread observing a histogram writes into a shard of its
//! own (its bucket counts and the sum of its observations), made at its first
//! observation, for the first few thread slots (see [`ThreadShards`]). Only that
//! thread writes the shard, so an observation takes no atomic read-modify-write: plain
//! loads and stores, as a sequence lock's writer (the sequence odd, the counts, the sum,
//! the sequence even again). A snapshot reads a shard between two equal even sequence
//! numbers, so it has each of the thread's observations entirely or not at all. Under
//! contention nothing is shared: the observing threads never write the same line.
//!
//! **Shared words for the rest.** A thread without a shard (its slot past the shards, or
//! exiting), or whose shard a snapshot is waiting to read, counts into the shared words:
//! per bucket, how many observations fell into it *and their sum*, in one 16-byte atomic
//! word ([`CountSum`]) changed by one compare-and-swap, so never half done.
//!
//! A snapshot adds up the shards and the shared words: `_count` is the total of the
//! counts and `_sum` the total of the sums, and they describe exactly the observations
//! read. A snapshot never blocks observers. It waits only for an observation in flight
//! in a shard (a few instructions, unless its thread is descheduled); if the shard keeps
//! changing under it, it asks the shard's thread to count in the shared words meanwhile.
//!
//! client_golang's hot/cold scheme (`countAndHotIdx`) takes four atomic read-modify-writes
//! per observation (hot index and started count, sum, bucket, finished count), on lines
//! every observing thread writes.
//!
//! `_sum` adds partial sums: the same total as adding the observations in any other
//! order, up to floating-point rounding (which concurrent adds make unordered anyway).
//!
//! Used by [`Histogram`](crate::Histogram) and by summaries without objectives (zero
//! finite buckets: just a count and a sum).

use smallvec::SmallVec;

use super::thread_shards::ThreadShards;
use crate::sync::{fence, spin_wait, AtomicU64, CountSum, Ordering};

/// Consistent counts of observations into `buckets` finite buckets and `+Inf`.
#[derive(Debug)]
pub(crate) struct BucketCounts {
    /// Non-cumulative count and sum per bucket, one per finite upper bound and a last
    /// one for `+Inf`: the observations of threads without a shard.
    buckets: Box<[CountSum]>,
    /// A shard per thread slot: [`FIRST_COUNT`] words and a count per bucket.
    shards: ThreadShards,
}

/// What a snapshot read: observation count and sum (bucket counts go to a caller slice).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub count: u64,
    pub sum: f64,
}

/// A shard's words: the sequence number (odd while its thread writes), how many
/// snapshots ask its thread to stay out, the sum's bits, then one count per bucket.
const SEQUENCE: usize = 0;
const READERS: usize = 1;
const SUM: usize = 2;
const FIRST_COUNT: usize = 3;

/// A shard's words: written by one thread, read by snapshots.
struct Shard<'a>(&'a [AtomicU64]);

impl<'a> Shard<'a> {
    #[inline]
    fn word(&self, i: usize) -> &AtomicU64 {
        &self.0[i]
    }

    /// Counts `v` in `bucket`, unless a snapshot asked to stay out (then `false`). Only
    /// the shard's thread calls this, so loads and stores need no read-modify-write.
    #[inline]
    fn observe(&self, bucket: usize, v: f64) -> bool {
        // Relaxed: a hint only; a snapshot that set it just now still checks the
        // sequence number.
        if self.word(READERS).load(Ordering::Relaxed) != 0 {
            return false;
        }
        let sequence = self.word(SEQUENCE);
        let s = sequence.load(Ordering::Relaxed);
        sequence.store(s.wrapping_add(1), Ordering::Relaxed);
        // Release: the odd number is visible before any of the stores below. A snapshot
        // that reads one of them reads the odd number or a later one afterwards (its
        // Acquire fence), and tries again.
        fence(Ordering::Release);
        let count = self.word(FIRST_COUNT + bucket);
        count.store(
            count.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        let sum = self.word(SUM);
        let total = f64::from_bits(sum.load(Ordering::Relaxed)) + v;
        sum.store(total.to_bits(), Ordering::Relaxed);
        // Release: a snapshot that reads the even number reads the stores above.
        sequence.store(s.wrapping_add(2), Ordering::Release);
        true
    }

    /// The shard's counts into `counts` (one per bucket) and its sum, read together.
    fn read(&self, counts: &mut [u64]) -> f64 {
        let sequence = self.word(SEQUENCE);
        let mut asked = false;
        let mut attempts = 0u32;
        loop {
            // Acquire: pairs with the Release of the store that made it even.
            let before = sequence.load(Ordering::Acquire);
            if before % 2 == 0 {
                for (i, out) in counts.iter_mut().enumerate() {
                    *out = self.word(FIRST_COUNT + i).load(Ordering::Relaxed);
                }
                let sum = self.word(SUM).load(Ordering::Relaxed);
                // Acquire: if a load above read a store of an observation begun since
                // `before`, the reload below sees that observation's odd number.
                fence(Ordering::Acquire);
                if sequence.load(Ordering::Relaxed) == before {
                    if asked {
                        self.word(READERS).fetch_sub(1, Ordering::Relaxed);
                    }
                    return f64::from_bits(sum);
                }
            }
            attempts = attempts.saturating_add(1);
            if attempts == 4 && !asked {
                // The thread keeps observing: ask it to use the shared words until this
                // read is done. An observation it began before seeing this ends soon.
                self.word(READERS).fetch_add(1, Ordering::Relaxed);
                asked = true;
            }
            spin_wait(attempts);
        }
    }
}

impl BucketCounts {
    /// Counters for `buckets` finite buckets, all zero.
    pub(crate) fn new(buckets: usize) -> Self {
        BucketCounts {
            buckets: (0..=buckets).map(|_| CountSum::new()).collect(),
            shards: ThreadShards::new(FIRST_COUNT + buckets + 1),
        }
    }

    /// Records `v`, counted in bucket `bucket`: a finite bucket's index, or the number of
    /// finite buckets (or more) for `+Inf`. Lock-free: plain loads and stores in this
    /// thread's shard (made by the thread's first observation, the one allocation), or
    /// one atomic read-modify-write of the shared words.
    #[inline]
    pub(crate) fn observe(&self, bucket: usize, v: f64) {
        // Never out of range: there is always the `+Inf` bucket.
        let bucket = bucket.min(self.buckets.len() - 1);
        if let Some(words) = self.shards.own() {
            if Shard(words).observe(bucket, v) {
                return;
            }
        }
        self.buckets[bucket].add(v);
    }

    /// Writes the non-cumulative finite bucket counts into `counts` (its length must be
    /// the finite bucket count; extra entries are left alone) and returns count and sum,
    /// all from the same set of observations.
    pub(crate) fn snapshot(&self, counts: &mut [u64]) -> Totals {
        let buckets = self.buckets.len();
        let finite = buckets - 1;
        let kept = finite.min(counts.len());
        let counts = &mut counts[..kept];
        counts.fill(0);
        let mut totals = Totals { count: 0, sum: 0.0 };
        let mut add = |i: usize, count: u64, totals: &mut Totals| {
            totals.count = totals.count.wrapping_add(count);
            if let Some(out) = counts.get_mut(i) {
                *out = out.wrapping_add(count);
            }
        };
        for (i, bucket) in self.buckets.iter().enumerate() {
            let (count, sum) = bucket.load();
            add(i, count, &mut totals);
            totals.sum += sum;
        }
        // On the stack for up to 15 finite buckets (client_golang's default has 11).
        let mut shard_counts: SmallVec<[u64; 16]> = smallvec::smallvec![0; buckets];
        for words in self.shards.rows() {
            totals.sum += Shard(words).read(&mut shard_counts);
            for (i, &count) in shard_counts.iter().enumerate() {
                add(i, count, &mut totals);
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::super::thread_shards::SHARDS;
    use super::super::thread_slot;
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
        const PER_THREAD: u64 = if cfg!(miri) { 200 } else { 50_000 };
        let bc = BucketCounts::new(1);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for i in 0..PER_THREAD {
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
                for _ in 0..if cfg!(miri) { 20 } else { 2_000 } {
                    let t = bc.snapshot(&mut counts);
                    assert_eq!(t.sum, (counts[0] + 2 * (t.count - counts[0])) as f64);
                }
            });
        });
        let mut counts = [0; 1];
        assert_eq!(
            bc.snapshot(&mut counts),
            Totals {
                count: 2 * PER_THREAD,
                sum: 3.0 * PER_THREAD as f64
            }
        );
        assert_eq!(counts, [PER_THREAD]);
    }

    /// How many shards `bc` has, and how many observations its shared words hold.
    fn shards_and_shared(bc: &BucketCounts) -> (usize, u64) {
        let shared = bc.buckets.iter().map(|b| b.load().0).sum();
        (bc.shards.rows().count(), shared)
    }

    #[test]
    fn each_thread_counts_in_a_shard_of_its_own() {
        // Tests running beside this one may hold the low slots; a thread with a slot
        // beyond the shards counts in the shared words instead.
        let with_shard = |slot: Option<usize>| slot.is_some_and(|slot| slot < SHARDS);
        let bc = BucketCounts::new(1);
        let first = with_shard(thread_slot::current());
        bc.observe(0, 1.0);
        let mut expected = (usize::from(first), u64::from(!first));
        assert_eq!(shards_and_shared(&bc), expected, "first thread");
        let second = std::thread::scope(|s| {
            s.spawn(|| {
                bc.observe(1, 2.0);
                with_shard(thread_slot::current())
            })
            .join()
            .unwrap()
        });
        expected.0 += usize::from(second);
        expected.1 += u64::from(!second);
        assert_eq!(shards_and_shared(&bc), expected, "second thread");
        let mut counts = [0; 1];
        assert_eq!(bc.snapshot(&mut counts), Totals { count: 2, sum: 3.0 });
        assert_eq!(counts, [1]);
    }

    #[test]
    fn threads_beyond_the_shards_count_in_the_shared_words() {
        const THREADS: usize = SHARDS + 4;
        const PER_THREAD: u64 = if cfg!(miri) { 10 } else { 1_000 };
        let bc = BucketCounts::new(1);
        let alive = std::sync::Barrier::new(THREADS);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    // Slots taken while all are alive, so distinct: at least four of
                    // them beyond the shards.
                    thread_slot::current();
                    alive.wait();
                    for _ in 0..PER_THREAD {
                        bc.observe(0, 0.5);
                    }
                });
            }
        });
        let (shards, shared) = shards_and_shared(&bc);
        assert!(shards <= SHARDS, "{shards} shards");
        assert!(
            shared >= 4 * PER_THREAD,
            "{shared} observations in the shared words"
        );
        let mut counts = [0; 1];
        let total = THREADS as u64 * PER_THREAD;
        assert_eq!(
            bc.snapshot(&mut counts),
            Totals {
                count: total,
                sum: total as f64 / 2.0
            }
        );
        assert_eq!(counts, [total]);
    }

    #[test]
    fn snapshots_of_a_shard_in_constant_use_finish_and_stay_consistent() {
        // One thread observes without a pause (1.0 into bucket 0, 2.0 into `+Inf` by
        // turns): snapshots must still get through (asking it to use the shared words),
        // each consistent, and hand the shard back afterwards.
        let bc = BucketCounts::new(1);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let observed = std::thread::scope(|s| {
            let observer = s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    bc.observe((n % 2) as usize, if n % 2 == 0 { 1.0 } else { 2.0 });
                    n += 1;
                }
                n
            });
            let mut counts = [0; 1];
            for _ in 0..if cfg!(miri) { 20 } else { 5_000 } {
                let t = bc.snapshot(&mut counts);
                assert_eq!(t.sum, (counts[0] + 2 * (t.count - counts[0])) as f64);
            }
            stop.store(true, Ordering::Relaxed);
            observer.join().unwrap()
        });
        let mut counts = [0; 1];
        let t = bc.snapshot(&mut counts);
        assert_eq!(t.count, observed);
        assert_eq!(counts[0], observed.div_ceil(2));
        for words in bc.shards.rows() {
            let shard = Shard(words);
            assert_eq!(shard.word(READERS).load(Ordering::Relaxed), 0);
            assert_eq!(shard.word(SEQUENCE).load(Ordering::Relaxed) % 2, 0);
        }
    }
}
