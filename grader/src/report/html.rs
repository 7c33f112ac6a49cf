//! `grader grade`'s report.html: one self-contained page for the instructor (no network, no
//! script, inline CSS and SVG): the score distribution as a chart, each check's pass rate, the
//! slowest submissions, the reasons of the invalid ones and of the build errors, and every
//! submission's feedback one click away (a `<details>` per submission, linked from its row: a
//! browser opens the details that holds the fragment it is sent to).
//!
//! It holds no clock (no time of grading, no wall time), so a merged class's page is the page one
//! run writes.

use std::fmt::Write as _;

use crate::class::gradebook::Summary;
use crate::class::graded::{Graded, Outcome};
use crate::curriculum::PlannedCheck;

/// The page of a class of `lesson` (`01-race-fix`) titled `title`.
pub fn class(
    lesson: &str,
    title: &str,
    planned: &[PlannedCheck],
    graded: &[Graded],
    summary: &Summary,
) -> String {
    let mut h = String::new();
    let max = planned.iter().map(|p| p.points).sum::<u32>();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lesson {lesson} · grades</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 62rem; padding: 0 1rem; color: #1d2430; }}
h1 {{ font-size: 1.5rem; margin-bottom: .2rem; }} h2 {{ font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d8dde6; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eef0f4; vertical-align: top; }}
th {{ font-weight: 600; background: #f5f7fa; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.bar {{ background: #e6e9ef; height: .8rem; width: 10rem; border-radius: 3px; }} .bar > span {{ display: block; height: 100%; background: #3b7ddd; border-radius: 3px; }}
.passed {{ color: #1a7f37; }} .failed {{ color: #9a6700; }} .build-error, .invalid {{ color: #cf222e; }}
details {{ margin: .3rem 0; }} summary {{ cursor: pointer; }} pre {{ background: #f6f8fa; padding: .7rem; overflow-x: auto; white-space: pre-wrap; font-size: 13px; }}
.muted {{ color: #5b6473; }} svg text {{ font: 11px system-ui, sans-serif; fill: #1d2430; }}
</style>
</head>
<body>
<h1>Lesson {lesson} · {title}</h1>
<p class="muted">{n} submissions · mean {mean} of {max} · {statuses}</p>
"#,
        lesson = esc(lesson),
        title = esc(title),
        n = graded.len(),
        mean = summary.mean_score,
        statuses = esc(&statuses(summary)),
    );
    h.push_str("<h2 id=\"distribution\">Score distribution</h2>\n");
    h.push_str(&distribution_svg(graded, max));

    h.push_str("<h2 id=\"checks\">Checks</h2>\n<table>\n<tr><th>kind</th><th>check</th><th class=\"n\">points</th><th class=\"n\">passed</th><th>pass rate</th></tr>\n");
    for plan in planned {
        let results: Vec<_> = graded
            .iter()
            .filter_map(|g| g.report.checks.iter().find(|c| c.name == plan.name))
            .collect();
        let passed = results.iter().filter(|c| c.status.is_pass()).count();
        let rate = percent(passed, results.len());
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{passed}/{}</td><td><div class=\"bar\" title=\"{rate}%\"><span style=\"width:{rate}%\"></span></div></td></tr>",
            plan.kind,
            esc(&plan.name),
            plan.points,
            results.len(),
        );
    }
    h.push_str("</table>\n");

    if !summary.slowest.is_empty() {
        h.push_str("<h2 id=\"slowest\">Slowest submissions</h2>\n<table>\n<tr><th>submission</th><th class=\"n\">seconds</th></tr>\n");
        for (id, secs) in &summary.slowest {
            let _ = writeln!(
                h,
                "<tr><td><a href=\"#{}\">{}</a></td><td class=\"n\">{secs:.1}</td></tr>",
                anchor(id),
                esc(id)
            );
        }
        h.push_str("</table>\n");
    }

    let broken: Vec<&Graded> = graded
        .iter()
        .filter(|g| matches!(g.status, Outcome::Invalid | Outcome::BuildError))
        .collect();
    if !broken.is_empty() {
        h.push_str("<h2 id=\"invalid\">Invalid or not compiling</h2>\n<table>\n<tr><th>submission</th><th>status</th><th>reason</th></tr>\n");
        for g in broken {
            let _ = writeln!(
                h,
                "<tr><td><a href=\"#{}\">{}</a></td><td class=\"{status}\">{status}</td><td>{}</td></tr>",
                anchor(&g.id),
                esc(&g.id),
                esc(&g.reason),
                status = g.status,
            );
        }
        h.push_str("</table>\n");
    }

    h.push_str("<h2 id=\"submissions\">Submissions</h2>\n<table>\n<tr><th>submission</th><th class=\"n\">score</th><th>status</th><th>reason</th></tr>\n");
    for g in graded {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"n\">{}/{}</td><td class=\"{status}\">{status}</td><td>{}</td></tr>",
            anchor(&g.id),
            esc(&g.id),
            g.score,
            g.max_score,
            esc(&g.reason),
            status = g.status,
        );
    }
    h.push_str("</table>\n<h2 id=\"feedback\">Feedback</h2>\n");
    for g in graded {
        let _ = writeln!(
            h,
            "<details><summary><b>{}</b> · {}/{} · <span class=\"{status}\">{status}</span></summary>\n<pre id=\"{}\">{}</pre>\n</details>",
            esc(&g.id),
            g.score,
            g.max_score,
            anchor(&g.id),
            esc(&super::markdown::feedback(&g.report, &g.id)),
            status = g.status,
        );
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn statuses(summary: &Summary) -> String {
    summary
        .by_status
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent(part: usize, whole: usize) -> usize {
    (part * 100).checked_div(whole).unwrap_or(0)
}

/// A bar per score from 0 to `max`, its height the number of submissions with that score.
fn distribution_svg(graded: &[Graded], max: u32) -> String {
    let mut counts = vec![0usize; max as usize + 1];
    for g in graded {
        if let Some(c) = counts.get_mut(g.score as usize) {
            *c += 1;
        }
    }
    let highest = counts.iter().copied().max().unwrap_or(0).max(1);
    let (bar, gap, height) = (22usize, 6usize, 120usize);
    let width = counts.len() * (bar + gap) + gap;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"score distribution\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">\n",
        height + 40,
        height + 40
    );
    for (score, &count) in counts.iter().enumerate() {
        let x = gap + score * (bar + gap);
        let h = count * height / highest;
        let y = 15 + height - h;
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" fill=\"#3b7ddd\"><title>{count} with {score}/{max}</title></rect>"
        );
        if count > 0 {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{count}</text>",
                x + bar / 2,
                y - 3
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{score}</text>",
            x + bar / 2,
            height + 30
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// An id attribute for a submission.
fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sub-{safe}")
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn snapshot() {
        let html = super::class(
            "01-race-fix",
            "Race fix",
            &fixtures::planned(),
            &fixtures::graded(),
            &fixtures::summary(),
        );
        insta::assert_snapshot!(html);
    }

    #[test]
    fn self_contained_and_escaped() {
        let html = super::class(
            "01-race-fix",
            "<script>alert(1)</script>",
            &fixtures::planned(),
            &fixtures::graded(),
            &fixtures::summary(),
        );
        assert!(!html.contains("<script"), "a script in the page");
        assert!(html.contains("&lt;script&gt;"));
        for external in ["http://", "https://", "src=", "<link"] {
            assert!(
                !html.contains(external),
                "`{external}` in a self-contained page"
            );
        }
        // Every submission's feedback is on the page, behind its anchor.
        for id in ["alice", "bob", "carol"] {
            assert!(html.contains(&format!("<pre id=\"sub-{id}\">")), "{id}");
            assert!(html.contains(&format!("href=\"#sub-{id}\"")), "{id}");
        }
    }
}
