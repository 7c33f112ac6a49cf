//! A failing model check's interleaving as a timeline: one column per thread, one row per step,
//! each step on the learner's own source line.
//!
//! The harness sends the steps as the shim saw them (`finding.trace`, see the harness's
//! `trace.rs`); [`resolve`] then puts in what only the grader knows, the sources: the file as the
//! learner names it (`src/lib.rs`), the line's code, each object's name (the field or binding it
//! was created into) and each thread's (the function it ran). [`render`] is a pure function of the
//! resolved trace, shared by every format.

use std::collections::HashMap;
use std::fmt::Write as _;

use grader_harness::trace::{Step, Trace};

/// What a compiler path of a step stands for: the path to show, and the file's text if the grader
/// has it.
pub struct Source {
    pub shown: String,
    pub text: Option<String>,
    /// The learner's own code (not the checks, not the shim).
    pub learners: bool,
}

/// Fills in paths, code lines, object and thread names from the sources `lookup` finds.
pub fn resolve(trace: &mut Trace, lookup: &dyn Fn(&str) -> Option<Source>) {
    let mut cache: HashMap<String, Option<Source>> = HashMap::new();
    let mut source = |file: &str| -> Option<(String, Vec<String>, bool)> {
        let found = cache
            .entry(file.to_string())
            .or_insert_with(|| lookup(file));
        found.as_ref().map(|s| {
            let lines = s.text.as_deref().unwrap_or("").lines().map(str::to_string);
            (s.shown.clone(), lines.collect(), s.learners)
        })
    };
    let mut learners_lines: Vec<(usize, Vec<String>, u32)> = Vec::new();
    for step in trace.steps.iter_mut().chain(trace.blocked.iter_mut()) {
        if let Some((shown, lines, learners)) = source(&step.file) {
            step.code = line_of(&lines, step.line).trim().to_string();
            if learners {
                learners_lines.push((step.thread, lines, step.line));
            }
            step.file = shown;
        }
    }

    // Objects: the name the creating line gives, made unique.
    let mut names: Vec<String> = Vec::new();
    for object in &mut trace.objects {
        let name = source(&object.file)
            .and_then(|(_, lines, _)| binding(line_of(&lines, object.line)))
            .unwrap_or_else(|| object.label.to_lowercase());
        if let Some((shown, _, _)) = source(&object.file) {
            object.file = shown;
        }
        names.push(name);
    }
    for (i, object) in trace.objects.iter_mut().enumerate() {
        let same = names.iter().filter(|n| **n == names[i]).count();
        let nth = names[..i].iter().filter(|n| **n == names[i]).count();
        object.name = if same > 1 {
            format!("{}#{}", names[i], nth + 1)
        } else {
            names[i].clone()
        };
    }
    // Longest labels first: `Mutex#10` before `Mutex#1`.
    let mut renames: Vec<(String, String)> = trace
        .objects
        .iter()
        .map(|o| (o.label.clone(), o.name.clone()))
        .collect();
    renames.sort_by_key(|(label, _)| std::cmp::Reverse(label.len()));
    for step in trace.steps.iter_mut().chain(trace.blocked.iter_mut()) {
        for (label, name) in &renames {
            if step.object == *label {
                step.object = name.clone();
            }
            if step.value.contains(label.as_str()) {
                step.value = step.value.replace(label.as_str(), name);
            }
        }
    }

    // Threads: named after the function of the learner's code they were first seen in, a `pub fn`
    // (what the check called) rather than a private helper when there is one.
    for id in trace.thread_ids() {
        if trace
            .threads
            .iter()
            .any(|t| t.id == id && !t.name.is_empty())
        {
            continue;
        }
        let fns: Vec<(String, bool)> = learners_lines
            .iter()
            .filter(|(thread, ..)| *thread == id)
            .filter_map(|(_, lines, line)| enclosing_fn(lines, *line))
            .collect();
        let name = fns
            .iter()
            .find(|(_, public)| *public)
            .or(fns.first())
            .map(|(name, _)| name.clone());
        if let Some(name) = name {
            trace.threads.retain(|t| t.id != id);
            trace
                .threads
                .push(grader_harness::trace::TraceThread { id, name });
        }
    }
    trace.threads.sort_by_key(|t| t.id);
}

fn line_of(lines: &[String], line: u32) -> &str {
    lines
        .get((line as usize).saturating_sub(1))
        .map(String::as_str)
        .unwrap_or("")
}

