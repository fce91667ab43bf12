//! How a vec reports its children when gathered: in label order (a sorted list kept
//! from gather to gather, where only new children are sorted in and removed ones
//! dropped), leaving out idle ones under a TTL, plus the overflow series and the
//! rejected-label-sets family when a series limit is set.

use std::hash::BuildHasher;

use super::{child, MetricVec};
use crate::collector::{Collected, Collector};
use crate::desc::Desc;
use crate::error::Error;
use crate::family::Sample;
use crate::labels::LabelSet;
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
                sorted.add(fresh, &inner.key_order);
            }
            // Children created at different times lie anywhere in memory: ask for the
            // lines a gather reads of the children a few steps ahead, the child state
            // (labels, removal mark) and the value, with the lifecycle's first line if a
            // TTL reads its mark; then, once the child state is in, its label set's
            // count, which a new sample's clone changes (new children, and children after
            // an insertion or a removal, whose samples moved): a locked change of a line
            // not yet in the cache held up every access after it (perf: collect's
            // samples in a churn round fell by a quarter). Labels are otherwise only
            // compared by address.
            // The samples of the previous gather, if the sink kept them: a child still in
            // the same place gets only its value updated. The values are of the family's
            // type by construction, so no per-sample check.
            let samples = family.samples_mut();
            // One allocation for all, rather than growing by doubling (copying what is
            // there each time) when many children are new.
            samples.reserve(sorted.children().len().saturating_sub(samples.len()));
            let mut n = 0;
            // Removed children are dropped from the list as it is read: the ones kept
            // move down to `kept`, keeping their order.
            let mut kept = 0;
            for i in 0..sorted.children().len() {
                if let Some(ahead) = sorted.children().get(i + 2 * AHEAD) {
                    let lifecycle = ahead.lifecycle();
                    crate::prefetch::prefetch(&lifecycle.child);
                    crate::prefetch::prefetch_after(lifecycle);
                    if inner.ttl.is_some() {
                        crate::prefetch::prefetch(lifecycle.identity());
                    }
                }
                if let Some(ahead) = sorted.children().get(i + AHEAD) {
                    child(ahead).labels.prefetch_count();
                }
                // Relaxed: see `Child::removed`; a child removed after this read is
                // reported once more, as if the gather had run just before the removal.
                if child(&sorted.children()[i]).removed.load(Ordering::Relaxed) {
                    continue;
                }
                sorted.keep(kept, i);
                let e = &sorted.children()[kept];
                kept += 1;
                if inner.ttl.as_ref().is_some_and(|ttl| ttl.is_expired(e, now)) {
                    continue;
                }
                let value = e.value();
                let labels: &LabelSet = &child(e).labels;
                match samples.get_mut(n) {
                    Some(s) if s.labels.same_set(labels) => {
                        s.value = value;
                        s.timestamp_ms = None;
                    }
                    Some(s) => *s = Sample::new(labels.clone(), value),
                    None => samples.push(Sample::new(labels.clone(), value)),
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
                family.push_sample(Sample::new(LabelSet::clone(&child(e).labels), e.value()));
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
