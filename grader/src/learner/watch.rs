//! `grader watch`: re-checks the lesson's exercise each time a file of it is saved.
//!
//! File-system events (notify) wake it; a change is acted on once the files have been quiet for a
//! moment (editors write in several steps). It also looks at the files every second, for file
//! systems where events never arrive, so a save is never missed. What decides a re-check is the
//! content of `src/`: an event that changed nothing (a build in the exercise's `target/`, an editor
//! touching a file) does not re-run anything.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use anyhow::Result;
use grader_harness::protocol::Kind;

use crate::check::pipeline::{self, Options};
use crate::check::run::Status;
use crate::check::target::Target;
use crate::curriculum::Lesson;
use crate::kit::Kit;
use crate::learner::journey;
use crate::learner::live::{self, Live};
use crate::learner::progress::Progress;
use crate::report::finding::HintWords;
use crate::report::{human, CheckReport, Report};

const OK: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const HERE: Style = AnsiColor::Cyan.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// How often the files are looked at when no event came.
const POLL_EVERY: Duration = Duration::from_millis(1000);
/// A change is acted on once no event came for this long.
const QUIET_FOR: Duration = Duration::from_millis(300);

pub struct WatchOptions {
    pub lesson: Option<String>,
    /// Only look at the files every second: no file-system events.
    pub poll: bool,
    /// Stop after this many checks (scripts and tests).
    pub max_runs: Option<usize>,
    pub options: Options,
}

enum Msg {
    Changed,
    Key(char),
}

/// What the screen shows besides the report.
#[derive(Default)]
struct Notes {
    lines: Vec<String>,
}

