//! Running a child process under limits: time, memory, threads and captured output.
//!
//! Every child gets its own process group (Unix) or job object (Windows), so a timeout kills it
//! together with anything it started. A watchdog samples the child and its descendants while they
//! run and kills the group as soon as one of the limits is exceeded, so a thread bomb, a leak or an
//! output flood costs the machine a fraction of a second, not the whole time limit.
//!
//! What each OS offers is in its `os` module below: Linux reads `/proc`, macOS `proc_pidinfo`, and
//! Windows asks the job object (its processes, their peak committed memory) and a Toolhelp snapshot
//! (their threads). Elsewhere the time limit and the group kill still hold; the watchdog has no eyes.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    /// Address-space cap (RLIMIT_AS). Thread stacks count: 4 GiB leaves room for ~1500 threads.
    /// On Windows, the job's committed memory (all its processes together).
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
        .stderr(Stdio::piped());
    os::prepare(&mut command, limits);
    let started = Instant::now();
    let (mut child, group) = spawn_registered(&mut command, limits)?;
    let _registered = Registered(group.id());
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
            break kill(&mut child, &group);
        }
        if limits
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
        {
            cancelled = true;
            break kill(&mut child, &group);
        }
        if let Some(max) = limits.max_output_bytes {
            if printed.load(Ordering::Relaxed) > max {
                killed_for = Some(Exceeded::Output { max });
                break kill(&mut child, &group);
            }
        }
        if watch_usage && last_look.elapsed() >= WATCH_EVERY {
            last_look = Instant::now();
            if let Some(exceeded) = group.usage(child.id()).exceeds(limits) {
                killed_for = Some(exceeded);
                break kill(&mut child, &group);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the child left running in its group goes too.
    group.kill();
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

fn kill(child: &mut Child, group: &os::Group) -> Option<ExitStatus> {
    group.kill();
    let _ = child.kill();
    child.wait().ok()
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
    match status {
        None => "ended in an unknown way".into(),
        Some(s) => os::describe_exit(s),
    }
}

/// Process groups (job objects) of the children running now, so Ctrl-C can end them: the terminal's
/// SIGINT only reaches the grader's own group, not the groups its checks and builds run in.
struct Running {
    groups: Vec<os::GroupId>,
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
fn spawn_registered(command: &mut Command, limits: &Limits) -> std::io::Result<(Child, os::Group)> {
    let mut running = running();
    if running.stopping {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the grader is stopping",
        ));
    }
    let (child, group) = os::spawn(command, limits)?;
    running.groups.push(group.id());
    Ok((child, group))
}

/// Forgets a child's group once it has ended (dropped before the group itself).
struct Registered(os::GroupId);

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
        os::kill_group(group);
    }
}

/// Unix: a process group per child (its pgid is its pid), rlimits set between fork and exec.
#[cfg(unix)]
mod os {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command, ExitStatus};

    use super::{Limits, Usage};

    pub type GroupId = u32;

    pub struct Group(u32);

    impl Group {
        pub fn id(&self) -> GroupId {
            self.0
        }
        pub fn kill(&self) {
            kill_group(self.0)
        }
        pub fn usage(&self, pid: u32) -> Usage {
            usage_of_tree(pid)
        }
    }

    pub fn prepare(command: &mut Command, limits: &Limits) {
        command.process_group(0);
        // Not on macOS: what RLIMIT_AS counts there (the shared libraries' region included) is
        // unverified, and a cap that stops exec would fail every check; the watchdog's resident
        // memory cap holds instead.
        let memory = limits
            .memory_bytes
            .filter(|_| cfg!(not(target_os = "macos")));
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
    }

    pub fn spawn(command: &mut Command, _limits: &Limits) -> std::io::Result<(Child, Group)> {
        let child = command.spawn()?;
        let group = Group(child.id());
        Ok((child, group))
    }

    /// glibc types the resource as an enum of its own; musl and macOS as a plain int.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    type Resource = libc::__rlimit_resource_t;
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    type Resource = libc::c_int;

    fn set_limit(resource: Resource, value: u64) {
        let limit = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: plain system call on a valid struct.
        unsafe {
            libc::setrlimit(resource, &limit);
        }
    }

    pub fn kill_group(pid: GroupId) {
        // SAFETY: signalling our own child's process group (its pgid is its pid).
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
    }

    /// Walks `/proc/PID/task/*/children` from `pid` down, summing each process's `Threads:` and
    /// `VmRSS:`. A process that ends during the walk simply stops counting.
    #[cfg(target_os = "linux")]
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

    /// The same walk through libproc: `proc_listchildpids` down from `pid`, each process's
    /// `pti_threadnum` and `pti_resident_size` from `proc_pidinfo(PROC_PIDTASKINFO)`.
    #[cfg(target_os = "macos")]
    fn usage_of_tree(pid: u32) -> Usage {
        let mut usage = Usage::default();
        let mut pending = vec![pid as libc::pid_t];
        let mut seen = 0;
        while let Some(pid) = pending.pop() {
            seen += 1;
            if seen > 4096 {
                break;
            }
            let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
            let mut children = [0 as libc::pid_t; 256];
            // SAFETY: both calls write at most the size they are given into buffers we own.
            let listed = unsafe {
                let mut info: libc::proc_taskinfo = std::mem::zeroed();
                let got = libc::proc_pidinfo(
                    pid,
                    libc::PROC_PIDTASKINFO,
                    0,
                    (&mut info as *mut libc::proc_taskinfo).cast(),
                    size,
                );
                if got == size {
                    usage.threads += info.pti_threadnum.max(0) as usize;
                    usage.rss_bytes += info.pti_resident_size;
                }
                libc::proc_listchildpids(
                    pid,
                    children.as_mut_ptr().cast(),
                    std::mem::size_of_val(&children) as libc::c_int,
                )
            };
            let listed = (listed.max(0) as usize).min(children.len());
            pending.extend(children[..listed].iter().filter(|&&c| c > 0));
        }
        usage
    }

    /// No per-process interface wired up here: the watchdog sees nothing (time limits still hold).
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    fn usage_of_tree(_pid: u32) -> Usage {
        Usage::default()
    }

    pub fn describe_exit(s: ExitStatus) -> String {
        match (s.code(), s.signal()) {
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
        }
    }
}

