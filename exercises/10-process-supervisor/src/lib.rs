//! Lesson 10: processes instead of threads. Length-prefixed frames over pipes, one worker process
//! behind a [`Worker`], and a [`Supervisor`] that shares a pool of them between threads, restarts
//! the ones that fail and shuts them all down cleanly. The README explains each part.
//!
//! Every primitive (Mutex, Condvar, Arc, thread::spawn, sleep) comes from `crate::sync`, never from
//! std::sync or std::thread directly. `std::process`, `std::io` and `std::time` are fine.
#![allow(unused_variables, dead_code, unused_imports)]

pub mod sync;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// The largest payload a frame may carry: 16 MiB.
pub const MAX_FRAME: usize = 16 << 20;

/// Writes a u32 big-endian length then the payload. Larger than MAX_FRAME: InvalidInput, nothing
/// written. Does not flush.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    todo!("check the size, then write the 4-byte big-endian length and the payload (write_all)")
}

/// Ok(None) at a clean end of stream (before a length); UnexpectedEof in the middle of a frame;
/// InvalidData for a length above MAX_FRAME (without allocating it). Handles short reads and
/// `Interrupted`.
pub fn read_frame<R: Read>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    todo!("read the 4 length bytes in a loop, refuse a length above MAX_FRAME, read_exact the payload")
}

/// The worker side: one answer frame per request frame from stdin, each flushed; Ok at end of stdin.
pub fn serve<H: FnMut(&[u8]) -> Vec<u8>>(handler: H) -> io::Result<()> {
    todo!("read request frames from stdin until Ok(None); write and flush one answer frame each")
}

/// What to start: the program and its arguments.
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
    /// No answer within the timeout (the worker has been killed and reaped).
    TimedOut,
    /// The worker broke the framing (a length above MAX_FRAME, say); it has been killed and reaped.
    Protocol(String),
    /// No worker can take the call (killed after an error, shut down, or out of restarts).
    Unavailable,
}

/// One child process. Dropping it kills and reaps it.
pub struct Worker {
    // Your fields: the Child, its stdin, whatever reads its stdout and stderr...
}

impl Worker {
    /// Starts `spec.program` with `spec.args`, its stdin, stdout and stderr piped to this process.
    pub fn spawn(spec: &WorkerSpec) -> io::Result<Worker> {
        todo!("spawn the child with three pipes, and the threads that read its stdout and drain its stderr")
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        todo!("the child's id")
    }

    /// Sends one request, waits at most `timeout` for its answer. After any error the child has been
    /// killed and reaped, and later calls return Unavailable.
    pub fn call(&mut self, request: &[u8], timeout: Duration) -> Result<Vec<u8>, CallError> {
        todo!("write and flush the request frame, wait for the answer until a deadline; on any error kill, wait, and remember")
    }

    /// Closes the child's stdin, waits up to `grace` for it to exit, then kills it; always reaps.
    pub fn shutdown(self, grace: Duration) -> io::Result<ExitStatus> {
        todo!("close stdin, wait up to grace, kill if still running, wait; return the exit status")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Kill and reap the child if nobody did (so no process and no zombie is left behind).
    }
}

/// How a Supervisor runs its pool.
#[derive(Debug, Clone)]
pub struct Policy {
    /// How many worker processes, each in its own slot.
    pub workers: usize,
    /// The timeout of every call.
    pub call_timeout: Duration,
    /// Restarts allowed in all, over every slot.
    pub max_restarts: u32,
    /// The least time between two spawns of one slot.
    pub restart_backoff: Duration,
}

/// What a Supervisor has done so far. `calls` counts the calls a worker took (ok + crashed +
/// timed_out + protocol errors); Unavailable calls are not counted. `restarts` counts respawns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub calls: u64,
    pub ok: u64,
    pub crashed: u64,
    pub timed_out: u64,
    pub restarts: u64,
}

/// A pool of worker processes shared by many threads. Dropping it = shutdown().
pub struct Supervisor {
    // Your fields: the spec, the policy, the slots' state behind a Mutex, a Condvar...
}

impl Supervisor {
    /// Spawns `policy.workers` workers (an error if one cannot be spawned).
    pub fn start(spec: WorkerSpec, policy: Policy) -> io::Result<Supervisor> {
        todo!("spawn every worker and keep them in slots")
    }

    /// Sleeps until a worker is idle, then calls it. A worker that fails gives this call its error
    /// (no retry) and is replaced before its slot is used again (within max_restarts, and no sooner
    /// than restart_backoff after that slot's last spawn). When no slot can ever serve again:
    /// Unavailable at once.
    pub fn call(&self, request: &[u8]) -> Result<Vec<u8>, CallError> {
        todo!("wait for a free slot (Condvar), take its worker, call it without the lock, put it back")
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        todo!("a copy of the stats")
    }

    /// New and waiting calls get Unavailable; running calls finish; each worker gets 1 s of grace;
    /// every child is reaped. Idempotent.
    pub fn shutdown(&self) {
        todo!(
            "close the pool, wait for the busy slots, shut every worker down, remember it is done"
        )
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Same as shutdown().
    }
}
