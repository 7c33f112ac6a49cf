//! Lesson 01: fix the races.
//!
//! Everything here works on one thread. Run it on many and it goes wrong: read the lesson's
//! README.md, then run `grader check 01` to see how. Reach every primitive through `crate::sync`
//! (for example `use crate::sync::atomic::AtomicU64;`), never `std::sync` directly: the model
//! checker can only see what goes through the shim.

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

    /// Adds one.
    pub fn increment(&self) {
        // Read, then write back: two separate steps.
        let current = self.value.load(Ordering::SeqCst);
        self.value.store(current + 1, Ordering::SeqCst);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        let current = self.value.load(Ordering::SeqCst);
        self.value.store(current + n, Ordering::SeqCst);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
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

    /// Never returns the same id twice, whatever the threads; the first id is 1.
    pub fn next_id(&self) -> u64 {
        let id = self.last.load(Ordering::SeqCst) + 1;
        self.last.store(id, Ordering::SeqCst);
        id
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator::new()
    }
}

/// Remembers which items were seen.
pub struct SeenSet {
    items: Mutex<HashSet<u64>>,
}

impl SeenSet {
    pub fn new() -> SeenSet {
        SeenSet {
            items: Mutex::new(HashSet::new()),
        }
    }

    /// True for exactly one caller per item, however many threads race on it.
    pub fn first_visit(&self, item: u64) -> bool {
        let already_seen = self.items.lock().unwrap().contains(&item);
        if already_seen {
            return false;
        }
        self.items.lock().unwrap().insert(item);
        true
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
