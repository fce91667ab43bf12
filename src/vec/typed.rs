//! [`TypedVec`]: a [`MetricVec`] looked up by a typed label struct (see
//! [`crate::typed_labels`]) instead of a slice of strings.
//!
//! Every child lives in the wrapped vec, so gathers, removal, partial-match removal,
//! TTL expiry and `max_series` (with its overflow series) work exactly as they do for
//! the string API, and the exposition is the same.
//!
//! # The dense path
//! When every label is dense (enums, `bool`, small integers), a lookup turns the labels
//! into one index and finds the child's handle in a per-thread table: no hashing, no
//! string compare, no lock, no allocation. A miss (the first lookup on a thread, or the
//! first after a removal) goes through the vec by the label values and fills the slot.
//!
//! Only a hit is inline (the table from the thread's shortcut, see `recent.rs`; the
//! epoch check; the slot): everything else is one call away. Inlined too, the fallbacks
//! (hashing, formatting integer values) made the update too large for callers to inline,
//! or kept its inputs in stack slots that every update reloaded before its atomic add.
//!
//! The tables stay correct the way the vec's own thread caches do (see `cache.rs`):
//! - every removal (explicit, partial-match, `clear`, `retain`, TTL) bumps the vec's
//!   removal epoch under the write lock of the shard it removes from, and a table
//!   older than the epoch empties itself before its next lookup, so a thread never
//!   reaches a removed child after it could have learnt of the removal;
//! - a slot holds a handle, which a TTL sweep counts like any other: a child in a table
//!   is hidden when idle but never freed, so no update is lost to expiry. A sweep that
//!   keeps idle children because of handles bumps the epoch, so tables let go of them at
//!   their next lookup and the next sweep frees them.
//!
//! Label structs with a hashed field (a string) are looked up by their values through
//! [`MetricVec::update`], whose thread cache finds them by the values' addresses or hash.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::sync::Arc;

use thread_local::ThreadLocal;

mod table;
use table::Table;

use super::{recent, DefaultHasher, MetricVec, VecBuilder};
use crate::collector::{Collected, Collector};
use crate::desc::{Desc, Opts};
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::metrics::Metric;
use crate::sync::Ordering;
use crate::typed_labels::{Labels, MAX_DENSE};

/// A [`MetricVec`] whose children are named by a label struct `L` (see
/// [`crate::typed_labels`]) instead of a slice of strings. Cheap to clone; clones share
/// the children. Register it like any vec; its exposition is that of a `MetricVec`
/// with the same label names and values.
///
/// ```
/// use promsdk::{Counter, LabelValue, Labels, Opts, Registry, TypedVec};
///
/// #[derive(LabelValue, Clone, Copy)]
/// enum Method { Get, Post }
///
/// #[derive(Labels)]
/// struct Request { method: Method, code: u16 }
///
/// let requests: TypedVec<Request, Counter> =
///     TypedVec::new(Opts::new("http_requests_total", "Requests."))?;
/// let registry = Registry::default();
/// registry.register(requests.clone())?;
///
/// requests.update(&Request { method: Method::Get, code: 200 }, |c| c.inc());
/// let post = requests.with(&Request { method: Method::Post, code: 503 });
/// post.inc_by(2);
///
/// // The same series as the string API's.
/// assert_eq!(requests.vec().with_label_values(&["post", "503"]).get(), 2.0);
/// assert!(requests.remove(&Request { method: Method::Get, code: 200 }));
/// assert_eq!(requests.len(), 1);
/// # Ok::<(), promsdk::Error>(())
/// ```
pub struct TypedVec<L: Labels, M: Metric, S = DefaultHasher> {
    vec: MetricVec<M, S>,
    tables: Arc<Tables<M>>,
    /// Names `tables` in each thread's shortcut (see `recent.rs`). Unique among all
    /// typed vecs and vecs ever built (clones share it): never reused, so a shortcut
    /// entry with this id can only have been written for these tables.
    id: u64,
    labels: PhantomData<fn(&L)>,
}

