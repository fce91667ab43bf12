//! The label order a vec's gather reports its children in: the sorted list it keeps from
//! gather to gather, into which only the children created since are sorted.

use super::{child, key};
use crate::metrics::Metric;
use crate::prefetch::AHEAD;
use crate::sync::Ordering;

/// Adds `fresh` (children inserted since the last gather) to `sorted` (children in label
/// order), keeping that order: sorts only the new ones (see [`sort`]), then finds each one's place in
/// what follows the previous one's (see [`place_from_start`]), so a gather after `k`
/// inserts into `n` children compares about `k·log2(n/k)` times instead of sorting all of
/// them. Children
/// already removed are left out. Compares keys, the label values kept inline in each
/// child's metric, in the order `key_order` gives (see `Key::cmp_by`).
pub(super) fn add_in_order<M: Metric>(sorted: &mut Vec<M>, mut fresh: Vec<M>, key_order: &[usize]) {
    // Children created since the last gather, possibly on other cores, in creation
    // order, not in memory order: the first look at each (its removal mark here, its key
    // next, in `sort`) would be a miss in turn. Ask for both lines a few steps ahead.
    let mut kept = 0;
    for i in 0..fresh.len() {
        if let Some(ahead) = fresh.get(i + AHEAD) {
            let lifecycle = ahead.lifecycle();
            crate::prefetch::prefetch(&lifecycle.child);
            crate::prefetch::prefetch(lifecycle.identity());
        }
        // Relaxed: see `Child::removed`.
        if !child(&fresh[i]).removed.load(Ordering::Relaxed) {
            fresh.swap(kept, i);
            kept += 1;
        }
    }
    fresh.truncate(kept);
    let cmp = |a: &M, b: &M| key(a).cmp_by(key(b), key_order);
    sort(&mut fresh, key_order);
    if sorted.is_empty() {
        *sorted = fresh;
        return;
    }
    let mut places = Vec::with_capacity(fresh.len());
    let mut from = 0;
    for e in &fresh {
        let rest = sorted.get(from..).unwrap_or_default();
        from += place_from_start(rest, |s| cmp(s, e).is_lt());
        places.push(from);
    }
    let total = sorted.len() + fresh.len();
    let old = std::mem::replace(sorted, Vec::with_capacity(total));
    let mut old = old.into_iter();
    let mut taken = 0;
    for (e, place) in fresh.into_iter().zip(places) {
        sorted.extend(old.by_ref().take(place - taken));
        taken = place;
        sorted.push(e);
    }
    sorted.extend(old);
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
fn sort<M: Metric>(children: &mut Vec<M>, key_order: &[usize]) {
    // Room for keys of 64 bytes each: growing by doubling from less copied what was
    // written at each step (4,000 children of three labels, 51 bytes a key: about 4% of
    // a first gather's instructions).
    let mut bytes = Vec::with_capacity(children.len() * 64);
    let mut spans = Vec::with_capacity(children.len());
    for child in children.iter() {
        let start = bytes.len();
        if !key(child).write_sort_key(key_order, &mut bytes) {
            children.sort_unstable_by(|a, b| key(a).cmp_by(key(b), key_order));
            return;
        }
        spans.push((start, bytes.len()));
    }
    let mut keyed: Vec<Keyed<M>> = std::mem::take(children)
        .into_iter()
        .zip(spans)
        .map(|(item, (start, end))| Keyed::new(item, start, end, &bytes))
        .collect();
    sort_keyed(&mut keyed, &bytes, 0);
    children.extend(keyed.into_iter().map(|k| k.item));
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

/// `sorted.partition_point(before)`, searched from the start by doubling steps, then by
/// halving: about `2·log2(p)` calls for a place `p`, so a run of new children spread
/// over the sorted list costs little per child when each one's search starts after the
/// previous one's place.
fn place_from_start<T>(sorted: &[T], mut before: impl FnMut(&T) -> bool) -> usize {
    // All of `sorted[..low]` comes before; `sorted[low + step - 1]`, if any, does not.
    let mut low = 0;
    let mut step = 1;
    while sorted.get(low + step - 1).is_some_and(&mut before) {
        low += step;
        step *= 2;
    }
    let high = sorted.len().min(low + step);
    low + sorted
        .get(low..high)
        .map_or(0, |part| part.partition_point(before))
}

#[cfg(test)]
mod tests {
    use super::{place_from_start, sort_keyed, Keyed};

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

    #[test]
    fn place_from_start_is_the_partition_point() {
        let sorted: Vec<u32> = (0..100).map(|i| i * 2).collect();
        for len in [0, 1, 2, 3, 7, 8, 9, 100] {
            let part = &sorted[..len];
            for x in 0..205 {
                assert_eq!(
                    place_from_start(part, |&s| s < x),
                    part.partition_point(|&s| s < x),
                    "len {len}, x {x}"
                );
            }
        }
    }
}
