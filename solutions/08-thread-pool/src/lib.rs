//! Lesson 08: a thread pool with futures: submit, result, cancel, as_completed, shutdown.
//!
//! The design (the reference solution; the checks accept any correct one):
//!
//! - The pool's `Mutex<PoolState>` holds the queue, the open flag and the counters, with one
//!   Condvar on which idle workers sleep.
//! - Each task has a slot: its own `Mutex<SlotState<T>>` (the phase: queued, running, finished
//!   with a result) and a Condvar on which `wait` sleeps. That is all a future is: a slot plus a
//!   condvar.
//! - Every change of phase that the counters see (start, cancel, finish) is made holding the pool's
//!   lock and then the slot's, in that order, so `stats()` is one consistent snapshot and a cancel
//!   and a start of the same task cannot both win.
//! - `as_completed` registers a listener in each slot under that slot's lock: a task that finishes
//!   sends its index to the listener, which the iterator sleeps on.

pub mod sync;

use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::any::Any;
use std::collections::VecDeque;
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

/// Locks, and goes on after a panic elsewhere: no code of ours panics while holding a lock, and the
/// tasks never run under one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The message of a panic: `panic!("literal")` carries a `&str`, `panic!("{x}")` a `String`.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not text".to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// The slot of one task: its future.

enum Phase<T> {
    Queued,
    Running,
    Finished(Result<T, TaskError>),
    /// `result()` took the value.
    Taken,
}

struct SlotState<T> {
    phase: Phase<T>,
    /// The `as_completed` iterators waiting for this task, each with this task's index there.
    listeners: Vec<(Arc<Listener>, usize)>,
}

struct Slot<T> {
    state: Mutex<SlotState<T>>,
    finished: Condvar,
}

impl<T> Slot<T> {
    fn new() -> Slot<T> {
        Slot {
            state: Mutex::new(SlotState {
                phase: Phase::Queued,
                listeners: Vec::new(),
            }),
            finished: Condvar::new(),
        }
    }

    /// Called with the pool's lock held (the counters are `stats`).
    fn start(&self, stats: &mut Stats) -> bool {
        let mut state = lock(&self.state);
        if matches!(state.phase, Phase::Queued) {
            state.phase = Phase::Running;
            stats.pending -= 1;
            stats.running += 1;
            true
        } else {
            false
        }
    }

    /// Called with the pool's lock held. True iff the task is cancelled now or was already.
    fn cancel(&self, stats: &mut Stats) -> bool {
        let mut state = lock(&self.state);
        match state.phase {
            Phase::Queued => {
                stats.pending -= 1;
                stats.cancelled += 1;
                self.finish(&mut state, Err(TaskError::Cancelled));
                true
            }
            Phase::Finished(Err(TaskError::Cancelled)) => true,
            _ => false,
        }
    }

    /// Records the outcome and wakes everyone waiting for it: `wait`ers and `as_completed`s.
    fn finish(&self, state: &mut SlotState<T>, result: Result<T, TaskError>) {
        state.phase = Phase::Finished(result);
        for (listener, index) in state.listeners.drain(..) {
            listener.ready(index);
        }
        self.finished.notify_all();
    }
}

fn is_finished<T>(phase: &Phase<T>) -> bool {
    matches!(phase, Phase::Finished(_) | Phase::Taken)
}

// ---------------------------------------------------------------------------------------------
// The pool.

/// A queued task with its types erased, so that one queue holds tasks of every result type.
trait Job: Send {
    fn start(&self, stats: &mut Stats) -> bool;
    fn cancel(&self, stats: &mut Stats);
    fn run(self: Box<Self>, shared: &Shared);
}

struct Task<T, F> {
    slot: Arc<Slot<T>>,
    f: F,
}

impl<T, F> Job for Task<T, F>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn start(&self, stats: &mut Stats) -> bool {
        self.slot.start(stats)
    }

    fn cancel(&self, stats: &mut Stats) {
        self.slot.cancel(stats);
    }

    fn run(self: Box<Self>, shared: &Shared) {
        let Task { slot, f } = *self;
        // No lock is held while the task runs: it may submit, wait, take as long as it likes.
        let result = catch_unwind(AssertUnwindSafe(f))
            .map_err(|payload| TaskError::Panicked(panic_message(&*payload)));
        let mut pool = lock(&shared.state);
        pool.stats.running -= 1;
        if result.is_ok() {
            pool.stats.completed += 1;
        } else {
            pool.stats.failed += 1;
        }
        let mut state = lock(&slot.state);
        slot.finish(&mut state, result);
    }
}

struct PoolState {
    queue: VecDeque<Box<dyn Job>>,
    open: bool,
    stats: Stats,
}

struct Shared {
    state: Mutex<PoolState>,
    /// Idle workers sleep here: a task was queued, or the pool closed.
    work: Condvar,
}

/// A fixed set of worker threads running submitted tasks in FIFO order. Drop = shutdown(Pending::Run).
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: usize,
    /// Emptied (and joined) by the first `shutdown`; a second one waits on this lock until the
    /// first has joined them all.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn worker(shared: Arc<Shared>) {
    loop {
        let (job, started) = {
            let mut pool = lock(&shared.state);
            loop {
                if let Some(job) = pool.queue.pop_front() {
                    let started = job.start(&mut pool.stats);
                    break (job, started);
                }
                if !pool.open {
                    return;
                }
                pool = shared.work.wait(pool).unwrap_or_else(|e| e.into_inner());
            }
        };
        if started {
            job.run(&shared);
        }
        // A job cancelled while queued is dropped here, outside the lock.
    }
}

