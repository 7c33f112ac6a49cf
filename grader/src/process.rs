//! Running a child process under limits: time, memory, threads and captured output.
//!
//! Every child gets its own process group, so a timeout kills it together with anything it started.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    /// Address-space cap (RLIMIT_AS). Thread stacks count: 4 GiB leaves room for ~1500 threads.
    pub memory_bytes: Option<u64>,
    /// Killed when it has more threads than this at once.
    pub max_threads: Option<usize>,
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub output_bytes: usize,
}

#[derive(Debug)]
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    /// Set when the watchdog killed the child for a reason other than time.
    pub killed_for: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub output_truncated: bool,
    pub elapsed: Duration,
}

pub fn run(mut command: Command, limits: &Limits) -> std::io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let memory = limits.memory_bytes;
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            set_limit(libc::RLIMIT_CORE, 0);
            if let Some(bytes) = memory {
                set_limit(libc::RLIMIT_AS, bytes);
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = command.spawn()?;
    let cap = limits.output_bytes;
    let out_reader = capture(child.stdout.take(), cap);
    let err_reader = capture(child.stderr.take(), cap);

    let mut timed_out = false;
    let mut killed_for = None;
    let mut last_thread_look = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= limits.timeout {
            timed_out = true;
            break kill(&mut child);
        }
        if let Some(max) = limits.max_threads {
            if last_thread_look.elapsed() >= Duration::from_millis(50) {
                last_thread_look = Instant::now();
                if let Some(n) = threads_of(child.id()).filter(|&n| n > max) {
                    killed_for = Some(format!("it had {n} threads at once (the limit is {max})"));
                    break kill(&mut child);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the child left running in its group goes too.
    kill_group(child.id());
    let elapsed = started.elapsed();
    let (stdout, t1) = out_reader.join().unwrap_or_default();
    let (stderr, t2) = err_reader.join().unwrap_or_default();
    Ok(Finished {
        status,
        timed_out,
        killed_for,
        stdout,
        stderr,
        output_truncated: t1 || t2,
        elapsed,
    })
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: plain system call on a valid struct.
    unsafe {
        libc::setrlimit(resource, &limit);
    }
}

fn kill(child: &mut Child) -> Option<ExitStatus> {
    kill_group(child.id());
    let _ = child.kill();
    child.wait().ok()
}

fn kill_group(pid: u32) {
    // SAFETY: signalling our own child's process group (its pgid is its pid).
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

fn threads_of(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Reads a pipe to its end on a thread, keeping the first `cap` bytes.
fn capture<R: Read + Send + 'static>(
    pipe: Option<R>,
    cap: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = cap.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                        truncated |= n > room;
                    }
                }
            }
        }
        (kept, truncated)
    })
}

/// Describes how a child ended, for a learner: "exited with code 3", "killed by signal 6 (SIGABRT)".
pub fn describe_exit(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        None => "ended in an unknown way".into(),
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(sig)) => {
                let name = match sig {
                    libc::SIGABRT => " (SIGABRT: an abort, e.g. a stack overflow, a panic while panicking or an allocation failure)",
                    libc::SIGSEGV => " (SIGSEGV: a memory fault, often a stack overflow)",
                    libc::SIGKILL => " (SIGKILL)",
                    libc::SIGBUS => " (SIGBUS)",
                    libc::SIGILL => " (SIGILL)",
                    _ => "",
                };
                format!("was killed by signal {sig}{name}")
            }
            (None, None) => "ended in an unknown way".into(),
        },
    }
}
