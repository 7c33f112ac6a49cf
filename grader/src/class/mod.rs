//! Grading a whole class: reading [`submissions`] (folders, archives), grading them with a content
//! cache ([`grade`]), and what the run writes and prints ([`gradebook`]).

pub mod grade;
pub mod gradebook;
pub mod submissions;
