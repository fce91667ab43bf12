//! Each thread's shortcut to its own state in the vecs it used last: a vec's thread
//! cache (see `cache.rs`) or a typed vec's table (see `typed.rs`).
//!
//! Both live in a `ThreadLocal`, whose `get` takes three dependent loads (the thread's id
//! from thread-local storage, through a call, then its bucket, then the entry) before a
//! lookup can start. The shortcut is one load from a `const` thread-local array without
//! a destructor, which compiles to a plain load relative to the thread pointer: an array
//! indexed by the owner's id, each entry the id and the address of this thread's state
//! in that owner.
//!
//! Ids come from one counter and are never reused, so an entry whose id matches was
//! written by this thread, for the owner that has that id, which the caller holds.
//!
//! An entry stays right only while the thread keeps its `ThreadLocal` thread id, which
//! it gives up when it exits (for a new thread to take, with the state it left). So the
//! shortcut empties itself first: a guard registered after that id was taken, whose
//! destructor (run before those registered earlier) empties the entries and keeps
//! `remember` from writing new ones. Updates from thread-local destructors that run
//! later go through the `ThreadLocal`, as they would without the shortcut.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries in each thread's shortcut. Owners whose ids are equal modulo `WAYS` take
/// turns at one entry: a thread that alternates between them goes through the
/// `ThreadLocal` (and then writes the entry) on every switch.
const WAYS: usize = 16;

/// The next owner id: 2^64 vecs would take centuries to build. 0 is never handed out,
/// so an empty entry matches no owner.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static RECENT: [Cell<(u64, *const ())>; WAYS] =
        const { [const { Cell::new((0, std::ptr::null())) }; WAYS] };
    /// Empties `RECENT` when the thread exits (see the module doc).
    static GUARD: Guard = const { Guard };
}

/// See `GUARD`.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        // `RECENT` has no destructor: it can be reached until the thread is gone.
        let _ = RECENT.try_with(|recent| {
            for entry in recent {
                entry.set((0, std::ptr::null()));
            }
        });
    }
}

/// A new owner id, never handed out before.
pub(super) fn new_id() -> u64 {
    // Relaxed: only uniqueness matters, which the read-modify-write gives.
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The address this thread remembered for the owner `id`, if its entry still holds it.
#[inline(always)]
pub(super) fn get(id: u64) -> Option<*const ()> {
    let (owner, address) = RECENT.with(|recent| recent[id as usize % WAYS].get());
    (owner == id).then_some(address)
}

/// Remembers `address` for the owner `id` in this thread's entry for it, in place of
/// whichever owner had the entry, unless the thread is exiting. Call it only after
/// reaching `address` through the owner's `ThreadLocal` (which gives the thread its id
/// first, so that `GUARD`, registered here after it, is dropped before it).
pub(super) fn remember(id: u64, address: *const ()) {
    if GUARD.try_with(|_| ()).is_ok() {
        RECENT.with(|recent| recent[id as usize % WAYS].set((id, address)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry answers only for the id it was written for, on the thread that wrote it.
    #[test]
    fn an_entry_answers_only_its_owner_on_its_thread() {
        let (a, b) = (new_id(), new_id());
        let other = a + WAYS as u64;
        let x = 1u8;
        remember(a, std::ptr::from_ref(&x).cast());
        assert_eq!(get(a), Some(std::ptr::from_ref(&x).cast()));
        assert_eq!(get(b), None);
        assert_eq!(get(other), None);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(get(a), None));
        });
        remember(other, std::ptr::null());
        assert_eq!(get(a), None);
    }

    /// Thread-local destructors that run after the thread has given up its
    /// `ThreadLocal` id (registered before it took one: a `ThreadLocal` lookup comes
    /// before any `remember`) find the shortcut empty.
    #[test]
    fn an_exiting_thread_empties_its_shortcut_first() {
        use std::sync::{Arc, Mutex};

        /// Records, as it is dropped, whether the shortcut still has an entry for `.1`.
        struct Late(Arc<Mutex<Option<bool>>>, u64);
        impl Drop for Late {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = Some(get(self.1).is_some());
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Option<Late>> = const { std::cell::RefCell::new(None) };
        }

        let id = new_id();
        let seen = Arc::new(Mutex::new(None));
        static X: u8 = 1;
        let during = seen.clone();
        std::thread::spawn(move || {
            let address = std::ptr::from_ref(&X).cast::<()>();
            LATE.with(|late| *late.borrow_mut() = Some(Late(during, id)));
            remember(id, address);
            assert_eq!(get(id), Some(address));
        })
        .join()
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), Some(false));
    }
}
