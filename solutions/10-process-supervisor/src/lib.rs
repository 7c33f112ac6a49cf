//! Lesson 10: processes instead of threads. Length-prefixed frames over pipes, one worker process
//! behind a [`Worker`], and a [`Supervisor`] that shares a pool of them between threads, restarts
//! the ones that fail and shuts them all down cleanly.
//!
//! Reference design: each worker has a reader thread that turns the child's stdout into frames and
//! posts them in a mailbox (a Mutex and a Condvar: a one-consumer channel with a receive timeout),
//! and a drainer thread that keeps the end of the child's stderr.

pub mod sync;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The largest payload a frame may carry: 16 MiB.
pub const MAX_FRAME: usize = 16 << 20;

/// How much of a worker's stderr is kept for [`CallError::Crashed`].
const STDERR_TAIL: usize = 4096;

/// The grace every worker gets in [`Supervisor::shutdown`].
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Writes a u32 big-endian length then the payload. Larger than MAX_FRAME: InvalidInput, nothing
/// written. Does not flush.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    if payload.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a frame of {} bytes is above the limit of {MAX_FRAME}",
                payload.len()
            ),
        ));
    }
    w.write_all(&(payload.len() as u32).to_be_bytes())?;
    w.write_all(payload)
}

/// Ok(None) at a clean end of stream (before a length); UnexpectedEof in the middle of a frame;
/// InvalidData for a length above MAX_FRAME (without allocating it). Handles short reads and
/// `Interrupted`.
pub fn read_frame<R: Read>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the stream ended after {got} of the 4 bytes of a frame's length"),
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame announces {len} bytes, above the limit of {MAX_FRAME}"),
        ));
    }
    let mut payload = vec![0u8; len];
    // read_exact retries on Interrupted and says UnexpectedEof when the stream ends early.
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// The worker side: one answer frame per request frame from stdin, each flushed; Ok at end of stdin.
pub fn serve<H: FnMut(&[u8]) -> Vec<u8>>(mut handler: H) -> io::Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut output = stdout.lock();
    while let Some(request) = read_frame(&mut input)? {
        let answer = handler(&request);
        write_frame(&mut output, &answer)?;
        // Rust's stdout is line-buffered: without this the answer may sit in the buffer forever.
        output.flush()?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The worker died: its exit code or signal, and the end of what it wrote to stderr.
    Crashed {
        code: Option<i32>,
        signal: Option<i32>,
        stderr_tail: String,
    },
    TimedOut,
    Protocol(String),
    /// No worker can take the call (killed after an error, shut down, or out of restarts).
    Unavailable,
}

/// What the reader thread saw last on the child's stdout.
enum End {
    /// Clean end of stream, or the stream ended in the middle of a frame: the child is gone.
    Closed,
    /// Not a frame: a length above MAX_FRAME, or a read error.
    Broken(String),
}

/// The answers of one child, posted by its reader thread.
struct Mailbox {
    state: Mutex<MailState>,
    posted: Condvar,
}

struct MailState {
    frames: VecDeque<Vec<u8>>,
    end: Option<End>,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, MailState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The last bytes a child wrote to stderr.
#[derive(Default)]
struct Tail {
    bytes: VecDeque<u8>,
}

/// One child process. Dropping it kills and reaps it.
pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    mailbox: Arc<Mailbox>,
    stderr: Arc<Mutex<Tail>>,
    threads: Vec<JoinHandle<()>>,
    /// Set once the child is reaped: from then on every call is Unavailable.
    status: Option<ExitStatus>,
}

