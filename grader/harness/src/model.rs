//! Running loom models with the kit's bounds (only under `--cfg loom`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

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
/// The exploration runs unrecorded (noting every step would slow a passing model by a third). When
/// it fails, and the shim is connected (see [`trace`]), it runs again with the record on: loom
/// explores in the same order every time, so it fails again at the same iteration, and the record
/// then holds that iteration's steps (the shim notes nothing once a thread unwinds). The trace is
/// kept for the runner, and the first failure goes on as if nothing had been replayed.
pub fn explore_with<F>(preemption_bound: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let builder = || {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = preemption_bound;
        builder
    };
    let Some(shim) = trace::shim() else {
        return builder().check(f);
    };
    let f = Arc::new(f);
    let unrecorded = f.clone();
    let failure = panic::catch_unwind(AssertUnwindSafe(|| {
        builder().check(move || {
            (shim.start)(false);
            unrecorded()
        })
    }));
    let Err(payload) = failure else { return };
    let _replay = panic::catch_unwind(AssertUnwindSafe(|| {
        tracing::subscriber::with_default(trace::Hooks, || {
            builder().check(move || {
                (shim.start)(true);
                f()
            })
        })
    }));
    if let Some(trace) = trace::snapshot() {
        trace::keep(trace);
    }
    (shim.start)(false);
    panic::resume_unwind(payload)
}
