//! bug: get_or_insert_with checks under the lock, unlocks, computes, then locks and checks again before inserting (double-checked locking): two callers that both miss both run f
//! caught-by: model_single_flight_two_threads, single_flight_8_threads
//!
//! Lesson 04, a known-buggy variant of the reference solution (see the bug line above).

pub mod sync;

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::sync::{Condvar, Mutex, MutexGuard};

/// What the cache counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// "No slot": the end of the recency list.
const NIL: usize = usize::MAX;

/// One cached entry and its neighbours in the recency list (indices into `Inner::slots`).
struct Slot<K, V> {
    key: K,
    value: V,
    /// The next more recently used entry.
    newer: usize,
    /// The next less recently used entry.
    older: usize,
}

/// The state one lock protects. The invariant that spans it: `map` and the list through `slots`
/// hold exactly the same keys, `map[k]` is the index of k's slot, and `slots.len() <= capacity`.
struct Inner<K, V> {
    map: HashMap<K, usize>,
    /// Dense: removing an entry moves the last slot into the hole, so there are no free slots.
    slots: Vec<Slot<K, V>>,
    /// Most recently used, or NIL when empty.
    newest: usize,
    /// Least recently used (the next to evict), or NIL when empty.
    oldest: usize,
    /// Keys whose value a `get_or_insert_with` caller is computing right now.
    loading: HashSet<K>,
    capacity: usize,
    stats: Stats,
}

impl<K: Eq + Hash + Clone, V> Inner<K, V> {
    /// Takes slot `i` out of the recency list (it stays in `slots` and `map`).
    fn unlink(&mut self, i: usize) {
        let (newer, older) = (self.slots[i].newer, self.slots[i].older);
        match newer {
            NIL => self.newest = older,
            n => self.slots[n].older = older,
        }
        match older {
            NIL => self.oldest = newer,
            o => self.slots[o].newer = newer,
        }
    }

    /// Puts slot `i` at the most recently used end of the list.
    fn link_newest(&mut self, i: usize) {
        self.slots[i].newer = NIL;
        self.slots[i].older = self.newest;
        match self.newest {
            NIL => self.oldest = i,
            n => self.slots[n].newer = i,
        }
        self.newest = i;
    }

    /// Marks slot `i` most recently used: two pointer moves, no scan.
    fn touch(&mut self, i: usize) {
        if self.newest != i {
            self.unlink(i);
            self.link_newest(i);
        }
    }

    /// The value of `key`, refreshing its recency. Counts nothing: the caller decides.
    fn lookup(&mut self, key: &K) -> Option<&V> {
        let i = *self.map.get(key)?;
        self.touch(i);
        Some(&self.slots[i].value)
    }

    /// Removes slot `i` from the list, the map and the slots; returns its entry.
    fn take(&mut self, i: usize) -> (K, V) {
        self.unlink(i);
        self.map.remove(&self.slots[i].key);
        let slot = self.slots.swap_remove(i);
        if i < self.slots.len() {
            // The former last slot now lives at `i`: repoint its neighbours and its map entry.
            let (newer, older) = (self.slots[i].newer, self.slots[i].older);
            match newer {
                NIL => self.newest = i,
                n => self.slots[n].older = i,
            }
            match older {
                NIL => self.oldest = i,
                o => self.slots[o].newer = i,
            }
            if let Some(index) = self.map.get_mut(&self.slots[i].key) {
                *index = i;
            }
        }
        (slot.key, slot.value)
    }

    /// Inserts or replaces `key` as the most recently used entry. Only a new key can evict, and
    /// only when the cache is full.
    fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&i) = self.map.get(&key) {
            self.slots[i].value = value;
            self.touch(i);
            return None;
        }
        let evicted = if self.slots.len() >= self.capacity {
            self.stats.evictions += 1;
            Some(self.take(self.oldest))
        } else {
            None
        };
        let i = self.slots.len();
        self.slots.push(Slot {
            key: key.clone(),
            value,
            newer: NIL,
            older: NIL,
        });
        self.map.insert(key, i);
        self.link_newest(i);
        evicted
    }
}

