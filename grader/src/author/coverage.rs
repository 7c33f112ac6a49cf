//! Which of a lesson's public items its concurrent checks exercise.
//!
//! A lesson's checks are often written around the method the lesson is "about"; the others' promises
//! must hold under concurrency too. This reads the reference solution's public API (syn) and, for
//! each stress and model check, what the check's code calls, following the helpers of `checks.rs`
//! it calls in turn, and pairs the two. An item no concurrent check reaches is a failure of
//! `grader verify` unless the lesson's `single_threaded` table in curriculum.toml says why.
//!
//! The pairing reads names, not types (nothing here runs the type checker): `x.call(..)` counts for
//! `Worker::call` only in a check whose code names `Worker`, or calls something the API declares
//! as returning one (`Semaphore::acquire` returning a `Permit`); `T::m(..)` and a free function's
//! name count directly. A `Drop` impl counts wherever its type does: every value a check makes is
//! dropped in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use grader_harness::protocol::Kind;
use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{ImplItem, Item, ReturnType, Visibility};

use crate::curriculum::Lesson;
use crate::kit::Kit;

/// A public function or method of the lesson's crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiItem {
    /// The type a method belongs to; None for a free function.
    pub owner: Option<String>,
    pub name: String,
    /// Type names in its return type (what calling it hands the caller).
    pub returns: BTreeSet<String>,
    /// A `Drop` impl's `drop`: called wherever its type's values end.
    pub is_drop: bool,
}

