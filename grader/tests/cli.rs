//! The command line's own behaviour, end to end and without building any lesson: bad values are
//! refused with a clear error, a broken kit is a kit error (exit 2), a class folder's stray files
//! and unsupported archives are reported, a class where nothing could be graded fails, a closed
//! pipe ends the grader quietly, and every subcommand's --help has examples.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use predicates::prelude::*;

mod common;

use common::{grader, kit_root};

#[test]
fn timeout_scale_must_be_a_finite_number_above_zero() {
    for bad in ["-1", "0", "nan", "inf", "fast"] {
        grader()
            .args(["check", "01", "--solution", "--timeout-scale", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "invalid value '{bad}' for '--timeout-scale <FACTOR>'"
            )));
    }
    grader()
        .args(["grade", "01", ".", "--timeout-scale", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a factor above 0"));
}

#[test]
fn jobs_must_be_one_or_more() {
    for command in [
        &["check", "01"][..],
        &["grade", "01", "."],
        &["watch", "01"],
    ] {
        grader()
            .args(command)
            .args(["--jobs", "0"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not a number of jobs: 1 or more"));
    }
}

/// A class where nothing can be graded: an empty folder, a .7z, a .tar; and two stray files.
#[test]
fn stray_files_and_unsupported_archives_are_reported_and_an_all_invalid_class_fails() {
    let scratch = tempfile::tempdir().unwrap();
    let class = scratch.path().join("class");
    std::fs::create_dir_all(class.join("empty-folder")).unwrap();
    for f in ["frank.7z", "grace.tar", "notes.txt", "roster.csv"] {
        std::fs::write(class.join(f), b"not much").unwrap();
    }
    let out = scratch.path().join("grades");
    let assert = grader()
        .args(["grade", "01"])
        .arg(&class)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("Not graded (2 files in "))
        .stdout(predicate::str::contains("notes.txt, roster.csv"))
        .stderr(predicate::str::contains("every submission in"))
        .stderr(predicate::str::contains("was invalid (3 of 3"));
    drop(assert);
    let mut csv = csv::Reader::from_path(out.join("gradebook.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(ids, ["empty-folder", "frank", "grace"]);
    for row in &rows {
        assert_eq!(&row[3], "invalid", "{row:?}");
    }
    assert!(
        rows[1][4].contains("a .7z archive, which the grader does not unpack"),
        "{:?}",
        rows[1]
    );
    assert!(rows[2][4].contains("a .tar archive"), "{:?}", rows[2]);
}

/// A copy of the kit's sources (no target/, no .git) in `dir`.
fn kit_copy(dir: &Path) -> PathBuf {
    let kit = dir.join("kit");
    copy(&kit_root(), &kit);
    kit
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "target" || name == ".git" || name.to_string_lossy().starts_with(".grader") {
            continue;
        }
        let dest = to.join(&name);
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy(&entry.path(), &dest);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_check_the_curriculum_lists_but_the_checks_lack_is_a_kit_error() {
    let scratch = tempfile::tempdir().unwrap();
    let kit = kit_copy(scratch.path());
    let path = kit.join("curriculum.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "unit = { counter_one_thread = 1,",
        "unit = { ghost_check = 1, counter_one_thread = 1,",
        1,
    );
    assert!(text.contains("ghost_check"));
    std::fs::write(&path, text).unwrap();
    let solution = kit_root().join("solutions/01-race-fix");
    for args in [
        vec!["check".into(), "01".into(), "--solution".into()],
        vec![
            "grade".into(),
            "01".into(),
            kit_root()
                .join("grader/tests/fixtures/class-01")
                .display()
                .to_string(),
        ],
        vec![
            "check".into(),
            "01".into(),
            "--path".into(),
            solution.display().to_string(),
        ],
    ] {
        grader()
            .arg("--kit")
            .arg(&kit)
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("kit error"))
            .stderr(predicate::str::contains("unit `ghost_check`"));
    }
}

/// Runs `grader ARGS` with its standard output a pipe nobody reads: closed before it writes.
fn with_closed_stdout(kit: &Path, args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("grader"))
        .arg("--kit")
        .arg(kit)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_the_grader_quietly() {
    let scratch = tempfile::tempdir().unwrap();
    let kit = kit_copy(scratch.path());
    for args in [&["reset", "01"][..], &["list"], &["hint", "01", "--all"]] {
        let out = with_closed_stdout(&kit, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
    // And through a shell, as people type it.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --kit '{}' reset 01 | head -1",
            assert_cmd::cargo::cargo_bin("grader").display(),
            kit.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_subcommands_help_has_examples() {
    let out = grader()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).unwrap();
    let commands: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        // A command's line starts with two spaces; its description's continuations with more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 12, "{commands:?}");
    for command in commands {
        let out = grader()
            .args([&command, "--help"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("Example"),
            "`grader {command} --help` has no examples:\n{text}"
        );
    }
}
