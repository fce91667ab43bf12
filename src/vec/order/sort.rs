//! Sorting children by their sort keys (see [`Key::write_sort_key`]): each child's
//! values in label order, written into one buffer, and the order words the sorted list
//! keeps (see [`Sorted`](super::Sorted)).
//!
//! [`Key::write_sort_key`]: crate::metrics::key::Key::write_sort_key

use super::key;
use crate::metrics::Metric;

/// Sort keys of children, in one buffer, with what each goes with (the child itself
/// when sorting, nothing when only the keys are wanted).
pub(super) struct Keys<T> {
    bytes: Vec<u8>,
    keyed: Vec<Keyed<T>>,
}

impl Keys<()> {
    /// The sort keys of `children` (see [`Key::write_sort_key`]), in their order, with
    /// sixteen zero bytes after the last (see [`Keys::words`]); `None` when a key
    /// cannot be written so.
    ///
    /// [`Key::write_sort_key`]: crate::metrics::key::Key::write_sort_key
    pub(super) fn of<M: Metric>(children: &[M], key_order: &[usize]) -> Option<Self> {
        // Room for keys of 64 bytes each: growing by doubling from less copied what was
        // written at each step (4,000 children of three labels, 51 bytes a key: about 4%
        // of a first gather's instructions).
        let mut bytes = Vec::with_capacity(children.len() * 64 + 16);
        let mut keyed = Vec::with_capacity(children.len());
        for child in children {
            let start = bytes.len();
            if !key(child).write_sort_key(key_order, &mut bytes) {
                return None;
            }
            keyed.push(Keyed::new((), start, bytes.len(), &bytes));
        }
        bytes.extend_from_slice(&[0; 16]);
        Some(Keys { bytes, keyed })
    }
}

impl<T> Keys<T> {
    /// How many keys.
    pub(super) fn len(&self) -> usize {
        self.keyed.len()
    }

    /// The first key, if any.
    pub(super) fn first(&self) -> Option<&[u8]> {
        self.keyed.first().map(|k| k.key(&self.bytes))
    }

    /// The last key, if any.
    pub(super) fn last(&self) -> Option<&[u8]> {
        self.keyed.last().map(|k| k.key(&self.bytes))
    }

    /// Each key's word from `len` on (see [`word_from`]): sixteen bytes read at once and
    /// those past the key's end cleared (sixteen bytes follow the last key, so that
    /// every read fits), rather than a copy of a length known only at run time.
    pub(super) fn words(&self, len: usize) -> Vec<u128> {
        self.keyed
            .iter()
            .map(|k| {
                let from = k.start + len;
                let Some(bytes) = self.bytes.get(from..from + 16) else {
                    return word_from(k.key(&self.bytes), len);
                };
                let word = u128::from_be_bytes(bytes.try_into().unwrap_or_default());
                // The key's bytes in the word, from its high end.
                let n = k.end.saturating_sub(from).min(16) as u32;
                word & !u128::MAX.checked_shr(8 * n).unwrap_or(0)
            })
            .collect()
    }

    /// What the keys went with, in the keys' order.
    pub(super) fn into_children(self) -> Vec<T> {
        // Into a list of its own size: collected in place, the list would keep the
        // items' room, four times what it needs (and, freed at another time than the
        // items' list used to be, a first gather of 4,000 children then took about 400
        // page faults, as the allocator gave the heap's top back and took it again).
        let mut children = Vec::with_capacity(self.keyed.len());
        children.extend(self.keyed.into_iter().map(|k| k.item));
        children
    }
}

/// New children, sorted: by their sort keys, which come with them, or, when one could
/// not be written, by comparing keys.
pub(super) enum Fresh<M> {
    Keyed(Keys<M>),
    Compared(Vec<M>),
}

impl<M> Fresh<M> {
    /// The children, sorted.
    pub(super) fn into_children(self) -> Vec<M> {
        match self {
            Fresh::Keyed(keys) => keys.into_children(),
            Fresh::Compared(children) => children,
        }
    }
}

