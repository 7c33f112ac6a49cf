//! `grader grade LESSON DIR`: a whole class at once.
//!
//! Each submission in DIR (see [`crate::class::submissions`]) is graded with the same checks as
//! `grader check`, several at a time, and every result is kept in a cache keyed by a SHA-256 of
//! everything the grade depends on (the submission's sources, the lesson's checks, shim and
//! points, the harness runtime, the limits and the grader binary itself). Re-grading the same
//! folder therefore re-runs only the submissions whose content changed; `--force` re-runs all.
//! SHA-256 rather than a fast hash because submissions are untrusted: a learner must not be able
//! to craft sources that collide with a classmate's graded ones.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use grader_harness::protocol::Finding;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::check::pipeline;
use crate::check::run::{Budget, CheckRun};
use crate::check::target::Target;
use crate::class::gradebook;
use crate::class::graded::Graded;
use crate::class::partition::Partition;
use crate::class::submissions::{self, Submission};
use crate::curriculum::Lesson;
use crate::kit::Kit;
use crate::report::{Build, Format, Report, Skip};

pub struct Options {
    /// Submissions graded at once. See [`default_jobs`].
    pub jobs: usize,
    /// Re-grade every submission, cached or not.
    pub force: bool,
    pub budget: Budget,
    pub out: PathBuf,
    /// What to write (of [`Format::GRADE`]).
    pub outputs: Vec<Format>,
    /// A progress bar (a terminal) or one plain line per submission.
    pub progress_bar: bool,
    /// Grade only this part of the class (`--partition K/N`).
    pub partition: Option<Partition>,
}

/// Submissions graded at once by default: one per core.
///
/// Each submission runs its checks `cores / jobs` at a time (so one at a time here), which keeps
/// at most one check process per core: a stress check never has to share its core with more
/// than the next submission's build, so its time limit stays as generous as in `grader check`.
/// Two submissions at once still pay off on 2 cores, because one builds (mostly a single rustc
/// at a time, and cargo lets only one build use a target folder at once) while the other runs
/// its checks. Timing checks stay fair whatever `--jobs` says: each waits until nothing else of
/// the grader runs, builds included, and runs alone (see `gate.rs`).
///
/// Measured on the 2-core machine, 12 fresh lesson-01 submissions (dependencies built once):
/// `--jobs 1` 23.5, `--jobs 2` 25.5, `--jobs 4` 25.4 submissions a minute; more than one per core
/// buys nothing. Lesson 03, whose five timing checks must each run alone, grades at about 3.8 a
/// minute whatever `--jobs` says.
pub fn default_jobs() -> usize {
    cores()
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// What the cache keeps per content hash.
#[derive(Serialize, Deserialize)]
struct Cached {
    seconds: f64,
    report: Report,
}

/// Grades every submission in `dir`, writes the outputs to `options.out`, prints the summary.
pub fn grade(
    kit: &Kit,
    lesson: &Lesson,
    dir: &Path,
    options: &Options,
    out: &mut dyn Write,
) -> Result<Vec<Graded>> {
    let submissions::Found {
        submissions: found,
        ignored,
    } = submissions::find(dir)?;
    if !ignored.is_empty() {
        writeln!(
            out,
            "Not graded ({} file{} in {} that are neither a folder, a .zip nor a .tar.gz): {}",
            ignored.len(),
            if ignored.len() == 1 { "" } else { "s" },
            dir.display(),
            ignored.join(", ")
        )?;
    }
    if found.is_empty() {
        anyhow::bail!(
            "{}: no submissions (folders, .zip or .tar.gz files) in it",
            dir.display()
        );
    }
    let found: Vec<Submission> = match &options.partition {
        Some(part) => {
            let total = found.len();
            let mine: Vec<Submission> =
                found.into_iter().filter(|s| part.contains(&s.id)).collect();
            writeln!(
                out,
                "Part {part} of the class: {} of its {total} submissions.",
                mine.len()
            )?;
            mine
        }
        None => found,
    };
    let started = Instant::now();
    let jobs = options.jobs.clamp(1, found.len().max(1));
    let check_options = pipeline::Options {
        jobs: (cores() / jobs).max(1),
        budget: options.budget,
        ..pipeline::Options::default()
    };
    let ingredients = KitIngredients::read(kit, lesson, &options.budget)?;

    let progress = Progress::new(found.len(), options.progress_bar);
    let results: Vec<Mutex<Option<Graded>>> = found.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(submission) = found.get(i) else {
                    break;
                };
                progress.started(&submission.id);
                let graded = grade_one(
                    kit,
                    lesson,
                    submission,
                    &check_options,
                    &ingredients,
                    options.force,
                );
                progress.finished(&graded);
                *results[i].lock().unwrap() = Some(graded);
            });
        }
    });
    progress.done();
    let graded: Vec<Graded> = results
        .into_iter()
        .map(|m| m.into_inner().unwrap().expect("every submission graded"))
        .collect();

    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    let summary = gradebook::Summary::of(&graded, started.elapsed());
    let written = gradebook::write(
        &options.out,
        lesson,
        &graded,
        &summary,
        &options.outputs,
        options.partition.as_ref(),
    )?;
    summary.print(out, lesson, &graded)?;
    writeln!(out, "\nWritten to {}:", options.out.display())?;
    for file in written {
        writeln!(out, "  {}", file)?;
    }
    Ok(graded)
}