/// The name a creating line binds: `value: AtomicU64::new(0),` or `let items = Mutex::new(..)`;
/// both halves of `let (tx, rx) = channel::bounded(1)`, as `tx/rx`.
fn binding(line: &str) -> Option<String> {
    let text = line.trim_start();
    let text = text.strip_prefix("let ").unwrap_or(text);
    if let Some(pair) = text.strip_prefix('(') {
        let (inside, rest) = pair.split_once(')')?;
        let names: Vec<String> = inside
            .split(',')
            .filter_map(|part| binding(&format!("{}=", part.trim())))
            .collect();
        return (rest.trim_start().starts_with('=') && !names.is_empty()).then(|| names.join("/"));
    }
    let text = text.strip_prefix("mut ").unwrap_or(text);
    let text = text.strip_prefix("pub ").unwrap_or(text);
    let ident: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let rest = text[ident.len()..].trim_start();
    let binds = (rest.starts_with(':') && !rest.starts_with("::")) || rest.starts_with('=');
    (!ident.is_empty() && !ident.starts_with(|c: char| c.is_ascii_digit()) && binds)
        .then_some(ident)
}

/// The name of the `fn` around `line` (the nearest `fn NAME` above it), and whether it is `pub`.
fn enclosing_fn(lines: &[String], line: u32) -> Option<(String, bool)> {
    let upto = (line as usize).min(lines.len());
    lines[..upto].iter().rev().find_map(|l| {
        let at = l.find("fn ")?;
        let before = &l[..at];
        if !(before.trim().is_empty() || before.ends_with(' ')) {
            return None;
        }
        let name: String = l[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then(|| (name, before.contains("pub")))
    })
}

/// The value a step wrote, if it wrote one.
fn written(step: &Step) -> Option<&str> {
    match step.op.as_str() {
        "store" => Some(&step.value),
        "swap" | "compare_exchange" | "compare_exchange_weak" => step
            .value
            .split_once(" -> ")
            .filter(|_| !step.value.starts_with("failed"))
            .map(|(_, new)| new),
        op if op.starts_with("fetch_") && op != "fetch_update" => {
            step.value.split_once(" -> ").map(|(_, new)| new)
        }
        _ => None,
    }
}

/// loom lets a load return an older value than the latest store, even under `SeqCst` (it models
/// it as acquire/release). Such a read is shown where that value was current, when moving it there
/// keeps every thread's own order; otherwise it stays and is marked stale. Returns the steps in
/// display order, each with its note.
fn honest_order(steps: &[Step]) -> Vec<(Step, Option<String>)> {
    let mut rows: Vec<(Step, Option<String>)> = steps.iter().map(|s| (s.clone(), None)).collect();
    let mut i = 0;
    while i < rows.len() {
        let step = &rows[i].0;
        if step.op != "load" || step.object.is_empty() {
            i += 1;
            continue;
        }
        let writes: Vec<usize> = (0..i)
            .filter(|&k| rows[k].0.object == step.object && written(&rows[k].0).is_some())
            .collect();
        let Some(&last) = writes.last() else {
            i += 1;
            continue;
        };
        if written(&rows[last].0) == Some(step.value.as_str()) {
            i += 1;
            continue;
        }
        // The first write it did not see: the one after the latest write of the value it read.
        let seen = writes
            .iter()
            .rposition(|&k| written(&rows[k].0) == Some(step.value.as_str()));
        let unseen = match seen {
            Some(p) => writes.get(p + 1).copied(),
            None => writes.first().copied(),
        };
        let Some(j) = unseen else {
            i += 1;
            continue;
        };
        let thread = step.thread;
        let own_between = (j..i).any(|k| rows[k].0.thread == thread);
        let spawned_after = rows[..i]
            .iter()
            .position(|(s, _)| s.op == "spawn" && s.value == format!("thread {thread}"));
        if !own_between && spawned_after.is_none_or(|p| p < j) {
            let (step, _) = rows.remove(i);
            rows.insert(
                j,
                (
                    step,
                    Some(format!(
                        "loom ran this load after step {}'s write, yet it read the older value (loom lets a load do that, even SeqCst): shown here, where that value was current",
                        j + 2
                    )),
                ),
            );
        } else {
            rows[i].1 = Some(format!(
                "a stale read: it does not see the write of step {}",
                j + 1
            ));
        }
        i += 1;
    }
    rows
}

/// What a step did, in a few words: `load value -> 0`, `wait not_empty (releases state)`.
pub fn describe(step: &Step) -> String {
    let (op, obj, v) = (step.op.as_str(), step.object.as_str(), step.value.as_str());
    match op {
        "load" => format!("load  {obj} -> {v}"),
        "store" => format!("store {obj} <- {v}"),
        "lock" | "unlock" | "read" | "write" => format!("{op} {obj}"),
        "wait" if v.is_empty() => format!("wait on {obj}"),
        "wait" => format!("wait on {obj} ({})", v.replace("releases", "unlocks")),
        "woken" => format!("woken on {obj}"),
        "spawn" | "join" => format!("{op} {v}"),
        "exit" => "(thread ends)".to_string(),
        _ if obj.is_empty() => format!("{op} {v}").trim_end().to_string(),
        _ if v.is_empty() => format!("{op} {obj}"),
        _ => format!("{op} {obj}: {v}"),
    }
}

/// What a blocked thread waits for: `waits on not_empty`, `waits to join thread 1`.
fn blocked_on(step: &Step) -> String {
    let obj = step.object.as_str();
    match step.op.as_str() {
        "wait" => format!("waits on `{obj}`"),
        "lock" => format!("waits to lock `{obj}`"),
        "read" => format!("waits to read-lock `{obj}`"),
        "write" => format!("waits to write-lock `{obj}`"),
        "join" => format!("waits to join {}", step.value),
        op => format!("is blocked in {op} {obj}"),
    }
}

/// The trace as a timeline at most `width` columns wide (longer code lines are cut; when even the
/// thread columns do not fit, each step's code goes on a line of its own).
pub fn render(trace: &Trace, width: usize) -> String {
    let threads = trace.thread_ids();
    let column: HashMap<usize, usize> = threads.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let header: Vec<String> = threads
        .iter()
        .map(|id| match trace.threads.iter().find(|t| t.id == *id) {
            Some(t) if !t.name.is_empty() => format!("thread {id} ({})", t.name),
            _ => format!("thread {id}"),
        })
        .collect();
    let rows = honest_order(&trace.steps);
    let cells: Vec<String> = rows.iter().map(|(s, _)| describe(s)).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count() + 2).collect();
    for ((step, _), cell) in rows.iter().zip(&cells) {
        let c = column[&step.thread];
        widths[c] = widths[c].max(cell.chars().count() + 2);
    }
    let at: Vec<String> = rows
        .iter()
        .map(|(s, _)| format!("{}:{}", s.file, s.line))
        .collect();
    let at_width = at.iter().map(|a| a.chars().count()).max().unwrap_or(0) + 2;
    let number_width = 5;
    let columns: usize = widths.iter().sum();
    let code_room = width.saturating_sub(number_width + columns + at_width);
    let code_inline = code_room >= 24;

    let mut out = String::new();
    let mut head = " ".repeat(number_width);
    for (h, w) in header.iter().zip(&widths) {
        let _ = write!(head, "{h:<w$}");
    }
    let _ = writeln!(out, "{}", head.trim_end());
    for (n, ((step, note), cell)) in rows.iter().zip(&cells).enumerate() {
        if trace.omitted > 0 && n == grader_harness::trace::HEAD_STEPS {
            let _ = writeln!(
                out,
                "{:number_width$}... {} steps left out ...",
                "", trace.omitted
            );
        }
        let c = column[&step.thread];
        let shown = if trace.omitted > 0 && n >= grader_harness::trace::HEAD_STEPS {
            n + 1 + trace.omitted
        } else {
            n + 1
        };
        let mut row = format!("{shown:>3}  ");
        for (i, w) in widths.iter().enumerate() {
            let _ = write!(row, "{:<w$}", if i == c { cell.as_str() } else { "" });
        }
        let _ = write!(row, "{:<at_width$}", at[n]);
        if code_inline {
            row.push_str(&cut(&step.code, code_room));
            let _ = writeln!(out, "{}", row.trim_end());
        } else {
            let _ = writeln!(out, "{}", row.trim_end());
            if !step.code.is_empty() {
                let room = width.saturating_sub(number_width + 2).max(24);
                let _ = writeln!(out, "{:number_width$}| {}", "", cut(&step.code, room));
            }
        }
        if let Some(note) = note {
            let indent = number_width + widths[..c].iter().sum::<usize>();
            let room = width.saturating_sub(indent + 2).max(30);
            for (k, line) in wrap(note, room).iter().enumerate() {
                let mark = if k == 0 { "^ " } else { "  " };
                let _ = writeln!(out, "{:indent$}{mark}{line}", "");
            }
        }
    }
    for b in &trace.blocked {
        let _ = writeln!(
            out,
            "{:number_width$}thread {} {} at {}:{}{}",
            "",
            b.thread,
            blocked_on(b),
            b.file,
            b.line,
            if b.code.is_empty() {
                String::new()
            } else {
                format!("   {}", cut(&b.code, 60))
            }
        );
    }
    out
}

