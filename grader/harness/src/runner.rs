//! The `main` of a generated harness: `list` the checks, `run` one and write its record, or run one
//! of the lesson's child programs (`child NAME ARGS...`, see [`Child`]).

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::bounded::{is_todo, TODO_PANIC};
use crate::check::{Check, Child};
use crate::protocol::{
    cut, CheckInfo, Finding, Kind, RunRecord, MAX_BLOCKED_ROWS, MAX_FIELD_BYTES, MAX_NAME_BYTES,
};
use crate::trace;

/// Panics seen in this process (message, location), the first few only.
static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
/// Set by whoever writes the check's last record: the check's end, or the deadlock watchdog.
static ENDED: AtomicBool = AtomicBool::new(false);
/// A model check's failure (a finding, a deadlock) was recorded from the panic hook.
static FAILED: AtomicBool = AtomicBool::new(false);
const KEPT_PANICS: usize = 16;

/// Entry point of every generated harness binary.
pub fn main(checks: &[Check]) -> ! {
    main_with_children(checks, &[])
}

/// Entry point of a harness whose checks start child programs (`checks.rs` declares `CHILDREN`).
pub fn main_with_children(checks: &[Check], children: &[Child]) -> ! {
    // First of all, before any lesson code can run: the record channel.
    let channel = take_record_channel();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list"] => {
            let infos: Vec<CheckInfo> = checks
                .iter()
                .map(|c| CheckInfo {
                    name: c.name.to_string(),
                    kind: c.kind,
                    timeout_ms: c.timeout.as_millis() as u64,
                    measures: c.measures,
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string(&infos).expect("check list serializes")
            );
            std::process::exit(0)
        }
        ["child", name, args @ ..] => match children.iter().find(|c| c.name == *name) {
            // A child writes no record (and has no channel: the check's is close-on-exec).
            Some(child) => {
                drop(channel);
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                std::process::exit((child.run)(&args))
            }
            None => {
                eprintln!("harness: no child program named {name}");
                std::process::exit(3)
            }
        },
        ["run", name, rest @ ..] if rest.len() <= 1 => {
            match checks.iter().find(|c| c.name == *name) {
                // The grader passes the time limit it enforces (the check's own, scaled), so that
                // where the threads are just before it can be told.
                Some(check) => run_one(
                    check,
                    channel,
                    rest.first()
                        .and_then(|ms| ms.parse().ok())
                        .map(std::time::Duration::from_millis),
                ),
                None => {
                    eprintln!("harness: no check named {name}");
                    std::process::exit(3)
                }
            }
        }
        _ => {
            eprintln!(
                "usage: harness list | harness run CHECK [LIMIT_MS] | harness child NAME [ARG...]"
            );
            std::process::exit(3)
        }
    }
}

