//! `grader verify --mutate`: mutation testing of a lesson's checks, with operators made for
//! concurrent code. The lesson's reference solution is parsed with syn; each mutant is one small
//! textual edit at a span (weaken an atomic ordering, split a read-modify-write, drop a notify, turn
//! a condvar's `while` into an `if`, delete a `join`, and a few of cargo-mutants' generic ones), and
//! is checked like a known-buggy variant made on the fly: every check of the lesson must pass for
//! the mutant to be *missed*.
//!
//! A missed mutant is either a gap in the checks or an equivalent program; the author records the
//! latter in `grader/lessons/NN-slug/equivalent-mutants.toml`:
//! ```toml
//! [[mutant]]
//! id = "lib.rs:42:weaken_ordering"
//! reason = "a plain counter: no other memory is published through it"
//! ```
//! An id is `FILE:LINE:OPERATOR` (`#2`, `#3` for a second and third site of one operator on a line).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::author::patch;
use crate::check::pipeline::{self, Options};
use crate::check::target::{SourceFile, Target};
use crate::curriculum::Lesson;
use crate::kit::Kit;
use crate::report::Build;
use crate::report::Status;
use grader_harness::protocol::Kind;

/// The file of a lesson's grader folder that lists its equivalent mutants.
pub const EQUIVALENT_FILE: &str = "equivalent-mutants.toml";

/// The shim is the kit's, never the solution's: it is not mutated.
const SHIM: &str = "sync.rs";

/// A lesson's `main.rs` is the learner's demo program (lesson 03's downloader, lesson 10's
/// supervisor of copies of itself): no check runs it, so its mutants would all survive.
const DEMO: &str = "main.rs";

/// A mutation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `SeqCst`/`AcqRel`/`Acquire`/`Release` → `Relaxed`, one site at a time.
    WeakenOrdering,
    /// `fetch_add`/`fetch_sub`/`swap`/`compare_exchange` → a load then a store.
    SplitRmw,
    /// Delete a `notify_one()`/`notify_all()` statement.
    DropNotify,
    /// `notify_all` → `notify_one`.
    NotifyAllToOne,
    /// A `while` loop whose body waits on a condvar → `if`.
    WhileToIf,
    /// `wait_while(guard, |s| p)` → `wait_while(guard, |s| !(p))`.
    NegateWaitWhile,
    /// Delete a `.join()` statement.
    DeleteJoin,
    /// `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`.
    FlipComparison,
    /// A function body that returns a value → `Default::default()`.
    DefaultBody,
    /// Delete a statement that is a method call.
    DeleteCall,
    /// Unlock a guard after the first statement of its critical section and lock again for the
    /// rest: what the first statement saw may be stale by the time the rest acts on it.
    ReleaseGuardEarly,
    /// Move a statement of a critical section that does not use the guard to before the lock.
    HoistOutOfLock,
    /// Swap two lock acquisitions that follow each other.
    SwapLockOrder,
    /// An integer literal in a comparison or a range bound, one more or one less.
    OffByOne,
}

impl Operator {
    pub const ALL: [Operator; 14] = [
        Operator::WeakenOrdering,
        Operator::SplitRmw,
        Operator::DropNotify,
        Operator::NotifyAllToOne,
        Operator::WhileToIf,
        Operator::NegateWaitWhile,
        Operator::DeleteJoin,
        Operator::FlipComparison,
        Operator::DefaultBody,
        Operator::DeleteCall,
        Operator::ReleaseGuardEarly,
        Operator::HoistOutOfLock,
        Operator::SwapLockOrder,
        Operator::OffByOne,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operator::WeakenOrdering => "weaken_ordering",
            Operator::SplitRmw => "split_rmw",
            Operator::DropNotify => "drop_notify",
            Operator::NotifyAllToOne => "notify_all_to_one",
            Operator::WhileToIf => "while_to_if",
            Operator::NegateWaitWhile => "negate_wait_while",
            Operator::DeleteJoin => "delete_join",
            Operator::FlipComparison => "flip_comparison",
            Operator::DefaultBody => "default_body",
            Operator::DeleteCall => "delete_call",
            Operator::ReleaseGuardEarly => "release_guard_early",
            Operator::HoistOutOfLock => "hoist_out_of_lock",
            Operator::SwapLockOrder => "swap_lock_order",
            Operator::OffByOne => "off_by_one",
        }
    }

    pub fn parse(name: &str) -> Result<Operator> {
        Operator::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .with_context(|| {
                let names: Vec<&str> = Operator::ALL.iter().map(|o| o.name()).collect();
                format!(
                    "no mutation operator `{name}`: there are {}",
                    names.join(", ")
                )
            })
    }
}

/// One mutant: a textual edit of one file of the solution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutant {
    /// `lib.rs:42:weaken_ordering`, stable while the solution's lines don't move.
    pub id: String,
    pub file: String,
    pub line: usize,
    pub operator: Operator,
    /// What the edit does, in a few words.
    pub description: String,
    /// The byte range of `file` replaced, and what replaces it.
    pub start: usize,
    pub end: usize,
    pub replacement: String,
}

impl Mutant {
    /// `text` (the file's) with the edit made.
    pub fn apply_to(&self, text: &str) -> String {
        format!(
            "{}{}{}",
            &text[..self.start],
            self.replacement,
            &text[self.end..]
        )
    }

    /// The solution's files with this mutant's edit made.
    pub fn files(&self, solution: &[SourceFile]) -> Vec<SourceFile> {
        solution
            .iter()
            .map(|f| {
                if f.path == self.file {
                    SourceFile::new(f.path.clone(), self.apply_to(&f.text()).into_bytes())
                } else {
                    f.clone()
                }
            })
            .collect()
    }

    /// The unified diff from the solution to this mutant.
    pub fn diff(&self, solution: &[SourceFile]) -> String {
        patch::make(solution, &self.files(solution), &[])
    }

    /// The build's cache key: one folder per mutant, reused by the next run.
    pub fn key(&self) -> String {
        let clean: String = self
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("mutant-{clean}")
    }
}

/// Every mutant of a solution's snapshot: each `.rs` file but the shim and the demo program, in
/// path order.
pub fn generate_all(solution: &Target) -> Result<Vec<Mutant>> {
    let mut all = Vec::new();
    for file in solution.files() {
        if file.path == SHIM || file.path == DEMO || !file.path.ends_with(".rs") {
            continue;
        }
        all.extend(generate(&file.path, &file.text())?);
    }
    Ok(all)
}

