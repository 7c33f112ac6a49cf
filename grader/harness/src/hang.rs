//! Hangs diagnosed in seconds: what each thread is blocked on, and a deadlock ended at once.
//!
//! Under std the lesson's shim (`src/sync.rs`) notes, for each thread that uses it, whether it is
//! blocked and where: in `Mutex::lock` (and who holds that lock), `Condvar::wait`, or
//! `JoinHandle::join`, at which line of the code under test. The generated harness hands the
//! shim's functions to [`install`]. While a check runs, [`watch`] looks at those notes ten times a
//! second: when every noted thread is blocked (the check's own thread counting as blocked while
//! it only waits for the code under test, see [`observing`]) and none of them has woken for
//! [`QUIET`], nothing can ever wake them: the check ends at once as a deadlock, with the table.
//!
//! A thread that is not blocked in the shim (sleeping, computing, waiting on I/O, in a wait with a
//! time limit) counts as making progress, so a correct solution is never stopped; threads that
//! never touch the shim are not noted at all.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::protocol::{Blocked, Finding};

/// One noted thread as the shim reports it: name, state (0 running, 1 in a timed wait, 2 the
/// check observing, 3 blocked), how many times it blocked so far, the call it is blocked in, where,
/// and a note (who holds the lock, which thread a join waits for).
pub type Row = (String, u8, u64, String, String, String);

/// The shim's side, as the generated harness passes it.
pub struct Shim {
    pub enter: fn(),
    pub observe: fn(bool),
    pub snapshot: fn() -> Vec<Row>,
    /// Threads whose JoinHandle was dropped without a join: (name, where it was spawned).
    pub unjoined: fn() -> Vec<(String, String)>,
}

static SHIM: OnceLock<Shim> = OnceLock::new();

/// How long every thread must stay blocked, none woken, before the check is ended as a deadlock.
pub const QUIET: Duration = Duration::from_millis(1500);
/// How often the notes are looked at.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Hands the harness the shim's notes (the generated `main` does, under std).
pub fn install(shim: Shim) {
    let _ = SHIM.set(shim);
}

/// The threads of the code under test whose JoinHandle was dropped without a join so far, the
/// first 64: (name, where it was spawned). Unlike a count of threads after a grace period, this
/// does not depend on how soon a detached thread happens to end. Empty without the shim's notes.
pub fn unjoined_threads() -> Vec<(String, String)> {
    SHIM.get().map(|shim| (shim.unjoined)()).unwrap_or_default()
}

/// `Ok` while no thread the code under test spawned has had its JoinHandle dropped unjoined;
/// else the finding, naming each such thread and where it was spawned. `call` is what promised to
/// join them (`run_pipeline`), `what` the run (for `observed`). Deterministic: a detached thread
/// fails it even if it ended long ago.
pub fn every_thread_joined(call: &str, what: &str) -> Result<(), Finding> {
    let unjoined = unjoined_threads();
    if unjoined.is_empty() {
        return Ok(());
    }
    // Grouped by where they were spawned: a pool's threads come from one line.
    let mut places: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, at) in &unjoined {
        match places.iter_mut().find(|(p, _)| p == at) {
            Some((_, names)) => names.push(name),
            None => places.push((at, vec![name])),
        }
    }
    let listed: Vec<String> = places
        .iter()
        .map(|(at, names)| {
            let shown = names.iter().take(4).copied().collect::<Vec<_>>().join(", ");
            let more = if names.len() > 4 { ", ..." } else { "" };
            format!("{} spawned at {at} ({shown}{more})", names.len())
        })
        .collect();
    let n = unjoined.len();
    Err(Finding::new(format!("every thread {call} starts is joined before it returns"))
        .observed(format!(
            "{what}: {call} dropped the JoinHandle of {n} thread{} without joining {}: {}",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" },
            listed.join("; ")
        ))
        .why(format!("Dropping a JoinHandle detaches its thread: nobody waits for it, so {call} can return while the thread still runs, and whatever it does then happens after its caller believes the work is over. That a detached thread ends soon after is luck, not a promise: under load, or behind a slow last item, it is still running."))
        .fix(format!("Keep every JoinHandle {call} spawns and join each one before returning (after whatever lets the thread finish, such as closing its input).")))
}

pub fn installed() -> bool {
    SHIM.get().is_some()
}

/// Notes the calling thread as part of the code under test (a helper thread the check runs it on),
/// running until it blocks in the shim.
pub fn enter() {
    if let Some(shim) = SHIM.get() {
        (shim.enter)()
    }
}