impl ThreadPool {
    /// Starts `workers` threads named "{name}-{i}" now. Panics if `workers` is 0.
    pub fn new(name: &str, workers: usize) -> ThreadPool {
        assert!(workers > 0, "a ThreadPool needs at least one worker");
        let shared = Arc::new(Shared {
            state: Mutex::new(PoolState {
                queue: VecDeque::new(),
                open: true,
                stats: Stats::default(),
            }),
            work: Condvar::new(),
        });
        let threads = (0..workers)
            .map(|i| {
                let shared = shared.clone();
                thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || worker(shared))
                    .expect("the pool can start its worker threads")
            })
            .collect();
        ThreadPool {
            shared,
            workers,
            threads: Mutex::new(threads),
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Queues a task; never blocks; may be called from inside a task. A task that panics completes
    /// with Err(TaskError::Panicked(message)) and its worker lives on.
    pub fn submit<T, F>(&self, f: F) -> Result<TaskHandle<T>, ShutDown>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        let task = Box::new(Task {
            slot: slot.clone(),
            f,
        });
        {
            let mut pool = lock(&self.shared.state);
            if !pool.open {
                return Err(ShutDown);
            }
            pool.queue.push_back(task);
            pool.stats.submitted += 1;
            pool.stats.pending += 1;
        }
        self.shared.work.notify_one();
        Ok(TaskHandle {
            slot,
            shared: self.shared.clone(),
        })
    }

    /// Runs `f` on every item on the pool; results in input order.
    pub fn map<I, T, F>(&self, items: I, f: F) -> Result<Vec<Result<T, TaskError>>, ShutDown>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let mut handles = Vec::new();
        for item in items {
            let f = f.clone();
            handles.push(self.submit(move || f(item))?);
        }
        // One handle per item, in input order, whatever order they finish in.
        Ok(handles.into_iter().map(TaskHandle::result).collect())
    }

    /// Refuses new work; queued tasks run (`Pending::Run`) or complete as Cancelled
    /// (`Pending::Cancel`); running tasks finish; then every worker is joined. Idempotent.
    pub fn shutdown(&self, pending: Pending) {
        let dropped: Vec<Box<dyn Job>> = {
            let mut pool = lock(&self.shared.state);
            pool.open = false;
            if pending == Pending::Cancel {
                let pool = &mut *pool;
                let queued: Vec<Box<dyn Job>> = pool.queue.drain(..).collect();
                for job in &queued {
                    job.cancel(&mut pool.stats);
                }
                queued
            } else {
                Vec::new()
            }
        };
        // The tasks' closures are dropped outside the lock (their captures may do anything).
        drop(dropped);
        self.shared.work.notify_all();
        let mut threads = lock(&self.threads);
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
    }

    /// One consistent snapshot: submitted = pending + running + completed + failed + cancelled.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.state).stats
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(Pending::Run);
    }
}

// ---------------------------------------------------------------------------------------------
// Handles.

/// The future of one task. Dropping it does not cancel the task.
pub struct TaskHandle<T> {
    slot: Arc<Slot<T>>,
    shared: Arc<Shared>,
}

impl<T> TaskHandle<T> {
    /// True iff the task had not started (it never will) or was already cancelled.
    pub fn cancel(&self) -> bool {
        let mut pool = lock(&self.shared.state);
        self.slot.cancel(&mut pool.stats)
    }

    pub fn is_done(&self) -> bool {
        is_finished(&lock(&self.slot.state).phase)
    }

    /// Sleeps until the task is done.
    pub fn wait(&self) {
        let mut state = lock(&self.slot.state);
        while !is_finished(&state.phase) {
            state = self
                .slot
                .finished
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// True iff done within `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.slot.state);
        loop {
            if is_finished(&state.phase) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .slot
                .finished
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits, then the task's value or why there is none.
    pub fn result(self) -> Result<T, TaskError> {
        self.wait();
        let mut state = lock(&self.slot.state);
        match std::mem::replace(&mut state.phase, Phase::Taken) {
            Phase::Finished(result) => result,
            _ => unreachable!("a handle's result is taken once, after the task finished"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// as_completed.

/// Where finished tasks announce themselves to one `as_completed` iterator.
struct Listener {
    ready: Mutex<VecDeque<usize>>,
    changed: Condvar,
}

impl Listener {
    fn ready(&self, index: usize) {
        lock(&self.ready).push_back(index);
        self.changed.notify_one();
    }
}

/// Iterator over handles in the order their tasks finish.
pub struct AsCompleted<T> {
    handles: Vec<Option<TaskHandle<T>>>,
    listener: Arc<Listener>,
    left: usize,
}

/// Yields each handle as its task finishes (sleeping in between, never polling).
pub fn as_completed<T>(handles: Vec<TaskHandle<T>>) -> AsCompleted<T> {
    let listener = Arc::new(Listener {
        ready: Mutex::new(VecDeque::new()),
        changed: Condvar::new(),
    });
    for (index, handle) in handles.iter().enumerate() {
        // Look and register under the slot's lock: a task cannot finish in between unheard.
        let mut state = lock(&handle.slot.state);
        if is_finished(&state.phase) {
            listener.ready(index);
        } else {
            state.listeners.push((listener.clone(), index));
        }
    }
    AsCompleted {
        left: handles.len(),
        handles: handles.into_iter().map(Some).collect(),
        listener,
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = TaskHandle<T>;

    fn next(&mut self) -> Option<TaskHandle<T>> {
        if self.left == 0 {
            return None;
        }
        let mut ready = lock(&self.listener.ready);
        let index = loop {
            if let Some(index) = ready.pop_front() {
                break index;
            }
            ready = self
                .listener
                .changed
                .wait(ready)
                .unwrap_or_else(|e| e.into_inner());
        };
        drop(ready);
        self.left -= 1;
        self.handles[index].take()
    }
}
