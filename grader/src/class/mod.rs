//! Grading a whole class: reading [`submissions`] (folders, archives), grading them with a content
//! cache ([`grade`]) into [`graded`] submissions, and what the run writes and prints
//! ([`gradebook`]). The dependencies run one way: grade -> gradebook -> graded. A class can be
//! graded in parts on several machines ([`partition`]: `--partition K/N`, then `grader merge`).

pub mod grade;
pub mod gradebook;
pub mod graded;
pub mod partition;
pub mod submissions;