/// The mutants of one file, `file` naming it in their ids, in line order.
pub fn generate(file: &str, text: &str) -> Result<Vec<Mutant>> {
    let parsed = syn::parse_file(text).with_context(|| format!("cannot parse {file}"))?;
    let mut finder = Finder {
        text,
        lines: line_starts(text),
        edits: Vec::new(),
        self_ty: None,
        statements: Vec::new(),
    };
    finder.visit_file(&parsed);
    let mut edits = finder.edits;
    edits.sort_by_key(|e| (e.line, e.operator, e.start));
    edits.dedup_by(|a, b| (a.start, a.end, &a.replacement) == (b.start, b.end, &b.replacement));
    let mut seen: BTreeMap<(usize, Operator), usize> = BTreeMap::new();
    Ok(edits
        .into_iter()
        .map(|e| {
            let n = seen.entry((e.line, e.operator)).or_insert(0);
            *n += 1;
            let mut id = format!("{file}:{}:{}", e.line, e.operator.name());
            if *n > 1 {
                id.push_str(&format!("#{n}"));
            }
            Mutant {
                id,
                file: file.to_string(),
                line: e.line,
                operator: e.operator,
                description: e.description,
                start: e.start,
                end: e.end,
                replacement: e.replacement,
            }
        })
        .collect())
}

struct Edit {
    line: usize,
    operator: Operator,
    description: String,
    start: usize,
    end: usize,
    replacement: String,
}

struct Finder<'a> {
    text: &'a str,
    lines: Vec<usize>,
    edits: Vec<Edit>,
    /// The last segment of the type of the `impl` being visited.
    self_ty: Option<String>,
    /// Where the method calls that are whole statements start: a block put in place of one needs
    /// no parentheses (elsewhere, `{ .. } + 1` at a statement's start would not parse).
    statements: Vec<(usize, usize)>,
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

const STRONG_ORDERINGS: [&str; 4] = ["SeqCst", "AcqRel", "Acquire", "Release"];
const ORDERINGS: [&str; 5] = ["SeqCst", "AcqRel", "Acquire", "Release", "Relaxed"];