/// The per-thread tables of one typed vec, shared by its clones.
struct Tables<M: Metric> {
    by_thread: ThreadLocal<RefCell<Table<M>>>,
}

impl<L: Labels, M: Metric, S> Clone for TypedVec<L, M, S> {
    fn clone(&self) -> Self {
        TypedVec {
            vec: self.vec.clone(),
            tables: self.tables.clone(),
            id: self.id,
            labels: PhantomData,
        }
    }
}

impl<L: Labels, M: Metric, S: BuildHasher + Send + Sync + 'static> std::fmt::Debug
    for TypedVec<L, M, S>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedVec")
            .field("name", &self.desc().name())
            .field("labels", &L::NAMES)
            .field("series", &self.len())
            .finish()
    }
}

impl<L: Labels<Static = L>, M: Metric> TypedVec<L, M>
where
    M::Config: Default,
{
    /// A vec for metric `opts` labelled by `L`'s fields, default child config. For a
    /// TTL, a series limit or a config, start from a [`VecBuilder`] with `L::NAMES` and
    /// finish with [`VecBuilder::build_typed`].
    pub fn new(opts: Opts) -> Result<Self> {
        MetricVec::builder(opts, L::NAMES).build_typed()
    }
}

impl<M: Metric, S: BuildHasher + Send + Sync + 'static> VecBuilder<M, S> {
    /// Builds a [`TypedVec`] labelled by `L`'s fields. The builder's label names must be
    /// `L::NAMES`, in order: [`Error::LabelCount`] or [`Error::UnknownLabel`] otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use promsdk::{GaugeVec, LabelValue, Labels, Opts, TypedVec, Gauge};
    ///
    /// #[derive(LabelValue)]
    /// enum Step { Clone, Build, Test }
    /// #[derive(Labels)]
    /// struct Labelled { step: Step }
    ///
    /// let steps: TypedVec<Labelled, Gauge> =
    ///     GaugeVec::builder(Opts::new("step_seconds", "Step time."), Labelled::NAMES)
    ///         .ttl(Duration::from_secs(300))
    ///         .max_series(100)
    ///         .build_typed()?;
    /// steps.update(&Labelled { step: Step::Build }, |g| g.set(4.5));
    /// # Ok::<(), promsdk::Error>(())
    /// ```
    pub fn build_typed<L: Labels<Static = L>>(self) -> Result<TypedVec<L, M, S>> {
        const {
            assert!(
                L::DENSE_SIZE <= MAX_DENSE,
                "the dense fields of this label struct have more than promsdk::typed_labels::MAX_DENSE combinations: bound integer fields with #[label(max = N)]"
            )
        };
        let vec = self.build()?;
        let desc = &vec.inner.desc;
        let names = desc.variable_labels();
        if names.len() != L::NAMES.len() {
            return Err(Error::LabelCount {
                metric: desc.name().to_owned(),
                names: desc.variable_label_names(),
                expected: names.len(),
                got: L::NAMES.len(),
            });
        }
        if let Some((_, wanted)) = names.iter().zip(L::NAMES).find(|(n, l)| &***n != **l) {
            return Err(Error::UnknownLabel {
                metric: desc.name().to_owned(),
                label: (*wanted).to_owned(),
                names: desc.variable_label_names(),
            });
        }
        let id = recent::new_id();
        Ok(TypedVec {
            vec,
            tables: Arc::new(Tables {
                by_thread: ThreadLocal::new(),
            }),
            id,
            labels: PhantomData,
        })
    }
}