/// The program and arguments that start child program `name` of this harness with `args` (see
/// [`Child`]): this very binary, so the child is inside the check's sandbox and its limits.
pub fn child_command(name: &str, args: &[&str]) -> (std::path::PathBuf, Vec<String>) {
    let program = std::env::current_exe().expect("the harness knows its own path");
    let mut all = vec!["child".to_string(), name.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    (program, all)
}

/// The record channel the grader passed as fd [`RECORD_FD`](crate::protocol::RECORD_FD), if it is a
/// socket: taken out of reach of any process the check starts (close-on-exec). On Windows, the
/// named pipe [`RECORD_PIPE_ENV`](crate::protocol::RECORD_PIPE_ENV) names: connected to (the pipe has
/// one instance, so nothing else can connect after us), the variable removed, and the handle is not
/// inheritable. Without one (a harness run by hand) the record goes to stdout.
fn take_record_channel() -> Option<std::fs::File> {
    #[cfg(unix)]
    {
        use crate::protocol::RECORD_FD;
        use std::os::fd::FromRawFd;
        // SAFETY: fstat and fcntl on a descriptor number only read and set its flags; the fd is
        // owned from here on by the File, and nothing else in this process knows it.
        unsafe {
            let mut stat: libc::stat = std::mem::zeroed();
            if libc::fstat(RECORD_FD, &mut stat) != 0
                || stat.st_mode & libc::S_IFMT != libc::S_IFSOCK
            {
                return None;
            }
            if libc::fcntl(RECORD_FD, libc::F_SETFD, libc::FD_CLOEXEC) != 0 {
                return None;
            }
            Some(std::fs::File::from_raw_fd(RECORD_FD))
        }
    }
    #[cfg(windows)]
    {
        use crate::protocol::RECORD_PIPE_ENV;
        let name = std::env::var_os(RECORD_PIPE_ENV)?;
        // Before any other thread exists: nothing else reads the environment meanwhile.
        std::env::remove_var(RECORD_PIPE_ENV);
        if !name.to_string_lossy().starts_with(r"\\.\pipe\") {
            return None;
        }
        // std opens it non-inheritable: a process the check starts does not get it.
        std::fs::OpenOptions::new().write(true).open(name).ok()
    }
    #[cfg(not(any(unix, windows)))]
    {
        None
    }
}

/// Where and how this process reports, set up before any lesson code runs.
struct Reporter {
    channel: Option<Mutex<std::fs::File>>,
    name: &'static str,
    kind: Kind,
    started: Instant,
}

impl Reporter {
    fn write(&self, finding: Option<Finding>) {
        self.write_record(finding, false)
    }

    fn write_record(&self, finding: Option<Finding>, at_limit: bool) {
        let record = RunRecord {
            name: self.name.to_string(),
            passed: finding.is_none(),
            finding: finding.map(capped),
            duration_ms: self.started.elapsed().as_millis() as u64,
            at_limit,
        };
        match &self.channel {
            Some(channel) => {
                // One line per record; the grader takes the last one (a model check may write its
                // first panic at once, then the end of the check).
                let text = serde_json::to_string(&record).expect("record serializes") + "\n";
                let mut channel = channel.lock().unwrap_or_else(|e| e.into_inner());
                // Checked under the lock: the check's last record (which sets ENDED first) is
                // never followed by an at-limit one.
                if at_limit && ENDED.load(Ordering::SeqCst) {
                    return;
                }
                if let Err(e) = channel.write_all(text.as_bytes()) {
                    eprintln!("harness: cannot write the result: {e}");
                    std::process::exit(4);
                }
            }
            None => println!(
                "{}",
                serde_json::to_string_pretty(&record).expect("record serializes")
            ),
        }
    }
}

/// A finding cut to a size the grader accepts: a panic message, a thread's name, a value can be
/// anything, and a record longer than [`MAX_RECORD_BYTES`](crate::protocol::MAX_RECORD_BYTES) is
/// no record.
fn capped(mut finding: Finding) -> Finding {
    for text in [
        &mut finding.property,
        &mut finding.observed,
        &mut finding.why,
        &mut finding.fix,
        &mut finding.detail,
    ] {
        cut(text, MAX_FIELD_BYTES);
    }
    finding.blocked.truncate(MAX_BLOCKED_ROWS);
    for row in &mut finding.blocked {
        for text in [
            &mut row.thread,
            &mut row.call,
            &mut row.at,
            &mut row.on,
            &mut row.note,
        ] {
            cut(text, MAX_NAME_BYTES);
        }
    }
    if let Some(trace) = &mut finding.trace {
        trace.cap();
    }
    finding
}

fn run_one(check: &Check, channel: Option<std::fs::File>, limit: Option<std::time::Duration>) -> ! {
    let reporter = Arc::new(Reporter {
        channel: channel.map(Mutex::new),
        name: check.name,
        kind: check.kind,
        started: Instant::now(),
    });

    let default_hook = panic::take_hook();
    let hook_reporter = reporter.clone();
    panic::set_hook(Box::new(move |info| {
        let message = payload_text(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if message.starts_with("deadlock") {
            if let Some(shim) = trace::shim() {
                (shim.deadlocked)();
            }
        }
        let first = match PANICS.lock() {
            Ok(mut seen) => {
                if seen.len() < KEPT_PANICS {
                    seen.push((message.clone(), location));
                }
                seen.len() == 1
            }
            Err(_) => false,
        };
        // loom reports what it finds (a deadlock, say) by panicking inside its scheduler, and the
        // unwinding that follows can abort the process while loom's objects are dropped. So the
        // first panic of a model check is recorded at once; a normal end of the check overwrites it.
        // A finding or a deadlock is the model check failing (other panics may be expected and
        // caught by the check): it is recorded even if it is not the first panic, with the
        // interleaving, which a replay records now, while the process surely still lives.
        if hook_reporter.kind == Kind::Model {
            let failing = info.payload().downcast_ref::<Finding>().is_some()
                || message.starts_with("deadlock");
            #[cfg(loom)]
            if failing {
                crate::model::park_if_replaying();
            }
            let first_failure = failing && !FAILED.swap(true, Ordering::SeqCst);
            if first || first_failure {
                #[cfg_attr(not(loom), allow(unused_mut))] // only the loom build adds a trace
                let mut finding = match info.payload().downcast_ref::<Finding>() {
                    Some(f) => f.clone(),
                    None => explain_panic(Kind::Model, &message),
                };
                #[cfg(loom)]
                if first_failure && finding.trace.is_none() {
                    if let Some(trace) = crate::model::replay_now() {
                        trace::keep(trace.clone());
                        finding.trace = Some(trace);
                    }
                }
                hook_reporter.write(Some(finding));
            }
        }
        // A Finding raised on purpose is not a crash: keep stderr for real panics.
        if info.payload().downcast_ref::<Finding>().is_none() {
            default_hook(info);
        }
    }));

    // Under std, a deadlock of the code under test ends the check at once, with where each
    // thread is stuck (the model checker finds its own).
    if check.kind != Kind::Model {
        let watch_reporter = reporter.clone();
        crate::hang::watch(move |blocked| {
            if !ENDED.swap(true, Ordering::SeqCst) {
                watch_reporter.write(Some(crate::hang::deadlock(blocked)));
                std::process::exit(0)
            }
        });
    }

    // Shortly before the grader's time limit, where each thread is then: a check that hangs in a
    // way the deadlock watch can't see (a thread spinning, or waiting with a time limit) still
    // reports it when it is killed.
    if let Some(limit) = limit.filter(|_| check.kind != Kind::Model && crate::hang::installed()) {
        let limit_reporter = reporter.clone();
        let before = (limit / 10).clamp(
            std::time::Duration::from_millis(500),
            std::time::Duration::from_secs(2),
        );
        let _ = std::thread::Builder::new()
            .name("grader-limit".into())
            .spawn(move || {
                std::thread::sleep(limit.saturating_sub(before));
                let finding =
                    Finding::new("the check finishes in time").blocked(crate::hang::blocked_now());
                limit_reporter.write_record(Some(finding), true);
            });
    }

    let outcome = panic::catch_unwind(AssertUnwindSafe(check.run));
    let finding = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(finding)) => Some(finding),
        Err(payload) => Some(match payload.downcast::<Finding>() {
            Ok(finding) => *finding,
            Err(payload) => explain_panic(check.kind, &payload_text(&*payload)),
        }),
    };
    let mut finding = finding.map(|mut f| {
        if check.kind == Kind::Model && f.trace.is_none() {
            // The failing interleaving, as the model's replay recorded it (see model.rs).
            f.trace = trace::kept();
        }
        f
    });
    // A failure while threads are still blocked (a call that did not return in time): say where.
    if let Some(f) = finding.as_mut().filter(|f| f.blocked.is_empty()) {
        f.blocked = crate::hang::blocked_now();
    }
    if ENDED.swap(true, Ordering::SeqCst) {
        // The watchdog is reporting a deadlock and ends the process.
        loop {
            std::thread::park();
        }
    }
    reporter.write(finding);
    // Exit now: a thread the code under test left behind must not keep the process alive.
    std::process::exit(0)
}

