//! [`Packed`]: the one allocation behind a [`LabelSet`](super::LabelSet), holding its
//! reference count, its rendered exposition text and its label pairs side by side.
//!
//! Layout, from the start of the allocation:
//!
//! ```text
//! Header { count, pairs, text }   24 bytes
//! the rendered text               `text` bytes (none for a set built without it)
//! padding                         to the pairs' alignment
//! the pairs                       `pairs` × LabelPair
//! ```
//!
//! The text comes first: an encode reads the header and the text, contiguous from the
//! allocation's start, and nothing else. Everything but the count is written once, before
//! the allocation is shared, and never changed after.
//!
//! This is `Arc<(text, [LabelPair])>` written by hand, as neither `std` nor a well-kept
//! crate holds two slices of different types behind one count (`triomphe::ThinArc` holds
//! one): the reference counting follows `std::sync::Arc`'s.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicUsize, Ordering};

use smallvec::SmallVec;

use super::LabelPair;

/// The start of the allocation.
#[repr(C)]
struct Header {
    /// How many [`Packed`] point here.
    count: AtomicUsize,
    /// How many pairs follow the text.
    pairs: usize,
    /// How many bytes of text follow the header.
    text: usize,
}

impl Header {
    /// Counts one more reference, made from an existing one.
    #[inline]
    fn add_reference(&self) {
        // Relaxed: the existing reference keeps the allocation alive meanwhile, and no
        // other memory is published (as in `Arc::clone`).
        let old = self.count.fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
    }
}

/// Where the text starts.
const TEXT_OFFSET: usize = size_of::<Header>();

/// Where the pairs start after `text` bytes of text: the text's end rounded up to their
/// alignment (as `Layout::extend` places them; see `layout`).
#[inline]
const fn pairs_offset(text: usize) -> usize {
    (TEXT_OFFSET + text).next_multiple_of(align_of::<LabelPair>())
}

/// The layout of an allocation holding `pairs` pairs and `text` bytes of text, or `None`
/// when its size would exceed `isize::MAX`.
fn layout(pairs: usize, text: usize) -> Option<Layout> {
    let (with_text, text_at) = Layout::new::<Header>()
        .extend(Layout::array::<u8>(text).ok()?)
        .ok()?;
    let (all, pairs_at) = with_text
        .extend(Layout::array::<LabelPair>(pairs).ok()?)
        .ok()?;
    debug_assert_eq!((text_at, pairs_at), (TEXT_OFFSET, pairs_offset(text)));
    Some(all.pad_to_align())
}

/// Above this many references a clone aborts, as `Arc`'s does: only a leak (clones
/// forgotten without being dropped) reaches it, and going on would let the count wrap
/// and free the allocation while it is still in use.
const MAX_COUNT: usize = isize::MAX as usize;

/// The empty set's header: never freed, as its count never reaches zero (it starts at
/// one, a reference nothing drops).
static EMPTY: Header = Header {
    count: AtomicUsize::new(1),
    pairs: 0,
    text: 0,
};

/// A counted reference to a header, text and pairs in one allocation (see the module
/// doc). Cloning it adds a reference; dropping the last one drops the pairs and frees the
/// allocation.
pub(super) struct Packed {
    ptr: NonNull<Header>,
    /// Owns the pairs, for the drop check.
    _pairs: PhantomData<LabelPair>,
}

// SAFETY: a `Packed` gives shared access only (`&[LabelPair]`, `&[u8]`) to contents that
// never change once it is built, and changes the count only through atomic operations,
// as `Arc<[LabelPair]>` does; `LabelPair` (two `Arc<str>`) is `Send` and `Sync`, so
// sending or sharing a `Packed` across threads is as sound as doing so with that `Arc`.
unsafe impl Send for Packed {}
// SAFETY: as for `Send` above.
unsafe impl Sync for Packed {}

/// Fails to compile if `LabelPair` stops being `Send` and `Sync`, which the two `impl`s
/// above rely on.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<LabelPair>();
};

impl Packed {
    /// The empty set, allocating nothing.
    pub(super) fn empty() -> Packed {
        // The new reference comes from one that exists: the static's own.
        EMPTY.add_reference();
        Packed {
            ptr: NonNull::from(&EMPTY),
            _pairs: PhantomData,
        }
    }

