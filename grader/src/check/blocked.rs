//! Names the objects blocked threads wait on, from the learner's own source: the shim knows the
//! line of each blocking call (`src/lib.rs:61`), the line says which field or variable it is
//! called on (`self.not_empty.wait(state)`: `not_empty`).

use grader_harness::protocol::Blocked;

/// The calls a blocked thread can be in, as they read in code, and what to call them then.
const METHODS: &[(&str, &str)] = &[
    (".wait", ""),
    (".lock", ""),
    (".join", ""),
    (".send", "Sender::send"),
    (".recv", "Receiver::recv"),
];

/// Fills each row's `on` from the source; `source` gives a file's text by its path under `src/`.
/// A `send`/`recv` of lesson 05's channel is named as such rather than by the wait inside it.
pub fn name_objects(blocked: &mut [Blocked], source: impl Fn(&str) -> Option<String>) {
    for row in blocked.iter_mut().filter(|b| b.on.is_empty()) {
        let Some((file, line)) = row.at.rsplit_once(':') else {
            continue;
        };
        let (Some(rel), Ok(line)) = (file.strip_prefix("src/"), line.parse::<usize>()) else {
            continue;
        };
        let Some(text) = source(rel) else { continue };
        if let Some((on, call)) = object_at(&text, line) {
            row.on = on;
            if !call.is_empty() {
                row.call = call.to_string();
            }
        }
    }
}

/// The receiver of the last blocking call on line `line` (1-based) of `text`, with the call's
/// name when it is a channel's. Method chains split over lines are read back a few lines.
fn object_at(text: &str, line: usize) -> Option<(String, &'static str)> {
    let lines: Vec<&str> = text.lines().collect();
    let this = *lines.get(line.checked_sub(1)?)?;
    let (at, call) = METHODS
        .iter()
        .filter_map(|(m, call)| {
            this.rfind(m)
                .filter(|&i| {
                    !this[i + m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                        || this[i + m.len()..].starts_with("_while")
                        || this[i + m.len()..].starts_with("_timeout")
                })
                .map(|i| (i, *call))
        })
        .max_by_key(|(i, _)| *i)?;
    // What comes before the call, this line and up to three above (a chain split over lines).
    let first = line.saturating_sub(4);
    let mut before = lines[first..line - 1].join("\n");
    before.push('\n');
    before.push_str(&this[..at]);
    let before = before.trim_end();
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = before[start..].to_string();
    if name.is_empty() || name == "self" || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((name, call))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_of_the_call_on_that_line() {
        let src = "fn get(&self) {\n    let mut s = self.lock();\n    while s.items.is_empty() {\n        s = self.not_empty.wait(s).unwrap();\n    }\n}\n";
        assert_eq!(object_at(src, 4), Some(("not_empty".into(), "")));
        let chain = "        state = self\n            .shared\n            .not_full\n            .wait(state)\n";
        assert_eq!(object_at(chain, 4), Some(("not_full".into(), "")));
        assert_eq!(
            object_at("    tx.send(item).unwrap();", 1),
            Some(("tx".into(), "Sender::send"))
        );
        assert_eq!(
            object_at("    let g = cv.wait_while(g, |s| s.busy).unwrap();", 1),
            Some(("cv".into(), ""))
        );
        assert_eq!(object_at("    self.lock()", 1), None, "a helper of self");
        assert_eq!(
            object_at("    match worker.join() {", 1),
            Some(("worker".into(), ""))
        );
        assert_eq!(object_at("    nothing here", 1), None);
        assert_eq!(object_at("x", 9), None);
    }

    #[test]
    fn rows_get_their_object_and_channel_calls_their_name() {
        let mut rows = vec![
            Blocked {
                thread: "thread #2".into(),
                call: "Condvar::wait".into(),
                at: "src/lib.rs:2".into(),
                ..Blocked::default()
            },
            Blocked {
                thread: "thread #3".into(),
                call: "Condvar::wait".into(),
                at: "src/lib.rs:1".into(),
                ..Blocked::default()
            },
        ];
        name_objects(&mut rows, |rel| {
            (rel == "lib.rs").then(|| "rx.recv()\nself.not_empty.wait(g)\n".to_string())
        });
        assert_eq!(rows[0].on, "not_empty");
        assert_eq!(rows[0].call, "Condvar::wait");
        assert_eq!(
            (rows[1].on.as_str(), rows[1].call.as_str()),
            ("rx", "Receiver::recv")
        );
    }
}
