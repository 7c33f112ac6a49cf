//! A graded submission: what `grader grade` keeps of each, and what the class formats render.

use serde::{Deserialize, Serialize};

use crate::report::words::words;
use crate::report::Report;

/// One submission's grade.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Graded {
    pub id: String,
    /// Where it was read from.
    pub source: String,
    pub status: Outcome,
    /// Why it lost points, in one line (empty when it passed).
    pub reason: String,
    pub score: u32,
    pub max_score: u32,
    /// The SHA-256 its cached result is filed under (none when it could not be read).
    pub content_hash: Option<String>,
    /// Taken from an earlier run's cache instead of graded now.
    pub cached: bool,
    /// How long grading it took (when it was graded, for a cached one).
    pub seconds: f64,
    /// The full `grader check --format json` document.
    pub report: Report,
}

words! {
    /// A submission's status in the gradebook.
    pub enum Outcome {
        /// Every check passed.
        Passed => "passed",
        /// It built; some checks did not pass.
        Failed => "failed",
        /// It does not compile (or the lesson's checks don't compile against it).
        BuildError => "build-error",
        /// No lesson crate could be found or unpacked.
        Invalid => "invalid",
    }
}

impl Graded {
    /// The grade of a report. `content_hash` is `None` when the submission could not be read.
    pub fn new(
        id: String,
        source: String,
        content_hash: Option<String>,
        cached: bool,
        seconds: f64,
        report: Report,
    ) -> Graded {
        let status = if content_hash.is_none() {
            Outcome::Invalid
        } else if report.passed {
            Outcome::Passed
        } else if report.build.failed() {
            Outcome::BuildError
        } else {
            Outcome::Failed
        };
        Graded {
            id,
            source,
            status,
            reason: reason(&report),
            score: report.score,
            max_score: report.max_score,
            content_hash,
            cached,
            seconds,
            report,
        }
    }
}

/// Why a submission lost points, in one line: the build's first error, or each failing check.
pub fn reason(report: &Report) -> String {
    if report.passed {
        return String::new();
    }
    if let Some(message) = report.build.message() {
        let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
        let summary = lines.next().unwrap_or_default();
        let first_error = lines.find(|l| l.starts_with("error"));
        return shorten(
            &match first_error {
                Some(e) => format!("{summary}: {e}"),
                None => summary.to_string(),
            },
            300,
        );
    }
    report
        .failed()
        .map(|c| {
            let observed = c
                .finding
                .as_ref()
                .map(|f| f.observed.as_str())
                .unwrap_or(c.message.as_str());
            format!("{} {}: {}", c.name, c.status, shorten(observed, 160))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shorten_flattens_and_cuts_with_an_ellipsis() {
        assert_eq!(super::shorten("a\n  b", 10), "a b");
        assert_eq!(super::shorten("abcdef", 4), "abc…");
    }
}
