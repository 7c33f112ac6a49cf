//! The learner's journey, end to end: status, list, check with no lesson, progress, next, hints,
//! reset, completions, watch and --fail-fast, each on a scratch copy of the kit.
//!
//! The scratch copies share one build cache under the real kit's target/ (GRADER_CACHE_DIR), so
//! dependencies are built once. Tests that run checks hold a lock: they would otherwise write the
//! same generated harness folder of that cache at the same time.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use predicates::prelude::*;

mod common;

use common::kit_root;

fn cache_dir() -> PathBuf {
    kit_root().join("target/grader-journey")
}

static BUILDS: Mutex<()> = Mutex::new(());

/// Serialises the tests that build and run checks.
fn builds() -> MutexGuard<'static, ()> {
    BUILDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A scratch kit: the workspace files, lesson 01's exercise and solution, the grader without its
/// tests. The curriculum lists every lesson (their folders are not copied).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let root = kit_root();
        for file in ["curriculum.toml", "Cargo.toml", "Cargo.lock"] {
            std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
        }
        for folder in ["exercises/01-race-fix", "solutions/01-race-fix", "grader"] {
            copy_tree(&root.join(folder), &dir.path().join(folder));
        }
        Scratch { dir }
    }

    /// The same with a curriculum of lesson 01 alone: lesson 01 is the last lesson.
    fn only_lesson_01() -> Scratch {
        let scratch = Scratch::new();
        let text = scratch.read("curriculum.toml");
        let mut doc: toml::Table = toml::from_str(&text).unwrap();
        let lessons = doc["lesson"].as_array().unwrap().clone();
        let first: Vec<toml::Value> = lessons
            .into_iter()
            .filter(|l| l["number"].as_integer() == Some(1))
            .collect();
        doc.insert("lesson".into(), toml::Value::Array(first));
        scratch.write("curriculum.toml", &toml::to_string(&doc).unwrap());
        scratch
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn grader(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("grader").unwrap();
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("GRADER_CACHE_DIR", cache_dir());
        cmd
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Makes the exercise the reference solution (a learner who fixed every race).
    fn solve_lesson_01(&self) {
        let solution = self.read("solutions/01-race-fix/src/lib.rs");
        self.write("exercises/01-race-fix/src/lib.rs", &solution);
    }

    fn progress(&self) -> toml::Table {
        toml::from_str(&self.read(".grader-progress.toml")).unwrap()
    }

    fn record(&self, lesson: &str) -> toml::Table {
        self.progress()["lessons"][lesson]
            .as_table()
            .unwrap()
            .clone()
    }

    /// The lessons of the scratch curriculum: (number, folder name, hints).
    fn lessons(&self) -> Vec<(i64, String, Vec<String>)> {
        let doc: toml::Table = toml::from_str(&self.read("curriculum.toml")).unwrap();
        let mut lessons: Vec<_> = doc["lesson"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let n = l["number"].as_integer().unwrap();
                let dir = format!("{n:02}-{}", l["slug"].as_str().unwrap());
                let hints = l
                    .get("hints")
                    .and_then(|h| h.as_array())
                    .map(|h| h.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                (n, dir, hints)
            })
            .collect();
        lessons.sort();
        lessons
    }

    fn max_score_01(&self) -> i64 {
        let doc: toml::Table = toml::from_str(&self.read("curriculum.toml")).unwrap();
        let lesson = doc["lesson"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["number"].as_integer() == Some(1))
            .unwrap()
            .clone();
        lesson["points"]
            .as_table()
            .unwrap()
            .values()
            .flat_map(|t| t.as_table().unwrap().values())
            .map(|p| p.as_integer().unwrap())
            .sum()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "target" || name == "tests" || name == "Cargo.lock" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_arguments_shows_where_the_learner_is_and_what_to_type_next() {
    let kit = Scratch::new();
    let lessons = kit.lessons();
    kit.grader()
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "0 of {} lessons passed",
            lessons.len()
        )))
        .stdout(predicate::str::contains("Start with lesson 01"))
        .stdout(predicate::str::contains("exercises/01-race-fix/README.md"))
        .stdout(predicate::str::contains("grader check"))
        .stdout(predicate::str::contains("grader watch"))
        .stdout(predicate::str::contains("grader hint"));

    // Lesson 01 passed: the current lesson is the next one.
    if let Some((n, dir, _)) = lessons.get(1) {
        kit.write(
            ".grader-progress.toml",
            "[lessons.01-race-fix]\npassed = true\nscore = 18\nmax = 18\n",
        );
        kit.grader()
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "1 of {} lessons passed",
                lessons.len()
            )))
            .stdout(predicate::str::contains(format!(
                "You are on lesson {n:02}"
            )))
            .stdout(predicate::str::contains(format!(
                "exercises/{dir}/README.md"
            )));
    }
}

