//! What became of one check: [`Status`], and why a check was skipped: [`Skip`].

use grader_harness::protocol::Finding;
use serde::{Deserialize, Serialize};

use super::words::words;

words! {
    /// The status word of a check (`Status` in the JSON Schema), as JSON, CSV, JUnit and the human output all spell it.
    pub enum Word {
        Pass => "pass",
        Fail => "fail",
        Timeout => "timeout",
        Crash => "crash",
        Skipped => "skipped",
    }
}

words! {
    /// Why a check did not run.
    pub enum Skip {
        /// `--fail-fast`: an earlier check did not pass.
        FailFast => "fail_fast",
        /// The harness it runs in did not build.
        BuildFailed => "build_failed",
        /// A model check, when the code bypasses the shim (loom could not see its primitives).
        ShimBypassed => "shim_bypassed",
        /// curriculum.toml lists it, the lesson's checks.rs has no such check (a kit error).
        NotInChecks => "not_in_checks",
        /// curriculum.toml lists a lint the grader doesn't know (a kit error).
        UnknownLint => "unknown_lint",
        /// The submission holds no lesson crate the grader can read.
        Unreadable => "unreadable",
        /// The grader itself could not run the checks (a full disk, a broken harness).
        GraderError => "grader_error",
    }
}

/// What became of one check. Serialized as `"status": WORD` plus, for a skipped check,
/// `"skip_reason": REASON` (see [`Word`] and [`Skip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StatusRepr", try_from = "StatusRepr")]
pub enum Status {
    Pass,
    Fail,
    Timeout,
    Crash,
    Skipped(Skip),
}

impl Status {
    pub const fn word(self) -> Word {
        match self {
            Status::Pass => Word::Pass,
            Status::Fail => Word::Fail,
            Status::Timeout => Word::Timeout,
            Status::Crash => Word::Crash,
            Status::Skipped(_) => Word::Skipped,
        }
    }

    pub fn is_pass(self) -> bool {
        self == Status::Pass
    }

    pub fn skip(self) -> Option<Skip> {
        match self {
            Status::Skipped(reason) => Some(reason),
            _ => None,
        }
    }

    /// The check ran and did not pass: a failure, a timeout or a crash.
    pub fn ran_and_failed(self) -> bool {
        matches!(self, Status::Fail | Status::Timeout | Status::Crash)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word().as_str())
    }
}

impl Skip {
    /// Whether a renderer explains the skipped check on its own. A check skipped by fail-fast is
    /// counted instead; one skipped because the build failed or the submission is unreadable is
    /// explained by that message.
    pub fn explained(self) -> bool {
        matches!(
            self,
            Skip::ShimBypassed | Skip::NotInChecks | Skip::UnknownLint
        )
    }

    /// The finding of a check `--fail-fast` did not run.
    pub fn fail_fast_finding() -> Finding {
        Finding::new("the check ran")
            .observed("not run: --fail-fast stops at the first check that does not pass")
    }
}

/// How a [`Status`] reads in JSON: flattened into its check.
#[derive(Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct StatusRepr {
    status: Word,
    /// Why a skipped check did not run (only for `"status": "skipped"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip_reason: Option<Skip>,
}

impl From<Status> for StatusRepr {
    fn from(status: Status) -> StatusRepr {
        StatusRepr {
            status: status.word(),
            skip_reason: status.skip(),
        }
    }
}

impl TryFrom<StatusRepr> for Status {
    type Error = String;

    fn try_from(repr: StatusRepr) -> Result<Status, String> {
        Ok(match (repr.status, repr.skip_reason) {
            (Word::Pass, None) => Status::Pass,
            (Word::Fail, None) => Status::Fail,
            (Word::Timeout, None) => Status::Timeout,
            (Word::Crash, None) => Status::Crash,
            (Word::Skipped, Some(reason)) => Status::Skipped(reason),
            (Word::Skipped, None) => return Err("a skipped check needs a skip_reason".into()),
            (word, Some(_)) => return Err(format!("a check that is {word} has no skip_reason")),
        })
    }
}