/// A least-recently-used cache that many threads can share (`&self` everywhere).
pub struct LruCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    /// Notified whenever a computation ends, well or by a panic.
    loaded: Condvar,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> LruCache<K, V> {
    /// Panics if capacity is 0.
    pub fn new(capacity: usize) -> LruCache<K, V> {
        assert!(capacity > 0, "an LRU cache needs a capacity of at least 1");
        LruCache {
            inner: Mutex::new(Inner {
                map: HashMap::with_capacity(capacity.min(1 << 16)),
                slots: Vec::with_capacity(capacity.min(1 << 16)),
                newest: NIL,
                oldest: NIL,
                loading: HashSet::new(),
                capacity,
                stats: Stats::default(),
            }),
            loaded: Condvar::new(),
            capacity,
        }
    }

    /// The one place that locks. A poisoned lock means some thread panicked halfway through an
    /// update (a `Hash`, `Eq` or `Clone` impl that panics): the map and the list may disagree, so
    /// going on would be worse than stopping. `f` of `get_or_insert_with` never runs under the
    /// lock, so a panicking computation cannot poison it.
    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner
            .lock()
            .expect("the cache's lock is poisoned: a thread panicked while updating it")
    }

    /// A clone of the value; the key becomes most recently used. Counts a hit or a miss.
    pub fn get(&self, key: &K) -> Option<V> {
        let mut inner = self.lock();
        let found = inner.lookup(key).cloned();
        // Counted under the same guard as the lookup: hits + misses always equals the lookups.
        match found {
            Some(_) => inner.stats.hits += 1,
            None => inner.stats.misses += 1,
        }
        found
    }

    /// Inserts or replaces; the key becomes most recently used. When a new key would exceed the
    /// capacity, the least recently used entry is evicted and returned.
    pub fn put(&self, key: K, value: V) -> Option<(K, V)> {
        self.lock().insert(key, value)
    }

    pub fn remove(&self, key: &K) -> Option<V> {
        let mut inner = self.lock();
        let i = *inner.map.get(key)?;
        Some(inner.take(i).1)
    }

    /// The cached value (a hit), or computes it with `f`, caches and returns it (a miss).
    /// Concurrent callers for the same missing key wait for one computation: `f` runs once. A
    /// computation never blocks callers working on other keys. If `f` panics, the panic reaches
    /// its caller, the key stays missing, and the callers that were waiting for it compute it
    /// themselves instead of hanging.
    pub fn get_or_insert_with<F: FnOnce() -> V>(&self, key: K, f: F) -> V {
        let mut inner = self.lock();
        if let Some(value) = inner.lookup(&key) {
            let value = value.clone();
            inner.stats.hits += 1;
            return value;
        }
        inner.stats.misses += 1;
        drop(inner);

        // BUG: nothing tells other callers that this key is being computed: each one that
        // checks before our insert misses too and runs its own f.
        let value = f();

        let mut inner = self.lock();
        // The second check of double-checked locking: it avoids a second insert, not a second
        // computation.
        if let Some(existing) = inner.lookup(&key) {
            return existing.clone();
        }
        inner.insert(key, value.clone());
        value
    }

    pub fn len(&self) -> usize {
        self.lock().slots.len()
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

/// Unmarks a key whose computation did not finish (its `f` panicked) and wakes the waiters, who
/// then find the key neither cached nor loading and compute it themselves.
struct LoadingMarker<'a, K: Eq + Hash + Clone, V: Clone> {
    cache: &'a LruCache<K, V>,
    /// `None` once the computation finished normally.
    key: Option<K>,
}

impl<K: Eq + Hash + Clone, V: Clone> Drop for LoadingMarker<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // We are unwinding: panicking again here would abort the process, so take the state
            // even if the lock is poisoned; removing a key from a set keeps any invariant.
            let mut inner = self
                .cache
                .inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            inner.loading.remove(&key);
            drop(inner);
            self.cache.loaded.notify_all();
        }
    }
}