impl ApiItem {
    /// `Type::method` or `function`.
    pub fn path(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{owner}::{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One public item and the checks that reach it.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub item: String,
    /// Stress and model checks that reach it, in declaration order.
    pub concurrent: Vec<String>,
    /// Unit and timing checks that reach it (shown when no concurrent one does).
    pub other: Vec<String>,
    /// The curriculum's reason why no concurrent check is needed.
    pub excused: Option<String>,
}

impl Coverage {
    pub fn ok(&self) -> bool {
        !self.concurrent.is_empty() || self.excused.is_some()
    }
}

/// The lesson's public items with the checks that exercise each, and the names the curriculum's
/// `single_threaded` table gives that match no item (a stale entry is an error too).
pub fn lesson_coverage(kit: &Kit, lesson: &Lesson) -> Result<(Vec<Coverage>, Vec<String>)> {
    let lib = kit.path(&lesson.solution).join("src").join("lib.rs");
    let checks = kit.path(&lesson.checks).join("checks.rs");
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let api =
        public_api(&read(&lib)?).with_context(|| format!("cannot parse {}", lib.display()))?;
    let declared = crate::check::declared::read(&checks)?;
    let reached = reached_by_checks(&read(&checks)?, &api)
        .with_context(|| format!("cannot parse {}", checks.display()))?;
    let mut out = Vec::new();
    for item in &api {
        let path = item.path();
        let by = |kinds: &[Kind]| -> Vec<String> {
            declared
                .iter()
                .filter(|c| kinds.contains(&c.kind))
                .filter(|c| reached.get(&c.name).is_some_and(|r| r.contains(&path)))
                .map(|c| c.name.clone())
                .collect()
        };
        out.push(Coverage {
            concurrent: by(&[Kind::Stress, Kind::Model]),
            other: by(&[Kind::Unit, Kind::Timing]),
            excused: lesson.single_threaded.get(&path).cloned(),
            item: path,
        });
    }
    let stale = lesson
        .single_threaded
        .keys()
        .filter(|k| !out.iter().any(|c| &c.item == *k))
        .cloned()
        .collect();
    Ok((out, stale))
}

/// The public functions of `lib_rs`, and the public methods of its types (inherent impls, and the
/// methods of trait impls: a trait's methods are public wherever the type is). `Default` and the
/// formatting traits are left out: what they do is a value, not a promise about sharing.
pub fn public_api(lib_rs: &str) -> Result<Vec<ApiItem>> {
    let file = syn::parse_file(lib_rs)?;
    // A private type's methods are not API, whatever their visibility says.
    let public_types: BTreeSet<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) if matches!(s.vis, Visibility::Public(_)) => Some(s.ident.to_string()),
            Item::Enum(e) if matches!(e.vis, Visibility::Public(_)) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for item in &file.items {
        match item {
            Item::Fn(f) if matches!(f.vis, Visibility::Public(_)) => out.push(ApiItem {
                owner: None,
                name: f.sig.ident.to_string(),
                returns: type_names(&f.sig.output),
                is_drop: false,
            }),
            Item::Impl(imp) => {
                let Some(owner) = last_ident(imp.self_ty.to_token_stream()) else {
                    continue;
                };
                if !public_types.contains(&owner) {
                    continue;
                }
                let trait_name = imp
                    .trait_
                    .as_ref()
                    .and_then(|(_, path, _)| path.segments.last())
                    .map(|s| s.ident.to_string());
                if matches!(
                    trait_name.as_deref(),
                    Some("Default" | "Debug" | "Display" | "Clone" | "PartialEq" | "Eq")
                ) {
                    continue;
                }
                for member in &imp.items {
                    let ImplItem::Fn(f) = member else { continue };
                    if trait_name.is_none() && !matches!(f.vis, Visibility::Public(_)) {
                        continue;
                    }
                    let mut returns = type_names(&f.sig.output);
                    if returns.remove("Self") {
                        returns.insert(owner.clone());
                    }
                    out.push(ApiItem {
                        owner: Some(owner.clone()),
                        name: f.sig.ident.to_string(),
                        returns,
                        is_drop: trait_name.as_deref() == Some("Drop"),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The first identifier of a type's tokens (`Permit<'_>` -> `Permit`).
fn last_ident(tokens: TokenStream) -> Option<String> {
    tokens.into_iter().find_map(|t| match t {
        TokenTree::Ident(i) => Some(i.to_string()),
        _ => None,
    })
}

fn type_names(output: &ReturnType) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let ReturnType::Type(_, ty) = output {
        idents(ty.to_token_stream(), &mut names);
    }
    names
}

fn idents(tokens: TokenStream, out: &mut BTreeSet<String>) {
    for t in tokens {
        match t {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

/// What a method is called on, read backwards from its `.`.
#[derive(Debug, Clone)]
enum Recv {
    /// `x.m(..)`: a variable (or parameter) of the function.
    Var(String),
    /// `<recv>.f(..).m(..)` or `f(..).m(..)`: what `f` returns, or, for `unwrap`, `clone`, `lock`
    /// and the like, what it was called on.
    After(String, Box<Recv>),
    /// `T::f(..).m(..)`
    Path(String, String),
    /// Anything else (a field, an index, a parenthesised expression): not counted.
    Unknown,
}

/// What one stretch of code calls and names.
#[derive(Debug, Default, Clone)]
struct Uses {
    /// `.m(`, with what it is called on.
    calls: Vec<(String, Recv)>,
    /// `T::m` (as "T::m")
    paths: BTreeSet<String>,
    /// Every identifier (type names, functions called or passed by name).
    names: BTreeSet<String>,
    /// `let x = ...;`, `let x: T`, a parameter `x: T`: the identifiers of its type and initialiser.
    bindings: BTreeMap<String, BTreeSet<String>>,
}

fn punct(t: Option<&TokenTree>, c: char) -> bool {
    matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// The receiver of a method call whose `.` is at `dot`.
fn receiver(tokens: &[TokenTree], dot: usize) -> Recv {
    let Some(end) = dot.checked_sub(1) else {
        return Recv::Unknown;
    };
    let before = |n: usize| end.checked_sub(n).and_then(|i| tokens.get(i));
    match &tokens[end] {
        TokenTree::Punct(p) if p.as_char() == '?' => receiver(tokens, end),
        TokenTree::Ident(x) if !punct(before(1), '.') && !punct(before(1), ':') => {
            Recv::Var(x.to_string())
        }
        TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Parenthesis => {
            match before(1) {
                Some(TokenTree::Ident(f)) => {
                    let f = f.to_string();
                    if punct(before(2), '.') {
                        Recv::After(f, Box::new(receiver(tokens, end - 2)))
                    } else if punct(before(2), ':') && punct(before(3), ':') {
                        match before(4) {
                            Some(TokenTree::Ident(t)) => Recv::Path(t.to_string(), f),
                            _ => Recv::Unknown,
                        }
                    } else {
                        Recv::After(f, Box::new(Recv::Unknown))
                    }
                }
                _ => Recv::Unknown,
            }
        }
        _ => Recv::Unknown,
    }
}

impl Uses {
    fn scan(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, t) in tokens.iter().enumerate() {
            match t {
                TokenTree::Group(g) => self.scan(g.stream()),
                TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    if punct(i.checked_sub(1).and_then(|j| tokens.get(j)), '.') {
                        if matches!(tokens.get(i + 1), Some(TokenTree::Group(_))) {
                            self.calls.push((name.clone(), receiver(&tokens, i - 1)));
                        }
                        self.names.insert(name);
                        continue;
                    }
                    if name == "let" {
                        self.binding(&tokens[i + 1..]);
                    }
                    let colon = punct(tokens.get(i + 1), ':');
                    if colon && punct(tokens.get(i + 2), ':') {
                        // `T :: m`
                        if let Some(TokenTree::Ident(m)) = tokens.get(i + 3) {
                            self.paths.insert(format!("{name}::{m}"));
                        }
                    } else if colon && !punct(i.checked_sub(1).and_then(|j| tokens.get(j)), ':') {
                        // A parameter or a typed binding: `x: Type` up to the next `,`.
                        let mut ty = BTreeSet::new();
                        for t in tokens[i + 2..].iter().take_while(|t| !punct(Some(t), ',')) {
                            idents(TokenStream::from(t.clone()), &mut ty);
                        }
                        self.bindings.entry(name.clone()).or_default().extend(ty);
                    }
                    self.names.insert(name);
                }
                _ => {}
            }
        }
    }

    /// `let [mut] x ... ;`: what `x` is made from.
    fn binding(&mut self, rest: &[TokenTree]) {
        let mut rest = rest.iter().peekable();
        if matches!(rest.peek(), Some(TokenTree::Ident(m)) if m == "mut") {
            rest.next();
        }
        let Some(TokenTree::Ident(x)) = rest.next() else {
            return;
        };
        let mut made_of = BTreeSet::new();
        for t in rest.take_while(|t| !punct(Some(t), ';')) {
            idents(TokenStream::from(t.clone()), &mut made_of);
        }
        self.bindings
            .entry(x.to_string())
            .or_default()
            .extend(made_of);
    }

    fn extend(&mut self, other: &Uses) {
        self.calls.extend(other.calls.iter().cloned());
        self.paths.extend(other.paths.iter().cloned());
        self.names.extend(other.names.iter().cloned());
        for (k, v) in &other.bindings {
            self.bindings
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}

/// The functions and methods of a file by name: what each body uses, and the identifiers of its
/// return type.
#[derive(Default)]
struct Local {
    uses: BTreeMap<String, Uses>,
    returns: BTreeMap<String, BTreeSet<String>>,
}

/// For every function of `checks_rs` (a check is a function named as the check), the API items
/// its code reaches, following calls into the file's own functions and methods.
fn reached_by_checks(
    checks_rs: &str,
    api: &[ApiItem],
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let file = syn::parse_file(checks_rs)?;
    // Every function and method of the file, by name (several of one name are all followed).
    let mut local = Local::default();
    collect_fns(&file.items, &mut local);
    // What calling a name hands back: the file's own functions and the lesson's API.
    let mut returns = local.returns.clone();
    for item in api {
        returns
            .entry(item.name.clone())
            .or_default()
            .extend(item.returns.iter().cloned());
    }
    let mut out = BTreeMap::new();
    for name in local.uses.keys() {
        // Everything the function reaches through local calls: a fixed point over names.
        let mut seen = BTreeSet::from([name.clone()]);
        let mut todo = vec![name.clone()];
        let mut all = Uses::default();
        while let Some(next) = todo.pop() {
            let Some(uses) = local.uses.get(&next) else {
                continue;
            };
            all.extend(uses);
            for callee in &uses.names {
                if local.uses.contains_key(callee) && seen.insert(callee.clone()) {
                    todo.push(callee.clone());
                }
            }
        }
        out.insert(name.clone(), reached(&all, api, &returns));
    }
    Ok(out)
}

fn collect_fns(items: &[Item], out: &mut Local) {
    let mut add = |sig: &syn::Signature, tokens: TokenStream| {
        let name = sig.ident.to_string();
        out.uses.entry(name.clone()).or_default().scan(tokens);
        out.returns
            .entry(name)
            .or_default()
            .extend(type_names(&sig.output));
    };
    let mut nested = Vec::new();
    for item in items {
        match item {
            Item::Fn(f) => add(&f.sig, f.to_token_stream()),
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    nested.push(items);
                }
            }
            Item::Impl(imp) => {
                for member in &imp.items {
                    if let ImplItem::Fn(f) = member {
                        add(&f.sig, f.to_token_stream());
                    }
                }
            }
            _ => {}
        }
    }
    for items in nested {
        collect_fns(items, out);
    }
}

/// Methods that hand back (a reference to, a clone of, a guard of) the value they are called on:
/// `x.clone().m()` is a call on what `x` is. Any other method nobody here declares (`iter`, `map`)
/// makes its result unknown.
const SAME_VALUE: &[&str] = &[
    "unwrap", "expect", "clone", "as_ref", "as_mut", "lock", "borrow", "deref", "read", "write",
    "to_owned",
];

/// The types a receiver may be, as identifiers (None: unknown, so it counts for nothing).
fn receiver_types(
    recv: &Recv,
    uses: &Uses,
    returns: &BTreeMap<String, BTreeSet<String>>,
) -> Option<BTreeSet<String>> {
    match recv {
        Recv::Var(x) => {
            // What x is made of, through the variables it is made of, and what the calls in it
            // hand back (`let h = pool.submit(..)` makes h a TaskHandle).
            let mut types = BTreeSet::new();
            let mut todo = vec![x.clone()];
            let mut seen = BTreeSet::new();
            while let Some(v) = todo.pop() {
                if !seen.insert(v.clone()) {
                    continue;
                }
                let Some(made_of) = uses.bindings.get(&v) else {
                    continue;
                };
                for ident in made_of {
                    types.insert(ident.clone());
                    types.extend(returns.get(ident).into_iter().flatten().cloned());
                    if uses.bindings.contains_key(ident) {
                        todo.push(ident.clone());
                    }
                }
            }
            (!types.is_empty()).then_some(types)
        }
        Recv::After(f, inner) => match returns.get(f) {
            Some(types) if !types.is_empty() => Some(types.clone()),
            // What hands back the value it was called on, or a way to it.
            _ if SAME_VALUE.contains(&f.as_str()) => receiver_types(inner, uses, returns),
            _ => None,
        },
        Recv::Path(t, f) => {
            let mut types = BTreeSet::from([t.clone()]);
            types.extend(returns.get(f).into_iter().flatten().cloned());
            Some(types)
        }
        Recv::Unknown => None,
    }
}

/// The API items `uses` reaches: free functions by name, `T::m` paths, a method call whose
/// receiver may be a `T`, and a `Drop` impl wherever its type is named or handed out.
fn reached(
    uses: &Uses,
    api: &[ApiItem],
    returns: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut present: BTreeSet<String> = uses.names.clone();
    for (method, recv) in &uses.calls {
        let Some(types) = receiver_types(recv, uses, returns) else {
            continue;
        };
        for item in api {
            if let Some(owner) = &item.owner {
                if &item.name == method && types.contains(owner) {
                    out.insert(item.path());
                    present.extend(item.returns.iter().cloned());
                }
            }
        }
    }
    for item in api {
        let hit = match &item.owner {
            None => uses.names.contains(&item.name),
            Some(_) => uses.paths.contains(&item.path()),
        };
        if hit {
            out.insert(item.path());
            present.extend(item.returns.iter().cloned());
        }
    }
    for item in api {
        if let (true, Some(owner)) = (item.is_drop, &item.owner) {
            if present.contains(owner) {
                out.insert(item.path());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = r#"
        pub mod sync;
        pub struct Pool;
        pub struct Permit<'a>(&'a Pool);
        impl Pool {
            pub fn new() -> Pool { Pool }
            pub fn acquire(&self) -> Permit<'_> { Permit(self) }
            pub fn call(&self) {}
            fn private(&self) {}
        }
        impl Drop for Permit<'_> { fn drop(&mut self) {} }
        impl Default for Pool { fn default() -> Pool { Pool } }
        pub struct Worker;
        impl Worker { pub fn call(&mut self) {} }
        pub fn amdahl(s: f64) -> f64 { s }
        fn helper() {}
    "#;

    #[test]
    fn public_api_is_pub_fns_and_methods_and_trait_methods() {
        let api: Vec<String> = public_api(LIB).unwrap().iter().map(|i| i.path()).collect();
        assert_eq!(
            api,
            [
                "Pool::new",
                "Pool::acquire",
                "Pool::call",
                "Permit::drop",
                "Worker::call",
                "amdahl"
            ]
        );
    }

    #[test]
    fn methods_count_for_the_types_a_check_names_or_gets_handed() {
        let api = public_api(LIB).unwrap();
        let checks = r#"
            mod std_checks {
                pub fn stress_pool() -> Outcome {
                    let p = lesson::Pool::new();
                    let _permit = p.acquire();
                    shared(&p);
                    Ok(())
                }
                fn shared(p: &P) { assert!(p.call() == ()); }
                pub fn unit_math() -> Outcome { ensure(lesson::amdahl(0.5) > 0.0) }
            }
        "#;
        let reached = reached_by_checks(checks, &api).unwrap();
        let stress: Vec<&str> = reached["stress_pool"].iter().map(String::as_str).collect();
        // `.call(` inside a macro of a helper counts for Pool, not for Worker (never named).
        assert_eq!(
            stress,
            ["Permit::drop", "Pool::acquire", "Pool::call", "Pool::new"]
        );
        assert_eq!(
            reached["unit_math"].iter().collect::<Vec<_>>(),
            [&"amdahl".to_string()]
        );
    }

    #[test]
    fn every_lesson_of_the_kit_has_each_public_item_checked_concurrently_or_says_why() {
        let kit = Kit::locate(Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))).unwrap();
        let mut gaps = Vec::new();
        for lesson in &kit.curriculum.lessons {
            let (coverage, stale) = lesson_coverage(&kit, lesson).unwrap();
            assert!(
                !coverage.is_empty(),
                "lesson {} has no public items",
                lesson.number
            );
            for c in coverage.iter().filter(|c| !c.ok()) {
                gaps.push(format!("{:02} {}", lesson.number, c.item));
            }
            for s in stale {
                gaps.push(format!(
                    "{:02} single_threaded names {s}, no such item",
                    lesson.number
                ));
            }
        }
        assert!(gaps.is_empty(), "{}", gaps.join("\n"));
    }
}
