//! Lesson 10 checks: framed pipes, worker processes, and a supervisor that restarts them.
//!
//! Compiled by the grader into a harness together with the crate under test (`supervisor`).
//!
//! The checks start child processes. Inside the sandbox the only program a check may execute is the
//! harness binary itself, so every child is that binary started again as one of the lesson's child
//! programs, [`CHILDREN`]: `harness child NAME ARGS...` runs it and exits before anything of a check
//! (or the runner's record) can run.
//!
//! Most children are [`child::script`]: a worker with its own framing (independent of the
//! learner's), whose every request is a small command ("echo:x", "sleep:300:x", "exit:3:why",
//! "hang", ...), so one child program can misbehave in every way a check needs. `serve_echo`
//! is the one child built on the learner's `serve`.
//!
//! Zombies are found with `waitpid(pid, WNOHANG)` on the child's pid once the API has promised it
//! is reaped: "no such child" is right, the pid back means it was a zombie (then the check reaps
//! it), 0 means it still runs. Every process a check starts lives in the check's PID namespace and
//! dies with it whatever the code under test does.

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::frame_round_trip),
    check!(unit, std_checks::short_reads_and_interrupted),
    check!(unit, std_checks::end_of_stream_cases),
    check!(unit, std_checks::frame_size_limit),
    check!(unit, std_checks::serve_flushes_every_answer),
    check!(unit, std_checks::echo_worker),
    check!(unit, std_checks::crash_reported_with_status_and_stderr),
    check!(unit, std_checks::timeout_kills_and_reaps),
    check!(unit, std_checks::no_stale_answer_after_timeout),
    check!(unit, std_checks::protocol_error_kills_worker),
    check!(unit, std_checks::worker_shutdown_closes_stdin_then_kills),
    check!(stress, std_checks::answers_reach_their_callers_with_crashes),
    check!(stress, std_checks::shutdown_while_calling),
    check!(timing, std_checks::workers_run_in_parallel, measures = wall),
    check!(
        timing,
        std_checks::waiting_callers_do_not_spin,
        measures = cpu
    ),
    check!(
        timing,
        std_checks::stderr_flood_does_not_deadlock,
        measures = wall
    ),
    check!(
        timing,
        std_checks::restart_backoff_respected,
        measures = wall
    ),
    check!(
        timing,
        std_checks::all_dead_is_unavailable_at_once,
        measures = wall
    ),
    check!(
        timing,
        std_checks::graceful_shutdown_reaps_everyone,
        measures = wall
    ),
    check!(timing, std_checks::trickled_answer_arrives, measures = wall),
];

// Processes are outside what loom can model: this lesson has no model checks.
#[cfg(loom)]
pub const CHECKS: &[Check] = &[];

/// The curriculum's hints, by subject.
const HINT_FRAMES: u32 = 1;
const HINT_SERVE: u32 = 2;
const HINT_PIPES: u32 = 3;
const HINT_REAP: u32 = 4;
const HINT_SHUTDOWN: u32 = 5;
const HINT_POOL: u32 = 6;
const HINT_RESTART: u32 = 7;
const HINT_POOL_SHUTDOWN: u32 = 8;

/// The lesson's child programs (see [`child`]).
#[cfg(not(loom))]
pub const CHILDREN: &[Child] = &[
    child!(child::script),
    child!(child::ignore_eof),
    child!(child::serve_echo),
    child!(child::crash_at_once),
];

/// The lesson's child programs.
#[cfg(not(loom))]
mod child {
    use std::io::{self, Read, Write};
    use std::time::Duration;

    /// The script worker (see [`run_script`]).
    pub fn script(_: &[String]) -> i32 {
        run_script(false)
    }

    /// The script worker, which at the end of its stdin does not exit but sleeps on.
    pub fn ignore_eof(_: &[String]) -> i32 {
        run_script(true)
    }

    /// A worker built on the learner's `serve`: answers each request with itself.
    pub fn serve_echo(_: &[String]) -> i32 {
        match supervisor::serve(|request| request.to_vec()) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    }

    /// A worker that exits with code `args[0]` before reading anything.
    pub fn crash_at_once(args: &[String]) -> i32 {
        eprintln!("child {}: crashing at once", std::process::id());
        args.first().and_then(|c| c.parse().ok()).unwrap_or(7)
    }

    /// A frame read with the checks' own code: the learner's framing is checked separately.
    pub fn read(input: &mut impl Read) -> Option<Vec<u8>> {
        let mut header = [0u8; 4];
        input.read_exact(&mut header).ok()?;
        let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
        input.read_exact(&mut payload).ok()?;
        Some(payload)
    }

