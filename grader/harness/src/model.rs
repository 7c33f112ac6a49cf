//! Running loom models with the kit's bounds (only under `--cfg loom`), and a deadlock loom finds
//! told as what each thread was doing.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, Once};

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
/// then holds that iteration's steps. The trace is kept for the runner, and the first failure goes
/// on as if nothing had been replayed.
///
/// The replay starts from the runner's panic hook when it can (see [`replay_now`]): loom's
/// unwinding after a deadlock, or a finding raised while the code under test holds loom objects
/// whose `Drop` uses loom, aborts the process before `explore_with` could replay anything.
pub fn explore_with<F>(preemption_bound: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let Some(shim) = trace::shim() else {
        return builder(preemption_bound).check(f);
    };
    let f: Model = Arc::new(f);
    *lock(&EXPLORING) = Some((preemption_bound, f.clone()));
    let unrecorded = f.clone();
    let failure = panic::catch_unwind(AssertUnwindSafe(|| {
        builder(preemption_bound).check(move || {
            (shim.start)(false);
            unrecorded()
        })
    }));
    // Still here when the failure was no finding the hook replays (a panic of the code under test
    // that unwound out of loom): replay it now.
    let not_replayed = lock(&EXPLORING).take();
    let Err(payload) = failure else { return };
    if let Some((bound, f)) = not_replayed {
        if let Some(trace) = record(bound, f) {
            trace::keep(trace);
        }
    }
    panic::resume_unwind(payload)
}

/// A model's closure, shared by the unrecorded exploration and its replay.
type Model = Arc<dyn Fn() + Sync + Send>;

/// The exploration going on, until a replay takes it: its bound and its closure.
static EXPLORING: Mutex<Option<(Option<usize>, Model)>> = Mutex::new(None);
/// While a replay started by [`replay_now`] runs: where its first failure sends its steps.
static REPLAYED: Mutex<Option<mpsc::Sender<Option<trace::Trace>>>> = Mutex::new(None);

fn builder(preemption_bound: Option<usize>) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemption_bound;
    builder
}

/// Explores `f` again with the record on and returns the steps of its failing iteration (none if
/// it did not fail again).
fn record(bound: Option<usize>, f: Model) -> Option<trace::Trace> {
    let shim = trace::shim()?;
    let failed = panic::catch_unwind(AssertUnwindSafe(|| {
        tracing::subscriber::with_default(trace::Hooks, || {
            builder(bound).check(move || {
                (shim.start)(true);
                f()
            })
        })
    }))
    .is_err();
    let got = if failed { trace::snapshot() } else { None };
    (shim.start)(false);
    got
}

/// Called by the runner's panic hook at the first failure (a finding, a deadlock) of a model
/// check: replays the exploration going on to its failing iteration and returns that iteration's
/// steps. `None` when no exploration is going on or it was replayed already.
///
/// The replay runs on a thread of its own (loom's state is per thread, so this works even from
/// inside a failing execution). Its failure is caught in the hook ([`park_if_replaying`]), which
/// sends the steps at once and parks that thread for good, before any unwinding can abort the
/// process.
pub(crate) fn replay_now() -> Option<trace::Trace> {
    let (bound, f) = lock(&EXPLORING).take()?;
    let (send, receive) = mpsc::channel();
    *lock(&REPLAYED) = Some(send.clone());
    let got = std::thread::Builder::new()
        .name("grader-replay".into())
        .spawn(move || {
            let _ = send.send(record(bound, f));
        })
        .ok()
        .and_then(|_| receive.recv().ok())
        .flatten();
    *lock(&REPLAYED) = None;
    if let Some(shim) = trace::shim() {
        (shim.start)(false);
    }
    got
}

/// Called by the runner's panic hook at a failure: on the replay's thread (the only one that can
/// fail while [`replay_now`] waits), hands the steps recorded so far to it and parks that thread
/// for good (never returns there).
pub(crate) fn park_if_replaying() {
    let Some(send) = lock(&REPLAYED).take() else {
        return;
    };
    let _ = send.send(trace::snapshot());
    loop {
        std::thread::park();
    }
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
    // The hook's finding is the check's first failure: the runner records it at once, with the
    // interleaving a replay records (see `replay_now`). If loom's unwinding does not abort the
    // process, the same finding goes back to the runner here.
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
            .detail(crate::runner::loom_said(&text));
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
