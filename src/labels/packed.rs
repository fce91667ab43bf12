//! [`Packed`]: the one allocation behind a [`LabelSet`](super::LabelSet), holding its
//! reference count, its rendered exposition text and its label pairs side by side.
//!
//! Layout, from the start of the allocation:
//!
//! ```text
//! Header { count, pairs, text, at }   32 bytes
//! the rendered text                   `text` bytes (none for a set built without it)
//! padding                             to the pairs' alignment
//! the pairs                           `pairs` × LabelPair (none for a set built from its text)
//! ```
//!
//! The text comes first: an encode reads the header and the text, contiguous from the
//! allocation's start, and nothing else. A set built from its text alone (a metric's:
//! see [`Packed::from_text`]) holds no pairs: the first call of [`Packed::pairs`] parses
//! them from the text into an allocation of their own, which `at` then points to until
//! the set is freed. Everything else is written once, before the allocation is shared,
//! and never changed after.
//!
//! A vec child's set is the same header and text, placed after the child's metric state
//! in the metric's allocation (see [`Packed::write_within`]), behind a tail that tells
//! its last reference how to free that allocation.
//!
//! This is `Arc<(text, [LabelPair])>` written by hand, as neither `std` nor a well-kept
//! crate holds two slices of different types behind one count (`triomphe::ThinArc` holds
//! one): the reference counting follows `std::sync::Arc`'s.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicPtr, AtomicUsize, Ordering};

use smallvec::SmallVec;

use super::LabelPair;

/// The start of the allocation.
#[repr(C)]
struct Header {
    /// How many [`Packed`] point here.
    count: AtomicUsize,
    /// How many pairs the set has.
    pairs: usize,
    /// How many bytes of text follow the header, with [`FROM_TEXT`] set for a set built
    /// from its text alone and [`ESCAPED`] for one whose text has an escaped value.
    text: usize,
    /// Where the pairs are: after the text, or for a set built from its text, null until
    /// a first `pairs` parses them into an allocation of their own (a boxed slice).
    at: AtomicPtr<LabelPair>,
}

/// The bit of `Header::text` that marks a set built from its text alone: free, as no
/// allocation, so no text, is longer than `isize::MAX` bytes.
const FROM_TEXT: usize = 1 << (usize::BITS - 1);

/// The bit of `Header::text` that marks a text with an escaped value (a backslash in
/// it), known when the set is built: a text without one is read in place by
/// [`split_pair`], each value being the bytes between its quotes. Free as `FROM_TEXT`
/// is: a longer text is left out of the allocation (see [`fits`]).
const ESCAPED: usize = 1 << (usize::BITS - 2);

/// The bit of `Header::text` that marks a set placed in another allocation, after a
/// metric's shared state (see [`Packed::write_within`]): a [`Tail`] before the header
/// tells where that allocation starts and how to free it.
const EMBEDDED: usize = 1 << (usize::BITS - 3);

/// The flag bits of `Header::text`.
const FLAGS: usize = FROM_TEXT | ESCAPED | EMBEDDED;

/// Whether a text of `len` bytes leaves `Header::text`'s flag bits clear.
#[inline]
const fn fits(len: usize) -> bool {
    len & FLAGS == 0
}

/// The bytes a set placed after a metric's state (see [`Packed::write_within`]) takes
/// before its text: its tail and header.
pub(crate) const PLACED_HEAD: usize = size_of::<Tail>() + size_of::<Header>();

/// Right before the header of a set placed in another allocation: where that allocation
/// starts (this many bytes before the header) and its layout, to free it with when the
/// set's last reference goes.
#[repr(C)]
struct Tail {
    header_at: usize,
    layout: Layout,
}

impl Header {
    /// How many bytes of text follow the header.
    #[inline]
    fn text_len(&self) -> usize {
        self.text & !FLAGS
    }

    /// Whether the set was built from its text alone (its pairs, if any, are parsed
    /// into an allocation of their own).
    #[inline]
    fn text_only(&self) -> bool {
        self.text & FROM_TEXT != 0
    }

