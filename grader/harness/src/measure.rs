//! Measuring helpers shared by the lessons' checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// CPU time (user + system) this process has used so far, over all its threads.
pub fn cpu_time() -> Duration {
    os::cpu_time()
}

/// How many threads this process has now, where the OS tells (Linux: /proc; macOS: proc_pidinfo;
/// Windows: a Toolhelp snapshot, which also counts the threads Windows itself starts in every
/// process, such as the loader's and the thread pool's).
pub fn thread_count() -> Option<usize> {
    os::thread_count()
}

/// Each OS's own interface to the two measures above.
#[cfg(unix)]
mod os {
    use std::time::Duration;

    pub fn cpu_time() -> Duration {
        // SAFETY: getrusage only writes into the struct we hand it.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }

    #[cfg(target_os = "linux")]
    pub fn thread_count() -> Option<usize> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
    }

    #[cfg(target_os = "macos")]
    pub fn thread_count() -> Option<usize> {
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        // SAFETY: proc_pidinfo writes at most `size` bytes into the struct we hand it.
        unsafe {
            let mut info: libc::proc_taskinfo = std::mem::zeroed();
            let got = libc::proc_pidinfo(
                libc::getpid(),
                libc::PROC_PIDTASKINFO,
                0,
                (&mut info as *mut libc::proc_taskinfo).cast(),
                size,
            );
            (got == size).then_some(info.pti_threadnum as usize)
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    pub fn thread_count() -> Option<usize> {
        None
    }
}

#[cfg(windows)]
mod os {
    use std::time::Duration;

    use windows_sys::Win32::Foundation::{CloseHandle, FILETIME, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetCurrentProcessId, GetProcessTimes,
    };

    pub fn cpu_time() -> Duration {
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: fills four FILETIMEs for the current process's pseudo-handle.
        let ok = unsafe {
            GetProcessTimes(
                GetCurrentProcess(),
                &mut created,
                &mut exited,
                &mut kernel,
                &mut user,
            )
        } != 0;
        let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
        if ok {
            // FILETIME counts 100 ns ticks.
            Duration::from_nanos((ticks(kernel) + ticks(user)).saturating_mul(100))
        } else {
            Duration::ZERO
        }
    }

    pub fn thread_count() -> Option<usize> {
        // SAFETY: a snapshot handle we close, and entries with their size set, as Toolhelp asks.
        unsafe {
            let me = GetCurrentProcessId();
            let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
            if snapshot == INVALID_HANDLE_VALUE {
                return None;
            }
            let mut entry: THREADENTRY32 = std::mem::zeroed();
            entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
            let mut count = 0;
            let mut more = Thread32First(snapshot, &mut entry) != 0;
            while more {
                if entry.th32OwnerProcessID == me {
                    count += 1;
                }
                more = Thread32Next(snapshot, &mut entry) != 0;
            }
            CloseHandle(snapshot);
            (count > 0).then_some(count)
        }
    }
}

/// Waits up to `limit` for the thread count to drop to `at_most`; returns the last count seen.
/// Threads that were joined can take a moment to vanish from the OS's count.
pub fn settle_thread_count(at_most: usize, limit: Duration) -> Option<usize> {
    let deadline = Instant::now() + limit;
    loop {
        let n = thread_count()?;
        if n <= at_most || Instant::now() >= deadline {
            return Some(n);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How many threads `f` left running: the count before, and the count after `f` returned (given
/// up to `settle` to drop back, since joined threads take a moment to vanish from /proc).
/// `None` where the OS does not tell (then there is nothing to measure).
pub fn threads_left_behind<T>(
    settle: Duration,
    f: impl FnOnce() -> T,
) -> Option<(usize, usize, T)> {
    let before = thread_count()?;
    let value = f();
    let after = settle_thread_count(before, settle).unwrap_or(before);
    Some((before, after, value))
}

/// Counts how many callers are inside a region at once, and the most ever seen.
#[derive(Default)]
pub struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    pub fn new() -> Gauge {
        Gauge::default()
    }
    /// Enters the region until the guard drops.
    pub fn enter(&self) -> GaugeGuard<'_> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        GaugeGuard(self)
    }
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
    pub fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }
}

pub struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wall time and CPU time over the same stretch.
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }
    pub fn wall(&self) -> Duration {
        self.wall.elapsed()
    }
    pub fn cpu(&self) -> Duration {
        cpu_time().saturating_sub(self.cpu)
    }
}

/// Formats a count with thin groups, as the feedback prints them: 800000 -> "800 000".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Formats a duration in milliseconds with one decimal: "212.4 ms".
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
