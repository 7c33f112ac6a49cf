//! bug: keeps the recency order in a VecDeque of keys and finds a key with `position` on every get, put and remove: each call walks the entries, O(n)
//! caught-by: constant_time_ops
//! whole-file: a different design, not an edit of the solution: the recency order is a VecDeque of keys searched with `position` (its diff would be longer than the file)
//!
//! Lesson 04, a known-buggy variant: correct results, linear time.

pub mod sync;

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

use crate::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

struct Inner<K, V> {
    map: HashMap<K, V>,
    /// Least recently used first.
    order: VecDeque<K>,
    loading: HashSet<K>,
    capacity: usize,
    stats: Stats,
}

impl<K: Eq + Hash + Clone, V: Clone> Inner<K, V> {
    /// BUG: a linear search through the whole order.
    fn touch(&mut self, key: &K) {
        if let Some(i) = self.order.iter().position(|k| k == key) {
            let k = self.order.remove(i).expect("position is in range");
            self.order.push_back(k);
        }
    }

    fn lookup(&mut self, key: &K) -> Option<V> {
        let v = self.map.get(key).cloned()?;
        self.touch(key);
        Some(v)
    }

    fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(v) = self.map.get_mut(&key) {
            *v = value;
            self.touch(&key);
            return None;
        }
        let evicted = if self.map.len() >= self.capacity {
            let k = self
                .order
                .pop_front()
                .expect("a full cache has an oldest key");
            let v = self.map.remove(&k).expect("order and map agree");
            self.stats.evictions += 1;
            Some((k, v))
        } else {
            None
        };
        self.order.push_back(key.clone());
        self.map.insert(key, value);
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
                order: VecDeque::new(),
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
        let mut inner = self.lock();
        let v = inner.map.remove(key)?;
        // BUG: another linear search.
        let i = inner
            .order
            .iter()
            .position(|k| k == key)
            .expect("order and map agree");
        inner.order.remove(i);
        Some(v)
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
