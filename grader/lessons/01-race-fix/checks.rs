//! Lesson 01 checks: lost updates and check-then-act, found by stress and by the model checker.
//!
//! Compiled by the grader into a harness together with the crate under test (`race_fix`).

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::counter_one_thread),
    check!(unit, std_checks::ids_one_thread),
    check!(unit, std_checks::seen_set_one_thread),
    check!(stress, std_checks::counter_increments_8_threads),
    check!(stress, std_checks::counter_add_8_threads),
    check!(stress, std_checks::ids_unique_8_threads),
    check!(stress, std_checks::seen_set_one_winner_8_threads),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::counter_two_increments),
    check!(model, model_checks::counter_add_races),
    check!(model, model_checks::ids_two_threads),
    check!(model, model_checks::seen_set_two_threads),
];

/// The same explanation serves the stress and the model check of the counter.
fn lost_update(observed: String) -> Finding {
    Finding::new("no increment is lost when threads race")
        .observed(observed)
        .why("`load` then `store` is two steps. Two threads can both read 41 and both write 42: one increment vanishes. Python's `x += 1` loses updates the same way, GIL or not, because the read and the write are separate bytecodes.")
        .fix("Make the read-modify-write one indivisible step: `fetch_add` on the atomic (Relaxed is enough for a counter), or do the whole update under one Mutex guard.")
        .hint(1)
}

fn duplicate_ids(observed: String) -> Finding {
    Finding::new("every id is handed out once")
        .observed(observed)
        .why("Reading the last id and storing the next one are two steps; two threads in between both get the same id.")
        .fix("Let the atomic do it in one step: `fetch_add(1, ..)` returns the value before the addition, unique to the caller.")
        .hint(2)
}

/// Ids that are unique but do not start at 1: not a race, whatever the interleaving.
fn off_by_one(observed: String) -> Finding {
    Finding::new("ids start at 1 and count up")
        .observed(observed)
        .why("The ids are all different, so no update was lost: they are shifted. `fetch_add` returns the value *before* the addition, so an atomic that starts at 0 hands out 0 first.")
        .fix("Add 1 to what `fetch_add` returns, or start the atomic at 1.")
}

