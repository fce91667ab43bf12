//! [`Key`]: a child's label values in one buffer, compared against a lookup's values
//! without following a pointer per value.

use std::cmp::Ordering;
use std::ptr::NonNull;

/// Label values stored back to back, each as its length (LEB128: one byte below 128)
/// followed by its bytes; inline in the child's [`Lifecycle`](super::Lifecycle) when they
/// fit (up to [`INLINE`] bytes: three values of 13 bytes do), so the compare on a lookup
/// reads only the lifecycle's first cache line. Longer ones are placed in the child's own
/// allocation, after its state (see [`Key::placed`]), which saves each such child an
/// allocation of its own.
pub(crate) struct Key(Repr);

/// The bytes, inline or in the allocation of the metric holding the key. 48 bytes
/// either way: the tag, the inline length and `INLINE` bytes; with the lifecycle's hash
/// and mark, one 64-byte line.
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    /// `len` bytes at `at`, which outlive the key (see [`Key::placed`]).
    Placed {
        at: NonNull<u8>,
        len: usize,
    },
}

// SAFETY: a placed key's bytes are written before the key is made and never after, and
// outlive it (`Key::placed`'s contract): the key only hands out shared access to bytes
// nothing changes, as a `Box<[u8]>` would.
unsafe impl Send for Key {}
// SAFETY: as for `Send` above.
unsafe impl Sync for Key {}

/// Bytes a key holds inline.
const INLINE: usize = 46;

impl Key {
    /// How many bytes the key of `values` takes outside its lifecycle (see
    /// [`Key::placed`]): `None` when it fits inline.
    pub(crate) fn placed_len(values: &[&str]) -> Option<usize> {
        let total: usize = values.iter().map(|v| len_size(v.len()) + v.len()).sum();
        (total > INLINE).then_some(total)
    }

    /// The key of `values`: inline when `room` is `None` (`placed_len` is), else
    /// written into `room`, which has `placed_len(values)` bytes.
    ///
    /// # Safety
    ///
    /// `room`, if any, is valid for writes of its length, which is `placed_len(values)`,
    /// and nothing else reads or writes it while the key, or any key moved from it,
    /// lives, nor frees it before: in a metric's allocation, the key lives in the state,
    /// which is dropped before the allocation is freed.
    pub(crate) unsafe fn placed(values: &[&str], room: Option<NonNull<[u8]>>) -> Self {
        let Some(room) = room else {
            let mut bytes = [0; INLINE];
            let len = write_values(values, &mut bytes);
            // At most `INLINE` bytes: `placed_len` is `None` (the caller's promise), and
            // `write_values` writes no more than `bytes` holds.
            return Key(Repr::Inline {
                len: len as u8,
                bytes,
            });
        };
        let (at, len) = (room.cast::<u8>(), room.len());
        // SAFETY: the caller's promise: `len` writable bytes that only this key uses,
        // zeroed first so that the slice below refers to initialized bytes.
        let bytes = unsafe {
            at.as_ptr().write_bytes(0, len);
            std::slice::from_raw_parts_mut(at.as_ptr(), len)
        };
        write_values(values, bytes);
        Key(Repr::Placed { at, len })
    }

