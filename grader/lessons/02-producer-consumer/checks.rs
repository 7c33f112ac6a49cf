//! Lesson 02 checks: a bounded blocking queue (put/get/close/task_done/join) and `run`.
//!
//! Compiled by the grader into a harness together with the crate under test (`producer_consumer`).
//! The hints they point to are numbered as in curriculum.toml: 1 waiting on a Condvar, 2 the loop
//! around the wait, 3 who to notify, 4 close and drain, 5 task_done/join and run's shutdown.

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::fifo_len_capacity),
    check!(unit, std_checks::put_after_close_hands_item_back),
    check!(unit, std_checks::get_drains_then_none),
    check!(unit, std_checks::task_done_too_often_panics),
    check!(unit, std_checks::join_on_fresh_queue_returns),
    check!(stress, std_checks::queue_delivers_each_item_once),
    check!(stress, std_checks::run_handles_each_job_once),
    check!(stress, std_checks::close_wakes_everyone),
    check!(stress, std_checks::last_task_done_wakes_every_joiner),
    check!(stress, std_checks::run_passes_on_a_panic_from_handle),
    check!(timing, std_checks::put_blocks_while_full, measures = wall),
    check!(timing, std_checks::get_blocks_while_empty, measures = wall),
    check!(
        timing,
        std_checks::join_waits_for_last_task_done,
        measures = wall
    ),
    check!(
        timing,
        std_checks::blocked_threads_dont_spin,
        measures = cpu
    ),
    check!(
        timing,
        std_checks::run_leaves_no_thread_behind,
        measures = wall
    ),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::one_producer_two_consumers),
    check!(model, model_checks::close_wakes_waiting_consumers),
    check!(model, model_checks::close_wakes_blocked_producer),
    check!(model, model_checks::racing_task_done_panics_once),
    check!(model, model_checks::racing_puts_respect_capacity),
];

/// A consumer got None although the queue was still open: it gave up on work that was coming.
fn early_none(observed: String) -> Finding {
    Finding::new("get returns None only once the queue is closed and drained")
        .observed(observed)
        .why("A consumer that wakes up is not promised anything: another consumer may have taken the item first (a stolen wakeup), or the wait may have ended for no reason at all (a spurious wakeup). Code that checks the queue once with `if`, waits, and then assumes the item is there finds it empty and gives up.")
        .fix("Wait in a loop on the predicate: `while state.items.is_empty() && !state.closed { state = cv.wait(state).unwrap(); }`, then look again at what is really there.")
        .hint(2)
}

/// Items lost or delivered twice.
fn delivery(observed: String) -> Finding {
    Finding::new("every item put is delivered by get exactly once")
        .observed(observed)
        .why("Each item must leave the queue through exactly one `get`. Items go missing when `get` gives up on a queue that still holds some (for example because it looks at `closed` before looking at the items); they are duplicated when they are read without being removed under the lock.")
        .fix("Pop the item with `pop_front` under the same guard that checked for it, and look at the items before you look at `closed`: a closed queue still hands out what it holds.")
        .hint(4)
}

