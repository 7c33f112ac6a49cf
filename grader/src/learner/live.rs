//! Live output while a target is checked (terminals only): one status line on stderr, redrawn a few
//! times a second, naming the checks that have been running for more than a second.
//!
//! Also what Ctrl-C does: the checks and builds still running are killed (each runs in its own
//! process group, which the terminal's SIGINT does not reach), the terminal is restored, and the
//! grader exits.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grader_harness::protocol::Kind;

use crate::check::pipeline::Event;
use crate::check::run::Status;

/// Checks running longer than this are named on the status line.
const SLOW: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    building_since: Option<Instant>,
    total: usize,
    done: usize,
    failed: usize,
    running: Vec<(String, Kind, Instant)>,
    last: Option<String>,
}

pub struct Live {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Live {
    pub fn start() -> Live {
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let line = state.lock().map(|s| s.line()).unwrap_or_default();
                    if !line.is_empty() {
                        let width = terminal_width().saturating_sub(1).max(20);
                        let line: String = line.chars().take(width).collect();
                        let mut err = std::io::stderr().lock();
                        let _ = write!(err, "\r\x1b[2K{line}");
                        let _ = err.flush();
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
            })
        };
        Live {
            state,
            stop,
            ticker: Some(ticker),
        }
    }

    pub fn event(&self, event: Event<'_>) {
        let Ok(mut s) = self.state.lock() else { return };
        match event {
            Event::Building => s.building_since = Some(Instant::now()),
            Event::Built { mode, seconds, ok } => {
                s.last = Some(built_line(mode, seconds, ok));
            }
            Event::Running { checks } => {
                s.building_since = None;
                s.total = s.done + checks;
            }
            Event::Started { name, kind } => {
                s.running.push((name.to_string(), kind, Instant::now()))
            }
            Event::Finished(run) => {
                s.running.retain(|(n, _, _)| *n != run.name);
                s.done += 1;
                s.total = s.total.max(s.done);
                let mark = if run.status == Status::Pass {
                    "✓"
                } else {
                    s.failed += 1;
                    "✗"
                };
                s.last = Some(format!("{mark} {} · {}", run.kind, run.name));
            }
        }
    }

    /// Stops redrawing and clears the status line.
    pub fn finish(mut self) {
        self.stop_ticker();
    }

    fn stop_ticker(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

impl State {
    fn line(&self) -> String {
        if let Some(since) = self.building_since {
            let secs = since.elapsed().as_secs();
            return if secs >= 1 {
                format!("building your code and the checks… {secs} s")
            } else {
                "building your code and the checks…".into()
            };
        }
        if self.total == 0 && self.done == 0 {
            return String::new();
        }
        let failed = if self.failed > 0 {
            format!(", {} not passing", self.failed)
        } else {
            String::new()
        };
        let head = format!("[{}/{}{failed}]", self.done, self.total);
        let slow: Vec<String> = self
            .running
            .iter()
            .filter(|(_, _, t)| t.elapsed() >= SLOW)
            .map(|(n, k, t)| format!("{k} · {n} {} s", t.elapsed().as_secs()))
            .collect();
        if !slow.is_empty() {
            let more = self.running.len() - 1;
            let more = if more > 0 && slow.len() == 1 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            return format!("{head} running {}{more}", slow.join(", "));
        }
        match &self.last {
            Some(last) => format!("{head} {last}"),
            None => format!("{head} running…"),
        }
    }
}

fn terminal_width() -> usize {
    match terminal_size::terminal_size_of(std::io::stderr()) {
        Some((terminal_size::Width(w), _)) if w > 0 => w as usize,
        _ => 80,
    }
}

// ---- Ctrl-C ----

static WATCHING: AtomicBool = AtomicBool::new(false);
#[cfg(unix)]
static SAVED_TERMINAL: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Installs the Ctrl-C handler: kill what runs, restore the terminal, exit.
pub fn handle_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        crate::check::process::kill_running();
        restore_terminal();
        let mut err = std::io::stderr().lock();
        // On a terminal, first wipe the half-drawn progress line the interrupt cut short.
        let wipe = if err.is_terminal() {
            "\r\x1b[2K\n"
        } else {
            "\n"
        };
        if WATCHING.load(Ordering::SeqCst) {
            let _ = writeln!(err, "{wipe}Stopped watching.");
            let _ = err.flush();
            std::process::exit(0);
        }
        let _ = writeln!(
            err,
            "{wipe}interrupted: the checks still running were stopped"
        );
        let _ = err.flush();
        std::process::exit(130);
    });
}

