//! [`Shared`]: a metric's shared state and its label set in one allocation.
//!
//! Layout, from the start of the allocation:
//!
//! ```text
//! Counts { handles }    16 bytes, where `Arc`'s strong and weak counts would be
//! the state             the metric's, its lifecycle first
//! the key               label values too long for the lifecycle (see `Key::placed`), if any
//! the label set         its tail, header and text (see `crate::labels::LabelText::place`)
//! ```
//!
//! A vec child used to be two allocations, the metric's `Arc` and its label set: two
//! allocations and two frees per series, and at a gather one line of each to read. Here
//! the set's text comes right after the state.
//!
//! Two counts, as `Arc`'s strong and weak ones: the handles (clones of the metric, which
//! a TTL sweep counts), and the label set's references (samples a gather made, and the
//! one in the state's lifecycle). The handles hold the lifecycle's reference together:
//! when the last handle goes, the state is dropped, then that reference, last; whichever
//! reference of the set goes last frees the allocation. A sample gathered before its
//! child went keeps reading the child's text.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::{self, NonNull};

use super::key::Key;
use super::{Lifecycle, NewChild};
use crate::sync::{fence, AtomicUsize, Ordering};

/// A metric's state whose lifecycle [`Shared`] reaches to drop its label set last.
pub(crate) trait HasLifecycle {
    /// The lifecycle in the state.
    fn lifecycle_mut(&mut self) -> &mut Lifecycle;
}

impl HasLifecycle for Lifecycle {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        self
    }
}

/// The start of the allocation.
#[repr(C)]
struct Inner<T> {
    counts: Counts,
    state: T,
}

/// 16 bytes, as `Arc`'s two counts, so that the state lies where an `Arc` puts it (the
/// metric types' layouts count on it: see `crate::metrics::layout`).
#[repr(C, align(16))]
struct Counts {
    handles: AtomicUsize,
}

/// Above this many handles a clone aborts, as `Arc`'s does: only a leak reaches it.
const MAX_HANDLES: usize = isize::MAX as usize;

/// A counted handle to a metric's state `T`, kept with the label set of its lifecycle in
/// one allocation (see the module doc): `Arc<T>` with the label set inside.
pub(crate) struct Shared<T: HasLifecycle> {
    ptr: NonNull<Inner<T>>,
    /// Owns a `T`, for the drop check.
    _owns: PhantomData<T>,
}

// SAFETY: a `Shared` gives shared access (`&T`) to its state and changes the handle
// count only atomically, as `Arc<T>` does, which is `Send` and `Sync` when `T` is both;
// the label set inside is itself `Send` and `Sync` (a `LabelSet`).
unsafe impl<T: HasLifecycle + Send + Sync> Send for Shared<T> {}
// SAFETY: as for `Send` above.
unsafe impl<T: HasLifecycle + Send + Sync> Sync for Shared<T> {}

impl<T: HasLifecycle> Shared<T> {
    /// The state `state` makes from the lifecycle of `child`, whose label set is placed
    /// after it in the same allocation.
    pub(crate) fn new(child: NewChild<'_>, state: impl FnOnce(Lifecycle) -> T) -> Self {
        // The state, then the key's bytes if they do not fit in the lifecycle (where
        // nothing writes them after it is made), then the label set.
        let placed_len = Key::placed_len(child.values);
        let state_layout = Layout::new::<Inner<T>>();
        let with_key = match placed_len {
            None => Some((state_layout, state_layout.size())),
            Some(len) => Layout::array::<u8>(len)
                .and_then(|key| state_layout.extend(key))
                .ok(),
        };
        let Some(((layout, at), key_at)) = with_key
            .and_then(|(prefix, key_at)| Some((child.labels.layout_after(prefix)?, key_at)))
        else {
            // Label values or a label text of over 2^61 bytes, longer than any memory
            // holds.
            panic!(
                "capacity overflow: label values of {} bytes, a label set of {} bytes",
                placed_len.unwrap_or(0),
                child.labels.text_len()
            );
        };
        // SAFETY: `layout` has a non-zero size (the counts' at least).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(start) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `start` is a fresh allocation of `layout` from the global allocator and
        // `(layout, at)` what `layout_after` gave; the state and the key below are
        // written before `at` only, and nothing frees the allocation but the set's last
        // reference (see `Drop`).
        let labels = unsafe { child.labels.place(start, layout, at) };
        // SAFETY: the `placed_len` bytes from `key_at`, if any, lie before `at`, inside
        // the allocation, and only the key uses them; the key lives in the state, which
        // `Drop` drops in place before the set's last reference frees the allocation.
        let key = unsafe {
            let room = placed_len.map(|len| NonNull::slice_from_raw_parts(start.add(key_at), len));
            Key::placed(child.values, room)
        };
        let lifecycle = Lifecycle::for_child(child.hash, key, labels, child.now);
        let inner = Inner {
            counts: Counts {
                handles: AtomicUsize::new(1),
            },
            state: state(lifecycle),
        };
        let ptr = start.cast::<Inner<T>>();
        // SAFETY: the allocation starts with room for an `Inner<T>`, aligned for it
        // (`layout` extends its layout), not yet written.
        unsafe { ptr.as_ptr().write(inner) };
        Shared {
            ptr,
            _owns: PhantomData,
        }
    }