    /// How many pairs the allocation itself holds after the text.
    #[inline]
    fn pairs_inside(&self) -> usize {
        if self.text_only() {
            0
        } else {
            self.pairs
        }
    }

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
    at: AtomicPtr::new(ptr::dangling_mut()),
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
    /// `isize::MAX` bytes together) or to leave the header's flag bits clear (2^62 bytes)
    /// is left out, as if none had been given.
    ///
    /// `pairs` is borrowed, not taken by value: a `SmallVec` of eight inline pairs is 264
    /// bytes, which a move copies with a `memcpy` call (measured with callgrind: about 50
    /// instructions per set built from a descriptor).
    pub(super) fn new<const N: usize>(pairs: &mut SmallVec<[LabelPair; N]>, text: &[u8]) -> Packed {
        let n = pairs.len();
        let (text, layout) = match layout(n, text.len()) {
            Some(layout) if fits(text.len()) => (text, layout),
            _ => (&[][..], pairs_only(n)),
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
            let at = raw.add(pairs_offset(text.len())).cast::<LabelPair>();
            ptr.as_ptr().write(Header {
                count: AtomicUsize::new(1),
                pairs: n,
                text: text.len(),
                at: AtomicPtr::new(at),
            });
            ptr::copy_nonoverlapping(text.as_ptr(), raw.add(TEXT_OFFSET), text.len());
            ptr::copy_nonoverlapping(pairs.as_ptr(), at, n);
            pairs.set_len(0);
        }
        Packed {
            ptr,
            _pairs: PhantomData,
        }
    }

    /// A set of `pairs` pairs from `text` alone, which must be `pairs` pairs as
    /// [`write_pairs`](crate::encoding::write_pairs) writes them (each name followed by
    /// `="`, the value escaped, and `"`, separated by commas): the pairs are parsed from it
    /// on the first call of [`Packed::pairs`], if any. `escaped` tells whether any value
    /// in it was escaped (holds a backslash): the caller rendered it, so knows without a
    /// scan. `None` for a text too long for an allocation or the header's flag bits.
    ///
    /// Sets built from a descriptor are kept this way (and a vec child's, placed after its
    /// metric's state, likewise: see [`Packed::write_within`]): exposing them needs only
    /// the text, and most are never asked for their pairs, whose strings would otherwise
    /// be allocated (a value of its own for every new user id) and freed with each child.
    pub(super) fn from_text(pairs: usize, text: &[u8], escaped: bool) -> Option<Packed> {
        if !fits(text.len()) {
            return None;
        }
        let layout = layout(0, text.len())?;
        // SAFETY: `layout` has a non-zero size (the header's at least).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `ptr` is a fresh allocation of `layout`, which holds the header at
        // offset 0 and `text.len()` bytes at `TEXT_OFFSET`; nothing else refers to it yet.
        // `text.len()` is clear of the flag bits (`fits`).
        Some(unsafe { write_text_set(ptr, pairs, text, FROM_TEXT | escape_bit(escaped)) })
    }

    /// The layout of an allocation that holds `prefix` (a metric's shared state) and then
    /// a set of `text_len` bytes of text, with where the set's part starts in it (to give
    /// [`Packed::write_within`]); `None` when too large.
    pub(super) fn layout_within(prefix: Layout, text_len: usize) -> Option<(Layout, usize)> {
        if !fits(text_len) {
            return None;
        }
        let (with_tail, at) = prefix.extend(Layout::new::<Tail>()).ok()?;
        let (with_header, header_at) = with_tail.extend(Layout::new::<Header>()).ok()?;
        let (all, text_at) = with_header
            .extend(Layout::array::<u8>(text_len).ok()?)
            .ok()?;
        debug_assert_eq!(
            (header_at, text_at),
            (at + size_of::<Tail>(), header_at + TEXT_OFFSET)
        );
        Some((all.pad_to_align(), at))
    }