impl<L: Labels, M: Metric, S: BuildHasher + Send + Sync + 'static> TypedVec<L, M, S> {
    /// Runs `f` on the child for `labels`, created if missing, and returns its result;
    /// never fails (past `max_series`, `f` runs on the overflow child, as with
    /// [`MetricVec::update`]). The fastest way to update a labelled series.
    #[inline]
    pub fn update<T, R>(&self, labels: &T, f: impl FnOnce(&M) -> R) -> R
    where
        T: Labels<Static = L>,
    {
        if T::HASHED || cfg!(promsdk_loom) {
            return labels.with_values(|values| self.vec.update(values, f));
        }
        // The hot path, kept small so that it inlines into the caller: the child in
        // this thread's table, found through its shortcut (see `recent.rs`). Anything
        // else is out of line.
        if let Some(index) = labels.dense_index() {
            if let Some(table) = self.recent_table() {
                if let Ok(table) = table.try_borrow_mut() {
                    // Relaxed: as the vec's thread caches (see `Inner::forget_cached`).
                    let epoch = self.vec.inner.removals.load(Ordering::Relaxed);
                    if let Some(child) = table.get(epoch, index) {
                        return f(child);
                    }
                }
            }
        }
        self.update_dense(labels, f)
    }

    /// `update` of a dense label struct past the hot path: a miss in this thread's
    /// table, no table yet, a table not in the shortcut, a bounded integer past its
    /// `max`, or an update nested in `f` on the same vec and thread.
    #[inline(never)]
    fn update_dense<T, R>(&self, labels: &T, f: impl FnOnce(&M) -> R) -> R
    where
        T: Labels<Static = L>,
    {
        if let Some(index) = labels.dense_index() {
            if let Some(table) = self.my_table() {
                if let Ok(mut table) = table.try_borrow_mut() {
                    // Relaxed: see `update`.
                    let epoch = self.vec.inner.removals.load(Ordering::Relaxed);
                    if let Some(child) = table.get(epoch, index) {
                        return f(child);
                    }
                    return self.fill(&mut table, epoch, index, labels, f);
                }
                // Borrowed: an update nested in `f` on the same vec and thread.
            } else {
                return self.first_on_thread(index, labels, f);
            }
        }
        labels.with_values(|values| self.vec.update(values, f))
    }

    /// The child for `labels`, created if missing; never fails (see
    /// [`TypedVec::update`]). Keeping the handle keeps the child (see
    /// [`crate::vec::ttl`]).
    pub fn with<T: Labels<Static = L>>(&self, labels: &T) -> M {
        self.update(labels, M::clone)
    }

    /// Removes the child for `labels`; returns whether it existed.
    pub fn remove<T: Labels<Static = L>>(&self, labels: &T) -> bool {
        labels.with_values(|values| self.vec.remove(values))
    }

    /// Removes every child whose labels include all of `pairs` (label names and values
    /// as exported) and returns how many; see [`MetricVec::remove_matching`].
    pub fn remove_matching(&self, pairs: &[(&str, &str)]) -> Result<usize> {
        self.vec.remove_matching(pairs)
    }

    /// Removes every child.
    pub fn clear(&self) {
        self.vec.clear();
    }

    /// Keeps only the children for which `keep(labels, metric)` is true; returns how
    /// many were removed.
    pub fn retain(&self, keep: impl FnMut(&LabelSet, &M) -> bool) -> usize {
        self.vec.retain(keep)
    }

    /// Expires idle children now; returns how many were freed. The calling thread's
    /// table lets go of its children first, so they do not hold them back; see
    /// [`MetricVec::expire_idle`].
    pub fn expire_idle(&self) -> usize {
        if let Some(table) = self.tables.by_thread.get() {
            if let Ok(mut table) = table.try_borrow_mut() {
                table.clear();
            }
        }
        self.vec.expire_idle()
    }

    /// The number of children (exported or idle).
    pub fn len(&self) -> usize {
        self.vec.len()
    }

    /// Whether the vec has no children.
    pub fn is_empty(&self) -> bool {
        self.vec.is_empty()
    }

    /// How many label sets were rejected by `max_series` so far.
    pub fn rejected_label_sets(&self) -> u64 {
        self.vec.rejected_label_sets()
    }

    /// The descriptor.
    pub fn desc(&self) -> &Desc {
        self.vec.desc()
    }

    /// The wrapped vec, for the string API (lookups by values, currying). It shares the
    /// children with this one.
    pub fn vec(&self) -> &MetricVec<M, S> {
        &self.vec
    }

    /// This thread's table, if its shortcut (see `recent.rs`) has it.
    #[inline(always)]
    fn recent_table(&self) -> Option<&RefCell<Table<M>>> {
        if let Some(table) = recent::get(self.id) {
            // SAFETY: this thread wrote the entry (thread-local storage), in `remember`,
            // with the address of its own table in the `by_thread` of the tables whose id
            // is `id`; ids are never reused, so those are `self.tables`, which `self`
            // keeps alive for the returned lifetime. `ThreadLocal` never moves or drops
            // a thread's value before it is dropped itself (we never call its `&mut`
            // methods), and the value is a `RefCell<Table<M>>` of this `M`. Only this
            // thread reaches it, as through `ThreadLocal::get`.
            return Some(unsafe { &*table.cast::<RefCell<Table<M>>>() });
        }
        None
    }

    /// This thread's table, if it has one: from its shortcut (see `recent.rs`), else from
    /// `by_thread` (and then remembered in the shortcut).
    fn my_table(&self) -> Option<&RefCell<Table<M>>> {
        self.recent_table().or_else(|| self.my_table_slowly())
    }

    /// `my_table` past the shortcut.
    #[cold]
    #[inline(never)]
    fn my_table_slowly(&self) -> Option<&RefCell<Table<M>>> {
        let table = self.tables.by_thread.get()?;
        self.remember(table);
        Some(table)
    }

    /// Puts this thread's `table` in its shortcut (see `recent.rs`), in place of
    /// whichever owner had the entry.
    fn remember(&self, table: &RefCell<Table<M>>) {
        recent::remember(self.id, std::ptr::from_ref(table).cast());
    }

    /// The first lookup on this thread: creates its table.
    #[cold]
    #[inline(never)]
    fn first_on_thread<T, R>(&self, index: usize, labels: &T, f: impl FnOnce(&M) -> R) -> R
    where
        T: Labels<Static = L>,
    {
        // Relaxed: see `update`. Read before the table is created, so a removal after
        // this point makes the table older than the vec.
        let epoch = self.vec.inner.removals.load(Ordering::Relaxed);
        let table = self
            .tables
            .by_thread
            .get_or(|| RefCell::new(Table::new(epoch, L::DENSE_SIZE)));
        self.remember(table);
        match table.try_borrow_mut() {
            Ok(mut table) => self.fill(&mut table, epoch, index, labels, f),
            Err(_) => labels.with_values(|values| self.vec.update(values, f)),
        }
    }

    /// A miss: finds the child through the vec by its values and remembers it in slot
    /// `index` of `table`, brought to `epoch` first.
    #[inline(never)]
    fn fill<T, R>(
        &self,
        table: &mut Table<M>,
        epoch: u64,
        index: usize,
        labels: &T,
        f: impl FnOnce(&M) -> R,
    ) -> R
    where
        T: Labels<Static = L>,
    {
        table.catch_up(epoch);
        labels.with_values(|values| {
            self.vec.update(values, |child| {
                // The overflow child stands for label sets the vec rejected: each lookup
                // must try the vec again (and be counted), as the string API does.
                if !self.is_overflow(child) {
                    table.put(index, child);
                }
                f(child)
            })
        })
    }

    /// Whether `child` is the overflow child of a vec at its series limit.
    fn is_overflow(&self, child: &M) -> bool {
        let overflow = self.vec.inner.overflow.get();
        overflow.is_some_and(|o| std::ptr::eq(o.lifecycle(), child.lifecycle()))
    }
}

