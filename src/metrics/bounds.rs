//! [`Bounds`]: a histogram's finite upper bounds, and a table that finds the bucket of a
//! value in a step or two however many bounds there are.
//!
//! Finding the bucket by scanning the bounds in order costs a compare and a branch per
//! bound below the value: about seven for client_golang's default bounds, the larger
//! part of an observation's time. The table is indexed by the value's binary exponent
//! (the top bits of an `f64`, read without arithmetic): for each exponent between the
//! smallest and the largest positive bound's, how many bounds are below the smallest
//! value with that exponent. A value's bucket then lies between its exponent's entry and
//! the next one, which for bounds that grow by steps of 2 or more hold at most one bound
//! between them (a scan of those few beat comparing them without branches, measured).
//! Negative values take the scan.

/// A histogram's finite upper bounds (strictly increasing, none NaN; checked before this
/// is built) with the table that finds a value's bucket among them.
#[derive(Debug, PartialEq)]
pub(crate) struct Bounds {
    finite: Box<[f64]>,
    /// The number of bounds below zero: where a scan for zero or a value below the
    /// smallest positive bound's exponent starts.
    below_zero: usize,
    /// The exponent field (the `f64`'s bits 52 to 62) of the smallest positive bound;
    /// `usize::MAX` without positive bounds.
    first_exponent: usize,
    /// For each exponent field from `first_exponent` to one past the largest bound's,
    /// the number of bounds below the smallest value with that exponent.
    starts: Box<[usize]>,
}

/// Below this many bounds a linear scan beats a binary search (client_golang uses 35).
const LINEAR_SEARCH_MAX: usize = 32;

/// The smallest non-negative `f64` with exponent field `exponent`.
fn smallest_with(exponent: usize) -> f64 {
    f64::from_bits((exponent as u64) << 52)
}

impl Bounds {
    /// The table for `finite`, which must be strictly increasing and have no NaN.
    pub(crate) fn new(finite: &[f64]) -> Self {
        let below = |v: f64| finite.partition_point(|&b| b < v);
        let positive = || finite.iter().filter(|&&b| b > 0.0);
        let exponent = |b: f64| (b.to_bits() >> 52) as usize;
        let (first_exponent, starts) = match (positive().next(), positive().next_back()) {
            (Some(&lo), Some(&hi)) => {
                let range = exponent(lo)..=exponent(hi) + 1;
                let starts = range.map(|e| below(smallest_with(e))).collect();
                (exponent(lo), starts)
            }
            _ => (usize::MAX, Box::default()),
        };
        Bounds {
            below_zero: below(0.0),
            first_exponent,
            starts,
            finite: finite.into(),
        }
    }

    /// The finite bounds.
    pub(crate) fn finite(&self) -> &[f64] {
        &self.finite
    }

    /// The bucket `v` falls into: the index of its finite bucket, or the number of
    /// finite bounds for `+Inf` (also NaN, as in client_golang).
    #[inline]
    pub(crate) fn index(&self, v: f64) -> usize {
        let bits = v.to_bits();
        let len = self.finite.len();
        if bits >> 63 != 0 {
            // Negative (or -0.0, or a NaN with the sign bit): the whole scan.
            return scan(&self.finite, 0, v);
        }
        let exponent = (bits >> 52) as usize;
        let (lo, hi) = match exponent.checked_sub(self.first_exponent) {
            // Below the smallest positive bound's exponent: only a bound of 0 can be
            // at or above `v` before the positive ones.
            None => (self.below_zero, self.starts.first().copied().unwrap_or(len)),
            Some(i) => match (self.starts.get(i), self.starts.get(i + 1)) {
                (Some(&lo), Some(&hi)) => (lo, hi),
                // At or past the exponent after the largest bound's: above them all
                // (`+Inf` and NaN too, whose exponent field is the highest).
                _ => return len,
            },
        };
        // `lo..hi` is never reversed for sorted bounds; unsorted ones are refused
        // before any histogram is made.
        match self.finite.get(lo..hi) {
            Some(between) => scan(between, lo, v),
            None => len,
        }
    }
}

/// `offset` plus the index in `bounds` of the first bound at or above `v` (the length
/// when none is; NaN is above every bound).
#[inline]
fn scan(bounds: &[f64], offset: usize, v: f64) -> usize {
    offset
        + if bounds.len() <= LINEAR_SEARCH_MAX {
            bounds.iter().position(|&b| v <= b).unwrap_or(bounds.len())
        } else if v.is_nan() {
            bounds.len()
        } else {
            bounds.partition_point(|&b| b < v)
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket by definition: the first bound at or above `v`.
    fn by_scan(finite: &[f64], v: f64) -> usize {
        finite.iter().position(|&b| v <= b).unwrap_or(finite.len())
    }

    #[test]
    fn the_table_finds_the_bucket_a_scan_finds() {
        let sets: [&[f64]; 9] = [
            &[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
            &[],
            &[0.0],
            &[-5.0, -1.0, 0.0, 1.0],
            &[f64::NEG_INFINITY, -1e300, 1e-320, 1e300, f64::MAX],
            &[1.0, 1.25, 1.5, 1.75, 2.0],
            &[1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
            &[-3.0, -2.0],
            &[f64::MIN_POSITIVE, 1.0],
        ];
        let mut dense: Vec<f64> = (0..100).map(|i| 1.0 + f64::from(i) / 100.0).collect();
        dense.push(1e6);
        let mut values = vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            1e-320,
            -1e-320,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Any bits: every exponent, sign and NaN payload.
            values.push(f64::from_bits(x));
            // Values near the bounds' scale.
            values.push((x % 20_000) as f64 / 1_000.0 - 5.0);
        }
        for finite in sets.iter().copied().chain([&dense[..]]) {
            let bounds = Bounds::new(finite);
            // Each bound and its neighbours on either side, exactly.
            let near = finite.iter().flat_map(|&b| {
                let bits = b.to_bits();
                [bits, bits.wrapping_add(1), bits.wrapping_sub(1)].map(f64::from_bits)
            });
            for v in values.iter().copied().chain(near) {
                assert_eq!(
                    bounds.index(v),
                    by_scan(finite, v),
                    "bounds {finite:?}, value {v:e} ({:#x})",
                    v.to_bits()
                );
            }
        }
    }
}
