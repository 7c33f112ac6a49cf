//! bug: each stage runs over every item before the next stage starts (results collected into a Vec in between), so the stages never overlap and the total is the sum of the three
//! caught-by: stages_overlap
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
    let report = Arc::new(Mutex::new(Summary {
        saved: 0,
        failures: Vec::new(),
    }));
    let inputs: Vec<(usize, I)> = inputs.into_iter().enumerate().collect();
    let fetched = run_stage(
        Stage::Fetch,
        config.fetch_workers,
        config,
        inputs,
        fetch,
        &report,
    );
    let parsed = run_stage(
        Stage::Parse,
        config.parse_workers,
        config,
        fetched,
        parse,
        &report,
    );
    let saved = run_stage(
        Stage::Save,
        config.save_workers,
        config,
        parsed,
        save,
        &report,
    );
    let mut summary = std::mem::replace(
        &mut *lock(&report),
        Summary {
            saved: 0,
            failures: Vec::new(),
        },
    );
    summary.saved = saved.len();
    summary.failures.sort_by_key(|failure| failure.index);
    summary
}

/// Runs one stage's pool over all `items` and returns its successes once every worker is done.
fn run_stage<In, Out, W>(
    stage: Stage,
    count: usize,
    config: &Config,
    items: Vec<(usize, In)>,
    work: W,
    report: &Arc<Mutex<Summary>>,
) -> Vec<(usize, Out)>
where
    In: Send + 'static,
    Out: Send + 'static,
    W: Fn(In) -> Result<Out, String> + Send + Sync + 'static,
{
    let (to_pool, queue) = channel::bounded::<(usize, In)>(config.queue_capacity.max(1));
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = results.clone();
    let workers = spawn_pool(stage, count, queue, work, report, move |index, out| {
        sink.lock().unwrap().push((index, out))
    });
    for item in items {
        if to_pool.send(item).is_err() {
            unreachable!("the workers only stop once this sender is dropped");
        }
    }
    drop(to_pool);
    for worker in workers {
        worker
            .join()
            .expect("a worker panicked outside its stage function");
    }
    let mut results = results.lock().unwrap();
    std::mem::take(&mut *results)
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
