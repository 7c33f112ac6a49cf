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
    assert!(text.contains("01-race-fix: 11 mutants"), "{text}");
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
