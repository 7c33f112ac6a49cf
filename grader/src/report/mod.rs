//! Reports: the one result of checking one target ([`Report`]), and every format rendered from it.
//!
//! The model holds everything a renderer needs (the lesson, the target, the build as a [`Build`],
//! each check with a typed [`Status`] and its finding); each format is a pure function of it, one
//! file per format: [`human`], [`json`], [`markdown`], [`junit`], [`csv`], [`gradescope`] (the
//! class-level ones take the graded submissions too). A finding reads the same everywhere:
//! [`finding::fields`] lists its labelled fields and each format only chooses the markup; a model
//! check's failing interleaving is drawn once, by [`timeline::render`].

pub mod csv;
pub mod finding;
mod format;
pub mod gradescope;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
/// The rules of the Jenkins JUnit schema the JUnit tests check against (shared with the end-to-end
/// tests).
#[cfg(test)]
#[path = "../../tests/common/junit_schema.rs"]
mod junit_schema;
pub mod markdown;
mod status;
pub mod timeline;
pub(crate) mod words;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod schema;

use grader_harness::protocol::{Finding, Kind};
use serde::{Deserialize, Serialize};

use crate::check::run::CheckRun;
use crate::curriculum::{Lesson, PlannedCheck};

pub use format::Format;
pub use status::{Skip, Status, Word};

/// The version of the JSON document (`format_version`): raised when a field changes meaning or
/// goes away; fields are only ever added within one version.
pub const FORMAT_VERSION: u32 = 1;

/// `grader check --format json`, one document per target (schema: grader/schema/report.schema.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Report {
    /// Always 1 in this version of the document.
    #[cfg_attr(test, schemars(extend("const" = 1)))]
    pub format_version: u32,
    /// The lesson's folder name, e.g. `01-race-fix`.
    pub lesson: String,
    pub lesson_number: u32,
    pub slug: String,
    pub title: String,
    /// What was checked: a folder relative to the kit, or a submission's path.
    pub target: String,
    #[cfg_attr(test, schemars(with = "BuildRepr"))]
    pub build: Build,
    /// Every check passed (and there was at least one).
    pub passed: bool,
    pub score: u32,
    pub max_score: u32,
    pub checks: Vec<CheckReport>,
    /// The sandbox protections the checks ran under (see check/sandbox.rs); empty: none.
    #[serde(default)]
    pub protections: Vec<String>,
}

/// Whether the target's harness built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "BuildRepr", try_from = "BuildRepr")]
pub enum Build {
    Ok,
    Failed {
        /// One line per failed build (std, loom): what went wrong.
        summary: String,
        /// What the compiler said.
        compiler_output: String,
    },
    /// Nothing needed building (every check was settled without a harness: lint only, or skipped).
    NotNeeded,
}

words::words! {
    /// `build.status` in the JSON document.
    pub enum BuildWord {
        Ok => "ok",
        Error => "error",
        NotNeeded => "not_needed",
    }
}

impl Build {
    pub fn failed(&self) -> bool {
        matches!(self, Build::Failed { .. })
    }

    /// The summary then the compiler's output, as one text (the JSON's `build.message`).
    pub fn message(&self) -> Option<String> {
        match self {
            Build::Failed {
                summary,
                compiler_output,
            } if compiler_output.is_empty() => Some(summary.clone()),
            Build::Failed {
                summary,
                compiler_output,
            } => Some(format!("{summary}\n\n{compiler_output}")),
            Build::Ok | Build::NotNeeded => None,
        }
    }
}

/// How a [`Build`] reads in JSON.
#[derive(Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, schemars(rename = "Build"))]
struct BuildRepr {
    /// `ok`, `error` (see `message`), or `not_needed` (no check needed a build).
    status: BuildWord,
    /// For an error: the summary, a blank line, then the compiler's output; null otherwise.
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compiler_output: Option<String>,
}

impl From<Build> for BuildRepr {
    fn from(build: Build) -> BuildRepr {
        let message = build.message();
        match build {
            Build::Ok => BuildRepr {
                status: BuildWord::Ok,
                message,
                summary: None,
                compiler_output: None,
            },
            Build::NotNeeded => BuildRepr {
                status: BuildWord::NotNeeded,
                message,
                summary: None,
                compiler_output: None,
            },
            Build::Failed {
                summary,
                compiler_output,
            } => BuildRepr {
                status: BuildWord::Error,
                message,
                summary: Some(summary),
                compiler_output: Some(compiler_output),
            },
        }
    }
}

impl TryFrom<BuildRepr> for Build {
    type Error = String;

    fn try_from(repr: BuildRepr) -> Result<Build, String> {
        Ok(match repr.status {
            BuildWord::Ok => Build::Ok,
            BuildWord::NotNeeded => Build::NotNeeded,
            BuildWord::Error => Build::Failed {
                summary: repr.summary.or(repr.message).unwrap_or_default(),
                compiler_output: repr.compiler_output.unwrap_or_default(),
            },
        })
    }
}

