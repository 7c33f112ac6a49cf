//! Gradescope's results.json (`grader check LESSON --path DIR --format gradescope`): a top-level
//! `score`, `execution_time`, `output`, and one entry of `tests` per check with `name`, `score`,
//! `max_score`, `status` ("passed"/"failed", Gradescope's words), `output` (Markdown: the
//! finding's property / observed / why / try as a list) and `visibility` (by kind or check, from
//! curriculum.toml's `[lesson.visibility]` and `--visibility`).
//!
//! Gradescope takes the assignment's total from its own settings, not from results.json: the
//! package's instructions tell the instructor to set it to the lesson's maximum.

use serde_json::json;

use super::{markdown, timeline, Report};
use crate::curriculum::{visibility_of, VisibilityRules};

/// Gradescope's results.json for one report, which took `elapsed_secs` to make, each test shown
/// as `visibility` says.
pub fn results(
    report: &Report,
    elapsed_secs: u64,
    visibility: &VisibilityRules,
) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = report
        .checks
        .iter()
        .map(|c| {
            let mut output = match (&c.finding, c.status.skip()) {
                (Some(f), None) => markdown::finding_list(f, report.lesson_number),
                (Some(f), Some(reason)) => format!(
                    "Skipped: {reason}\n\n{}",
                    markdown::finding_list(f, report.lesson_number)
                ),
                (None, _) => c.message.clone(),
            };
            if let Some(trace) = c.finding.as_ref().and_then(|f| f.trace.as_ref()) {
                output.push_str("\nThe interleaving that failed, one column per thread:\n\n");
                output.push_str(&markdown::fenced(&timeline::render(
                    trace,
                    markdown::TIMELINE_WIDTH,
                )));
            }
            if let Some(lines) = c.output_tail(20) {
                output.push_str("\nWhat it printed last:\n\n");
                output.push_str(&markdown::fenced(&lines.join("\n")));
            }
            json!({
                "name": format!("{} · {}", c.kind, c.name),
                "score": c.points,
                "max_score": c.max_points,
                "status": if c.status.is_pass() { "passed" } else { "failed" },
                "output": output.trim_end(),
                "output_format": "md",
                "tags": [c.kind.as_str()],
                "visibility": visibility_of(visibility, &c.name, c.kind).as_str(),
            })
        })
        .collect();
    let mut output = format!(
        "Lesson {} · {}: {}/{} points.",
        report.lesson, report.title, report.score, report.max_score
    );
    if let Some(message) = report.build.message() {
        output.push_str("\n\nThe build failed:\n\n");
        output.push_str(&markdown::fenced(&message));
    } else if !report.passed {
        output.push_str(&format!(
            " Stuck? `grader hint {:02}` gives the lesson's hints.",
            report.lesson_number
        ));
    }
    if let Some(line) = report.sandbox_line() {
        output.push_str(&format!("\n\n_{line}_"));
    }
    json!({
        "score": report.score,
        "execution_time": elapsed_secs,
        "output": output,
        "output_format": "md",
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
    use crate::curriculum::Visibility;

    #[test]
    fn visibility_by_kind_then_by_check() {
        let rules = [
            ("model".to_string(), Visibility::AfterDueDate),
            ("counter_model".to_string(), Visibility::Hidden),
            ("stress".to_string(), Visibility::AfterPublished),
        ]
        .into_iter()
        .collect();
        let report = fixtures::all().into_iter().next().unwrap().1;
        let results = super::results(&report, 3, &rules);
        let seen: Vec<(String, String)> = results["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["visibility"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (name, visibility) in &seen {
            let wanted = if name.ends_with("counter_model") {
                "hidden"
            } else if name.starts_with("model") {
                "after_due_date"
            } else if name.starts_with("stress") {
                "after_published"
            } else {
                "visible"
            };
            assert_eq!(visibility, wanted, "{name}: {seen:?}");
        }
        assert!(seen.iter().any(|(_, v)| v == "hidden"), "{seen:?}");
        assert_eq!(results["execution_time"], 3);
    }

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            let text =
                serde_json::to_string_pretty(&super::results(&report, 7, &Default::default()))
                    .unwrap();
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
