//! bug: stamps each entry with a last-used tick and evicts by scanning the whole map for the smallest tick: every eviction is O(n)
//! caught-by: constant_time_ops
//! whole-file: a different design, not an edit of the solution: no recency list at all, entries stamped with a tick and evicted by scanning the map (its diff would be longer than the file)
//!
//! Lesson 04, a known-buggy variant: correct results, O(1) lookups, linear-time eviction.

pub mod sync;

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

struct Inner<K, V> {
    /// Each value with the tick of its last use.
    map: HashMap<K, (V, u64)>,
    tick: u64,
    loading: HashSet<K>,
    capacity: usize,
    stats: Stats,
}

impl<K: Eq + Hash + Clone, V: Clone> Inner<K, V> {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn lookup(&mut self, key: &K) -> Option<V> {
        let now = self.next_tick();
        let (v, used) = self.map.get_mut(key)?;
        *used = now;
        Some(v.clone())
    }

    fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        let now = self.next_tick();
        if let Some(entry) = self.map.get_mut(&key) {
            *entry = (value, now);
            return None;
        }
        let evicted = if self.map.len() >= self.capacity {
            // BUG: a scan over every entry to find the least recently used one.
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
                .expect("a full cache has entries");
            let (v, _) = self.map.remove(&oldest).expect("just found");
            self.stats.evictions += 1;
            Some((oldest, v))
        } else {
            None
        };
        self.map.insert(key, (value, now));
        evicted
    }
}

pub struct LruCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    loaded: Condvar,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> LruCache<K, V> {
    pub fn new(capacity: usize) -> LruCache<K, V> {
        assert!(capacity > 0, "an LRU cache needs a capacity of at least 1");
        LruCache {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                tick: 0,
                loading: HashSet::new(),
                capacity,
                stats: Stats::default(),
            }),
            loaded: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap()
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let mut inner = self.lock();
        let found = inner.lookup(key);
        match found {
            Some(_) => inner.stats.hits += 1,
            None => inner.stats.misses += 1,
        }
        found
    }

    pub fn put(&self, key: K, value: V) -> Option<(K, V)> {
        self.lock().insert(key, value)
    }

    pub fn remove(&self, key: &K) -> Option<V> {
        self.lock().map.remove(key).map(|(v, _)| v)
    }

    pub fn get_or_insert_with<F: FnOnce() -> V>(&self, key: K, f: F) -> V {
        let mut inner = self.lock();
        loop {
            if let Some(v) = inner.lookup(&key) {
                inner.stats.hits += 1;
                return v;
            }
            if !inner.loading.contains(&key) {
                break;
            }
            inner = self.loaded.wait(inner).unwrap();
        }
        inner.loading.insert(key.clone());
        inner.stats.misses += 1;
        drop(inner);
        let mut marker = Marker {
            cache: self,
            key: Some(key),
        };
        let value = f();
        let key = marker.key.take().expect("still armed");
        let mut inner = self.lock();
        inner.loading.remove(&key);
        inner.insert(key, value.clone());
        drop(inner);
        self.loaded.notify_all();
        value
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats
    }
}

struct Marker<'a, K: Eq + Hash + Clone, V: Clone> {
    cache: &'a LruCache<K, V>,
    key: Option<K>,
}

impl<K: Eq + Hash + Clone, V: Clone> Drop for Marker<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut inner = self.cache.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.loading.remove(&key);
            drop(inner);
            self.cache.loaded.notify_all();
        }
    }
}
