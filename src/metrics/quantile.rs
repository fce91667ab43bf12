//! [`QuantileStream`]: targeted-quantile estimation over a stream (CKMS: Cormode, Korn,
//! Muthukrishnan, Srivastava, "Effective Computation of Biased Quantiles over Data
//! Streams", ICDE 2005), the estimator behind summary quantiles, as in client_golang.
//!
//! The stream keeps sorted tuples `(value, g, delta)`: `g` is the rank gap to the
//! previous tuple and `delta` the uncertainty of the tuple's rank. The invariant
//! `g + delta <= f(rank, n)` is what lets adjacent tuples merge; for targets
//! `(q, e)` the allowed `f` is small near rank `q * n` and grows away from it, so a
//! query for `q` is off by at most `e * n` ranks while the stream stays small.

use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
struct Tuple {
    value: f64,
    g: u64,
    delta: u64,
}

/// A stream of observations summarised for a fixed set of `(quantile, error)` targets.
#[derive(Debug, Clone)]
pub(crate) struct QuantileStream {
    targets: Arc<[(f64, f64)]>,
    tuples: Vec<Tuple>,
    /// Merge buffer, kept to avoid allocating on every insert.
    spare: Vec<Tuple>,
    n: u64,
}

impl QuantileStream {
    /// An empty stream for `targets`: quantiles and absolute errors in `[0, 1]`.
    pub(crate) fn new(targets: Arc<[(f64, f64)]>) -> Self {
        QuantileStream {
            targets,
            tuples: Vec::new(),
            spare: Vec::new(),
            n: 0,
        }
    }

    /// Forgets every observation (keeps the buffers).
    pub(crate) fn reset(&mut self) {
        self.tuples.clear();
        self.n = 0;
    }

