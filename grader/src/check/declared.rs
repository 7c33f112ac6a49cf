//! The checks a lesson declares, read from the kit's own `checks.rs` (parsed with syn), never asked
//! of the binary under test: a submission linked into the harness could otherwise answer
//! `harness list` itself and give its checks any name, kind, time limit, or claim that a CPU-time
//! check may share the machine.
//!
//! `checks.rs` declares `pub const CHECKS: &[Check] = &[check!(kind, module::name
//! [, measures = cpu|wall] [, timeout = N]), ..]` twice: under `cfg(not(loom))` (unit, stress and
//! timing checks) and under `cfg(loom)` (model checks). Anything else in those arrays is a kit
//! error, reported as such.

use std::path::Path;

use anyhow::{bail, Context, Result};
use grader_harness::protocol::{CheckInfo, Kind, Measures};
use syn::punctuated::Punctuated;
use syn::{Expr, Item, Token};

/// Every check `checks_file` declares, std ones first, in the order written.
pub fn read(checks_file: &Path) -> Result<Vec<CheckInfo>> {
    let text = std::fs::read_to_string(checks_file)
        .with_context(|| format!("cannot read {}", checks_file.display()))?;
    parse(&text).with_context(|| format!("{} declares its checks oddly", checks_file.display()))
}

pub fn parse(text: &str) -> Result<Vec<CheckInfo>> {
    let file = syn::parse_file(text)?;
    let mut out = Vec::new();
    let mut arrays = 0;
    for item in &file.items {
        let Item::Const(c) = item else { continue };
        if c.ident != "CHECKS" {
            continue;
        }
        arrays += 1;
        let loom = cfg_of(&c.attrs)?;
        let Expr::Reference(r) = &*c.expr else {
            bail!("CHECKS is not `&[...]`");
        };
        let Expr::Array(array) = &*r.expr else {
            bail!("CHECKS is not `&[...]`");
        };
        for element in &array.elems {
            let info = check_invocation(element)?;
            if loom != (info.kind == Kind::Model) {
                bail!(
                    "`{}` is a {} check in the {} CHECKS array (model checks belong under cfg(loom), the others under cfg(not(loom)))",
                    info.name,
                    info.kind,
                    if loom { "cfg(loom)" } else { "cfg(not(loom))" }
                );
            }
            if out.iter().any(|o: &CheckInfo| o.name == info.name) {
                bail!("two checks are named `{}`", info.name);
            }
            out.push(info);
        }
    }
    if arrays == 0 {
        bail!("no `const CHECKS` found");
    }
    out.sort_by_key(|c| c.kind == Kind::Model);
    Ok(out)
}

/// Whether `checks.rs` declares `CHILDREN`, the child programs its checks start (see
/// `grader_harness::check::Child`): the generated `main` then hands them to the runner.
pub fn declares_children(text: &str) -> Result<bool> {
    let file = syn::parse_file(text)?;
    Ok(file
        .items
        .iter()
        .any(|item| matches!(item, Item::Const(c) if c.ident == "CHILDREN")))
}

/// `true` for `#[cfg(loom)]`, `false` for `#[cfg(not(loom))]`.
fn cfg_of(attrs: &[syn::Attribute]) -> Result<bool> {
    if let Some(attr) = attrs.iter().find(|a| a.path().is_ident("cfg")) {
        let text = attr
            .meta
            .require_list()?
            .tokens
            .to_string()
            .replace(' ', "");
        match text.as_str() {
            "loom" => return Ok(true),
            "not(loom)" => return Ok(false),
            other => bail!("CHECKS under an unexpected cfg({other})"),
        }
    }
    bail!("a CHECKS array without #[cfg(loom)] or #[cfg(not(loom))]")
}

