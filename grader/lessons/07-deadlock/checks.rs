//! Lesson 07 checks: bank transfers that lock two accounts, and the dining philosophers.
//!
//! Compiled by the grader into a harness together with the crate under test (`bank`).
//!
//! A deadlock must come back as a finding that says who was stuck, not as a time-out: the std
//! checks call the code under test on helper threads and watch their progress (a few seconds
//! without any is a deadlock: nothing else stops every thread at once), and the model checks note
//! what each thread is doing, so that when loom reports "every thread is blocked" the finding can
//! name each thread's call.

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::transfers_and_errors),
    check!(unit, std_checks::same_account_refused),
    check!(unit, std_checks::dine_counts_meals),
    check!(stress, std_checks::random_transfers_8_threads),
    check!(stress, std_checks::dine_5_philosophers_500_meals),
    check!(
        timing,
        std_checks::disjoint_transfers_overlap,
        measures = wall
    ),
    check!(
        timing,
        std_checks::waiting_transfer_does_not_spin,
        measures = cpu
    ),
    check!(
        timing,
        std_checks::philosophers_eat_in_parallel,
        measures = wall
    ),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::model_opposite_transfers),
    check!(model, model_checks::model_ring_of_three),
    check!(model, model_checks::model_total_races_transfer),
    check!(model, model_checks::model_last_funds),
    check!(model, model_checks::model_three_philosophers),
];

/// The curriculum's hints, by subject.
const HINT_ORDER: u32 = 2;
const HINT_SAME: u32 = 3;
const HINT_ERRORS: u32 = 4;
const HINT_TOTAL: u32 = 5;
const HINT_FORKS: u32 = 6;
const HINT_SPIN: u32 = 7;

fn show_transfer(from: usize, to: usize, amount: u64) -> String {
    format!("transfer({from} -> {to}, {amount})")
}

/// Two transfers (or more) stuck in opposite or circular orders: the same words for std and loom.
fn circular_wait(observed: String) -> Finding {
    Finding::new("transfers never deadlock, whatever their directions")
        .observed(observed)
        .why("A transfer that locks `from` and then `to` holds one account while it waits for the other. Two transfers in opposite directions (0 -> 1 and 1 -> 0) can each get their first lock: each now waits for the lock the other holds, forever. That is a circular wait, one of the four conditions of a deadlock (with mutual exclusion, hold-and-wait and no preemption); break any one and the deadlock is impossible.")
        .fix("Break the circle with a global lock order: lock the account with the lower id first, whichever way the money goes, then map the two guards back to `from` and `to`. A cycle would need some thread to wait for a lower lock while holding a higher one, and none ever does.")
        .hint(HINT_ORDER)
}

