//! Short copies written inline: a label name, a label set's text or a family's name is
//! a few bytes, for which a `memcpy` call and its size dispatch cost more than the copy.

use std::mem::MaybeUninit;

/// Copies `src` into `out` at `at` and returns where it ends, or `None` if it does not
/// fit. Inline (see [`copy_exact`]): a `memcpy` call costs more than that for the few
/// bytes of a label name or value.
#[inline(always)]
pub(super) fn put(out: &mut [u8], at: usize, src: &[u8]) -> Option<usize> {
    let end = at.checked_add(src.len())?;
    copy_exact(out.get_mut(at..end)?, src)?;
    Some(end)
}

/// A byte [`copy_exact`] can write: a `u8`, or one of a `Vec`'s spare capacity, which is
/// not initialized yet (see [`write_plain_line`](super::line::write_plain_line)).
pub(super) trait Byte: Copy {
    /// The byte holding `b`.
    fn new(b: u8) -> Self;
}

impl Byte for u8 {
    #[inline(always)]
    fn new(b: u8) -> Self {
        b
    }
}

impl Byte for MaybeUninit<u8> {
    #[inline(always)]
    fn new(b: u8) -> Self {
        MaybeUninit::new(b)
    }
}

/// Copies `src` into `dst`, which must be as long (else `None`, nothing written). When it
/// returns `Some`, every byte of `dst` has been written.
///
/// Inline, in 16-byte words (the last one overlapping the one before), or in two
/// overlapping halves (8 or 4 bytes) or single bytes when shorter, with no `memcpy`
/// call: for the few bytes of a label name, a label set's text or a family's name, the
/// call and its size dispatch cost more than the copy.
#[inline(always)]
pub(super) fn copy_exact<T: Byte>(dst: &mut [T], src: &[u8]) -> Option<()> {
    let n = src.len();
    if dst.len() != n {
        return None;
    }
    if n > 32 {
        let mut i = 0;
        while i + 16 < n {
            copy_word::<T, 16>(dst.get_mut(i..i + 16)?, src.get(i..i + 16)?)?;
            i += 16;
        }
        copy_word::<T, 16>(dst.get_mut(n - 16..)?, src.get(n - 16..)?)
    } else if n >= 16 {
        copy_word::<T, 16>(dst.get_mut(..16)?, src.get(..16)?)?;
        copy_word::<T, 16>(dst.get_mut(n - 16..)?, src.get(n - 16..)?)
    } else if n >= 8 {
        copy_word::<T, 8>(dst.get_mut(..8)?, src.get(..8)?)?;
        copy_word::<T, 8>(dst.get_mut(n - 8..)?, src.get(n - 8..)?)
    } else if n >= 4 {
        copy_word::<T, 4>(dst.get_mut(..4)?, src.get(..4)?)?;
        copy_word::<T, 4>(dst.get_mut(n - 4..)?, src.get(n - 4..)?)
    } else {
        // 0 to 3 bytes: the first, the middle and the last cover them all.
        for i in [0, n / 2, n.wrapping_sub(1)] {
            if let (Some(d), Some(&s)) = (dst.get_mut(i), src.get(i)) {
                *d = T::new(s);
            }
        }
        Some(())
    }
}

/// Copies `N` bytes, as one load and one store once optimized; `None` (nothing written)
/// unless both slices are `N` long.
#[inline(always)]
pub(super) fn copy_word<T: Byte, const N: usize>(dst: &mut [T], src: &[u8]) -> Option<()> {
    let dst: &mut [T; N] = dst.try_into().ok()?;
    let src: [u8; N] = src.try_into().ok()?;
    *dst = src.map(T::new);
    Some(())
}
