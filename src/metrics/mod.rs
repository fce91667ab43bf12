//! The live metric types and the [`Metric`] trait that lets a
//! [`MetricVec`](crate::MetricVec) create, snapshot and expire them.
//!
//! Every metric is a cheap `Clone` handle over shared atomics: clones update the same
//! value. Update paths are lock-free, allocation-free (but for a thread's first
//! observation of a histogram or first update of a counter with per-thread rows, which
//! makes the thread's row of it: see `thread_shards.rs`) and use `Relaxed`
//! orderings: a metric value is a statistic read by a later gather, nothing else is
//! published through it, so only the atomicity of each update matters.

use crate::error::Result;
use crate::family::{MetricType, Value};
use crate::labels::{LabelSet, LabelText};
use crate::sync::{AtomicBool, AtomicU64, Ordering};
use key::Key;
use std::mem::ManuallyDrop;

mod bounds;
mod bucket_counts;
pub mod counter;
pub mod gauge;
pub mod histogram;
pub mod info;
pub(crate) mod key;
mod quantile;
pub mod sharded_counter;
pub(crate) mod shared;
pub mod stateset;
pub mod summary;
mod thread_shards;
mod thread_slot;
pub mod timer;

/// A metric type that can be a child of a [`MetricVec`](crate::MetricVec) or be
/// registered alone.
///
/// promsdk's metric types implement it; a type of your own implements it by wrapping one
/// of them, whose allocation holds the lifecycle and the child's label set (see
/// [`NewChild`]).
pub trait Metric: Clone + Send + Sync + 'static {
    /// What every child of a vec is built from (bucket bounds, quantile objectives);
    /// `()` for counters and gauges.
    type Config: Clone + Send + Sync + 'static;

    /// The family type this metric reports.
    const TYPE: MetricType;

    /// Checks a configuration before any child is built from it.
    fn check_config(metric: &str, config: &Self::Config) -> Result<()>;

    /// A fresh metric built from a configuration that passed [`Metric::check_config`],
    /// whose shared state keeps a lifecycle (returned by [`Metric::lifecycle`]) made from
    /// `child`: a vec hands in a new child's identity and label set this way; a metric
    /// that is not a child gets `NewChild::default()`.
    fn from_config(config: &Self::Config, child: NewChild<'_>) -> Self;

    /// A consistent snapshot of the current value.
    fn value(&self) -> Value;

    /// The shared lifecycle state: the child's identity in its vec, and the mark that
    /// updates set (used for TTL expiry).
    fn lifecycle(&self) -> &Lifecycle;

    /// How many handles share this metric (the vec's own included); a vec frees an
    /// expired child only when it holds the last one.
    fn handle_count(&self) -> usize;

    /// This handle as `N` handles (`N` of at least 1). promsdk's metric types make them
    /// without a locked instruction each when this is the only handle, as a vec's
    /// child just made is; by default, clones.
    fn into_handles<const N: usize>(self) -> [Self; N] {
        std::array::from_fn(|_| self.clone())
    }

    /// A number that changes with every update that does not call
    /// [`Lifecycle::touch`]: TTL expiry counts a change of it since its previous look as
    /// an update. `0` (the default) for metric types whose updates all touch.
    ///
    /// A [`Counter`](crate::Counter) returns its integer total (its rows' included), so
    /// its `inc` sets no mark: a mark on the counter's cache line would make threads
    /// sharing a counter move that line between cores twice per increment, once to read
    /// the mark and once to add.
    fn untouched_progress(&self) -> u64 {
        0
    }
}

/// What a vec knows of a child it creates, for [`Metric::from_config`] to make the
/// child's [`Lifecycle`] from: the hash of its label values, the values, its label set
/// (rendered, for the metric to place beside its state) and the time. The default is
/// for a metric that is no vec's child.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewChild<'a> {
    hash: u64,
    values: &'a [&'a str],
    labels: LabelText<'a>,
    now: u64,
    /// Made by a vec (`new`), not the default.
    in_vec: bool,
}

