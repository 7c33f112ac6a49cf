//! Lesson 04: a thread-safe LRU cache with single-flight loading.
//!
//! Read the lesson's README.md first, then fill in the bodies below and run `grader check 04`.
//! The public API is fixed (the checks call exactly these functions); everything private is up to
//! you: change the fields, add private structs and helpers. Reach every primitive through
//! `crate::sync` (`Mutex`, `MutexGuard`, `Condvar`, ...), never `std::sync` directly: the model
//! checker can only see what goes through the shim.

pub mod sync;

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::sync::{Condvar, Mutex};

/// What the cache counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// Everything the cache knows, behind one lock. A suggestion: the map holds each key's index in
/// `slots`, and the slots form a doubly linked list in recency order through `newer`/`older`
/// indices. Change it as you like.
#[allow(dead_code)]
struct Inner<K, V> {
    map: HashMap<K, usize>,
    slots: Vec<Slot<K, V>>,
    /// Keys whose value a `get_or_insert_with` caller is computing right now.
    loading: HashSet<K>,
    stats: Stats,
}

#[allow(dead_code)]
struct Slot<K, V> {
    key: K,
    value: V,
    newer: usize,
    older: usize,
}

/// A least-recently-used cache that many threads can share (`&self` everywhere).
#[allow(dead_code)]
pub struct LruCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    /// For callers waiting on another caller's computation.
    loaded: Condvar,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> LruCache<K, V> {
    /// Panics if capacity is 0.
    pub fn new(capacity: usize) -> LruCache<K, V> {
        let _ = capacity;
        todo!("create an empty cache of this capacity (panic if it is 0)")
    }

    /// A clone of the value; the key becomes most recently used. Counts a hit or a miss.
    pub fn get(&self, key: &K) -> Option<V> {
        let _ = key;
        todo!("look the key up, make it the most recently used, count a hit or a miss")
    }

    /// Inserts or replaces; the key becomes most recently used. When a new key would exceed the
    /// capacity, the least recently used entry is evicted and returned.
    pub fn put(&self, key: K, value: V) -> Option<(K, V)> {
        let _ = (key, value);
        todo!("insert or replace the key as the most recently used; evict the least recently used entry if a new key doesn't fit")
    }

    pub fn remove(&self, key: &K) -> Option<V> {
        let _ = key;
        todo!("take the key out of the map and out of the recency order")
    }

    /// The cached value (a hit), or computes it with `f`, caches and returns it (a miss).
    /// Concurrent callers for the same missing key wait for one computation: `f` runs once. A
    /// computation never blocks callers working on other keys. If `f` panics, the panic reaches
    /// its caller, the key stays missing, and the callers that were waiting for it compute it
    /// themselves instead of hanging.
    pub fn get_or_insert_with<F: FnOnce() -> V>(&self, key: K, f: F) -> V {
        let _ = (key, f);
        todo!("return the cached value, or wait for the caller computing it, or compute it yourself without holding the lock")
    }

    pub fn len(&self) -> usize {
        todo!("the number of cached entries")
    }

    pub fn is_empty(&self) -> bool {
        todo!("whether the cache holds no entries")
    }

    pub fn capacity(&self) -> usize {
        todo!("the capacity given to new")
    }

    pub fn stats(&self) -> Stats {
        todo!("a copy of the counters")
    }
}