/// loom's own words for what it found, readable: its deadlock report lists every thread as
/// `(Id(0), Blocked(Location(None)))`, which says no more than "threads 0 and 1 were blocked".
pub(crate) fn loom_said(message: &str) -> String {
    let Some(threads) = message.strip_prefix("deadlock; threads = ") else {
        return format!("loom: {message}");
    };
    let blocked: Vec<&str> = threads
        .split("(Id(")
        .skip(1)
        .filter(|t| t.contains("Blocked"))
        .filter_map(|t| t.split(')').next())
        .collect();
    format!(
        "loom: deadlock, every thread blocked (model thread{} {})",
        if blocked.len() == 1 { "" } else { "s" },
        blocked.join(", ")
    )
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    match payload.downcast_ref::<Finding>() {
        Some(f) => f.property.clone(),
        None => crate::bounded::panic_text(payload),
    }
}

/// Where (`src/lib.rs:61`) a panic with exactly this message happened in this process, if one
/// did: for a check that caught a panic and wants to say where it came from.
pub fn panic_location(message: &str) -> Option<String> {
    let seen = PANICS.lock().ok()?;
    seen.iter()
        .find(|(m, l)| m == message && !l.is_empty())
        .map(|(_, l)| l.clone())
}

/// Where the panic with this message happened, else where the first panic happened.
fn location_of(message: &str) -> String {
    let seen = PANICS.lock().map(|s| s.clone()).unwrap_or_default();
    seen.iter()
        .find(|(m, _)| m == message)
        .or_else(|| seen.first())
        .map(|(_, l)| l.clone())
        .unwrap_or_default()
}

