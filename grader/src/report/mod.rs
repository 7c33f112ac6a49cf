//! Reports: the result of checking one target, as JSON for machines and as text for people.

use std::fmt::Write as _;
use std::io::Write;

use anstyle::{AnsiColor, Style};
use grader_harness::protocol::{Finding, Kind};
use serde::{Deserialize, Serialize};

use crate::check::run::{CheckRun, Status};
use crate::curriculum::{Lesson, PlannedCheck};

/// `grader check --format json`, one document per target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub lesson: String,
    pub target: String,
    pub build: BuildReport,
    pub passed: bool,
    pub score: u32,
    pub max_score: u32,
    pub checks: Vec<CheckReport>,
    /// The sandbox protections the checks ran under (see check/sandbox.rs); empty: none.
    #[serde(default)]
    pub protections: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    /// "ok" or "error".
    pub status: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub name: String,
    pub kind: Kind,
    pub status: Status,
    /// The finding in one paragraph; empty for a pass.
    pub message: String,
    pub duration_ms: u64,
    pub points: u32,
    pub max_points: u32,
    /// The same finding, field by field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
    /// The tail of what a failing check printed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

impl Report {
    pub fn new(
        lesson: &Lesson,
        target: String,
        build_error: Option<String>,
        checks: Vec<(PlannedCheck, CheckRun)>,
    ) -> Report {
        let checks: Vec<CheckReport> = checks
            .into_iter()
            .map(|(plan, run)| CheckReport {
                message: run
                    .finding
                    .as_ref()
                    .map(|f| one_paragraph(f, lesson))
                    .unwrap_or_default(),
                points: if run.status == Status::Pass {
                    plan.points
                } else {
                    0
                },
                max_points: plan.points,
                duration_ms: run.duration.as_millis() as u64,
                name: plan.name,
                kind: plan.kind,
                status: run.status,
                finding: run.finding,
                output: anstream::adapter::strip_str(&run.output).to_string(),
            })
            .collect();
        Report {
            lesson: lesson.dir_name(),
            target,
            build: BuildReport {
                status: if build_error.is_some() { "error" } else { "ok" }.into(),
                message: build_error.map(|m| anstream::adapter::strip_str(&m).to_string()),
            },
            passed: !checks.is_empty() && checks.iter().all(|c| c.status == Status::Pass),
            score: checks.iter().map(|c| c.points).sum(),
            max_score: checks.iter().map(|c| c.max_points).sum(),
            checks,
            protections: Vec::new(),
        }
    }

    pub fn failed(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks.iter().filter(|c| c.status != Status::Pass)
    }
}

fn one_paragraph(f: &Finding, lesson: &Lesson) -> String {
    let mut s = format!("{}: {}", f.property, f.observed);
    if !f.why.is_empty() {
        let _ = write!(s, " Why: {}", f.why);
    }
    if !f.fix.is_empty() {
        let _ = write!(s, " Try: {}", f.fix);
    }
    if let Some(n) = f.hint {
        let _ = write!(s, " (hint {n}: grader hint {:02})", lesson.number);
    }
    s
}

const OK: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

fn mark(status: Status) -> (Style, &'static str) {
    match status {
        Status::Pass => (OK, "✓"),
        Status::Fail => (BAD, "✗"),
        Status::Timeout => (WARN, "⏱"),
        Status::Crash => (BAD, "!"),
        Status::Skipped => (DIM, "-"),
    }
}

