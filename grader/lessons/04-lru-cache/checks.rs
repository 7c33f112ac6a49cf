//! Lesson 04 checks: a thread-safe LRU cache with single-flight loading.
//!
//! Compiled by the grader into a harness together with the crate under test (`lru_cache`).
//! Everything is compared with `Model`, a plain LRU cache of a few lines (a Vec in recency order),
//! run one operation at a time: the unit checks on long random sequences, the model checks over
//! every interleaving of two threads.

use grader_harness::prelude::*;
use lru_cache::{LruCache, Stats};
use std::fmt;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::eviction_order),
    check!(unit, std_checks::capacity_one),
    check!(unit, std_checks::remove_entries),
    check!(unit, std_checks::stats_counted),
    check!(unit, std_checks::load_one_thread),
    check!(unit, std_checks::matches_reference_model),
    check!(stress, std_checks::random_ops_8_threads),
    check!(stress, std_checks::single_flight_8_threads),
    check!(timing, std_checks::constant_time_ops, measures = cpu),
    check!(
        timing,
        std_checks::slow_load_blocks_no_other_key,
        measures = wall
    ),
    check!(timing, std_checks::waiters_share_the_load, measures = wall),
    check!(
        timing,
        std_checks::panicking_load_wakes_waiters,
        measures = wall
    ),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::model_linearizable_two_threads),
    check!(model, model_checks::model_single_flight_two_threads),
    check!(model, model_checks::model_panicking_load_two_threads),
];

// ---------------------------------------------------------------------------------------------
// The reference: operations, their results, and a plain sequential LRU model.

/// One call on the cache (keys and values are u64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get(u64),
    Put(u64, u64),
    Remove(u64),
    /// `get_or_insert_with(key, || value)`.
    Load(u64, u64),
    Len,
}

/// What a call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    Value(Option<u64>),
    Evicted(Option<(u64, u64)>),
    Loaded { value: u64, computed: bool },
    Len(usize),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Get(k) => write!(f, "get({k})"),
            Op::Put(k, v) => write!(f, "put({k}, {v})"),
            Op::Remove(k) => write!(f, "remove({k})"),
            Op::Load(k, v) => write!(f, "get_or_insert_with({k}, || {v})"),
            Op::Len => write!(f, "len()"),
        }
    }
}

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Res::Value(v) => write!(f, "{v:?}"),
            Res::Evicted(e) => write!(f, "{e:?}"),
            Res::Loaded {
                value,
                computed: true,
            } => write!(f, "{value} (f ran)"),
            Res::Loaded {
                value,
                computed: false,
            } => write!(f, "{value} (f did not run)"),
            Res::Len(n) => write!(f, "{n}"),
        }
    }
}

fn show_stats(s: Stats) -> String {
    format!(
        "hits {}, misses {}, evictions {}",
        s.hits, s.misses, s.evictions
    )
}

/// The obvious LRU: entries in a Vec, least recently used first. O(n), single-threaded, clearly right.
struct Model {
    capacity: usize,
    entries: Vec<(u64, u64)>,
    stats: Stats,
}

