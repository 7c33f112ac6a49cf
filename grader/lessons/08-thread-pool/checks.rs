//! Lesson 08 checks: a thread pool with futures (submit, result, cancel, as_completed, map,
//! shutdown, stats).
//!
//! Compiled by the grader into a harness together with the crate under test (`thread_pool`).
//! The hints they point to are numbered as in curriculum.toml: 1 the future (a slot plus a
//! condvar), 2 the worker loop (never run a task under a lock), 3 panics (catch_unwind), 4 cancel,
//! start and the counters under one lock, 5 as_completed (a listener registered under the slot's
//! lock), 6 shutdown (close, cancel or drain, notify_all, join), 7 map (handles in input order).
//!
//! Every call that may block goes through a watchdog (`within`), so a task that never starts or a
//! handle that is never completed comes back as a finding that says which call was stuck and what
//! the pool had done so far, not as the runner's time limit. The model checks turn loom's "every
//! thread is blocked" into such a finding too.

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::results_and_panics),
    check!(unit, std_checks::map_keeps_order),
    check!(unit, std_checks::cancel_queued_and_finished),
    check!(unit, std_checks::submit_after_shutdown),
    check!(unit, std_checks::nested_submit_on_two_workers),
    check!(unit, std_checks::workers_named_and_started),
    check!(stress, std_checks::stats_consistent_8_submitters),
    check!(stress, std_checks::cancel_storm),
    check!(stress, std_checks::shutdown_races_submitters),
    check!(stress, std_checks::as_completed_yields_each_once),
    check!(stress, std_checks::every_waiter_wakes),
    check!(
        timing,
        std_checks::runs_exactly_workers_at_once,
        measures = wall
    ),
    check!(
        timing,
        std_checks::as_completed_in_finishing_order,
        measures = wall
    ),
    check!(timing, std_checks::waiting_does_not_spin, measures = cpu),
    check!(
        timing,
        std_checks::panics_dont_kill_workers,
        measures = wall
    ),
    check!(timing, std_checks::shutdown_run_and_cancel, measures = wall),
    check!(timing, std_checks::no_thread_left_behind, measures = wall),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::model_stats_two_tasks),
    check!(model, model_checks::model_cancel_races_start),
    check!(model, model_checks::model_as_completed_no_lost_wakeup),
    check!(model, model_checks::model_shutdown_cancel_races_worker),
];

/// The curriculum's hints, by subject.
const HINT_SLOT: u32 = 1;
const HINT_WORKER: u32 = 2;
const HINT_PANIC: u32 = 3;
const HINT_CANCEL: u32 = 4;
const HINT_AS_COMPLETED: u32 = 5;
const HINT_SHUTDOWN: u32 = 6;
const HINT_MAP: u32 = 7;

/// What the checks' tasks panic with on purpose (kept out of the output).
const TOLD: &str = "task told to panic";

/// The invariant `stats()` promises, or what breaks it.
fn stats_problem(s: &thread_pool::Stats) -> Option<String> {
    let sum = s.pending + s.running + s.completed + s.failed + s.cancelled;
    if sum != s.submitted {
        Some(format!(
            "{s:?}: pending + running + completed + failed + cancelled = {sum}, but submitted = {}",
            s.submitted
        ))
    } else {
        None
    }
}

