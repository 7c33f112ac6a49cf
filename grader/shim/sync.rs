//! The kit's synchronization shim: every primitive the lesson code uses comes from here.
//!
//! Normally these are the standard library's types. When the grader runs the model checks it builds
//! with `--cfg loom`, and the same names become loom's instrumented versions, which let the model
//! checker try every interleaving of your threads. Code that reaches `std::sync` or `std::thread`
//! directly is invisible to it, so the grader's lint check rejects that.
//!
//! The grader always uses the kit's own copy of this file (in `grader/shim/`): edits here have no
//! effect on your grade.

// Two sides with the same names, one of them compiled: `std` in normal builds (the standard
// library's types; `Mutex`, `Condvar` and `JoinHandle` note what a blocked thread waits on, so that
// the grader can show where a hang is stuck), `mocked` (loom) under `--cfg loom`.
#[cfg(not(loom))]
pub use self::std::*;

#[cfg(loom)]
pub use self::mocked::*;

#[cfg(not(loom))]
mod std {
    pub use self::watched::{Condvar, Mutex, MutexGuard};
    pub use std::sync::{
        Arc, LockResult, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockResult,
        WaitTimeoutResult,
    };

    /// Atomic integers and flags, and the memory orderings that go with them.
    pub mod atomic {
        pub use std::sync::atomic::{
            fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };
    }

    /// Spawning, joining and pausing threads.
    pub mod thread {
        pub use super::watched::{spawn, Builder, JoinHandle};
        pub use std::thread::{
            current, panicking, scope, sleep, yield_now, Scope, ScopedJoinHandle,
        };
    }

    /// For the grader's harness only: what each thread is blocked on.
    #[doc(hidden)]
    pub mod __watch {
        pub use super::watched::{enter, observe, snapshot, unjoined};
    }

    /// The standard library's `Mutex`, `Condvar` and `JoinHandle`, with the same methods, noting
    /// what each thread is blocked on (which lock, which wait, which line of your code), so that
    /// when every thread is stuck the grader can say where at once instead of waiting for a time
    /// limit. Taking a free lock costs a few plain stores; the notes are written only around calls
    /// that block.
    mod watched {
        use std::cell::Cell;
        use std::fmt;
        use std::ops::{Deref, DerefMut};
        use std::panic::Location;
        use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
        use std::sync::{
            Arc, LockResult, PoisonError, TryLockError, TryLockResult, WaitTimeoutResult,
        };
        use std::time::Duration;

        /// Locks a thread notes as held at once (deeper nesting goes unnoted).
        const HELD: usize = 4;

        /// One thread, as the notes know it.
        struct Noted {
            serial: u32,
            name: String,
            state: std::sync::Mutex<State>,
            /// Bumped each time the thread blocks: an unchanged count means it never woke.
            blocks: AtomicU64,
            /// Addresses of the locks it holds, and where each was taken (file id, line).
            held: [AtomicUsize; HELD],
            held_at: [AtomicU64; HELD],
        }

        #[derive(Clone, Copy)]
        enum State {
            Running,
            /// A wait with a time limit: it ends by itself.
            Timed,
            /// The check's own thread, waiting for the code under test.
            Observing,
            Blocked(Wait, &'static Location<'static>),
        }

        #[derive(Clone, Copy)]
        enum Wait {
            Lock(usize),
            Condvar(usize),
            Join(u32),
            /// A channel's send or recv (the optional `channel` module): its call and what it
            /// waits for, so a blocked pipeline reads as channels, not as the Condvars inside them.
            Channel(&'static str, &'static str),
        }

        static THREADS: std::sync::Mutex<Vec<Arc<Noted>>> = std::sync::Mutex::new(Vec::new());
        static SERIALS: AtomicU32 = AtomicU32::new(1);
        static FILES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

        /// This thread's entry in [`THREADS`], removed when the thread ends.
        struct Me(Arc<Noted>);

        impl Drop for Me {
            fn drop(&mut self) {
                let mut threads = THREADS.lock().unwrap_or_else(PoisonError::into_inner);
                threads.retain(|t| t.serial != self.0.serial);
            }
        }

        thread_local! {
            static SERIAL: Cell<u32> = const { Cell::new(0) };
            static FILE: Cell<(usize, usize, u32)> = const { Cell::new((0, 0, 0)) };
            static ME: Me = {
                let serial = match SERIAL.with(Cell::get) {
                    0 => SERIALS.fetch_add(1, Relaxed),
                    given => given,
                };
                let name = match std::thread::current().name() {
                    Some(name) => format!("`{name}`"),
                    None => format!("thread #{serial}"),
                };
                let noted = Arc::new(Noted {
                    serial,
                    name,
                    state: std::sync::Mutex::new(State::Running),
                    blocks: AtomicU64::new(0),
                    held: Default::default(),
                    held_at: Default::default(),
                });
                THREADS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(noted.clone());
                Me(noted)
            };
        }

        fn with_me<R>(f: impl FnOnce(&Noted) -> R) -> Option<R> {
            ME.try_with(|me| f(&me.0)).ok()
        }

        impl Noted {
            fn set(&self, state: State) -> State {
                if let State::Blocked(..) = state {
                    self.blocks.fetch_add(1, Relaxed);
                }
                let mut now = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                std::mem::replace(&mut *now, state)
            }
        }

        /// The thread is in `state` until this is dropped.
        struct Noting(Option<State>);

        impl Noting {
            fn new(state: State) -> Noting {
                Noting(with_me(|me| me.set(state)))
            }
        }

        impl Drop for Noting {
            fn drop(&mut self) {
                if let Some(before) = self.0 {
                    with_me(|me| me.set(before));
                }
            }
        }

        /// A file name as a small number, cached per thread (a lesson's code is one or two files).
        fn file_id(file: &'static str) -> u32 {
            let key = (file.as_ptr() as usize, file.len());
            let (ptr, len, id) = FILE.with(Cell::get);
            if (ptr, len) == key && ptr != 0 {
                return id;
            }
            let mut files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
            let id = match files.iter().position(|f| *f == file) {
                Some(i) => i,
                None => {
                    files.push(file);
                    files.len() - 1
                }
            } as u32;
            FILE.with(|c| c.set((key.0, key.1, id)));
            id
        }

        fn note_held(lock: usize, at: &'static Location<'static>) {
            with_me(|me| {
                if let Some(slot) = me.held.iter().position(|h| h.load(Relaxed) == 0) {
                    let place = (u64::from(file_id(at.file())) << 32) | u64::from(at.line());
                    me.held_at[slot].store(place, Relaxed);
                    me.held[slot].store(lock, Relaxed);
                }
            });
        }

        fn note_released(lock: usize) {
            with_me(|me| {
                if let Some(slot) = me.held.iter().position(|h| h.load(Relaxed) == lock) {
                    me.held[slot].store(0, Relaxed);
                }
            });
        }

