//! The `lint` kind: the lesson code reaches its primitives through `crate::sync`.
//!
//! The model checker only sees what goes through the shim: a `std::sync::Mutex` is invisible to it,
//! and a model check over such code would pass without checking anything. The lint has two passes:
//!
//! - this module's, the fast first one, before any build: it reads the target's sources as Rust
//!   tokens (so comments and strings don't count) and reports every path into `std::sync`,
//!   `std::thread` and friends, including inside `use` groups and macro calls, and every use of
//!   the name `loom` (`cfg(loom)`, `cfg!(loom)`, a macro handed `loom`): code that exists only in
//!   the model checks' build would have the model checker check other code than the rest;
//! - the compiler's, on the `--cfg loom` build (clippy's `disallowed_types`/`disallowed_methods`,
//!   see `rustc_sandbox.rs`): it sees resolved paths, so a macro handed `std`, `extern crate std
//!   as s`, a raw identifier `r#std` or `use ::core::...` can't hide a primitive from it.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

use crate::check::target::Target;

/// Roots whose `sync` and `thread` modules the shim replaces.
const STD_ROOTS: [&str; 3] = ["std", "core", "alloc"];
/// Crates whose primitives loom can't see at all.
const FOREIGN: [&str; 6] = [
    "parking_lot",
    "crossbeam",
    "crossbeam_channel",
    "crossbeam_utils",
    "spin",
    "loom",
];
/// Items of `std::sync`/`std::thread` that carry no synchronization, so using them directly is fine.
const HARMLESS: [&str; 7] = [
    "Ordering",
    "PoisonError",
    "LockResult",
    "TryLockError",
    "TryLockResult",
    "available_parallelism",
    "Duration",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub file: String,
    pub line: usize,
    /// What is used: `std::sync::Mutex`, or `loom`.
    pub path: String,
    pub found: Found,
}

/// Which pass found a violation, and so what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A path written out in the source.
    ByTokens,
    /// A path the compiler resolved (through a macro, a renamed crate, an alias).
    ByCompiler,
    /// The name `loom`: code for one build only, or loom itself.
    LoomName,
    /// std's `thread_local!`: under loom every model thread runs on one OS thread, so they would
    /// all share one copy.
    ThreadLocal,
}

/// Every direct use of a primitive in the target's sources, except the shim itself.
pub fn lint(target: &Target) -> Vec<Violation> {
    let mut found = Vec::new();
    for file in target.files() {
        if file.path == "sync.rs" || !file.path.ends_with(".rs") {
            continue;
        }
        // A file that doesn't tokenize (or isn't UTF-8) doesn't compile either: the build reports it.
        let Ok(text) = std::str::from_utf8(&file.contents) else {
            continue;
        };
        let Ok(tokens) = text.parse::<TokenStream>() else {
            continue;
        };
        let shown = target.show_paths(&format!("{}/src/{}", target.crate_dir_name(), file.path));
        scan(tokens, &shown, &mut found);
    }
    found
}

fn scan(stream: TokenStream, file: &str, found: &mut Vec<Violation>) {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        if let TokenTree::Group(g) = &tokens[i] {
            scan(g.stream(), file, found);
            i += 1;
            continue;
        }
        // A path starts at an identifier that is not itself a later segment of a path: `a::std`
        // is not std, but a leading `::std` (the extern prelude spelled out) is.
        let after_colons = i >= 3
            && is_colon_pair(&tokens[i - 2..i])
            && match &tokens[i - 3] {
                TokenTree::Ident(_) => true,
                TokenTree::Punct(p) => p.as_char() == '>', // `<T as Trait>::std`
                _ => false,
            };
        if let TokenTree::Ident(root) = &tokens[i] {
            let root_name = root.to_string();
            let watched =
                STD_ROOTS.contains(&root_name.as_str()) || FOREIGN.contains(&root_name.as_str());
            if watched
                && !after_colons
                && i + 2 < tokens.len()
                && is_colon_pair(&tokens[i + 1..i + 3])
            {
                let (paths, next) = parse_path(&tokens, i);
                let bang =
                    matches!(tokens.get(next), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                for path in paths {
                    if bang
                        && STD_ROOTS
                            .iter()
                            .any(|r| path == format!("{r}::thread_local"))
                    {
                        found.push(Violation {
                            file: file.to_string(),
                            line: root.span().start().line,
                            path: "thread_local!".into(),
                            found: Found::ThreadLocal,
                        });
                    } else if is_violation(&path) {
                        found.push(Violation {
                            file: file.to_string(),
                            line: root.span().start().line,
                            path,
                            found: Found::ByTokens,
                        });
                    }
                }
                i = next.max(i + 1);
                continue;
            }
            // `thread_local!` or `std::thread_local!` (the shim has none: a lesson keeps per-thread
            // state in the thread's own variables).
            // (`std::thread_local!` is read as a path, above.)
            let bang = matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
            if root_name == "thread_local" && bang && !after_colons {
                found.push(Violation {
                    file: file.to_string(),
                    line: root.span().start().line,
                    path: "thread_local!".into(),
                    found: Found::ThreadLocal,
                });
            }
            // The name `loom` anywhere else: `cfg(loom)`, `cfg_attr(loom, ...)`, `cfg!(loom)`, or
            // a macro handed the name to build such a `cfg` (the token must be in the source).
            if root_name == "loom" || root_name == "r#loom" {
                found.push(Violation {
                    file: file.to_string(),
                    line: root.span().start().line,
                    path: "loom".into(),
                    found: Found::LoomName,
                });
            }
        }
        i += 1;
    }
}