#[test]
fn a_corrupt_or_missing_progress_file_is_no_progress_never_an_error() {
    let kit = Scratch::new();
    kit.write(".grader-progress.toml", "this is [[[ not toml\n\0\u{1}");
    kit.grader()
        .assert()
        .success()
        .stdout(predicate::str::contains("Start with lesson 01"));
    kit.grader()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("not started"));
    // The next write replaces it with a valid file.
    kit.grader().arg("hint").assert().success();
    assert_eq!(
        kit.record("01-race-fix")["hints_shown"].as_integer(),
        Some(1)
    );
    std::fs::remove_file(kit.path().join(".grader-progress.toml")).unwrap();
    kit.grader().assert().success();
}

#[test]
fn list_shows_passed_attempted_and_not_started() {
    let kit = Scratch::new();
    let lessons = kit.lessons();
    let mut progress =
        String::from("[lessons.01-race-fix]\npassed = true\nscore = 18\nmax = 18\nwhen = \"2026-05-01T10:32:00+00:00\"\nattempts = 3\n");
    if let Some((_, dir, _)) = lessons.get(1) {
        progress.push_str(&format!(
            "[lessons.{dir}]\npassed = false\nscore = 3\nmax = 20\nattempts = 2\n"
        ));
    }
    kit.write(".grader-progress.toml", &progress);
    let out = stdout_of(kit.grader().arg("list"));
    let line = |n: i64| {
        out.lines()
            .find(|l| l.contains(&format!("{n:02}  ")))
            .unwrap_or_else(|| panic!("no line for lesson {n}:\n{out}"))
            .to_string()
    };
    assert!(line(1).starts_with('✓'), "{out}");
    assert!(line(1).contains("passed 18/18 · 2026-05-01 10:32"), "{out}");
    assert!(line(1).contains("01  race-fix"), "{out}");
    if lessons.len() >= 2 {
        assert!(
            line(lessons[1].0).starts_with('▶'),
            "current lesson marked:\n{out}"
        );
        assert!(
            line(lessons[1].0).contains("attempted · best 3/20, 2 tries"),
            "{out}"
        );
    }
    for (n, _, _) in lessons.iter().skip(2) {
        assert!(line(*n).contains("not started"), "{out}");
    }
    // Not a terminal: every title whole.
    let doc: toml::Table = toml::from_str(&kit.read("curriculum.toml")).unwrap();
    for lesson in doc["lesson"].as_array().unwrap() {
        let title = lesson["title"].as_str().unwrap();
        assert!(out.contains(title), "{title:?} cut:\n{out}");
    }
    assert!(!out.contains('…'), "{out}");
}

