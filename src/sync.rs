//! The synchronisation primitives used by metrics and vecs, swapped for `loom`'s under
//! `cfg(promsdk_loom)` so the TTL-versus-update race can be model-checked on the real code.

#[cfg(not(promsdk_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(promsdk_loom))]
pub(crate) use std::sync::Arc;

#[cfg(promsdk_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(promsdk_loom)]
pub(crate) use loom::sync::Arc;

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

/// Lets other threads run: std's normally, loom's under `cfg(promsdk_loom)` (where a
/// spin loop must yield for the model to make progress).
pub(crate) fn yield_now() {
    #[cfg(not(promsdk_loom))]
    std::thread::yield_now();
    #[cfg(promsdk_loom)]
    loom::thread::yield_now();
}
