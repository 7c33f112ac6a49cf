//! Lesson 06: signalling between threads.
//!
//! Build four tools threads use to tell each other that something happened: an `Event` (a flag
//! to wait for), a `Semaphore` (a number of permits, optionally bounded), a reusable `Barrier`, and
//! `Periodic`, a ticker thread that stops at once when asked. Each needs only one `Mutex` (around a
//! small struct of state you design) and one `Condvar`. Read the lesson's README.md first, then run
//! `grader check 06`.
//!
//! Reach every primitive through `crate::sync` (for example
//! `use crate::sync::{Arc, Condvar, Mutex};` and `crate::sync::thread::spawn`), never `std::sync`
//! or `std::thread` directly: the model checker can only see what goes through the shim.
//! `std::time::{Duration, Instant}` are fine.
//!
//! The structs below have no fields yet: add the ones you need (they are private).

#![allow(unused_variables, dead_code)]

pub mod sync;

use std::time::Duration;

/// A flag threads can wait for (Python's threading.Event).
pub struct Event {}

impl Event {
    pub fn new() -> Event {
        todo!("a clear Event with no waiters")
    }

    /// Sets the flag and wakes every waiter. Idempotent.
    pub fn set(&self) {
        todo!("raise the flag, count the event (the generation), wake every waiter")
    }

    pub fn clear(&self) {
        todo!("lower the flag")
    }

    pub fn is_set(&self) -> bool {
        todo!("whether the flag is up")
    }

    /// Returns once the flag is set. A `set()` that happens after `wait` began releases it even if a
    /// `clear()` follows before the waiter runs again (a pulse is never lost).
    pub fn wait(&self) {
        todo!("return at once if the flag is up; else sleep until a set() has happened")
    }

    /// Like `wait`, at most `timeout`. True iff the flag was set before or during the call.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        todo!("like wait, giving up at the deadline; true iff the flag was up or a set() happened")
    }

    /// Threads blocked in `wait`/`wait_timeout` right now (counted under the lock).
    pub fn waiting(&self) -> usize {
        todo!("how many threads are inside wait or wait_timeout")
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
pub struct Semaphore {}

/// One permit; dropping it (also while unwinding) gives it back and wakes one waiter.
#[must_use]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    pub fn new(permits: usize) -> Semaphore {
        todo!("a semaphore with `permits` free permits, no upper bound on release")
    }

    /// Releases may never raise the count above `permits`.
    pub fn bounded(permits: usize) -> Semaphore {
        todo!("like new, but remember `permits` as the bound for release")
    }

    /// Sleeps while no permit is free.
    pub fn acquire(&self) -> Permit<'_> {
        todo!("wait while no permit is free, then take one, under one lock section")
    }

    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        todo!("take a permit if one is free, else None at once")
    }

    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        todo!("like acquire, giving up (None) at the deadline")
    }

    /// Adds one permit (for permits given up with `Permit::forget`). A bounded semaphore that is
    /// full returns Err(OverRelease) and changes nothing.
    pub fn release(&self) -> Result<(), OverRelease> {
        todo!("add a permit and wake one waiter; refuse if bounded and full")
    }

    pub fn available(&self) -> usize {
        todo!("the number of free permits")
    }
}

impl Permit<'_> {
    /// Keeps the permit taken until someone calls `release`.
    pub fn forget(self) {
        todo!("give the permit up without giving it back (std::mem::forget)")
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        todo!("give the permit back and wake one waiter")
    }
}

/// A reusable barrier (Python's threading.Barrier without abort).
pub struct Barrier {}

impl Barrier {
    /// Panics if `parties` is 0.
    pub fn new(parties: usize) -> Barrier {
        todo!("a barrier for `parties` threads; panic on 0")
    }

    /// Blocks until `parties` threads have called `wait` in this round, then releases them all.
    /// Returns the caller's arrival index in its round (0 ..= parties-1); the last to arrive does not
    /// block. Usable for any number of rounds.
    pub fn wait(&self) -> usize {
        todo!("take an arrival index; the last arrival starts the next round and wakes everyone")
    }

    pub fn parties(&self) -> usize {
        todo!("the number of parties")
    }

    /// Threads blocked in the current round.
    pub fn n_waiting(&self) -> usize {
        todo!("how many have arrived in the current round")
    }
}

/// A background thread calling `tick` every `interval` until stopped. Dropping it stops it.
pub struct Periodic {}

impl Periodic {
    /// The first tick comes one interval after start.
    pub fn start<F: FnMut() + Send + 'static>(interval: Duration, tick: F) -> Periodic {
        todo!("spawn the ticker thread: wait on a condvar until the next tick is due or stop")
    }

    /// False once stopped, or after a tick panicked (the thread then ends).
    pub fn is_running(&self) -> bool {
        todo!("whether the ticker is still running")
    }

    /// Wakes the thread at once (it must not sleep out the interval), lets a running tick finish,
    /// joins it. Ok(number of ticks run) or Err(the panic message of a tick that panicked).
    pub fn stop(self) -> Result<u64, String> {
        todo!("set the stop flag, notify, join the thread and return what it returned")
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        todo!("stop the ticker like stop does, unless it was stopped already")
    }
}
