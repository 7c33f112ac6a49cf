//! Keeping timing checks fair: a timing check runs with nothing else of this grader running.
//!
//! Every check process and every build holds the gate shared while it runs; a timing check holds
//! it alone. Within one `grader check` the timing checks already run last and one at a time, so the
//! gate changes nothing there. When `grader grade` works on several submissions at once, it is what
//! keeps one submission's stress checks or build from stealing the cores another submission's
//! timing check is measuring. The lock prefers writers: once a timing check waits, no new check or
//! build starts until it has run.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

/// Held while an ordinary check or a build runs.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held while a timing check runs: nothing else of this process runs meanwhile.
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    GATE.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
