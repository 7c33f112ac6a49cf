//! JUnit XML, valid against the Jenkins xunit plugin's `junit-10.xsd` (its rules are restated in
//! grader/tests/common/junit_schema.rs, which the tests check real output with): one
//! `<testcase>` per check. `grader check --format junit` is one `<testsuite>`; `grader grade`'s
//! junit.xml one per submission.
//!
//! A failed check is a `<failure>`; a timeout, crash or a check that could not run because of the
//! submission (it doesn't compile, it bypasses the shim) is an `<error>`, so a dashboard never
//! shows a submission that doesn't build as green. Its `type` is the status word (`timeout`,
//! `crash`, `skipped`); a skipped check's reason is in its message.
//!
//! The schema allows properties only on a `<testsuite>`, and no `timestamp` or `skipped` on
//! `<testsuites>`: the suite's properties carry the score (`score`, `max_score`) and each check's
//! points (`points.NAME`, `max_points.NAME`); a testcase's `<system-out>` says them in words too.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::{finding, CheckReport, Report, Status};
use crate::class::graded::Graded;

/// One report as a JUnit document, stamped `now`.
pub fn report(report: &Report, now: DateTime<FixedOffset>) -> String {
    let suite = suite(report, &report.target, total_time(report), now, &[]);
    document(
        &format!("grader check {}", report.lesson),
        total_time(report),
        &[(counts(report), suite)],
    )
}

/// A class: one testsuite per submission, with its score, status and source as properties.
pub fn class(
    lesson: &str,
    graded: &[Graded],
    wall: Duration,
    now: DateTime<FixedOffset>,
) -> String {
    let suites: Vec<_> = graded
        .iter()
        .map(|g| {
            let extra = [
                ("status".to_string(), g.status.to_string()),
                ("source".to_string(), g.source.clone()),
            ];
            let time = Duration::from_secs_f64(g.seconds.max(0.0));
            (
                counts(&g.report),
                suite(&g.report, &g.id, time, now, &extra),
            )
        })
        .collect();
    document(&format!("grader grade {lesson}"), wall, &suites)
}

/// tests, failures, errors of one report.
#[derive(Default, Clone, Copy)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
}

fn counts(report: &Report) -> Counts {
    let mut counts = Counts::default();
    for c in &report.checks {
        counts.tests += 1;
        match outcome(c.status) {
            Some("failure") => counts.failures += 1,
            Some(_) => counts.errors += 1,
            None => {}
        }
    }
    counts
}

/// The element a check's status becomes, if any.
fn outcome(status: Status) -> Option<&'static str> {
    match status {
        Status::Pass => None,
        Status::Fail => Some("failure"),
        Status::Timeout | Status::Crash | Status::Skipped(_) => Some("error"),
    }
}

fn document(name: &str, time: Duration, suites: &[(Counts, String)]) -> String {
    let total = suites.iter().fold(Counts::default(), |a, (c, _)| Counts {
        tests: a.tests + c.tests,
        failures: a.failures + c.failures,
        errors: a.errors + c.errors,
    });
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        attr(name),
        total.tests,
        total.failures,
        total.errors,
        seconds(time)
    );
    for (_, suite) in suites {
        xml.push_str(suite);
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn total_time(report: &Report) -> Duration {
    Duration::from_millis(report.checks.iter().map(|c| c.duration_ms).sum())
}

/// The suite of one report, its cases named `ID.KIND` by class.
fn suite(
    report: &Report,
    id: &str,
    time: Duration,
    now: DateTime<FixedOffset>,
    extra: &[(String, String)],
) -> String {
    let c = counts(report);
    let mut xml = String::new();
    let _ = writeln!(
        xml,
        "    <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\" timestamp=\"{}\">",
        attr(id),
        c.tests,
        c.failures,
        c.errors,
        seconds(time),
        now.format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
    );
    let mut properties = vec![
        ("score".to_string(), report.score.to_string()),
        ("max_score".to_string(), report.max_score.to_string()),
    ];
    let sandbox = report.protections_cell();
    if !sandbox.is_empty() {
        properties.push(("sandbox".to_string(), sandbox));
    }
    properties.extend(extra.iter().cloned());
    for check in &report.checks {
        properties.push((format!("points.{}", check.name), check.points.to_string()));
        properties.push((
            format!("max_points.{}", check.name),
            check.max_points.to_string(),
        ));
    }
    xml.push_str("        <properties>\n");
    for (name, value) in &properties {
        let _ = writeln!(
            xml,
            "            <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(value)
        );
    }
    xml.push_str("        </properties>\n");
    for check in &report.checks {
        testcase(&mut xml, check, id, report.lesson_number);
    }
    if let Some(message) = report.build.message() {
        let _ = writeln!(xml, "        <system-err>{}</system-err>", text(&message));
    }
    xml.push_str("    </testsuite>\n");
    xml
}

fn testcase(xml: &mut String, c: &CheckReport, id: &str, lesson_number: u32) {
    let _ = writeln!(
        xml,
        "        <testcase name=\"{}\" classname=\"{}.{}\" time=\"{}\">",
        attr(&c.name),
        attr(id),
        c.kind,
        seconds(Duration::from_millis(c.duration_ms))
    );
    if let Some(element) = outcome(c.status) {
        let message = match c.status.skip() {
            Some(reason) if c.message.is_empty() => format!("skipped: {reason}"),
            Some(reason) => format!("skipped ({reason}): {}", c.message),
            None => c.message.clone(),
        };
        let _ = writeln!(
            xml,
            "            <{element} type=\"{}\" message=\"{}\">{}</{element}>",
            c.status,
            attr(&message),
            text(&description(c, lesson_number))
        );
    }
    let _ = writeln!(
        xml,
        "            <system-out>points {}/{}</system-out>",
        c.points, c.max_points
    );
    xml.push_str("        </testcase>\n");
}

/// Seconds with milliseconds, as JUnit writes them (`12.500`).
fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Characters XML 1.0 cannot hold at all (control characters but tab, newline and return) become
/// U+FFFD; the rest are escaped.
fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn attr(s: &str) -> String {
    escape(s, true)
}

fn text(s: &str) -> String {
    escape(s, false)
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

    use crate::report::junit_schema::assert_valid_junit as assert_valid;

    #[test]
    fn snapshots() {
        for (name, report) in fixtures::all() {
            let xml = super::report(&report, fixtures::now());
            assert_valid(&xml);
            insta::assert_snapshot!(name, xml);
        }
        let xml = super::class(
            "01-race-fix",
            &fixtures::graded(),
            std::time::Duration::from_secs(42),
            fixtures::now(),
        );
        assert_valid(&xml);
        insta::assert_snapshot!("class", xml);
    }

    #[test]
    fn escapes_what_xml_cannot_hold() {
        assert_eq!(super::attr("a\"<b>&\n\t"), "a&quot;&lt;b&gt;&amp;&#10;&#9;");
        assert_eq!(super::text("x\u{1b}[31m\ny\0"), "x\u{FFFD}[31m\ny\u{FFFD}");
    }
}
