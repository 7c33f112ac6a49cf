//! The interleaving a model check failed in: what each thread did, step by step, as the grader shows
//! it (`finding.trace`).
//!
//! Under `--cfg loom` the kit's shim (`grader/shim/sync.rs`, its `mocked` side) notes every
//! operation of its primitives in the order loom runs them: thread, operation, object, value and the
//! caller's `file:line` (`#[track_caller]`). A model is explored unrecorded; when it fails, the model
//! runner replays it with a fresh record at each iteration, and at the same failure the record holds
//! the failing iteration's steps (see `model.rs`).
//! The shim lives in the crate under test, which cannot depend on this crate, so the two meet through
//! four plain functions the generated `main` hands over ([`connect`]) and the record crosses as text
//! lines (see [`parse`]).
//!
//! A few facts only loom knows: the moment a waiting thread is really registered on a condition
//! variable and which threads a notify woke (none: the wakeup was lost). [`Hooks`] is a tiny
//! `tracing` subscriber that listens to loom's own `rt/condvar.rs` events for them and passes them on
//! to the shim; every other loom event stays disabled.

use serde::{Deserialize, Serialize};

/// The most steps a trace keeps: the first [`HEAD_STEPS`] and the last ones, the middle is counted
/// in [`Trace::omitted`].
pub const MAX_STEPS: usize = 160;
/// Steps kept from the start of a long trace.
pub const HEAD_STEPS: usize = 40;
/// The most bytes of one value (a `Debug` text) a step keeps.
const MAX_VALUE_BYTES: usize = 80;

/// One failing interleaving.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Trace {
    /// The iteration of the exploration that failed (1-based).
    pub iteration: u64,
    /// What each thread did, in the order loom ran it.
    pub steps: Vec<Step>,
    /// Steps left out between the first [`HEAD_STEPS`] and the last ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
    /// What each thread was blocked on when the check stopped (a deadlock: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Step>,
    /// The threads, with a name when one is known (the function they ran, or `Builder::name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<TraceThread>,
    /// The primitives the steps name, with where each was created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<TraceObject>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One operation of one thread.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Step {
    /// loom's thread number: 0 is the check's own thread.
    pub thread: usize,
    /// `load`, `store`, `fetch_add`, `swap`, `compare_exchange`, ..., `lock`, `unlock`, `try_lock`,
    /// `read`, `write`, `wait`, `woken`, `notify_one`, `notify_all`, `spawn`, `join`, `exit`.
    pub op: String,
    /// The object's name (the field or binding it was created into, once the grader has read the
    /// source; `AtomicU64#0` before).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
    /// What was read or written (`0`, `0 -> 1`), or what happened (`wakes thread 1`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Where the operation was called: as the compiler named the file, then (grader) as the
    /// learner knows it (`src/lib.rs`).
    pub file: String,
    pub line: u32,
    /// The source line, filled in by the grader.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
}

/// A thread of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceThread {
    pub id: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// A primitive the steps name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceObject {
    /// The shim's label, `AtomicU64#0`: its type and a number in order of creation.
    pub label: String,
    /// The name the learner's code gave it, when the grader could read one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub file: String,
    pub line: u32,
}

