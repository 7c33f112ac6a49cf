//! Lesson 06: signalling between threads, built from one Mutex and one Condvar each.
//!
//! An `Event` (a flag threads wait for), a counting `Semaphore` with a bounded mode, a reusable
//! `Barrier`, and `Periodic`, a ticker thread that stops at once when asked. They share one idea: a
//! waiter waits for something to *happen*, so each keeps a count of what has happened (a
//! generation) next to the state, and a waiter compares counts instead of hoping to see the state
//! while it lasts.

pub mod sync;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::sync::{thread, Arc, Condvar, Mutex, MutexGuard};

/// Takes the lock. None of this crate's critical sections can panic, so a poisoned lock still
/// holds consistent state: carry on with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sleeps on `cv` until notified (or a spurious wakeup).
fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sleeps on `cv` until notified or until `deadline`; false if the deadline has already passed.
fn wait_until<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Instant,
) -> (MutexGuard<'a, T>, bool) {
    let now = Instant::now();
    if now >= deadline {
        return (guard, false);
    }
    let (guard, _) = cv
        .wait_timeout(guard, deadline - now)
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (guard, true)
}

struct EventState {
    set: bool,
    /// How many times the flag went from clear to set: a waiter that saw it change was pulsed.
    generation: u64,
    waiting: usize,
}

/// A flag threads can wait for (Python's threading.Event).
pub struct Event {
    state: Mutex<EventState>,
    changed: Condvar,
}

impl Event {
    pub fn new() -> Event {
        Event {
            state: Mutex::new(EventState {
                set: false,
                generation: 0,
                waiting: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Sets the flag and wakes every waiter. Idempotent.
    pub fn set(&self) {
        let mut st = lock(&self.state);
        if !st.set {
            st.set = true;
            st.generation += 1;
        }
        self.changed.notify_all();
    }

    pub fn clear(&self) {
        lock(&self.state).set = false;
    }

    pub fn is_set(&self) -> bool {
        lock(&self.state).set
    }

    /// Returns once the flag is set. A `set()` that happens after `wait` began releases it even if a
    /// `clear()` follows before the waiter runs again (a pulse is never lost).
    pub fn wait(&self) {
        let mut st = lock(&self.state);
        if st.set {
            return;
        }
        let seen = st.generation;
        st.waiting += 1;
        while st.generation == seen {
            st = wait(&self.changed, st);
        }
        st.waiting -= 1;
    }

    /// Like `wait`, at most `timeout`. True iff the flag was set before or during the call.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.state);
        if st.set {
            return true;
        }
        let seen = st.generation;
        st.waiting += 1;
        while st.generation == seen {
            let (guard, in_time) = wait_until(&self.changed, st, deadline);
            st = guard;
            if !in_time {
                break;
            }
        }
        st.waiting -= 1;
        st.generation != seen
    }

    /// Threads blocked in `wait`/`wait_timeout` right now (counted under the lock).
    pub fn waiting(&self) -> usize {
        lock(&self.state).waiting
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

/// Returned by `release` on a bounded semaphore that is already full.
#[derive(Debug, PartialEq, Eq)]
pub struct OverRelease;

/// A counting semaphore (Python's Semaphore; `bounded` is BoundedSemaphore).
pub struct Semaphore {
    available: Mutex<usize>,
    freed: Condvar,
    /// The most permits a bounded semaphore may hold; None for an unbounded one.
    bound: Option<usize>,
}

/// One permit; dropping it (also while unwinding) gives it back and wakes one waiter.
#[must_use]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            available: Mutex::new(permits),
            freed: Condvar::new(),
            bound: None,
        }
    }

    /// Releases may never raise the count above `permits`.
    pub fn bounded(permits: usize) -> Semaphore {
        Semaphore {
            bound: Some(permits),
            ..Semaphore::new(permits)
        }
    }

    /// Sleeps while no permit is free.
    pub fn acquire(&self) -> Permit<'_> {
        let mut available = lock(&self.available);
        while *available == 0 {
            available = wait(&self.freed, available);
        }
        *available -= 1;
        Permit { semaphore: self }
    }

    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut available = lock(&self.available);
        if *available == 0 {
            return None;
        }
        *available -= 1;
        Some(Permit { semaphore: self })
    }

    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        let deadline = Instant::now() + timeout;
        let mut available = lock(&self.available);
        // Look at the count before the clock: a waiter woken for a permit just as its time ran out
        // takes the permit rather than leaving it (and the wakeup) to nobody.
        while *available == 0 {
            let (guard, in_time) = wait_until(&self.freed, available, deadline);
            available = guard;
            if !in_time && *available == 0 {
                return None;
            }
        }
        *available -= 1;
        Some(Permit { semaphore: self })
    }

    /// Adds one permit (for permits given up with `Permit::forget`). A bounded semaphore that is
    /// full returns Err(OverRelease) and changes nothing.
    pub fn release(&self) -> Result<(), OverRelease> {
        let mut available = lock(&self.available);
        if self.bound.is_some_and(|bound| *available >= bound) {
            return Err(OverRelease);
        }
        *available += 1;
        self.freed.notify_one();
        Ok(())
    }

    pub fn available(&self) -> usize {
        *lock(&self.available)
    }

    /// A permit coming back from a `Permit` (never refused: it was taken from this count).
    fn give_back(&self) {
        let mut available = lock(&self.available);
        *available += 1;
        if let Some(bound) = self.bound {
            *available = (*available).min(bound);
        }
        self.freed.notify_one();
    }
}

