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
        pub use std::thread::{current, panicking, sleep, yield_now};
    }

    /// For the grader's harness only: what each thread is blocked on.
    #[doc(hidden)]
    pub mod __watch {
        pub use super::watched::{enter, observe, snapshot};
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

        /// `std::thread::JoinHandle`, noting who waits in `join` for which thread.
        pub struct JoinHandle<T> {
            inner: std::thread::JoinHandle<T>,
            serial: u32,
        }

        impl<T> JoinHandle<T> {
            #[track_caller]
            pub fn join(self) -> std::thread::Result<T> {
                let at = Location::caller();
                let _noting = (!self.inner.is_finished())
                    .then(|| Noting::new(State::Blocked(Wait::Join(self.serial), at)));
                self.inner.join()
            }

            pub fn thread(&self) -> &std::thread::Thread {
                self.inner.thread()
            }

            pub fn is_finished(&self) -> bool {
                self.inner.is_finished()
            }
        }

        impl<T> fmt::Debug for JoinHandle<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.inner.fmt(f)
            }
        }

        /// `std::thread::spawn`.
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

            pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
            where
                F: FnOnce() -> T + Send + 'static,
                T: Send + 'static,
            {
                enter();
                let serial = SERIALS.fetch_add(1, Relaxed);
                let inner = self.inner.spawn(move || {
                    SERIAL.with(|s| s.set(serial));
                    enter();
                    f()
                })?;
                Ok(JoinHandle { inner, serial })
            }
        }
    }
}

#[cfg(loom)]
mod mocked {
    pub use loom::sync::{
        Arc, Condvar, LockResult, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
        TryLockResult, WaitTimeoutResult,
    };

    /// Atomic integers and flags, and the memory orderings that go with them.
    pub mod atomic {
        pub use loom::sync::atomic::{
            fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };
    }

    /// Spawning, joining and pausing threads.
    pub mod thread {
        pub use loom::thread::{current, panicking, spawn, yield_now, Builder, JoinHandle};

        /// The model checker has no clock: a sleep there is a yield, a point where another thread
        /// may run, which is what a sleep means for correctness.
        pub fn sleep(_duration: std::time::Duration) {
            loom::thread::yield_now()
        }
    }
}

/// A bounded multi-producer, multi-consumer channel: the queue between two stages of a pipeline.
///
/// `bounded(capacity)` gives a [`Sender`](channel::Sender) and a [`Receiver`](channel::Receiver).
/// Both can be cloned: several producers can feed one channel and several workers can take from it,
/// each item going to exactly one of them (fan-out). It behaves like Python's `queue.Queue(maxsize)`
/// with the shutdown built in:
///
/// - `send` blocks while the queue holds `capacity` items, so a fast producer waits for a slow
///   consumer instead of piling items up in memory (backpressure). It returns `Err(item)`, handing
///   the item back, once every `Receiver` is gone: nobody could ever take it.
/// - `recv` blocks while the queue is empty. It returns `None` once every `Sender` has been dropped
///   *and* the queue is drained: "no more items, ever". That is the shutdown signal, and it reaches
///   every worker holding a clone of the receiver, however many there are, so no sentinel values
///   are needed. Dropping your `Sender` is how you say "I am done".
///
/// It is written once, on this shim's own `Mutex` and `Condvar`, so it is the same code in normal
/// builds and under the model checker (loom has no bounded channel of its own). Read it: it is the
/// lesson-02 bounded buffer plus a count of the senders and receivers still alive.
///
/// ```ignore
/// use crate::sync::{channel, thread};
/// let (tx, rx) = channel::bounded(2);
/// let worker = thread::spawn(move || {
///     let mut total = 0;
///     while let Some(n) = rx.recv() {
///         total += n;
///     }
///     total // recv returned None: every sender is gone and the queue is empty
/// });
/// for n in 1..=5 {
///     tx.send(n).unwrap(); // waits while 2 items are already queued
/// }
/// drop(tx); // closes the channel: the worker's loop ends
/// assert_eq!(worker.join().unwrap(), 15);
/// ```
pub mod channel {
    use super::{Arc, Condvar, Mutex, MutexGuard};
    use std::collections::VecDeque;

