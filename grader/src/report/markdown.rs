//! Markdown: what a learner reads (`grader check --format markdown`, and `grader grade`'s
//! feedback/ID.md): the score, a table of checks, and each failure explained.

use std::fmt::Write as _;

use super::finding::{self, HintWords, Label};
use super::{timeline, Report, Skip, Status};

/// Markdown has no terminal: timelines are drawn this wide.
pub const TIMELINE_WIDTH: usize = 120;

/// The mark and word of a status in the table.
fn mark(status: Status) -> String {
    match status {
        Status::Pass => "✅ pass".into(),
        Status::Fail => "❌ fail".into(),
        Status::Timeout => "⏱ timeout".into(),
        Status::Crash => "💥 crash".into(),
        Status::Skipped(reason) => format!("➖ skipped ({reason})"),
    }
}

/// Feedback on one report; `who` names the submission (or the target).
pub fn feedback(report: &Report, who: &str) -> String {
    let number = report.lesson_number;
    let unreadable = report.unreadable();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Lesson {} · {}\n\n**{who}** · score **{}/{}** · {}\n",
        report.lesson,
        report.title,
        report.score,
        report.max_score,
        match unreadable {
            _ if report.passed => "every check passes",
            Some(Skip::GraderError) => "the grader could not grade it",
            Some(_) => "the submission could not be read",
            None if report.build.failed() => "the code does not compile",
            None => "some checks do not pass yet",
        }
    );
    if let Some(message) = report.build.message() {
        let heading = match unreadable {
            Some(Skip::GraderError) => "The grader could not grade it",
            Some(_) => "The submission could not be read",
            None => "The build failed",
        };
        let _ = writeln!(md, "## {heading}\n\n{}\n", fenced(&message));
    }
    let _ = writeln!(md, "| kind | check | result | points |\n|---|---|---|---|");
    for c in &report.checks {
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {}/{} |",
            c.kind,
            c.name,
            mark(c.status),
            c.points,
            c.max_points
        );
    }
    if let Some(line) = report.sandbox_line() {
        let _ = writeln!(md, "\n_{line}_");
    }
    for c in report.checks.iter().filter(|c| c.needs_explaining()) {
        let _ = writeln!(md, "\n## `{}` ({})\n", c.name, c.kind);
        if let Some(f) = &c.finding {
            md.push_str(&finding_list(f, number));
            if let Some(trace) = &f.trace {
                let _ = writeln!(
                    md,
                    "- **Timeline** (the interleaving that failed, one column per thread):\n\n{}\n",
                    fenced(&timeline::render(trace, TIMELINE_WIDTH))
                );
            }
        } else if !c.message.is_empty() {
            let _ = writeln!(md, "{}", c.message);
        }
        if let Some(lines) = c.output_tail(20) {
            let _ = writeln!(
                md,
                "\nWhat it printed last:\n\n{}",
                fenced(&lines.join("\n"))
            );
        }
    }
    if !report.passed {
        let _ = writeln!(
            md,
            "\nStuck? `grader hint {number:02}` gives the lesson's hints, gentlest first; `grader check {number:02}` re-runs these checks on your machine.",
        );
    }
    md
}

/// A finding as a Markdown list, one `**Label:**` item per field (a multi-line field fenced).
pub fn finding_list(f: &grader_harness::protocol::Finding, lesson_number: u32) -> String {
    let mut md = String::new();
    for (label, text) in finding::fields(f, lesson_number, &HintWords::Plain) {
        if label == Label::Detail || text.contains('\n') {
            let _ = writeln!(md, "- **{}:**\n\n{}\n", label.title(), fenced(&text));
        } else {
            let _ = writeln!(md, "- **{}:** {text}", label.title());
        }
    }
    md
}

/// A code block whose fence no line of `text` can close.
pub fn fenced(text: &str) -> String {
    let longest = text
        .lines()
        .map(|l| l.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}", text.trim_end())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            insta::assert_snapshot!(name, super::feedback(&report, "alice"));
        }
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        assert_eq!(super::fenced("a ```` b"), "```text\na ```` b\n```");
        assert_eq!(super::fenced("````\nx"), "`````text\n````\nx\n`````");
    }
}
