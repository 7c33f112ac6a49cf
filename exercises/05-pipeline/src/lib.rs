//! Lesson 05: a three-stage pipeline (fetch -> parse -> save) with one pool of worker threads per
//! stage, bounded queues between the stages, failures contained, and a clean shutdown.
//!
//! ```text
//!            queue             queue             queue
//!   inputs ---------> fetch ---------> parse ---------> save
//!                    workers          workers          workers
//! ```
//!
//! Read README.md first. Use `crate::sync` for every thread, lock and channel: its
//! `channel::bounded` is the queue this lesson is built on.

pub mod sync;

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
    let _ = (inputs, fetch, parse, save, config);
    todo!("run_pipeline: start the three worker pools, connect them with bounded channels, feed the inputs, then shut down and collect the Summary")
}
