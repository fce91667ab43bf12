//! [`ThreadShards`]: a row of words for each thread slot (see `thread_slot.rs`), which
//! only the thread holding the slot writes, so an update there needs no atomic
//! read-modify-write: a plain load and store of the thread's own word.
//!
//! A histogram's bucket counts (`bucket_counts.rs`) and a counter's totals
//! ([`Counter`](crate::Counter) outside a vec, [`ShardedCounter`](crate::ShardedCounter))
//! count in them: threads updating one metric at once then never write the same cache
//! line, and a thread alone takes no locked instruction either. Readers add up every
//! row.
//!
//! A row is made by its thread's first update (the one allocation of the update path),
//! for the first [`SHARDS`] slots; the threads past them, and threads exiting (their
//! slot given back), get no row and update the metric's shared atomics instead. A row
//! outlives its thread: the next thread given the slot counts on from its words (the
//! slot's hand-over orders the two threads' stores, see `thread_slot.rs`).

use std::ptr;

use super::thread_slot;
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// Thread slots with a row of their own; a metric holds at most this many rows.
pub(crate) const SHARDS: usize = 8;

/// Words per block.
const WORDS: usize = 16;

/// A row is a run of blocks, each on cache lines of its own (128 bytes: the pair of
/// lines that adjacent-line prefetching moves together), so no other thread's writes
/// share them. No padding within or between blocks: the row is one run of words.
#[repr(C, align(128))]
struct Block([AtomicU64; WORDS]);

const _: () = assert!(std::mem::size_of::<Block>() == WORDS * std::mem::size_of::<AtomicU64>());

/// A row of at least `words` words (all zero when made) per thread slot, made by the
/// slot's thread at its first [`own`](ThreadShards::own).
#[derive(Debug)]
pub(crate) struct ThreadShards {
    /// The row of each slot, null until the slot's thread first asks for it: a leaked
    /// `Box<[Block]>` of `blocks` blocks, freed on drop.
    cells: [AtomicPtr<Block>; SHARDS],
    blocks: usize,
}

impl ThreadShards {
    /// No rows yet; each will have room for `words` words.
    pub(crate) fn new(words: usize) -> Self {
        ThreadShards {
            cells: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            blocks: words.div_ceil(WORDS).max(1),
        }
    }

    /// The calling thread's row, made if it has none yet; `None` for a thread past the
    /// [`SHARDS`] slots or exiting. Only the calling thread writes the row's words.
    #[inline]
    pub(crate) fn own(&self) -> Option<&[AtomicU64]> {
        let cell = self.cells.get(thread_slot::current()?)?;
        // Relaxed: only this thread stores into its slot's cell (a thread that held the
        // slot before it exited first, and the slot's hand-over orders that store).
        let mut blocks = cell.load(Ordering::Relaxed);
        if blocks.is_null() {
            blocks = self.make(cell);
        }
        // SAFETY: a non-null cell holds a row made by `make`, freed only by `drop`,
        // which `&self` rules out meanwhile.
        Some(unsafe { self.row(blocks) })
    }

    #[cold]
    fn make(&self, cell: &AtomicPtr<Block>) -> *mut Block {
        let blocks: Box<[Block]> = (0..self.blocks)
            .map(|_| Block(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        let blocks = Box::into_raw(blocks).cast::<Block>();
        // Release: a reader that finds the row finds its words made.
        cell.store(blocks, Ordering::Release);
        blocks
    }

    /// Every row made so far, for readers.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &[AtomicU64]> {
        self.cells.iter().filter_map(|cell| {
            // Acquire: pairs with the Release in `make`.
            let blocks = cell.load(Ordering::Acquire);
            // SAFETY: as in `own`.
            (!blocks.is_null()).then(|| unsafe { self.row(blocks) })
        })
    }

    /// The words of the row at `blocks`.
    ///
    /// # Safety
    ///
    /// `blocks` is a row made by `make` and not freed while the result lives (`&self`
    /// keeps `drop` away).
    unsafe fn row(&self, blocks: *const Block) -> &[AtomicU64] {
        // SAFETY: the caller's promise; the blocks are one run of words (`Block`).
        unsafe { std::slice::from_raw_parts(blocks.cast::<AtomicU64>(), self.blocks * WORDS) }
    }
}

impl Drop for ThreadShards {
    fn drop(&mut self) {
        for cell in &mut self.cells {
            let blocks = cell.load(Ordering::Relaxed);
            if !blocks.is_null() {
                // SAFETY: made by `make` from a `Box<[Block]>` of `self.blocks` blocks,
                // and never freed before: `&mut self`, and the cell is not read again.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(blocks, self.blocks)) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_writes_a_row_of_its_own() {
        let shards = ThreadShards::new(20);
        let first = shards.own().expect("a slot below SHARDS").as_ptr() as usize;
        let own = || shards.own().map(|row| row.as_ptr() as usize);
        assert_eq!(own(), Some(first), "made once");
        assert_eq!(shards.own().map(<[_]>::len), Some(2 * WORDS));
        shards.own().unwrap()[19].store(5, Ordering::Relaxed);
        std::thread::scope(|s| {
            s.spawn(|| {
                let row = shards.own().expect("a slot below SHARDS");
                assert_ne!(row.as_ptr() as usize, first, "the other thread's row");
                row[0].store(7, Ordering::Relaxed);
            });
        });
        let mut seen: Vec<(u64, u64)> = shards
            .rows()
            .map(|row| {
                assert!(row.iter().skip(20).all(|w| w.load(Ordering::Relaxed) == 0));
                (
                    row[0].load(Ordering::Relaxed),
                    row[19].load(Ordering::Relaxed),
                )
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, [(0, 5), (7, 0)]);
    }
}