impl<'a> NewChild<'a> {
    /// The child with label values `values` hashed to `hash`, label set `labels`, seen at
    /// `now` (vec clock nanoseconds).
    pub(crate) fn new(hash: u64, values: &'a [&'a str], labels: LabelText<'a>, now: u64) -> Self {
        NewChild {
            hash,
            values,
            labels,
            now,
            in_vec: true,
        }
    }

    /// Whether this is the default: for a metric that is no vec's child.
    pub(crate) fn is_standalone(&self) -> bool {
        !self.in_vec
    }
}

/// Per-metric state that vecs use: the child's identity in its vec (the hash and label
/// values a lookup compares), whether the metric was updated since the last TTL sweep
/// looked at it, and what the vec keeps about the child (its label set, when it was last
/// seen updated, whether it was removed).
///
/// Metric types keep it first in their shared state, followed by the values updates
/// write. The identity takes a 64-byte line of its own, so a vec lookup answered from a
/// thread cache reads one line and neither moves the line that threads updating the
/// same child take turns at, nor the line of the reference counts before it (which
/// clones and drops of handles write). The child state follows the identity; gathers
/// and sweeps read it beside the value. A vec's map and lists hold the metric itself:
/// finding a child's labels, key or marks follows no pointer beyond the metric's own.
///
/// The lines are kept apart by padding rather than by 64-byte alignment: an allocation
/// with more than 16-byte alignment takes the system allocator's slow path
/// (`posix_memalign`, about 450 instructions against about 150 for `malloc` in glibc),
/// once per child a vec creates. Every part starts a multiple of 16 bytes from the
/// allocation's start, and 48 bytes between two parts are enough for a line boundary
/// between them wherever a 16-byte-aligned allocation starts (see `LINE_GAP`): before
/// the identity (after the 16 bytes of the handle count), and between its end and whatever
/// follows the lifecycle.
#[repr(C)]
pub struct Lifecycle {
    _before: [u8; LINE_GAP],
    id: Identity,
    pub(crate) child: Child,
    _after: [u8; 16],
}

/// Bytes between two parts of an allocation that starts 16-byte aligned, each part
/// starting and ending a multiple of 16 bytes from the allocation's start, that keep
/// the two off each other's 64-byte line: the last byte of the first is at 15, 31, 47
/// or 63 in its line, and 48 bytes on is always past that line's end.
pub(crate) const LINE_GAP: usize = 48;

/// Bytes after a part that threads write by turns (a counter's totals, a gauge's
/// value), at the end of its allocation, that keep whatever the allocator places next
/// out of the 128-byte block the part's line pairs with: some CPUs fetch lines in pairs,
/// and a neighbour written by another thread in the pair's other line then contends as
/// if it were on the same line (measured: a plain `Counter` incremented from two threads
/// took 13 to 15 ns an increment instead of 8.1 with only `LINE_GAP` after its totals).
/// As `LINE_GAP`, for 128-byte blocks: 112 bytes on from a part's end, a multiple of 16
/// bytes from a 16-byte-aligned start, is always past its block's end.
pub(crate) const PAIR_GAP: usize = 112;

/// Bytes after such a part at the end of a metric's state, before the label set that
/// [`shared`] places after the state: the set's first [`PLACED_HEAD`] bytes (its tail and
/// header) make up the rest of [`PAIR_GAP`] before whatever the allocator places next.
/// They are written when the set is made and then only at gathers, by a new sample's
/// reference: rarely, beside the updates.
///
/// [`PLACED_HEAD`]: crate::labels::PLACED_HEAD
pub(crate) const STATE_GAP: usize = PAIR_GAP - crate::labels::PLACED_HEAD;

/// What a lookup compares: one 64-byte part (label values up to 46 bytes encoded are
/// kept inline).
#[repr(C)]
pub(crate) struct Identity {
    hash: u64,
    key: Key,
    touched: AtomicBool,
}

