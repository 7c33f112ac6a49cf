//! Running loom models with the kit's bounds (only under `--cfg loom`).

use crate::trace;

/// Explores every interleaving of `f` with the kit's default bound of 3 preemptions, which finds the
/// races the lessons teach in seconds.
pub fn explore<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    explore_with(Some(3), f)
}

/// Explores with an explicit preemption bound (`None`: every interleaving).
///
/// With the shim connected (see [`trace`]), each iteration starts a fresh record of what the
/// threads do, so the record at the first panic is the failing interleaving's.
pub fn explore_with<F>(preemption_bound: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemption_bound;
    match trace::shim() {
        Some(shim) => tracing::subscriber::with_default(trace::Hooks, || {
            builder.check(move || {
                (shim.start)(true);
                f()
            })
        }),
        None => builder.check(f),
    }
}