    pub fn frame(payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    /// The file a script worker leaves in its working folder (the check's scratch folder) when it
    /// ends by itself at the end of its stdin, with exit code 0.
    pub fn clean_exit_file(pid: u32) -> String {
        format!("clean-exit-{pid}")
    }

    fn filler(out: &mut impl Write, bytes: usize) {
        let line = b"stderr filler: the quick brown fox jumps over the lazy dog, again and again\n";
        let mut written = 0;
        while written < bytes {
            let n = line.len().min(bytes - written);
            if out.write_all(&line[..n]).is_err() {
                return;
            }
            written += n;
        }
    }

    fn run_script(ignore_eof: bool) -> ! {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        let stdout = io::stdout();
        let mut output = stdout.lock();
        let pid = std::process::id();
        loop {
            let Some(request) = read(&mut input) else {
                if ignore_eof {
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                }
                let _ = std::fs::write(clean_exit_file(pid), b"0");
                std::process::exit(0);
            };
            let text = String::from_utf8_lossy(&request).into_owned();
            let parts: Vec<&str> = text.splitn(3, ':').collect();
            let answer: Vec<u8> = match parts.as_slice() {
                ["echo", rest @ ..] => rest.join(":").into_bytes(),
                ["pid"] => pid.to_string().into_bytes(),
                ["sleep", ms, rest] => {
                    std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                    rest.as_bytes().to_vec()
                }
                ["sleep_pid", ms] => {
                    std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                    pid.to_string().into_bytes()
                }
                ["exit", code, last_words] => {
                    let mut err = io::stderr().lock();
                    filler(&mut err, 20_000);
                    let _ = writeln!(err, "{last_words}");
                    std::process::exit(code.parse().unwrap_or(1))
                }
                ["die_after", ms, code] => {
                    std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                    std::process::exit(code.parse().unwrap_or(1))
                }
                ["abort", last_words] => {
                    eprintln!("{last_words}");
                    std::process::abort()
                }
                ["hang"] => loop {
                    std::thread::sleep(Duration::from_secs(3600));
                },
                ["flood", bytes, rest] => {
                    filler(&mut io::stderr().lock(), bytes.parse().unwrap_or(0));
                    rest.as_bytes().to_vec()
                }
                ["huge"] => {
                    let len = (supervisor::MAX_FRAME as u32 + 1).to_be_bytes();
                    let _ = output.write_all(&len);
                    let _ = output.flush();
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                }
                ["partial", code] => {
                    let _ = output.write_all(&100u32.to_be_bytes());
                    let _ = output.write_all(b"ten bytes!");
                    let _ = output.flush();
                    std::process::exit(code.parse().unwrap_or(1))
                }
                ["trickle", ms, rest] => {
                    for byte in frame(rest.as_bytes()) {
                        let _ = output.write_all(&[byte]);
                        let _ = output.flush();
                        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                    }
                    continue;
                }
                _ => format!("unknown request {text:?}").into_bytes(),
            };
            if output.write_all(&frame(&answer)).is_err() || output.flush().is_err() {
                std::process::exit(0);
            }
        }
    }
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use std::io::{self, Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::{mpsc, Arc, Barrier};
    use std::thread;
    use supervisor::{
        read_frame, write_frame, CallError, Policy, Stats, Supervisor, Worker, WorkerSpec,
        MAX_FRAME,
    };

    type Answer = Result<Vec<u8>, CallError>;

    // ---------------------------------------------------------------------------------------
    // Helpers

    /// A spec that starts the harness again as the child program `mode` (`NAME` or `NAME:ARG`, one
    /// of [`CHILDREN`]).
    fn spec(mode: &str) -> WorkerSpec {
        let mut parts = mode.split(':');
        let name = parts.next().unwrap_or_default();
        let (program, args) =
            grader_harness::runner::child_command(name, &parts.collect::<Vec<_>>());
        WorkerSpec { program, args }
    }

    fn policy(workers: usize, call_timeout_ms: u64, max_restarts: u32, backoff_ms: u64) -> Policy {
        Policy {
            workers,
            call_timeout: Duration::from_millis(call_timeout_ms),
            max_restarts,
            restart_backoff: Duration::from_millis(backoff_ms),
        }
    }

    fn show(answer: &Answer) -> String {
        match answer {
            Ok(bytes) if bytes.len() > 80 => format!("Ok({} bytes)", bytes.len()),
            Ok(bytes) => format!("Ok({:?})", String::from_utf8_lossy(bytes)),
            Err(CallError::Crashed {
                code,
                signal,
                stderr_tail,
            }) => format!(
                "Crashed {{ code: {code:?}, signal: {signal:?}, stderr_tail: {} bytes ending {:?} }}",
                stderr_tail.len(),
                last_chars(stderr_tail, 60)
            ),
            Err(e) => format!("Err({e:?})"),
        }
    }

    fn last_chars(text: &str, n: usize) -> String {
        let chars: Vec<char> = text.chars().collect();
        chars[chars.len().saturating_sub(n)..].iter().collect()
    }

    fn is_ok(answer: &Answer, expected: &str) -> bool {
        matches!(answer, Ok(bytes) if bytes == expected.as_bytes())
    }

    /// Calls `f` on a helper thread with a time limit; a hang or a panic becomes a finding.
    fn bounded<T: Send + 'static>(
        what: &str,
        limit: Duration,
        hang: impl FnOnce(String) -> Finding,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<(T, Duration), Finding> {
        match within(what, limit, f) {
            Ran::Returned(value, took) => Ok((value, took)),
            Ran::Panicked(payload) => {
                let payload = pass_on_todo(payload);
                Err(Finding::new("the calls return without panicking")
                    .observed(format!("{what} panicked: {}", panic_text(&*payload)))
                    .why("A read or write on a pipe fails whenever the other side dies or misbehaves: that is an answer to report (Crashed, Protocol), not a reason to unwrap.")
                    .fix("Turn every io::Error of the pipes into the CallError it means.")
                    .hint(HINT_PIPES))
            }
            Ran::Hung => Err(hang(format!("{what} had not returned after {}", ms(limit)))),
        }
    }

    fn hung_call(observed: String) -> Finding {
        Finding::new("every call returns within its timeout")
            .observed(observed)
            .why("A blocking read on the child's stdout waits as long as the child stays silent; only the child, or a kill, ends it. The timeout must be enforced by something that does not wait on the pipe itself.")
            .fix("Read the child's stdout on a reader thread that posts each frame in a mailbox (Mutex + Condvar), and wait on the mailbox with wait_timeout until the deadline; at the deadline kill the child.")
            .hint(HINT_PIPES)
    }

    /// Spawns a worker (a spawn error or a panic is a finding).
    fn spawn_worker(mode: &str) -> Result<Worker, Finding> {
        let spec = spec(mode);
        let (spawned, _) = bounded(
            "Worker::spawn",
            Duration::from_secs(5),
            |o| Finding::new("Worker::spawn returns promptly").observed(o),
            move || Worker::spawn(&spec),
        )?;
        spawned.map_err(|e| {
            Finding::new("Worker::spawn starts the child").observed(format!(
                "Worker::spawn of the harness as a child program failed: {e}"
            ))
        })
    }

    /// One Worker::call with a time limit: the worker comes back with the answer.
    fn call_worker(
        worker: Worker,
        request: &str,
        timeout: Duration,
        limit: Duration,
    ) -> Result<(Worker, Answer, Duration), Finding> {
        let request_owned = request.as_bytes().to_vec();
        let what = format!(
            "Worker::call({:?}, timeout {})",
            short(request),
            ms(timeout)
        );
        let ((worker, answer), took) = bounded(&what, limit, hung_call, move || {
            let mut worker = worker;
            let answer = worker.call(&request_owned, timeout);
            (worker, answer)
        })?;
        Ok((worker, answer, took))
    }

    fn short(text: &str) -> String {
        if text.len() > 40 {
            format!("{}... ({} bytes)", &text[..30], text.len())
        } else {
            text.to_string()
        }
    }

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Probe {
        /// No such child any more: reaped.
        Gone,
        /// It had exited and nobody had waited for it: a zombie (the check has now reaped it).
        Zombie,
        Running,
    }

    fn probe(pid: u32) -> Probe {
        let mut status = 0;
        // SAFETY: waitpid writes only the status we hand it.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        match r {
            0 => Probe::Running,
            r if r == pid as libc::pid_t => Probe::Zombie,
            _ => Probe::Gone,
        }
    }

    /// After the API promised that `pid` is killed and reaped: a finding unless it is. A child that
    /// still runs gets a short while to die (the kill may be in flight), a zombie none.
    fn ensure_reaped(pid: u32, after: &str) -> Outcome {
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            match probe(pid) {
                Probe::Gone => return Ok(()),
                Probe::Zombie => {
                    return Err(Finding::new("a dead worker is reaped: no zombie is left")
                        .observed(format!("after {after}, the child {pid} had exited but nobody had waited for it: it was a zombie"))
                        .why("A child that exits stays in the process table, a zombie, until its parent collects its exit status with wait. Child::kill only sends the signal, and dropping a Child does not wait. A long-running supervisor that forgets this fills the process table.")
                        .fix("After kill(), call child.wait() (it returns at once for a dead child) before you report the error or drop the Child.")
                        .hint(HINT_REAP))
                }
                Probe::Running if Instant::now() >= deadline => {
                    return Err(Finding::new("a worker that failed is killed")
                        .observed(format!("after {after}, the child {pid} was still running 500 ms later"))
                        .why("A worker that timed out or broke the protocol is in an unknown state: it may answer the old request later, or never. The only safe thing is to end it.")
                        .fix("On any error: child.kill(), then child.wait(), then mark the worker unusable.")
                        .hint(HINT_REAP))
                }
                Probe::Running => thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    fn pids_of(answers: &[Answer]) -> Vec<u32> {
        answers
            .iter()
            .filter_map(|a| a.as_ref().ok())
            .filter_map(|b| String::from_utf8_lossy(b).parse().ok())
            .collect()
    }

    // ---------------------------------------------------------------------------------------
    // Frames

    /// A reader that hands out at most a few bytes at a time, with `Interrupted` in between.
    struct Dribble {
        data: Vec<u8>,
        at: usize,
        calls: u64,
        interrupt: bool,
    }

    impl Dribble {
        fn new(data: Vec<u8>, interrupt: bool) -> Dribble {
            Dribble {
                data,
                at: 0,
                calls: 0,
                interrupt,
            }
        }
    }

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.interrupt && self.calls % 3 == 0 {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "a signal came"));
            }
            let n = buf
                .len()
                .min(1 + (self.calls % 3) as usize)
                .min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// A writer that takes at most a few bytes per write, with `Interrupted` in between.
    #[derive(Default)]
    struct Trickle {
        data: Vec<u8>,
        calls: u64,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 4 == 0 {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "a signal came"));
            }
            let n = buf.len().min(1 + (self.calls % 3) as usize);
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn payloads(rng: &mut Rng) -> Vec<Vec<u8>> {
        [0usize, 1, 10, 300, 70_000]
            .iter()
            .map(|&n| (0..n).map(|_| rng.below(256) as u8).collect())
            .collect()
    }

    fn frame_finding(property: &str, observed: String) -> Finding {
        Finding::new(property)
            .observed(observed)
            .why("A pipe is a byte stream: it keeps no message boundaries. One read may return part of a frame, or the end of one and the start of the next. A frame is a 4-byte big-endian length, then exactly that many bytes.")
            .fix("Read the 4 length bytes in a loop (or with read_exact after telling the clean end apart), check the length against MAX_FRAME, then read_exact the payload.")
            .hint(HINT_FRAMES)
    }

    pub fn frame_round_trip() -> Outcome {
        let mut rng = Rng::seeded(10);
        let all = payloads(&mut rng);
        let mut stream = Vec::new();
        for payload in &all {
            let mut one = Vec::new();
            write_frame(&mut one, payload).map_err(|e| {
                frame_finding(
                    "write_frame writes a frame",
                    format!("write_frame of {} bytes failed: {e}", payload.len()),
                )
            })?;
            let expected = child::frame(payload);
            ensure(one == expected, || {
                frame_finding(
                    "write_frame writes the u32 big-endian length, then the payload",
                    format!(
                        "for a payload of {} bytes it wrote {} bytes starting {:?} (expected {} bytes starting {:?})",
                        payload.len(),
                        one.len(),
                        &one[..one.len().min(8)],
                        expected.len(),
                        &expected[..expected.len().min(8)]
                    ),
                )
            })?;
            stream.extend_from_slice(&one);
        }
        let mut reader = io::Cursor::new(stream);
        for payload in &all {
            let got = read_frame(&mut reader);
            ensure(matches!(&got, Ok(Some(p)) if p == payload), || {
                frame_finding(
                    "read_frame reads back what write_frame wrote, frame after frame",
                    format!(
                        "frames of {:?} bytes in one stream; reading the one of {} bytes gave {:?}",
                        all.iter().map(Vec::len).collect::<Vec<_>>(),
                        payload.len(),
                        got.map(|o| o.map(|p| p.len()))
                    ),
                )
            })?;
        }
        let end = read_frame(&mut reader);
        ensure(matches!(end, Ok(None)), || {
            frame_finding(
                "read_frame returns Ok(None) at the end of the stream",
                format!(
                    "after the last frame it returned {:?}",
                    end.map(|o| o.map(|p| p.len()))
                ),
            )
        })
    }

