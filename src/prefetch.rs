//! Software prefetch for the gather and encode loops.
//!
//! A gather walks a vec's children in label order and an encode walks the samples in
//! turn; each step reads memory the previous one did not (a child's metric, its label
//! set), at addresses that follow no stride the hardware prefetchers could learn once
//! children were created at different times. Asking for the line a few steps ahead lets
//! those misses overlap instead of stalling each step in turn.

/// How many steps ahead the gather and encode loops ask for what they will read (twice
/// as many for a vec's entry, which leads to the rest).
pub(crate) const AHEAD: usize = 4;

/// Asks the CPU to start loading the cache line that holds `value`. Only a hint: it
/// reads nothing and changes nothing, and on targets without a prefetch instruction it
/// does nothing.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    line((value as *const T).cast());
}

/// Asks, as [`prefetch`] does, for the cache line holding `start` and the next one: at
/// least the 64 bytes from `start` and up to the next line's end, so 80 or more for an
/// address aligned to 16 bytes, as the allocators' are (a label set's header and text).
#[inline(always)]
pub(crate) fn prefetch_two_lines(start: *const u8) {
    line(start.cast());
    line(start.wrapping_add(LINE).cast());
}

/// Asks, as [`prefetch`] does, for the cache line right after the bytes of `value`: for a
/// metric's [`Lifecycle`](crate::Lifecycle), which fills the first line of the metric's
/// state, the line where its values start.
#[inline(always)]
pub(crate) fn prefetch_after<T>(value: &T) {
    line(
        (value as *const T)
            .cast::<i8>()
            .wrapping_add(std::mem::size_of::<T>()),
    );
}

/// Asks, as [`prefetch`] does, for the cache line holding the reference counts of the
/// `Arc` whose value starts with `value` (a `str`), or the handle count of the metric
/// whose state starts with it (a metric's lifecycle, which metric types keep first; see
/// `crate::metrics::shared`): the 16 bytes before it, which dropping a handle changes.
/// Only a hint: for any other value it asks for a line nothing needs.
#[inline(always)]
pub(crate) fn prefetch_handle<T: ?Sized>(value: &T) {
    line((value as *const T).cast::<i8>().wrapping_sub(16));
}

/// Asks, as [`prefetch`] does, for the cache line holding `at`, which may be any
/// address: nothing is read.
#[inline(always)]
pub(crate) fn prefetch_line(at: *const u8) {
    line(at.cast());
}

/// The cache line size of the targets this matters on.
const LINE: usize = 64;

/// Asks for the cache line holding `at`.
#[inline(always)]
fn line(at: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` has no architectural effect: it never faults, whatever the
    // address, and reads or writes no memory the program can observe. SSE, which it
    // belongs to, is part of every x86_64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
