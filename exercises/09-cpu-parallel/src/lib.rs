//! Lesson 09: CPU-bound work in parallel: scoped worker threads that claim chunks from a shared
//! counter, thread-local accumulation, padding against false sharing, and Amdahl's law.
//!
//! Read README.md first. Replace every `todo!()`; keep the signatures as they are.

#![allow(unused_variables, dead_code)]

pub mod sync;

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
    todo!("start `threads` scoped workers; each claims the next `chunk` items from a shared atomic index until none are left; put the results back in input order; join every worker before passing on a panic")
}

/// Sum of `f` over the items on `threads` workers, each accumulating locally and combining once.
/// Wrapping arithmetic.
pub fn par_sum<T, F>(items: &[T], threads: usize, f: F) -> u64
where
    T: Sync,
    F: Fn(&T) -> u64 + Sync,
{
    todo!("sum f over the items on `threads` workers: each keeps a local (wrapping) total and adds it to the shared one once, at the end")
}

/// A value alone on its cache line(s): alignment at least 128 bytes.
#[derive(Debug, Default)]
pub struct CachePadded<T> {
    pub value: T,
}

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        todo!("give access to the padded value")
    }
}

/// A counter split into per-thread shards, each padded, so threads adding to different shards never
/// contend for a cache line.
pub struct ShardedCounter {
    // Your fields here: one padded atomic per shard.
}

impl ShardedCounter {
    /// A counter with `shards` shards, all 0.
    pub fn new(shards: usize) -> ShardedCounter {
        todo!("one CachePadded atomic per shard, all starting at 0")
    }

    /// Relaxed add to one shard. Panics if `shard` is out of range.
    pub fn add(&self, shard: usize, n: u64) {
        todo!("add n to that shard in one atomic step (Relaxed is enough); panic if shard is out of range")
    }

    /// The total over every shard (wrapping).
    pub fn sum(&self) -> u64 {
        todo!("add up every shard")
    }
}

/// Amdahl's law: 1 / (s + (1 - s) / n). Panics unless 0 <= s <= 1 and n >= 1.
pub fn amdahl_speedup(serial_fraction: f64, workers: usize) -> f64 {
    todo!("the speedup on `workers` workers of a program whose serial part is `serial_fraction`")
}

/// Karp–Flatt: the serial fraction implied by a measured speedup. Panics if n < 2 or speedup <= 0.
pub fn serial_fraction(speedup: f64, workers: usize) -> f64 {
    todo!("(1/speedup - 1/n) / (1 - 1/n)")
}