pub fn set_watching(on: bool) {
    WATCHING.store(on, Ordering::SeqCst);
}

/// Single keys without Enter, no echo (watch's keys). Ctrl-C still interrupts. Unix terminals only
/// (termios): elsewhere watch reads a letter then Enter.
#[cfg(not(unix))]
pub fn keys_without_enter() -> bool {
    false
}

/// Puts the terminal back as it was before `keys_without_enter` (nothing to do without termios).
#[cfg(not(unix))]
pub fn restore_terminal() {}

/// Single keys without Enter, no echo (watch's keys). Ctrl-C still interrupts.
#[cfg(unix)]
pub fn keys_without_enter() -> bool {
    // SAFETY: tcgetattr/tcsetattr on stdin with a struct they fill.
    unsafe {
        let mut term: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
            return false;
        }
        if let Ok(mut saved) = SAVED_TERMINAL.lock() {
            saved.get_or_insert(term);
        }
        term.c_lflag &= !(libc::ICANON | libc::ECHO);
        term.c_cc[libc::VMIN] = 1;
        term.c_cc[libc::VTIME] = 0;
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term) == 0
    }
}

/// Puts the terminal back as it was before `keys_without_enter`.
#[cfg(unix)]
pub fn restore_terminal() {
    if let Ok(mut saved) = SAVED_TERMINAL.lock() {
        if let Some(term) = saved.take() {
            // SAFETY: restoring attributes read by tcgetattr.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term);
            }
        }
    }
}

/// Progress without a terminal (CI logs): a plain line on stderr per build and per finished check,
/// and, while nothing finishes, a line every [`HEARTBEAT`] naming what still runs. Nothing is
/// redrawn, so a log that is not a terminal reads in order.
pub struct Plain {
    state: Arc<Mutex<PlainState>>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

/// How long a log may stay silent while checks run.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

struct PlainState {
    running: Vec<(String, Instant)>,
    last_line: Instant,
}

impl PlainState {
    fn say(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
        self.last_line = Instant::now();
    }
}

impl Plain {
    pub fn start() -> Plain {
        let state = Arc::new(Mutex::new(PlainState {
            running: Vec::new(),
            last_line: Instant::now(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                    let Ok(mut s) = state.lock() else { return };
                    if s.running.is_empty() || s.last_line.elapsed() < HEARTBEAT {
                        continue;
                    }
                    let names: Vec<String> = s
                        .running
                        .iter()
                        .map(|(n, since)| format!("{n} ({} s)", since.elapsed().as_secs()))
                        .collect();
                    let line = format!("  … still running: {}", names.join(", "));
                    s.say(&line);
                }
            })
        };
        Plain {
            state,
            stop,
            ticker: Some(ticker),
        }
    }

    pub fn event(&self, event: Event<'_>) {
        let Ok(mut s) = self.state.lock() else { return };
        match event {
            Event::Building => s.say("building the checks…"),
            Event::Built { mode, seconds, ok } => {
                s.say(&built_line(mode, seconds, ok));
            }
            Event::Running { checks } => s.say(&format!("running {checks} checks")),
            Event::Started { name, .. } => s.running.push((name.to_string(), Instant::now())),
            Event::Finished(run) => {
                s.running.retain(|(n, _)| *n != run.name);
                let mark = match run.status {
                    Status::Pass => "✓".to_string(),
                    Status::Fail => "✗".to_string(),
                    other => format!("✗ {other}"),
                };
                s.say(&format!(
                    "  {mark} {} · {} ({:.2} s)",
                    run.kind,
                    run.name,
                    run.duration.as_secs_f64()
                ));
            }
        }
    }

    pub fn finish(mut self) {
        self.stop_ticker();
    }

    fn stop_ticker(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

/// "built the std checks (3.2 s)": what both live outputs say when a build ends.
fn built_line(mode: crate::check::harness::Mode, seconds: f64, ok: bool) -> String {
    let how = if ok { "built" } else { "failed to build" };
    format!("{how} the {} checks ({seconds:.1} s)", mode.label())
}
