//! How a vec reports its children when gathered: in label order (a sorted list kept
//! from gather to gather, where only new children are sorted in and removed ones
//! dropped), leaving out idle ones under a TTL, plus the overflow series and the
//! rejected-label-sets family when a series limit is set.

use std::hash::BuildHasher;
use std::sync::Arc;

use super::{Entry, MetricVec};
use crate::collector::{Collected, Collector};
use crate::desc::Desc;
use crate::error::Error;
use crate::family::Sample;
use crate::metrics::Metric;
use crate::prefetch::AHEAD;
use crate::sync::Ordering;

impl<M: Metric, S: BuildHasher + Send + Sync + 'static> Collector for MetricVec<M, S> {
    fn describe(&self) -> Vec<Desc> {
        let mut descs = vec![self.inner.desc.clone()];
        descs.extend(self.inner.rejected_desc.clone());
        descs
    }

    fn collect(&self, out: &mut Collected) {
        let inner = &*self.inner;
        // Only TTL expiry reads the time.
        let now = match inner.ttl {
            Some(_) => inner.clock.monotonic_nanos(),
            None => 0,
        };
        let mut family = out.family_reusing(&inner.desc);
        {
            let mut sorted = inner.sorted.lock();
            // Every removed child counted in `seen` is seen marked below and dropped;
            // children removed meanwhile are dropped now or at the next gather.
            let (fresh, seen) = inner.take_fresh();
            if !fresh.is_empty() {
                add_in_order(&mut sorted, fresh, &inner.key_order);
            }
            // Children created at different times lie anywhere in memory: ask for the
            // entries a few steps ahead, and for the metric of nearer ones (whose entries
            // are in cache by then). Their labels are only compared by address.
            // The samples of the previous gather, if the sink kept them: a child still in
            // the same place gets only its value updated. The values are of the family's
            // type by construction, so no per-sample check.
            let samples = family.samples_mut();
            let mut n = 0;
            // Removed children are dropped from the list as it is read: the ones kept
            // move down to `kept`, keeping their order.
            let mut kept = 0;
            for i in 0..sorted.len() {
                if let Some(far) = sorted.get(i + 2 * AHEAD) {
                    crate::prefetch::prefetch(&**far);
                }
                if let Some(near) = sorted.get(i + AHEAD) {
                    crate::prefetch::prefetch(near.metric.lifecycle());
                }
                // Relaxed: see `Entry::removed`; a child removed after this read is
                // reported once more, as if the gather had run just before the removal.
                if sorted[i].removed.load(Ordering::Relaxed) {
                    continue;
                }
                sorted.swap(kept, i);
                let e = &sorted[kept];
                kept += 1;
                if inner.ttl.as_ref().is_some_and(|ttl| ttl.is_expired(e, now)) {
                    continue;
                }
                let value = e.metric.value();
                match samples.get_mut(n) {
                    Some(s) if s.labels.same_set(&e.labels) => {
                        s.value = value;
                        s.timestamp_ms = None;
                    }
                    Some(s) => *s = Sample::new(e.labels.clone(), value),
                    None => samples.push(Sample::new(e.labels.clone(), value)),
                }
                n += 1;
            }
            sorted.truncate(kept);
            inner.dropped(seen);
            samples.truncate(n);
        }
        match inner.overflow.get() {
            Some(e) => {
                // Not necessarily last in label order: the gather sorts.
                family.push_sample(Sample::new(e.labels.clone(), e.metric.value()));
            }
            // Children come from the sorted copy (distinct label values, so strictly
            // increasing) with labels built from the descriptor.
            None => family.mark_verified(),
        }
        if let Some(desc) = &inner.rejected_desc {
            out.family(desc)
                .counter(&[], self.rejected_label_sets() as f64);
        }
        // Relaxed: a statistic.
        let invalid = inner.invalid_lookups.load(Ordering::Relaxed);
        if invalid > 0 {
            out.error(Error::Collect {
                name: inner.desc.name().to_owned(),
                message: format!(
                    "{invalid} lookups passed the wrong number of label values (expected {:?}) and were answered with a detached metric",
                    inner.desc.variable_label_names()
                ),
            });
        }
    }
}

/// Adds `fresh` (children inserted since the last gather) to `sorted` (children in label
/// order), keeping that order: sorts only the new ones, then finds each one's place in
/// what follows the previous one's (see [`place_from_start`]), so a gather after `k`
/// inserts into `n` children compares about `k·log2(n/k)` times instead of sorting all of
/// them. Children
/// already removed are left out. Compares keys, the label values kept inline in each
/// child's metric, in the order `key_order` gives (see `Key::cmp_by`).
fn add_in_order<M: Metric>(
    sorted: &mut Vec<Arc<Entry<M>>>,
    mut fresh: Vec<Arc<Entry<M>>>,
    key_order: &[usize],
) {
    // Relaxed: see `Entry::removed`.
    fresh.retain(|e| !e.removed.load(Ordering::Relaxed));
    let cmp = |a: &Arc<Entry<M>>, b: &Arc<Entry<M>>| a.key().cmp_by(b.key(), key_order);
    fresh.sort_unstable_by(cmp);
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
