//! Running the same work on two threads from a common start, for the groups that
//! measure updates under contention or from several threads at once.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `work(0)` on this thread and `work(1)` on a second one, released together;
/// returns the time from the common start until both finished. The second thread is
/// spawned, and waits, before the clock starts, so its start-up is not counted.
pub fn both(work: impl Fn(usize) + Sync) -> Duration {
    let start = Barrier::new(2);
    thread::scope(|scope| {
        let other = scope.spawn(|| {
            start.wait();
            work(1);
        });
        start.wait();
        let began = Instant::now();
        work(0);
        other.join().expect("the second thread does not panic");
        began.elapsed()
    })
}

/// Times `iters` rounds, each on a state built by `setup` (not timed): `work(&state, 0)`
/// and `work(&state, 1)` on two threads from a common start (see [`both`]), then
/// `finish(&state)` on this thread. Dropping the state is not timed either.
pub fn rounds<S: Sync>(
    iters: u64,
    mut setup: impl FnMut() -> S,
    work: impl Fn(&S, usize) + Sync,
    mut finish: impl FnMut(&S),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let state = setup();
        total += both(|thread| work(&state, thread));
        let began = Instant::now();
        finish(&state);
        total += began.elapsed();
    }
    total
}
