//! The grader's end of a check's record channel, and the command that starts a check in the
//! sandbox with the other end as its fd [`RECORD_FD`](grader_harness::protocol::RECORD_FD) (see
//! `sandbox.rs` and the harness's `protocol.rs`). On Windows the channel is a named pipe instead
//! (`os` below).

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use grader_harness::protocol::{RunRecord, MAX_RECORD_BYTES};

use crate::check::run::Budget;
use crate::check::sandbox::{self, Plan, SandboxLine};

/// What came over a channel once the check was gone.
#[derive(Debug, Default)]
pub struct Received {
    /// The protections the sandbox reported before exec (none: no sandbox ran).
    pub protections: Option<Vec<String>>,
    /// The last complete record, if the channel held a well-formed one within its size limit.
    pub record: Option<RunRecord>,
    /// Bytes the channel carried when that was more than [`MAX_RECORD_BYTES`]: nothing of it is
    /// kept.
    pub oversized: Option<u64>,
}

/// A socket pair (a named pipe on Windows): ours is read on a thread (capped), theirs goes to the
/// check.
pub struct Channel {
    theirs: Option<os::Theirs>,
    /// What was kept, and how many bytes came in all.
    done: mpsc::Receiver<(Vec<u8>, u64)>,
}

impl Channel {
    pub fn new() -> std::io::Result<Channel> {
        let (ours, theirs) = os::pair()?;
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok(mut ours) = ours.connected() else {
                let _ = tx.send((Vec::new(), 0));
                return;
            };
            let mut kept = Vec::new();
            let mut total = 0u64;
            let mut buf = [0u8; 16 << 10];
            loop {
                match ours.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        total += n as u64;
                        // Keep draining past the cap, so a writer never blocks, but keep nothing.
                        if total > MAX_RECORD_BYTES as u64 {
                            kept = Vec::new();
                        } else {
                            kept.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
            let _ = tx.send((kept, total));
        });
        Ok(Channel {
            theirs: Some(theirs),
            done,
        })
    }

