//! `grader check` end to end: the real binary against the real starter, solution and broken submissions.

mod common;

use common::{assert_valid_report, check, check_json, grader, kit_root, submission};
use predicates::prelude::*;

/// Points of every check of lesson 01, from curriculum.toml (the source of truth for scores).
fn lesson_01_max() -> u64 {
    let text = std::fs::read_to_string(kit_root().join("curriculum.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let lesson = doc["lesson"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["number"].as_integer() == Some(1))
        .unwrap();
    lesson["points"]
        .as_table()
        .unwrap()
        .values()
        .flat_map(|t| t.as_table().unwrap().values())
        .map(|p| p.as_integer().unwrap() as u64)
        .sum()
}

#[test]
fn solution_passes_with_a_json_report_of_the_documented_shape() {
    let out = grader()
        .args(["check", "01", "--solution", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_report(&report);
    assert_eq!(report["lesson"], "01-race-fix");
    assert_eq!(report["lesson_number"], 1);
    assert_eq!(report["slug"], "race-fix");
    assert_eq!(report["target"], "solutions/01-race-fix");
    assert_eq!(report["build"]["status"], "ok");
    assert_eq!(report["passed"], true);
    assert_eq!(report["max_score"].as_u64(), Some(lesson_01_max()));
    assert_eq!(report["score"], report["max_score"]);
    let checks = report["checks"].as_array().unwrap();
    for kind in ["lint", "unit", "stress", "model"] {
        assert!(checks.iter().any(|c| c["kind"] == kind), "no {kind} check");
    }
    for c in checks {
        assert_eq!(c["status"], "pass", "{c}");
        assert_eq!(c["points"], c["max_points"]);
        assert!(c["name"].is_string() && c["message"].is_string() && c["duration_ms"].is_u64());
    }
}

#[test]
fn starter_fails_and_explains_lost_updates_and_check_then_act() {
    grader()
        .args(["check", "01"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "no increment is lost when threads race",
        ))
        .stdout(
            predicate::str::is_match(
                r"8 threads made [0-9 ]+ increments in all \(each for 30 ms or more\), the counter says [0-9 ]+",
            )
                .unwrap(),
        )
        .stdout(predicate::str::contains("check-then-act"))
        .stdout(predicate::str::contains(
            "exactly one caller wins each item",
        ))
        .stdout(predicate::str::contains("grader hint 01"));
}

#[test]
fn an_unknown_lesson_is_a_usage_error_that_lists_the_lessons() {
    grader()
        .args(["check", "99"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no lesson named `99`"))
        .stderr(predicate::str::contains("race-fix"));
    grader()
        .args(["check", "race-fix", "--solution"])
        .assert()
        .code(0);
}

#[test]
fn a_malformed_curriculum_is_reported_with_line_and_column() {
    let kit = tempfile::tempdir().unwrap();
    std::fs::write(
        kit.path().join("curriculum.toml"),
        "title = \"x\"\n[[lesson]]\nnumber = \"one\n",
    )
    .unwrap();
    grader()
        .args(["--kit"])
        .arg(kit.path())
        .arg("list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("malformed"))
        .stderr(predicate::str::is_match("line 3, column [0-9]+").unwrap());
}

#[test]
fn a_crate_that_does_not_compile_gets_the_compiler_message_and_exit_1() {
    let dir = submission(
        "01-race-fix",
        "does-not-compile",
        |lib| {
            lib.replace(
                "fetch_add(1, Ordering::Relaxed);",
                "fetch_add(1, Ordering::Relaxed)",
            )
        },
        &[],
    );
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["build"]["status"], "error");
    let message = report["build"]["message"].as_str().unwrap();
    assert!(message.contains("does not compile"), "{message}");
    assert!(message.contains("mismatched types"), "{message}");
    // The compiler's paths point at the submission, not at the grader's generated copy.
    assert!(message.contains("does-not-compile/src/lib.rs"), "{message}");
    assert_eq!(report["passed"], false);
    assert_eq!(check(&report, "counter_one_thread")["status"], "skipped");
    assert_eq!(
        check(&report, "counter_one_thread")["skip_reason"],
        "build_failed"
    );
    let summary = report["build"]["summary"].as_str().unwrap();
    assert!(message.starts_with(summary), "{summary}");
}

#[test]
fn a_different_api_is_reported_as_such() {
    let dir = submission(
        "01-race-fix",
        "renamed-method",
        |lib| {
            lib.replace("pub fn next_id(", "pub fn next(")
                .replace(".next_id()", ".next()")
        },
        &[],
    );
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 1);
    let message = report["build"]["message"].as_str().unwrap();
    assert!(message.contains("public API differs"), "{message}");
    assert!(message.contains("next_id"), "{message}");
}

#[test]
fn only_src_is_taken_an_edited_shim_manifest_or_build_script_has_no_effect() {
    let dir = submission(
        "01-race-fix",
        "edited-kit-files",
        |lib| lib,
        &[
            ("src/sync.rs", "compile_error!(\"a learner's edited shim\");\n"),
            ("Cargo.toml", "[package]\nname = \"race_fix\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n[dependencies]\nnot-a-real-crate-xyz = \"9\"\n"),
            ("build.rs", "fn main() { panic!(\"a submission's build script ran\") }\n"),
        ],
    );
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["passed"], true);
}

#[test]
fn a_check_that_exits_the_process_early_is_a_crash_not_a_pass() {
    let dir = submission(
        "01-race-fix",
        "exits-early",
        |lib| {
            lib.replace("pub fn get(&self) -> u64 {", "pub fn get(&self) -> u64 {\n        if self.value.load(Ordering::Relaxed) == 3 { std::process::exit(0) }")
        },
        &[],
    );
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 1);
    let c = check(&report, "counter_one_thread");
    assert_eq!(c["status"], "crash", "{c}");
    assert!(
        c["message"].as_str().unwrap().contains("process::exit"),
        "{c}"
    );
    // The other checks still ran and passed.
    assert_eq!(check(&report, "ids_one_thread")["status"], "pass");
}

#[test]
fn a_self_deadlock_ends_in_seconds_naming_the_lock_and_its_holder() {
    // Locks the set twice on one thread: std's Mutex is not re-entrant, so this blocks forever.
    let dir = submission(
        "01-race-fix",
        "deadlocks",
        |lib| {
            lib.replace("        self.items.lock().unwrap().len()", "        let _held = self.items.lock().unwrap();\n        self.items.lock().unwrap().len()")
        },
        &[],
    );
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 1);
    let c = check(&report, "seen_set_one_thread");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["duration_ms"].as_u64().unwrap() < 5_000,
        "not the 10 s time limit: {c}"
    );
    let blocked = &c["finding"]["blocked"][0];
    assert_eq!(blocked["call"], "Mutex::lock", "{c}");
    assert_eq!(blocked["on"], "items", "{c}");
    let line = lib_line(&dir, "        self.items.lock().unwrap().len()");
    assert_eq!(blocked["at"], format!("src/lib.rs:{line}"), "{c}");
    assert_eq!(
        blocked["note"],
        format!("held by `main` since src/lib.rs:{}", line - 1),
        "{c}"
    );
    // The model checker sees the same deadlock and says so in plain words, with loom's text under it.
    let m = check(&report, "seen_set_two_threads");
    assert_eq!(m["status"], "fail", "{m}");
    assert!(
        m["message"]
            .as_str()
            .unwrap()
            .contains("no deadlock in any interleaving"),
        "{m}"
    );
    assert!(
        m["finding"]["detail"].as_str().unwrap().contains("loom"),
        "{m}"
    );
}

/// The 1-based number of the line of `dir`'s src/lib.rs that is `text`.
fn lib_line(dir: &std::path::Path, text: &str) -> usize {
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    1 + lib
        .lines()
        .position(|l| l == text)
        .unwrap_or_else(|| panic!("no line {text:?}"))
}

#[test]
fn a_close_that_notifies_nobody_fails_in_seconds_naming_the_condvar_and_the_line() {
    let dir = submission(
        "02-producer-consumer",
        "close-notifies-nobody",
        |lib| {
            lib.replace("        // Every waiter must see the change, not just one of them.\n        self.not_empty.notify_all();\n        self.not_full.notify_all();\n", "")
        },
        &[],
    );
    let (code, report) = check_json("02", &dir, &["--kind", "stress"]);
    assert_eq!(code, 1);
    let c = check(&report, "close_wakes_everyone");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["duration_ms"].as_u64().unwrap() < 5_000,
        "diagnosed in seconds, not after the check's own 10 s wait: {c}"
    );
    let message = c["message"].as_str().unwrap();
    assert!(message.contains("no deadlock"), "{message}");
    let rows = c["finding"]["blocked"].as_array().unwrap();
    let get_line = lib_line(
        &dir,
        "            state = self.not_empty.wait(state).unwrap();",
    );
    assert!(
        rows.iter().any(|r| r["call"] == "Condvar::wait"
            && r["on"] == "not_empty"
            && r["at"] == format!("src/lib.rs:{get_line}")
            && r["note"] == "nobody holds its lock"),
        "{rows:#?}"
    );
    assert!(rows.iter().any(|r| r["on"] == "not_full"), "{rows:#?}");
    // Every stress check of this submission hangs; none waits for its limit (20 s and more).
    for c in report["checks"].as_array().unwrap() {
        if c["kind"] == "stress" {
            assert!(c["duration_ms"].as_u64().unwrap() < 5_000, "{c}");
        }
    }
}