/// Runs `f`, in which the check's thread only waits for the code under test (polls whether its
/// threads finished, joins them, waits for a result): it counts as blocked meanwhile, so that a
/// deadlock of the code under test is seen even though the check's thread is not in the shim.
pub fn observing<T>(f: impl FnOnce() -> T) -> T {
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            if let Some(shim) = SHIM.get() {
                (shim.observe)(false)
            }
        }
    }
    if let Some(shim) = SHIM.get() {
        (shim.observe)(true)
    }
    let _done = Done;
    f()
}

fn rows() -> Vec<Row> {
    SHIM.get().map(|shim| (shim.snapshot)()).unwrap_or_default()
}

fn table(rows: &[Row]) -> Vec<Blocked> {
    if !rows.iter().any(|r| r.1 == 3) {
        return Vec::new();
    }
    rows.iter()
        .filter(|r| r.1 >= 2)
        .map(|(thread, state, _, call, at, note)| Blocked {
            thread: thread.clone(),
            call: if *state == 3 {
                call.clone()
            } else {
                String::new()
            },
            at: at.clone(),
            on: String::new(),
            note: if *state == 3 {
                note.clone()
            } else {
                "the check".into()
            },
        })
        .collect()
}

/// The threads blocked in the shim right now (with the check's thread if it is observing), or
/// nothing when none is.
pub fn blocked_now() -> Vec<Blocked> {
    table(&rows())
}

/// Every noted thread blocked (at least one in the shim): the blocked ones and how often each
/// blocked so far, to tell whether any woke in between.
fn stuck(rows: &[Row]) -> Option<Vec<(String, u64)>> {
    if !rows.iter().any(|r| r.1 == 3) || rows.iter().any(|r| r.1 < 2) {
        return None;
    }
    let mut key: Vec<(String, u64)> = rows
        .iter()
        .filter(|r| r.1 == 3)
        .map(|r| (r.0.clone(), r.2))
        .collect();
    key.sort();
    Some(key)
}

/// Watches the shim's notes on a thread of its own; calls `on_deadlock` with the table once every
/// thread has been blocked for [`QUIET`] with none woken.
pub fn watch(on_deadlock: impl FnOnce(Vec<Blocked>) + Send + 'static) {
    if !installed() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("grader-watchdog".into())
        .spawn(move || {
            let mut since: Option<(Vec<(String, u64)>, Instant)> = None;
            loop {
                std::thread::sleep(LOOK_EVERY);
                let rows = rows();
                match (stuck(&rows), &since) {
                    (Some(key), Some((before, at))) if *before == key => {
                        if at.elapsed() >= QUIET {
                            on_deadlock(table(&rows));
                            return;
                        }
                    }
                    (Some(key), _) => since = Some((key, Instant::now())),
                    (None, _) => since = None,
                }
            }
        });
}

/// The finding of a check ended as a deadlock.
pub fn deadlock(blocked: Vec<Blocked>) -> Finding {
    let n = blocked.iter().filter(|b| !b.call.is_empty()).count();
    let (why, fix) = stuck_on(&blocked);
    Finding::new("the threads never end up all waiting for each other (no deadlock)")
        .observed(format!(
            "{} of the code under test {}, none woken for {:.1} s, so none ever would be: the check was stopped there instead of waiting for its time limit",
            if n == 1 { "1 thread".to_string() } else { format!("{n} threads") },
            if n == 1 { "was blocked" } else { "were all blocked" },
            QUIET.as_secs_f64()
        ))
        .why(why)
        .fix(fix)
        .blocked(blocked)
}