fn grade_one(
    kit: &Kit,
    lesson: &Lesson,
    submission: &Submission,
    options: &pipeline::Options,
    ingredients: &KitIngredients,
    force: bool,
) -> Graded {
    let started = Instant::now();
    let source = submission.path.display().to_string();
    let prepared = match submission.prepare(lesson) {
        Ok(p) => p,
        Err(e) => {
            let report = unreadable(lesson, &source, Skip::Unreadable, &format!("{e:#}"));
            return graded(submission, source, None, false, started.elapsed(), report);
        }
    };
    let hash = ingredients.hash(&prepared.target);
    let cache_file = hash
        .as_ref()
        .map(|h| cache_dir(kit, lesson).join(format!("{h}.json")));
    if !force {
        let cached = cache_file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice::<Cached>(&b).ok());
        if let Some(Cached {
            seconds,
            mut report,
        }) = cached
        {
            report.target = source.clone();
            return graded(
                submission,
                source,
                hash,
                true,
                Duration::from_secs_f64(seconds),
                report,
            );
        }
    }
    let report = match pipeline::evaluate(kit, lesson, &prepared.target, options, &|_| {}) {
        Ok(report) => report,
        // The grader itself could not run the checks (a harness that lists nothing, a full
        // disk): reported, and never cached, so the next run tries again.
        Err(e) => {
            let report = unreadable(
                lesson,
                &source,
                Skip::GraderError,
                &format!("the grader could not grade it: {e:#}"),
            );
            return graded(submission, source, hash, false, started.elapsed(), report);
        }
    };
    let elapsed = started.elapsed();
    if let Some(file) = &cache_file {
        let cached = Cached {
            seconds: elapsed.as_secs_f64(),
            report: report.clone(),
        };
        if let Ok(text) = serde_json::to_vec(&cached) {
            // Atomically: a crash mid-write never leaves a half result to reuse. Every check of
            // this submission has ended by now, and none could reach this folder anyway.
            let _ = std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
            let _ = crate::files::write_atomically(file, &text);
        }
    }
    drop(prepared);
    graded(submission, source, hash, false, elapsed, report)
}

fn graded(
    submission: &Submission,
    source: String,
    content_hash: Option<String>,
    cached: bool,
    took: Duration,
    report: Report,
) -> Graded {
    let id = submission.id.clone();
    Graded::new(id, source, content_hash, cached, took.as_secs_f64(), report)
}

/// A report for a submission that could not be graded at all: every check skipped, 0 points.
fn unreadable(lesson: &Lesson, source: &str, reason: Skip, why: &str) -> Report {
    let planned = lesson.planned_checks().unwrap_or_default();
    let checks = planned
        .into_iter()
        .map(|plan| {
            let run = CheckRun::skipped(
                &plan.name,
                plan.kind,
                reason,
                Finding::new("the submission holds the lesson's crate")
                    .observed(format!("not run: {why}")),
            );
            (plan, run)
        })
        .collect();
    let build = Build::Failed {
        summary: why.to_string(),
        compiler_output: String::new(),
    };
    Report::new(lesson, source.to_string(), build, checks)
}