/// What a vec keeps about a child beside its identity: read by gathers and TTL sweeps,
/// never by lookups or updates. 32 bytes.
#[repr(C)]
pub(crate) struct Child {
    /// The child's full label set, as exported: in the metric's own allocation, whose
    /// handles drop it last (see [`shared`]).
    pub(crate) labels: ManuallyDrop<LabelSet>,
    /// When the child was last seen updated, in the vec clock's nanoseconds.
    pub(crate) last_seen: AtomicU64,
    /// The metric's [`Metric::untouched_progress`] at that time.
    pub(crate) last_progress: AtomicU64,
    /// Set, under its shard's write lock, when the child leaves the vec's map: the
    /// gather's sorted list drops it at its next pass. Relaxed loads and stores: it
    /// publishes nothing, and readers that must see it (gathers, compaction) are
    /// ordered after the store by the vec's removal count (see `Inner::removed`).
    pub(crate) removed: AtomicBool,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("label_values", &self.id.key.values().collect::<Vec<_>>())
            .field("touched", &self.id.touched)
            .finish()
    }
}

impl Lifecycle {
    /// The lifecycle of the vec child whose label values, hashed to `hash`, are `key`,
    /// whose label set is `labels`, seen at `now` (vec clock nanoseconds).
    fn for_child(hash: u64, key: Key, labels: LabelSet, now: u64) -> Self {
        Lifecycle {
            _before: [0; LINE_GAP],
            id: Identity {
                hash,
                key,
                touched: AtomicBool::new(false),
            },
            child: Child {
                labels: ManuallyDrop::new(labels),
                last_seen: AtomicU64::new(now),
                last_progress: AtomicU64::new(0),
                removed: AtomicBool::new(false),
            },
            _after: [0; 16],
        }
    }

    /// The hash of the child's label values (0 for a metric that is no child).
    pub(crate) fn hash(&self) -> u64 {
        self.id.hash
    }

    /// The child's label values.
    pub(crate) fn key(&self) -> &Key {
        &self.id.key
    }

    /// Whether this is the child with these label values, whose hash is `hash`: the
    /// hash rules most candidates out, the values decide.
    #[inline]
    pub(crate) fn is_child(&self, hash: u64, values: &[&str]) -> bool {
        self.id.hash == hash && self.id.key.matches(values)
    }

    /// Marks an update. Called with every update that does not move the metric's
    /// [`Metric::untouched_progress`] (before or after the value changes:
    /// TTL correctness rests on reference counts, see [`crate::vec::ttl`], and the mark only
    /// decides whether an idle child is exported), so kept to one relaxed load in the
    /// common case: the store only happens once per sweep period, which keeps the cache
    /// line shared between cores instead of bouncing it on every update.
    #[inline]
    pub fn touch(&self) {
        // Relaxed: a stale read only delays when the sweep sees the update; the value
        // itself is never lost because it lives in the metric, not in this flag.
        if !self.id.touched.load(Ordering::Relaxed) {
            self.id.touched.store(true, Ordering::Relaxed);
        }
    }

    /// The part a lookup reads (to prefetch it).
    pub(crate) fn identity(&self) -> &Identity {
        &self.id
    }

    /// Asks for the lines a TTL look at the metric whose lifecycle is at `at` reads: the
    /// handle count before the lifecycle, the identity (the mark), the child state and
    /// the values after the lifecycle. Only the address is used: nothing is read, so
    /// `at` needs no borrow.
    #[inline(always)]
    pub(crate) fn prefetch_look(at: *const Lifecycle) {
        let start = at.cast::<u8>();
        crate::prefetch::prefetch_line(start.wrapping_sub(16));
        crate::prefetch::prefetch_line(start.wrapping_add(std::mem::offset_of!(Lifecycle, id)));
        crate::prefetch::prefetch_line(start.wrapping_add(std::mem::offset_of!(Lifecycle, child)));
        crate::prefetch::prefetch_line(start.wrapping_add(size_of::<Lifecycle>()));
    }

    /// Clears the mark, returning whether it was set (used by TTL sweeps and gathers).
    pub(crate) fn take_touched(&self) -> bool {
        // Relaxed: as in `touch`; the read-modify-write is atomic, so no mark is lost
        // between the read and the clear. A compare-exchange rather than `swap` because
        // loom mis-models a store racing a `swap` (tokio-rs/loom#254) and we model-check
        // this race. A plain load first: most children a sweep or gather looks at are
        // unmarked (a counter's `inc` does not mark), and a locked instruction costs about
        // twenty cycles and takes the line exclusive even when it changes nothing. A mark
        // set after the load is found at the next look, as if set after the exchange.
        self.id.touched.load(Ordering::Relaxed)
            && self
                .id
                .touched
                .compare_exchange(true, false, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Adds `delta` to an `f64` stored as bits in `cell`, with a compare-and-swap loop.
#[inline]
pub(crate) fn atomic_f64_add(cell: &AtomicU64, delta: f64) {
    // Relaxed: see the module doc; the CAS makes the read-modify-write atomic.
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(old) + delta).to_bits();
        match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => old = actual,
        }
    }
}

