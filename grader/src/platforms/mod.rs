//! Grading platforms: Gradescope's `results.json` and autograder package, and a GitHub Classroom
//! workflow.
//!
//! - `grader check LESSON --path DIR --format gradescope` prints Gradescope's results.json (rendered
//!   by [`crate::report::gradescope`], like every format).
//! - `grader gradescope-package LESSON` writes the autograder zip: `setup.sh` (installs Rust,
//!   builds the grader, warms the build cache on the starter) and `run_autograder` (grades
//!   `/autograder/submission` into `/autograder/results/results.json`), with the part of the kit
//!   the grader needs. The lesson's reference `lib.rs` is left out: the autograder runs the
//!   learners' code, and that code must find no solution to copy.
//! - `grader classroom LESSON` prints a GitHub Classroom workflow with one step per check kind,
//!   worth that kind's points, so the Classroom reporter shows "Points X/Y".

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use grader_harness::protocol::Kind;

use crate::curriculum::Lesson;
use crate::kit::Kit;

/// Writes the Gradescope autograder zip for `lesson` to `zip_path`.
pub fn gradescope_package(kit: &Kit, lesson: &Lesson, zip_path: &Path) -> Result<Vec<String>> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut add = |rel: &Path| -> Result<()> {
        let from = kit.root.join(rel);
        if from.is_file() {
            files.push((format!("kit/{}", rel.display()), from));
        } else if from.is_dir() {
            walk(&from, &mut |path| {
                let inner = path.strip_prefix(&kit.root).unwrap_or(path);
                files.push((format!("kit/{}", inner.display()), path.to_path_buf()));
            })?;
        }
        Ok(())
    };
    for rel in ["Cargo.toml", "Cargo.lock", "curriculum.toml", ".cargo"] {
        add(Path::new(rel))?;
    }
    for rel in [
        "grader/Cargo.toml",
        "grader/build.rs",
        "grader/src",
        "grader/harness",
        "grader/pins",
        crate::shim::DIR,
    ] {
        add(Path::new(rel))?;
    }
    // starter.sha256 among them: the grader's build script reads it.
    let lesson_files = kit
        .lesson_files(lesson)
        .with_context(|| format!("cannot read {}", lesson.checks.display()))?;
    for file in lesson_files {
        add(Path::new(&kit.display(&file)))?;
    }
    // The lesson's manifest; its src/sync.rs comes from grader/shim.
    add(&lesson.solution.join("Cargo.toml"))?;
    add(&lesson.exercise)?;

    let file = std::fs::File::create(zip_path)
        .with_context(|| format!("cannot create {}", zip_path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let script = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    let plain = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    let mut names = Vec::new();
    for (name, text) in [
        ("setup.sh", setup_sh(lesson)),
        ("run_autograder", run_autograder(lesson)),
    ] {
        zip.start_file(name, script)?;
        zip.write_all(text.as_bytes())?;
        names.push(name.to_string());
    }
    for (name, from) in &files {
        zip.start_file(name.as_str(), plain)?;
        zip.write_all(&std::fs::read(from)?)?;
        names.push(name.clone());
    }
    finish(zip)?;
    Ok(names)
}

fn finish<W: Write + Seek>(zip: zip::ZipWriter<W>) -> Result<()> {
    zip.finish()?.flush()?;
    Ok(())
}

/// Every file below `dir`, skipping build products and hidden files.
fn walk(dir: &Path, each: &mut dyn FnMut(&Path)) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, each)?;
        } else if kind.is_file() {
            each(&path);
        }
    }
    Ok(())
}

fn setup_sh(lesson: &Lesson) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Gradescope autograder setup for lesson {dir}: written by `grader gradescope-package {num:02}`.
# Installs Rust, builds the grader, and builds the lesson's checks once against the starter so
# that grading a submission only compiles the submission itself.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends curl ca-certificates build-essential
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
. "$HOME/.cargo/env"
cd /autograder/source/kit
cargo build --release --locked -p grader
./target/release/grader check {num:02} > /dev/null 2>&1 || true
"#,
        dir = lesson.dir_name(),
        num = lesson.number
    )
}

