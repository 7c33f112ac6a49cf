//! Unified diffs against a lesson's solution: what a known-buggy variant or an alternative design
//! is. Parsing and applying are diffy's; this splits a diff into its files, applies it to a
//! target's snapshot in memory, and makes a diff from an edited copy of the solution.
//!
//! A patch file is a preamble (`key: value` lines, blank lines) then the diff, whose paths are
//! relative to the solution's `src/` with git's `a/`/`b/` prefixes:
//! ```text
//! bug: increments with a load and a store: two threads can read the same value
//! caught-by: counter_two_increments, counter_increments_8_threads
//!
//! --- a/lib.rs
//! +++ b/lib.rs
//! @@ -20,7 +20,8 @@
//! ```

use std::fmt;

use anyhow::{bail, Result};

use crate::check::target::SourceFile;

/// A patch file, split: its preamble's fields in order, and the diff after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFile {
    pub fields: Vec<(String, String)>,
    pub diff: String,
}

impl PatchFile {
    /// Splits `text` where the diff starts (the first `--- ` line followed by a `+++ ` line).
    /// Preamble lines are `key: value`; blank lines and lines starting with `#` are skipped, and
    /// any other line is an error (a typo in a key would otherwise pass unnoticed).
    pub fn parse(text: &str) -> Result<PatchFile> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let start = (0..lines.len())
            .find(|&i| is_file_header(&lines, i))
            .unwrap_or(lines.len());
        let mut fields = Vec::new();
        for (n, line) in lines[..start].iter().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((key, value))
                    if !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
                {
                    fields.push((key.to_string(), value.trim().to_string()));
                }
                _ => bail!(
                    "line {}: `{line}` is neither a `key: value` line of the preamble nor the start of the diff (`--- a/lib.rs`)",
                    n + 1
                ),
            }
        }
        if start == lines.len() {
            bail!("no diff in it: no `--- a/FILE` line followed by `+++ b/FILE`");
        }
        Ok(PatchFile {
            fields,
            diff: lines[start..].concat(),
        })
    }

    /// The value of the preamble's `key:` line.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn is_file_header(lines: &[&str], i: usize) -> bool {
    lines[i].starts_with("--- ") && lines.get(i + 1).is_some_and(|l| l.starts_with("+++ "))
}

/// Splits a diff into one piece per file, each starting at its `--- ` line. A `--- ` line inside
/// a hunk (a deleted line that read `-- ...`) is not a header: hunks are counted by their `@@`
/// line's lengths.
pub fn split_files(diff: &str) -> Result<Vec<&str>> {
    let lines: Vec<&str> = diff.split_inclusive('\n').collect();
    let mut starts = Vec::new();
    let (mut old_left, mut new_left) = (0usize, 0usize);
    let mut offset = 0;
    let mut offsets = Vec::with_capacity(lines.len());
    for line in &lines {
        offsets.push(offset);
        offset += line.len();
    }
    for (i, line) in lines.iter().enumerate() {
        if old_left > 0 || new_left > 0 {
            match line.as_bytes().first() {
                Some(b' ') | Some(b'\n') | Some(b'\r') => {
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                }
                Some(b'-') => old_left -= 1.min(old_left),
                Some(b'+') => new_left -= 1.min(new_left),
                Some(b'\\') => {}
                _ => bail!("line {} of the diff: the hunk above ends early", i + 1),
            }
            continue;
        }
        if is_file_header(&lines, i) {
            starts.push(offsets[i]);
        } else if line.starts_with("@@ ") {
            let (old, new) = hunk_lengths(line)
                .ok_or_else(|| anyhow::anyhow!("line {}: a malformed `@@` line", i + 1))?;
            old_left = old;
            new_left = new;
        }
    }
    let mut pieces = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(diff.len());
        pieces.push(&diff[start..end]);
    }
    Ok(pieces)
}

/// The old and new lengths of a hunk header `@@ -a[,b] +c[,d] @@`.
fn hunk_lengths(line: &str) -> Option<(usize, usize)> {
    let mut parts = line.split_whitespace().skip(1);
    let len = |range: &str| -> Option<usize> {
        match range.split_once(',') {
            Some((_, len)) => len.parse().ok(),
            None => range.parse::<usize>().ok().map(|_| 1),
        }
    };
    let old = len(parts.next()?.strip_prefix('-')?)?;
    let new = len(parts.next()?.strip_prefix('+')?)?;
    Some((old, new))
}

/// A patch that does not apply: which file and hunk, and the lines it expected to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    pub file: String,
    /// `@@ -40,7 +40,8 @@`, or empty when the whole file patch is wrong (a file it doesn't have).
    pub hunk: String,
    pub reason: String,
    /// The lines the hunk expected (its context and deleted lines), as in the patch.
    pub expected: Vec<String>,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hunk.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: hunk {} {}", self.file, self.hunk, self.reason)
        }
    }
}

