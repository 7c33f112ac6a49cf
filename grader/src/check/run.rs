//! Running checks: each in its own process, under its own time limit, and only a record the harness
//! wrote at the end of the check counts as a result.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grader_harness::protocol::{CheckInfo, Finding, Kind, RunRecord};

use crate::check::process::{self, describe_exit, Exceeded, Limits};
use crate::check::record::{self, Channel};

pub use crate::report::{Skip, Status};

/// What one check did.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub name: String,
    pub kind: Kind,
    pub status: Status,
    pub finding: Option<Finding>,
    pub duration: Duration,
    /// The tail of what the check printed (panic messages live here), for failures only.
    pub output: String,
}

impl CheckRun {
    pub fn skipped(name: &str, kind: Kind, reason: Skip, finding: Finding) -> CheckRun {
        CheckRun {
            name: name.into(),
            kind,
            status: Status::Skipped(reason),
            finding: Some(finding),
            duration: Duration::ZERO,
            output: String::new(),
        }
    }
}

/// How much room each check process gets. Generous: a correct solution must never hit them.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Multiplies every check's own time limit (a loaded machine, a slow laptop).
    pub timeout_scale: f64,
    /// Address space (RLIMIT_AS): room for thread stacks, a backstop for allocation.
    pub memory_bytes: u64,
    /// Resident memory, watched: a leak is stopped here, long before the address-space limit.
    pub rss_bytes: u64,
    /// Threads at once, those of any child process included.
    pub max_threads: usize,
    /// Kept of what a check prints, for the report.
    pub output_bytes: usize,
    /// Printed in all: a check that prints more is stopped (an output flood).
    pub flood_bytes: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            timeout_scale: 1.0,
            memory_bytes: 4 << 30,
            // A correct lesson uses a few MiB; a runaway allocation crosses this within a second or
            // two, and a few checks at once at this size still leave a laptop room.
            rss_bytes: 512 << 20,
            max_threads: 512,
            output_bytes: 64 << 10,
            flood_bytes: 16 << 20,
        }
    }
}

/// Asks a harness for its checks.
pub fn list(harness: &Path) -> anyhow::Result<Vec<CheckInfo>> {
    let mut command = Command::new(harness);
    command.arg("list");
    let limits = Limits {
        timeout: Duration::from_secs(20),
        memory_bytes: None,
        max_threads: None,
        max_rss_bytes: None,
        output_bytes: 1 << 20,
        max_output_bytes: None,
        cancel: None,
    };
    let finished = process::run(command, &limits)?;
    if !finished.status.is_some_and(|s| s.success()) {
        anyhow::bail!(
            "the harness could not list its checks: it {}",
            describe_exit(finished.status)
        );
    }
    Ok(serde_json::from_slice(&finished.stdout)?)
}

/// One check to run: which harness, which check.
pub struct Job<'a> {
    pub harness: &'a Path,
    pub info: CheckInfo,
}

/// Which checks run in which lane (indices into the jobs, in their order); see [`run_all`].
#[derive(Debug, PartialEq, Eq)]
struct Lanes {
    /// Unit, stress and model checks: one per core.
    others: Vec<usize>,
    /// Wall-clock timing checks: beside the others.
    wall_clock: Vec<usize>,
    /// CPU timing checks (and timing checks that do not say what they measure): one at a time,
    /// after everything else.
    alone: Vec<usize>,
}

impl Lanes {
    fn of(infos: &[&CheckInfo]) -> Lanes {
        let (alone, beside): (Vec<usize>, Vec<usize>) =
            (0..infos.len()).partition(|&i| infos[i].runs_alone());
        let (wall_clock, others) = beside
            .into_iter()
            .partition(|&i| infos[i].kind == Kind::Timing);
        Lanes {
            others,
            wall_clock,
            alone,
        }
    }
}

/// How many wall-clock timing checks run at once. They sleep nearly all the time, so they take no
/// core from the checks beside them; the bound keeps a lesson with many of them from starting that
/// many sandboxes and harness processes at once.
const WALL_CLOCK_AT_ONCE: usize = 8;

