//! [`Counter`]: a monotonically increasing total with an integer fast path.

use std::ptr;

use super::shared::{HasLifecycle, Shared};
use super::thread_shards::{ThreadShards, SHARDS};
use super::{atomic_f64_add, thread_slot, Lifecycle, Metric, NewChild, STATE_GAP};
use crate::error::{Error, Result};
use crate::family::{Exemplar, MetricType, Value};
use crate::labels::LabelSet;
use crate::sync::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Mutex, Ordering};

/// The lifecycle, which every vec lookup reads (its identity), then the totals, which
/// updates write: threads updating one child through its vec move only the totals' line
/// between their cores, while the identity's stays shared (one line for both cost two
/// transfers per update: one to read the label values, one to add). The lifecycle keeps
/// its identity off the totals' line, and `_after`, with the label set's head
/// placed after the state, keeps the totals out of the 128-byte block of whatever the
/// allocator places next (see [`STATE_GAP`](super::STATE_GAP)).
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    totals: Totals,
    _after: [u8; STATE_GAP],
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// 16-byte aligned, so that it ends where the padding after it starts counting (see
/// `STATE_GAP`). `int` and `rows`, which every whole increment reads, share their 16
/// bytes, so one line: an update reads no other line of the counter.
#[repr(C, align(16))]
struct Totals {
    /// Whole increments of threads without a row: one `fetch_add`.
    int: AtomicU64,
    /// Per-thread totals, words [`INT`] and [`FLOAT`] of each thread's row: made with a
    /// counter on its own or a [`ShardedCounter`](crate::ShardedCounter), and with a
    /// vec's child once it is hot (see [`Core::crossed`]).
    rows: Rows,
    /// Fractional increments of threads without a row, as `f64` bits.
    float: AtomicU64,
    /// How often threads passed a multiple of [`CROSSING`] in `int` (see
    /// [`Core::crossed`]).
    crossings: AtomicU32,
    has_exemplar: AtomicBool,
    exemplar: Mutex<Option<Box<Exemplar>>>,
}

/// A row's word for whole increments.
const INT: usize = 0;
/// A row's word for fractional increments, as `f64` bits.
const FLOAT: usize = 1;

/// Every this many whole increments in `int` (a power of two), the thread adding counts
/// a crossing (see [`Core::crossed`]). Under loom, every increment, so that a model
/// reaches the rows in a few steps.
const CROSSING: u64 = if cfg!(promsdk_loom) { 1 } else { 256 };

/// Crossings after which a vec's child is hot and gets rows: 1,024 whole increments
/// through its shared total.
const HOT: u32 = if cfg!(promsdk_loom) { 1 } else { 4 };

/// A counter's rows (see [`ThreadShards`]), made with the counter or later: null until
/// made, then never changed until the counter is dropped.
struct Rows(AtomicPtr<ThreadShards>);

impl Rows {
    /// Rows made now if `made`, else none yet.
    fn new(made: bool) -> Self {
        Rows(AtomicPtr::new(if made {
            Self::shards()
        } else {
            ptr::null_mut()
        }))
    }

    /// New rows (none of the threads' rows made yet), for the pointer.
    fn shards() -> *mut ThreadShards {
        Box::into_raw(Box::new(ThreadShards::new(FLOAT + 1)))
    }

    /// The rows, if made.
    #[inline]
    fn get(&self) -> Option<&ThreadShards> {
        // Acquire: pairs with the Release in `make`, so a thread that finds the rows
        // finds them made. A plain load on x86 and a load-acquire on ARM.
        let shards = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null pointer is a `Box` made by `new` or `make`, freed only by
        // `drop`, which `&self` rules out meanwhile.
        unsafe { shards.as_ref() }
    }

    /// Makes the rows, unless another thread has.
    #[cold]
    fn make(&self) {
        let shards = Self::shards();
        // Release: see `get`. Relaxed on failure: the rows found are not read here.
        if self
            .0
            .compare_exchange(
                ptr::null_mut(),
                shards,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // SAFETY: made just above and published nowhere.
            drop(unsafe { Box::from_raw(shards) });
        }
    }
}

impl Drop for Rows {
    fn drop(&mut self) {
        // Relaxed: `&mut self`, nothing else reads the pointer.
        let shards = self.0.load(Ordering::Relaxed);
        if !shards.is_null() {
            // SAFETY: made by `new` or `make` from a `Box`, freed only here.
            drop(unsafe { Box::from_raw(shards) });
        }
    }
}

