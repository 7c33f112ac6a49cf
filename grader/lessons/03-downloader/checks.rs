//! Lesson 03 checks: a downloader with a concurrency limit, retries with backoff, and contained
//! panics; with scripted fake fetchers, with a real HTTP server on 127.0.0.1, and under loom.
//!
//! Compiled by the grader into a harness together with the crate under test (`downloader`).

use grader_harness::prelude::*;

#[cfg(not(loom))]
#[path = "server.rs"]
mod server;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::keeps_input_order),
    check!(unit, std_checks::retries_transient_up_to_max_attempts),
    check!(unit, std_checks::permanent_not_retried),
    check!(unit, std_checks::success_after_transient_failures),
    check!(unit, std_checks::panicking_fetch_is_contained),
    check!(unit, std_checks::empty_input),
    check!(unit, std_checks::limit_larger_than_urls),
    check!(unit, std_checks::http_status_classes),
    check!(stress, std_checks::random_latencies_failures_limits),
    check!(timing, std_checks::fetches_overlap, measures = wall),
    check!(
        timing,
        std_checks::limit_holds_and_is_reached,
        measures = wall
    ),
    check!(
        timing,
        std_checks::backoff_schedule_respected,
        measures = wall
    ),
    check!(timing, std_checks::no_thread_left_behind, measures = wall),
    check!(timing, std_checks::end_to_end_http, measures = wall),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::model_limit_3_urls_limit_2),
    check!(model, model_checks::model_retry_then_success),
];

fn limit_exceeded(observed: String) -> Finding {
    Finding::new("never more than max_concurrency fetches at once")
        .observed(observed)
        .why("Every fetch that starts without first taking one of the max_concurrency places adds to the load on the server. A thread per url with no semaphore, a permit count that starts one too high, or a semaphore that checks `count < limit` and increments in a separate step (two threads both see the last free place) all let extra fetches in.")
        .fix("Either run exactly min(max_concurrency, urls.len()) worker threads that each do one fetch at a time, or guard each fetch with a counting semaphore whose acquire checks and takes a permit under one Mutex guard (wait on a Condvar while none is free).")
        .hint(2)
}

fn wrong_attempts(observed: String) -> Finding {
    Finding::new("a transient failure is retried, up to max_attempts attempts in all")
        .observed(observed)
        .why("`max_attempts` counts every call of fetch for a url, the first one included: with max_attempts = 3 a url that keeps failing transiently is fetched 3 times and reports attempts = 3. A loop like `for attempt in 0..=max_attempts` makes one call too many; stopping at the first failure makes too few.")
        .fix("Count attempts from 1. After a Transient error, try again only while attempts < max_attempts; return the last error otherwise. `attempts` in the Download is the number of fetch calls.")
        .hint(3)
}

#[cfg(not(loom))]
mod std_checks {
    use super::server::TestServer;
    use super::*;
    use downloader::sync::Arc;
    use downloader::{download_all, Config, Download, Fetch, FetchError, HttpFetcher};
    use std::collections::HashMap;
    use std::sync::Mutex;