    /// The encoded values.
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            // SAFETY: `len` bytes written by `placed`, unchanged and alive while the key
            // is (its contract).
            Repr::Placed { at, len } => unsafe { std::slice::from_raw_parts(at.as_ptr(), *len) },
        }
    }

    /// Whether the stored values are exactly `values`.
    ///
    /// Always inlined: a cached lookup compares in two places, and out of line the call
    /// and its register spills cost more than the compare (measured with callgrind: about
    /// 75 instructions instead of 33 for two values).
    #[inline(always)]
    pub(crate) fn matches(&self, values: &[&str]) -> bool {
        let mut rest: &[u8] = self.bytes();
        for v in values {
            let Some((len, tail)) = read_len(rest) else {
                return false;
            };
            if len != v.len() {
                return false;
            }
            let Some((stored, tail)) = tail.split_at_checked(len) else {
                return false;
            };
            if !bytes_eq(stored, v.as_bytes()) {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }

    /// The stored values in order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        // Always valid: the bytes were copied from a `&str`.
        self.byte_values()
            .map_while(|value| std::str::from_utf8(value).ok())
    }

    /// The stored values in order, as bytes.
    fn byte_values(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest: &[u8] = self.bytes();
        std::iter::from_fn(move || {
            let (len, tail) = read_len(rest)?;
            let (value, tail) = tail.split_at_checked(len)?;
            rest = tail;
            Some(value)
        })
    }

    /// Orders two children's keys as their label sets order: by the values at the
    /// positions in `order` (the variable labels in name order; empty when that is the
    /// declaration order), each compared as bytes, which is how `str` orders. The other
    /// labels of a child are constant, the same for every child.
    pub(crate) fn cmp_by(&self, other: &Key, order: &[usize]) -> Ordering {
        if order.is_empty() {
            return cmp_in_turn(self.bytes(), other.bytes());
        }
        // Value by value in `order`, each found by hopping over the lengths before it
        // (vecs have few labels): no allocation, no call into `memcmp`.
        for &i in order {
            let a = self.byte_values().nth(i);
            let b = other.byte_values().nth(i);
            let unequal = match (a, b) {
                (Some(a), Some(b)) => bytes_cmp(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            };
            if unequal.is_ne() {
                return unequal;
            }
        }
        Ordering::Equal
    }

    /// Appends the values at the positions in `order` (every value in stored order when
    /// `order` is empty), each followed by a zero byte, to `out`: such byte strings order
    /// as [`Key::cmp_by`] orders the keys, as long as no value holds a zero byte (a
    /// shorter value ends with a zero where a longer one goes on with a greater byte).
    /// Returns false, having appended part, when one does.
    pub(crate) fn write_sort_key(&self, order: &[usize], out: &mut Vec<u8>) -> bool {
        let bytes = self.bytes();
        // A zero byte among the stored ones is an empty value's length or a zero in a
        // value: without one, no value needs looking at.
        let zero_free = !has_zero_byte(bytes);
        if order.is_empty() && zero_free && write_sort_key_in_place(bytes, out) {
            return true;
        }
        let mut put = |value: &[u8]| {
            if !zero_free && value.contains(&0) {
                return false;
            }
            out.extend_from_slice(value);
            out.push(0);
            true
        };
        if order.is_empty() {
            return self.byte_values().all(put);
        }
        order
            .iter()
            .all(|&i| self.byte_values().nth(i).is_some_and(&mut put))
    }

    /// The value at `index`, if there is one.
    pub(crate) fn value(&self, index: usize) -> Option<&str> {
        self.values().nth(index)
    }
}

/// [`Key::write_sort_key`] in stored order for a key's stored `bytes` whose values are
/// fewer than 128 bytes each, none empty or holding a zero: the stored bytes from the
/// second on, each later length (one byte) overwritten with the zero that ends the value
/// before it, then a last zero. One copy instead of one per value. False, having written
/// nothing, if a length takes more than one byte.
fn write_sort_key_in_place(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.extend_from_slice(bytes.get(1..).unwrap_or_default());
    out.push(0);
    // Where the current value's length is in `bytes`; one less in the sort key.
    let mut at = 0;
    while let Some(&len) = bytes.get(at) {
        if len >= 0x80 {
            out.truncate(start);
            return false;
        }
        at += 1 + usize::from(len);
        if let Some(end) = out.get_mut(start + at - 1) {
            *end = 0;
        }
    }
    true
}

/// Whether a byte of `bytes` is zero, eight at a time: in each word, a zero byte sets
/// its top bit in `(x - 0x01..) & !x & 0x80..` (and the lowest zero byte always does).
/// The last word overlaps the one before it when the length is not a multiple of eight.
#[inline]
fn has_zero_byte(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_in = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let n = bytes.len();
    if n < 8 {
        return bytes.contains(&0);
    }
    let mut found = false;
    let mut at = 0;
    while at + 8 < n {
        found |= zero_in(u64_at(bytes, at));
        at += 8;
    }
    found | zero_in(u64_at(bytes, n - 8))
}

/// Orders two keys' bytes value by value, in their stored order.
///
/// A gather sorts new children with this, and children's keys often share most of their
/// bytes (the same values for most labels): so it first finds the first byte at which
/// the two encodings differ, a word at a time. Before that byte both hold the same
/// lengths and values at the same places, so a walk over the lengths alone finds the
/// value it falls in; if it falls in the value's bytes, that byte decides (the lengths
/// are equal), else the two values there are compared.
fn cmp_in_turn(a: &[u8], b: &[u8]) -> Ordering {
    let Some(at) = first_difference(a, b) else {
        // Equal, or one a prefix of the other, which keys with as many values are not.
        return cmp_values(a, b);
    };
    let mut start = 0;
    while let Some((len, tail)) = a.get(start..).and_then(read_len) {
        let value = a.len() - tail.len();
        if at < value {
            break;
        }
        let end = value + len;
        if at < end {
            return a.get(at).cmp(&b.get(at));
        }
        start = end;
    }
    match (a.get(start..), b.get(start..)) {
        (Some(a), Some(b)) => cmp_values(a, b),
        _ => cmp_values(a, b),
    }
}

/// The index of the first byte at which `a` and `b` differ, if they differ within the
/// shorter one's length.
#[inline]
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let n = a.len().min(b.len());
    let le64 = |bytes: &[u8], at: usize| u64::from_le_bytes(u64_at(bytes, at).to_ne_bytes());
    let mut at = 0;
    while at + 8 <= n {
        let differing = le64(a, at) ^ le64(b, at);
        if differing != 0 {
            // Little-endian: the lowest differing bit is in the first differing byte.
            return Some(at + differing.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    (at..n).find(|&i| a.get(i) != b.get(i))
}

/// Orders two keys' bytes value by value: each value's bytes, then the next value's.
fn cmp_values(mut a: &[u8], mut b: &[u8]) -> Ordering {
    loop {
        let (Some((la, ta)), Some((lb, tb))) = (read_len(a), read_len(b)) else {
            // At the end of either: the one with values left is greater.
            return (!a.is_empty()).cmp(&!b.is_empty());
        };
        let (Some((va, ra)), Some((vb, rb))) = (ta.split_at_checked(la), tb.split_at_checked(lb))
        else {
            return Ordering::Equal;
        };
        match bytes_cmp(va, vb) {
            Ordering::Equal => (a, b) = (ra, rb),
            unequal => return unequal,
        }
    }
}

/// `a.cmp(b)` for the short strings label values usually are, without a call into
/// libc's `memcmp`: the common prefix compares as big-endian words, so the first
/// differing byte decides as in a byte-by-byte compare; the last word of the prefix
/// overlaps the one before it (where the bytes are equal) when the prefix is not a
/// multiple of a word long.
#[inline]
fn bytes_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let be64 = |bytes: &[u8], at: usize| u64::from_be_bytes(u64_at(bytes, at).to_ne_bytes());
    let be32 = |bytes: &[u8], at: usize| u32::from_be_bytes(u32_at(bytes, at).to_ne_bytes());
    let prefix = if n >= 8 {
        let mut at = 0;
        while at + 8 < n && be64(a, at) == be64(b, at) {
            at += 8;
        }
        be64(a, at.min(n - 8)).cmp(&be64(b, at.min(n - 8)))
    } else if n >= 4 {
        be32(a, 0)
            .cmp(&be32(b, 0))
            .then_with(|| be32(a, n - 4).cmp(&be32(b, n - 4)))
    } else {
        a.iter().take(n).cmp(b.iter().take(n))
    };
    prefix.then(a.len().cmp(&b.len()))
}

/// How many bytes `Key::new` writes for a length.
fn len_size(mut len: usize) -> usize {
    let mut size = 1;
    while len >= 0x80 {
        len >>= 7;
        size += 1;
    }
    size
}

/// Writes `values` as `Key::new` stores them into `out`, which has room for them;
/// returns how many bytes that took.
fn write_values(values: &[&str], out: &mut [u8]) -> usize {
    let mut at = 0;
    for v in values {
        let mut len = v.len();
        loop {
            let last = len < 0x80;
            if let Some(b) = out.get_mut(at) {
                *b = if last { len as u8 } else { len as u8 | 0x80 };
            }
            at += 1;
            if last {
                break;
            }
            len >>= 7;
        }
        if let Some(dst) = out.get_mut(at..at + v.len()) {
            dst.copy_from_slice(v.as_bytes());
        }
        at += v.len();
    }
    at
}

/// A length written by `Key::new` and what follows it.
#[inline]
fn read_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    match bytes.split_first()? {
        (&b, rest) if b < 0x80 => Some((usize::from(b), rest)),
        _ => read_long_len(bytes),
    }
}

#[cold]
fn read_long_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut len = 0usize;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        len |= usize::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b < 0x80 {
            return Some((len, &bytes[i + 1..]));
        }
    }
    None
}

