//! The label order a vec's gather reports its children in: the sorted list it keeps from
//! gather to gather, into which only the children created since are sorted.

use std::sync::Arc;

use super::Entry;
use crate::metrics::Metric;
use crate::sync::Ordering;

/// Adds `fresh` (children inserted since the last gather) to `sorted` (children in label
/// order), keeping that order: sorts only the new ones (see [`sort`]), then finds each one's place in
/// what follows the previous one's (see [`place_from_start`]), so a gather after `k`
/// inserts into `n` children compares about `k·log2(n/k)` times instead of sorting all of
/// them. Children
/// already removed are left out. Compares keys, the label values kept inline in each
/// child's metric, in the order `key_order` gives (see `Key::cmp_by`).
pub(super) fn add_in_order<M: Metric>(
    sorted: &mut Vec<Arc<Entry<M>>>,
    mut fresh: Vec<Arc<Entry<M>>>,
    key_order: &[usize],
) {
    // Relaxed: see `Entry::removed`.
    fresh.retain(|e| !e.removed.load(Ordering::Relaxed));
    let cmp = |a: &Arc<Entry<M>>, b: &Arc<Entry<M>>| a.key().cmp_by(b.key(), key_order);
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
/// into one buffer as a sort key (see [`Key::write_sort_key`]), whose first eight bytes
/// are also kept as a number beside it: most compares then end at the numbers, the rest
/// compare two byte strings in that buffer. A key with a zero byte in a value cannot be
/// written so; then the children are sorted by comparing their keys.
///
/// [`Key::write_sort_key`]: crate::metrics::key::Key::write_sort_key
fn sort<M: Metric>(children: &mut Vec<Arc<Entry<M>>>, key_order: &[usize]) {
    let mut bytes = Vec::with_capacity(children.len() * 32);
    let mut spans = Vec::with_capacity(children.len());
    for child in children.iter() {
        let start = bytes.len();
        if !child.key().write_sort_key(key_order, &mut bytes) {
            children.sort_unstable_by(|a, b| a.key().cmp_by(b.key(), key_order));
            return;
        }
        let mut head = [0; 8];
        let written = bytes.get(start..).unwrap_or_default();
        let n = written.len().min(8);
        head[..n].copy_from_slice(&written[..n]);
        spans.push((u64::from_be_bytes(head), start, bytes.len()));
    }
    let mut keyed: Vec<Keyed<M>> = std::mem::take(children)
        .into_iter()
        .zip(spans)
        .map(|(child, (head, start, end))| Keyed {
            head,
            start,
            end,
            child,
        })
        .collect();
    keyed.sort_unstable_by(|a, b| {
        a.head.cmp(&b.head).then_with(|| {
            let key = |k: &Keyed<M>| bytes.get(k.start..k.end).unwrap_or_default();
            key(a).cmp(key(b))
        })
    });
    children.extend(keyed.into_iter().map(|k| k.child));
}

/// A child with its sort key: the key's first eight bytes as a big-endian number (zeros
/// past its end), and where the whole key lies in the sort's buffer.
struct Keyed<M> {
    head: u64,
    start: usize,
    end: usize,
    child: Arc<Entry<M>>,
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
    use super::place_from_start;

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
