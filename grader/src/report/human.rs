//! Text for people: checks grouped by kind, each failure explained, then the score. Styled with
//! anstyle; the stream it is written to drops the styles where colour is off.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use grader_harness::protocol::Kind;

use super::finding::{self, HintWords};
use super::timeline;
use super::{CheckReport, Report, Status};

pub const OK: Style = AnsiColor::Green.on_default().bold();
pub const BAD: Style = AnsiColor::Red.on_default().bold();
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();

/// The mark of a status, in its colour.
pub fn mark(status: Status) -> (Style, &'static str) {
    match status {
        Status::Pass => (OK, "✓"),
        Status::Fail => (BAD, "✗"),
        Status::Timeout => (WARN, "⏱"),
        Status::Crash => (BAD, "!"),
        Status::Skipped(_) => (DIM, "-"),
    }
}

/// `grader check`'s output.
pub fn report(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let number = report.lesson_number;
    writeln!(
        out,
        "{BOLD}Lesson {} · {}{BOLD:#}  {DIM}({}){DIM:#}",
        report.lesson, report.title, report.target
    )?;
    if let Some(message) = report.build.message() {
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
                other => format!(" {style}{other}{style:#}"),
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
    // Failures that share their why and try (eight stress checks of one lost update) are shown
    // together: what each observed, then the why and try once, naming the checks they explain.
    let mut groups: Vec<Vec<&CheckReport>> = Vec::new();
    for c in report.checks.iter().filter(|c| c.needs_explaining()) {
        let Some(f) = &c.finding else { continue };
        let same = |g: &Vec<&CheckReport>| {
            !f.why.is_empty()
                && g[0]
                    .finding
                    .as_ref()
                    .is_some_and(|o| (&o.why, &o.fix, o.hint) == (&f.why, &f.fix, f.hint))
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(c),
            None => groups.push(vec![c]),
        }
    }
    for group in groups {
        let parts = if group.len() == 1 {
            Parts::All
        } else {
            Parts::Facts
        };
        for c in &group {
            let (style, sym) = mark(c.status);
            writeln!(out, "\n{style}{sym} {} · {}{style:#}", c.kind, c.name)?;
            explain_parts(out, c, number, &HintWords::Terminal, 12, parts)?;
        }
        if group.len() > 1 {
            let names: Vec<&str> = group.iter().map(|c| c.name.as_str()).collect();
            writeln!(
                out,
                "\n  {DIM}why and try, for the {} checks above ({}):{DIM:#}",
                group.len(),
                names.join(", ")
            )?;
            explain_parts(
                out,
                group[0],
                number,
                &HintWords::Terminal,
                0,
                Parts::Advice,
            )?;
        }
    }
    let not_run = report.skipped_by_fail_fast();
    if not_run > 0 {
        writeln!(
            out,
            "\n{DIM}{not_run} checks not run (--fail-fast): `grader check {number:02}` runs them all.{DIM:#}",
        )?;
    }
    let failing = report.failed().count();
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
            "{style}Score {}/{}{style:#} · {failing} of {} checks did not pass. Stuck? `grader hint {number:02}`",
            report.score,
            report.max_score,
            report.checks.len(),
        )?;
    }
    Ok(())
}

/// A check explained: its finding field by field (the hint in `hint`'s words), then the last
/// `output_lines` of what it printed when it crashed or timed out rather than reporting a finding.
pub fn explain(
    out: &mut dyn Write,
    c: &CheckReport,
    lesson_number: u32,
    hint: &HintWords,
    output_lines: usize,
) -> std::io::Result<()> {
    explain_parts(out, c, lesson_number, hint, output_lines, Parts::All)
}

/// Which fields of a finding [`explain_parts`] shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    All,
    /// What this check saw: all but why, try and hint (and its timeline and output).
    Facts,
    /// Why, try and hint only.
    Advice,
}

fn explain_parts(
    out: &mut dyn Write,
    c: &CheckReport,
    lesson_number: u32,
    hint: &HintWords,
    output_lines: usize,
    parts: Parts,
) -> std::io::Result<()> {
    use finding::Label;
    let advice = |label| matches!(label, Label::Why | Label::Try | Label::Hint);
    if let Some(f) = &c.finding {
        for (label, text) in finding::fields(f, lesson_number, hint) {
            match parts {
                Parts::Facts if advice(label) => continue,
                Parts::Advice if !advice(label) => continue,
                _ => {}
            }
            if label == finding::Label::Blocked {
                // One paragraph per group of threads.
                for (i, line) in text.lines().enumerate() {
                    field(out, if i == 0 { label.as_str() } else { "" }, line)?;
                }
            } else {
                field(out, label.as_str(), &text)?;
            }
        }
        if let Some(trace) = f.trace.as_ref().filter(|_| parts != Parts::Advice) {
            writeln!(
                out,
                "  {DIM}timeline{DIM:#}  the interleaving that failed, one column per thread:"
            )?;
            let width = timeline_width().saturating_sub(2).max(40);
            for line in timeline::render(trace, width).lines() {
                writeln!(out, "  {line}")?;
            }
        }
    }
    if let Some(lines) = c
        .output_tail(output_lines)
        .filter(|_| parts != Parts::Advice)
    {
        writeln!(out, "  {DIM}output (last lines):{DIM:#}")?;
        for line in lines {
            writeln!(out, "  {DIM}│ {line}{DIM:#}")?;
        }
    }
    Ok(())
}

/// The width timelines are drawn to: the terminal's (fixed in tests, for stable snapshots).
fn timeline_width() -> usize {
    if cfg!(test) {
        100
    } else {
        timeline::terminal_width()
    }
}

/// A labelled paragraph, word-wrapped at 96 columns, its label right-aligned.
fn field(out: &mut dyn Write, label: &str, text: &str) -> std::io::Result<()> {
    let width = 96;
    let mut line = String::new();
    let mut first = true;
    let flush = |line: &mut String, first: &mut bool, out: &mut dyn Write| -> std::io::Result<()> {
        let head = if *first { label } else { "" };
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

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    fn render(report: &super::Report) -> String {
        let mut out = Vec::new();
        super::report(&mut out, report).unwrap();
        anstream::adapter::strip_str(&String::from_utf8(out).unwrap()).to_string()
    }

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            insta::assert_snapshot!(name, render(&report));
        }
    }
}
