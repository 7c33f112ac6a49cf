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
//! - `grader classroom LESSON` prints a GitHub Classroom workflow: one step runs every check once
//!   into a JSON report, then one step per check, worth its points, reads its result with
//!   `grader report-check`, so the Classroom reporter shows the grader's score.

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
        "grader/loom-scope",
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

/// The user the autograder's checks run as: Gradescope runs the autograder as root, and the
/// grader, as root, runs each check as this user (see `check/sandbox.rs`, `GRADER_CHECK_USER`).
pub const GRADESCOPE_CHECK_USER: &str = "grader-check";

fn setup_sh(lesson: &Lesson) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Gradescope autograder setup for lesson {dir}: written by `grader gradescope-package {num:02}`.
# Installs Rust, builds the grader, and builds the lesson's checks once against the starter so
# that grading a submission only compiles the submission itself.
# Gradescope takes the assignment's total from its settings, not from results.json: set the
# assignment's Autograder points to {max}, the lesson's maximum.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends curl ca-certificates build-essential
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
. "$HOME/.cargo/env"
# The learner's code runs as this user, never as root: no home, no login, no group of ours.
id -u {user} > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin {user}
cd /autograder/source/kit
cargo build --release --locked -p grader
# The harness binaries must be readable and executable by {user}; nothing of the kit writable.
chmod -R go-w /autograder/source
chmod o+x /autograder /autograder/source
# Warm the build cache on the starter, and say which protections this image gives the checks.
GRADER_CHECK_USER={user} ./target/release/grader check {num:02} --color never 2>&1 \
    | grep -E '^sandbox:' || true
"#,
        dir = lesson.dir_name(),
        num = lesson.number,
        max = lesson.max_score(),
        user = GRADESCOPE_CHECK_USER,
    )
}

/// What the instructor does with the package, printed by `grader gradescope-package`.
pub fn gradescope_instructions(lesson: &Lesson, zip: &Path, files: usize) -> String {
    format!(
        "Wrote {zip} ({files} files). In Gradescope:
  1. Create a Programming Assignment for lesson {num:02} · {title}.
  2. Set its Autograder points to {max} (the lesson's maximum: Gradescope takes the total from its
     settings, not from the results).
  3. Configure Autograder: upload {zip} (Ubuntu base image; setup.sh installs Rust and builds the
     grader, which takes a few minutes).
  4. Learners submit their crate folder (Cargo.toml and src/), its src/ files, or their copy of the
     kit.
Each check is one test worth its points, its failure in Markdown (property, observed, why, try).
The learner's code runs as the user {user} (setup.sh creates it), never as root; the results'
output says which other protections the image allows (its `sandbox:` line).
To hold some back, give curriculum.toml's lesson a [lesson.visibility] table by kind or check
(e.g. model = \"after_due_date\") before packaging.",
        zip = zip.display(),
        num = lesson.number,
        title = lesson.title,
        max = lesson.max_score(),
        user = GRADESCOPE_CHECK_USER,
    )
}

fn run_autograder(lesson: &Lesson) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Gradescope autograder for lesson {dir}: written by `grader gradescope-package {num:02}`.
# Grades /autograder/submission (a crate folder, its src/ files, or a copy of the kit) with the
# same checks as `grader check {num:02}` and writes /autograder/results/results.json.
#
# Gradescope runs this as root. The grader stays root (it alone writes results.json, which the
# shell opens here, and its build cache); every check, the only place the learner's code runs,
# runs as {user}, set up by setup.sh. So even where this image allows no namespace, the code
# under test cannot write the results or the kit, nor signal the grader. What else the image
# allows (user, network and PID namespaces, Landlock) is the `sandbox` line of the results'
# output.
set -u
. "$HOME/.cargo/env"
cd /autograder/source/kit
mkdir -p /autograder/results
export GRADER_CHECK_USER={user}
./target/release/grader check {num:02} --path /autograder/submission --format gradescope \
    > /autograder/results/results.json
# 0: every check passed, 1: some did not; both are grades. Anything else is the grader's own
# failure, which Gradescope shows as such.
status=$?
if [ "$status" -le 1 ]; then exit 0; fi
exit "$status"
"#,
        dir = lesson.dir_name(),
        num = lesson.number,
        user = GRADESCOPE_CHECK_USER,
    )
}

/// The file the Classroom workflow's first step writes the report to.
pub const CLASSROOM_REPORT: &str = "grader-report.json";