pub fn watch(kit: &Kit, opts: WatchOptions) -> Result<ExitCode> {
    live::set_watching(true);
    let tty = std::io::stdout().is_terminal();
    let keys_tty = std::io::stdin().is_terminal() && live::keys_without_enter();
    let mut out = anstream::stdout();
    let mut lesson: &Lesson = match &opts.lesson {
        Some(name) => kit.curriculum.find(name)?,
        None => match kit
            .lesson_here()
            .or_else(|| Progress::load(kit).current(&kit.curriculum))
        {
            Some(lesson) => lesson,
            None => {
                writeln!(
                    out,
                    "You have passed every lesson. Watch one again with `grader watch NN`."
                )?;
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let (tx, rx) = mpsc::channel();
    spawn_keys(tx.clone(), keys_tty);
    let ui = Ui { tty, keys_tty };
    let mut runs = 0;
    let mut pending: VecDeque<char> = VecDeque::new();

    let result = (|| -> Result<ExitCode> {
        'lessons: loop {
            let dir = kit.path(&lesson.exercise);
            let _watcher = if opts.poll {
                None
            } else {
                file_events(&dir, tx.clone())
            };
            let how = if _watcher.is_some() {
                "on every save"
            } else {
                "when a file changes (looking every second)"
            };
            let mut notes = Notes::default();
            loop {
                // Check what is on disk now: one snapshot, both checked and remembered.
                let snapshot = Target::exercise(kit, lesson);
                let seen = fingerprint(&snapshot);
                runs += 1;
                ui.checking(&mut out, kit, lesson, runs)?;
                CHECKING.store(true, Ordering::SeqCst);
                let outcome =
                    snapshot.and_then(|target| check(kit, lesson, &target, &opts.options, ui.tty));
                CHECKING.store(false, Ordering::SeqCst);
                if QUIT.load(Ordering::SeqCst) {
                    // `q` during the check: what was in flight was killed, its report means nothing.
                    writeln!(out, "Stopped watching (the check in flight was stopped).")?;
                    return Ok(ExitCode::SUCCESS);
                }
                let (report, first_pass) = match &outcome {
                    Ok(report) => {
                        let mut progress = Progress::load(kit);
                        let recorded = progress.record_report(lesson, report);
                        progress.visit(&kit.curriculum, lesson);
                        progress.save(kit);
                        (Some(report), recorded.first_pass)
                    }
                    Err(_) => (None, false),
                };
                let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
                let screen = Screen {
                    kit,
                    lesson,
                    report,
                    error,
                    first_pass,
                    run: runs,
                    how,
                };
                ui.draw(&mut out, &screen, &notes)?;
                if opts.max_runs.is_some_and(|max| runs >= max) {
                    return Ok(match report {
                        Some(r) if r.passed => ExitCode::SUCCESS,
                        _ => ExitCode::from(1),
                    });
                }

                // Wait for a change or a key.
                loop {
                    let msg = match pending.pop_front() {
                        Some(k) => Ok(Msg::Key(k)),
                        None => rx.recv_timeout(POLL_EVERY),
                    };
                    match msg {
                        Ok(Msg::Changed) => {
                            settle(&rx, &mut pending);
                            if fingerprint(&Target::exercise(kit, lesson)) != seen {
                                break;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            if fingerprint(&Target::exercise(kit, lesson)) != seen {
                                break;
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return Ok(ExitCode::SUCCESS),
                        Ok(Msg::Key(key)) => match key.to_ascii_lowercase() {
                            'q' => {
                                writeln!(out, "Stopped watching.")?;
                                return Ok(ExitCode::SUCCESS);
                            }
                            'r' | '\n' => break,
                            'n' => match Progress::load(kit).open_after(&kit.curriculum, lesson) {
                                Some(following) => {
                                    let mut progress = Progress::load(kit);
                                    progress.current = Some(following.dir_name());
                                    progress.save(kit);
                                    lesson = following;
                                    continue 'lessons;
                                }
                                None => {
                                    notes.lines = vec![format!(
                                        "Every other lesson is passed: there is no lesson to move on to from {:02}.",
                                        lesson.number
                                    )];
                                    ui.draw(&mut out, &screen, &notes)?;
                                }
                            },
                            'h' => {
                                let mut progress = Progress::load(kit);
                                match progress.next_hint(lesson) {
                                    Some(n) => {
                                        progress.save(kit);
                                        let mut text = Vec::new();
                                        journey::print_hint(&mut text, lesson, n)?;
                                        notes.lines = String::from_utf8_lossy(&text)
                                            .lines()
                                            .map(str::to_string)
                                            .collect();
                                    }
                                    None => {
                                        notes.lines = vec![format!(
                                            "Lesson {:02} has no hints.",
                                            lesson.number
                                        )]
                                    }
                                }
                                if ui.tty {
                                    ui.draw(&mut out, &screen, &notes)?;
                                } else {
                                    for line in &notes.lines {
                                        writeln!(out, "{line}")?;
                                    }
                                }
                            }
                            _ => {}
                        },
                    }
                }
                notes = Notes::default();
            }
        }
    })();
    live::restore_terminal();
    live::set_watching(false);
    result
}

/// Lets a burst of events pass: returns once no event came for `QUIET_FOR` (at most 3 s). Keys
/// pressed meanwhile are kept for later.
fn settle(rx: &Receiver<Msg>, pending: &mut VecDeque<char>) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        match rx.recv_timeout(QUIET_FOR) {
            Ok(Msg::Changed) => continue,
            Ok(Msg::Key(k)) => pending.push_back(k),
            Err(_) => break,
        }
    }
}

fn check(
    kit: &Kit,
    lesson: &Lesson,
    target: &Target,
    options: &Options,
    tty: bool,
) -> Result<Report> {
    if tty && std::io::stderr().is_terminal() {
        let live = Live::start();
        let report = pipeline::evaluate(kit, lesson, target, options, &|e| live.event(e));
        live.finish();
        report
    } else {
        pipeline::evaluate(kit, lesson, target, options, &|_| {})
    }
}

/// The digest of the exercise's snapshot (paths and contents): what a re-check sees. A folder that
/// can't be read as a target (no lib.rs any more, a symbolic link) hashes its error, which is a
/// change too.
fn fingerprint(snapshot: &Result<Target>) -> [u8; 32] {
    use sha2::Digest;
    match snapshot {
        Ok(target) => target.digest(),
        Err(e) => sha2::Sha256::digest(format!("{e:#}").as_bytes()).into(),
    }
}

/// File-system events for the exercise folder; `None` when the platform or file system gives none.
fn file_events(dir: &Path, tx: Sender<Msg>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        let relevant = event
            .paths
            .iter()
            .any(|p| !p.components().any(|c| c.as_os_str() == "target"));
        if relevant {
            let _ = tx.send(Msg::Changed);
        }
    })
    .ok()?;
    watcher.watch(dir, notify::RecursiveMode::Recursive).ok()?;
    Some(watcher)
}

/// A check is in flight (the main thread is inside `check`).
static CHECKING: AtomicBool = AtomicBool::new(false);
/// `q` was pressed while a check was in flight: the watch ends once `check` returns.
static QUIT: AtomicBool = AtomicBool::new(false);

/// Keys: single keys on a terminal; lines otherwise (the first letter counts, an empty line is a
/// re-check). Ends quietly at the end of input. A `q` during a check acts at once: the builds and
/// checks in flight are killed (as Ctrl-C does), so the check returns within a moment, not at its
/// end; other keys wait for the check to end.
fn spawn_keys(tx: Sender<Msg>, single_keys: bool) {
    let send = move |key: char| {
        if key.eq_ignore_ascii_case(&'q') && CHECKING.load(Ordering::SeqCst) {
            QUIT.store(true, Ordering::SeqCst);
            crate::check::process::kill_running();
        }
        tx.send(Msg::Key(key)).is_ok()
    };
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        if single_keys {
            let mut byte = [0u8; 1];
            let mut lock = stdin.lock();
            while let Ok(1) = lock.read(&mut byte) {
                let key = if byte[0] == b'\r' {
                    '\n'
                } else {
                    byte[0] as char
                };
                if !send(key) {
                    break;
                }
            }
        } else {
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                let key = line.trim().chars().next().unwrap_or('\n');
                if !send(key) {
                    break;
                }
            }
        }
    });
}

