//! `grader`: checks the lessons of the concurrency course kit.
//!
//! The flow of a check, one module per step: [`curriculum`] (what the lesson is) -> [`target`]
//! (which sources) -> [`lint`] and [`build`] (a generated harness, cached) -> [`run`] (each check in
//! its own process) -> [`report`] (text or JSON). [`evaluate`] strings them together; [`verify`]
//! proves the checks catch the known-buggy variants.

mod build;
mod curriculum;
mod evaluate;
mod kit;
mod lint;
mod process;
mod report;
mod run;
mod target;
mod verify;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::evaluate::{Event, Options};
use crate::kit::Kit;
use crate::run::Status;
use crate::target::Target;

#[derive(Parser)]
#[command(
    name = "grader",
    version,
    about = "Checks the lessons of the concurrency course kit."
)]
#[command(
    after_help = "Examples:\n  grader check 01              check your lesson 01\n  grader check 01 --solution   check the reference solution\n  grader hint 01               the lesson's hints\n  grader verify                prove every lesson's checks catch its known-buggy variants"
)]
struct Cli {
    /// The kit's root folder (default: the nearest folder upwards with a curriculum.toml).
    #[arg(long, global = true, value_name = "DIR")]
    kit: Option<PathBuf>,
    /// When to use colour (NO_COLOR is respected on `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
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
        after_help = "Exit status: 0 every check passed, 1 a check or the build failed, 2 a usage or kit error."
    )]
    Check {
        /// Lesson number (03 or 3), slug (downloader) or folder name (03-downloader).
        lesson: String,
        /// Check the reference solution instead of the exercise.
        #[arg(long, conflicts_with = "path")]
        solution: bool,
        /// Check the crate in DIR (a learner's crate folder, or a copy of the whole kit).
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Checks run at once (timing checks always run alone). Default: the number of cores.
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Multiply every check's time limit (a slow or busy machine).
        #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
        timeout_scale: f64,
    },
    /// The lessons, in order.
    List,
    /// A lesson's hints, gentlest first.
    Hint { lesson: String },
    /// Prove the checks work: the solution passes, the starter fails, every known-buggy variant is caught.
    Verify {
        /// One lesson (default: all).
        lesson: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        ColorWhen::Auto => {}
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let style = anstyle::AnsiColor::Red.on_default().bold();
            let _ = writeln!(anstream::stderr(), "{style}error{style:#}: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let kit = Kit::locate(cli.kit.as_deref())?;
    let mut out = anstream::stdout();
    match cli.command {
        Command::Check {
            lesson,
            solution,
            path,
            format,
            jobs,
            timeout_scale,
        } => {
            let lesson = kit.curriculum.find(&lesson)?;
            let target = match (&path, solution) {
                (Some(dir), _) => Target::submission(lesson, dir)?,
                (None, true) => Target::solution(&kit, lesson)?,
                (None, false) => Target::exercise(&kit, lesson)?,
            };
            let mut options = Options::default();
            if let Some(j) = jobs {
                options.jobs = j.max(1);
            }
            options.budget.timeout_scale = timeout_scale;
            let live = format == Format::Human && std::io::stderr().is_terminal();
            let report = evaluate::evaluate(&kit, lesson, &target, &options, &|event| {
                if live {
                    show_progress(event)
                } else {
                }
            })?;
            if live {
                eprint!("\r\x1b[2K");
            }
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
                Format::Human => report::print_human(&mut out, &report, lesson)?,
            }
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::List => {
            writeln!(out, "{}", kit.curriculum.title)?;
            for lesson in &kit.curriculum.lessons {
                writeln!(
                    out,
                    "  {:02}  {:<20} {:<60} {} points",
                    lesson.number,
                    lesson.slug,
                    lesson.title,
                    lesson.max_score()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Hint { lesson } => {
            let lesson = kit.curriculum.find(&lesson)?;
            writeln!(
                out,
                "Hints for lesson {} · {}",
                lesson.dir_name(),
                lesson.title
            )?;
            for (i, hint) in lesson.hints.iter().enumerate() {
                writeln!(out, "\n{}. {hint}", i + 1)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { lesson } => {
            let lessons: Vec<_> = match &lesson {
                Some(name) => vec![kit.curriculum.find(name)?],
                None => kit.curriculum.lessons.iter().collect(),
            };
            let ok = verify::verify(&kit, &lessons, &Options::default(), &mut out)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// A one-line status on stderr while a check runs (terminals only).
fn show_progress(event: Event<'_>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DONE: AtomicUsize = AtomicUsize::new(0);
    static TOTAL: AtomicUsize = AtomicUsize::new(0);
    let line = match event {
        Event::Building => "building…".to_string(),
        Event::Built { mode, seconds, ok } => format!(
            "built {mode:?} ({seconds:.1} s){}",
            if ok { "" } else { " with errors" }
        ),
        Event::Running { checks } => {
            TOTAL.store(checks, Ordering::SeqCst);
            format!("running {checks} checks…")
        }
        Event::Finished(run) => {
            let done = DONE.fetch_add(1, Ordering::SeqCst) + 1;
            let mark = if run.status == Status::Pass {
                "✓"
            } else {
                "✗"
            };
            format!(
                "{done}/{} {mark} {}",
                TOTAL.load(Ordering::SeqCst),
                run.name
            )
        }
    };
    eprint!("\r\x1b[2K{line}");
}