impl Model {
    fn new(capacity: usize) -> Model {
        Model {
            capacity,
            entries: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Moves `key` to the most recent end; its value.
    fn touch(&mut self, key: u64) -> Option<u64> {
        let i = self.entries.iter().position(|e| e.0 == key)?;
        let e = self.entries.remove(i);
        self.entries.push(e);
        Some(e.1)
    }

    fn insert(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        if self.touch(key).is_some() {
            self.entries.last_mut().unwrap().1 = value;
            return None;
        }
        let evicted = (self.entries.len() == self.capacity).then(|| self.entries.remove(0));
        if evicted.is_some() {
            self.stats.evictions += 1;
        }
        self.entries.push((key, value));
        evicted
    }

    fn apply(&mut self, op: Op) -> Res {
        match op {
            Op::Get(k) => {
                let v = self.touch(k);
                if v.is_some() {
                    self.stats.hits += 1
                } else {
                    self.stats.misses += 1
                }
                Res::Value(v)
            }
            Op::Put(k, v) => Res::Evicted(self.insert(k, v)),
            Op::Remove(k) => {
                let i = self.entries.iter().position(|e| e.0 == k);
                Res::Value(i.map(|i| self.entries.remove(i).1))
            }
            Op::Load(k, v) => match self.touch(k) {
                Some(value) => {
                    self.stats.hits += 1;
                    Res::Loaded {
                        value,
                        computed: false,
                    }
                }
                None => {
                    self.stats.misses += 1;
                    self.insert(k, v);
                    Res::Loaded {
                        value: v,
                        computed: true,
                    }
                }
            },
            Op::Len => Res::Len(self.entries.len()),
        }
    }
}

/// Runs `op` on the cache under test.
fn apply(cache: &LruCache<u64, u64>, op: Op) -> Res {
    match op {
        Op::Get(k) => Res::Value(cache.get(&k)),
        Op::Put(k, v) => Res::Evicted(cache.put(k, v)),
        Op::Remove(k) => Res::Value(cache.remove(&k)),
        Op::Load(k, v) => {
            let mut computed = false;
            let value = cache.get_or_insert_with(k, || {
                computed = true;
                v
            });
            Res::Loaded { value, computed }
        }
        Op::Len => Res::Len(cache.len()),
    }
}

fn show_history(calls: &[(Op, Res)]) -> String {
    let parts: Vec<String> = calls
        .iter()
        .map(|(op, res)| format!("{op} -> {res}"))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Hint numbers (curriculum.toml).
const HINT_LRU: u32 = 1;
#[cfg_attr(loom, allow(dead_code))]
const HINT_REENTRANT: u32 = 2;
#[cfg_attr(loom, allow(dead_code))]
const HINT_O1: u32 = 3;
const HINT_SINGLE_FLIGHT: u32 = 4;
const HINT_PANIC: u32 = 5;

#[cfg_attr(loom, allow(dead_code))]
fn lru_rule(property: &str, observed: String) -> Finding {
    Finding::new(property.to_string())
        .observed(observed)
        .why("An LRU cache orders its entries by last use: get, put and a get_or_insert_with hit all move the key to the most recent end, and a *new* key arriving in a full cache pushes out the entry at the other end. Replacing a key that is already cached never evicts anything.")
        .fix("After every access, move the key to the most recent end of the recency list; on a put of a new key into a full cache, evict the least recent entry first; on a put of an existing key, only replace its value and refresh it.")
        .hint(HINT_LRU)
}

fn stats_rule(observed: String) -> Finding {
    Finding::new("the counters say what happened: a lookup that finds its key is a hit, one that doesn't is a miss, each eviction counts once")
        .observed(observed)
        .why("get counts a hit or a miss; get_or_insert_with counts a hit when it returns a cached value (also after waiting for another caller's computation) and a miss when its f runs (also when f panics); put and remove count nothing except the evictions a new key causes.")
        .fix("Update the counters inside the same critical section as the lookup or the eviction they describe.")
        .hint(HINT_LRU)
}

// ---------------------------------------------------------------------------------------------
// Unit, stress and timing checks.

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use std::collections::VecDeque;
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Barrier, Mutex};
    use std::thread;

    // -- a watchdog: a call that never returns becomes a finding, not a silent time-out ----------

    /// The call the check is making now, for the watchdog's report.
    static STEP: Mutex<String> = Mutex::new(String::new());

    fn step(text: impl Into<String>) {
        *STEP.lock().unwrap_or_else(|e| e.into_inner()) = text.into();
    }

    /// Runs `body` on a helper thread; if it has not finished after `limit`, reports the call it
    /// was stuck in. (The harness exits when the check ends, so the stuck thread goes with it.)
    fn watchdog(limit: Duration, body: fn() -> Outcome) -> Outcome {
        step("the start of the check");
        match within("check", limit, body) {
            Ran::Returned(outcome, _) => outcome,
            Ran::Panicked(payload) => resume_unwind(payload),
            Ran::Hung => {
                let stuck = STEP.lock().unwrap_or_else(|e| e.into_inner()).clone();
                Err(Finding::new("every call returns")
                    .observed(format!("the check was still waiting after {} s, in: {stuck}", limit.as_secs()))
                    .why("A call that never returns on one thread is a thread waiting for itself. std's Mutex is not re-entrant: a method that calls a helper which locks the Mutex again, while the caller still holds the guard, blocks forever. The same happens to a get_or_insert_with that waits for a computation nobody will finish (a loading mark left behind).")
                    .fix("Lock once per public method and pass `&mut` to the guarded state into private helpers instead of letting them lock. Make sure every loading mark is removed, and its waiters notified, however the computation ends.")
                    .hint(HINT_REENTRANT))
            }
        }
    }

    fn unit(body: fn() -> Outcome) -> Outcome {
        watchdog(Duration::from_secs(8), body)
    }

    // -- unit ----------------------------------------------------------------------------------

    /// Applies `op` and compares with `expected`; `why` says what the step is about.
    fn expect(
        cache: &LruCache<u64, u64>,
        done: &mut Vec<(Op, Res)>,
        op: Op,
        expected: Res,
        property: &str,
    ) -> Outcome {
        step(format!("{op}, after {}", show_history(done)));
        let got = apply(cache, op);
        let before = show_history(done);
        done.push((op, got));
        ensure(got == expected, || {
            lru_rule(
                property,
                format!("after {before}, {op} returned {got}, expected {expected}"),
            )
        })
    }

    pub fn eviction_order() -> Outcome {
        unit(|| {
            let c = LruCache::new(3);
            let h = &mut Vec::new();
            let order = "get and put make a key the most recently used; a new key in a full cache evicts the least recently used one";
            ensure(c.capacity() == 3 && c.is_empty(), || {
                Finding::new("a new cache is empty and knows its capacity").observed(format!(
                    "LruCache::new(3): capacity() = {}, len() = {}, is_empty() = {}",
                    c.capacity(),
                    c.len(),
                    c.is_empty()
                ))
            })?;
            for k in 1..=3 {
                expect(
                    &c,
                    h,
                    Op::Put(k, k * 10),
                    Res::Evicted(None),
                    "a cache with room evicts nothing",
                )?;
            }
            expect(&c, h, Op::Len, Res::Len(3), "len counts the entries")?;
            expect(
                &c,
                h,
                Op::Get(1),
                Res::Value(Some(10)),
                "get returns what put stored",
            )?;
            // Recency now, oldest first: 2, 3, 1.
            expect(&c, h, Op::Put(4, 40), Res::Evicted(Some((2, 20))), order)?;
            // 3, 1, 4. Replacing 3 refreshes it and evicts nothing: 1, 4, 3.
            expect(
                &c,
                h,
                Op::Put(3, 33),
                Res::Evicted(None),
                "replacing a key that is already cached evicts nothing",
            )?;
            expect(
                &c,
                h,
                Op::Len,
                Res::Len(3),
                "a full cache holds exactly `capacity` entries",
            )?;
            expect(&c, h, Op::Put(5, 50), Res::Evicted(Some((1, 10))), order)?;
            // 4, 3, 5. A get refreshes 4: 3, 5, 4.
            expect(
                &c,
                h,
                Op::Get(4),
                Res::Value(Some(40)),
                "get returns what put stored",
            )?;
            expect(&c, h, Op::Put(6, 60), Res::Evicted(Some((3, 33))), order)?;
            // 5, 4, 6.
            expect(
                &c,
                h,
                Op::Get(3),
                Res::Value(None),
                "an evicted key is gone",
            )?;
            expect(&c, h, Op::Put(7, 70), Res::Evicted(Some((5, 50))), order)?;
            expect(&c, h, Op::Put(8, 80), Res::Evicted(Some((4, 40))), order)?;
            expect(
                &c,
                h,
                Op::Len,
                Res::Len(3),
                "a full cache holds exactly `capacity` entries",
            )
        })
    }

    pub fn capacity_one() -> Outcome {
        unit(|| {
            let c = LruCache::new(1);
            let h = &mut Vec::new();
            let one = "a cache of capacity 1 keeps only the last key used";
            expect(
                &c,
                h,
                Op::Put(1, 10),
                Res::Evicted(None),
                "a cache with room evicts nothing",
            )?;
            expect(
                &c,
                h,
                Op::Put(1, 11),
                Res::Evicted(None),
                "replacing a key that is already cached evicts nothing",
            )?;
            expect(
                &c,
                h,
                Op::Get(1),
                Res::Value(Some(11)),
                "put replaces the value of a cached key",
            )?;
            expect(&c, h, Op::Put(2, 20), Res::Evicted(Some((1, 11))), one)?;
            expect(&c, h, Op::Len, Res::Len(1), one)?;
            expect(&c, h, Op::Get(1), Res::Value(None), one)?;
            expect(
                &c,
                h,
                Op::Load(3, 30),
                Res::Loaded {
                    value: 30,
                    computed: true,
                },
                "get_or_insert_with computes a missing key",
            )?;
            expect(&c, h, Op::Len, Res::Len(1), one)?;
            expect(
                &c,
                h,
                Op::Get(2),
                Res::Value(None),
                "get_or_insert_with evicts like put when the cache is full",
            )?;
            expect(
                &c,
                h,
                Op::Load(3, 31),
                Res::Loaded {
                    value: 30,
                    computed: false,
                },
                "get_or_insert_with returns a cached value without running f",
            )?;
            let s = c.stats();
            let want = Stats {
                hits: 2,
                misses: 3,
                evictions: 2,
            };
            ensure(s == want, || {
                stats_rule(format!(
                    "after {}: stats() = {}, expected {}",
                    show_history(h),
                    show_stats(s),
                    show_stats(want)
                ))
            })?;
            step("LruCache::new(0)");
            let zero = catch_unwind(|| LruCache::<u64, u64>::new(0));
            ensure(zero.is_err(), || {
                Finding::new("LruCache::new(0) panics")
                    .observed("LruCache::new(0) returned a cache")
                    .why("A cache that can hold nothing can't keep the value it was just given: every put would have to evict the key it inserts. The API says a capacity of 0 is a caller's mistake.")
                    .fix("assert!(capacity > 0, \"...\") at the top of new.")
            })
        })
    }

    pub fn remove_entries() -> Outcome {
        unit(|| {
            let c = LruCache::new(3);
            let h = &mut Vec::new();
            let order = "removing an entry leaves the others in their recency order";
            for k in 1..=3 {
                expect(
                    &c,
                    h,
                    Op::Put(k, k * 10),
                    Res::Evicted(None),
                    "a cache with room evicts nothing",
                )?;
            }
            let before = c.stats();
            // Remove from the middle, then from both ends of the recency order.
            expect(
                &c,
                h,
                Op::Remove(2),
                Res::Value(Some(20)),
                "remove returns the value it takes out",
            )?;
            expect(
                &c,
                h,
                Op::Remove(2),
                Res::Value(None),
                "a removed key is gone",
            )?;
            expect(&c, h, Op::Len, Res::Len(2), "len counts the entries")?;
            expect(
                &c,
                h,
                Op::Put(4, 40),
                Res::Evicted(None),
                "after a remove there is room again: nothing is evicted",
            )?;
            expect(&c, h, Op::Put(5, 50), Res::Evicted(Some((1, 10))), order)?;
            // 3, 4, 5: remove the newest and the oldest.
            expect(
                &c,
                h,
                Op::Remove(5),
                Res::Value(Some(50)),
                "remove returns the value it takes out",
            )?;
            expect(
                &c,
                h,
                Op::Remove(3),
                Res::Value(Some(30)),
                "remove returns the value it takes out",
            )?;
            expect(
                &c,
                h,
                Op::Put(6, 60),
                Res::Evicted(None),
                "after a remove there is room again: nothing is evicted",
            )?;
            expect(
                &c,
                h,
                Op::Put(7, 70),
                Res::Evicted(None),
                "after a remove there is room again: nothing is evicted",
            )?;
            expect(&c, h, Op::Put(8, 80), Res::Evicted(Some((4, 40))), order)?;
            for k in [6, 7, 8] {
                expect(
                    &c,
                    h,
                    Op::Remove(k),
                    Res::Value(Some(k * 10)),
                    "remove returns the value it takes out",
                )?;
            }
            expect(
                &c,
                h,
                Op::Remove(9),
                Res::Value(None),
                "removing a key that isn't there returns None",
            )?;
            ensure(c.is_empty() && c.len() == 0, || {
                lru_rule(
                    "a cache whose every key was removed is empty",
                    format!(
                        "after {}: len() = {}, is_empty() = {}",
                        show_history(h),
                        c.len(),
                        c.is_empty()
                    ),
                )
            })?;
            let after = c.stats();
            let want = Stats {
                evictions: before.evictions + 2,
                ..before
            };
            ensure(after == want, || {
                stats_rule(format!("remove changed the counters: after {}: stats() = {}, expected {} (2 evictions, no hit or miss)", show_history(h), show_stats(after), show_stats(want)))
            })?;
            expect(
                &c,
                h,
                Op::Put(1, 11),
                Res::Evicted(None),
                "an emptied cache works like a new one",
            )?;
            expect(
                &c,
                h,
                Op::Get(1),
                Res::Value(Some(11)),
                "an emptied cache works like a new one",
            )
        })
    }

    pub fn stats_counted() -> Outcome {
        unit(|| {
            let c = LruCache::new(2);
            let ops = [
                Op::Get(1),      // miss
                Op::Put(1, 10),  //
                Op::Get(1),      // hit
                Op::Put(2, 20),  //
                Op::Put(3, 30),  // evicts 1
                Op::Get(1),      // miss
                Op::Put(2, 22),  // replaces: nothing counted
                Op::Remove(3),   // nothing counted
                Op::Remove(3),   // nothing counted
                Op::Load(5, 50), // miss, f runs
                Op::Load(5, 51), // hit
                Op::Load(6, 60), // miss, evicts 2
                Op::Get(6),      // hit
                Op::Len,         // nothing counted
            ];
            let mut model = Model::new(2);
            let mut h = Vec::new();
            for op in ops {
                step(format!("{op}, after {}", show_history(&h)));
                let got = apply(&c, op);
                let want = model.apply(op);
                h.push((op, got));
                ensure(got == want, || {
                    lru_rule(
                        "each call returns what an LRU cache returns",
                        format!(
                            "{op} returned {got}, expected {want}, in {}",
                            show_history(&h)
                        ),
                    )
                })?;
                let (s, m) = (c.stats(), model.stats);
                ensure(s == m, || {
                    stats_rule(format!(
                        "after {}: stats() = {}, expected {}",
                        show_history(&h),
                        show_stats(s),
                        show_stats(m)
                    ))
                })?;
            }
            let s = c.stats();
            ensure(
                s == (Stats {
                    hits: 3,
                    misses: 4,
                    evictions: 2,
                }),
                || stats_rule(format!("final stats() = {}", show_stats(s))),
            )
        })
    }

    pub fn load_one_thread() -> Outcome {
        unit(|| {
            let c = LruCache::new(2);
            step("get_or_insert_with(1, || 10) on an empty cache");
            let runs = AtomicUsize::new(0);
            let v = c.get_or_insert_with(1, || {
                runs.fetch_add(1, SeqCst);
                10
            });
            ensure(
                v == 10 && runs.load(SeqCst) == 1 && c.get(&1) == Some(10),
                || {
                    Finding::new("get_or_insert_with computes a missing key once and caches the value")
                    .observed(format!("on an empty cache it returned {v}, ran f {} time(s), and get(1) then gave {:?}", runs.load(SeqCst), c.get(&1)))
                    .hint(HINT_SINGLE_FLIGHT)
                },
            )?;
            // A panicking f: the panic reaches the caller, the key stays missing, a miss is counted.
            let before = c.stats();
            step("get_or_insert_with(2, f) where f panics");
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                c.get_or_insert_with(2, || resume_unwind(Box::new("the computation failed")))
            }));
            ensure(outcome.is_err(), || {
                Finding::new("a panic in f reaches the caller of get_or_insert_with")
                    .observed(format!("get_or_insert_with(2, f) with an f that panics returned {:?}", outcome.as_ref().ok()))
                    .why("The caller asked for a value and none was computed: the only honest answer is the panic itself. Catching it inside the cache would have to invent a value.")
                    .fix("Let the panic unwind out of get_or_insert_with; clean up on the way out with a guard whose Drop runs during unwinding.")
                    .hint(HINT_PANIC)
            })?;
            step("get(2) after get_or_insert_with(2, f) panicked");
            let after_panic = c.get(&2);
            let len = c.len();
            ensure(after_panic.is_none() && len == 1, || {
                Finding::new("a computation that panicked leaves its key missing")
                    .observed(format!("after f panicked for key 2: get(2) = {after_panic:?}, len() = {len} (expected None and 1)"))
                    .hint(HINT_PANIC)
            })?;
            let s = c.stats();
            let want = Stats {
                misses: before.misses + 2,
                ..before
            };
            ensure(s == want, || {
                stats_rule(format!("a get_or_insert_with whose f panicked, then get(2) (a miss): stats() went from {} to {}, expected {}", show_stats(before), show_stats(s), show_stats(want)))
            })?;
            step("get_or_insert_with(2, || 20) on the same thread, after an f for key 2 panicked");
            let v = c.get_or_insert_with(2, || 20);
            ensure(v == 20 && c.get(&2) == Some(20), || {
                Finding::new("after a panicking computation the key can be computed again")
                    .observed(format!(
                        "get_or_insert_with(2, || 20) returned {v}, get(2) then gave {:?}",
                        c.get(&2)
                    ))
                    .hint(HINT_PANIC)
            })
        })
    }

    fn random_op(rng: &mut Rng, keys: u64, i: u64) -> Op {
        let k = rng.below(keys);
        let v = k * 1000 + i % 1000;
        match rng.below(100) {
            0..=29 => Op::Get(k),
            30..=64 => Op::Put(k, v),
            65..=74 => Op::Remove(k),
            75..=94 => Op::Load(k, v),
            _ => Op::Len,
        }
    }

    pub fn matches_reference_model() -> Outcome {
        unit(|| {
            const SEQUENCES: u64 = 150;
            const OPS: u64 = 600;
            for seed in 1..=SEQUENCES {
                let mut rng = Rng::seeded(seed);
                let capacity = 1 + rng.below(6) as usize;
                let keys = capacity as u64 + 1 + rng.below(6);
                let cache = LruCache::new(capacity);
                let mut model = Model::new(capacity);
                let mut recent: VecDeque<(Op, Res)> = VecDeque::new();
                for i in 0..OPS {
                    let op = random_op(&mut rng, keys, i);
                    step(format!(
                        "{op}, call {} of random sequence {seed} (capacity {capacity})",
                        i + 1
                    ));
                    let got = apply(&cache, op);
                    let want = model.apply(op);
                    let before = show_history(recent.make_contiguous());
                    if recent.len() == 10 {
                        recent.pop_front();
                    }
                    recent.push_back((op, got));
                    ensure(got == want, || {
                        lru_rule(
                            "the cache answers every call like a plain LRU cache would",
                            format!("random sequence {seed} (capacity {capacity}, keys 0..{keys}), call {}: {op} returned {got}, the reference model says {want}; the calls just before: {before}", i + 1),
                        )
                    })?;
                    let (s, m) = (cache.stats(), model.stats);
                    ensure(s == m, || {
                        stats_rule(format!("random sequence {seed} (capacity {capacity}), after call {} ({op} -> {got}): stats() = {}, the reference model counts {}; the calls just before: {before}", i + 1, show_stats(s), show_stats(m)))
                    })?;
                }
            }
            Ok(())
        })
    }

    // -- stress --------------------------------------------------------------------------------

    const THREADS: usize = 8;

    pub fn random_ops_8_threads() -> Outcome {
        watchdog(Duration::from_secs(25), || {
            const CAPACITY: usize = 8;
            const KEYS: u64 = 24;
            const OPS: u64 = 30_000;
            const ROUNDS: u64 = 3;
            for round in 1..=ROUNDS {
                step(format!("{THREADS} threads x {} random calls on a cache of capacity {CAPACITY} (round {round})", grouped(OPS)));
                let cache = LruCache::new(CAPACITY);
                let start = Barrier::new(THREADS);
                let lookups = AtomicUsize::new(0);
                let put_evictions = AtomicUsize::new(0);
                let problem: Mutex<Option<Finding>> = Mutex::new(None);
                thread::scope(|scope| {
                    for t in 0..THREADS as u64 {
                        let (cache, start, lookups, put_evictions, problem) =
                            (&cache, &start, &lookups, &put_evictions, &problem);
                        scope.spawn(move || {
                            let mut rng = Rng::seeded(round * 1000 + t);
                            let (mut mine, mut evicted) = (0, 0);
                            start.wait();
                            for i in 0..OPS {
                                let op = random_op(&mut rng, KEYS, i);
                                let res = apply(cache, op);
                                let wrong = match (op, res) {
                                    (Op::Get(k) | Op::Remove(k), Res::Value(Some(v))) => (v / 1000 != k).then(|| format!("{op} returned {v}, a value stored under key {}", v / 1000)),
                                    (Op::Put(k, _), Res::Evicted(Some((ek, ev)))) => (ek == k || ev / 1000 != ek).then(|| format!("{op} evicted ({ek}, {ev})")),
                                    (Op::Load(k, _), Res::Loaded { value, .. }) => (value / 1000 != k).then(|| format!("{op} returned {value}, a value stored under key {}", value / 1000)),
                                    (Op::Len, Res::Len(n)) => (n > CAPACITY).then(|| format!("len() returned {n} on a cache of capacity {CAPACITY}")),
                                    _ => None,
                                };
                                if matches!(op, Op::Get(_) | Op::Load(..)) {
                                    mine += 1;
                                }
                                if matches!(res, Res::Evicted(Some(_))) {
                                    evicted += 1;
                                }
                                if let Some(text) = wrong {
                                    let mut p = problem.lock().unwrap();
                                    p.get_or_insert(
                                        Finding::new("every call sees a consistent cache: at most `capacity` entries, each value under its own key")
                                            .observed(format!("with {THREADS} threads making random calls (round {round}): {text}"))
                                            .why("The map and the recency list are two structures with one invariant between them. If any part of an operation runs outside the lock, or under a different lock, another thread can see or change them half-updated.")
                                            .fix("Keep the map, the list and the counters in one struct behind one Mutex, and do all of each operation under one guard.")
                                            .hint(HINT_LRU),
                                    );
                                    return;
                                }
                            }
                            lookups.fetch_add(mine, SeqCst);
                            put_evictions.fetch_add(evicted, SeqCst);
                        });
                    }
                });
                if let Some(f) = problem.into_inner().unwrap() {
                    return Err(f);
                }
                step(format!(
                    "stats() and a scan with get after the threads of round {round} finished"
                ));
                let s = cache.stats();
                let made = lookups.load(SeqCst) as u64;
                ensure(s.hits + s.misses == made, || {
                    Finding::new("hits + misses equals the number of lookups made")
                        .observed(format!("{THREADS} threads made {} lookups (get and get_or_insert_with) but stats() says hits {} + misses {} = {} (round {round})", grouped(made), grouped(s.hits), grouped(s.misses), grouped(s.hits + s.misses)))
                        .why("A counter updated outside the lock (or read before the lock and written after it) loses updates the same way lesson 01's counter did: two threads read 41, both write 42.")
                        .fix("Count the hit or miss under the same guard as the lookup itself.")
                        .hint(HINT_LRU)
                })?;
                let by_put = put_evictions.load(SeqCst) as u64;
                ensure(s.evictions >= by_put, || {
                    stats_rule(format!("put returned {} evicted entries, but stats() counts only {} evictions (round {round})", grouped(by_put), grouped(s.evictions)))
                })?;
                let len = cache.len();
                let present = (0..KEYS).filter(|k| cache.get(k).is_some()).count();
                ensure(len <= CAPACITY && present == len, || {
                    Finding::new("after the threads finish, the map and the recency order still agree")
                        .observed(format!("after round {round}: len() = {len} (capacity {CAPACITY}), and get finds {present} of the keys 0..{KEYS}"))
                        .why("An operation that updated the map and the list in two steps, with another thread in between, leaves them disagreeing.")
                        .fix("Do every update of the map and the list under one guard.")
                        .hint(HINT_LRU)
                })?;
            }
            Ok(())
        })
    }

    pub fn single_flight_8_threads() -> Outcome {
        watchdog(Duration::from_secs(25), || {
            const ROUNDS: usize = 5;
            for round in 1..=ROUNDS {
                step(format!(
                    "{THREADS} threads calling get_or_insert_with(42, f) at once (round {round})"
                ));
                let cache = LruCache::new(4);
                let calls = AtomicUsize::new(0);
                let start = Barrier::new(THREADS);
                let got: Vec<u64> = thread::scope(|scope| {
                    let handles: Vec<_> = (0..THREADS)
                        .map(|_| {
                            let (cache, calls, start) = (&cache, &calls, &start);
                            scope.spawn(move || {
                                start.wait();
                                cache.get_or_insert_with(42, || {
                                    calls.fetch_add(1, SeqCst);
                                    thread::sleep(Duration::from_millis(50));
                                    4242
                                })
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| resume_unwind(p)))
                        .collect()
                });
                let n = calls.load(SeqCst);
                ensure(n == 1, || {
                    Finding::new("concurrent callers for one missing key share one computation: f runs once")
                        .observed(format!("{THREADS} threads called get_or_insert_with(42, f) together, with an f that takes 50 ms: f ran {n} times (round {round} of {ROUNDS})"))
                        .why("Checking under the lock, unlocking, computing and inserting lets every thread that checks during the computation see the key missing and compute it again: a cache stampede. Checking twice (double-checked locking) only avoids the second insert, not the second computation.")
                        .fix("Before computing, mark the key as loading under the lock; a caller that finds the mark waits on a Condvar (in a loop) until the computation ends, then takes the cached value.")
                        .hint(HINT_SINGLE_FLIGHT)
                })?;
                ensure(got.iter().all(|&v| v == 4242), || {
                    Finding::new("every caller gets the computed value")
                        .observed(format!(
                            "the {THREADS} callers got {got:?}, expected 4242 each"
                        ))
                        .hint(HINT_SINGLE_FLIGHT)
                })?;
                let s = cache.stats();
                let want = Stats {
                    hits: THREADS as u64 - 1,
                    misses: 1,
                    evictions: 0,
                };
                ensure(s == want, || {
                    stats_rule(format!("{THREADS} callers sharing one computation: stats() = {}, expected {} (the caller whose f ran counts a miss; the ones that waited for it count hits)", show_stats(s), show_stats(want)))
                })?;
            }
            Ok(())
        })
    }

    // -- timing --------------------------------------------------------------------------------

    /// The fastest of several batches of `steps` mixed operations on a full cache of `n` entries:
    /// the minimum is what the code costs when the machine leaves it alone.
    fn best_batch(cache: &LruCache<u64, u64>, n: u64, rng: &mut Rng, steps: u64) -> Duration {
        let span = n + n / 4;
        let start = Instant::now();
        for i in 0..steps {
            let k = rng.below(span);
            std::hint::black_box(cache.get(&k));
            std::hint::black_box(cache.put(rng.below(span), i));
            if i % 4 == 0 {
                let r = rng.below(span);
                if cache.remove(&r).is_some() {
                    cache.put(r, i);
                }
            }
        }
        start.elapsed()
    }

    pub fn constant_time_ops() -> Outcome {
        const SMALL: u64 = 1_000;
        const LARGE: u64 = 100_000;
        const STEPS: u64 = 500;
        /// At least this many pairs of batches, then more (spread over time) until the verdict is
        /// clear or the time is up.
        const MIN_PAIRS: usize = 20;
        const MEASURE_FOR: Duration = Duration::from_secs(8);
        /// A hash map at 100 000 entries misses the CPU caches more often than at 1 000: a few
        /// times slower per operation is normal (the solution: 5-6 times on an idle machine). A
        /// scan of the entries is ~100 times slower (a VecDeque searched with `position`: ~100,
        /// an eviction that scans for the oldest stamp: ~140).
        const FACTOR: f64 = 25.0;
        let fill = |n: u64| {
            let c = LruCache::new(n as usize);
            for k in 0..n {
                c.put(k, k);
            }
            c
        };
        let (small, large) = (fill(SMALL), fill(LARGE));
        let mut rng = Rng::seeded(4);
        best_batch(&small, SMALL, &mut rng, STEPS);
        best_batch(&large, LARGE, &mut rng, STEPS);
        // The fastest batch of each size is what the code costs when the machine leaves it alone.
        // Other processes fighting for the CPU caches slow the large cache far more than the
        // small one, so keep measuring, alternating sizes and spread out in time, until a calm
        // moment has shown the ratio or the time is up.
        let per_step = |d: Duration| d.as_secs_f64() * 1e9 / STEPS as f64;
        let (mut best_small, mut best_large) = (Duration::MAX, Duration::MAX);
        let started = Instant::now();
        let mut pairs = 0;
        let ratio = loop {
            best_small = best_small.min(best_batch(&small, SMALL, &mut rng, STEPS));
            best_large = best_large.min(best_batch(&large, LARGE, &mut rng, STEPS));
            pairs += 1;
            let ratio = per_step(best_large) / per_step(best_small).max(1.0);
            if (pairs >= MIN_PAIRS && ratio <= FACTOR) || started.elapsed() > MEASURE_FOR {
                break ratio;
            }
            thread::sleep(Duration::from_millis(5));
        };
        let (s, l) = (per_step(best_small), per_step(best_large));
        ensure(ratio <= FACTOR, || {
            Finding::new("get, put and remove take about the same time however many entries are cached (O(1))")
                .observed(format!("one get + put (+ a remove every 4th time) took {} ns with {} entries and {} ns with {} entries (the fastest of {pairs} batches of {} for each size): {ratio:.1} times slower, more than the {FACTOR} allowed", grouped(s as u64), grouped(SMALL), grouped(l as u64), grouped(LARGE), grouped(STEPS)))
                .why("Something walks over the entries on every call: a Vec or VecDeque of keys searched with `position` to move a key to the front, or a scan for the oldest entry to evict. At 100 000 entries that is 100 times the work it is at 1 000.")
                .fix("Keep the recency order in a doubly linked list whose nodes live in a Vec and point to each other by index; the map stores each key's node index. Moving a node to the front and evicting the last one are then a few index updates.")
                .hint(HINT_O1)
        })
    }

    /// How long a slow computation may run while the check waits for something: far beyond what
    /// the correct code needs, short enough that a wrong one is reported quickly.
    const PATIENCE: Duration = Duration::from_secs(5);

    pub fn slow_load_blocks_no_other_key() -> Outcome {
        let cache = Arc::new(LruCache::new(16));
        cache.put(2, 20);
        let a_done = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = channel();
        let (release_tx, release_rx) = channel::<()>();
        let loader = {
            let (cache, a_done) = (cache.clone(), a_done.clone());
            thread::spawn(move || {
                cache.get_or_insert_with(1, move || {
                    // A slow computation: at least 200 ms, and until the check has made its
                    // calls on the other keys (at most PATIENCE).
                    let began = Instant::now();
                    let _ = started_tx.send(());
                    let _ = release_rx.recv_timeout(PATIENCE);
                    thread::sleep(Duration::from_millis(200).saturating_sub(began.elapsed()));
                    a_done.store(true, SeqCst);
                    10
                })
            })
        };
        if started_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            return Err(Finding::new("get_or_insert_with runs f for a missing key")
                .observed(
                    "get_or_insert_with(1, f) on a cache without key 1 never called f within 10 s",
                )
                .hint(HINT_SINGLE_FLIGHT));
        }
        // Key 1 is being computed now.
        let t = Instant::now();
        let b = cache.get(&2);
        let b_took = t.elapsed();
        let b_first = !a_done.load(SeqCst);
        let t = Instant::now();
        let c = cache.get_or_insert_with(3, || 30);
        let c_took = t.elapsed();
        let c_first = !a_done.load(SeqCst);
        let a_during = cache.get(&1);
        let a_first = !a_done.load(SeqCst);
        let _ = release_tx.send(());
        let a = loader.join().unwrap_or_else(|p| resume_unwind(p));
        let held = |what: &str, took: Duration| {
            Finding::new("a slow computation for one key doesn't hold up calls for other keys")
                .observed(format!("while get_or_insert_with(1, f) was running a slow f, {what} returned only after f had finished: it took {}", ms(took)))
                .why("The cache-wide lock is held while f runs, so every other call, whatever its key, waits for the computation. Computing under the lock turns the cache into a one-at-a-time queue behind its slowest load.")
                .fix("Take the lock to check and to mark the key as loading, release it, run f, then lock again to insert. Only callers of the same key should wait, and they wait on a Condvar, which releases the lock while they sleep.")
                .hint(HINT_SINGLE_FLIGHT)
        };
        ensure(b_first, || held("get(2)", b_took))?;
        ensure(c_first, || held("get_or_insert_with(3, || 30)", c_took))?;
        ensure(a_first, || {
            Finding::new("get of a key still being computed doesn't wait: it returns None")
                .observed("while get_or_insert_with(1, f) was running f, get(1) waited for f to finish")
                .why("Only get_or_insert_with promises to share a computation; get answers with what the cache holds now, and key 1 isn't there yet.")
                .hint(HINT_SINGLE_FLIGHT)
        })?;
        ensure(
            b == Some(20) && c == 30 && a_during.is_none() && a == 10,
            || {
                Finding::new("calls for other keys during a computation return the right values")
                .observed(format!("during the computation of key 1: get(2) = {b:?} (expected Some(20)), get_or_insert_with(3, || 30) = {c}, get(1) = {a_during:?} (expected None); the computation returned {a} (expected 10)"))
                .hint(HINT_SINGLE_FLIGHT)
            },
        )?;
        let s = cache.stats();
        let want = Stats {
            hits: 1,
            misses: 3,
            evictions: 0,
        };
        ensure(s == want, || {
            stats_rule(format!("get(2) (hit), get_or_insert_with(3) (miss), get(1) during its computation (miss), the computation of 1 (miss): stats() = {}, expected {}", show_stats(s), show_stats(want)))
        })
    }

    const WAITERS: usize = 3;

    /// Starts a loader for key 1 whose `finish` runs after every waiter has announced its call and
    /// 200 ms more have passed; then the waiters call `get_or_insert_with(1, || 7)`. Returns the
    /// loader's handle, and each waiter's result on a channel.
    #[allow(clippy::type_complexity)]
    fn loader_and_waiters(
        cache: &Arc<LruCache<u64, u64>>,
        finish: fn() -> u64,
        waiter_runs: &Arc<AtomicUsize>,
    ) -> Result<
        (
            thread::JoinHandle<thread::Result<u64>>,
            std::sync::mpsc::Receiver<u64>,
        ),
        Finding,
    > {
        let (started_tx, started_rx) = channel();
        let (announce_tx, announce_rx) = channel::<()>();
        let loader = {
            let cache = cache.clone();
            thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    cache.get_or_insert_with(1, move || {
                        let _ = started_tx.send(());
                        for _ in 0..WAITERS {
                            let _ = announce_rx.recv_timeout(PATIENCE);
                        }
                        // The waiters are about to call (or calling): give them time to get in.
                        thread::sleep(Duration::from_millis(200));
                        finish()
                    })
                }))
            })
        };
        if started_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            return Err(Finding::new("get_or_insert_with runs f for a missing key")
                .observed("get_or_insert_with(1, f) on an empty cache never called f within 10 s")
                .hint(HINT_SINGLE_FLIGHT));
        }
        let (result_tx, result_rx) = channel();
        for _ in 0..WAITERS {
            let (cache, announce_tx, result_tx, runs) = (
                cache.clone(),
                announce_tx.clone(),
                result_tx.clone(),
                waiter_runs.clone(),
            );
            thread::spawn(move || {
                let _ = announce_tx.send(());
                let v = cache.get_or_insert_with(1, || {
                    runs.fetch_add(1, SeqCst);
                    7
                });
                let _ = result_tx.send(v);
            });
        }
        Ok((loader, result_rx))
    }

    /// Collects the waiters' results until `deadline`.
    fn collect(rx: &std::sync::mpsc::Receiver<u64>, deadline: Instant) -> Vec<u64> {
        let mut got = Vec::new();
        while got.len() < WAITERS {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(v) => got.push(v),
                Err(_) => break,
            }
        }
        got
    }

    pub fn waiters_share_the_load() -> Outcome {
        let cache = Arc::new(LruCache::new(16));
        let runs = Arc::new(AtomicUsize::new(0));
        let (loader, results) = loader_and_waiters(&cache, || 10, &runs)?;
        let loaded = loader.join().unwrap_or_else(|p| resume_unwind(p));
        let got = collect(&results, Instant::now() + PATIENCE);
        let loaded = loaded.unwrap_or_else(|p| resume_unwind(p));
        let n = runs.load(SeqCst);
        ensure(n == 0, || {
            Finding::new("callers that arrive during a computation wait for it instead of computing again")
                .observed(format!("while get_or_insert_with(1, f) was computing (200 ms after they called), {WAITERS} other callers of get_or_insert_with(1, ..) ran their own f {n} time(s)"))
                .why("The check-unlock-compute-insert pattern (with or without a second check before the insert) lets every caller that looks during the computation see the key missing. Each of them computes: a cache stampede.")
                .fix("Mark the key as loading (under the lock) before computing; callers that see the mark wait on a Condvar until the computation ends, then take the cached value.")
                .hint(HINT_SINGLE_FLIGHT)
        })?;
        ensure(got.len() == WAITERS, || {
            Finding::new("callers waiting for a computation are woken when it ends")
                .observed(format!("{} of the {WAITERS} callers waiting for key 1 were still blocked {} s after its computation finished", WAITERS - got.len(), PATIENCE.as_secs()))
                .why("A waiter sleeps on the Condvar until someone notifies it. If the computing caller inserts the value without notify_all (or notifies before inserting, outside the lock), the waiters never wake, or wake and sleep again.")
                .fix("After inserting the value and removing the loading mark under the lock, call notify_all on the Condvar; waiters re-check in a loop.")
                .hint(HINT_SINGLE_FLIGHT)
        })?;
        ensure(loaded == 10 && got.iter().all(|&v| v == 10), || {
            Finding::new("callers that waited for a computation get its value")
                .observed(format!("the computing caller got {loaded}, the {WAITERS} waiting callers got {got:?}; expected 10 for everyone"))
                .hint(HINT_SINGLE_FLIGHT)
        })?;
        let s = cache.stats();
        let want = Stats {
            hits: WAITERS as u64,
            misses: 1,
            evictions: 0,
        };
        ensure(s == want, || {
            stats_rule(format!("one computing caller and {WAITERS} that waited for it: stats() = {}, expected {} (a caller that waited computed nothing: a hit)", show_stats(s), show_stats(want)))
        })
    }

    pub fn panicking_load_wakes_waiters() -> Outcome {
        let cache = Arc::new(LruCache::new(16));
        let runs = Arc::new(AtomicUsize::new(0));
        let (loader, results) = loader_and_waiters(
            &cache,
            || resume_unwind(Box::new("the computation failed")),
            &runs,
        )?;
        let loaded = loader.join().unwrap_or_else(|p| resume_unwind(p));
        let got = collect(&results, Instant::now() + PATIENCE);
        ensure(got.len() == WAITERS, || {
            Finding::new("a panicking computation leaves no waiter hanging")
                .observed(format!("get_or_insert_with(1, f) was computing while {WAITERS} other callers of key 1 waited; f panicked, and {} s later {} of them were still blocked", PATIENCE.as_secs(), WAITERS - got.len()))
                .why("The code that removes the loading mark and notifies the waiters sits after the call to f, so a panic skips it: the key stays marked forever and the waiters sleep forever.")
                .fix("Put the clean-up in the Drop of a guard created before calling f: Drop runs during unwinding too. It removes the mark and calls notify_all; the waiters then find the key missing and compute it themselves.")
                .hint(HINT_PANIC)
        })?;
        ensure(loaded.is_err(), || {
            Finding::new("a panic in f reaches the caller of get_or_insert_with")
                .observed(format!(
                    "the caller whose f panicked got {:?}",
                    loaded.as_ref().ok()
                ))
                .hint(HINT_PANIC)
        })?;
        let n = runs.load(SeqCst);
        let now = cache.get(&1);
        ensure(
            got.iter().all(|&v| v == 7) && n >= 1 && now == Some(7),
            || {
                Finding::new("after a computation panics, its waiters compute the value themselves")
                .observed(format!("the {WAITERS} waiters got {got:?} (expected 7 each, from their own f), their f ran {n} time(s), and get(1) then gave {now:?}"))
                .hint(HINT_PANIC)
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Model checks.

#[cfg(loom)]
mod model_checks {
    use super::*;
    use lru_cache::sync::atomic::{AtomicUsize, Ordering};
    use lru_cache::sync::{thread, Arc};
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

    /// Two threads' calls on one shared cache, after `prefill` on one thread.
    struct Scenario {
        capacity: usize,
        prefill: &'static [Op],
        first: &'static [Op],
        second: &'static [Op],
        /// Keys to look up after both threads finished (with get, on both sides).
        probe: &'static [u64],
    }

    const SCENARIOS: &[Scenario] = &[
        Scenario {
            capacity: 1,
            prefill: &[],
            first: &[Op::Put(1, 10), Op::Get(1)],
            second: &[Op::Put(2, 20), Op::Get(2)],
            probe: &[1, 2],
        },
        Scenario {
            capacity: 2,
            prefill: &[Op::Put(1, 10), Op::Put(2, 20)],
            first: &[Op::Get(1), Op::Put(3, 30)],
            second: &[Op::Put(4, 40), Op::Get(2)],
            probe: &[1, 2, 3, 4],
        },
        Scenario {
            capacity: 2,
            prefill: &[Op::Put(1, 10), Op::Put(2, 20)],
            first: &[Op::Remove(1), Op::Load(3, 30)],
            second: &[Op::Load(2, 21), Op::Put(1, 11)],
            probe: &[1, 2, 3],
        },
    ];

    /// What one run produced: each thread's results, the stats, then the probes and len.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Outcome2 {
        first: Vec<Res>,
        second: Vec<Res>,
        stats: Stats,
        probes: Vec<Res>,
    }

    fn finish_model(
        model: &mut Model,
        s: &Scenario,
        first: Vec<Res>,
        second: Vec<Res>,
    ) -> Outcome2 {
        let stats = model.stats;
        let mut probes: Vec<Res> = s.probe.iter().map(|&k| model.apply(Op::Get(k))).collect();
        probes.push(model.apply(Op::Len));
        Outcome2 {
            first,
            second,
            stats,
            probes,
        }
    }

    /// Every sequential order of the two threads' calls (each thread's own order kept), run on the model.
    fn sequential_outcomes(s: &Scenario) -> Vec<Outcome2> {
        let (n1, n2) = (s.first.len(), s.second.len());
        let mut all = Vec::new();
        // Choose which positions of the merged order belong to the first thread.
        for mask in 0u32..(1 << (n1 + n2)) {
            if mask.count_ones() as usize != n1 {
                continue;
            }
            let mut model = Model::new(s.capacity);
            for &op in s.prefill {
                model.apply(op);
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for pos in 0..n1 + n2 {
                if mask & (1 << pos) != 0 {
                    a.push(model.apply(s.first[a.len()]));
                } else {
                    b.push(model.apply(s.second[b.len()]));
                }
            }
            all.push(finish_model(&mut model, s, a, b));
        }
        all
    }

    fn show(ops: &[Op], res: &[Res]) -> String {
        let pairs: Vec<(Op, Res)> = ops.iter().copied().zip(res.iter().copied()).collect();
        show_history(&pairs)
    }

    pub fn model_linearizable_two_threads() -> Outcome {
        for (n, s) in SCENARIOS.iter().enumerate() {
            let allowed = sequential_outcomes(s);
            explore(move || {
                let s = &SCENARIOS[n];
                let cache = Arc::new(LruCache::new(s.capacity));
                for &op in s.prefill {
                    apply(&cache, op);
                }
                let other = {
                    let cache = cache.clone();
                    thread::spawn(move || {
                        s.second
                            .iter()
                            .map(|&op| apply(&cache, op))
                            .collect::<Vec<Res>>()
                    })
                };
                let first: Vec<Res> = s.first.iter().map(|&op| apply(&cache, op)).collect();
                let second = other.join().unwrap();
                let stats = cache.stats();
                let mut probes: Vec<Res> =
                    s.probe.iter().map(|&k| apply(&cache, Op::Get(k))).collect();
                probes.push(apply(&cache, Op::Len));
                let seen = Outcome2 {
                    first,
                    second,
                    stats,
                    probes,
                };
                if !allowed.contains(&seen) {
                    let prefill = s
                        .prefill
                        .iter()
                        .map(|op| op.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let probe_ops: Vec<Op> = s
                        .probe
                        .iter()
                        .map(|&k| Op::Get(k))
                        .chain([Op::Len])
                        .collect();
                    let stats_fine = allowed.iter().any(|o| {
                        o.first == seen.first && o.second == seen.second && o.probes == seen.probes
                    });
                    Finding::new("every run of two threads matches some one-at-a-time order of their calls (linearizability)")
                        .observed(format!(
                            "capacity {}, after [{prefill}]: thread 1 ran {} while thread 2 ran {}; then stats() = {} and {}. No order of those four calls, one at a time, gives these results{}",
                            s.capacity,
                            show(s.first, &seen.first),
                            show(s.second, &seen.second),
                            show_stats(seen.stats),
                            show(&probe_ops, &seen.probes),
                            if stats_fine { ": the counters are off (some order matches everything else)" } else { "" },
                        ))
                        .why("Each call must look indivisible: it takes the lock, reads and updates the map, the recency list and the counters, and releases it. If part of a call (a counter update, a list update, the eviction) happens outside that guard or under a second lock, the other thread can run in the gap and the two calls blend.")
                        .fix("One Mutex around one struct holding the map, the list and the counters; every public method locks it once and does all its work under that guard.")
                        .hint(HINT_LRU)
                        .raise();
                }
            });
        }
        Ok(())
    }

    pub fn model_single_flight_two_threads() -> Outcome {
        explore(|| {
            let cache = Arc::new(LruCache::new(2));
            let calls = Arc::new(AtomicUsize::new(0));
            let load = |cache: &LruCache<u64, u64>, calls: &AtomicUsize| {
                cache.get_or_insert_with(7, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    70
                })
            };
            let other = {
                let (cache, calls) = (cache.clone(), calls.clone());
                thread::spawn(move || load(&cache, &calls))
            };
            let mine = load(&cache, &calls);
            let theirs = other.join().unwrap();
            let n = calls.load(Ordering::SeqCst);
            if n != 1 || mine != 70 || theirs != 70 {
                Finding::new("two callers of get_or_insert_with for one missing key share one computation")
                    .observed(format!("in one interleaving, two threads calling get_or_insert_with(7, f) ran f {n} time(s) and got {mine} and {theirs} (expected once, 70 and 70)"))
                    .why("If a caller checks, unlocks and computes, the other thread can check in between, find the key missing too, and compute as well. A second check before inserting doesn't help: both have already computed.")
                    .fix("Mark the key as loading under the same guard as the check; the other caller sees the mark and waits on the Condvar.")
                    .hint(HINT_SINGLE_FLIGHT)
                    .raise();
            }
            let s = cache.stats();
            if s != (Stats {
                hits: 1,
                misses: 1,
                evictions: 0,
            }) {
                stats_rule(format!("in one interleaving, after two threads called get_or_insert_with(7, f) and f ran once, stats() = {} (expected hits 1, misses 1, evictions 0)", show_stats(s))).raise();
            }
        });
        Ok(())
    }

    pub fn model_panicking_load_two_threads() -> Outcome {
        explore(|| {
            let cache = Arc::new(LruCache::new(2));
            let other = {
                let cache = cache.clone();
                thread::spawn(move || cache.get_or_insert_with(7, || 70))
            };
            let mine = catch_unwind(AssertUnwindSafe(|| {
                cache.get_or_insert_with(7, || resume_unwind(Box::new("the computation failed")))
            }));
            let theirs = other.join().unwrap();
            let now = cache.get(&7);
            // Either our f ran and panicked, or the other thread's value was there first.
            let fine = matches!(mine, Err(_) | Ok(70)) && theirs == 70 && now == Some(70);
            if !fine {
                Finding::new("a panicking computation leaves the key missing and its waiters free to compute it")
                    .observed(format!("in one interleaving: thread 1's get_or_insert_with(7, f) with a panicking f gave {}, thread 2's get_or_insert_with(7, || 70) gave {theirs}, then get(7) = {now:?}", match mine { Ok(v) => format!("{v}"), Err(_) => "a panic".into() }))
                    .hint(HINT_PANIC)
                    .raise();
            }
        });
        Ok(())
    }
}