/// A GitHub Classroom workflow: one step runs every check once (`grader check --format json` into
/// a file), then one autograding step per check, worth its points, reads that check's result
/// (`grader report-check`). The Classroom command grader scores a step all or nothing, so one
/// step per check gives a partially correct submission the grader's own score.
pub fn classroom_workflow(lesson: &Lesson) -> Result<String> {
    let planned = lesson.planned_checks()?;
    let mut steps = String::new();
    let mut runners = Vec::new();
    let mut env = String::new();
    for check in &planned {
        let id = format!("check-{}", check.name.replace('_', "-"));
        let points = check.points;
        steps.push_str(&format!(
            r#"      - name: {kind} · {name} ({points} point{s})
        id: {id}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: {kind} · {name}
          setup-command: ''
          command: ./target/release/grader report-check {CLASSROOM_REPORT} {name}
          timeout: 1
          max-score: {points}
"#,
            kind = check.kind,
            name = check.name,
            s = if points == 1 { "" } else { "s" },
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
# assignment's template repository (a copy of the kit). One step builds the grader and runs every
# check once into {CLASSROOM_REPORT}; then each check is a step worth its points ({max} in all),
# which only reads its result there, so the Classroom reporter shows the grader's own score.
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
      - name: Run every check of lesson {num:02} once
        # Exit 1 (some checks failed) is a grade; 2 (a kit or usage error) fails the job.
        run: ./target/release/grader check {num:02} --format json > {CLASSROOM_REPORT} || [ $? -eq 1 ]
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

/// `grader batch-workflow LESSON --shards N`: a GitHub Actions workflow that grades the class in
/// `submissions` in a matrix of `shards` jobs (`grader grade --partition K/N`), each uploading its
/// outputs, and one job that merges them (`grader merge`) into one artifact.
pub fn batch_workflow(lesson: &Lesson, shards: u32, submissions: &str) -> String {
    let parts: Vec<String> = (1..=shards).map(|k| k.to_string()).collect();
    format!(
        r#"# Grades lesson {dir} · {title} in {shards} parallel jobs, then merges their outputs.
# Written by `grader batch-workflow {num:02} --shards {shards}`. Save it as
# .github/workflows/grade-{dir}.yml in a copy of the kit whose {submissions}/ folder holds the class
# (one folder, .zip or .tar.gz per submission), and run it from the Actions tab. The artifact
# grades-{dir} is what one `grader grade` of the whole class would have written.
name: Grade lesson {dir}
'on':
  workflow_dispatch:
permissions:
  contents: read
env:
  SUBMISSIONS: {submissions}
jobs:
  grade:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        part: [{parts}]
    steps:
      - uses: actions/checkout@v4
      - name: Build the grader
        run: cargo build --release --locked -p grader
      - name: Grade part ${{{{ matrix.part }}}} of {shards}
        run: ./target/release/grader grade {num:02} "$SUBMISSIONS" --partition ${{{{ matrix.part }}}}/{shards} --out part-${{{{ matrix.part }}}}
      - uses: actions/upload-artifact@v4
        with:
          name: part-${{{{ matrix.part }}}}
          path: part-${{{{ matrix.part }}}}
  merge:
    needs: grade
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Build the grader
        run: cargo build --release --locked -p grader
      - uses: actions/download-artifact@v4
        with:
          pattern: part-*
          path: parts
      - name: Merge the {shards} parts
        run: ./target/release/grader merge parts/part-* --out grades-{dir}
      - uses: actions/upload-artifact@v4
        with:
          name: grades-{dir}
          path: grades-{dir}
"#,
        dir = lesson.dir_name(),
        title = lesson.title,
        num = lesson.number,
        parts = parts.join(", "),
    )
}

/// `grader report-check FILE NAME`: the result of the check `name` in the report `file` (a
/// `grader check --format json` document), in a few lines. Ok(true) when it passed.
pub fn report_check(file: &Path, name: &str, out: &mut dyn Write) -> Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report: crate::report::Report = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a `grader check --format json` report",
            file.display()
        )
    })?;
    let Some(check) = report.checks.iter().find(|c| c.name == name) else {
        let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "no check `{name}` in {} (lesson {}): it has {}",
            file.display(),
            report.lesson,
            names.join(", ")
        );
    };
    writeln!(
        out,
        "{} · {}: {} ({}/{} points)",
        check.kind, check.name, check.status, check.points, check.max_points
    )?;
    match (&check.finding, check.status.is_pass()) {
        (_, true) => {}
        (Some(f), false) => write!(
            out,
            "{}",
            crate::report::finding::plain_lines(f, report.lesson_number)
        )?,
        (None, false) => writeln!(out, "{}", check.message)?,
    }
    if let (false, Some(message)) = (check.status.is_pass(), report.build.message()) {
        writeln!(out, "\nThe build failed:\n{message}")?;
    }
    Ok(check.status.is_pass())
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