#[test]
fn check_without_a_lesson_checks_the_current_one_records_it_and_congratulates_once() {
    let _builds = builds();
    let kit = Scratch::new();
    let max = kit.max_score_01();

    // The starter fails: an attempt is recorded, not a pass.
    kit.grader()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Lesson 01-race-fix"))
        .stdout(predicate::str::contains("Well done").not());
    let record = kit.record("01-race-fix");
    assert_eq!(record["passed"].as_bool(), Some(false));
    assert_eq!(record["attempts"].as_integer(), Some(1));
    assert_eq!(record["max"].as_integer(), Some(max));
    let best_before = record["score"].as_integer().unwrap();
    assert!(best_before < max);

    // Fixed: the first pass congratulates, points to the solution and names the next lesson.
    kit.solve_lesson_01();
    let lessons = kit.lessons();
    let mut pass = kit.grader();
    let pass = pass
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("Lesson 01 passed. Well done!"))
        .stdout(predicate::str::contains(
            "diff -u solutions/01-race-fix/src/lib.rs exercises/01-race-fix/src/lib.rs",
        ));
    if let Some((n, dir, _)) = lessons.get(1) {
        pass.stdout(predicate::str::contains(format!("Next: lesson {n:02}")))
            .stdout(predicate::str::contains(format!(
                "exercises/{dir}/README.md"
            )));
    }
    let record = kit.record("01-race-fix");
    assert_eq!(record["passed"].as_bool(), Some(true));
    assert_eq!(record["score"].as_integer(), Some(max));
    assert_eq!(record["max"].as_integer(), Some(max));
    assert_eq!(record["attempts"].as_integer(), Some(2));
    let when = record["when"].as_str().unwrap();
    assert!(
        when.len() >= 20 && when.contains('T') && when[..4].parse::<u32>().is_ok(),
        "an RFC 3339 time: {when}"
    );
    assert_eq!(
        kit.progress()["current"].as_str(),
        Some("01-race-fix"),
        "the lesson checked is the one the learner is on"
    );

    // Once only: a second pass does not congratulate again.
    kit.grader()
        .args(["check", "01"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Well done").not());
    assert_eq!(kit.record("01-race-fix")["attempts"].as_integer(), Some(3));

    // Checking the solution or another folder is not the learner's progress.
    kit.grader()
        .args(["check", "01", "--solution"])
        .assert()
        .success();
    kit.grader()
        .args(["check", "01", "--path", "solutions/01-race-fix"])
        .assert()
        .success();
    assert_eq!(kit.record("01-race-fix")["attempts"].as_integer(), Some(3));

    // And `grader` moves on.
    if let Some((n, _, _)) = lessons.get(1) {
        kit.grader()
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "You are on lesson {n:02}"
            )));
    }
}

#[test]
fn passing_the_last_lesson_finishes_the_course() {
    let _builds = builds();
    let kit = Scratch::only_lesson_01();
    kit.solve_lesson_01();
    kit.grader()
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("Lesson 01 passed. Well done!"))
        .stdout(predicate::str::contains("you have finished the course"));
    kit.grader()
        .assert()
        .success()
        .stdout(predicate::str::contains("You have passed every lesson"));
    kit.grader()
        .arg("next")
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing left to move on to"));
    // No current lesson to check: a usage error that says why.
    kit.grader()
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("passed every lesson"));
}

#[test]
fn next_moves_on_and_says_when_there_is_no_next_lesson() {
    let kit = Scratch::new();
    let lessons = kit.lessons();
    if let Some((n, dir, _)) = lessons.get(1) {
        kit.grader()
            .arg("next")
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "Leaving lesson 01 for now (not started)",
            ))
            .stdout(predicate::str::contains(format!("Now on lesson {n:02}")));
        assert_eq!(kit.progress()["current"].as_str(), Some(dir.as_str()));
        kit.grader()
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "You are on lesson {n:02}"
            )));
        // Commands without a lesson now mean that one.
        kit.grader()
            .arg("hint")
            .assert()
            .success()
            .stdout(predicate::str::contains(format!("lesson {n:02}")));
    }

    let last = Scratch::only_lesson_01();
    last.grader()
        .arg("next")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Lesson 01 · Fix the races: lost updates and check-then-act is the only lesson not passed yet",
        ));
}

