//! What `grader grade` writes: a gradebook CSV, a JSON report, JUnit XML, and one Markdown
//! feedback file per submission; and the summary it prints.
//!
//! - `gradebook.csv`: one row per submission: id, score, max_score, status, reason, seconds, then
//!   the points of each check (columns in curriculum order).
//! - `report.json`: `{lesson, title, max_score, graded_at, summary, submissions: [{id, source,
//!   status, reason, score, max_score, content_hash, cached, seconds, report}]}` where `report` is
//!   the submission's full `grader check --format json` document.
//! - `junit.xml`: one `<testsuite>` per submission, one `<testcase>` per check (the Jenkins JUnit
//!   schema, as cargo-nextest writes it, through the same serializer, quick-junit). A failed check
//!   is a `<failure>`; a timeout, crash or a check that could not run because of the submission
//!   (it doesn't compile, it bypasses the shim) is an `<error>`, so a dashboard never shows a
//!   submission that doesn't build as green.
//! - `feedback/ID.md`: what a learner reads: the score, a table of checks, and each failure
//!   explained.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;

use crate::check::run::Status;
use crate::class::grade::{Graded, Outcome};
use crate::curriculum::Lesson;
use crate::report::CheckReport;

/// The files `--format` can choose among (default: all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// gradebook.csv
    Csv,
    /// report.json
    Json,
    /// junit.xml
    Junit,
    /// feedback/ID.md, one per submission
    #[value(alias = "md")]
    Markdown,
}

impl Output {
    pub const ALL: [Output; 4] = [Output::Csv, Output::Json, Output::Junit, Output::Markdown];
}

/// Writes the chosen outputs into `dir`; returns the paths written, relative to `dir`.
pub fn write(
    dir: &Path,
    lesson: &Lesson,
    graded: &[Graded],
    summary: &Summary,
    outputs: &[Output],
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for output in Output::ALL.into_iter().filter(|o| outputs.contains(o)) {
        match output {
            Output::Csv => {
                csv(&dir.join("gradebook.csv"), lesson, graded)?;
                written.push("gradebook.csv".to_string());
            }
            Output::Json => {
                let doc = ClassReport {
                    lesson: lesson.dir_name(),
                    title: &lesson.title,
                    max_score: lesson.max_score(),
                    graded_at: chrono::Local::now().to_rfc3339(),
                    summary,
                    submissions: graded,
                };
                let text = serde_json::to_string_pretty(&doc)?;
                std::fs::write(dir.join("report.json"), text + "\n")?;
                written.push("report.json".to_string());
            }
            Output::Junit => {
                let xml = junit(lesson, graded, summary.wall)?;
                std::fs::write(dir.join("junit.xml"), xml)?;
                written.push("junit.xml".to_string());
            }
            Output::Markdown => {
                let feedback = dir.join("feedback");
                std::fs::create_dir_all(&feedback)?;
                for g in graded {
                    let name = format!("{}.md", file_safe(&g.id));
                    std::fs::write(feedback.join(&name), markdown(lesson, g))?;
                }
                written.push(format!("feedback/ ({} files)", graded.len()));
            }
        }
    }
    Ok(written)
}

#[derive(Serialize)]
struct ClassReport<'a> {
    lesson: String,
    title: &'a str,
    max_score: u32,
    graded_at: String,
    summary: &'a Summary,
    submissions: &'a [Graded],
}