    /// Call once the check's process tree is gone: closes our copy of their end, then takes what
    /// was written (waiting a moment at most: nothing of the check may still hold it).
    pub fn finish(mut self) -> Received {
        if let Some(theirs) = self.theirs.take() {
            theirs.close();
        }
        let Ok((bytes, total)) = self.done.recv_timeout(Duration::from_secs(2)) else {
            return Received::default();
        };
        if total > MAX_RECORD_BYTES as u64 {
            return Received {
                oversized: Some(total),
                ..Received::default()
            };
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

/// `harness run NAME` in the sandbox, with `channel`'s far end as fd
/// [`RECORD_FD`](grader_harness::protocol::RECORD_FD) (on Windows: the pipe's name in its
/// environment).
/// `limit` is the time limit the grader enforces: the harness is told it, so that it can say
/// where its threads are just before (see `RunRecord::at_limit`).
pub fn command(
    harness: &Path,
    name: &str,
    limit: Duration,
    scratch: &Path,
    channel: &Channel,
    budget: Budget,
) -> Result<Command, String> {
    let run_as = sandbox::check_user()?;
    let limit_ms = limit.as_millis().to_string();
    let mut command = if sandbox::supported() {
        let launcher = sandbox::launcher();
        let plan = Plan {
            scratch: scratch.to_path_buf(),
            max_tasks: (budget.max_threads as u64).saturating_mul(2).max(64),
            run_as,
            program: vec![harness.into(), "run".into(), name.into(), limit_ms.into()],
        };
        let mut c = Command::new(launcher);
        c.args(plan.to_args());
        c
    } else {
        let mut c = Command::new(harness);
        c.args(["run", name, &limit_ms]);
        c
    };
    // The launcher and the check see only this: nothing of the grader's own environment.
    command
        .env_clear()
        .env("RUST_BACKTRACE", "0")
        .current_dir(scratch);
    if let Some(theirs) = &channel.theirs {
        theirs.pass(&mut command, scratch);
    }
    Ok(command)
}

#[cfg(unix)]
mod os {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::Command;

    use grader_harness::protocol::RECORD_FD;

    pub struct Ours(UnixStream);
    pub struct Theirs(OwnedFd);

    pub fn pair() -> std::io::Result<(Ours, Theirs)> {
        // Both ends are close-on-exec: only the dup onto RECORD_FD reaches the check.
        let (ours, theirs) = UnixStream::pair()?;
        Ok((Ours(ours), Theirs(theirs.into())))
    }

    impl Ours {
        pub fn connected(self) -> std::io::Result<UnixStream> {
            Ok(self.0)
        }
    }

    impl Theirs {
        pub fn close(self) {}

        pub fn pass(&self, command: &mut Command, scratch: &Path) {
            command.env("PATH", "/usr/bin:/bin");
            // The sandbox sets HOME and TMPDIR itself; a plain process gets its scratch folder too.
            if !crate::check::sandbox::supported() {
                command.env("HOME", scratch).env("TMPDIR", scratch);
            }
            let fd = self.0.as_raw_fd();
            // SAFETY: dup2 and fcntl are async-signal-safe; they touch only the child's descriptor
            // table.
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
        }
    }
}

/// Windows has no descriptor to hand over by number, and std starts every child with all of the
/// grader's inheritable handles, those of other checks starting at the same moment included. So
/// nothing is inherited: the grader makes a named pipe with a random name, one instance, local
/// clients only, and names it in the check's environment; the harness connects first thing, then
/// removes the variable (see the harness's `runner.rs`). Once it is connected nothing else can
/// connect. What is lost against Unix: without a sandbox another program the check starts, as the
/// same user, could open the harness process itself (read its memory, duplicate its handle).
#[cfg(windows)]
mod os {
    use std::ffi::OsString;
    use std::fs::File;
    use std::hash::{BuildHasher, Hasher};
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::{AsRawHandle, FromRawHandle};
    use std::path::Path;
    use std::process::Command;

    use windows_sys::Win32::Foundation::{
        GetLastError, ERROR_NO_DATA, ERROR_PIPE_CONNECTED, HANDLE, INVALID_HANDLE_VALUE,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_ACCESS_INBOUND,
    };
    use windows_sys::Win32::System::Pipes::{
        ConnectNamedPipe, CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_TYPE_BYTE, PIPE_WAIT,
    };

    use grader_harness::protocol::RECORD_PIPE_ENV;

    pub struct Ours(File);
    pub struct Theirs(OsString);

    /// 128 bits from std's randomly keyed hasher: the pipe's name can't be guessed.
    fn random_name() -> String {
        let mut words = [0u64; 2];
        for (i, word) in words.iter_mut().enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            *word = h.finish();
        }
        format!(
            r"\\.\pipe\grader-record-{}-{:016x}{:016x}",
            std::process::id(),
            words[0],
            words[1]
        )
    }

    pub fn pair() -> std::io::Result<(Ours, Theirs)> {
        let name = random_name();
        let wide: Vec<u16> = std::ffi::OsStr::new(&name)
            .encode_wide()
            .chain(Some(0))
            .collect();
        // SAFETY: a NUL-terminated name; no security attributes (the default DACL, not inheritable).
        let handle = unsafe {
            CreateNamedPipeW(
                wide.as_ptr(),
                PIPE_ACCESS_INBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE,
                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                1,
                0,
                64 << 10,
                0,
                std::ptr::null(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a handle we just created and own from here on.
        let ours = unsafe { File::from_raw_handle(handle as _) };
        Ok((Ours(ours), Theirs(name.into())))
    }

    impl Ours {
        /// Waits until a client connected (the harness, or `close` when it never came).
        pub fn connected(self) -> std::io::Result<File> {
            // SAFETY: a pipe handle we own, synchronous mode.
            let ok =
                unsafe { ConnectNamedPipe(self.0.as_raw_handle() as HANDLE, std::ptr::null_mut()) };
            // Connected before we asked (and maybe gone already: what it wrote is still there).
            let error = unsafe { GetLastError() };
            if ok != 0 || error == ERROR_PIPE_CONNECTED || error == ERROR_NO_DATA {
                Ok(self.0)
            } else {
                Err(std::io::Error::from_raw_os_error(error as i32))
            }
        }
    }

    impl Theirs {
        /// If the harness never connected, connects once and hangs up, so the reader sees an end.
        pub fn close(self) {
            let _ = std::fs::OpenOptions::new().write(true).open(&self.0);
        }

        pub fn pass(&self, command: &mut Command, scratch: &Path) {
            let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
            let mut path = OsString::from(&root);
            path.push(r"\System32;");
            path.push(&root);
            // Winsock (lesson 03's loopback HTTP) needs SystemRoot; TEMP and TMP are its scratch.
            command
                .env("SystemRoot", &root)
                .env("PATH", path)
                .env("USERPROFILE", scratch)
                .env("TEMP", scratch)
                .env("TMP", scratch)
                .env(RECORD_PIPE_ENV, &self.0);
        }
    }
}
