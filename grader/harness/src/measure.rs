//! Measuring helpers shared by the lessons' checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// CPU time (user + system) this process has used so far, over all its threads.
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

/// How many threads this process has now, where the OS tells (Linux: /proc).
pub fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Waits up to `limit` for the thread count to drop to `at_most`; returns the last count seen.
/// Threads that were joined can take a moment to vanish from /proc.
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