#[test]
fn next_right_after_a_pass_leaves_the_lesson_the_learner_was_told_they_are_on() {
    let kit = Scratch::new();
    let lessons = kit.lessons();
    let [_, (second, second_dir, _), (third, third_dir, _), ..] = lessons.as_slice() else {
        return;
    };
    // Lesson 01 just passed: the check said "Next: lesson 02", the stored lesson is still 01.
    kit.write(
        ".grader-progress.toml",
        "current = \"01-race-fix\"\n[lessons.01-race-fix]\npassed = true\nscore = 18\nmax = 18\nattempts = 1\n",
    );
    kit.grader()
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "You are on lesson {second:02}"
        )));
    kit.grader()
        .arg("next")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Leaving lesson {second:02} for now (not started)"
        )))
        .stdout(predicate::str::contains(format!(
            "Now on lesson {third:02}"
        )));
    assert_eq!(kit.progress()["current"].as_str(), Some(third_dir.as_str()));
    // A passed lesson is stepped over: from 02 (01 and 03 passed) the next is 04, not 03.
    kit.write(
        ".grader-progress.toml",
        &format!("current = \"{second_dir}\"\n[lessons.01-race-fix]\npassed = true\n[lessons.{third_dir}]\npassed = true\n"),
    );
    let out = stdout_of(kit.grader().arg("next"));
    if let Some((fourth, _, _)) = lessons.get(3) {
        assert!(out.contains(&format!("Now on lesson {fourth:02}")), "{out}");
    }
}

