//! bug: every worker shares one struct holding all the queues (senders included), so no queue ever closes; run_pipeline waits until every item is counted and returns without joining, leaving all the workers blocked in recv for ever
//! caught-by: no_thread_left_behind
pub mod sync;

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::channel::{self, Receiver, Sender};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex};

/// The three stages, in the order every item goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Fetch,
    Parse,
    Save,
}

/// An item that went no further: its index in the inputs, where it stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub index: usize,
    pub stage: Stage,
    pub error: String,
}

/// What a run did: how many items were saved, and every failure, sorted by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub saved: usize,
    pub failures: Vec<Failure>,
}

/// The shape of the pipeline.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads of each stage, each at least 1.
    pub fetch_workers: usize,
    pub parse_workers: usize,
    pub save_workers: usize,
    /// At least 1: how many items the queue between two stages holds.
    pub queue_capacity: usize,
}

/// Runs every input through fetch, then parse, then save. Each stage has its own pool of worker threads;
/// the stages run at the same time, connected by bounded queues, so a slow stage holds the ones before it
/// back instead of letting items pile up. An item whose stage function returns Err or panics is reported
/// in `failures` (its index in `inputs`, the stage, the error or panic message) and goes no further;
/// the other items carry on. Returns once every item is saved or failed and every thread it started has
/// finished. `failures` is sorted by index.
pub fn run_pipeline<I, A, B, FF, PF, SF>(
    inputs: Vec<I>,
    fetch: FF,
    parse: PF,
    save: SF,
    config: &Config,
) -> Summary
where
    I: Send + 'static,
    A: Send + 'static,
    B: Send + 'static,
    FF: Fn(I) -> Result<A, String> + Send + Sync + 'static,
    PF: Fn(A) -> Result<B, String> + Send + Sync + 'static,
    SF: Fn(B) -> Result<(), String> + Send + Sync + 'static,
{
    let capacity = config.queue_capacity.max(1);
    let queues = Arc::new(Queues {
        fetch: channel::bounded::<(usize, I)>(capacity),
        parse: channel::bounded::<(usize, A)>(capacity),
        save: channel::bounded::<(usize, B)>(capacity),
    });
    let report = Arc::new(Mutex::new(Summary {
        saved: 0,
        failures: Vec::new(),
    }));
    let done = Arc::new((Mutex::new(0usize), Condvar::new()));
    let (fetch, parse, save) = (Arc::new(fetch), Arc::new(parse), Arc::new(save));
    for _ in 0..config.fetch_workers.max(1) {
        let (q, f, r, d) = (queues.clone(), fetch.clone(), report.clone(), done.clone());
        thread::spawn(move || {
            while let Some((index, item)) = q.fetch.1.recv() {
                match attempt(|| f(item)) {
                    Ok(out) => {
                        let _ = q.parse.0.send((index, out));
                    }
                    Err(error) => fail(&r, &d, index, Stage::Fetch, error),
                }
            }
        });
    }
    for _ in 0..config.parse_workers.max(1) {
        let (q, p, r, d) = (queues.clone(), parse.clone(), report.clone(), done.clone());
        thread::spawn(move || {
            while let Some((index, item)) = q.parse.1.recv() {
                match attempt(|| p(item)) {
                    Ok(out) => {
                        let _ = q.save.0.send((index, out));
                    }
                    Err(error) => fail(&r, &d, index, Stage::Parse, error),
                }
            }
        });
    }
    for _ in 0..config.save_workers.max(1) {
        let (q, s, r, d) = (queues.clone(), save.clone(), report.clone(), done.clone());
        thread::spawn(move || {
            while let Some((index, item)) = q.save.1.recv() {
                match attempt(|| s(item)) {
                    Ok(()) => {
                        lock(&r).saved += 1;
                        item_done(&d);
                    }
                    Err(error) => fail(&r, &d, index, Stage::Save, error),
                }
            }
        });
    }
    let total = inputs.len();
    for (index, input) in inputs.into_iter().enumerate() {
        let _ = queues.fetch.0.send((index, input));
    }
    // Every item finished: the answer is complete, so return it (the workers are never told to stop).
    let (count, all_done) = &*done;
    let mut finished = count.lock().unwrap();
    while *finished < total {
        finished = all_done.wait(finished).unwrap();
    }
    drop(finished);
    let mut summary = std::mem::replace(
        &mut *lock(&report),
        Summary {
            saved: 0,
            failures: Vec::new(),
        },
    );
    summary.failures.sort_by_key(|failure| failure.index);
    summary
}

/// Both ends of the three queues, shared by every worker.
struct Queues<I, A, B> {
    fetch: (Sender<(usize, I)>, Receiver<(usize, I)>),
    parse: (Sender<(usize, A)>, Receiver<(usize, A)>),
    save: (Sender<(usize, B)>, Receiver<(usize, B)>),
}

/// Runs a stage call, turning a panic into an Err.
fn attempt<T>(call: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(call))
        .unwrap_or_else(|payload| Err(panic_message(payload)))
}

fn fail(
    report: &Mutex<Summary>,
    done: &(Mutex<usize>, Condvar),
    index: usize,
    stage: Stage,
    error: String,
) {
    lock(report).failures.push(Failure {
        index,
        stage,
        error,
    });
    item_done(done);
}

/// Counts one more item finished and wakes the caller.
fn item_done(done: &(Mutex<usize>, Condvar)) {
    *done.0.lock().unwrap() += 1;
    done.1.notify_all();
}

/// Sends a success on to the next stage.
fn pass_on<T>(queue: &Sender<(usize, T)>, index: usize, item: T) {
    // The next pool's workers keep their receivers until this queue is closed, and this worker
    // still holds a sender: someone is always there to receive.
    if queue.send((index, item)).is_err() {
        unreachable!("the next stage stopped before its queue was closed");
    }
}

/// The text of a panic: `panic!("literal")` carries a `&str`, `panic!("{x}")` a `String`.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panicked with a payload that is not text".to_string()
    }
}

/// The report is only ever locked for a push or an increment, never while a stage function runs,
/// so it can't be poisoned; if it were, its contents would still be whole.
fn lock(report: &Mutex<Summary>) -> crate::sync::MutexGuard<'_, Summary> {
    report
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