impl Permit<'_> {
    /// Keeps the permit taken until someone calls `release`.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.give_back();
    }
}

struct BarrierState {
    /// Arrivals in the current round.
    arrived: usize,
    /// Rounds completed: a waiter is released when this moves past the round it arrived in.
    generation: u64,
}

/// A reusable barrier (Python's threading.Barrier without abort).
pub struct Barrier {
    parties: usize,
    state: Mutex<BarrierState>,
    released: Condvar,
}

impl Barrier {
    /// Panics if `parties` is 0.
    pub fn new(parties: usize) -> Barrier {
        assert!(parties > 0, "a Barrier needs at least one party");
        Barrier {
            parties,
            state: Mutex::new(BarrierState {
                arrived: 0,
                generation: 0,
            }),
            released: Condvar::new(),
        }
    }

    /// Blocks until `parties` threads have called `wait` in this round, then releases them all.
    /// Returns the caller's arrival index in its round (0 ..= parties-1); the last to arrive does not
    /// block. Usable for any number of rounds.
    pub fn wait(&self) -> usize {
        let mut st = lock(&self.state);
        let index = st.arrived;
        st.arrived += 1;
        if st.arrived == self.parties {
            st.arrived = 0;
            st.generation += 1;
            self.released.notify_all();
            return index;
        }
        let round = st.generation;
        while st.generation == round {
            st = wait(&self.released, st);
        }
        index
    }

    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Threads blocked in the current round.
    pub fn n_waiting(&self) -> usize {
        lock(&self.state).arrived
    }
}

struct TickerState {
    stop: bool,
    running: bool,
}

struct Ticker {
    state: Mutex<TickerState>,
    wake: Condvar,
}

/// A background thread calling `tick` every `interval` until stopped. Dropping it stops it.
pub struct Periodic {
    ticker: Arc<Ticker>,
    thread: Option<thread::JoinHandle<Result<u64, String>>>,
}

/// The message a panic carried: `panic!("literal")` gives a `&str`, `panic!("{x}")` a `String`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a tick panicked".to_string()
    }
}

impl Periodic {
    /// The first tick comes one interval after start.
    pub fn start<F: FnMut() + Send + 'static>(interval: Duration, mut tick: F) -> Periodic {
        let ticker = Arc::new(Ticker {
            state: Mutex::new(TickerState {
                stop: false,
                running: true,
            }),
            wake: Condvar::new(),
        });
        let shared = ticker.clone();
        let thread = thread::spawn(move || {
            let mut ticks = 0u64;
            let mut next = Instant::now() + interval;
            loop {
                let mut st = lock(&shared.state);
                while !st.stop {
                    let (guard, in_time) = wait_until(&shared.wake, st, next);
                    st = guard;
                    if !in_time {
                        break;
                    }
                }
                if st.stop {
                    return Ok(ticks);
                }
                drop(st);
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(&mut tick)) {
                    lock(&shared.state).running = false;
                    return Err(panic_message(&*payload));
                }
                ticks += 1;
                // Keep the cadence: the next tick is due one interval after the last was due, and
                // ticks missed while a slow tick ran are skipped, not bunched up.
                next += interval;
                let now = Instant::now();
                while next <= now {
                    next += interval;
                }
            }
        });
        Periodic {
            ticker,
            thread: Some(thread),
        }
    }

    /// False once stopped, or after a tick panicked (the thread then ends).
    pub fn is_running(&self) -> bool {
        lock(&self.ticker.state).running
    }

    /// Wakes the thread at once (it must not sleep out the interval), lets a running tick finish,
    /// joins it. Ok(number of ticks run) or Err(the panic message of a tick that panicked).
    pub fn stop(mut self) -> Result<u64, String> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<u64, String> {
        {
            let mut st = lock(&self.ticker.state);
            st.stop = true;
            st.running = false;
            self.ticker.wake.notify_all();
        }
        match self.thread.take() {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|payload| Err(panic_message(&*payload))),
            None => Ok(0),
        }
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shut_down();
        }
    }
}
