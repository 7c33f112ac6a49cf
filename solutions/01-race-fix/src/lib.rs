//! Lesson 01, reference solution: three shared counters that stay right however the threads race.

pub mod sync;

use std::collections::HashSet;

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;

/// A counter many threads can bump at once.
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    pub fn new() -> Counter {
        Counter {
            value: AtomicU64::new(0),
        }
    }

    /// One indivisible read-modify-write: no other thread can slip in between the read and the
    /// write. `Relaxed` is enough because nothing else is published through the counter; we only
    /// need the total to be exact.
    pub fn increment(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

/// Hands out unique ids, starting at 1.
pub struct IdGenerator {
    last: AtomicU64,
}

impl IdGenerator {
    pub fn new() -> IdGenerator {
        IdGenerator {
            last: AtomicU64::new(0),
        }
    }

    /// `fetch_add` returns the value before the addition, and no two callers can see the same one.
    pub fn next_id(&self) -> u64 {
        self.last.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator::new()
    }
}

/// Remembers which items were seen; exactly one caller wins each item.
pub struct SeenSet {
    items: Mutex<HashSet<u64>>,
}

impl SeenSet {
    pub fn new() -> SeenSet {
        SeenSet {
            items: Mutex::new(HashSet::new()),
        }
    }

    /// The check and the insert happen under one lock: `insert` itself says whether the item was
    /// new, so no other thread can insert it between our look and our write.
    pub fn first_visit(&self, item: u64) -> bool {
        self.items.lock().unwrap().insert(item)
    }

    pub fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SeenSet {
    fn default() -> Self {
        SeenSet::new()
    }
}