    /// A set as [`Packed::from_text`] makes one, written at `at` in the allocation at
    /// `start`, which its last reference frees (with `layout`): the caller keeps the rest
    /// of that allocation alive while the set is, and frees nothing itself (see
    /// `crate::metrics::shared`).
    ///
    /// # Safety
    ///
    /// `start` is a live allocation of `layout`, made by the global allocator, and
    /// `(layout, at)` is what [`Packed::layout_within`] returned for `text.len()`; nothing
    /// but this set reads or writes the bytes from `at` on, and nothing frees the
    /// allocation but the set's last reference.
    pub(super) unsafe fn write_within(
        start: NonNull<u8>,
        layout: Layout,
        at: usize,
        pairs: usize,
        text: &[u8],
        escaped: bool,
    ) -> Packed {
        let header_at = at + size_of::<Tail>();
        // SAFETY: by the caller's promise, the tail, the header after it and the text after
        // that lie inside the allocation (as `layout_within` placed them, each aligned for
        // its type), which no one else touches; `text` cannot overlap a part nothing else
        // writes. `text.len()` is clear of the flag bits (`layout_within` checked).
        unsafe {
            let tail = start.as_ptr().add(at).cast::<Tail>();
            tail.write(Tail { header_at, layout });
            let header = start.add(header_at).cast::<Header>();
            write_text_set(
                header,
                pairs,
                text,
                FROM_TEXT | EMBEDDED | escape_bit(escaped),
            )
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: `ptr` points to an initialized header (written by `new` or `from_text`,
        // or the static `EMPTY`) that lives while any `Packed` to it does, this one
        // included.
        unsafe { self.ptr.as_ref() }
    }

    /// The pairs; for a set built from its text, parsed from it by the first call.
    #[inline]
    pub(super) fn pairs(&self) -> &[LabelPair] {
        let header = self.header();
        // Acquire: pairs with the release of `parse_pairs`' exchange, so the parsed
        // pairs are seen written.
        let mut at = header.at.load(Ordering::Acquire);
        if at.is_null() {
            at = self.parse_pairs();
        }
        // SAFETY: `at` points to `header.pairs` initialized pairs, which nothing changes
        // until the last `Packed` drops them: written by `new` after the text, or parsed
        // by `parse_pairs` into a boxed slice of that length, published once and never
        // replaced; for `EMPTY` the slice is empty and `at` dangling but aligned. The
        // borrow of `self` keeps them alive.
        unsafe { std::slice::from_raw_parts(at, header.pairs) }
    }

    /// The text of a set built from its text alone (see [`Packed::from_text`]) none of
    /// whose values is escaped, which [`split_pair`] reads the pairs from in place.
    #[inline]
    pub(super) fn plain_text(&self) -> Option<&[u8]> {
        let header = self.header();
        (header.text & (FROM_TEXT | ESCAPED) == FROM_TEXT).then(|| self.text())
    }

    /// How many pairs the set has, without parsing them.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.header().pairs
    }

    /// Parses a set's pairs from its text, for a set built from its text whose pairs no
    /// one asked for yet, and publishes them; returns where they are (another thread's,
    /// if it published first).
    #[cold]
    fn parse_pairs(&self) -> *mut LabelPair {
        let header = self.header();
        let parsed = parse_text(self.text(), header.pairs);
        let mine = Box::into_raw(parsed).cast::<LabelPair>();
        // Release: publishes the pairs written above; Acquire on failure: pairs with the
        // winner's release, as the load in `pairs` does.
        match header
            .at
            .compare_exchange(ptr::null_mut(), mine, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => mine,
            Err(theirs) => {
                // SAFETY: `mine` came from `Box::into_raw` of a slice of `header.pairs`
                // pairs just above, and was never shared.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(mine, header.pairs)) });
                theirs
            }
        }
    }

    /// The rendered text: empty when the set was built without it.
    #[inline]
    pub(super) fn text(&self) -> &[u8] {
        let header = self.header();
        // SAFETY: `new` or `write_text_set` copied `header.text_len()` bytes here, never
        // changed after; for `EMPTY` the slice is empty at the static's end. The borrow of
        // `self` keeps the allocation alive.
        unsafe {
            let at = self.ptr.as_ptr().cast::<u8>().add(TEXT_OFFSET);
            std::slice::from_raw_parts(at, header.text_len())
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
        let (n, inside, text) = (header.pairs, header.pairs_inside(), header.text_len());
        // Relaxed: ordered by the fence; null for a set built from its text whose pairs
        // were never parsed.
        let at = header.at.load(Ordering::Relaxed);
        let pairs = ptr::slice_from_raw_parts_mut(at, n);
        // SAFETY: this was the last reference (the count reached zero; `EMPTY`'s never
        // does), so nothing reads the pairs or the text any more: each pair is dropped
        // once, here, either inside the allocation or as the boxed slice `parse_pairs`
        // made, and the allocation freed with the layout it was made with: for a set
        // placed after a metric's state, the one its tail holds (`write_within`'s caller
        // promised the set's last reference frees it, so the state is gone), else the one
        // for `inside` pairs and `text` bytes, for which `layout` succeeded then.
        unsafe {
            if header.text_only() {
                if !at.is_null() {
                    drop(Box::from_raw(pairs));
                }
            } else {
                ptr::drop_in_place(pairs);
            }
            let start = self.ptr.as_ptr().cast::<u8>();
            if header.text & EMBEDDED != 0 {
                let tail = start.sub(size_of::<Tail>()).cast::<Tail>().read();
                alloc::dealloc(start.sub(tail.header_at), tail.layout);
            } else {
                alloc::dealloc(start, pairs_and_text(inside, text));
            }
        }
    }
}

/// [`ESCAPED`] if `escaped`, else no bit.
#[inline]
const fn escape_bit(escaped: bool) -> usize {
    if escaped {
        ESCAPED
    } else {
        0
    }
}

/// Writes a set built from its text alone at `header`: the header (one reference,
/// `pairs` pairs not yet parsed, `flags` beside the text's length) and `text` after it.
///
/// # Safety
///
/// `header` is aligned for a [`Header`] and starts `TEXT_OFFSET + text.len()` bytes of
/// one allocation that nothing else reads or writes yet, which `text` does not overlap;
/// `text.len()` is clear of the flag bits.
unsafe fn write_text_set(
    header: NonNull<Header>,
    pairs: usize,
    text: &[u8],
    flags: usize,
) -> Packed {
    // SAFETY: the caller's promise: room for the header, then for the text.
    unsafe {
        header.as_ptr().write(Header {
            count: AtomicUsize::new(1),
            pairs,
            text: text.len() | flags,
            at: AtomicPtr::new(ptr::null_mut()),
        });
        let into = header.as_ptr().cast::<u8>().add(TEXT_OFFSET);
        ptr::copy_nonoverlapping(text.as_ptr(), into, text.len());
    }
    Packed {
        ptr: header,
        _pairs: PhantomData,
    }
}

/// The `n` pairs that `text` holds as [`write_pairs`](crate::encoding::write_pairs)
/// writes them, in their order, each value unescaped. A set's text always holds its
/// pairs (see [`Packed::from_text`]); should it hold fewer, or not be UTF-8, the missing
/// ones come out with empty names and values rather than as a panic.
pub(super) fn parse_text(text: &[u8], n: usize) -> Box<[LabelPair]> {
    let mut rest = std::str::from_utf8(text).unwrap_or_default();
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let parsed = split_pair(rest)
            .and_then(|(name, value, tail)| Some((LabelPair::new(name, unescape(value)?), tail)));
        let (pair, tail) = parsed.unwrap_or_else(|| (LabelPair::new("", ""), ""));
        pairs.push(pair);
        rest = tail;
    }
    pairs.into_boxed_slice()
}

/// The pair `name="value"` at the start of `text` (after the comma that separates it
/// from the one before, if there is one) as its name, its value as written (escapes
/// kept) and the text after it; `None` if `text` does not start with a whole pair.
///
/// The value ends at the first quote that no backslash escapes: found by `memchr2`,
/// whose first hit in a value without escapes (most) is its closing quote.
pub(super) fn split_pair(text: &str) -> Option<(&str, &str, &str)> {
    let text = text.strip_prefix(',').unwrap_or(text);
    let (name, body) = text.split_once("=\"")?;
    let bytes = body.as_bytes();
    let mut at = 0;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes.get(at) == Some(&b'"') {
            break;
        }
        // A backslash: the byte after it is escaped.
        at += 2;
    }
    // `at` is the closing quote's index: ASCII, so both slices fall on character bounds.
    Some((name, body.get(..at)?, body.get(at + 1..)?))
}