/// Sorts children into label order.
///
/// Comparing two children's keys directly reads two metrics far apart in memory and
/// walks their values' lengths, about 165 instructions a compare (callgrind, 4,000
/// three-label children). Instead, each child's values in label order are first copied
/// into one buffer as a sort key (see [`Key::write_sort_key`]), and the keys are sorted
/// eight bytes at a time (see [`sort_keyed`]). A key with a zero byte in a value cannot
/// be written so; then the children are sorted by comparing their keys.
///
/// [`Key::write_sort_key`]: crate::metrics::key::Key::write_sort_key
pub(super) fn sort<M: Metric>(mut children: Vec<M>, key_order: &[usize]) -> Fresh<M> {
    let Some(Keys { bytes, keyed }) = Keys::of(&children, key_order) else {
        children.sort_unstable_by(|a, b| key(a).cmp_by(key(b), key_order));
        return Fresh::Compared(children);
    };
    let mut keyed: Vec<Keyed<M>> = children
        .into_iter()
        .zip(keyed)
        .map(|(item, k)| Keyed {
            word: k.word,
            start: k.start,
            end: k.end,
            item,
        })
        .collect();
    sort_keyed(&mut keyed, &bytes, 0);
    Fresh::Keyed(Keys { bytes, keyed })
}

/// An item with its sort key: where the key lies in the sort's buffer, and its word
/// (eight bytes, big-endian, zeros past the key's end) at the depth being sorted.
struct Keyed<T> {
    word: u64,
    start: usize,
    end: usize,
    item: T,
}

impl<T> Keyed<T> {
    fn new(item: T, start: usize, end: usize, bytes: &[u8]) -> Self {
        Keyed {
            word: word_at(bytes, start, end, 0),
            start,
            end,
            item,
        }
    }

    /// The whole key.
    fn key<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        bytes.get(self.start..self.end).unwrap_or_default()
    }

    /// Whether the key ends within its word at `depth`.
    fn ends_at(&self, depth: usize) -> bool {
        self.end - self.start <= (depth + 1) * 8
    }

    /// The key from its word at `depth` on.
    fn rest<'b>(&self, bytes: &'b [u8], depth: usize) -> &'b [u8] {
        bytes
            .get(self.start.saturating_add(depth * 8)..self.end)
            .unwrap_or_default()
    }
}