impl Worker {
    pub fn spawn(spec: &WorkerSpec) -> io::Result<Worker> {
        let mut child = Command::new(&spec.program)
            .args(&spec.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");

        let mailbox = Arc::new(Mailbox {
            state: Mutex::new(MailState {
                frames: VecDeque::new(),
                end: None,
            }),
            posted: Condvar::new(),
        });
        let tail = Arc::new(Mutex::new(Tail::default()));

        let inbox = mailbox.clone();
        let reader = thread::spawn(move || loop {
            let read = read_frame(&mut stdout);
            let mut state = inbox.lock();
            match read {
                Ok(Some(frame)) => state.frames.push_back(frame),
                Ok(None) => state.end = Some(End::Closed),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => state.end = Some(End::Closed),
                Err(e) => state.end = Some(End::Broken(e.to_string())),
            }
            let done = state.end.is_some();
            drop(state);
            inbox.posted.notify_all();
            if done {
                return;
            }
        });

        // A child whose stderr pipe fills up blocks in its next write: drain it all the time.
        let kept = tail.clone();
        let drainer = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        let mut tail = kept.lock().unwrap_or_else(|e| e.into_inner());
                        tail.bytes.extend(&buf[..n]);
                        let extra = tail.bytes.len().saturating_sub(STDERR_TAIL);
                        tail.bytes.drain(..extra);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                }
            }
        });

        Ok(Worker {
            child,
            stdin,
            mailbox,
            stderr: tail,
            threads: vec![reader, drainer],
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request, waits at most `timeout` for its answer. After any error the child has been
    /// killed and reaped, and later calls return Unavailable.
    pub fn call(&mut self, request: &[u8], timeout: Duration) -> Result<Vec<u8>, CallError> {
        if self.status.is_some() {
            return Err(CallError::Unavailable);
        }
        let deadline = Instant::now() + timeout;
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(CallError::Unavailable);
        };
        if let Err(e) = write_frame(stdin, request).and_then(|_| stdin.flush()) {
            if e.kind() == io::ErrorKind::InvalidInput {
                // Too big to send: nothing was written, but the promise is simple: after any
                // error, this worker is gone.
                self.finish();
                return Err(CallError::Protocol(e.to_string()));
            }
            // Most likely a broken pipe: the child is gone. Its status says how.
            return Err(self.crashed());
        }

        let mut state = self.mailbox.lock();
        loop {
            if let Some(frame) = state.frames.pop_front() {
                return Ok(frame);
            }
            match &state.end {
                Some(End::Closed) => {
                    drop(state);
                    return Err(self.crashed());
                }
                Some(End::Broken(why)) => {
                    let why = why.clone();
                    drop(state);
                    self.finish();
                    return Err(CallError::Protocol(why));
                }
                None => {}
            }
            let now = Instant::now();
            if now >= deadline {
                drop(state);
                self.finish();
                return Err(CallError::TimedOut);
            }
            state = self
                .mailbox
                .posted
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Closes the child's stdin, waits up to `grace` for it to exit, then kills it; always reaps.
    pub fn shutdown(mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        // EOF on its stdin is the child's signal to finish.
        drop(self.stdin.take());
        let deadline = Instant::now() + grace;
        // Its stdout closes when it exits: sleep on the mailbox until then (or the deadline).
        {
            let mut state = self.mailbox.lock();
            while state.end.is_none() {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = self
                    .mailbox
                    .posted
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.status = Some(status);
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            // Only between "stdout closed" and "exited": a few milliseconds at most.
            thread::sleep(Duration::from_millis(1));
        }
        Ok(self.finish())
    }

    /// The child failed: kill it if need be, reap it, and describe how it ended.
    fn crashed(&mut self) -> CallError {
        let status = self.finish();
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = tail.bytes.iter().copied().collect();
        CallError::Crashed {
            code: status.code(),
            signal: signal_of(&status),
            stderr_tail: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Kills (a no-op for a child that already exited), reaps, and joins the pipe threads, which
    /// end once the child's pipes close. Idempotent.
    fn finish(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        let status = match self.status {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                let status = loop {
                    match self.child.wait() {
                        Ok(status) => break status,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => panic!("cannot reap worker {}: {e}", self.child.id()),
                    }
                };
                self.status = Some(status);
                status
            }
        };
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
        status
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(unix)]
fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn signal_of(_status: &ExitStatus) -> Option<i32> {
    None
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub workers: usize,
    pub call_timeout: Duration,
    /// Restarts allowed in all, over every slot.
    pub max_restarts: u32,
    /// The least time between two spawns of one slot.
    pub restart_backoff: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub calls: u64,
    pub ok: u64,
    pub crashed: u64,
    pub timed_out: u64,
    pub restarts: u64,
}

/// One place in the pool: its worker (None once it failed), whether a call is using it, and
/// when its current worker was spawned.
struct Slot {
    worker: Option<Worker>,
    busy: bool,
    spawned: Instant,
}

struct State {
    slots: Vec<Slot>,
    restarts_left: u32,
    closing: bool,
    closed: bool,
    stats: Stats,
}

/// A pool of worker processes shared by many threads. Dropping it = shutdown().
pub struct Supervisor {
    spec: WorkerSpec,
    policy: Policy,
    state: Mutex<State>,
    /// Notified whenever a slot becomes free, dies, or the pool closes.
    changed: Condvar,
}

impl Supervisor {
    pub fn start(spec: WorkerSpec, policy: Policy) -> io::Result<Supervisor> {
        let mut slots = Vec::with_capacity(policy.workers);
        for _ in 0..policy.workers {
            // On an error the workers spawned so far are dropped: killed and reaped.
            let worker = Worker::spawn(&spec)?;
            slots.push(Slot {
                worker: Some(worker),
                busy: false,
                spawned: Instant::now(),
            });
        }
        Ok(Supervisor {
            state: Mutex::new(State {
                slots,
                restarts_left: policy.max_restarts,
                closing: false,
                closed: false,
                stats: Stats::default(),
            }),
            changed: Condvar::new(),
            spec,
            policy,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps until a worker is idle, then calls it. A worker that fails gives this call its error
    /// (no retry) and is replaced before its slot is used again (within max_restarts, and no sooner
    /// than restart_backoff after that slot's last spawn). When no slot can ever serve again:
    /// Unavailable at once.
    pub fn call(&self, request: &[u8]) -> Result<Vec<u8>, CallError> {
        let mut state = self.lock();
        let index = loop {
            if state.closing {
                return Err(CallError::Unavailable);
            }
            let live = state
                .slots
                .iter()
                .position(|s| !s.busy && s.worker.is_some());
            let restartable = || {
                if state.restarts_left == 0 {
                    return None;
                }
                state.slots.iter().position(|s| !s.busy)
            };
            if let Some(i) = live.or_else(restartable) {
                break i;
            }
            // Nothing free now. A busy slot may come back; if none is busy, nothing ever will.
            if !state.slots.iter().any(|s| s.busy) {
                return Err(CallError::Unavailable);
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        };
        state.slots[index].busy = true;
        let mut worker = match state.slots[index].worker.take() {
            Some(worker) => {
                drop(state);
                worker
            }
            None => {
                state.restarts_left -= 1;
                state.stats.restarts += 1;
                let earliest = state.slots[index].spawned + self.policy.restart_backoff;
                drop(state);
                let now = Instant::now();
                if earliest > now {
                    thread::sleep(earliest - now);
                }
                let spawned = Worker::spawn(&self.spec);
                let mut state = self.lock();
                state.slots[index].spawned = Instant::now();
                match spawned {
                    Ok(worker) => {
                        drop(state);
                        worker
                    }
                    Err(_) => {
                        state.slots[index].busy = false;
                        drop(state);
                        self.changed.notify_all();
                        return Err(CallError::Unavailable);
                    }
                }
            }
        };

        // No lock held while the worker works: the other slots serve other callers meanwhile.
        let result = worker.call(request, self.policy.call_timeout);

        let mut state = self.lock();
        state.stats.calls += 1;
        let failed = match &result {
            Ok(_) => {
                state.stats.ok += 1;
                false
            }
            Err(CallError::Crashed { .. }) => {
                state.stats.crashed += 1;
                true
            }
            Err(CallError::TimedOut) => {
                state.stats.timed_out += 1;
                true
            }
            Err(_) => true,
        };
        let dead = if failed {
            Some(worker)
        } else {
            state.slots[index].worker = Some(worker);
            None
        };
        state.slots[index].busy = false;
        drop(state);
        // Everyone looks again: a free slot for one of them, or a dead pool for all of them.
        self.changed.notify_all();
        drop(dead); // already killed and reaped by the failed call
        result
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// New and waiting calls get Unavailable; running calls finish; each worker gets 1 s of grace;
    /// every child is reaped. Idempotent.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        if state.closing {
            // Someone else is shutting down: return once it is done.
            while !state.closed {
                state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            return;
        }
        state.closing = true;
        self.changed.notify_all();
        while state.slots.iter().any(|s| s.busy) {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let workers: Vec<Worker> = state
            .slots
            .iter_mut()
            .filter_map(|s| s.worker.take())
            .collect();
        drop(state);
        // All at once, so that n stuck workers cost one grace period, not n.
        let stopping: Vec<JoinHandle<()>> = workers
            .into_iter()
            .map(|worker| {
                thread::spawn(move || {
                    let _ = worker.shutdown(SHUTDOWN_GRACE);
                })
            })
            .collect();
        for handle in stopping {
            let _ = handle.join();
        }
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shutdown();
    }
}