impl<L: Labels + 'static, M: Metric, S: BuildHasher + Send + Sync + 'static> Collector
    for TypedVec<L, M, S>
{
    fn describe(&self) -> Vec<Desc> {
        self.vec.describe()
    }

    fn collect(&self, out: &mut Collected) {
        self.vec.collect(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use crate::vec::hash::Counting;
    use crate::{Counter, LabelValue, Labels, Opts, TypedVec, VecBuilder};

    #[derive(LabelValue, Clone, Copy, PartialEq, Debug)]
    enum Method {
        Get,
        Post,
    }

    #[derive(Labels)]
    struct Dense {
        method: Method,
        code: u16,
    }

    #[derive(Labels)]
    struct WithPath<'a> {
        method: Method,
        path: &'a str,
    }

    /// Slots in the table, in its flat array and in pages all find their child again
    /// without hashing.
    #[test]
    fn dense_lookups_after_the_first_do_not_hash() {
        let hasher = Counting::default();
        let calls = hasher.calls.clone();
        let vec: TypedVec<Dense, Counter, Counting> =
            VecBuilder::new(Opts::new("c", "h"), Dense::NAMES, ())
                .hasher(hasher)
                .build_typed()
                .unwrap();
        // Indexes 0, 63 (inline), 64, 1023 (flat), 1024, 65535, 65536 + … (paged).
        let sets: Vec<Dense> = [Method::Get, Method::Post]
            .into_iter()
            .flat_map(|method| [0, 63, 64, 1023, 1024, 65535].map(|code| Dense { method, code }))
            .collect();
        for labels in &sets {
            vec.update(labels, |c| c.inc());
        }
        let before = calls.load(Ordering::Relaxed);
        for _ in 0..3 {
            for labels in &sets {
                vec.update(labels, |c| c.inc());
            }
        }
        assert_eq!(calls.load(Ordering::Relaxed), before);
        assert_eq!(vec.len(), sets.len());
        for labels in &sets {
            let values =
                labels.with_values(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            assert_eq!(
                vec.vec().with_label_values(&values).get(),
                4.0,
                "{values:?}"
            );
        }
    }

    #[test]
    fn a_removed_child_is_not_reached_through_the_table() {
        let vec: TypedVec<Dense, Counter> = TypedVec::new(Opts::new("c", "h")).unwrap();
        let labels = Dense {
            method: Method::Post,
            code: 7,
        };
        let old = vec.with(&labels);
        vec.update(&labels, |c| c.inc());
        assert!(vec.remove(&labels));
        vec.update(&labels, |c| c.inc_by(5));
        assert_eq!(old.get(), 1.0);
        assert_eq!(vec.with(&labels).get(), 5.0);
    }

    #[test]
    fn structs_with_strings_go_through_the_values() {
        let vec: TypedVec<WithPath<'static>, Counter> = TypedVec::new(Opts::new("c", "h")).unwrap();
        let path = String::from("/a");
        vec.update(
            &WithPath {
                method: Method::Get,
                path: &path,
            },
            |c| c.inc(),
        );
        assert_eq!(vec.vec().with_label_values(&["get", "/a"]).get(), 1.0);
    }

    #[test]
    fn nested_updates_on_the_same_vec_work() {
        let vec: TypedVec<Dense, Counter> = TypedVec::new(Opts::new("c", "h")).unwrap();
        let a = Dense {
            method: Method::Get,
            code: 1,
        };
        let b = Dense {
            method: Method::Get,
            code: 2,
        };
        vec.update(&a, |c| c.inc());
        vec.update(&a, |outer| {
            outer.inc();
            vec.update(&b, |inner| inner.inc_by(3));
            vec.update(&a, |again| again.inc());
        });
        assert_eq!(vec.with(&a).get(), 3.0);
        assert_eq!(vec.with(&b).get(), 3.0);
    }

    #[test]
    fn label_names_must_be_the_structs() {
        let err = VecBuilder::<Counter>::new(Opts::new("c", "h"), &["method"], ())
            .build_typed::<Dense>()
            .unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::LabelCount {
                    expected: 1,
                    got: 2,
                    ..
                }
            ),
            "{err}"
        );
        let err = VecBuilder::<Counter>::new(Opts::new("c", "h"), &["method", "status"], ())
            .build_typed::<Dense>()
            .unwrap_err();
        assert!(
            matches!(&err, crate::Error::UnknownLabel { label, .. } if label == "code"),
            "{err}"
        );
    }
}
