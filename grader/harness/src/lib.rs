//! What every generated check harness links against.
//!
//! The grader compiles a lesson's checks (`grader/lessons/NN-slug/checks.rs`) together with the crate
//! under test into a small binary whose `main` is [`runner::main`]. The grader then starts that binary
//! once per check (`harness run NAME`), so a check that deadlocks, aborts or calls `process::exit`
//! can't hide the others. The [`protocol`] module is the contract between the two sides: the grader
//! uses the same types to read what the harness wrote.

// A failing check returns its `Finding` by value: it is built once, on the slow path, and boxing it
// would make every lesson's `Err(Finding::new(..))` noisier for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod bounded;
pub mod check;
pub mod hang;
pub mod measure;
#[cfg(loom)]
pub mod model;
pub mod protocol;
pub mod rng;
pub mod runner;
pub mod trace;

/// What a checks file needs, in one `use`.
pub mod prelude {
    pub use crate::bounded::{
        panic_text, pass_on_todo, quiet_panics_starting_with, quieted_panics, within, Ran,
    };
    pub use crate::check;
    pub use crate::check::{ensure, Check, Child, Finding, Outcome};
    pub use crate::child;
    pub use crate::hang::{every_thread_joined, observing};
    pub use crate::measure::{
        cpu_time, grouped, ms, settle_thread_count, thread_count, threads_left_behind, Gauge,
        Stopwatch,
    };
    #[cfg(loom)]
    pub use crate::model::{explore, explore_explaining, explore_with};
    pub use crate::protocol::Kind;
    pub use crate::rng::Rng;
    pub use crate::runner::panic_location;
    pub use std::time::{Duration, Instant};
}
