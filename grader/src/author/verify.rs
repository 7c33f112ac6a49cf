//! `grader verify`: the course author's proof that the checks work. For each lesson the solution
//! passes every check, the starter fails at least one, every known-buggy variant is rejected by
//! the checks its preamble names, and every alternative design passes every check (see
//! [`crate::author::variants`]).

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};
use anyhow::{bail, Context, Result};

use crate::author::changed::Changed;
use crate::author::coverage;
use crate::author::variants::{self, Role, Variant};
use crate::check::harness;
use crate::check::pipeline::{self, Options};
use crate::check::run;
use crate::check::target::Target;
use crate::curriculum::Lesson;
use crate::kit::Kit;
use crate::report::CheckReport;
use crate::shim;
use grader_harness::protocol::Kind;

/// The exercise folder is the starter its `starter.sha256` records (what `grader reset` restores).
fn starter_matches_lock(kit: &Kit, lesson: &Lesson) -> Row {
    let lock = kit
        .path(&lesson.checks)
        .join(crate::learner::starter_lock::LOCK_FILE);
    let problem = match std::fs::read_to_string(&lock) {
        Err(_) => Some(format!("{} is missing", kit.display(&lock))),
        Ok(text) => crate::learner::starter_lock::mismatch(&kit.path(&lesson.exercise), &text),
    };
    Row {
        lesson: lesson.dir_name(),
        subject: format!("starter {}", crate::learner::starter_lock::LOCK_FILE),
        expected: "the exercise is the starter it records".into(),
        observed: match &problem {
            None => "same".into(),
            Some(p) => format!(
                "{p}: if you changed the starter on purpose, `grader verify {:02} --bless-starter`",
                lesson.number
            ),
        },
        ok: problem.is_none(),
        detail: None,
    }
}

/// The exercise folder is the starter its `starter.sha256` records.
pub fn starter_lock_holds(kit: &Kit, lesson: &Lesson) -> bool {
    starter_matches_lock(kit, lesson).ok
}

/// Records the lesson's exercise folder, as it is now, as its shipped starter.
pub fn bless_starter(kit: &Kit, lesson: &Lesson) -> Result<PathBuf> {
    let lock = kit
        .path(&lesson.checks)
        .join(crate::learner::starter_lock::LOCK_FILE);
    let text = crate::learner::starter_lock::lock_text(&kit.path(&lesson.exercise))
        .with_context(|| format!("cannot read {}", lesson.exercise.display()))?;
    std::fs::write(&lock, text).with_context(|| format!("cannot write {}", lock.display()))?;
    Ok(lock)
}

