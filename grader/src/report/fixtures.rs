//! Fixed reports, built in code, that every renderer's snapshot tests render: a pass, a failure
//! with every finding field, a timeout with output, a build failure, a fail-fast run.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use grader_harness::protocol::{Blocked, Finding, Kind};

use super::{Build, Report, Skip, Status};
use crate::check::run::CheckRun;
use crate::class::gradebook::Summary;
use crate::class::graded::Graded;
use crate::curriculum::PlannedCheck;

const LESSON: (u32, &str, &str) = (1, "race-fix", "Race fix: lost updates");

/// The lesson's checks: name, kind, points.
const CHECKS: &[(&str, Kind, u32)] = &[
    ("uses_sync_shim", Kind::Lint, 1),
    ("counter_one_thread", Kind::Unit, 1),
    ("seen_set_one_thread", Kind::Unit, 1),
    ("counter_increments_8_threads", Kind::Stress, 2),
    ("no_spin_while_waiting", Kind::Timing, 2),
    ("counter_model", Kind::Model, 2),
];

pub fn planned() -> Vec<PlannedCheck> {
    CHECKS
        .iter()
        .map(|&(name, kind, points)| PlannedCheck {
            name: name.into(),
            kind,
            points,
        })
        .collect()
}

fn run(name: &str, kind: Kind, status: Status, ms: u64) -> CheckRun {
    CheckRun {
        name: name.into(),
        kind,
        status,
        finding: None,
        duration: Duration::from_millis(ms),
        output: String::new(),
    }
}

/// A report over [`CHECKS`]: each check passes unless `settle` says otherwise.
fn report(
    target: &str,
    build: Build,
    settle: impl Fn(&PlannedCheck) -> Option<CheckRun>,
) -> Report {
    let checks = planned()
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let run = settle(&plan)
                .unwrap_or_else(|| run(&plan.name, plan.kind, Status::Pass, 10 + 37 * i as u64));
            (plan, run)
        })
        .collect();
    let mut report = Report::of(LESSON, target.into(), build, checks);
    // As on a Linux machine where every protection could be set up.
    report.protections = crate::check::sandbox::ALL.map(String::from).to_vec();
    report
}

pub fn pass() -> Report {
    report("solutions/01-race-fix", Build::Ok, |_| None)
}

/// One stress check fails with a finding that has every field.
pub fn failure() -> Report {
    report("exercises/01-race-fix", Build::Ok, |plan| {
        (plan.name == "counter_increments_8_threads").then(|| CheckRun {
            finding: Some(
                Finding::new("no increment is lost when threads race")
                    .observed("8 threads x 100 000 increments gave 498 562, not 800 000 (round 1 of 5): 301 438 increments were lost")
                    .why("`load` then `store` is two steps. Two threads can both read 41 and both write 42: one increment vanishes. The more threads, the more often it happens.")
                    .fix("Make the read-modify-write one indivisible step: `fetch_add` on the atomic, or hold one lock across the read and the write.")
                    .hint(1)
                    .detail("thread 3 saw 41 twice\nthread 5 saw 41 twice"),
            ),
            output: "a line the check printed".into(),
            ..run(&plan.name, plan.kind, Status::Fail, 812)
        })
    })
}

/// Two checks fail for one cause (the same why, try and hint), each with its own observation.
pub fn same_cause() -> Report {
    report("exercises/01-race-fix", Build::Ok, |plan| {
        let observed = match plan.name.as_str() {
            "counter_one_thread" => "two increments on one thread gave 1, not 2",
            "counter_increments_8_threads" => {
                "8 threads x 100 000 increments gave 498 562, not 800 000"
            }
            _ => return None,
        };
        Some(CheckRun {
            finding: Some(
                Finding::new("no increment is lost")
                    .observed(observed)
                    .why("`load` then `store` is two steps, and the store writes what the load saw plus one.")
                    .fix("Use `fetch_add` on the atomic.")
                    .hint(1),
            ),
            ..run(&plan.name, plan.kind, Status::Fail, 40)
        })
    })
}

