//! Checking one target, in the order it happens: [`target`] (what is checked, read once) ->
//! [`declared`] (the checks, from the kit's checks.rs) -> [`lint`] (no build needed) -> [`harness`] (the generated harness crate, built with cargo into a
//! cache, std and loom side by side) -> [`run`] (each check in its own [`process`] inside the [`sandbox`], its result over a
//! [`record`] channel, timing checks alone behind the [`gate`]) -> a report. [`pipeline`] strings the steps together.

pub mod blocked;
pub mod declared;
pub mod gate;
pub mod harness;
pub mod lint;
pub mod pipeline;
pub mod process;
pub mod record;
pub mod run;
pub mod rustc_sandbox;
pub mod sandbox;
pub mod target;
pub mod toolchain;

pub use pipeline::{evaluate, Event, Options};
