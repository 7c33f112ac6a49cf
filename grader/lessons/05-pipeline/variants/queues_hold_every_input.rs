//! bug: the queues are sized to hold every input (bounded(inputs.len())), so no send ever waits: fetch races through all the inputs while save lags behind, and the items pile up in memory
//! caught-by: backpressure_bounds_fetch
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
    // `bounded` refuses 0; the config promises at least 1 anyway.
    let capacity = inputs.len().max(config.queue_capacity).max(1);
    let (to_fetch, fetch_queue) = channel::bounded::<(usize, I)>(capacity);
    let (to_parse, parse_queue) = channel::bounded::<(usize, A)>(capacity);
    let (to_save, save_queue) = channel::bounded::<(usize, B)>(capacity);
    let report = Arc::new(Mutex::new(Summary {
        saved: 0,
        failures: Vec::new(),
    }));

    // Each pool gets the receiver of its input queue and the sender of its output queue. The pools
    // take ownership of them: once this function has spawned the workers it holds no end of
    // queues 1 and 2, so their closing depends only on the workers, stage by stage.
    let mut workers = Vec::new();
    workers.extend(spawn_pool(
        Stage::Fetch,
        config.fetch_workers,
        fetch_queue,
        fetch,
        &report,
        move |index, item| pass_on(&to_parse, index, item),
    ));
    workers.extend(spawn_pool(
        Stage::Parse,
        config.parse_workers,
        parse_queue,
        parse,
        &report,
        move |index, item| pass_on(&to_save, index, item),
    ));
    let saved = report.clone();
    workers.extend(spawn_pool(
        Stage::Save,
        config.save_workers,
        save_queue,
        save,
        &report,
        move |_index, ()| lock(&saved).saved += 1,
    ));

    // Feed the first queue from this thread: `send` waits whenever the fetch workers fall behind.
    for (index, input) in inputs.into_iter().enumerate() {
        if to_fetch.send((index, input)).is_err() {
            unreachable!("the fetch workers only stop once this sender is dropped");
        }
    }
    // The start of the shutdown: the fetch workers drain queue 0, see it closed, and stop.
    drop(to_fetch);

    for worker in workers {
        // A worker only runs stage functions inside catch_unwind, so it can't die of their panics.
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

/// Starts `count` workers (at least one) that take `(index, item)` pairs from `input` until it is
/// closed and drained, run `work` on each, hand successes to `next` and record failures.
///
/// Each worker owns a clone of `input` and of `next` (which holds the sender of the next queue);
/// the originals are dropped when this returns. So the next queue closes exactly when the last
/// worker of this pool has finished: that is how the shutdown travels down the pipeline.
fn spawn_pool<In, Out, W, N>(
    stage: Stage,
    count: usize,
    input: Receiver<(usize, In)>,
    work: W,
    report: &Arc<Mutex<Summary>>,
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
            let (input, work, report, next) =
                (input.clone(), work.clone(), report.clone(), next.clone());
            thread::spawn(move || {
                for (index, item) in &input {
                    // Contain a panic to the item that caused it: the worker carries on.
                    let outcome = panic::catch_unwind(AssertUnwindSafe(|| work(item)))
                        .unwrap_or_else(|payload| Err(panic_message(payload)));
                    match outcome {
                        Ok(out) => next(index, out),
                        Err(error) => lock(&report).failures.push(Failure {
                            index,
                            stage,
                            error,
                        }),
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