#[test]
fn a_submission_that_bypasses_the_shim_fails_lint_and_its_model_checks_are_not_run() {
    let dir = submission(
        "01-race-fix",
        "bypasses-shim",
        |lib| lib.replace("use crate::sync::Mutex;", "use std::sync::Mutex;"),
        &[],
    );
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 1);
    let lint = check(&report, "uses_sync_shim");
    assert_eq!(lint["status"], "fail");
    assert!(
        lint["message"]
            .as_str()
            .unwrap()
            .contains("std::sync::Mutex"),
        "{lint}"
    );
    assert!(
        lint["message"]
            .as_str()
            .unwrap()
            .contains("bypasses-shim/src/lib.rs:"),
        "{lint}"
    );
    assert_eq!(check(&report, "seen_set_two_threads")["status"], "skipped");
    assert_eq!(
        check(&report, "seen_set_two_threads")["skip_reason"],
        "shim_bypassed"
    );
    assert_eq!(
        check(&report, "counter_increments_8_threads")["status"],
        "pass"
    );
}

#[test]
fn list_and_hint_show_the_curriculum() {
    grader()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("01  race-fix"));
    grader()
        .args(["hint", "01", "--all"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1. "))
        .stdout(predicate::str::contains("fetch_add"));
}

#[test]
fn human_output_is_plain_without_a_terminal_or_with_no_color() {
    let out = grader()
        .args(["check", "01", "--solution"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\x1b'),
        "escape codes in non-terminal output"
    );
    assert!(text.contains("Score"), "{text}");
}

#[test]
fn check_prints_every_format_it_accepts_and_refuses_the_class_ones() {
    let run = |format: &str| {
        grader()
            .args([
                "check",
                "01",
                "--solution",
                "--kind",
                "lint",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let out = run("junit");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    common::assert_valid_junit(&xml);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .expect("a testcase");
    assert_eq!(case.attribute("name"), Some("uses_sync_shim"), "{xml}");

    let out = run("md");
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains("| lint | `uses_sync_shim` | ✅ pass | "),
        "{md}"
    );

    // Only lint ran, but its resolved-path pass is clippy's on the loom build: that build ran.
    let out = run("json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_report(&report);
    assert_eq!(report["build"]["status"], "ok");

    let out = run("csv");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn the_starters_model_check_failure_carries_its_interleaving_on_the_learners_code() {
    let out = grader()
        .args(["check", "01", "--kind", "model", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_report(&report);
    let c = check(&report, "counter_two_increments");
    assert_eq!(c["status"], "fail", "{c}");
    let trace = &c["finding"]["trace"];
    let steps = trace["steps"].as_array().expect("a trace with steps");
    let mut threads: Vec<u64> = steps
        .iter()
        .map(|s| s["thread"].as_u64().unwrap())
        .collect();
    threads.sort_unstable();
    threads.dedup();
    assert!(threads.len() >= 2, "{trace}");
    let on_lib: Vec<&serde_json::Value> =
        steps.iter().filter(|s| s["file"] == "src/lib.rs").collect();
    assert!(!on_lib.is_empty(), "{trace}");
    // Each step on the learner's file carries its line of code, and the atomic its field's name.
    assert!(on_lib
        .iter()
        .all(|s| s["code"].as_str().is_some_and(|c| !c.is_empty())));
    assert!(
        on_lib
            .iter()
            .any(|s| s["op"] == "store" && s["object"] == "value"),
        "{trace}"
    );
}

/// Lesson 01's solution whose `increment` never returns (it spins): a check of the counter is
/// surely still running when another one fails.
fn spinning_increment(lib: String) -> String {
    let spinning = lib.replacen(
        "pub fn increment(&self) {",
        "pub fn increment(&self) {\n        loop {\n            std::hint::spin_loop();\n        }",
        1,
    );
    assert_ne!(spinning, lib, "the solution's increment was not found");
    spinning
}

#[test]
fn fail_fast_stops_a_check_in_flight_and_plain_lines_say_what_ran() {
    // Ids start at 0 (ids_one_thread fails at once) and increment spins (counter_one_thread would
    // run to its 10 s limit).
    let dir = submission(
        "01-race-fix",
        "spins-and-ids-from-zero",
        |_| spinning_increment(common::variant_lib("01-race-fix", "ids_start_at_zero")),
        &[],
    );
    let out = grader()
        .args([
            "check",
            "01",
            "--fail-fast",
            "--jobs",
            "2",
            "--kind",
            "unit",
        ])
        .args(["--format", "json", "--path"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check(&report, "ids_one_thread")["status"], "fail");
    let stopped = check(&report, "counter_one_thread");
    assert_eq!(stopped["status"], "skipped", "{stopped}");
    assert_eq!(stopped["skip_reason"], "fail_fast", "{stopped}");
    assert!(
        stopped["message"]
            .as_str()
            .unwrap()
            .contains("stopped after"),
        "{stopped}"
    );
    assert!(
        stopped["duration_ms"].as_u64().unwrap() < 9_000,
        "killed when ids_one_thread failed, not at its 10 s limit: {stopped}"
    );
    // Not a terminal: a plain line per step, in order, nothing redrawn.
    let log = String::from_utf8_lossy(&out.stderr);
    let at = |text: &str| {
        log.find(text)
            .unwrap_or_else(|| panic!("no {text:?} in the log:\n{log}"))
    };
    assert!(at("built the std checks") < at("running 3 checks"), "{log}");
    assert!(
        at("running 3 checks") < at("  ✗ unit · ids_one_thread ("),
        "{log}"
    );
    assert!(!log.contains('\r') && !log.contains("\x1b["), "{log}");
}

#[test]
fn a_check_killed_at_its_time_limit_says_where_its_threads_were() {
    // first_visit spins while it holds the set's lock: one thread runs, the seven others wait for
    // the lock. Not a deadlock (one thread runs), so the check runs to its limit.
    let dir = submission(
        "01-race-fix",
        "spins-holding-the-lock",
        |lib| {
            lib.replacen(
                "        self.items.lock().unwrap().insert(item)",
                "        let mut items = self.items.lock().unwrap();\n        while items.len() < usize::MAX {\n            std::hint::spin_loop();\n        }\n        items.insert(item)",
                1,
            )
        },
        &[],
    );
    // The stress checks' 60 s limit, scaled to 12 s.
    let (code, report) = check_json("01", &dir, &["--kind", "stress", "--timeout-scale", "0.2"]);
    assert_eq!(code, 1);
    let c = check(&report, "seen_set_one_winner_8_threads");
    assert_eq!(c["status"], "timeout", "{c}");
    let blocked = c["finding"]["blocked"].as_array().unwrap();
    let line = lib_line(&dir, "        let mut items = self.items.lock().unwrap();");
    assert!(
        blocked.iter().any(|b| b["call"] == "Mutex::lock"
            && b["on"] == "items"
            && b["at"] == format!("src/lib.rs:{line}")),
        "{c}"
    );
    assert!(
        c["finding"]["why"]
            .as_str()
            .unwrap()
            .contains("kept running"),
        "{c}"
    );
}

#[cfg(unix)]
#[test]
fn a_too_old_toolchain_is_named_with_the_version_it_needs_and_how_to_update() {
    // A cargo that answers as cargo does when the active rustc is older than a rust-version.
    let bin = tempfile::tempdir().unwrap();
    let cargo = bin.path().join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\necho 'error: package `grader-harness v0.1.0 (/kit/grader/harness)` cannot be built because it requires rustc 1.95 or newer, while the currently active rustc version is 1.90.0' >&2\nexit 101\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    grader()
        .args(["check", "01", "--solution", "--kind", "unit"])
        .env("CARGO", &cargo)
        .env("GRADER_CACHE_DIR", cache.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "your Rust toolchain is too old for the kit (this one is 1.90.0)",
        ))
        .stderr(predicate::str::contains("rustc 1.95 or newer"))
        .stderr(predicate::str::contains("rustup update stable"))
        .stderr(predicate::str::contains("cannot be built because").not());
}
