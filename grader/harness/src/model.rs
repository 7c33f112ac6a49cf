//! Running loom models with the kit's bounds (only under `--cfg loom`).

/// Explores every interleaving of `f` with the kit's default bound of 3 preemptions, which finds the
/// races the lessons teach in seconds.
pub fn explore<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    explore_with(Some(3), f)
}

/// Explores with an explicit preemption bound (`None`: every interleaving).
pub fn explore_with<F>(preemption_bound: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemption_bound;
    builder.check(f);
}
