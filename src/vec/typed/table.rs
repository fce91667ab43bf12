//! One thread's table of a [`TypedVec`](super::TypedVec): handles to the vec's children
//! by dense index, and the epoch of the vec's removals it is as new as.

use crate::metrics::Metric;

/// Slots at the start of a dense table that lie inside the table itself, with its epoch
/// and borrow flag: a lookup there waits on no load between the table and the child.
/// All of them for label structs of up to 64 combinations (512 bytes per thread).
const INLINE: usize = 64;

/// Slots of a dense table, counted from its start, that lie in the table or in one
/// array allocated with it (one load further): all of them for most label structs
/// (8 KiB of handles per thread).
const FLAT: usize = 1024;

/// Slots per page past the first `FLAT`: pages are allocated as threads use the
/// combinations in them, so a `u16` label costs memory only for values in use.
const PAGE: usize = 256;

/// `PAGE` slots past the first `FLAT`.
type Page<M> = [Option<M>; PAGE];

/// One thread's handles to the children of one typed vec, by dense index: the first
/// `INLINE` slots in the table, the next up to `FLAT` in one array allocated with it, the
/// others in pages allocated as they are used.
pub(super) struct Table<M> {
    /// The vec's removal epoch when the table was last emptied.
    epoch: u64,
    inline: [Option<M>; INLINE],
    flat: Box<[Option<M>]>,
    pages: Box<[Option<Box<Page<M>>>]>,
}

impl<M: Metric> Table<M> {
    pub(super) fn new(epoch: u64, size: usize) -> Self {
        let flat = size.clamp(INLINE, FLAT) - INLINE;
        let paged = size.saturating_sub(FLAT);
        Table {
            epoch,
            inline: std::array::from_fn(|_| None),
            flat: (0..flat).map(|_| None).collect(),
            pages: (0..paged.div_ceil(PAGE)).map(|_| None).collect(),
        }
    }

    /// The child in slot `index`, if the table is as new as `epoch` and has one there.
    #[inline(always)]
    pub(super) fn get(&self, epoch: u64, index: usize) -> Option<&M> {
        if self.epoch != epoch {
            return None;
        }
        if let Some(slot) = self.inline.get(index) {
            return slot.as_ref();
        }
        match self.flat.get(index - INLINE) {
            Some(slot) => slot.as_ref(),
            None => self.get_paged(index.saturating_sub(FLAT)),
        }
    }

    /// Slot `FLAT + rest`.
    #[inline(never)]
    fn get_paged(&self, rest: usize) -> Option<&M> {
        let page = self.pages.get(rest / PAGE)?.as_deref()?;
        page[rest % PAGE].as_ref()
    }

    /// Remembers `child` in slot `index` (ignored past the table: a hand-written
    /// [`Labels`] impl may give a larger index than its `DENSE_SIZE`).
    pub(super) fn put(&mut self, index: usize, child: &M) {
        let slot = if index < INLINE {
            &mut self.inline[index]
        } else if let Some(slot) = self.flat.get_mut(index - INLINE) {
            slot
        } else {
            // Past `inline` and `flat` only when they are full: `index` is `FLAT` or more.
            let rest = index.saturating_sub(FLAT);
            let Some(page) = self.pages.get_mut(rest / PAGE) else {
                return;
            };
            let page = page.get_or_insert_with(|| Box::new(std::array::from_fn(|_| None)));
            &mut page[rest % PAGE]
        };
        *slot = Some(child.clone());
    }

    /// Brings the table to `epoch`, emptying it if it is older: children were removed
    /// since it was filled.
    pub(super) fn catch_up(&mut self, epoch: u64) {
        if self.epoch != epoch {
            self.clear();
            self.epoch = epoch;
        }
    }

    /// Lets go of every child.
    pub(super) fn clear(&mut self) {
        self.inline.iter_mut().for_each(|s| *s = None);
        self.flat.iter_mut().for_each(|s| *s = None);
        self.pages.iter_mut().for_each(|p| *p = None);
    }
}
