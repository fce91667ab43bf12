//! [`MetricVec`]: a labelled vec of metrics, one child per label-value combination, that
//! can forget series: [`remove`](MetricVec::remove), partial-match
//! [`remove_matching`](MetricVec::remove_matching), [`clear`](MetricVec::clear),
//! [`retain`](MetricVec::retain), TTL expiry of idle children (see [`crate::vec::ttl`]) and a
//! `max_series` cardinality limit.
//!
//! Children live in a hash table keyed by their label values, split into shards by hash,
//! each with its own lock. The hash only finds candidates: every lookup compares the full
//! values, so two label sets with equal hashes never share a child (tests prove it with a
//! hasher that sends everything to one bucket). A lookup of an existing child that misses
//! the thread's cache takes its shard's read lock, hashes, compares and clones the
//! child's handle: no allocation.
//!
//! Creating and removing children is kept cheap, since series that come and go are what
//! a vec is for: a child is built before its shard's lock is taken, its label set as its
//! exposition text alone (one allocation, whatever the values; the pairs are parsed from
//! the text only if someone asks for them); a gather sorts only the
//! children created since the last one into the list it keeps in label order; a removal
//! only marks the child, which the next gather drops from that list as it reads it.

use std::hash::BuildHasher;
use std::sync::Arc;

use crate::desc::Desc;
use crate::error::{Error, Result};
use crate::labels::{LabelSet, LabelText};
use crate::metrics::{Child, Metric, NewChild};
use crate::sync::Ordering;

mod buckets;
mod builder;
mod cache;
mod collect;
mod curry;
mod hash;
mod inner;
mod order;
mod recent;
pub mod ttl;
mod typed;
pub use builder::VecBuilder;
use cache::{Cache, Streak};
use hash::hash_values;
pub use hash::{LabelHasher, LabelValuesHasher};
pub(crate) use inner::{Inner, Shard, SHARDS};
pub use typed::TypedVec;

/// The hasher vecs use unless told otherwise: [`LabelHasher`], keyed per vec.
pub type DefaultHasher = LabelHasher;

/// The label value given to every variable label of the overflow series that collects
/// updates for label sets rejected by `max_series`.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// The family reporting how many label sets each vec rejected because of `max_series`.
pub const REJECTED_FAMILY: &str = "promsdk_vec_rejected_label_sets";

/// A child's label values, through its lifecycle.
fn key<M: Metric>(child: &M) -> &crate::metrics::key::Key {
    child.lifecycle().key()
}

/// What the vec keeps about a child, through its lifecycle.
pub(crate) fn child<M: Metric>(metric: &M) -> &Child {
    &metric.lifecycle().child
}

/// A labelled vec of metrics of type `M`: `CounterVec`, `GaugeVec`, … Cheap to clone;
/// clones share the children. Register it (it is a [`Collector`](crate::Collector)) and look children up by
/// label values.
///
/// ```
/// use promsdk::{CounterVec, Opts};
/// let requests = CounterVec::new(Opts::new("http_requests_total", "Requests."), &["method", "code"]).unwrap();
/// requests.with_label_values(&["GET", "200"]).inc();
/// requests.with_label_values(&["GET", "200"]).inc();
/// assert_eq!(requests.with_label_values(&["GET", "200"]).get(), 2.0);
/// assert!(requests.try_with_label_values(&["GET"]).is_err());
/// assert!(requests.remove(&["GET", "200"]));
/// assert_eq!(requests.len(), 0);
/// ```
pub struct MetricVec<M: Metric, S = DefaultHasher> {
    pub(crate) inner: Arc<Inner<M, S>>,
    /// Label values fixed by [`MetricVec::curry_with`], by label position.
    curried: Option<Arc<[Option<Box<str>>]>>,
}

impl<M: Metric, S> Clone for MetricVec<M, S> {
    fn clone(&self) -> Self {
        MetricVec {
            inner: self.inner.clone(),
            curried: self.curried.clone(),
        }
    }
}

impl<M: Metric, S: BuildHasher + Send + Sync + 'static> std::fmt::Debug for MetricVec<M, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricVec")
            .field("name", &self.desc().name())
            .field("series", &self.len())
            .finish()
    }
}