impl Trace {
    /// The threads that appear, in order of their number.
    pub fn thread_ids(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = self
            .steps
            .iter()
            .chain(&self.blocked)
            .map(|s| s.thread)
            .chain(self.threads.iter().map(|t| t.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Keeps the first [`HEAD_STEPS`] and the last steps, at most [`MAX_STEPS`] in all.
    pub fn cap(&mut self) {
        if self.steps.len() > MAX_STEPS {
            let cut = self.steps.len() - MAX_STEPS;
            self.steps.drain(HEAD_STEPS..HEAD_STEPS + cut);
            self.omitted += cut;
        }
        self.blocked.truncate(MAX_STEPS);
        self.objects.truncate(MAX_STEPS);
        self.threads.truncate(MAX_STEPS);
        // The code under test names threads and objects and chooses the values: any size.
        use crate::protocol::{cut, MAX_NAME_BYTES};
        for step in self.steps.iter_mut().chain(self.blocked.iter_mut()) {
            for text in [
                &mut step.op,
                &mut step.object,
                &mut step.value,
                &mut step.file,
                &mut step.code,
            ] {
                cut(text, MAX_NAME_BYTES);
            }
        }
        for thread in &mut self.threads {
            cut(&mut thread.name, MAX_NAME_BYTES);
        }
        for object in &mut self.objects {
            for text in [&mut object.label, &mut object.name, &mut object.file] {
                cut(text, MAX_NAME_BYTES);
            }
        }
    }
}

/// Reads the shim's record: one item a line, its fields separated by tabs.
///
/// ```text
/// i  ITERATION
/// o  LABEL  FILE  LINE                                 an object was created
/// s  THREAD  OP  OBJECT  VALUE  FILE  LINE             a step
/// b  THREAD  OP  OBJECT  VALUE  FILE  LINE             a thread blocked in that operation
/// t  THREAD  NAME                                      a thread's name
/// ```
pub fn parse(text: &str) -> Trace {
    let mut trace = Trace::default();
    let mut steps = 0usize;
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        let step = || Step {
            thread: number(1) as usize,
            op: f.get(2).unwrap_or(&"").to_string(),
            object: f.get(3).unwrap_or(&"").to_string(),
            value: short(f.get(4).unwrap_or(&"")),
            file: f.get(5).unwrap_or(&"").to_string(),
            line: number(6) as u32,
            code: String::new(),
        };
        match f[0] {
            "i" => trace.iteration = number(1),
            "o" => trace.objects.push(TraceObject {
                label: f.get(1).unwrap_or(&"").to_string(),
                name: String::new(),
                file: f.get(2).unwrap_or(&"").to_string(),
                line: number(3) as u32,
            }),
            "s" => {
                // Keep the head and a window of the tail as the lines come: a runaway iteration
                // can't make the copy large.
                steps += 1;
                trace.steps.push(step());
                if trace.steps.len() > 2 * MAX_STEPS {
                    let cut = trace.steps.len() - MAX_STEPS;
                    trace.steps.drain(HEAD_STEPS..HEAD_STEPS + cut);
                    trace.omitted += cut;
                }
            }
            "b" => trace.blocked.push(step()),
            "t" => trace.threads.push(TraceThread {
                id: number(1) as usize,
                name: f.get(2).unwrap_or(&"").to_string(),
            }),
            _ => {}
        }
    }
    trace.cap();
    debug_assert_eq!(trace.steps.len() + trace.omitted, steps);
    trace
}

fn short(value: &str) -> String {
    if value.len() <= MAX_VALUE_BYTES {
        return value.to_string();
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}

/// The shim's side of the record, as the generated `main` hands it over.
#[derive(Clone, Copy)]
pub struct Shim {
    /// A new iteration starts: forget the last one. `true`: [`Hooks`] will report condvar facts.
    pub start: fn(bool),
    /// The record so far, as text lines (see [`parse`]); safe to call from a panic hook.
    pub snapshot: fn() -> String,
    /// loom registered `thread` as a waiter of a condition variable.
    pub waiting: fn(usize),
    /// A notify woke these threads (none: nobody was waiting).
    pub notified: fn(&[usize]),
    /// loom reported a deadlock: the shim's `Arc`s leak while the threads unwind, instead of
    /// aborting the process (tokio-rs/loom#291), so the model can be replayed with the record on.
    pub deadlocked: fn(),
}

static SHIM: std::sync::OnceLock<Shim> = std::sync::OnceLock::new();

/// Called by the generated `main` of a `--cfg loom` harness, before any check runs.
pub fn connect(shim: Shim) {
    let _ = SHIM.set(shim);
}

/// The shim's record functions, once connected.
pub fn shim() -> Option<Shim> {
    SHIM.get().copied()
}

/// The failing interleaving of this process's model check, once a replay has recorded it.
static KEPT: std::sync::Mutex<Option<Trace>> = std::sync::Mutex::new(None);

/// Keeps `trace` as the check's failing interleaving.
pub fn keep(trace: Trace) {
    if let Ok(mut kept) = KEPT.lock() {
        *kept = Some(trace);
    }
}

/// The failing interleaving kept, if any (taken: it goes with one finding).
pub fn kept() -> Option<Trace> {
    KEPT.lock().ok().and_then(|mut kept| kept.take())
}

/// A copy of what the current iteration recorded so far, if a shim is connected.
pub fn snapshot() -> Option<Trace> {
    let shim = shim()?;
    let trace = parse(&(shim.snapshot)());
    (!trace.steps.is_empty() || !trace.blocked.is_empty()).then_some(trace)
}

#[cfg(loom)]
pub use hooks::Hooks;

#[cfg(loom)]
mod hooks {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Metadata, Subscriber};

    /// The loom thread running now: loom enters a thread's span each time it switches to it, and
    /// this subscriber numbers each thread's span after the thread (`id + 1`).
    static RUNNING: AtomicUsize = AtomicUsize::new(0);

    /// Listens to loom's condvar events (and its `thread` spans, to know who runs); nothing else.
    pub struct Hooks;

    fn wanted(meta: &Metadata<'_>) -> bool {
        if meta.is_span() {
            meta.name() == "thread"
        } else {
            meta.file().is_some_and(|f| f.ends_with("rt/condvar.rs"))
        }
    }

    /// The fields of an event or span, as `Debug` text.
    #[derive(Default)]
    struct Fields {
        message: String,
        thread: String,
        threads: String,
        id: Option<u64>,
    }

    impl Visit for Fields {
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "id" {
                self.id = Some(value);
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let text = format!("{value:?}");
            match field.name() {
                "message" => self.message = text,
                "thread" => self.thread = text,
                "threads" => self.threads = text,
                "id" => self.id = text.parse().ok(),
                _ => {}
            }
        }
    }

    /// The thread numbers in loom's `Some(Id(1))` or `[Id(1), Id(2)]`.
    fn thread_numbers(text: &str) -> Vec<usize> {
        text.split("Id(")
            .skip(1)
            .filter_map(|rest| rest.split(')').next()?.parse().ok())
            .collect()
    }

    impl Subscriber for Hooks {
        fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
            if wanted(meta) {
                Interest::always()
            } else {
                Interest::never()
            }
        }
        fn enabled(&self, meta: &Metadata<'_>) -> bool {
            wanted(meta)
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut fields = Fields::default();
            span.record(&mut fields);
            Id::from_u64(fields.id.unwrap_or(0) + 1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let Some(shim) = super::shim() else { return };
            let mut fields = Fields::default();
            event.record(&mut fields);
            match fields.message.as_str() {
                "Condvar::wait" => (shim.waiting)(RUNNING.load(Ordering::Relaxed)),
                "Condvar::notify_one" => (shim.notified)(&thread_numbers(&fields.thread)),
                "Condvar::notify_all" => (shim.notified)(&thread_numbers(&fields.threads)),
                _ => {}
            }
        }
        fn enter(&self, span: &Id) {
            RUNNING.store(span.into_u64() as usize - 1, Ordering::Relaxed);
        }
        fn exit(&self, _: &Id) {}
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn thread_numbers_read_looms_debug_text() {
            assert_eq!(super::thread_numbers("Some(Id(1))"), [1]);
            assert_eq!(super::thread_numbers("None"), Vec::<usize>::new());
            assert_eq!(super::thread_numbers("[Id(1), Id(3)]"), [1, 3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shims_lines_read_back_as_a_trace() {
        let text = "i\t3\no\tAtomicU64#0\tlesson-x/src/lib.rs\t20\ns\t0\tload\tAtomicU64#0\t0\tlesson-x/src/lib.rs\t23\ns\t1\tstore\tAtomicU64#0\t1\tlesson-x/src/lib.rs\t24\nb\t0\tjoin\t\tthread 1\tchecks.rs\t9\nt\t1\tworker\n";
        let trace = parse(text);
        assert_eq!(trace.iteration, 3);
        assert_eq!(trace.steps.len(), 2);
        assert_eq!(trace.steps[1].op, "store");
        assert_eq!(trace.steps[1].value, "1");
        assert_eq!(trace.steps[1].line, 24);
        assert_eq!(trace.blocked[0].value, "thread 1");
        assert_eq!(trace.objects[0].label, "AtomicU64#0");
        assert_eq!(trace.threads[0].name, "worker");
        assert_eq!(trace.thread_ids(), [0, 1]);
    }

    #[test]
    fn a_long_trace_keeps_its_head_and_tail() {
        let text: String = (0..1000)
            .map(|i| format!("s\t0\tload\tA#0\t{i}\tf.rs\t1\n"))
            .collect();
        let trace = parse(&text);
        assert_eq!(trace.steps.len(), MAX_STEPS);
        assert_eq!(trace.omitted, 1000 - MAX_STEPS);
        assert_eq!(
            trace.steps[HEAD_STEPS - 1].value,
            (HEAD_STEPS - 1).to_string()
        );
        assert_eq!(trace.steps.last().unwrap().value, "999");
    }
}