    /// Creates a channel that holds at most `capacity` items at once.
    ///
    /// # Panics
    /// If `capacity` is 0 (this channel has no rendezvous mode: use 1).
    pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
        assert!(
            capacity > 0,
            "channel::bounded needs a capacity of at least 1"
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity),
                capacity,
                senders: 1,
                receivers: 1,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        });
        (
            Sender {
                shared: shared.clone(),
            },
            Receiver { shared },
        )
    }

    /// The sending side. Clone it to give each producer its own; the channel closes for the
    /// receivers when the last clone is dropped.
    pub struct Sender<T> {
        shared: Arc<Shared<T>>,
    }

    /// The receiving side. Clone it to let several workers share the queue; each item is received
    /// once, by whichever worker asks first.
    pub struct Receiver<T> {
        shared: Arc<Shared<T>>,
    }

    /// What both sides point to: one lock over the whole state and two condition variables, one per
    /// thing a thread can wait for.
    struct Shared<T> {
        state: Mutex<State<T>>,
        /// Signalled when an item arrives or the last sender leaves: wakes waiting receivers.
        not_empty: Condvar,
        /// Signalled when an item is taken or the last receiver leaves: wakes waiting senders.
        not_full: Condvar,
    }

    struct State<T> {
        queue: VecDeque<T>,
        capacity: usize,
        /// Live `Sender` clones: at 0 the channel is closed for receivers (once drained).
        senders: usize,
        /// Live `Receiver` clones: at 0 every `send` fails.
        receivers: usize,
    }

    impl<T> Shared<T> {
        /// No user code ever runs under this lock, so a poisoned lock still holds a consistent
        /// queue: carry on with it rather than spreading the panic.
        #[track_caller]
        fn lock(&self) -> MutexGuard<'_, State<T>> {
            self.state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    impl<T> Sender<T> {
        /// Puts `item` at the back of the queue, first waiting while the queue is full.
        /// Returns `Err(item)` if every receiver has been dropped (before or during the wait).
        #[track_caller] // a blocked thread is shown at the caller's line
        pub fn send(&self, item: T) -> Result<(), T> {
            let mut state = self.shared.lock();
            // A `while`, not an `if`: a wakeup only means "look again".
            while state.queue.len() >= state.capacity && state.receivers > 0 {
                state = self
                    .shared
                    .not_full
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.receivers == 0 {
                return Err(item);
            }
            state.queue.push_back(item);
            drop(state);
            // One new item: one waiting receiver can use it.
            self.shared.not_empty.notify_one();
            Ok(())
        }
    }

    impl<T> Receiver<T> {
        /// Takes the item at the front of the queue, first waiting while the queue is empty.
        /// Returns `None` once every sender has been dropped and no item is left: the end of the
        /// stream, for this worker and for every other one.
        #[track_caller]
        pub fn recv(&self) -> Option<T> {
            let mut state = self.shared.lock();
            loop {
                if let Some(item) = state.queue.pop_front() {
                    drop(state);
                    // One free slot: one waiting sender can use it.
                    self.shared.not_full.notify_one();
                    return Some(item);
                }
                if state.senders == 0 {
                    return None;
                }
                state = self
                    .shared
                    .not_empty
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
    }

    /// `for item in &receiver { .. }` receives until the channel is closed and drained.
    impl<'a, T> IntoIterator for &'a Receiver<T> {
        type Item = T;
        type IntoIter = Iter<'a, T>;
        fn into_iter(self) -> Iter<'a, T> {
            Iter { receiver: self }
        }
    }

    /// The iterator of `for item in &receiver`: calls [`Receiver::recv`] until it returns `None`.
    pub struct Iter<'a, T> {
        receiver: &'a Receiver<T>,
    }

    impl<T> Iterator for Iter<'_, T> {
        type Item = T;
        #[track_caller]
        fn next(&mut self) -> Option<T> {
            self.receiver.recv()
        }
    }

    impl<T> Clone for Sender<T> {
        fn clone(&self) -> Sender<T> {
            self.shared.lock().senders += 1;
            Sender {
                shared: self.shared.clone(),
            }
        }
    }

    impl<T> Clone for Receiver<T> {
        fn clone(&self) -> Receiver<T> {
            self.shared.lock().receivers += 1;
            Receiver {
                shared: self.shared.clone(),
            }
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            let mut state = self.shared.lock();
            state.senders -= 1;
            let closed = state.senders == 0;
            drop(state);
            if closed {
                // Every waiting receiver must wake up to see the end: notify_all, not notify_one.
                self.shared.not_empty.notify_all();
            }
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            let mut state = self.shared.lock();
            state.receivers -= 1;
            let gone = state.receivers == 0;
            drop(state);
            if gone {
                // Senders blocked on a full queue would wait forever: wake them all to fail.
                self.shared.not_full.notify_all();
            }
        }
    }
}
