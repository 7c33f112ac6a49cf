//! Lesson 06 checks: an Event, a Semaphore (plain and bounded), a reusable Barrier and a stoppable
//! ticker (`Periodic`), each built from a Mutex and a Condvar.
//!
//! Compiled by the grader into a harness together with the crate under test (`coordination`).
//! The hints they point to are numbered as in curriculum.toml: 1 state vs event (the generation),
//! 2 who to wake (notify_all / notify_one), 3 the semaphore (one lock section, Drop, bounded),
//! 4 the barrier (generation, arrival index), 5 the ticker (wait_timeout, catch_unwind, join).
//!
//! Every call that may block goes through a watchdog (`within`, or a deadline on a helper thread's
//! progress), so a missed wakeup is reported as what it is, not as the runner's time limit.

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::event_set_clear_wait_timeout),
    check!(unit, std_checks::semaphore_counts_and_forget),
    check!(unit, std_checks::bounded_over_release_refused),
    check!(unit, std_checks::barrier_of_one_never_blocks),
    check!(unit, std_checks::barrier_arrival_indices),
    check!(unit, std_checks::periodic_panicking_tick_reported),
    check!(stress, std_checks::event_pulses_reach_every_waiter),
    check!(stress, std_checks::semaphore_limit_holds_8_threads),
    check!(stress, std_checks::barrier_8_threads_200_rounds),
    check!(
        timing,
        std_checks::blocked_waiters_dont_spin,
        measures = cpu
    ),
    check!(
        timing,
        std_checks::permit_drop_wakes_waiter_promptly,
        measures = wall
    ),
    check!(timing, std_checks::periodic_keeps_cadence, measures = wall),
    check!(timing, std_checks::periodic_stop_is_prompt, measures = wall),
    check!(
        timing,
        std_checks::periodic_stop_waits_for_running_tick,
        measures = wall
    ),
    check!(timing, std_checks::no_thread_left_behind, measures = wall),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::model_set_wakes_every_waiter),
    check!(model, model_checks::model_pulse_not_lost),
    check!(model, model_checks::model_semaphore_limit),
    check!(model, model_checks::model_release_wakes_waiter),
    check!(model, model_checks::model_barrier_2_parties_2_rounds),
    check!(model, model_checks::model_barrier_3_parties_1_round),
];

/// An Event waiter stayed asleep although the flag was set while it waited.
fn event_waiter_stranded(observed: String) -> Finding {
    Finding::new("a set() wakes every thread waiting on the Event, even if clear() follows at once")
        .observed(observed)
        .why("Two ways to strand a waiter. `notify_one` in set wakes one waiter and leaves the others asleep. And a waiter that loops on the flag itself (`while !state.set { wait }`) misses a pulse: set wakes it, but before it runs again clear() has put the flag back, so it sees false and goes back to sleep. It waited for an *event* (a set happened) but checked a *state* (the flag is up now), and the state did not last.")
        .fix("Keep a generation counter next to the flag; set() bumps it and calls notify_all. A waiter notes the generation when it starts and waits `while state.generation == seen`: once a set has happened the count has moved for good, whatever clear() does afterwards.")
        .hint(1)
}

/// More threads held permits at once than the semaphore has.
fn limit_broken(observed: String) -> Finding {
    Finding::new("no more threads hold a permit at once than the semaphore has permits")
        .observed(observed)
        .why("If acquire looks at the count in one lock section and takes the permit in another, two threads can both see one permit free between the two sections and both take it (check-then-act). The count then goes below zero: a usize wraps around to a huge number, and from then on everybody gets in.")
        .fix("Wait and take under one guard: `while *available == 0 { available = cv.wait(available).unwrap(); } *available -= 1;` and only then let go of the lock.")
        .hint(3)
}

