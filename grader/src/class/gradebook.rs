//! What `grader grade` writes, and the summary it prints. The files are rendered by the report
//! module's formats (see [`crate::report`]): `gradebook.csv` ([`report::csv`]), `report.json`
//! ([`report::json`]), `junit.xml` ([`report::junit`]) and `feedback/ID.md`
//! ([`report::markdown`]), the learner's feedback.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::class::graded::Graded;
use crate::curriculum::Lesson;
use crate::report::{self, CheckReport, Format};

/// Writes the chosen formats (of [`Format::GRADE`]) into `dir`; returns the paths written,
/// relative to `dir`.
pub fn write(
    dir: &Path,
    lesson: &Lesson,
    graded: &[Graded],
    summary: &Summary,
    formats: &[Format],
    partition: Option<&crate::class::partition::Partition>,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let now = chrono::Local::now().fixed_offset();
    // Each file whole or not at all (see `files.rs`): an instructor's script reading the
    // gradebook while a re-grade writes it never reads half of one.
    let put = |name: &str, text: String| -> Result<String> {
        let path = dir.join(name);
        crate::files::write_atomically(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(name.to_string())
    };
    for format in Format::GRADE.iter().filter(|f| formats.contains(f)) {
        let name = match format {
            Format::Csv => put(
                "gradebook.csv",
                report::csv::gradebook(&lesson.planned_checks()?, graded),
            )?,
            Format::Json => put(
                "report.json",
                report::json::class(
                    &lesson.dir_name(),
                    &lesson.title,
                    lesson.max_score(),
                    &now.to_rfc3339(),
                    partition,
                    summary,
                    graded,
                ),
            )?,
            Format::Junit => put(
                "junit.xml",
                report::junit::class(&lesson.dir_name(), graded, summary.wall, now),
            )?,
            Format::Html => put(
                "report.html",
                report::html::class(
                    &lesson.dir_name(),
                    &lesson.title,
                    &lesson.planned_checks()?,
                    graded,
                    summary,
                ),
            )?,
            Format::Markdown => {
                let count = graded.len();
                let feedback = dir.join("feedback");
                std::fs::create_dir_all(&feedback)?;
                for g in graded {
                    let name = format!("{}.md", file_safe(&g.id));
                    let path = feedback.join(&name);
                    crate::files::write_atomically(
                        &path,
                        report::markdown::feedback(&g.report, &g.id).as_bytes(),
                    )
                    .with_context(|| format!("cannot write {}", path.display()))?;
                }
                format!("feedback/ ({count} files)")
            }
            other => anyhow::bail!("`grader grade` writes no {other} file"),
        };
        written.push(name);
    }
    Ok(written)
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
            *by_status.entry(g.status.to_string()).or_default() += 1;
            // Checks that ran and did not pass: a build failure's skipped checks say nothing
            // about which checks the class finds hard.
            let ran_and_failed = |c: &&CheckReport| c.status.ran_and_failed();
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