/// The two crates of a lesson whose `src/sync.rs` must be the kit's learners' shim: (row subject,
/// folder).
fn shim_copies(lesson: &Lesson) -> [(&'static str, &Path); 2] {
    [
        ("starter", lesson.exercise.as_path()),
        ("solution", lesson.solution.as_path()),
    ]
}

/// A row per crate of `lesson`: its `src/sync.rs` is what `grader/shim/learners.rs` and the
/// lesson's `shim = [...]` compose (the short copy learners read; the grader builds with its own).
fn shim_rows(kit: &Kit, lesson: &Lesson) -> Vec<Row> {
    let wanted = kit.learners_shim(lesson);
    let expected = match lesson.shim.as_slice() {
        [] => format!("{}/{}", shim::DIR, shim::LEARNERS),
        modules => format!("{}/{} + {}", shim::DIR, shim::LEARNERS, modules.join(" + ")),
    };
    shim_copies(lesson)
        .into_iter()
        .map(|(who, folder)| {
            let path = kit.path(folder).join("src").join("sync.rs");
            let problem = match &wanted {
                Err(e) => Some(format!("{e:#}")),
                Ok(wanted) => match std::fs::read_to_string(&path) {
                    Err(_) => Some(format!(
                        "{} is missing: `grader verify {:02} --write-shims` writes it",
                        kit.display(&path),
                        lesson.number
                    )),
                    Ok(actual) => shim::first_difference(wanted, &actual).map(|at| {
                        format!(
                            "{} differs from the kit's shim at {at}: change {} instead, then `grader verify {:02} --write-shims` rewrites it",
                            kit.display(&path),
                            shim::DIR,
                            lesson.number
                        )
                    }),
                },
            };
            Row {
                lesson: lesson.dir_name(),
                subject: format!("{who} src/sync.rs"),
                expected: format!("the kit's shim: {expected}"),
                observed: problem.clone().unwrap_or_else(|| "same".into()),
                ok: problem.is_none(),
                detail: None,
            }
        })
        .collect()
}

/// Rewrites the `src/sync.rs` of the lesson's exercise and solution that differ from the kit's
/// learners' shim; returns the files written.
pub fn write_shims(kit: &Kit, lesson: &Lesson) -> Result<Vec<PathBuf>> {
    let wanted = kit.learners_shim(lesson)?;
    let mut written = Vec::new();
    for (_, folder) in shim_copies(lesson) {
        let path = kit.path(folder).join("src").join("sync.rs");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(wanted.as_str()) {
            std::fs::write(&path, &wanted)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

struct Row {
    lesson: String,
    subject: String,
    expected: String,
    observed: String,
    ok: bool,
    /// Shown under a missed row: the diff of a variant that was not caught, the lines a hunk that
    /// no longer applies expected.
    detail: Option<String>,
}

/// Verifies `lessons`, printing a table; true when nothing was missed.
pub fn verify(
    kit: &Kit,
    lessons: &[&Lesson],
    options: &Options,
    out: &mut dyn Write,
) -> Result<bool> {
    let mut rows = Vec::new();
    for lesson in lessons {
        let planned: Vec<String> = lesson
            .planned_checks()?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let quiet = |_: pipeline::Event<'_>| {};

        // The starter ships the kit's manifest unchanged, and both crates the kit's shim.
        let file = "Cargo.toml";
        let a = std::fs::read(kit.path(&lesson.exercise).join(file)).ok();
        let b = std::fs::read(kit.path(&lesson.solution).join(file)).ok();
        let same = a.is_some() && a == b;
        rows.push(Row {
            lesson: lesson.dir_name(),
            subject: format!("starter {file}"),
            expected: "same as the solution's".into(),
            observed: if same {
                "same".into()
            } else {
                "differs or missing".into()
            },
            ok: same,
            detail: None,
        });
        rows.extend(shim_rows(kit, lesson));

        // Static, so first: which public items the concurrent checks reach.
        rows.extend(api_rows(kit, lesson)?);

        // The solution is read once: its snapshot is checked, and every variant is made from it.
        let solution = Target::solution(kit, lesson)?;
        rows.extend(listed_checks_agree(kit, lesson, &solution)?);
        rows.push(starter_matches_lock(kit, lesson));

        let report = pipeline::evaluate(kit, lesson, &solution, options, &quiet)?;
        let failing: Vec<String> = report
            .failed()
            .map(|c| format!("{} ({})", c.name, c.status))
            .collect();
        rows.push(Row {
            lesson: lesson.dir_name(),
            subject: "solution".into(),
            expected: "passes every check".into(),
            observed: if failing.is_empty() {
                format!("{}/{} points", report.score, report.max_score)
            } else {
                format!("failed: {}", failing.join(", "))
            },
            ok: failing.is_empty() && !report.build.failed(),
            detail: None,
        });

        let report = pipeline::evaluate(
            kit,
            lesson,
            &Target::exercise(kit, lesson)?,
            options,
            &quiet,
        )?;
        let failing = report.failed().count();
        rows.push(Row {
            lesson: lesson.dir_name(),
            subject: "starter".into(),
            expected: "fails at least one check".into(),
            observed: format!(
                "{failing} checks fail, {}/{} points",
                report.score, report.max_score
            ),
            ok: failing > 0,
            detail: None,
        });

        let variants = variants::load(kit, lesson, Role::Variant)?;
        if variants.is_empty() {
            rows.push(Row {
                lesson: lesson.dir_name(),
                subject: "variants".into(),
                expected: "at least one known-buggy variant".into(),
                observed: "none".into(),
                ok: false,
                detail: None,
            });
        }
        for variant in &variants {
            rows.push(variant_row(
                kit, lesson, &solution, variant, &planned, options,
            )?);
        }
        for alternative in variants::load(kit, lesson, Role::Alternative)? {
            rows.push(alternative_row(
                kit,
                lesson,
                &solution,
                &alternative,
                options,
            )?);
        }
    }
    print_table(out, &rows)?;
    Ok(rows.iter().all(|r| r.ok))
}

/// `grader verify --api`: only the rows of [`api_rows`], nothing built; true when all hold.
pub fn verify_api(kit: &Kit, lessons: &[&Lesson], out: &mut dyn Write) -> Result<bool> {
    let mut rows = Vec::new();
    for lesson in lessons {
        rows.extend(api_rows(kit, lesson)?);
    }
    print_table(out, &rows)?;
    Ok(rows.iter().all(|r| r.ok))
}

/// One row per public item of the solution: the stress and model checks that reach it, or the
/// curriculum's reason why none needs to (see author/coverage.rs); and one per stale reason.
fn api_rows(kit: &Kit, lesson: &Lesson) -> Result<Vec<Row>> {
    let (coverage, stale) = coverage::lesson_coverage(kit, lesson)?;
    let mut rows: Vec<Row> = coverage
        .into_iter()
        .map(|c| {
            let observed = match (&c.excused, c.concurrent.is_empty()) {
                (_, false) => first_few(&c.concurrent),
                (Some(why), true) => format!("single-threaded: {why}"),
                (None, true) if c.other.is_empty() => "no check reaches it".to_string(),
                (None, true) => format!("only by {}", first_few(&c.other)),
            };
            Row {
                lesson: lesson.dir_name(),
                subject: format!("api {}", c.item),
                expected: "reached by a stress or model check".into(),
                ok: c.ok(),
                detail: (!c.ok()).then(|| {
                    format!(
                        "add a stress or model check that calls {} while other threads use the same value, or say in curriculum.toml why none is needed: [lesson.single_threaded] \"{}\" = \"...\"",
                        c.item, c.item
                    )
                }),
                observed,
            }
        })
        .collect();
    rows.extend(stale.into_iter().map(|name| Row {
        lesson: lesson.dir_name(),
        subject: format!("api {name}"),
        expected: "single_threaded names a public item".into(),
        observed: "no such item in the solution".into(),
        ok: false,
        detail: None,
    }));
    Ok(rows)
}

/// Up to three names, then how many more.
fn first_few(names: &[String]) -> String {
    match names.len() {
        0..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

/// A known-buggy variant: every check it names rejects it.
fn variant_row(
    kit: &Kit,
    lesson: &Lesson,
    solution: &Target,
    variant: &Variant,
    planned: &[String],
    options: &Options,
) -> Result<Row> {
    let mut row = Row {
        lesson: lesson.dir_name(),
        subject: format!("variant {}", variant.name),
        expected: format!("caught by {}", variant.caught_by.join(", ")),
        observed: String::new(),
        ok: false,
        detail: None,
    };
    if variant.unfilled() {
        row.observed = format!(
            "{} still holds the template: fill in its bug: and caught-by: lines",
            kit.display(&variant.path)
        );
        return Ok(row);
    }
    if let Some(unknown) = variant.caught_by.iter().find(|c| !planned.contains(c)) {
        bail!(
            "{}: caught-by names `{unknown}`, which curriculum.toml doesn't list for lesson {}",
            kit.display(&variant.path),
            lesson.dir_name()
        );
    }
    let target = match variant.target(kit, Role::Variant, solution) {
        Ok(target) => target,
        Err(e) => {
            row.observed = format!("the patch does not apply to the solution: {e}");
            row.detail = (!e.expected.is_empty())
                .then(|| format!("the hunk expected:\n{}", e.expected.join("\n")));
            return Ok(row);
        }
    };
    let only = Options {
        only: Some(variant.caught_by.clone()),
        ..options.clone()
    };
    let report = pipeline::evaluate(kit, lesson, &target, &only, &|_| {})?;
    let outcomes: Vec<String> = report
        .checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.status))
        .collect();
    row.ok = !report.checks.is_empty() && report.checks.iter().all(|c| c.status.ran_and_failed());
    row.observed = match (!report.build.failed(), row.ok) {
        (true, true) => outcomes.join(", "),
        (true, false) => format!("{} -- missed: {}", outcomes.join(", "), variant.about),
        (false, _) => "did not build".into(),
    };
    if !row.ok {
        row.detail = Some(miss_detail(&report, variant.diff(solution)));
        return Ok(row);
    }
    let changed = Changed::between(solution.files(), target.files());
    let untraced: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.kind == Kind::Model)
        .filter_map(|c| untraced(c, &changed).map(|why| format!("{}: {why}", c.name)))
        .collect();
    if !untraced.is_empty() {
        row.ok = false;
        row.observed = format!(
            "{} -- but no usable timeline: {}",
            outcomes.join(", "),
            untraced.join("; ")
        );
        row.detail = Some(variant.diff(solution));
    }
    Ok(row)
}

/// Why the timeline of model check `check`, which caught a variant, does not show the bug, if it
/// does not: a learner is owed the interleaving, with two threads at least and one step at least on
/// the code the variant changed (see [`Changed`]).
fn untraced(check: &CheckReport, changed: &Changed) -> Option<String> {
    let Some(trace) = check.finding.as_ref().and_then(|f| f.trace.as_ref()) else {
        return Some(format!("it {} without a trace", check.status));
    };
    let threads = trace.thread_ids().len();
    if threads < 2 {
        return Some(format!(
            "its trace has {threads} thread(s), not two or more"
        ));
    }
    let on_variant = trace
        .steps
        .iter()
        .chain(&trace.blocked)
        .any(|s| changed.covers(&s.file, s.line));
    (!on_variant).then(|| {
        format!(
            "none of its {} steps is on the lines the variant changes ({})",
            trace.steps.len() + trace.blocked.len(),
            changed.describe()
        )
    })
}

/// What a missed variant's or alternative's row shows under it: why it did not build, if it did
/// not, then its diff.
fn miss_detail(report: &crate::report::Report, diff: String) -> String {
    match report.build.message() {
        Some(message) if report.build.failed() => format!("{}\n\n{diff}", tail_lines(&message, 40)),
        _ => diff,
    }
}

/// The last `n` lines of `text`.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A correct alternative design: it passes every check, like the solution.
fn alternative_row(
    kit: &Kit,
    lesson: &Lesson,
    solution: &Target,
    alternative: &Variant,
    options: &Options,
) -> Result<Row> {
    let mut row = Row {
        lesson: lesson.dir_name(),
        subject: format!("alternative {}", alternative.name),
        expected: "passes every check".into(),
        observed: String::new(),
        ok: false,
        detail: None,
    };
    let target = match alternative.target(kit, Role::Alternative, solution) {
        Ok(target) => target,
        Err(e) => {
            row.observed = format!("the patch does not apply to the solution: {e}");
            row.detail = (!e.expected.is_empty())
                .then(|| format!("the hunk expected:\n{}", e.expected.join("\n")));
            return Ok(row);
        }
    };
    let report = pipeline::evaluate(kit, lesson, &target, options, &|_| {})?;
    let failing: Vec<String> = report
        .failed()
        .map(|c| format!("{} ({})", c.name, c.status))
        .collect();
    row.ok = failing.is_empty() && !report.build.failed();
    row.observed = if row.ok {
        format!("{}/{} points", report.score, report.max_score)
    } else if report.build.failed() {
        format!("did not build ({})", alternative.about)
    } else {
        format!("failed: {} ({})", failing.join(", "), alternative.about)
    };
    if !row.ok {
        row.detail = Some(miss_detail(&report, alternative.diff(solution)));
    }
    Ok(row)
}

/// Every check `checks.rs` defines is listed in curriculum.toml with the same kind: a check the
/// curriculum doesn't list would never run, and one filed under another kind would run in the wrong
/// build.
fn listed_checks_agree(kit: &Kit, lesson: &Lesson, solution: &Target) -> Result<Vec<Row>> {
    let planned = lesson.planned_checks()?;
    let mut rows = Vec::new();
    for mode in [harness::Mode::Std, harness::Mode::Loom] {
        let Ok(built) = harness::build(kit, lesson, solution, mode, false)? else {
            continue; // the solution row reports the build failure
        };
        for info in run::list(&built.harness)? {
            let problem = match planned.iter().find(|p| p.name == info.name) {
                None => Some("curriculum.toml does not list it, so it never runs".to_string()),
                Some(p) if p.kind != info.kind => {
                    Some(format!("curriculum.toml files it under {}", p.kind))
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                rows.push(Row {
                    lesson: lesson.dir_name(),
                    subject: format!("check {}", info.name),
                    expected: format!("listed as a {} check", info.kind),
                    observed: problem,
                    ok: false,
                    detail: None,
                });
            }
        }
    }
    Ok(rows)
}

fn print_table(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    let ok = AnsiColor::Green.on_default().bold();
    let bad = AnsiColor::Red.on_default().bold();
    let bold = Style::new().bold();
    let w_subject = rows
        .iter()
        .map(|r| r.subject.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let w_expected = rows
        .iter()
        .map(|r| r.expected.len())
        .max()
        .unwrap_or(0)
        .max(8);
    writeln!(
        out,
        "{bold}{:<14} {:<w_subject$}  {:<w_expected$}  result{bold:#}",
        "lesson", "subject", "expected"
    )?;
    for r in rows {
        let (style, word) = if r.ok { (ok, "ok  ") } else { (bad, "MISS") };
        writeln!(
            out,
            "{:<14} {:<w_subject$}  {:<w_expected$}  {style}{word}{style:#} {}",
            r.lesson, r.subject, r.expected, r.observed
        )?;
        if let (false, Some(detail)) = (r.ok, &r.detail) {
            for line in detail.lines() {
                writeln!(out, "    | {line}")?;
            }
        }
    }
    let missed = rows.iter().filter(|r| !r.ok).count();
    if missed == 0 {
        writeln!(
            out,
            "\n{ok}verify: all {} expectations hold{ok:#}",
            rows.len()
        )
    } else {
        writeln!(
            out,
            "\n{bad}verify: {missed} of {} expectations missed{bad:#}",
            rows.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curriculum::Curriculum;

    /// A kit of one lesson that opts into the `channel` module, in a temp folder.
    fn kit(sync: &str) -> (tempfile::TempDir, Kit) {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("grader/shim/sync.rs", "//! facade\n");
        write("grader/shim/learners.rs", "//! plain\n");
        write("grader/shim/channel.rs", "pub mod channel {\n}\n");
        write("exercises/05-pipeline/src/sync.rs", sync);
        write("solutions/05-pipeline/src/sync.rs", sync);
        let curriculum = Curriculum::parse(
            r#"format = 1
title = "t"
[[lesson]]
number = 5
slug = "pipeline"
title = "t"
exercise = "exercises/05-pipeline"
solution = "solutions/05-pipeline"
checks = "grader/lessons/05-pipeline"
shim = ["channel"]
[lesson.points]
unit = { a = 1 }
"#,
            "curriculum.toml",
        )
        .unwrap();
        let root = dir.path().to_path_buf();
        (dir, Kit { root, curriculum })
    }

    #[test]
    fn a_sync_rs_that_is_the_composed_shim_passes() {
        let (_dir, kit) = kit("//! plain\n\npub mod channel {\n}\n");
        let rows = shim_rows(&kit, &kit.curriculum.lessons[0]);
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert!(row.ok, "{}: {}", row.subject, row.observed);
            assert_eq!(
                row.expected,
                "the kit's shim: grader/shim/learners.rs + channel"
            );
        }
    }

    #[test]
    fn a_folder_holding_the_graders_instrumented_shim_is_a_miss() {
        let (_dir, kit) = kit("//! facade\n\npub mod channel {\n}\n");
        let rows = shim_rows(&kit, &kit.curriculum.lessons[0]);
        assert!(rows
            .iter()
            .all(|r| !r.ok && r.observed.contains("at line 1")));
    }

    #[test]
    fn a_sync_rs_that_differs_is_a_miss_that_says_where_and_how_to_fix_it() {
        // Lesson 01's shim in lesson 05: the channel is missing.
        let (_dir, kit) = kit("//! plain\n");
        let lesson = &kit.curriculum.lessons[0];
        let rows = shim_rows(&kit, lesson);
        let subjects: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
        assert_eq!(subjects, ["starter src/sync.rs", "solution src/sync.rs"]);
        for row in &rows {
            assert!(!row.ok);
            assert!(
                row.observed
                    .contains("differs from the kit's shim at line 2"),
                "{}",
                row.observed
            );
            assert!(
                row.observed.contains("`grader verify 05 --write-shims`"),
                "{}",
                row.observed
            );
        }

        // The fix the row names makes it pass, and writes only what differs.
        let written = write_shims(&kit, lesson).unwrap();
        assert_eq!(written.len(), 2);
        assert!(shim_rows(&kit, lesson).iter().all(|r| r.ok));
        assert!(write_shims(&kit, lesson).unwrap().is_empty());
    }

    #[test]
    fn an_unknown_shim_module_is_a_miss_naming_the_modules_there_are() {
        let (_dir, mut kit) = kit("//! facade\n");
        kit.curriculum.lessons[0].shim = vec!["barrier".into()];
        let rows = shim_rows(&kit, &kit.curriculum.lessons[0]);
        assert!(!rows[0].ok);
        assert!(
            rows[0].observed.contains("`barrier`"),
            "{}",
            rows[0].observed
        );
        assert!(
            rows[0].observed.contains("its modules are: channel"),
            "{}",
            rows[0].observed
        );
    }
}
