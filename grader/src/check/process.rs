//! Running a child process under limits: time, memory, threads and captured output.
//!
//! Every child gets its own process group, so a timeout kills it together with anything it started.
//! A watchdog samples the child and its descendants while they run and kills the group as soon as
//! one of the limits is exceeded, so a thread bomb, a leak or an output flood costs the machine
//! a fraction of a second, not the whole time limit.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    /// Address-space cap (RLIMIT_AS). Thread stacks count: 4 GiB leaves room for ~1500 threads.
    pub memory_bytes: Option<u64>,
    /// Killed when it has more threads than this at once, counting those of any child processes.
    pub max_threads: Option<usize>,
    /// Killed when its resident memory (with any child processes') goes above this. RLIMIT_AS
    /// alone is no guard: 4 GiB of address space per check, a few checks at once, is real memory.
    pub max_rss_bytes: Option<u64>,
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub output_bytes: usize,
    /// Killed when it has printed more than this, stdout and stderr together.
    pub max_output_bytes: Option<u64>,
    /// Killed as soon as this is set (`--fail-fast`: another check failed).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Which limit the watchdog enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    Threads { seen: usize, max: usize },
    Memory { seen: u64, max: u64 },
    Output { max: u64 },
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Threads { seen, max } => {
                write!(f, "it had {seen} threads at once (the limit is {max})")
            }
            Exceeded::Memory { seen, max } => write!(
                f,
                "it used {} MiB of memory (the limit is {} MiB)",
                seen >> 20,
                max >> 20
            ),
            Exceeded::Output { max } => {
                write!(f, "it printed more than {} MiB (the limit)", max >> 20)
            }
        }
    }
}

