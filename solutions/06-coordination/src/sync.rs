//! Every primitive your code uses comes from here: `use crate::sync::{Arc, Mutex};`,
//! `crate::sync::thread::spawn`, `crate::sync::atomic::AtomicU64`.
//!
//! Normally they are the standard library's types. For the model checks the grader builds your code
//! with `--cfg loom`, and the same names become loom's, which let the model checker run your
//! threads in every interleaving. Code that reaches `std::sync` or `std::thread` directly is
//! invisible to it, so the grader's lint check rejects that.
//!
//! This file only says what each name is. The grader builds with its own copy (the kit's
//! `grader/shim/sync.rs`): the same names and methods, plus notes of what each thread does, so that
//! it can say where a hang is stuck and show the interleaving a model check failed in. Edits here
//! have no effect on your grade.

#[cfg(not(loom))]
pub use std::sync::{
    Arc, Condvar, LockResult, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    TryLockResult, WaitTimeoutResult,
};

#[cfg(loom)]
pub use loom::sync::{
    Arc, Condvar, LockResult, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    TryLockResult, WaitTimeoutResult,
};

/// Atomic integers and flags, and the memory orderings that go with them.
pub mod atomic {
    #[cfg(not(loom))]
    pub use std::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };

    #[cfg(loom)]
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

/// Spawning, joining and pausing threads.
pub mod thread {
    #[cfg(not(loom))]
    pub use std::thread::{
        current, panicking, scope, sleep, spawn, yield_now, Builder, JoinHandle, Scope,
        ScopedJoinHandle,
    };

    // loom has neither a clock nor scoped threads. In the grader's copy a sleep is a yield (a
    // point where another thread may run, which is what a sleep means for correctness) and
    // `scope` comes from the kit (grader/loom-scope), whose scoped spawns are model threads.
    #[cfg(loom)]
    pub use loom::thread::{current, panicking, spawn, yield_now, Builder, JoinHandle};

    #[cfg(loom)]
    pub fn sleep(_duration: std::time::Duration) {
        yield_now()
    }
}
