//! Calling the code under test with a time limit, and reading the panics it raises.
//!
//! A check that calls into a learner's code can't know it will return: a missed notify leaves it
//! blocked forever. The runner's own time limit would catch that, but only as "the check timed
//! out"; calling through [`within`] lets the check say what it was doing and what it saw so far.
//! The helper thread is left behind when the limit passes: the harness exits when the check ends.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How a bounded call ended.
pub enum Ran<T> {
    /// It returned this, after this long.
    Returned(T, Duration),
    /// It panicked with this payload (see [`panic_text`], [`pass_on_todo`]).
    Panicked(Box<dyn Any + Send>),
    /// It had not returned when the limit passed.
    Hung,
}

/// Runs `f` on a helper thread named `name` and waits at most `limit` for it.
pub fn within<T, F>(name: &str, limit: Duration, f: F) -> Ran<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, finished) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            crate::hang::enter();
            let started = Instant::now();
            let outcome = panic::catch_unwind(AssertUnwindSafe(f));
            let _ = done.send((outcome, started.elapsed()));
        })
        .expect("the check can start its helper thread");
    // Meanwhile the check's thread only waits for the code under test.
    match crate::hang::observing(|| finished.recv_timeout(limit)) {
        Ok((Ok(value), took)) => Ran::Returned(value, took),
        Ok((Err(payload), _)) => Ran::Panicked(payload),
        Err(RecvTimeoutError::Timeout) => Ran::Hung,
        // The thread ended without sending: it can't, catch_unwind holds every panic.
        Err(RecvTimeoutError::Disconnected) => Ran::Hung,
    }
}

/// The message of a panic: `panic!("literal")` carries a `&str`, `panic!("{x}")` a `String`.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with a non-text payload)".to_string()
    }
}

/// What `todo!()` panics with: the starters leave every body to write as `todo!("...")`.
pub const TODO_PANIC: &str = "not yet implemented";

/// Whether a panic message is a `todo!()`'s.
pub fn is_todo(message: &str) -> bool {
    message.contains(TODO_PANIC)
}

/// A `todo!()` the starter still has is not the panic a check expects: it goes on unwinding, so
/// that the runner reports "not implemented yet". Any other payload comes back.
pub fn pass_on_todo(payload: Box<dyn Any + Send>) -> Box<dyn Any + Send> {
    if is_todo(&panic_text(&*payload)) {
        panic::resume_unwind(payload);
    }
    payload
}

/// Keeps the panics a check causes on purpose (payloads starting with `prefix`, e.g. a task told
/// to panic) out of the output, so that the check's captured output shows only real panics.
/// Installed once per process; other panics still reach the runner's hook.
pub fn quiet_panics_starting_with(prefix: &'static str) {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let text = panic_text(info.payload());
            if !text.starts_with(prefix) {
                return previous(info);
            }
            if let Ok(mut quieted) = QUIETED.lock() {
                if quieted.len() < 16 {
                    quieted.push(text);
                }
            }
        }));
    });
}

/// The first panics kept quiet by [`quiet_panics_starting_with`], by message.
static QUIETED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The messages of the first panics this process kept quiet (caused on purpose): a check that
/// sees a panic come back from the code under test can tell whether one of its own started it.
pub fn quieted_panics() -> Vec<String> {
    QUIETED.lock().map(|q| q.clone()).unwrap_or_default()
}