    pub fn short_reads_and_interrupted() -> Outcome {
        let mut rng = Rng::seeded(11);
        let all = payloads(&mut rng);
        let stream: Vec<u8> = all.iter().flat_map(|p| child::frame(p)).collect();
        for interrupt in [false, true] {
            let what = if interrupt {
                "a reader that returns 1 to 3 bytes per read, and Interrupted on every third"
            } else {
                "a reader that returns 1 to 3 bytes per read"
            };
            let mut reader = Dribble::new(stream.clone(), interrupt);
            for payload in &all {
                let got = read_frame(&mut reader);
                ensure(matches!(&got, Ok(Some(p)) if p == payload), || {
                    frame_finding(
                        "read_frame reassembles a frame from short reads and retries on Interrupted",
                        format!(
                            "from {what}, the frame of {} bytes came back as {:?}",
                            payload.len(),
                            got.map(|o| o.map(|p| p.len()))
                        ),
                    )
                })?;
            }
            let end = read_frame(&mut reader);
            ensure(matches!(end, Ok(None)), || {
                frame_finding(
                    "read_frame returns Ok(None) at the end of the stream",
                    format!(
                        "from {what}, after the last frame: {:?}",
                        end.map(|o| o.map(|p| p.len()))
                    ),
                )
            })?;
        }
        let mut writer = Trickle::default();
        for payload in &all {
            write_frame(&mut writer, payload).map_err(|e| {
                frame_finding(
                    "write_frame writes every byte, whatever each write() takes",
                    format!("to a writer that takes 1 to 3 bytes per write and is Interrupted on every fourth: {e}"),
                )
            })?;
        }
        ensure(writer.data == stream, || {
            frame_finding(
                "write_frame writes every byte, whatever each write() takes",
                format!(
                    "to a writer that takes 1 to 3 bytes per write (Interrupted on every fourth): {} bytes arrived of {}",
                    writer.data.len(),
                    stream.len()
                ),
            )
        })
    }

