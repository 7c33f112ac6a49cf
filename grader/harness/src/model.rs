//! Running loom models with the kit's bounds (only under `--cfg loom`), and a deadlock loom finds
//! told as what each thread was doing.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once};

use crate::bounded::panic_text;
use crate::check::{Finding, Outcome};
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

/// What each thread of the current execution is doing, as the check notes it (see [`doing`]):
/// plain std state, invisible to loom, read when loom finds a deadlock.
static DOING: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The check that is exploring, and the finding a deadlock in it becomes.
static EXPLAINING: Mutex<Option<(&'static str, fn(String) -> Finding)>> = Mutex::new(None);
/// The finding the deadlock of the exploring check became.
static EXPLAINED: Mutex<Option<Finding>> = Mutex::new(None);

/// Starts the notes of one execution: thread `i` of the model is `threads[i]`, not started yet.
/// Call it first thing in the model's closure (loom runs the closure once per interleaving).
pub fn threads(threads: &[&str]) {
    *lock(&DOING) = threads
        .iter()
        .map(|t| format!("{t}: not started"))
        .collect();
}

/// Notes what model thread `thread` (an index into [`threads`]; a new index adds a note) is doing
/// now.
pub fn doing(thread: usize, what: impl Into<String>) {
    let mut notes = lock(&DOING);
    if notes.len() <= thread {
        notes.resize(thread + 1, String::new());
    }
    notes[thread] = what.into();
}

/// Explores `f` like [`explore_with`]; when loom finds an interleaving in which every thread is
/// blocked, the check fails with `explain(observed)`, where `observed` says what each thread was
/// doing at that moment (the notes of [`doing`]).
///
/// loom reports a deadlock by panicking inside its scheduler, and the unwinding that follows aborts
/// the process (loom's objects panic when dropped outside their execution), so the check can't
/// catch it. A panic hook turns loom's panic into the check's finding instead: raised on a helper
/// thread, it is the first panic the runner sees, and the runner records a model check's first
/// panic as soon as it happens.
pub fn explore_explaining<F>(
    check: &'static str,
    preemption_bound: Option<usize>,
    explain: fn(String) -> Finding,
    f: F,
) -> Outcome
where
    F: Fn() + Sync + Send + 'static,
{
    explain_deadlocks();
    *lock(&EXPLAINED) = None;
    *lock(&EXPLAINING) = Some((check, explain));
    // The deadlock unwinds through `explore_with`, which replays it to record the interleaving;
    // the explained finding then goes back to the runner, which adds that trace to it.
    let explored = panic::catch_unwind(AssertUnwindSafe(|| explore_with(preemption_bound, f)));
    *lock(&EXPLAINING) = None;
    match (explored, lock(&EXPLAINED).take()) {
        (_, Some(finding)) => Err(finding),
        (Ok(()), None) => Ok(()),
        (Err(payload), None) => panic::resume_unwind(payload),
    }
}

fn explain_deadlocks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let text = panic_text(info.payload());
            let explaining = if text.starts_with("deadlock") {
                lock(&EXPLAINING).take()
            } else {
                None
            };
            let Some((check, explain)) = explaining else {
                return previous(info);
            };
            let states: Vec<String> = lock(&DOING)
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect();
            eprintln!("{check}: loom found a deadlock: {text}");
            let finding = explain(format!(
                "{check}: the model checker found an order of events in which every thread is blocked for good. At that moment: {}",
                states.join("; ")
            ))
            .detail(format!("loom: {text}"));
            *lock(&EXPLAINED) = Some(finding.clone());
            // Raised first, so that it is the finding on record even if the unwinding aborts.
            let _ = std::thread::spawn(move || finding.raise()).join();
            previous(info)
        }));
    });
}

/// The notes survive a panic of the check that held them.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