impl Core {
    fn new(lifecycle: Lifecycle, per_thread: bool) -> Self {
        Core {
            lifecycle,
            totals: Totals {
                int: AtomicU64::new(0),
                rows: Rows::new(per_thread),
                float: AtomicU64::new(0),
                crossings: AtomicU32::new(0),
                has_exemplar: AtomicBool::new(false),
                exemplar: Mutex::new(None),
            },
            _after: [0; STATE_GAP],
        }
    }

    /// This thread's row, if the counter has rows and the thread one of them.
    #[inline]
    fn own_row(&self) -> Option<&[AtomicU64]> {
        self.totals.rows.get()?.own()
    }

    /// Adds `n` in this thread's row; without one, to the shared total, and at every
    /// [`CROSSING`] there, counts a crossing.
    #[inline]
    fn inc_by(&self, n: u64) {
        match self.totals.rows.get() {
            None => {
                // Relaxed: only atomicity matters (see the `metrics` module doc).
                let before = self.totals.int.fetch_add(n, Ordering::Relaxed);
                // Some bit from `CROSSING`'s up changed: a multiple of it was passed.
                if before ^ before.wrapping_add(n) >= CROSSING {
                    self.crossed();
                }
            }
            Some(rows) => match rows.own() {
                Some(row) => {
                    // Relaxed: only this thread writes its row, and a reader needs each
                    // word read whole, which every atomic load and store is.
                    let int = &row[INT];
                    int.store(
                        int.load(Ordering::Relaxed).wrapping_add(n),
                        Ordering::Relaxed,
                    );
                }
                // Relaxed: as above.
                None => _ = self.totals.int.fetch_add(n, Ordering::Relaxed),
            },
        }
    }

    /// A thread passed a multiple of [`CROSSING`] in the shared total of a counter
    /// without rows (a vec's child). After [`HOT`] crossings the child is hot and gets
    /// rows: from then on each thread adds to a row of its own with a plain load and
    /// store, instead of a locked add (about 4 ns on an Intel Xeon even alone) whose
    /// line moves between cores when threads share the child. A child with fewer
    /// increments, as most series that come and go, never gets any, so series churn
    /// allocates no rows. Rows cost 72 bytes, and 128 per thread updating the child.
    ///
    /// Crossings by a thread without a row slot do not count: rows would not spare it
    /// the shared total. A plain load and store: two crossings racing may count once
    /// (the rows then come a crossing later).
    #[cold]
    #[inline(never)]
    fn crossed(&self) {
        if !matches!(thread_slot::current(), Some(slot) if slot < SHARDS) {
            return;
        }
        // Relaxed: a count; nothing is published through it.
        let crossings = self.totals.crossings.load(Ordering::Relaxed) + 1;
        if crossings >= HOT {
            self.totals.rows.make();
        }
        self.totals.crossings.store(crossings, Ordering::Relaxed);
    }

    /// Adds `v` in this thread's row, or to the shared total if it has none.
    #[inline]
    fn add(&self, v: f64) {
        if let Some(row) = self.own_row() {
            // Relaxed: as in `inc_by`.
            let float = &row[FLOAT];
            let sum = f64::from_bits(float.load(Ordering::Relaxed)) + v;
            float.store(sum.to_bits(), Ordering::Relaxed);
        } else {
            atomic_f64_add(&self.totals.float, v);
        }
    }

    /// The whole and the fractional total: the shared words and every row.
    #[inline]
    fn totals(&self) -> (u64, f64) {
        // Relaxed: a statistic; each word is read atomically, and each only grows, so
        // a later read by the same thread is never smaller.
        let mut int = self.totals.int.load(Ordering::Relaxed);
        let mut float = f64::from_bits(self.totals.float.load(Ordering::Relaxed));
        for row in self
            .totals
            .rows
            .get()
            .into_iter()
            .flat_map(ThreadShards::rows)
        {
            // Relaxed: as above.
            int = int.wrapping_add(row[INT].load(Ordering::Relaxed));
            float += f64::from_bits(row[FLOAT].load(Ordering::Relaxed));
        }
        (int, float)
    }
}

