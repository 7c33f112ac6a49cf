//! The contract between the grader and a harness process.
//!
//! `harness run NAME` runs one check and, only if the check ran to its end, writes a [`RunRecord`]
//! (one line of JSON) to the record channel: file descriptor [`RECORD_FD`], one end of a socket pair
//! the grader made. The harness takes it as the very first thing in `main`, before any lesson code
//! can run, and marks it close-on-exec; the lesson crate may not use `unsafe` (its manifest forbids
//! it), and without `unsafe` nothing turns a descriptor number into a file, while a socket can't be
//! reopened through `/proc/self/fd`. So the code under test can't write a record, and a process
//! that exits early has written none. The grader reads the channel only after the check's whole
//! process tree is gone, at most [`MAX_RECORD_BYTES`] of it.
//!
//! `harness list` prints a JSON array of [`CheckInfo`], for authors; the grader itself reads the
//! checks from the kit's `checks.rs`, never from the binary under test.

use serde::{Deserialize, Serialize};

/// The descriptor of the record channel in a harness process.
pub const RECORD_FD: i32 = 3;
/// Windows has no descriptor to inherit by number: there the grader makes a named pipe with an
/// unguessable name, one instance only, and names it in this environment variable. The harness
/// connects to it and removes the variable before any lesson code runs (see `runner.rs`).
pub const RECORD_PIPE_ENV: &str = "GRADER_RECORD_PIPE";
/// The most the grader reads of the record channel; a longer one is no record.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// The most of each text field of a [`Finding`] the harness sends (the rest is cut).
pub const MAX_FIELD_BYTES: usize = 16 << 10;
/// The most of a name the harness sends (a thread's, an object's, a value's text in a table):
/// the code under test chooses them, and a few of any size must not make the record too long.
pub const MAX_NAME_BYTES: usize = 256;
/// The most rows of [`Finding::blocked`] the harness sends.
pub const MAX_BLOCKED_ROWS: usize = 64;

/// Cuts `text` to at most `max` bytes (on a character boundary), marked ` [cut]`.
pub fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" [cut]");
    }
}

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

/// What a timing check measures, which decides what may run beside it. It is declared in the
/// kit's `checks.rs` (`check!(timing, m::f, measures = cpu)`), read by the grader from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measures {
    /// CPU time, or how fast CPU-bound code runs (busy waiting, false sharing, speed-up, the cost
    /// of an operation): anything else running on the machine moves the figure, a spinning thread
    /// that has to share a core looks less busy than it is. Runs with nothing else of the grader.
    Cpu,
    /// Wall-clock waits on sleeping threads (blocking, overlap, back-off, cadence): the code under
    /// test sleeps, and company only makes a wake-up a little late, which the checks' margins
    /// allow for. Runs beside other checks.
    Wall,
}

impl Measures {
    pub fn as_str(self) -> &'static str {
        match self {
            Measures::Cpu => "cpu",
            Measures::Wall => "wall",
        }
    }
}

/// One check as `harness list` describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInfo {
    pub name: String,
    pub kind: Kind,
    pub timeout_ms: u64,
    /// A timing check's [`Measures`]; `None` for the other kinds, and for a timing check that does
    /// not say, which is then run as [`Measures::Cpu`] (alone), the safe side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<Measures>,
}

impl CheckInfo {
    /// Whether this check needs the machine to itself: a timing check that measures CPU, or that
    /// does not say what it measures.
    pub fn runs_alone(&self) -> bool {
        self.kind == Kind::Timing && self.measures != Some(Measures::Wall)
    }
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
    /// A failing model check's interleaving, step by step (see [`crate::trace`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::Trace>,
    /// What each thread was blocked on when the check ended (a deadlock, a hang).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Blocked>,
}

/// One thread blocked in the shim: in which call, at which line of the code, on what.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Blocked {
    /// The thread's name, or `thread #N`.
    pub thread: String,
    /// The call it is blocked in (`Condvar::wait`, `Mutex::lock`, `JoinHandle::join`); empty for
    /// the check's own thread waiting for the code under test.
    pub call: String,
    /// Where that call is, `src/lib.rs:61`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
    /// The object, as named where it is used (`not_empty`), when the grader could tell.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on: String,
    /// Who holds the lock, which thread a join waits for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// What a harness process writes when a check ran to its end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub name: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
    pub duration_ms: u64,
    /// Written shortly before the check's time limit, while it still runs, with where its threads
    /// are then: the grader uses it only if the check does reach its limit (and then only its
    /// `blocked` table); a later record replaces it, and one left last by a check that ended
    /// otherwise is no result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_limit: bool,
}
