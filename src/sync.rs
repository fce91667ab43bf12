//! The synchronisation primitives used by metrics and vecs, swapped for `loom`'s under
//! `cfg(promsdk_loom)` so the TTL-versus-update race can be model-checked on the real code.

#[cfg(not(promsdk_loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(promsdk_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

/// Waits a little before the `attempts`-th retry of a read that found a writer at work:
/// spins at first, then lets other threads run (the writer may be descheduled).
#[cfg(not(promsdk_loom))]
pub(crate) fn spin_wait(attempts: u32) {
    if attempts < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Under loom: lets the model run another thread.
#[cfg(promsdk_loom)]
pub(crate) fn spin_wait(_attempts: u32) {
    loom::thread::yield_now();
}

/// A reader-writer lock: parking_lot's normally, loom's under `cfg(promsdk_loom)`.
pub(crate) struct RwLock<T>(
    #[cfg(not(promsdk_loom))] parking_lot::RwLock<T>,
    #[cfg(promsdk_loom)] loom::sync::RwLock<T>,
);

#[cfg(not(promsdk_loom))]
impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        RwLock(parking_lot::RwLock::new(value))
    }
    pub(crate) fn read(&self) -> parking_lot::RwLockReadGuard<'_, T> {
        self.0.read()
    }
    pub(crate) fn write(&self) -> parking_lot::RwLockWriteGuard<'_, T> {
        self.0.write()
    }
}

#[cfg(promsdk_loom)]
impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        RwLock(loom::sync::RwLock::new(value))
    }
    pub(crate) fn read(&self) -> loom::sync::RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn write(&self) -> loom::sync::RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A mutex: parking_lot's normally, loom's under `cfg(promsdk_loom)`.
#[derive(Debug)]
pub(crate) struct Mutex<T>(
    #[cfg(not(promsdk_loom))] parking_lot::Mutex<T>,
    #[cfg(promsdk_loom)] loom::sync::Mutex<T>,
);

#[cfg(not(promsdk_loom))]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(parking_lot::Mutex::new(value))
    }
    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        self.0.lock()
    }
}

#[cfg(promsdk_loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An observation count and an `f64` sum that change together, in one atomic step.
///
/// Normally one 16-byte atomic word (portable-atomic's `AtomicU128`: `cmpxchg16b` on
/// x86-64, detected at run time; the 16-byte instructions of aarch64; a lock on targets
/// with no 16-byte atomics), count in the low half and the sum's bits in the high half.
/// Under `cfg(promsdk_loom)` a loom mutex: loom models no 16-byte atomics.
#[derive(Debug)]
pub(crate) struct CountSum(
    #[cfg(not(promsdk_loom))] portable_atomic::AtomicU128,
    #[cfg(promsdk_loom)] loom::sync::Mutex<(u64, f64)>,
);

#[cfg(not(promsdk_loom))]
impl CountSum {
    pub(crate) fn new() -> Self {
        CountSum(portable_atomic::AtomicU128::new(0))
    }

    /// Counts one more observation, `v`.
    #[inline]
    pub(crate) fn add(&self, v: f64) {
        // Relaxed: the word is the whole observation, so it publishes nothing else; the
        // compare-and-swap makes count and sum change together.
        let mut old = self.0.load(Ordering::Relaxed);
        loop {
            let (count, sum) = split(old);
            let new = join(count.wrapping_add(1), sum + v);
            match self
                .0
                .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => old = actual,
            }
        }
    }

    /// The count and sum, read together.
    pub(crate) fn load(&self) -> (u64, f64) {
        // Relaxed: as in `add`.
        split(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(not(promsdk_loom))]
#[inline]
fn split(word: u128) -> (u64, f64) {
    // Truncation intended: the count is the low half.
    (word as u64, f64::from_bits((word >> 64) as u64))
}

#[cfg(not(promsdk_loom))]
#[inline]
fn join(count: u64, sum: f64) -> u128 {
    u128::from(count) | u128::from(sum.to_bits()) << 64
}

#[cfg(promsdk_loom)]
impl CountSum {
    pub(crate) fn new() -> Self {
        CountSum(loom::sync::Mutex::new((0, 0.0)))
    }

    pub(crate) fn add(&self, v: f64) {
        let mut pair = self.0.lock().unwrap_or_else(|e| e.into_inner());
        pair.0 = pair.0.wrapping_add(1);
        pair.1 += v;
    }

    pub(crate) fn load(&self) -> (u64, f64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