/// A counter: a total that only goes up (until the process restarts).
///
/// `inc` and `inc_by` take the integer fast path; `add` takes any non-negative `f64`.
/// The exposed value is the sum of both.
///
/// A counter made on its own (`Counter::default()`, registered with
/// [`Registry::register_metric`](crate::Registry::register_metric)) counts per thread:
/// each thread adds to a row of its own (made by its first update, one allocation of
/// 128 bytes, for the first 8 threads alive at once), with a plain load and store and
/// no locked instruction, and threads sharing the counter never write the same cache
/// line. Reading adds up the rows. A vec's child (see
/// [`CounterVec`](crate::CounterVec)) starts with one atomic total, updated by one
/// atomic add: a row per thread and series would cost series churn an allocation
/// each. After 1,024 whole increments the child is hot and counts per thread too, as a
/// counter on its own does: its updates take no locked instruction, and a series that
/// several threads update at once stops moving its cache line between their cores.
/// [`ShardedCounter`](crate::ShardedCounter) is a child with rows from the start.
///
/// ```
/// use promsdk::Counter;
/// let c = Counter::default();
/// c.inc();
/// c.inc_by(2);
/// c.add(0.5).unwrap();
/// assert!(c.add(-1.0).is_err());
/// assert_eq!(c.get(), 3.5);
/// ```
#[derive(Clone)]
pub struct Counter(Shared<Core>);

impl Default for Counter {
    fn default() -> Self {
        Self::from_config(&(), NewChild::default())
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds a whole number.
    ///
    /// A load and a store of this thread's row, or one atomic add, and no update mark:
    /// TTL expiry sees the integer total change (see [`Metric::untouched_progress`]).
    /// Only adding zero, which changes nothing, marks.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        if n == 0 {
            self.0.lifecycle.touch();
        }
        self.0.inc_by(n);
    }

    /// Adds `v`, which must be non-negative and not NaN.
    #[inline]
    pub fn add(&self, v: f64) -> Result<()> {
        if v.is_nan() || v < 0.0 {
            return Err(Error::NegativeCounterAdd { value: v });
        }
        self.0.lifecycle.touch();
        self.0.add(v);
        Ok(())
    }

    /// Adds `v` and records an exemplar (e.g. `trace_id`) shown in OpenMetrics output,
    /// replacing the previous one.
    ///
    /// # Errors
    ///
    /// Nothing changes (neither the total nor the exemplar) and
    /// - [`Error::ExemplarTooLong`] if the exemplar's label names and values have more
    ///   than [`MAX_EXEMPLAR_LABEL_CHARS`](crate::MAX_EXEMPLAR_LABEL_CHARS) characters
    ///   together (OpenMetrics' limit; client_golang panics here without adding);
    /// - [`Error::NegativeCounterAdd`] if `v` is negative or NaN.
    ///
    /// ```
    /// use promsdk::{Counter, Error, LabelSet};
    /// let c = Counter::default();
    /// let trace = LabelSet::from_pairs("c", &[("trace_id", "abc")]).unwrap();
    /// c.add_with_exemplar(2.0, trace).unwrap();
    /// // "trace_id" (8) + 121 characters is one over the limit: nothing is recorded.
    /// let long = LabelSet::from_pairs("c", &[("trace_id", &"x".repeat(121))]).unwrap();
    /// let err = c.add_with_exemplar(5.0, long).unwrap_err();
    /// assert!(matches!(err, Error::ExemplarTooLong { chars: 129, limit: 128, .. }));
    /// assert_eq!(c.get(), 2.0);
    /// ```
    pub fn add_with_exemplar(&self, v: f64, exemplar_labels: LabelSet) -> Result<()> {
        Exemplar::check_labels("", &exemplar_labels)?;
        self.add(v)?;
        *self.0.totals.exemplar.lock() = Some(Box::new(Exemplar {
            labels: exemplar_labels,
            value: v,
            timestamp: Some(crate::clock::Clock::unix_seconds(
                &crate::clock::SystemClock,
            )),
        }));
        // Release: pairs with the Acquire in `value` so a gather that sees the flag
        // finds the exemplar behind the lock (the lock itself also orders it).
        self.0.totals.has_exemplar.store(true, Ordering::Release);
        Ok(())
    }

    /// The current total.
    pub fn get(&self) -> f64 {
        let (int, float) = self.0.totals();
        int as f64 + float
    }

    /// A counter on its own if `child` is the default (see [`NewChild`]), counting per
    /// thread; a vec's child with one atomic total otherwise (until it is hot, see
    /// [`Core::crossed`]), or per thread from the start if `per_thread`.
    pub(crate) fn with_rows(child: NewChild<'_>, per_thread: bool) -> Self {
        let per_thread = per_thread || child.is_standalone();
        Counter(Shared::new(child, |lifecycle| {
            Core::new(lifecycle, per_thread)
        }))
    }
}