    #[inline]
    fn inner(&self) -> &Inner<T> {
        // SAFETY: `ptr` points to the `Inner` that `new` wrote, alive while a handle is
        // (the count this one holds keeps `Drop` from dropping it).
        unsafe { self.ptr.as_ref() }
    }

    /// This handle as `N` handles. When it is the only one (a metric just made, not yet
    /// handed to anyone), the count is set rather than added to: nothing else can change
    /// it meanwhile, since every other handle would be a clone of this one, so plain
    /// loads and stores do, without the locked instruction of a clone (which, on a
    /// metric just written, waits for all its stores to reach the cache first).
    pub(crate) fn into_handles<const N: usize>(self) -> [Self; N] {
        const { assert!(N > 0, "at least the handle given") };
        let counts = &self.inner().counts;
        // Relaxed: with one handle, ours, no other thread reaches the count (see above).
        if counts.handles.load(Ordering::Relaxed) != 1 {
            return std::array::from_fn(|_| self.clone());
        }
        counts.handles.store(N, Ordering::Relaxed);
        let this = ManuallyDrop::new(self);
        std::array::from_fn(|_| Shared {
            ptr: this.ptr,
            _owns: PhantomData,
        })
    }

    /// How many handles there are, this one included (as `Arc::strong_count`).
    pub(crate) fn handle_count(&self) -> usize {
        // Acquire, as `Arc::strong_count`: a count read after another handle's drop
        // (a release) sees what that handle did before.
        self.inner().counts.handles.load(Ordering::Acquire)
    }
}

impl<T: HasLifecycle> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner().state
    }
}