    /// Moves the pairs out of `pairs` (left empty) and a copy of `text` into one new
    /// allocation. A text too long to fit beside the pairs in one allocation (over
    /// `isize::MAX` bytes together) is left out, as if none had been given.
    ///
    /// `pairs` is borrowed, not taken by value: a `SmallVec` of eight inline pairs is 264
    /// bytes, which a move copies with a `memcpy` call (measured with callgrind: about 50
    /// instructions per set built from a descriptor).
    pub(super) fn new<const N: usize>(pairs: &mut SmallVec<[LabelPair; N]>, text: &[u8]) -> Packed {
        let n = pairs.len();
        let (text, layout) = match layout(n, text.len()) {
            Some(layout) => (text, layout),
            None => (&[][..], pairs_only(n)),
        };
        // SAFETY: `layout` has a non-zero size (the header's at least).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `ptr` is a fresh allocation of `layout`, which holds the header at
        // offset 0, `text.len()` bytes at `TEXT_OFFSET` and `n` pairs at
        // `pairs_offset(text.len())`, each aligned for its type (`layout` checks the
        // offsets); nothing else refers to it yet, and neither the text nor the pairs can
        // overlap it. The pairs are moved, not copied: `set_len(0)` right after keeps the
        // caller's `pairs` from dropping them (or handing them out again), so each is
        // dropped once, by the last `Packed`.
        unsafe {
            ptr.as_ptr().write(Header {
                count: AtomicUsize::new(1),
                pairs: n,
                text: text.len(),
            });
            ptr::copy_nonoverlapping(text.as_ptr(), raw.add(TEXT_OFFSET), text.len());
            ptr::copy_nonoverlapping(
                pairs.as_ptr(),
                raw.add(pairs_offset(text.len())).cast::<LabelPair>(),
                n,
            );
            pairs.set_len(0);
        }
        Packed {
            ptr,
            _pairs: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: `ptr` points to an initialized header (written by `new`, or the static
        // `EMPTY`) that lives while any `Packed` to it does, this one included.
        unsafe { self.ptr.as_ref() }
    }

    /// The pairs.
    #[inline]
    pub(super) fn pairs(&self) -> &[LabelPair] {
        let header = self.header();
        // SAFETY: `new` wrote `header.pairs` initialized pairs at this offset, which
        // nothing changes until the last `Packed` drops them; for `EMPTY` the slice is
        // empty and its address (the static's end, aligned as the header is) is non-null
        // and aligned. The borrow of `self` keeps the allocation alive.
        unsafe {
            let at = self
                .ptr
                .as_ptr()
                .cast::<u8>()
                .add(pairs_offset(header.text));
            std::slice::from_raw_parts(at.cast::<LabelPair>(), header.pairs)
        }
    }

    /// The rendered text: empty when the set was built without it.
    #[inline]
    pub(super) fn text(&self) -> &[u8] {
        let header = self.header();
        // SAFETY: `new` copied `header.text` bytes here, never changed after; for `EMPTY`
        // the slice is empty at the static's end. The borrow of `self` keeps the
        // allocation alive.
        unsafe {
            let at = self.ptr.as_ptr().cast::<u8>().add(TEXT_OFFSET);
            std::slice::from_raw_parts(at, header.text)
        }
    }

    /// Whether both point to one allocation.
    #[inline]
    pub(super) fn ptr_eq(&self, other: &Packed) -> bool {
        self.ptr == other.ptr
    }

    /// Starts loading the lines an encode reads: the header and the text after it, two
    /// lines' worth (see `crate::prefetch`), which hold the header and 56 bytes of text or
    /// more: two or three short labels. Reads nothing itself: a prefetch that loaded the
    /// header to learn the text's length would wait for it. (A third line for longer
    /// texts was measured slower on `encode_text_10k`'s, which need two.)
    #[inline(always)]
    pub(super) fn prefetch(&self) {
        crate::prefetch::prefetch_two_lines(self.ptr.as_ptr().cast::<u8>());
    }

    /// Asks for the header's line, which holds the count a clone changes.
    #[inline(always)]
    pub(super) fn prefetch_count(&self) {
        crate::prefetch::prefetch(self.header());
    }
}

/// The layout for `n` pairs and no text, which always exists: `n` pairs are already held
/// in one allocation (so take at most `isize::MAX` bytes, a multiple of their size, 32),
/// and the header adds less than that size's room to `isize::MAX`.
fn pairs_only(n: usize) -> Layout {
    match layout(n, 0) {
        Some(layout) => layout,
        // Unreachable (see above); the header's layout only names the failure.
        None => alloc::handle_alloc_error(Layout::new::<Header>()),
    }
}

impl Clone for Packed {
    #[inline]
    fn clone(&self) -> Packed {
        self.header().add_reference();
        Packed {
            ptr: self.ptr,
            _pairs: PhantomData,
        }
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        let header = self.header();
        // Release: this reference's reads of the pairs happen before the count drops,
        // so before the last reference frees them (as in `Arc::drop`).
        if header.count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: pairs with every other reference's release above, so all their reads
        // happen before the pairs are dropped here.
        atomic::fence(Ordering::Acquire);
        let (n, text) = (header.pairs, header.text);
        let pairs = ptr::slice_from_raw_parts_mut(
            // SAFETY: the offset lies within the allocation, as in `pairs`.
            unsafe { self.ptr.as_ptr().cast::<u8>().add(pairs_offset(text)) }.cast::<LabelPair>(),
            n,
        );
        // SAFETY: this was the last reference (the count reached zero; `EMPTY`'s never
        // does), so nothing reads the pairs or the text any more: each pair is dropped
        // once, here, and the allocation freed with the layout `new` made it with (the
        // same `n` and `text`, for which `layout` succeeded then).
        unsafe {
            ptr::drop_in_place(pairs);
            alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), pairs_and_text(n, text));
        }
    }
}