/// Runs `jobs` in three lanes: unit, stress and model checks `parallel` at a time (one per core);
/// beside them, wall-clock timing checks ([`Measures::Wall`](grader_harness::protocol::Measures)),
/// up to [`WALL_CLOCK_AT_ONCE`] at a time; then the checks that measure CPU time, one at a time with
/// nothing else running, so that what they measure is the code under test and not its neighbours.
/// `on_done` sees each result as it arrives; results come back in the order of `jobs`.
/// `on_start` is told when each check starts. With `fail_fast`, the checks not started yet when one
/// fails are skipped, and those running are stopped at once (reported as skipped too).
pub fn run_all(
    jobs: &[Job<'_>],
    parallel: usize,
    budget: Budget,
    fail_fast: bool,
    on_start: &(dyn Fn(&CheckInfo) + Sync),
    on_done: &(dyn Fn(&CheckRun) + Sync),
) -> Vec<CheckRun> {
    let results: Vec<Mutex<Option<CheckRun>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let infos: Vec<&CheckInfo> = jobs.iter().map(|j| &j.info).collect();
    let Lanes {
        others,
        wall_clock,
        alone,
    } = Lanes::of(&infos);
    let failed = Arc::new(AtomicBool::new(false));
    let cancel = fail_fast.then(|| failed.clone());
    let run = |i: usize| {
        let info = &jobs[i].info;
        let run = if fail_fast && failed.load(Ordering::SeqCst) {
            CheckRun::skipped(
                &info.name,
                info.kind,
                Skip::FailFast,
                Skip::fail_fast_finding(),
            )
        } else {
            on_start(info);
            let run = run_one(&jobs[i], budget, cancel.clone());
            if run.status != Status::Pass && !matches!(run.status, Status::Skipped(_)) {
                failed.store(true, Ordering::SeqCst);
            }
            run
        };
        on_done(&run);
        *results[i].lock().unwrap() = Some(run);
    };
    // Each lane: its checks in order, a counter of the next one to take, how many threads take them.
    let lanes = [
        (others, AtomicUsize::new(0), parallel.max(1)),
        (wall_clock, AtomicUsize::new(0), WALL_CLOCK_AT_ONCE),
    ];
    std::thread::scope(|scope| {
        for (checks, next, workers) in &lanes {
            for _ in 0..(*workers).min(checks.len()) {
                scope.spawn(|| loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = checks.get(n) else { break };
                    run(i);
                });
            }
        }
    });
    for i in alone {
        run(i);
    }
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap().expect("every job ran"))
        .collect()
}