/// `check!(kind, module::name)`, optionally followed by `measures = cpu|wall` (timing checks) and
/// `timeout = N`.
fn check_invocation(expr: &Expr) -> Result<CheckInfo> {
    let Expr::Macro(m) = expr else {
        bail!("an element of CHECKS is not a `check!(..)` invocation");
    };
    if !m.mac.path.is_ident("check") {
        bail!("an element of CHECKS is not a `check!(..)` invocation");
    }
    let args = m
        .mac
        .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)?;
    let mut args = args.into_iter();
    let kind = match args.next() {
        Some(Expr::Path(p)) if p.path.get_ident().is_some() => {
            let word = p.path.get_ident().unwrap().to_string();
            Kind::ALL
                .into_iter()
                .find(|k| k.as_str() == word && *k != Kind::Lint)
                .with_context(|| format!("`check!({word}, ..)`: no such kind of check"))?
        }
        _ => bail!("`check!(..)` does not start with a kind"),
    };
    let name = match args.next() {
        Some(Expr::Path(p)) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .context("`check!(..)` names no function")?,
        _ => bail!("`check!({kind}, ..)` names no function"),
    };
    let mut timeout_secs = kind.default_timeout_secs();
    let mut measures = None;
    let mut seen: Vec<String> = Vec::new();
    for extra in args {
        let Expr::Assign(a) = &extra else {
            bail!("`check!({kind}, {name}, ..)`: only `measures = ..` and `timeout = N` may follow the name");
        };
        let key = match &*a.left {
            Expr::Path(p) if p.path.get_ident().is_some() => p.path.get_ident().unwrap().to_string(),
            _ => bail!("`check!({kind}, {name}, ..)`: only `measures = ..` and `timeout = N` may follow the name"),
        };
        if seen.contains(&key) {
            bail!("`check!({kind}, {name}, ..)` says `{key}` twice");
        }
        match key.as_str() {
            "timeout" => match &*a.right {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => timeout_secs = n.base10_parse()?,
                _ => bail!("`check!({kind}, {name}, timeout = ..)`: a whole number of seconds"),
            },
            "measures" => {
                if kind != Kind::Timing {
                    bail!("`check!({kind}, {name}, measures = ..)`: only a timing check says what it measures");
                }
                let word = match &*a.right {
                    Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                    _ => None,
                };
                measures = Some(match word.as_deref() {
                    Some("cpu") => Measures::Cpu,
                    Some("wall") => Measures::Wall,
                    _ => bail!("`check!({kind}, {name}, measures = ..)`: `cpu` (CPU time or speed: runs alone) or `wall` (wall-clock waits on sleeping threads: runs beside other checks)"),
                });
            }
            _ => bail!("`check!({kind}, {name}, {key} = ..)`: only `measures = ..` and `timeout = N` may follow the name"),
        }
        seen.push(key);
    }
    Ok(CheckInfo {
        name,
        kind,
        timeout_ms: timeout_secs * 1000,
        measures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_arrays_with_kinds_and_limits() {
        let text = r#"
            use grader_harness::prelude::*;
            #[cfg(not(loom))]
            pub const CHECKS: &[Check] = &[
                check!(unit, std_checks::a),
                check!(timing, std_checks::b, timeout = 40),
                check!(timing, std_checks::d, measures = wall, timeout = 40),
                check!(timing, e, measures = cpu),
            ];
            #[cfg(loom)]
            pub const CHECKS: &[Check] = &[check!(model, model_checks::c)];
        "#;
        let checks = parse(text).unwrap();
        let got: Vec<(&str, Kind, u64, Option<Measures>, bool)> = checks
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.kind,
                    c.timeout_ms,
                    c.measures,
                    c.runs_alone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", Kind::Unit, 10_000, None, false),
                // A timing check that does not say what it measures runs alone.
                ("b", Kind::Timing, 40_000, None, true),
                ("d", Kind::Timing, 40_000, Some(Measures::Wall), false),
                ("e", Kind::Timing, 30_000, Some(Measures::Cpu), true),
                ("c", Kind::Model, 120_000, None, false)
            ]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_for_sure() {
        for bad in [
            "#[cfg(loom)] pub const CHECKS: &[Check] = &[check!(unit, m::a)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[Check::unit(\"a\", m::a)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(unit, m::a), check!(unit, n::a)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(fast, m::a)];",
            "pub const OTHER: u8 = 1;",
            // Only a timing check says what it measures, and only cpu or wall, once.
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(stress, m::a, measures = wall)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(timing, m::a, measures = fast)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(timing, m::a, measures = wall, measures = cpu)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(timing, m::a, timeout = 5, timeout = 6)];",
            "#[cfg(not(loom))] pub const CHECKS: &[Check] = &[check!(timing, m::a, speed = 5)];",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn children_are_seen_where_declared() {
        let with = "#[cfg(not(loom))] pub const CHILDREN: &[Child] = &[child!(child::script)];";
        assert!(declares_children(with).unwrap());
        assert!(!declares_children("pub const CHECKS: &[Check] = &[];").unwrap());
        let lessons = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
        let ten = std::fs::read_to_string(lessons.join("10-process-supervisor/checks.rs")).unwrap();
        assert!(declares_children(&ten).unwrap());
    }

    #[test]
    fn every_lesson_of_the_kit_parses() {
        let lessons = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
        for entry in std::fs::read_dir(lessons).unwrap().flatten() {
            let checks = read(&entry.path().join("checks.rs")).unwrap();
            // Every lesson has unit checks; model checks where loom applies (not lesson 10's
            // processes).
            assert!(checks.iter().any(|c| c.kind == Kind::Unit), "{entry:?}");
            // Every timing check says what it measures: one that does not runs alone, which is
            // safe but makes every learner wait for it.
            for c in checks.iter().filter(|c| c.kind == Kind::Timing) {
                assert!(
                    c.measures.is_some(),
                    "{entry:?}: timing check `{}` does not say `measures = cpu` or `measures = wall`",
                    c.name
                );
            }
        }
    }
}