fn check_then_act(observed: String) -> Finding {
    Finding::new("exactly one caller wins each item")
        .observed(observed)
        .why("Checking `contains` under the lock, dropping the lock, then inserting under a second lock leaves a gap: another thread can check in that gap and also see the item as new (check-then-act).")
        .fix("Check and insert under one guard. `HashSet::insert` already returns whether the item was new: one lock, one call.")
        .hint(3)
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use race_fix::{Counter, IdGenerator, SeenSet};
    use std::sync::Barrier;

    const THREADS: usize = 8;
    /// Rounds of each stress test: a race that shows up in any round fails the check.
    const ROUNDS: usize = 5;

    pub fn counter_one_thread() -> Outcome {
        let c = Counter::new();
        ensure(c.get() == 0, || {
            Finding::new("a new counter starts at 0")
                .observed(format!("Counter::new().get() returned {}", c.get()))
        })?;
        for _ in 0..3 {
            c.increment();
        }
        ensure(c.get() == 3, || {
            Finding::new("increment adds one").observed(format!("3 increments gave {}", c.get()))
        })?;
        c.add(10);
        c.add(0);
        ensure(c.get() == 13, || {
            Finding::new("add(n) adds n").observed(format!(
                "3 increments, add(10), add(0) gave {}, not 13",
                c.get()
            ))
        })
    }

    pub fn ids_one_thread() -> Outcome {
        let ids = IdGenerator::new();
        let first: Vec<u64> = (0..5).map(|_| ids.next_id()).collect();
        let observed =
            format!("on one thread, the first five ids were {first:?}, not [1, 2, 3, 4, 5]");
        if first.windows(2).all(|w| w[1] == w[0] + 1) {
            // Counting up by one, from the wrong start.
            ensure(first == [1, 2, 3, 4, 5], || off_by_one(observed))
        } else {
            Err(Finding::new("ids count up by one on one thread")
                .observed(observed)
                .fix("Each call adds exactly 1 to the atomic and returns the new value: `fetch_add(1, ..) + 1`."))
        }
    }

    pub fn seen_set_one_thread() -> Outcome {
        let s = SeenSet::new();
        ensure(s.is_empty() && s.len() == 0, || {
            Finding::new("a new set is empty").observed(format!(
                "len() = {}, is_empty() = {}",
                s.len(),
                s.is_empty()
            ))
        })?;
        let calls = [
            (5, true),
            (5, false),
            (6, true),
            (5, false),
            (6, false),
            (0, true),
        ];
        for (i, (item, expected)) in calls.iter().enumerate() {
            let got = s.first_visit(*item);
            ensure(got == *expected, || {
                Finding::new("first_visit is true the first time an item is seen, false after")
                    .observed(format!(
                        "call {} first_visit({item}) returned {got}, expected {expected}",
                        i + 1
                    ))
            })?;
        }
        ensure(s.len() == 3 && !s.is_empty(), || {
            Finding::new("len counts distinct items")
                .observed(format!("after visiting 5, 5, 6, 5, 6, 0: len() = {}, is_empty() = {}, expected 3 and false", s.len(), s.is_empty()))
        })
    }

    /// Runs `work(thread_index)` on THREADS threads released together by a barrier.
    fn race(work: impl Fn(usize) + Sync) {
        let start = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (start, work) = (&start, &work);
                scope.spawn(move || {
                    start.wait();
                    work(t)
                });
            }
        });
    }

    /// How long each thread of a counter or id round keeps calling. A fixed count of calls can
    /// run start to end inside one of the scheduler's time slices when the threads share a core
    /// (another check is running, the machine is busy), and then even a racy counter loses nothing;
    /// 30 ms of calls spans many slices, so the threads interleave whatever the machine is doing.
    const BUSY_FOR: std::time::Duration = std::time::Duration::from_millis(30);
    /// Calls between two looks at the clock.
    const BATCH: u64 = 1_000;
    /// Rounds of the time-based checks (each already spans many interleavings).
    const BUSY_ROUNDS: usize = 3;

    /// Like [`race`], but every thread repeats `batch(t)` (BATCH calls) until it has made at least
    /// `min_calls` calls and called for at least BUSY_FOR, or until `batch` returns false: how many
    /// batches each thread did. (The floor keeps what a slow submission is asked to do, e.g. print
    /// on every call, as large as before the time-based rounds.)
    fn race_busy(min_calls: u64, batch: impl Fn(usize) -> bool + Sync) -> Vec<u64> {
        let batches: Vec<std::sync::atomic::AtomicU64> =
            (0..THREADS).map(|_| Default::default()).collect();
        race(|t| {
            let until = std::time::Instant::now() + BUSY_FOR;
            let mut done = 0;
            while (done * BATCH < min_calls || std::time::Instant::now() < until) && batch(t) {
                done += 1;
            }
            batches[t].store(done, std::sync::atomic::Ordering::Relaxed);
        });
        batches.into_iter().map(|b| b.into_inner()).collect()
    }

    pub fn counter_increments_8_threads() -> Outcome {
        for round in 1..=BUSY_ROUNDS {
            let c = Counter::new();
            let batches = race_busy(100_000, |_| {
                (0..BATCH).for_each(|_| c.increment());
                true
            });
            let expected = batches.iter().sum::<u64>() * BATCH;
            if c.get() != expected {
                return Err(lost_update(format!(
                    "{THREADS} threads made {} increments in all (each for {} ms or more), the counter says {} (round {round} of {BUSY_ROUNDS}): {} increments were lost",
                    grouped(expected), BUSY_FOR.as_millis(), grouped(c.get()), grouped(expected.saturating_sub(c.get()))
                )));
            }
        }
        Ok(())
    }

    pub fn counter_add_8_threads() -> Outcome {
        for round in 1..=BUSY_ROUNDS {
            let c = Counter::new();
            let batches = race_busy(50_000, |t| {
                (0..BATCH).for_each(|_| c.add(t as u64 + 1));
                true
            });
            let calls: u64 = batches.iter().sum::<u64>() * BATCH;
            let expected: u64 = batches
                .iter()
                .enumerate()
                .map(|(t, b)| b * BATCH * (t as u64 + 1))
                .sum();
            if c.get() != expected {
                return Err(lost_update(format!(
                    "{THREADS} threads made {} calls of add(t + 1) (thread t adds t + 1), which add up to {}, but the counter says {} (round {round} of {BUSY_ROUNDS})",
                    grouped(calls), grouped(expected), grouped(c.get())
                )));
            }
        }
        Ok(())
    }

    pub fn ids_unique_8_threads() -> Outcome {
        // Ids are kept to be compared: at most this many per thread (memory), however fast.
        const MAX_EACH: usize = 250_000;
        for round in 1..=BUSY_ROUNDS {
            let ids = IdGenerator::new();
            let per_thread: Vec<std::sync::Mutex<Vec<u64>>> =
                (0..THREADS).map(|_| Default::default()).collect();
            race_busy(50_000, |t| {
                let mut mine = per_thread[t].lock().unwrap();
                mine.extend((0..BATCH).map(|_| ids.next_id()));
                mine.len() < MAX_EACH
            });
            let mut all: Vec<u64> = per_thread
                .into_iter()
                .flat_map(|m| m.into_inner().unwrap())
                .collect();
            all.sort_unstable();
            let total = all.len();
            all.dedup();
            let duplicates = total - all.len();
            if duplicates > 0 {
                return Err(duplicate_ids(format!(
                    "{THREADS} threads took {} ids in all: {} ids were handed out more than once (round {round} of {BUSY_ROUNDS})",
                    grouped(total as u64), grouped(duplicates as u64)
                )));
            }
            let (lo, hi) = (all[0], all[all.len() - 1]);
            ensure(lo == 1 && hi == total as u64, || {
                Finding::new("ids are 1, 2, 3, ... with no gaps").observed(format!(
                    "{total} unique ids ranged from {lo} to {hi}, expected 1 to {total}"
                ))
            })?;
        }
        Ok(())
    }

    pub fn seen_set_one_winner_8_threads() -> Outcome {
        // The gap between the two locks is short: more rounds than the counters need.
        const ITEMS: u64 = 20_000;
        const ROUNDS: usize = 4 * super::std_checks::ROUNDS;
        for round in 1..=ROUNDS {
            let set = SeenSet::new();
            let wins: Vec<std::sync::atomic::AtomicU32> =
                (0..ITEMS).map(|_| Default::default()).collect();
            race(|_| {
                for item in 0..ITEMS {
                    if set.first_visit(item) {
                        wins[item as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
            let counts: Vec<u32> = wins
                .iter()
                .map(|w| w.load(std::sync::atomic::Ordering::Relaxed))
                .collect();
            let multi = counts.iter().filter(|&&n| n > 1).count();
            let none = counts.iter().filter(|&&n| n == 0).count();
            if multi > 0 {
                let example = counts.iter().position(|&n| n > 1).unwrap();
                return Err(check_then_act(format!(
                    "{THREADS} threads racing over {} items: {multi} item(s) had more than one winner (item {example} returned true {} times; round {round} of {ROUNDS})",
                    grouped(ITEMS), counts[example]
                )));
            }
            ensure(none == 0, || {
                Finding::new("some caller wins each item")
                    .observed(format!("{none} of {ITEMS} items returned true to nobody"))
            })?;
            ensure(set.len() == ITEMS as usize, || {
                Finding::new("len counts distinct items").observed(format!(
                    "after {THREADS} threads visited {ITEMS} items, len() = {}",
                    set.len()
                ))
            })?;
        }
        Ok(())
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use race_fix::sync::{thread, Arc};
    use race_fix::{Counter, IdGenerator, SeenSet};

    /// Two threads each apply `op` once to a shared value; returns what the threads returned.
    fn two_threads<T, R>(shared: T, op: fn(&T) -> R) -> (Arc<T>, R, R)
    where
        T: Send + Sync + 'static,
        R: Send + 'static,
    {
        let shared = Arc::new(shared);
        let other = {
            let shared = shared.clone();
            thread::spawn(move || op(&shared))
        };
        let mine = op(&shared);
        let theirs = other.join().unwrap();
        (shared, mine, theirs)
    }

    pub fn counter_two_increments() -> Outcome {
        explore(|| {
            let (c, _, _) = two_threads(Counter::new(), Counter::increment);
            if c.get() != 2 {
                lost_update(format!("in one interleaving, two threads each calling increment() once left the counter at {}, not 2", c.get())).raise();
            }
        });
        Ok(())
    }

    pub fn counter_add_races() -> Outcome {
        explore(|| {
            let (c, _, _) = two_threads(Counter::new(), |c| c.add(3));
            if c.get() != 6 {
                lost_update(format!("in one interleaving, two threads each calling add(3) once left the counter at {}, not 6", c.get())).raise();
            }
        });
        Ok(())
    }

    pub fn ids_two_threads() -> Outcome {
        explore(|| {
            let (_, a, b) = two_threads(IdGenerator::new(), IdGenerator::next_id);
            let mut got = [a, b];
            got.sort_unstable();
            // Explained from what was seen: the same id twice is a lost update; two different
            // ids that are not 1 and 2 are an off-by-one (every interleaving gives it).
            if a == b {
                duplicate_ids(format!(
                    "in one interleaving, two threads calling next_id() once each both got {a}"
                ))
                .raise();
            }
            if got != [1, 2] {
                off_by_one(format!("two threads calling next_id() once each got {a} and {b}: unique, but not 1 and 2")).raise();
            }
        });
        Ok(())
    }

    pub fn seen_set_two_threads() -> Outcome {
        explore(|| {
            let (set, a, b) = two_threads(SeenSet::new(), |s| s.first_visit(7));
            if a == b {
                check_then_act(format!(
                    "in one interleaving, two threads calling first_visit(7) both got {a}"
                ))
                .raise();
            }
            if set.len() != 1 {
                Finding::new("len counts distinct items")
                    .observed(format!("after two visits of item 7, len() = {}", set.len()))
                    .raise();
            }
        });
        Ok(())
    }
}