/// Runs one check; `cancel`, once set, stops it at once (it is then reported skipped, fail-fast).
pub fn run_one(job: &Job<'_>, budget: Budget, cancel: Option<Arc<AtomicBool>>) -> CheckRun {
    let info = &job.info;
    let timeout = Duration::from_millis(info.timeout_ms).mul_f64(budget.timeout_scale.max(0.1));
    let crash = |finding: Finding, output: String, duration| CheckRun {
        name: info.name.clone(),
        kind: info.kind,
        status: Status::Crash,
        finding: Some(finding),
        duration,
        output,
    };
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return crash(
                Finding::new("the grader can run the check")
                    .observed(format!("no temporary folder: {e}")),
                String::new(),
                Duration::ZERO,
            )
        }
    };
    let channel = match Channel::new() {
        Ok(c) => c,
        Err(e) => {
            return crash(
                Finding::new("the grader can run the check")
                    .observed(format!("no record channel: {e}")),
                String::new(),
                Duration::ZERO,
            )
        }
    };
    let command = match record::command(
        job.harness,
        &info.name,
        timeout,
        scratch.path(),
        &channel,
        budget,
    ) {
        Ok(c) => c,
        Err(e) => {
            return crash(
                Finding::new("the grader can run the check").observed(e),
                String::new(),
                Duration::ZERO,
            )
        }
    };
    let limits = Limits {
        timeout,
        memory_bytes: Some(budget.memory_bytes),
        max_threads: Some(budget.max_threads),
        max_rss_bytes: Some(budget.rss_bytes),
        output_bytes: budget.output_bytes,
        max_output_bytes: Some(budget.flood_bytes),
        cancel,
    };
    // A check that measures CPU time measures the machine: nothing else of ours may run meanwhile
    // (see gate.rs).
    let (_shared, _alone) = if info.runs_alone() {
        (None, Some(crate::check::gate::alone()))
    } else {
        (Some(crate::check::gate::shared()), None)
    };
    let finished = match process::run(command, &limits) {
        Ok(f) => f,
        Err(e) => {
            return crash(
                Finding::new("the grader can run the check")
                    .observed(format!("cannot start the harness: {e}")),
                String::new(),
                Duration::ZERO,
            )
        }
    };
    let mut output = String::from_utf8_lossy(&finished.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&finished.stdout);
    if !stdout.trim().is_empty() {
        output = format!("{stdout}\n{output}");
    }
    if finished.output_truncated {
        output.push_str(&format!(
            "\n[output cut at {} KiB]",
            budget.output_bytes >> 10
        ));
    }
    let output = crate::check::harness::tail(output.trim(), 4000);
    let panic_line = first_panic_line(&output);

    if finished.cancelled {
        let mut run = CheckRun::skipped(
            &info.name,
            info.kind,
            Skip::FailFast,
            Finding::new("the check ran").observed(format!(
                "stopped after {:.1} s: --fail-fast stops at the first check that does not pass",
                finished.elapsed.as_secs_f64()
            )),
        );
        run.duration = finished.elapsed;
        return run;
    }

    if finished.timed_out {
        // The tree is gone: what the harness said about its threads just before the limit.
        let blocked = channel
            .finish()
            .record
            .filter(|r| r.at_limit && r.name == info.name)
            .and_then(|r| r.finding)
            .map(|f| f.blocked);
        return timed_out(
            info,
            timeout,
            panic_line.as_deref(),
            blocked,
            finished.elapsed,
            output,
        );
    }
    if let Some(reason) = &finished.killed_for {
        let observed = format!("the check `{}` was stopped: {reason}", info.name);
        let finding = match reason {
            Exceeded::Threads { .. } => Finding::new("the code keeps its thread count bounded")
                .observed(observed)
                .why("Spawning a thread per item, or in a loop that never ends, exhausts the machine.")
                .fix("Use a fixed number of threads, and join each one you start."),
            Exceeded::Memory { .. } => Finding::new("the code stays within memory")
                .observed(observed)
                .why("Something grows without end: a queue nobody drains, a Vec filled in a loop that never stops, or a value cloned on every call and kept.")
                .fix("Bound what you store, and check that loops end."),
            Exceeded::Output { .. } => Finding::new("the code does not flood its output")
                .observed(observed)
                .why("Printing on every operation of a hot path (a println! in increment, say) produces megabytes under a stress test, and slows everything down.")
                .fix("Remove debugging prints from the library code, or print only a summary."),
        };
        return crash(finding, output, finished.elapsed);
    }
    // The whole process tree is gone (the sandbox's PID namespace ended with its init): only now
    // is the channel read to its end.
    let received = channel.finish();
    if let Some(bytes) = received.oversized {
        return crash(
            Finding::new("the check's result reaches the grader")
                .observed(format!(
                    "its record was {} KiB, more than the {} KiB the grader reads of one, so it was dropped unread",
                    bytes >> 10,
                    grader_harness::protocol::MAX_RECORD_BYTES >> 10
                ))
                .why("The harness cuts everything the code under test can put into a result (panic messages, thread names, values) before it sends it, so this should not happen: it is a gap in the kit rather than in your code.")
                .fix("Tell the course staff, with this submission. Shorter thread names and panic messages avoid it meanwhile."),
            output,
            finished.elapsed,
        );
    }
    if crate::check::sandbox::supported() && received.protections.is_none() {
        return crash(
            Finding::new("the check runs in the grader's sandbox")
                .observed(format!(
                    "the sandbox did not start: its launcher {}",
                    describe_exit(finished.status)
                ))
                .why("The grader runs every check in a sandbox it sets up itself; this one could not be set up, so the check did not run.")
                .fix("Read the captured output below; `grader check` on another machine, or report it to the course staff."),
            output,
            finished.elapsed,
        );
    }
    // An at-limit record left last by a check that did not reach its limit is no result.
    let record: Option<RunRecord> = received.record.filter(|r| !r.at_limit);
    match record {
        Some(record) if record.name == info.name => CheckRun {
            name: info.name.clone(),
            kind: info.kind,
            status: if record.passed {
                Status::Pass
            } else {
                Status::Fail
            },
            finding: record.finding,
            duration: Duration::from_millis(record.duration_ms),
            output: if record.passed { String::new() } else { output },
        },
        _ => crash(
            explain_crash(&finished, &output, budget),
            output,
            finished.elapsed,
        ),
    }
}