/// A unit check times out, having printed a panic first.
pub fn timeout() -> Report {
    report("exercises/01-race-fix", Build::Ok, |plan| {
        (plan.name == "seen_set_one_thread").then(|| CheckRun {
            finding: Some(
                Finding::new("the check finishes in time")
                    .observed("the check `seen_set_one_thread` did not finish within 10 s: deadlock or infinite loop?")
                    .why("Threads that all wait for each other (a deadlock), a wakeup that never comes (a missing notify, or `if` where `while` belongs), or a loop that never ends.")
                    .fix("Find what each thread is waiting for when it hangs."),
            ),
            output: (1..=15)
                .map(|i| format!("waiting, round {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            ..run(&plan.name, plan.kind, Status::Timeout, 10_004)
        })
    })
}

/// A stress check ended as a deadlock, with where each thread was stuck.
pub fn deadlock() -> Report {
    let row = |thread: &str, call: &str, at: &str, on: &str, note: &str| Blocked {
        thread: thread.into(),
        call: call.into(),
        at: at.into(),
        on: on.into(),
        note: note.into(),
    };
    let mut blocked: Vec<Blocked> = (2..=6)
        .map(|n| {
            let name = format!("thread #{n}");
            row(
                &name,
                "Condvar::wait",
                "src/lib.rs:61",
                "not_empty",
                "nobody holds its lock",
            )
        })
        .collect();
    blocked.push(row(
        "thread #7",
        "Mutex::lock",
        "src/lib.rs:40",
        "state",
        "held by thread #8 since src/lib.rs:52",
    ));
    blocked.push(row("`main`", "", "", "", "the check"));
    report("exercises/01-race-fix", Build::Ok, |plan| {
        (plan.name == "counter_increments_8_threads").then(|| CheckRun {
            finding: Some(grader_harness::hang::deadlock(blocked.clone())),
            ..run(&plan.name, plan.kind, Status::Fail, 1_604)
        })
    })
}

/// The crate does not compile: only the lint ran.
pub fn build_failure() -> Report {
    let build = Build::Failed {
        summary: "exercises/01-race-fix does not compile".into(),
        compiler_output: "error[E0308]: mismatched types\n --> exercises/01-race-fix/src/lib.rs:12:9\n  |\n12 |         self.count\n  |         ^^^^^^^^^^ expected `u64`, found `AtomicU64`".into(),
    };
    report("exercises/01-race-fix", build, |plan| {
        (plan.kind != Kind::Lint).then(|| {
            CheckRun::skipped(
                &plan.name,
                plan.kind,
                Skip::BuildFailed,
                Finding::new("the crate builds")
                    .observed("not run: exercises/01-race-fix does not compile"),
            )
        })
    })
}

/// `--fail-fast`: the first unit check fails, the rest are not run.
pub fn fail_fast() -> Report {
    report("exercises/01-race-fix", Build::Ok, |plan| {
        match plan.name.as_str() {
            "uses_sync_shim" => None,
            "counter_one_thread" => Some(CheckRun {
                finding: Some(
                    Finding::new("one thread's increments all count")
                        .observed("after 3 increments the counter reads 0")
                        .hint(2),
                ),
                ..run(&plan.name, plan.kind, Status::Fail, 3)
            }),
            _ => Some(CheckRun::skipped(
                &plan.name,
                plan.kind,
                Skip::FailFast,
                Skip::fail_fast_finding(),
            )),
        }
    })
}

/// The model check fails with its interleaving (as the grader resolved it: the learner's files,
/// code lines and names), the lost update of lesson 01's starter.
pub fn model_failure() -> Report {
    use grader_harness::trace::{Step, Trace, TraceObject, TraceThread};
    let step = |thread: usize, op: &str, object: &str, value: &str, at: (&str, u32, &str)| Step {
        thread,
        op: op.into(),
        object: object.into(),
        value: value.into(),
        file: at.0.into(),
        line: at.1,
        code: at.2.into(),
    };
    let spawn = ("checks.rs", 264, "thread::spawn(move || op(&shared))");
    let load = (
        "src/lib.rs",
        30,
        "let current = self.value.load(Ordering::SeqCst);",
    );
    let store = (
        "src/lib.rs",
        31,
        "self.value.store(current + 1, Ordering::SeqCst);",
    );
    let trace = Trace {
        iteration: 2,
        steps: vec![
            step(0, "spawn", "", "thread 1", spawn),
            step(0, "load", "value", "0", load),
            step(0, "store", "value", "1", store),
            step(1, "load", "value", "0", load),
            step(1, "store", "value", "1", store),
            step(1, "exit", "", "", spawn),
            step(
                0,
                "join",
                "",
                "thread 1",
                ("checks.rs", 267, "let theirs = other.join().unwrap();"),
            ),
        ],
        threads: vec![
            TraceThread {
                id: 0,
                name: "increment".into(),
            },
            TraceThread {
                id: 1,
                name: "increment".into(),
            },
        ],
        objects: vec![TraceObject {
            label: "AtomicU64#0".into(),
            name: "value".into(),
            file: "src/lib.rs".into(),
            line: 23,
        }],
        ..Trace::default()
    };
    report("exercises/01-race-fix", Build::Ok, |plan| {
        (plan.name == "counter_model").then(|| CheckRun {
            finding: Some(Finding {
                trace: Some(trace.clone()),
                ..Finding::new("no increment is lost when threads race")
                    .observed("in one interleaving, two threads each calling increment() once left the counter at 1, not 2")
                    .hint(1)
            }),
            ..run(&plan.name, plan.kind, Status::Fail, 41)
        })
    })
}

/// Every fixture, by snapshot name.
pub fn all() -> Vec<(&'static str, Report)> {
    vec![
        ("pass", pass()),
        ("failure", failure()),
        ("timeout", timeout()),
        ("build_failure", build_failure()),
        ("fail_fast", fail_fast()),
        ("model_failure", model_failure()),
        ("deadlock", deadlock()),
        ("same_cause", same_cause()),
    ]
}

/// A class of three: alice passes, bob times out, carol's code does not compile.
pub fn graded() -> Vec<Graded> {
    [
        ("alice", pass()),
        ("bob", timeout()),
        ("carol", build_failure()),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (id, report))| {
        let hash = format!("{:064x}", i + 1);
        let source = format!("submissions/{id}");
        Graded::new(
            id.into(),
            source,
            Some(hash),
            i == 0,
            12.5 + i as f64,
            report,
        )
    })
    .collect()
}

pub fn summary() -> Summary {
    Summary::of(&graded(), Duration::from_secs(42))
}

pub fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap()
}
