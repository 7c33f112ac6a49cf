//! The contract between the grader and a harness process.
//!
//! `harness list` prints a JSON array of [`CheckInfo`]. `harness run NAME` runs one check and, only if
//! the check ran to its end, writes a [`RunRecord`] to the file named by [`RESULT_FILE_ENV`]. The
//! record carries the nonce the grader passed in [`NONCE_ENV`], so a stray file or a process that
//! exits early can never count as a pass.

use serde::{Deserialize, Serialize};

/// Where the harness writes its [`RunRecord`]. Removed from the environment before the check runs.
pub const RESULT_FILE_ENV: &str = "GRADER_RESULT_FILE";
/// A random token the record must echo. Removed from the environment before the check runs.
pub const NONCE_ENV: &str = "GRADER_NONCE";

/// The kinds of check, in the order the grader reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Static: the lesson code reaches its primitives through `crate::sync`.
    Lint,
    /// Behaviour on one thread.
    Unit,
    /// Many threads, many repetitions.
    Stress,
    /// Wall-clock and CPU-time properties, measured as ratios with generous bounds.
    Timing,
    /// loom model checks, built with `--cfg loom`.
    Model,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Lint,
        Kind::Unit,
        Kind::Stress,
        Kind::Timing,
        Kind::Model,
    ];

    /// A check's time limit unless the check sets its own: the one place these numbers live (the
    /// harness's `Check` constructors and the grader's Classroom workflow both read it).
    pub const fn default_timeout_secs(self) -> u64 {
        match self {
            Kind::Lint => 1,
            Kind::Unit => 10,
            Kind::Stress => 60,
            Kind::Timing => 30,
            Kind::Model => 120,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lint => "lint",
            Kind::Unit => "unit",
            Kind::Stress => "stress",
            Kind::Timing => "timing",
            Kind::Model => "model",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check as `harness list` describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInfo {
    pub name: String,
    pub kind: Kind,
    pub timeout_ms: u64,
}

/// Why a check failed, in the words a learner needs: which property broke, what was observed, why
/// that happens, and what to try.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Finding {
    pub property: String,
    pub observed: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "try")]
    pub fix: String,
    /// The lesson hint (1-based, as `grader hint` numbers them) that helps with this failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<u32>,
    /// Raw text kept under the plain-words explanation (a loom message, a panic payload).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What a harness process writes when a check ran to its end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub nonce: String,
    pub name: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
    pub duration_ms: u64,
}