fn status_word<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn csv(path: &Path, lesson: &Lesson, graded: &[Graded]) -> Result<()> {
    let planned = lesson.planned_checks()?;
    let mut w = ::csv::Writer::from_path(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut header = vec![
        "id".to_string(),
        "score".into(),
        "max_score".into(),
        "status".into(),
        "reason".into(),
        "seconds".into(),
    ];
    header.extend(planned.iter().map(|p| p.name.clone()));
    w.write_record(&header)?;
    for g in graded {
        let mut row = vec![
            g.id.clone(),
            g.score.to_string(),
            g.max_score.to_string(),
            status_word(g.status),
            g.reason.clone(),
            format!("{:.1}", g.seconds),
        ];
        for plan in &planned {
            let points = g
                .report
                .checks
                .iter()
                .find(|c| c.name == plan.name)
                .map_or(0, |c| c.points);
            row.push(points.to_string());
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn junit(lesson: &Lesson, graded: &[Graded], wall: Duration) -> Result<String> {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let now = chrono::Local::now().fixed_offset();
    let mut report = Report::new(format!("grader grade {}", lesson.dir_name()));
    report.set_timestamp(now).set_time(wall);
    for g in graded {
        let mut suite = TestSuite::new(g.id.clone());
        suite
            .set_timestamp(now)
            .set_time(Duration::from_secs_f64(g.seconds))
            .add_property(Property::new("score", g.score.to_string()))
            .add_property(Property::new("max_score", g.max_score.to_string()))
            .add_property(Property::new("status", status_word(g.status)))
            .add_property(Property::new("source", g.source.clone()));
        if let Some(message) = &g.report.build.message {
            suite.set_system_err(message.clone());
        }
        for c in &g.report.checks {
            let mut status = match c.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Status::Timeout | Status::Crash | Status::Skipped => {
                    TestCaseStatus::non_success(NonSuccessKind::Error)
                }
            };
            if c.status != Status::Pass {
                status
                    .set_type(match c.status {
                        Status::Skipped => "not-run".to_string(),
                        other => status_word(other),
                    })
                    .set_message(c.message.clone())
                    .set_description(description(c));
            }
            let mut case = TestCase::new(c.name.clone(), status);
            case.set_classname(format!("{}.{}", g.id, c.kind))
                .set_time(Duration::from_millis(c.duration_ms))
                .add_property(Property::new("points", c.points.to_string()))
                .add_property(Property::new("max_points", c.max_points.to_string()));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

/// The finding field by field, then what the check printed.
fn description(c: &CheckReport) -> String {
    let mut text = String::new();
    if let Some(f) = &c.finding {
        let _ = writeln!(text, "property: {}", f.property);
        let _ = writeln!(text, "observed: {}", f.observed);
        if !f.why.is_empty() {
            let _ = writeln!(text, "why: {}", f.why);
        }
        if !f.fix.is_empty() {
            let _ = writeln!(text, "try: {}", f.fix);
        }
        if !f.detail.is_empty() {
            let _ = writeln!(text, "detail: {}", f.detail);
        }
    }
    if !c.output.is_empty() {
        let _ = write!(text, "output (last lines):\n{}", c.output);
    }
    text
}

/// A learner's feedback: score, checks table, then each failure explained.
pub fn markdown(lesson: &Lesson, g: &Graded) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Lesson {} · {}\n\n**{}** · score **{}/{}** · {}\n",
        lesson.dir_name(),
        lesson.title,
        g.id,
        g.score,
        g.max_score,
        match g.status {
            Outcome::Passed => "every check passes",
            Outcome::Failed => "some checks do not pass yet",
            Outcome::BuildError => "the code does not compile",
            Outcome::Invalid => "the submission could not be read",
        }
    );
    if let Some(message) = &g.report.build.message {
        let _ = writeln!(
            md,
            "## {}\n\n{}\n",
            if g.status == Outcome::Invalid {
                "The submission could not be read"
            } else {
                "The build failed"
            },
            fenced(message)
        );
    }
    let _ = writeln!(md, "| kind | check | result | points |\n|---|---|---|---|");
    for c in &g.report.checks {
        let mark = match c.status {
            Status::Pass => "✅ pass",
            Status::Fail => "❌ fail",
            Status::Timeout => "⏱ timeout",
            Status::Crash => "💥 crash",
            Status::Skipped => "➖ not run",
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {mark} | {}/{} |",
            c.kind, c.name, c.points, c.max_points
        );
    }
    let failing: Vec<&CheckReport> = g
        .report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass && c.status != Status::Skipped)
        .collect();
    for c in failing {
        let _ = writeln!(md, "\n## `{}` ({})\n", c.name, c.kind);
        if let Some(f) = &c.finding {
            let _ = writeln!(md, "- **Property:** {}", f.property);
            let _ = writeln!(md, "- **Observed:** {}", f.observed);
            if !f.why.is_empty() {
                let _ = writeln!(md, "- **Why:** {}", f.why);
            }
            if !f.fix.is_empty() {
                let _ = writeln!(md, "- **Try:** {}", f.fix);
            }
            if let Some(n) = f.hint {
                let _ = writeln!(
                    md,
                    "- **Hint:** `grader hint {:02}`, hint {n}",
                    lesson.number
                );
            }
        } else if !c.message.is_empty() {
            let _ = writeln!(md, "{}", c.message);
        }
        if !c.output.is_empty() && c.status != Status::Fail {
            let lines: Vec<&str> = c.output.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            let _ = writeln!(md, "\nWhat it printed last:\n\n{}", fenced(&tail));
        }
    }
    if g.status != Outcome::Passed {
        let _ = writeln!(
            md,
            "\nStuck? `grader hint {:02}` gives the lesson's hints, gentlest first; `grader check {:02}` re-runs these checks on your machine.",
            lesson.number, lesson.number
        );
    }
    md
}

/// A code block whose fence no line of `text` can close.
fn fenced(text: &str) -> String {
    let longest = text
        .lines()
        .map(|l| l.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}", text.trim_end())
}

fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The end of a class run: how the scores spread, what failed most, what took longest.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub submissions: usize,
    pub graded_now: usize,
    pub from_cache: usize,
    pub max_score: u32,
    pub mean_score: f64,
    /// Score -> how many submissions got it, highest first.
    pub distribution: Vec<(u32, usize)>,
    /// Check -> how many submissions ran it and did not pass it, most first.
    pub most_failed: Vec<(String, usize)>,
    /// The slowest submissions graded in this run: (id, seconds).
    pub slowest: Vec<(String, f64)>,
    pub by_status: BTreeMap<String, usize>,
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    /// Submissions graded per minute in this run (cache hits left out).
    pub per_minute: Option<f64>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

impl Summary {
    pub fn of(graded: &[Graded], wall: Duration) -> Summary {
        let mut distribution: BTreeMap<u32, usize> = BTreeMap::new();
        let mut failed: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for g in graded {
            *distribution.entry(g.score).or_default() += 1;
            *by_status.entry(status_word(g.status)).or_default() += 1;
            // Checks that ran and did not pass: a build failure's skipped checks say nothing
            // about which checks the class finds hard.
            let ran_and_failed =
                |c: &&CheckReport| !matches!(c.status, Status::Pass | Status::Skipped);
            for c in g.report.checks.iter().filter(ran_and_failed) {
                *failed.entry(c.name.clone()).or_default() += 1;
            }
        }
        let mut most_failed: Vec<(String, usize)> = failed.into_iter().collect();
        most_failed.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut slowest: Vec<(String, f64)> = graded
            .iter()
            .filter(|g| !g.cached)
            .map(|g| (g.id.clone(), (g.seconds * 10.0).round() / 10.0))
            .collect();
        slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
        slowest.truncate(5);
        let graded_now = graded.iter().filter(|g| !g.cached).count();
        let n = graded.len().max(1) as f64;
        Summary {
            submissions: graded.len(),
            graded_now,
            from_cache: graded.len() - graded_now,
            max_score: graded.iter().map(|g| g.max_score).max().unwrap_or(0),
            mean_score: (graded.iter().map(|g| g.score as f64).sum::<f64>() / n * 10.0).round()
                / 10.0,
            distribution: distribution.into_iter().rev().collect(),
            most_failed,
            slowest,
            by_status,
            wall,
            per_minute: (graded_now > 0 && wall.as_secs_f64() > 0.0)
                .then(|| (graded_now as f64 * 60.0 / wall.as_secs_f64() * 10.0).round() / 10.0),
        }
    }

    pub fn print(&self, out: &mut dyn Write, lesson: &Lesson, graded: &[Graded]) -> Result<()> {
        writeln!(
            out,
            "\nLesson {} · {} submissions · {} graded now, {} unchanged (cached) · {:.1} s{}",
            lesson.dir_name(),
            self.submissions,
            self.graded_now,
            self.from_cache,
            self.wall.as_secs_f64(),
            self.per_minute
                .map(|p| format!(" · {p} submissions/min"))
                .unwrap_or_default()
        )?;
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        writeln!(out, "Status: {}", statuses.join(", "))?;
        writeln!(
            out,
            "\nScore distribution (mean {} of {}):",
            self.mean_score, self.max_score
        )?;
        let widest = self.distribution.iter().map(|d| d.1).max().unwrap_or(1);
        for (score, count) in &self.distribution {
            let bar = "█".repeat((count * 30).div_ceil(widest));
            writeln!(out, "  {score:>4}/{:<4} {bar} {count}", self.max_score)?;
        }
        if !self.most_failed.is_empty() {
            writeln!(out, "\nChecks failed most often:")?;
            for (name, count) in self.most_failed.iter().take(8) {
                writeln!(out, "  {count:>4} × {name}")?;
            }
        }
        if !self.slowest.is_empty() {
            writeln!(out, "\nSlowest submissions:")?;
            let width = self.slowest.iter().map(|(id, _)| id.chars().count()).max();
            let width = width.unwrap_or(0);
            for (id, secs) in &self.slowest {
                let full = graded
                    .iter()
                    .find(|g| &g.id == id)
                    .map(|g| g.reason.as_str())
                    .unwrap_or_default();
                let mut reason: String = full.chars().take(70).collect();
                if reason.len() < full.len() {
                    reason.push('…');
                }
                writeln!(out, "  {secs:>7.1} s  {id:<width$}  {reason}")?;
            }
        }
        Ok(())
    }
}