impl<T: HasLifecycle + std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: HasLifecycle> Clone for Shared<T> {
    #[inline]
    fn clone(&self) -> Self {
        // Relaxed: this handle keeps the state alive meanwhile, and no other memory is
        // published (as in `Arc::clone`).
        let old = self.inner().counts.handles.fetch_add(1, Ordering::Relaxed);
        if old > MAX_HANDLES {
            std::process::abort();
        }
        Shared {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T: HasLifecycle> Drop for Shared<T> {
    fn drop(&mut self) {
        // Release: what this handle did happens before the count drops, so before the
        // last handle drops the state (as in `Arc::drop`).
        if self.inner().counts.handles.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: pairs with every other handle's release above.
        fence(Ordering::Acquire);
        let inner = self.ptr.as_ptr();
        // SAFETY: this was the last handle, so nothing else reaches the state: its label
        // set (kept from drop glue by `ManuallyDrop`) is moved out, the rest dropped in
        // place once, and the set dropped last, after which the state is not touched.
        // The set's last reference frees the allocation, which holds nothing to drop
        // any more; samples still holding the set read only its part.
        unsafe {
            let labels = ManuallyDrop::take(&mut (*inner).state.lifecycle_mut().child.labels);
            ptr::drop_in_place(inner);
            drop(labels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::render_sorted;
    use crate::LabelSet;

    /// A state with something to drop, to see it dropped once.
    struct State {
        lifecycle: Lifecycle,
        /// Counted by the test: one reference while the state lives.
        _held: std::sync::Arc<()>,
    }

    impl HasLifecycle for State {
        fn lifecycle_mut(&mut self) -> &mut Lifecycle {
            &mut self.lifecycle
        }
    }

    fn with_child<R>(values: &[&str], f: impl FnOnce(NewChild<'_>) -> R) -> R {
        let pairs = ["a", "b"].into_iter().zip(values.iter().copied());
        render_sorted(pairs, |labels| {
            f(NewChild {
                hash: 7,
                values,
                labels,
                now: 0,
                in_vec: true,
            })
        })
    }

    /// The layout tests of the metric types count on the label set's head following
    /// the state at once (see `crate::metrics::STATE_GAP`).
    #[test]
    fn the_label_set_starts_right_after_the_state() {
        let (layout, at) = crate::labels::LabelText::default()
            .layout_after(Layout::new::<Inner<Lifecycle>>())
            .unwrap();
        assert_eq!(at, size_of::<Inner<Lifecycle>>());
        assert!(layout.size() >= at + crate::labels::PLACED_HEAD);
    }

    #[test]
    fn samples_outlive_handles_and_handles_outlive_samples() {
        let dropped = std::sync::Arc::new(());
        for samples_last in [false, true] {
            // The last two values are too long for the key to be inline: it is placed
            // in the allocation, after the state.
            let long = [
                "a-label-value-of-thirty-bytes!",
                "and-another-one-just-as-long!!",
            ];
            for values in [["x", "y"], ["q\"uote", "back\\slash"], ["", ""], long] {
                let state = |lifecycle| State {
                    lifecycle,
                    _held: dropped.clone(),
                };
                let shared = with_child(&values, |child| Shared::new(child, state));
                let twin = shared.clone();
                assert_eq!(shared.handle_count(), 2);
                let labels: LabelSet = (*shared.lifecycle_ref().child.labels).clone();
                let expected =
                    LabelSet::from_pairs("m", &[("a", values[0]), ("b", values[1])]).unwrap();
                assert_eq!(labels, expected);
                assert_eq!(labels.pairs(), expected.pairs(), "parsed from the text");
                let lifecycle = shared.lifecycle_ref();
                assert!(lifecycle.is_child(7, &values));
                assert!(lifecycle.key().values().eq(values));
                assert_eq!(std::sync::Arc::strong_count(&dropped), 2);
                drop(twin);
                assert_eq!(shared.handle_count(), 1);
                if samples_last {
                    drop(shared);
                    assert_eq!(std::sync::Arc::strong_count(&dropped), 1, "state dropped");
                    assert_eq!(labels, expected, "the text lives on");
                    drop(labels);
                } else {
                    drop(labels);
                    assert_eq!(
                        shared.lifecycle_ref().child.labels.get("a"),
                        Some(values[0])
                    );
                    drop(shared);
                    assert_eq!(std::sync::Arc::strong_count(&dropped), 1);
                }
            }
        }
    }

    /// A sole handle becomes `N` by setting the count, a handle among others by clones:
    /// either way the count is exact, and the state is dropped once, with the last.
    #[test]
    fn into_handles_counts_every_handle() {
        let dropped = std::sync::Arc::new(());
        for others in [0, 1] {
            let shared = with_child(&["x", "y"], |child| {
                Shared::new(child, |lifecycle| State {
                    lifecycle,
                    _held: dropped.clone(),
                })
            });
            let kept: Vec<_> = (0..others).map(|_| shared.clone()).collect();
            let [a, b, c] = shared.into_handles();
            assert_eq!(a.handle_count(), 3 + others);
            drop([a, b]);
            assert_eq!(c.handle_count(), 1 + others);
            drop(kept);
            assert_eq!(
                std::sync::Arc::strong_count(&dropped),
                2,
                "alive with a handle"
            );
            drop(c);
            assert_eq!(
                std::sync::Arc::strong_count(&dropped),
                1,
                "dropped with the last"
            );
        }
    }

    #[test]
    fn handles_and_samples_dropped_on_many_threads_free_once() {
        for _ in 0..if cfg!(miri) { 3 } else { 50 } {
            let shared = with_child(&["x", "y"], |child| {
                Shared::new(child, |lifecycle| State {
                    lifecycle,
                    _held: std::sync::Arc::new(()),
                })
            });
            std::thread::scope(|s| {
                for i in 0..4 {
                    let handle = shared.clone();
                    let labels = (*shared.lifecycle_ref().child.labels).clone();
                    s.spawn(move || {
                        if i % 2 == 0 {
                            drop(handle);
                            assert_eq!(labels.get("b"), Some("y"));
                        } else {
                            assert_eq!(labels.get("a"), Some("x"));
                            drop(labels);
                            drop(handle);
                        }
                    });
                }
                drop(shared);
            });
        }
    }

    impl State {
        fn lifecycle_ref(&self) -> &Lifecycle {
            &self.lifecycle
        }
    }
}
