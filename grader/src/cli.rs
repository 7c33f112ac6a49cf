//! The command line: clap's definitions, and a dispatch to the module that serves each command.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::author::{mutate, variants, verify};
use crate::check::pipeline::{self as evaluate, Options};
use crate::check::run;
use crate::check::target::Target;
use crate::class::{grade, submissions};
use crate::curriculum;
use crate::kit::Kit;
use crate::learner::{journey, live, progress, watch};
use crate::platforms;
use crate::report::{self, Format};

#[derive(Parser)]
#[command(
    name = "grader",
    version,
    about = "Checks the lessons of the concurrency course kit."
)]
#[command(
    after_help = "Examples:\n  grader                       where you are in the course, and what to type next\n  grader check                 check your current lesson (the first one not passed yet)\n  grader watch                 re-check your current lesson each time you save\n  grader hint                  the next hint for your current lesson\n  grader check 01              check your lesson 01\n  grader check 01 --solution   check the reference solution\n  grader hint 01               the lesson's hints\n  grader verify                prove every lesson's checks catch its known-buggy variants"
)]
struct Cli {
    /// The kit's root folder (default: the nearest folder upwards with a curriculum.toml).
    #[arg(long, global = true, value_name = "DIR")]
    kit: Option<PathBuf>,
    /// When to use colour (NO_COLOR is respected on `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// Without a command: where you are in the course, and what to type next.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Check a lesson: your exercise, the reference solution, or any crate folder.
    #[command(
        after_help = "Examples:\n  grader check                 your current lesson\n  grader check 02 --fail-fast  stop at the first failing check\n  grader check 01 --solution   the reference solution\n\nChecking your own exercise records your best score in .grader-progress.toml (see `grader list`).\nExit status: 0 every check passed, 1 a check or the build failed, 2 a usage or kit error."
    )]
    Check {
        /// Lesson number (03 or 3), slug (downloader) or folder name (03-downloader). Default: your
        /// current lesson (the first one not passed yet).
        lesson: Option<String>,
        /// Stop at the first check that does not pass (cheap checks run first): quick feedback.
        #[arg(long)]
        fail_fast: bool,
        /// Check the reference solution instead of the exercise.
        #[arg(long, conflicts_with = "path")]
        solution: bool,
        /// Check the crate in DIR (a learner's crate folder, or a copy of the whole kit).
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// How to print the report: human, json (grader/schema/report.schema.json), markdown,
        /// junit, gradescope (Gradescope's results.json).
        #[arg(long, default_value = "human", value_parser = Format::parser(Format::CHECK))]
        format: Format,
        /// Checks run at once (CPU timing checks always run alone). Default: the number of cores.
        #[arg(long, short, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Multiply every check's time limit (a slow or busy machine).
        #[arg(long, default_value_t = 1.0, value_name = "FACTOR", allow_hyphen_values = true, value_parser = parse_timeout_scale)]
        timeout_scale: f64,
        /// Run only the checks of this kind (repeat or comma-separate for several): lint, unit,
        /// stress, timing, model. The exit status then says whether those passed.
        #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = platforms::parse_kind)]
        kind: Vec<grader_harness::protocol::Kind>,
        /// With --format gradescope: when the learner sees a check, by kind or check name, over
        /// curriculum.toml's [lesson.visibility] (repeat or comma-separate): e.g.
        /// model=after_due_date, counter_model=hidden. Visibilities: hidden, after_due_date,
        /// after_published, visible.
        #[arg(long, value_name = "KEY=VISIBILITY", value_delimiter = ',', value_parser = curriculum::parse_visibility_rule)]
        visibility: Vec<(String, curriculum::Visibility)>,
    },
    /// Grade a whole class: every submission (folder, .zip or .tar.gz) in DIR.
    #[command(
        after_help = "Examples:\n  grader grade 01 submissions/                        every folder, .zip or .tar.gz in submissions/\n  grader grade 01 submissions/ --out grades/01 --jobs 2 --format csv,junit\n  grader grade 01 submissions/ --partition 2/3 --out part-2   one third of the class (CI matrix)\n  grader merge part-1 part-2 part-3 --out grades/01            what one run would have written\n\nWrites gradebook.csv, report.json, junit.xml and feedback/ID.md to --out, then prints a summary.\nRe-running on the same folder re-grades only the submissions whose content changed (--force: all).\nExit status: 0 graded (whatever the scores), 2 a usage or kit error, or every submission invalid."
    )]
    Grade {
        /// Lesson number (03 or 3), slug (downloader) or folder name (03-downloader).
        lesson: String,
        /// The folder holding one folder, .zip or .tar.gz per submission.
        dir: PathBuf,
        /// Submissions graded at once. Default: one per core (see the README on fairness).
        #[arg(long, short, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Where to write the outputs (default: a new folder grades-LESSON-TIME here).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Which outputs to write (comma-separated; default: all): csv (gradebook.csv), json
        /// (report.json), junit (junit.xml), markdown or md (feedback/ID.md), html (report.html).
        #[arg(long, value_delimiter = ',', value_name = "FORMATS", value_parser = Format::parser(Format::GRADE))]
        format: Vec<Format>,
        /// Re-grade every submission, even those unchanged since an earlier run.
        #[arg(long)]
        force: bool,
        /// Multiply every check's time limit (a slow or busy machine).
        #[arg(long, default_value_t = 1.0, value_name = "FACTOR", allow_hyphen_values = true, value_parser = parse_timeout_scale)]
        timeout_scale: f64,
        /// Refuse to grade unless every protection of the checks' sandbox is in force here
        /// (namespaces, Landlock, rlimits...): for graded assignments.
        #[arg(long)]
        require_sandbox: bool,
        /// Grade only part K of N of the class (a stable split by a hash of each submission's id,
        /// like cargo-nextest's hash:K/N), e.g. 2/3; `grader merge` combines the parts.
        #[arg(long, value_name = "K/N", value_parser = crate::class::partition::Partition::parse)]
        partition: Option<crate::class::partition::Partition>,
    },
    /// Combine the outputs of `grader grade --partition K/N` runs into what one run would write.
    #[command(
        after_help = "Examples:\n  grader grade 01 subs/ --partition 1/3 --out part-1    (and 2/3, 3/3, on other machines)\n  grader merge part-1 part-2 part-3 --out grades-01\n\nReads each part's report.json and writes gradebook.csv, report.json, junit.xml and feedback/\nfor the whole class, then prints its summary. Every part of the same N must be named once."
    )]
    Merge {
        /// The output folders of the parts (each holding its report.json).
        #[arg(required = true, value_name = "OUT")]
        parts: Vec<PathBuf>,
        /// Where to write the merged outputs.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Which outputs to write (comma-separated; default: all), as `grader grade --format`.
        #[arg(long, value_delimiter = ',', value_name = "FORMATS", value_parser = Format::parser(Format::GRADE))]
        format: Vec<Format>,
    },
    /// Write a Gradescope autograder zip (setup.sh, run_autograder and the grader) for a lesson.
    #[command(
        after_help = "Examples:\n  grader gradescope-package 01                 writes gradescope-01-race-fix.zip here\n  grader gradescope-package 01 --out ag.zip\n\nIt prints the steps in Gradescope, among them setting the assignment's points to the lesson's\nmaximum. Visibility of checks: curriculum.toml's [lesson.visibility] (e.g. model = \"after_due_date\")."
    )]
    GradescopePackage {
        lesson: String,
        /// The zip to write (default: gradescope-LESSON.zip here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a GitHub Classroom autograding workflow for a lesson (one step per check).
    #[command(
        after_help = "Example:\n  grader classroom 01 > .github/workflows/classroom.yml\n\nThe workflow runs every check once (`grader check 01 --format json > grader-report.json`), then\none step per check, worth its points, reads its result with `grader report-check`."
    )]
    Classroom { lesson: String },
    /// Print a GitHub Actions workflow that grades a class in N parallel jobs and merges them.
    #[command(
        after_help = "Examples:\n  grader batch-workflow 01 --shards 4 > .github/workflows/grade-01.yml\n  grader batch-workflow 01 --shards 3 --submissions classes/fall\n\nEach job runs `grader grade 01 DIR --partition K/N`; a last job runs `grader merge`. The same\ntwo commands serve any job-array scheduler (the README shows a Slurm array)."
    )]
    BatchWorkflow {
        lesson: String,
        /// How many jobs grade the class at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
        shards: u32,
        /// The class folder in the repository.
        #[arg(long, default_value = "submissions", value_name = "DIR")]
        submissions: String,
    },
    /// Print the result of one check from a `grader check --format json` report; exit 0 if it passed.
    #[command(
        after_help = "Example:\n  grader check 01 --format json > report.json\n  grader report-check report.json counter_one_thread\n\nExit status: 0 the check passed, 1 it did not, 2 no such report or check.\nThe GitHub Classroom workflow (`grader classroom`) runs it once per check."
    )]
    ReportCheck {
        /// A report written by `grader check --format json`.
        file: PathBuf,
        /// The check's name, e.g. counter_one_thread.
        name: String,
    },
    /// Re-check a lesson each time one of its files is saved (Ctrl-C or q to stop).
    #[command(
        after_help = "Examples:\n  grader watch                 your current lesson\n  grader watch 02              lesson 02\n  grader watch --poll          no file-system events: look for changes every second\n\nKeys while watching: h next hint, r re-check now, n move on to the next lesson, q quit.\nWithout a terminal, type the letter then Enter. The screen shows the first failing check."
    )]
    Watch {
        /// Lesson number, slug or folder name. Default: your current lesson.
        lesson: Option<String>,
        /// Only look for changes every second, without file-system events (network or container
        /// file systems where events never arrive).
        #[arg(long)]
        poll: bool,
        /// Stop at the first check that does not pass.
        #[arg(long)]
        fail_fast: bool,
        /// Stop after N checks (scripts and tests); the exit status is that of the last check.
        #[arg(long, value_name = "N")]
        max_runs: Option<usize>,
        /// Checks run at once. Default: the number of cores.
        #[arg(long, short, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Multiply every check's time limit (a slow or busy machine).
        #[arg(long, default_value_t = 1.0, value_name = "FACTOR", allow_hyphen_values = true, value_parser = parse_timeout_scale)]
        timeout_scale: f64,
    },
    /// Move on to the next lesson, whether the current one is passed or not.
    #[command(
        after_help = "Example:\n  grader next    leave the current lesson for later; `grader` then names the next one\n\nPassing a lesson already moves you on; `grader next` is for leaving one for later.\nSkipped lessons come back as the current one once the lessons after them are passed."
    )]
    Next,
    /// Put a lesson's exercise back as shipped, keeping your version in a backup folder.
    #[command(
        after_help = "Example:\n  grader reset 02    exercises/02-… as shipped; yours goes to .grader-backups/02-…-DATE-TIME/\n\nThe starters are embedded in the grader: no git needed. target/ and Cargo.lock are left alone."
    )]
    Reset {
        /// Lesson number, slug or folder name (required: nothing is reset by default).
        lesson: String,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  grader completions bash > ~/.local/share/bash-completion/completions/grader\n  grader completions zsh > ~/.zfunc/_grader\n  grader completions fish > ~/.config/fish/completions/grader.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The lessons, in order, with your status in each.
    #[command(
        after_help = "Example:\n  grader list    every lesson: passed, attempted with your best score, or not started"
    )]
    List,
    /// The next hint for a lesson (one more each time), a given one, or all of them.
    #[command(
        after_help = "Examples:\n  grader hint         the next hint for your current lesson\n  grader hint 02      the next hint for lesson 02\n  grader hint 02 3    hint 3 of lesson 02 (a failing check names the hint that helps with it)\n  grader hint --all   every hint of your current lesson"
    )]
    Hint {
        /// Lesson number, slug or folder name. Default: your current lesson.
        lesson: Option<String>,
        /// Which hint (1 is the first): the one a failing check names. Default: the next one.
        #[arg(conflicts_with = "all")]
        number: Option<usize>,
        /// Show every hint of the lesson.
        #[arg(long)]
        all: bool,
    },
    /// Prove the checks work: the solution passes, the starter fails, every known-buggy variant is caught.
    #[command(
        after_help = "Examples:\n  grader verify                  every lesson\n  grader verify 03               one lesson\n  grader verify 03 --bless-starter   after changing lesson 03's starter on purpose\n  grader verify --new-variant 03 no_backoff --from /tmp/03-edited\n                                 a new known-buggy variant from an edited copy of the solution\n  grader verify --write-shims --bless-starter   after changing grader/shim"
    )]
    Verify {
        /// One lesson (default: all).
        lesson: Option<String>,
        /// First record the exercises as they are now as the shipped starters
        /// (grader/lessons/NN-slug/starter.sha256), after changing a starter on purpose.
        #[arg(long)]
        bless_starter: bool,
        /// First rewrite the exercises' and solutions' src/sync.rs that differ from the kit's shim
        /// (grader/shim, and each lesson's `shim = [...]` in curriculum.toml).
        #[arg(long)]
        write_shims: bool,
        /// Write grader/lessons/NN-slug/variants/NAME.patch: the diff from lesson LESSON's solution
        /// to the edited copy given with --from, with a preamble to fill in. Never overwrites.
        #[arg(long, num_args = 2, value_names = ["LESSON", "NAME"], requires = "from", conflicts_with_all = ["lesson", "bless_starter"])]
        new_variant: Option<Vec<String>>,
        /// The edited copy of the solution: a crate folder or its src/ (with --new-variant).
        #[arg(long, value_name = "DIR", requires = "new_variant")]
        from: Option<PathBuf>,
        /// Mutation testing of the checks: generate mutants of the lesson's solution (weakened
        /// orderings, split read-modify-writes, dropped notifies, `while` → `if` around a wait,
        /// deleted joins, flipped comparisons...) and check each; a mutant every check passes is
        /// missed unless grader/lessons/NN-slug/equivalent-mutants.toml says why it is equivalent.
        #[arg(long, conflicts_with_all = ["bless_starter", "write_shims", "new_variant"])]
        mutate: bool,
        /// Only the API rows: which stress and model checks reach each public item of the
        /// lesson's solution (read with syn, nothing built); an item none reaches fails unless
        /// curriculum.toml's [lesson.single_threaded] says why.
        #[arg(long, conflicts_with_all = ["bless_starter", "write_shims", "new_variant", "mutate"])]
        api: bool,
        /// Check at most N mutants (in id order), with --mutate.
        #[arg(long, value_name = "N", requires = "mutate")]
        mutate_limit: Option<usize>,
        /// Only these mutation operators (comma-separated), with --mutate: weaken_ordering,
        /// split_rmw, drop_notify, notify_all_to_one, while_to_if, negate_wait_while, delete_join,
        /// flip_comparison, default_body, delete_call, release_guard_early, hoist_out_of_lock,
        /// swap_lock_order, off_by_one.
        #[arg(long, value_name = "OP", value_delimiter = ',', requires = "mutate")]
        mutate_operator: Vec<String>,
        /// List the mutants and their diffs without checking them, with --mutate.
        #[arg(long, requires = "mutate")]
        mutate_list: bool,
        /// Mutants checked at once, with --mutate (default 1). Each then runs its checks
        /// cores/N at a time; timing checks still run with nothing else of the grader running.
        #[arg(long, value_name = "N", value_parser = parse_jobs, requires = "mutate")]
        mutate_jobs: Option<usize>,
        /// With --mutate: `json` prints the table and the totals as one JSON document.
        #[arg(long, value_name = "FORMAT", value_parser = ["human", "json"], requires = "mutate")]
        format: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    live::handle_ctrl_c();
    match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        ColorWhen::Auto => {}
    }
    match run(cli) {
        Ok(code) => code,
        // Whoever read our output stopped reading: nothing more to say, and no one to say it to.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let style = anstyle::AnsiColor::Red.on_default().bold();
            let _ = writeln!(anstream::stderr(), "{style}error{style:#}: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Command::Completions { shell }) = cli.command {
        use clap::CommandFactory;
        clap_complete::generate(shell, &mut Cli::command(), "grader", &mut std::io::stdout());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Command::ReportCheck { file, name }) = &cli.command {
        let passed = platforms::report_check(file, name, &mut anstream::stdout())?;
        return Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let kit = Kit::locate(cli.kit.as_deref())?;
    let mut out = anstream::stdout();
    let Some(command) = cli.command else {
        journey::status(&mut out, &kit)?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Check {
            lesson,
            fail_fast,
            solution,
            path,
            format,
            jobs,
            timeout_scale,
            kind,
            visibility,
        } => {
            let own_exercise = path.is_none() && !solution;
            let lesson = current_or(&kit, lesson.as_deref())?;
            // Gradescope's visibilities: the curriculum's, then --visibility over them.
            lesson.check_visibility_keys(
                visibility.iter().map(|(k, _)| k),
                &lesson.planned_checks()?,
            )?;
            let visibility = {
                let mut rules = lesson.visibility.clone();
                rules.extend(visibility);
                rules
            };
            let target = match (&path, solution) {
                (Some(dir), _) => submissions::locate(lesson, dir),
                (None, true) => Target::solution(&kit, lesson),
                (None, false) => Target::exercise(&kit, lesson),
            };
            let target = match target {
                Ok(target) => target,
                Err(e) if format == Format::Gradescope => {
                    let error = format!("{e:#}");
                    let results =
                        report::gradescope::unreadable(&lesson.dir_name(), &lesson.title, &error);
                    writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?;
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e),
            };
            kit.check_declared(lesson)?;
            let mut options = Options::default();
            if let Some(j) = jobs {
                options.jobs = j.max(1);
            }
            options.budget.timeout_scale = timeout_scale;
            if !kind.is_empty() {
                options.only = Some(platforms::checks_of_kinds(lesson, &kind)?);
            }
            options.fail_fast = fail_fast;
            let started = std::time::Instant::now();
            let terminal = std::io::stderr().is_terminal();
            let live = (format == Format::Human && terminal).then(live::Live::start);
            // Without a terminal (CI), a plain line per finished check, and a heartbeat.
            let plain = (!terminal).then(live::Plain::start);
            let report = evaluate::evaluate(&kit, lesson, &target, &options, &|event| {
                if let Some(live) = &live {
                    live.event(event)
                } else if let Some(plain) = &plain {
                    plain.event(event)
                }
            })?;
            if let Some(live) = live {
                live.finish();
            }
            if let Some(plain) = plain {
                plain.finish();
            }
            // A check of the learner's own exercise is an attempt; only a full one sets the best
            // score (a `--kind` check's score is of the checks that ran).
            let recorded = own_exercise.then(|| {
                let mut progress = progress::Progress::load(&kit);
                let recorded = if kind.is_empty() {
                    Some(progress.record_report(lesson, &report))
                } else {
                    progress.record_attempt(lesson);
                    None
                };
                progress.visit(&kit.curriculum, lesson);
                progress.save(&kit);
                (recorded, progress)
            });
            match format {
                Format::Json => writeln!(out, "{}", report::json::report(&report))?,
                Format::Markdown => write!(
                    out,
                    "{}",
                    report::markdown::feedback(&report, &report.target)
                )?,
                Format::Junit => {
                    let now = chrono::Local::now().fixed_offset();
                    writeln!(out, "{}", report::junit::report(&report, now))?
                }
                Format::Csv | Format::Html => anyhow::bail!(
                    "`grader check` prints no {format}: `grader grade` writes it for a class"
                ),
                Format::Gradescope => {
                    let elapsed = started.elapsed().as_secs_f64().round() as u64;
                    let results = report::gradescope::results(&report, elapsed, &visibility);
                    writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?
                }
                Format::Human => {
                    report::human::report(&mut out, &report)?;
                    if let Some((Some(recorded), progress)) = &recorded {
                        journey::after_check(
                            &mut out,
                            &kit,
                            lesson,
                            &report,
                            recorded.first_pass,
                            progress,
                        )?;
                    }
                }
            }
            if let Some(c) = report.checks.iter().find(|c| {
                matches!(
                    c.status.skip(),
                    Some(report::Skip::NotInChecks | report::Skip::UnknownLint)
                )
            }) {
                anyhow::bail!(
                    "kit error: the {} check `{}` could not run: {}",
                    c.kind,
                    c.name,
                    c.message
                );
            }
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Grade {
            lesson,
            dir,
            jobs,
            out: out_dir,
            format,
            force,
            timeout_scale,
            require_sandbox,
            partition,
        } => {
            let lesson = kit.curriculum.find(&lesson)?;
            kit.check_declared(lesson)?;
            let missing = crate::check::sandbox::missing(crate::check::sandbox::in_force());
            if require_sandbox && !missing.is_empty() {
                anyhow::bail!(
                    "--require-sandbox: this system does not allow every protection of the checks' sandbox (missing: {}); grade where unprivileged user namespaces and Landlock are available, or drop --require-sandbox",
                    missing.join(", ")
                );
            }
            let budget = run::Budget {
                timeout_scale,
                ..run::Budget::default()
            };
            let options = grade::Options {
                jobs: jobs.unwrap_or_else(grade::default_jobs).max(1),
                force,
                budget,
                out: out_dir.unwrap_or_else(|| grade::default_out_dir(lesson)),
                outputs: if format.is_empty() {
                    Format::GRADE.to_vec()
                } else {
                    format
                },
                progress_bar: std::io::stderr().is_terminal(),
                partition,
            };
            let graded = grade::grade(&kit, lesson, &dir, &options, &mut out)?;
            let invalid = graded
                .iter()
                .filter(|g| g.status == crate::class::graded::Outcome::Invalid)
                .count();
            // A part of a class may happen to hold only invalid ones: its merge says so.
            if options.partition.is_none() && !graded.is_empty() && invalid == graded.len() {
                anyhow::bail!(
                    "every submission in {} was invalid ({invalid} of {invalid}: no lesson {:02} crate found in any): is it the right folder, and the right lesson?",
                    dir.display(),
                    lesson.number
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Merge {
            parts,
            out: out_dir,
            format,
        } => {
            let formats = if format.is_empty() {
                Format::GRADE.to_vec()
            } else {
                format
            };
            let graded =
                crate::class::partition::merge(&kit, &parts, &out_dir, &formats, &mut out)?;
            if !graded.is_empty()
                && graded
                    .iter()
                    .all(|g| g.status == crate::class::graded::Outcome::Invalid)
            {
                anyhow::bail!("every submission of the merged class was invalid");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GradescopePackage { lesson, out: zip } => {
            let lesson = kit.curriculum.find(&lesson)?;
            let zip = zip.unwrap_or_else(|| format!("gradescope-{}.zip", lesson.dir_name()).into());
            let files = platforms::gradescope_package(&kit, lesson, &zip)?;
            writeln!(
                out,
                "{}",
                platforms::gradescope_instructions(lesson, &zip, files.len())
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BatchWorkflow {
            lesson,
            shards,
            submissions,
        } => {
            let lesson = kit.curriculum.find(&lesson)?;
            write!(
                out,
                "{}",
                platforms::batch_workflow(lesson, shards, &submissions)
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Classroom { lesson } => {
            let lesson = kit.curriculum.find(&lesson)?;
            write!(out, "{}", platforms::classroom_workflow(lesson)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ReportCheck { .. } => unreachable!("handled before the kit is located"),
        Command::List => {
            writeln!(out, "{}\n", kit.curriculum.title)?;
            journey::print_lessons(
                &mut out,
                &kit,
                &progress::Progress::load(&kit),
                std::io::stdout().is_terminal(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hint {
            lesson,
            number,
            all,
        } => {
            let lesson = current_or(&kit, lesson.as_deref())?;
            let which = match (number, all) {
                (_, true) => journey::Which::All,
                (Some(n), false) => journey::Which::Number(n),
                (None, false) => journey::Which::Next,
            };
            journey::hint(&mut out, &kit, lesson, which)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch {
            lesson,
            poll,
            fail_fast,
            max_runs,
            jobs,
            timeout_scale,
        } => {
            let mut options = Options::default();
            if let Some(j) = jobs {
                options.jobs = j.max(1);
            }
            options.budget.timeout_scale = timeout_scale;
            options.fail_fast = fail_fast;
            let watch = watch::WatchOptions {
                lesson,
                poll,
                max_runs,
                options,
            };
            watch::watch(&kit, watch)
        }
        Command::Next => {
            journey::next(&mut out, &kit)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reset { lesson } => {
            let lesson = kit.curriculum.find(&lesson)?;
            journey::reset(&mut out, &kit, lesson)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { .. } => unreachable!("handled before the kit is located"),
        Command::Verify {
            lesson: _,
            new_variant: Some(new_variant),
            from: Some(from),
            ..
        } => {
            let lesson = kit.curriculum.find(&new_variant[0])?;
            let written = variants::new_variant(&kit, lesson, &new_variant[1], &from)?;
            writeln!(
                out,
                "wrote {}: fill in its bug: and caught-by: lines, then `grader verify {:02}`",
                kit.display(&written),
                lesson.number
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            lesson,
            mutate: true,
            mutate_limit,
            mutate_operator,
            mutate_list,
            mutate_jobs,
            format,
            ..
        } => {
            let lessons: Vec<_> = match &lesson {
                Some(name) => vec![kit.curriculum.find(name)?],
                None => kit.curriculum.lessons.iter().collect(),
            };
            let settings = mutate::Settings {
                limit: mutate_limit,
                operators: mutate_operator
                    .iter()
                    .map(|o| mutate::Operator::parse(o))
                    .collect::<anyhow::Result<_>>()?,
                list: mutate_list,
                jobs: mutate_jobs.unwrap_or(1),
                json: format.as_deref() == Some("json"),
            };
            let mut ok = true;
            for lesson in lessons {
                ok &= mutate::run(&kit, lesson, &settings, &Options::default(), &mut out)?;
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Verify {
            lesson, api: true, ..
        } => {
            let lessons: Vec<_> = match &lesson {
                Some(name) => vec![kit.curriculum.find(name)?],
                None => kit.curriculum.lessons.iter().collect(),
            };
            let ok = verify::verify_api(&kit, &lessons, &mut out)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Verify {
            lesson,
            bless_starter,
            write_shims,
            ..
        } => {
            let lessons: Vec<_> = match &lesson {
                Some(name) => vec![kit.curriculum.find(name)?],
                None => kit.curriculum.lessons.iter().collect(),
            };
            if write_shims {
                for lesson in &lessons {
                    let written = verify::write_shims(&kit, lesson)?;
                    for path in &written {
                        writeln!(out, "wrote {}", kit.display(path))?;
                    }
                    let starter = kit.path(&lesson.exercise);
                    if !bless_starter
                        && written.iter().any(|p| p.starts_with(&starter))
                        && !verify::starter_lock_holds(&kit, lesson)
                    {
                        writeln!(out, "the starter of lesson {:02} changed: if that is as shipped, `grader verify {:02} --bless-starter` records it", lesson.number, lesson.number)?;
                    }
                }
            }
            if bless_starter {
                for lesson in &lessons {
                    let written = verify::bless_starter(&kit, lesson)?;
                    writeln!(out, "wrote {}", kit.display(&written))?;
                }
            }
            let ok = verify::verify(&kit, &lessons, &Options::default(), &mut out)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// `--timeout-scale`: a finite number above 0.
fn parse_timeout_scale(arg: &str) -> Result<f64, String> {
    match arg.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err(format!(
            "`{arg}` is not a factor above 0 (e.g. 2 doubles every time limit, 0.5 halves it)"
        )),
        Err(_) => Err(format!("`{arg}` is not a number (e.g. 2, or 0.5)")),
    }
}

/// `--jobs`: a whole number, at least 1.
fn parse_jobs(arg: &str) -> Result<usize, String> {
    match arg.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{arg}` is not a number of jobs: 1 or more")),
    }
}

/// Whether `e` is a write to a closed pipe (`grader reset 01 | head -1`).
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The lesson named; else the lesson whose exercise folder the learner stands in; else their
/// current lesson (the first one not passed yet).
fn current_or<'k>(kit: &'k Kit, name: Option<&str>) -> anyhow::Result<&'k curriculum::Lesson> {
    if let Some(name) = name {
        return kit.curriculum.find(name);
    }
    if let Some(here) = kit.lesson_here() {
        return Ok(here);
    }
    progress::Progress::load(kit)
            .current(&kit.curriculum)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "you have passed every lesson, so there is no current one: name a lesson (e.g. `01`)"
                )
            })
}
