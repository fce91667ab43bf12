//! The label order a vec's gather reports its children in: the sorted list it keeps from
//! gather to gather, into which only the children created since are sorted.

use super::{child, key};
use crate::metrics::Metric;
use crate::prefetch::AHEAD;
use crate::sync::Ordering;
use sort::{sort, Fresh, Keys};

mod sort;

/// The children a gather has seen, in label order, each with its order word: sixteen
/// bytes of its sort key (see [`Key::write_sort_key`]) from where the keys of all
/// children start to differ. New children find their places by comparing words, which
/// lie side by side in one list, and compare keys only when two words are equal: a
/// compare of keys reads the child's identity, a line of its own allocation anywhere in
/// memory, and hops over the values in label order (in a churn round, 1,000 new children
/// among 10,000 took about eight such compares each, 87 µs in all).
///
/// [`Key::write_sort_key`]: crate::metrics::key::Key::write_sort_key
pub(crate) struct Sorted<M> {
    children: Vec<M>,
    /// `words[i]` is the order word of `children[i]`, as [`Prefix`] says; empty while
    /// there are none yet.
    words: Vec<u128>,
    prefix: Prefix,
    /// Empty lists with room, from the previous merge, for the next one.
    spare: (Vec<M>, Vec<u128>),
}

/// What the order words stand for.
enum Prefix {
    /// No words yet: the list's children came at once into an empty list, and no merge
    /// has needed their words since (a vec gathered once, say). The next merge writes
    /// them (see [`Sorted::words_of_fresh`]).
    Unset,
    /// Every child's sort key starts with the first `len` bytes of `reference`, the sort
    /// key of a child added earlier; a word is the sort key's bytes from `len` on (see
    /// [`sort::word_from`]).
    Shared { reference: Vec<u8>, len: usize },
    /// A child's key could not be written as a sort key (a value with a zero byte): the
    /// words are zero and children are ordered by comparing keys alone, until the list
    /// is empty again.
    Off,
}

impl<M: Metric> Sorted<M> {
    pub(crate) fn new() -> Self {
        Sorted {
            children: Vec::new(),
            words: Vec::new(),
            prefix: Prefix::Unset,
            spare: (Vec::new(), Vec::new()),
        }
    }

    /// The children, in label order.
    pub(crate) fn children(&self) -> &[M] {
        &self.children
    }

    /// Moves the child at `from` down to `to` (with its word), where a child that
    /// [`Sorted::truncate`] drops was: the two children swap places, and the word at
    /// `to` is overwritten.
    #[inline]
    pub(crate) fn keep(&mut self, to: usize, from: usize) {
        // Until the first removed child, every child stays where it is.
        if to == from {
            return;
        }
        self.children.swap(to, from);
        if let Some(&word) = self.words.get(from) {
            if let Some(place) = self.words.get_mut(to) {
                *place = word;
            }
        }
    }

