//! `grader verify --mutate`: the mutants of a lesson's solution, listed without building them.

mod common;

use common::grader;
use predicates::prelude::*;

#[test]
fn lists_lesson_01s_mutants_with_their_diffs_without_building() {
    let out = grader()
        .args(["verify", "--mutate", "01", "--mutate-list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("01-race-fix: 12 mutants"), "{text}");
    assert!(
        text.contains("lib.rs:26:split_rmw  `fetch_add` as a load then a store"),
        "{text}"
    );
    assert!(text.contains("    | -        self.value.fetch_add(1, Ordering::Relaxed);"));
}

#[test]
fn operators_filter_and_limit_bound_the_run() {
    let out = grader()
        .args([
            "verify",
            "--mutate",
            "02",
            "--mutate-list",
            "--mutate-operator",
            "while_to_if,notify_all_to_one",
            "--mutate-limit",
            "4",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("02-producer-consumer: 5 mutants, checking the first 4"),
        "{text}"
    );
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("lib.rs:"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "lib.rs:61:while_to_if",
            "lib.rs:97:notify_all_to_one",
            "lib.rs:98:notify_all_to_one",
            "lib.rs:112:notify_all_to_one"
        ]
    );
}

#[test]
fn an_unknown_operator_is_a_usage_error_naming_the_operators() {
    grader()
        .args(["verify", "--mutate", "01", "--mutate-operator", "nope"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no mutation operator `nope`")
                .and(predicate::str::contains("weaken_ordering")),
        );
}

#[test]
fn json_lists_the_mutants_of_the_guard_operators_with_their_diffs() {
    let out = grader()
        .args([
            "verify",
            "--mutate",
            "02",
            "--mutate-list",
            "--mutate-operator",
            "release_guard_early",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["lesson"], "02-producer-consumer");
    let mutants = doc["mutants"].as_array().unwrap();
    assert_eq!(mutants.len(), doc["generated"].as_u64().unwrap() as usize);
    let put = mutants
        .iter()
        .find(|m| m["id"] == "lib.rs:59:release_guard_early")
        .unwrap_or_else(|| panic!("put's guard released early: {doc:#}"));
    assert_eq!(put["operator"], "release_guard_early");
    assert_eq!(put["result"], "not_checked");
    let diff = put["diff"].as_str().unwrap();
    assert!(
        diff.contains("+        drop(state);\n+        let mut state = self.lock();\n"),
        "{diff}"
    );
}

/// CI's bounded sample of the full run (grader/bench/mutants.sh): one real mutant, built and
/// checked, caught by the check that is meant for it. Two builds (std, loom), a few seconds of checks.
#[test]
fn a_sampled_mutant_is_built_checked_and_caught() {
    let out = grader()
        .args([
            "verify",
            "--mutate",
            "01",
            "--mutate-operator",
            "split_rmw",
            "--mutate-limit",
            "1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{doc:#}");
    assert_eq!(
        (doc["checked"].as_u64(), doc["caught"].as_u64()),
        (Some(1), Some(1)),
        "{doc:#}"
    );
    let m = &doc["mutants"][0];
    assert_eq!(m["id"], "lib.rs:26:split_rmw");
    assert_eq!(m["result"], "caught", "{doc:#}");
    // increment's lost update: the unit check of two increments on one thread cannot see it.
    let check = m["check"].as_str().unwrap();
    assert!(check.starts_with("counter_"), "{check}");
}