/// The word of the key at `start..end` in `bytes` at `depth`: its bytes from
/// `start + 8·depth`, big-endian, zeros past `end`.
#[inline]
fn word_at(bytes: &[u8], start: usize, end: usize, depth: usize) -> u64 {
    let from = start.saturating_add(depth * 8);
    if let Some(word) = bytes.get(from..from.saturating_add(8)) {
        if from + 8 <= end {
            return u64::from_be_bytes(word.try_into().unwrap_or_default());
        }
    }
    let mut word = [0; 8];
    let tail = bytes.get(from..end).unwrap_or_default();
    let n = tail.len().min(8);
    word[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(word)
}

/// Below this many items, a part is sorted by comparing keys.
const SMALL_PART: usize = 12;

/// Past this many words of a shared prefix (256 bytes), a part is sorted by comparing
/// keys, so that the recursion stays shallow whatever the keys.
const DEEPEST: usize = 32;

/// Sorts `items` by their keys in `bytes`, which must be prefix-free (no key is the
/// start of another, as zero-terminated values, as many per key, are): a most
/// significant digit first radix sort whose digits are eight-byte words. Each part is
/// sorted by one word, and only runs of items with the same word move on to the next,
/// so keys sharing long prefixes (children with the same values for most labels) cost a
/// compare of one number per word rather than a `memcmp` from the start on every
/// compare.
///
/// Each word is sorted by the standard library's unstable sort, whose partitions on an
/// integer key do not branch on each compare: a three-way partition of our own, whose
/// branches on each word mispredicted about every other time when the words differed,
/// took a third longer for a first gather of 4,000 new children (probe, 485 against
/// 370 µs).
///
/// The items' keys agree before their word at `depth`, which each holds in `word`:
/// called with 0, and again for each run of items that agree on that word.
fn sort_keyed<T>(items: &mut [Keyed<T>], bytes: &[u8], depth: usize) {
    if items.len() <= SMALL_PART || depth >= DEEPEST {
        items.sort_unstable_by(|a, b| {
            a.word
                .cmp(&b.word)
                .then_with(|| a.rest(bytes, depth + 1).cmp(b.rest(bytes, depth + 1)))
        });
        return;
    }
    items.sort_unstable_by_key(|k| k.word);
    for equal in items.chunk_by_mut(|a, b| a.word == b.word) {
        // Keys agreeing up to the end of one of them are the same key.
        if equal.len() < 2 || equal[0].ends_at(depth) {
            continue;
        }
        for k in equal.iter_mut() {
            k.word = word_at(bytes, k.start, k.end, depth + 1);
        }
        sort_keyed(equal, bytes, depth + 1);
    }
}

/// The bytes of `key` from `len` on, the first sixteen, big-endian, zeros past its end:
/// for keys that share their first `len` bytes, a greater word is a greater key, and
/// equal words leave the order to the rest (sort keys are prefix-free, so a key ending
/// within its word is not the start of a longer one).
pub(super) fn word_from(key: &[u8], len: usize) -> u128 {
    let mut word = [0; 16];
    let rest = key.get(len..).unwrap_or_default();
    let n = rest.len().min(16);
    word[..n].copy_from_slice(&rest[..n]);
    u128::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::super::common_prefix;
    use super::{sort_keyed, word_from, Keyed, Keys};

    /// Zero-terminated keys of three values each, many sharing long prefixes and whole
    /// values (some longer than the radix passes go: `DEEPEST` words), in a scrambled
    /// order, sorted as their bytes order; also runs of equal words and inputs already in
    /// order or reversed.
    #[test]
    fn sort_keyed_orders_keys_as_their_bytes_do() {
        let deep = "deep".repeat(2 * super::DEEPEST + 1);
        let mut seed = 11u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) % n) as usize
        };
        for len in [0, 1, 2, 11, 12, 13, 40, 500, 3000] {
            let mut keys: Vec<Vec<u8>> = (0..len)
                .map(|i| {
                    let kind = ["a", "internal", "timeout-longer-than-a-word", &deep][next(4)];
                    let route = format!("/api/v1/route/{}", next(7));
                    let user = match next(3) {
                        0 => format!("user-{i}"),
                        1 => format!("u{}", "x".repeat(next(20))) + &i.to_string(),
                        _ => i.to_string(),
                    };
                    [kind, &route, &user]
                        .iter()
                        .flat_map(|v| v.bytes().chain([0]))
                        .collect()
                })
                .collect();
            match len % 3 {
                0 => keys.sort(),
                1 => keys.sort_by(|a, b| b.cmp(a)),
                _ => {}
            }
            let mut bytes = Vec::new();
            let mut items: Vec<Keyed<usize>> = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                let start = bytes.len();
                bytes.extend_from_slice(key);
                items.push(Keyed::new(i, start, bytes.len(), &bytes));
            }
            sort_keyed(&mut items, &bytes, 0);
            let got: Vec<&[u8]> = items.iter().map(|k| &bytes[k.start..k.end]).collect();
            let mut expected: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            expected.sort();
            assert_eq!(got, expected, "{len} keys");
            let mut seen: Vec<usize> = items.iter().map(|k| k.item).collect();
            seen.sort();
            assert!(seen.into_iter().eq(0..len), "every item once, {len} keys");
        }
    }

    /// Words read sixteen bytes at a time from the keys' buffer (or, near its end, copied)
    /// are the keys' bytes from the shared start on, zeros past each key's end, as
    /// `word_from` makes them;
    /// and for keys that share that start, different words order as the keys do.
    #[test]
    fn words_order_keys_that_share_a_start() {
        let values = [
            "",
            "a",
            "ab",
            "shared-",
            "shared-start-",
            "shared-start-longer-than-a-word-",
        ];
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for a in values {
            for b in values {
                for n in [0, 7, 1234] {
                    let key = format!("pre:{a}{n}\0{b}{n}\0");
                    keys.push(key.into_bytes());
                }
            }
        }
        keys.sort();
        keys.dedup();
        let shared = common_prefix(&keys[0], &keys[keys.len() - 1]);
        assert_eq!(shared, 4, "\"pre:\" and no more");
        // In order, and the other way round: with no zeros after the last key (unlike
        // `Keys::of`), the words of keys near the buffer's end are copied.
        for buffer_order in [keys.clone(), keys.iter().rev().cloned().collect()] {
            let mut bytes = Vec::new();
            let mut keyed = Vec::new();
            for key in &buffer_order {
                let start = bytes.len();
                bytes.extend_from_slice(key);
                keyed.push(Keyed::new((), start, bytes.len(), &bytes));
            }
            let all = Keys { bytes, keyed };
            for len in [0, 2, shared] {
                let words = all.words(len);
                for (key, &word) in buffer_order.iter().zip(&words) {
                    assert_eq!(word, word_from(key, len), "{key:?} from {len}");
                }
                for (i, a) in buffer_order.iter().enumerate() {
                    for (j, b) in buffer_order.iter().enumerate() {
                        if words[i] != words[j] {
                            assert_eq!(words[i] < words[j], a < b, "{a:?} {b:?} from {len}");
                        }
                    }
                }
            }
        }
    }
}
