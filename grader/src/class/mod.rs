//! Grading a whole class: reading [`submissions`] (folders, archives), grading them with a content
//! cache ([`grade`]) into [`graded`] submissions, and what the run writes and prints
//! ([`gradebook`]). The dependencies run one way: grade -> gradebook -> graded.

pub mod grade;
pub mod gradebook;
pub mod graded;
pub mod submissions;
