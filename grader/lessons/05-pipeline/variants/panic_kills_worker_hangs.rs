//! bug: no catch_unwind: a panicking stage function kills its worker, and the caller, which waits until every item is counted done before shutting down (like queue.join()), waits forever for the item the dead worker took with it
//! caught-by: panics_contained
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
    let (to_fetch, fetch_queue) = channel::bounded::<(usize, I)>(capacity);
    let (to_parse, parse_queue) = channel::bounded::<(usize, A)>(capacity);
    let (to_save, save_queue) = channel::bounded::<(usize, B)>(capacity);
    let report = Arc::new(Mutex::new(Summary {
        saved: 0,
        failures: Vec::new(),
    }));
    // How many items are finished (saved or failed), and a Condvar to wait for all of them.
    let done = Arc::new((Mutex::new(0usize), Condvar::new()));
    let mut workers = Vec::new();
    workers.extend(spawn_pool(
        Stage::Fetch,
        config.fetch_workers,
        fetch_queue,
        fetch,
        &report,
        &done,
        move |index, item| pass_on(&to_parse, index, item),
    ));
    workers.extend(spawn_pool(
        Stage::Parse,
        config.parse_workers,
        parse_queue,
        parse,
        &report,
        &done,
        move |index, item| pass_on(&to_save, index, item),
    ));
    let (saved, finished) = (report.clone(), done.clone());
    workers.extend(spawn_pool(
        Stage::Save,
        config.save_workers,
        save_queue,
        save,
        &report,
        &done,
        move |_index, ()| {
            lock(&saved).saved += 1;
            item_done(&finished);
        },
    ));
    let total = inputs.len();
    for (index, input) in inputs.into_iter().enumerate() {
        if to_fetch.send((index, input)).is_err() {
            break;
        }
    }
    // Wait until every item is finished, then shut down.
    let (count, all_done) = &*done;
    let mut finished = count.lock().unwrap();
    while *finished < total {
        finished = all_done.wait(finished).unwrap();
    }
    drop(finished);
    drop(to_fetch);
    for worker in workers {
        let _ = worker.join();
    }
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

/// Counts one more item finished and wakes the caller.
fn item_done(done: &(Mutex<usize>, Condvar)) {
    *done.0.lock().unwrap() += 1;
    done.1.notify_all();
}

fn spawn_pool<In, Out, W, N>(
    stage: Stage,
    count: usize,
    input: Receiver<(usize, In)>,
    work: W,
    report: &Arc<Mutex<Summary>>,
    done: &Arc<(Mutex<usize>, Condvar)>,
    next: N,
) -> Vec<JoinHandle<()>>
where
    In: Send + 'static,
    Out: Send + 'static,
    W: Fn(In) -> Result<Out, String> + Send + Sync + 'static,
    N: Fn(usize, Out) + Clone + Send + 'static,
{
    let work = Arc::new(work);
    (0..count.max(1))
        .map(|_| {
            let (input, work, report, done, next) = (
                input.clone(),
                work.clone(),
                report.clone(),
                done.clone(),
                next.clone(),
            );
            thread::spawn(move || {
                for (index, item) in &input {
                    // A panic here unwinds the whole worker thread.
                    match work(item) {
                        Ok(out) => next(index, out),
                        Err(error) => {
                            lock(&report).failures.push(Failure {
                                index,
                                stage,
                                error,
                            });
                            item_done(&done);
                        }
                    }
                }
            })
        })
        .collect()
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