struct Screen<'a> {
    kit: &'a Kit,
    lesson: &'a Lesson,
    report: Option<&'a Report>,
    error: Option<String>,
    first_pass: bool,
    run: usize,
    how: &'a str,
}

struct Ui {
    tty: bool,
    keys_tty: bool,
}

impl Ui {
    fn clear(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.tty {
            write!(out, "\x1b[2J\x1b[3J\x1b[H")?;
        }
        Ok(())
    }

    fn header(&self, out: &mut dyn Write, lesson: &Lesson, run: usize) -> std::io::Result<()> {
        let time = chrono::Local::now().format("%H:%M:%S");
        writeln!(
            out,
            "{BOLD}grader watch · lesson {:02} · {}{BOLD:#}  {DIM}(check {run}, {time}){DIM:#}",
            lesson.number, lesson.title
        )
    }

    fn checking(&self, out: &mut dyn Write, kit: &Kit, lesson: &Lesson, run: usize) -> Result<()> {
        self.clear(out)?;
        if self.tty {
            self.header(out, lesson, run)?;
            writeln!(
                out,
                "\nChecking {}…",
                kit.display(&kit.path(&lesson.exercise))
            )?;
        } else {
            writeln!(out, "=== check {run}: lesson {} ===", lesson.dir_name())?;
        }
        out.flush()?;
        Ok(())
    }

    fn draw(&self, out: &mut dyn Write, s: &Screen<'_>, notes: &Notes) -> Result<()> {
        let lesson = s.lesson;
        if self.tty {
            self.clear(out)?;
            self.header(out, lesson, s.run)?;
        }
        match (s.report, &s.error) {
            (_, Some(error)) => {
                writeln!(out, "\n{BAD}Could not check the lesson{BAD:#}: {error}")?;
            }
            (Some(report), None) => self.report(out, s, report)?,
            (None, None) => {}
        }
        for line in &notes.lines {
            if line == &notes.lines[0] {
                writeln!(out)?;
            }
            writeln!(out, "{line}")?;
        }
        // The keys.
        let exercise = s.kit.display(&s.kit.path(&lesson.exercise));
        let next = Progress::load(s.kit).open_after(&s.kit.curriculum, lesson);
        let passed = s.report.is_some_and(|r| r.passed);
        writeln!(out)?;
        if passed {
            match next {
                Some(next) => writeln!(
                    out,
                    "{HERE}Press n to move on to lesson {:02} · {}{HERE:#}{}",
                    next.number,
                    next.title,
                    if self.keys_tty {
                        ""
                    } else {
                        " (type n, then Enter)"
                    }
                )?,
                None => writeln!(
                    out,
                    "{OK}Every lesson is passed: you have finished the course!{OK:#}"
                )?,
            }
        }
        let keys = if self.keys_tty {
            "keys: h hint · r re-check · n next lesson · q quit (or Ctrl-C)"
        } else {
            "type a letter then Enter: h hint · r re-check · n next lesson · q quit (or Ctrl-C)"
        };
        writeln!(
            out,
            "{DIM}Watching {exercise}/src: re-checks {}. {keys}{DIM:#}",
            s.how
        )?;
        out.flush()?;
        Ok(())
    }

