//! `thread::scope` for loom's model checks.
//!
//! loom 0.7 has no scoped threads: its `spawn` wants a `'static` closure, so code built on
//! `std::thread::scope` (lesson 09's workers) could not run its workers as model threads, and the
//! model checker could not interleave them. This crate gives the shim's loom side a scope whose
//! spawns are real loom threads.
//!
//! It is the only `unsafe` a lesson's loom build links, and it is here, outside the crate under
//! test (which is built with `unsafe_code = "forbid"`), behind an API as safe as std's: a closure
//! borrowing from the scope is handed to loom as if it were `'static`, which is sound because
//! [`scope`] joins every thread it started before it returns or unwinds, so no thread outlives a
//! borrow. (When a model thread panics, loom abandons the whole execution and never resumes any of
//! its threads, so nothing runs on after the borrowed frame is gone either.)
//!
//! The shim records what threads do for the failing interleaving's timeline; [`Hooks`] lets it
//! note scoped spawns, joins and exits as it does for plain ones, without this crate knowing the
//! trace.

use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex, PoisonError};

/// Where the shim hears of scoped threads: each gets the thread and the learner's line.
pub struct Hooks {
    /// A scoped thread was spawned at `at`.
    pub spawned: fn(&loom::thread::Thread, &'static Location<'static>),
    /// A scoped thread's closure returned (it runs on that thread).
    pub exited: fn(&'static Location<'static>),
    /// The caller is about to wait for the thread at `at` (`join`).
    pub joining: fn(&loom::thread::Thread, &'static Location<'static>),
    /// The wait is over.
    pub joined: fn(&loom::thread::Thread, &'static Location<'static>),
}

/// Runs `f` with a scope for spawning threads that may borrow from the caller's frame; every
/// thread spawned in it has been joined when `scope` returns, as with `std::thread::scope`.
pub fn scope<'env, F, T>(hooks: &'static Hooks, f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        hooks,
        running: Mutex::new(Vec::new()),
        _lifetimes: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // Before anything borrowed can go away, whether `f` returned or panicked.
    scope.join_all();
    match result {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    }
}

/// A scope to spawn threads in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    hooks: &'static Hooks,
    /// Threads not joined yet, by a handle or by the scope's end.
    running: Mutex<Vec<Arc<Running>>>,
    _lifetimes: PhantomData<(&'scope mut &'scope (), &'env mut &'env ())>,
}

/// One scoped thread's loom handle, taken by whoever joins it first.
struct Running {
    handle: Mutex<Option<loom::thread::JoinHandle<()>>>,
    thread: loom::thread::Thread,
}

impl Running {
    /// Waits for the thread unless someone already has; says whether this call waited.
    fn join(&self) -> bool {
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match handle {
            // A panic on a loom thread ends the whole execution before this could return it.
            Some(handle) => handle.join().is_ok(),
            None => false,
        }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a model thread that may borrow anything that outlives the scope.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let at = Location::caller();
        let result: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let exited = self.hooks.exited;
        let body: Box<dyn FnOnce() + Send + 'scope> = Box::new({
            let result = Arc::clone(&result);
            move || {
                let value = f();
                *result.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
                exited(at);
            }
        });
        // SAFETY: the closure borrows for 'scope at most; `scope` joins this thread (through
        // `running`) before 'scope ends, on return and on unwind alike, so it never runs after
        // anything it borrows is gone. Only the lifetime changes: the layout is the same.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        let handle = loom::thread::spawn(body);
        let thread = handle.thread().clone();
        (self.hooks.spawned)(&thread, at);
        let running = Arc::new(Running {
            handle: Mutex::new(Some(handle)),
            thread,
        });
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&running));
        ScopedJoinHandle {
            running,
            result,
            hooks: self.hooks,
            _scope: PhantomData,
        }
    }

    /// Joins every thread nobody joined, including ones spawned while this runs.
    fn join_all(&self) {
        loop {
            let next = self
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match next {
                Some(running) => {
                    running.join();
                }
                None => break,
            }
        }
    }
}

/// A scoped thread's handle: `join` waits for it and gives its result.
pub struct ScopedJoinHandle<'scope, T> {
    running: Arc<Running>,
    result: Arc<Mutex<Option<T>>>,
    hooks: &'static Hooks,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread. A panic on a model thread ends the model's execution, so this only
    /// returns `Ok` (the `Result` is std's signature).
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        let at = Location::caller();
        (self.hooks.joining)(&self.running.thread, at);
        self.running.join();
        (self.hooks.joined)(&self.running.thread, at);
        let value = self
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Ok(value.expect("a joined scoped thread has left its result"))
    }

    /// The thread, as loom names it.
    pub fn thread(&self) -> &loom::thread::Thread {
        &self.running.thread
    }

    /// Whether the thread's closure has returned.
    pub fn is_finished(&self) -> bool {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    static QUIET: Hooks = Hooks {
        spawned: |_, _| {},
        exited: |_| {},
        joining: |_, _| {},
        joined: |_, _| {},
    };

    #[test]
    fn scoped_threads_borrow_and_interleave() {
        // A load-then-store increment from two scoped threads must lose an update in some
        // interleaving: the threads really are separate model threads.
        static LOST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        loom::model(|| {
            let n = AtomicUsize::new(0);
            scope(&QUIET, |s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let seen = n.load(Ordering::SeqCst);
                        n.store(seen + 1, Ordering::SeqCst);
                    });
                }
            });
            if n.load(Ordering::SeqCst) == 1 {
                LOST.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        assert!(
            LOST.load(std::sync::atomic::Ordering::SeqCst),
            "no interleaving lost an update"
        );
    }

    #[test]
    fn join_gives_the_result_and_the_scope_joins_the_rest() {
        loom::model(|| {
            let items = [1, 2, 3];
            let unjoined_ran = AtomicUsize::new(0);
            let sum = scope(&QUIET, |s| {
                let a = s.spawn(|| items.iter().sum::<i32>());
                s.spawn(|| unjoined_ran.fetch_add(1, Ordering::SeqCst));
                a.join().unwrap()
            });
            assert_eq!(sum, 6);
            // A scoped thread may spawn into its own scope, as with std.
            let nested = AtomicUsize::new(0);
            scope(&QUIET, |s| {
                s.spawn(|| {
                    s.spawn(|| nested.fetch_add(1, Ordering::SeqCst));
                });
            });
            assert_eq!(nested.load(Ordering::SeqCst), 1);
            assert_eq!(
                unjoined_ran.load(Ordering::SeqCst),
                1,
                "the scope ended before its thread"
            );
        });
    }
}
