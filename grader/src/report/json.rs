//! JSON: `grader check --format json` (the [`Report`] itself, schema in
//! grader/schema/report.schema.json) and `grader grade`'s report.json.
//!
//! report.json is `{lesson, title, max_score, graded_at, summary, submissions: [{id, source,
//! status, reason, score, max_score, content_hash, cached, seconds, report}]}` where `report` is the
//! submission's full `grader check --format json` document.

use serde::Serialize;

use super::Report;
use crate::class::gradebook::Summary;
use crate::class::graded::Graded;
use crate::class::partition::Partition;

/// One report, pretty-printed.
pub fn report(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes")
}

#[derive(Serialize)]
struct ClassReport<'a> {
    lesson: &'a str,
    title: &'a str,
    max_score: u32,
    graded_at: &'a str,
    /// `grader grade --partition K/N`: which part of the class this is (absent for a whole one).
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<&'a Partition>,
    summary: &'a Summary,
    submissions: &'a [Graded],
}

/// A class: every submission's grade and report, and the summary.
pub fn class(
    lesson: &str,
    title: &str,
    max_score: u32,
    graded_at: &str,
    partition: Option<&Partition>,
    summary: &Summary,
    graded: &[Graded],
) -> String {
    let doc = ClassReport {
        lesson,
        title,
        max_score,
        graded_at,
        partition,
        summary,
        submissions: graded,
    };
    serde_json::to_string_pretty(&doc).expect("a class report serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            insta::assert_snapshot!(name, super::report(&report));
        }
        insta::assert_snapshot!(
            "class",
            super::class(
                "01-race-fix",
                "Race fix",
                9,
                "2026-12-01T10:00:00+00:00",
                None,
                &fixtures::summary(),
                &fixtures::graded()
            )
        );
    }
}