/// Byte equality without a call into libc's `memcmp` for the short strings label values
/// usually are, and without a branch on the length between 8 and 32 bytes: the values of
/// one label often span that range (routes, names), and a lookup whose branches depend on
/// which value it compares is mispredicted whenever the values come in no fixed order.
/// Such a value compares as four words at 0, 8, 16 and 24, each moved back to end at the
/// value's end when it would pass it (overlapping the others for shorter values).
#[inline(always)]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        if n > 32 {
            return a == b;
        }
        let last = n - 8;
        let differs = |at: usize| u64_at(a, at) ^ u64_at(b, at);
        return differs(0) | differs(last.min(8)) | differs(last.min(16)) | differs(last) == 0;
    }
    if n >= 4 {
        return u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4);
    }
    n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1])
}

/// The eight bytes at `at`, as a native-endian word.
#[inline(always)]
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// The four bytes at `at`, as a native-endian word.
#[inline(always)]
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key of `values` as tests use one: placed, if too long to be inline, in a
    /// buffer that lives as long as it.
    struct Owned {
        key: Key,
        _bytes: Vec<u8>,
    }

    impl std::ops::Deref for Owned {
        type Target = Key;

        fn deref(&self) -> &Key {
            &self.key
        }
    }

    fn key(values: &[&str]) -> Owned {
        let mut bytes = vec![0; Key::placed_len(values).unwrap_or(0)];
        let room = Key::placed_len(values).map(|_| NonNull::from(bytes.as_mut_slice()));
        // SAFETY: the buffer has room for the placed bytes, only the key uses it, and it
        // is dropped after the key (the fields drop in order).
        let key = unsafe { Key::placed(values, room) };
        Owned { key, _bytes: bytes }
    }

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

    /// Keys order as the label sets built from the same values, in declaration order or
    /// through a permutation to name order.
    #[test]
    fn keys_order_as_their_label_sets() {
        let values: &[[&str; 2]] = &[
            ["b", "a"],
            ["a", "b"],
            ["a", "ab"],
            ["ab", ""],
            ["a", ""],
            ["", "z"],
            ["é", "a"],
            ["z", "a"],
        ];
        // Declared as ("x", "y") and as ("y", "x"): name order is then [1, 0].
        for (names, order) in [(["x", "y"], &[][..]), (["y", "x"], &[1, 0][..])] {
            for a in values {
                for b in values {
                    let set = |v: &[&str; 2]| {
                        crate::LabelSet::from_pairs("m", &[(names[0], v[0]), (names[1], v[1])])
                            .unwrap()
                    };
                    assert_eq!(
                        key(a).cmp_by(&key(b), order),
                        set(a).cmp(&set(b)),
                        "{names:?}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    /// Keys of many shapes (empty values, values sharing prefixes, lengths of one and
    /// of two bytes) order as their values do.
    #[test]
    fn keys_order_value_by_value() {
        let values = [
            String::new(),
            "a".into(),
            "a\0".into(),
            "ab".into(),
            "b".into(),
            "x".repeat(7),
            "x".repeat(8),
            "x".repeat(9),
            "x".repeat(127),
            "x".repeat(128),
            "x".repeat(129) + "a",
            "x".repeat(200),
            "y".repeat(127),
        ];
        let mut keys: Vec<[&str; 3]> = Vec::new();
        for a in &values {
            for b in &values {
                for c in [&values[0], &values[3], &values[9]] {
                    keys.push([a, b, c]);
                }
            }
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(key(a).cmp_by(&key(b), &[]), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    /// Sort keys order as `cmp_by` does, in stored order and through a permutation, and
    /// a value with a zero byte is refused.
    #[test]
    fn sort_keys_order_as_keys_do() {
        let long = "y".repeat(130);
        let values = ["", "a", "ab", "b", "x-longer-than-eight", "é", &long];
        let mut keys: Vec<Owned> = Vec::new();
        for a in values {
            for b in values {
                keys.push(key(&[a, b]));
                // Written after other bytes, the values each with their zero, in order.
                for order in [&[][..], &[1, 0][..]] {
                    let mut out = vec![7];
                    assert!(key(&[a, b]).write_sort_key(order, &mut out));
                    let (first, second) = if order.is_empty() { (a, b) } else { (b, a) };
                    let expected = [&[7][..], first.as_bytes(), &[0], second.as_bytes(), &[0]];
                    assert_eq!(out, expected.concat(), "{a:?} {b:?} {order:?}");
                }
            }
        }
        for order in [&[][..], &[1, 0][..]] {
            let sort_key = |k: &Key| {
                let mut out = Vec::new();
                assert!(k.write_sort_key(order, &mut out));
                out
            };
            for a in &keys {
                for b in &keys {
                    assert_eq!(sort_key(a).cmp(&sort_key(b)), a.cmp_by(b, order));
                }
            }
        }
        assert!(!key(&["a", "b\0"]).write_sort_key(&[], &mut Vec::new()));
        // A zero anywhere in a value is refused, whatever its place in a word.
        for len in 1..20 {
            for at in 0..len {
                let mut value = vec![b'v'; len];
                value[at] = 0;
                let value = String::from_utf8(value).unwrap();
                for (order, first) in [(&[][..], ""), (&[][..], "a"), (&[1, 0][..], "a")] {
                    let key = key(&[first, &value]);
                    assert!(
                        !key.write_sort_key(order, &mut vec![7; at % 5]),
                        "{len} {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn has_zero_byte_finds_a_zero_at_every_position_of_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| 0x80 | i as u8).collect();
            assert!(!super::has_zero_byte(&bytes), "{len}");
            assert!(!super::has_zero_byte(&vec![1; len]), "{len}");
            for at in 0..len {
                for fill in [0x01, 0x80, 0xff] {
                    let mut bytes = vec![fill; len];
                    bytes[at] = 0;
                    assert!(super::has_zero_byte(&bytes), "{len} {at} {fill}");
                }
            }
        }
    }

    #[test]
    fn bytes_cmp_orders_as_slices_do() {
        let mut values: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0, 0], vec![255]];
        for n in 1..40u8 {
            let base: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            for at in [0, n / 2, n - 1] {
                for delta in [1u8, 128] {
                    let mut v = base.clone();
                    v[usize::from(at)] = v[usize::from(at)].wrapping_add(delta);
                    values.push(v);
                }
            }
            values.push(base);
        }
        for a in &values {
            for b in &values {
                assert_eq!(bytes_cmp(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn long_values_take_longer_lengths() {
        let (a, b, c) = ("a".repeat(127), "b".repeat(128), "c".repeat(20_000));
        let key = key(&[&a, &b, &c, ""]);
        assert_eq!(key.values().collect::<Vec<_>>(), [&a[..], &b, &c, ""]);
        assert!(key.matches(&[&a, &b, &c, ""]));
        let mut c2 = c.clone();
        c2.push('c');
        assert!(!key.matches(&[&a, &b, &c2, ""]));
        assert!(!key.matches(&[&a, &b, &c[1..], ""]));
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
            let key = key(a);
            assert_eq!(key.values().collect::<Vec<_>>(), *a, "case {i}");
            for (j, b) in cases.iter().enumerate() {
                assert_eq!(key.matches(b), i == j, "{a:?} vs {b:?}");
            }
        }
        let key = key(&["x", "y"]);
        assert_eq!(key.value(1), Some("y"));
        assert_eq!(key.value(2), None);
        assert!(!key.matches(&["x", "z"]));
        assert!(!key.matches(&["x", "yy"]));
    }
}
