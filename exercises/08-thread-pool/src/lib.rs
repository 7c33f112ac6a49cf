//! Lesson 08: a thread pool with futures: submit, result, cancel, as_completed, shutdown.
//!
//! Build a fixed set of worker threads that run submitted tasks in FIFO order, and give every
//! task a handle (a future) through which its result, or its panic, comes back. The lesson's text
//! is README.md; `grader check 08` checks your work, `grader hint 08` helps.
//!
//! The public items below are fixed (the checks use them); the private parts are yours: add
//! fields to the structs, helper types and functions. Take every primitive (Mutex, Condvar, Arc,
//! atomics, thread::spawn, thread::Builder, sleep) from `crate::sync`, never from std::sync or
//! std::thread directly: the model checker can only see the shim's types.

// The starter's bodies are all todo!(): nothing is used yet.
#![allow(unused_variables, dead_code, unused_imports)]

pub mod sync;

use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task panicked; the panic message.
    Panicked(String),
    /// Cancelled before it started.
    Cancelled,
}

/// Returned by `submit`/`map` once the pool is shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutDown;

/// What `shutdown` does with tasks still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    Run,
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub submitted: u64,
    pub pending: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// A fixed set of worker threads running submitted tasks in FIFO order. Drop = shutdown(Pending::Run).
pub struct ThreadPool {
    // Yours to design: the shared state the workers and the handles reach (behind an Arc), the
    // number of workers, the workers' JoinHandles.
}

/// The future of one task. Dropping it does not cancel the task.
pub struct TaskHandle<T> {
    // Yours to design: the task's slot (its phase and, once finished, its result), shared with the
    // worker that runs it. PhantomData keeps the starter compiling until the slot holds a T.
    _result: std::marker::PhantomData<T>,
}

/// Iterator over handles in the order their tasks finish.
pub struct AsCompleted<T> {
    // Yours to design: the handles not yielded yet, and what the iterator sleeps on.
    _handles: Vec<TaskHandle<T>>,
}

impl ThreadPool {
    /// Starts `workers` threads named "{name}-{i}" now. Panics if `workers` is 0.
    pub fn new(name: &str, workers: usize) -> ThreadPool {
        todo!("assert workers > 0; spawn `workers` threads with thread::Builder::new().name(format!(\"{{name}}-{{i}}\")), each looping: take the next task off the queue (sleeping on a Condvar while it is empty and the pool open), run it with no lock held, finish its handle")
    }

    pub fn workers(&self) -> usize {
        todo!("the number of worker threads")
    }

    /// Queues a task; never blocks; may be called from inside a task. A task that panics completes
    /// with Err(TaskError::Panicked(message)) and its worker lives on.
    pub fn submit<T, F>(&self, f: F) -> Result<TaskHandle<T>, ShutDown>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        todo!("Err(ShutDown) once shut down; otherwise queue the task (counted: submitted and pending), wake one idle worker, and return its handle")
    }

    /// Runs `f` on every item on the pool; results in input order.
    pub fn map<I, T, F>(&self, items: I, f: F) -> Result<Vec<Result<T, TaskError>>, ShutDown>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        todo!("submit every item (f shared in an Arc), then each handle's result, in input order")
    }

    /// Refuses new work; queued tasks run (`Pending::Run`) or complete as Cancelled
    /// (`Pending::Cancel`); running tasks finish; then every worker is joined. Idempotent.
    pub fn shutdown(&self, pending: Pending) {
        todo!("close the pool; for Pending::Cancel cancel every queued task; wake every worker (notify_all); join them all")
    }

    /// One consistent snapshot: submitted = pending + running + completed + failed + cancelled.
    pub fn stats(&self) -> Stats {
        todo!("a copy of the counters, taken under the lock they are changed under")
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        // Drop = shutdown(Pending::Run). (A starter pool is never built: new is todo!().)
    }
}

impl<T> TaskHandle<T> {
    /// True iff the task had not started (it never will) or was already cancelled.
    pub fn cancel(&self) -> bool {
        todo!("queued -> cancelled (true; it is done now, with Err(Cancelled)); already cancelled -> true; running or finished -> false; decided under the same lock the worker starts it under")
    }

    pub fn is_done(&self) -> bool {
        todo!("whether the task finished: a value, a panic or a cancel")
    }

    /// Sleeps until the task is done.
    pub fn wait(&self) {
        todo!("wait on the slot's Condvar while the task is not finished")
    }

    /// True iff done within `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        todo!("like wait, with a deadline computed once")
    }

    /// Waits, then the task's value or why there is none.
    pub fn result(self) -> Result<T, TaskError> {
        todo!("wait, then take the outcome out of the slot")
    }
}

/// Yields each handle as its task finishes (sleeping in between, never polling).
pub fn as_completed<T>(handles: Vec<TaskHandle<T>>) -> AsCompleted<T> {
    todo!("register a listener in every handle's slot (under that slot's lock) that a finishing task notifies")
}

impl<T> Iterator for AsCompleted<T> {
    type Item = TaskHandle<T>;

    fn next(&mut self) -> Option<TaskHandle<T>> {
        todo!("None once every handle was yielded; otherwise sleep until a task has finished and yield its handle")
    }
}
