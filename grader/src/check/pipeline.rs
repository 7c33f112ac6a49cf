//! One target, start to end: lint, build (std and loom side by side), run, and gather a report.

use std::collections::HashMap;

use anyhow::Result;
use grader_harness::protocol::{CheckInfo, Finding, Kind};

use crate::check::harness::{self, BuildFailure, Built, Mode};
use crate::check::run::{self, Budget, CheckRun, Job, Skip, Status};
use crate::check::target::Target;
use crate::check::{declared, lint};
use crate::curriculum::{Lesson, PlannedCheck};
use crate::kit::Kit;
use crate::report::{Build, Report};

/// The one lint check every lesson has.
pub const SHIM_LINT: &str = "uses_sync_shim";

#[derive(Clone)]
pub struct Options {
    /// Unit, stress and model checks run at once (wall-clock timing checks run beside them, CPU
    /// timing checks alone: see `run::run_all`).
    pub jobs: usize,
    pub budget: Budget,
    /// Run only these checks (verify uses it); `None`: all.
    pub only: Option<Vec<String>>,
    /// Stop at the first check that does not pass: the rest are skipped.
    pub fail_fast: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            budget: Budget::default(),
            only: None,
            fail_fast: false,
        }
    }
}

/// What happens while a target is evaluated, for live output.
pub enum Event<'a> {
    Building,
    Built {
        mode: Mode,
        seconds: f64,
        ok: bool,
    },
    Running {
        checks: usize,
    },
    Finished(&'a CheckRun),
    /// A check's process started.
    Started {
        name: &'a str,
        kind: Kind,
    },
}