#[test]
fn commands_without_a_lesson_mean_the_exercise_folder_the_learner_stands_in() {
    let kit = Scratch::new();
    let lessons = kit.lessons();
    let Some((_, second_dir, _)) = lessons.get(1) else {
        return;
    };
    kit.write(
        ".grader-progress.toml",
        &format!("current = \"{second_dir}\"\n"),
    );
    let mut hint = kit.grader();
    hint.current_dir(kit.path().join("exercises/01-race-fix/src"))
        .arg("hint")
        .assert()
        .success()
        .stdout(predicate::str::contains("Hint 1 of"))
        .stdout(predicate::str::contains("lesson 01 ·"));
    assert_eq!(
        kit.record("01-race-fix")["hints_shown"].as_integer(),
        Some(1)
    );
    // A check of some kinds only, there: an attempt of lesson 01, but no score.
    let mut lint = kit.grader();
    lint.current_dir(kit.path().join("exercises/01-race-fix"))
        .args(["check", "--kind", "lint"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Lesson 01-race-fix"));
    let record = kit.record("01-race-fix");
    assert_eq!(record["attempts"].as_integer(), Some(1));
    assert_eq!(record["score"].as_integer(), Some(0));
    assert_eq!(record["passed"].as_bool(), Some(false));
}

#[test]
fn hint_shows_one_more_hint_each_time_and_all_shows_them_all() {
    let kit = Scratch::new();
    let hints = kit.lessons()[0].2.clone();
    assert!(hints.len() >= 2, "lesson 01 has hints");
    let total = hints.len();
    let first_words = |h: &str| h.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
    for n in 1..=total {
        let out = stdout_of(kit.grader().arg("hint"));
        assert!(out.contains(&format!("Hint {n} of {total}")), "{out}");
        assert!(out.contains(&first_words(&hints[n - 1])), "{out}");
        if n < total {
            assert!(
                !out.contains(&first_words(&hints[n])),
                "one hint at a time:\n{out}"
            );
        }
        assert_eq!(
            kit.record("01-race-fix")["hints_shown"].as_integer(),
            Some(n as i64)
        );
    }
    // The hint a failure names, by its number; it counts as shown.
    let fresh = Scratch::new();
    let out = stdout_of(fresh.grader().args(["hint", "01", &total.to_string()]));
    assert!(out.contains(&format!("Hint {total} of {total}")), "{out}");
    assert!(out.contains(&first_words(&hints[total - 1])), "{out}");
    assert!(!out.contains(&first_words(&hints[0])), "{out}");
    assert_eq!(
        fresh.record("01-race-fix")["hints_shown"].as_integer(),
        Some(total as i64)
    );
    fresh
        .grader()
        .args(["hint", "01", &(total + 1).to_string()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "lesson 01 has {total} hints"
        )));
    // Past the last one: the last again, and how to see them all.
    kit.grader()
        .args(["hint", "01"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("Hint {total} of {total}")))
        .stdout(predicate::str::contains("That was the last hint"));

    let fresh = Scratch::new();
    let out = stdout_of(fresh.grader().args(["hint", "--all"]));
    for (i, hint) in hints.iter().enumerate() {
        assert!(out.contains(&format!("{}. {}", i + 1, hint)), "{out}");
    }
    assert_eq!(
        fresh.record("01-race-fix")["hints_shown"].as_integer(),
        Some(total as i64)
    );
}

#[test]
fn reset_restores_the_starter_as_shipped_and_keeps_the_learners_version() {
    let kit = Scratch::new();
    let shipped_lib = kit.read("exercises/01-race-fix/src/lib.rs");
    let shipped_readme = kit.read("exercises/01-race-fix/README.md");
    kit.write(
        "exercises/01-race-fix/src/lib.rs",
        "// my work in progress\n",
    );
    kit.write("exercises/01-race-fix/src/helpers.rs", "// my helper\n");
    std::fs::remove_file(kit.path().join("exercises/01-race-fix/README.md")).unwrap();

    let out = stdout_of(kit.grader().args(["reset", "01"]));
    assert!(
        out.contains("back to its starter, exactly as shipped"),
        "{out}"
    );
    let backup_line = out
        .lines()
        .find(|l| l.starts_with("Your version is saved in "))
        .unwrap_or_else(|| panic!("no backup named:\n{out}"));
    let backup = backup_line
        .trim_start_matches("Your version is saved in ")
        .trim_end_matches('/');
    assert!(backup.starts_with(".grader-backups/01-race-fix-"), "{out}");

    assert_eq!(kit.read("exercises/01-race-fix/src/lib.rs"), shipped_lib);
    assert_eq!(kit.read("exercises/01-race-fix/README.md"), shipped_readme);
    assert!(!kit
        .path()
        .join("exercises/01-race-fix/src/helpers.rs")
        .exists());
    assert_eq!(
        kit.read(&format!("{backup}/src/lib.rs")),
        "// my work in progress\n"
    );
    assert_eq!(
        kit.read(&format!("{backup}/src/helpers.rs")),
        "// my helper\n"
    );

    // Nothing to do the second time; a lesson must be named.
    kit.grader()
        .args(["reset", "01"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already exactly as shipped"));
    kit.grader().arg("reset").assert().code(2);
    // The kit's .gitignore keeps backups and progress out of git.
    let gitignore = std::fs::read_to_string(kit_root().join(".gitignore")).unwrap();
    assert!(
        gitignore.contains("/.grader-backups/") && gitignore.contains("/.grader-progress.toml")
    );
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish_even_outside_a_kit() {
    let outside = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef grader"),
        ("fish", "complete -c grader"),
    ] {
        let mut cmd = assert_cmd::Command::cargo_bin("grader").unwrap();
        cmd.current_dir(outside.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker))
            .stdout(predicate::str::contains("watch"))
            .stdout(predicate::str::contains("reset"));
    }
}

#[test]
fn help_texts_give_examples() {
    let kit = Scratch::new();
    kit.grader()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"))
        .stdout(predicate::str::contains("grader watch"));
    for (command, text) in [
        ("check", "--fail-fast"),
        ("watch", "Keys while watching"),
        ("hint", "grader hint --all"),
        ("reset", "grader reset 02"),
        ("next", "leaving one for later"),
        ("completions", "grader completions bash"),
    ] {
        kit.grader()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains(text));
    }
}

#[test]
fn fail_fast_stops_at_the_first_failing_check() {
    let _builds = builds();
    let kit = Scratch::new();
    // A bug the unit checks catch (the first id is 0), so the first failure is a cheap check.
    let variant = common::variant_lib("01-race-fix", "ids_start_at_zero");
    kit.write("exercises/01-race-fix/src/lib.rs", &variant);
    let out = kit
        .grader()
        .args([
            "check",
            "01",
            "--fail-fast",
            "--jobs",
            "1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let status = |name: &str| {
        checks.iter().find(|c| c["name"] == name).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("ids_one_thread"), "fail");
    for c in checks {
        if c["kind"] == "stress" || c["kind"] == "model" {
            assert_eq!(c["status"], "skipped", "{c}");
            assert!(
                c["message"].as_str().unwrap().contains("--fail-fast"),
                "{c}"
            );
        }
    }
    // In words: the skipped ones are counted, not each explained.
    kit.grader()
        .args(["check", "01", "--fail-fast", "--jobs", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("checks not run (--fail-fast)"))
        .stdout(predicate::str::contains("unit · ids_one_thread"));
}

/// A running `grader watch`, its output read line by line on a thread.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(kit: &Scratch, args: &[&str]) -> Watch {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("grader"))
            .arg("watch")
            .args(args)
            .current_dir(kit.path())
            .env("NO_COLOR", "1")
            .env("GRADER_CACHE_DIR", cache_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // stdout and stderr both end up in `lines`, as a learner sees them on one screen.
        let (tx, lines) = mpsc::channel();
        fn forward(from: impl std::io::Read + Send + 'static, tx: mpsc::Sender<String>) {
            std::thread::spawn(move || {
                for line in BufReader::new(from).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        forward(child.stdout.take().unwrap(), tx.clone());
        forward(child.stderr.take().unwrap(), tx);
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text` (printed since the last wait).
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(600);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("watch never printed {text:?}:\n{}", self.seen.join("\n"));
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the exit; returns the exit code and everything printed.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(600);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "watch did not stop");
            std::thread::sleep(Duration::from_millis(100));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        (status.code(), self.seen.join("\n"))
    }
}

#[test]
fn watch_rechecks_when_a_file_is_saved() {
    let _builds = builds();
    let kit = Scratch::new();
    let max = kit.max_score_01();
    let mut watch = Watch::start(&kit, &["--max-runs", "2"]);
    watch.wait_for("=== check 1: lesson 01-race-fix ===");
    watch.wait_for("Watching exercises/01-race-fix/src");
    kit.solve_lesson_01();
    watch.wait_for("=== check 2: lesson 01-race-fix ===");
    let (code, out) = watch.finish();
    assert_eq!(code, Some(0), "{out}");
    let (first, second) = out.split_once("=== check 2").unwrap();
    assert!(first.contains("First failing check:"), "{out}");
    assert!(
        first.contains("property") && first.contains("observed"),
        "{out}"
    );
    assert!(second.contains(&format!("Score {max}/{max}")), "{out}");
    assert!(second.contains("Lesson 01 passed. Well done!"), "{out}");
    if kit.lessons().len() > 1 {
        assert!(second.contains("Press n to move on to lesson 02"), "{out}");
    }
    assert_eq!(kit.record("01-race-fix")["passed"].as_bool(), Some(true));
}

#[test]
fn watch_polls_without_file_events_shows_hints_and_moves_on_when_asked() {
    let _builds = builds();
    let kit = Scratch::new();
    let lessons = kit.lessons();
    let mut watch = Watch::start(&kit, &["--poll", "--max-runs", "3"]);
    watch.wait_for("re-checks when a file changes (looking every second)");
    watch.send("h");
    watch.wait_for("Hint 1 of");
    kit.solve_lesson_01();
    watch.wait_for("=== check 2: lesson 01-race-fix ===");
    watch.wait_for("Watching exercises/01-race-fix/src");
    watch.send("n");
    let (code, out) = watch.finish();
    assert_eq!(
        kit.record("01-race-fix")["hints_shown"].as_integer(),
        Some(1)
    );
    assert_eq!(kit.record("01-race-fix")["passed"].as_bool(), Some(true));
    match lessons.get(1) {
        // Lesson 02 is in the curriculum, its folder isn't in this scratch kit: the watch moved
        // on to it, and says it can't check it.
        Some((_, dir, _)) => {
            assert!(
                out.contains(&format!("=== check 3: lesson {dir} ===")),
                "{out}"
            );
            assert!(out.contains("Could not check the lesson"), "{out}");
            assert_eq!(kit.progress()["current"].as_str(), Some(dir.as_str()));
            assert_eq!(code, Some(1));
        }
        None => assert!(out.contains("is the last lesson"), "{out}"),
    }
}

/// Processes whose executable lives in `dir` (the harnesses of the scratch cache).
fn processes_under(dir: &Path) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let exe = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        if Path::new(&*String::from_utf8_lossy(exe)).starts_with(dir) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn ctrl_c_stops_watch_and_the_check_in_flight() {
    let _builds = builds();
    let kit = Scratch::new();
    // Every check hangs in `increment` until its time limit: a check is surely in flight.
    let lib = kit.read("solutions/01-race-fix/src/lib.rs");
    let hanging = lib.replacen(
        "pub fn increment(&self) {",
        "pub fn increment(&self) {\n        loop {\n            std::hint::spin_loop();\n        }",
        1,
    );
    assert_ne!(hanging, lib, "the solution's increment was not found");
    kit.write("exercises/01-race-fix/src/lib.rs", &hanging);
    let mut watch = Watch::start(&kit, &[]);
    watch.wait_for("=== check 1: lesson 01-race-fix ===");
    let deadline = Instant::now() + Duration::from_secs(600);
    while processes_under(&cache_dir()).is_empty() {
        assert!(Instant::now() < deadline, "no check ever started");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(watch.child.id() as libc::pid_t, libc::SIGINT);
    }
    let (code, out) = watch.finish();
    assert_eq!(
        code,
        Some(0),
        "Ctrl-C is how watch is meant to stop:\n{out}"
    );
    assert!(out.contains("Stopped watching."), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    let left = processes_under(&cache_dir());
    assert!(left.is_empty(), "check processes left running: {left:?}");
}

#[test]
fn q_stops_watch_and_the_check_in_flight_at_once() {
    let _builds = builds();
    let kit = Scratch::new();
    // Every check of the counter spins in `increment` until its time limit (10 s and more).
    let lib = kit.read("solutions/01-race-fix/src/lib.rs");
    let hanging = lib.replacen(
        "pub fn increment(&self) {",
        "pub fn increment(&self) {\n        loop {\n            std::hint::spin_loop();\n        }",
        1,
    );
    assert_ne!(hanging, lib, "the solution's increment was not found");
    kit.write("exercises/01-race-fix/src/lib.rs", &hanging);
    let mut watch = Watch::start(&kit, &[]);
    watch.wait_for("=== check 1: lesson 01-race-fix ===");
    let deadline = Instant::now() + Duration::from_secs(600);
    while processes_under(&cache_dir()).is_empty() {
        assert!(Instant::now() < deadline, "no check ever started");
        std::thread::sleep(Duration::from_millis(200));
    }
    let asked = Instant::now();
    watch.send("q");
    let (code, out) = watch.finish();
    let took = asked.elapsed();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Stopped watching (the check in flight was stopped)."),
        "{out}"
    );
    assert!(
        took < Duration::from_secs(8),
        "q took {took:?}: it waited for the check instead of stopping it\n{out}"
    );
    assert!(
        !out.contains("Score "),
        "no report of a stopped check:\n{out}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let left = processes_under(&cache_dir());
    assert!(left.is_empty(), "check processes left running: {left:?}");
}