impl Finder<'_> {
    /// The byte offset of a span location (proc-macro2 counts columns in chars).
    fn offset(&self, at: proc_macro2::LineColumn) -> usize {
        let start = self.lines[at.line - 1];
        let line = &self.text[start..];
        start
            + line
                .char_indices()
                .nth(at.column)
                .map(|(i, _)| i)
                .unwrap_or(line.len())
    }

    fn range(&self, span: proc_macro2::Span) -> (usize, usize) {
        (self.offset(span.start()), self.offset(span.end()))
    }

    fn source(&self, span: proc_macro2::Span) -> &str {
        let (a, b) = self.range(span);
        &self.text[a..b]
    }

    fn push(
        &mut self,
        operator: Operator,
        span: proc_macro2::Span,
        replacement: String,
        description: String,
    ) {
        let (start, end) = self.range(span);
        self.push_range(
            span.start().line,
            operator,
            start,
            end,
            replacement,
            description,
        );
    }

    fn push_range(
        &mut self,
        line: usize,
        operator: Operator,
        start: usize,
        end: usize,
        replacement: String,
        description: String,
    ) {
        self.edits.push(Edit {
            line,
            operator,
            description,
            start,
            end,
            replacement,
        });
    }

    /// Deletes a statement: its whole lines when nothing else is on them.
    fn delete(&mut self, operator: Operator, span: proc_macro2::Span, description: String) {
        let (mut start, mut end) = self.range(span);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |i| end + i + 1);
        if self.text[line_start..start].trim().is_empty()
            && self.text[end..line_end].trim().is_empty()
        {
            start = line_start;
            end = line_end;
        }
        self.push_range(
            span.start().line,
            operator,
            start,
            end,
            String::new(),
            description,
        );
    }

    fn looks_like_ordering(&self, expr: &syn::Expr) -> bool {
        let text = self.source(expr.span());
        ORDERINGS.iter().any(|o| text.contains(o))
    }

    fn statement(&mut self, stmt: &syn::Stmt) {
        let syn::Stmt::Expr(expr, Some(semi)) = stmt else {
            return;
        };
        let syn::Expr::MethodCall(call) = expr else {
            return;
        };
        let span = expr.span().join(semi.span).unwrap_or_else(|| stmt.span());
        self.statements.push(self.range(expr.span()));
        let method = call.method.to_string();
        let shown = self.source(expr.span()).to_string();
        let shown = one_line(&shown);
        if method == "notify_one" || method == "notify_all" {
            self.delete(Operator::DropNotify, span, format!("delete `{shown};`"));
        } else if is_join(expr) {
            self.delete(Operator::DeleteJoin, span, format!("delete `{shown};`"));
        } else {
            self.delete(Operator::DeleteCall, span, format!("delete `{shown};`"));
        }
    }

    /// The start of `at`'s line and the end of its last line (after the newline), when nothing but
    /// `at` is on those lines: the unit that the guard operators move.
    fn whole_lines(&self, span: proc_macro2::Span) -> Option<(usize, usize)> {
        let (start, end) = self.range(span);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |i| end + i + 1);
        (self.text[line_start..start].trim().is_empty()
            && self.text[end..line_end].trim().is_empty())
        .then_some((line_start, line_end))
    }

    /// The guard operators over one block's statements: each `let NAME = ...lock()...;` starts a
    /// critical section that lasts until `drop(NAME);` or the block's end.
    fn critical_sections(&mut self, stmts: &[syn::Stmt]) {
        for (i, stmt) in stmts.iter().enumerate() {
            let Some(name) = guard_name(stmt, |e| self.source(e.span()).contains("lock()")) else {
                continue;
            };
            let Some((let_start, let_end)) = self.whole_lines(stmt.span()) else {
                continue;
            };
            let let_text = self.text[let_start..let_end].to_string();
            let indent: String = let_text.chars().take_while(|c| *c == ' ').collect();
            let section: Vec<&syn::Stmt> = stmts[i + 1..]
                .iter()
                .take_while(|s| !drops(s, &name))
                .collect();
            if let Some(next) = stmts.get(i + 1) {
                let locks_too = guard_name(next, |e| self.source(e.span()).contains("lock()"));
                if let (Some(other), Some((_, next_end))) =
                    (locks_too, self.whole_lines(next.span()))
                {
                    let next_text = self.text[let_end..next_end].to_string();
                    self.push_range(
                        stmt.span().start().line,
                        Operator::SwapLockOrder,
                        let_start,
                        next_end,
                        format!("{next_text}{let_text}"),
                        format!("lock `{other}` before `{name}`"),
                    );
                }
            }
            if section.len() >= 2 {
                if let Some((_, first_end)) = self.whole_lines(section[0].span()) {
                    let relock = let_text.trim_start();
                    self.push_range(
                        stmt.span().start().line,
                        Operator::ReleaseGuardEarly,
                        first_end,
                        first_end,
                        format!("{indent}drop({name});\n{indent}{relock}"),
                        format!("`{name}` unlocked after the first statement, locked again for the rest"),
                    );
                }
            }
            // Hoisted only: a statement that uses none of the block's guards (still under another
            // lock is not out of the critical section), with no `let` between it and the lock (it
            // could use that binding, and would no longer compile).
            let guards: Vec<String> = stmts[..=i]
                .iter()
                .filter_map(|s| guard_name(s, |e| self.source(e.span()).contains("lock()")))
                .collect();
            for moved in section
                .iter()
                .take_while(|s| !matches!(s, syn::Stmt::Local(_)))
            {
                let text = self.source(moved.span()).to_string();
                let Some((start, end)) = self.whole_lines(moved.span()) else {
                    continue;
                };
                if guards.iter().any(|g| mentions(&text, g))
                    || matches!(moved, syn::Stmt::Expr(_, None))
                {
                    continue;
                }
                let between = &self.text[let_start..start];
                let replacement = format!("{}{between}", &self.text[start..end]);
                self.push_range(
                    moved.span().start().line,
                    Operator::HoistOutOfLock,
                    let_start,
                    end,
                    replacement,
                    format!("`{}` moved before `{name}` is locked", one_line(&text)),
                );
            }
        }
    }

    /// `off_by_one`: an integer literal that is a comparison's operand or a range's bound.
    fn off_by_one(&mut self, expr: &syn::Expr) {
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) = expr
        else {
            return;
        };
        let Ok(value) = int.base10_parse::<u128>() else {
            return;
        };
        let suffix = int.suffix();
        let mut push = |to: u128| {
            self.push(
                Operator::OffByOne,
                int.span(),
                format!("{to}{suffix}"),
                format!("`{value}` → `{to}`"),
            )
        };
        push(value + 1);
        if value > 0 {
            push(value - 1);
        }
    }

    fn default_body(&mut self, name: &syn::Ident, output: &syn::ReturnType, block: &syn::Block) {
        let syn::ReturnType::Type(_, ty) = output else {
            return;
        };
        if name == "default" || name == "main" || !self.default_is_likely(ty) {
            return;
        }
        let body = self.source(block.span());
        if body.contains("Default::default()") && block.stmts.len() == 1 {
            return;
        }
        let open = self.offset(block.brace_token.span.open().end());
        let close = self.offset(block.brace_token.span.close().start());
        let line = name.span().start().line;
        let line_text = &self.text[self.lines[line - 1]..];
        let indent: String = line_text.chars().take_while(|c| *c == ' ').collect();
        self.push_range(
            line,
            Operator::DefaultBody,
            open,
            close,
            format!("\n{indent}    Default::default()\n{indent}"),
            format!("`{name}` returns `Default::default()`"),
        );
    }

    /// Whether `Default::default()` likely compiles as a value of `ty`.
    fn default_is_likely(&self, ty: &syn::Type) -> bool {
        match ty {
            syn::Type::Path(path) => {
                let Some(last) = path.path.segments.last() else {
                    return false;
                };
                let last = last.ident.to_string();
                let no_default = [
                    "Self",
                    "Result",
                    "MutexGuard",
                    "RwLockReadGuard",
                    "RwLockWriteGuard",
                    "JoinHandle",
                    "Box",
                ];
                !no_default.contains(&last.as_str()) && self.self_ty.as_deref() != Some(&last)
            }
            syn::Type::Tuple(_) | syn::Type::Array(_) => true,
            _ => false,
        }
    }
}

/// `x.join()`, maybe followed by `.unwrap()`, `.expect(..)` or `?`.
fn is_join(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::MethodCall(call) if call.method == "join" => call.args.is_empty(),
        syn::Expr::MethodCall(call) if call.method == "unwrap" || call.method == "expect" => {
            is_join(&call.receiver)
        }
        syn::Expr::Try(t) => is_join(&t.expr),
        _ => false,
    }
}

/// The name a `let` binds when its initializer takes a lock (`let mut state = self.lock();`).
fn guard_name(stmt: &syn::Stmt, locks: impl Fn(&syn::Expr) -> bool) -> Option<String> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    let init = local.init.as_ref()?;
    if init.diverge.is_some() || !locks(&init.expr) {
        return None;
    }
    let pat = match &local.pat {
        syn::Pat::Type(t) => &*t.pat,
        p => p,
    };
    match pat {
        syn::Pat::Ident(i) => Some(i.ident.to_string()),
        _ => None,
    }
}

/// `drop(name);`: the end of a critical section.
fn drops(stmt: &syn::Stmt, name: &str) -> bool {
    let syn::Stmt::Expr(syn::Expr::Call(call), _) = stmt else {
        return false;
    };
    matches!(&*call.func, syn::Expr::Path(p) if p.path.is_ident("drop"))
        && call.args.len() == 1
        && matches!(&call.args[0], syn::Expr::Path(p) if p.path.is_ident(name))
}