/// The first panic this process saw, if it was in the code under test rather than in the check.
fn first_panic() -> Option<(String, String)> {
    PANICS.lock().ok().and_then(|s| s.first().cloned())
}

/// Turns a panic that escaped a check into plain words. loom reports what it found as panics, so
/// for model checks the messages it uses are translated first; the original stays underneath.
fn explain_panic(kind: Kind, message: &str) -> Finding {
    // The check often panics only because the code under test panicked first (a join that
    // unwraps a thread's panic): report the first panic, it is the cause.
    let (message, location) = match first_panic() {
        Some((m, l)) if !is_todo(message) => (m, l),
        _ => (message.to_string(), location_of(message)),
    };
    let at = if location.is_empty() {
        String::new()
    } else {
        format!(" at {location}")
    };
    if is_todo(&message) {
        let what = message
            .trim_start_matches(TODO_PANIC)
            .trim_start_matches(':')
            .trim();
        return Finding::new("the code under test is implemented")
            .observed(if what.is_empty() {
                format!("a todo!() was reached{at}")
            } else {
                format!("not implemented yet: {what} (todo!(){at})")
            })
            .why("The starter leaves this function as todo!(), which panics when it is called.")
            .fix("Implement it; the lesson README describes what it must do.");
    }
    if kind == Kind::Model {
        if message.contains("deadlock") {
            return Finding::new("no deadlock in any interleaving")
                .observed("the model checker found an order of events in which every thread is blocked, waiting for something no other thread will ever do")
                .why("Typical causes: waiting on a condition variable that nobody notifies any more (a lost wakeup, or notify_one where several waiters need waking), locking a Mutex the same thread already holds, or two locks taken in opposite orders.")
                .fix("Check that every state change a waiter waits for is followed by a notify, that waits sit in a loop on the predicate, and that no function locks what its caller already locked.")
                .detail(loom_said(&message));
        }
        if message.contains("maximum number of branches") {
            return Finding::new("threads wait by blocking, not by spinning")
                .observed("the model checker gave up: the code takes too many steps in some interleaving")
                .why("A loop that polls (spin on an atomic, yield_now, try_lock in a loop) can run forever in the model, and burns a CPU in real life. loom reports it as too many branches.")
                .fix("Block instead of polling: wait on a Condvar in a loop over the predicate, or join the thread.")
                .detail(loom_said(&message));
        }
        if message.contains("leaked") {
            return Finding::new("nothing is leaked when the threads finish")
                .observed("the model checker found a value still alive after every thread ended")
                .why("An Arc cycle, a thread that was never joined, or a value moved into something that is never dropped keeps it alive.")
                .fix("Join every thread you spawn, and don't let an Arc point back to its owner.")
                .detail(loom_said(&message));
        }
    }
    Finding::new("the code runs without panicking")
        .observed(format!("panicked{at}: {message}"))
        .why("A panic in the code under test (an unwrap on a poisoned lock, an index out of range, an overflow) stops the check.")
        .fix("Read the message and the location above; the check's captured output has the full panic.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loom_deadlock_text_reads_as_blocked_threads() {
        let said = loom_said(
            "deadlock; threads = [(Id(0), Blocked(Location(None))), (Id(1), Blocked(Location(None)))]",
        );
        assert_eq!(
            said,
            "loom: deadlock, every thread blocked (model threads 0, 1)"
        );
        assert_eq!(loom_said("leaked"), "loom: leaked");
    }
}