/// A value as written between its quotes, unescaped (`\\`, `\"`, `\n`); `None` if it ends
/// in a lone backslash.
fn unescape(raw: &str) -> Option<String> {
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((plain, escaped)) = rest.split_once('\\') {
        value.push_str(plain);
        let mut after = escaped.chars();
        value.push(match after.next()? {
            'n' => '\n',
            other => other,
        });
        rest = after.as_str();
    }
    value.push_str(rest);
    Some(value)
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

    /// Values that take every branch of the text's escaping and parsing: empty, quotes,
    /// backslashes (one before an `n`, which must not come back as a newline), newlines,
    /// the separators `=`, `,` and `"` inside values, and non-ASCII text.
    const TRICKY: [&str; 9] = [
        "",
        "plain",
        "a\"b",
        "back\\slash",
        "not\\n a newline",
        "two\nlines",
        "k=v,x=\"y\"",
        "é ü 日本",
        "\\",
    ];

    /// `TRICKY` as pairs, and their text as `write_pairs` writes it.
    fn tricky() -> (Vec<LabelPair>, Vec<u8>) {
        let pairs: Vec<LabelPair> = TRICKY
            .iter()
            .enumerate()
            .map(|(i, v)| LabelPair::new(format!("l{i}"), *v))
            .collect();
        let mut text = Vec::new();
        crate::encoding::write_pairs(&mut text, &pairs);
        (pairs, text)
    }

    #[test]
    fn sets_built_from_text_parse_their_pairs_once() {
        let (pairs, text) = tricky();
        let set = Packed::from_text(pairs.len(), &text, true).unwrap();
        assert_eq!(set.text(), &text[..]);
        let clone = set.clone();
        assert_eq!(set.pairs(), &pairs[..]);
        assert!(
            std::ptr::eq(set.pairs(), clone.pairs()),
            "parsed once, shared"
        );
        drop(set);
        assert_eq!(clone.pairs(), &pairs[..]);
        // Freed with and without parsed pairs (Miri reports a leak or a double free).
        drop(clone);
        drop(Packed::from_text(pairs.len(), &text, true).unwrap());
    }

    #[test]
    fn pairs_end_at_the_first_unescaped_quote() {
        let text = r#"a="x\"y\\",b="",c="\n""#;
        let (name, value, rest) = split_pair(text).unwrap();
        assert_eq!((name, value), ("a", r#"x\"y\\"#));
        assert_eq!(unescape(value).as_deref(), Some(r#"x"y\"#));
        let (name, value, rest) = split_pair(rest).unwrap();
        assert_eq!(
            (name, value, unescape(value).as_deref()),
            ("b", "", Some(""))
        );
        let (name, value, rest) = split_pair(rest).unwrap();
        assert_eq!(
            (name, unescape(value).as_deref(), rest),
            ("c", Some("\n"), "")
        );
        assert_eq!(split_pair(rest), None);
        for cut in [r#"a="x"#, r#"a="x\"#, r#"a="x\""#, "a", r#"a=x""#] {
            assert_eq!(split_pair(cut), None, "{cut}");
        }
        assert_eq!(unescape("x\\"), None);
    }

    #[test]
    fn a_text_missing_pairs_gives_empty_ones_instead_of_panicking() {
        let set = Packed::from_text(3, b"a=\"x\",b=\"unterminated", false).unwrap();
        let got: Vec<(&str, &str)> = set.pairs().iter().map(|p| (&*p.name, &*p.value)).collect();
        assert_eq!(got, [("a", "x"), ("", ""), ("", "")]);
    }

    #[test]
    fn threads_parsing_at_once_agree_on_one_set_of_pairs() {
        let (pairs, text) = tricky();
        for _ in 0..if cfg!(miri) { 4 } else { 20 } {
            let set = Packed::from_text(pairs.len(), &text, true).unwrap();
            let seen: Vec<usize> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        let mine = set.clone();
                        let pairs = &pairs;
                        s.spawn(move || {
                            assert_eq!(mine.pairs(), &pairs[..]);
                            mine.pairs().as_ptr() as usize
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(seen.iter().all(|&at| at == set.pairs().as_ptr() as usize));
        }
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
