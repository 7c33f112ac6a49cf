//! Lesson 02: producer/consumer with a bounded blocking queue.
//!
//! Build `JobQueue` from one `Mutex` and `Condvar`s, then use it in `run`. Read the lesson's
//! README.md first, then run `grader check 02` to see what is missing. Reach every primitive
//! through `crate::sync` (for example `use crate::sync::{Condvar, Mutex};`), never `std::sync`
//! directly: the model checker can only see what goes through the shim.

pub mod sync;

use std::collections::VecDeque;

use crate::sync::Mutex;

/// Everything the queue knows, behind one lock. A suggestion: change it as you like.
#[allow(dead_code)] // remove once your methods use the fields
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Items put and not yet marked done with `task_done`.
    unfinished: usize,
}

/// A bounded, blocking, closable FIFO queue.
#[allow(dead_code)] // remove once your methods use the fields
pub struct JobQueue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    // Add the Condvar(s) the waiting threads sleep on.
}

/// Returned by `put` on a closed queue: the item comes back to the caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<T> JobQueue<T> {
    /// Panics if capacity is 0.
    pub fn new(capacity: usize) -> JobQueue<T> {
        todo!("JobQueue::new({capacity}): an empty, open queue (panic if the capacity is 0)")
    }

    /// Blocks while the queue is full. Err(Closed(item)) once the queue is closed.
    pub fn put(&self, item: T) -> Result<(), Closed<T>> {
        let _ = item;
        todo!("JobQueue::put: wait while the queue is full and open, then add the item and wake a consumer")
    }

    /// Blocks while the queue is empty and open. Items put before `close` are still delivered;
    /// None once the queue is closed and drained.
    pub fn get(&self) -> Option<T> {
        todo!("JobQueue::get: wait while the queue is empty and open, then take the oldest item and wake a producer")
    }

    /// No more puts; wakes every blocked producer and consumer. Idempotent.
    pub fn close(&self) {
        todo!("JobQueue::close: set the closed flag and wake every waiting thread")
    }

    /// Marks one item returned by `get` as finished. Panics if called more often than items were put.
    pub fn task_done(&self) {
        todo!("JobQueue::task_done: one fewer unfinished item; wake join when none is left")
    }

    /// Blocks until every item ever put has been marked done.
    pub fn join(&self) {
        todo!("JobQueue::join: wait while some item put is not marked done")
    }

    pub fn len(&self) -> usize {
        todo!("JobQueue::len: how many items are queued now")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        todo!("JobQueue::capacity: the capacity given to new")
    }
}

/// Runs one thread per producer (each puts its jobs), `consumers` worker threads that call `handle`
/// once per job, then shuts everything down cleanly: every thread joined before it returns.
/// Returns every result, in any order.
pub fn run<J, R, F>(producers: Vec<Vec<J>>, consumers: usize, capacity: usize, handle: F) -> Vec<R>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(J) -> R + Send + Sync + 'static,
{
    let _ = (producers, handle);
    todo!("run({consumers} consumers, capacity {capacity}): spawn the producers and consumers, join the producers, close the queue, join the consumers")
}