#[derive(Debug)]
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    /// Killed because [`Limits::cancel`] was set.
    pub cancelled: bool,
    /// Set when the watchdog killed the child for a reason other than time.
    pub killed_for: Option<Exceeded>,
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
    let mut child = spawn_registered(&mut command)?;
    let _registered = Registered(child.id());
    let cap = limits.output_bytes;
    let printed = Arc::new(AtomicU64::new(0));
    let out_reader = capture(child.stdout.take(), cap, printed.clone());
    let err_reader = capture(child.stderr.take(), cap, printed.clone());

    let mut timed_out = false;
    let mut cancelled = false;
    let mut killed_for = None;
    let watch_usage = limits.max_threads.is_some() || limits.max_rss_bytes.is_some();
    let mut last_look = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= limits.timeout {
            timed_out = true;
            break kill(&mut child);
        }
        if limits
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
        {
            cancelled = true;
            break kill(&mut child);
        }
        if let Some(max) = limits.max_output_bytes {
            if printed.load(Ordering::Relaxed) > max {
                killed_for = Some(Exceeded::Output { max });
                break kill(&mut child);
            }
        }
        if watch_usage && last_look.elapsed() >= WATCH_EVERY {
            last_look = Instant::now();
            if let Some(exceeded) = usage_of_tree(child.id()).exceeds(limits) {
                killed_for = Some(exceeded);
                break kill(&mut child);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the child left running in its group goes too.
    kill_group(child.id());
    let elapsed = started.elapsed();
    // Read to the end, but not forever: a process that escaped the child (outside a sandbox, a
    // double fork) may still hold the pipes open. What it printed so far is kept.
    let deadline = Instant::now() + PIPE_GRACE;
    let (stdout, t1) = out_reader.finish(deadline);
    let (stderr, t2) = err_reader.finish(deadline);
    Ok(Finished {
        status,
        timed_out,
        cancelled,
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

/// How often the watchdog samples threads and memory: a thread bomb or a leak gets this long.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// Threads and resident memory of a process and all its descendants.
#[derive(Debug, Default)]
struct Usage {
    threads: usize,
    rss_bytes: u64,
}

impl Usage {
    fn exceeds(&self, limits: &Limits) -> Option<Exceeded> {
        if let Some(max) = limits.max_threads.filter(|&max| self.threads > max) {
            return Some(Exceeded::Threads {
                seen: self.threads,
                max,
            });
        }
        if let Some(max) = limits.max_rss_bytes.filter(|&max| self.rss_bytes > max) {
            return Some(Exceeded::Memory {
                seen: self.rss_bytes,
                max,
            });
        }
        None
    }
}

/// Walks `/proc/PID/task/*/children` from `pid` down, summing each process's `Threads:` and
/// `VmRSS:`. A process that ends during the walk simply stops counting.
fn usage_of_tree(pid: u32) -> Usage {
    let mut usage = Usage::default();
    let mut pending = vec![pid];
    let mut seen = 0;
    while let Some(pid) = pending.pop() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        for line in status.lines() {
            if let Some(n) = line.strip_prefix("Threads:") {
                usage.threads += n.trim().parse::<usize>().unwrap_or(0);
            } else if let Some(kb) = line.strip_prefix("VmRSS:") {
                let kb = kb.trim().trim_end_matches("kB").trim();
                usage.rss_bytes += kb.parse::<u64>().unwrap_or(0) * 1024;
            }
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                pending.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    usage
}

/// How long the output pipes may stay open once the child has ended.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// A pipe read on its own thread: what it kept so far, and whether it reached the end.
struct Capture {
    kept: Arc<std::sync::Mutex<(Vec<u8>, bool)>>,
    ended: std::sync::mpsc::Receiver<()>,
}

impl Capture {
    /// What was read, once the pipe ended or at `deadline`, whichever comes first.
    fn finish(self, deadline: Instant) -> (Vec<u8>, bool) {
        let _ = self
            .ended
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (kept.0.clone(), kept.1)
    }
}

/// Reads a pipe to its end on a thread, keeping the first `cap` bytes and adding every byte read
/// to `printed`.
fn capture<R: Read + Send + 'static>(
    pipe: Option<R>,
    cap: usize,
    printed: Arc<AtomicU64>,
) -> Capture {
    let kept = Arc::new(std::sync::Mutex::new((Vec::new(), false)));
    let (tx, ended) = std::sync::mpsc::channel();
    let shared = kept.clone();
    std::thread::spawn(move || {
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        printed.fetch_add(n as u64, Ordering::Relaxed);
                        let mut kept = shared.lock().unwrap_or_else(|e| e.into_inner());
                        let room = cap.saturating_sub(kept.0.len());
                        kept.0.extend_from_slice(&buf[..n.min(room)]);
                        kept.1 |= n > room;
                    }
                }
            }
        }
        let _ = tx.send(());
    });
    Capture { kept, ended }
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

/// Process groups of the children running now, so Ctrl-C can end them: the terminal's SIGINT only
/// reaches the grader's own group, not the groups its checks and builds run in.
struct Running {
    groups: Vec<u32>,
    stopping: bool,
}

static RUNNING: std::sync::Mutex<Running> = std::sync::Mutex::new(Running {
    groups: Vec::new(),
    stopping: false,
});

fn running() -> std::sync::MutexGuard<'static, Running> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns under the lock, so a Ctrl-C can't slip between the spawn and the registration.
fn spawn_registered(command: &mut Command) -> std::io::Result<Child> {
    let mut running = running();
    if running.stopping {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the grader is stopping",
        ));
    }
    let child = command.spawn()?;
    running.groups.push(child.id());
    Ok(child)
}

/// Forgets a child's group once it has ended.
struct Registered(u32);

impl Drop for Registered {
    fn drop(&mut self) {
        running().groups.retain(|&g| g != self.0);
    }
}

/// Kills every running child's process group and refuses new ones (Ctrl-C).
pub fn kill_running() {
    let mut running = running();
    running.stopping = true;
    for &group in &running.groups {
        kill_group(group);
    }
}