    /// The targeted invariant `f(rank, n)`: the smallest allowance over all targets.
    fn allowed(&self, rank: f64, n: f64) -> f64 {
        self.targets
            .iter()
            .map(|&(q, e)| {
                if q <= 0.0 || q >= 1.0 {
                    // The targeted formula degenerates at the extremes; the uniform
                    // bound keeps rank error <= e * n everywhere.
                    2.0 * e * n
                } else if rank >= q * n {
                    2.0 * e * rank / q
                } else {
                    2.0 * e * (n - rank) / (1.0 - q)
                }
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Inserts a batch of observations sorted ascending, without NaN.
    pub(crate) fn insert_sorted(&mut self, batch: &[f64]) {
        if batch.is_empty() {
            return;
        }
        let mut merged = std::mem::take(&mut self.spare);
        merged.clear();
        merged.reserve(self.tuples.len() + batch.len());
        let mut old = 0;
        let mut rank = 0u64;
        let mut n = self.n;
        for &value in batch {
            while let Some(t) = self.tuples.get(old).filter(|t| t.value <= value) {
                rank += t.g;
                merged.push(*t);
                old += 1;
            }
            n += 1;
            // A new minimum or maximum knows its rank exactly; anything in between may
            // be off by as much as the invariant allows at its rank.
            let delta = if merged.is_empty() || old == self.tuples.len() {
                0
            } else {
                (self.allowed(rank as f64, n as f64).floor() as u64).saturating_sub(1)
            };
            merged.push(Tuple { value, g: 1, delta });
            rank += 1;
        }
        merged.extend_from_slice(&self.tuples[old..]);
        self.spare = std::mem::replace(&mut self.tuples, merged);
        self.n = n;
        self.compress();
    }

    /// Merges each tuple into its right neighbour where the invariant allows, from the
    /// top down; the first (minimum) and last (maximum) tuples are kept.
    fn compress(&mut self) {
        let len = self.tuples.len();
        if len < 3 {
            return;
        }
        let n = self.n as f64;
        // `w` is the slot of the tuple currently absorbing its left neighbours; kept
        // tuples are packed towards the end, then moved to the front.
        let mut w = len - 1;
        let mut suffix = self.tuples[len - 1].g;
        for i in (1..len - 1).rev() {
            let t = self.tuples[i];
            let rank = self.n - suffix - t.g;
            let right = self.tuples[w];
            let merged_width = t.g.saturating_add(right.g).saturating_add(right.delta);
            if merged_width as f64 <= self.allowed(rank as f64, n) {
                self.tuples[w].g += t.g;
            } else {
                w -= 1;
                self.tuples[w] = t;
            }
            suffix += t.g;
        }
        w -= 1;
        self.tuples[w] = self.tuples[0];
        self.tuples.drain(..w);
    }

    /// The estimated `q`-quantile; NaN when the stream is empty.
    pub(crate) fn query(&self, q: f64) -> f64 {
        let Some(first) = self.tuples.first() else {
            return f64::NAN;
        };
        let n = self.n as f64;
        // The paper's rule: the first tuple whose largest possible rank exceeds the
        // target rank plus half the allowance; its predecessor is the answer. (The
        // allowance is not rounded up, so small streams are not pushed a rank high.)
        let rank_wanted = (q * n).ceil();
        let target = rank_wanted + self.allowed(rank_wanted, n) / 2.0;
        let mut prev = first;
        let mut rank = 0u64;
        for t in &self.tuples[1..] {
            rank += prev.g;
            if rank.saturating_add(t.g).saturating_add(t.delta) as f64 > target {
                return prev.value;
            }
            prev = t;
        }
        prev.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a tiny deterministic generator for test data.
    fn random_values(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                // Exponential-ish spread so quantiles are not evenly spaced.
                let u = (z >> 11) as f64 / (1u64 << 53) as f64;
                -(1.0 - u).ln() * 100.0
            })
            .collect()
    }

    fn feed(stream: &mut QuantileStream, values: &[f64]) {
        for chunk in values.chunks(500) {
            let mut chunk = chunk.to_vec();
            chunk.sort_by(f64::total_cmp);
            stream.insert_sorted(&chunk);
        }
    }

    /// Asserts the estimate's true rank lies within `(q ± e) * n` of the sorted data.
    fn assert_within(sorted: &[f64], q: f64, e: f64, estimate: f64) {
        let n = sorted.len() as f64;
        let below = sorted.partition_point(|&v| v < estimate) as f64;
        let at_most = sorted.partition_point(|&v| v <= estimate) as f64;
        assert!(
            at_most >= ((q - e) * n).floor() && below <= ((q + e) * n).ceil(),
            "q={q} e={e}: estimate {estimate} has ranks {below}..{at_most} of {n}"
        );
    }

    #[test]
    fn estimates_are_within_the_allowed_error_and_compressed() {
        let targets: Arc<[(f64, f64)]> = Arc::new([(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)]);
        for seed in [1, 2, 3] {
            let values = random_values(seed, 20_000);
            let mut stream = QuantileStream::new(targets.clone());
            feed(&mut stream, &values);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for &(q, e) in targets.iter() {
                assert_within(&sorted, q, e, stream.query(q));
            }
            assert_eq!(stream.n, 20_000);
            assert!(
                stream.tuples.len() < 2_000,
                "not compressed: {} tuples",
                stream.tuples.len()
            );
        }
    }

    #[test]
    fn extreme_targets_and_zero_error() {
        let values = random_values(7, 5_000);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let mut stream = QuantileStream::new(Arc::new([(0.0, 0.01), (1.0, 0.0)]));
        feed(&mut stream, &values);
        assert_within(&sorted, 0.0, 0.01, stream.query(0.0));
        assert_eq!(stream.query(1.0), sorted[sorted.len() - 1]);

        let mut exact = QuantileStream::new(Arc::new([(0.5, 0.0)]));
        feed(&mut exact, &values);
        assert_within(&sorted, 0.5, 0.0, exact.query(0.5));
    }

    #[test]
    fn empty_and_reset() {
        let mut stream = QuantileStream::new(Arc::new([(0.5, 0.05)]));
        assert!(stream.query(0.5).is_nan());
        stream.insert_sorted(&[1.0, 2.0, 3.0]);
        assert_eq!(stream.query(0.5), 2.0);
        stream.reset();
        assert!(stream.query(0.5).is_nan());
        assert_eq!(stream.n, 0);
    }
}
