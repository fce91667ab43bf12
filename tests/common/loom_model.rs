//! The loom models' runner, shared by `tests/loom_*.rs` (included with `#[path]`).

/// Runs `f` in every interleaving with at most three preemptions (unbounded, a
/// histogram model ran for over 12 minutes without finishing).
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}