fn run_autograder(lesson: &Lesson) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Gradescope autograder for lesson {dir}: written by `grader gradescope-package {num:02}`.
# Grades /autograder/submission (a crate folder, its src/ files, or a copy of the kit) with the
# same checks as `grader check {num:02}` and writes /autograder/results/results.json.
set -u
. "$HOME/.cargo/env"
cd /autograder/source/kit
mkdir -p /autograder/results
./target/release/grader check {num:02} --path /autograder/submission --format gradescope \
    > /autograder/results/results.json
# 0: every check passed, 1: some did not; both are grades. Anything else is the grader's own
# failure, which Gradescope shows as such.
status=$?
if [ "$status" -le 1 ]; then exit 0; fi
exit "$status"
"#,
        dir = lesson.dir_name(),
        num = lesson.number
    )
}

/// Default time limit of a check of `kind`, as the harness sets it (`grader_harness::Check`).
fn default_timeout_secs(kind: Kind) -> u64 {
    match kind {
        Kind::Lint => 1,
        Kind::Unit => 10,
        Kind::Stress => 60,
        Kind::Timing => 30,
        Kind::Model => 120,
    }
}

/// A GitHub Classroom workflow: one autograding step per check kind, worth its points.
pub fn classroom_workflow(lesson: &Lesson) -> Result<String> {
    let planned = lesson.planned_checks()?;
    let mut steps = String::new();
    let mut runners = Vec::new();
    let mut env = String::new();
    for kind in Kind::ALL {
        let checks: Vec<_> = planned.iter().filter(|c| c.kind == kind).collect();
        if checks.is_empty() {
            continue;
        }
        let points: u32 = checks.iter().map(|c| c.points).sum();
        let secs: u64 = checks.len() as u64 * default_timeout_secs(kind);
        // Minutes: the checks' own limits, plus room for the build of this kind.
        let minutes = secs.div_ceil(60) + 10;
        let id = kind.as_str();
        steps.push_str(&format!(
            r#"      - name: {kind} checks ({n} checks, {points} points)
        id: {id}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: {kind} checks
          setup-command: ''
          command: ./target/release/grader check {num:02} --kind {id} --color never
          timeout: {minutes}
          max-score: {points}
"#,
            n = checks.len(),
            num = lesson.number,
        ));
        env.push_str(&format!(
            "          {}_RESULTS: \"${{{{steps.{id}.outputs.result}}}}\"\n",
            id.to_uppercase()
        ));
        runners.push(id);
    }
    Ok(format!(
        r#"# GitHub Classroom autograding for lesson {dir} · {title}
# Written by `grader classroom {num:02}`. Save it as .github/workflows/classroom.yml in the
# assignment's template repository (a copy of the kit). Each step runs one kind of check and is
# worth that kind's points ({max} in all), so the Classroom reporter shows "Points X/{max}".
name: Autograding Tests
'on':
  - push
  - workflow_dispatch
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Build the grader
        run: cargo build --release --locked -p grader
{steps}      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}        with:
          runners: {runners}
"#,
        dir = lesson.dir_name(),
        title = lesson.title,
        num = lesson.number,
        max = lesson.max_score(),
        runners = runners.join(","),
    ))
}

/// How `grader check --kind` narrows a lesson's checks: the names of the checks of those kinds.
pub fn checks_of_kinds(lesson: &Lesson, kinds: &[Kind]) -> Result<Vec<String>> {
    Ok(lesson
        .planned_checks()?
        .into_iter()
        .filter(|c| kinds.contains(&c.kind))
        .map(|c| c.name)
        .collect())
}

/// Parses a check kind named on the command line.
pub fn parse_kind(name: &str) -> std::result::Result<Kind, String> {
    Kind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!("no kind `{name}`: one of {}", names.join(", "))
        })
}
