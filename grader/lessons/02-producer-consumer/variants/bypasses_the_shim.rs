//! bug: uses std::sync and std::thread directly: right at run time, but invisible to the model checker
//! caught-by: uses_sync_shim
pub mod sync;

use std::collections::VecDeque;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

/// Everything the queue knows, behind one lock: the predicates the threads wait on are all
/// computed from it, so checking one and going to sleep on it can happen under the same guard.
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Items put and not yet marked done with `task_done`.
    unfinished: usize,
}

/// A bounded, blocking, closable FIFO queue.
pub struct JobQueue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Consumers wait here for "an item is there, or the queue is closed".
    not_empty: Condvar,
    /// Producers wait here for "there is room, or the queue is closed".
    not_full: Condvar,
    /// `join` waits here for "every item put was marked done".
    all_done: Condvar,
}

/// Returned by `put` on a closed queue: the item comes back to the caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<T> JobQueue<T> {
    /// Panics if capacity is 0.
    pub fn new(capacity: usize) -> JobQueue<T> {
        assert!(capacity > 0, "a JobQueue needs a capacity of at least 1");
        JobQueue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.min(1024)),
                closed: false,
                unfinished: 0,
            }),
            capacity,
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap()
    }

    /// Blocks while the queue is full. Err(Closed(item)) once the queue is closed.
    pub fn put(&self, item: T) -> Result<(), Closed<T>> {
        let mut state = self.lock();
        // A loop, not an `if`: after a wakeup another producer may have taken the free slot first.
        while !state.closed && state.items.len() >= self.capacity {
            state = self.not_full.wait(state).unwrap();
        }
        if state.closed {
            return Err(Closed(item));
        }
        state.items.push_back(item);
        state.unfinished += 1;
        drop(state);
        // Only consumers wait on `not_empty`, and one new item can feed only one of them.
        self.not_empty.notify_one();
        Ok(())
    }

    /// Blocks while the queue is empty and open. Items put before `close` are still delivered;
    /// None once the queue is closed and drained.
    pub fn get(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            // Items first: closing stops new puts, it does not throw away what is queued.
            if let Some(item) = state.items.pop_front() {
                drop(state);
                self.not_full.notify_one();
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self.not_empty.wait(state).unwrap();
        }
    }

    /// No more puts; wakes every blocked producer and consumer. Idempotent.
    pub fn close(&self) {
        self.lock().closed = true;
        // Every waiter must see the change, not just one of them.
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    /// Marks one item returned by `get` as finished. Panics if called more often than items were put.
    pub fn task_done(&self) {
        let mut state = self.lock();
        if state.unfinished == 0 {
            // Release the lock before panicking so that the queue is not poisoned.
            drop(state);
            panic!("task_done called more often than items were put");
        }
        state.unfinished -= 1;
        if state.unfinished == 0 {
            drop(state);
            self.all_done.notify_all();
        }
    }

    /// Blocks until every item ever put has been marked done.
    pub fn join(&self) {
        let mut state = self.lock();
        while state.unfinished > 0 {
            state = self.all_done.wait(state).unwrap();
        }
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Closes the queue if the consumer holding it panics: without it, producers could wait forever
/// for room that no consumer will make.
struct CloseOnPanic<'a, T>(&'a JobQueue<T>);

impl<T> Drop for CloseOnPanic<'_, T> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.close();
        }
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
    assert!(consumers > 0, "run needs at least one consumer");
    let queue = Arc::new(JobQueue::new(capacity));
    let handle = Arc::new(handle);

    let workers: Vec<JoinHandle<Vec<R>>> = (0..consumers)
        .map(|_| {
            let (queue, handle) = (Arc::clone(&queue), Arc::clone(&handle));
            thread::spawn(move || {
                let _stop = CloseOnPanic(&queue);
                let mut results = Vec::new();
                // `get` returns None only once the queue is closed and drained: no sentinels needed,
                // however many consumers there are.
                while let Some(job) = queue.get() {
                    results.push(handle(job));
                    queue.task_done();
                }
                results
            })
        })
        .collect();

    let feeders: Vec<JoinHandle<()>> = producers
        .into_iter()
        .map(|jobs| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                for job in jobs {
                    if queue.put(job).is_err() {
                        // Closed early: a consumer panicked. Stop feeding; `run` passes the panic on.
                        break;
                    }
                }
            })
        })
        .collect();

    // Shutdown in order: every job is in the queue once the producers are joined; closing then
    // lets the consumers drain what is left and stop.
    let mut producer_panic = None;
    for feeder in feeders {
        if let Err(payload) = feeder.join() {
            producer_panic.get_or_insert(payload);
        }
    }
    queue.close();
    let mut results = Vec::new();
    let mut consumer_panic = None;
    for worker in workers {
        match worker.join() {
            Ok(mine) => results.extend(mine),
            Err(payload) => {
                consumer_panic.get_or_insert(payload);
            }
        }
    }
    // Every thread is joined; now a panic in one of them can be passed on to the caller.
    if let Some(payload) = producer_panic.or(consumer_panic) {
        std::panic::resume_unwind(payload);
    }
    results
}
