//! bug: run collects one result per job and returns without closing the queue or joining the consumers: they stay blocked in get forever
//! caught-by: run_leaves_no_thread_behind
pub mod sync;

use std::collections::VecDeque;

use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};

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
    let total: usize = producers.iter().map(Vec::len).sum();
    let queue = Arc::new(JobQueue::new(capacity));
    let results = Arc::new(JobQueue::new(total.max(1)));
    let handle = Arc::new(handle);
    for _ in 0..consumers {
        let (queue, results, handle) = (queue.clone(), results.clone(), handle.clone());
        thread::spawn(move || {
            while let Some(job) = queue.get() {
                let _ = results.put(handle(job));
                queue.task_done();
            }
        });
    }
    let feeders: Vec<JoinHandle<()>> = producers
        .into_iter()
        .map(|jobs| {
            let queue = queue.clone();
            thread::spawn(move || {
                for job in jobs {
                    let _ = queue.put(job);
                }
            })
        })
        .collect();
    for feeder in feeders {
        feeder.join().unwrap();
    }
    // Collects one result per job, but never closes the queue: the consumers stay blocked in get.
    (0..total).map(|_| results.get().unwrap()).collect()
}
