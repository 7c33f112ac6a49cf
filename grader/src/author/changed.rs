//! Where a variant departs from the solution, as lines of the variant's own files: what `grader
//! verify` needs to say that a model check's timeline shows the variant's bug, not just any steps.
//!
//! "On the variant's source" means: a line of a function the variant edits (the innermost `fn`
//! whose body holds an edited line, found with syn) or of a function of the same file it calls by
//! name (`self.lock()`: a lesson's helper that takes the lock is where the `lock` step shows), or,
//! for an edit outside every function (a field, a constant), a line within [`NEAR`] lines of it. A timeline of a lost wake-up shows the
//! waiting thread in `get` while the edit removed a notify from `close`: `close`'s own `lock` step
//! is then the step on the variant's source.

use std::collections::BTreeMap;

use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::check::target::SourceFile;

/// How far from an edit outside any function a step may be and still count as on it.
pub const NEAR: u32 = 3;

/// Per file of the variant (its path relative to `src/`), the 1-based line ranges that count as
/// the variant's own code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changed {
    pub ranges: BTreeMap<String, Vec<(u32, u32)>>,
}

impl Changed {
    /// The lines of `variant` that differ from `solution`, widened to the functions around them.
    pub fn between(solution: &[SourceFile], variant: &[SourceFile]) -> Changed {
        let mut ranges = BTreeMap::new();
        for file in variant {
            let before = solution
                .iter()
                .find(|f| f.path == file.path)
                .map(|f| f.text().into_owned())
                .unwrap_or_default();
            let after = file.text();
            let edited = edited_lines(&before, &after);
            if edited.is_empty() {
                continue;
            }
            let fns = fn_spans(&after);
            let mut spans: Vec<(u32, u32)> = Vec::new();
            for &line in &edited {
                let around = fns
                    .iter()
                    .filter(|f| f.start <= line && line <= f.end)
                    .min_by_key(|f| f.end - f.start);
                let Some(around) = around else {
                    spans.push((line.saturating_sub(NEAR).max(1), line + NEAR));
                    continue;
                };
                spans.push((around.start, around.end));
                let helpers = fns.iter().filter(|f| around.calls.contains(&f.name));
                spans.extend(helpers.map(|f| (f.start, f.end)));
            }
            spans.sort_unstable();
            // Overlapping ranges as one: each says once where the variant's code is.
            let mut merged: Vec<(u32, u32)> = Vec::new();
            for (start, end) in spans {
                match merged.last_mut() {
                    Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            ranges.insert(file.path.clone(), merged);
        }
        Changed { ranges }
    }

    /// Whether line `line` of the file the grader shows as `shown` (`src/lib.rs`) is the
    /// variant's own code.
    pub fn covers(&self, shown: &str, line: u32) -> bool {
        let Some(rel) = shown.strip_prefix("src/") else {
            return false;
        };
        self.ranges
            .get(rel)
            .is_some_and(|spans| spans.iter().any(|(a, b)| *a <= line && line <= *b))
    }

    /// The ranges, as `lib.rs:40-52, lib.rs:90-97`, for a message.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .ranges
            .iter()
            .flat_map(|(file, spans)| spans.iter().map(move |(a, b)| format!("{file}:{a}-{b}")))
            .collect();
        parts.join(", ")
    }
}

/// The lines of `after` that an edit from `before` touches: each inserted line, and for a deletion
/// the lines either side of where it was.
fn edited_lines(before: &str, after: &str) -> Vec<u32> {
    let patch = diffy::create_patch(before, after);
    let mut lines = Vec::new();
    for hunk in patch.hunks() {
        // diffy's ranges are 1-based; `new` is the line of `after` the next line of the hunk is.
        let mut new = hunk.new_range().start() as u32;
        for line in hunk.lines() {
            match line {
                diffy::Line::Context(_) => new += 1,
                diffy::Line::Insert(_) => {
                    lines.push(new);
                    new += 1;
                }
                diffy::Line::Delete(_) => {
                    lines.push(new.saturating_sub(1).max(1));
                    lines.push(new);
                }
            }
        }
    }
    lines.sort_unstable();
    lines.dedup();
    lines
}

/// A function of a file: its name, its lines, and the names it calls (`f(..)`, `x.f(..)`, `.map(f)`).
struct Fn {
    name: String,
    start: u32,
    end: u32,
    calls: Vec<String>,
}

/// Every function (free, in an `impl` or a `trait`, nested too) of `text`; none when it does not
/// parse.
fn fn_spans(text: &str) -> Vec<Fn> {
    /// The names a body calls.
    #[derive(Default)]
    struct Calls(Vec<String>);
    impl<'ast> Visit<'ast> for Calls {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            self.0.push(call.method.to_string());
            syn::visit::visit_expr_method_call(self, call);
        }
        // Every path in an expression: the callee of `f(..)`, and a function handed on by name
        // (`.map(lock)`), which runs just the same.
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if let Some(last) = path.path.segments.last() {
                self.0.push(last.ident.to_string());
            }
            syn::visit::visit_expr_path(self, path);
        }
    }
    #[derive(Default)]
    struct Fns(Vec<Fn>);
    impl Fns {
        fn add(&mut self, name: &syn::Ident, span: proc_macro2::Span, body: &syn::Block) {
            let mut calls = Calls::default();
            calls.visit_block(body);
            self.0.push(Fn {
                name: name.to_string(),
                start: span.start().line as u32,
                end: span.end().line as u32,
                calls: calls.0,
            });
        }
    }
    impl<'ast> Visit<'ast> for Fns {
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            self.add(&f.sig.ident, f.span(), &f.block);
            syn::visit::visit_item_fn(self, f);
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            self.add(&f.sig.ident, f.span(), &f.block);
            syn::visit::visit_impl_item_fn(self, f);
        }
        fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
            if let Some(body) = &f.default {
                self.add(&f.sig.ident, f.span(), body);
            }
            syn::visit::visit_trait_item_fn(self, f);
        }
    }
    let Ok(file) = syn::parse_file(text) else {
        return Vec::new();
    };
    let mut fns = Fns::default();
    fns.visit_file(&file);
    fns.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(text: &str) -> Vec<SourceFile> {
        vec![SourceFile::new("lib.rs", text.as_bytes().to_vec())]
    }

    const SOLUTION: &str = "pub struct C {\n    n: u32,\n}\n\nimpl C {\n    pub fn get(&self) -> u32 {\n        self.n\n    }\n\n    pub fn close(&self) {\n        lock();\n        notify();\n    }\n}\n\nfn lock() {}\n\nfn notify() {}\n";

    #[test]
    fn an_edit_inside_a_function_covers_it_and_the_helpers_it_calls() {
        let variant = SOLUTION.replace("        notify();\n", "");
        let changed = Changed::between(&files(SOLUTION), &files(&variant));
        // close, and lock, which close still calls: where its `lock` step shows.
        assert_eq!(changed.describe(), "lib.rs:10-12, lib.rs:15-15");
        assert!(changed.covers("src/lib.rs", 11));
        assert!(changed.covers("src/lib.rs", 15));
        assert!(!changed.covers("src/lib.rs", 17));
        assert!(!changed.covers("src/lib.rs", 7));
        assert!(!changed.covers("src/sync.rs", 11));
    }

    #[test]
    fn an_edit_outside_functions_covers_the_lines_near_it() {
        let variant = SOLUTION.replace("n: u32", "n: u64");
        let changed = Changed::between(&files(SOLUTION), &files(&variant));
        assert_eq!(changed.describe(), "lib.rs:1-5");
    }

    #[test]
    fn the_same_files_change_nothing() {
        let changed = Changed::between(&files(SOLUTION), &files(SOLUTION));
        assert_eq!(changed, Changed::default());
        assert!(!changed.covers("src/lib.rs", 1));
    }
}
