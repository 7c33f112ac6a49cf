//! bug: a failed item is passed on down the pipeline as an Err and reported by the save stage, so every failure says Stage::Save whichever stage failed
//! caught-by: failures_reported_per_stage, model_three_items_shutdown
pub mod sync;

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::channel::{self, Receiver, Sender};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Mutex};

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
    let (to_fetch, fetch_queue) = channel::bounded::<(usize, Result<I, String>)>(capacity);
    let (to_parse, parse_queue) = channel::bounded::<(usize, Result<A, String>)>(capacity);
    let (to_save, save_queue) = channel::bounded::<(usize, Result<B, String>)>(capacity);
    let report = Arc::new(Mutex::new(Summary {
        saved: 0,
        failures: Vec::new(),
    }));
    let mut workers = Vec::new();
    workers.extend(spawn_pool(
        config.fetch_workers,
        fetch_queue,
        fetch,
        move |index, item| pass_on(&to_parse, index, item),
    ));
    workers.extend(spawn_pool(
        config.parse_workers,
        parse_queue,
        parse,
        move |index, item| pass_on(&to_save, index, item),
    ));
    // The last stage settles every item: saved, or failed with its error.
    let settle = report.clone();
    workers.extend(spawn_pool(
        config.save_workers,
        save_queue,
        save,
        move |index, outcome: Result<(), String>| {
            let mut report = lock(&settle);
            match outcome {
                Ok(()) => report.saved += 1,
                Err(error) => report.failures.push(Failure {
                    index,
                    stage: Stage::Save,
                    error,
                }),
            }
        },
    ));
    for (index, input) in inputs.into_iter().enumerate() {
        if to_fetch.send((index, Ok(input))).is_err() {
            unreachable!("the fetch workers only stop once this sender is dropped");
        }
    }
    drop(to_fetch);
    for worker in workers {
        worker
            .join()
            .expect("a pipeline worker panicked outside its stage function");
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

/// Starts `count` workers; each passes an Err it receives straight on, and its own result too.
fn spawn_pool<In, Out, W, N>(
    count: usize,
    input: Receiver<(usize, Result<In, String>)>,
    work: W,
    next: N,
) -> Vec<JoinHandle<()>>
where
    In: Send + 'static,
    Out: Send + 'static,
    W: Fn(In) -> Result<Out, String> + Send + Sync + 'static,
    N: Fn(usize, Result<Out, String>) + Clone + Send + 'static,
{
    let work = Arc::new(work);
    (0..count.max(1))
        .map(|_| {
            let (input, work, next) = (input.clone(), work.clone(), next.clone());
            thread::spawn(move || {
                for (index, item) in &input {
                    let outcome = match item {
                        Ok(item) => panic::catch_unwind(AssertUnwindSafe(|| work(item)))
                            .unwrap_or_else(|payload| Err(panic_message(payload))),
                        Err(error) => Err(error),
                    };
                    next(index, outcome);
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