/// Whether `text` uses the identifier `name` (not merely a longer word containing it).
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(i, _)| {
        !text[..i].chars().next_back().is_some_and(word)
            && !text[i + name.len()..].chars().next().is_some_and(word)
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a block calls a condvar's wait (`wait`, `wait_timeout`, `wait_while`...).
fn waits(block: &syn::Block) -> bool {
    struct Waits(bool);
    impl<'ast> Visit<'ast> for Waits {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            if call.method.to_string().starts_with("wait") {
                self.0 = true;
            }
            visit::visit_expr_method_call(self, call);
        }
    }
    let mut w = Waits(false);
    w.visit_block(block);
    w.0
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().contains("test"))
    })
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        if !is_cfg_test(&node.attrs) {
            visit::visit_item_mod(self, node);
        }
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        if is_cfg_test(&node.attrs) {
            return;
        }
        self.default_body(&node.sig.ident, &node.sig.output, &node.block);
        visit::visit_item_fn(self, node);
    }

    fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
        if is_cfg_test(&node.attrs) {
            return;
        }
        let outer = self.self_ty.take();
        if let syn::Type::Path(path) = &*node.self_ty {
            self.self_ty = path.path.segments.last().map(|s| s.ident.to_string());
        }
        visit::visit_item_impl(self, node);
        self.self_ty = outer;
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        if is_cfg_test(&node.attrs) {
            return;
        }
        self.default_body(&node.sig.ident, &node.sig.output, &node.block);
        visit::visit_impl_item_fn(self, node);
    }

    fn visit_block(&mut self, node: &'ast syn::Block) {
        for stmt in &node.stmts {
            self.statement(stmt);
        }
        self.critical_sections(&node.stmts);
        visit::visit_block(self, node);
    }

    fn visit_expr_path(&mut self, node: &'ast syn::ExprPath) {
        if let Some(last) = node.path.segments.last() {
            let name = last.ident.to_string();
            if STRONG_ORDERINGS.contains(&name.as_str()) {
                self.push(
                    Operator::WeakenOrdering,
                    last.ident.span(),
                    "Relaxed".into(),
                    format!("`{name}` → `Relaxed`"),
                );
            }
        }
        visit::visit_expr_path(self, node);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.to_string();
        let args: Vec<&syn::Expr> = call.args.iter().collect();
        let receiver = self.source(call.receiver.span()).to_string();
        let arg = |i: usize| self.source(args[i].span()).to_string();
        let rmw = match (method.as_str(), args.len()) {
            ("fetch_add" | "fetch_sub", 2) if self.looks_like_ordering(args[1]) => {
                let op = if method == "fetch_add" { "+" } else { "-" };
                let (v, o) = (arg(0), arg(1));
                Some(format!(
                    "{{ let old = {receiver}.load({o}); {receiver}.store(old {op} ({v}), {o}); old }}"
                ))
            }
            ("swap", 2) if self.looks_like_ordering(args[1]) => {
                let (v, o) = (arg(0), arg(1));
                Some(format!(
                    "{{ let old = {receiver}.load({o}); {receiver}.store({v}, {o}); old }}"
                ))
            }
            ("compare_exchange" | "compare_exchange_weak", 4)
                if self.looks_like_ordering(args[2]) =>
            {
                let (current, new, success, failure) = (arg(0), arg(1), arg(2), arg(3));
                Some(format!(
                    "{{ let old = {receiver}.load({failure}); if old == ({current}) {{ {receiver}.store({new}, {success}); Ok(old) }} else {{ Err(old) }} }}"
                ))
            }
            _ => None,
        };
        if let Some(mut replacement) = rmw {
            if !self.statements.contains(&self.range(call.span())) {
                replacement = format!("({replacement})");
            }
            self.push(
                Operator::SplitRmw,
                call.span(),
                replacement,
                format!("`{method}` as a load then a store"),
            );
        }
        if method == "notify_all" {
            self.push(
                Operator::NotifyAllToOne,
                call.method.span(),
                "notify_one".into(),
                "`notify_all` → `notify_one`".into(),
            );
        }
        if method == "wait_while" && args.len() == 2 {
            if let syn::Expr::Closure(closure) = args[1] {
                let body = self.source(closure.body.span()).to_string();
                self.push(
                    Operator::NegateWaitWhile,
                    closure.body.span(),
                    format!("!({body})"),
                    "the `wait_while` predicate negated".into(),
                );
            }
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_range(&mut self, node: &'ast syn::ExprRange) {
        for bound in [&node.start, &node.end].into_iter().flatten() {
            self.off_by_one(bound);
        }
        visit::visit_expr_range(self, node);
    }

    fn visit_expr_while(&mut self, node: &'ast syn::ExprWhile) {
        if node.label.is_none() && waits(&node.body) {
            self.push(
                Operator::WhileToIf,
                node.while_token.span,
                "if".into(),
                "the condvar's `while` → `if`: no re-check after a wake-up".into(),
            );
        }
        visit::visit_expr_while(self, node);
    }

    fn visit_expr_binary(&mut self, node: &'ast syn::ExprBinary) {
        use syn::BinOp;
        let flipped = match node.op {
            BinOp::Lt(_) => Some(("<", "<=")),
            BinOp::Le(_) => Some(("<=", "<")),
            BinOp::Gt(_) => Some((">", ">=")),
            BinOp::Ge(_) => Some((">=", ">")),
            BinOp::Eq(_) => Some(("==", "!=")),
            BinOp::Ne(_) => Some(("!=", "==")),
            _ => None,
        };
        if let Some((from, to)) = flipped {
            self.push(
                Operator::FlipComparison,
                node.op.span(),
                to.into(),
                format!("`{from}` → `{to}`"),
            );
            self.off_by_one(&node.left);
            self.off_by_one(&node.right);
        }
        visit::visit_expr_binary(self, node);
    }
}

/// A missed mutant the author explained.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalent {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EquivalentFile {
    #[serde(default)]
    mutant: Vec<Equivalent>,
}

/// The lesson's `equivalent-mutants.toml` (none when it is missing).
pub fn load_equivalent(kit: &Kit, lesson: &Lesson) -> Result<Vec<Equivalent>> {
    let path = kit.path(&lesson.checks).join(EQUIVALENT_FILE);
    match std::fs::read_to_string(&path) {
        Err(_) => Ok(Vec::new()),
        Ok(text) => parse_equivalent(&text).with_context(|| kit.display(&path)),
    }
}

pub fn parse_equivalent(text: &str) -> Result<Vec<Equivalent>> {
    let file: EquivalentFile = toml::from_str(text)?;
    for e in &file.mutant {
        if e.reason.trim().is_empty() {
            anyhow::bail!(
                "`{}`: an equivalent mutant says why (reason = \"...\")",
                e.id
            );
        }
    }
    Ok(file.mutant)
}

