//! Keeping CPU measurements fair: a timing check that measures CPU time (busy waiting, false
//! sharing, speed-up, the cost of an operation) runs with nothing else of this grader running.
//!
//! Every check process and every build holds the gate shared while it runs, wall-clock timing
//! checks included (they measure waits on sleeping threads, which company only makes a little
//! late); a CPU timing check holds it alone. Within one `grader check` the CPU timing checks already
//! run last and one at a time, so the gate changes nothing there. When `grader grade` works on
//! several submissions at once, it is what keeps one submission's stress checks or build from
//! stealing the cores another submission's CPU timing check is measuring. The lock prefers
//! writers: once a CPU timing check waits, no new check or build starts until it has run.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

/// Held while an ordinary check, a wall-clock timing check or a build runs.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held while a CPU timing check runs: nothing else of this process runs meanwhile.
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    GATE.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