/// `text` in lines of at most `room` characters, broken at spaces.
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

fn cut(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let kept: String = text.chars().take(room.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// The width of the terminal on standard output, else `COLUMNS`, else 100.
pub fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ only fills in the winsize we pass, on a descriptor we only read.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0
            && size.ws_col > 0
        {
            return size.ws_col as usize;
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use grader_harness::trace::TraceObject;

    fn step(thread: usize, op: &str, object: &str, value: &str, line: u32) -> Step {
        Step {
            thread,
            op: op.into(),
            object: object.into(),
            value: value.into(),
            file: "lesson-x/src/lib.rs".into(),
            line,
            code: String::new(),
        }
    }

    const LIB: &str = "pub struct Counter {\n    value: AtomicU64,\n}\nimpl Counter {\n    pub fn new() -> Counter {\n        Counter { value: AtomicU64::new(0) }\n    }\n    pub fn increment(&self) {\n        let current = self.value.load(Ordering::SeqCst);\n        self.value.store(current + 1, Ordering::SeqCst);\n    }\n}\n";

    fn lookup(file: &str) -> Option<Source> {
        (file == "lesson-x/src/lib.rs").then(|| Source {
            shown: "src/lib.rs".into(),
            text: Some(LIB.replace("Counter { value:", "Counter {\n        value:")),
            learners: true,
        })
    }

    /// The lost update as loom runs it: thread 1's load comes after thread 0's store but returns
    /// the older value.
    pub fn lost_update() -> Trace {
        let mut trace = Trace {
            iteration: 1,
            steps: vec![
                step(0, "spawn", "", "thread 1", 20),
                step(0, "load", "AtomicU64#0", "0", 10),
                step(0, "store", "AtomicU64#0", "1", 11),
                step(1, "load", "AtomicU64#0", "0", 10),
                step(1, "store", "AtomicU64#0", "1", 11),
                step(0, "join", "", "thread 1", 21),
            ],
            objects: vec![TraceObject {
                label: "AtomicU64#0".into(),
                name: String::new(),
                file: "lesson-x/src/lib.rs".into(),
                line: 7,
            }],
            ..Trace::default()
        };
        trace.steps[0].file = "/kit/grader/lessons/01/checks.rs".into();
        trace.steps[5].file = "/kit/grader/lessons/01/checks.rs".into();
        trace
    }

    #[test]
    fn resolve_names_objects_threads_and_files() {
        let mut trace = lost_update();
        resolve(&mut trace, &lookup);
        assert_eq!(trace.objects[0].name, "value");
        assert_eq!(trace.steps[1].object, "value");
        assert_eq!(trace.steps[1].file, "src/lib.rs");
        assert_eq!(
            trace.steps[1].code,
            "let current = self.value.load(Ordering::SeqCst);"
        );
        // Not a file the grader knows: left as it was.
        assert_eq!(trace.steps[0].file, "/kit/grader/lessons/01/checks.rs");
        let names: Vec<&str> = trace.threads.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["increment", "increment"]);
    }

    #[test]
    fn a_stale_load_moves_to_where_its_value_was_current() {
        let rows = honest_order(&lost_update().steps);
        let order: Vec<(usize, &str)> = rows
            .iter()
            .map(|(s, _)| (s.thread, s.op.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (0, "spawn"),
                (0, "load"),
                (1, "load"),
                (0, "store"),
                (1, "store"),
                (0, "join")
            ]
        );
        assert!(rows[2].1.as_deref().unwrap().contains("older value"));
    }

    #[test]
    fn bindings_are_read_from_the_creating_line() {
        assert_eq!(
            binding("    value: AtomicU64::new(0),").as_deref(),
            Some("value")
        );
        assert_eq!(
            binding("let items = Mutex::new(x);").as_deref(),
            Some("items")
        );
        assert_eq!(
            binding(
                "    let (to_fetch, mut fetch_queue) = channel::bounded::<(usize, I)>(capacity);"
            )
            .as_deref(),
            Some("to_fetch/fetch_queue")
        );
        assert_eq!(binding("(a, b)"), None);
        assert_eq!(binding("Mutex::new(x)"), None);
        assert_eq!(binding("        Arc::new(Mutex::new(0))"), None);
    }

    #[test]
    fn the_timeline_renders() {
        let mut trace = lost_update();
        resolve(&mut trace, &lookup);
        trace.blocked = vec![Step {
            thread: 0,
            op: "join".into(),
            value: "thread 1".into(),
            file: "checks.rs".into(),
            line: 21,
            ..Step::default()
        }];
        insta::assert_snapshot!("timeline_wide", render(&trace, 140));
        insta::assert_snapshot!("timeline_narrow", render(&trace, 60));
    }
}
