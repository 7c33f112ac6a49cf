//! The course author's tools: `grader verify` proves the checks catch the known-buggy variants.

pub mod changed;
pub mod coverage;
pub mod mutate;
pub mod patch;
pub mod variants;
pub mod verify;