/// Checks of how metric types lay out their shared state.
#[cfg(test)]
pub(crate) mod layout {
    /// Where a metric's shared state starts in its allocation: after the 16 bytes of
    /// its handle count (see [`super::shared`]), where an `Arc`'s two counts would be.
    pub(crate) const ARC_COUNTS: usize = 16;

    /// The `block`-byte blocks that `len` bytes at `offset` in an allocation starting
    /// at `start` cover.
    fn blocks(block: usize, start: usize, (offset, len): (usize, usize)) -> (usize, usize) {
        ((start + offset) / block, (start + offset + len - 1) / block)
    }

    /// Asserts that no two of `parts` (offset, length) of an allocation share a 64-byte
    /// line, wherever a 16-byte-aligned allocation starts.
    fn assert_apart(parts: &[(usize, usize)]) {
        assert_apart_in(64, parts);
    }

    /// Asserts that no two of `parts` share a `block`-byte block, wherever a
    /// 16-byte-aligned allocation starts.
    fn assert_apart_in(block: usize, parts: &[(usize, usize)]) {
        for start in (0..block).step_by(16) {
            for (i, &a) in parts.iter().enumerate() {
                for &b in &parts[i + 1..] {
                    let (a_first, a_last) = blocks(block, start, a);
                    let (b_first, b_last) = blocks(block, start, b);
                    assert!(
                        a_last < b_first || b_last < a_first,
                        "parts {a:?} and {b:?} share a {block}-byte block in an allocation \
                         at {start} mod {block}"
                    );
                }
            }
        }
    }

    /// Asserts how a metric type lays out its shared state of `size` bytes, with its
    /// lifecycle at `lifecycle` (first: see [`assert_lifecycle_first`]) and the part
    /// updates write (`offset`, `len`): the handle count clones write, the identity
    /// lookups read and that part on 64-byte lines of their own, and the part out of the
    /// 128-byte blocks of the counts and of the next allocation (which starts after the
    /// label set's head that follows the state, or later), all without the
    /// over-alignment that takes the allocator's slow path.
    pub(crate) fn assert_state_apart(
        lifecycle: usize,
        (offset, len): (usize, usize),
        size: usize,
        align: usize,
    ) {
        assert_lifecycle_first(lifecycle, align);
        let written = (ARC_COUNTS + offset, len);
        assert_apart(&[COUNTS, IDENTITY, written]);
        let next = ARC_COUNTS + size + crate::labels::PLACED_HEAD;
        assert_apart_in(128, &[COUNTS, written, (next, 16)]);
    }

    /// Asserts that a metric type keeps its lifecycle (at `lifecycle` in its shared
    /// state) first, where a gather's prefetches expect it, with the identity lookups read
    /// off the line of the handle count clones write, and no over-alignment to take the
    /// allocator's slow path.
    pub(crate) fn assert_lifecycle_first(lifecycle: usize, align: usize) {
        assert_eq!(lifecycle, 0, "the lifecycle is not first");
        assert_apart(&[COUNTS, IDENTITY]);
        assert!(align <= 16, "aligned to {align}");
    }

    /// Where the handle count is in a metric's allocation.
    const COUNTS: (usize, usize) = (0, ARC_COUNTS);

    /// Where the identity is in a metric's allocation, its lifecycle first.
    const IDENTITY: (usize, usize) = (
        ARC_COUNTS + std::mem::offset_of!(super::Lifecycle, id),
        std::mem::size_of::<super::Identity>(),
    );

    #[test]
    fn parts_on_one_line_are_caught() {
        let caught = std::panic::catch_unwind(|| assert_apart(&[(0, 16), (32, 16)]));
        assert!(caught.is_err());
        assert_apart(&[(0, 16), (64, 16)]);
        assert_eq!(std::mem::size_of::<super::Identity>(), 64);
    }
}