    pub fn end_of_stream_cases() -> Outcome {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("an empty stream", vec![], "Ok(None)"),
            (
                "2 bytes of a length, then the end",
                vec![0, 0],
                "UnexpectedEof",
            ),
            (
                "a length of 5, 2 bytes of payload, then the end",
                vec![0, 0, 0, 5, b'a', b'b'],
                "UnexpectedEof",
            ),
            (
                "a length of 0, then the end",
                vec![0, 0, 0, 0],
                "Ok(Some([]))",
            ),
        ];
        for (what, bytes, expected) in cases {
            for interrupt in [false, true] {
                let got = read_frame(&mut Dribble::new(bytes.clone(), interrupt));
                let shown = match &got {
                    Ok(None) => "Ok(None)".to_string(),
                    Ok(Some(p)) if p.is_empty() => "Ok(Some([]))".to_string(),
                    Ok(Some(p)) => format!("Ok(Some({} bytes))", p.len()),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        "UnexpectedEof".to_string()
                    }
                    Err(e) => format!("Err({:?}: {e})", e.kind()),
                };
                ensure(shown == expected, || {
                    Finding::new("read_frame tells a clean end of stream from a frame cut short")
                        .observed(format!("read_frame on {what}{} returned {shown} (expected {expected})", if interrupt { " (with Interrupted in between)" } else { "" }))
                        .why("Only an end before the first byte of a length is a clean end: the other side stopped between messages. An end anywhere later means the writer died mid-message; calling that a clean end hides a crash and loses the half-sent frame without a word.")
                        .fix("Count the length bytes read so far: 0 bytes at end of stream is Ok(None), 1 to 3 is an UnexpectedEof error; then read_exact the payload, which says UnexpectedEof by itself.")
                        .hint(HINT_FRAMES)
                })?;
            }
        }
        // Another error than Interrupted is the caller's to see.
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"))
            }
        }
        let got = read_frame(&mut Broken);
        ensure(
            matches!(&got, Err(e) if e.kind() == io::ErrorKind::ConnectionReset),
            || {
                Finding::new("read_frame passes other read errors on")
                    .observed(format!(
                        "a reader failing with ConnectionReset gave {:?}",
                        got.map(|o| o.map(|p| p.len()))
                    ))
                    .hint(HINT_FRAMES)
            },
        )
    }

    /// Endless zeros after a header, counting what it hands out.
    struct Endless {
        header: [u8; 4],
        at: usize,
        handed: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at < 4 {
                let n = buf.len().min(4 - self.at);
                buf[..n].copy_from_slice(&self.header[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            buf.fill(0);
            self.handed += buf.len();
            Ok(buf.len())
        }
    }

    pub fn frame_size_limit() -> Outcome {
        let why = "A length comes from the other process: a bug or a hostile worker can announce 4 GiB. Allocating what it says before checking it lets one bad frame take all the memory; the limit must be checked before the buffer exists.";
        let mut out = Vec::new();
        let too_big = vec![7u8; MAX_FRAME + 1];
        let got = write_frame(&mut out, &too_big);
        ensure(
            matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidInput) && out.is_empty(),
            || {
                Finding::new("write_frame refuses a payload above MAX_FRAME, writing nothing")
                    .observed(format!(
                        "write_frame of MAX_FRAME + 1 bytes returned {:?} and wrote {} bytes",
                        got.as_ref().map_err(|e| e.kind()),
                        out.len()
                    ))
                    .why("The reader would refuse it anyway, and a frame written halfway leaves the stream out of step for good.")
                    .fix("Compare payload.len() with MAX_FRAME before writing anything; return io::ErrorKind::InvalidInput.")
                    .hint(HINT_FRAMES)
            },
        )?;
        drop(too_big);
        let mut reader = Endless {
            header: (MAX_FRAME as u32 + 1).to_be_bytes(),
            at: 0,
            handed: 0,
        };
        let got = read_frame(&mut reader);
        ensure(
            matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidData)
                && reader.handed < (1 << 20),
            || {
                Finding::new("read_frame refuses a length above MAX_FRAME before reading it")
                    .observed(format!(
                        "a stream announcing MAX_FRAME + 1 bytes (and able to supply them): read_frame returned {:?} after reading {} payload bytes",
                        got.map(|o| o.map(|p| p.len())).map_err(|e| e.kind()),
                        reader.handed
                    ))
                    .why(why)
                    .fix("Check the length against MAX_FRAME right after decoding it, and return io::ErrorKind::InvalidData.")
                    .hint(HINT_FRAMES)
            },
        )?;
        let got = read_frame(&mut io::Cursor::new(u32::MAX.to_be_bytes().to_vec()));
        ensure(
            matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidData),
            || {
                Finding::new("read_frame refuses a length above MAX_FRAME before reading it")
                    .observed(format!(
                        "a header announcing 4 GiB - 1: read_frame returned {:?}",
                        got.map(|o| o.map(|p| p.len())).map_err(|e| e.kind())
                    ))
                    .why(why)
                    .hint(HINT_FRAMES)
            },
        )?;
        let mut exact = (MAX_FRAME as u32).to_be_bytes().to_vec();
        exact.resize(4 + MAX_FRAME, 1);
        let got = read_frame(&mut io::Cursor::new(exact));
        ensure(matches!(&got, Ok(Some(p)) if p.len() == MAX_FRAME), || {
            Finding::new("a frame of exactly MAX_FRAME bytes is allowed")
                .observed(format!(
                    "read_frame returned {:?}",
                    got.map(|o| o.map(|p| p.len())).map_err(|e| e.kind())
                ))
                .hint(HINT_FRAMES)
        })
    }

    // ---------------------------------------------------------------------------------------
    // serve

    /// A child the check started itself: killed and reaped whatever happens.
    struct Reaper(std::process::Child);

    impl Drop for Reaper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    pub fn serve_flushes_every_answer() -> Outcome {
        let (program, args) = grader_harness::runner::child_command("serve_echo", &[]);
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Finding::new("the check starts its child").observed(e.to_string()))?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let mut child = Reaper(child);
        let (tx, answers) = mpsc::channel();
        thread::spawn(move || {
            while let Some(frame) = child::read(&mut stdout) {
                if tx.send(frame).is_err() {
                    return;
                }
            }
        });
        let big: String = "0123456789".repeat(20_000);
        let requests: Vec<Vec<String>> = vec![
            vec!["abc".into()],
            vec!["".into()],
            vec![big],
            vec!["one".into(), "two".into(), "three".into()],
        ];
        for batch in requests {
            for request in &batch {
                stdin
                    .write_all(&child::frame(request.as_bytes()))
                    .and_then(|_| stdin.flush())
                    .map_err(|e| {
                        Finding::new("serve keeps reading requests").observed(format!(
                            "writing the request {:?} to a serve worker failed: {e} (did serve return or panic?)",
                            short(request)
                        ))
                    })?;
            }
            for request in &batch {
                match answers.recv_timeout(Duration::from_secs(3)) {
                    Ok(answer) if answer == request.as_bytes() => {}
                    Ok(answer) => return Err(Finding::new("serve answers each request with its handler's answer")
                        .observed(format!("an echo handler answered {:?} with {} bytes {:?}", short(request), answer.len(), short(&String::from_utf8_lossy(&answer))))
                        .hint(HINT_SERVE)),
                    Err(_) => return Err(Finding::new("serve flushes every answer")
                        .observed(format!("a worker running serve(echo) got the request {:?} and sent no answer within 3 s", short(request)))
                        .why("Rust's stdout is buffered (flushed at each newline when it is a terminal, and only when the buffer fills otherwise): an answer written without a flush can stay in the child's buffer while the parent waits for it forever.")
                        .fix("Lock stdout once, and call flush() after writing each answer frame.")
                        .hint(HINT_SERVE)),
                }
            }
        }
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match child.0.try_wait() {
                Ok(Some(status)) => {
                    return ensure(status.success(), || {
                        Finding::new("serve returns Ok at the end of stdin")
                            .observed(format!("after its stdin closed, a worker running serve exited with {status}"))
                            .why("The end of stdin (read_frame's Ok(None)) is how the parent says \"no more requests\": it is a normal end, not an error.")
                            .hint(HINT_SERVE)
                    })
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    return Err(Finding::new("serve returns Ok at the end of stdin")
                        .observed("a worker running serve was still running 3 s after its stdin closed")
                        .why("At the end of stdin read_frame returns Ok(None): serve must stop there and return Ok(()).")
                        .hint(HINT_SERVE))
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Worker

    const SHORT: Duration = Duration::from_secs(5);

    pub fn echo_worker() -> Outcome {
        let worker = spawn_worker("script")?;
        let pid = worker.pid();
        let (worker, answer, _) = call_worker(worker, "pid", SHORT, SHORT * 2)?;
        ensure(is_ok(&answer, &pid.to_string()), || {
            Finding::new("Worker::pid is the child's process id, and call returns its answer")
                .observed(format!(
                    "pid() = {pid}; the child says its pid is {}",
                    show(&answer)
                ))
                .hint(HINT_PIPES)
        })?;
        let big = format!("echo:{}", "x".repeat(1 << 20));
        let mut worker = worker;
        for request in [
            "echo:hello",
            "echo:",
            big.as_str(),
            "echo:a:b:c",
            "echo:bye",
        ] {
            let (w, answer, _) = call_worker(worker, request, SHORT, SHORT * 2)?;
            worker = w;
            let expected = &request["echo:".len()..];
            ensure(is_ok(&answer, expected), || {
                Finding::new("an echo worker answers every request with its own text")
                    .observed(format!(
                        "Worker::call({:?}) returned {} (expected Ok({:?}))",
                        short(request),
                        show(&answer),
                        short(expected)
                    ))
                    .hint(HINT_PIPES)
            })?;
        }
        let (status, _) = bounded(
            "Worker::shutdown(1 s) of an idle echo worker",
            SHORT,
            |o| {
                Finding::new("Worker::shutdown returns within its grace period")
                    .observed(o)
                    .hint(HINT_SHUTDOWN)
            },
            move || worker.shutdown(Duration::from_secs(1)),
        )?;
        let clean = std::path::Path::new(&child::clean_exit_file(pid)).exists();
        ensure(matches!(&status, Ok(s) if s.success()) && clean, || {
            Finding::new("Worker::shutdown lets the worker end by itself: exit code 0")
                .observed(format!("shutdown returned {status:?}; the child {} end by itself at the end of its stdin", if clean { "did" } else { "did not" }))
                .why("A worker ends cleanly when its stdin closes (serve returns at the end of its input). Killing it first loses whatever it was finishing.")
                .fix("Drop the ChildStdin first, then wait up to the grace period (try_wait, or the reader thread seeing the end of stdout), and kill only when the grace is over.")
                .hint(HINT_SHUTDOWN)
        })?;
        ensure_reaped(pid, "Worker::shutdown")
    }

    pub fn crash_reported_with_status_and_stderr() -> Outcome {
        // (mode, request, expected code, expected signal, last words)
        let cases: [(&str, &str, Option<i32>, Option<i32>, &str); 3] = [
            (
                "script",
                "exit:3:last words 17",
                Some(3),
                None,
                "last words 17",
            ),
            (
                "script",
                "abort:aborting now",
                None,
                Some(6),
                "aborting now",
            ),
            (
                "crash_at_once:7",
                "echo:anyone there?",
                Some(7),
                None,
                "crashing at once",
            ),
        ];
        for (mode, request, code, signal, words) in cases {
            let worker = spawn_worker(mode)?;
            let pid = worker.pid();
            let (worker, answer, _) = call_worker(worker, request, SHORT, SHORT * 2)?;
            let good = match &answer {
                Err(CallError::Crashed {
                    code: c,
                    signal: s,
                    stderr_tail,
                }) => {
                    *c == code
                        && *s == signal
                        && stderr_tail.trim_end().ends_with(words)
                        && stderr_tail.len() <= 64 << 10
                }
                _ => false,
            };
            let situation = match mode {
                "script" if code.is_some() => format!(
                    "a worker that writes 20 kB to stderr, then {words:?}, then exits with code 3"
                ),
                "script" => format!(
                    "a worker that writes {words:?} to stderr, then aborts (SIGABRT, signal 6)"
                ),
                _ => "a worker that exits with code 7 at once, before reading anything".to_string(),
            };
            ensure(good, || {
                Finding::new("a crash is reported with its exit code or signal and the end of stderr")
                    .observed(format!("{situation}: Worker::call({request:?}) returned {}", show(&answer)))
                    .why("When the child's stdout ends (or the request cannot be written: a broken pipe), the child is dead or dying. Its ExitStatus says how: code() for an exit, signal() (std::os::unix::process::ExitStatusExt) for a signal, and its stderr, drained all along, says why. stderr_tail is the last few KiB of it, not all of it.")
                    .fix("On end of stdout or a write error: kill (harmless on a dead child), wait, and build Crashed from the status and the kept tail (join the stderr thread first so the tail is complete).")
                    .hint(HINT_REAP)
            })?;
            ensure_reaped(pid, &format!("the crashed call {request:?}"))?;
            let (_worker, again, _) = call_worker(worker, "echo:again", SHORT, SHORT)?;
            ensure(again == Err(CallError::Unavailable), || {
                Finding::new("after an error, a worker answers Unavailable")
                    .observed(format!(
                        "the next call on the crashed worker returned {}",
                        show(&again)
                    ))
                    .hint(HINT_REAP)
            })?;
        }
        // A worker that dies in the middle of its answer: a crash (or a protocol error), reaped.
        let worker = spawn_worker("script")?;
        let pid = worker.pid();
        let (_worker, answer, _) = call_worker(worker, "partial:5", SHORT, SHORT * 2)?;
        ensure(
            matches!(
                &answer,
                Err(CallError::Crashed { code: Some(5), .. }) | Err(CallError::Protocol(_))
            ),
            || {
                Finding::new("a worker that dies in the middle of an answer is a crash")
                    .observed(format!("a worker that sends 14 bytes of a 104-byte frame and exits with code 5: Worker::call returned {}", show(&answer)))
                    .why("read_frame says UnexpectedEof when the stream ends inside a frame: the writer died.")
                    .hint(HINT_REAP)
            },
        )?;
        ensure_reaped(pid, "a call whose answer was cut short")
    }

    pub fn timeout_kills_and_reaps() -> Outcome {
        let worker = spawn_worker("script")?;
        let pid = worker.pid();
        let timeout = Duration::from_millis(150);
        let (worker, answer, took) = call_worker(worker, "hang", timeout, SHORT)?;
        ensure(answer == Err(CallError::TimedOut), || {
            Finding::new("a call that gets no answer in time returns TimedOut")
                .observed(format!(
                    "a worker that never answers: Worker::call(\"hang\", 150 ms) returned {} after {}",
                    show(&answer),
                    ms(took)
                ))
                .hint(HINT_PIPES)
        })?;
        ensure(
            took >= timeout - Duration::from_millis(5) && took < Duration::from_secs(3),
            || {
                Finding::new("a call waits its timeout, not less and not much more")
                    .observed(format!(
                        "Worker::call(\"hang\", 150 ms) returned TimedOut after {}",
                        ms(took)
                    ))
                    .hint(HINT_PIPES)
            },
        )?;
        ensure_reaped(pid, "a call that timed out")?;
        let (_worker, again, took) = call_worker(worker, "echo:again", SHORT, SHORT)?;
        ensure(
            again == Err(CallError::Unavailable) && took < Duration::from_secs(1),
            || {
                Finding::new("after an error, a worker answers Unavailable at once")
                    .observed(format!(
                        "the next call on the timed-out worker returned {} after {}",
                        show(&again),
                        ms(took)
                    ))
                    .hint(HINT_REAP)
            },
        )
    }

    pub fn no_stale_answer_after_timeout() -> Outcome {
        let stale_why = "A worker that timed out is still working on the old request. If it is kept, its late answer sits in the pipe and the next caller reads it as its own: a wrong answer, silently, to someone else.";
        let worker = spawn_worker("script")?;
        let (worker, answer, _) = call_worker(
            worker,
            "sleep:400:stale answer",
            Duration::from_millis(100),
            SHORT,
        )?;
        ensure(answer == Err(CallError::TimedOut), || {
            Finding::new("a call that gets no answer in time returns TimedOut")
                .observed(format!(
                    "Worker::call(\"sleep 400 ms then answer\", 100 ms) returned {}",
                    show(&answer)
                ))
                .hint(HINT_PIPES)
        })?;
        let (_worker, next, _) = call_worker(worker, "echo:fresh", Duration::from_secs(1), SHORT)?;
        ensure(next == Err(CallError::Unavailable), || {
            Finding::new("no stale answer after a timeout: the worker is not used again")
                .observed(format!(
                    "after a timeout, the next Worker::call(\"echo:fresh\") returned {}",
                    show(&next)
                ))
                .why(stale_why)
                .fix("After a timeout, kill and reap the child and make every later call return Unavailable.")
                .hint(HINT_REAP)
        })?;

        // Through a supervisor: the slot gets a new worker, which answers its own request.
        let sup = Arc::new(
            Supervisor::start(spec("script"), policy(1, 400, 5, 0)).map_err(|e| {
                Finding::new("Supervisor::start starts its workers").observed(e.to_string())
            })?,
        );
        let mut seen = Vec::new();
        for (request, expected, pause) in [
            ("sleep:1000:stale answer", None, 0),
            ("echo:fresh", Some("fresh"), 800),
            ("echo:third", Some("third"), 0),
        ] {
            let s = sup.clone();
            let (answer, _) = bounded(
                &format!("Supervisor::call({request:?})"),
                SHORT,
                hung_call,
                move || s.call(request.as_bytes()),
            )?;
            seen.push(format!("{request:?} -> {}", show(&answer)));
            let good = match expected {
                None => answer == Err(CallError::TimedOut),
                Some(e) => is_ok(&answer, e),
            };
            ensure(good, || {
                Finding::new("no stale answer after a timeout: the slot's worker is replaced")
                    .observed(format!(
                        "a supervisor of 1 worker, call_timeout 400 ms: {}",
                        seen.join(", ")
                    ))
                    .why(stale_why)
                    .hint(HINT_REAP)
            })?;
            // Time for a late answer to land in the pipe, if the old worker were still there.
            thread::sleep(Duration::from_millis(pause));
        }
        let stats = sup.stats();
        ensure(
            stats.timed_out == 1 && stats.restarts == 1 && stats.calls == 3 && stats.ok == 2,
            || {
                Finding::new("stats count the calls, their outcomes and the restarts")
                    .observed(format!(
                        "after {}: {stats:?} (expected calls 3, ok 2, timed_out 1, restarts 1)",
                        seen.join(", ")
                    ))
                    .hint(HINT_POOL)
            },
        )
    }

    pub fn protocol_error_kills_worker() -> Outcome {
        let worker = spawn_worker("script")?;
        let pid = worker.pid();
        let (worker, answer, took) =
            call_worker(worker, "huge", Duration::from_secs(5), Duration::from_secs(3))
                .map_err(|f| {
                    f.observed(
                        "a worker that answers with a frame length of MAX_FRAME + 1 and then nothing: Worker::call (timeout 5 s) had not returned after 3 s",
                    )
                    .why("A length above MAX_FRAME is a protocol error the moment it is read: there is nothing to wait for.")
                    .fix("read_frame must return InvalidData for it (before allocating); the worker turns that into CallError::Protocol, and kills the child.")
                    .hint(HINT_FRAMES)
                })?;
        ensure(matches!(answer, Err(CallError::Protocol(_))), || {
            Finding::new("an answer with a length above MAX_FRAME is a protocol error")
                .observed(format!(
                    "a worker answering with a length of MAX_FRAME + 1: Worker::call returned {} after {}",
                    show(&answer),
                    ms(took)
                ))
                .why("The reader must refuse the length (InvalidData) the moment it reads it. A reader thread that unwraps that error panics and posts nothing, so the caller waits for its timeout instead.")
                .fix("Map read_frame's InvalidData to CallError::Protocol with its message; pass every read error on to the caller instead of unwrapping it.")
                .hint(HINT_FRAMES)
        })?;
        ensure_reaped(pid, "a protocol error")?;
        let (_worker, again, _) = call_worker(worker, "echo:again", SHORT, SHORT)?;
        ensure(again == Err(CallError::Unavailable), || {
            Finding::new("after an error, a worker answers Unavailable")
                .observed(format!(
                    "the next call after the protocol error returned {}",
                    show(&again)
                ))
                .hint(HINT_REAP)
        })
    }

    pub fn worker_shutdown_closes_stdin_then_kills() -> Outcome {
        let worker = spawn_worker("script")?;
        let pid = worker.pid();
        let (status, took) = bounded(
            "Worker::shutdown(2 s) of an idle worker",
            SHORT,
            |o| {
                Finding::new("Worker::shutdown returns within its grace period")
                    .observed(o)
                    .hint(HINT_SHUTDOWN)
            },
            move || worker.shutdown(Duration::from_secs(2)),
        )?;
        let clean = std::path::Path::new(&child::clean_exit_file(pid)).exists();
        ensure(
            matches!(&status, Ok(s) if s.success()) && clean && took < Duration::from_millis(1500),
            || {
                Finding::new("Worker::shutdown closes stdin and lets the worker exit by itself")
                .observed(format!("a worker that exits with 0 at the end of its stdin: shutdown(2 s) returned {status:?} after {} and the worker {} end by itself", ms(took), if clean { "did" } else { "did not" }))
                .why("Graceful shutdown is a request, not a kill: the end of stdin tells the worker that no more requests come, and it finishes and exits 0. A kill is the fallback when the grace runs out.")
                .fix("Drop the ChildStdin, wait for the exit up to `grace`, then kill and wait.")
                .hint(HINT_SHUTDOWN)
            },
        )?;
        ensure_reaped(pid, "Worker::shutdown")?;

        let worker = spawn_worker("ignore_eof")?;
        let pid = worker.pid();
        let grace = Duration::from_millis(200);
        let (status, took) = bounded(
            "Worker::shutdown(200 ms) of a worker that ignores the end of its stdin",
            SHORT,
            |o| {
                Finding::new("Worker::shutdown kills a worker that outlives its grace")
                    .observed(o)
                    .why("Waiting for the child with wait() blocks until it exits by itself, which this one never does.")
                    .fix("Wait with a deadline (try_wait in a loop with short sleeps, or the reader thread's end of stdout with wait_timeout), then kill and wait.")
                    .hint(HINT_SHUTDOWN)
            },
            move || worker.shutdown(grace),
        )?;
        #[cfg(unix)]
        let killed = {
            use std::os::unix::process::ExitStatusExt;
            matches!(&status, Ok(s) if s.signal() == Some(9))
        };
        #[cfg(not(unix))]
        let killed = status.is_ok();
        ensure(
            killed && took >= grace - Duration::from_millis(5) && took < Duration::from_secs(2),
            || {
                Finding::new("Worker::shutdown gives the grace period, then kills")
                    .observed(format!("a worker that ignores the end of its stdin: shutdown(200 ms) returned {status:?} after {}", ms(took)))
                    .why("The grace is the most the worker gets: after it, kill (SIGKILL, signal 9) and reap.")
                    .hint(HINT_SHUTDOWN)
            },
        )?;
        ensure_reaped(pid, "Worker::shutdown of a worker that had to be killed")
    }

    // ---------------------------------------------------------------------------------------
    // Supervisor: stress

    fn start(mode: &str, policy: Policy) -> Result<Arc<Supervisor>, Finding> {
        let spec = spec(mode);
        let what = format!("Supervisor::start with {} workers", policy.workers);
        let (started, _) = bounded(
            &what,
            Duration::from_secs(10),
            |o| Finding::new("Supervisor::start returns promptly").observed(o),
            move || Supervisor::start(spec, policy),
        )?;
        started.map(Arc::new).map_err(|e| {
            Finding::new("Supervisor::start starts its workers").observed(format!("{what}: {e}"))
        })
    }

    pub fn answers_reach_their_callers_with_crashes() -> Outcome {
        let seed = 0x5eed_0010;
        let sup = start("script", policy(3, 5000, 10_000, 1))?;
        let threads = 8;
        let calls = 60;
        let stop = Arc::new(AtomicBool::new(false));
        let s = sup.clone();
        let stop_watch = stop.clone();
        // stats() from another thread all along: never going backwards, always consistent.
        let watcher = thread::spawn(move || {
            let mut last = Stats::default();
            while !stop_watch.load(SeqCst) {
                let now = s.stats();
                if now.calls < last.calls
                    || now.ok < last.ok
                    || now.crashed < last.crashed
                    || now.ok + now.crashed + now.timed_out > now.calls
                {
                    return Err(format!("{last:?} then {now:?}"));
                }
                last = now;
                thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        });
        let s = sup.clone();
        let (results, took) = bounded(
            "8 threads x 60 calls",
            Duration::from_secs(40),
            |o| hung_call(o).hint(HINT_POOL),
            move || {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let s = s.clone();
                        thread::spawn(move || {
                            let mut rng = Rng::seeded(seed + t as u64);
                            let mut out = Vec::new();
                            for i in 0..calls {
                                let crash = rng.below(100) < 5;
                                let request = if crash {
                                    format!("exit:9:crash of thread {t} call {i}")
                                } else {
                                    let pad = "p".repeat(rng.below(2000) as usize);
                                    format!("echo:thread {t} call {i} {pad}")
                                };
                                let answer = s.call(request.as_bytes());
                                out.push((request, answer));
                            }
                            out
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect::<Vec<_>>()
            },
        )?;
        stop.store(true, SeqCst);
        let watched = watcher.join().unwrap_or(Ok(()));
        let mut echoes = 0;
        let mut crashes = 0;
        for (request, answer) in results.iter().flatten() {
            let good = if let Some(words) = request.strip_prefix("exit:9:") {
                crashes += 1;
                matches!(answer, Err(CallError::Crashed { code: Some(9), stderr_tail, .. }) if stderr_tail.trim_end().ends_with(words))
            } else {
                echoes += 1;
                is_ok(answer, &request["echo:".len()..])
            };
            ensure(good, || {
                Finding::new("every answer reaches its own caller")
                    .observed(format!(
                        "seed {seed:#x}: 8 threads x 60 calls over 3 workers, 5% of the requests crash their worker; the request {:?} got {}",
                        short(request),
                        show(answer)
                    ))
                    .why("Each call must own its worker from the request to the answer: a worker given to two callers at once, or a crashed worker's leftovers read by the next caller, mixes answers up. A crash is the crashing request's error, and only its.")
                    .fix("Take the worker out of its slot (mark it busy) under the lock, call it without the lock, put it back (or mark the slot for a restart) under the lock.")
                    .hint(HINT_POOL)
            })?;
        }
        let total = results.iter().map(Vec::len).sum::<usize>();
        ensure(total == threads * calls, || {
            Finding::new("every caller gets an answer")
                .observed(format!("{total} answers came back of {}", threads * calls))
                .hint(HINT_POOL)
        })?;
        let stats = sup.stats();
        ensure(
            stats.calls == total as u64
                && stats.ok == echoes
                && stats.crashed == crashes
                && stats.timed_out == 0
                && stats.restarts <= crashes,
            || {
                Finding::new("stats count the calls, their outcomes and the restarts")
                    .observed(format!(
                        "{echoes} answers and {crashes} crashes (in {}): stats() = {stats:?}",
                        ms(took)
                    ))
                    .hint(HINT_POOL)
            },
        )?;
        watched.map_err(|e| {
            Finding::new("stats() is a consistent snapshot that never goes backwards")
                .observed(format!("read by another thread during the calls: {e}"))
                .hint(HINT_POOL)
        })?;
        let s = sup.clone();
        bounded(
            "Supervisor::shutdown",
            Duration::from_secs(10),
            |o| {
                Finding::new("Supervisor::shutdown returns")
                    .observed(o)
                    .hint(HINT_POOL_SHUTDOWN)
            },
            move || s.shutdown(),
        )?;
        Ok(())
    }

    pub fn shutdown_while_calling() -> Outcome {
        let sup = start("script", policy(2, 5000, 100, 0))?;
        let started = Instant::now();
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = sup.clone();
                thread::spawn(move || {
                    let mut out = Vec::new();
                    for i in 0.. {
                        let request = format!("sleep:3:thread {t} call {i}");
                        let begun = started.elapsed();
                        let answer = s.call(request.as_bytes());
                        let done = matches!(answer, Err(CallError::Unavailable));
                        out.push((request, answer, begun, started.elapsed()));
                        if done {
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(150));
        // Two shutdowns at once, then a third: each returns once every child is gone.
        let s1 = sup.clone();
        let s2 = sup.clone();
        let (took, _) = bounded(
            "two Supervisor::shutdown() at once, while 8 threads call",
            Duration::from_secs(10),
            |o| {
                Finding::new("Supervisor::shutdown returns while callers are waiting")
                    .observed(o)
                    .why("Calls waiting for a worker must be woken and told Unavailable, calls running must finish; then every worker gets its grace. A shutdown that waits for the waiting calls as well, or a waiter nobody wakes, hangs.")
                    .hint(HINT_POOL_SHUTDOWN)
            },
            move || {
                let t = thread::spawn(move || s2.shutdown());
                s1.shutdown();
                let _ = t.join();
                started.elapsed()
            },
        )?;
        let s = sup.clone();
        let (_, again) = bounded(
            "a third Supervisor::shutdown()",
            Duration::from_secs(3),
            |o| {
                Finding::new("Supervisor::shutdown is idempotent")
                    .observed(o)
                    .hint(HINT_POOL_SHUTDOWN)
            },
            move || s.shutdown(),
        )?;
        let mut all = Vec::new();
        for h in handles {
            let deadline = Instant::now() + Duration::from_secs(3);
            while !h.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if !h.is_finished() {
                return Err(Finding::new("after shutdown every call returns Unavailable")
                    .observed("a caller thread was still inside Supervisor::call 3 s after shutdown returned")
                    .hint(HINT_POOL_SHUTDOWN));
            }
            all.extend(h.join().unwrap_or_default());
        }
        for (request, answer, begun, ended) in &all {
            let good = match answer {
                Ok(_) => {
                    is_ok(answer, request.splitn(3, ':').nth(2).unwrap_or_default())
                        && *ended <= took + Duration::from_millis(1)
                }
                Err(CallError::Unavailable) => true,
                _ => false,
            };
            ensure(good, || {
                Finding::new("shutdown lets running calls finish, and refuses the others")
                    .observed(format!("the call {request:?}, begun {} after the start and ended {} (shutdown returned at {}), got {}", ms(*begun), ms(*ended), ms(took), show(answer)))
                    .why("A call that already has its worker must get its answer: shutdown waits for the busy slots to come back before it closes the workers' stdin. Calls that come later, or are still waiting for a worker, get Unavailable.")
                    .hint(HINT_POOL_SHUTDOWN)
            })?;
        }
        let s = sup.clone();
        let (after, took_after) = bounded(
            "Supervisor::call after shutdown",
            Duration::from_secs(2),
            hung_call,
            move || s.call(b"echo:late"),
        )?;
        ensure(
            after == Err(CallError::Unavailable)
                && took_after < Duration::from_millis(500)
                && again < Duration::from_secs(1),
            || {
                Finding::new("after shutdown every call returns Unavailable at once")
                    .observed(format!(
                        "a call after shutdown returned {} after {}; a third shutdown took {}",
                        show(&after),
                        ms(took_after),
                        ms(again)
                    ))
                    .hint(HINT_POOL_SHUTDOWN)
            },
        )
    }

    // ---------------------------------------------------------------------------------------
    // Supervisor: timing

    pub fn workers_run_in_parallel() -> Outcome {
        let sup = start("script", policy(4, 10_000, 0, 0))?;
        let sleep = 300u64;
        let mut best = Duration::MAX;
        let mut pids_seen = Vec::new();
        for _attempt in 0..2 {
            let barrier = Arc::new(Barrier::new(4));
            let s = sup.clone();
            let (answers, took) = bounded(
                "4 calls at once on 4 workers",
                Duration::from_secs(15),
                hung_call,
                move || {
                    let handles: Vec<_> = (0..4)
                        .map(|_| {
                            let s = s.clone();
                            let b = barrier.clone();
                            thread::spawn(move || {
                                b.wait();
                                s.call(format!("sleep_pid:{sleep}").as_bytes())
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(Err(CallError::Unavailable)))
                        .collect::<Vec<_>>()
                },
            )?;
            let mut pids = pids_of(&answers);
            pids.sort();
            pids.dedup();
            pids_seen = pids;
            best = best.min(took);
            if best < Duration::from_millis(sleep * 3) && pids_seen.len() == 4 {
                break;
            }
        }
        ensure(
            best < Duration::from_millis(sleep * 3) && pids_seen.len() == 4,
            || {
                Finding::new("workers run in parallel: 4 calls on 4 workers take about one call's time")
                .observed(format!("4 threads each called a 300 ms request on a supervisor of 4 workers: the 4 answers took {} in the best of 2 tries (one at a time: 1200 ms), from {} different worker(s)", ms(best), pids_seen.len()))
                .why("If the supervisor holds its lock (or any lock shared by the slots) while a worker works, the other callers wait for it even though their workers are idle: the pool serves one call at a time.")
                .fix("Hold the lock only to pick a slot and mark it busy, and again to put the worker back; call the worker with no lock held.")
                .hint(HINT_POOL)
            },
        )
    }

    pub fn waiting_callers_do_not_spin() -> Outcome {
        let sup = start("script", policy(1, 10_000, 0, 0))?;
        let s = sup.clone();
        let first = thread::spawn(move || s.call(b"sleep:500:first"));
        thread::sleep(Duration::from_millis(50));
        let waiters: Vec<_> = (0..6)
            .map(|i| {
                let s = sup.clone();
                thread::spawn(move || (i, s.call(format!("echo:waiter {i}").as_bytes())))
            })
            .collect();
        thread::sleep(Duration::from_millis(50));
        let watch = Stopwatch::start();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !first.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let (wall, cpu) = (watch.wall(), watch.cpu());
        if !first.is_finished() {
            return Err(hung_call(
                "the first call (sleep 500 ms) had not returned after 10 s".into(),
            ));
        }
        let first_answer = first.join().unwrap_or(Err(CallError::Unavailable));
        let deadline = Instant::now() + Duration::from_secs(5);
        for w in &waiters {
            while !w.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
        }
        if waiters.iter().any(|w| !w.is_finished()) {
            return Err(Finding::new("a waiting caller is woken when a worker comes free")
                .observed("6 callers waited for the only worker; 5 s after it came free some were still waiting")
                .why("A caller that waits on a Condvar wakes only if whoever frees the slot notifies it after putting the worker back.")
                .hint(HINT_POOL));
        }
        let answers: Vec<(usize, Answer)> =
            waiters.into_iter().filter_map(|w| w.join().ok()).collect();
        ensure(
            is_ok(&first_answer, "first")
                && answers
                    .iter()
                    .all(|(i, a)| is_ok(a, &format!("waiter {i}"))),
            || {
                Finding::new("every waiting caller gets its own answer")
                    .observed(format!(
                        "first: {}; waiters: {}",
                        show(&first_answer),
                        answers
                            .iter()
                            .map(|(i, a)| format!("{i}: {}", show(a)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .hint(HINT_POOL)
            },
        )?;
        ensure(
            cpu < Duration::from_millis(150) && cpu.as_secs_f64() < wall.as_secs_f64() * 0.3,
            || {
                Finding::new("callers waiting for an idle worker sleep, they do not spin")
                .observed(format!("6 callers waited {} for the only worker; the process used {} of CPU meanwhile", ms(wall), ms(cpu)))
                .why("A caller that loops on try_lock (or locks, looks, unlocks and yields) burns a core while it waits, and takes the CPU from the workers.")
                .fix("Wait on a Condvar: `while no slot is free { guard = cv.wait(guard) }`, and notify after putting a worker back.")
                .hint(HINT_POOL)
            },
        )
    }

    pub fn stderr_flood_does_not_deadlock() -> Outcome {
        let worker = spawn_worker("script")?;
        let flood = 1 << 20;
        let (worker, answer, took) = call_worker(
            worker,
            &format!("flood:{flood}:after the flood"),
            Duration::from_secs(4),
            Duration::from_secs(6),
        )?;
        let flood_finding = |observed: String| {
            Finding::new("a child that writes a lot to stderr does not block")
                .observed(observed)
                .why("A pipe holds about 64 KiB. When nobody reads the child's stderr, its next write to stderr blocks once the pipe is full, and it never gets to write its answer: the parent waits for the answer, the child waits for the parent to read stderr.")
                .fix("Pipe stderr and drain it all the time on its own thread, keeping only the last few KiB for the crash report.")
                .hint(HINT_PIPES)
        };
        ensure(is_ok(&answer, "after the flood"), || {
            flood_finding(format!("a worker that writes 1 MiB to stderr before answering: Worker::call returned {} after {}", show(&answer), ms(took)))
        })?;
        let (_worker, crash, _) = call_worker(worker, "exit:4:the very end", SHORT, SHORT * 2)?;
        ensure(
            matches!(&crash, Err(CallError::Crashed { code: Some(4), stderr_tail, .. }) if stderr_tail.trim_end().ends_with("the very end") && stderr_tail.len() <= 64 << 10),
            || {
                Finding::new("the stderr tail is the end of what the worker wrote")
                    .observed(format!(
                        "after 1 MiB of stderr, a crash with the last words \"the very end\": {}",
                        show(&crash)
                    ))
                    .hint(HINT_PIPES)
            },
        )?;
        let sup = start("script", policy(1, 4000, 1, 0))?;
        let s = sup.clone();
        let (answer, took) = bounded(
            "Supervisor::call on a worker that floods stderr",
            Duration::from_secs(6),
            |o| flood_finding(o),
            move || s.call(format!("flood:{flood}:pool after the flood").as_bytes()),
        )?;
        ensure(is_ok(&answer, "pool after the flood"), || {
            flood_finding(format!("through a supervisor: a worker that writes 1 MiB to stderr before answering gave {} after {}", show(&answer), ms(took)))
        })
    }

    pub fn restart_backoff_respected() -> Outcome {
        let backoff = 120u64;
        let before = Instant::now();
        let sup = start("crash_at_once:7", policy(1, 5000, 3, backoff))?;
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            let s = sup.clone();
            let (answer, _) = bounded(
                "Supervisor::call on a pool whose workers crash at once",
                Duration::from_secs(5),
                |o| hung_call(o).hint(HINT_RESTART),
                move || s.call(b"echo:x"),
            )?;
            outcomes.push((before.elapsed(), answer));
        }
        let shown = outcomes
            .iter()
            .map(|(t, a)| format!("{} at {}", show(a), ms(*t)))
            .collect::<Vec<_>>()
            .join(", ");
        let shape_ok = outcomes[..4]
            .iter()
            .all(|(_, a)| matches!(a, Err(CallError::Crashed { code: Some(7), .. })))
            && outcomes[4].1 == Err(CallError::Unavailable);
        let stats = sup.stats();
        ensure(
            shape_ok && stats.restarts == 3 && stats.crashed == 4,
            || {
                Finding::new("a failed worker is restarted, up to max_restarts in all")
                .observed(format!("1 worker that exits with 7 at once, max_restarts 3: five calls gave {shown}; stats {stats:?} (expected 4 crashes, then Unavailable, with 3 restarts)"))
                .why("max_restarts bounds the restarts over the whole pool: a worker that can't start must not be respawned forever, or the supervisor becomes a fork loop.")
                .fix("Keep a count of restarts left next to the slots; a slot without a worker is usable only while it is above 0; take one when you respawn.")
                .hint(HINT_RESTART)
            },
        )?;
        let fourth = outcomes[3].0;
        ensure(fourth >= Duration::from_millis(3 * backoff - 5), || {
            Finding::new("a slot is not respawned sooner than restart_backoff after its last spawn")
                .observed(format!("backoff {backoff} ms, 1 worker crashing at once: the 4th crash (after 3 respawns) came {} after start() was called, sooner than 3 x {backoff} ms; calls: {shown}", ms(fourth)))
                .why("A worker that dies at once would otherwise be respawned in a tight loop, using the machine to fork processes that die (and filling logs); a back-off gives a broken dependency time to come back.")
                .fix("Remember when each slot last spawned. Before respawning, with the slot marked busy and no lock held, sleep until last_spawn + restart_backoff.")
                .hint(HINT_RESTART)
        })
    }

    pub fn all_dead_is_unavailable_at_once() -> Outcome {
        let dead_why = "When every slot is dead and no restart is left, no worker will ever come free: a caller that waits for one waits forever.";
        let dead_fix = "Before waiting, ask whether anything could ever change: if no slot is busy and no idle slot can serve (no worker, no restart left), return Unavailable; and wake every waiter (notify_all) when a slot dies, so they ask again.";
        let sup = start("crash_at_once:7", policy(2, 5000, 2, 10))?;
        let mut shown = Vec::new();
        for i in 0..9 {
            let s = sup.clone();
            let (answer, took) = bounded(
                "Supervisor::call on a pool out of workers and restarts",
                Duration::from_secs(3),
                |o| {
                    Finding::new("when no worker can ever serve, calls return Unavailable at once")
                        .observed(format!(
                            "2 workers that crash at once, max_restarts 2; after {}: {o}",
                            shown.join(", ")
                        ))
                        .why(dead_why)
                        .fix(dead_fix)
                        .hint(HINT_RESTART)
                },
                move || s.call(b"echo:x"),
            )?;
            shown.push(show(&answer));
            let good = if i < 4 {
                matches!(answer, Err(CallError::Crashed { .. }))
            } else {
                answer == Err(CallError::Unavailable) && took < Duration::from_millis(500)
            };
            ensure(good, || {
                Finding::new("when no worker can ever serve, calls return Unavailable at once")
                    .observed(format!("2 workers that crash at once, max_restarts 2 (so 4 crashes): call {} returned {} after {}; all calls: {}", i + 1, show(&answer), ms(took), shown.join(", ")))
                    .why(dead_why)
                    .fix(dead_fix)
                    .hint(HINT_RESTART)
            })?;
        }
        // A caller already waiting when the last worker dies must be woken.
        let sup = start("script", policy(1, 5000, 0, 0))?;
        let s = sup.clone();
        let dying = thread::spawn(move || {
            let a = s.call(b"die_after:200:4");
            (a, Instant::now())
        });
        thread::sleep(Duration::from_millis(50));
        let s = sup.clone();
        let (waiter, _) = bounded(
            "a caller waiting for the only worker, which then dies",
            Duration::from_secs(3),
            |o| {
                Finding::new("a caller waiting when the last worker dies gets Unavailable")
                    .observed(format!("1 worker, max_restarts 0; a second call waited while the first made the worker exit: {o}"))
                    .why(dead_why)
                    .fix(dead_fix)
                    .hint(HINT_RESTART)
            },
            move || (s.call(b"echo:waiting"), Instant::now()),
        )?;
        let (first, died) = dying
            .join()
            .unwrap_or((Err(CallError::Unavailable), Instant::now()));
        ensure(
            matches!(first, Err(CallError::Crashed { code: Some(4), .. }))
                && waiter.0 == Err(CallError::Unavailable)
                && waiter.1.saturating_duration_since(died) < Duration::from_millis(500),
            || {
                Finding::new("a caller waiting when the last worker dies gets Unavailable")
                    .observed(format!(
                        "the dying call gave {}, the waiting call {} ({} after the crash)",
                        show(&first),
                        show(&waiter.0),
                        ms(waiter.1.saturating_duration_since(died))
                    ))
                    .why(dead_why)
                    .fix(dead_fix)
                    .hint(HINT_RESTART)
            },
        )
    }

    pub fn graceful_shutdown_reaps_everyone() -> Outcome {
        let sup = start("script", policy(3, 5000, 0, 0))?;
        // The three workers' pids: three slow calls at once land on three workers.
        let s = sup.clone();
        let (answers, _) = bounded(
            "3 calls at once",
            Duration::from_secs(10),
            hung_call,
            move || {
                let hs: Vec<_> = (0..3)
                    .map(|_| {
                        let s = s.clone();
                        thread::spawn(move || s.call(b"sleep_pid:150"))
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap_or(Err(CallError::Unavailable)))
                    .collect::<Vec<_>>()
            },
        )?;
        let mut pids = pids_of(&answers);
        pids.sort();
        pids.dedup();
        let s = sup.clone();
        let running = thread::spawn(move || s.call(b"sleep:300:late"));
        thread::sleep(Duration::from_millis(60));
        let s = sup.clone();
        let (_, took) = bounded(
            "Supervisor::shutdown() with one call running",
            Duration::from_secs(8),
            |o| {
                Finding::new("Supervisor::shutdown returns")
                    .observed(o)
                    .hint(HINT_POOL_SHUTDOWN)
            },
            move || s.shutdown(),
        )?;
        let late = if running.is_finished() {
            running.join().unwrap_or(Err(CallError::Unavailable))
        } else {
            Err(CallError::Protocol(
                "still running after shutdown returned".into(),
            ))
        };
        ensure(is_ok(&late, "late"), || {
            Finding::new("shutdown lets a running call finish")
                .observed(format!("a 300 ms call was running when shutdown() was called; it got {} (shutdown took {})", show(&late), ms(took)))
                .why("The caller already has its worker: closing or killing that worker under it turns a good call into a failure. Shutdown waits until no slot is busy.")
                .fix("Set a closing flag, notify_all, then wait on the Condvar while any slot is busy; only then close the workers.")
                .hint(HINT_POOL_SHUTDOWN)
        })?;
        let mut unclean = Vec::new();
        for &pid in &pids {
            ensure_reaped(pid, "Supervisor::shutdown")?;
            if !std::path::Path::new(&child::clean_exit_file(pid)).exists() {
                unclean.push(pid);
            }
        }
        ensure(pids.len() == 3 && unclean.is_empty(), || {
            Finding::new("graceful shutdown: every worker ends by itself with exit code 0")
                .observed(format!("of the workers {pids:?}, these did not end by themselves at the end of their stdin: {unclean:?}"))
                .why("Each worker gets its grace: close its stdin and let it finish. Killing first loses work a real worker may still be flushing.")
                .fix("Use Worker::shutdown(1 s) for each worker (in parallel threads, so n slow workers cost one grace, not n).")
                .hint(HINT_POOL_SHUTDOWN)
        })?;
        let s = sup.clone();
        let (after, took_after) = bounded(
            "Supervisor::call after shutdown",
            Duration::from_secs(2),
            hung_call,
            move || s.call(b"echo:x"),
        )?;
        ensure(
            after == Err(CallError::Unavailable) && took_after < Duration::from_millis(300),
            || {
                Finding::new("after shutdown every call returns Unavailable at once")
                    .observed(format!(
                        "a call after shutdown returned {} after {}",
                        show(&after),
                        ms(took_after)
                    ))
                    .hint(HINT_POOL_SHUTDOWN)
            },
        )?;
        // Dropping the last handle shuts down too.
        let sup = start("script", policy(2, 5000, 0, 0))?;
        let s = sup.clone();
        let (answers, _) = bounded(
            "2 calls at once",
            Duration::from_secs(10),
            hung_call,
            move || {
                let hs: Vec<_> = (0..2)
                    .map(|_| {
                        let s = s.clone();
                        thread::spawn(move || s.call(b"sleep_pid:150"))
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap_or(Err(CallError::Unavailable)))
                    .collect::<Vec<_>>()
            },
        )?;
        let pids = pids_of(&answers);
        bounded(
            "dropping a Supervisor",
            Duration::from_secs(8),
            |o| {
                Finding::new("dropping a Supervisor shuts it down")
                    .observed(o)
                    .hint(HINT_POOL_SHUTDOWN)
            },
            move || drop(sup),
        )?;
        for &pid in &pids {
            ensure_reaped(pid, "dropping the Supervisor")?;
        }
        Ok(())
    }

    pub fn trickled_answer_arrives() -> Outcome {
        let worker = spawn_worker("script")?;
        let (worker, answer, took) = call_worker(
            worker,
            "trickle:15:a trickled answer",
            Duration::from_secs(5),
            Duration::from_secs(8),
        )?;
        ensure(is_ok(&answer, "a trickled answer"), || {
            Finding::new("an answer that arrives one byte at a time is read whole")
                .observed(format!("a worker that sends its 20-byte answer frame one byte every 15 ms: Worker::call returned {} after {}", show(&answer), ms(took)))
                .why("Each read on a pipe returns what has arrived so far, possibly a single byte. A reader that takes one read() as the whole length, or the whole payload, gets garbage.")
                .fix("Loop until the 4 length bytes are in, then read_exact the payload.")
                .hint(HINT_FRAMES)
        })?;
        // The timeout covers the whole answer, not each byte.
        let timeout = Duration::from_millis(300);
        let (_worker, answer, took) = call_worker(
            worker,
            "trickle:60:twenty bytes of text!",
            timeout,
            Duration::from_secs(5),
        )?;
        ensure(
            answer == Err(CallError::TimedOut) && took < Duration::from_millis(1200),
            || {
                Finding::new("the timeout bounds the whole answer")
                    .observed(format!("a worker that sends a 25-byte frame one byte every 60 ms (1.5 s in all), call timeout 300 ms: Worker::call returned {} after {}", show(&answer), ms(took)))
                    .why("A deadline per read lets a child that sends a byte now and then hold the caller forever. The deadline is fixed once, when the call starts.")
                    .fix("Compute `deadline = now + timeout` once and wait for the whole frame against it.")
                    .hint(HINT_PIPES)
            },
        )
    }
}