pub fn evaluate(
    kit: &Kit,
    lesson: &Lesson,
    target: &Target,
    options: &Options,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report> {
    let planned: Vec<PlannedCheck> = lesson
        .planned_checks()?
        .into_iter()
        .filter(|c| {
            options
                .only
                .as_ref()
                .is_none_or(|only| only.contains(&c.name))
        })
        .collect();
    let mut runs: HashMap<String, CheckRun> = HashMap::new();

    // Lint first: its token pass needs no build, and when it fails the model checks would prove
    // nothing. Its resolved-path pass is the loom build's (see rustc_sandbox.rs): a lint that the
    // token pass found clean is settled once that build is done.
    let mut shim_bypassed = false;
    let resolved_pass = crate::check::rustc_sandbox::supported();
    let mut lint_pending: Option<&PlannedCheck> = None;
    for check in planned.iter().filter(|c| c.kind == Kind::Lint) {
        let run = if check.name == SHIM_LINT {
            let found = lint::lint(target);
            shim_bypassed = !found.is_empty();
            if !shim_bypassed && resolved_pass {
                lint_pending = Some(check);
                continue;
            }
            shim_lint_run(&check.name, &found)
        } else {
            CheckRun::skipped(
                &check.name,
                Kind::Lint,
                Skip::UnknownLint,
                Finding::new("the kit knows this lint").observed(format!(
                    "no lint named `{}`: curriculum.toml is wrong",
                    check.name
                )),
            )
        };
        on_event(Event::Finished(&run));
        runs.insert(check.name.clone(), run);
    }
    if shim_bypassed {
        skip_for_bypass(&planned, &mut runs, options.fail_fast);
    }

    // Build what the remaining checks need: std and loom builds use separate target dirs, so they
    // can run side by side.
    let needs = |mode: Mode| {
        planned.iter().any(|c| {
            !runs.contains_key(&c.name)
                && matches!(
                    (mode, c.kind),
                    (Mode::Std, Kind::Unit | Kind::Stress | Kind::Timing)
                        | (Mode::Loom, Kind::Model | Kind::Lint)
                )
        })
    };
    let modes: Vec<Mode> = [Mode::Std, Mode::Loom]
        .into_iter()
        .filter(|&m| needs(m))
        .collect();
    if !modes.is_empty() {
        on_event(Event::Building);
    }
    let builds: Vec<(Mode, Result<Result<Built, BuildFailure>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = modes
            .iter()
            .map(|&mode| {
                (
                    mode,
                    scope.spawn(move || harness::build(kit, lesson, target, mode, true)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(mode, h)| (mode, h.join().expect("build thread")))
            .collect()
    });
    let mut build_failures = Vec::new();
    // What each check is (kind, time limit) comes from the kit's checks.rs, never from the binary
    // under test.
    let declared = declared::read(&kit.checks_file(lesson))?;
    let mut harnesses: Vec<(Mode, Built)> = Vec::new();
    let mut resolved: Option<Vec<lint::Violation>> = None;
    for (mode, result) in builds {
        match result? {
            Ok(mut built) => {
                if let Some(found) = built.shim_bypasses.take() {
                    resolved = Some(found);
                }
                on_event(Event::Built {
                    mode,
                    seconds: built.duration.as_secs_f64(),
                    ok: true,
                });
                harnesses.push((mode, built));
            }
            Err(failure) => {
                on_event(Event::Built {
                    mode,
                    seconds: 0.0,
                    ok: false,
                });
                build_failures.push((mode, failure));
            }
        }
    }

    if let Some(check) = lint_pending {
        let found = resolved.clone().unwrap_or_default();
        let mut run = shim_lint_run(&check.name, &found);
        if resolved.is_none() {
            // No resolved-path pass: no clippy-driver, or the loom build failed before it.
            run.output = format!(
                "only the token pass ran: the resolved-path pass is part of the loom build, which {}\n",
                if build_failures.iter().any(|(m, _)| *m == Mode::Loom) {
                    "did not compile"
                } else {
                    "had no clippy-driver (`rustup component add clippy`)"
                }
            );
        }
        on_event(Event::Finished(&run));
        runs.insert(check.name.clone(), run);
        if !found.is_empty() {
            skip_for_bypass(&planned, &mut runs, options.fail_fast);
        }
    }

    // Every planned check not settled yet runs in a harness of its kind, or is skipped.
    let mut jobs = Vec::new();
    let unsettled: Vec<&PlannedCheck> = planned
        .iter()
        .filter(|c| !runs.contains_key(&c.name))
        .collect();
    for check in unsettled {
        let mode = if check.kind == Kind::Model {
            Mode::Loom
        } else {
            Mode::Std
        };
        if let Some((_, built)) = harnesses.iter().find(|(m, _)| *m == mode) {
            match declared
                .iter()
                .find(|i| i.name == check.name && i.kind == check.kind)
            {
                Some(info) => jobs.push(Job {
                    harness: &built.harness,
                    info: info.clone(),
                }),
                None => {
                    let run = CheckRun::skipped(
                        &check.name,
                        check.kind,
                        Skip::NotInChecks,
                        Finding::new(
                            "the lesson's checks define every check curriculum.toml lists",
                        )
                        .observed(format!(
                            "checks.rs has no {} check named `{}` (a kit error)",
                            check.kind, check.name
                        )),
                    );
                    runs.insert(check.name.clone(), run);
                }
            }
        } else {
            let why = match build_failures.iter().find(|(m, _)| *m == mode) {
                Some((_, f)) => format!("not run: {}", f.summary),
                None => "not run".to_string(),
            };
            runs.insert(
                check.name.clone(),
                CheckRun::skipped(
                    &check.name,
                    check.kind,
                    Skip::BuildFailed,
                    Finding::new("the crate builds").observed(why),
                ),
            );
        }
    }
    // Cheap checks first, so a failure shows up early.
    jobs.sort_by_key(|j| j.info.kind);
    on_event(Event::Running { checks: jobs.len() });
    let on_start = |info: &CheckInfo| {
        on_event(Event::Started {
            name: &info.name,
            kind: info.kind,
        })
    };
    let sources = Sources::new(kit, lesson, target);
    let finished = run::run_all(
        &jobs,
        options.jobs,
        options.budget,
        options.fail_fast,
        &on_start,
        &|run| on_event(Event::Finished(run)),
    );
    for mut run in finished {
        // Panic locations point into the generated harness; show the learner's own file instead.
        if let Some(f) = run.finding.as_mut() {
            for text in [&mut f.observed, &mut f.why, &mut f.detail] {
                *text = target.show_paths(text);
            }
            if let Some(trace) = f.trace.as_mut() {
                crate::report::timeline::resolve(trace, &|file| sources.find(file));
            }
            if !f.blocked.is_empty() {
                crate::check::blocked::name_objects(&mut f.blocked, |rel| {
                    if rel == "sync.rs" {
                        return kit.shim(lesson).ok();
                    }
                    target.file(rel).map(|f| f.text().into_owned())
                });
            }
        }
        run.output = target.show_paths(&run.output);
        runs.insert(run.name.clone(), run);
    }

    let build = if !build_failures.is_empty() {
        let (summaries, outputs): (Vec<&str>, Vec<&str>) = build_failures
            .iter()
            .map(|(_, f)| (f.summary.as_str(), f.compiler_output.as_str()))
            .unzip();
        Build::Failed {
            summary: summaries.join("\n"),
            compiler_output: outputs.join("\n\n"),
        }
    } else if modes.is_empty() {
        Build::NotNeeded
    } else {
        Build::Ok
    };
    let ordered = planned
        .iter()
        .map(|c| {
            (
                c.clone(),
                runs.remove(&c.name).expect("every planned check settled"),
            )
        })
        .collect();
    let mut report = Report::new(lesson, target.label.clone(), build, ordered);
    report.protections = crate::check::sandbox::in_force().to_vec();
    Ok(report)
}

/// The shim lint failed: the model checks could only pass without checking anything, so they are
/// skipped; with `--fail-fast`, so is everything else not settled yet.
fn skip_for_bypass(
    planned: &[PlannedCheck],
    runs: &mut HashMap<String, CheckRun>,
    fail_fast: bool,
) {
    for check in planned {
        if runs.contains_key(&check.name) {
            continue;
        }
        let run = if check.kind == Kind::Model {
            CheckRun::skipped(
                &check.name,
                Kind::Model,
                Skip::ShimBypassed,
                Finding::new("the model checker can see the code's synchronization")
                    .observed("not run: the code uses std's primitives directly (see the lint check), and loom can't see those, so this check could only pass without checking anything")
                    .fix("Reach every primitive through crate::sync, then check again."),
            )
        } else if fail_fast {
            CheckRun::skipped(
                &check.name,
                check.kind,
                Skip::FailFast,
                Skip::fail_fast_finding(),
            )
        } else {
            continue;
        };
        runs.insert(check.name.clone(), run);
    }
}

fn shim_lint_run(name: &str, found: &[lint::Violation]) -> CheckRun {
    use lint::Found;
    let finding = (!found.is_empty()).then(|| {
        let places: Vec<String> = found
            .iter()
            .take(8)
            .map(|v| format!("{}:{} uses `{}`", v.file, v.line, v.path))
            .collect();
        let more = if found.len() > 8 {
            format!(" (and {} more)", found.len() - 8)
        } else {
            String::new()
        };
        let has = |how: Found| found.iter().any(|v| v.found == how);
        let mut why = String::from("The model checker (loom) only sees primitives that come through the kit's shim in src/sync.rs. Code that uses std::sync or std::thread directly is invisible to it, so the model checks would pass without checking anything.");
        let mut fix = String::from("Import from the shim instead: `use crate::sync::{Arc, Mutex};`, `use crate::sync::atomic::AtomicU64;`, `crate::sync::thread::spawn`.");
        if has(Found::ByCompiler) {
            why.push_str(" The compiler found these after resolving names, so reaching std through a macro, a renamed crate (`extern crate std as s`), a raw identifier or an alias does not hide them.");
        }
        if has(Found::LoomName) {
            why.push_str(" The name `loom` belongs to the shim: code under `cfg(loom)` (or `cfg!(loom)`) exists in the model checks' build only, so the model checker would check other code than the unit, stress and timing checks run.");
            fix.push_str(" Remove every `cfg(loom)`: the shim already switches to loom's types, and your code should be the same in both builds.");
        }
        if has(Found::ThreadLocal) {
            why.push_str(" std's thread_local! gives each OS thread its own value, but the model checker runs every model thread on one OS thread: under it all your threads would share one copy, and the model checks would check a program that is not yours.");
            fix.push_str(" Keep per-thread state in the thread's own variables (a local in the closure, returned from it when it ends) instead of a thread_local!.");
        }
        Finding::new("the lesson code reaches its primitives through crate::sync")
            .observed(format!("{}{more}", places.join("; ")))
            .why(why)
            .fix(fix)
    });
    CheckRun {
        name: name.into(),
        kind: Kind::Lint,
        status: if finding.is_some() {
            Status::Fail
        } else {
            Status::Pass
        },
        finding,
        duration: std::time::Duration::ZERO,
        output: String::new(),
    }
}

/// The files a trace's steps can point to, as the compiler named them in the harness build: the
/// target's own sources (`lesson-KEY/src/...`), the kit's shim and the lesson's checks.
struct Sources<'a> {
    target: &'a Target,
    generated: String,
    shim: Option<String>,
    checks: std::path::PathBuf,
}

impl<'a> Sources<'a> {
    fn new(kit: &Kit, lesson: &Lesson, target: &'a Target) -> Sources<'a> {
        Sources {
            target,
            generated: format!("{}/src/", target.crate_dir_name()),
            shim: kit.shim(lesson).ok(),
            checks: kit.checks_file(lesson),
        }
    }

    fn find(&self, file: &str) -> Option<crate::report::timeline::Source> {
        use crate::report::timeline::Source;
        if let Some(at) = file.find(&self.generated) {
            let rel = &file[at + self.generated.len()..];
            if rel == "sync.rs" {
                return Some(Source {
                    shown: "src/sync.rs".into(),
                    text: self.shim.clone(),
                    learners: false,
                });
            }
            // The snapshot the harness was built from: the learner's file exactly as checked.
            let source = self.target.file(rel)?;
            return Some(Source {
                shown: format!("src/{rel}"),
                text: Some(source.text().into_owned()),
                learners: true,
            });
        }
        if std::path::Path::new(file) == self.checks {
            return Some(Source {
                shown: "checks.rs".into(),
                text: std::fs::read_to_string(&self.checks).ok(),
                learners: false,
            });
        }
        None
    }
}