        /// `src/lib.rs:61`: the path from the crate's `src/` on.
        fn place(file: &str, line: u32) -> String {
            let short = match file.rfind("src/") {
                Some(i) => &file[i..],
                None => file.rsplit('/').next().unwrap_or(file),
            };
            format!("{short}:{line}")
        }

        /// Registers the calling thread as part of the code under test (a helper thread the
        /// check runs it on).
        pub fn enter() {
            with_me(|_| ());
        }

        /// Marks the calling thread as the check waiting for the code under test (`true`), or
        /// as running again (`false`).
        pub fn observe(on: bool) {
            with_me(|me| me.set(if on { State::Observing } else { State::Running }));
        }

        /// Every noted thread: (name, state, times it blocked, what it waits on, where, note).
        /// State: 0 running, 1 in a timed wait, 2 the check observing, 3 blocked.
        pub fn snapshot() -> Vec<(String, u8, u64, String, String, String)> {
            let threads = THREADS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let files = FILES.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let holder = |lock: usize| {
                threads.iter().find_map(|t| {
                    let slot = t.held.iter().position(|h| h.load(Relaxed) == lock)?;
                    let at = t.held_at[slot].load(Relaxed);
                    let file = files.get((at >> 32) as usize).copied().unwrap_or("?");
                    Some(format!(
                        "held by {} since {}",
                        t.name,
                        place(file, at as u32)
                    ))
                })
            };
            let mut rows = Vec::new();
            for t in &threads {
                let state = *t.state.lock().unwrap_or_else(PoisonError::into_inner);
                let blocks = t.blocks.load(Relaxed);
                let (code, waits, at, note) = match state {
                    State::Running => (0, String::new(), String::new(), String::new()),
                    State::Timed => (1, String::new(), String::new(), String::new()),
                    State::Observing => (2, String::new(), String::new(), String::new()),
                    State::Blocked(wait, at) => {
                        let at = place(at.file(), at.line());
                        match wait {
                            Wait::Lock(lock) => (
                                3,
                                "Mutex::lock".to_string(),
                                at,
                                holder(lock).unwrap_or_else(|| "nobody holds it now".into()),
                            ),
                            Wait::Condvar(lock) => (
                                3,
                                "Condvar::wait".to_string(),
                                at,
                                match holder(lock) {
                                    Some(h) => format!("its lock is {h}"),
                                    None => "nobody holds its lock".to_string(),
                                },
                            ),
                            Wait::Channel(call, waits_for) => {
                                (3, call.to_string(), at, waits_for.to_string())
                            }
                            Wait::Join(serial) => match threads.iter().find(|o| o.serial == serial)
                            {
                                Some(other) => (
                                    3,
                                    "JoinHandle::join".to_string(),
                                    at,
                                    format!("joins {}", other.name),
                                ),
                                // Not started yet, or ending: the join returns soon.
                                None => (1, String::new(), String::new(), String::new()),
                            },
                        }
                    }
                };
                rows.push((t.name.clone(), code, blocks, waits, at, note));
            }
            rows
        }

        /// `std::sync::Mutex`, noting who holds it and who waits for it.
        #[derive(Default)]
        pub struct Mutex<T: ?Sized> {
            inner: std::sync::Mutex<T>,
        }

        /// `std::sync::MutexGuard`: the lock is held until this is dropped.
        pub struct MutexGuard<'a, T: ?Sized + 'a> {
            inner: Option<std::sync::MutexGuard<'a, T>>,
            lock: &'a Mutex<T>,
        }

        impl<T> Mutex<T> {
            pub const fn new(value: T) -> Mutex<T> {
                Mutex {
                    inner: std::sync::Mutex::new(value),
                }
            }

            pub fn into_inner(self) -> LockResult<T> {
                self.inner.into_inner()
            }
        }

        impl<T> From<T> for Mutex<T> {
            fn from(value: T) -> Mutex<T> {
                Mutex::new(value)
            }
        }

        impl<T: ?Sized> Mutex<T> {
            #[track_caller]
            pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
                let at = Location::caller();
                let taken = match self.inner.try_lock() {
                    Ok(guard) => Ok(guard),
                    Err(TryLockError::Poisoned(poisoned)) => Err(poisoned),
                    Err(TryLockError::WouldBlock) => {
                        let _noting = Noting::new(State::Blocked(Wait::Lock(self.addr()), at));
                        self.inner.lock()
                    }
                };
                self.wrap_result(taken, at)
            }

            #[track_caller]
            pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
                let at = Location::caller();
                match self.inner.try_lock() {
                    Ok(guard) => Ok(self.wrap(guard, at)),
                    Err(TryLockError::Poisoned(poisoned)) => Err(TryLockError::Poisoned(
                        PoisonError::new(self.wrap(poisoned.into_inner(), at)),
                    )),
                    Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
                }
            }

            pub fn is_poisoned(&self) -> bool {
                self.inner.is_poisoned()
            }

            pub fn clear_poison(&self) {
                self.inner.clear_poison()
            }

            pub fn get_mut(&mut self) -> LockResult<&mut T> {
                self.inner.get_mut()
            }

            fn addr(&self) -> usize {
                self as *const Self as *const () as usize
            }