    fn report(&self, out: &mut dyn Write, s: &Screen<'_>, report: &Report) -> Result<()> {
        let lesson = s.lesson;
        // One line per kind: a mark per check.
        writeln!(out)?;
        for kind in Kind::ALL {
            let checks: Vec<&CheckReport> =
                report.checks.iter().filter(|c| c.kind == kind).collect();
            if checks.is_empty() {
                continue;
            }
            let marks: String = checks
                .iter()
                .map(|c| match c.status {
                    Status::Pass => format!("{OK}✓{OK:#}"),
                    Status::Skipped(_) => format!("{DIM}-{DIM:#}"),
                    Status::Timeout => format!("{BAD}⏱{BAD:#}"),
                    _ => format!("{BAD}✗{BAD:#}"),
                })
                .collect();
            let passed = checks.iter().filter(|c| c.status == Status::Pass).count();
            writeln!(
                out,
                "  {:<7} {marks}  {DIM}{passed}/{}{DIM:#}",
                kind.as_str(),
                checks.len()
            )?;
        }
        let style = if report.passed { OK } else { BAD };
        let passing = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Pass)
            .count();
        writeln!(
            out,
            "\n{style}Score {}/{}{style:#} · {passing} of {} checks pass",
            report.score,
            report.max_score,
            report.checks.len()
        )?;
        if report.passed {
            if s.first_pass {
                writeln!(
                    out,
                    "\n{OK}Lesson {:02} passed. Well done!{OK:#}",
                    lesson.number
                )?;
            } else {
                writeln!(out, "\n{OK}Lesson {:02} passes.{OK:#}", lesson.number)?;
            }
            let solution = s.kit.display(&s.kit.path(&lesson.solution));
            let exercise = s.kit.display(&s.kit.path(&lesson.exercise));
            writeln!(
                out,
                "Compare with the reference solution: diff -u {solution}/src/lib.rs {exercise}/src/lib.rs"
            )?;
            return Ok(());
        }
        if let Some(message) = report.build.message() {
            writeln!(out, "\n{BAD}Build failed{BAD:#}:")?;
            let lines: Vec<&str> = message.lines().collect();
            for line in lines.iter().take(40) {
                writeln!(out, "  {line}")?;
            }
            if lines.len() > 40 {
                writeln!(
                    out,
                    "  {DIM}… {} more lines: grader check {:02}{DIM:#}",
                    lines.len() - 40,
                    lesson.number
                )?;
            }
            return Ok(());
        }
        let failing: Vec<&CheckReport> = report
            .checks
            .iter()
            .filter(|c| c.status.ran_and_failed())
            .chain(report.checks.iter().filter(|c| c.status.skip().is_some()))
            .collect();
        let Some(first) = failing.first() else {
            return Ok(());
        };
        writeln!(
            out,
            "\n{BAD}First failing check: {} · {}{BAD:#}",
            first.kind, first.name
        )?;
        human::explain(out, first, lesson.number, &HintWords::Watch, 8)?;
        if failing.len() > 1 {
            let names: Vec<&str> = failing[1..].iter().map(|c| c.name.as_str()).collect();
            writeln!(
                out,
                "\n{DIM}{} more not passing: {} (`grader check {:02}` explains each){DIM:#}",
                names.len(),
                names.join(", "),
                lesson.number
            )?;
        }
        Ok(())
    }
}
