//! How vecs hash label values: [`hash_values`], and the default hasher
//! [`LabelHasher`], built for exactly that job.
//!
//! A lookup hashes its label values on every update, so the hash is most of what a
//! lookup costs besides the compare. Label values are short strings: most fit in 16
//! bytes, which [`LabelHasher`] mixes with one 64×64→128-bit multiply (the "folded
//! multiply" of foldhash and wyhash), reading the value as two possibly overlapping
//! words. Going through the generic `Hash for [&str]` instead costs three writes per
//! value (length prefix, bytes, a `0xff` terminator), each a multiply in sequence.
//!
//! The hash only picks candidates: every lookup compares the full values, so a weak or
//! even constant hash (tests use one) costs speed, never correctness. Keys are random
//! per vec, so regular patterns in label values do not line up with buckets. Like
//! foldhash's fast hasher, it is not built to resist collisions crafted on purpose:
//! those would only slow lookups on that vec, whose size `max_series` bounds.

use std::hash::{BuildHasher, Hasher};

use crate::metrics::key::{u32_at, u64_at};

/// Hashes a lookup's label values with `hasher`: each value's length, then its bytes,
/// so `["ab", "c"]` and `["a", "bc"]` are hashed differently by any decent hasher.
#[inline(always)]
pub(crate) fn hash_values<S: BuildHasher>(hasher: &S, values: &[&str]) -> u64 {
    let mut h = hasher.build_hasher();
    for v in values {
        h.write_usize(v.len());
        h.write(v.as_bytes());
    }
    h.finish()
}

/// The hasher vecs use unless told otherwise (see the module doc): randomly keyed per
/// vec, one multiply per label value of up to 16 bytes.
///
/// ```
/// use std::hash::BuildHasher;
/// use promsdk::vec::LabelHasher;
/// let h = LabelHasher::default();
/// assert_eq!(h.hash_one("a"), h.hash_one("a"));
/// assert_ne!(h.hash_one("a"), LabelHasher::default().hash_one("a"));
/// ```
#[derive(Clone, Debug)]
pub struct LabelHasher {
    keys: [u64; 3],
}

impl Default for LabelHasher {
    /// A hasher with fresh random keys.
    fn default() -> Self {
        // std's RandomState draws its keys from the OS once per thread and then varies
        // them per instance: random enough for keys, and no extra dependency.
        let random = std::collections::hash_map::RandomState::new();
        let key = |i: u64| random.hash_one(i) | 1;
        LabelHasher {
            keys: [key(0), key(1), key(2)],
        }
    }
}

impl BuildHasher for LabelHasher {
    type Hasher = LabelValuesHasher;

    #[inline]
    fn build_hasher(&self) -> LabelValuesHasher {
        LabelValuesHasher {
            acc: self.keys[0],
            keys: [self.keys[1], self.keys[2]],
        }
    }
}

/// The [`Hasher`] of [`LabelHasher`]. Each `write` mixes its bytes into the state with
/// one folded multiply per 16 bytes; integer writes are folded in without a multiply of
/// their own (the next `write` or `finish` mixes them).
#[derive(Clone, Debug)]
pub struct LabelValuesHasher {
    acc: u64,
    keys: [u64; 2],
}

/// The high and low halves of the full product, xored: every input bit reaches many
/// output bits.
#[inline(always)]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Up to 16 bytes as two words that, with the length (mixed in by the caller), determine
/// them exactly: overlapping reads from both ends.
#[inline(always)]
fn short_words(bytes: &[u8]) -> (u64, u64) {
    let n = bytes.len();
    if n >= 8 {
        (u64_at(bytes, 0), u64_at(bytes, n - 8))
    } else if n >= 4 {
        (u64::from(u32_at(bytes, 0)), u64::from(u32_at(bytes, n - 4)))
    } else if n > 0 {
        let lo = u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8;
        (lo, u64::from(bytes[n - 1]))
    } else {
        (0, 0)
    }
}

impl Hasher for LabelValuesHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if bytes.len() <= 16 {
            let (a, b) = short_words(bytes);
            self.acc = folded_multiply(a ^ self.acc, b ^ self.keys[0]);
            return;
        }
        let n = bytes.len();
        if n <= 32 {
            // The first and the last 16 bytes, overlapping when under 32.
            self.acc =
                folded_multiply(u64_at(bytes, 0) ^ self.acc, u64_at(bytes, 8) ^ self.keys[1]);
            self.acc = folded_multiply(
                u64_at(bytes, n - 16) ^ self.acc,
                u64_at(bytes, n - 8) ^ self.keys[0],
            );
            return;
        }
        let mut chunks = bytes.chunks_exact(16);
        for chunk in chunks.by_ref() {
            self.acc =
                folded_multiply(u64_at(chunk, 0) ^ self.acc, u64_at(chunk, 8) ^ self.keys[1]);
        }
        if !chunks.remainder().is_empty() {
            // The last 16 bytes, overlapping the previous chunk.
            self.acc = folded_multiply(
                u64_at(bytes, n - 16) ^ self.acc,
                u64_at(bytes, n - 8) ^ self.keys[0],
            );
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.acc = self.acc.rotate_left(23) ^ n;
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Mixes integers written after the last `write`.
        folded_multiply(self.acc, self.keys[1])
    }
}

/// The default hasher, counting the values it hashes: tests of the paths that must
/// not hash (thread caches, typed tables) count with it.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Counting {
    hasher: LabelHasher,
    pub(crate) calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[cfg(test)]
impl BuildHasher for Counting {
    type Hasher = <LabelHasher as BuildHasher>::Hasher;
    fn build_hasher(&self) -> Self::Hasher {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.hasher.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn separates_values_that_concatenate_alike() {
        let h = LabelHasher::default();
        let pairs: &[(&[&str], &[&str])] = &[
            (&["ab", "c"], &["a", "bc"]),
            (&["", "x"], &["x", ""]),
            (&["abcd"], &["abdd"]),
            (&["a"], &["a", ""]),
            (&["0123456789abcdefg"], &["0123456789abcdefh"]),
            (&["0123456789abcdef0123"], &["0123456789abcdeg0123"]),
        ];
        for (a, b) in pairs {
            assert_ne!(hash_values(&h, a), hash_values(&h, b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn spreads_similar_values_over_low_and_high_bits() {
        let h = LabelHasher::default();
        let hashes: Vec<u64> = (0..4096)
            .map(|i| {
                hash_values(
                    &h,
                    &[&format!("service-{}", i / 64), &format!("/api/{}", i % 64)],
                )
            })
            .collect();
        let distinct: HashSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
        // 4096 keys over 1024 buckets: a good hash leaves about 1024·e^-4 ≈ 19 empty.
        for shift in [0, 32] {
            let used: HashSet<u64> = hashes.iter().map(|h| (h >> shift) & 1023).collect();
            assert!(
                used.len() > 990,
                "{} of 1024 buckets used (shift {shift})",
                used.len()
            );
        }
    }
}
