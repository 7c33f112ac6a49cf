//! `grader`: checks the lessons of the concurrency course kit.
//!
//! The modules follow the flow of a check, then who is served:
//! - [`curriculum`] and [`kit`]: what the course is and where it lives; [`shim`]: the one
//!   `src/sync.rs` of every lesson;
//! - [`check`]: one target, start to end: read the target, lint it, build the harness, run each
//!   check in its own process, gather a [`report::Report`];
//! - [`report`]: the one result type, and every format rendered from it;
//! - [`learner`]: the journey through the course (progress, hints, reset, watch, live output);
//! - [`class`]: grading a whole class (submissions, the grade cache, the gradebook);
//! - [`author`]: proving the checks work (`grader verify`);
//! - [`platforms`]: Gradescope's package and GitHub Classroom's workflow;
//! - [`files`]: the grader's own output files, written atomically;
//! - [`cli`]: the command line, which only parses and dispatches.

pub mod author;
pub mod check;
pub mod class;
pub mod cli;
pub mod curriculum;
pub mod files;
pub mod kit;
pub mod learner;
pub mod platforms;
pub mod report;
pub mod shim;
