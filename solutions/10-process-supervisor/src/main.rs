//! `supervisor child`: a worker (reads request frames on stdin, answers each on stdout).
//! `supervisor`: supervises four copies of itself, started as `child`, from four threads, and
//! prints what it measured. This is the Rust form of Python's spawn start method: the child is the
//! same program started again, and the argument plays the part of the `__main__` guard.

use std::time::{Duration, Instant};

use supervisor::sync::{thread, Arc};
use supervisor::{serve, CallError, Policy, Supervisor, Worker, WorkerSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        let result = serve(|request| match request {
            b"crash" => {
                eprintln!("worker {}: asked to crash", std::process::id());
                std::process::exit(3)
            }
            _ => request.to_ascii_uppercase(),
        });
        std::process::exit(if result.is_ok() { 0 } else { 1 });
    }

    let spec = WorkerSpec {
        program: std::env::current_exe().expect("the program knows where it is"),
        args: vec!["child".into()],
    };

    // Start cost: a thread, then a process (spawn and one round trip).
    let started = Instant::now();
    thread::spawn(|| ()).join().expect("joins");
    let thread_cost = started.elapsed();
    let started = Instant::now();
    let mut worker = Worker::spawn(&spec).expect("spawns");
    worker
        .call(b"ping", Duration::from_secs(5))
        .expect("answers");
    let process_cost = started.elapsed();

    // Communication cost: one small round trip over the pipes.
    let rounds = 2000;
    let started = Instant::now();
    for _ in 0..rounds {
        worker.call(b"x", Duration::from_secs(5)).expect("answers");
    }
    let round_trip = started.elapsed() / rounds;
    let status = worker.shutdown(Duration::from_secs(1)).expect("reaps");
    println!(
        "start a thread: {thread_cost:?}; start a process and get its first answer: {process_cost:?}"
    );
    println!("one round trip to a worker process: {round_trip:?}; worker exited with {status}");

    // A pool from four threads, with one request that crashes its worker.
    let policy = Policy {
        workers: 4,
        call_timeout: Duration::from_secs(5),
        max_restarts: 4,
        restart_backoff: Duration::from_millis(50),
    };
    let pool = Arc::new(Supervisor::start(spec, policy).expect("starts"));
    let started = Instant::now();
    let callers: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            thread::spawn(move || {
                for i in 0..250 {
                    let request = format!("thread {t} request {i}");
                    let answer = pool.call(request.as_bytes()).expect("answers");
                    assert_eq!(answer, request.to_ascii_uppercase().into_bytes());
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().expect("the caller finished");
    }
    println!(
        "4 threads x 250 calls over 4 workers: {:?}",
        started.elapsed()
    );
    let crashed = pool.call(b"crash");
    if let Err(CallError::Crashed {
        code, stderr_tail, ..
    }) = &crashed
    {
        println!(
            "a crash: exit code {code:?}, stderr: {}",
            stderr_tail.trim()
        );
    }
    println!(
        "after the crash: {:?}",
        pool.call(b"the pool goes on").map(String::from_utf8)
    );
    pool.shutdown();
    println!("{:?}", pool.stats());
}