            fn wrap<'a>(
                &'a self,
                guard: std::sync::MutexGuard<'a, T>,
                at: &'static Location<'static>,
            ) -> MutexGuard<'a, T> {
                note_held(self.addr(), at);
                MutexGuard {
                    inner: Some(guard),
                    lock: self,
                }
            }

            fn wrap_result<'a>(
                &'a self,
                taken: LockResult<std::sync::MutexGuard<'a, T>>,
                at: &'static Location<'static>,
            ) -> LockResult<MutexGuard<'a, T>> {
                match taken {
                    Ok(guard) => Ok(self.wrap(guard, at)),
                    Err(poisoned) => Err(PoisonError::new(self.wrap(poisoned.into_inner(), at))),
                }
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.inner.fmt(f)
            }
        }

        impl<'a, T: ?Sized> MutexGuard<'a, T> {
            /// Gives the std guard back (a wait releases the lock), noting the release.
            fn release(mut self) -> (&'a Mutex<T>, std::sync::MutexGuard<'a, T>) {
                let inner = self.inner.take().expect("a guard holds its lock");
                note_released(self.lock.addr());
                (self.lock, inner)
            }
        }

        impl<T: ?Sized> Deref for MutexGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.inner.as_deref().expect("a guard holds its lock")
            }
        }

        impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                self.inner.as_deref_mut().expect("a guard holds its lock")
            }
        }

        impl<T: ?Sized> Drop for MutexGuard<'_, T> {
            fn drop(&mut self) {
                if self.inner.is_some() {
                    note_released(self.lock.addr());
                }
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }

        /// `std::sync::Condvar`, noting who waits on it and where.
        #[derive(Debug, Default)]
        pub struct Condvar {
            inner: std::sync::Condvar,
        }

        impl Condvar {
            pub const fn new() -> Condvar {
                Condvar {
                    inner: std::sync::Condvar::new(),
                }
            }

            pub fn notify_one(&self) {
                self.inner.notify_one()
            }

            pub fn notify_all(&self) {
                self.inner.notify_all()
            }

            #[track_caller]
            pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
                let at = Location::caller();
                let (lock, inner) = guard.release();
                let woken = {
                    let _noting = Noting::new(State::Blocked(Wait::Condvar(lock.addr()), at));
                    self.inner.wait(inner)
                };
                lock.wrap_result(woken, at)
            }

            /// `wait`, noted as a wait of a channel's `call` (for the `channel` module).
            #[doc(hidden)]
            #[track_caller]
            pub fn wait_in_channel<'a, T>(
                &self,
                guard: MutexGuard<'a, T>,
                call: &'static str,
                waits_for: &'static str,
            ) -> LockResult<MutexGuard<'a, T>> {
                let at = Location::caller();
                let (lock, inner) = guard.release();
                let woken = {
                    let _noting = Noting::new(State::Blocked(Wait::Channel(call, waits_for), at));
                    self.inner.wait(inner)
                };
                lock.wrap_result(woken, at)
            }

            #[track_caller]
            pub fn wait_while<'a, T, F>(
                &self,
                guard: MutexGuard<'a, T>,
                condition: F,
            ) -> LockResult<MutexGuard<'a, T>>
            where
                F: FnMut(&mut T) -> bool,
            {
                let at = Location::caller();
                let (lock, inner) = guard.release();
                let woken = {
                    let _noting = Noting::new(State::Blocked(Wait::Condvar(lock.addr()), at));
                    self.inner.wait_while(inner, condition)
                };
                lock.wrap_result(woken, at)
            }

            #[track_caller]
            pub fn wait_timeout<'a, T>(
                &self,
                guard: MutexGuard<'a, T>,
                dur: Duration,
            ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
                let at = Location::caller();
                let (lock, inner) = guard.release();
                let woken = {
                    let _noting = Noting::new(State::Timed);
                    self.inner.wait_timeout(inner, dur)
                };
                match woken {
                    Ok((guard, timeout)) => Ok((lock.wrap(guard, at), timeout)),
                    Err(poisoned) => {
                        let (guard, timeout) = poisoned.into_inner();
                        Err(PoisonError::new((lock.wrap(guard, at), timeout)))
                    }
                }
            }

            #[track_caller]
            pub fn wait_timeout_while<'a, T, F>(
                &self,
                guard: MutexGuard<'a, T>,
                dur: Duration,
                condition: F,
            ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
            where
                F: FnMut(&mut T) -> bool,
            {
                let at = Location::caller();
                let (lock, inner) = guard.release();
                let woken = {
                    let _noting = Noting::new(State::Timed);
                    self.inner.wait_timeout_while(inner, dur, condition)
                };
                match woken {
                    Ok((guard, timeout)) => Ok((lock.wrap(guard, at), timeout)),
                    Err(poisoned) => {
                        let (guard, timeout) = poisoned.into_inner();
                        Err(PoisonError::new((lock.wrap(guard, at), timeout)))
                    }
                }
            }
        }

        /// `std::thread::JoinHandle`, noting who waits in `join` for which thread, and which
        /// threads were never joined (their handle dropped: [`unjoined`]).
        pub struct JoinHandle<T> {
            /// `None` once joined.
            inner: Option<std::thread::JoinHandle<T>>,
            serial: u32,
            spawned_at: &'static Location<'static>,
        }

        impl<T> JoinHandle<T> {
            fn handle(&self) -> &std::thread::JoinHandle<T> {
                self.inner
                    .as_ref()
                    .expect("a JoinHandle is joined only once, by value")
            }

            #[track_caller]
            pub fn join(mut self) -> std::thread::Result<T> {
                let at = Location::caller();
                let inner = self
                    .inner
                    .take()
                    .expect("a JoinHandle is joined only once, by value");
                let _noting = (!inner.is_finished())
                    .then(|| Noting::new(State::Blocked(Wait::Join(self.serial), at)));
                inner.join()
            }

            pub fn thread(&self) -> &std::thread::Thread {
                self.handle().thread()
            }

            pub fn is_finished(&self) -> bool {
                self.handle().is_finished()
            }
        }

        impl<T> Drop for JoinHandle<T> {
            fn drop(&mut self) {
                let Some(inner) = self.inner.take() else {
                    return;
                };
                let name = match inner.thread().name() {
                    Some(name) => format!("`{name}`"),
                    None => format!("thread #{}", self.serial),
                };
                let mut unjoined = UNJOINED.lock().unwrap_or_else(PoisonError::into_inner);
                if unjoined.len() < 64 {
                    unjoined.push((name, place(self.spawned_at.file(), self.spawned_at.line())));
                }
            }
        }

        impl<T> fmt::Debug for JoinHandle<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.handle().fmt(f)
            }
        }

        /// Threads whose JoinHandle was dropped without a join: (name, where it was spawned).
        static UNJOINED: std::sync::Mutex<Vec<(String, String)>> =
            std::sync::Mutex::new(Vec::new());

        /// The threads spawned through the shim whose JoinHandle was dropped unjoined so far
        /// (detached: nobody waited for them), the first 64: (name, where it was spawned).
        pub fn unjoined() -> Vec<(String, String)> {
            UNJOINED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        /// `std::thread::spawn`.
        #[track_caller]
        pub fn spawn<F, T>(f: F) -> JoinHandle<T>
        where
            F: FnOnce() -> T + Send + 'static,
            T: Send + 'static,
        {
            Builder::new().spawn(f).expect("failed to spawn thread")
        }

        /// `std::thread::Builder`.
        #[derive(Debug)]
        pub struct Builder {
            inner: std::thread::Builder,
        }

        impl Default for Builder {
            fn default() -> Builder {
                Builder::new()
            }
        }

        impl Builder {
            pub fn new() -> Builder {
                Builder {
                    inner: std::thread::Builder::new(),
                }
            }

            pub fn name(self, name: String) -> Builder {
                Builder {
                    inner: self.inner.name(name),
                }
            }

            pub fn stack_size(self, size: usize) -> Builder {
                Builder {
                    inner: self.inner.stack_size(size),
                }
            }

            #[track_caller]
            pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
            where
                F: FnOnce() -> T + Send + 'static,
                T: Send + 'static,
            {
                let spawned_at = Location::caller();
                enter();
                let serial = SERIALS.fetch_add(1, Relaxed);
                let inner = self.inner.spawn(move || {
                    SERIAL.with(|s| s.set(serial));
                    enter();
                    f()
                })?;
                Ok(JoinHandle {
                    inner: Some(inner),
                    serial,
                    spawned_at,
                })
            }
        }
    }
}