/// One check of a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct CheckReport {
    pub name: String,
    #[cfg_attr(test, schemars(with = "schema::KindSchema"))]
    pub kind: Kind,
    /// `status`, and `skip_reason` for a skipped check.
    #[serde(flatten)]
    #[cfg_attr(test, schemars(with = "status::StatusRepr"))]
    pub status: Status,
    /// The finding in one paragraph; empty for a pass.
    pub message: String,
    pub duration_ms: u64,
    pub points: u32,
    pub max_points: u32,
    /// The same finding, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, schemars(with = "Option<schema::FindingSchema>"))]
    pub finding: Option<Finding>,
    /// The tail of what a failing check printed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

impl CheckReport {
    /// Whether a renderer explains this check: it ran and did not pass, or it was skipped for a
    /// reason of its own (see [`Skip::explained`]).
    pub fn needs_explaining(&self) -> bool {
        match self.status {
            Status::Pass => false,
            Status::Skipped(reason) => reason.explained(),
            _ => true,
        }
    }

    /// The last `lines` lines of what the check printed, when that tells more than its finding: it
    /// timed out or crashed rather than reporting a result.
    pub fn output_tail(&self, lines: usize) -> Option<Vec<&str>> {
        if self.output.is_empty() || matches!(self.status, Status::Fail | Status::Pass) {
            return None;
        }
        let all: Vec<&str> = self.output.lines().collect();
        Some(all[all.len().saturating_sub(lines)..].to_vec())
    }
}

impl Report {
    pub fn new(
        lesson: &Lesson,
        target: String,
        build: Build,
        checks: Vec<(PlannedCheck, CheckRun)>,
    ) -> Report {
        let about = (lesson.number, lesson.slug.as_str(), lesson.title.as_str());
        Report::of(about, target, build, checks)
    }

    /// [`Report::new`] from the lesson's number, slug and title.
    pub fn of(
        (number, slug, title): (u32, &str, &str),
        target: String,
        build: Build,
        checks: Vec<(PlannedCheck, CheckRun)>,
    ) -> Report {
        let checks: Vec<CheckReport> = checks
            .into_iter()
            .map(|(plan, run)| CheckReport {
                message: run
                    .finding
                    .as_ref()
                    .map(|f| finding::one_paragraph(f, number))
                    .unwrap_or_default(),
                points: if run.status.is_pass() { plan.points } else { 0 },
                max_points: plan.points,
                duration_ms: run.duration.as_millis() as u64,
                name: plan.name,
                kind: plan.kind,
                status: run.status,
                finding: run.finding,
                output: anstream::adapter::strip_str(&run.output).to_string(),
            })
            .collect();
        let build = match build {
            Build::Failed {
                summary,
                compiler_output,
            } => Build::Failed {
                summary: anstream::adapter::strip_str(&summary).to_string(),
                compiler_output: anstream::adapter::strip_str(&compiler_output).to_string(),
            },
            other => other,
        };
        Report {
            format_version: FORMAT_VERSION,
            lesson: format!("{number:02}-{slug}"),
            lesson_number: number,
            slug: slug.to_string(),
            title: title.to_string(),
            target,
            build,
            passed: !checks.is_empty() && checks.iter().all(|c| c.status.is_pass()),
            score: checks.iter().map(|c| c.points).sum(),
            max_score: checks.iter().map(|c| c.max_points).sum(),
            checks,
            protections: Vec::new(),
        }
    }

    /// The checks that did not pass, skipped ones included.
    pub fn failed(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks.iter().filter(|c| !c.status.is_pass())
    }

    /// How many checks `--fail-fast` left out.
    pub fn skipped_by_fail_fast(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Skipped(Skip::FailFast))
            .count()
    }
}

impl Report {
    /// Why no check ran at all, when the submission could not be read or graded.
    pub fn unreadable(&self) -> Option<Skip> {
        let first = self.checks.first()?.status.skip()?;
        let all = self.checks.iter().all(|c| c.status.skip() == Some(first));
        (all && matches!(first, Skip::Unreadable | Skip::GraderError)).then_some(first)
    }

    /// Which protections the checks ran under, as the `sandbox:` line says it (see
    /// `check/sandbox.rs`); `None` when no check ran in a process (only the lint, or none).
    pub fn sandbox_line(&self) -> Option<String> {
        let ran = |c: &CheckReport| c.kind != Kind::Lint && c.status.skip().is_none();
        if !self.checks.iter().any(ran) {
            return None;
        }
        crate::check::sandbox::describe(&self.protections)
    }

    /// The protections for a one-cell table column: `user-ns net-ns …`, `none` when the checks
    /// ran with none, empty when no check ran in a process.
    pub fn protections_cell(&self) -> String {
        match self.sandbox_line() {
            None => String::new(),
            Some(_) if self.protections.is_empty() => "none".into(),
            Some(_) => self.protections.join(" "),
        }
    }
}
