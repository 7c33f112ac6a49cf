//! Gradescope's results.json (`grader check LESSON --path DIR --format gradescope`): a top-level
//! `score`, `execution_time`, `output`, and one entry of `tests` per check with `name`, `score`,
//! `max_score`, `status` ("passed"/"failed", Gradescope's words), `output` and `visibility`.

use serde_json::json;

use super::{finding, timeline, Report};

/// Gradescope's results.json for one report, which took `elapsed_secs` to make.
pub fn results(report: &Report, elapsed_secs: u64) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = report
        .checks
        .iter()
        .map(|c| {
            let mut output = match (&c.finding, c.status.skip()) {
                (Some(f), None) => finding::plain_lines(f, report.lesson_number),
                (Some(f), Some(reason)) => format!(
                    "skipped: {reason}\n{}",
                    finding::plain_lines(f, report.lesson_number)
                ),
                (None, _) => c.message.clone(),
            };
            if let Some(trace) = c.finding.as_ref().and_then(|f| f.trace.as_ref()) {
                output.push_str("\nThe interleaving that failed, one column per thread:\n");
                output.push_str(&timeline::render(trace, super::markdown::TIMELINE_WIDTH));
            }
            if let Some(lines) = c.output_tail(20) {
                output.push_str("\nWhat it printed last:\n");
                output.push_str(&lines.join("\n"));
            }
            json!({
                "name": format!("{} · {}", c.kind, c.name),
                "score": c.points,
                "max_score": c.max_points,
                "status": if c.status.is_pass() { "passed" } else { "failed" },
                "output": output.trim_end(),
                "output_format": "text",
                "tags": [c.kind.as_str()],
                "visibility": "visible",
            })
        })
        .collect();
    let mut output = format!(
        "Lesson {} · {}: {}/{} points.",
        report.lesson, report.title, report.score, report.max_score
    );
    if let Some(message) = report.build.message() {
        output.push_str("\n\nThe build failed:\n");
        output.push_str(&message);
    } else if !report.passed {
        output.push_str(&format!(
            " Stuck? `grader hint {:02}` gives the lesson's hints.",
            report.lesson_number
        ));
    }
    json!({
        "score": report.score,
        "execution_time": elapsed_secs,
        "output": output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    })
}

/// Gradescope's results.json when the submission holds no lesson crate at all.
pub fn unreadable(lesson: &str, title: &str, error: &str) -> serde_json::Value {
    json!({
        "score": 0,
        "execution_time": 0,
        "output": format!(
            "Lesson {lesson} · {title}: the submission could not be graded: {error}\n\nUpload the lesson's crate folder (with Cargo.toml and src/lib.rs), its src/ files, or your copy of the whole kit.",
        ),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            let text = serde_json::to_string_pretty(&super::results(&report, 7)).unwrap();
            insta::assert_snapshot!(name, text);
        }
        let text = serde_json::to_string_pretty(&super::unreadable(
            "01-race-fix",
            "Race fix",
            "no Cargo.toml",
        ))
        .unwrap();
        insta::assert_snapshot!("unreadable", text);
    }
}
