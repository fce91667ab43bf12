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

/// Asks, as [`prefetch`] does, for the cache lines holding the `len` bytes from `start`
/// (a label set's header and rendered text).
#[inline(always)]
pub(crate) fn prefetch_bytes(start: *const u8, len: usize) {
    let mut at = 0;
    while at < len {
        line(start.wrapping_add(at).cast());
        at += LINE;
    }
    // The last line, which the steps above miss when `start` is not at a line's start.
    line(start.wrapping_add(len.saturating_sub(1)).cast());
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