    /// Keeps only the children for which `keep` is true, in their order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&M) -> bool) {
        let mut kept = 0;
        for i in 0..self.children.len() {
            if keep(&self.children[i]) {
                self.keep(kept, i);
                kept += 1;
            }
        }
        self.truncate(kept);
    }

    /// Drops the children from `from` on (removed children, most of which only the list
    /// still holds, so that each drop frees the child), asking ahead for what the drops
    /// change: a freed child's reference counts and child state (which holds its label
    /// set's address), then its label set's count lie far apart in memory, the second
    /// found only through the first, and each changed by a locked instruction that holds
    /// up what follows until its line is in.
    pub(crate) fn truncate(&mut self, from: usize) {
        self.words.truncate(from);
        let mut dead = self.children.drain(from..);
        loop {
            let ahead = dead.as_slice();
            if let Some(e) = ahead.get(2 * AHEAD) {
                crate::prefetch::prefetch_handle(e.lifecycle());
                crate::prefetch::prefetch(&child(e).labels);
            }
            if let Some(e) = ahead.get(AHEAD) {
                child(e).labels.prefetch_count();
            }
            if dead.next().is_none() {
                break;
            }
        }
    }

    /// Adds `fresh` (children inserted since the last gather), keeping label order:
    /// sorts only the new ones (see [`sort()`]), then finds each one's place in what
    /// follows the previous one's (see [`place_from_start`]), so a gather after `k`
    /// inserts into `n` children compares about `k·log2(n/k)` times instead of sorting
    /// all of them. Children already removed are left out. Keys are compared in the
    /// order `key_order` gives (see `Key::cmp_by`).
    pub(crate) fn add(&mut self, mut fresh: Vec<M>, key_order: &[usize]) {
        // Children created since the last gather, possibly on other cores, in creation
        // order, not in memory order: the first look at each (its removal mark here, its
        // key next, in `sort`) would be a miss in turn. Ask for both lines a few steps
        // ahead.
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
        if fresh.is_empty() {
            return;
        }
        let fresh = sort(fresh, key_order);
        if self.children.is_empty() {
            // Words wait for a merge that needs them (see `Prefix::Unset`): a first
            // gather does not.
            self.prefix = Prefix::Unset;
            self.words.clear();
            self.children = fresh.into_children();
            return;
        }
        let (fresh, fresh_words) = self.words_of_fresh(fresh, key_order);
        let words_on = matches!(self.prefix, Prefix::Shared { .. });
        let mut places = Vec::with_capacity(fresh.len());
        let mut from = 0;
        for (e, &word) in fresh.iter().zip(&fresh_words) {
            let children = self.children.get(from..).unwrap_or_default();
            let words = self.words.get(from..).unwrap_or_default();
            from += place_from_start(words, |at, &w| {
                if words_on && w != word {
                    return w < word;
                }
                children
                    .get(at)
                    .is_some_and(|s| key(s).cmp_by(key(e), key_order).is_lt())
            });
            places.push(from);
        }
        // Into the lists of the previous merge, kept with their room: new ones, for
        // 10,000 children, took about ten page faults a gather (the allocator gives
        // memory back at the heap's top and faults it in again).
        let mut children = std::mem::take(&mut self.spare.0);
        let mut words = std::mem::take(&mut self.spare.1);
        children.reserve(self.children.len() + fresh.len());
        words.reserve(self.children.len() + fresh.len());
        let mut old = self.children.drain(..);
        let mut taken = 0;
        for ((e, word), place) in fresh.into_iter().zip(fresh_words).zip(places) {
            children.extend(old.by_ref().take(place - taken));
            words.extend_from_slice(self.words.get(taken..place).unwrap_or_default());
            taken = place;
            children.push(e);
            words.push(word);
        }
        children.extend(old);
        words.extend_from_slice(self.words.get(taken..).unwrap_or_default());
        self.words.clear();
        self.spare = (
            std::mem::replace(&mut self.children, children),
            std::mem::replace(&mut self.words, words),
        );
    }

    /// The new children, sorted, with their words: narrows the shared prefix to what
    /// their keys share with the reference, writing the words of the children in the
    /// list if it narrowed, or if they have none yet (then the first of them is the
    /// reference, and what the list's own first and last keys share narrows it too).
    fn words_of_fresh(&mut self, fresh: Fresh<M>, key_order: &[usize]) -> (Vec<M>, Vec<u128>) {
        let keys = match fresh {
            Fresh::Keyed(keys) => keys,
            Fresh::Compared(children) => {
                self.words_off();
                let words = vec![0; children.len()];
                return (children, words);
            }
        };
        let mut listed = None;
        if matches!(self.prefix, Prefix::Unset) {
            match Keys::of(&self.children, key_order) {
                Some(list) => {
                    if let Some(first) = list.first() {
                        self.prefix = Prefix::Shared {
                            reference: first.to_vec(),
                            len: first.len(),
                        };
                    }
                    listed = Some(list);
                }
                None => self.words_off(),
            }
        }
        let Prefix::Shared { reference, len } = &mut self.prefix else {
            let words = vec![0; keys.len()];
            return (keys.into_children(), words);
        };
        let before = *len;
        // Keys are sorted: what the first and the last share with the reference, all
        // between share too.
        let listed_ends = listed.iter().flat_map(|list| [list.first(), list.last()]);
        for key in [keys.first(), keys.last()]
            .into_iter()
            .chain(listed_ends)
            .flatten()
        {
            *len = common_prefix(reference.get(..*len).unwrap_or_default(), key);
        }
        let len = *len;
        if len < before || listed.is_some() {
            match listed.or_else(|| Keys::of(&self.children, key_order)) {
                Some(list) => self.words = list.words(len),
                None => self.words_off(),
            }
        }
        let words = keys.words(len);
        (keys.into_children(), words)
    }

    /// Orders children by comparing keys alone from now on (see [`Prefix::Off`]).
    fn words_off(&mut self) {
        self.prefix = Prefix::Off;
        self.words.clear();
        self.words.resize(self.children.len(), 0);
    }
}

/// How many bytes `a` and `b` start with alike.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// `sorted.partition_point(before)`, searched from the start by doubling steps, then by
/// halving: about `2·log2(p)` calls for a place `p`, so a run of new children spread
/// over the sorted list costs little per child when each one's search starts after the
/// previous one's place.
fn place_from_start<T>(sorted: &[T], mut before: impl FnMut(usize, &T) -> bool) -> usize {
    let mut before_at = |at: usize| sorted.get(at).is_some_and(|item| before(at, item));
    // All of `sorted[..low]` comes before; `sorted[low + step - 1]`, if any, does not.
    let mut low = 0;
    let mut step = 1;
    while before_at(low + step - 1) {
        low += step;
        step *= 2;
    }
    // Then the first of `sorted[low..high]` that does not come before, else `high`.
    let mut high = sorted.len().min(low + step - 1);
    while low < high {
        let mid = low + (high - low) / 2;
        if before_at(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
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
                    place_from_start(part, |at, &s| {
                        assert_eq!(part[at], s, "the index passed is the item's");
                        s < x
                    }),
                    part.partition_point(|&s| s < x),
                    "len {len}, x {x}"
                );
            }
        }
    }
}