fn is_colon_pair(pair: &[TokenTree]) -> bool {
    matches!(pair, [TokenTree::Punct(a), TokenTree::Punct(b)] if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
}

/// Reads a path or a `use` tree from `tokens[start]` on: every leaf path it names, and where it ends.
fn parse_path(tokens: &[TokenTree], start: usize) -> (Vec<String>, usize) {
    let mut prefix = Vec::new();
    let mut i = start;
    loop {
        match tokens.get(i) {
            Some(TokenTree::Ident(id)) => {
                prefix.push(id.to_string());
                i += 1;
            }
            Some(TokenTree::Punct(p)) if p.as_char() == '*' => {
                prefix.push("*".into());
                i += 1;
            }
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                let mut leaves = Vec::new();
                for part in inner.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                {
                    if part.is_empty() {
                        continue;
                    }
                    let (sub, _) = parse_path(part, 0);
                    leaves.extend(
                        sub.into_iter()
                            .map(|s| format!("{}::{s}", prefix.join("::"))),
                    );
                }
                return (leaves, i + 1);
            }
            _ => break,
        }
        if i + 1 < tokens.len() && is_colon_pair(&tokens[i..i + 2]) {
            i += 2;
        } else {
            break;
        }
    }
    (vec![prefix.join("::")], i)
}

fn is_violation(path: &str) -> bool {
    let segments: Vec<&str> = path.split("::").collect();
    let last = segments.last().copied().unwrap_or_default();
    if last == "self" && segments.len() == 2 {
        return false; // `use std::{self, ...}` names nothing yet.
    }
    if FOREIGN.contains(&segments[0]) {
        return true;
    }
    STD_ROOTS.contains(&segments[0])
        && segments
            .get(1)
            .is_some_and(|m| *m == "sync" || *m == "thread")
        && !HARMLESS.contains(&last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(src: &str) -> Vec<String> {
        let mut found = Vec::new();
        scan(src.parse().unwrap(), "lib.rs", &mut found);
        found.into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn finds_direct_paths_groups_and_macro_bodies() {
        assert_eq!(paths("use std::sync::Mutex;"), ["std::sync::Mutex"]);
        assert_eq!(
            paths("use std::{collections::HashMap, sync::{Arc, atomic::AtomicU64}};"),
            ["std::sync::Arc", "std::sync::atomic::AtomicU64"]
        );
        assert_eq!(
            paths("fn f() { let m = ::std::sync::Mutex::new(1); }"),
            ["std::sync::Mutex::new"]
        );
        assert_eq!(
            paths("fn f() { vec![std::thread::spawn(|| 1)]; }"),
            ["std::thread::spawn"]
        );
        assert_eq!(paths("use parking_lot::Mutex;"), ["parking_lot::Mutex"]);
        assert_eq!(paths("use std::sync::*;"), ["std::sync::*"]);
    }

    #[test]
    fn finds_the_name_loom_in_cfgs_and_macro_arguments() {
        for src in [
            "#[cfg(loom)] fn f() {}",
            "#![cfg_attr(not(loom), allow(dead_code))]",
            "fn f() -> bool { cfg!(r#loom) }",
            "macro_rules! c { ($x:ident) => { #[cfg($x)] fn f() {} } } c!(loom);",
        ] {
            let mut found = Vec::new();
            scan(src.parse().unwrap(), "lib.rs", &mut found);
            assert_eq!(found.len(), 1, "{src}: {found:?}");
            assert_eq!(
                (found[0].found, found[0].path.as_str()),
                (Found::LoomName, "loom")
            );
        }
        // `loom::` is a path into a crate the shim replaces: reported once, as that.
        assert_eq!(paths("use loom::sync::Mutex;"), ["loom::sync::Mutex"]);
        assert!(paths("// cfg(loom)\nfn f() -> &'static str { \"loom\" }").is_empty());
    }

    #[test]
    fn finds_std_thread_locals() {
        let found = |src: &str| -> Vec<(Found, String)> {
            let mut found = Vec::new();
            scan(src.parse().unwrap(), "lib.rs", &mut found);
            found.into_iter().map(|v| (v.found, v.path)).collect()
        };
        for src in [
            "thread_local! { static N: Cell<u32> = Cell::new(0); }",
            "std::thread_local! { static N: Cell<u32> = Cell::new(0); }",
            "fn f() { ::std::thread_local!(static N: u8 = 0); }",
        ] {
            assert_eq!(
                found(src),
                [(Found::ThreadLocal, "thread_local!".to_string())],
                "{src}"
            );
        }
        // A local variable or function of that name is not the macro.
        assert!(found("fn f() { let thread_local = 1; thread_local + 1; }").is_empty());
    }

    #[test]
    fn leaves_the_shim_comments_strings_and_harmless_items_alone() {
        assert!(
            paths("use crate::sync::{Arc, Mutex}; use crate::sync::atomic::Ordering;").is_empty()
        );
        assert!(
            paths("// std::sync::Mutex\nfn f() -> &'static str { \"std::thread::spawn\" }")
                .is_empty()
        );
        assert!(paths("use std::sync::atomic::Ordering; use std::{self, fmt};").is_empty());
        assert!(paths(
            "use std::collections::HashSet; fn f() { std::time::Duration::from_millis(1); }"
        )
        .is_empty());
    }
}