fn cache_dir(kit: &Kit, lesson: &Lesson) -> PathBuf {
    kit.cache_dir().join("grades").join(lesson.dir_name())
}

/// Everything besides the submission that a grade depends on, read once per class run.
struct KitIngredients {
    hasher: Sha256,
}

impl KitIngredients {
    fn read(kit: &Kit, lesson: &Lesson, budget: &Budget) -> Result<KitIngredients> {
        let mut h = Sha256::new();
        let mut field = |name: &str, bytes: &[u8]| {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field("grade-cache-version", b"3");
        field("grader-version", env!("CARGO_PKG_VERSION").as_bytes());
        // The grader binary itself: a rebuilt grader may explain or score differently.
        if let Some(meta) = std::env::current_exe().ok().and_then(|p| p.metadata().ok()) {
            let stamp = format!("{} {:?}", meta.len(), meta.modified().ok());
            field("grader-binary", stamp.as_bytes());
        }
        field(
            "budget",
            format!(
                "{} {} {} {} {} {}",
                budget.timeout_scale,
                budget.memory_bytes,
                budget.rss_bytes,
                budget.max_threads,
                budget.output_bytes,
                budget.flood_bytes
            )
            .as_bytes(),
        );
        field(
            "points",
            format!("{:?}", lesson.planned_checks()?).as_bytes(),
        );
        field("src/sync.rs", kit.shim(lesson)?.as_bytes());
        let mut files = vec![kit.manifest(lesson)];
        files.extend(kit.lesson_files(lesson).unwrap_or_default());
        let harness = kit.root.join("grader/harness");
        files.push(harness.join("Cargo.toml"));
        let mut runtime: Vec<PathBuf> = std::fs::read_dir(harness.join("src"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        runtime.sort();
        files.extend(runtime);
        // The loom builds' scoped threads (the shim's loom `thread::scope`).
        let loom_scope = kit.root.join("grader/loom-scope");
        files.push(loom_scope.join("Cargo.toml"));
        files.push(loom_scope.join("src/lib.rs"));
        for file in files {
            let bytes = std::fs::read(&file).unwrap_or_default();
            field(&kit.display(&file), &bytes);
        }
        Ok(KitIngredients { hasher: h })
    }

    /// The content hash of one submission (its snapshot's files, read once when it was prepared).
    fn hash(&self, target: &Target) -> Option<String> {
        let mut h = self.hasher.clone();
        // The report names the submission (its id in messages, its path as the target): two
        // submissions with the same sources still get reports of their own.
        for name in [&target.label, &target.src_display] {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
        }
        target.feed_contents(&mut |bytes| h.update(bytes));
        Some(
            h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        )
    }
}

/// A progress bar on a terminal; one plain line per finished submission otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: AtomicUsize,
    running: Mutex<Vec<String>>,
}

impl Progress {
    fn new(total: usize, bar: bool) -> Progress {
        let bar = bar.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} submissions · {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            total,
            done: AtomicUsize::new(0),
            running: Mutex::new(Vec::new()),
        }
    }

    fn started(&self, id: &str) {
        let mut running = self.running.lock().unwrap();
        running.push(id.to_string());
        if let Some(bar) = &self.bar {
            bar.set_message(format!("grading {}", running.join(", ")));
        }
    }

    fn finished(&self, g: &Graded) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let mut running = self.running.lock().unwrap();
        running.retain(|r| r != &g.id);
        let status = g.status.as_str();
        let width = self.total.to_string().len();
        let line = format!(
            "[{done:>width$}/{}] {:<24} {:>3}/{:<3} {:<11} {:>6.1} s{}",
            self.total,
            g.id,
            g.score,
            g.max_score,
            status,
            g.seconds,
            if g.cached { " (unchanged: cached)" } else { "" }
        );
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
                bar.set_message(format!("grading {}", running.join(", ")));
            }
            None => eprintln!("{line}"),
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `grades-01-race-fix-20261122-053012`, in the current folder; a suffix if it exists already.
pub fn default_out_dir(lesson: &Lesson) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = format!("grades-{}-{stamp}", lesson.dir_name());
    let mut dir = PathBuf::from(&base);
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    dir
}