// Under loom every primitive is a thin `#[track_caller]` wrapper over loom's own that also notes,
// for the grader, what each thread did: operation, object, value and the line of lesson code that
// called it. When a model check fails, the grader shows that record as a timeline. A step is noted
// right after loom's call returns: loom switches threads only at the start of an operation.
#[cfg(loom)]
mod mocked {
    use std::fmt;
    use std::ops::{Deref, DerefMut};
    use std::panic::Location;
    use std::sync::{PoisonError, TryLockError};

    use self::trace::Value;

    pub use loom::sync::{LockResult, TryLockResult, WaitTimeoutResult};

    /// Where the caller is: the line of lesson code a step is shown on.
    type Here = &'static Location<'static>;

    /// Maps a lock result's guard, poisoned or not.
    fn map_lock<G, H>(result: LockResult<G>, wrap: impl FnOnce(G) -> H) -> LockResult<H> {
        match result {
            Ok(guard) => Ok(wrap(guard)),
            Err(poisoned) => Err(PoisonError::new(wrap(poisoned.into_inner()))),
        }
    }

    /// loom's `Arc`, except that one dropped while a deadlock found by the model checker unwinds is
    /// leaked, not released: releasing it then would panic again inside loom and abort the process
    /// (tokio-rs/loom#291). Any other panic releases it as usual (loom checks that nothing leaks).
    pub struct Arc<T: ?Sized>(Option<loom::sync::Arc<T>>);

    impl<T> Arc<T> {
        #[track_caller]
        pub fn new(value: T) -> Arc<T> {
            Arc(Some(loom::sync::Arc::new(value)))
        }

        pub fn try_unwrap(mut this: Arc<T>) -> Result<T, Arc<T>> {
            let inner = this.0.take().expect("an Arc holds its value");
            loom::sync::Arc::try_unwrap(inner).map_err(|inner| Arc(Some(inner)))
        }
    }

    impl<T: ?Sized> Arc<T> {
        fn inner(&self) -> &loom::sync::Arc<T> {
            self.0.as_ref().expect("an Arc holds its value")
        }

        pub fn strong_count(this: &Arc<T>) -> usize {
            loom::sync::Arc::strong_count(this.inner())
        }

        pub fn ptr_eq(this: &Arc<T>, other: &Arc<T>) -> bool {
            loom::sync::Arc::ptr_eq(this.inner(), other.inner())
        }

        pub fn get_mut(this: &mut Arc<T>) -> Option<&mut T> {
            loom::sync::Arc::get_mut(this.0.as_mut().expect("an Arc holds its value"))
        }
    }

    impl<T: ?Sized> Clone for Arc<T> {
        #[track_caller]
        fn clone(&self) -> Arc<T> {
            Arc(Some(self.inner().clone()))
        }
    }

