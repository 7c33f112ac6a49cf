//! Lesson 09: CPU-bound work in parallel: scoped worker threads that claim chunks from a shared
//! counter, thread-local accumulation, padding against false sharing, and Amdahl's law.

pub mod sync;

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::sync::thread;
use std::panic;

/// Applies `f` to every item on `threads` scoped worker threads (the caller only waits), which
/// claim chunks of `chunk` consecutive items from a shared counter (so a slow chunk does not hold up
/// the rest). Results in input order. Panics if `threads` or `chunk` is 0. A panic in `f` reaches the
/// caller after every worker has stopped.
pub fn par_map<T, R, F>(items: &[T], threads: usize, chunk: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    assert!(threads > 0, "par_map: threads must be at least 1");
    assert!(chunk > 0, "par_map: chunk must be at least 1");
    let len = items.len();
    let next = AtomicUsize::new(0);
    let (next, f) = (&next, &f);
    let parts: Vec<Vec<(usize, Vec<R>)>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        // One atomic step claims a chunk: no two workers can get the same start.
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= len {
                            break done;
                        }
                        let end = len.min(start + chunk);
                        done.push((start, items[start..end].iter().map(f).collect()));
                    }
                })
            })
            .collect();
        // Join every worker before passing a panic on, so the caller sees it only once all stopped.
        let mut parts = Vec::with_capacity(threads);
        let mut failure = None;
        for worker in workers {
            match worker.join() {
                Ok(part) => parts.push(part),
                Err(payload) => {
                    failure.get_or_insert(payload);
                }
            }
        }
        if let Some(payload) = failure {
            panic::resume_unwind(payload);
        }
        parts
    });
    let mut chunks: Vec<(usize, Vec<R>)> = parts.into_iter().flatten().collect();
    chunks.sort_unstable_by_key(|(start, _)| *start);
    chunks
        .into_iter()
        .flat_map(|(_, results)| results)
        .collect()
}

/// Sum of `f` over the items on `threads` workers, each accumulating locally and combining once.
/// Wrapping arithmetic.
pub fn par_sum<T, F>(items: &[T], threads: usize, f: F) -> u64
where
    T: Sync,
    F: Fn(&T) -> u64 + Sync,
{
    assert!(threads > 0, "par_sum: threads must be at least 1");
    let total = AtomicU64::new(0);
    let chunk = items.len().div_ceil(threads * 8).max(1);
    let next = AtomicUsize::new(0);
    let (total, next, f) = (&total, &next, &f);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut local = 0u64;
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= items.len() {
                            break;
                        }
                        let end = items.len().min(start + chunk);
                        for item in &items[start..end] {
                            local = local.wrapping_add(f(item));
                        }
                    }
                    // Combine once, in one atomic step (fetch_add wraps).
                    total.fetch_add(local, Ordering::Relaxed);
                })
            })
            .collect();
        let mut failure = None;
        for worker in workers {
            if let Err(payload) = worker.join() {
                failure.get_or_insert(payload);
            }
        }
        if let Some(payload) = failure {
            panic::resume_unwind(payload);
        }
    });
    total.load(Ordering::Relaxed)
}

/// A value alone on its cache line(s): alignment at least 128 bytes.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T> {
    pub value: T,
}

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A counter split into per-thread shards, each padded, so threads adding to different shards never
/// contend for a cache line.
pub struct ShardedCounter {
    shards: Vec<CachePadded<AtomicU64>>,
}

impl ShardedCounter {
    pub fn new(shards: usize) -> ShardedCounter {
        ShardedCounter {
            shards: (0..shards)
                .map(|_| CachePadded {
                    value: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Relaxed add to one shard. Panics if `shard` is out of range.
    pub fn add(&self, shard: usize, n: u64) {
        self.shards[shard].fetch_add(n, Ordering::Relaxed);
    }

    pub fn sum(&self) -> u64 {
        self.shards.iter().fold(0u64, |sum, shard| {
            sum.wrapping_add(shard.load(Ordering::Relaxed))
        })
    }
}

/// Amdahl's law: 1 / (s + (1 - s) / n). Panics unless 0 <= s <= 1 and n >= 1.
pub fn amdahl_speedup(serial_fraction: f64, workers: usize) -> f64 {
    assert!(
        (0.0..=1.0).contains(&serial_fraction),
        "amdahl_speedup: the serial fraction must be between 0 and 1, got {serial_fraction}"
    );
    assert!(workers >= 1, "amdahl_speedup: workers must be at least 1");
    let s = serial_fraction;
    1.0 / (s + (1.0 - s) / workers as f64)
}

/// Karp–Flatt: the serial fraction implied by a measured speedup. Panics if n < 2 or speedup <= 0.
pub fn serial_fraction(speedup: f64, workers: usize) -> f64 {
    assert!(workers >= 2, "serial_fraction: workers must be at least 2");
    assert!(
        speedup > 0.0,
        "serial_fraction: the speedup must be positive, got {speedup}"
    );
    let n = workers as f64;
    (1.0 / speedup - 1.0 / n) / (1.0 - 1.0 / n)
}