fn philosophers_deadlock(observed: String) -> Finding {
    Finding::new("the philosophers never deadlock")
        .observed(observed)
        .why("If every philosopher takes the left fork and then waits for the right one, there is an instant where each holds one fork and waits for the fork his neighbour holds: a circle of waits around the table that nobody can leave.")
        .fix("Break the circle: take the lower-numbered of the two forks first (then one philosopher takes them in the other order than his neighbours), or let odd and even seats use opposite hands, or have a waiter (a counting semaphore) seat at most n - 1 at a time.")
        .hint(HINT_FORKS)
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use bank::{dine, Bank, TransferError};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
    use std::sync::{mpsc, Arc, Condvar, Mutex};
    use std::thread;

    /// One call on one thread must return well within this.
    const ONE_CALL: Duration = Duration::from_secs(3);
    /// No progress at all by any thread for this long is a deadlock: even on a loaded machine
    /// every runnable thread gets the CPU many times a second.
    const STALL: Duration = Duration::from_secs(3);

    /// Calls `f` with a time limit; a hang or a panic becomes a finding about `what`.
    fn bounded<T: Send + 'static>(
        what: &str,
        hang_why: &str,
        hint: u32,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Finding> {
        match within(what, ONE_CALL, f) {
            Ran::Returned(value, _) => Ok(value),
            Ran::Panicked(payload) => {
                let payload = pass_on_todo(payload);
                Err(Finding::new("the calls return without panicking")
                    .observed(format!("{what} panicked: {}", panic_text(&*payload))))
            }
            Ran::Hung => Err(
                Finding::new("every call returns: nothing waits for a lock forever")
                    .observed(format!(
                    "{what} did not return within {} s, on one thread with nothing else running",
                    ONE_CALL.as_secs()
                ))
                    .why(hang_why.to_string())
                    .hint(hint),
            ),
        }
    }

    fn balances(bank: &Bank) -> Vec<Option<u64>> {
        (0..bank.len()).map(|i| bank.balance(i)).collect()
    }

    pub fn transfers_and_errors() -> Outcome {
        bounded(
            "the single-thread script (transfers and their errors)",
            "One transfer on one thread has no one to wait for, so it waits for itself: a lock taken twice, or a lock never released by an earlier call.",
            HINT_ERRORS,
            script,
        )?
    }

    fn script() -> Outcome {
        let empty = Bank::new(&[]);
        ensure(empty.is_empty() && empty.len() == 0, || {
            Finding::new("len and is_empty count the accounts").observed(format!(
                "Bank::new(&[]) has len() = {} and is_empty() = {}",
                empty.len(),
                empty.is_empty()
            ))
        })?;
        let bank = Bank::new(&[100, 50, 0]);
        ensure(
            bank.len() == 3 && !bank.is_empty() && bank.balance(3).is_none(),
            || {
                Finding::new("len, is_empty and balance describe the accounts").observed(format!(
                    "Bank::new(&[100, 50, 0]): len() = {}, is_empty() = {}, balance(3) = {:?}",
                    bank.len(),
                    bank.is_empty(),
                    bank.balance(3)
                ))
            },
        )?;
        let hooks = std::cell::Cell::new(0);
        // (call, expected result, balances after)
        type Step<'a> = (
            &'a str,
            Box<dyn Fn(&Bank) -> Result<(), TransferError> + 'a>,
        );
        let steps: Vec<(Step, Result<(), TransferError>, [u64; 3])> = vec![
            (
                (
                    "transfer(0 -> 1, 30)",
                    Box::new(|b: &Bank| b.transfer(0, 1, 30)),
                ),
                Ok(()),
                [70, 80, 0],
            ),
            (
                (
                    "transfer(2 -> 0, 1) (account 2 is empty)",
                    Box::new(|b: &Bank| b.transfer(2, 0, 1)),
                ),
                Err(TransferError::InsufficientFunds {
                    needed: 1,
                    available: 0,
                }),
                [70, 80, 0],
            ),
            (
                (
                    "transfer(1 -> 0, 81) (account 1 holds 80)",
                    Box::new(|b: &Bank| b.transfer(1, 0, 81)),
                ),
                Err(TransferError::InsufficientFunds {
                    needed: 81,
                    available: 80,
                }),
                [70, 80, 0],
            ),
            (
                (
                    "transfer(0 -> 3, 10)",
                    Box::new(|b: &Bank| b.transfer(0, 3, 10)),
                ),
                Err(TransferError::NoSuchAccount(3)),
                [70, 80, 0],
            ),
            (
                (
                    "transfer(7 -> 1, 10)",
                    Box::new(|b: &Bank| b.transfer(7, 1, 10)),
                ),
                Err(TransferError::NoSuchAccount(7)),
                [70, 80, 0],
            ),
            (
                (
                    "transfer_with(1 -> 2, 80, hook) (all of account 1)",
                    Box::new(|b: &Bank| b.transfer_with(1, 2, 80, || hooks.set(hooks.get() + 1))),
                ),
                Ok(()),
                [70, 0, 80],
            ),
            (
                (
                    "transfer(2 -> 1, 0)",
                    Box::new(|b: &Bank| b.transfer(2, 1, 0)),
                ),
                Ok(()),
                [70, 0, 80],
            ),
        ];
        let mut done = Vec::new();
        for ((what, call), expected, after) in steps {
            let before = balances(&bank);
            let got = call(&bank);
            let now = balances(&bank);
            let want: Vec<Option<u64>> = after.iter().map(|&b| Some(b)).collect();
            if got != expected || now != want {
                let debited_anyway = expected.is_err() && now != before;
                return Err(Finding::new(if expected.is_err() {
                    "a failed transfer returns its error and changes nothing"
                } else {
                    "a transfer moves the amount from one account to the other"
                })
                .observed(format!(
                    "Bank::new(&[100, 50, 0]), then {}{what} returned {got:?} (expected {expected:?}); balances are now {now:?} (expected {want:?})",
                    if done.is_empty() { String::new() } else { format!("{}, then ", done.join(", ")) }
                ))
                .why(if debited_anyway {
                    "The error was found after part of the transfer had already happened. A transfer is one indivisible step: decide every error (both ids exist, they differ, the funds are there) before changing any balance."
                } else {
                    "Look at the order of the checks: unknown ids first (from, then to), then the same account, then the funds, all before any balance changes."
                })
                .hint(HINT_ERRORS));
            }
            done.push(what.to_string());
        }
        ensure(hooks.get() == 1, || {
            Finding::new("transfer_with calls while_locked once for a transfer that succeeds")
                .observed(format!(
                    "transfer_with(1 -> 2, 80, hook) succeeded and called the hook {} time(s)",
                    hooks.get()
                ))
                .hint(HINT_ERRORS)
        })?;
        ensure(bank.total() == 150, || {
            Finding::new("total() is the sum of the balances")
                .observed(format!("balances [70, 0, 80], total() = {}", bank.total()))
        })
    }

    pub fn same_account_refused() -> Outcome {
        let why = "A transfer from an account to itself locks that account's Mutex and then locks it again. std's Mutex is not re-entrant: the second lock waits for the first guard to be dropped, which the same thread would do only after the second lock returned. With a lock order by id this still happens: the lower and the higher account are the same one.";
        for (what, amount) in [
            ("transfer(1 -> 1, 5)", 5u64),
            ("transfer(1 -> 1, 500) (more than the balance)", 500),
        ] {
            let bank = Arc::new(Bank::new(&[10, 20]));
            let b = bank.clone();
            let got = bounded(what, why, HINT_SAME, move || b.transfer(1, 1, amount))?;
            let now = balances(&bank);
            ensure(
                got == Err(TransferError::SameAccount) && now == [Some(10), Some(20)],
                || {
                    Finding::new("a transfer to the same account is refused with SameAccount")
                        .observed(format!(
                            "Bank::new(&[10, 20]), {what} returned {got:?}, balances now {now:?}"
                        ))
                        .why("from == to is an error the transfer must decide before it locks anything, and it changes nothing.")
                        .hint(HINT_SAME)
                },
            )?;
        }
        let bank = Arc::new(Bank::new(&[10, 20]));
        let b = bank.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let got = bounded(
            "transfer_with(0 -> 0, 1, hook)",
            why,
            HINT_SAME,
            move || {
                b.transfer_with(0, 0, 1, move || {
                    c.fetch_add(1, SeqCst);
                })
            },
        )?;
        ensure(
            got == Err(TransferError::SameAccount) && calls.load(SeqCst) == 0,
            || {
                Finding::new("a transfer to the same account is refused with SameAccount")
                    .observed(format!(
                        "transfer_with(0 -> 0, 1, hook) returned {got:?} and called the hook {} time(s) (expected SameAccount, 0)",
                        calls.load(SeqCst)
                    ))
                    .hint(HINT_SAME)
            },
        )
    }

    pub fn dine_counts_meals() -> Outcome {
        for (n, meals) in [(2usize, 3usize), (5, 10), (3, 0)] {
            let calls: Arc<Vec<Mutex<Vec<usize>>>> =
                Arc::new((0..n).map(|_| Mutex::new(Vec::new())).collect());
            let c = calls.clone();
            let what = format!("dine({n}, {meals}, eat)");
            let outcome = within(&what, Duration::from_secs(5), move || {
                dine(n, meals, move |p, meal| c[p].lock().unwrap().push(meal))
            });
            let seen: Vec<Vec<usize>> = calls.iter().map(|m| m.lock().unwrap().clone()).collect();
            let got = match outcome {
                Ran::Returned(got, _) => got,
                Ran::Panicked(payload) => {
                    let payload = pass_on_todo(payload);
                    return Err(Finding::new("dine runs every meal and returns")
                        .observed(format!("{what} panicked: {}", panic_text(&*payload))));
                }
                Ran::Hung => {
                    return Err(philosophers_deadlock(format!(
                    "{what} had not returned after 5 s; meals eaten so far, by philosopher: {:?}",
                    seen.iter().map(Vec::len).collect::<Vec<_>>()
                )))
                }
            };
            let expected: Vec<usize> = (0..meals).collect();
            ensure(
                got == vec![meals; n] && seen.iter().all(|s| *s == expected),
                || {
                    Finding::new("each philosopher eats meals 0, 1, ... in order, and dine returns how many each ate")
                        .observed(format!(
                            "{what} returned {got:?} (expected {:?}); eat was called with these meals, by philosopher: {seen:?}",
                            vec![meals; n]
                        ))
                        .hint(HINT_FORKS)
                },
            )?;
        }
        match within("dine(1, 1, eat)", ONE_CALL, || dine(1, 1, |_, _| {})) {
            Ran::Panicked(payload) => {
                pass_on_todo(payload);
                Ok(())
            }
            Ran::Returned(got, _) => Err(Finding::new("dine panics with fewer than 2 philosophers")
                .observed(format!("dine(1, 1, eat) returned {got:?}"))
                .why("One philosopher has one fork between himself and himself: the promise is a panic (an assert) for fewer than 2.")),
            Ran::Hung => Err(Finding::new("dine panics with fewer than 2 philosophers")
                .observed("dine(1, 1, eat) neither panicked nor returned within 3 s: the philosopher waits for his own fork")
                .fix("assert!(philosophers >= 2) before spawning anything.")),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Watching threads that may deadlock.

    /// What each watched thread is doing now, and how much it has done.
    struct Board {
        doing: Vec<Mutex<String>>,
        progress: Vec<AtomicU64>,
        finished: Vec<AtomicBool>,
    }

    impl Board {
        fn new(names: &[String]) -> Board {
            Board {
                doing: names
                    .iter()
                    .map(|n| Mutex::new(format!("{n}: starting")))
                    .collect(),
                progress: names.iter().map(|_| AtomicU64::new(0)).collect(),
                finished: names.iter().map(|_| AtomicBool::new(false)).collect(),
            }
        }
        fn doing(&self, i: usize, what: String) {
            *self.doing[i].lock().unwrap() = what;
        }
        fn step(&self, i: usize) {
            self.progress[i].fetch_add(1, SeqCst);
        }
        fn finish(&self, i: usize) {
            self.finished[i].store(true, SeqCst);
        }
        fn total(&self) -> u64 {
            self.progress.iter().map(|p| p.load(SeqCst)).sum()
        }
        fn all_finished(&self) -> bool {
            self.finished.iter().all(|f| f.load(SeqCst))
        }
        /// The threads still running and what each is in.
        fn stuck(&self) -> Vec<String> {
            (0..self.doing.len())
                .filter(|&i| !self.finished[i].load(SeqCst))
                .map(|i| self.doing[i].lock().unwrap().clone())
                .collect()
        }
    }

    /// Waits until every watched thread finished; `Err(stuck threads)` after `STALL` without any
    /// progress by any of them.
    fn watch(board: &Board) -> Result<(), Vec<String>> {
        let mut last = board.total();
        let mut since = Instant::now();
        while !board.all_finished() {
            thread::sleep(Duration::from_millis(10));
            let now = board.total();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= STALL {
                return Err(board.stuck());
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Stress.

    const WORKERS: usize = 8;
    const ACCOUNTS: usize = 12;
    const OPS: usize = 15_000;

    pub fn random_transfers_8_threads() -> Outcome {
        let mut rng = Rng::from_clock();
        let seed = rng.seed();
        // Small balances: many transfers fail for lack of funds, and two transfers often race for
        // the last coins of an account.
        let initial: Vec<u64> = (0..ACCOUNTS).map(|_| rng.below(40)).collect();
        let total: u64 = initial.iter().sum();
        let bank = Arc::new(Bank::new(&initial));
        let mut names: Vec<String> = (0..WORKERS).map(|w| format!("worker {w}")).collect();
        names.push("the auditor".into());
        let board = Arc::new(Board::new(&names));
        let problems: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (bank, board, problems) = (bank.clone(), board.clone(), problems.clone());
            let mut rng = Rng::seeded(seed ^ ((w as u64 + 1) * 0x9E37_79B9));
            workers.push(thread::spawn(move || {
                let mut net = vec![0i64; ACCOUNTS];
                let run = catch_unwind(AssertUnwindSafe(|| {
                    for _ in 0..OPS {
                        let from = if rng.chance(2) {
                            ACCOUNTS + rng.below(3) as usize
                        } else {
                            rng.below(ACCOUNTS as u64) as usize
                        };
                        let to = if rng.chance(3) {
                            from
                        } else {
                            rng.below(ACCOUNTS as u64) as usize
                        };
                        let amount = 1 + rng.below(12);
                        board.doing(
                            w,
                            format!("worker {w}: {}", show_transfer(from, to, amount)),
                        );
                        let got = bank.transfer(from, to, amount);
                        board.step(w);
                        let valid = |id: usize| id < ACCOUNTS;
                        let fine = match &got {
                            Ok(()) => valid(from) && valid(to) && from != to,
                            Err(TransferError::NoSuchAccount(id)) => {
                                !valid(*id) && (*id == from || *id == to)
                            }
                            Err(TransferError::SameAccount) => from == to,
                            Err(TransferError::InsufficientFunds { needed, available }) => {
                                *needed == amount && *available < amount && from != to
                            }
                        };
                        if !fine {
                            problems.lock().unwrap().push(format!(
                                "{} returned {got:?}",
                                show_transfer(from, to, amount)
                            ));
                            return;
                        }
                        if got.is_ok() {
                            net[from] -= amount as i64;
                            net[to] += amount as i64;
                        }
                    }
                }));
                if let Err(payload) = run {
                    let text = panic_text(&*pass_on_todo(payload));
                    problems.lock().unwrap().push(format!(
                        "worker {w} panicked in {}: {text}",
                        board.doing[w].lock().unwrap()
                    ));
                }
                board.finish(w);
                net
            }));
        }
        let auditor = {
            let (bank, board, problems, stop) =
                (bank.clone(), board.clone(), problems.clone(), stop.clone());
            thread::spawn(move || {
                let a = WORKERS;
                let mut audits = 0u64;
                let run = catch_unwind(AssertUnwindSafe(|| {
                    while !stop.load(SeqCst) {
                        board.doing(a, "the auditor: total()".into());
                        let t = bank.total();
                        board.step(a);
                        audits += 1;
                        if t != total {
                            problems.lock().unwrap().push(format!(
                                "total() returned {t} while transfers ran (audit {audits}); the accounts always hold {total} in all"
                            ));
                            return;
                        }
                        for id in 0..ACCOUNTS {
                            board.doing(a, format!("the auditor: balance({id})"));
                            let b = bank.balance(id);
                            board.step(a);
                            if b.map_or(true, |b| b > total) {
                                problems.lock().unwrap().push(format!(
                                    "balance({id}) returned {b:?} while transfers ran, but all the accounts together hold {total}"
                                ));
                                return;
                            }
                        }
                    }
                }));
                if let Err(payload) = run {
                    let text = panic_text(&*pass_on_todo(payload));
                    problems
                        .lock()
                        .unwrap()
                        .push(format!("the auditor panicked: {text}"));
                }
                board.finish(a);
                audits
            })
        };
        // The auditor stops when the workers are done; watch them all.
        let stopper = {
            let (board, stop) = (board.clone(), stop.clone());
            thread::spawn(move || {
                while !(0..WORKERS).all(|w| board.finished[w].load(SeqCst)) {
                    thread::sleep(Duration::from_millis(5));
                }
                stop.store(true, SeqCst);
            })
        };
        if let Err(stuck) = watch(&board) {
            return Err(circular_wait(format!(
                "seed {seed}: {WORKERS} threads x {OPS} random transfers over {ACCOUNTS} accounts, with total() and balance() called in a loop: for {} s not one call finished. Still inside their calls: {}",
                STALL.as_secs(),
                stuck.join("; ")
            ))
            .detail(stuck_detail(&stuck)));
        }
        let _ = stopper.join();
        let nets: Vec<Vec<i64>> = workers.into_iter().map(|h| h.join().unwrap()).collect();
        let audits = auditor.join().unwrap();
        let problems = problems.lock().unwrap().clone();
        if let Some(first) = problems.first() {
            let negative = first.contains("overflow") || first.contains("balance(");
            return Err(Finding::new(if first.contains("total()") {
                "total() is always the initial total, even while transfers run"
            } else if negative {
                "no balance ever goes below zero"
            } else {
                "every transfer returns the right result"
            })
            .observed(format!(
                "seed {seed}: {WORKERS} threads x {OPS} random transfers over {ACCOUNTS} accounts holding {total} in all: {first}{}",
                if problems.len() > 1 { format!(" (and {} more problems)", problems.len() - 1) } else { String::new() }
            ))
            .why(if first.contains("total()") {
                "A sum taken one account at a time can read account A before a transfer moves money from A to B, and account B after it: that money is counted twice (or, the other way round, not at all)."
            } else if negative {
                "The funds were checked, but not under the locks that the debit happens under: two transfers from the same account both see enough money, then both take it."
            } else {
                "Decide the error under the locks: which one applies depends on the balances at that instant."
            })
            .fix(if first.contains("total()") {
                "Lock every account first, in the same order as transfer does (lowest id first), then add up, then release them all."
            } else {
                "Lock both accounts first (in id order), then check the funds and move the money under those same guards."
            })
            .hint(if first.contains("total()") { HINT_TOTAL } else { HINT_ERRORS }));
        }
        let want: Vec<Option<u64>> = (0..ACCOUNTS)
            .map(|i| {
                let net: i64 = nets.iter().map(|n| n[i]).sum();
                Some((initial[i] as i64 + net) as u64)
            })
            .collect();
        let now = balances(&bank);
        ensure(now == want && bank.total() == total, || {
            Finding::new("no money is lost or made: every successful transfer moved its amount, exactly once")
                .observed(format!(
                    "seed {seed}: started with {initial:?}; after the transfers that returned Ok, the balances should be {want:?}, they are {now:?} (total() = {}, {audits} audits)",
                    bank.total()
                ))
                .why("A read-modify-write of a balance outside its account's lock can overwrite another transfer's change.")
                .hint(HINT_ERRORS)
        })
    }

    /// What the stuck calls suggest beyond the lock order.
    fn stuck_detail(stuck: &[String]) -> String {
        let mut notes = Vec::new();
        let same = stuck.iter().find(|s| {
            s.split_once("transfer(")
                .and_then(|(_, rest)| rest.split_once(','))
                .and_then(|(pair, _)| pair.split_once(" -> "))
                .is_some_and(|(a, b)| a == b)
        });
        if let Some(same) = same {
            notes.push(format!("{same} is a transfer to the same account: it may be waiting for its own lock (see same_account_refused)."));
        }
        if stuck.iter().any(|s| s.contains("total()")) {
            notes.push("total() is among the stuck calls: if it takes the accounts' locks in another order than transfer does, the two can wait for each other.".to_string());
        }
        notes.join(" ")
    }

    pub fn dine_5_philosophers_500_meals() -> Outcome {
        const N: usize = 5;
        const MEALS: usize = 500;
        for round in 1..=3 {
            let names: Vec<String> = (0..N).map(|p| format!("philosopher {p}")).collect();
            let board = Arc::new(Board::new(&names));
            let eating: Arc<Vec<AtomicBool>> =
                Arc::new((0..N).map(|_| AtomicBool::new(false)).collect());
            let next_meal: Arc<Vec<AtomicUsize>> =
                Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
            let problems: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
            let (b, e, m, pr) = (
                board.clone(),
                eating.clone(),
                next_meal.clone(),
                problems.clone(),
            );
            let (done_tx, done_rx) = mpsc::channel();
            thread::spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    dine(N, MEALS, move |p, meal| {
                        if p >= N {
                            pr.lock()
                                .unwrap()
                                .push(format!("eat was called for philosopher {p}"));
                            return;
                        }
                        e[p].store(true, SeqCst);
                        for q in [(p + N - 1) % N, (p + 1) % N] {
                            if e[q].load(SeqCst) {
                                pr.lock().unwrap().push(format!(
                                    "philosophers {p} and {q}, neighbours, were eating at the same time (meal {meal} of {p})"
                                ));
                            }
                        }
                        let expected = m[p].fetch_add(1, SeqCst);
                        if expected != meal {
                            pr.lock().unwrap().push(format!(
                                "philosopher {p} ate meal {meal} when meal {expected} was next"
                            ));
                        }
                        thread::yield_now();
                        e[p].store(false, SeqCst);
                        b.doing(
                            p,
                            format!("philosopher {p} (ate {} of {MEALS} meals)", meal + 1),
                        );
                        b.step(p);
                    })
                }));
                let _ = done_tx.send(outcome);
            });
            // The philosophers' threads are the code's own; watch the meals instead.
            let mut last = 0;
            let mut since = Instant::now();
            let outcome = loop {
                match done_rx.recv_timeout(Duration::from_millis(10)) {
                    Ok(outcome) => break outcome,
                    Err(_) => {
                        let now = board.total();
                        if now != last {
                            last = now;
                            since = Instant::now();
                        } else if since.elapsed() >= STALL {
                            let eaten: Vec<usize> =
                                next_meal.iter().map(|m| m.load(SeqCst)).collect();
                            return Err(philosophers_deadlock(format!(
                                "round {round}: dine({N}, {MEALS}, eat): for {} s nobody ate. Meals eaten by each philosopher: {eaten:?}; none of them has finished, so each is waiting for a fork",
                                STALL.as_secs()
                            )));
                        }
                    }
                }
            };
            let got = match outcome {
                Ok(got) => got,
                Err(payload) => {
                    let payload = pass_on_todo(payload);
                    return Err(Finding::new("dine runs every meal and returns").observed(
                        format!(
                            "round {round}: dine({N}, {MEALS}, eat) panicked: {}",
                            panic_text(&*payload)
                        ),
                    ));
                }
            };
            let problems = problems.lock().unwrap().clone();
            if let Some(first) = problems.first() {
                return Err(Finding::new("a philosopher eats only while holding both of his forks")
                    .observed(format!("round {round}: dine({N}, {MEALS}, eat): {first} ({} problems in all)", problems.len()))
                    .why("Fork i is shared by philosophers i and i + 1: if both can eat at once, one of them eats without holding it (a fork released too early, or never taken).")
                    .fix("Hold both fork guards for the whole call of eat; let them drop after it returns.")
                    .hint(HINT_FORKS));
            }
            ensure(got == vec![MEALS; N], || {
                Finding::new("dine returns the meals each philosopher ate")
                    .observed(format!(
                        "round {round}: dine({N}, {MEALS}, eat) returned {got:?}"
                    ))
                    .hint(HINT_FORKS)
            })?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Timing.

    /// A meeting point for the hooks of transfers that should be inside their locks at once.
    struct Meeting {
        inside: Mutex<(usize, bool)>,
        changed: Condvar,
    }

    impl Meeting {
        fn new() -> Meeting {
            Meeting {
                inside: Mutex::new((0, false)),
                changed: Condvar::new(),
            }
        }
        /// Arrives and waits (at most `limit`) until `want` callers are inside; whether they were.
        fn meet(&self, want: usize, limit: Duration) -> bool {
            let mut state = self.inside.lock().unwrap();
            state.0 += 1;
            self.changed.notify_all();
            let deadline = Instant::now() + limit;
            while state.0 < want && !state.1 {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // Give up for everybody: the others must not wait their whole limit too.
                    state.1 = true;
                    self.changed.notify_all();
                    break;
                }
                state = self.changed.wait_timeout(state, left).unwrap().0;
            }
            state.0 >= want
        }
    }

    pub fn disjoint_transfers_overlap() -> Outcome {
        const LIMIT: Duration = Duration::from_secs(3);
        for pairs in [[(0usize, 1usize), (2, 3)], [(3, 2), (1, 0)]] {
            let bank = Arc::new(Bank::new(&[10, 10, 10, 10]));
            let meeting = Arc::new(Meeting::new());
            let shown = format!(
                "{} and {}",
                show_transfer(pairs[0].0, pairs[0].1, 1),
                show_transfer(pairs[1].0, pairs[1].1, 1)
            );
            let handles: Vec<_> = pairs
                .iter()
                .map(|&(from, to)| {
                    let (bank, meeting) = (bank.clone(), meeting.clone());
                    thread::spawn(move || {
                        let mut met = false;
                        let got = bank.transfer_with(from, to, 1, || met = meeting.meet(2, LIMIT));
                        (got, met)
                    })
                })
                .collect();
            let mut results = Vec::new();
            let started = Instant::now();
            for h in handles {
                // Each hook waits at most LIMIT; a transfer that never gets its locks is a deadlock.
                while !h.is_finished() && started.elapsed() < LIMIT * 3 {
                    thread::sleep(Duration::from_millis(5));
                }
                if !h.is_finished() {
                    return Err(Finding::new(
                        "transfers between disjoint pairs of accounts never wait for each other",
                    )
                    .observed(format!(
                        "{shown} on Bank::new(&[10, 10, 10, 10]): still not done after {} s",
                        (LIMIT * 3).as_secs()
                    )));
                }
                results.push(h.join().map_err(|p| {
                    Finding::new("the calls return without panicking").observed(format!(
                        "{shown}: a transfer panicked: {}",
                        panic_text(&*pass_on_todo(p))
                    ))
                })?);
            }
            let both_met = results.iter().all(|(got, met)| got.is_ok() && *met);
            ensure(both_met, || {
                Finding::new("transfers between disjoint pairs of accounts run at the same time")
                    .observed(format!(
                        "{shown} ran on two threads, each holding its locks open in transfer_with's hook until the other one was inside its own: they were never inside at the same time (each waited up to {} s; results {:?})",
                        LIMIT.as_secs(),
                        results.iter().map(|r| &r.0).collect::<Vec<_>>()
                    ))
                    .why("Transfers that share no account have nothing to protect from each other, but one bank-wide lock (or a lock on more accounts than the two a transfer touches) makes every transfer wait for every other: correct, and serial.")
                    .fix("One Mutex per account, and a transfer locks only its own two (lower id first).")
                    .hint(HINT_ORDER)
            })?;
        }
        Ok(())
    }

    pub fn waiting_transfer_does_not_spin() -> Outcome {
        const WAITERS: usize = 8;
        const HOLD: Duration = Duration::from_millis(300);
        // A blocked thread uses no CPU; eight polling ones get most of the cores even on a busy machine.
        const MAX_SHARE: f64 = 0.15;
        let bank = Arc::new(Bank::new(&[10; 2 + WAITERS]));
        let (holding_tx, holding_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = {
            let bank = bank.clone();
            thread::spawn(move || {
                bank.transfer_with(0, 1, 1, move || {
                    let _ = holding_tx.send(());
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                })
            })
        };
        if holding_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            return Err(Finding::new("a transfer on idle accounts goes through")
                .observed("transfer_with(0 -> 1, 1, hook) on a fresh bank did not reach its hook within 5 s"));
        }
        // Each of these can get its own account at once (2 and up) and must then wait for 0 or 1.
        let waits: Vec<(usize, usize)> = (0..WAITERS).map(|w| (2 + w, w % 2)).collect();
        let waiters: Vec<_> = waits
            .iter()
            .map(|&(from, to)| {
                let bank = bank.clone();
                thread::spawn(move || bank.transfer(from, to, 1))
            })
            .collect();
        // Let the waiters get to their locks, then measure while they wait.
        thread::sleep(Duration::from_millis(30));
        let watch = Stopwatch::start();
        thread::sleep(HOLD);
        let (cpu, wall) = (watch.cpu(), watch.wall());
        let _ = release_tx.send(());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(holder.is_finished() && waiters.iter().all(|w| w.is_finished())) {
            if Instant::now() >= deadline {
                return Err(circular_wait(format!(
                    "transfer_with(0 -> 1, 1) held accounts 0 and 1 for {}; after it let go, {} were still waiting 5 s later",
                    ms(wall),
                    waits.iter().map(|&(f, t)| show_transfer(f, t, 1)).collect::<Vec<_>>().join(", ")
                )));
            }
            thread::sleep(Duration::from_millis(5));
        }
        let share = cpu.as_secs_f64() / wall.as_secs_f64();
        ensure(share <= MAX_SHARE, || {
            Finding::new("a transfer waiting for a lock sleeps instead of spinning")
                .observed(format!(
                    "while transfer_with(0 -> 1, 1) held its accounts and {WAITERS} transfers waited for them ({}), the process used {} of CPU time in {} ({:.0}% of a core; a blocked thread uses ~0%, the limit is {:.0}%)",
                    waits.iter().map(|&(f, t)| show_transfer(f, t, 1)).collect::<Vec<_>>().join(", "),
                    ms(cpu),
                    ms(wall),
                    share * 100.0,
                    MAX_SHARE * 100.0
                ))
                .why("A loop of try_lock that retries at once never sleeps: it burns a core while the holder, which needs a core to finish, may be waiting for one. Back-off means sleeping between tries (longer after each failure); better still, a plain lock() in id order waits without using any CPU.")
                .fix("Take the locks with lock(), lower id first. If you keep try_lock, release what you hold after a failure and sleep (crate::sync::thread::sleep) a little longer each time before trying again.")
                .hint(HINT_SPIN)
        })
    }

    pub fn philosophers_eat_in_parallel() -> Outcome {
        const N: usize = 5;
        const MEALS: usize = 30;
        let gauge = Arc::new(Gauge::new());
        let g = gauge.clone();
        let outcome = within("dine(5, 30, eat)", Duration::from_secs(10), move || {
            dine(N, MEALS, move |_, _| {
                let _inside = g.enter();
                // Once two were seen eating at once, the rest of the dinner can be quick.
                if g.max() < 2 {
                    thread::sleep(Duration::from_millis(3));
                }
            })
        });
        match outcome {
            Ran::Returned(_, _) => {}
            Ran::Panicked(payload) => {
                let payload = pass_on_todo(payload);
                return Err(
                    Finding::new("dine runs every meal and returns").observed(format!(
                        "dine(5, 30, eat) panicked: {}",
                        panic_text(&*payload)
                    )),
                );
            }
            Ran::Hung => {
                return Err(philosophers_deadlock(
                    "dine(5, 30, eat), each meal taking 3 ms, had not returned after 10 s".into(),
                ))
            }
        }
        ensure(gauge.max() >= 2, || {
            Finding::new("philosophers who share no fork eat at the same time")
                .observed(format!(
                    "dine(5, 30, eat) with meals of 3 ms: at most {} philosopher ate at any moment (5 philosophers have 2 disjoint pairs of forks, so 2 can eat at once)",
                    gauge.max()
                ))
                .why("A lock around the whole meal (one mutex for the table, or for every fork at once) prevents the deadlock by letting only one philosopher eat: correct, and serial.")
                .fix("Lock just the two forks of the philosopher: lower-numbered fork first, or odd/even hands, or a waiter that seats at most n - 1.")
                .hint(HINT_FORKS)
        })
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use bank::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use bank::sync::{thread, Arc};
    use bank::{dine, Bank, TransferError};
    use grader_harness::model::{doing, threads};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// A transfer on model thread `t`, noting where it is for the deadlock report.
    fn noted_transfer(
        bank: &Bank,
        t: usize,
        name: &str,
        from: usize,
        to: usize,
        amount: u64,
    ) -> Result<(), TransferError> {
        let call = show_transfer(from, to, amount);
        doing(t, format!("{name} is in {call}, waiting for a lock (its while_locked step has not run: it does not hold both accounts)"));
        let got = catch_unwind(AssertUnwindSafe(|| {
            bank.transfer_with(from, to, amount, || {
                doing(t, format!("{name} is in {call}, holding both accounts"))
            })
        }))
        .unwrap_or_else(|payload| {
            let text = panic_text(&*pass_on_todo(payload));
            if text.contains("maximum number of branches") {
                Finding::new("a transfer waiting for a lock blocks instead of spinning")
                    .observed(format!("in one interleaving, {name}'s {call} kept running without getting anywhere, until the model checker gave up: {text}"))
                    .why("A loop that try_locks, fails and tries again at once can run forever while the other thread never gets to release its lock; in real life it burns a core. The model checker sees it as an endless run.")
                    .fix("Take the locks with lock(), lowest id first. If you keep try_lock, sleep (crate::sync::thread::sleep, a yield under the model checker) after each failure before trying again.")
                    .hint(HINT_SPIN)
                    .raise();
            }
            let overflow = text.contains("overflow");
            Finding::new(if overflow { "no balance ever goes below zero" } else { "the calls return without panicking" })
                .observed(format!("in one interleaving, {name}'s {call} panicked: {text}"))
                .why(if overflow {
                    "A balance was debited by more than it held: the funds were checked, but not under the lock the debit is made under, so another transfer took the money in between."
                } else {
                    "A panic in transfer stops the check; read the message."
                })
                .fix("Lock both accounts first, then check the funds and move the money under those same guards.")
                .hint(HINT_ERRORS)
                .raise()
        });
        doing(t, format!("{name} finished {call} with {got:?}"));
        got
    }

    pub fn model_opposite_transfers() -> Outcome {
        explore_explaining("model_opposite_transfers", Some(3), circular_wait, || {
            threads(&["thread 1", "thread 2"]);
            let bank = Arc::new(Bank::new(&[10, 10]));
            let other = {
                let bank = bank.clone();
                thread::spawn(move || noted_transfer(&bank, 1, "thread 2", 1, 0, 4))
            };
            let mine = noted_transfer(&bank, 0, "thread 1", 0, 1, 3);
            doing(0, "thread 1 is joining thread 2");
            let theirs = other.join().unwrap();
            let now = [bank.balance(0), bank.balance(1)];
            if mine.is_err() || theirs.is_err() || now != [Some(11), Some(9)] {
                Finding::new("two transfers in opposite directions both go through")
                    .observed(format!("in one interleaving on Bank::new(&[10, 10]): transfer(0 -> 1, 3) gave {mine:?} while transfer(1 -> 0, 4) gave {theirs:?}; balances then {now:?} (expected Ok, Ok, [Some(11), Some(9)])"))
                    .hint(HINT_ORDER)
                    .raise();
            }
        })
    }

    pub fn model_ring_of_three() -> Outcome {
        explore_explaining("model_ring_of_three", Some(2), circular_wait, || {
            threads(&["thread 1", "thread 2", "thread 3"]);
            let bank = Arc::new(Bank::new(&[5, 5, 5]));
            let spawn = |t: usize, name: &'static str, from: usize, to: usize| {
                let bank = bank.clone();
                thread::spawn(move || noted_transfer(&bank, t, name, from, to, 2))
            };
            let second = spawn(1, "thread 2", 1, 2);
            let third = spawn(2, "thread 3", 2, 0);
            let first = noted_transfer(&bank, 0, "thread 1", 0, 1, 2);
            doing(0, "thread 1 is joining threads 2 and 3");
            let results = [first, second.join().unwrap(), third.join().unwrap()];
            let now: Vec<Option<u64>> = (0..3).map(|i| bank.balance(i)).collect();
            if results.iter().any(|r| r.is_err()) || now != [Some(5), Some(5), Some(5)] {
                Finding::new("a ring of transfers (0 -> 1, 1 -> 2, 2 -> 0) all go through")
                    .observed(format!("in one interleaving on Bank::new(&[5, 5, 5]), transfers of 2 along the ring gave {results:?}; balances then {now:?} (expected all Ok, all 5)"))
                    .hint(HINT_ORDER)
                    .raise();
            }
        })
    }

    pub fn model_total_races_transfer() -> Outcome {
        let deadlock: fn(String) -> Finding = |observed: String| {
            Finding::new("total() never deadlocks with a transfer")
                .observed(observed)
                .why("total() takes several accounts' locks, just as transfer takes two: if it takes them in another order than transfer (highest id first, say), each can hold a lock the other waits for.")
                .fix("Lock the accounts in total() in the same global order as transfer: lowest id first.")
                .hint(HINT_TOTAL)
        };
        for (from, to) in [(0usize, 1usize), (1, 0)] {
            explore_explaining("model_total_races_transfer", Some(3), deadlock, move || {
                threads(&["thread 1", "thread 2"]);
                let bank = Arc::new(Bank::new(&[10, 10]));
                let other = {
                    let bank = bank.clone();
                    thread::spawn(move || noted_transfer(&bank, 1, "thread 2", from, to, 3))
                };
                doing(0, "thread 1 is in total(), waiting for an account's lock");
                let sum = bank.total();
                doing(0, "thread 1 is joining thread 2");
                let moved = other.join().unwrap();
                if sum != 20 || moved.is_err() {
                    Finding::new("total() is consistent with every completed transfer and no half of one")
                        .observed(format!("in one interleaving on Bank::new(&[10, 10]), total() returned {sum} (expected 20) while {} ran (it gave {moved:?})", show_transfer(from, to, 3)))
                        .why("Adding up one account at a time lets the transfer run between two reads: the amount is counted on both sides, or on neither.")
                        .fix("In total(), take every account's lock first, lowest id first, keep the guards, then add up.")
                        .hint(HINT_TOTAL)
                        .raise();
                }
            })?;
        }
        Ok(())
    }

    pub fn model_last_funds() -> Outcome {
        explore_explaining("model_last_funds", Some(3), circular_wait, || {
            threads(&["thread 1", "thread 2"]);
            let bank = Arc::new(Bank::new(&[5, 0, 0]));
            let other = {
                let bank = bank.clone();
                thread::spawn(move || noted_transfer(&bank, 1, "thread 2", 0, 2, 5))
            };
            let mine = noted_transfer(&bank, 0, "thread 1", 0, 1, 5);
            doing(0, "thread 1 is joining thread 2");
            let theirs = other.join().unwrap();
            let now: Vec<Option<u64>> = (0..3).map(|i| bank.balance(i)).collect();
            let refused = Err(TransferError::InsufficientFunds {
                needed: 5,
                available: 0,
            });
            let one_wins =
                (mine.is_ok() && theirs == refused && now == [Some(0), Some(5), Some(0)])
                    || (theirs.is_ok() && mine == refused && now == [Some(0), Some(0), Some(5)]);
            if !one_wins {
                Finding::new("two transfers racing for the last funds: exactly one wins")
                    .observed(format!("in one interleaving on Bank::new(&[5, 0, 0]): transfer(0 -> 1, 5) gave {mine:?} while transfer(0 -> 2, 5) gave {theirs:?}; balances then {now:?}"))
                    .why("The funds were checked outside the lock the debit is made under (balance() first, then lock and subtract): both transfers see 5, both take 5.")
                    .fix("Check the funds under the same guards as the debit: lock both accounts, then compare, then move.")
                    .hint(HINT_ERRORS)
                    .raise();
            }
        })
    }

    pub fn model_three_philosophers() -> Outcome {
        explore_explaining(
            "model_three_philosophers",
            Some(3),
            philosophers_deadlock,
            || {
                threads(&[
                    "the main thread",
                    "philosopher 0",
                    "philosopher 1",
                    "philosopher 2",
                ]);
                for p in 0..3 {
                    doing(p + 1, format!("philosopher {p} is waiting for his forks (fork {} and fork {p}) and has not eaten", (p + 2) % 3));
                }
                doing(
                    0,
                    "the main thread is in dine(3, 1, eat), joining the philosophers",
                );
                let eating: Arc<Vec<AtomicBool>> =
                    Arc::new((0..3).map(|_| AtomicBool::new(false)).collect());
                let e = eating.clone();
                let got = dine(3, 1, move |p, meal| {
                    doing(p + 1, format!("philosopher {p} is eating meal {meal}"));
                    e[p].store(true, SeqCst);
                    for q in [(p + 2) % 3, (p + 1) % 3] {
                        if e[q].load(SeqCst) {
                            Finding::new("a philosopher eats only while holding both of his forks")
                            .observed(format!("in one interleaving of dine(3, 1, eat), philosophers {p} and {q} (neighbours, sharing a fork) were eating at the same time"))
                            .why("Fork i is shared by philosophers i and i + 1: if both can eat at once, one of them eats without holding it.")
                            .fix("Hold both fork guards for the whole call of eat.")
                            .hint(HINT_FORKS)
                            .raise();
                        }
                    }
                    e[p].store(false, SeqCst);
                    doing(p + 1, format!("philosopher {p} has eaten"));
                });
                if got != [1, 1, 1] {
                    Finding::new("dine returns the meals each philosopher ate")
                        .observed(format!(
                            "in one interleaving, dine(3, 1, eat) returned {got:?}"
                        ))
                        .hint(HINT_FORKS)
                        .raise();
                }
            },
        )
    }
}