/// What checking a mutant found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A check failed or crashed on it.
    Caught { check: String, status: Status },
    /// A check timed out on it (a deadlock or a lost wake-up, usually): caught.
    Timeout { check: String },
    /// Every check passed.
    Missed,
    /// It did not build.
    Unviable { summary: String },
}

/// How `--mutate` runs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Check at most this many mutants (in id order, after the operator filter).
    pub limit: Option<usize>,
    /// Only these operators; empty: all.
    pub operators: Vec<Operator>,
    /// List the mutants and their diffs; build nothing.
    pub list: bool,
    /// Mutants checked at once (0 or 1: one at a time). Each runs its checks `cores / jobs` at a
    /// time, as `grader grade` does with submissions, and a timing check still runs with nothing
    /// else of the grader running (`check/gate.rs`), so its verdict does not depend on this.
    pub jobs: usize,
    /// One JSON document (the table and the totals) instead of the human rows.
    pub json: bool,
}

/// Checks a mutant: cheap and std checks first, then the model checks, then the timing checks,
/// each phase stopping at its first failure; the first check that fails caught it.
pub fn check_mutant(
    kit: &Kit,
    lesson: &Lesson,
    solution: &Target,
    mutant: &Mutant,
    options: &Options,
) -> Result<Outcome> {
    let target = Target::from_files(
        format!("mutant {}", mutant.id),
        mutant.key(),
        format!("{} (mutant {})", solution.src_display, mutant.id),
        mutant.files(solution.files()),
    );
    let planned = lesson.planned_checks()?;
    let phases: [&[Kind]; 3] = [
        &[Kind::Lint, Kind::Unit, Kind::Stress],
        &[Kind::Model],
        &[Kind::Timing],
    ];
    for kinds in phases {
        let only: Vec<String> = planned
            .iter()
            .filter(|c| kinds.contains(&c.kind))
            .map(|c| c.name.clone())
            .collect();
        if only.is_empty() {
            continue;
        }
        let phase = Options {
            only: Some(only),
            fail_fast: true,
            ..options.clone()
        };
        let report = pipeline::evaluate(kit, lesson, &target, &phase, &|_| {})?;
        if let Build::Failed { summary, .. } = &report.build {
            return Ok(Outcome::Unviable {
                summary: one_line(summary),
            });
        }
        if let Some(c) = report.checks.iter().find(|c| c.status.ran_and_failed()) {
            return Ok(if c.status == Status::Timeout {
                Outcome::Timeout {
                    check: c.name.clone(),
                }
            } else {
                Outcome::Caught {
                    check: c.name.clone(),
                    status: c.status,
                }
            });
        }
    }
    Ok(Outcome::Missed)
}

/// The totals of a lesson's run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub mutants: usize,
    pub caught: usize,
    pub timeout: usize,
    pub missed: usize,
    pub equivalent: usize,
    pub unviable: usize,
}

impl Totals {
    /// Counts a mutant's outcome: whether it is fine (caught, unviable, or missed and explained as
    /// equivalent) and its row's result.
    pub fn count(&mut self, outcome: &Outcome, explained: Option<&Equivalent>) -> (bool, String) {
        match (outcome, explained) {
            (Outcome::Caught { check, status }, None) => {
                self.caught += 1;
                (true, format!("caught by {check} ({status})"))
            }
            (Outcome::Timeout { check }, None) => {
                self.timeout += 1;
                (true, format!("timeout: caught by {check}"))
            }
            (Outcome::Caught { check, .. } | Outcome::Timeout { check }, Some(_)) => {
                self.caught += 1;
                (
                    false,
                    format!("caught by {check}, but {EQUIVALENT_FILE} calls it equivalent: remove it from there"),
                )
            }
            (Outcome::Missed, Some(e)) => {
                self.equivalent += 1;
                (true, format!("equivalent: {}", e.reason))
            }
            (Outcome::Missed, None) => {
                self.missed += 1;
                (false, "MISSED: every check passes".to_string())
            }
            (Outcome::Unviable { summary }, _) => {
                self.unviable += 1;
                (true, format!("unviable: {summary}"))
            }
        }
    }
}

/// One row of the table, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub file: String,
    pub line: usize,
    pub operator: &'static str,
    pub description: String,
    /// caught, timeout, missed, equivalent, wrongly_equivalent, unviable.
    pub result: &'static str,
    /// The check that caught it (caught, timeout, wrongly_equivalent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The row's result in words: which check and how, the equivalence's reason, the build error.
    pub detail: String,
    /// Whether the row is fine (anything but an unexplained survivor or a wrong explanation).
    pub fine: bool,
    pub seconds: f64,
    /// The mutant as a unified diff against the solution.
    pub diff: String,
}

/// `--format json`: a lesson's whole run.
#[derive(Debug, Serialize)]
struct Document<'a> {
    lesson: String,
    ok: bool,
    generated: usize,
    checked: usize,
    caught: usize,
    timeout: usize,
    missed: usize,
    equivalent: usize,
    unviable: usize,
    seconds: f64,
    /// Entries of equivalent-mutants.toml that name no mutant.
    stale_equivalent: Vec<String>,
    mutants: &'a [Row],
}

fn result_word(outcome: &Outcome, explained: Option<&Equivalent>) -> &'static str {
    match (outcome, explained) {
        (Outcome::Caught { .. }, None) => "caught",
        (Outcome::Timeout { .. }, None) => "timeout",
        (Outcome::Caught { .. } | Outcome::Timeout { .. }, Some(_)) => "wrongly_equivalent",
        (Outcome::Missed, Some(_)) => "equivalent",
        (Outcome::Missed, None) => "missed",
        (Outcome::Unviable { .. }, _) => "unviable",
    }
}