/// A barrier let a thread through before every party had arrived.
fn barrier_ran_ahead(observed: String) -> Finding {
    Finding::new("no thread leaves a barrier round before every party has arrived in it")
        .observed(observed)
        .why("A barrier that remembers only a state (\"the gate is open\", \"count reached parties\") cannot tell one round from the next. A gate left open lets the next round's first arrival straight through; a count or flag reset by the next round strands the waiters of the last round that had not run yet.")
        .fix("Count rounds: `generation` goes up by one when the last party arrives (which also resets the arrival count and calls notify_all). A waiter notes the generation on arrival and waits `while state.generation == mine`.")
        .hint(4)
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use coordination::{Barrier, Event, OverRelease, Periodic, Semaphore};
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};

    /// How long a correct primitive gets to wake a thread once it may go on. Wakeups take
    /// microseconds; the rest is room for a machine that is busy with other work.
    const PROMPT: Duration = Duration::from_secs(3);
    /// Panics the checks cause on purpose start with this, so the harness doesn't print them.
    const ON_PURPOSE: &str = "on purpose:";

    /// Calls `f` on a helper thread and waits at most `limit`. A panic (a todo!() too) is passed
    /// on; a hang becomes the finding `hung` builds.
    fn bounded<T: Send + 'static>(
        what: &str,
        limit: Duration,
        f: impl FnOnce() -> T + Send + 'static,
        hung: impl FnOnce() -> Finding,
    ) -> Result<(T, Duration), Finding> {
        match within(what, limit, f) {
            Ran::Returned(value, took) => Ok((value, took)),
            Ran::Panicked(payload) => panic::resume_unwind(payload),
            Ran::Hung => Err(hung()),
        }
    }

    /// Waits until `cond` holds or `limit` passes; whether it held.
    fn eventually(limit: Duration, cond: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut spins = 0u32;
        loop {
            if cond() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            spins += 1;
            if spins < 200 {
                thread::yield_now();
            } else {
                thread::sleep(Duration::from_micros(100));
            }
        }
    }

    /// Waits until every handle finished or `limit` passed; how many are still running.
    fn still_running<T>(handles: &[JoinHandle<T>], limit: Duration) -> usize {
        eventually(limit, || handles.iter().all(|h| h.is_finished()));
        handles.iter().filter(|h| !h.is_finished()).count()
    }

    /// Joins every handle; a panic in one of them is passed on (it is the code under test's).
    fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| panic::resume_unwind(p)))
            .collect()
    }

    /// Runs `f`, expecting a panic; a todo!() reached inside is passed on.
    fn panics(f: impl FnOnce()) -> bool {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => false,
            Err(payload) => {
                pass_on_todo(payload);
                true
            }
        }
    }

    fn secs(d: Duration) -> String {
        format!("{} s", d.as_secs())
    }

    // ----- unit -----------------------------------------------------------------------------

    pub fn event_set_clear_wait_timeout() -> Outcome {
        let e = Arc::new(Event::new());
        ensure(!e.is_set() && e.waiting() == 0, || {
            Finding::new("a new Event is clear and has no waiters").observed(format!(
                "Event::new(): is_set() = {}, waiting() = {}",
                e.is_set(),
                e.waiting()
            ))
        })?;
        let timeout = Duration::from_millis(20);
        let (got, took) = {
            let e = e.clone();
            bounded(
                "wait_timeout",
                PROMPT,
                move || e.wait_timeout(timeout),
                || {
                    Finding::new("wait_timeout returns once its time is up")
                        .observed(format!("wait_timeout(20 ms) on a clear Event had not returned after {}", secs(PROMPT)))
                        .fix("Wait with `cv.wait_timeout(guard, deadline - now)` in a loop that ends when the deadline has passed.")
                        .hint(1)
                },
            )?
        };
        ensure(!got, || {
            Finding::new("wait_timeout returns false when the flag was never set")
                .observed(format!("wait_timeout(20 ms) on a clear Event that nobody set returned true after {}", ms(took)))
                .why("Condvar::wait_timeout returns a WaitTimeoutResult whose timed_out() is true when the time ran out: that is the opposite of what wait_timeout must return.")
                .fix("Return whether the Event was set (the generation moved, or the flag was up at the start), not whether the wait timed out.")
                .hint(1)
        })?;
        ensure(took >= timeout.mul_f64(0.9), || {
            Finding::new("wait_timeout waits out its whole timeout when nothing happens")
                .observed(format!(
                    "wait_timeout(20 ms) on a clear Event returned false after {}",
                    ms(took)
                ))
                .why("A condvar wait can end early for no reason (a spurious wakeup); a single wait_timeout call is not enough.")
                .fix("Compute the deadline once, and loop: wait for `deadline - now` until the Event is set or the deadline has passed.")
                .hint(1)
        })?;
        e.set();
        e.set();
        ensure(e.is_set(), || {
            Finding::new("set raises the flag, and setting twice is harmless")
                .observed("after set(); set(), is_set() = false")
        })?;
        {
            let e = e.clone();
            bounded(
                "wait",
                PROMPT,
                move || e.wait(),
                || {
                    Finding::new("wait returns at once when the flag is already set")
                        .observed(format!(
                            "wait() on a set Event had not returned after {}",
                            secs(PROMPT)
                        ))
                        .fix("Look at the flag before waiting: if it is set, return.")
                        .hint(1)
                },
            )?;
        }
        let (got, _) = {
            let e = e.clone();
            bounded(
                "wait_timeout",
                PROMPT,
                move || e.wait_timeout(Duration::from_millis(10)),
                || {
                    Finding::new("wait_timeout returns at once when the flag is already set")
                        .observed(format!(
                            "wait_timeout(10 ms) on a set Event had not returned after {}",
                            secs(PROMPT)
                        ))
                        .hint(1)
                },
            )?
        };
        ensure(got, || {
            Finding::new("wait_timeout returns true when the flag is already set")
                .observed("wait_timeout(10 ms) on a set Event returned false")
                .why("The flag was set before the call: there is nothing to wait for, and the answer is true.")
                .hint(1)
        })?;
        e.clear();
        ensure(!e.is_set(), || {
            Finding::new("clear lowers the flag").observed("after clear(), is_set() = true")
        })?;
        let (got, took) = {
            let e = e.clone();
            bounded(
                "wait_timeout",
                PROMPT,
                move || e.wait_timeout(timeout),
                || {
                    Finding::new("wait_timeout returns once its time is up").observed(format!(
                        "wait_timeout(20 ms) after set and clear had not returned after {}",
                        secs(PROMPT)
                    ))
                },
            )?
        };
        ensure(!got, || {
            Finding::new("wait_timeout returns false when the flag was cleared before the call")
                .observed(format!("after set() then clear(), wait_timeout(20 ms) returned true after {}", ms(took)))
                .why("A set that happened before the call began is not an event this waiter waited for: only the flag as it is at the start, and sets during the call, count.")
                .fix("Note the generation when the call starts; return true only if the flag is up at the start or the generation moves during the call.")
                .hint(1)
        })?;
        // Set while the call waits: true, and promptly.
        let waiter = {
            let e = e.clone();
            thread::spawn(move || {
                let started = Instant::now();
                (e.wait_timeout(Duration::from_secs(30)), started.elapsed())
            })
        };
        if !eventually(PROMPT, || e.waiting() == 1 || waiter.is_finished()) {
            return Err(Finding::new("waiting() counts the threads blocked in wait_timeout")
                .observed(format!("a thread called wait_timeout(30 s) on a clear Event; {} later waiting() still said {}", secs(PROMPT), e.waiting()))
                .fix("Add one to `waiting` under the lock before the wait loop and take it off after, in wait and in wait_timeout.")
                .hint(1));
        }
        if waiter.is_finished() {
            let (got, took) = join_all(vec![waiter]).pop().unwrap();
            return Err(Finding::new("wait_timeout blocks while the flag is clear")
                .observed(format!("wait_timeout(30 s) on a clear Event returned {got} after {} without anyone calling set()", ms(took)))
                .hint(1));
        }
        e.set();
        if still_running(std::slice::from_ref(&waiter), PROMPT) > 0 {
            return Err(event_waiter_stranded(format!(
                "a thread in wait_timeout(30 s) was still waiting {} after set()",
                secs(PROMPT)
            )));
        }
        let (got, _) = join_all(vec![waiter]).pop().unwrap();
        ensure(got, || {
            Finding::new("wait_timeout returns true when the flag is set during the call")
                .observed(
                    "a thread waiting in wait_timeout(30 s) was woken by set() and returned false",
                )
                .why("It returned because of the set, so the Event was set during the call.")
                .hint(1)
        })?;
        ensure(e.waiting() == 0, || {
            Finding::new("waiting() counts only the threads blocked right now").observed(format!(
                "after the only waiter returned, waiting() = {}",
                e.waiting()
            ))
        })
    }

    pub fn semaphore_counts_and_forget() -> Outcome {
        let count = |s: &Semaphore, after: &str, expected: usize| {
            let got = s.available();
            ensure(got == expected, || {
                Finding::new("available() counts the free permits")
                    .observed(format!(
                        "Semaphore::new(3), {after}: available() = {got}, expected {expected}"
                    ))
                    .hint(3)
            })
        };
        let s = Semaphore::new(3);
        count(&s, "nothing taken", 3)?;
        let a = s.acquire();
        count(&s, "after acquire()", 2)?;
        let Some(b) = s.try_acquire() else {
            return Err(Finding::new("try_acquire takes a free permit")
                .observed("with 2 permits free, try_acquire() returned None")
                .hint(3));
        };
        let Some(c) = s.acquire_timeout(Duration::from_millis(10)) else {
            return Err(Finding::new("acquire_timeout takes a free permit at once")
                .observed("with 1 permit free, acquire_timeout(10 ms) returned None")
                .hint(3));
        };
        count(&s, "after acquire, try_acquire and acquire_timeout", 0)?;
        if s.try_acquire().is_some() {
            return Err(
                Finding::new("try_acquire returns None when no permit is free")
                    .observed("with all 3 permits taken, try_acquire() returned a permit")
                    .hint(3),
            );
        }
        let started = Instant::now();
        if s.acquire_timeout(Duration::from_millis(20)).is_some() {
            return Err(Finding::new("acquire_timeout returns None when no permit comes free in time")
                .observed("with all 3 permits taken and nobody giving one back, acquire_timeout(20 ms) returned a permit")
                .hint(3));
        }
        let took = started.elapsed();
        ensure(took >= Duration::from_millis(18), || {
            Finding::new("acquire_timeout waits out its timeout before giving up")
                .observed(format!(
                    "with no permit free, acquire_timeout(20 ms) gave up after {}",
                    ms(took)
                ))
                .fix("Loop until the deadline: a condvar wait can end early for no reason.")
                .hint(3)
        })?;
        drop(b);
        count(&s, "3 taken, then one permit dropped", 1)?;
        a.forget();
        count(&s, "then another permit forgotten", 1)?;
        ensure(s.release() == Ok(()), || {
            Finding::new("release on a plain semaphore always succeeds")
                .observed("Semaphore::new(3).release() after forget() returned Err(OverRelease)")
                .hint(3)
        })?;
        count(&s, "then release()", 2)?;
        drop(c);
        count(&s, "then the last permit dropped", 3)?;
        ensure(s.release() == Ok(()) && s.available() == 4, || {
            Finding::new("a plain (unbounded) semaphore may be released above its start")
                .observed(format!(
                    "Semaphore::new(3) with 3 free: release() then available() = {}, expected 4",
                    s.available()
                ))
                .why("Only Semaphore::bounded refuses releases (Python's Semaphore vs BoundedSemaphore).")
                .hint(3)
        })?;
        // A permit held by a panicking thread comes back while it unwinds.
        quiet_panics_starting_with(ON_PURPOSE);
        let s = Semaphore::new(1);
        let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
            let _permit = s.acquire();
            panic!("{ON_PURPOSE} a panic while holding a permit");
        }));
        if let Err(payload) = unwound {
            pass_on_todo(payload);
        }
        ensure(s.available() == 1, || {
            Finding::new("a permit comes back when its holder panics")
                .observed(format!("Semaphore::new(1): a thread took the permit and panicked; available() is now {}", s.available()))
                .why("Drop runs while a panic unwinds the stack, so a permit that gives itself back in Drop cannot leak.")
                .fix("Give the permit back in `impl Drop for Permit`, not in a method the holder must remember to call.")
                .hint(3)
        })?;
        let empty = Semaphore::new(0);
        let got = empty.try_acquire().is_some();
        ensure(!got, || {
            Finding::new("try_acquire returns None when no permit is free")
                .observed("Semaphore::new(0).try_acquire() returned a permit")
                .hint(3)
        })
    }

    pub fn bounded_over_release_refused() -> Outcome {
        let s = Semaphore::bounded(2);
        let over = |after: &str, r: Result<(), OverRelease>, avail: usize| {
            ensure(r == Err(OverRelease) && avail == 2, || {
                Finding::new("release on a full bounded semaphore returns Err(OverRelease) and changes nothing")
                    .observed(format!("Semaphore::bounded(2), {after}: release() returned {r:?} and available() is {avail}, expected Err(OverRelease) and 2"))
                    .why("A bounded semaphore exists to catch a bug: a release with no permit given up to match it (Python's BoundedSemaphore raises ValueError). Letting it through raises the limit for good.")
                    .fix("In release, under the lock: if the semaphore is bounded and `available` is already at the bound, return Err(OverRelease) before touching the count.")
                    .hint(3)
            })
        };
        let r = s.release();
        over("with both permits free", r, s.available())?;
        s.acquire().forget();
        ensure(s.available() == 1, || {
            Finding::new("a forgotten permit stays taken").observed(format!(
                "Semaphore::bounded(2) after acquire().forget(): available() = {}, expected 1",
                s.available()
            ))
        })?;
        let r = s.release();
        ensure(r == Ok(()) && s.available() == 2, || {
            Finding::new("release gives back a forgotten permit")
                .observed(format!("Semaphore::bounded(2), one permit forgotten: release() returned {r:?}, available() = {}, expected Ok(()) and 2", s.available()))
                .hint(3)
        })?;
        let r = s.release();
        over("after a forget and its release", r, s.available())?;
        drop(s.acquire());
        let r = s.release();
        over("after a permit was taken and dropped", r, s.available())
    }

    pub fn barrier_of_one_never_blocks() -> Outcome {
        let (report, _) = bounded(
            "Barrier::wait",
            PROMPT,
            || {
                let b = Barrier::new(1);
                let indices: Vec<usize> = (0..100).map(|_| b.wait()).collect();
                (b.parties(), b.n_waiting(), indices)
            },
            || {
                Finding::new("a barrier of one party never blocks")
                    .observed(format!("100 calls of wait() on Barrier::new(1) had not returned after {}", secs(PROMPT)))
                    .why("With one party, every caller is the last to arrive: it completes the round and goes on.")
                    .fix("Handle the last arrival first: when `arrived == parties` after counting yourself, start the next round and return without waiting.")
                    .hint(4)
            },
        )?;
        let (parties, waiting, indices) = report;
        ensure(
            parties == 1 && waiting == 0 && indices.iter().all(|&i| i == 0),
            || {
                let odd: Vec<usize> = indices
                    .iter()
                    .copied()
                    .filter(|&i| i != 0)
                    .take(5)
                    .collect();
                Finding::new("a barrier of one party returns index 0 every round")
                    .observed(format!("Barrier::new(1): parties() = {parties}, n_waiting() = {waiting}, wait() returned {} non-zero indices (first: {odd:?})", indices.iter().filter(|&&i| i != 0).count()))
                    .hint(4)
            },
        )?;
        ensure(panics(|| drop(Barrier::new(0))), || {
            Finding::new("Barrier::new(0) panics")
                .observed("Barrier::new(0) returned a barrier")
                .why("A round of zero parties can never be completed by anyone who calls wait.")
                .fix("`assert!(parties > 0, \"...\")` at the top of `new`.")
        })
    }

    pub fn barrier_arrival_indices() -> Outcome {
        let b = Arc::new(Barrier::new(3));
        ensure(b.parties() == 3 && b.n_waiting() == 0, || {
            Finding::new("a new barrier knows its parties and has no waiters").observed(format!(
                "Barrier::new(3): parties() = {}, n_waiting() = {}",
                b.parties(),
                b.n_waiting()
            ))
        })?;
        for round in 1..=3 {
            // The helpers arrive one at a time, in an order that changes each round; the check's
            // own thread is always last.
            let names = if round % 2 == 1 {
                ["A", "B"]
            } else {
                ["B", "A"]
            };
            let mut helpers = Vec::new();
            for (k, name) in names.iter().enumerate() {
                let h = {
                    let b = b.clone();
                    thread::spawn(move || b.wait())
                };
                let arrived = eventually(PROMPT, || b.n_waiting() == k + 1 || h.is_finished());
                if h.is_finished() {
                    let got = join_all(vec![h]).pop().unwrap();
                    return Err(barrier_ran_ahead(format!(
                        "round {round} of Barrier::new(3): thread {name} arrived {} and its wait() returned {got} at once, with only {k} other thread(s) waiting",
                        if k == 0 { "first" } else { "second" }
                    )));
                }
                if !arrived {
                    return Err(Finding::new("n_waiting() counts the threads blocked in the current round")
                        .observed(format!("round {round} of Barrier::new(3): {} thread(s) were blocked in wait(), but n_waiting() said {}", k + 1, b.n_waiting()))
                        .fix("n_waiting is the arrival count of the current round: counted under the lock on arrival, reset to 0 when the last party arrives.")
                        .hint(4));
                }
                helpers.push(h);
            }
            thread::sleep(Duration::from_millis(5));
            if helpers.iter().any(|h| h.is_finished()) {
                return Err(barrier_ran_ahead(format!(
                    "round {round} of Barrier::new(3): with 2 of 3 parties arrived, a waiting thread's wait() returned"
                )));
            }
            let (last, _) = {
                let b = b.clone();
                bounded(
                    "Barrier::wait",
                    PROMPT,
                    move || b.wait(),
                    || {
                        Finding::new("the last party to arrive does not block")
                        .observed(format!("round {round} of Barrier::new(3): 2 threads were waiting, and the third call of wait() had not returned after {}", secs(PROMPT)))
                        .why("The last arrival completes the round: it releases the others and goes on at once. If it waits too, nobody is left to wake anyone.")
                        .fix("Count yourself in; if that makes `parties`, start the next round, notify_all and return your index without waiting.")
                        .hint(4)
                    },
                )?
            };
            let left = still_running(&helpers, PROMPT);
            if left > 0 {
                return Err(Finding::new("the last arrival releases every waiting party")
                    .observed(format!("round {round} of Barrier::new(3): {left} of the 2 waiting threads were still blocked {} after the third party arrived", secs(PROMPT)))
                    .why("notify_one wakes one of the waiters; the others sleep on although their round is over.")
                    .fix("The last arrival calls notify_all.")
                    .hint(2));
            }
            let got: Vec<usize> = join_all(helpers);
            let (first, second) = (got[0], got[1]);
            ensure(first == 0 && second == 1 && last == 2, || {
                Finding::new("wait returns the caller's arrival index in its round")
                    .observed(format!("round {round} of Barrier::new(3): thread {} arrived first, {} second, the check's thread last; their wait() returned {first}, {second} and {last}, expected 0, 1 and 2", names[0], names[1]))
                    .why("The index has to be taken on arrival, under the lock, from the count of arrivals so far. Read after waking, the count already belongs to the next round (it was reset, or others have arrived since).")
                    .fix("`let index = state.arrived; state.arrived += 1;` before deciding whether to wait, and return that index.")
                    .hint(4)
            })?;
            ensure(b.n_waiting() == 0, || {
                Finding::new("n_waiting() counts the threads blocked in the current round")
                    .observed(format!(
                        "after round {round} of Barrier::new(3) completed, n_waiting() = {}",
                        b.n_waiting()
                    ))
                    .hint(4)
            })?;
        }
        Ok(())
    }

    pub fn periodic_panicking_tick_reported() -> Outcome {
        quiet_panics_starting_with(ON_PURPOSE);
        // A healthy ticker: stop counts its ticks.
        let ran = Arc::new(AtomicU64::new(0));
        let p = {
            let ran = ran.clone();
            Periodic::start(Duration::from_millis(2), move || {
                ran.fetch_add(1, SeqCst);
            })
        };
        ensure(p.is_running(), || {
            Finding::new("is_running() is true while the ticker runs")
                .observed("right after Periodic::start, is_running() = false")
                .hint(5)
        })?;
        eventually(PROMPT, || ran.load(SeqCst) >= 3);
        let (stopped, _) = bounded(
            "Periodic::stop",
            PROMPT,
            move || p.stop(),
            || {
                Finding::new("stop returns promptly")
                    .observed(format!(
                        "stop() on a 2 ms ticker had not returned after {}",
                        secs(PROMPT)
                    ))
                    .hint(5)
            },
        )?;
        let counted = ran.load(SeqCst);
        ensure(stopped == Ok(counted), || {
            Finding::new("stop returns Ok(number of ticks run)")
                .observed(format!("a 2 ms ticker ran its tick {counted} times; stop() returned {stopped:?}"))
                .fix("Count the ticks in the ticker thread and make the count the thread's return value; stop joins the thread and returns it.")
                .hint(5)
        })?;
        // A tick that panics ends the ticker, and stop reports the panic.
        let calls = Arc::new(AtomicU64::new(0));
        let p = {
            let calls = calls.clone();
            Periodic::start(Duration::from_millis(2), move || {
                if calls.fetch_add(1, SeqCst) + 1 == 3 {
                    panic!("{ON_PURPOSE} tick 3 failed");
                }
            })
        };
        let ended = eventually(PROMPT, || !p.is_running());
        let after = calls.load(SeqCst);
        ensure(ended, || {
            Finding::new("is_running() is false after a tick panicked")
                .observed(format!("the third tick of a 2 ms ticker panics; {} later the tick had been called {after} times and is_running() was still true", secs(PROMPT)))
                .why("A panic in the tick must end the ticker thread (and say so), not kill it silently nor be ignored.")
                .fix("Call the tick inside `std::panic::catch_unwind(AssertUnwindSafe(|| tick()))`; on Err, mark the ticker as not running under the lock and end the thread returning the panic's message.")
                .hint(5)
        })?;
        thread::sleep(Duration::from_millis(10));
        let later = calls.load(SeqCst);
        let (stopped, _) = bounded(
            "Periodic::stop",
            PROMPT,
            move || p.stop(),
            || {
                Finding::new("stop returns promptly")
                    .observed(format!(
                        "stop() on a ticker whose tick had panicked had not returned after {}",
                        secs(PROMPT)
                    ))
                    .hint(5)
            },
        )?;
        ensure(later == 3, || {
            Finding::new("the ticker thread ends when a tick panics")
                .observed(format!(
                    "the third tick panicked, and the tick was then called {later} times in all"
                ))
                .hint(5)
        })?;
        ensure(
            matches!(&stopped, Err(message) if message.contains("tick 3 failed")),
            || {
                Finding::new("stop returns Err(the panic message) of a tick that panicked")
                    .observed(format!("the third tick panicked with \"{ON_PURPOSE} tick 3 failed\"; stop() returned {stopped:?}"))
                    .fix("A panic's payload is a `&str` (panic!(\"literal\")) or a `String` (panic!(\"{x}\")): downcast_ref to each and return the text as the thread's Err.")
                    .hint(5)
            },
        )
    }

    // ----- stress ---------------------------------------------------------------------------

    pub fn event_pulses_reach_every_waiter() -> Outcome {
        const WAITERS: usize = 8;
        const ROUNDS: usize = 300;
        let e = Arc::new(Event::new());
        let returned = Arc::new(AtomicUsize::new(0));
        let false_from_timeout = Arc::new(AtomicUsize::new(0));
        let next_round = Arc::new(std::sync::Barrier::new(WAITERS + 1));
        let _waiters: Vec<JoinHandle<()>> = (0..WAITERS)
            .map(|w| {
                let (e, returned, falses, next_round) = (
                    e.clone(),
                    returned.clone(),
                    false_from_timeout.clone(),
                    next_round.clone(),
                );
                thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        if w % 2 == 0 {
                            e.wait();
                        } else if !e.wait_timeout(Duration::from_secs(60)) {
                            falses.fetch_add(1, SeqCst);
                        }
                        returned.fetch_add(1, SeqCst);
                        next_round.wait();
                    }
                })
            })
            .collect();
        for round in 1..=ROUNDS {
            // Odd rounds: a pulse (set, then clear at once). Even rounds: set, clear after all woke.
            let pulse = round % 2 == 1;
            if !eventually(PROMPT, || e.waiting() == WAITERS) {
                return Err(Finding::new("waiting() counts the threads blocked in wait and wait_timeout")
                    .observed(format!("round {round}: {WAITERS} threads had called wait or wait_timeout on a clear Event, and {} later waiting() said {}", secs(PROMPT), e.waiting()))
                    .fix("Count a waiter in under the lock before its wait loop and out after it, in both wait and wait_timeout.")
                    .hint(1));
            }
            e.set();
            if pulse {
                e.clear();
            }
            let expected = round * WAITERS;
            if !eventually(PROMPT, || returned.load(SeqCst) >= expected) {
                let woke = WAITERS - (expected - returned.load(SeqCst));
                return Err(event_waiter_stranded(format!(
                    "round {round} of {ROUNDS}: {WAITERS} threads waited on a clear Event (4 in wait, 4 in wait_timeout(60 s)); after {}, only {woke} of them had returned {} later",
                    if pulse { "set() and an immediate clear()" } else { "set()" },
                    secs(PROMPT)
                )));
            }
            let falses = false_from_timeout.load(SeqCst);
            if falses > 0 {
                return Err(Finding::new("wait_timeout returns true when the flag was set during the call")
                    .observed(format!("by round {round}: {falses} call(s) of wait_timeout(60 s), woken by a set() (followed at once by clear() in odd rounds), returned false"))
                    .why("The flag may be down again by the time the waiter runs; the set still happened during the call.")
                    .fix("Return whether the generation moved during the call (or the flag was up at the start), not the flag as it is when you wake.")
                    .hint(1));
            }
            if !pulse {
                e.clear();
            }
            next_round.wait();
        }
        Ok(())
    }

    pub fn semaphore_limit_holds_8_threads() -> Outcome {
        const THREADS: usize = 8;
        const PERMITS: usize = 3;
        const EACH: usize = 1_500;
        let seed = Rng::from_clock().seed();
        let s = Arc::new(Semaphore::bounded(PERMITS));
        let gauge = Arc::new(Gauge::new());
        let refused = Arc::new(AtomicUsize::new(0));
        let long_timeouts_failed = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let handles: Vec<JoinHandle<()>> = (0..THREADS)
            .map(|t| {
                let (s, gauge, refused, long_failed, done) = (
                    s.clone(),
                    gauge.clone(),
                    refused.clone(),
                    long_timeouts_failed.clone(),
                    done.clone(),
                );
                thread::spawn(move || {
                    let mut rng = Rng::seeded(seed.wrapping_add(t as u64));
                    for i in 0..EACH {
                        // Threads 0-1 acquire, 2-3 acquire_timeout(60 s), 4-5 acquire_timeout of a
                        // few microseconds (often None), 6-7 try_acquire (None: try again later).
                        let permit = match t / 2 {
                            0 => Some(s.acquire()),
                            1 => {
                                let p = s.acquire_timeout(Duration::from_secs(60));
                                if p.is_none() {
                                    long_failed.fetch_add(1, SeqCst);
                                }
                                p
                            }
                            2 => s.acquire_timeout(Duration::from_micros(rng.below(50))),
                            _ => s.try_acquire(),
                        };
                        let Some(permit) = permit else {
                            thread::yield_now();
                            continue;
                        };
                        {
                            let _inside = gauge.enter();
                            for _ in 0..rng.below(40) {
                                std::hint::spin_loop();
                            }
                            if rng.below(8) == 0 {
                                thread::yield_now();
                            }
                        }
                        if i % 7 == 0 {
                            permit.forget();
                            if s.release().is_err() {
                                refused.fetch_add(1, SeqCst);
                            }
                        } else {
                            drop(permit);
                        }
                    }
                    done.fetch_add(1, SeqCst);
                })
            })
            .collect();
        let limit = Duration::from_secs(20);
        let left = still_running(&handles, limit);
        if left > 0 {
            return Err(Finding::new("a freed permit wakes a thread waiting for one")
                .observed(format!("8 threads taking and giving back the permits of Semaphore::bounded(3) (acquire, acquire_timeout, try_acquire, forget + release) 1 500 times each: {left} thread(s) had not finished after {}; available() = {} (seed {seed})", secs(limit), s.available()))
                .why("A thread blocked in acquire sleeps until a notify. If dropping a permit (or release) does not notify, or a waiter that timed out swallows the notify meant for another, a waiter sleeps on while permits are free.")
                .fix("Give back and notify under the same lock, in Drop and in release; in acquire_timeout, look at the count before the clock, so a waiter woken just as its time ran out still takes the permit.")
                .hint(3));
        }
        join_all(handles);
        let most = gauge.max();
        ensure(most <= PERMITS, || {
            limit_broken(format!("8 threads on Semaphore::bounded(3): up to {most} threads held a permit at the same time (seed {seed})"))
        })?;
        let refused = refused.load(SeqCst);
        ensure(refused == 0, || {
            Finding::new("release of a forgotten permit is accepted by a bounded semaphore")
                .observed(format!("8 threads on Semaphore::bounded(3): {refused} release() call(s) right after forget() returned Err(OverRelease) (seed {seed})"))
                .why("After forget the permit is still out: the count is below the bound, so the release that gives it back must succeed.")
                .hint(3)
        })?;
        let long_failed = long_timeouts_failed.load(SeqCst);
        ensure(long_failed == 0, || {
            Finding::new("acquire_timeout gets a permit that comes free before its timeout")
                .observed(format!("8 threads on Semaphore::bounded(3), each holding a permit for microseconds: {long_failed} call(s) of acquire_timeout(60 s) returned None (seed {seed})"))
                .fix("Loop until the deadline, re-checking the count each time you wake.")
                .hint(3)
        })?;
        let avail = s.available();
        ensure(avail == PERMITS, || {
            Finding::new("every permit comes back")
                .observed(format!("after 8 threads took and gave back permits of Semaphore::bounded(3), available() = {avail} (seed {seed})"))
                .hint(3)
        })
    }

    pub fn barrier_8_threads_200_rounds() -> Outcome {
        const PARTIES: usize = 8;
        const ROUNDS: usize = 200;
        let seed = Rng::from_clock().seed();
        let b = Arc::new(Barrier::new(PARTIES));
        // progress[t] = how many rounds thread t has arrived at.
        let progress: Arc<Vec<AtomicUsize>> =
            Arc::new((0..PARTIES).map(|_| AtomicUsize::new(0)).collect());
        let seen: Arc<Vec<AtomicU64>> = Arc::new((0..ROUNDS).map(|_| AtomicU64::new(0)).collect());
        let problems: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<JoinHandle<()>> = (0..PARTIES)
            .map(|t| {
                let (b, progress, seen, problems) =
                    (b.clone(), progress.clone(), seen.clone(), problems.clone());
                thread::spawn(move || {
                    let mut rng = Rng::seeded(seed.wrapping_add(t as u64));
                    for round in 0..ROUNDS {
                        for _ in 0..rng.below(200) {
                            std::hint::spin_loop();
                        }
                        if rng.below(16) == 0 {
                            thread::yield_now();
                        }
                        progress[t].store(round + 1, SeqCst);
                        let index = b.wait();
                        let behind: Vec<(usize, usize)> = (0..PARTIES)
                            .map(|j| (j, progress[j].load(SeqCst)))
                            .filter(|&(_, p)| p < round + 1)
                            .collect();
                        let mut problems = problems.lock().unwrap();
                        if !behind.is_empty() && problems.len() < 5 {
                            problems.push(format!("thread {t} left round {} while thread(s) {:?} had not arrived in it yet", round + 1, behind.iter().map(|&(j, _)| j).collect::<Vec<_>>()));
                        }
                        if index >= PARTIES {
                            if problems.len() < 5 {
                                problems.push(format!("thread {t} got arrival index {index} in round {}", round + 1));
                            }
                        } else if seen[round].fetch_or(1 << index, SeqCst) & (1 << index) != 0
                            && problems.len() < 5
                        {
                            problems.push(format!("arrival index {index} was returned twice in round {}", round + 1));
                        }
                    }
                })
            })
            .collect();
        let limit = Duration::from_secs(15);
        let left = still_running(&handles, limit);
        let reached: Vec<usize> = progress.iter().map(|p| p.load(SeqCst)).collect();
        let problems: Vec<String> = problems.lock().unwrap().clone();
        if !problems.is_empty() && problems.iter().any(|p| p.contains("left round")) {
            return Err(barrier_ran_ahead(format!(
                "8 threads, {ROUNDS} rounds of Barrier::new(8): {} (seed {seed})",
                problems.join("; ")
            )));
        }
        if left > 0 {
            return Err(Finding::new("every round of a reusable barrier completes")
                .observed(format!("8 threads, {ROUNDS} rounds of Barrier::new(8): {left} thread(s) were still blocked after {}; the rounds each thread had arrived at: {reached:?}; n_waiting() = {} (seed {seed})", secs(limit), b.n_waiting()))
                .why("Either the last arrival woke only one waiter (notify_one), or a waiter of round k looked for its release in a state that round k+1 had already changed (a count reset to 0 and counted up again, a flag lowered again): it missed its round's end and sleeps on. That is the state-vs-event mistake again.")
                .fix("The last arrival bumps a generation counter and calls notify_all; a waiter waits `while state.generation == the generation it arrived in`.")
                .hint(4));
        }
        join_all(handles);
        if !problems.is_empty() {
            return Err(Finding::new("wait returns each arrival index 0..parties-1 once per round")
                .observed(format!("8 threads, {ROUNDS} rounds of Barrier::new(8): {} (seed {seed})", problems.join("; ")))
                .fix("Take the index on arrival, under the lock: `let index = state.arrived; state.arrived += 1;`.")
                .hint(4));
        }
        let incomplete = seen
            .iter()
            .position(|m| m.load(SeqCst) != (1u64 << PARTIES) - 1);
        if let Some(round) = incomplete {
            return Err(Finding::new("wait returns each arrival index 0..parties-1 once per round")
                .observed(format!("8 threads, {ROUNDS} rounds of Barrier::new(8): in round {} the indices returned were not 0..=7 each once (bit mask {:#b}) (seed {seed})", round + 1, seen[round].load(SeqCst)))
                .hint(4));
        }
        ensure(b.n_waiting() == 0, || {
            Finding::new("n_waiting() counts the threads blocked in the current round")
                .observed(format!(
                    "after {ROUNDS} complete rounds, n_waiting() = {}",
                    b.n_waiting()
                ))
                .hint(4)
        })
    }

    // ----- timing ---------------------------------------------------------------------------

    /// The process's CPU use over `watch`, as a share of one core.
    fn cpu_share(watch: Duration) -> f64 {
        let w = Stopwatch::start();
        thread::sleep(watch);
        w.cpu().as_secs_f64() / w.wall().as_secs_f64()
    }

    fn spinning(what: &str, share: f64, max: f64) -> Finding {
        Finding::new("blocked threads sleep instead of spinning")
            .observed(format!("while {what}, the process used {:.0}% of a core (a sleeping thread uses ~0%; the limit is {:.0}%)", share * 100.0, max * 100.0))
            .why("A wait that loops on the state (take the lock, look, let go, yield or try again) keeps its thread running: it burns a core doing nothing and takes it from the threads that would make progress. Condvar::wait lets go of the lock and parks the thread until a notify.")
            .fix("Replace the polling loop with `while <must wait> { guard = condvar.wait(guard).unwrap(); }` (wait_timeout for the timed versions).")
            .hint(2)
    }

    pub fn blocked_waiters_dont_spin() -> Outcome {
        const MAX_SHARE: f64 = 0.10;
        const WATCH: Duration = Duration::from_millis(300);
        // Event: 3 threads in wait, 3 in wait_timeout(60 s).
        let e = Arc::new(Event::new());
        let event_waiters: Vec<JoinHandle<bool>> = (0..6)
            .map(|i| {
                let e = e.clone();
                thread::spawn(move || {
                    if i % 2 == 0 {
                        e.wait();
                        true
                    } else {
                        e.wait_timeout(Duration::from_secs(60))
                    }
                })
            })
            .collect();
        eventually(PROMPT, || e.waiting() == 6);
        thread::sleep(Duration::from_millis(30));
        let share = cpu_share(WATCH);
        if share > MAX_SHARE {
            e.set();
            return Err(spinning(
                "6 threads waited on a clear Event (3 in wait, 3 in wait_timeout)",
                share,
                MAX_SHARE,
            ));
        }
        e.set();
        if still_running(&event_waiters, PROMPT) > 0 {
            return Err(event_waiters_stuck());
        }
        join_all(event_waiters);
        // Semaphore: 3 threads in acquire, 3 in acquire_timeout(60 s), no permit free.
        let s = Arc::new(Semaphore::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let sem_waiters: Vec<JoinHandle<bool>> = (0..6)
            .map(|i| {
                let (s, started) = (s.clone(), started.clone());
                thread::spawn(move || {
                    started.fetch_add(1, SeqCst);
                    let got = if i % 2 == 0 {
                        Some(s.acquire())
                    } else {
                        s.acquire_timeout(Duration::from_secs(60))
                    };
                    got.is_some()
                })
            })
            .collect();
        eventually(PROMPT, || started.load(SeqCst) == 6);
        thread::sleep(Duration::from_millis(30));
        let share = cpu_share(WATCH);
        for _ in 0..6 {
            let _ = s.release();
        }
        if share > MAX_SHARE {
            return Err(spinning("6 threads waited on a semaphore with no permit free (3 in acquire, 3 in acquire_timeout)", share, MAX_SHARE));
        }
        if still_running(&sem_waiters, PROMPT) > 0 {
            return Err(Finding::new("release wakes a thread waiting for a permit")
                .observed(format!("6 threads waited on Semaphore::new(0); after 6 release() calls some were still blocked {} later", secs(PROMPT)))
                .hint(3));
        }
        join_all(sem_waiters);
        // Barrier: 3 of 4 parties waiting.
        let b = Arc::new(Barrier::new(4));
        let barrier_waiters: Vec<JoinHandle<usize>> = (0..3)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || b.wait())
            })
            .collect();
        eventually(PROMPT, || b.n_waiting() == 3);
        thread::sleep(Duration::from_millis(30));
        let share = cpu_share(WATCH);
        let last = b.clone();
        let _ = within("Barrier::wait", PROMPT, move || last.wait());
        if share > MAX_SHARE {
            return Err(spinning(
                "3 threads waited at a barrier of 4 parties",
                share,
                MAX_SHARE,
            ));
        }
        if still_running(&barrier_waiters, PROMPT) > 0 {
            return Err(Finding::new("the last arrival releases every waiting party")
                .observed(format!(
                    "3 threads waited at Barrier::new(4); {} after the fourth arrived some were still blocked",
                    secs(PROMPT)
                ))
                .hint(2));
        }
        join_all(barrier_waiters);
        Ok(())
    }

    fn event_waiters_stuck() -> Finding {
        event_waiter_stranded(format!(
            "6 threads waited on a clear Event; {} after set() some were still waiting",
            secs(PROMPT)
        ))
    }

    pub fn permit_drop_wakes_waiter_promptly() -> Outcome {
        // Three ways a permit comes back: a Permit dropped (waiter in acquire, then in
        // acquire_timeout), and a forgotten permit released.
        for how in 0..3 {
            let s = Arc::new(if how == 2 {
                Semaphore::bounded(1)
            } else {
                Semaphore::new(1)
            });
            let held = s.acquire();
            let started = Arc::new(AtomicBool::new(false));
            let waiter = {
                let (s, started) = (s.clone(), started.clone());
                thread::spawn(move || {
                    started.store(true, SeqCst);
                    let got = if how == 1 {
                        s.acquire_timeout(Duration::from_secs(60)).is_some()
                    } else {
                        drop(s.acquire());
                        true
                    };
                    (got, Instant::now())
                })
            };
            eventually(PROMPT, || started.load(SeqCst));
            thread::sleep(Duration::from_millis(20));
            let waiting_in = if how == 1 {
                "acquire_timeout(60 s)"
            } else {
                "acquire()"
            };
            if waiter.is_finished() {
                return Err(Finding::new("acquire blocks while no permit is free")
                    .observed(format!("Semaphore::new(1) with its permit held: {waiting_in} in another thread returned at once"))
                    .hint(3));
            }
            let freed = Instant::now();
            let freeing = if how == 2 {
                held.forget();
                let r = s.release();
                if r.is_err() {
                    return Err(Finding::new("release gives back a forgotten permit")
                        .observed(format!(
                            "Semaphore::bounded(1), its permit forgotten: release() returned {r:?}"
                        ))
                        .hint(3));
                }
                "forget() and release()"
            } else {
                drop(held);
                "dropping the Permit"
            };
            if still_running(std::slice::from_ref(&waiter), PROMPT) > 0 {
                return Err(Finding::new("giving a permit back wakes a thread waiting for one")
                    .observed(format!("a thread waited in {waiting_in} for the only permit; {} after {freeing} it was still waiting (available() = {})", secs(PROMPT), s.available()))
                    .why("The waiter sleeps on the Condvar until someone notifies it. Putting the count back without a notify leaves it asleep while the permit sits free.")
                    .fix("In `impl Drop for Permit` (and in release): lock, add one to the count, `notify_one()`.")
                    .hint(3));
            }
            let (got, at) = join_all(vec![waiter]).pop().unwrap();
            if !got {
                return Err(Finding::new("acquire_timeout gets a permit that comes free before its timeout")
                    .observed(format!("a thread in acquire_timeout(60 s) was woken by {freeing} and returned None after {}", ms(at.saturating_duration_since(freed))))
                    .hint(3));
            }
        }
        Ok(())
    }

    pub fn periodic_keeps_cadence() -> Outcome {
        let interval = Duration::from_millis(20);
        let ticks: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
        // A yardstick: a plain thread ticking on the same schedule (sleeping to each deadline,
        // skipping ticks it was too late for), run alongside. On a busy machine both get the
        // processor late alike, so the ticker is compared with it rather than with the clock.
        let yardstick_stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let yardstick = {
            let stop = yardstick_stop.clone();
            thread::spawn(move || {
                let mut due = started + interval;
                let mut at = Vec::new();
                while !stop.load(SeqCst) {
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                    if stop.load(SeqCst) {
                        break;
                    }
                    at.push(Instant::now());
                    let now = Instant::now();
                    while due <= now {
                        due += interval;
                    }
                }
                at
            })
        };
        let p = {
            let ticks = ticks.clone();
            Periodic::start(interval, move || ticks.lock().unwrap().push(Instant::now()))
        };
        thread::sleep(Duration::from_millis(400));
        let running = p.is_running();
        let stopping = Instant::now();
        let (stopped, _) = bounded(
            "Periodic::stop",
            PROMPT,
            move || p.stop(),
            || {
                Finding::new("stop returns promptly")
                    .observed(format!(
                        "stop() on a 20 ms ticker had not returned after {}",
                        secs(PROMPT)
                    ))
                    .hint(5)
            },
        )?;
        let ticks = ticks.lock().unwrap().clone();
        ensure(running, || {
            Finding::new("is_running() is true while the ticker runs")
                .observed("400 ms after Periodic::start (20 ms interval), is_running() = false")
                .hint(5)
        })?;
        if let Some(&first) = ticks.first() {
            let after = first.saturating_duration_since(started);
            if after < interval.mul_f64(0.9) {
                return Err(Finding::new("the first tick comes one interval after start")
                    .observed(format!("Periodic::start with a 20 ms interval: the first tick came {} after start", ms(after)))
                    .why("A ticker that ticks before it waits runs its first tick at once.")
                    .fix("Wait first, then tick: the deadline of tick k is start + k * interval.")
                    .hint(5));
            }
        }
        yardstick_stop.store(true, SeqCst);
        let yardstick = yardstick.join().unwrap();
        let elapsed = stopping.saturating_duration_since(started);
        // At most one tick per interval can have come due; a correct ticker on a busy machine may
        // run fewer, but not many fewer than the yardstick thread managed.
        let most = elapsed.as_secs_f64() / interval.as_secs_f64();
        let n = ticks.iter().filter(|&&t| t <= stopping).count();
        let par = yardstick.iter().filter(|&&t| t <= stopping).count();
        let fewest = (par as f64 / 3.0).floor();
        let too_many = n as f64 > 1.25 * most + 2.0;
        let too_few = (n as f64) < fewest;
        ensure(!too_many && !too_few, || {
            Finding::new("the ticker ticks about once per interval")
                .observed(format!("a 20 ms ticker ran {n} ticks in {} (at most {most:.0} could be due; a plain thread sleeping to the same deadlines managed {par} meanwhile; accepted {fewest:.0} to {:.0})", ms(elapsed), 1.25 * most + 2.0))
                .why(if too_many {
                    "Too many ticks: the wait does not really wait (a wait_timeout whose result is misread, a deadline that is never moved on, a loop that ticks whenever it wakes)."
                } else {
                    "Too few ticks: each tick waits much longer than the interval (a wait that only a notify ends, a deadline moved on too far, a timeout computed from the wrong start)."
                })
                .fix("Keep the deadline of the next tick; wait on the Condvar with `wait_timeout(guard, deadline - now)` until it has passed (or stop was asked), tick, then move the deadline on by one interval.")
                .hint(5)
        })?;
        ensure(stopped == Ok(ticks.len() as u64), || {
            Finding::new("stop returns Ok(number of ticks run)")
                .observed(format!(
                    "the tick ran {} times; stop() returned {stopped:?}",
                    ticks.len()
                ))
                .hint(5)
        })
    }

    pub fn periodic_stop_is_prompt() -> Outcome {
        let limit = Duration::from_secs(2);
        let ran = Arc::new(AtomicU64::new(0));
        let p = {
            let ran = ran.clone();
            Periodic::start(Duration::from_secs(10), move || {
                ran.fetch_add(1, SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(30));
        let (stopped, took) = bounded(
            "Periodic::stop",
            limit,
            move || p.stop(),
            || {
                Finding::new("stop wakes the ticker at once instead of letting it sleep out its interval")
                .observed(format!("Periodic::start with a 10 s interval, stopped 30 ms later: stop() had not returned after {}", secs(limit)))
                .why("\"Sleep is not synchronization\": a thread inside thread::sleep cannot be woken, so a ticker that sleeps out its interval makes stop (and drop, and the program's exit) wait up to a whole interval.")
                .fix("Wait for the next tick on the Condvar with `wait_timeout(guard, deadline - now)`, in a loop that also ends when the stop flag is set; stop sets the flag under the lock and calls notify_all, then joins.")
                .hint(5)
            },
        )?;
        ensure(stopped == Ok(0), || {
            Finding::new("stop returns Ok(number of ticks run)")
                .observed(format!("a 10 s ticker stopped after 30 ms (no tick due yet, the tick ran {} times) returned {stopped:?} after {}", ran.load(SeqCst), ms(took)))
                .hint(5)
        })
    }

    pub fn periodic_stop_waits_for_running_tick() -> Outcome {
        // Ticks begun and ticks finished: when stop returns, every tick begun must have finished.
        // Counting both (rather than expecting exactly the first tick) keeps the verdict right when
        // a busy machine lets this thread call stop only during a later tick.
        let begun = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicU64::new(0));
        let p = {
            let (begun, finished) = (begun.clone(), finished.clone());
            Periodic::start(Duration::from_millis(5), move || {
                begun.fetch_add(1, SeqCst);
                thread::sleep(Duration::from_millis(150));
                finished.fetch_add(1, SeqCst);
            })
        };
        if !eventually(PROMPT, || begun.load(SeqCst) > 0) {
            return Err(Finding::new("the ticker ticks about once per interval")
                .observed(format!(
                    "a 5 ms ticker had not called its tick after {}",
                    secs(PROMPT)
                ))
                .hint(5));
        }
        let (finished_at_return, begun_at_return) = (finished.clone(), begun.clone());
        let (stopped, took) = bounded(
            "Periodic::stop",
            PROMPT,
            move || {
                let r = p.stop();
                // Finished first: a tick still running shows as begun but not finished.
                let done = finished_at_return.load(SeqCst);
                (r, done, begun_at_return.load(SeqCst))
            },
            || {
                Finding::new("stop returns promptly once the running tick has finished")
                    .observed(format!(
                        "stop() called during a 150 ms tick had not returned after {}",
                        secs(PROMPT)
                    ))
                    .hint(5)
            },
        )?;
        let (result, done, begun) = stopped;
        ensure(done == begun, || {
            Finding::new("stop lets a running tick finish and joins the ticker thread")
                .observed(format!("stop() was called while a 150 ms tick was running; it returned after {} with {result:?}, when {begun} ticks had begun and only {done} had finished", ms(took)))
                .why("Without a join, stop only asks the thread to end: the tick may still be running (and touching shared state) after stop returned, and nobody learns whether it panicked. Python hides this with daemon threads; in Rust the JoinHandle is how you wait for a thread.")
                .fix("After setting the stop flag and notifying, `handle.join()` and return what the thread returned.")
                .hint(5)
        })?;
        ensure(result == Ok(done), || {
            Finding::new("stop returns Ok(number of ticks run)")
                .observed(format!(
                    "stop() called during a tick (which then finished) returned {result:?}, when {done} ticks had run"
                ))
                .hint(5)
        })
    }

    pub fn no_thread_left_behind() -> Outcome {
        let limit = Duration::from_secs(2);
        let Some((before, after, outcome)) = threads_left_behind(Duration::from_secs(2), || {
            // Dropped while waiting for a tick 10 s away; dropped just after starting; stopped.
            for k in 0..3 {
                let p = Periodic::start(Duration::from_secs(10), || {});
                if k > 0 {
                    thread::sleep(Duration::from_millis(10));
                }
                let dropped = within("drop(Periodic)", limit, move || drop(p));
                match dropped {
                    Ran::Returned(..) => {}
                    Ran::Panicked(payload) => panic::resume_unwind(payload),
                    Ran::Hung => {
                        return Err(Finding::new("dropping a Periodic stops it promptly")
                            .observed(format!("dropping a Periodic with a 10 s interval had not returned after {}", secs(limit)))
                            .why("Drop has to stop the thread the same way stop does: wake it through the Condvar and join it. A thread asleep in thread::sleep cannot be woken.")
                            .fix("`impl Drop for Periodic` that sets the stop flag under the lock, calls notify_all and joins the thread (if stop has not taken the handle already).")
                            .hint(5));
                    }
                }
            }
            let p = Periodic::start(Duration::from_millis(1), || {});
            thread::sleep(Duration::from_millis(10));
            match within("Periodic::stop", limit, move || p.stop()) {
                Ran::Returned(..) => Ok(()),
                Ran::Panicked(payload) => panic::resume_unwind(payload),
                Ran::Hung => Err(Finding::new("stop returns promptly").observed(format!(
                    "stop() on a 1 ms ticker had not returned after {}",
                    secs(limit)
                ))),
            }
        }) else {
            // The OS does not tell us how many threads the process has: nothing to measure.
            return Ok(());
        };
        outcome?;
        ensure(after <= before, || {
            Finding::new("a stopped or dropped Periodic leaves no thread behind")
                .observed(format!("the process had {before} threads before starting 4 Periodics (3 dropped, 1 stopped) and {after} after, 2 s later"))
                .why("Python's daemon threads are simply killed at exit; a Rust thread that is never told to stop runs on (here: waiting for a tick 10 s away) and nobody joins it. Dropping the handle must end it.")
                .fix("`impl Drop for Periodic` that sets the stop flag, notifies and joins, like stop.")
                .hint(5)
        })
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use coordination::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use coordination::sync::{thread, Arc};
    use coordination::{Barrier, Event, Semaphore};

    pub fn model_set_wakes_every_waiter() -> Outcome {
        explore(|| {
            let e = Arc::new(Event::new());
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let e = e.clone();
                    thread::spawn(move || e.wait())
                })
                .collect();
            e.set();
            for w in waiters {
                w.join().unwrap();
            }
            if !e.is_set() {
                Finding::new("set raises the flag")
                    .observed("after set() and both waiters returned, is_set() = false")
                    .raise();
            }
        });
        Ok(())
    }

    pub fn model_pulse_not_lost() -> Outcome {
        for timed in [false, true] {
            explore(move || {
                let e = Arc::new(Event::new());
                let waiter = {
                    let e = e.clone();
                    thread::spawn(move || {
                        if timed {
                            // loom has no clock: this wait never times out, only a set ends it.
                            e.wait_timeout(Duration::from_secs(3600))
                        } else {
                            e.wait();
                            true
                        }
                    })
                };
                while e.waiting() == 0 {
                    thread::yield_now();
                }
                e.set();
                e.clear();
                if !waiter.join().unwrap() {
                    Finding::new("wait_timeout returns true when the flag was set during the call")
                        .observed("a thread in wait_timeout was released by set() followed at once by clear(), and returned false")
                        .hint(1)
                        .raise();
                }
            });
        }
        Ok(())
    }

    pub fn model_semaphore_limit() -> Outcome {
        explore(|| {
            let s = Arc::new(Semaphore::new(1));
            let inside = Arc::new(AtomicUsize::new(0));
            let users: Vec<_> = (0..2)
                .map(|_| {
                    let (s, inside) = (s.clone(), inside.clone());
                    thread::spawn(move || {
                        let _permit = s.acquire();
                        let n = inside.fetch_add(1, SeqCst) + 1;
                        if n > 1 {
                            limit_broken(format!("in one interleaving of 2 threads on Semaphore::new(1), {n} threads held a permit at once")).raise();
                        }
                        inside.fetch_sub(1, SeqCst);
                    })
                })
                .collect();
            for u in users {
                u.join().unwrap();
            }
            let avail = s.available();
            if avail != 1 {
                Finding::new("every permit comes back")
                    .observed(format!("after 2 threads took and dropped the permit of Semaphore::new(1) in turn, available() = {avail}"))
                    .hint(3)
                    .raise();
            }
        });
        Ok(())
    }

    pub fn model_release_wakes_waiter() -> Outcome {
        // A permit dropped while another thread may already wait for it.
        explore(|| {
            let s = Arc::new(Semaphore::new(1));
            let held = s.acquire();
            let waiter = {
                let s = s.clone();
                thread::spawn(move || drop(s.acquire()))
            };
            drop(held);
            waiter.join().unwrap();
        });
        // A forgotten permit given back with release.
        explore(|| {
            let s = Arc::new(Semaphore::bounded(1));
            s.acquire().forget();
            let waiter = {
                let s = s.clone();
                thread::spawn(move || drop(s.acquire()))
            };
            if s.release().is_err() {
                Finding::new("release gives back a forgotten permit")
                    .observed("Semaphore::bounded(1) with its permit forgotten: release() returned Err(OverRelease)")
                    .hint(3)
                    .raise();
            }
            waiter.join().unwrap();
        });
        Ok(())
    }

    /// Each party arrives in `rounds` rounds; after each wait, every other party must have arrived
    /// in that round. Returns the indices each party got, by round.
    fn barrier_rounds(parties: usize, rounds: usize) {
        let b = Arc::new(Barrier::new(parties));
        let progress: Arc<Vec<AtomicUsize>> =
            Arc::new((0..parties).map(|_| AtomicUsize::new(0)).collect());
        let party = move |me: usize, b: Arc<Barrier>, progress: Arc<Vec<AtomicUsize>>| {
            let mut got = Vec::new();
            for round in 1..=rounds {
                progress[me].store(round, SeqCst);
                let index = b.wait();
                for (j, p) in progress.iter().enumerate() {
                    let p = p.load(SeqCst);
                    if p < round {
                        barrier_ran_ahead(format!("in one interleaving of Barrier::new({parties}) over {rounds} round(s), party {me} left round {round} while party {j} had only arrived in {p} round(s)")).raise();
                    }
                }
                got.push(index);
            }
            got
        };
        let others: Vec<_> = (1..parties)
            .map(|me| {
                let (b, progress) = (b.clone(), progress.clone());
                thread::spawn(move || party(me, b, progress))
            })
            .collect();
        let mut all = vec![party(0, b.clone(), progress.clone())];
        all.extend(others.into_iter().map(|h| h.join().unwrap()));
        for round in 0..rounds {
            let mut indices: Vec<usize> = all.iter().map(|got| got[round]).collect();
            indices.sort_unstable();
            if indices != (0..parties).collect::<Vec<_>>() {
                Finding::new("wait returns each arrival index 0..parties-1 once per round")
                    .observed(format!("in one interleaving of Barrier::new({parties}), round {} returned the indices {indices:?}", round + 1))
                    .fix("Take the index on arrival, under the lock: `let index = state.arrived; state.arrived += 1;`.")
                    .hint(4)
                    .raise();
            }
        }
        if b.n_waiting() != 0 {
            Finding::new("n_waiting() counts the threads blocked in the current round")
                .observed(format!(
                    "after every round completed, n_waiting() = {}",
                    b.n_waiting()
                ))
                .hint(4)
                .raise();
        }
    }

    pub fn model_barrier_2_parties_2_rounds() -> Outcome {
        explore(|| barrier_rounds(2, 2));
        Ok(())
    }

    pub fn model_barrier_3_parties_1_round() -> Outcome {
        explore_with(Some(2), || barrier_rounds(3, 1));
        Ok(())
    }
}