/// The why and the fix of a deadlock, from what its threads were blocked in: only the waits that
/// were seen are explained (a pipeline of channels is not told about Condvars it never wrote).
fn stuck_on(blocked: &[Blocked]) -> (String, String) {
    // (call, why, fix) for each kind of wait the shim notes.
    const WAITS: [(&str, &str, &str); 5] = [
        (
            "Condvar::wait",
            "a Condvar wait needs a notify that never comes (a change of state that notifies nobody, or notifies the wrong Condvar, or notify_one where several wait)",
            "for each Condvar wait, find the change of state that thread waits for and notify that Condvar right after making it (notify_all where several threads may wait, as on close)",
        ),
        (
            "Mutex::lock",
            "a lock's holder is itself waiting (or the same thread locks a Mutex it already holds)",
            "for each lock wait, see who holds the lock and what that thread waits for in turn; take locks in one order everywhere, and never call back into code that locks what you hold",
        ),
        (
            "JoinHandle::join",
            "a join waits for a thread that is itself waiting",
            "join a thread only once whatever it waits for has been done (its input closed, its stop flag set)",
        ),
        (
            "Receiver::recv",
            "a recv waits for an item or for every Sender of its channel to be dropped: one Sender still alive (kept by the caller, or in something every worker shares) keeps the channel open for ever",
            "let the end of the input travel by dropping Senders: each stage owns its clones of the next channel's Sender and drops them when its own input ends, and nobody else keeps one",
        ),
        (
            "Sender::send",
            "a send waits while its channel is full, for a recv that will not come: its readers are not started yet (every input fed before the workers are spawned) or are waiting themselves",
            "start the threads that receive before feeding a bounded channel, and make sure they keep receiving until it is closed",
        ),
    ];
    // In the order the threads show them.
    let mut seen = Vec::new();
    for b in blocked {
        if let Some(wait) = WAITS.iter().find(|(call, _, _)| b.call == *call) {
            if !seen.contains(&wait) {
                seen.push(wait);
            }
        }
    }
    if seen.is_empty() {
        return (
            "Each blocked thread waits for something only another blocked thread could do. `blocked` shows where each one is stuck.".into(),
            "For each wait listed under `blocked`, find what it waits for and which thread should have done it.".into(),
        );
    }
    let why = seen
        .iter()
        .map(|(_, why, _)| *why)
        .collect::<Vec<_>>()
        .join("; ");
    let fix = seen
        .iter()
        .map(|(_, _, fix)| *fix)
        .collect::<Vec<_>>()
        .join("; ");
    (
        format!("Each blocked thread waits for something only another blocked thread could do: {why}. `blocked` shows where each one is stuck."),
        format!("{}{}.", fix[..1].to_uppercase(), &fix[1..]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_threads_are_named_by_where_they_were_spawned() {
        // The only test that installs a shim (a process has one): three threads dropped unjoined.
        install(Shim {
            enter: || (),
            observe: |_| (),
            snapshot: Vec::new,
            unjoined: || {
                vec![
                    ("`fetch-0`".into(), "src/lib.rs:171".into()),
                    ("`fetch-1`".into(), "src/lib.rs:171".into()),
                    ("thread #9".into(), "src/lib.rs:40".into()),
                ]
            },
        });
        let finding = every_thread_joined("run", "3 jobs").unwrap_err();
        assert_eq!(
            finding.observed,
            "3 jobs: run dropped the JoinHandle of 3 threads without joining them: 2 spawned at src/lib.rs:171 (`fetch-0`, `fetch-1`); 1 spawned at src/lib.rs:40 (thread #9)"
        );
        assert!(finding.property.contains("joined"), "{}", finding.property);
    }

    fn blocked_in(call: &str) -> Blocked {
        Blocked {
            thread: "fetch-0".into(),
            call: call.into(),
            ..Blocked::default()
        }
    }

    #[test]
    fn a_deadlock_is_explained_by_the_waits_it_shows() {
        let channels = deadlock(vec![
            blocked_in("Receiver::recv"),
            blocked_in("JoinHandle::join"),
        ]);
        assert!(channels.why.contains("Sender"), "{}", channels.why);
        assert!(channels.why.contains("join"), "{}", channels.why);
        assert!(!channels.why.contains("Condvar"), "{}", channels.why);
        assert!(channels.fix.starts_with("Let the end"), "{}", channels.fix);
        let full = deadlock(vec![blocked_in("Sender::send")]);
        assert!(
            full.why.contains("before the workers are spawned"),
            "{}",
            full.why
        );
        let condvar = deadlock(vec![blocked_in("Condvar::wait")]);
        assert!(condvar.why.contains("notify"), "{}", condvar.why);
        assert!(!condvar.why.contains("Sender"), "{}", condvar.why);
    }

    fn row(name: &str, state: u8, blocks: u64) -> Row {
        (
            name.into(),
            state,
            blocks,
            "Condvar::wait".into(),
            "src/lib.rs:61".into(),
            "nobody holds its lock".into(),
        )
    }

    #[test]
    fn stuck_only_when_every_noted_thread_is_blocked_or_observing() {
        assert!(stuck(&[row("a", 3, 1), row("main", 2, 0)]).is_some());
        assert!(stuck(&[row("a", 3, 1), row("b", 0, 0)]).is_none(), "b runs");
        assert!(
            stuck(&[row("a", 3, 1), row("b", 1, 0)]).is_none(),
            "b waits with a limit"
        );
        assert!(
            stuck(&[row("main", 2, 0)]).is_none(),
            "nobody is blocked in the shim"
        );
        assert_ne!(
            stuck(&[row("a", 3, 1)]),
            stuck(&[row("a", 3, 2)]),
            "a woke and blocked again"
        );
    }

    #[test]
    fn the_table_names_the_observing_check() {
        let t = table(&[row("a", 3, 1), row("main", 2, 0), row("c", 0, 0)]);
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].note, "the check");
        assert!(t[1].call.is_empty());
    }
}
