//! The one reading of a [`Finding`]: its labelled fields, in order. Every format shows these
//! fields and only chooses the markup (aligned labels for people, `**Label:**` in Markdown, a
//! `label: text` line in JUnit and Gradescope).

use std::fmt::Write as _;

use grader_harness::protocol::{Blocked, Finding};

/// A field of a finding, with its label (`property`, `observed`, `why`, `try`, `hint`, `detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Property,
    Observed,
    Why,
    Try,
    Hint,
    Detail,
    /// Where each thread was stuck: one line per group of threads, `\n` between.
    Blocked,
}

impl Label {
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::Property => "property",
            Label::Observed => "observed",
            Label::Why => "why",
            Label::Try => "try",
            Label::Hint => "hint",
            Label::Detail => "detail",
            Label::Blocked => "blocked",
        }
    }

    /// The label with a capital first letter (`Property`), for formats that want one.
    pub fn title(self) -> String {
        let word = self.as_str();
        word[..1].to_uppercase() + &word[1..]
    }
}

/// Where the hint a finding names is found, in a format's words.
pub enum HintWords {
    /// ``grader hint 01 2` is about this`: the terminal.
    Terminal,
    /// `hint 2 is about this: press h, or `grader hint 01 2``: the watch screen.
    Watch,
    /// ``grader hint 01 2``: files sent to the learner.
    Plain,
}

impl HintWords {
    pub fn text(&self, lesson_number: u32, hint: u32) -> String {
        match self {
            HintWords::Terminal => {
                format!("`grader hint {lesson_number:02} {hint}` is about this")
            }
            HintWords::Watch => {
                format!("hint {hint} is about this: press h, or `grader hint {lesson_number:02} {hint}`")
            }
            HintWords::Plain => format!("`grader hint {lesson_number:02} {hint}`"),
        }
    }
}

/// The fields of `f` that have something to say, in order.
pub fn fields(f: &Finding, lesson_number: u32, hint: &HintWords) -> Vec<(Label, String)> {
    let mut fields = vec![
        (Label::Property, f.property.clone()),
        (Label::Observed, f.observed.clone()),
    ];
    if !f.blocked.is_empty() {
        fields.push((Label::Blocked, blocked_lines(&f.blocked).join("\n")));
    }
    if !f.why.is_empty() {
        fields.push((Label::Why, f.why.clone()));
    }
    if !f.fix.is_empty() {
        fields.push((Label::Try, f.fix.clone()));
    }
    if let Some(n) = f.hint {
        fields.push((Label::Hint, hint.text(lesson_number, n)));
    }
    if !f.detail.is_empty() {
        fields.push((Label::Detail, f.detail.clone()));
    }
    fields
}

/// The blocked threads, those stuck in the same call at the same place on one line each:
/// "5 threads (thread #2, thread #3, thread #4, …) wait in Condvar::wait on `not_empty` at
/// src/lib.rs:61; nobody holds its lock".
pub fn blocked_lines(blocked: &[Blocked]) -> Vec<String> {
    let mut groups: Vec<(&Blocked, Vec<&str>)> = Vec::new();
    for b in blocked {
        let same = |g: &&mut (&Blocked, Vec<&str>)| {
            (&g.0.call, &g.0.at, &g.0.on, &g.0.note) == (&b.call, &b.at, &b.on, &b.note)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.1.push(&b.thread),
            None => groups.push((b, vec![&b.thread])),
        }
    }
    // The check's own thread last: the table is about the code under test.
    groups.sort_by_key(|g| g.0.call.is_empty());
    groups
        .into_iter()
        .map(|(b, threads)| {
            let who = match threads.as_slice() {
                [one] => one.to_string(),
                many => {
                    let shown: Vec<&str> = many.iter().take(3).copied().collect();
                    let more = if many.len() > 3 { ", …" } else { "" };
                    format!("{} threads ({}{more})", many.len(), shown.join(", "))
                }
            };
            let verb = if threads.len() == 1 { "waits" } else { "wait" };
            if b.call.is_empty() {
                return format!("{who} ({}) {verb} for the code under test", b.note);
            }
            let mut line = format!("{who} {verb} in {}", b.call);
            if !b.on.is_empty() {
                let _ = write!(line, " on `{}`", b.on);
            }
            if !b.at.is_empty() {
                let _ = write!(line, " at {}", b.at);
            }
            if !b.note.is_empty() {
                let _ = write!(line, "; {}", b.note);
            }
            line
        })
        .collect()
}

/// `label: text` lines, one per field (JUnit's description, Gradescope's output).
pub fn plain_lines(f: &Finding, lesson_number: u32) -> String {
    let mut text = String::new();
    for (label, value) in fields(f, lesson_number, &HintWords::Plain) {
        let _ = writeln!(text, "{}: {value}", label.as_str());
    }
    text
}

/// The finding in one paragraph: the JSON's `message`. Its detail is left out (it is raw text).
pub fn one_paragraph(f: &Finding, lesson_number: u32) -> String {
    let mut s = String::new();
    for (label, value) in fields(f, lesson_number, &HintWords::Plain) {
        match label {
            Label::Property => s.push_str(&value),
            Label::Observed => {
                let _ = write!(s, ": {value}");
            }
            Label::Why | Label::Try => {
                let _ = write!(s, " {}: {value}", label.title());
            }
            Label::Hint => {
                let n = f.hint.unwrap_or_default();
                let _ = write!(s, " (`grader hint {lesson_number:02} {n}`)");
            }
            Label::Detail => {}
            Label::Blocked => {
                let _ = write!(s, " Blocked: {}.", value.replace('\n', "; "));
            }
        }
    }
    s
}
