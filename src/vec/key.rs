//! [`Key`]: a child's label values in one buffer, compared against a lookup's values
//! without following a pointer per value.

use smallvec::SmallVec;

/// Label values stored back to back, each as its length (native-endian `usize`) followed
/// by its bytes; inline in the child's entry when they fit (two values of up to 20
/// bytes do), so the compare on a lookup reads the entry's own memory.
pub(crate) struct Key(SmallVec<[u8; INLINE]>);

/// Bytes a key holds without an allocation of its own.
const INLINE: usize = 56;

const LEN: usize = std::mem::size_of::<usize>();

impl Key {
    pub(crate) fn new(values: &[&str]) -> Self {
        let size = values.iter().map(|v| LEN + v.len()).sum();
        let mut bytes = SmallVec::with_capacity(size);
        for v in values {
            bytes.extend_from_slice(&v.len().to_ne_bytes());
            bytes.extend_from_slice(v.as_bytes());
        }
        Key(bytes)
    }

    /// Whether the stored values are exactly `values`.
    #[inline]
    pub(crate) fn matches(&self, values: &[&str]) -> bool {
        let mut rest: &[u8] = &self.0;
        for v in values {
            let Some((len, tail)) = rest.split_first_chunk::<LEN>() else {
                return false;
            };
            let len = usize::from_ne_bytes(*len);
            if len != v.len() || tail.len() < len {
                return false;
            }
            let (stored, tail) = tail.split_at(len);
            if !bytes_eq(stored, v.as_bytes()) {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }

    /// The stored values in order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<LEN>()?;
            let (value, tail) = tail.split_at_checked(usize::from_ne_bytes(*len))?;
            rest = tail;
            // Always valid: the bytes were copied from a `&str`.
            std::str::from_utf8(value).ok()
        })
    }

    /// The value at `index`, if there is one.
    pub(crate) fn value(&self, index: usize) -> Option<&str> {
        self.values().nth(index)
    }
}

/// Byte equality without a call into libc's `memcmp` for the short strings label values
/// usually are: up to 32 bytes compare as at most four pairs of (possibly overlapping)
/// words, inline and without a loop. The lengths are equal (checked by the caller).
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4),
        8..=16 => u64_at(a, 0) == u64_at(b, 0) && u64_at(a, n - 8) == u64_at(b, n - 8),
        17..=32 => {
            u64_at(a, 0) == u64_at(b, 0)
                && u64_at(a, 8) == u64_at(b, 8)
                && u64_at(a, n - 16) == u64_at(b, n - 16)
                && u64_at(a, n - 8) == u64_at(b, n - 8)
        }
        _ => a == b,
    }
}

/// The eight bytes at `at`, as a native-endian word.
#[inline(always)]
pub(super) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// The four bytes at `at`, as a native-endian word.
#[inline(always)]
pub(super) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_eq_finds_a_difference_at_every_position_of_every_length() {
        for n in 0..48 {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(bytes_eq(&a, &a.clone()), "len {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!bytes_eq(&a, &b), "len {n}, differing at {at}");
            }
        }
        assert!(!bytes_eq(b"ab", b"abc"));
    }

    #[test]
    fn matches_exactly_and_reads_back() {
        let cases: &[&[&str]] = &[
            &[],
            &["a"],
            &["", ""],
            &["ab", "c"],
            &["a", "bc"],
            &["exactly-8", "a-much-longer-value-of-more-than-32-bytes-x"],
            &["ü", "日本"],
        ];
        for (i, a) in cases.iter().enumerate() {
            let key = Key::new(a);
            assert_eq!(key.values().collect::<Vec<_>>(), *a, "case {i}");
            for (j, b) in cases.iter().enumerate() {
                assert_eq!(key.matches(b), i == j, "{a:?} vs {b:?}");
            }
        }
        let key = Key::new(&["x", "y"]);
        assert_eq!(key.value(1), Some("y"));
        assert_eq!(key.value(2), None);
        assert!(!key.matches(&["x", "z"]));
        assert!(!key.matches(&["x", "yy"]));
    }
}