impl std::error::Error for PatchError {}

/// The name a diff header gives a file, without git's `a/`/`b/`; `None` for `/dev/null`.
fn file_name(name: Option<&str>) -> Option<String> {
    let name = name?.trim();
    if name == "/dev/null" {
        return None;
    }
    let name = name
        .strip_prefix("a/")
        .or_else(|| name.strip_prefix("b/"))
        .unwrap_or(name);
    Some(name.to_string())
}

/// Applies every file of `diff` to `files` (a snapshot's), in memory: a file whose header names
/// `/dev/null` as its old side is created, one with `/dev/null` as its new side is removed.
pub fn apply(files: &mut Vec<SourceFile>, diff: &str) -> Result<(), PatchError> {
    let pieces = split_files(diff).map_err(|e| PatchError {
        file: "the diff".into(),
        hunk: String::new(),
        reason: format!("{e:#}"),
        expected: Vec::new(),
    })?;
    for piece in pieces {
        let patch = diffy::Patch::from_str(piece).map_err(|e| PatchError {
            file: piece.lines().next().unwrap_or_default().to_string(),
            hunk: String::new(),
            reason: format!("is not a unified diff diffy can read: {e}"),
            expected: Vec::new(),
        })?;
        let old = file_name(patch.original());
        let new = file_name(patch.modified());
        let shown = new.clone().or_else(|| old.clone()).unwrap_or_default();
        let base = match &old {
            None => String::new(),
            Some(name) => match files.iter().find(|f| &f.path == name) {
                Some(file) => file.text().into_owned(),
                None => {
                    return Err(PatchError {
                        file: name.clone(),
                        hunk: String::new(),
                        reason: "the patch changes this file, which the solution doesn't have"
                            .into(),
                        expected: Vec::new(),
                    })
                }
            },
        };
        let patched = diffy::apply(&base, &patch).map_err(|e| {
            // diffy numbers the hunk that failed from 1 in its message: "error applying hunk #2".
            let n = e
                .to_string()
                .rsplit('#')
                .next()
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(1);
            let hunk = &patch.hunks()[(n - 1).min(patch.hunks().len().saturating_sub(1))];
            PatchError {
                file: shown.clone(),
                hunk: format!("@@ -{} +{} @@", hunk.old_range(), hunk.new_range()),
                reason: "no longer applies: the file has no run of the lines it expects".into(),
                expected: hunk
                    .lines()
                    .iter()
                    .filter_map(|l| match l {
                        diffy::Line::Context(s) => Some(format!(" {}", s.trim_end_matches('\n'))),
                        diffy::Line::Delete(s) => Some(format!("-{}", s.trim_end_matches('\n'))),
                        diffy::Line::Insert(_) => None,
                    })
                    .collect(),
            }
        })?;
        if let Some(name) = &old {
            files.retain(|f| &f.path != name);
        }
        if let Some(name) = new {
            files.retain(|f| f.path != name);
            files.push(SourceFile::new(name, patched.into_bytes()));
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(())
}

/// The diff that turns `original` into `edited`, file by file in path order, with git's `a/` and
/// `b/` prefixes. Files in `skip` (the shim, which the grader always takes from the kit) are left
/// out. Empty when they are the same.
pub fn make(original: &[SourceFile], edited: &[SourceFile], skip: &[&str]) -> String {
    let mut paths: Vec<&str> = original
        .iter()
        .chain(edited)
        .map(|f| f.path.as_str())
        .filter(|p| !skip.contains(p))
        .collect();
    paths.sort();
    paths.dedup();
    let mut out = String::new();
    for path in paths {
        let a = original.iter().find(|f| f.path == path);
        let b = edited.iter().find(|f| f.path == path);
        if a.map(|f| &f.contents) == b.map(|f| &f.contents) {
            continue;
        }
        let text = |f: Option<&SourceFile>| f.map(|f| f.text().into_owned()).unwrap_or_default();
        let (a_text, b_text) = (text(a), text(b));
        let patch = diffy::DiffOptions::new()
            .set_original_filename(match a {
                Some(_) => format!("a/{path}"),
                None => "/dev/null".into(),
            })
            .set_modified_filename(match b {
                Some(_) => format!("b/{path}"),
                None => "/dev/null".into(),
            })
            .create_patch(&a_text, &b_text);
        // Blank context lines keep their leading space, as `diff -u` and git write them.
        let formatter = diffy::PatchFormatter::new().suppress_blank_empty(false);
        out.push_str(&formatter.fmt_patch(&patch).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str =
        "fn a() {}\n\nfn inc(x: &AtomicU64) {\n    x.fetch_add(1, SeqCst);\n}\n\nfn b() {}\n";

    const PATCH: &str = "bug: increments with a load and a store\ncaught-by: counter_two_increments, counter_increments_8_threads\n\n--- a/lib.rs\n+++ b/lib.rs\n@@ -2,5 +2,6 @@\n \n fn inc(x: &AtomicU64) {\n-    x.fetch_add(1, SeqCst);\n+    let v = x.load(SeqCst);\n+    x.store(v + 1, SeqCst);\n }\n \n";

    fn solution() -> Vec<SourceFile> {
        vec![
            SourceFile::new("lib.rs", SOLUTION.as_bytes().to_vec()),
            SourceFile::new("sync.rs", b"pub use std::sync::*;\n".to_vec()),
        ]
    }

    #[test]
    fn parses_the_preamble_and_finds_the_diff() {
        let file = PatchFile::parse(PATCH).unwrap();
        assert_eq!(
            file.field("bug"),
            Some("increments with a load and a store")
        );
        assert_eq!(
            file.field("caught-by"),
            Some("counter_two_increments, counter_increments_8_threads")
        );
        assert!(file.diff.starts_with("--- a/lib.rs\n+++ b/lib.rs\n@@ -2,5"));
        assert_eq!(file.field("alternative"), None);

        let typo = PatchFile::parse("bug: x\ncaught by counter\n--- a/lib.rs\n+++ b/lib.rs\n");
        assert!(format!("{:#}", typo.unwrap_err()).contains("line 2"));
        assert!(PatchFile::parse("bug: x\ncaught-by: y\n").is_err());
    }

    #[test]
    fn applies_in_memory_and_leaves_other_files_alone() {
        let mut files = solution();
        apply(&mut files, &PatchFile::parse(PATCH).unwrap().diff).unwrap();
        assert_eq!(files.len(), 2);
        let lib = files.iter().find(|f| f.path == "lib.rs").unwrap();
        assert!(lib.text().contains("x.store(v + 1, SeqCst);"));
        assert!(!lib.text().contains("fetch_add"));
        assert_eq!(
            lib.sha256,
            SourceFile::new("x", lib.contents.clone()).sha256
        );
        assert_eq!(files[1], solution()[1]);
    }

    #[test]
    fn a_hunk_that_no_longer_applies_is_named_with_the_lines_it_expected() {
        let mut files = vec![SourceFile::new(
            "lib.rs",
            SOLUTION.replace("fetch_add(1", "fetch_add(2").into_bytes(),
        )];
        let err = apply(&mut files, &PatchFile::parse(PATCH).unwrap().diff).unwrap_err();
        assert_eq!(err.file, "lib.rs");
        assert_eq!(err.hunk, "@@ -2,5 +2,6 @@");
        assert!(err
            .expected
            .contains(&"-    x.fetch_add(1, SeqCst);".to_string()));
        assert!(err
            .expected
            .contains(&" fn inc(x: &AtomicU64) {".to_string()));
        assert!(err
            .to_string()
            .contains("lib.rs: hunk @@ -2,5 +2,6 @@ no longer applies"));

        let mut files = solution();
        let other = "--- a/main.rs\n+++ b/main.rs\n@@ -1 +1 @@\n-x\n+y\n";
        let err = apply(&mut files, other).unwrap_err();
        assert!(err
            .to_string()
            .contains("main.rs: the patch changes this file"));
    }

    #[test]
    fn splits_files_on_their_headers_not_on_deleted_lines_that_look_like_one() {
        let diff = "--- a/lib.rs\n+++ b/lib.rs\n@@ -1,2 +1,2 @@\n--- not a header\n+++ nor this\n x\n--- a/parts.rs\n+++ b/parts.rs\n@@ -1 +1 @@\n-a\n+b\n";
        let pieces = split_files(diff).unwrap();
        assert_eq!(pieces.len(), 2);
        assert!(pieces[1].starts_with("--- a/parts.rs"));
    }

    #[test]
    fn makes_a_patch_that_applies_back_and_creates_and_removes_files() {
        let mut edited = solution();
        edited[0] = SourceFile::new("lib.rs", SOLUTION.replace("fn b", "fn c").into_bytes());
        edited.push(SourceFile::new("extra.rs", b"pub fn e() {}\n".to_vec()));
        edited[1] = SourceFile::new("sync.rs", b"edited shim\n".to_vec());
        let diff = make(&solution(), &edited, &["sync.rs"]);
        assert!(diff.contains("--- a/lib.rs\n+++ b/lib.rs\n"), "{diff}");
        assert!(diff.contains("--- /dev/null\n+++ b/extra.rs\n"), "{diff}");
        assert!(!diff.contains("sync.rs"), "{diff}");
        let mut files = solution();
        apply(&mut files, &diff).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["extra.rs", "lib.rs", "sync.rs"]);
        assert_eq!(files[1], edited[0]);

        let removed = make(&edited, &solution(), &["sync.rs"]);
        let mut files = edited.clone();
        apply(&mut files, &removed).unwrap();
        assert!(files.iter().all(|f| f.path != "extra.rs"));
        assert_eq!(make(&solution(), &solution(), &[]), "");
    }
}