impl<M: Metric, S: BuildHasher + Send + Sync + 'static> MetricVec<M, S> {
    /// The descriptor.
    pub fn desc(&self) -> &Desc {
        &self.inner.desc
    }

    /// The child for these label values (in declaration order), created if missing.
    ///
    /// Errors: wrong number of values ([`Error::LabelCount`]), or the vec is at its
    /// `max_series` limit ([`Error::SeriesLimit`]).
    pub fn try_with_label_values(&self, values: &[&str]) -> Result<M> {
        let full = self.apply_curry(values)?;
        self.with_entry(&full, M::clone).map_err(|(e, _)| e)
    }

    /// Runs `f` on the child for these label values, created if missing, and returns
    /// its result; never fails (wrong label counts and `max_series` are handled as in
    /// [`MetricVec::with_label_values`]).
    ///
    /// This is the fastest way to update a labelled series: a thread that keeps updating
    /// the same children finds them in its own cache, without taking the vec's lock or
    /// touching a reference count.
    ///
    /// ```
    /// use promsdk::{CounterVec, Opts};
    /// let requests = CounterVec::new(Opts::new("requests_total", "Requests."), &["code"]).unwrap();
    /// requests.update(&["200"], |c| c.inc());
    /// assert_eq!(requests.update(&["200"], |c| c.get()), 1.0);
    /// ```
    #[inline]
    pub fn update<R>(&self, values: &[&str], f: impl FnOnce(&M) -> R) -> R {
        // The hot path, inline: the child in this thread's cache, reached through the
        // thread's shortcut (see `recent.rs`) and found by the values' addresses, or else
        // by their hash (computed only then). Anything else is one call away.
        let inner = &*self.inner;
        if self.curried.is_none() && values.len() == inner.desc.variable_labels().len() {
            if let Some(cache) = inner.caches.recent() {
                if let Ok(mut cache) = cache.try_borrow_mut() {
                    // Relaxed: see `Inner::forget_cached`.
                    let epoch = inner.removals.load(Ordering::Relaxed);
                    return match self.with_cached(&mut cache, epoch, values, f) {
                        Ok(r) => r,
                        Err((hash, f)) => self.update_from_map(cache, hash, values, f),
                    };
                }
            }
        }
        self.update_slowly(values, f)
    }

    /// `update` past a miss in this thread's `cache`: the child from the map (by the
    /// values' `hash`), inserted if missing, then cached.
    #[inline(never)]
    fn update_from_map<R>(
        &self,
        mut cache: std::cell::RefMut<'_, Cache<M>>,
        hash: u64,
        values: &[&str],
        f: impl FnOnce(&M) -> R,
    ) -> R {
        let found = self.with_map_entry(hash, values, Some(&mut cache), f);
        drop(cache);
        match found {
            Ok(r) => r,
            Err((e, f)) => self.fall_back(e, f),
        }
    }

    /// `update` without this thread's cache at hand: curried, a wrong number of values,
    /// a thread's first lookup (or the first after its shortcut lost the cache), or a
    /// lookup nested in an update closure on the same vec.
    #[inline(never)]
    fn update_slowly<R>(&self, values: &[&str], f: impl FnOnce(&M) -> R) -> R {
        match self.with_child(values, f) {
            Ok(r) => r,
            Err((e, f)) => self.fall_back(e, f),
        }
    }

    /// Answers a lookup that found no child: past `max_series` with the overflow child,
    /// with a wrong number of values with a detached metric.
    #[cold]
    fn fall_back<R>(&self, error: Error, f: impl FnOnce(&M) -> R) -> R {
        match error {
            Error::SeriesLimit { .. } => f(self.overflow_child()),
            _ => self.with_detached(f),
        }
    }

    /// Answers a lookup with the wrong number of values: `f` runs on a metric that
    /// belongs to no series, and the mistake is reported at every gather.
    #[cold]
    fn with_detached<R>(&self, f: impl FnOnce(&M) -> R) -> R {
        // Relaxed: a statistic reported at the next gather.
        self.inner.invalid_lookups.fetch_add(1, Ordering::Relaxed);
        f(&M::from_config(&self.inner.config, NewChild::default()))
    }

    /// The child for these label values, created if missing; never fails.
    ///
    /// A wrong number of values gets a detached metric (updates go nowhere) and is
    /// reported as an error at every gather; past `max_series` the shared overflow
    /// child is returned. Use [`MetricVec::try_with_label_values`] to handle both.
    pub fn with_label_values(&self, values: &[&str]) -> M {
        self.update(values, M::clone)
    }

    /// The child for these `(name, value)` pairs, in any order, created if missing.
    pub fn with_labels(&self, pairs: &[(&str, &str)]) -> Result<M> {
        let values = self.values_from_pairs(pairs)?;
        self.try_with_label_values(&values)
    }

    /// Removes the child with exactly these label values; returns whether it existed.
    /// A wrong number of values removes nothing.
    pub fn remove(&self, values: &[&str]) -> bool {
        let Ok(full) = self.apply_curry(values) else {
            return false;
        };
        let hash = hash_values(&self.inner.hasher, &full);
        let shard = self.inner.shard(hash);
        shard.buckets.prefetch::<M>(hash);
        let live = {
            let mut map = shard.map.write();
            let found = map.table.find_entry(hash, |e| {
                // The removal writes the child's mark and drops the map's handle, each
                // on a line of its own: ask for both while the compare waits for the
                // identity's, instead of missing on each in turn.
                let lifecycle = e.lifecycle();
                crate::prefetch::prefetch(&lifecycle.child);
                crate::prefetch::prefetch_handle(lifecycle);
                lifecycle.is_child(hash, &full)
            });
            let Ok(entry) = found else {
                return false;
            };
            // Relaxed: see `Child::removed`; the gather reads it under its own lock.
            let (entry, rest) = entry.remove();
            child(&entry).removed.store(true, Ordering::Relaxed);
            self.inner.removed(1);
            // This shard's children stand for all: shards are filled alike.
            rest.into_table().len() * SHARDS
        };
        if self.inner.compaction_due(live) {
            self.inner.compact(&mut self.inner.sorted.lock());
        }
        true
    }

    /// Removes the child with exactly these `(name, value)` pairs.
    pub fn remove_with(&self, pairs: &[(&str, &str)]) -> Result<bool> {
        let values = self.values_from_pairs(pairs)?;
        Ok(self.remove(&values))
    }

    /// Removes every child whose labels include all of `pairs` (as client_golang's
    /// `DeletePartialMatch`) and returns how many were removed. The match compares the
    /// values themselves, so children whose hashes collide are never removed by mistake.
    /// A label name the vec does not have is an error.
    pub fn remove_matching(&self, pairs: &[(&str, &str)]) -> Result<usize> {
        let mut wanted: Vec<(usize, &str)> = Vec::with_capacity(pairs.len());
        for &(name, value) in pairs {
            wanted.push((self.label_position(name)?, value));
        }
        if let Some(curried) = &self.curried {
            wanted.extend(
                curried
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.as_deref().map(|v| (i, v))),
            );
        }
        Ok(self.retain_entries(|e| wanted.iter().all(|&(i, v)| key(e).value(i) == Some(v))))
    }

    /// Removes every child (of this curried view only, if curried).
    pub fn clear(&self) {
        self.retain(|_, _| false);
    }

    /// Keeps only the children for which `keep(labels, metric)` is true (within this
    /// curried view, if curried); returns how many were removed.
    pub fn retain(&self, mut keep: impl FnMut(&LabelSet, &M) -> bool) -> usize {
        let curried = self.curried.clone();
        self.retain_entries(|e| {
            let in_view = curried.as_ref().is_none_or(|c| {
                c.iter()
                    .zip(key(e).values())
                    .all(|(want, have)| want.as_deref().is_none_or(|w| w == have))
            });
            in_view && !keep(&child(e).labels, e)
        })
    }

    /// The number of children (exported or idle).
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.map.read().table.len())
            .sum()
    }

    /// Whether the vec has no children.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many label sets were rejected by `max_series` so far.
    pub fn rejected_label_sets(&self) -> u64 {
        // Relaxed: a statistic.
        self.inner.rejected.load(Ordering::Relaxed)
    }

    /// Expires idle children now instead of waiting for the background sweep; returns
    /// how many were freed. Does nothing for a vec without a TTL. See [`crate::vec::ttl`].
    pub fn expire_idle(&self) -> usize {
        ttl::sweep(&self.inner)
    }

    /// Runs `f` on the child for the label values a caller passed (curried ones added),
    /// created if missing; on failure `f` is handed back unused.
    #[inline(always)]
    fn with_child<R, F>(&self, values: &[&str], f: F) -> std::result::Result<R, (Error, F)>
    where
        F: FnOnce(&M) -> R,
    {
        if self.curried.is_none() && values.len() == self.inner.desc.variable_labels().len() {
            return self.with_entry(values, f);
        }
        match self.apply_curry(values) {
            Ok(full) => self.with_entry(&full, f),
            Err(e) => Err((e, f)),
        }
    }

    /// Runs `f` on the child for these full label values, created if missing: from this
    /// thread's cache when it has it, else from the map (and then cached).
    /// On failure (wrong values, series limit) `f` is handed back unused.
    #[inline(always)]
    fn with_entry<R, F>(&self, values: &[&str], f: F) -> std::result::Result<R, (Error, F)>
    where
        F: FnOnce(&M) -> R,
    {
        let inner = &*self.inner;
        // Relaxed: see `Inner::forget_cached`.
        let epoch = inner.removals.load(Ordering::Relaxed);
        // The child in this thread's cache; a miss is out of line.
        let Some(mut cache) = inner.caches.mine(epoch) else {
            let hash = hash_values(&inner.hasher, values);
            return self.with_map_entry(hash, values, None, f);
        };
        match self.with_cached(&mut cache, epoch, values, f) {
            Ok(r) => Ok(r),
            Err((hash, f)) => self.with_map_entry(hash, values, Some(&mut cache), f),
        }
    }

    /// Runs `f` on the child for these full label values in this thread's `cache`,
    /// found by the values' addresses or else by their hash (computed only then); on a
    /// miss, hands back that hash and `f`. The lookup both `update` and `with_entry`
    /// make before going to the map.
    #[inline(always)]
    fn with_cached<R, F>(
        &self,
        cache: &mut Cache<M>,
        epoch: u64,
        values: &[&str],
        f: F,
    ) -> std::result::Result<R, (u64, F)>
    where
        F: FnOnce(&M) -> R,
    {
        if let Some(metric) = cache.get_by_address(epoch, values) {
            return Ok(f(metric));
        }
        let hash = hash_values(&self.inner.hasher, values);
        match cache.get_by_hash(epoch, values, hash) {
            Ok(metric) => Ok(f(metric)),
            Err(hash) => Err((hash, f)),
        }
    }

    /// `with_entry` past the thread cache: runs `f` on the child from the map, inserted
    /// if missing, and remembers it in `cache`.
    #[inline(never)]
    fn with_map_entry<R, F>(
        &self,
        hash: u64,
        values: &[&str],
        cache: Option<&mut Cache<M>>,
        f: F,
    ) -> std::result::Result<R, (Error, F)>
    where
        F: FnOnce(&M) -> R,
    {
        let Some(cache) = cache else {
            return match self.find_or_insert(hash, values, None) {
                Ok((metric, _)) => Ok(f(&metric)),
                Err(e) => Err((e, f)),
            };
        };
        match self.find_or_insert(hash, values, Some(cache.streak())) {
            Ok((metric, children)) => Ok(f(cache.put(metric, children))),
            Err(e) => Err((e, f)),
        }
    }

    /// The child for these values from the map, inserted if missing, and about how many
    /// children the vec has (its shard's times the number of shards, which are filled
    /// alike). `streak` is the calling thread's run of lookups that created their child,
    /// if it has one.
    fn find_or_insert(
        &self,
        hash: u64,
        values: &[&str],
        streak: Option<&mut Streak>,
    ) -> Result<(M, usize)> {
        // The lookup below, or the insert after it builds the child, reads the buckets
        // the hash probes: ask for them before anything waits on them.
        self.inner.shard(hash).buckets.prefetch::<M>(hash);
        // A thread whose last lookups here all created their child (new ids, churning
        // series) goes straight to building the child and the write lock, which looks
        // again anyway: the look under the read lock would be two more atomic changes of
        // the shard's lock word, a cache line that other threads creating series take
        // from this core in turn (in a probe, two threads creating 2,000 series each in
        // one vec took 48% longer than one thread, against 14% in two vecs; this saves a
        // part of that, and about 50 instructions an insert on one thread).
        if !streak.as_ref().is_some_and(|s| s.expects_new()) {
            let map = self.inner.shard(hash).map.read();
            if let Some(e) = map
                .table
                .find(hash, |e| e.lifecycle().is_child(hash, values))
            {
                if let Some(streak) = streak {
                    streak.found(false);
                }
                return Ok((e.clone(), map.table.len() * SHARDS));
            }
        }
        self.insert(hash, values, streak)
    }

    #[cold]
    fn insert(
        &self,
        hash: u64,
        values: &[&str],
        streak: Option<&mut Streak>,
    ) -> Result<(M, usize)> {
        let inner = &*self.inner;
        if values.iter().all(|v| *v == OVERFLOW_LABEL_VALUE) && inner.max_series.is_some() {
            return Err(Error::SeriesLimit {
                metric: inner.desc.name().to_owned(),
                limit: inner.max_series.unwrap_or_default(),
            });
        }
        // Build the child before taking the lock (it allocates), so the lock is held
        // only to look again and insert; if another thread inserted it meanwhile, this
        // one is dropped unused.
        let metric = inner
            .desc
            .with_label_text(values, |labels| self.new_child(hash, values, labels))?;
        // The handles of the map, of the gather's list of new children and of the
        // caller, made while the child is this thread's alone.
        let [metric, for_table, for_fresh] = metric.into_handles();
        let shard = inner.shard(hash);
        let mut map = shard.map.write();
        let found = map
            .table
            .find(hash, |e| e.lifecycle().is_child(hash, values));
        if let Some(streak) = streak {
            streak.found(found.is_none());
        }
        if let Some(e) = found {
            return Ok((e.clone(), map.table.len() * SHARDS));
        }
        if let Some(limit) = inner.max_series {
            // Relaxed: a reservation; the read-modify-write alone makes sure no more
            // than `limit` are ever taken.
            let reserved = inner
                .limited
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n < limit as u64).then_some(n + 1)
                });
            if reserved.is_err() {
                // Relaxed: a statistic.
                inner.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(Error::SeriesLimit {
                    metric: inner.desc.name().to_owned(),
                    limit,
                });
            }
        }
        shard.buckets.record(
            map.table
                .insert_unique(hash, for_table, |e| e.lifecycle().hash()),
        );
        map.fresh.push(for_fresh);
        Ok((metric, map.table.len() * SHARDS))
    }

    /// A new child with these values, hashed to `hash`, and its label set `labels`.
    fn new_child(&self, hash: u64, values: &[&str], labels: LabelText<'_>) -> M {
        // Only TTL expiry reads the time a child was last seen.
        let now = match self.inner.ttl {
            Some(_) => self.inner.clock.monotonic_nanos(),
            None => 0,
        };
        M::from_config(&self.inner.config, NewChild::new(hash, values, labels, now))
    }

    fn overflow_child(&self) -> &M {
        self.inner.overflow.get_or_init(|| {
            let n = self.inner.desc.variable_labels().len();
            let values = vec![OVERFLOW_LABEL_VALUE; n];
            self.inner
                .desc
                .with_label_text(&values, |labels| self.new_child(0, &values, labels))
                .unwrap_or_else(|_| self.new_child(0, &values, LabelText::default()))
        })
    }

    /// Removes the children for which `remove` is true; returns how many.
    fn retain_entries(&self, mut remove: impl FnMut(&M) -> bool) -> usize {
        let mut removed = 0;
        let mut live = 0;
        for shard in self.inner.shards.iter() {
            let mut map = shard.map.write();
            let before = map.table.len();
            map.table.retain(|e| {
                let gone = remove(e);
                if gone {
                    // Relaxed: see `Child::removed`.
                    child(e).removed.store(true, Ordering::Relaxed);
                }
                !gone
            });
            let gone = before - map.table.len();
            if gone > 0 {
                self.inner.removed(gone);
            }
            removed += gone;
            live += map.table.len();
        }
        if self.inner.compaction_due(live) {
            self.inner.compact(&mut self.inner.sorted.lock());
        }
        removed
    }
}

/// A vec of [`Counter`](crate::Counter)s.
pub type CounterVec = MetricVec<crate::Counter>;
/// A vec of [`Gauge`](crate::Gauge)s.
pub type GaugeVec = MetricVec<crate::Gauge>;
/// A vec of [`Histogram`](crate::Histogram)s.
pub type HistogramVec = MetricVec<crate::Histogram>;
/// A vec of [`Summary`](crate::Summary)s.
pub type SummaryVec = MetricVec<crate::Summary>;
/// A vec of [`Info`](crate::Info)s.
pub type InfoVec = MetricVec<crate::Info>;
/// A vec of [`StateSet`](crate::StateSet)s.
pub type StateSetVec = MetricVec<crate::StateSet>;
