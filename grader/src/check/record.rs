//! The grader's end of a check's record channel, and the command that starts a check in the
//! sandbox with the other end as its fd [`RECORD_FD`] (see `sandbox.rs` and the harness's
//! `protocol.rs`).

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use grader_harness::protocol::{RunRecord, MAX_RECORD_BYTES, RECORD_FD};

use crate::check::run::Budget;
use crate::check::sandbox::{self, Plan, SandboxLine};

/// What came over a channel once the check was gone.
#[derive(Debug, Default)]
pub struct Received {
    /// The protections the sandbox reported before exec (none: no sandbox ran).
    pub protections: Option<Vec<String>>,
    /// The last complete record, if the channel held a well-formed one within its size limit.
    pub record: Option<RunRecord>,
}

/// A socket pair: ours is read on a thread (capped), theirs goes to the check.
pub struct Channel {
    theirs: Option<OwnedFd>,
    done: mpsc::Receiver<(Vec<u8>, bool)>,
}

impl Channel {
    pub fn new() -> std::io::Result<Channel> {
        // Both ends are close-on-exec: only the dup onto RECORD_FD reaches the check.
        let (ours, theirs) = UnixStream::pair()?;
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ours = ours;
            let mut kept = Vec::new();
            let mut oversized = false;
            let mut buf = [0u8; 16 << 10];
            loop {
                match ours.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // Keep draining past the cap, so a writer never blocks, but keep nothing.
                        if kept.len() + n > MAX_RECORD_BYTES {
                            oversized = true;
                            kept.clear();
                        } else if !oversized {
                            kept.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
            let _ = tx.send((kept, oversized));
        });
        Ok(Channel {
            theirs: Some(theirs.into()),
            done,
        })
    }

    /// Call once the check's process tree is gone: closes our copy of their end, then takes what
    /// was written (waiting a moment at most: nothing of the check may still hold it).
    pub fn finish(mut self) -> Received {
        drop(self.theirs.take());
        let Ok((bytes, oversized)) = self.done.recv_timeout(Duration::from_secs(2)) else {
            return Received::default();
        };
        if oversized {
            return Received::default();
        }
        let mut received = Received::default();
        for line in bytes.split(|&b| b == b'\n') {
            if let Ok(sandbox) = serde_json::from_slice::<SandboxLine>(line) {
                if received.protections.is_none() {
                    received.protections = Some(sandbox.protections);
                }
            } else if let Ok(record) = serde_json::from_slice::<RunRecord>(line) {
                received.record = Some(record);
            }
        }
        received
    }
}

/// `harness run NAME` in the sandbox, with `channel`'s far end as fd [`RECORD_FD`].
pub fn command(
    harness: &Path,
    name: &str,
    scratch: &Path,
    channel: &Channel,
    budget: Budget,
) -> Command {
    let mut command = if sandbox::supported() {
        let launcher = std::env::current_exe().unwrap_or_else(|_| "grader".into());
        let plan = Plan {
            scratch: scratch.to_path_buf(),
            max_tasks: (budget.max_threads as u64).saturating_mul(2).max(64),
            program: vec![harness.into(), "run".into(), name.into()],
        };
        let mut c = Command::new(launcher);
        c.args(plan.to_args());
        c
    } else {
        let mut c = Command::new(harness);
        c.args(["run", name]);
        c
    };
    // The launcher and the check see only this: nothing of the grader's own environment.
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("RUST_BACKTRACE", "0")
        .current_dir(scratch);
    let fd = channel.theirs.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
    // SAFETY: dup2 and fcntl are async-signal-safe; they touch only the child's descriptor table.
    unsafe {
        command.pre_exec(move || {
            if fd == RECORD_FD {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, RECORD_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}