    impl<T: ?Sized> Deref for Arc<T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.inner()
        }
    }

    impl<T: ?Sized> AsRef<T> for Arc<T> {
        fn as_ref(&self) -> &T {
            self.inner()
        }
    }

    impl<T: ?Sized> Drop for Arc<T> {
        fn drop(&mut self) {
            if std::thread::panicking() && trace::deadlocked_now() {
                std::mem::forget(self.0.take());
            }
        }
    }

    impl<T: Default> Default for Arc<T> {
        #[track_caller]
        fn default() -> Arc<T> {
            Arc::new(T::default())
        }
    }

    impl<T> From<T> for Arc<T> {
        #[track_caller]
        fn from(value: T) -> Arc<T> {
            Arc::new(value)
        }
    }

    impl<T: ?Sized + fmt::Debug> fmt::Debug for Arc<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            (**self).fmt(f)
        }
    }

    impl<T: ?Sized + fmt::Display> fmt::Display for Arc<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            (**self).fmt(f)
        }
    }

    /// A mutual-exclusion lock (loom's, recorded).
    pub struct Mutex<T: ?Sized> {
        id: u32,
        inner: loom::sync::Mutex<T>,
    }

    /// The guard of a locked [`Mutex`]: the lock is released when it is dropped.
    pub struct MutexGuard<'a, T: ?Sized> {
        // `None` only while a condition variable waits with it.
        inner: Option<loom::sync::MutexGuard<'a, T>>,
        id: u32,
        at: Here,
    }

    impl<T> Mutex<T> {
        #[track_caller]
        pub fn new(value: T) -> Mutex<T> {
            Mutex {
                id: trace::object("Mutex", Location::caller()),
                inner: loom::sync::Mutex::new(value),
            }
        }

        pub fn into_inner(self) -> LockResult<T> {
            self.inner.into_inner()
        }
    }

    impl<T: ?Sized> Mutex<T> {
        #[track_caller]
        pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
            let at = Location::caller();
            trace::blocking("lock", Some(self.id), Value::Nothing, at);
            let result = self.inner.lock();
            trace::unblocked();
            trace::step("lock", Some(self.id), Value::Nothing, at);
            map_lock(result, |g| self.guard(g, at))
        }

        #[track_caller]
        pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
            let at = Location::caller();
            let result = self.inner.try_lock();
            let got = !matches!(result, Err(TryLockError::WouldBlock));
            let value = Value::Word(if got { "taken" } else { "busy" });
            trace::step("try_lock", Some(self.id), value, at);
            match result {
                Ok(g) => Ok(self.guard(g, at)),
                Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
                Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(
                    self.guard(p.into_inner(), at),
                ))),
            }
        }

        pub fn get_mut(&mut self) -> LockResult<&mut T> {
            self.inner.get_mut()
        }

        fn guard<'a>(&'a self, g: loom::sync::MutexGuard<'a, T>, at: Here) -> MutexGuard<'a, T> {
            MutexGuard {
                inner: Some(g),
                id: self.id,
                at,
            }
        }
    }

    impl<T: ?Sized> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.inner.as_ref().expect("a guard holds its lock")
        }
    }

    impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.inner.as_mut().expect("a guard holds its lock")
        }
    }

    impl<T: ?Sized> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            if let Some(g) = self.inner.take() {
                drop(g);
                // Shown on the line that took the lock: a drop has no caller location.
                trace::step("unlock", Some(self.id), Value::Nothing, self.at);
            }
        }
    }

    /// A reader-writer lock (loom's, recorded).
    pub struct RwLock<T> {
        id: u32,
        inner: loom::sync::RwLock<T>,
    }

    /// Shared access to a [`RwLock`]'s value, released when dropped.
    pub struct RwLockReadGuard<'a, T> {
        inner: loom::sync::RwLockReadGuard<'a, T>,
        id: u32,
        at: Here,
    }

    /// Exclusive access to a [`RwLock`]'s value, released when dropped.
    pub struct RwLockWriteGuard<'a, T> {
        inner: loom::sync::RwLockWriteGuard<'a, T>,
        id: u32,
        at: Here,
    }

    impl<T> RwLock<T> {
        #[track_caller]
        pub fn new(value: T) -> RwLock<T> {
            RwLock {
                id: trace::object("RwLock", Location::caller()),
                inner: loom::sync::RwLock::new(value),
            }
        }

        #[track_caller]
        pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
            let at = Location::caller();
            trace::blocking("read", Some(self.id), Value::Nothing, at);
            let result = self.inner.read();
            trace::unblocked();
            trace::step("read", Some(self.id), Value::Nothing, at);
            map_lock(result, |inner| RwLockReadGuard {
                inner,
                id: self.id,
                at,
            })
        }

        #[track_caller]
        pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
            let at = Location::caller();
            let result = self.inner.try_read();
            let got = !matches!(result, Err(TryLockError::WouldBlock));
            let value = Value::Word(if got { "taken" } else { "busy" });
            trace::step("try_read", Some(self.id), value, at);
            let wrap = |inner| RwLockReadGuard {
                inner,
                id: self.id,
                at,
            };
            match result {
                Ok(g) => Ok(wrap(g)),
                Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
                Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(
                    wrap(p.into_inner()),
                ))),
            }
        }

        #[track_caller]
        pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
            let at = Location::caller();
            trace::blocking("write", Some(self.id), Value::Nothing, at);
            let result = self.inner.write();
            trace::unblocked();
            trace::step("write", Some(self.id), Value::Nothing, at);
            map_lock(result, |inner| RwLockWriteGuard {
                inner,
                id: self.id,
                at,
            })
        }

        #[track_caller]
        pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
            let at = Location::caller();
            let result = self.inner.try_write();
            let got = !matches!(result, Err(TryLockError::WouldBlock));
            let value = Value::Word(if got { "taken" } else { "busy" });
            trace::step("try_write", Some(self.id), value, at);
            let wrap = |inner| RwLockWriteGuard {
                inner,
                id: self.id,
                at,
            };
            match result {
                Ok(g) => Ok(wrap(g)),
                Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
                Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(
                    wrap(p.into_inner()),
                ))),
            }
        }

        pub fn get_mut(&mut self) -> LockResult<&mut T> {
            self.inner.get_mut()
        }

        pub fn into_inner(self) -> LockResult<T> {
            self.inner.into_inner()
        }
    }

    impl<T> Deref for RwLockReadGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.inner
        }
    }

    impl<T> Drop for RwLockReadGuard<'_, T> {
        fn drop(&mut self) {
            // Noted before loom releases the lock (after this), still on this thread's turn.
            trace::step("unlock", Some(self.id), Value::Nothing, self.at);
        }
    }

    impl<T> Deref for RwLockWriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.inner
        }
    }

    impl<T> DerefMut for RwLockWriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.inner
        }
    }

    impl<T> Drop for RwLockWriteGuard<'_, T> {
        fn drop(&mut self) {
            trace::step("unlock", Some(self.id), Value::Nothing, self.at);
        }
    }

    /// A condition variable (loom's, recorded; the record says whom a notify woke).
    pub struct Condvar {
        id: u32,
        inner: loom::sync::Condvar,
    }

    impl Condvar {
        #[track_caller]
        pub fn new() -> Condvar {
            Condvar {
                id: trace::object("Condvar", Location::caller()),
                inner: loom::sync::Condvar::new(),
            }
        }

        #[track_caller]
        pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
            let at = Location::caller();
            let (inner, put_back) = self.begin_wait(guard, at);
            let result = self.inner.wait(inner);
            self.end_wait(at);
            map_lock(result, put_back)
        }

        #[track_caller]
        pub fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            duration: std::time::Duration,
        ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
            let at = Location::caller();
            let (inner, put_back) = self.begin_wait(guard, at);
            let result = self.inner.wait_timeout(inner, duration);
            self.end_wait(at);
            map_lock(result, |(g, timeout)| (put_back(g), timeout))
        }

        /// Takes loom's guard out of ours; the closure puts it back.
        #[allow(clippy::type_complexity)]
        fn begin_wait<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            at: Here,
        ) -> (
            loom::sync::MutexGuard<'a, T>,
            impl FnOnce(loom::sync::MutexGuard<'a, T>) -> MutexGuard<'a, T>,
        ) {
            let inner = guard.inner.take().expect("a guard holds its lock");
            let mutex = guard.id;
            trace::blocking("wait", Some(self.id), Value::Nothing, at);
            trace::wait_begins(self.id, mutex, at);
            let (id, lock_at) = (guard.id, guard.at);
            let put_back = move |g| MutexGuard {
                inner: Some(g),
                id,
                at: lock_at,
            };
            (inner, put_back)
        }

        fn end_wait(&self, at: Here) {
            trace::unblocked();
            trace::step("woken", Some(self.id), Value::Nothing, at);
        }

        #[track_caller]
        pub fn notify_one(&self) {
            self.inner.notify_one();
            trace::notify("notify_one", self.id, Location::caller());
        }

        #[track_caller]
        pub fn notify_all(&self) {
            self.inner.notify_all();
            trace::notify("notify_all", self.id, Location::caller());
        }
    }

    impl Default for Condvar {
        #[track_caller]
        fn default() -> Condvar {
            Condvar::new()
        }
    }

    impl<T: Default> Default for Mutex<T> {
        #[track_caller]
        fn default() -> Mutex<T> {
            Mutex::new(T::default())
        }
    }

    impl<T: Default> Default for RwLock<T> {
        #[track_caller]
        fn default() -> RwLock<T> {
            RwLock::new(T::default())
        }
    }

    impl<T> From<T> for Mutex<T> {
        #[track_caller]
        fn from(value: T) -> Mutex<T> {
            Mutex::new(value)
        }
    }

    impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.fmt(f)
        }
    }

    impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.fmt(f)
        }
    }

    impl fmt::Debug for Condvar {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Condvar { .. }")
        }
    }

    /// Atomic integers and flags, and the memory orderings that go with them.
    pub mod atomic {
        use std::panic::Location;

        use super::trace::{self, Num, Value};

        pub use loom::sync::atomic::{fence, Ordering};

        macro_rules! atomic {
            ($name:ident, $t:ty $(, $int:ident)?) => {
                #[doc = concat!("loom's `", stringify!($name), "`, recorded.")]
                pub struct $name {
                    id: u32,
                    inner: loom::sync::atomic::$name,
                }

                impl $name {
                    #[track_caller]
                    pub fn new(value: $t) -> $name {
                        $name {
                            id: trace::object(stringify!($name), Location::caller()),
                            inner: loom::sync::atomic::$name::new(value),
                        }
                    }

                    pub fn into_inner(self) -> $t {
                        self.inner.into_inner()
                    }

                    #[track_caller]
                    pub fn load(&self, order: Ordering) -> $t {
                        let value = self.inner.load(order);
                        self.note("load", Value::Read(Num::of(value)));
                        value
                    }

                    #[track_caller]
                    pub fn store(&self, value: $t, order: Ordering) {
                        self.inner.store(value, order);
                        self.note("store", Value::Wrote(Num::of(value)));
                    }

                    #[track_caller]
                    pub fn swap(&self, value: $t, order: Ordering) -> $t {
                        let old = self.inner.swap(value, order);
                        self.note("swap", Value::Changed(Num::of(old), Num::of(value)));
                        old
                    }

                    #[track_caller]
                    pub fn compare_exchange(
                        &self,
                        current: $t,
                        new: $t,
                        success: Ordering,
                        failure: Ordering,
                    ) -> Result<$t, $t> {
                        let result = self.inner.compare_exchange(current, new, success, failure);
                        self.cas("compare_exchange", current, new, result);
                        result
                    }

                    #[track_caller]
                    pub fn compare_exchange_weak(
                        &self,
                        current: $t,
                        new: $t,
                        success: Ordering,
                        failure: Ordering,
                    ) -> Result<$t, $t> {
                        let result = self.inner.compare_exchange_weak(current, new, success, failure);
                        self.cas("compare_exchange_weak", current, new, result);
                        result
                    }

                    #[track_caller]
                    pub fn fetch_update<F>(
                        &self,
                        set_order: Ordering,
                        fetch_order: Ordering,
                        f: F,
                    ) -> Result<$t, $t>
                    where
                        F: FnMut($t) -> Option<$t>,
                    {
                        let result = self.inner.fetch_update(set_order, fetch_order, f);
                        let value = match result {
                            Ok(old) => Value::Updated(Num::of(old)),
                            Err(old) => Value::Read(Num::of(old)),
                        };
                        self.note("fetch_update", value);
                        result
                    }

                    atomic!(@rmw $t, fetch_and, fetch_nand, fetch_or, fetch_xor);
                    $(atomic!(@$int $t);)?

                    #[track_caller]
                    fn note(&self, op: &'static str, value: Value) {
                        trace::step(op, Some(self.id), value, Location::caller());
                    }

                    #[track_caller]
                    fn cas(&self, op: &'static str, current: $t, new: $t, result: Result<$t, $t>) {
                        let value = match result {
                            Ok(_) => Value::Changed(Num::of(current), Num::of(new)),
                            Err(found) => Value::Failed(Num::of(current), Num::of(found)),
                        };
                        self.note(op, value);
                    }
                }

                impl Default for $name {
                    #[track_caller]
                    fn default() -> $name {
                        $name::new(Default::default())
                    }
                }

                impl From<$t> for $name {
                    #[track_caller]
                    fn from(value: $t) -> $name {
                        $name::new(value)
                    }
                }

                impl std::fmt::Debug for $name {
                    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!(stringify!($name), " { .. }"))
                    }
                }
            };
            (@rmw $t:ty, $($op:ident),*) => {
                $(
                    #[track_caller]
                    pub fn $op(&self, value: $t, order: Ordering) -> $t {
                        let old = self.inner.$op(value, order);
                        // The new value is computed, not read again: a read would be one more
                        // step for the model checker.
                        let new = Num::apply(stringify!($op), Num::of(old), Num::of(value));
                        self.note(stringify!($op), Value::Changed(Num::of(old), new));
                        old
                    }
                )*
            };
            (@int $t:ty) => {
                atomic!(@rmw $t, fetch_add, fetch_sub, fetch_max, fetch_min);

                pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut $t) -> R) -> R {
                    self.inner.with_mut(f)
                }
            };
        }

        atomic!(AtomicBool, bool);
        atomic!(AtomicI64, i64, int);
        atomic!(AtomicU32, u32, int);
        atomic!(AtomicU64, u64, int);
        atomic!(AtomicUsize, usize, int);
    }

    /// Spawning, joining and pausing threads.
    pub mod thread {
        use std::panic::Location;

        use super::trace::{self, Value};

        pub use loom::thread::{current, panicking, yield_now};

        pub use self::scoped::{scope, Scope, ScopedJoinHandle};

        /// loom 0.7 has no scoped threads; the kit's `grader-loom-scope` gives real ones (each
        /// scoped spawn a model thread, joined when the scope ends), recorded like plain spawns.
        mod scoped {
            use super::trace::{self, Value};

            pub use grader_loom_scope::{Scope, ScopedJoinHandle};

            /// Runs `f` with a scope whose threads have all been joined when it returns.
            pub fn scope<'env, F, T>(f: F) -> T
            where
                F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
            {
                grader_loom_scope::scope(&RECORDED, f)
            }

            static RECORDED: grader_loom_scope::Hooks = grader_loom_scope::Hooks {
                spawned: |thread, at| {
                    if trace::recording() {
                        let child = trace::thread_number(thread.id());
                        trace::step("spawn", None, Value::Thread(child), at);
                    }
                },
                exited: |at| trace::step("exit", None, Value::Nothing, at),
                joining: |thread, at| {
                    if trace::recording() {
                        let child = trace::thread_number(thread.id());
                        trace::blocking("join", None, Value::Thread(child), at);
                    }
                },
                joined: |thread, at| {
                    if trace::recording() {
                        let child = trace::thread_number(thread.id());
                        trace::unblocked();
                        trace::step("join", None, Value::Thread(child), at);
                    }
                },
            };
        }

        /// An owned permission to join a thread (loom's, recorded).
        pub struct JoinHandle<T> {
            inner: loom::thread::JoinHandle<T>,
        }

        /// Spawns a thread; what it does is recorded as thread N of the timeline.
        #[track_caller]
        pub fn spawn<F, T>(f: F) -> JoinHandle<T>
        where
            F: FnOnce() -> T,
            F: 'static,
            T: 'static,
        {
            let at = Location::caller();
            JoinHandle::spawned(loom::thread::spawn(wrap(f, at)), None, at)
        }

        /// The thread's body, then a step that says it ended.
        fn wrap<F: FnOnce() -> T, T>(f: F, at: trace::Here) -> impl FnOnce() -> T {
            move || {
                let result = f();
                trace::step("exit", None, Value::Nothing, at);
                result
            }
        }

        impl<T> JoinHandle<T> {
            fn spawned(
                inner: loom::thread::JoinHandle<T>,
                name: Option<String>,
                at: trace::Here,
            ) -> JoinHandle<T> {
                if trace::recording() {
                    let child = trace::thread_number(inner.thread().id());
                    trace::step("spawn", None, Value::Thread(child), at);
                    if let Some(name) = name {
                        trace::name_thread(child, name);
                    }
                }
                JoinHandle { inner }
            }

            #[track_caller]
            pub fn join(self) -> std::thread::Result<T> {
                let at = Location::caller();
                let child = || Value::Thread(trace::thread_number(self.inner.thread().id()));
                if trace::recording() {
                    trace::blocking("join", None, child(), at);
                }
                let child = trace::recording().then(child);
                let result = self.inner.join();
                if let Some(child) = child {
                    trace::unblocked();
                    trace::step("join", None, child, at);
                }
                result
            }

            pub fn thread(&self) -> &loom::thread::Thread {
                self.inner.thread()
            }
        }

        impl<T> std::fmt::Debug for JoinHandle<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JoinHandle { .. }")
            }
        }

        /// Thread configuration: a name (shown in the timeline) and a stack size.
        #[derive(Debug)]
        pub struct Builder {
            inner: loom::thread::Builder,
            name: Option<String>,
        }

        impl Builder {
            #[allow(clippy::new_without_default)]
            pub fn new() -> Builder {
                Builder {
                    inner: loom::thread::Builder::new(),
                    name: None,
                }
            }

            pub fn name(self, name: String) -> Builder {
                Builder {
                    inner: self.inner.name(name.clone()),
                    name: Some(name),
                }
            }

            pub fn stack_size(self, size: usize) -> Builder {
                Builder {
                    inner: self.inner.stack_size(size),
                    name: self.name,
                }
            }

            #[track_caller]
            pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
            where
                F: FnOnce() -> T,
                F: Send + 'static,
                T: Send + 'static,
            {
                let at = Location::caller();
                let inner = self.inner.spawn(wrap(f, at))?;
                Ok(JoinHandle::spawned(inner, self.name, at))
            }
        }

        /// The model checker has no clock: a sleep there is a yield, a point where another thread
        /// may run, which is what a sleep means for correctness.
        pub fn sleep(_duration: std::time::Duration) {
            loom::thread::yield_now()
        }
    }

    /// The record the grader's harness reads when a model check fails (see the grader's
    /// `harness/src/trace.rs`); nothing here is for lesson code.
    pub mod trace {
        use std::fmt::Write as _;
        use std::panic::Location;
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        use std::sync::Mutex;

        pub(super) type Here = &'static Location<'static>;

        /// A value read or written, kept as a number until the record is read.
        #[derive(Debug, Clone, Copy)]
        pub(super) enum Num {
            Int(i128),
            Bool(bool),
        }

        macro_rules! num {
            ($($t:ty),*) => {$(
                impl From<$t> for Num {
                    fn from(n: $t) -> Num {
                        Num::Int(n as i128)
                    }
                }
            )*};
        }
        num!(i64, u32, u64, usize);

        impl From<bool> for Num {
            fn from(b: bool) -> Num {
                Num::Bool(b)
            }
        }

        impl Num {
            pub(super) fn of(n: impl Into<Num>) -> Num {
                n.into()
            }

            /// `old op arg`, for the read-modify-write operations (ignoring the type's wrap-around,
            /// which the lessons never reach).
            pub(super) fn apply(op: &str, old: Num, arg: Num) -> Num {
                match (old, arg) {
                    (Num::Int(a), Num::Int(b)) => Num::Int(match op {
                        "fetch_add" => a.wrapping_add(b),
                        "fetch_sub" => a.wrapping_sub(b),
                        "fetch_max" => a.max(b),
                        "fetch_min" => a.min(b),
                        "fetch_and" => a & b,
                        "fetch_or" => a | b,
                        "fetch_xor" => a ^ b,
                        _ => !(a & b),
                    }),
                    (Num::Bool(a), Num::Bool(b)) => Num::Bool(match op {
                        "fetch_and" => a & b,
                        "fetch_or" => a | b,
                        "fetch_xor" => a ^ b,
                        _ => !(a & b),
                    }),
                    (_, arg) => arg,
                }
            }
        }

        impl std::fmt::Display for Num {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    Num::Int(n) => write!(f, "{n}"),
                    Num::Bool(b) => write!(f, "{b}"),
                }
            }
        }

        /// What a step read, wrote or did.
        #[derive(Debug, Clone)]
        pub(super) enum Value {
            Nothing,
            Read(Num),
            Wrote(Num),
            /// A read-modify-write: the old value, the new one.
            Changed(Num, Num),
            /// `fetch_update` stored a new value over this one.
            Updated(Num),
            /// A compare-exchange that failed: what it expected, what it found.
            Failed(Num, Num),
            /// The other thread of a spawn or join.
            Thread(usize),
            Word(&'static str),
            Text(String),
        }

        impl std::fmt::Display for Value {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    Value::Nothing => Ok(()),
                    Value::Read(n) | Value::Wrote(n) => write!(f, "{n}"),
                    Value::Changed(old, new) => write!(f, "{old} -> {new}"),
                    Value::Updated(old) => write!(f, "{old} -> (updated)"),
                    Value::Failed(expected, found) => {
                        write!(f, "failed: expected {expected}, found {found}")
                    }
                    Value::Thread(t) => write!(f, "thread {t}"),
                    Value::Word(word) => f.write_str(word),
                    Value::Text(text) => f.write_str(&text.replace(['\t', '\n'], " ")),
                }
            }
        }

        #[derive(Debug, Clone)]
        struct Step {
            thread: usize,
            op: &'static str,
            object: Option<u32>,
            value: Value,
            at: Here,
        }

        struct Record {
            iteration: u64,
            /// The harness reports loom's condvar facts (see [`waiting`] and [`notified`]).
            hooked: bool,
            objects: Vec<(&'static str, Here)>,
            steps: Vec<Step>,
            /// Per thread: the operation it is blocked in, if any.
            blocked: Vec<Option<Step>>,
            /// Per thread: a wait loom has not registered yet.
            waits: Vec<Option<Step>>,
            /// Whom the last notify woke, as loom said.
            woken: Option<Vec<usize>>,
            names: Vec<(usize, String)>,
        }

        /// Whether this iteration is recorded. Off, every step costs one load of this flag: the
        /// harness explores unrecorded and replays a failing model with the record on.
        static RECORDING: AtomicBool = AtomicBool::new(false);

        fn on() -> bool {
            RECORDING.load(Relaxed) && !std::thread::panicking()
        }

        /// Set by the harness when loom reports a deadlock, until the next iteration.
        static DEADLOCKED: AtomicBool = AtomicBool::new(false);

        pub(super) fn deadlocked_now() -> bool {
            DEADLOCKED.load(Relaxed)
        }

        /// loom found a deadlock and is about to unwind every thread: see [`super::Arc`].
        pub fn deadlocked() {
            DEADLOCKED.store(true, Relaxed);
        }

        /// Whether steps are noted now (for the callers that have work to do before noting one).
        pub(super) fn recording() -> bool {
            on()
        }

        static RECORD: Mutex<Record> = Mutex::new(Record {
            iteration: 0,
            hooked: false,
            objects: Vec::new(),
            steps: Vec::new(),
            blocked: Vec::new(),
            waits: Vec::new(),
            woken: None,
            names: Vec::new(),
        });

        fn with<R>(f: impl FnOnce(&mut Record) -> R) -> R {
            f(&mut RECORD.lock().unwrap_or_else(|e| e.into_inner()))
        }

        /// loom's number of a thread, from its id's `Debug` text, `ThreadId(3)`: its only public form.
        pub(super) fn thread_number(id: loom::thread::ThreadId) -> usize {
            struct Digits(usize);
            impl std::fmt::Write for Digits {
                fn write_str(&mut self, s: &str) -> std::fmt::Result {
                    for d in s.bytes().filter(u8::is_ascii_digit) {
                        self.0 = self.0 * 10 + usize::from(d - b'0');
                    }
                    Ok(())
                }
            }
            let mut digits = Digits(0);
            let _ = write!(digits, "{id:?}");
            digits.0
        }

        fn me() -> usize {
            thread_number(loom::thread::current().id())
        }

        fn slot(slots: &mut Vec<Option<Step>>, thread: usize) -> &mut Option<Step> {
            if slots.len() <= thread {
                slots.resize(thread + 1, None);
            }
            &mut slots[thread]
        }

        pub(super) fn object(kind: &'static str, at: Here) -> u32 {
            if !on() {
                return 0;
            }
            with(|r| {
                r.objects.push((kind, at));
                r.objects.len() as u32 - 1
            })
        }

        fn make(op: &'static str, object: Option<u32>, value: Value, at: Here) -> Step {
            Step {
                thread: me(),
                op,
                object,
                value,
                at,
            }
        }

        /// Notes a step of the running thread. Not while it unwinds: the failing iteration's
        /// record ends at the panic, and loom may be in no state to say who runs.
        pub(super) fn step(op: &'static str, object: Option<u32>, value: Value, at: Here) {
            if !on() {
                return;
            }
            let step = make(op, object, value, at);
            with(|r| {
                // The locks inside the shim's own modules (the channel's) are the kit's code: their
                // module notes its own steps (`send`, `recv`), and its waits and notifies still show.
                let internal = |id: u32| {
                    r.objects
                        .get(id as usize)
                        .is_some_and(|o| o.1.file() == file!())
                };
                if matches!(op, "lock" | "unlock" | "try_lock") && object.is_some_and(internal) {
                    return;
                }
                r.steps.push(step)
            });
        }

        /// The running thread is about to block in `op` (a deadlock report names it).
        pub(super) fn blocking(op: &'static str, object: Option<u32>, value: Value, at: Here) {
            if !on() {
                return;
            }
            let step = make(op, object, value, at);
            let thread = step.thread;
            with(|r| *slot(&mut r.blocked, thread) = Some(step));
        }

        /// The running thread's blocking operation returned.
        pub(super) fn unblocked() {
            if !on() {
                return;
            }
            let me = me();
            with(|r| *slot(&mut r.blocked, me) = None);
        }

        /// A wait starts. It is noted when loom registers the waiter (loom may run other threads
        /// first, and a notify then finds nobody), or at once if nobody reports that moment.
        pub(super) fn wait_begins(condvar: u32, mutex: u32, at: Here) {
            if !on() {
                return;
            }
            let value = Value::Text(format!("releases Mutex#{mutex}"));
            let step = make("wait", Some(condvar), value, at);
            with(|r| {
                if r.hooked {
                    let thread = step.thread;
                    *slot(&mut r.waits, thread) = Some(step);
                } else {
                    r.steps.push(step);
                }
            });
        }

        /// A notify returned: noted with whom it woke, as loom said.
        pub(super) fn notify(op: &'static str, condvar: u32, at: Here) {
            if !on() {
                return;
            }
            let woken = with(|r| r.woken.take());
            let value = match woken.as_deref() {
                None => Value::Nothing,
                Some([]) => Value::Text("nobody was waiting".into()),
                Some([one]) => Value::Text(format!("wakes thread {one}")),
                Some(many) => {
                    let list: Vec<String> = many.iter().map(usize::to_string).collect();
                    Value::Text(format!("wakes threads {}", list.join(", ")))
                }
            };
            step(op, Some(condvar), value, at);
        }

        /// For the shim's own modules (lesson 05's channel): a new object of theirs, created on
        /// the caller's line, for [`module_step`] to name.
        #[track_caller]
        pub fn module_object(kind: &'static str) -> u32 {
            object(kind, Location::caller())
        }

        /// For the shim's own modules: a step of theirs (`send`, `recv`, `close`) on `object`, on
        /// the caller's line, with what it did (computed only when the iteration is recorded).
        #[track_caller]
        pub fn module_step(op: &'static str, object: u32, value: impl FnOnce() -> String) {
            if !on() {
                return;
            }
            step(op, Some(object), Value::Text(value()), Location::caller());
        }

        pub(super) fn name_thread(thread: usize, name: String) {
            if !on() {
                return;
            }
            with(|r| r.names.push((thread, name.replace(['\t', '\n'], " "))));
        }

        /// A new iteration of the model starts: forget the last one. `record`: note what the
        /// threads do in this one, and the caller reports loom's condvar facts through
        /// [`waiting`] and [`notified`].
        pub fn start(record: bool) {
            RECORDING.store(record, Relaxed);
            DEADLOCKED.store(false, Relaxed);
            with(|r| {
                r.iteration += 1;
                r.hooked = record;
                r.objects.clear();
                r.steps.clear();
                r.blocked.clear();
                r.waits.clear();
                r.woken = None;
                r.names.clear();
            })
        }

        /// loom registered `thread` as a waiter: its wait takes its place in the record now.
        pub fn waiting(thread: usize) {
            with(|r| {
                if let Some(step) = slot(&mut r.waits, thread).take() {
                    r.steps.push(step);
                }
            })
        }

        /// The notify running now woke these threads (none: nobody was waiting).
        pub fn notified(woken: &[usize]) {
            with(|r| r.woken = Some(woken.to_vec()))
        }

        /// The record so far, one item a line (the harness's `trace::parse` reads it). It never
        /// waits: if the record is in use (a panic in the middle of noting a step), it is empty.
        pub fn snapshot() -> String {
            let Ok(r) = RECORD.try_lock() else {
                return String::new();
            };
            let mut out = String::new();
            let _ = writeln!(out, "i\t{}", r.iteration);
            let label = |id: Option<u32>| match id {
                Some(id) => format!("{}#{id}", r.objects[id as usize].0),
                None => String::new(),
            };
            for (id, (kind, at)) in r.objects.iter().enumerate() {
                let _ = writeln!(out, "o\t{kind}#{id}\t{}\t{}", at.file(), at.line());
            }
            let blocked = r.blocked.iter().flatten();
            for (mark, s) in r
                .steps
                .iter()
                .map(|s| ('s', s))
                .chain(blocked.map(|s| ('b', s)))
            {
                let _ = writeln!(
                    out,
                    "{mark}\t{}\t{}\t{}\t{}\t{}\t{}",
                    s.thread,
                    s.op,
                    label(s.object),
                    s.value,
                    s.at.file(),
                    s.at.line()
                );
            }
            for (thread, name) in &r.names {
                let _ = writeln!(out, "t\t{thread}\t{name}");
            }
            out
        }
    }
}
