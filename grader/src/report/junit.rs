//! JUnit XML (the Jenkins schema, as cargo-nextest writes it, through the same serializer,
//! quick-junit): one `<testcase>` per check. `grader check --format junit` is one `<testsuite>`;
//! `grader grade`'s junit.xml one per submission.
//!
//! A failed check is a `<failure>`; a timeout, crash or a check that could not run because of the
//! submission (it doesn't compile, it bypasses the shim) is an `<error>`, so a dashboard never
//! shows a submission that doesn't build as green. Its `type` is the status word (`timeout`,
//! `crash`, `skipped`); a skipped check's reason is in its message.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::{finding, CheckReport, Report, Status};
use crate::class::graded::Graded;

/// One report as a JUnit document, stamped `now`.
pub fn report(report: &Report, now: DateTime<FixedOffset>) -> String {
    let mut doc = quick_junit::Report::new(format!("grader check {}", report.lesson));
    doc.set_timestamp(now);
    let mut suite = suite(report, &report.target, now);
    suite.set_time(total_time(report));
    doc.add_test_suite(suite);
    doc.to_string().expect("quick-junit serializes")
}

/// A class: one testsuite per submission, with its score, status and source as properties.
pub fn class(
    lesson: &str,
    graded: &[Graded],
    wall: Duration,
    now: DateTime<FixedOffset>,
) -> String {
    let mut doc = quick_junit::Report::new(format!("grader grade {lesson}"));
    doc.set_timestamp(now).set_time(wall);
    for g in graded {
        let mut suite = suite(&g.report, &g.id, now);
        suite
            .set_time(Duration::from_secs_f64(g.seconds))
            .add_property(Property::new("status", g.status.to_string()))
            .add_property(Property::new("source", g.source.clone()));
        doc.add_test_suite(suite);
    }
    doc.to_string().expect("quick-junit serializes")
}

fn total_time(report: &Report) -> Duration {
    Duration::from_millis(report.checks.iter().map(|c| c.duration_ms).sum())
}

/// The suite of one report, its cases named `ID.KIND` by class.
fn suite(report: &Report, id: &str, now: DateTime<FixedOffset>) -> TestSuite {
    let mut suite = TestSuite::new(id.to_string());
    suite
        .set_timestamp(now)
        .add_property(Property::new("score", report.score.to_string()))
        .add_property(Property::new("max_score", report.max_score.to_string()));
    if let Some(message) = report.build.message() {
        suite.set_system_err(message);
    }
    for c in &report.checks {
        let mut status = match c.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Status::Timeout | Status::Crash | Status::Skipped(_) => {
                TestCaseStatus::non_success(NonSuccessKind::Error)
            }
        };
        if !c.status.is_pass() {
            let message = match c.status.skip() {
                Some(reason) if c.message.is_empty() => format!("skipped: {reason}"),
                Some(reason) => format!("skipped ({reason}): {}", c.message),
                None => c.message.clone(),
            };
            status
                .set_type(c.status.to_string())
                .set_message(message)
                .set_description(description(c, report.lesson_number));
        }
        let mut case = TestCase::new(c.name.clone(), status);
        case.set_classname(format!("{id}.{}", c.kind))
            .set_time(Duration::from_millis(c.duration_ms))
            .add_property(Property::new("points", c.points.to_string()))
            .add_property(Property::new("max_points", c.max_points.to_string()));
        suite.add_test_case(case);
    }
    suite
}

/// The finding field by field, then what the check printed.
fn description(c: &CheckReport, lesson_number: u32) -> String {
    let mut text = c
        .finding
        .as_ref()
        .map(|f| finding::plain_lines(f, lesson_number))
        .unwrap_or_default();
    if !c.output.is_empty() {
        text.push_str("output (last lines):\n");
        text.push_str(&c.output);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            insta::assert_snapshot!(name, super::report(&report, fixtures::now()));
        }
        insta::assert_snapshot!(
            "class",
            super::class(
                "01-race-fix",
                &fixtures::graded(),
                std::time::Duration::from_secs(42),
                fixtures::now()
            )
        );
    }
}
