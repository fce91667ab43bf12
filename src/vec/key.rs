//! [`Key`]: a child's label values in one allocation, compared against a lookup's values
//! without following a pointer per value.

/// Label values stored back to back, each as its length (native-endian `usize`) followed
/// by its bytes.
pub(crate) struct Key(Box<[u8]>);

const LEN: usize = std::mem::size_of::<usize>();

impl Key {
    pub(crate) fn new(values: &[&str]) -> Self {
        let size = values.iter().map(|v| LEN + v.len()).sum();
        let mut bytes = Vec::with_capacity(size);
        for v in values {
            bytes.extend_from_slice(&v.len().to_ne_bytes());
            bytes.extend_from_slice(v.as_bytes());
        }
        Key(bytes.into_boxed_slice())
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
/// usually are: eight bytes at a time, inline.
/// The lengths are equal (checked by the caller).
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() > 32 {
        return a == b;
    }
    let mut a_words = a.chunks_exact(8);
    let mut b_words = b.chunks_exact(8);
    let words_equal = a_words.by_ref().zip(b_words.by_ref()).all(|(x, y)| {
        u64::from_ne_bytes(x.try_into().unwrap_or_default())
            == u64::from_ne_bytes(y.try_into().unwrap_or_default())
    });
    words_equal
        && a_words
            .remainder()
            .iter()
            .zip(b_words.remainder())
            .all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

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