impl Metric for Counter {
    type Config = ();
    const TYPE: MetricType = MetricType::Counter;

    fn check_config(_: &str, _: &()) -> Result<()> {
        Ok(())
    }

    fn from_config(_: &(), child: NewChild<'_>) -> Self {
        Self::with_rows(child, false)
    }

    fn value(&self) -> Value {
        let exemplar = if self.0.totals.has_exemplar.load(Ordering::Acquire) {
            self.0.totals.exemplar.lock().clone()
        } else {
            None
        };
        Value::Counter {
            total: self.get(),
            created: None,
            exemplar,
        }
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(Counter)
    }

    /// The integer total, which every `inc_by` of at least one changes (it would take
    /// 2^64 increments between two looks of a sweep to come back to the same value).
    fn untouched_progress(&self) -> u64 {
        // Relaxed: an older total only makes a child look idle; a sweep frees one only
        // after a second look ordered after the drops of the handles that updated it
        // (see `crate::vec::ttl`), and a gather hides it for that gather at most. Plain
        // loads: a read-modify-write here (as before) took the totals' line exclusive
        // at every gather of a TTL vec, a locked instruction per child.
        self.0.totals().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity a lookup reads, the totals an update writes and the handle count a
    /// clone writes are on different 64-byte lines, without the over-alignment that
    /// would take the allocator's slow path; `rows`, which a whole increment reads, is
    /// on the line of `int`, which it writes.
    #[test]
    fn identity_and_totals_have_cache_lines_of_their_own() {
        crate::metrics::layout::assert_state_apart(
            std::mem::offset_of!(Core, lifecycle),
            (
                std::mem::offset_of!(Core, totals),
                std::mem::size_of::<Totals>(),
            ),
            std::mem::size_of::<Core>(),
            std::mem::align_of::<Core>(),
        );
        assert_eq!(std::mem::offset_of!(Totals, int), 0);
        assert_eq!(std::mem::offset_of!(Totals, rows), 8);
        assert_eq!(std::mem::align_of::<Totals>(), 16);
    }

    /// `inc` is one atomic add: no mark, but the progress TTL expiry compares moves;
    /// adding zero (which moves nothing) and fractional adds mark.
    #[test]
    fn whole_increments_move_the_progress_and_the_rest_marks() {
        let c = Counter::default();
        c.inc();
        c.inc_by(2);
        assert!(!c.lifecycle().take_touched());
        assert_eq!(c.untouched_progress(), 3);
        c.inc_by(0);
        assert!(c.lifecycle().take_touched());
        c.add(0.5).unwrap();
        assert!(c.lifecycle().take_touched());
        assert_eq!(c.untouched_progress(), 3);
    }

    #[test]
    fn clones_share_the_value_across_threads() {
        const PER_THREAD: u64 = if cfg!(miri) { 50 } else { 10_000 };
        let c = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let c = c.clone();
                s.spawn(move || {
                    for _ in 0..PER_THREAD {
                        c.inc();
                        c.add(0.5).unwrap();
                    }
                });
            }
        });
        assert_eq!(c.get(), 4.0 * 1.5 * PER_THREAD as f64);
    }

    /// How many rows `c` has, and what its shared words hold.
    fn rows_and_shared(c: &Counter) -> (Option<usize>, f64) {
        let totals = &c.0.totals;
        let shared = totals.int.load(Ordering::Relaxed) as f64
            + f64::from_bits(totals.float.load(Ordering::Relaxed));
        (
            c.0.totals.rows.get().map(|rows| rows.rows().count()),
            shared,
        )
    }

    /// Whether the calling thread has a row in metrics with rows (tests running beside
    /// this one may hold the low slots).
    fn has_row() -> bool {
        super::super::thread_slot::current()
            .is_some_and(|slot| slot < super::super::thread_shards::SHARDS)
    }

    #[test]
    fn a_counter_on_its_own_counts_per_thread_a_child_in_one_atomic() {
        let c = Counter::default();
        c.inc();
        c.add(0.5).unwrap();
        let row = has_row();
        let expected = if row { (Some(1), 0.0) } else { (Some(0), 1.5) };
        assert_eq!(rows_and_shared(&c), expected);
        let other = std::thread::scope(|s| {
            s.spawn(|| {
                c.inc_by(2);
                has_row()
            })
            .join()
            .unwrap()
        });
        let rows = usize::from(row) + usize::from(other);
        let shared = if row { 0.0 } else { 1.5 } + if other { 0.0 } else { 2.0 };
        assert_eq!(rows_and_shared(&c), (Some(rows), shared));
        assert_eq!(c.get(), 3.5);

        let vec = crate::CounterVec::new(crate::Opts::new("c_total", "C."), &["a"]).unwrap();
        let child = vec.with_label_values(&["x"]);
        child.inc();
        child.add(0.5).unwrap();
        assert_eq!(rows_and_shared(&child), (None, 1.5), "a vec's child");
        let vec = crate::MetricVec::<crate::ShardedCounter>::new(
            crate::Opts::new("s_total", "S."),
            &["a"],
        )
        .unwrap();
        let child = vec.with_label_values(&["x"]);
        child.inc();
        let expected = if row { (Some(1), 0.0) } else { (Some(0), 1.0) };
        assert_eq!(rows_and_shared(&child.0), expected, "a sharded child");
    }

    /// A vec's child keeps its one atomic total for `HOT * CROSSING - 1` whole
    /// increments, and counts in this thread's row from the next one on.
    #[test]
    fn a_child_gets_rows_once_hot() {
        let hot = u64::from(HOT) * CROSSING;
        let vec = crate::CounterVec::new(crate::Opts::new("c_total", "C."), &["a"]).unwrap();
        let child = vec.with_label_values(&["x"]);
        for _ in 0..hot - 2 {
            child.inc();
        }
        child.inc_by(1);
        assert_eq!(rows_and_shared(&child), (None, (hot - 1) as f64));
        child.inc();
        for _ in 0..10 {
            child.inc();
        }
        child.add(0.5).unwrap();
        let row = has_row();
        let expected = if row {
            (Some(1), hot as f64)
        } else {
            (None, hot as f64 + 10.5)
        };
        assert_eq!(rows_and_shared(&child), expected);
        assert_eq!(child.get(), hot as f64 + 10.5);
        // One `inc_by` passing `HOT` multiples crosses once: no rows yet.
        let other = vec.with_label_values(&["y"]);
        other.inc_by(hot);
        assert_eq!(rows_and_shared(&other).0, None);
    }

    /// Two threads take turns at a vec's child, `CROSSING` increments each: once hot
    /// (after `HOT` turns) it has rows, one for each thread, and nothing is lost.
    #[test]
    fn threads_taking_turns_at_a_hot_child_count_in_rows_of_their_own() {
        let vec = crate::CounterVec::new(crate::Opts::new("c_total", "C."), &["a"]).unwrap();
        let child = vec.with_label_values(&["x"]);
        let turn = std::sync::Barrier::new(2);
        let rounds = 2 * u64::from(HOT) + 2;
        // Per round, whether the child had rows before it, as seen by its thread (if
        // that has a row: tests beside this one may hold the low slots).
        let (seen, both_rows) = std::thread::scope(|s| {
            let threads: Vec<_> = (0..2)
                .map(|t| {
                    let (child, turn) = (&child, &turn);
                    s.spawn(move || {
                        let row = has_row();
                        let mut seen = Vec::new();
                        turn.wait();
                        for round in 0..rounds {
                            if round % 2 == t {
                                seen.push((round, rows_and_shared(child).0.is_some()));
                                for _ in 0..CROSSING {
                                    child.inc();
                                }
                            }
                            turn.wait();
                        }
                        child.add(0.5).unwrap();
                        (row, seen)
                    })
                })
                .collect();
            let mut all = Vec::new();
            let mut both_rows = true;
            for t in threads {
                let (row, seen) = t.join().unwrap();
                both_rows &= row;
                all.extend(seen);
            }
            all.sort_unstable();
            (all, both_rows)
        });
        let total = rounds * CROSSING;
        assert_eq!(child.get(), total as f64 + 1.0);
        if both_rows {
            let expected: Vec<_> = (0..rounds).map(|r| (r, r >= u64::from(HOT))).collect();
            assert_eq!(seen, expected, "rows only after `HOT` turns");
            // The turns up to the one that made the rows went to the shared total; each
            // thread counted its later turns, and its half, in a row of its own.
            let (rows, shared) = rows_and_shared(&child);
            assert_eq!(rows, Some(2));
            assert_eq!(shared, (u64::from(HOT) * CROSSING) as f64);
        }
    }

    /// 12 threads alive at once: at least 4 of them past the rows, in the shared words;
    /// a reader meanwhile never sees the total go down; the total is exact.
    #[test]
    fn threads_with_and_without_rows_add_up_exactly_while_read() {
        const THREADS: usize = super::super::thread_shards::SHARDS + 4;
        const PER_THREAD: u64 = if cfg!(miri) { 10 } else { 20_000 };
        let c = Counter::default();
        let alive = std::sync::Barrier::new(THREADS + 1);
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    // Slots taken while all are alive, so distinct.
                    has_row();
                    alive.wait();
                    for _ in 0..PER_THREAD {
                        c.inc();
                        c.add(0.25).unwrap();
                    }
                });
            }
            s.spawn(|| {
                alive.wait();
                let mut last = 0.0;
                while !done.load(Ordering::Relaxed) {
                    let now = c.get();
                    assert!(now >= last, "{now} after {last}");
                    last = now;
                }
            });
            // Released once every updating thread is done.
            s.spawn(|| {
                while c.get() < (THREADS as u64 * PER_THREAD) as f64 * 1.25 {
                    std::thread::yield_now();
                }
                done.store(true, Ordering::Relaxed);
            });
        });
        let (rows, shared) = rows_and_shared(&c);
        assert!(rows.is_some_and(|r| r <= super::super::thread_shards::SHARDS));
        assert!(
            shared >= (4 * PER_THREAD) as f64 * 1.25,
            "{shared} in the shared words"
        );
        assert_eq!(c.get(), (THREADS as u64 * PER_THREAD) as f64 * 1.25);
    }

    #[test]
    fn rejects_negative_and_nan() {
        let c = Counter::default();
        assert!(matches!(c.add(-0.1), Err(Error::NegativeCounterAdd { .. })));
        assert!(c.add(f64::NAN).is_err());
        assert_eq!(c.get(), 0.0);
    }

    #[test]
    fn exemplar_is_reported() {
        let c = Counter::default();
        let labels = LabelSet::from_pairs("c", &[("trace_id", "abc")]).unwrap();
        c.add_with_exemplar(2.0, labels.clone()).unwrap();
        match c.value() {
            Value::Counter {
                total,
                exemplar: Some(e),
                ..
            } => {
                assert_eq!(total, 2.0);
                assert_eq!(e.labels, labels);
                assert_eq!(e.value, 2.0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The exemplar and total a gather reports.
    fn exemplar_and_total(c: &Counter) -> (Option<Box<Exemplar>>, f64) {
        match c.value() {
            Value::Counter {
                total, exemplar, ..
            } => (exemplar, total),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn too_long_exemplar_changes_nothing() {
        let c = Counter::default();
        // "trace_id" is 8 characters, each "€" one character of 3 bytes.
        let at_limit = LabelSet::from_pairs("c", &[("trace_id", &"€".repeat(120))]).unwrap();
        let over = LabelSet::from_pairs("c", &[("trace_id", &"€".repeat(121))]).unwrap();
        c.add_with_exemplar(1.0, at_limit.clone()).unwrap();
        match c.add_with_exemplar(4.0, over) {
            Err(Error::ExemplarTooLong {
                label_names,
                chars,
                limit,
                ..
            }) => {
                assert_eq!(label_names, ["trace_id"]);
                assert_eq!((chars, limit), (129, 128));
            }
            other => panic!("expected ExemplarTooLong, got {other:?}"),
        }
        let (exemplar, total) = exemplar_and_total(&c);
        assert_eq!(total, 1.0);
        assert_eq!(exemplar.unwrap().labels, at_limit);
    }

    #[test]
    fn negative_add_with_exemplar_changes_nothing() {
        let c = Counter::default();
        let labels = LabelSet::from_pairs("c", &[("trace_id", "abc")]).unwrap();
        assert!(matches!(
            c.add_with_exemplar(-1.0, labels),
            Err(Error::NegativeCounterAdd { .. })
        ));
        assert_eq!(exemplar_and_total(&c), (None, 0.0));
    }
}