/// A check killed at its time limit. `blocked`: where its threads were just before (`None`: the
/// harness could not say; empty: none was blocked in the shim).
fn timed_out(
    info: &CheckInfo,
    timeout: Duration,
    panic_line: Option<&str>,
    blocked: Option<Vec<grader_harness::protocol::Blocked>>,
    elapsed: Duration,
    output: String,
) -> CheckRun {
    let observed = format!(
        "the check `{}` did not finish within {} s: deadlock or infinite loop?",
        info.name,
        timeout.as_secs()
    );
    let stuck = blocked
        .as_ref()
        .is_some_and(|b| b.iter().any(|b| !b.call.is_empty()));
    let why = match panic_line {
        Some(p) if grader_harness::bounded::is_todo(p) => format!("Something it waits for is not implemented yet: {p}"),
        Some(p) => format!("A thread panicked ({p}) and something then waited forever for it. Otherwise: threads that all wait for each other (a deadlock), a wakeup that never comes (a missing notify, or `if` where `while` belongs), or a loop that never ends."),
        // Where the threads were says which of the two it is.
        None if stuck => "Just before the limit, the threads listed under `blocked` were still waiting there, while the others (not listed) kept running: a thread that spins or loops while the ones it should wake wait, or waits that time out and start again without the state they wait for ever changing.".to_string(),
        None if blocked.is_some() => "Just before the limit, no thread of the code was blocked in a lock, a wait or a join: they were all running. A loop that never ends (a condition that never becomes false, a retry without end, spinning on a flag nobody sets), or work far slower than it should be.".to_string(),
        None => "Threads that all wait for each other (a deadlock), a wakeup that never comes (a missing notify, or `if` where `while` belongs), or a loop that never ends.".to_string(),
    };
    let fix = match (panic_line, &blocked) {
        (None, Some(_)) if stuck => "Find what the threads not listed were doing meanwhile (the one that holds the lock the others wait for, or the one that should notify them): a loop that keeps a lock held, or spins on a flag, keeps everyone else waiting. Release locks before long or unbounded work, and wait on a Condvar instead of spinning.",
        (None, Some(_)) => "Find the loop that never ends: what should make its condition false, and does any thread ever do it? Waiting for another thread belongs in a Condvar wait or a join, not in a loop that polls.",
        _ => "Find what each thread is waiting for when it hangs: every wait needs a matching notify after the state changes, and every lock must be released before waiting for another thread.",
    };
    let mut finding = Finding::new("the check finishes in time")
        .observed(observed)
        .why(why)
        .fix(fix);
    finding.blocked = blocked.unwrap_or_default();
    CheckRun {
        name: info.name.clone(),
        kind: info.kind,
        status: Status::Timeout,
        finding: Some(finding),
        duration: elapsed,
        output,
    }
}

fn explain_crash(finished: &process::Finished, output: &str, budget: Budget) -> Finding {
    let how = describe_exit(finished.status);
    let early_exit = finished.status.is_some_and(|s| s.success());
    if early_exit {
        return Finding::new("the check runs to its end")
            .observed(format!("the check's process {how} before the check finished"))
            .why("Something called std::process::exit (or the process ended some other way) in the middle of the check, so the check never saw its result. That never counts as a pass.")
            .fix("Don't end the process from library code: return, or panic with a message.");
    }
    if output.contains("memory allocation of") || output.contains("capacity overflow") {
        return Finding::new("the code stays within memory")
            .observed(format!("the check ran out of memory (its limit is {} GiB) and {how}", budget.memory_bytes >> 30))
            .why("Something grows without end: a queue nobody drains, a Vec filled in a loop that never stops, or a thread per item.")
            .fix("Bound what you store, and check that loops end.");
    }
    if output.contains("has overflowed its stack") {
        return Finding::new("the code does not overflow the stack")
            .observed(format!("a thread overflowed its stack and the process {how}"))
            .why("Unbounded recursion: a function calling itself (or a helper calling back) without end.")
            .fix("Look for a method that calls itself, e.g. a `len` that calls `len`.");
    }
    let panic = first_panic_line(output)
        .map(|p| format!(" The first panic: {p}"))
        .unwrap_or_default();
    Finding::new("the check runs to its end")
        .observed(format!("the check's process {how} before reporting a result.{panic}"))
        .why("An abort ends the whole process at once: a panic inside a Drop during a panic, an explicit abort, or a memory fault.")
        .fix("Read the captured output below for the first error.")
}

fn first_panic_line(output: &str) -> Option<String> {
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if line.contains("panicked at") {
            let message = lines.next().unwrap_or_default().trim();
            return Some(format!("{} {}", line.trim(), message).trim().to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use grader_harness::protocol::Measures;

    #[test]
    fn only_cpu_timing_checks_run_alone() {
        let check = |kind, measures| CheckInfo {
            name: String::new(),
            kind,
            timeout_ms: 1000,
            measures,
        };
        let infos = [
            check(Kind::Unit, None),
            check(Kind::Timing, Some(Measures::Wall)),
            check(Kind::Timing, Some(Measures::Cpu)),
            check(Kind::Stress, None),
            // Undeclared: the safe side, alone.
            check(Kind::Timing, None),
            check(Kind::Timing, Some(Measures::Wall)),
            check(Kind::Model, None),
        ];
        let refs: Vec<&CheckInfo> = infos.iter().collect();
        assert_eq!(
            Lanes::of(&refs),
            Lanes {
                others: vec![0, 3, 6],
                wall_clock: vec![1, 5],
                alone: vec![2, 4],
            }
        );
    }
}