/// Human output: checks grouped by kind, then each failure explained, then the score.
pub fn print_human(out: &mut dyn Write, report: &Report, lesson: &Lesson) -> std::io::Result<()> {
    writeln!(
        out,
        "{BOLD}Lesson {} · {}{BOLD:#}  {DIM}({}){DIM:#}",
        lesson.dir_name(),
        lesson.title,
        report.target
    )?;
    if let Some(message) = &report.build.message {
        writeln!(out, "\n{BAD}Build failed{BAD:#}: {message}")?;
    }
    for kind in Kind::ALL {
        let checks: Vec<&CheckReport> = report.checks.iter().filter(|c| c.kind == kind).collect();
        if checks.is_empty() {
            continue;
        }
        writeln!(out, "\n{BOLD}{kind}{BOLD:#}")?;
        for c in checks {
            let (style, sym) = mark(c.status);
            let status = match c.status {
                Status::Pass | Status::Fail => String::new(),
                other => format!(
                    " {style}{}{style:#}",
                    serde_json::to_value(other)
                        .unwrap()
                        .as_str()
                        .unwrap_or_default()
                ),
            };
            writeln!(
                out,
                "  {style}{sym}{style:#} {:<42}{status:<10} {DIM}{:>7}  {}/{}{DIM:#}",
                c.name,
                format!("{:.2} s", c.duration_ms as f64 / 1000.0),
                c.points,
                c.max_points
            )?;
        }
    }
    let failed: Vec<&CheckReport> = report
        .failed()
        .filter(|c| c.status != Status::Skipped || report.build.message.is_none())
        .filter(|c| !skipped_by_fail_fast(c))
        .collect();
    for c in &failed {
        let Some(f) = &c.finding else { continue };
        let (style, sym) = mark(c.status);
        writeln!(out, "\n{style}{sym} {} · {}{style:#}", c.kind, c.name)?;
        let hint = |n| {
            format!(
                "`grader hint {:02}` (hint {n}) is about this",
                lesson.number
            )
        };
        explain(out, c, Some(f), &hint, 12)?;
    }
    let not_run = report
        .checks
        .iter()
        .filter(|c| skipped_by_fail_fast(c))
        .count();
    if not_run > 0 {
        writeln!(
            out,
            "\n{DIM}{not_run} checks not run (--fail-fast): `grader check {:02}` runs them all.{DIM:#}",
            lesson.number
        )?;
    }
    let failing = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .count();
    let style = if report.passed { OK } else { BAD };
    writeln!(out)?;
    if let Some(line) = crate::check::sandbox::describe(&report.protections) {
        writeln!(out, "{DIM}{line}{DIM:#}")?;
    }
    if report.passed {
        writeln!(
            out,
            "{style}Score {}/{}{style:#} · all {} checks pass.",
            report.score,
            report.max_score,
            report.checks.len()
        )?;
    } else {
        writeln!(
            out,
            "{style}Score {}/{}{style:#} · {failing} of {} checks did not pass. Stuck? `grader hint {:02}`",
            report.score,
            report.max_score,
            report.checks.len(),
            lesson.number
        )?;
    }
    Ok(())
}

/// A labelled, word-wrapped paragraph.
/// A failing check explained, field by field (`hint` words the pointer to hint n), then the last
/// `output_lines` of what it printed when it crashed or timed out rather than reporting a finding.
pub(crate) fn explain(
    out: &mut dyn Write,
    c: &CheckReport,
    finding: Option<&Finding>,
    hint: &dyn Fn(u32) -> String,
    output_lines: usize,
) -> std::io::Result<()> {
    if let Some(f) = finding {
        field(out, "property", &f.property)?;
        field(out, "observed", &f.observed)?;
        if !f.why.is_empty() {
            field(out, "why", &f.why)?;
        }
        if !f.fix.is_empty() {
            field(out, "try", &f.fix)?;
        }
        if let Some(n) = f.hint {
            field(out, "hint", &hint(n))?;
        }
        if !f.detail.is_empty() {
            field(out, "detail", &f.detail)?;
        }
    }
    if !c.output.is_empty() && c.status != Status::Fail {
        writeln!(out, "  {DIM}output (last lines):{DIM:#}")?;
        let lines: Vec<&str> = c.output.lines().collect();
        for line in &lines[lines.len().saturating_sub(output_lines)..] {
            writeln!(out, "  {DIM}│ {line}{DIM:#}")?;
        }
    }
    Ok(())
}

pub(crate) fn field(out: &mut dyn Write, label: &str, text: &str) -> std::io::Result<()> {
    let width = 96;
    let mut line = String::new();
    let mut first = true;
    let flush = |line: &mut String, first: &mut bool, out: &mut dyn Write| -> std::io::Result<()> {
        let head = if *first {
            format!("{label:>9}")
        } else {
            String::new()
        };
        writeln!(out, "  {DIM}{head:>9}{DIM:#}  {line}")?;
        line.clear();
        *first = false;
        Ok(())
    };
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + word.len() + 1 > width {
            flush(&mut line, &mut first, out)?;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || first {
        flush(&mut line, &mut first, out)?;
    }
    Ok(())
}

fn skipped_by_fail_fast(c: &CheckReport) -> bool {
    c.status == Status::Skipped
        && c.finding
            .as_ref()
            .is_some_and(|f| f.observed == crate::check::run::FAIL_FAST_SKIP)
}