fn inconsistent_stats(observed: String) -> Finding {
    Finding::new("stats() is one consistent snapshot: submitted = pending + running + completed + failed + cancelled")
        .observed(observed)
        .why("Each change of a task's phase moves it from one count to another (pending -> running, running -> completed). If the counts are separate atomics, or are changed under different locks, a reader can see the task taken out of one count and not yet put into the next: the sum is off by one, for an instant.")
        .fix("Keep every count in the one struct behind the pool's Mutex and move a task from one count to the other in the same lock section, the one in which its phase changes; stats() copies the struct under that lock.")
        .hint(HINT_CANCEL)
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread;
    use thread_pool::{as_completed, Pending, ShutDown, Stats, TaskError, TaskHandle, ThreadPool};

    /// A task that is free to go gets this long to finish before the check calls it stuck. Tasks
    /// here take microseconds to milliseconds; the rest is room for a busy machine.
    const PATIENCE: Duration = Duration::from_secs(3);

    // -----------------------------------------------------------------------------------------
    // Helpers.

    /// A door the check opens; tasks wait at it (for at most `limit`, so nothing waits forever).
    #[derive(Clone)]
    struct Gate(Arc<(Mutex<bool>, Condvar)>);

    impl Gate {
        fn new() -> Gate {
            Gate(Arc::new((Mutex::new(false), Condvar::new())))
        }
        fn open(&self) {
            *self.0 .0.lock().unwrap() = true;
            self.0 .1.notify_all();
        }
        fn wait(&self, limit: Duration) -> bool {
            let guard = self.0 .0.lock().unwrap();
            let (guard, _) = self
                .0
                 .1
                .wait_timeout_while(guard, limit, |open| !*open)
                .unwrap();
            *guard
        }
    }

    /// Where a script is, so that a hang can say what was stuck.
    #[derive(Clone, Default)]
    struct Steps(Arc<Mutex<String>>);

    impl Steps {
        fn at(&self, what: impl Into<String>) {
            *self.0.lock().unwrap() = what.into();
        }
        fn now(&self) -> String {
            self.0.lock().unwrap().clone()
        }
    }

    /// Runs `script` with a time limit. A hang becomes a finding that names the step it was
    /// stuck in (with `why`); a panic that is not the check's own becomes a finding too.
    fn scripted(
        check: &str,
        limit: Duration,
        why: &str,
        hint: u32,
        script: impl FnOnce(&Steps) -> Outcome + Send + 'static,
    ) -> Outcome {
        quiet_panics_starting_with(TOLD);
        let steps = Steps::default();
        let s = steps.clone();
        match within(check, limit, move || script(&s)) {
            Ran::Returned(outcome, _) => outcome,
            Ran::Panicked(payload) => {
                let payload = pass_on_todo(payload);
                Err(
                    Finding::new("the pool's methods return without panicking").observed(format!(
                        "{check}: {} panicked: {}",
                        steps.now(),
                        panic_text(&*payload)
                    )),
                )
            }
            Ran::Hung => {
                let at = steps.now();
                let closing = at.contains("shutdown") || at.contains("dropping the pool");
                Err(Finding::new("every call returns: nothing waits forever")
                    .observed(format!("{check}: stuck for {} s in: {at}", limit.as_secs()))
                    .why(if closing { SHUTDOWN_HANG } else { why }.to_string())
                    .hint(if closing { HINT_SHUTDOWN } else { hint }))
            }
        }
    }

    const SHUTDOWN_HANG: &str = "shutdown (and Drop, which is shutdown(Pending::Run)) joins every worker, so each must leave its loop: it has to be woken (notify_all: notify_one wakes one of the idle workers and leaves the others asleep for good) and see the pool closed and its queue empty. A running task that never ends, or a second shutdown waiting for the first forever, hangs it too.";

    /// Shuts a pool down (or drops it) on a helper thread, with a limit: a hang becomes a finding.
    fn shut(what: &str, f: impl FnOnce() + Send + 'static) -> Outcome {
        match within(what, PATIENCE, f) {
            Ran::Returned(..) => Ok(()),
            Ran::Panicked(payload) => Err(Finding::new("shutdown returns without panicking")
                .observed(format!(
                    "{what} panicked: {}",
                    panic_text(&*pass_on_todo(payload))
                ))),
            Ran::Hung => Err(shutdown_hung(format!(
                "{what} had not returned after {} s, with every task finished",
                PATIENCE.as_secs()
            ))),
        }
    }

    fn shutdown_hung(observed: String) -> Finding {
        Finding::new(
            "shutdown returns once the running tasks finished: every worker leaves and is joined",
        )
        .observed(observed)
        .why(SHUTDOWN_HANG)
        .hint(HINT_SHUTDOWN)
    }

    /// Waits for a handle with a limit; `Err` names the task and what the pool had done.
    fn done_within<T>(
        h: &TaskHandle<T>,
        what: &str,
        pool: &ThreadPool,
        limit: Duration,
        why: &str,
        hint: u32,
    ) -> Outcome {
        ensure(h.wait_timeout(limit), || {
            Finding::new("every task that is free to run finishes, and its handle says so")
                .observed(format!(
                    "{what}: its handle was not done {} ms after it was free to run; stats() = {:?}",
                    limit.as_millis(),
                    pool.stats()
                ))
                .why(why.to_string())
                .hint(hint)
        })
    }

    fn expect_stats(pool: &ThreadPool, when: &str, want: Stats, hint: u32) -> Outcome {
        let got = pool.stats();
        ensure(got == want, || {
            Finding::new("stats() counts every task once, in the phase it is in")
                .observed(format!("{when}: stats() = {got:?}, expected {want:?}"))
                .why("Each count changes exactly when a task changes phase: submit adds to submitted and pending; a start moves it from pending to running; a finish from running to completed (a value) or failed (a panic); a cancel, by cancel() or by shutdown(Pending::Cancel), from pending to cancelled. A refused submit counts nowhere.")
                .hint(hint)
        })
    }

    fn stats(
        submitted: u64,
        pending: u64,
        running: u64,
        completed: u64,
        failed: u64,
        cancelled: u64,
    ) -> Stats {
        Stats {
            submitted,
            pending,
            running,
            completed,
            failed,
            cancelled,
        }
    }

    /// The names of this process's threads, where the OS tells (Linux: /proc/self/task/*/comm).
    fn thread_names() -> Option<Vec<String>> {
        let tasks = std::fs::read_dir("/proc/self/task").ok()?;
        Some(
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim_end().to_string())
                .collect(),
        )
    }

    const DEAD_WORKERS: &str = "A worker that runs a task without catch_unwind dies with the task's panic: the handle is never completed (nobody is left to store the outcome), and the pool has one worker fewer. Once every worker has died that way, nothing runs at all.";

    // -----------------------------------------------------------------------------------------
    // Unit.

    pub fn results_and_panics() -> Outcome {
        scripted(
            "results_and_panics",
            Duration::from_secs(8),
            DEAD_WORKERS,
            HINT_PANIC,
            |steps| {
                steps.at("ThreadPool::new(\"unit\", 2)");
                let pool = ThreadPool::new("unit", 2);
                ensure(pool.workers() == 2, || {
                    Finding::new("workers() is the number of worker threads").observed(format!(
                        "ThreadPool::new(\"unit\", 2).workers() = {}",
                        pool.workers()
                    ))
                })?;
                steps.at("submit(|| 6 * 7), then result()");
                let got = pool.submit(|| 6 * 7).map(TaskHandle::result);
                ensure(got == Ok(Ok(42)), || {
                    Finding::new("result() returns the task's value")
                        .observed(format!(
                            "submit(|| 6 * 7) then result() gave {got:?}, expected Ok(Ok(42))"
                        ))
                        .hint(HINT_SLOT)
                })?;
                steps.at("submit(|| String::from(\"hello\")), then result()");
                let got = pool
                    .submit(|| String::from("hello"))
                    .map(TaskHandle::result);
                ensure(got == Ok(Ok("hello".to_string())), || {
                    Finding::new("result() returns the task's value")
                        .observed(format!(
                            "submit(|| String::from(\"hello\")) then result() gave {got:?}"
                        ))
                        .hint(HINT_SLOT)
                })?;
                // Twice as many panics as workers: a panic that kills its worker leaves none.
                let mut panicking = Vec::new();
                for i in 0..4u32 {
                    steps.at(format!("submitting panicking task {i}"));
                    let h = if i == 0 {
                        pool.submit(|| -> u32 { panic!("task told to panic") })
                    } else {
                        pool.submit(move || -> u32 { panic!("task told to panic: {i}") })
                    };
                    panicking.push(h.map_err(|e| {
                        Finding::new("submit accepts tasks while the pool is open").observed(
                            format!("submit gave {e:?} on a pool that was never shut down"),
                        )
                    })?);
                }
                for (i, h) in panicking.into_iter().enumerate() {
                    let want = if i == 0 {
                        TOLD.to_string()
                    } else {
                        format!("{TOLD}: {i}")
                    };
                    steps.at(format!(
                        "result() of panicking task {i} (4 panicking tasks on a pool of 2 workers)"
                    ));
                    let got = h.result();
                    ensure(got == Err(TaskError::Panicked(want.clone())), || {
                        Finding::new("a task that panics completes with Err(TaskError::Panicked(its message))")
                            .observed(format!("a task that ran panic!(\"{want}\") gave result() = {got:?}"))
                            .why("catch_unwind hands back the panic's payload as Box<dyn Any + Send>: panic!(\"literal\") carries a &'static str, panic!(\"{x}\") a String. Downcast to both to get the message.")
                            .fix("match payload.downcast_ref::<&str>() then payload.downcast_ref::<String>(), and store Err(TaskError::Panicked(message)) in the slot.")
                            .hint(HINT_PANIC)
                    })?;
                }
                steps.at(
                    "results of 20 tasks submitted after 4 panicking ones, on a pool of 2 workers",
                );
                let handles: Vec<_> = (0..20u64)
                    .filter_map(|i| pool.submit(move || i * 2).ok())
                    .collect();
                for (i, h) in handles.into_iter().enumerate() {
                    steps.at(format!("result() of task {i} of 20 submitted after 4 panicking tasks (pool of 2 workers): did the panics kill the workers?"));
                    let got = h.result();
                    ensure(got == Ok(i as u64 * 2), || {
                        Finding::new("the pool keeps working after tasks panic")
                            .observed(format!(
                                "after 4 panicking tasks, task {i} (|| {i} * 2) gave {got:?}"
                            ))
                            .why(DEAD_WORKERS)
                            .hint(HINT_PANIC)
                    })?;
                }
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                expect_stats(
                    &pool,
                    "after 2 values, 4 panics, 20 values and shutdown",
                    stats(26, 0, 0, 22, 4, 0),
                    HINT_PANIC,
                )
            },
        )
    }

    pub fn map_keeps_order() -> Outcome {
        scripted(
            "map_keeps_order",
            Duration::from_secs(8),
            "map returns once every item's task finished: a task that never runs (a dead worker, a task queued behind one that waits for it) keeps it waiting.",
            HINT_MAP,
            |steps| {
                let pool = ThreadPool::new("map", 2);
                steps.at("map(Vec::<u32>::new(), f)");
                let empty = pool.map(Vec::<u32>::new(), |x| x);
                ensure(empty == Ok(Vec::new()), || {
                    Finding::new("map of no items is Ok(empty)").observed(format!("map(vec![], f) gave {empty:?}"))
                })?;
                // Item 0 waits until item 1 has finished: the finishing order is 1 before 0,
                // whatever the machine does.
                let one_done = Gate::new();
                let g = one_done.clone();
                steps.at("map(0..6, f) on 2 workers, where item 0 finishes after item 1 and item 3 panics");
                let got = pool.map(0..6u64, move |i| {
                    match i {
                        0 => {
                            g.wait(PATIENCE);
                            thread::sleep(Duration::from_millis(5));
                        }
                        1 => g.open(),
                        3 => panic!("task told to panic: item 3"),
                        _ => {}
                    }
                    i * 10
                });
                let want: Vec<Result<u64, TaskError>> = vec![
                    Ok(0),
                    Ok(10),
                    Ok(20),
                    Err(TaskError::Panicked(format!("{TOLD}: item 3"))),
                    Ok(40),
                    Ok(50),
                ];
                ensure(got.as_ref() == Ok(&want), || {
                    Finding::new("map returns one result per item, in input order, whatever order they finish in")
                        .observed(format!("pool.map(0..6, |i| i * 10) (item 0 finished after item 1, item 3 panicked) gave {got:?}, expected Ok({want:?})"))
                        .why("Collecting results as tasks finish (as_completed, or a channel the workers send into) gives the finishing order, which depends on the machine. And a panicking item is that item's Err, not the end of the map.")
                        .fix("Submit every item first and keep the handles in a Vec in input order; then call result() on each handle in that order. Waiting on handle 0 while 1 and 2 finish costs nothing: they wait in their slots.")
                        .hint(HINT_MAP)
                })?;
                steps.at("map over Strings");
                let words = vec!["a".to_string(), "bb".to_string(), "ccc".to_string()];
                let got = pool.map(words, |w| w.len());
                ensure(got == Ok(vec![Ok(1), Ok(2), Ok(3)]), || {
                    Finding::new("map returns one result per item, in input order")
                        .observed(format!("map([\"a\", \"bb\", \"ccc\"], |w| w.len()) gave {got:?}"))
                        .hint(HINT_MAP)
                })?;
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                Ok(())
            },
        )
    }

    pub fn cancel_queued_and_finished() -> Outcome {
        scripted(
            "cancel_queued_and_finished",
            Duration::from_secs(8),
            "With one worker the tasks run one after the other. If the script is stuck in a wait or a result, that task's handle was never completed: look at what finishes a slot (a value, a panic, a cancel) and whether it notifies the slot's Condvar.",
            HINT_SLOT,
            |steps| {
                let pool = ThreadPool::new("cancel", 1);
                let (started, gate) = (Gate::new(), Gate::new());
                let (st, g) = (started.clone(), gate.clone());
                steps.at("submit task A (it waits for the check) on a pool of 1 worker");
                let a = pool.submit(move || { st.open(); g.wait(Duration::from_secs(5)); 1 }).unwrap();
                steps.at("waiting for task A to start");
                ensure(started.wait(PATIENCE), || {
                    Finding::new("a submitted task starts on an idle worker")
                        .observed(format!("task A, submitted to a fresh pool of 1 worker, had not started after {} s; stats() = {:?}", PATIENCE.as_secs(), pool.stats()))
                        .why("A submit must wake an idle worker: push the task under the pool's lock, then notify_one the Condvar the workers wait on.")
                        .hint(HINT_WORKER)
                })?;
                let b_ran = Arc::new(AtomicBool::new(false));
                let br = b_ran.clone();
                steps.at("submit tasks B and C behind A");
                let b = pool.submit(move || { br.store(true, SeqCst); 2 }).unwrap();
                let c = pool.submit(|| 3).unwrap();
                steps.at("is_done / wait_timeout(30 ms) of the running task A");
                let clock = Instant::now();
                let waited = a.wait_timeout(Duration::from_millis(30));
                let took = clock.elapsed();
                ensure(!a.is_done() && !waited && took >= Duration::from_millis(30), || {
                    Finding::new("while a task runs its handle is not done, and wait_timeout waits the whole timeout")
                        .observed(format!("while task A was still running, is_done() = {}, wait_timeout(30 ms) = {waited} after {}", a.is_done(), ms(took)))
                        .why("wait_timeout returns true only if the task finished within the timeout. A Condvar's wait_timeout can also wake early (spuriously, or by a notify for something else): compute the deadline once and wait again for what is left of it.")
                        .hint(HINT_SLOT)
                })?;
                steps.at("cancel() of the running task A, then of the queued task B (twice)");
                let cancel_a = a.cancel();
                let cancel_b = b.cancel();
                let b_done = b.is_done();
                let cancel_b_again = b.cancel();
                ensure(!cancel_a && cancel_b && b_done && cancel_b_again, || {
                    Finding::new("cancel() is true iff the task had not started (it never will) or was already cancelled")
                        .observed(format!("with A running and B, C queued: A.cancel() = {cancel_a} (expected false: it is running), B.cancel() = {cancel_b} (expected true), then B.is_done() = {b_done} (expected true), B.cancel() again = {cancel_b_again} (expected true)"))
                        .why("A cancel decides on the task's phase: queued means it can still be stopped (and it is done at once, as Cancelled); running or finished means too late.")
                        .hint(HINT_CANCEL)
                })?;
                expect_stats(&pool, "with A running, B cancelled, C queued", stats(3, 1, 1, 0, 0, 1), HINT_CANCEL)?;
                gate.open();
                steps.at("result() of A, C and B after the check let A go");
                let (ra, rc, rb) = (a.result(), c.result(), b.result());
                ensure(ra == Ok(1) && rc == Ok(3) && rb == Err(TaskError::Cancelled) && !b_ran.load(SeqCst), || {
                    Finding::new("a cancelled task never runs and its result is Err(Cancelled); the others are unaffected")
                        .observed(format!("A (cancel refused while running) gave {ra:?}, C gave {rc:?}, B (cancelled while queued) gave {rb:?}, and B's closure ran: {}", b_ran.load(SeqCst)))
                        .why("The worker must decide under the same lock as cancel whether the task it took off the queue may still start: a cancelled task is skipped, not run.")
                        .hint(HINT_CANCEL)
                })?;
                steps.at("submit task D, wait(), cancel(), result()");
                let d = pool.submit(|| 4).unwrap();
                d.wait();
                let cancel_d = d.cancel();
                let rd = d.result();
                ensure(!cancel_d && rd == Ok(4), || {
                    Finding::new("cancel() of a finished task is false and changes nothing")
                        .observed(format!("after wait(), D.cancel() = {cancel_d} and D.result() = {rd:?} (expected false, Ok(4))"))
                        .hint(HINT_CANCEL)
                })?;
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                expect_stats(&pool, "after A, C, D completed and B cancelled", stats(4, 0, 0, 3, 0, 1), HINT_CANCEL)
            },
        )
    }

    pub fn submit_after_shutdown() -> Outcome {
        scripted(
            "submit_after_shutdown",
            Duration::from_secs(8),
            "shutdown must wake every idle worker (notify_all: each is asleep on the Condvar) so that each sees the pool closed and returns; then it joins them. A worker that is never woken, or a second shutdown that waits for the first forever, hangs here.",
            HINT_SHUTDOWN,
            |steps| {
                steps.at("shutdown(Pending::Run) of an idle pool of 3 (its workers asleep, waiting for work)");
                let idle = ThreadPool::new("idle", 3);
                thread::sleep(Duration::from_millis(20));
                idle.shutdown(Pending::Run);
                let pool = ThreadPool::new("closed", 2);
                steps.at("submit(|| 1), then shutdown(Pending::Run)");
                let h = pool.submit(|| 1).unwrap();
                pool.shutdown(Pending::Run);
                ensure(h.is_done(), || {
                    Finding::new("shutdown(Pending::Run) returns once every queued task has run")
                        .observed("a task submitted just before shutdown(Pending::Run) was not done when shutdown returned")
                        .why("Pending::Run lets the workers empty the queue before they leave; shutdown returns after joining them, so by then every task has finished.")
                        .hint(HINT_SHUTDOWN)
                })?;
                let got = h.result();
                ensure(got == Ok(1), || {
                    Finding::new("shutdown(Pending::Run) runs the queued tasks").observed(format!("the task gave {got:?}"))
                })?;
                steps.at("submit and map after shutdown");
                let refused = pool.submit(|| 2).map(|_| ());
                let mapped = pool.map(vec![1, 2], |x| x).map(|_| ());
                ensure(refused == Err(ShutDown) && mapped == Err(ShutDown), || {
                    Finding::new("submit and map return Err(ShutDown) once the pool is shut down")
                        .observed(format!("after shutdown: submit gave {refused:?}, map gave {mapped:?}"))
                        .why("A task accepted after the workers have gone would never run: its handle would wait forever.")
                        .fix("shutdown sets a flag under the pool's lock; submit looks at it under the same lock before queueing.")
                        .hint(HINT_SHUTDOWN)
                })?;
                steps.at("a second shutdown(Pending::Cancel) and a third shutdown(Pending::Run)");
                pool.shutdown(Pending::Cancel);
                pool.shutdown(Pending::Run);
                expect_stats(&pool, "one task, then shutdown and two refused calls", stats(1, 0, 0, 1, 0, 0), HINT_SHUTDOWN)?;
                steps.at("dropping the shut-down pool");
                drop(pool);
                Ok(())
            },
        )
    }

    pub fn nested_submit_on_two_workers() -> Outcome {
        let outer_started = Arc::new(AtomicBool::new(false));
        let inner_queued = Arc::new(AtomicBool::new(false));
        let inner_ran = Arc::new(AtomicBool::new(false));
        let closing = Arc::new(AtomicBool::new(false));
        let (os, iq, ir, cl) = (
            outer_started.clone(),
            inner_queued.clone(),
            inner_ran.clone(),
            closing.clone(),
        );
        let outcome = within("nested submit", Duration::from_secs(4), move || {
            let pool = Arc::new(ThreadPool::new("nested", 2));
            let p = pool.clone();
            let outer = pool
                .submit(move || {
                    os.store(true, SeqCst);
                    let inner = p.submit(move || {
                        ir.store(true, SeqCst);
                        5
                    });
                    iq.store(true, SeqCst);
                    inner.map(TaskHandle::result)
                })
                .unwrap();
            let got = outer.result();
            cl.store(true, SeqCst);
            pool.shutdown(Pending::Run);
            got
        });
        let state = || {
            format!(
                "the outer task started: {}; its submit of the inner task returned: {}; the inner task ran: {}",
                outer_started.load(SeqCst),
                inner_queued.load(SeqCst),
                inner_ran.load(SeqCst)
            )
        };
        match outcome {
            Ran::Returned(got, _) => ensure(got == Ok(Ok(Ok(5))), || {
                Finding::new("a task can submit another task and wait for its result")
                    .observed(format!("on a pool of 2, an outer task that submits || 5 and returns its result gave {got:?}, expected Ok(Ok(Ok(5)))"))
                    .hint(HINT_WORKER)
            }),
            Ran::Panicked(payload) => {
                let payload = pass_on_todo(payload);
                Err(Finding::new("a task can submit another task and wait for its result")
                    .observed(format!("the nested submit panicked: {} ({})", panic_text(&*payload), state())))
            }
            Ran::Hung if closing.load(SeqCst) => Err(shutdown_hung(
                "the nested tasks finished, but shutdown(Pending::Run) of their pool of 2 had not returned 4 s later".to_string(),
            )),
            Ran::Hung => {
                let stuck_in_submit = outer_started.load(SeqCst) && !inner_queued.load(SeqCst);
                Err(Finding::new("a task can submit another task and wait for its result")
                    .observed(format!("on a pool of 2 workers, an outer task that submits an inner task and waits for it had not finished after 4 s: {}", state()))
                    .why(if stuck_in_submit {
                        "The outer task is stuck inside submit: submit waits for the pool's lock, and the worker running the outer task holds that lock. It took the task off the queue and ran it without letting go of the guard. A nested submit then waits for itself."
                    } else {
                        "The inner task was queued but never ran although the second worker was idle: the submit did not wake it (notify_one after pushing), or the worker running the outer task holds a lock the other worker needs to take work."
                    })
                    .fix("In the worker, pop the task inside a block that holds the guard, let the guard drop at the end of the block, and only then call the task.")
                    .hint(HINT_WORKER))
            }
        }
    }

    pub fn workers_named_and_started() -> Outcome {
        match within("ThreadPool::new(\"x\", 0)", PATIENCE, || ThreadPool::new("x", 0).workers()) {
            Ran::Panicked(payload) => {
                pass_on_todo(payload);
            }
            Ran::Returned(n, _) => {
                return Err(Finding::new("ThreadPool::new panics if workers is 0")
                    .observed(format!("ThreadPool::new(\"x\", 0) returned a pool with workers() = {n}"))
                    .why("A pool with no workers accepts tasks that never run: every result() would wait forever. The promise is a panic (an assert) instead."))
            }
            Ran::Hung => {
                return Err(Finding::new("ThreadPool::new panics if workers is 0")
                    .observed("ThreadPool::new(\"x\", 0) neither panicked nor returned within 3 s"))
            }
        }
        scripted(
            "workers_named_and_started",
            Duration::from_secs(8),
            "Three tasks that wait for each other need three workers running them at once.",
            HINT_WORKER,
            |steps| {
                steps.at("ThreadPool::new(\"ledger\", 3)");
                let pool = ThreadPool::new("ledger", 3);
                if let Some(names) = thread_names() {
                    let ledger: Vec<&String> =
                        names.iter().filter(|n| n.starts_with("ledger-")).collect();
                    ensure(ledger.len() == 3, || {
                        Finding::new("new starts its worker threads at once")
                            .observed(format!("right after ThreadPool::new(\"ledger\", 3) returned, the process had {} threads named ledger-*: {ledger:?} (expected ledger-0, ledger-1, ledger-2)", ledger.len()))
                            .why("The pool's threads are started by new, not by the first submit and not one per task: that is what makes it a pool of reusable threads.")
                            .hint(HINT_WORKER)
                    })?;
                }
                let names: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(Vec::new()));
                let all_in = Arc::new((Mutex::new(0usize), Condvar::new()));
                steps.at(
                    "3 tasks that each note their thread's name and wait until all 3 have started",
                );
                let handles: Vec<_> = (0..3)
                    .map(|_| {
                        let (names, all_in) = (names.clone(), all_in.clone());
                        pool.submit(move || {
                            names
                                .lock()
                                .unwrap()
                                .push(thread::current().name().map(str::to_string));
                            let (count, cv) = &*all_in;
                            let mut n = count.lock().unwrap();
                            *n += 1;
                            cv.notify_all();
                            let _ = cv.wait_timeout_while(n, PATIENCE, |n| *n < 3).unwrap();
                        })
                        .unwrap()
                    })
                    .collect();
                for h in handles {
                    h.wait();
                }
                steps.at("30 more tasks noting their thread's name");
                let more: Vec<_> = (0..30)
                    .map(|_| {
                        let names = names.clone();
                        pool.submit(move || {
                            names
                                .lock()
                                .unwrap()
                                .push(thread::current().name().map(str::to_string))
                        })
                        .unwrap()
                    })
                    .collect();
                for h in more {
                    h.wait();
                }
                let seen = names.lock().unwrap().clone();
                let mut first: Vec<Option<String>> = seen[..3].to_vec();
                first.sort();
                let want: Vec<Option<String>> =
                    (0..3).map(|i| Some(format!("ledger-{i}"))).collect();
                let strangers: Vec<&Option<String>> =
                    seen.iter().filter(|n| !want.contains(n)).collect();
                ensure(first == want && strangers.is_empty(), || {
                    Finding::new("the workers are threads named \"{name}-{i}\", and every task runs on one of them")
                        .observed(format!("ThreadPool::new(\"ledger\", 3): three tasks that waited for each other ran on threads named {first:?} (expected {want:?}); of 33 tasks, {} ran on other threads ({:?})", strangers.len(), strangers.iter().take(3).collect::<Vec<_>>()))
                        .why("Names are how a thread is found in a debugger, a panic message or a profiler. They are given when the thread is spawned: thread::Builder::new().name(format!(\"{name}-{i}\")).spawn(...). A task running on an unnamed or unknown thread was not run by one of the pool's workers.")
                        .hint(HINT_WORKER)
                })?;
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                Ok(())
            },
        )
    }

    // -----------------------------------------------------------------------------------------
    // Stress.

    pub fn stats_consistent_8_submitters() -> Outcome {
        const SUBMITTERS: usize = 8;
        const EACH: usize = 1500;
        scripted(
            "stats_consistent_8_submitters",
            Duration::from_secs(40),
            "A submit or a result that never returns while 8 threads submit: a lock held too long (a task run under the pool's lock) or a handle never completed.",
            HINT_WORKER,
            |steps| {
                let seed = Rng::from_clock().seed();
                let pool = Arc::new(ThreadPool::new("stress", 4));
                let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..SUBMITTERS * EACH).map(|_| AtomicUsize::new(0)).collect());
                let stop = Arc::new(AtomicBool::new(false));
                let reader = {
                    let (pool, stop) = (pool.clone(), stop.clone());
                    thread::spawn(move || {
                        let mut reads = 0u64;
                        let mut last = Stats::default();
                        while !stop.load(SeqCst) {
                            let s = pool.stats();
                            reads += 1;
                            if let Some(problem) = stats_problem(&s) {
                                return Err(format!("read {reads}: {problem}"));
                            }
                            let monotone = s.submitted >= last.submitted && s.completed >= last.completed && s.failed >= last.failed && s.cancelled >= last.cancelled;
                            if !monotone {
                                return Err(format!("read {reads} gave {s:?} after read {} gave {last:?}: a count of finished tasks went down", reads - 1));
                            }
                            if s.running > 4 {
                                return Err(format!("read {reads}: {s:?} has {} running on a pool of 4 workers", s.running));
                            }
                            last = s;
                        }
                        Ok(reads)
                    })
                };
                steps.at(format!("seed {seed}: {SUBMITTERS} threads submitting {EACH} tasks each (every 11th panics, every 7th is cancelled at once) while a ninth reads stats()"));
                let submitters: Vec<_> = (0..SUBMITTERS)
                    .map(|t| {
                        let (pool, ran) = (pool.clone(), ran.clone());
                        thread::spawn(move || {
                            let mut rng = Rng::seeded(seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                            let mut mine = Vec::with_capacity(EACH);
                            for k in 0..EACH {
                                let id = t * EACH + k;
                                let ran = ran.clone();
                                let spin = rng.below(50);
                                let h = pool
                                    .submit(move || {
                                        ran[id].fetch_add(1, SeqCst);
                                        let mut x = id as u64;
                                        for _ in 0..spin {
                                            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                                        }
                                        if id % 11 == 0 {
                                            panic!("task told to panic: {id}");
                                        }
                                        std::hint::black_box(x);
                                        id
                                    })
                                    .expect("the pool is open");
                                let cancelled = id % 7 == 0 && h.cancel();
                                mine.push((id, h, cancelled));
                            }
                            mine
                        })
                    })
                    .collect();
                let mut all = Vec::new();
                for s in submitters {
                    all.extend(s.join().map_err(|p| Finding::new("submit and cancel return without panicking").observed(format!("a submitting thread panicked: {}", panic_text(&*pass_on_todo(p)))))?);
                }
                let (mut completed, mut failed, mut cancelled) = (0u64, 0u64, 0u64);
                for (id, h, was_cancelled) in all {
                    steps.at(format!("seed {seed}: waiting for task {id}'s result (stats() = {:?})", pool.stats()));
                    let got = h.result();
                    let runs = ran[id].load(SeqCst);
                    let fine = match &got {
                        Err(TaskError::Cancelled) => was_cancelled && runs == 0,
                        Err(TaskError::Panicked(m)) => !was_cancelled && runs == 1 && id % 11 == 0 && *m == format!("{TOLD}: {id}"),
                        Ok(v) => !was_cancelled && runs == 1 && *v == id && id % 11 != 0,
                    };
                    if !fine {
                        return Err(Finding::new("every task is accounted for once: it ran once and gave its outcome, or was cancelled and never ran")
                            .observed(format!("seed {seed}: task {id} (cancel() returned {was_cancelled}) gave {got:?} and its closure ran {runs} time(s)"))
                            .why("A task run twice was handed to two workers (the queue popped outside its lock); a cancelled task that ran, or a task whose cancel said true but completed anyway, had its cancel and its start decided under different locks.")
                            .hint(HINT_CANCEL));
                    }
                    match got {
                        Ok(_) => completed += 1,
                        Err(TaskError::Panicked(_)) => failed += 1,
                        Err(TaskError::Cancelled) => cancelled += 1,
                    }
                }
                stop.store(true, SeqCst);
                let reads = reader.join().map_err(|p| Finding::new("stats() returns without panicking").observed(format!("the thread reading stats() panicked: {}", panic_text(&*pass_on_todo(p)))))?;
                let reads = reads.map_err(|problem| inconsistent_stats(format!("seed {seed}: {SUBMITTERS} threads submitted {EACH} tasks each while a ninth thread read stats() in a loop: {problem}")))?;
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                let total = (SUBMITTERS * EACH) as u64;
                expect_stats(&pool, &format!("seed {seed}: after {total} tasks ({reads} reads of stats() on the way)"), stats(total, 0, 0, completed, failed, cancelled), HINT_CANCEL)
            },
        )
    }

    pub fn cancel_storm() -> Outcome {
        const ROUNDS: usize = 150;
        const TASKS: usize = 40;
        scripted(
            "cancel_storm",
            Duration::from_secs(40),
            "A cancel() or a result() that never returns while the workers start the tasks being cancelled.",
            HINT_CANCEL,
            |steps| {
                let pool = ThreadPool::new("storm", 3);
                let (mut total_cancelled, mut total_ran) = (0u64, 0u64);
                for round in 0..ROUNDS {
                    let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
                    let handles: Vec<TaskHandle<usize>> = (0..TASKS)
                        .map(|i| {
                            let ran = ran.clone();
                            pool.submit(move || {
                                ran[i].fetch_add(1, SeqCst);
                                i
                            })
                            .unwrap()
                        })
                        .collect();
                    // Cancel each task twice, right behind the workers that are starting them
                    // (front to back), or towards them (back to front), by turns.
                    steps.at(format!("round {round}: cancelling {TASKS} tasks while 3 workers start them"));
                    let backwards = round % 2 == 1;
                    let mut said = vec![(false, false); TASKS];
                    for k in 0..TASKS {
                        let i = if backwards { TASKS - 1 - k } else { k };
                        let first = handles[i].cancel();
                        said[i] = (first, handles[i].cancel());
                    }
                    for (i, h) in handles.into_iter().enumerate() {
                        steps.at(format!("round {round}: result() of task {i}"));
                        let got = h.result();
                        let runs = ran[i].load(SeqCst);
                        let (first, second) = said[i];
                        let fine = if first || second {
                            first && second && runs == 0 && got == Err(TaskError::Cancelled)
                        } else {
                            runs == 1 && got == Ok(i)
                        };
                        if !fine {
                            return Err(Finding::new("a cancel racing a worker: the task either ran or was cancelled, never both, never neither")
                                .observed(format!("round {round}, task {i}: two cancel() calls in a row returned {first} and {second}, the closure ran {runs} time(s), result() = {got:?}"))
                                .why(if first != second {
                                    "Two cancels of the same task, one right after the other, disagreed. Once a cancel has said true the task is cancelled for good and every later cancel says true too; once it has said false (started), it never becomes true."
                                } else {
                                    "The cancel and the worker's start decided on the task's phase under different locks (or one looked in one lock section and changed it in another): both saw it queued, both went ahead."
                                })
                                .fix("Decide and mark in one lock section, on both sides: cancel locks, sees Queued, sets Cancelled; the worker locks, sees Queued, sets Running; whichever gets the lock first wins and the other sees the new phase.")
                                .hint(HINT_CANCEL));
                        }
                        total_ran += runs as u64;
                        total_cancelled += first as u64;
                    }
                }
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                expect_stats(&pool, &format!("after {ROUNDS} rounds of {TASKS} tasks in which {total_cancelled} were cancelled"), stats((ROUNDS * TASKS) as u64, 0, 0, total_ran, 0, total_cancelled), HINT_CANCEL)
            },
        )
    }

    /// Four threads wait on one handle (two with wait, two with wait_timeout): the finish must
    /// wake them all, not only the one a notify_one picks.
    pub fn every_waiter_wakes() -> Outcome {
        const ROUNDS: usize = 10;
        const WAITERS: usize = 4;
        scripted(
            "every_waiter_wakes",
            Duration::from_secs(30),
            "A thread waiting on a handle whose task has finished.",
            HINT_SLOT,
            |steps| {
                let pool = ThreadPool::new("waiters", 2);
                for round in 0..ROUNDS {
                    let gate = Gate::new();
                    let g = gate.clone();
                    let h = Arc::new(pool.submit(move || g.wait(PATIENCE)).unwrap());
                    let woke = Arc::new(AtomicUsize::new(0));
                    let waiters: Vec<thread::JoinHandle<bool>> = (0..WAITERS)
                        .map(|k| {
                            let (h, woke) = (h.clone(), woke.clone());
                            thread::spawn(move || {
                                let done = if k % 2 == 0 {
                                    h.wait();
                                    true
                                } else {
                                    h.wait_timeout(Duration::from_secs(60))
                                };
                                woke.fetch_add(1, SeqCst);
                                done
                            })
                        })
                        .collect();
                    // Let all four fall asleep in their waits, then let the task finish.
                    thread::sleep(Duration::from_millis(50));
                    steps.at(format!("round {round}: {WAITERS} threads waiting on one handle (2 in wait(), 2 in wait_timeout(60 s)) after its task finished"));
                    gate.open();
                    let deadline = Instant::now() + PATIENCE;
                    while woke.load(SeqCst) < WAITERS && Instant::now() < deadline {
                        thread::sleep(Duration::from_millis(5));
                    }
                    let awake = woke.load(SeqCst);
                    if awake < WAITERS {
                        return Err(Finding::new("a task's finish wakes every thread waiting on its handle")
                            .observed(format!("round {round}: {WAITERS} threads were waiting on one handle (2 in wait(), 2 in wait_timeout(60 s)); {} s after the task finished, {awake} of them had returned", PATIENCE.as_secs()))
                            .why("wait and wait_timeout take &self, so any number of threads may wait on one handle, all on the slot's Condvar. notify_one wakes one of them; the others sleep on, though the task is done, until a notify that never comes.")
                            .fix("notify_all when the slot finishes (value, panic or cancel): every waiter wakes, finds it finished and returns.")
                            .hint(HINT_SLOT));
                    }
                    for (k, w) in waiters.into_iter().enumerate() {
                        if !w.join().unwrap_or(true) {
                            return Err(Finding::new("wait_timeout returns true when the task finishes in time")
                                .observed(format!("round {round}: waiter {k}'s wait_timeout(60 s) returned false, though the task finished within {} s", PATIENCE.as_secs()))
                                .hint(HINT_SLOT));
                        }
                    }
                }
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                Ok(())
            },
        )
    }

    pub fn shutdown_races_submitters() -> Outcome {
        const ROUNDS: usize = 40;
        scripted(
            "shutdown_races_submitters",
            Duration::from_secs(40),
            "shutdown has to return once the running tasks finish (it joins the workers): a worker left asleep on the Condvar (notify_one instead of notify_all, or no notify) is never joined.",
            HINT_SHUTDOWN,
            |steps| {
                for round in 0..ROUNDS {
                    let mode = if round % 2 == 0 { Pending::Run } else { Pending::Cancel };
                    let pool = Arc::new(ThreadPool::new("racing", 2));
                    let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..4 * 4000).map(|_| AtomicUsize::new(0)).collect());
                    let started = Arc::new(AtomicUsize::new(0));
                    let submitters: Vec<_> = (0..4)
                        .map(|t| {
                            let (pool, ran, started) = (pool.clone(), ran.clone(), started.clone());
                            thread::spawn(move || {
                                let mut mine = Vec::new();
                                started.fetch_add(1, SeqCst);
                                for k in 0..4000 {
                                    let id = t * 4000 + k;
                                    let ran = ran.clone();
                                    match pool.submit(move || {
                                        ran[id].fetch_add(1, SeqCst);
                                        id
                                    }) {
                                        Ok(h) => mine.push((id, h)),
                                        Err(ShutDown) => return (mine, true),
                                    }
                                }
                                (mine, false)
                            })
                        })
                        .collect();
                    while started.load(SeqCst) < 4 {
                        thread::yield_now();
                    }
                    thread::sleep(Duration::from_micros(300));
                    steps.at(format!("round {round}: shutdown({mode:?}) while 4 threads submit"));
                    pool.shutdown(mode);
                    let mut accepted = 0u64;
                    let (mut completed, mut cancelled) = (0u64, 0u64);
                    let mut results = Vec::new();
                    for s in submitters {
                        let (mine, refused) = s.join().unwrap();
                        accepted += mine.len() as u64;
                        results.push((mine, refused));
                    }
                    // Every accepted task was queued before the pool closed: shutdown has already
                    // run or cancelled it.
                    for (mine, _) in &results {
                        for (id, h) in mine {
                            if !h.is_done() {
                                return Err(Finding::new("once shutdown has returned, every task it accepted is done")
                                    .observed(format!("round {round}: after shutdown({mode:?}) returned, task {id} (accepted by submit) was not done; stats() = {:?}", pool.stats()))
                                    .why(if mode == Pending::Cancel {
                                        "Pending::Cancel must complete every queued task's handle as Cancelled. Emptying the queue without that leaves those handles waiting forever: nobody will ever finish them."
                                    } else {
                                        "Pending::Run lets the workers empty the queue before they leave, and shutdown joins them: by the time it returns every queued task has run. A shutdown that returns before joining (or a worker that leaves while tasks are queued) breaks that."
                                    })
                                    .hint(HINT_SHUTDOWN));
                            }
                        }
                    }
                    for (mine, _) in results {
                        for (id, h) in mine {
                            let got = h.result();
                            let runs = ran[id].load(SeqCst);
                            let fine = match (&got, mode) {
                                (Ok(v), _) => *v == id && runs == 1,
                                (Err(TaskError::Cancelled), Pending::Cancel) => runs == 0,
                                _ => false,
                            };
                            if !fine {
                                return Err(Finding::new("shutdown runs (Pending::Run) or cancels (Pending::Cancel) each queued task, exactly once")
                                    .observed(format!("round {round}: after shutdown({mode:?}), task {id} gave {got:?} and ran {runs} time(s)"))
                                    .hint(HINT_SHUTDOWN));
                            }
                            if got.is_ok() {
                                completed += 1;
                            } else {
                                cancelled += 1;
                            }
                        }
                    }
                    let refused = pool.submit(|| 0).map(|_| ());
                    ensure(refused == Err(ShutDown), || {
                        Finding::new("submit returns Err(ShutDown) once the pool is shut down").observed(format!("round {round}: after shutdown, submit gave {refused:?}"))
                            .hint(HINT_SHUTDOWN)
                    })?;
                    expect_stats(&pool, &format!("round {round}: after shutdown({mode:?}) raced 4 submitters ({accepted} tasks accepted)"), stats(accepted, 0, 0, completed, 0, cancelled), HINT_SHUTDOWN)?;
                }
                Ok(())
            },
        )
    }

    pub fn as_completed_yields_each_once() -> Outcome {
        const ROUNDS: usize = 20;
        const TASKS: usize = 60;
        scripted(
            "as_completed_yields_each_once",
            Duration::from_secs(40),
            "The as_completed iterator waits for a task that has finished (or been cancelled) but never told it: a listener registered after the task finished (look and register in two lock sections), or a finish (or a cancel) that does not notify the listeners.",
            HINT_AS_COMPLETED,
            |steps| {
                let seed = Rng::from_clock().seed();
                let pool = Arc::new(ThreadPool::new("completing", 4));
                for round in 0..ROUNDS {
                    steps.at(format!("seed {seed}, round {round}: two threads each iterating as_completed over {TASKS} tasks (some panic, some cancelled)"));
                    let iterators: Vec<_> = (0..2u64)
                        .map(|t| {
                            let pool = pool.clone();
                            thread::spawn(move || {
                                let mut rng = Rng::seeded(seed ^ (round as u64 * 2 + t + 1).wrapping_mul(0x9E37_79B9));
                                let mut handles = Vec::new();
                                let mut cancelled = 0;
                                for i in 0..TASKS {
                                    let pause = rng.below(200);
                                    let panics = rng.chance(10);
                                    let h = pool.submit(move || {
                                        thread::sleep(Duration::from_micros(pause));
                                        if panics {
                                            panic!("task told to panic: {i}");
                                        }
                                        i
                                    }).unwrap();
                                    if rng.chance(10) && h.cancel() {
                                        cancelled += 1;
                                    }
                                    handles.push(h);
                                }
                                let mut seen = vec![0usize; TASKS];
                                let (mut yielded, mut cancels, mut not_done) = (0, 0, 0);
                                for h in as_completed(handles) {
                                    yielded += 1;
                                    if !h.is_done() {
                                        not_done += 1;
                                    }
                                    match h.result() {
                                        Ok(i) => seen[i] += 1,
                                        Err(TaskError::Panicked(m)) => match m.rsplit_once(": ").and_then(|(_, i)| i.parse::<usize>().ok()) {
                                            Some(i) if i < TASKS => seen[i] += 1,
                                            _ => return Err(format!("a task gave Panicked({m:?})")),
                                        },
                                        Err(TaskError::Cancelled) => cancels += 1,
                                    }
                                }
                                let twice = seen.iter().filter(|&&n| n > 1).count();
                                let missing = seen.iter().filter(|&&n| n == 0).count() as i64 - cancels as i64;
                                if yielded != TASKS || not_done > 0 || twice > 0 || missing != 0 || cancels != cancelled {
                                    return Err(format!("as_completed over {TASKS} handles ({cancelled} cancelled) yielded {yielded} handles; {not_done} of them not done when yielded; {twice} tasks yielded twice, {missing} never; {cancels} Cancelled results"));
                                }
                                Ok(())
                            })
                        })
                        .collect();
                    for it in iterators {
                        it.join().unwrap().map_err(|problem| {
                            Finding::new("as_completed yields every handle exactly once, each as soon as its task is done (cancelled counts as done)")
                                .observed(format!("seed {seed}, round {round}: {problem}"))
                                .why("Each finish (a value, a panic or a cancel) must reach the iterator once, and the iterator must hand out each handle once, only after its task is done.")
                                .hint(HINT_AS_COMPLETED)
                        })?;
                    }
                }
                steps.at("shutdown(Pending::Run)");
                pool.shutdown(Pending::Run);
                Ok(())
            },
        )
    }

    // -----------------------------------------------------------------------------------------
    // Timing.

    pub fn runs_exactly_workers_at_once() -> Outcome {
        /// How long a task waits for the others to join it (only a broken pool ever waits it out).
        const MEET: Duration = Duration::from_millis(500);
        for workers in [2usize, 4] {
            let tasks = 3 * workers;
            let gauge = Arc::new(Gauge::new());
            let gave_up = Arc::new(AtomicBool::new(false));
            let closing = Arc::new(AtomicBool::new(false));
            let (g, gu, cl) = (gauge.clone(), gave_up.clone(), closing.clone());
            let outcome = within("the gauge check", Duration::from_secs(10), move || {
                let pool = ThreadPool::new("gauge", workers);
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let (g, gu) = (g.clone(), gu.clone());
                        pool.submit(move || {
                            let _inside = g.enter();
                            let clock = Instant::now();
                            // Wait for the pool to be full (until one task has waited in vain).
                            while g.max() < workers && !gu.load(SeqCst) {
                                if clock.elapsed() >= MEET {
                                    gu.store(true, SeqCst);
                                }
                                thread::sleep(Duration::from_millis(1));
                            }
                            thread::sleep(Duration::from_millis(3));
                        })
                        .unwrap()
                    })
                    .collect();
                for h in handles {
                    h.wait();
                }
                cl.store(true, SeqCst);
                pool.shutdown(Pending::Run);
            });
            match outcome {
                Ran::Returned(..) => {}
                Ran::Panicked(payload) => {
                    return Err(Finding::new("the pool runs its tasks").observed(format!(
                        "{tasks} tasks on ThreadPool::new(\"gauge\", {workers}) panicked: {}",
                        panic_text(&*pass_on_todo(payload))
                    )))
                }
                Ran::Hung if closing.load(SeqCst) => {
                    return Err(shutdown_hung(format!("{tasks} tasks on a pool of {workers} finished, but shutdown(Pending::Run) had not returned well after")))
                }
                Ran::Hung => {
                    return Err(Finding::new("every submitted task runs")
                        .observed(format!("{tasks} short tasks on a pool of {workers} had not all finished after 10 s (at most {} ran at once)", gauge.max()))
                        .hint(HINT_WORKER))
                }
            }
            let max = gauge.max();
            ensure(max == workers, || {
                Finding::new("a pool of n workers runs exactly n tasks at once when it has them")
                    .observed(format!("{tasks} tasks, each waiting up to {} ms for the others, on ThreadPool::new(\"gauge\", {workers}): at most {max} ran at the same time (expected {workers})", MEET.as_millis()))
                    .why(if max > workers {
                        "More tasks ran at once than there are workers: each task got its own thread (thread::spawn in submit) instead of a place in the queue. A pool bounds the number of threads; that is its point (and what makes it cheap: the threads are made once, and reused)."
                    } else {
                        "Fewer tasks ran at once than there are workers: the workers run the tasks one at a time. A task run while holding the pool's lock (or any lock every worker needs) serialises the whole pool."
                    })
                    .fix("Start exactly `workers` threads in new; each loops: lock, wait while the queue is empty and the pool open, pop, unlock, run.")
                    .hint(HINT_WORKER)
            })?;
        }
        Ok(())
    }

    pub fn as_completed_in_finishing_order() -> Outcome {
        // Planned lengths: they finish in the order 1, 3, 2, 0, at least 70 ms apart.
        const LENGTHS_MS: [u64; 4] = [240, 20, 160, 90];
        /// Ends closer than this are not judged: a finish is noticed a little after the task's end.
        const MARGIN: Duration = Duration::from_millis(40);
        let t0 = Instant::now();
        let ends: Arc<Mutex<Vec<Option<Duration>>>> = Arc::new(Mutex::new(vec![None; 4]));
        let e = ends.clone();
        let closing = Arc::new(AtomicBool::new(false));
        let cl = closing.clone();
        let outcome = within("as_completed", Duration::from_secs(6), move || {
            let pool = ThreadPool::new("order", 4);
            let gate = Gate::new();
            let handles: Vec<_> = LENGTHS_MS
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let (gate, e) = (gate.clone(), e.clone());
                    pool.submit(move || {
                        gate.wait(PATIENCE);
                        thread::sleep(Duration::from_millis(len));
                        e.lock().unwrap()[i] = Some(t0.elapsed());
                        i
                    })
                    .unwrap()
                })
                .collect();
            // The tasks start only once the iterator exists, so every finish happens while it
            // listens.
            let iterator = as_completed(handles);
            gate.open();
            let mut order = Vec::new();
            for h in iterator {
                let at = t0.elapsed();
                order.push((h.result(), at));
            }
            cl.store(true, SeqCst);
            pool.shutdown(Pending::Run);
            order
        });
        let ends: Vec<Option<Duration>> = ends.lock().unwrap().clone();
        let order = match outcome {
            Ran::Returned(order, _) => order,
            Ran::Panicked(payload) => {
                return Err(Finding::new("as_completed yields the handles").observed(format!(
                    "as_completed over 4 tasks panicked: {}",
                    panic_text(&*pass_on_todo(payload))
                )))
            }
            Ran::Hung if closing.load(SeqCst) => {
                return Err(shutdown_hung("as_completed yielded all 4 tasks, but shutdown(Pending::Run) of their pool had not returned 6 s after they started".to_string()))
            }
            Ran::Hung => {
                return Err(Finding::new("as_completed yields every handle, as its task finishes")
                    .observed(format!("iterating as_completed over 4 tasks of {LENGTHS_MS:?} ms had not ended after 6 s; the tasks ended at {:?} ms", ends.iter().map(|e| e.map(|d| d.as_millis())).collect::<Vec<_>>()))
                    .why("The iterator sleeps until a task tells it that it finished. A task that finished without telling it (its listener registered too late, or never called) leaves it asleep for good.")
                    .hint(HINT_AS_COMPLETED))
            }
        };
        let yielded: Vec<Option<usize>> = order.iter().map(|(r, _)| r.clone().ok()).collect();
        let show = || {
            format!(
                "tasks of {LENGTHS_MS:?} ms started together ended at {:?} ms and as_completed yielded them in the order {yielded:?}, at {:?} ms",
                ends.iter().map(|e| e.map(|d| d.as_millis())).collect::<Vec<_>>(),
                order.iter().map(|(_, at)| at.as_millis()).collect::<Vec<_>>()
            )
        };
        ensure(
            yielded.len() == 4 && yielded.iter().all(Option::is_some),
            || {
                Finding::new("as_completed yields each handle once, with its task's result")
                    .observed(show())
            },
        )?;
        let yielded: Vec<usize> = yielded.iter().flatten().copied().collect();
        let end = |i: usize| ends[i].unwrap_or(Duration::MAX);
        for a in 0..4 {
            for b in a + 1..4 {
                let (first, later) = (yielded[a], yielded[b]);
                if end(later) + MARGIN < end(first) {
                    return Err(Finding::new("as_completed yields the handles in the order their tasks finish")
                        .observed(show())
                        .why(format!("Task {later} ended {} before task {first} but was yielded after it. Waiting on the handles one by one, in the order they were given, yields them in submission order: the iterator sleeps on the slowest first task while the others are done.", ms(end(first) - end(later))))
                        .fix("Let each task tell the iterator when it finishes: a listener (a Mutex<VecDeque<usize>> of finished indexes and a Condvar) registered in every slot; a finishing task pushes its index and notifies; next() waits while the VecDeque is empty and yields the front.")
                        .hint(HINT_AS_COMPLETED));
                }
            }
        }
        // The first handle must come out before the longest task ends: yielded as it finishes,
        // not all at the end.
        let (first_out, longest_end) = (order[0].1, end(0));
        ensure(first_out < longest_end, || {
            Finding::new("as_completed yields each handle as soon as its task finishes, not all at the end")
                .observed(show())
                .why("The first handle came out only after the longest task had ended: the iterator waited for every task before yielding any.")
                .hint(HINT_AS_COMPLETED)
        })
    }

    pub fn waiting_does_not_spin() -> Outcome {
        const HOLD: Duration = Duration::from_millis(150);
        // Two sleeping waiters use ~0% of a core; a polling one gets a good part of a core even
        // on a busy machine.
        const MAX_SHARE: f64 = 0.15;
        type Waiter = fn(TaskHandle<u32>) -> Option<u32>;
        let ways: [(&str, Waiter, u32); 4] = [
            (
                "wait()",
                |h| {
                    h.wait();
                    h.result().ok()
                },
                HINT_SLOT,
            ),
            (
                "wait_timeout(10 s)",
                |h| {
                    if h.wait_timeout(Duration::from_secs(10)) {
                        h.result().ok()
                    } else {
                        None
                    }
                },
                HINT_SLOT,
            ),
            ("result()", |h| h.result().ok(), HINT_SLOT),
            (
                "as_completed(..).next()",
                |h| as_completed(vec![h]).next().and_then(|h| h.result().ok()),
                HINT_AS_COMPLETED,
            ),
        ];
        for (what, way, hint) in ways {
            let gate = Gate::new();
            let pool = Arc::new(ThreadPool::new("sleepy", 2));
            let handles: Vec<TaskHandle<u32>> = (0..2)
                .map(|i| {
                    let gate = gate.clone();
                    pool.submit(move || {
                        gate.wait(Duration::from_secs(5));
                        i
                    })
                    .unwrap()
                })
                .collect();
            let waiters: Vec<_> = handles
                .into_iter()
                .map(|h| thread::spawn(move || way(h)))
                .collect();
            thread::sleep(Duration::from_millis(30));
            let watch = Stopwatch::start();
            thread::sleep(HOLD);
            let (cpu, wall) = (watch.cpu(), watch.wall());
            gate.open();
            let deadline = Instant::now() + PATIENCE;
            while !waiters.iter().all(|w| w.is_finished()) {
                if Instant::now() >= deadline {
                    return Err(Finding::new("a waiter wakes when its task finishes")
                        .observed(format!("two threads in {what} on tasks that were then let go were still waiting {} s later; stats() = {:?}", PATIENCE.as_secs(), pool.stats()))
                        .why("The finish must notify (notify_all) the Condvar the waiter sleeps on, after storing the outcome under the same lock the waiter checks it under.")
                        .hint(hint));
                }
                thread::sleep(Duration::from_millis(5));
            }
            let got: Vec<Option<u32>> = waiters
                .into_iter()
                .map(|w| w.join().unwrap_or(None))
                .collect();
            ensure(got == [Some(0), Some(1)], || {
                Finding::new("waiting gives the task's result")
                    .observed(format!("two threads in {what} then result() got {got:?}, expected [Some(0), Some(1)]"))
                    .hint(hint)
            })?;
            let share = cpu.as_secs_f64() / wall.as_secs_f64();
            ensure(share <= MAX_SHARE, || {
                Finding::new("a thread waiting for a task sleeps instead of polling")
                    .observed(format!("while two threads waited in {what} for tasks that were blocked, the process used {} of CPU time in {} ({:.0}% of a core; sleeping waiters use ~0%, the limit is {:.0}%)", ms(cpu), ms(wall), share * 100.0, MAX_SHARE * 100.0))
                    .why("A loop of is_done() (with yield_now, or nothing) burns a core for as long as the task runs, and on a busy machine it takes that core from the very task it waits for.")
                    .fix(if what.starts_with("as_completed") {
                        "Sleep on a Condvar: register a listener in each handle's slot (under the slot's lock) that a finishing task notifies; next() waits on the listener's Condvar while nothing has finished."
                    } else {
                        "Wait on the slot's Condvar: `while !finished { guard = cv.wait(guard).unwrap(); }`; the worker stores the outcome and calls notify_all under the same lock."
                    })
                    .hint(hint)
            })?;
            shut(
                "shutdown(Pending::Run) of a pool of 2 whose tasks are done",
                move || pool.shutdown(Pending::Run),
            )?;
        }
        Ok(())
    }

    pub fn panics_dont_kill_workers() -> Outcome {
        quiet_panics_starting_with(TOLD);
        let pool = Arc::new(ThreadPool::new("hardy", 2));
        let before = thread_count();
        for round in 0..2 {
            let panics: Vec<_> = (0..4)
                .map(|i| {
                    pool.submit(move || -> u32 { panic!("task told to panic: {i}") })
                        .unwrap()
                })
                .collect();
            for (i, h) in panics.iter().enumerate() {
                done_within(
                    h,
                    &format!("round {round}: panicking task {i} of 4 on a pool of 2"),
                    &pool,
                    PATIENCE,
                    DEAD_WORKERS,
                    HINT_PANIC,
                )?;
            }
            // Two tasks that need each other: both workers must still be there.
            let gauge = Arc::new(Gauge::new());
            let pair: Vec<_> = (0..2)
                .map(|_| {
                    let gauge = gauge.clone();
                    pool.submit(move || {
                        let _inside = gauge.enter();
                        let clock = Instant::now();
                        while gauge.max() < 2 && clock.elapsed() < Duration::from_secs(1) {
                            thread::sleep(Duration::from_millis(1));
                        }
                    })
                    .unwrap()
                })
                .collect();
            for (i, h) in pair.iter().enumerate() {
                done_within(
                    h,
                    &format!("round {round}: task {i} of 2 submitted after 4 panicking tasks"),
                    &pool,
                    PATIENCE,
                    DEAD_WORKERS,
                    HINT_PANIC,
                )?;
            }
            ensure(gauge.max() == 2, || {
                Finding::new("a worker lives on after its task panics")
                    .observed(format!("round {round}: after 4 panicking tasks on a pool of 2, two tasks that wait for each other ran {} at a time", gauge.max()))
                    .why(DEAD_WORKERS)
                    .hint(HINT_PANIC)
            })?;
        }
        if let (Some(before), Some(after)) = (before, thread_count()) {
            ensure(after == before, || {
                Finding::new("a panicking task costs no thread")
                    .observed(format!("the process had {before} threads before 8 panicking tasks on a pool of 2 and {after} after"))
                    .why("The worker catches the panic (catch_unwind) and goes on with the next task: no thread dies, none is started.")
                    .hint(HINT_PANIC)
            })?;
        }
        expect_stats(
            &pool,
            "after 8 panicking tasks and 4 others",
            stats(12, 0, 0, 4, 8, 0),
            HINT_PANIC,
        )?;
        shut(
            "shutdown(Pending::Run) of a pool of 2 whose tasks are done",
            move || pool.shutdown(Pending::Run),
        )
    }

    pub fn shutdown_run_and_cancel() -> Outcome {
        quiet_panics_starting_with(TOLD);
        for mode in [Pending::Run, Pending::Cancel] {
            let pool = Arc::new(ThreadPool::new("shut", 1));
            let (started, gate) = (Gate::new(), Gate::new());
            let (st, g) = (started.clone(), gate.clone());
            let a = pool
                .submit(move || {
                    st.open();
                    g.wait(Duration::from_secs(5));
                    thread::sleep(Duration::from_millis(20));
                    1
                })
                .unwrap();
            ensure(started.wait(PATIENCE), || {
                Finding::new("a submitted task starts on an idle worker").observed(format!(
                    "task A on a fresh pool of 1 had not started after {} s",
                    PATIENCE.as_secs()
                ))
            })?;
            let ran: Arc<Vec<AtomicBool>> =
                Arc::new((0..2).map(|_| AtomicBool::new(false)).collect());
            let queued: Vec<_> = (0..2)
                .map(|i| {
                    let ran = ran.clone();
                    pool.submit(move || {
                        ran[i].store(true, SeqCst);
                        10 + i
                    })
                    .unwrap()
                })
                .collect();
            let returned = Arc::new(AtomicBool::new(false));
            let shutter = {
                let (pool, returned) = (pool.clone(), returned.clone());
                thread::spawn(move || {
                    pool.shutdown(mode);
                    returned.store(true, SeqCst);
                })
            };
            // Refused from the moment shutdown begins: try until refused (a submit accepted
            // before the flag went up must be honoured like the others).
            let clock = Instant::now();
            let mut extra = Vec::new();
            loop {
                match pool.submit(|| 99) {
                    Err(ShutDown) => break,
                    Ok(h) => extra.push(h),
                }
                if clock.elapsed() > PATIENCE {
                    return Err(Finding::new("submit returns Err(ShutDown) from the moment shutdown begins")
                        .observed(format!("while shutdown({mode:?}) was waiting for a running task, submit kept accepting tasks for {} s ({} accepted)", PATIENCE.as_secs(), extra.len()))
                        .why("shutdown closes the pool first (a flag under the pool's lock), then waits for the workers; a task accepted while it waits may never run.")
                        .hint(HINT_SHUTDOWN));
                }
                thread::sleep(Duration::from_millis(1));
            }
            thread::sleep(Duration::from_millis(30));
            ensure(!returned.load(SeqCst), || {
                Finding::new("shutdown returns only after the running tasks finished and every worker was joined")
                    .observed(format!("shutdown({mode:?}) returned while task A was still running (the check had not let it go)"))
                    .why("shutdown promises that when it returns, the pool's threads are gone: keep the JoinHandles from new and join every one, after waking them (notify_all) so they see the pool closed.")
                    .hint(HINT_SHUTDOWN)
            })?;
            gate.open();
            let deadline = Instant::now() + PATIENCE;
            while !returned.load(SeqCst) {
                if Instant::now() >= deadline {
                    return Err(Finding::new("shutdown returns once the running tasks finished")
                        .observed(format!("shutdown({mode:?}) on a pool of 1 had not returned {} s after its running task was let go; stats() = {:?}", PATIENCE.as_secs(), pool.stats()))
                        .why("The worker that finishes its task must see the pool closed and leave its loop: it looks at the flag each time it finds the queue empty, and it sleeps on a Condvar shutdown notifies (notify_all). If shutdown waits for the handles of tasks it dropped, it waits forever.")
                        .hint(HINT_SHUTDOWN));
                }
                thread::sleep(Duration::from_millis(2));
            }
            let _ = shutter.join();
            let not_done: Vec<usize> = queued
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.is_done())
                .map(|(i, _)| i)
                .collect();
            ensure(a.is_done() && not_done.is_empty(), || {
                Finding::new("once shutdown has returned, every task it accepted is done")
                    .observed(format!("after shutdown({mode:?}) returned: the running task done: {}; queued tasks not done: {not_done:?}", a.is_done()))
                    .why(if mode == Pending::Cancel {
                        "Pending::Cancel must complete each queued task's handle as Cancelled (and wake its waiters). Dropping the queue leaves those handles waiting for a task nobody will run."
                    } else {
                        "Pending::Run lets the workers run every queued task before they leave."
                    })
                    .hint(HINT_SHUTDOWN)
            })?;
            let ra = a.result();
            let rq: Vec<Result<usize, TaskError>> =
                queued.into_iter().map(TaskHandle::result).collect();
            let runs: Vec<bool> = ran.iter().map(|r| r.load(SeqCst)).collect();
            let (want, want_runs) = match mode {
                Pending::Run => (vec![Ok(10), Ok(11)], vec![true, true]),
                Pending::Cancel => (
                    vec![Err(TaskError::Cancelled), Err(TaskError::Cancelled)],
                    vec![false, false],
                ),
            };
            ensure(ra == Ok(1) && rq == want && runs == want_runs, || {
                Finding::new(match mode {
                    Pending::Run => "shutdown(Pending::Run) lets the running task finish and runs the queued ones",
                    Pending::Cancel => "shutdown(Pending::Cancel) lets the running task finish and cancels the queued ones (they never run)",
                })
                .observed(format!("one task running, two queued, then shutdown({mode:?}): the running one gave {ra:?}, the queued ones {rq:?}, and the queued closures ran: {runs:?}"))
                .hint(HINT_SHUTDOWN)
            })?;
            let extra_n = extra.len() as u64;
            for h in extra {
                let got = h.result();
                ensure(
                    got == Ok(99) || (mode == Pending::Cancel && got == Err(TaskError::Cancelled)),
                    || {
                        Finding::new("a task accepted before shutdown closed the pool is run or cancelled like any other")
                        .observed(format!("a task accepted while shutdown({mode:?}) began gave {got:?}"))
                        .hint(HINT_SHUTDOWN)
                    },
                )?;
            }
            let s = pool.stats();
            ensure(
                s.submitted == 3 + extra_n
                    && s.pending == 0
                    && s.running == 0
                    && stats_problem(&s).is_none()
                    && s.completed >= if mode == Pending::Run { 3 } else { 1 }
                    && s.cancelled >= if mode == Pending::Cancel { 2 } else { 0 },
                || {
                    Finding::new("stats() counts every task once, in the phase it is in")
                    .observed(format!("after shutdown({mode:?}) with one task running and two queued: stats() = {s:?}"))
                    .hint(HINT_SHUTDOWN)
                },
            )?;
        }
        Ok(())
    }

    pub fn no_thread_left_behind() -> Outcome {
        let outcome = within("no_thread_left_behind", Duration::from_secs(10), || {
            let shut = threads_left_behind(Duration::from_secs(1), || {
                let pool = ThreadPool::new("leaving", 4);
                let handles: Vec<_> = (0..20).map(|i| pool.submit(move || i).unwrap()).collect();
                for h in handles {
                    h.wait();
                }
                // Every worker back asleep on the empty queue: shutdown must wake all of them
                // (without the pause, a worker still finishing its last task sees the pool
                // closed by itself, and a shutdown that wakes only one can pass).
                thread::sleep(Duration::from_millis(100));
                pool.shutdown(Pending::Run);
            });
            let dropped = threads_left_behind(Duration::from_secs(1), || {
                let pool = ThreadPool::new("dropped", 3);
                let handles: Vec<_> = (0..10)
                    .map(|i| {
                        pool.submit(move || {
                            thread::sleep(Duration::from_millis(2));
                            i
                        })
                        .unwrap()
                    })
                    .collect();
                drop(pool);
                handles.iter().filter(|h| !h.is_done()).count()
            });
            (shut, dropped)
        });
        let (shut, dropped) = match outcome {
            Ran::Returned(v, _) => {
                every_thread_joined("shutdown", "ThreadPool::new(\"leaving\", 4), 20 tasks and shutdown(Pending::Run), then ThreadPool::new(\"dropped\", 3), 10 tasks and drop(pool)").map_err(|f| f.hint(HINT_SHUTDOWN))?;
                v
            }
            Ran::Panicked(payload) => {
                return Err(Finding::new("shutdown and drop return without panicking")
                    .observed(panic_text(&*pass_on_todo(payload))))
            }
            Ran::Hung => {
                return Err(Finding::new("shutdown and drop return")
                    .observed("a pool of 4 that ran 20 tasks and was shut down, then a pool of 3 with 10 tasks that was dropped, had not finished within 10 s")
                    .why("shutdown (and Drop, which is shutdown(Pending::Run)) joins the workers: each must be woken (notify_all) to see the pool closed and leave.")
                    .hint(HINT_SHUTDOWN))
            }
        };
        if let Some((before, after, ())) = shut {
            ensure(after <= before, || {
                Finding::new("after shutdown no thread of the pool is left")
                    .observed(format!("{before} threads before ThreadPool::new(\"leaving\", 4), 20 tasks and shutdown(Pending::Run); {after} a second after shutdown returned"))
                    .why("Every worker leaves its loop once the pool is closed and its queue empty, and shutdown joins each of them.")
                    .hint(HINT_SHUTDOWN)
            })?;
        }
        if let Some((before, after, not_done)) = dropped {
            ensure(after <= before && not_done == 0, || {
                Finding::new("dropping a pool is shutdown(Pending::Run): its queued tasks run and its threads are joined")
                    .observed(format!("ThreadPool::new(\"dropped\", 3) with 10 queued tasks, then drop(pool): when drop returned, {not_done} of the tasks were not done; the process had {before} threads before the pool and {after} a second after the drop"))
                    .why("A pool that is dropped without shutting down leaves its workers asleep on the Condvar forever (or dropping the queue leaves handles waiting forever).")
                    .fix("impl Drop for ThreadPool { fn drop(&mut self) { self.shutdown(Pending::Run) } }")
                    .hint(HINT_SHUTDOWN)
            })?;
        }
        Ok(())
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use grader_harness::model;
    use thread_pool::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use thread_pool::sync::Arc;
    use thread_pool::{as_completed, Pending, Stats, TaskError, ThreadPool};

    /// Notes what the main thread of the execution is doing, for a deadlock loom finds (see
    /// grader_harness::model); the pool's own workers can't be noted from here.
    fn doing(what: impl Into<String>) {
        model::doing(0, format!("the main thread was {}", what.into()));
        model::doing(1, "the pool's workers were asleep waiting for work");
    }

    /// Explores `f` (bound: preemptions); a deadlock becomes `explain(what main was doing)`.
    fn model<F>(check: &'static str, bound: usize, explain: fn(String) -> Finding, f: F) -> Outcome
    where
        F: Fn() + Sync + Send + 'static,
    {
        explore_explaining(check, Some(bound), explain, f)
    }

    fn never_completed(observed: String) -> Finding {
        Finding::new("every task's handle is completed: whoever waits for it wakes")
            .observed(observed)
            .why("The waiter sleeps on a Condvar until the task's slot says finished. If the finish (a value, a panic or a cancel) is stored without a notify, or a notify is sent before the waiter registered and the waiter looked in another lock section, or the task was dropped without finishing its slot, nothing ever wakes it.")
            .hint(HINT_SLOT)
    }

    pub fn model_stats_two_tasks() -> Outcome {
        model("model_stats_two_tasks", 2, never_completed, || {
            doing("in ThreadPool::new(\"model\", 2) and two submits");
            let pool = ThreadPool::new("model", 2);
            let a = pool.submit(|| 1u32).unwrap();
            let b = pool.submit(|| 2u32).unwrap();
            doing("in stats() while two workers run the two tasks");
            let s = pool.stats();
            if let Some(problem) = stats_problem(&s) {
                inconsistent_stats(format!("in one interleaving, stats() read while two workers ran two tasks gave {problem}")).raise();
            }
            if s.submitted != 2 || s.running > 2 {
                inconsistent_stats(format!("in one interleaving, after two submits stats() gave {s:?} (submitted must be 2, running at most 2)")).raise();
            }
            doing("in result() of the first task");
            let ra = a.result();
            doing("in result() of the second task");
            let rb = b.result();
            if ra != Ok(1) || rb != Ok(2) {
                Finding::new("result() returns the task's value")
                    .observed(format!("in one interleaving, tasks || 1 and || 2 on two workers gave {ra:?} and {rb:?}"))
                    .hint(HINT_SLOT)
                    .raise();
            }
            doing("in shutdown(Pending::Run)");
            pool.shutdown(Pending::Run);
            let s = pool.stats();
            let want = Stats {
                submitted: 2,
                completed: 2,
                ..Stats::default()
            };
            if s != want {
                inconsistent_stats(format!("in one interleaving, after two tasks and shutdown, stats() gave {s:?}, expected {want:?}")).raise();
            }
        })
    }

    pub fn model_cancel_races_start() -> Outcome {
        model("model_cancel_races_start", 3, never_completed, || {
            doing("in ThreadPool::new(\"model\", 1) and submit");
            let pool = ThreadPool::new("model", 1);
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let h = pool.submit(move || r.store(true, SeqCst)).unwrap();
            doing("in cancel(), racing the worker that starts the task");
            let cancelled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.cancel()))
                .unwrap_or_else(|payload| {
                    let text = panic_text(&*pass_on_todo(payload));
                    Finding::new("a cancel racing the worker's start: exactly one wins")
                        .observed(format!("in one interleaving on a pool of 1, cancel() panicked while the worker started the same task: {text}"))
                        .why(if text.contains("overflow") {
                            "A count went below zero: the task was taken out of `pending` twice, once by the worker that started it and once by the cancel. The cancel looked at the phase (queued) in one lock section and counted and marked it in another, after the worker had started it."
                        } else {
                            "A panic in cancel() stops the check; read the message."
                        })
                        .fix("Decide and mark in one lock section, the one the worker starts the task in: the phase and the counts change together, under the same lock, on both sides.")
                        .hint(HINT_CANCEL)
                        .raise()
                });
            doing(format!("in result() after cancel() returned {cancelled}"));
            let got = h.result();
            doing("in shutdown(Pending::Run)");
            pool.shutdown(Pending::Run);
            let ran = ran.load(SeqCst);
            let s = pool.stats();
            let fine = if cancelled {
                got == Err(TaskError::Cancelled) && !ran && s.cancelled == 1 && s.completed == 0
            } else {
                got == Ok(()) && ran && s.cancelled == 0 && s.completed == 1
            };
            if !fine || stats_problem(&s).is_some() || s.pending + s.running != 0 {
                Finding::new("a cancel racing the worker's start: exactly one wins")
                    .observed(format!("in one interleaving on a pool of 1: cancel() returned {cancelled}, result() gave {got:?}, the closure ran: {ran}; stats() after shutdown = {s:?}"))
                    .why("The cancel looked at the task's phase in one lock section and marked it cancelled in another (or under another lock than the worker's start): the worker started the task in between, so both went ahead.")
                    .fix("Decide and mark in one lock section, the one the worker starts the task in: Queued -> Cancelled (cancel) and Queued -> Running (worker) are both made holding the same lock, and whichever comes second sees the other's phase.")
                    .hint(HINT_CANCEL)
                    .raise();
            }
        })
    }

    pub fn model_as_completed_no_lost_wakeup() -> Outcome {
        let lost: fn(String) -> Finding = |observed| {
            Finding::new("as_completed never misses a task that finishes while it registers")
                .observed(observed)
                .why("as_completed looked at the task (not finished yet), let go of the slot's lock, and then registered its listener; the task finished in between and notified a list of listeners that did not have it yet. The iterator then sleeps for a finish that already happened: a lost wakeup.")
                .fix("Look and register in one lock section of the slot: lock it, if finished push the index to the listener at once, else add the listener to the slot; the worker finishes the slot (and calls its listeners) under that same lock.")
                .hint(HINT_AS_COMPLETED)
        };
        model("model_as_completed_no_lost_wakeup", 3, lost, || {
            doing("in ThreadPool::new(\"model\", 1) and submit");
            let pool = ThreadPool::new("model", 1);
            let h = pool.submit(|| 7u32).unwrap();
            doing("in as_completed(vec![handle]), racing the worker that finishes the task");
            let mut it = as_completed(vec![h]);
            doing("in the first next() of as_completed over one task, which the worker finishes");
            let first = it.next().map(|h| h.result());
            doing("in the second next() of as_completed over one task");
            let second = it.next().is_some();
            if first != Some(Ok(7)) || second {
                Finding::new("as_completed over one task yields it once")
                    .observed(format!("in one interleaving, next() gave {first:?}, and a second next() gave a handle: {second}"))
                    .hint(HINT_AS_COMPLETED)
                    .raise();
            }
            doing("in shutdown(Pending::Run)");
            pool.shutdown(Pending::Run);
        })
    }

    pub fn model_shutdown_cancel_races_worker() -> Outcome {
        let hung: fn(String) -> Finding = |observed| {
            Finding::new("shutdown(Pending::Cancel) returns once the running task finished, with every handle done")
                .observed(observed)
                .why("shutdown waits (joins) for the workers; a worker asleep on the Condvar that nobody notified after the pool closed never leaves its loop. Or a handle of a task shutdown took off the queue was never completed.")
                .hint(HINT_SHUTDOWN)
        };
        model("model_shutdown_cancel_races_worker", 3, hung, || {
            doing("in ThreadPool::new(\"model\", 1) and two submits");
            let pool = ThreadPool::new("model", 1);
            let ran: Arc<Vec<AtomicBool>> =
                Arc::new(vec![AtomicBool::new(false), AtomicBool::new(false)]);
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let ran = ran.clone();
                    pool.submit(move || {
                        ran[i].store(true, SeqCst);
                        i
                    })
                    .unwrap()
                })
                .collect();
            doing("in shutdown(Pending::Cancel), racing the worker that starts the tasks");
            pool.shutdown(Pending::Cancel);
            let done: Vec<bool> = handles.iter().map(|h| h.is_done()).collect();
            if done != [true, true] {
                Finding::new("once shutdown has returned, every task it accepted is done")
                    .observed(format!("in one interleaving on a pool of 1 with two tasks, after shutdown(Pending::Cancel) returned the handles were done: {done:?}"))
                    .why("Pending::Cancel completes every queued task as Cancelled, and the worker finishes the one it is running before shutdown joins it. A task taken off the queue and dropped leaves its handle waiting forever.")
                    .hint(HINT_SHUTDOWN)
                    .raise();
            }
            doing("in result() of the two tasks after shutdown");
            let got: Vec<Result<usize, TaskError>> =
                handles.into_iter().map(|h| h.result()).collect();
            let runs = [ran[0].load(SeqCst), ran[1].load(SeqCst)];
            let s = pool.stats();
            let each_fine = (0..2).all(|i| match &got[i] {
                Ok(v) => *v == i && runs[i],
                Err(TaskError::Cancelled) => !runs[i],
                Err(_) => false,
            });
            let fifo = !runs[1] || runs[0];
            let completed = got.iter().filter(|r| r.is_ok()).count() as u64;
            let counted = s
                == Stats {
                    submitted: 2,
                    completed,
                    cancelled: 2 - completed,
                    ..Stats::default()
                };
            if !each_fine || !fifo || !counted {
                Finding::new("shutdown(Pending::Cancel) racing a worker: each task either ran or was cancelled, and the counts agree")
                    .observed(format!("in one interleaving on a pool of 1, tasks 0 and 1 then shutdown(Pending::Cancel): results {got:?}, closures ran {runs:?}, stats() = {s:?}"))
                    .why("Emptying the queue and the worker's start are decided under the pool's lock: a task the worker took is running and finishes; a task still queued is cancelled, counted once as cancelled, and never runs. Tasks start in FIFO order.")
                    .hint(HINT_CANCEL)
                    .raise();
            }
        })
    }
}