/// The layout `new` allocated for `n` pairs and `text` bytes of text.
fn pairs_and_text(n: usize, text: usize) -> Layout {
    layout(n, text).unwrap_or_else(|| pairs_only(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(values: &[&str]) -> SmallVec<[LabelPair; 4]> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| LabelPair::new(format!("l{i}"), *v))
            .collect()
    }

    #[test]
    fn offsets_match_the_layout() {
        for text in [0, 1, 7, 8, 9, 56, 75, 1000] {
            for n in [0, 1, 3] {
                let (with_text, text_at) = Layout::new::<Header>()
                    .extend(Layout::array::<u8>(text).unwrap())
                    .unwrap();
                let (_, pairs_at) = with_text
                    .extend(Layout::array::<LabelPair>(n).unwrap())
                    .unwrap();
                assert_eq!((text_at, pairs_at), (TEXT_OFFSET, pairs_offset(text)));
            }
        }
    }

    #[test]
    fn holds_pairs_and_text() {
        for text in ["", "l0=\"a\"", &"x".repeat(300)] {
            let packed = Packed::new(&mut pairs(&["a", "bb", "ccc"]), text.as_bytes());
            assert_eq!(packed.text(), text.as_bytes());
            let values: Vec<&str> = packed.pairs().iter().map(|p| &*p.value).collect();
            assert_eq!(values, ["a", "bb", "ccc"]);
            assert_eq!(&*packed.pairs()[2].name, "l2");
        }
        let empty = Packed::new(&mut pairs(&[]), b"");
        assert!(empty.pairs().is_empty() && empty.text().is_empty());
    }

    #[test]
    fn last_reference_drops_the_pairs_once() {
        let value: std::sync::Arc<str> = "shared".into();
        let mut held = SmallVec::<[LabelPair; 4]>::new();
        held.push(LabelPair::new("a", value.clone()));
        held.push(LabelPair::new("b", value.clone()));
        let packed = Packed::new(&mut held, b"a=\"shared\",b=\"shared\"");
        assert_eq!(std::sync::Arc::strong_count(&value), 3);
        let clones: Vec<Packed> = (0..10).map(|_| packed.clone()).collect();
        assert!(clones.iter().all(|c| c.ptr_eq(&packed)));
        drop(packed);
        assert_eq!(std::sync::Arc::strong_count(&value), 3);
        drop(clones);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }

    #[test]
    fn clones_dropped_on_other_threads_free_once() {
        let value: std::sync::Arc<str> = "v".into();
        let mut held = SmallVec::<[LabelPair; 1]>::new();
        held.push(LabelPair::new("a", value.clone()));
        let packed = Packed::new(&mut held, b"a=\"v\"");
        std::thread::scope(|s| {
            for _ in 0..4 {
                let mine: Vec<Packed> = (0..1000).map(|_| packed.clone()).collect();
                s.spawn(move || {
                    for c in mine {
                        assert_eq!(&*c.pairs()[0].value, "v");
                    }
                });
            }
        });
        assert_eq!(std::sync::Arc::strong_count(&value), 2);
        drop(packed);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }

    #[test]
    fn empty_is_shared_and_never_freed() {
        let sets: Vec<Packed> = (0..3).map(|_| Packed::empty()).collect();
        assert!(sets.iter().all(|s| s.ptr_eq(&sets[0])));
        assert!(sets[0].pairs().is_empty() && sets[0].text().is_empty());
        drop(sets);
        let again = Packed::empty();
        assert!(again.pairs().is_empty());
        assert!(EMPTY.count.load(Ordering::Relaxed) >= 2);
    }
}