/// Something stays blocked: the finding for a missing or misdirected notify.
#[cfg(not(loom))] // only the std checks block on real threads
fn stuck(property: &str, observed: String, hint: u32) -> Finding {
    Finding::new(property)
        .observed(observed)
        .why("A thread sleeping in `Condvar::wait` wakes only when someone notifies that same Condvar after changing the state it waits for. If the notify is missing, goes to the other Condvar, or wakes one thread where several need to re-check (notify_one on close), the sleeper never learns that things changed: a lost wakeup.")
        .fix("After every change a waiter could be waiting for, notify the Condvar that waiter sleeps on: consumers after a put, producers after a get, everybody (notify_all on both) after close. With a single Condvar for everything, use notify_all.")
        .hint(hint)
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use producer_consumer::{run, Closed, JobQueue};
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};

    /// How long a correct queue gets to wake a thread once it may go on. Wakeups take microseconds;
    /// the rest is room for a machine that is busy with other work.
    const PROMPT: Duration = Duration::from_secs(5);
    /// How long a thread that must block is watched before we conclude it really blocks.
    const WATCH: Duration = Duration::from_millis(300);

    /// Formats a whole-second limit: "5 s".
    fn secs(d: Duration) -> String {
        format!("{} s", d.as_secs())
    }

    /// "1 thread", "5 threads".
    fn threads(n: usize) -> String {
        format!("{n} thread{}", if n == 1 { "" } else { "s" })
    }

    /// Runs `f`, expecting a panic. A `todo!()` reached inside is not the panic we want: it is
    /// passed on, so that the runner reports "not implemented yet".
    fn panics(f: impl FnOnce()) -> bool {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => false,
            Err(payload) => {
                pass_on_todo(payload);
                true
            }
        }
    }

    /// Waits until every handle finished or `limit` passed; returns how many are still running.
    /// Meanwhile the check's thread only waits (`observing`): if every thread it waits for is
    /// blocked for good, the harness ends the check at once as a deadlock, saying where each is.
    fn wait_finished<T>(handles: &[JoinHandle<T>], limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        observing(|| loop {
            let running = handles.iter().filter(|h| !h.is_finished()).count();
            if running == 0 || Instant::now() >= deadline {
                return running;
            }
            thread::sleep(Duration::from_millis(2));
        })
    }

    /// Joins every handle; a panic in one of them is passed on (it is the code under test's).
    fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
        observing(|| {
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| panic::resume_unwind(p)))
                .collect()
        })
    }

    /// Spins (politely) until `counter` reaches `n`: the helper threads are about to call in.
    fn wait_count(counter: &AtomicUsize, n: usize) {
        while counter.load(SeqCst) < n {
            thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn fifo_len_capacity() -> Outcome {
        let q = JobQueue::new(4);
        ensure(q.capacity() == 4 && q.len() == 0 && q.is_empty(), || {
            Finding::new("a new queue is empty and knows its capacity").observed(format!(
                "JobQueue::new(4): capacity() = {}, len() = {}, is_empty() = {}",
                q.capacity(),
                q.len(),
                q.is_empty()
            ))
        })?;
        for i in 1..=4 {
            q.put(i).unwrap();
        }
        ensure(q.len() == 4 && !q.is_empty(), || {
            Finding::new("len counts the queued items").observed(format!(
                "after 4 puts: len() = {}, is_empty() = {}",
                q.len(),
                q.is_empty()
            ))
        })?;
        let mut got: Vec<i32> = (0..2).map(|_| q.get().unwrap()).collect();
        q.put(5).unwrap();
        q.put(6).unwrap();
        got.extend((0..4).map(|_| q.get().unwrap()));
        ensure(got == [1, 2, 3, 4, 5, 6], || {
            Finding::new("items come out in the order they were put (FIFO)")
                .observed(format!("put 1, 2, 3, 4, got 2, put 5, 6, got 4: the gets returned {got:?}, not [1, 2, 3, 4, 5, 6]"))
                .fix("Push at the back and pop at the front: `VecDeque::push_back` and `pop_front`.")
        })?;
        ensure(q.is_empty() && q.len() == 0, || {
            Finding::new("len counts the queued items")
                .observed(format!("after as many gets as puts: len() = {}", q.len()))
        })?;
        let one = JobQueue::new(1);
        one.put("only").unwrap();
        ensure(one.len() == 1 && one.capacity() == 1, || {
            Finding::new("a queue of capacity 1 holds one item").observed(format!(
                "JobQueue::new(1) after one put: len() = {}, capacity() = {}",
                one.len(),
                one.capacity()
            ))
        })?;
        ensure(panics(|| drop(JobQueue::<u8>::new(0))), || {
            Finding::new("JobQueue::new(0) panics")
                .observed("JobQueue::new(0) returned a queue")
                .why("A queue with room for nothing would block every put forever.")
                .fix("`assert!(capacity > 0, \"...\")` at the top of `new`.")
        })
    }

    pub fn put_after_close_hands_item_back() -> Outcome {
        let q = JobQueue::new(3);
        q.put(String::from("early")).unwrap();
        q.close();
        let back = q.put(String::from("late"));
        ensure(back == Err(Closed(String::from("late"))), || {
            Finding::new("put on a closed queue hands the item back")
                .observed(format!("after close(), put(\"late\") returned {back:?}, not Err(Closed(\"late\"))"))
                .why("Once the queue is closed no consumer is promised to come for new items; accepting one would lose it silently.")
                .fix("In `put`, after the wait loop, check `closed` first and return `Err(Closed(item))`.")
                .hint(4)
        })?;
        q.close();
        let again = q.put(String::from("later"));
        ensure(
            again == Err(Closed(String::from("later"))) && q.len() == 1,
            || {
                Finding::new("close is idempotent").observed(format!(
                "after a second close(), put returned {again:?} and len() = {} (expected Err(Closed(..)) and 1)",
                q.len()
            ))
            },
        )?;
        // Closing a full queue must not block, and still refuses puts.
        let full = JobQueue::new(1);
        full.put(1).unwrap();
        full.close();
        let r = full.put(2);
        ensure(r == Err(Closed(2)), || {
            Finding::new("put on a closed queue hands the item back, even when the queue is full")
                .observed(format!("on a full, closed queue of capacity 1, put(2) returned {r:?}"))
                .fix("Wait only while the queue is full *and open*; once it is closed, hand the item back.")
                .hint(4)
        })
    }

    pub fn get_drains_then_none() -> Outcome {
        let q = JobQueue::new(4);
        for i in [10, 20, 30] {
            q.put(i).unwrap();
        }
        q.close();
        let got: Vec<Option<i32>> = (0..5).map(|_| q.get()).collect();
        ensure(got == [Some(10), Some(20), Some(30), None, None], || {
            delivery(format!(
                "put 10, 20, 30, close(), then 5 gets returned {got:?}, not [Some(10), Some(20), Some(30), None, None]"
            ))
        })?;
        let empty = JobQueue::<u8>::new(2);
        empty.close();
        let r = empty.get();
        ensure(r.is_none(), || {
            Finding::new("get on a closed, empty queue returns None at once")
                .observed(format!("get() returned {r:?}"))
        })
    }

    pub fn task_done_too_often_panics() -> Outcome {
        // Every call that must not panic comes before the first one that must: the runner blames
        // the first panic it saw for an unexpected one, and that must not be an expected panic.
        let q = JobQueue::new(2);
        q.put('a').unwrap();
        q.put('b').unwrap();
        q.get();
        q.get();
        let first_two = panics(|| {
            q.task_done();
            q.task_done();
        });
        ensure(!first_two, || {
            Finding::new("task_done may be called once per item put")
                .observed("after 2 puts and 2 gets, calling task_done() twice panicked")
                .hint(5)
        })?;
        ensure(panics(|| q.task_done()), || {
            Finding::new("task_done panics when called more often than items were put")
                .observed("after 2 puts, a third task_done() returned normally")
                .why("An extra task_done is always a bug in the caller (it marks work finished that was never queued), and it would make join return while real work is still running.")
                .fix("Keep a count of unfinished items: put adds one, task_done subtracts one and panics (assert!) when the count is already 0.")
                .hint(5)
        })?;
        let fresh = JobQueue::<u8>::new(2);
        ensure(panics(|| fresh.task_done()), || {
            Finding::new("task_done panics when called more often than items were put")
                .observed("task_done() on a fresh queue returned normally")
                .fix("Panic when task_done finds the unfinished count already at 0.")
                .hint(5)
        })
    }

    pub fn join_on_fresh_queue_returns() -> Outcome {
        let q = Arc::new(JobQueue::<u32>::new(2));
        let waiter = {
            let q = q.clone();
            thread::spawn(move || q.join())
        };
        let running = wait_finished(std::slice::from_ref(&waiter), PROMPT);
        ensure(running == 0, || {
            Finding::new("join returns at once when nothing was ever put")
                .observed(format!("join() on a fresh queue had not returned after {}", secs(PROMPT)))
                .why("join waits for the number of unfinished items to reach 0; on a fresh queue it already is 0.")
                .fix("In join, `while state.unfinished > 0 { state = cv.wait(state).unwrap(); }`: a loop that does not run when there is nothing to wait for.")
                .hint(5)
        })?;
        join_all(vec![waiter]);
        // One full round: put, get, task_done, join.
        q.put(1).unwrap();
        q.get();
        q.task_done();
        let waiter = {
            let q = q.clone();
            thread::spawn(move || q.join())
        };
        let running = wait_finished(std::slice::from_ref(&waiter), PROMPT);
        ensure(running == 0, || {
            Finding::new("join returns once every item put was marked done")
                .observed(format!(
                    "after put, get and task_done, join() had not returned after {}",
                    secs(PROMPT)
                ))
                .hint(5)
        })?;
        join_all(vec![waiter]);
        Ok(())
    }

    /// 3 producer threads, 5 consumer threads on one queue; capacities from 1 up.
    pub fn queue_delivers_each_item_once() -> Outcome {
        const PRODUCERS: usize = 3;
        const CONSUMERS: usize = 5;
        const EACH: usize = 4_000;
        const CAPACITIES: [usize; 6] = [1, 2, 3, 5, 16, 256];
        for (round, &capacity) in CAPACITIES.iter().chain(CAPACITIES.iter()).enumerate() {
            let round = round + 1;
            let rounds = 2 * CAPACITIES.len();
            let q = Arc::new(JobQueue::new(capacity));
            let closing = Arc::new(AtomicBool::new(false));
            let early_nones = Arc::new(AtomicUsize::new(0));
            let overfull = Arc::new(AtomicUsize::new(0));
            let consumers: Vec<JoinHandle<Vec<usize>>> = (0..CONSUMERS)
                .map(|_| {
                    let (q, closing, early, overfull) = (
                        q.clone(),
                        closing.clone(),
                        early_nones.clone(),
                        overfull.clone(),
                    );
                    thread::spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            match q.get() {
                                Some(item) => {
                                    mine.push(item);
                                    overfull.fetch_max(q.len(), SeqCst);
                                }
                                None if !closing.load(SeqCst) => {
                                    // Gave up early; keep consuming so the round can finish.
                                    early.fetch_add(1, SeqCst);
                                    thread::yield_now();
                                }
                                None => return mine,
                            }
                        }
                    })
                })
                .collect();
            let producers: Vec<JoinHandle<()>> = (0..PRODUCERS)
                .map(|p| {
                    let q = q.clone();
                    thread::spawn(move || {
                        for i in 0..EACH {
                            if let Err(Closed(item)) = q.put(p * EACH + i) {
                                Finding::new("put succeeds while the queue is open")
                                    .observed(format!("put({item}) returned Err(Closed(..)) before close() was called"))
                                    .raise();
                            }
                        }
                    })
                })
                .collect();
            let limit = Duration::from_secs(20);
            let running = wait_finished(&producers, limit);
            if running > 0 {
                return Err(stuck(
                    "producers make progress while consumers take items",
                    format!(
                        "round {round} of {rounds} (capacity {capacity}): {running} of {PRODUCERS} producers were still blocked in put after {}, with {} items queued",
                        secs(limit),
                        q.len()
                    ),
                    3,
                ));
            }
            join_all(producers);
            closing.store(true, SeqCst);
            q.close();
            let running = wait_finished(&consumers, limit);
            if running > 0 {
                return Err(stuck(
                    "close wakes every waiting consumer",
                    format!(
                        "round {round} of {rounds} (capacity {capacity}): {running} of {CONSUMERS} consumers were still blocked in get {} after close()",
                        secs(limit)
                    ),
                    3,
                ));
            }
            let mut all: Vec<usize> = join_all(consumers).into_iter().flatten().collect();
            let early = early_nones.load(SeqCst);
            if early > 0 {
                return Err(early_none(format!(
                    "round {round} of {rounds} (capacity {capacity}, {PRODUCERS} producers, {CONSUMERS} consumers): get() returned None {early} times while the queue was still open"
                )));
            }
            let total = PRODUCERS * EACH;
            all.sort_unstable();
            let got = all.len();
            all.dedup();
            let duplicates = got - all.len();
            if got != total || duplicates > 0 {
                return Err(delivery(format!(
                    "round {round} (capacity {capacity}): {PRODUCERS} producers x {} items, {CONSUMERS} consumers: the consumers got {} items, {} distinct ({} duplicates, {} never delivered)",
                    grouped(EACH as u64),
                    grouped(got as u64),
                    grouped(all.len() as u64),
                    grouped(duplicates as u64),
                    grouped((total - all.len()) as u64)
                )));
            }
            let most = overfull.load(SeqCst);
            if most > capacity {
                return Err(Finding::new("the queue never holds more than its capacity")
                    .observed(format!("round {round}: a queue of capacity {capacity} held {most} items"))
                    .why("put must wait while the queue is full; that wait is the backpressure that keeps fast producers from running away from slow consumers.")
                    .fix("In put: `while state.items.len() >= capacity && !state.closed { state = not_full.wait(state).unwrap(); }`.")
                    .hint(2));
            }
        }
        Ok(())
    }

    pub fn run_handles_each_job_once() -> Outcome {
        const EACH: u64 = 5_000;
        for (round, capacity) in [1usize, 2, 7, 64].into_iter().enumerate() {
            let round = round + 1;
            let calls = Arc::new(AtomicUsize::new(0));
            let jobs: Vec<Vec<u64>> = (0..3u64)
                .map(|p| (0..EACH).map(|i| p * EACH + i).collect())
                .collect();
            let worker = {
                let calls = calls.clone();
                thread::spawn(move || {
                    run(jobs, 5, capacity, move |job: u64| {
                        calls.fetch_add(1, SeqCst);
                        job * 2
                    })
                })
            };
            let limit = Duration::from_secs(20);
            if wait_finished(std::slice::from_ref(&worker), limit) > 0 {
                return Err(stuck(
                    "run returns once every job is handled",
                    format!(
                        "round {round}: run(3 producers x {} jobs, 5 consumers, capacity {capacity}) had not returned after {}; handle was called {} times",
                        grouped(EACH),
                        secs(limit),
                        grouped(calls.load(SeqCst) as u64)
                    ),
                    5,
                ));
            }
            let mut results = join_all(vec![worker]).pop().unwrap();
            let total = 3 * EACH as usize;
            let n_calls = calls.load(SeqCst);
            results.sort_unstable();
            let expected: Vec<u64> = (0..3 * EACH).map(|j| j * 2).collect();
            if results != expected || n_calls != total {
                let got = results.len();
                results.dedup();
                return Err(Finding::new("run calls handle once per job and returns every result")
                    .observed(format!(
                        "round {round}: run(3 producers x {} jobs, 5 consumers, capacity {capacity}) called handle {} times and returned {} results ({} distinct), expected {} of each",
                        grouped(EACH),
                        grouped(n_calls as u64),
                        grouped(got as u64),
                        grouped(results.len() as u64),
                        grouped(total as u64)
                    ))
                    .why("Every job a producer puts must reach exactly one consumer, and every result must be collected before run returns: join the producers, close the queue, then join the consumers and gather what each one returns.")
                    .hint(5));
            }
        }
        Ok(())
    }

    pub fn close_wakes_everyone() -> Outcome {
        const ROUNDS: usize = 20;
        const CONSUMERS: usize = 5;
        const PRODUCERS: usize = 3;
        for round in 1..=ROUNDS {
            // Consumers wait on an empty queue, producers on a full one.
            let empty = Arc::new(JobQueue::<usize>::new(1 + round % 3));
            let full = Arc::new(JobQueue::<usize>::new(1 + round % 2));
            for i in 0..full.capacity() {
                full.put(i).unwrap();
            }
            let started = Arc::new(AtomicUsize::new(0));
            let consumers: Vec<JoinHandle<Option<usize>>> = (0..CONSUMERS)
                .map(|_| {
                    let (q, started) = (empty.clone(), started.clone());
                    thread::spawn(move || {
                        started.fetch_add(1, SeqCst);
                        q.get()
                    })
                })
                .collect();
            let producers: Vec<JoinHandle<Result<(), Closed<usize>>>> = (0..PRODUCERS)
                .map(|p| {
                    let (q, started) = (full.clone(), started.clone());
                    thread::spawn(move || {
                        started.fetch_add(1, SeqCst);
                        q.put(100 + p)
                    })
                })
                .collect();
            wait_count(&started, CONSUMERS + PRODUCERS);
            // Give them time to reach their wait (most rounds), or close right away (some rounds).
            if round % 4 != 0 {
                thread::sleep(Duration::from_millis(20));
            }
            empty.close();
            full.close();
            let limit = Duration::from_secs(10);
            let consumers_left = wait_finished(&consumers, limit);
            let producers_left = wait_finished(&producers, limit);
            if consumers_left > 0 || producers_left > 0 {
                return Err(stuck(
                    "close wakes every blocked consumer and producer",
                    format!(
                        "round {round} of {ROUNDS}: {CONSUMERS} consumers blocked in get on an empty queue and {PRODUCERS} producers blocked in put on a full one; {} after close(), {consumers_left} consumers and {producers_left} producers were still blocked",
                        secs(limit)
                    ),
                    3,
                ));
            }
            let gets = join_all(consumers);
            let puts = join_all(producers);
            ensure(gets.iter().all(Option::is_none), || {
                Finding::new("get on a closed, empty queue returns None")
                    .observed(format!(
                        "round {round}: the woken consumers returned {gets:?}"
                    ))
                    .hint(4)
            })?;
            ensure(puts.iter().all(Result::is_err), || {
                Finding::new("a put blocked on a full queue returns Err(Closed(item)) when the queue is closed")
                    .observed(format!("round {round}: the woken producers returned {puts:?}"))
                    .hint(4)
            })?;
        }
        Ok(())
    }

    /// Several threads in `join` at once: the task_done that finishes the last task must wake all
    /// of them, not one.
    pub fn last_task_done_wakes_every_joiner() -> Outcome {
        const ROUNDS: usize = 10;
        const JOINERS: usize = 3;
        for round in 1..=ROUNDS {
            let q = Arc::new(JobQueue::new(4));
            q.put(1).unwrap();
            q.put(2).unwrap();
            q.get();
            q.get();
            let started = Arc::new(AtomicUsize::new(0));
            let joiners: Vec<JoinHandle<()>> = (0..JOINERS)
                .map(|_| {
                    let (q, started) = (q.clone(), started.clone());
                    thread::spawn(move || {
                        started.fetch_add(1, SeqCst);
                        q.join()
                    })
                })
                .collect();
            wait_count(&started, JOINERS);
            // Most rounds: every joiner is asleep in join by now. Some rounds: they race the calls.
            if round % 3 != 0 {
                thread::sleep(Duration::from_millis(30));
            }
            q.task_done();
            q.task_done();
            let left = wait_finished(&joiners, PROMPT);
            if left > 0 {
                return Err(Finding::new("the last task_done wakes every thread waiting in join")
                    .observed(format!(
                        "round {round} of {ROUNDS}: {JOINERS} threads called join() on a queue with 2 unfinished tasks; {} after the second task_done(), {left} of them were still waiting",
                        secs(PROMPT)
                    ))
                    .why("Any number of threads may wait in join, and the task_done that brings the count to 0 is the only event they all wait for. `notify_one` wakes a single one; the others sleep on, although nothing is left to wait for.")
                    .fix("In task_done, when the count reaches 0: `all_done.notify_all()` (after dropping the guard, or with it held: both are fine).")
                    .hint(5));
            }
            join_all(joiners);
        }
        Ok(())
    }

    /// What a panicking `handle` leaves behind in run: 1 consumer that dies on one job, then 3
    /// consumers that all die on their first, with 3 producers that would block on a full queue.
    pub fn run_passes_on_a_panic_from_handle() -> Outcome {
        const BOOM: &str = "handle panicked on purpose";
        quiet_panics_starting_with(BOOM);
        for (round, consumers, capacity, fatal) in [(1, 1, 1, 7u32), (2, 3, 2, u32::MAX)] {
            let what = if fatal == u32::MAX {
                "on every job".to_string()
            } else {
                format!("on job {fatal}")
            };
            let setup = format!("run(3 producers x 200 jobs, {consumers} consumer{}, capacity {capacity}) with a handle that panics {what}", if consumers == 1 { "" } else { "s" });
            let jobs: Vec<Vec<u32>> = (0..3)
                .map(|p| (0..200).map(|i| p * 200 + i).collect())
                .collect();
            let runner = thread::spawn(move || {
                run(jobs, consumers, capacity, move |job: u32| {
                    if fatal == u32::MAX || job == fatal {
                        panic!("{BOOM} (job {job})");
                    }
                    job
                })
            });
            let limit = Duration::from_secs(20);
            if wait_finished(std::slice::from_ref(&runner), limit) > 0 {
                return Err(Finding::new("run returns when handle panics")
                    .observed(format!("round {round}: {setup} had not returned {} later", secs(limit)))
                    .why("A consumer whose handle panics stops taking jobs. With no consumer left, the producers wait for room in a full queue that nobody will empty, and run waits for the producers: everything stays blocked.")
                    .fix("Close the queue when a consumer unwinds, so the blocked puts return Err(Closed(..)) and the producers stop: a guard value in each consumer whose Drop calls `queue.close()` if `thread::panicking()`.")
                    .hint(5));
            }
            let payload = match runner.join() {
                Ok(results) => {
                    return Err(Finding::new("run passes on a panic from handle")
                        .observed(format!("round {round}: {setup} returned {} results instead of panicking", results.len()))
                        .why("A job whose handle panicked has no result; returning the others as if all went well hides the failure from the caller. The panic belongs to whoever called run.")
                        .fix("Join every consumer; if one's join() is Err(payload), finish shutting down (join the rest) and then `std::panic::resume_unwind(payload)`.")
                        .hint(5));
                }
                Err(payload) => pass_on_todo(payload),
            };
            let text = panic_text(&*payload);
            ensure(text.starts_with(BOOM), || {
                Finding::new("run passes on a panic from handle")
                    .observed(format!("round {round}: {setup} panicked with {text:?}, not with handle's panic"))
                    .why("The caller needs the original panic (its message says which job failed), not a secondary one such as a poisoned lock's.")
                    .fix("Re-raise the payload a consumer's join() returned with `std::panic::resume_unwind(payload)`.")
                    .hint(5)
            })?;
        }
        Ok(())
    }

    pub fn put_blocks_while_full() -> Outcome {
        let q = Arc::new(JobQueue::new(2));
        q.put(1).unwrap();
        q.put(2).unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let putter = {
            let (q, started) = (q.clone(), started.clone());
            thread::spawn(move || {
                started.fetch_add(1, SeqCst);
                let r = q.put(3);
                (r, Instant::now())
            })
        };
        wait_count(&started, 1);
        thread::sleep(WATCH);
        if putter.is_finished() {
            let len = q.len();
            return Err(Finding::new("put blocks while the queue is full")
                .observed(format!("on a full queue of capacity 2, put(3) returned at once; len() is now {len}"))
                .why("The bound is the point of the queue: when consumers fall behind, producers must wait (backpressure) instead of piling up items without limit.")
                .fix("In put: `while state.items.len() >= capacity && !state.closed { state = not_full.wait(state).unwrap(); }`.")
                .hint(1));
        }
        let freed = Instant::now();
        let first = q.get();
        if wait_finished(std::slice::from_ref(&putter), PROMPT) > 0 {
            return Err(stuck(
                "a blocked put returns promptly once there is room",
                format!("after get() made room in a full queue, the blocked put(3) was still waiting {} later", secs(PROMPT)),
                3,
            ));
        }
        let (r, returned) = join_all(vec![putter]).pop().unwrap();
        let rest = (q.get(), q.get());
        ensure(
            first == Some(1) && r.is_ok() && rest == (Some(2), Some(3)),
            || {
                Finding::new("a blocked put adds its item once there is room")
                .observed(format!("get() returned {first:?}, the blocked put returned {r:?} after {}, then two gets returned {rest:?}, expected Some(1), Ok(()), (Some(2), Some(3))", ms(returned.saturating_duration_since(freed))))
            },
        )
    }

    pub fn get_blocks_while_empty() -> Outcome {
        let q = Arc::new(JobQueue::new(2));
        let started = Arc::new(AtomicUsize::new(0));
        let getter = {
            let (q, started) = (q.clone(), started.clone());
            thread::spawn(move || {
                started.fetch_add(1, SeqCst);
                q.get()
            })
        };
        wait_count(&started, 1);
        thread::sleep(WATCH);
        if getter.is_finished() {
            let r = join_all(vec![getter]).pop().unwrap();
            return Err(Finding::new("get blocks while the queue is empty and open")
                .observed(format!("on an empty, open queue, get() returned {r:?} at once instead of waiting"))
                .why("A consumer that finds no work must sleep until a producer brings some (or the queue closes): returning None would tell it the work is over.")
                .fix("In get: `while state.items.is_empty() && !state.closed { state = not_empty.wait(state).unwrap(); }`.")
                .hint(1));
        }
        q.put(7).unwrap();
        if wait_finished(std::slice::from_ref(&getter), PROMPT) > 0 {
            return Err(stuck(
                "a blocked get returns promptly once an item is put",
                format!(
                    "a get() waiting on an empty queue was still blocked {} after put(7)",
                    secs(PROMPT)
                ),
                3,
            ));
        }
        let r = join_all(vec![getter]).pop().unwrap();
        ensure(r == Some(7), || {
            Finding::new("a blocked get returns the item that was put")
                .observed(format!("the blocked get() returned {r:?} after put(7)"))
        })
    }

    pub fn join_waits_for_last_task_done() -> Outcome {
        let q = Arc::new(JobQueue::new(4));
        q.put("a").unwrap();
        q.put("b").unwrap();
        q.get();
        q.get();
        q.close();
        q.task_done();
        let started = Arc::new(AtomicUsize::new(0));
        let joiner = {
            let (q, started) = (q.clone(), started.clone());
            thread::spawn(move || {
                started.fetch_add(1, SeqCst);
                q.join()
            })
        };
        wait_count(&started, 1);
        thread::sleep(WATCH);
        if joiner.is_finished() {
            return Err(Finding::new("join waits until every item put is marked done")
                .observed("2 items put and taken with get, the queue closed, task_done called once: join() returned, although one task is still being worked on")
                .why("An empty queue only means that every job was *taken*; the consumers may still be working on them. join must wait for the task_done calls, one per item put, not for an empty queue or a closed one.")
                .fix("Keep an unfinished count: +1 in put, -1 in task_done; join waits on its own Condvar while it is above 0, and the task_done that brings it to 0 notifies that Condvar with notify_all.")
                .hint(5));
        }
        q.task_done();
        if wait_finished(std::slice::from_ref(&joiner), PROMPT) > 0 {
            return Err(stuck(
                "join returns promptly after the last task_done",
                format!(
                    "join() was still blocked {} after the last task_done()",
                    secs(PROMPT)
                ),
                5,
            ));
        }
        join_all(vec![joiner]);
        Ok(())
    }

    /// CPU time over wall time while `threads` threads sit blocked in one of the queue's methods.
    fn cpu_while_blocked(threads: usize, full: bool) -> Result<(Duration, Duration), Finding> {
        let q = Arc::new(JobQueue::<usize>::new(1));
        if full {
            q.put(0).unwrap();
        }
        let started = Arc::new(AtomicUsize::new(0));
        let handles: Vec<JoinHandle<()>> = (0..threads)
            .map(|i| {
                let (q, started) = (q.clone(), started.clone());
                thread::spawn(move || {
                    started.fetch_add(1, SeqCst);
                    if full {
                        let _ = q.put(i);
                    } else {
                        let _ = q.get();
                    }
                })
            })
            .collect();
        wait_count(&started, threads);
        thread::sleep(Duration::from_millis(100));
        // A share of a core does not depend on how long it is watched: 400 ms is hundreds of
        // scheduler time slices, enough for a polling thread's share to show as it is.
        let watch = Stopwatch::start();
        thread::sleep(Duration::from_millis(400));
        let (cpu, wall) = (watch.cpu(), watch.wall());
        q.close();
        if wait_finished(&handles, PROMPT) > 0 {
            return Err(stuck(
                "close wakes every blocked thread",
                format!(
                    "{threads} threads blocked in {} were still blocked {} after close()",
                    if full { "put" } else { "get" },
                    secs(PROMPT)
                ),
                3,
            ));
        }
        join_all(handles);
        Ok((cpu, wall))
    }

    pub fn blocked_threads_dont_spin() -> Outcome {
        const THREADS: usize = 4;
        // A blocked thread uses no CPU at all; a polling one uses a whole core when it can get one.
        const MAX_SHARE: f64 = 0.10;
        for (full, what) in [
            (false, "consumers blocked in get on an empty queue"),
            (true, "producers blocked in put on a full queue"),
        ] {
            let (cpu, wall) = cpu_while_blocked(THREADS, full)?;
            let share = cpu.as_secs_f64() / wall.as_secs_f64();
            if share > MAX_SHARE {
                return Err(Finding::new("blocked threads sleep instead of spinning")
                    .observed(format!(
                        "while {THREADS} {what}, the process used {} of CPU time in {} of wall time ({:.0}% of a core; a sleeping thread uses ~0%, the limit is {:.0}%)",
                        ms(cpu),
                        ms(wall),
                        share * 100.0,
                        MAX_SHARE * 100.0
                    ))
                    .why("A loop that takes the lock, looks, lets go and tries again (with yield_now, try_lock or nothing in between) keeps the thread running: it burns a core doing nothing and steals it from the threads that would do the work. `Condvar::wait` releases the lock and parks the thread until a notify.")
                    .fix("Replace the polling loop with `while <must wait> { guard = condvar.wait(guard).unwrap(); }`.")
                    .hint(1));
            }
        }
        Ok(())
    }

    pub fn run_leaves_no_thread_behind() -> Outcome {
        // `None`: the OS does not tell how many threads the process has; joins are still judged.
        let before = thread_count();
        for round in 1..=3 {
            let handled = Arc::new(Mutex::new(0usize));
            let counter = handled.clone();
            let jobs: Vec<Vec<u32>> = (0..3)
                .map(|p| (0..50).map(|i| p * 50 + i).collect())
                .collect();
            let results = run(jobs, 5, 2, move |job: u32| {
                *counter.lock().unwrap() += 1;
                job + 1
            });
            ensure(results.len() == 150, || {
                Finding::new("run returns one result per job")
                    .observed(format!("round {round}: run(3 producers x 50 jobs, 5 consumers, capacity 2) returned {} results", results.len()))
                    .hint(5)
            })?;
            every_thread_joined(
                "run",
                &format!("round {round}: run(3 producers x 50 jobs, 5 consumers, capacity 2)"),
            )
            .map_err(|f| f.hint(5))?;
            let Some(before) = before else { continue };
            let after = settle_thread_count(before, Duration::from_secs(3)).unwrap_or(before);
            if after > before {
                return Err(Finding::new("run leaves no thread behind")
                    .observed(format!(
                        "round {round}: the process had {} before run(3 producers, 5 consumers) and {} after it returned ({} left behind)",
                        threads(before),
                        threads(after),
                        after - before
                    ))
                    .why("Threads that were never joined keep running after run returns: typically consumers still blocked in get on a queue nobody closed, waiting forever. Python hides this with daemon threads; Rust makes you shut down on purpose.")
                    .fix("After joining the producers, close the queue so every consumer's get returns None, then join every consumer's JoinHandle before returning.")
                    .hint(5));
            }
        }
        Ok(())
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use producer_consumer::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use producer_consumer::sync::{thread, Arc};
    use producer_consumer::{Closed, JobQueue};

    /// Takes items until get returns None; a None before `closing` was raised is a finding.
    fn consume(q: &JobQueue<u8>, closing: &AtomicBool) -> Vec<u8> {
        let mut got = Vec::new();
        while let Some(item) = q.get() {
            got.push(item);
        }
        if !closing.load(SeqCst) {
            early_none(format!(
                "in one interleaving of 1 producer (putting 1 then 2, then closing) and 2 consumers on a queue of capacity 1, a consumer's get() returned None before close() was called (it had taken {got:?})"
            ))
            .raise();
        }
        got
    }

    pub fn one_producer_two_consumers() -> Outcome {
        // Two preemptions already reach the stolen wakeup and every lost wakeup of this scenario,
        // and keep a single-Condvar notify_all design (which wakes more threads) at a few seconds.
        explore_with(Some(2), || {
            let q = Arc::new(JobQueue::new(1));
            let closing = Arc::new(AtomicBool::new(false));
            let producer = {
                let (q, closing) = (q.clone(), closing.clone());
                thread::spawn(move || {
                    for item in [1u8, 2] {
                        if q.put(item).is_err() {
                            Finding::new("put succeeds while the queue is open")
                                .observed(format!("put({item}) returned Err(Closed(..)) before close() was called"))
                                .raise();
                        }
                    }
                    closing.store(true, SeqCst);
                    q.close();
                })
            };
            let other = {
                let (q, closing) = (q.clone(), closing.clone());
                thread::spawn(move || consume(&q, &closing))
            };
            let mut all = consume(&q, &closing);
            all.extend(other.join().unwrap());
            producer.join().unwrap();
            all.sort_unstable();
            if all != [1, 2] {
                delivery(format!(
                    "in one interleaving of 1 producer (putting 1 then 2, then closing) and 2 consumers on a queue of capacity 1, the consumers got {all:?} between them, not [1, 2]"
                ))
                .raise();
            }
        });
        Ok(())
    }

    pub fn close_wakes_waiting_consumers() -> Outcome {
        explore(|| {
            let q = Arc::new(JobQueue::<u8>::new(1));
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || q.get())
                })
                .collect();
            q.close();
            for c in consumers {
                let got = c.join().unwrap();
                if got.is_some() {
                    Finding::new("get on a closed, empty queue returns None")
                        .observed(format!("a consumer's get() on a queue that was closed without any put returned {got:?}"))
                        .raise();
                }
            }
        });
        Ok(())
    }

    pub fn close_wakes_blocked_producer() -> Outcome {
        explore(|| {
            let q = Arc::new(JobQueue::new(1));
            q.put(1u8).unwrap();
            let producer = {
                let q = q.clone();
                thread::spawn(move || q.put(2))
            };
            q.close();
            let r = producer.join().unwrap();
            if r != Err(Closed(2)) {
                Finding::new("a put blocked on a full queue returns Err(Closed(item)) when the queue is closed")
                    .observed(format!("a put(2) on a full queue of capacity 1, closed while it waited, returned {r:?}"))
                    .hint(4)
                    .raise();
            }
            let rest = (q.get(), q.get());
            if rest != (Some(1), None) {
                delivery(format!("after close, the queue that held 1 (and refused 2) gave {rest:?}, not (Some(1), None)")).raise();
            }
        });
        Ok(())
    }

    /// Two threads call task_done for the one item put: in every interleaving exactly one of them
    /// panics, and the count is 0 afterwards (join returns).
    pub fn racing_task_done_panics_once() -> Outcome {
        const TOO_OFTEN: &str = "task_done called more often";
        quiet_panics_starting_with(TOO_OFTEN);
        explore(|| {
            let q = Arc::new(JobQueue::new(1));
            q.put(1u8).unwrap();
            q.get();
            let call = |q: &JobQueue<u8>| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.task_done()))
                    .map_err(|p| panic_text(&*pass_on_todo(p)))
            };
            let other = {
                let q = q.clone();
                thread::spawn(move || call(&q))
            };
            let mine = call(&q);
            let theirs = other.join().unwrap();
            let panicked = [&mine, &theirs].iter().filter(|r| r.is_err()).count();
            if panicked != 1 {
                Finding::new("of two task_done calls for one item, exactly one panics")
                    .observed(format!("in one interleaving of two threads calling task_done on a queue with 1 item put (and taken), they returned {mine:?} and {theirs:?}"))
                    .why("The check `unfinished == 0` and the decrement must happen under one guard. Unlocking in between lets both calls see 1 and both subtract: the second one underflows instead of reporting the extra task_done.")
                    .fix("Keep the guard from the check to the decrement: `let mut state = self.lock(); if state.unfinished == 0 { drop(state); panic!(..) } state.unfinished -= 1;`.")
                    .hint(5)
                    .raise();
            }
            q.join();
        });
        Ok(())
    }

    /// Two producers put at once into an empty queue of capacity 1: in no interleaving does the
    /// queue hold two items (one put waits for the get).
    pub fn racing_puts_respect_capacity() -> Outcome {
        explore(|| {
            let q = Arc::new(JobQueue::new(1));
            let producers: Vec<_> = [1u8, 2]
                .into_iter()
                .map(|item| {
                    let q = q.clone();
                    thread::spawn(move || q.put(item))
                })
                .collect();
            let held = q.len();
            if held > 1 {
                Finding::new("the queue never holds more than its capacity")
                    .observed(format!("in one interleaving of two threads each putting one item into an empty queue of capacity 1, len() was {held}"))
                    .why("Seeing room and taking it must be one step under one guard. A put that finds room, unlocks, and locks again before pushing can be overtaken by another put that saw the same room: both push.")
                    .fix("Keep the guard from the `while` that waits for room to the push_back: no drop or re-lock in between.")
                    .hint(2)
                    .raise();
            }
            let got = (q.get(), q.get());
            for p in producers {
                let _ = p.join().unwrap();
            }
            if got.0.is_none() || got.1.is_none() {
                delivery(format!(
                    "two items put into a queue of capacity 1, two gets returned {got:?}"
                ))
                .raise();
            }
        });
        Ok(())
    }
}