/// Windows: a job object per child. The child starts suspended and is resumed only once it is in
/// its job, so everything it starts is in the job too; the job caps committed memory, kills its
/// processes when the grader dies (its handle closes) and turns a crash into an exit instead of an
/// error-reporting dialog. The watchdog reads the job's peak committed memory and counts the
/// threads of its processes.
#[cfg(windows)]
mod os {
    use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
    use std::os::windows::process::CommandExt;
    use std::process::{Child, Command, ExitStatus};

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
    };
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicProcessIdList,
        JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
        TerminateJobObject, JOBOBJECT_BASIC_PROCESS_ID_LIST, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
        JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION, JOB_OBJECT_LIMIT_JOB_MEMORY,
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    };
    use windows_sys::Win32::System::Threading::{
        OpenThread, ResumeThread, CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, THREAD_SUSPEND_RESUME,
    };

    use super::{Limits, Usage};

    /// The job's handle as a number (a raw handle is a pointer, which statics can't hold).
    pub type GroupId = usize;

    pub struct Group(OwnedHandle);

    impl Group {
        pub fn id(&self) -> GroupId {
            self.0.as_raw_handle() as usize
        }
        pub fn kill(&self) {
            kill_group(self.id())
        }
        pub fn usage(&self, _pid: u32) -> Usage {
            let job = self.0.as_raw_handle() as HANDLE;
            let mut usage = Usage::default();
            if let Some(info) = limit_information(job) {
                usage.rss_bytes = info.PeakJobMemoryUsed as u64;
            }
            let pids = processes(job);
            // A job with more processes than its list holds has at least that many threads.
            usage.threads = pids.1;
            let mut threads = 0;
            let _ = for_each_thread(|owner, _| {
                if pids.0.contains(&(owner as usize)) {
                    threads += 1;
                }
            });
            usage.threads = usage.threads.max(threads);
            usage
        }
    }

    pub fn prepare(command: &mut Command, _limits: &Limits) {
        // Suspended until it is in its job; a process group of its own, so the console's Ctrl-C
        // reaches the grader, which then ends every job (kill_running).
        command.creation_flags(CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP);
    }

    pub fn spawn(command: &mut Command, limits: &Limits) -> std::io::Result<(Child, Group)> {
        let job = new_job(limits)?;
        let mut child = command.spawn()?;
        // SAFETY: both handles are open and ours.
        let assigned = unsafe {
            AssignProcessToJobObject(
                job.as_raw_handle() as HANDLE,
                child.as_raw_handle() as HANDLE,
            )
        } != 0;
        let started = if assigned {
            resume(child.id())
        } else {
            Err(std::io::Error::last_os_error())
        };
        if let Err(e) = started {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok((child, Group(job)))
    }

    fn new_job(limits: &Limits) -> std::io::Result<OwnedHandle> {
        // SAFETY: a new unnamed job, owned from here on; its limits set from a struct we filled.
        unsafe {
            let raw = CreateJobObjectW(std::ptr::null(), std::ptr::null());
            if raw.is_null() {
                return Err(std::io::Error::last_os_error());
            }
            let job = OwnedHandle::from_raw_handle(raw as _);
            let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
            info.BasicLimitInformation.LimitFlags =
                JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
            if let Some(bytes) = limits.memory_bytes {
                info.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
                info.JobMemoryLimit = usize::try_from(bytes).unwrap_or(usize::MAX);
            }
            let ok = SetInformationJobObject(
                raw,
                JobObjectExtendedLimitInformation,
                (&info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of_val(&info) as u32,
            );
            if ok == 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(job)
        }
    }

    fn limit_information(job: HANDLE) -> Option<JOBOBJECT_EXTENDED_LIMIT_INFORMATION> {
        // SAFETY: the query writes at most the size it is given into a struct we own.
        unsafe {
            let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
            let ok = QueryInformationJobObject(
                job,
                JobObjectExtendedLimitInformation,
                (&mut info as *mut JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of_val(&info) as u32,
                std::ptr::null_mut(),
            );
            (ok != 0).then_some(info)
        }
    }

    /// The job's process ids (up to 1024), and how many processes it has in all.
    fn processes(job: HANDLE) -> (Vec<usize>, usize) {
        const MAX: usize = 1024;
        let header = std::mem::offset_of!(JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList);
        let words = header / std::mem::size_of::<usize>() + MAX;
        let mut buf = vec![0usize; words];
        // SAFETY: the buffer is usize-aligned and as large as we say; the list's header is read
        // as the struct it is, the ids at their offset, no more than the header says were written.
        unsafe {
            let base = buf.as_mut_ptr().cast::<u8>();
            QueryInformationJobObject(
                job,
                JobObjectBasicProcessIdList,
                base.cast(),
                (words * std::mem::size_of::<usize>()) as u32,
                std::ptr::null_mut(),
            );
            let list = base.cast::<JOBOBJECT_BASIC_PROCESS_ID_LIST>().read();
            let listed = (list.NumberOfProcessIdsInList as usize).min(MAX);
            let ids = std::slice::from_raw_parts(base.add(header).cast::<usize>(), listed);
            (ids.to_vec(), list.NumberOfAssignedProcesses as usize)
        }
    }

    /// Calls `f(owner pid, thread id)` for every thread of the system, from a Toolhelp snapshot.
    fn for_each_thread(mut f: impl FnMut(u32, u32)) -> std::io::Result<()> {
        // SAFETY: a snapshot handle we close, and an entry with its size set, as Toolhelp asks.
        unsafe {
            let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
            if snapshot == INVALID_HANDLE_VALUE {
                return Err(std::io::Error::last_os_error());
            }
            let mut entry: THREADENTRY32 = std::mem::zeroed();
            entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
            let mut more = Thread32First(snapshot, &mut entry) != 0;
            while more {
                f(entry.th32OwnerProcessID, entry.th32ThreadID);
                more = Thread32Next(snapshot, &mut entry) != 0;
            }
            CloseHandle(snapshot);
        }
        Ok(())
    }

    /// Resumes the threads of a process created suspended (there is one: its main thread).
    fn resume(pid: u32) -> std::io::Result<()> {
        let mut resumed = 0;
        for_each_thread(|owner, tid| {
            if owner != pid {
                return;
            }
            // SAFETY: a thread handle we open and close; resuming a thread of our own child.
            unsafe {
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, tid);
                if !thread.is_null() {
                    if ResumeThread(thread) != u32::MAX {
                        resumed += 1;
                    }
                    CloseHandle(thread);
                }
            }
        })?;
        if resumed == 0 {
            return Err(std::io::Error::other(
                "could not resume the process it started suspended",
            ));
        }
        Ok(())
    }

    pub fn kill_group(job: GroupId) {
        // SAFETY: a job handle that stays open while it is registered (Registered drops first).
        unsafe {
            TerminateJobObject(job as HANDLE, 1);
        }
    }

    pub fn describe_exit(s: ExitStatus) -> String {
        let Some(code) = s.code() else {
            return "ended in an unknown way".into();
        };
        let name = match code as u32 {
            0xC000_00FD => " (STATUS_STACK_OVERFLOW: a stack overflow)",
            0xC000_0005 => " (STATUS_ACCESS_VIOLATION: a memory fault, often a stack overflow)",
            0xC000_0409 => {
                " (an abort: a panic while panicking, an allocation failure or process::abort)"
            }
            0xC000_001D => " (STATUS_ILLEGAL_INSTRUCTION)",
            _ => "",
        };
        if (code as u32) < 0xC000_0000 {
            format!("exited with code {code}")
        } else {
            format!("exited with code {:#010X}{name}", code as u32)
        }
    }
}
