//! A small number for each live thread, its *slot*: the index of the thread's own row
//! in a histogram's or a counter's per-thread rows (see `thread_shards.rs`).
//!
//! A thread takes a slot at its first call to [`current`] and gives it back when it
//! exits; the lowest free slot is taken first, so N threads busy at once hold N distinct
//! slots however many threads came and went before them. (Handing out ever larger
//! numbers put a new thread on the shard of a live one every other time on two cores:
//! short-lived threads took the others.) A slot is never held by two live threads:
//! whatever a thread wrote through its slot happens before the next holder's first use
//! (the free list's lock orders them).

#[cfg(not(promsdk_loom))]
pub(crate) use real::current;

#[cfg(not(promsdk_loom))]
mod real {
    use std::cell::Cell;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::sync::Mutex;

    /// `SLOT` before the thread's first call.
    const UNSET: usize = usize::MAX;
    /// `SLOT` once the thread gave its slot back (it is exiting).
    const GONE: usize = usize::MAX - 1;

    /// Slots given back, lowest first, and the next never-used slot.
    static FREE: Mutex<(BinaryHeap<Reverse<usize>>, usize)> = Mutex::new((BinaryHeap::new(), 0));

    thread_local! {
        // `const` init and no destructor: reading it is one thread-local load, and it
        // stays readable while the thread's destructors run.
        static SLOT: Cell<usize> = const { Cell::new(UNSET) };
        // Gives the slot back when the thread exits.
        static HELD: Held = const { Held };
    }

    struct Held;

    impl Drop for Held {
        fn drop(&mut self) {
            let slot = SLOT.with(|s| s.replace(GONE));
            if slot < GONE {
                give_back(slot);
            }
        }
    }

    fn give_back(slot: usize) {
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        free.0.push(Reverse(slot));
    }

    /// This thread's slot, or `None` while it exits (its slot already given back).
    #[inline]
    pub(crate) fn current() -> Option<usize> {
        let slot = SLOT.with(Cell::get);
        if slot < GONE {
            Some(slot)
        } else if slot == UNSET {
            take()
        } else {
            None
        }
    }

    #[cold]
    fn take() -> Option<usize> {
        let slot = {
            let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
            match free.0.pop() {
                Some(Reverse(slot)) => slot,
                None => {
                    free.1 += 1;
                    free.1 - 1
                }
            }
        };
        // Touching `HELD` registers its destructor; a thread already past it (another
        // destructor observing) gets no slot.
        if HELD.try_with(|_| ()).is_err() {
            give_back(slot);
            SLOT.with(|s| s.set(GONE));
            return None;
        }
        SLOT.with(|s| s.set(slot));
        Some(slot)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn live_threads_hold_distinct_slots_and_exited_ones_give_them_back() {
            let barrier = std::sync::Barrier::new(4);
            let slots: Vec<usize> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            let slot = current().unwrap();
                            assert_eq!(current(), Some(slot), "a thread keeps its slot");
                            // All four alive at once: none can reuse another's slot.
                            barrier.wait();
                            slot
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut distinct = slots.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), 4, "slots {slots:?}");
            // Exited threads give their slots back: a hundred threads one after another
            // each take the lowest free slot, so they reuse a few instead of counting up
            // (other tests running at the same time hold a few of their own).
            let before = FREE.lock().unwrap().1;
            let slots: Vec<usize> = (0..100)
                .map(|_| std::thread::spawn(|| current().unwrap()).join().unwrap())
                .collect();
            assert!(slots.iter().all(|&n| n < 50), "{slots:?}");
            let taken = FREE.lock().unwrap().1 - before;
            assert!(taken < 25, "{taken} new slots for 100 threads in turn");
        }
    }
}

/// Under loom: a slot per model thread, numbered afresh in each execution.
#[cfg(promsdk_loom)]
pub(crate) fn current() -> Option<usize> {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    loom::thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    Some(SLOT.with(|s| *s))
}