/// Checks `mutants`, `jobs` at a time; `done` gets each (index, outcome, seconds) as it finishes.
fn check_all(
    kit: &Kit,
    lesson: &Lesson,
    solution: &Target,
    mutants: &[&Mutant],
    jobs: usize,
    options: &Options,
    done: &mut dyn FnMut(usize, Result<Outcome>, f64) -> Result<()>,
) -> Result<()> {
    let jobs = jobs.clamp(1, mutants.len().max(1));
    let options = Options {
        jobs: (options.jobs / jobs).max(1),
        ..options.clone()
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (tx, next, options) = (tx.clone(), &next, &options);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(m) = mutants.get(i) else {
                    break;
                };
                let t = Instant::now();
                let outcome = check_mutant(kit, lesson, solution, m, options);
                if tx.send((i, outcome, t.elapsed().as_secs_f64())).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, outcome, seconds) in rx {
            if let Err(e) = done(i, outcome, seconds) {
                // Stop handing out mutants; the ones in flight finish and are dropped.
                next.store(mutants.len(), Ordering::SeqCst);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// `grader verify --mutate` for one lesson: a row per mutant as it is checked, the diffs of the
/// missed ones, the totals (or all of it as one JSON document). True when every missed mutant is
/// listed as equivalent, every mutant listed as equivalent exists and was missed.
pub fn run(
    kit: &Kit,
    lesson: &Lesson,
    settings: &Settings,
    options: &Options,
    out: &mut dyn Write,
) -> Result<bool> {
    let started = Instant::now();
    let solution = Target::solution(kit, lesson)?;
    let equivalent = load_equivalent(kit, lesson)?;
    let all = generate_all(&solution)?;
    let mut ok = true;
    let stale: Vec<String> = equivalent
        .iter()
        .filter(|e| !all.iter().any(|m| m.id == e.id))
        .map(|e| e.id.clone())
        .collect();
    for id in &stale {
        ok = false;
        if !settings.json {
            writeln!(
                out,
                "{}: {EQUIVALENT_FILE} lists `{id}`, which is no mutant of the solution (did its lines move?): update or remove it",
                lesson.dir_name(),
            )?;
        }
    }
    let mut mutants: Vec<&Mutant> = all
        .iter()
        .filter(|m| settings.operators.is_empty() || settings.operators.contains(&m.operator))
        .collect();
    let generated = mutants.len();
    if let Some(limit) = settings.limit {
        mutants.truncate(limit);
    }
    if !settings.json {
        writeln!(
            out,
            "{}: {generated} mutant{}{}",
            lesson.dir_name(),
            if generated == 1 { "" } else { "s" },
            if mutants.len() < generated {
                format!(", checking the first {}", mutants.len())
            } else {
                String::new()
            }
        )?;
    }
    if settings.list {
        let rows: Vec<Row> = mutants
            .iter()
            .map(|m| Row {
                id: m.id.clone(),
                file: m.file.clone(),
                line: m.line,
                operator: m.operator.name(),
                description: m.description.clone(),
                result: "not_checked",
                check: None,
                detail: String::new(),
                fine: true,
                seconds: 0.0,
                diff: m.diff(solution.files()),
            })
            .collect();
        if settings.json {
            let doc = Document {
                lesson: lesson.dir_name(),
                ok,
                generated,
                checked: 0,
                caught: 0,
                timeout: 0,
                missed: 0,
                equivalent: 0,
                unviable: 0,
                seconds: started.elapsed().as_secs_f64(),
                stale_equivalent: stale,
                mutants: &rows,
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            for r in &rows {
                writeln!(out, "{}  {}", r.id, r.description)?;
                for line in r.diff.lines() {
                    writeln!(out, "    | {line}")?;
                }
            }
        }
        return Ok(ok);
    }
    let width = mutants.iter().map(|m| m.id.len()).max().unwrap_or(0);
    let described = mutants
        .iter()
        .map(|m| m.description.chars().count())
        .max()
        .unwrap_or(0);
    let mut totals = Totals {
        mutants: mutants.len(),
        ..Totals::default()
    };
    let mut rows: Vec<Option<Row>> = vec![None; mutants.len()];
    check_all(
        kit,
        lesson,
        &solution,
        &mutants,
        settings.jobs,
        options,
        &mut |i, outcome, seconds| {
            let (m, outcome) = (mutants[i], outcome?);
            let explained = equivalent.iter().find(|e| e.id == m.id);
            let (fine, detail) = totals.count(&outcome, explained);
            let check = match &outcome {
                Outcome::Caught { check, .. } | Outcome::Timeout { check } => Some(check.clone()),
                _ => None,
            };
            if !settings.json {
                writeln!(
                    out,
                    "{:<14} {:<width$}  {:<described$}  {detail}  ({seconds:.0} s)",
                    lesson.dir_name(),
                    m.id,
                    m.description,
                )?;
                out.flush()?;
            }
            rows[i] = Some(Row {
                id: m.id.clone(),
                file: m.file.clone(),
                line: m.line,
                operator: m.operator.name(),
                description: m.description.clone(),
                result: result_word(&outcome, explained),
                check,
                detail,
                fine,
                seconds,
                diff: m.diff(solution.files()),
            });
            Ok(())
        },
    )?;
    let rows: Vec<Row> = rows.into_iter().flatten().collect();
    ok &= rows.iter().all(|r| r.fine);
    if settings.json {
        let doc = Document {
            lesson: lesson.dir_name(),
            ok,
            generated,
            checked: totals.mutants,
            caught: totals.caught,
            timeout: totals.timeout,
            missed: totals.missed,
            equivalent: totals.equivalent,
            unviable: totals.unviable,
            seconds: started.elapsed().as_secs_f64(),
            stale_equivalent: stale,
            mutants: &rows,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ok);
    }
    let missed: Vec<&Row> = rows.iter().filter(|r| r.result == "missed").collect();
    for r in &missed {
        writeln!(out, "\nmissed {}: {}", r.id, r.description)?;
        for line in r.diff.lines() {
            writeln!(out, "    | {line}")?;
        }
    }
    if !missed.is_empty() {
        writeln!(
            out,
            "\neach missed mutant needs a check that catches it, or an entry in {}/{EQUIVALENT_FILE} saying why the program is still correct",
            kit.display(&kit.path(&lesson.checks))
        )?;
    }
    writeln!(
        out,
        "{}: {} mutants: {} caught, {} timeout, {} missed, {} equivalent, {} unviable ({:.0} s)",
        lesson.dir_name(),
        totals.mutants,
        totals.caught,
        totals.timeout,
        totals.missed,
        totals.equivalent,
        totals.unviable,
        started.elapsed().as_secs_f64()
    )?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Vec<String> {
        generate("lib.rs", text)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    fn only(text: &str, op: Operator) -> Vec<Mutant> {
        generate("lib.rs", text)
            .unwrap()
            .into_iter()
            .filter(|m| m.operator == op)
            .collect()
    }

    fn applied(text: &str, op: Operator) -> Vec<String> {
        only(text, op).iter().map(|m| m.apply_to(text)).collect()
    }

    #[test]
    fn weakens_each_strong_ordering_alone() {
        let src = "fn f(x: &AtomicU64) {\n    x.store(1, Ordering::Release);\n    let _ = x.load(Ordering::Acquire) + x.load(Relaxed);\n}\n";
        let out = applied(src, Operator::WeakenOrdering);
        assert_eq!(out.len(), 2);
        assert!(out[0].contains("x.store(1, Ordering::Relaxed);"));
        assert!(out[0].contains("Ordering::Acquire"));
        assert!(out[1].contains("x.load(Ordering::Relaxed) + x.load(Relaxed)"));
        assert!(out[1].contains("Ordering::Release"));
    }

    #[test]
    fn splits_read_modify_writes_into_a_load_and_a_store() {
        let src = "fn f(x: &AtomicU64) -> u64 {\n    x.fetch_sub(2, SeqCst);\n    v.swap(0, 1);\n    x.fetch_add(n + 1, Ordering::AcqRel) + 1\n}\n";
        let out = applied(src, Operator::SplitRmw);
        assert_eq!(out.len(), 2, "a slice's swap is no atomic: {out:?}");
        assert!(
            out[0].contains("    { let old = x.load(SeqCst); x.store(old - (2), SeqCst); old };\n")
        );
        assert!(out[1].contains("({ let old = x.load(Ordering::AcqRel); x.store(old + (n + 1), Ordering::AcqRel); old }) + 1"));
        let cas = "fn f(x: &AtomicU64) -> bool {\n    x.compare_exchange(0, 1, AcqRel, Acquire).is_ok()\n}\n";
        let out = applied(cas, Operator::SplitRmw);
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("({ let old = x.load(Acquire); if old == (0) { x.store(1, AcqRel); Ok(old) } else { Err(old) } }).is_ok()"));
    }

    const QUEUE: &str = "impl Queue {
    fn put(&self, item: u32) {
        let mut state = self.lock();
        while state.len() >= self.capacity {
            state = self.not_full.wait(state).unwrap();
        }
        state.push_back(item);
        drop(state);
        self.not_empty.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
    }

    fn drain(&self) {
        while self.len() > 0 {
            self.pop();
        }
        let g = self.cv.wait_while(self.lock(), |s| s.busy).unwrap();
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn new() -> Queue {
        Queue {}
    }

    fn me(&self) -> Self {
        Queue {}
    }
}
";

    #[test]
    fn every_operator_on_a_queue_with_stable_ids() {
        insta::assert_snapshot!(ids(QUEUE).join("\n"), @r"
        lib.rs:3:release_guard_early
        lib.rs:4:while_to_if
        lib.rs:4:flip_comparison
        lib.rs:7:delete_call
        lib.rs:9:drop_notify
        lib.rs:14:drop_notify
        lib.rs:14:notify_all_to_one
        lib.rs:18:flip_comparison
        lib.rs:18:off_by_one
        lib.rs:19:delete_call
        lib.rs:21:negate_wait_while
        lib.rs:24:default_body
        ");
        // The same source gives the same mutants.
        assert_eq!(
            generate("lib.rs", QUEUE).unwrap(),
            generate("lib.rs", QUEUE).unwrap()
        );
    }

    #[test]
    fn while_to_if_only_where_the_body_waits() {
        let out = applied(QUEUE, Operator::WhileToIf);
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("        if state.len() >= self.capacity {\n"));
        assert!(out[0].contains("        while self.len() > 0 {\n"));
    }

    #[test]
    fn notify_all_becomes_notify_one_and_notifies_are_dropped_with_their_line() {
        let out = applied(QUEUE, Operator::NotifyAllToOne);
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("self.not_empty.notify_one();\n    }\n\n    fn drain"));
        let drops = only(QUEUE, Operator::DropNotify);
        assert_eq!(drops.len(), 2);
        let out = drops[0].apply_to(QUEUE);
        assert!(out.contains("        drop(state);\n    }\n"), "{out}");
        assert_eq!(
            drops[0].description,
            "delete `self.not_empty.notify_one();`"
        );
    }

    #[test]
    fn negates_a_wait_while_predicate() {
        let out = applied(QUEUE, Operator::NegateWaitWhile);
        assert!(out[0].contains("wait_while(self.lock(), |s| !(s.busy))"));
    }

    #[test]
    fn default_body_skips_constructors_of_self_and_default_itself() {
        let m = only(QUEUE, Operator::DefaultBody);
        assert_eq!(m.len(), 1, "only `len`: {m:?}");
        assert!(m[0]
            .apply_to(QUEUE)
            .contains("    fn len(&self) -> usize {\n        Default::default()\n    }\n"));
        let src = "impl Default for C {\n    fn default() -> C {\n        C::new()\n    }\n}\nfn r() -> Result<(), ()> {\n    Ok(())\n}\nfn b() -> bool {\n    true\n}\n";
        assert_eq!(ids(src), ["lib.rs:9:default_body"]);
    }

    #[test]
    fn joins_are_deleted_only_as_statements() {
        let src = "fn f(h: JoinHandle<()>, g: JoinHandle<()>, k: JoinHandle<()>) {\n    h.join().unwrap();\n    if let Err(e) = g.join() {\n        panic!();\n    }\n    let _ = k.join();\n}\n";
        assert_eq!(ids(src), ["lib.rs:2:delete_join"]);
        let out = applied(src, Operator::DeleteJoin);
        assert!(out[0].starts_with(
            "fn f(h: JoinHandle<()>, g: JoinHandle<()>, k: JoinHandle<()>) {\n    if let"
        ));
    }

    #[test]
    fn flips_comparisons_with_numbered_ids_on_one_line() {
        let src = "fn f(a: u32, b: u32) -> bool {\n    a < b && a != 0\n}\n";
        let m = only(src, Operator::FlipComparison);
        let ids: Vec<&str> = m.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            ["lib.rs:2:flip_comparison", "lib.rs:2:flip_comparison#2"]
        );
        assert!(m[0].apply_to(src).contains("a <= b && a != 0"));
        assert!(m[1].apply_to(src).contains("a < b && a == 0"));
    }

    #[test]
    fn skips_test_modules() {
        let src = "fn f() {\n    x.go();\n}\n#[cfg(test)]\nmod tests {\n    fn t() {\n        y.go();\n    }\n}\n";
        assert_eq!(ids(src), ["lib.rs:2:delete_call"]);
    }

    #[test]
    fn a_mutant_is_shown_as_a_unified_diff() {
        let src = "fn inc(x: &AtomicU64) {\n    x.fetch_add(1, SeqCst);\n}\n";
        let solution = vec![
            SourceFile::new("lib.rs", src.as_bytes().to_vec()),
            SourceFile::new("sync.rs", b"pub use std::sync::*;\n".to_vec()),
        ];
        let m = only(src, Operator::SplitRmw).remove(0);
        insta::assert_snapshot!(m.diff(&solution), @r"
        --- a/lib.rs
        +++ b/lib.rs
        @@ -1,3 +1,3 @@
         fn inc(x: &AtomicU64) {
        -    x.fetch_add(1, SeqCst);
        +    { let old = x.load(SeqCst); x.store(old + (1), SeqCst); old };
         }
        ");
        assert_eq!(m.key(), "mutant-lib_rs_2_split_rmw");
    }

    const LOCKS: &str = "impl Bank {
    fn transfer(&self, n: u64) {
        let mut from = self.a.lock().unwrap();
        let mut to = self.b.lock().unwrap();
        from.balance -= n;
        to.balance += n;
    }

    fn put(&self, item: u32) {
        let mut state = self.lock();
        self.puts.fetch_add(1, SeqCst);
        state.items.push(item);
        state.count += 1;
        drop(state);
        self.cv.notify_one();
    }
}
";

    #[test]
    fn releases_a_guard_after_the_first_statement_of_its_section() {
        let out = applied(LOCKS, Operator::ReleaseGuardEarly);
        assert_eq!(out.len(), 3, "from, to and state: {out:?}");
        assert!(out[2].contains(
            "        self.puts.fetch_add(1, SeqCst);\n        drop(state);\n        let mut state = self.lock();\n        state.items.push(item);\n        state.count += 1;\n        drop(state);\n"
        ), "{}", out[2]);
        assert_eq!(
            ids(LOCKS)
                .iter()
                .filter(|i| i.ends_with("release_guard_early"))
                .count(),
            3
        );
    }

    #[test]
    fn hoists_only_statements_that_do_not_use_the_guard() {
        let m = only(LOCKS, Operator::HoistOutOfLock);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].id, "lib.rs:11:hoist_out_of_lock");
        assert!(m[0].apply_to(LOCKS).contains(
            "        self.puts.fetch_add(1, SeqCst);\n        let mut state = self.lock();\n        state.items.push(item);\n"
        ));
    }

    #[test]
    fn swaps_two_lock_acquisitions_in_a_row() {
        let m = only(LOCKS, Operator::SwapLockOrder);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].description, "lock `to` before `from`");
        assert!(m[0].apply_to(LOCKS).contains(
            "        let mut to = self.b.lock().unwrap();\n        let mut from = self.a.lock().unwrap();\n        from.balance -= n;\n"
        ));
    }

    #[test]
    fn moves_literal_bounds_by_one_in_both_directions() {
        let src = "fn f(v: &[u32], n: usize) -> bool {\n    for i in 0..4 {\n        let _ = v[i];\n    }\n    n >= 2u64 && n * 3 != 0\n}\n";
        let m = only(src, Operator::OffByOne);
        let shown: Vec<&str> = m.iter().map(|m| m.description.as_str()).collect();
        assert_eq!(
            shown,
            [
                "`0` → `1`",
                "`4` → `5`",
                "`4` → `3`",
                "`2` → `3`",
                "`2` → `1`",
                "`0` → `1`"
            ]
        );
        assert!(m[1].apply_to(src).contains("for i in 0..5 {"));
        assert!(m[3].apply_to(src).contains("n >= 3u64"));
        assert!(
            !m.iter().any(|m| m.apply_to(src).contains("n * 4")),
            "an operand of `*` is no bound"
        );
    }

    #[test]
    fn only_an_unexplained_survivor_or_a_wrong_explanation_fails() {
        let why = Equivalent {
            id: "lib.rs:3:weaken_ordering".into(),
            reason: "a plain counter".into(),
        };
        let caught = Outcome::Caught {
            check: "unit_a".into(),
            status: Status::Fail,
        };
        let mut t = Totals::default();
        assert_eq!(
            t.count(&caught, None),
            (true, "caught by unit_a (fail)".into())
        );
        let timeout = Outcome::Timeout {
            check: "stress_b".into(),
        };
        assert!(t.count(&timeout, None).0);
        assert_eq!(
            t.count(&Outcome::Missed, Some(&why)),
            (true, "equivalent: a plain counter".into())
        );
        assert!(!t.count(&Outcome::Missed, None).0);
        let (fine, text) = t.count(&caught, Some(&why));
        assert!(!fine && text.contains("remove it from there"), "{text}");
        let unviable = Outcome::Unviable {
            summary: "does not compile".into(),
        };
        assert!(t.count(&unviable, None).0);
        assert_eq!(
            t,
            Totals {
                mutants: 0,
                caught: 2,
                timeout: 1,
                missed: 1,
                equivalent: 1,
                unviable: 1
            }
        );
    }

    #[test]
    fn equivalent_mutants_need_a_reason_and_known_keys() {
        let e = parse_equivalent(
            "[[mutant]]\nid = \"lib.rs:3:weaken_ordering\"\nreason = \"a plain counter\"\n",
        )
        .unwrap();
        assert_eq!(e[0].id, "lib.rs:3:weaken_ordering");
        assert!(parse_equivalent("[[mutant]]\nid = \"x\"\nreason = \" \"\n").is_err());
        assert!(parse_equivalent("[[mutant]]\nid = \"x\"\nwhy = \"y\"\n").is_err());
        assert!(parse_equivalent("").unwrap().is_empty());
    }
}