    fn urls(prefix: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("http://fake.test/{prefix}/{i}"))
            .collect()
    }

    fn body_for(url: &str) -> Vec<u8> {
        format!("body of {url}").into_bytes()
    }

    fn config(max_concurrency: usize, max_attempts: u32, backoff_ms: u64) -> Config {
        Config {
            max_concurrency,
            max_attempts,
            backoff: Duration::from_millis(backoff_ms),
        }
    }

    // ---------------------------------------------------------------- a scripted fake fetcher

    /// What one call of the scripted fetcher does.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Step {
        Ok,
        Transient,
        Permanent,
        Panic,
    }

    /// Each url follows its script, one step per call (the last step repeats); urls without a
    /// script succeed. Counts calls per url and fetches in flight.
    #[derive(Default)]
    struct Scripted {
        scripts: HashMap<String, (Vec<Step>, Duration)>,
        calls: Mutex<HashMap<String, Vec<Instant>>>,
        gauge: Gauge,
    }

    impl Scripted {
        fn new() -> Scripted {
            Scripted::default()
        }
        fn script(mut self, url: &str, steps: &[Step], delay: Duration) -> Scripted {
            self.scripts
                .insert(url.to_string(), (steps.to_vec(), delay));
            self
        }
        fn calls(&self, url: &str) -> usize {
            self.calls.lock().unwrap().get(url).map_or(0, Vec::len)
        }
        fn call_times(&self, url: &str) -> Vec<Instant> {
            self.calls
                .lock()
                .unwrap()
                .get(url)
                .cloned()
                .unwrap_or_default()
        }
        fn total_calls(&self) -> usize {
            self.calls.lock().unwrap().values().map(Vec::len).sum()
        }
    }

    impl Fetch for Scripted {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            let _in_flight = self.gauge.enter();
            let n = {
                let mut calls = self.calls.lock().unwrap();
                let mine = calls.entry(url.to_string()).or_default();
                mine.push(Instant::now());
                mine.len()
            };
            let (step, delay) = match self.scripts.get(url) {
                Some((steps, delay)) => (
                    steps
                        .get(n - 1)
                        .or(steps.last())
                        .copied()
                        .unwrap_or(Step::Ok),
                    *delay,
                ),
                None => (Step::Ok, Duration::ZERO),
            };
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            match step {
                Step::Ok => Ok(body_for(url)),
                Step::Transient => Err(FetchError::Transient(format!(
                    "scripted transient failure (call {n})"
                ))),
                Step::Permanent => Err(FetchError::Permanent(format!(
                    "scripted permanent failure (call {n})"
                ))),
                Step::Panic => panic!("the check's fetcher panics on purpose for {url}"),
            }
        }
    }

    // ---------------------------------------------------------------- running download_all

    /// Runs download_all on a helper thread and waits at most `limit` for it.
    fn run_bounded<F: Fetch + 'static>(
        urls: &[String],
        fetcher: Arc<F>,
        config: &Config,
        limit: Duration,
    ) -> Ran<Vec<Download>> {
        let (urls, config) = (urls.to_vec(), config.clone());
        within("download_all", limit, move || {
            download_all(&urls, fetcher, &config)
        })
    }

    /// download_all that must return within `limit`; a panic goes on to the runner, which
    /// explains it (a `todo!()` in the starter, say).
    fn call<F: Fetch + 'static>(
        urls: &[String],
        fetcher: Arc<F>,
        config: &Config,
        limit: Duration,
        situation: &str,
    ) -> Result<(Vec<Download>, Duration), Finding> {
        match run_bounded(urls, fetcher, config, limit) {
            Ran::Returned(d, took) => Ok((d, took)),
            Ran::Panicked(payload) => std::panic::resume_unwind(payload),
            Ran::Hung => Err(hung(situation, limit)),
        }
    }

    fn hung(situation: &str, limit: Duration) -> Finding {
        Finding::new("download_all returns once every url is done")
            .observed(format!("download_all({situation}) had not returned after {} s", limit.as_secs()))
            .why("Something waits for an event that never comes: a result that a worker never delivers (it died of a panic, or the count of expected results is wrong), a Condvar nobody notifies, or a join on a thread that waits for more work forever.")
            .fix("Make sure every url produces exactly one Download even when its fetch panics, that every wait is paired with a notify, and that workers end when the work runs out.")
            .hint(4)
    }

    fn describe(result: &Result<Vec<u8>, FetchError>) -> String {
        match result {
            Ok(body) => format!("Ok({:?})", String::from_utf8_lossy(body)),
            Err(e) => format!("{e:?}"),
        }
    }

    /// The same number of downloads as urls, each for its own url, in input order.
    fn check_shape(urls: &[String], downloads: &[Download], situation: &str) -> Outcome {
        ensure(downloads.len() == urls.len(), || {
            Finding::new("one Download per url")
                .observed(format!(
                    "download_all({situation}) returned {} downloads for {} urls",
                    downloads.len(),
                    urls.len()
                ))
                .why("Every url must be accounted for exactly once, whatever happened to it.")
                .fix("Produce one Download per url: successes, failures and panics alike.")
                .hint(4)
        })?;
        for (i, (url, d)) in urls.iter().zip(downloads).enumerate() {
            ensure(&d.url == url, || {
                Finding::new("downloads come back in input order")
                    .observed(format!(
                        "download_all({situation}): position {i} holds the download of {}, not of {url}",
                        d.url
                    ))
                    .why("Threads finish in whatever order their fetches take; collecting results as they arrive gives that order, not the order of the urls.")
                    .fix("Keep each url's index with its work and put its Download into slot i of the output (a Vec<Option<Download>> filled by index, or sort (index, Download) pairs before returning).")
                    .hint(4)
            })?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- unit checks

    /// Fetches finish in reverse order: url i waits until url i + 1 has finished.
    struct ReverseFinisher {
        urls: Vec<String>,
        done: Vec<std::sync::atomic::AtomicBool>,
        finished: Mutex<Vec<usize>>,
    }

    impl Fetch for ReverseFinisher {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            use std::sync::atomic::Ordering::SeqCst;
            let i = self
                .urls
                .iter()
                .position(|u| u == url)
                .expect("a known url");
            let started = Instant::now();
            if i + 1 < self.urls.len() {
                while !self.done[i + 1].load(SeqCst)
                    && started.elapsed() < Duration::from_millis(800)
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            self.finished.lock().unwrap().push(i);
            self.done[i].store(true, SeqCst);
            Ok(body_for(url))
        }
    }

    pub fn keeps_input_order() -> Outcome {
        let urls = urls("order", 5);
        let fetcher = Arc::new(ReverseFinisher {
            urls: urls.clone(),
            done: (0..urls.len()).map(|_| Default::default()).collect(),
            finished: Mutex::new(Vec::new()),
        });
        let (downloads, _) = call(
            &urls,
            fetcher.clone(),
            &config(5, 1, 1),
            Duration::from_secs(8),
            "5 urls, limit 5",
        )?;
        let finished = fetcher.finished.lock().unwrap().clone();
        check_shape(
            &urls,
            &downloads,
            &format!("5 urls, limit 5, fetches finishing in the order {finished:?}"),
        )?;
        for d in &downloads {
            ensure(d.result == Ok(body_for(&d.url)) && d.attempts == 1, || {
                Finding::new("each download carries its own url's body")
                    .observed(format!(
                        "{}: result {}, attempts {}, expected the body {:?} after 1 attempt",
                        d.url,
                        describe(&d.result),
                        d.attempts,
                        String::from_utf8_lossy(&body_for(&d.url))
                    ))
                    .hint(4)
            })?;
        }
        Ok(())
    }

    pub fn retries_transient_up_to_max_attempts() -> Outcome {
        for max_attempts in [1, 3, 5] {
            let urls = urls(&format!("always-transient-{max_attempts}"), 2);
            let mut fetcher = Scripted::new();
            for u in &urls {
                fetcher = fetcher.script(u, &[Step::Transient], Duration::ZERO);
            }
            let fetcher = Arc::new(fetcher);
            let situation =
                format!("2 urls that always fail transiently, max_attempts {max_attempts}");
            let (downloads, _) = call(
                &urls,
                fetcher.clone(),
                &config(2, max_attempts, 1),
                Duration::from_secs(5),
                &situation,
            )?;
            check_shape(&urls, &downloads, &situation)?;
            for d in &downloads {
                let calls = fetcher.calls(&d.url);
                if calls != max_attempts as usize || d.attempts != max_attempts {
                    return Err(wrong_attempts(format!(
                        "{situation}: {} was fetched {calls} time(s) and reported attempts = {}; expected {max_attempts} and {max_attempts}",
                        d.url, d.attempts
                    )));
                }
                ensure(matches!(d.result, Err(FetchError::Transient(_))), || {
                    Finding::new("a url that never succeeds reports its last, transient error")
                        .observed(format!(
                            "{situation}: {} reported {}",
                            d.url,
                            describe(&d.result)
                        ))
                        .fix("After the last attempt, return the error that attempt got.")
                        .hint(3)
                })?;
            }
        }
        Ok(())
    }

    pub fn permanent_not_retried() -> Outcome {
        let urls = urls("permanent", 3);
        let fetcher = Arc::new(
            Scripted::new()
                .script(&urls[0], &[Step::Permanent], Duration::ZERO)
                .script(
                    &urls[1],
                    &[Step::Transient, Step::Permanent],
                    Duration::ZERO,
                ),
        );
        let situation = "a url failing permanently, one failing transiently then permanently, one fine; max_attempts 4";
        let (downloads, _) = call(
            &urls,
            fetcher.clone(),
            &config(3, 4, 1),
            Duration::from_secs(5),
            situation,
        )?;
        check_shape(&urls, &downloads, situation)?;
        for (i, expected_calls) in [(0, 1), (1, 2)] {
            let d = &downloads[i];
            let calls = fetcher.calls(&d.url);
            ensure(
                calls == expected_calls
                    && d.attempts == expected_calls as u32
                    && matches!(d.result, Err(FetchError::Permanent(_))),
                || {
                    Finding::new("a permanent failure is not retried")
                    .observed(format!(
                        "{situation}: {} ({}) was fetched {calls} time(s), reported attempts = {} and {}; expected {expected_calls} fetch(es) and a Permanent error",
                        d.url,
                        if i == 0 { "Permanent at once" } else { "Transient, then Permanent" },
                        d.attempts,
                        describe(&d.result)
                    ))
                    .why("A Permanent error (a 404, a bad url) will come back the same on every attempt: retrying only wastes time and load on the server. Only Transient errors (timeouts, refused connections, 5xx, 429) are worth another try.")
                    .fix("Retry on FetchError::Transient only; return a Permanent error as soon as you get it.")
                    .hint(3)
                },
            )?;
        }
        ensure(
            downloads[2].result == Ok(body_for(&urls[2])) && downloads[2].attempts == 1,
            || {
                Finding::new("a url that works is fetched once").observed(format!(
                    "{}: {} after {} attempts",
                    urls[2],
                    describe(&downloads[2].result),
                    downloads[2].attempts
                ))
            },
        )
    }

    pub fn success_after_transient_failures() -> Outcome {
        let urls = urls("recovers", 4);
        let mut fetcher = Scripted::new();
        for (k, u) in urls.iter().enumerate() {
            let mut steps = vec![Step::Transient; k];
            steps.push(Step::Ok);
            fetcher = fetcher.script(u, &steps, Duration::ZERO);
        }
        let fetcher = Arc::new(fetcher);
        let situation = "url k fails transiently k times (k = 0..3) then succeeds; max_attempts 4";
        let (downloads, _) = call(
            &urls,
            fetcher.clone(),
            &config(2, 4, 1),
            Duration::from_secs(5),
            situation,
        )?;
        check_shape(&urls, &downloads, situation)?;
        for (k, d) in downloads.iter().enumerate() {
            let calls = fetcher.calls(&d.url);
            if d.result != Ok(body_for(&d.url)) {
                return Err(Finding::new("a url that succeeds within max_attempts reports its body")
                    .observed(format!(
                        "{situation}: url {k} ({} transient failure(s) before success) reported {} after {} attempts",
                        k,
                        describe(&d.result),
                        d.attempts
                    ))
                    .why("The attempt that succeeds is the one to keep; a retry loop that gives up too early, or keeps an earlier error, loses it.")
                    .fix("Loop: fetch; on Ok return it; on Transient with attempts left, wait and go round again.")
                    .hint(3));
            }
            if d.attempts != k as u32 + 1 || calls != k + 1 {
                return Err(wrong_attempts(format!(
                    "{situation}: url {k} succeeded on call {}, but reported attempts = {} (fetch was called {calls} times)",
                    k + 1,
                    d.attempts
                )));
            }
        }
        Ok(())
    }

    pub fn panicking_fetch_is_contained() -> Outcome {
        for limit in [1, 3] {
            let urls = urls(&format!("panics-limit-{limit}"), 6);
            let fetcher = Arc::new(
                Scripted::new()
                    .script(&urls[0], &[Step::Panic], Duration::ZERO)
                    .script(&urls[3], &[Step::Panic], Duration::from_millis(5)),
            );
            let situation =
                format!("6 urls, limit {limit}, the fetches of urls 0 and 3 panic; max_attempts 3");
            let limit_time = Duration::from_secs(4);
            let downloads = match run_bounded(&urls, fetcher.clone(), &config(limit, 3, 1), limit_time) {
                Ran::Returned(d, _) => d,
                Ran::Hung => return Err(Finding::new("a panicking fetch fails its url, and nothing hangs")
                    .observed(format!("download_all({situation}) had not returned after {} s", limit_time.as_secs()))
                    .why("A panic unwinds the thread it happens on. If that thread is a worker, it dies mid-task: its url never gets a result and the urls it would have taken next are never fetched, so whoever waits for all the results waits forever.")
                    .fix("Call fetch inside std::panic::catch_unwind(AssertUnwindSafe(|| fetcher.fetch(url))) and turn an Err into FetchError::Permanent for that url; the worker then carries on.")
                    .hint(4)),
                Ran::Panicked(payload) => {
                    let text = panic_text(&*pass_on_todo(payload));
                    return Err(Finding::new("a panicking fetch fails its url, and nothing else")
                        .observed(format!("download_all({situation}) panicked itself: {text}"))
                        .why("The panic of one fetch escaped into download_all, typically through `handle.join().unwrap()` on the worker it killed, and took every other url's result down with it.")
                        .fix("Contain the panic where it happens: std::panic::catch_unwind around the call to fetch, turning it into FetchError::Permanent for that url.")
                        .hint(4));
                }
            };
            check_shape(&urls, &downloads, &situation)?;
            for (i, d) in downloads.iter().enumerate() {
                let calls = fetcher.calls(&d.url);
                let panicky = i == 0 || i == 3;
                let right = if panicky {
                    matches!(d.result, Err(FetchError::Permanent(_)))
                        && d.attempts == 1
                        && calls == 1
                } else {
                    d.result == Ok(body_for(&d.url)) && d.attempts == 1 && calls == 1
                };
                ensure(right, || {
                    Finding::new("a panicking fetch fails its url, and nothing else")
                        .observed(format!(
                            "{situation}: url {i}{} reported {} after {} attempt(s), fetch called {calls} time(s); expected {}",
                            if panicky { " (its fetch panics)" } else { "" },
                            describe(&d.result),
                            d.attempts,
                            if panicky { "a Permanent error after 1 attempt (a panic is not worth retrying)" } else { "its body after 1 attempt" }
                        ))
                        .why("A panic is a bug in the fetcher, not a passing network problem: it becomes that url's Permanent failure, and the thread that caught it goes on with the other urls.")
                        .fix("catch_unwind around the fetch call; Err(_) becomes FetchError::Permanent(\"fetch panicked: ...\"), with no retry.")
                        .hint(4)
                })?;
            }
        }
        Ok(())
    }

    pub fn empty_input() -> Outcome {
        let fetcher = Arc::new(Scripted::new());
        let (downloads, _) = call(
            &[],
            fetcher.clone(),
            &config(4, 3, 1),
            Duration::from_secs(3),
            "no urls",
        )?;
        ensure(downloads.is_empty() && fetcher.total_calls() == 0, || {
            Finding::new("no urls: nothing fetched, nothing returned")
                .observed(format!(
                    "download_all(&[], ..) returned {} downloads and called fetch {} times",
                    downloads.len(),
                    fetcher.total_calls()
                ))
                .fix("With no urls there is nothing to do: return an empty Vec (and start no thread that waits for work).")
        })
    }

    pub fn limit_larger_than_urls() -> Outcome {
        let urls = urls("few", 3);
        let fetcher = Arc::new(Scripted::new());
        let situation = "3 urls, max_concurrency 64";
        let (downloads, _) = call(
            &urls,
            fetcher.clone(),
            &config(64, 2, 1),
            Duration::from_secs(5),
            situation,
        )?;
        check_shape(&urls, &downloads, situation)?;
        for d in &downloads {
            ensure(
                d.result == Ok(body_for(&d.url)) && d.attempts == 1 && fetcher.calls(&d.url) == 1,
                || {
                    Finding::new("every url is fetched once, even when the limit is above the number of urls")
                    .observed(format!(
                        "{situation}: {} reported {} after {} attempts, fetch called {} times",
                        d.url,
                        describe(&d.result),
                        d.attempts,
                        fetcher.calls(&d.url)
                    ))
                    .why("With more places than urls, workers that find no url left must simply end (and must not take a url twice).")
                    .fix("Start min(max_concurrency, urls.len()) workers, or let a worker stop when the queue is empty.")
                    .hint(1)
                },
            )?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- stress

    pub fn random_latencies_failures_limits() -> Outcome {
        const RUNS: usize = 40;
        let mut rng = Rng::seeded(0x9E37_79B9_7F4A_7C15);
        for run in 1..=RUNS {
            let n = rng.below(25) as usize;
            let limit = 1 + rng.below(8) as usize;
            let max_attempts = 1 + rng.below(4) as u32;
            let urls = urls(&format!("stress-{run}"), n);
            let mut fetcher = Scripted::new();
            let mut expected = Vec::new();
            for u in &urls {
                let failures = rng.below(4) as usize;
                let last = match rng.below(20) {
                    0 => Step::Panic,
                    1..=3 => Step::Permanent,
                    _ => Step::Ok,
                };
                let mut steps = vec![Step::Transient; failures];
                steps.push(last);
                let delay = Duration::from_micros(rng.below(3000));
                fetcher = fetcher.script(u, &steps, delay);
                // What the downloader must report for this url.
                expected.push(if failures as u32 >= max_attempts {
                    (Step::Transient, max_attempts)
                } else {
                    (last, failures as u32 + 1)
                });
            }
            let fetcher = Arc::new(fetcher);
            let situation = format!(
                "run {run} of {RUNS}: {n} urls, limit {limit}, max_attempts {max_attempts}, random latencies and failures"
            );
            let (downloads, _) = call(
                &urls,
                fetcher.clone(),
                &config(limit, max_attempts, 0),
                Duration::from_secs(10),
                &situation,
            )?;
            if fetcher.gauge.max() > limit {
                return Err(limit_exceeded(format!(
                    "{situation}: the fetcher saw {} fetches in flight at once",
                    fetcher.gauge.max()
                )));
            }
            check_shape(&urls, &downloads, &situation)?;
            for ((d, (outcome, attempts)), u) in downloads.iter().zip(&expected).zip(&urls) {
                let calls = fetcher.calls(u);
                let right_result = match outcome {
                    Step::Ok => d.result == Ok(body_for(u)),
                    Step::Transient => matches!(d.result, Err(FetchError::Transient(_))),
                    Step::Permanent | Step::Panic => {
                        matches!(d.result, Err(FetchError::Permanent(_)))
                    }
                };
                ensure(
                    right_result && d.attempts == *attempts && calls == *attempts as usize,
                    || {
                        Finding::new("every url is accounted for exactly once, with the right result and attempts")
                        .observed(format!(
                            "{situation}: {u} should end with {} after {attempts} attempt(s); it reported {} after {} attempt(s), and fetch was called {calls} time(s) for it",
                            match outcome {
                                Step::Ok => "its body",
                                Step::Transient => "a Transient error",
                                Step::Permanent => "a Permanent error",
                                Step::Panic => "a Permanent error (its fetch panicked)",
                            },
                            describe(&d.result),
                            d.attempts
                        ))
                        .why("Under concurrency every url must still be handed to exactly one worker, and that worker must follow the retry rules. A url fetched by two workers, or not at all, points to a shared queue that is not taken from atomically.")
                        .fix("Take the next url with one indivisible step (pop under the Mutex guard, or fetch_add on an index), and keep the retry loop per url.")
                        .hint(3)
                    },
                )?;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- timing

    /// Every fetch sleeps `delay`; the fetcher records how long each one really took.
    struct Sleeper {
        delay: Duration,
        gauge: Gauge,
        busy: Mutex<Duration>,
    }

    impl Fetch for Sleeper {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            let _in_flight = self.gauge.enter();
            let started = Instant::now();
            std::thread::sleep(self.delay);
            *self.busy.lock().unwrap() += started.elapsed();
            Ok(body_for(url))
        }
    }

    pub fn fetches_overlap() -> Outcome {
        const N: usize = 20;
        const LIMIT: usize = 5;
        const DELAY: Duration = Duration::from_millis(50);
        const TRIES: usize = 3;
        let urls = urls("overlap", N);
        let mut best = None;
        for _ in 0..TRIES {
            let fetcher = Arc::new(Sleeper {
                delay: DELAY,
                gauge: Gauge::new(),
                busy: Mutex::new(Duration::ZERO),
            });
            let situation = "20 urls that each take 50 ms, limit 5";
            let (downloads, wall) = call(
                &urls,
                fetcher.clone(),
                &config(LIMIT, 1, 1),
                Duration::from_secs(10),
                situation,
            )?;
            check_shape(&urls, &downloads, situation)?;
            // The time the fetches would take one after the other, as measured (sleeps overshoot).
            let sequential = *fetcher.busy.lock().unwrap();
            let ratio = wall.as_secs_f64() / sequential.as_secs_f64().max(1e-9);
            if ratio <= 0.5 {
                return Ok(());
            }
            if best.is_none_or(|(r, _, _, _)| ratio < r) {
                best = Some((ratio, wall, sequential, fetcher.gauge.max()));
            }
        }
        let (ratio, wall, sequential, max) = best.expect("at least one try");
        Err(Finding::new("fetches overlap: waiting happens in parallel")
            .observed(format!(
                "20 urls x 50 ms with limit 5 took {} in the best of {TRIES} runs: {:.0}% of the {} the fetches take one after the other (at most {max} were in flight at once); with 5 at a time it should be near 200 ms, and the check asks for at most 50%",
                ms(wall),
                ratio * 100.0,
                ms(sequential)
            ))
            .why("A fetch spends its time waiting for the network, not computing. One thread that waits for each answer in turn adds the waits up; several threads waiting at once overlap them. (In Python the GIL is released during that wait, which is why threads help I/O there too; Rust has no GIL, so the threads also compute in parallel.)")
            .fix("Run the fetches on several threads at once: up to max_concurrency of them.")
            .hint(1))
    }

    /// Holds every fetch until one more than the limit is in flight, or `hold` has passed: a
    /// correct downloader reaches the limit and lingers there; one that lets an extra fetch in
    /// is caught with it.
    struct Holder {
        limit: usize,
        hold: Duration,
        gauge: Gauge,
    }

    impl Fetch for Holder {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            let _in_flight = self.gauge.enter();
            let started = Instant::now();
            while self.gauge.max() <= self.limit && started.elapsed() < self.hold {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(body_for(url))
        }
    }

    pub fn limit_holds_and_is_reached() -> Outcome {
        const N: usize = 20;
        const LIMIT: usize = 5;
        let urls = urls("limit", N);
        let situation = "20 urls, limit 5, each fetch held up to 400 ms";
        let mut max_seen = 0;
        for _ in 0..2 {
            let fetcher = Arc::new(Holder {
                limit: LIMIT,
                hold: Duration::from_millis(400),
                gauge: Gauge::new(),
            });
            let (downloads, _) = call(
                &urls,
                fetcher.clone(),
                &config(LIMIT, 1, 1),
                Duration::from_secs(25),
                situation,
            )?;
            let max = fetcher.gauge.max();
            if max > LIMIT {
                return Err(limit_exceeded(format!(
                    "{situation}: the fetcher saw {max} fetches in flight at once"
                )));
            }
            check_shape(&urls, &downloads, situation)?;
            if max == LIMIT {
                return Ok(());
            }
            max_seen = max_seen.max(max);
            if max <= 1 {
                break;
            }
        }
        Err(Finding::new("the limit is used: max_concurrency fetches do run at once")
            .observed(format!("{situation}: at most {max_seen} fetch(es) were ever in flight at once, never 5"))
            .why("The limit is an upper bound, but a downloader that stays below it wastes time: with 20 urls waiting and 5 places, 5 fetches should be running. Too few workers, a semaphore that starts with too few permits, or holding a lock across the fetch (which serializes the fetches) keep it lower.")
            .fix("Start min(max_concurrency, urls.len()) workers (or give the semaphore max_concurrency permits), and never hold a Mutex guard while fetching.")
            .hint(1))
    }

    pub fn backoff_schedule_respected() -> Outcome {
        const BACKOFF_MS: u64 = 30;
        let urls = urls("backoff", 2);
        let fetcher = Arc::new(
            Scripted::new()
                .script(
                    &urls[0],
                    &[Step::Transient, Step::Transient, Step::Transient, Step::Ok],
                    Duration::ZERO,
                )
                .script(&urls[1], &[Step::Transient, Step::Ok], Duration::ZERO),
        );
        let situation =
            "a url failing transiently 3 times then succeeding, max_attempts 4, backoff 30 ms";
        let (downloads, _) = call(
            &urls,
            fetcher.clone(),
            &config(2, 4, BACKOFF_MS),
            Duration::from_secs(8),
            situation,
        )?;
        check_shape(&urls, &downloads, situation)?;
        if downloads[0].attempts != 4 || fetcher.calls(&urls[0]) != 4 {
            return Err(wrong_attempts(format!(
                "{situation}: it reported attempts = {} with {} fetch calls, expected 4",
                downloads[0].attempts,
                fetcher.calls(&urls[0])
            )));
        }
        let times = fetcher.call_times(&urls[0]);
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let schedule: Vec<Duration> = (0..3)
            .map(|j| Duration::from_millis(BACKOFF_MS << j))
            .collect();
        let shown = |ds: &[Duration]| ds.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ");
        let tolerance = Duration::from_millis(1);
        for (k, (gap, wanted)) in gaps.iter().zip(&schedule).enumerate() {
            ensure(*gap + tolerance >= *wanted, || {
                Finding::new("retries back off exponentially: backoff, 2 x backoff, 4 x backoff, ...")
                    .observed(format!(
                        "{situation}: attempts {} and {} were {} apart, less than the {} the schedule asks for (gaps seen: {}; schedule: {})",
                        k + 1,
                        k + 2,
                        ms(*gap),
                        ms(*wanted),
                        shown(&gaps),
                        shown(&schedule)
                    ))
                    .why("A server that failed is often overloaded; retrying at once, or at a fixed short interval, adds to the load just when it needs less. Doubling the wait each time gives it room to recover and spreads out the retries of many clients.")
                    .fix("Before attempt k (k >= 2) call crate::sync::thread::sleep(backoff * 2^(k-2)), e.g. `config.backoff * 2u32.pow(k - 2)`.")
                    .hint(3)
            })?;
            ensure(*gap <= *wanted * 3 + Duration::from_millis(250), || {
                Finding::new("retries wait the schedule, not far longer")
                    .observed(format!(
                        "{situation}: attempts {} and {} were {} apart, far more than the {} the schedule asks for (gaps seen: {}; schedule: {})",
                        k + 1,
                        k + 2,
                        ms(*gap),
                        ms(*wanted),
                        shown(&gaps),
                        shown(&schedule)
                    ))
                    .fix("The wait before attempt k is backoff * 2^(k-2): backoff before the 2nd attempt, twice that before the 3rd.")
                    .hint(3)
            })?;
        }
        Ok(())
    }

    pub fn no_thread_left_behind() -> Outcome {
        let before = thread_count().unwrap_or(1);
        let urls = urls("threads", 10);
        let fetcher = Arc::new(
            Scripted::new()
                .script(
                    &urls[2],
                    &[Step::Transient, Step::Ok],
                    Duration::from_millis(2),
                )
                .script(&urls[5], &[Step::Permanent], Duration::from_millis(2))
                .script(&urls[7], &[Step::Ok], Duration::from_millis(20)),
        );
        // Called on this thread: a helper thread would itself count.
        let downloads = download_all(&urls, fetcher, &config(4, 3, 1));
        check_shape(&urls, &downloads, "10 urls, limit 4")?;
        let after = settle_thread_count(before, Duration::from_secs(1)).unwrap_or(before);
        ensure(after <= before, || {
            Finding::new("every thread download_all starts has finished when it returns")
                .observed(format!(
                    "the process had {before} thread(s) before download_all(10 urls, limit 4) and still {after} one second after it returned: {} thread(s) left behind",
                    after - before
                ))
                .why("A worker that waits for more work (on a Condvar, or a channel that stays open) never learns there is none, and sleeps forever. Threads that are never joined keep running, or waiting, after the caller thinks the work is done: in a long-running program they pile up.")
                .fix("Make the workers end when the work runs out (an empty queue, or a `closed` flag set under the lock followed by notify_all), then join every JoinHandle before returning.")
                .hint(5)
        })
    }

    /// The end-to-end check's fetcher: two of the lesson's `HttpFetcher`s, one for `/hang` and one
    /// for the rest. `/hang` never answers, so each of its three attempts lasts exactly its timeout:
    /// a short one keeps the check quick without asking anything more of the pages that do answer,
    /// which keep all the room a loaded machine needs.
    struct HangApart {
        hang: HttpFetcher,
        rest: HttpFetcher,
    }

    /// The timeouts of [`HangApart`]: a page that answers (within [`server::SLOW`]) gets 8 times
    /// what it needs; one that never answers gets any timeout at all, so a short one.
    const ANSWERING_TIMEOUT: Duration = Duration::from_secs(2);
    const HANG_TIMEOUT: Duration = Duration::from_millis(300);

    impl Fetch for HangApart {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            if url.ends_with("/hang") {
                self.hang.fetch(url)
            } else {
                self.rest.fetch(url)
            }
        }
    }

    /// HttpFetcher::fetch at the edges of the status classes its doc names: 2xx is the body, 429
    /// and 5xx are worth retrying, every other 4xx is not.
    pub fn http_status_classes() -> Outcome {
        let server = TestServer::start()
            .map_err(|e| Finding::new("the check's HTTP server starts").observed(e))?;
        let fetcher = HttpFetcher::new(ANSWERING_TIMEOUT);
        let cases: [(u16, &str); 9] = [
            (200, "the body"),
            (299, "the body"),
            (400, "Permanent"),
            (404, "Permanent"),
            (499, "Permanent"),
            (429, "Transient"),
            (500, "Transient"),
            (503, "Transient"),
            (599, "Transient"),
        ];
        let mut wrong = Vec::new();
        for (status, want) in cases {
            let got = fetcher.fetch(&format!("{}/status/{status}", server.base));
            let right = match (&got, want) {
                (Ok(body), "the body") => body == format!("status {status}").as_bytes(),
                (Err(FetchError::Permanent(_)), "Permanent") => true,
                (Err(FetchError::Transient(_)), "Transient") => true,
                _ => false,
            };
            if !right {
                wrong.push(format!(
                    "HTTP {status} gave {} (expected {want})",
                    describe(&got)
                ));
            }
        }
        server.stop();
        ensure(wrong.is_empty(), || {
            Finding::new("HttpFetcher::fetch sorts answers by status class: 2xx is the body, 429 and 5xx are Transient, other 4xx Permanent")
                .observed(format!("fetching /status/N from the check's server on 127.0.0.1: {}", wrong.join("; ")))
                .why("A status class is a range: 200 to 299, 500 to 599. A bound off by one (200..299 leaves 299 out, 501..=599 leaves 500 out) misfiles the answers at the edge: a success read as a failure, or an overloaded server never retried.")
                .fix("match status { 200..=299 => the body, 429 | 500..=599 => Transient, _ => Permanent } (inclusive ranges, both ends).")
                .hint(3)
        })
    }

    pub fn end_to_end_http() -> Outcome {
        const LIMIT: usize = 3;
        let server = TestServer::start()
            .map_err(|e| Finding::new("the check's HTTP server starts").observed(e))?;
        let b = &server.base;
        let mut urls: Vec<String> = (0..6).map(|i| format!("{b}/slow/{i}")).collect();
        urls.extend([
            format!("{b}/flaky/2/a"),
            format!("{b}/flaky/1/b"),
            format!("{b}/missing"),
            format!("{b}/busy"),
            format!("{b}/hang"),
            format!("{}/closed", server.closing_base),
        ]);
        // (expected result, attempts, requests the server should see)
        let ok = |s: &str| Ok(s.as_bytes().to_vec());
        type Expected = (Result<Vec<u8>, &'static str>, u32);
        let mut expected: Vec<Expected> = (0..6).map(|i| (ok(&format!("slow {i}")), 1)).collect();
        expected.extend([
            (ok("flaky a"), 3),
            (ok("flaky b"), 2),
            (Err("Permanent"), 1),
            (Err("Transient"), 3),
            (Err("Transient"), 3),
            (Err("Transient"), 3),
        ]);
        let config = config(LIMIT, 3, 20);
        let situation = format!(
            "{} urls over HTTP on {b} (6 x /slow taking {} ms, /flaky/2, /flaky/1, /missing, /busy, /hang, a connection closed without an answer), limit {LIMIT}, max_attempts 3, HttpFetcher timeout {} s ({} ms for /hang)",
            urls.len(),
            server::SLOW.as_millis(),
            ANSWERING_TIMEOUT.as_secs(),
            HANG_TIMEOUT.as_millis()
        );
        let fetcher = Arc::new(HangApart {
            hang: HttpFetcher::new(HANG_TIMEOUT),
            rest: HttpFetcher::new(ANSWERING_TIMEOUT),
        });
        let outcome = call(&urls, fetcher, &config, Duration::from_secs(25), &situation);
        let result = outcome.and_then(|(downloads, _)| {
            check_shape(&urls, &downloads, &situation)?;
            for ((d, (want, attempts)), u) in downloads.iter().zip(&expected).zip(&urls) {
                let right = match (want, &d.result) {
                    (Ok(body), Ok(got)) => body == got,
                    (Err("Permanent"), Err(FetchError::Permanent(_))) => true,
                    (Err("Transient"), Err(FetchError::Transient(_))) => true,
                    _ => false,
                };
                if !right || d.attempts != *attempts {
                    let want_text = match want {
                        Ok(body) => format!("the body {:?}", String::from_utf8_lossy(body)),
                        Err(kind) => format!("a {kind} error"),
                    };
                    let finding = Finding::new("over real HTTP, each url gets its body or its error, after the right number of attempts")
                        .observed(format!(
                            "{situation}: {u} should give {want_text} after {attempts} attempt(s); it gave {} after {}",
                            describe(&d.result),
                            d.attempts
                        ));
                    return Err(if d.attempts != *attempts { wrong_attempts(finding.observed) } else { finding.hint(3) });
                }
            }
            // Requests still on their way to the server are counted once they arrive.
            let want_requests: Vec<(String, u32)> = [
                ("/flaky/2/a", 3),
                ("/flaky/1/b", 2),
                ("/missing", 1),
                ("/busy", 3),
                ("/hang", 3),
            ]
            .iter()
            .map(|(p, n)| (p.to_string(), *n))
            .chain((0..6).map(|i| (format!("/slow/{i}"), 1)))
            .collect();
            server.settle(Duration::from_secs(2), |s| {
                want_requests.iter().all(|(p, n)| s.requests(p) >= *n) && s.closed_connections() >= 3
            });
            for (path, n) in &want_requests {
                let seen = server.requests(path);
                if seen != *n {
                    return Err(wrong_attempts(format!(
                        "{situation}: the server received {seen} request(s) for {path}, expected {n}"
                    )));
                }
            }
            let closed = server.closed_connections();
            if closed != 3 {
                return Err(wrong_attempts(format!(
                    "{situation}: the closing listener accepted {closed} connection(s), expected 3 (one per attempt)"
                )));
            }
            let max = server.max_in_flight();
            if max > LIMIT {
                return Err(limit_exceeded(format!(
                    "{situation}: the server was working on {max} requests at once"
                )));
            }
            ensure(max >= 2, || {
                Finding::new("fetches overlap: waiting happens in parallel")
                    .observed(format!("{situation}: the server never had more than {max} request at a time"))
                    .why("Each request mostly waits for the server; with a limit of 3, three of them should be waiting at once.")
                    .fix("Run up to max_concurrency fetches at once, on as many threads.")
                    .hint(1)
            })
        });
        server.stop();
        result
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use downloader::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use downloader::sync::Arc;
    use downloader::{download_all, Config, Fetch, FetchError};

    /// Counts fetches in flight with the lesson's own (loom) atomics.
    struct Counting {
        in_flight: AtomicUsize,
        over: AtomicBool,
        flaky_failed: AtomicBool,
        limit: usize,
        /// The url that fails transiently on its first call, if any.
        flaky: Option<&'static str>,
    }

    impl Counting {
        fn new(limit: usize, flaky: Option<&'static str>) -> Counting {
            Counting {
                in_flight: AtomicUsize::new(0),
                over: AtomicBool::new(false),
                flaky_failed: AtomicBool::new(false),
                limit,
                flaky,
            }
        }
    }

    impl Fetch for Counting {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            if now > self.limit {
                self.over.store(true, Ordering::SeqCst);
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if Some(url) == self.flaky && !self.flaky_failed.swap(true, Ordering::SeqCst) {
                return Err(FetchError::Transient("first call fails".into()));
            }
            Ok(url.as_bytes().to_vec())
        }
    }

    pub fn model_limit_3_urls_limit_2() -> Outcome {
        explore(|| {
            let urls: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
            let fetcher = Arc::new(Counting::new(2, None));
            let config = Config {
                max_concurrency: 2,
                max_attempts: 1,
                backoff: Duration::from_millis(1),
            };
            let downloads = download_all(&urls, fetcher.clone(), &config);
            if fetcher.over.load(Ordering::SeqCst) {
                limit_exceeded("in one interleaving of download_all(3 urls, limit 2), a third fetch started while two were in flight".to_string()).raise();
            }
            let got: Vec<(String, bool, u32)> = downloads
                .iter()
                .map(|d| {
                    (
                        d.url.clone(),
                        d.result == Ok(d.url.as_bytes().to_vec()),
                        d.attempts,
                    )
                })
                .collect();
            let want: Vec<(String, bool, u32)> =
                urls.iter().map(|u| (u.clone(), true, 1)).collect();
            if got != want {
                Finding::new("every url is fetched once, in input order, in every interleaving")
                    .observed(format!("in one interleaving of download_all(3 urls, limit 2) the result was (url, body right, attempts) = {got:?}"))
                    .why("Some order of the threads' steps loses a url, fetches one twice, or puts the results out of order.")
                    .fix("Take each url in one indivisible step, and place each result by its index.")
                    .hint(4)
                    .raise();
            }
        });
        Ok(())
    }

    pub fn model_retry_then_success() -> Outcome {
        explore(|| {
            let urls: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
            let fetcher = Arc::new(Counting::new(2, Some("a")));
            let config = Config {
                max_concurrency: 2,
                max_attempts: 2,
                backoff: Duration::from_millis(1),
            };
            let downloads = download_all(&urls, fetcher.clone(), &config);
            let got: Vec<(String, bool, u32)> = downloads
                .iter()
                .map(|d| {
                    (
                        d.url.clone(),
                        d.result == Ok(d.url.as_bytes().to_vec()),
                        d.attempts,
                    )
                })
                .collect();
            let want = vec![("a".to_string(), true, 2), ("b".to_string(), true, 1)];
            if got != want {
                wrong_attempts(format!("in one interleaving of download_all(2 urls, limit 2, max_attempts 2) where url a fails transiently once, the result was (url, body right, attempts) = {got:?}, expected {want:?}")).raise();
            }
        });
        Ok(())
    }
}
