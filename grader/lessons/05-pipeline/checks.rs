//! Lesson 05 checks: a three-stage pipeline with worker pools, bounded queues and clean shutdown.
//!
//! Compiled by the grader into a harness together with the crate under test (`pipeline`).
//!
//! Every run of the pipeline here goes through a watchdog (`run_watched`): the pipeline runs on a
//! helper thread, and if it has not returned after a generous limit the check fails with a finding
//! about shutdown, instead of waiting for the grader's time limit.

use grader_harness::prelude::*;

#[cfg(not(loom))]
pub const CHECKS: &[Check] = &[
    check!(unit, std_checks::every_item_saved_once, timeout = 20),
    check!(unit, std_checks::failures_reported_per_stage, timeout = 20),
    check!(unit, std_checks::panics_contained, timeout = 20),
    check!(unit, std_checks::empty_input, timeout = 20),
    check!(unit, std_checks::one_worker_per_stage, timeout = 20),
    check!(timing, std_checks::stages_overlap, measures = wall),
    check!(timing, std_checks::pools_work_in_parallel, measures = wall),
    check!(
        timing,
        std_checks::pool_concurrency_matches_config,
        measures = wall
    ),
    check!(
        timing,
        std_checks::backpressure_bounds_fetch,
        measures = wall
    ),
    check!(timing, std_checks::no_thread_left_behind, measures = wall),
    check!(stress, std_checks::random_pipelines_account_every_item),
];

#[cfg(loom)]
pub const CHECKS: &[Check] = &[
    check!(model, model_checks::model_two_items_one_fails),
    check!(model, model_checks::model_three_items_shutdown),
];

/// The findings the unit, stress and model checks share.
fn lost_item(observed: String) -> Finding {
    Finding::new("every item is accounted for exactly once: saved, or reported as a failure")
        .observed(observed)
        .why("An item can vanish when a worker drops it on an error without recording it, when a worker dies and takes its item with it, or when the count of saved items is updated in the wrong place. It is counted twice when it is recorded both as saved and as failed.")
        .fix("Give each item exactly one way out: save returns Ok -> count it as saved; any stage returns Err or panics -> push one Failure and send nothing on.")
        .hint(3)
}

fn wrong_failures(observed: String) -> Finding {
    Finding::new("each failure is reported once, with the item's index, the stage that failed and its message, sorted by index")
        .observed(observed)
        .why("The index must travel with the item through the queues (send `(index, item)` pairs), the worker that sees the Err knows its own stage, and the failures arrive in the order the workers finish, not in input order.")
        .fix("Record `Failure { index, stage, error }` in the worker whose stage function failed, right there, and sort the failures by index before returning (`sort_by_key(|f| f.index)`).")
        .hint(3)
}

#[cfg(not(loom))]
fn failure_passed_on(observed: String) -> Finding {
    Finding::new("a failed item goes no further")
        .observed(observed)
        .why("When a stage returns Err (or panics) there is nothing valid to hand to the next stage: the item stops where it failed. Passing something on anyway makes the next stage work on an item that is already lost, and the failure gets reported in the wrong place.")
        .fix("On Err or panic, record the Failure and go back to `recv` for the next item; only an Ok value is sent to the next queue.")
        .hint(3)
}

#[cfg(not(loom))]
mod std_checks {
    use super::*;
    use pipeline::{run_pipeline, Config, Failure, Stage, Summary};
    use std::panic;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};

    /// How long a unit or stress run may take before the check calls it a hang. The runs
    /// themselves take milliseconds; the margin is for a loaded machine.
    const HANG_LIMIT: Duration = Duration::from_secs(8);
    /// Panics the checks cause on purpose start with this, so the harness doesn't print them.
    const ON_PURPOSE: &str = "on purpose:";
    const STAGES: [Stage; 3] = [Stage::Fetch, Stage::Parse, Stage::Save];

    fn config(fetch: usize, parse: usize, save: usize, capacity: usize) -> Config {
        Config {
            fetch_workers: fetch,
            parse_workers: parse,
            save_workers: save,
            queue_capacity: capacity,
        }
    }

    fn describe(c: &Config) -> String {
        format!(
            "{} fetch / {} parse / {} save workers, queue_capacity {}",
            c.fetch_workers, c.parse_workers, c.save_workers, c.queue_capacity
        )
    }

    fn stage_name(stage: Stage) -> &'static str {
        match stage {
            Stage::Fetch => "fetch",
            Stage::Parse => "parse",
            Stage::Save => "save",
        }
    }

    fn slot(stage: Stage) -> usize {
        match stage {
            Stage::Fetch => 0,
            Stage::Parse => 1,
            Stage::Save => 2,
        }
    }

    fn hang(what: &str, limit: Duration, progress: String) -> Finding {
        Finding::new("run_pipeline returns once every item is saved or failed")
            .observed(format!("{what}: run_pipeline had not returned after {} s{progress}", limit.as_secs()))
            .why("Some thread waits for something that will never happen. Usual causes: a worker blocked in `recv` on a queue that is never closed (a Sender clone still alive somewhere, perhaps in the caller or in a struct every worker shares); one sentinel sent for several workers, so the others wait forever; a worker killed by a panic while the caller waits for its item; or the caller joining workers before dropping its own sender.")
            .fix("Let the shutdown travel by dropping senders: the caller drops its sender after feeding, each worker owns its clone of the next stage's sender and drops it when its input ends, and run_pipeline holds no other clone. Catch panics around every stage call.")
            .hint(2)
    }

    /// Runs the pipeline on a helper thread and waits at most `limit` for it. Returns the summary
    /// and the wall time of the call. A todo!() is passed through so the harness reports it.
    #[allow(clippy::too_many_arguments)]
    fn run_watched<I, A, B, FF, PF, SF>(
        what: &str,
        inputs: Vec<I>,
        fetch: FF,
        parse: PF,
        save: SF,
        config: &Config,
        limit: Duration,
        progress: impl Fn() -> String,
    ) -> Result<(Summary, Duration), Finding>
    where
        I: Send + 'static,
        A: Send + 'static,
        B: Send + 'static,
        FF: Fn(I) -> Result<A, String> + Send + Sync + 'static,
        PF: Fn(A) -> Result<B, String> + Send + Sync + 'static,
        SF: Fn(B) -> Result<(), String> + Send + Sync + 'static,
    {
        let config = config.clone();
        let ran = within("run_pipeline", limit, move || {
            run_pipeline(inputs, fetch, parse, save, &config)
        });
        match ran {
            Ran::Returned(summary, wall) => Ok((summary, wall)),
            Ran::Panicked(payload) => {
                let message = panic_text(&*pass_on_todo(payload));
                let at = panic_location(&message)
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default();
                let stage_panic = quieted_panics()
                    .into_iter()
                    .find(|m| m.starts_with(ON_PURPOSE));
                // `Any { .. }`: a thread's panic, as join returned it, passed on by an unwrap.
                let passed_on = stage_panic.clone().filter(|_| message.contains("Any"));
                let finding = if let Some(stage_message) = passed_on {
                    Finding::new("a panic in a stage function stays inside the pipeline")
                        .observed(format!("{what}: a stage function panicked (\"{stage_message}\") on a worker thread, which died of it; then run_pipeline panicked{at}: {message}"))
                        .why("Nothing caught the stage function's panic, so it unwound the worker's whole thread. `join` returned that panic as Err(payload) (the `Any` in the message), and the unwrap or expect on the join passed it on: one bad item took the whole run down.")
                        .fix("Call each stage function inside `std::panic::catch_unwind(AssertUnwindSafe(|| f(item)))` and turn an Err payload into a Failure (its message is a `&str` or a `String`); the worker then lives on to take the next item.")
                        .hint(3)
                } else if message.starts_with(ON_PURPOSE) {
                    Finding::new("a panic in a stage function stays inside the pipeline")
                        .observed(format!("{what}: a stage function panicked (\"{message}\") and the panic came out of run_pipeline"))
                        .why("A panic unwinds the worker's thread; `join` hands it to whoever joins, and an `unwrap` on that passes it on. One bad item then takes the whole run down.")
                        .fix("Call each stage function inside `std::panic::catch_unwind(AssertUnwindSafe(|| f(item)))` and turn an Err payload into a Failure (its message is a `&str` or a `String`).")
                        .hint(3)
                } else {
                    Finding::new("run_pipeline runs without panicking")
                        .observed(format!("{what}: run_pipeline panicked{at}: {message}"))
                        .why(match stage_panic {
                            Some(stage_message) => format!("A panic in the pipeline's own code stops the whole run. Before it, a stage function had panicked on purpose (\"{stage_message}\"): if nothing caught that panic, it ended its worker's thread, and what run_pipeline then met (a channel closed early, a join's Err) follows from it. Catch panics around every stage call."),
                            None => "A panic in the pipeline's own code (an unwrap on a send or a join, an index out of range) stops the whole run.".to_string(),
                        })
                        .fix("Read the message and the line it names: what did that unwrap or index assume that was not so?")
                };
                Err(finding)
            }
            Ran::Hung => Err(hang(what, limit, progress())),
        }
    }

    /// What happens to an item in a planned run.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Fate {
        Saved,
        Refused(Stage),
        Panics(Stage),
    }

    impl Fate {
        /// The stage at which the item stops, if it fails.
        fn stops_at(self) -> Option<Stage> {
            match self {
                Fate::Saved => None,
                Fate::Refused(s) | Fate::Panics(s) => Some(s),
            }
        }
        fn reaches(self, stage: Stage) -> bool {
            self.stops_at().is_none_or(|s| slot(s) >= slot(stage))
        }
    }

    fn message(index: usize, stage: Stage, panics: bool) -> String {
        if panics {
            format!(
                "{ON_PURPOSE} {} panicked on item {index}",
                stage_name(stage)
            )
        } else {
            format!("{} refused item {index}", stage_name(stage))
        }
    }

    /// A run planned item by item: fates, and a delay per item and stage (0: none, 1: a yield,
    /// more: a sleep of that many microseconds).
    struct Plan {
        fates: Vec<Fate>,
        delays: Vec<[u32; 3]>,
        config: Config,
    }

    /// What the stage functions saw.
    struct Tracker {
        calls: Vec<[AtomicUsize; 3]>,
        gauges: [Gauge; 3],
    }

    impl Tracker {
        fn calls(&self, stage: Stage) -> usize {
            self.calls.iter().map(|c| c[slot(stage)].load(SeqCst)).sum()
        }
        fn progress(&self, inputs: usize) -> String {
            format!(
                "; by then fetch had been called {} times, parse {}, save {} ({inputs} inputs)",
                self.calls(Stage::Fetch),
                self.calls(Stage::Parse),
                self.calls(Stage::Save)
            )
        }
    }

    /// The value an item carries from one stage to the next: its index, so the check knows which
    /// item a call is about, and a payload the next stage verifies.
    struct Carried {
        index: usize,
        check: usize,
    }

    /// One stage call of a planned run: counts it, waits as planned, then does what the fate says.
    fn visit(plan: &Plan, tracker: &Tracker, stage: Stage, index: usize) -> Result<(), String> {
        let _inside = tracker.gauges[slot(stage)].enter();
        tracker.calls[index][slot(stage)].fetch_add(1, SeqCst);
        match plan.delays[index][slot(stage)] {
            0 => {}
            1 => std::thread::yield_now(),
            us => std::thread::sleep(Duration::from_micros(us as u64)),
        }
        match plan.fates[index] {
            Fate::Refused(s) if s == stage => Err(message(index, stage, false)),
            Fate::Panics(s) if s == stage => panic!("{}", message(index, stage, true)),
            _ => Ok(()),
        }
    }

    /// Runs a plan through the pipeline under the watchdog.
    fn run_plan(what: &str, plan: Plan) -> Result<(Summary, Arc<Plan>, Arc<Tracker>), Finding> {
        quiet_panics_starting_with(ON_PURPOSE);
        let n = plan.fates.len();
        let config = plan.config.clone();
        let plan = Arc::new(plan);
        let tracker = Arc::new(Tracker {
            calls: (0..n).map(|_| Default::default()).collect(),
            gauges: Default::default(),
        });
        let (p1, t1, p2, t2, p3, t3) = (
            plan.clone(),
            tracker.clone(),
            plan.clone(),
            tracker.clone(),
            plan.clone(),
            tracker.clone(),
        );
        let fetch = move |index: usize| {
            visit(&p1, &t1, Stage::Fetch, index).map(|()| Carried {
                index,
                check: index * 7 + 1,
            })
        };
        let parse = move |item: Carried| {
            assert_eq!(
                item.check,
                item.index * 7 + 1,
                "parse received the value fetch returned"
            );
            visit(&p2, &t2, Stage::Parse, item.index).map(|()| Carried {
                index: item.index,
                check: item.index * 7 + 2,
            })
        };
        let save = move |item: Carried| {
            assert_eq!(
                item.check,
                item.index * 7 + 2,
                "save received the value parse returned"
            );
            visit(&p3, &t3, Stage::Save, item.index)
        };
        let watcher = tracker.clone();
        let (summary, _) = run_watched(
            what,
            (0..n).collect(),
            fetch,
            parse,
            save,
            &config,
            HANG_LIMIT,
            move || watcher.progress(n),
        )?;
        Ok((summary, plan, tracker))
    }

    /// Compares what the pipeline did with what the plan says must happen.
    fn account(what: &str, summary: &Summary, plan: &Plan, tracker: &Tracker) -> Outcome {
        // 1. Each stage saw each item at most once, and exactly the items that reached it.
        for (index, fate) in plan.fates.iter().enumerate() {
            for stage in STAGES {
                let calls = tracker.calls[index][slot(stage)].load(SeqCst);
                let expected = usize::from(fate.reaches(stage));
                if calls > expected && expected == 1 {
                    return Err(lost_item(format!(
                        "{what}: {} was called {calls} times for item {index}: each item must go through each stage once",
                        stage_name(stage)
                    )));
                }
                if calls > expected {
                    let failed = fate
                        .stops_at()
                        .expect("an item that doesn't reach a stage failed before it");
                    return Err(failure_passed_on(format!(
                        "{what}: item {index} failed in {} (its stage function {}), yet {} was then called for it",
                        stage_name(failed),
                        if matches!(fate, Fate::Panics(_)) { "panicked" } else { "returned Err" },
                        stage_name(stage)
                    )));
                }
                if calls < expected {
                    return Err(lost_item(format!(
                        "{what}: item {index} should have gone through {}, but {} was never called for it (run_pipeline returned {} saved and {} failures)",
                        match fate.stops_at() {
                            None => "all three stages".to_string(),
                            Some(s) => format!("the stages up to {}", stage_name(s)),
                        },
                        stage_name(stage),
                        summary.saved,
                        summary.failures.len()
                    )));
                }
            }
        }
        // 2. The failures: sorted, one per failed item, with the right stage and message.
        let indices: Vec<usize> = summary.failures.iter().map(|f| f.index).collect();
        if indices.windows(2).any(|w| w[0] > w[1]) {
            return Err(wrong_failures(format!("{what}: the failures came back in the order of indices {indices:?}, not sorted by index")));
        }
        if let Some(w) = indices.windows(2).find(|w| w[0] == w[1]) {
            return Err(lost_item(format!(
                "{what}: item {} is reported as a failure twice",
                w[0]
            )));
        }
        for failure in &summary.failures {
            let Failure {
                index,
                stage,
                error,
            } = failure;
            let Some(fate) = plan.fates.get(*index) else {
                return Err(wrong_failures(format!(
                    "{what}: a failure names index {index}, but there were only {} inputs",
                    plan.fates.len()
                )));
            };
            match fate {
                Fate::Saved => {
                    return Err(wrong_failures(format!(
                        "{what}: item {index} is reported as failed in {} with {error:?}, but every stage function returned Ok for it",
                        stage_name(*stage)
                    )))
                }
                Fate::Refused(s) | Fate::Panics(s) => {
                    let panics = matches!(fate, Fate::Panics(_));
                    let expected = message(*index, *s, panics);
                    if stage != s {
                        return Err(wrong_failures(format!(
                            "{what}: item {index} failed in {}, but the failure says {:?}",
                            stage_name(*s),
                            stage
                        )));
                    }
                    // A panic's message may be wrapped ("panicked: ..."), an Err's comes back as it is.
                    let right = if panics { error.contains(&expected) } else { *error == expected };
                    if !right {
                        return Err(wrong_failures(format!(
                            "{what}: item {index} failed in {} with {} {expected:?}, but the failure's error is {error:?}",
                            stage_name(*s),
                            if panics { "a panic whose message is" } else { "Err" }
                        )));
                    }
                }
            }
        }
        let failed: Vec<usize> = plan
            .fates
            .iter()
            .enumerate()
            .filter(|(_, f)| **f != Fate::Saved)
            .map(|(i, _)| i)
            .collect();
        if let Some(missing) = failed.iter().find(|i| !indices.contains(i)) {
            let fate = plan.fates[*missing];
            let stage = fate.stops_at().expect("a failed item has a stage");
            let f = if matches!(fate, Fate::Panics(_)) {
                "panicked"
            } else {
                "returned Err"
            };
            return Err(lost_item(format!(
                "{what}: {} {f} for item {missing}, but `failures` has no entry for it ({} failures reported, {} expected)",
                stage_name(stage),
                summary.failures.len(),
                failed.len()
            )));
        }
        // 3. The saved count.
        let saved = plan.fates.iter().filter(|f| **f == Fate::Saved).count();
        if summary.saved != saved {
            return Err(lost_item(format!(
                "{what}: save returned Ok for {saved} of {} items, but the summary says saved = {}",
                plan.fates.len(),
                summary.saved
            )));
        }
        Ok(())
    }

    fn plan(config: Config, fates: Vec<Fate>, delays: impl Fn(usize, Stage) -> u32) -> Plan {
        let delays = (0..fates.len())
            .map(|i| STAGES.map(|s| delays(i, s)))
            .collect();
        Plan {
            fates,
            delays,
            config,
        }
    }

    fn run_and_account(what: &str, plan: Plan) -> Result<Arc<Tracker>, Finding> {
        let (summary, plan, tracker) = run_plan(what, plan)?;
        account(what, &summary, &plan, &tracker)?;
        Ok(tracker)
    }

    pub fn every_item_saved_once() -> Outcome {
        let c = config(3, 2, 2, 2);
        let what = format!("60 items, every stage returning Ok, {}", describe(&c));
        let p = plan(
            c,
            vec![Fate::Saved; 60],
            |i, _| if i % 3 == 0 { 1 } else { 0 },
        );
        run_and_account(&what, p).map(drop)
    }

    pub fn failures_reported_per_stage() -> Outcome {
        let fates = (0..30)
            .map(|i| match i % 6 {
                1 => Fate::Refused(Stage::Fetch),
                3 => Fate::Refused(Stage::Parse),
                5 => Fate::Refused(Stage::Save),
                _ => Fate::Saved,
            })
            .collect();
        let c = config(2, 2, 2, 2);
        let what = format!("30 items, items 1, 7, 13, .. refused by fetch, 3, 9, .. by parse, 5, 11, .. by save, {}", describe(&c));
        run_and_account(&what, plan(c, fates, |_, _| 0))?;
        // Item 0 fails late (its parse sleeps 400 ms, then save refuses it), item 1 fails early in
        // fetch: the failures are found out of order and must come back sorted.
        let c = config(1, 1, 1, 2);
        let what = format!(
            "item 0 refused by save after a slow parse, item 1 refused by fetch at once, {}",
            describe(&c)
        );
        let p = plan(
            c,
            vec![
                Fate::Refused(Stage::Save),
                Fate::Refused(Stage::Fetch),
                Fate::Saved,
            ],
            |i, s| {
                if i == 0 && s == Stage::Parse {
                    400_000
                } else {
                    0
                }
            },
        );
        run_and_account(&what, p).map(drop)
    }

    pub fn panics_contained() -> Outcome {
        let fates: Vec<Fate> = (0..24)
            .map(|i| match i % 6 {
                0 => Fate::Panics(Stage::Fetch),
                2 => Fate::Panics(Stage::Parse),
                4 => Fate::Panics(Stage::Save),
                _ => Fate::Saved,
            })
            .collect();
        for c in [config(2, 2, 2, 2), config(1, 1, 1, 1)] {
            let what = format!("24 items, items 0, 6, 12, 18 panicking in fetch, 2, 8, .. in parse, 4, 10, .. in save, {}", describe(&c));
            run_and_account(&what, plan(c, fates.clone(), |_, _| 0))?;
        }
        // A panic with a plain `&str` payload (panic!("literal")) must be reported too.
        quiet_panics_starting_with(ON_PURPOSE);
        let c = config(1, 1, 1, 1);
        let (summary, _) = run_watched(
            "3 items, parse panicking with a literal message on item 1",
            vec![0usize, 1, 2],
            Ok::<usize, String>,
            |x: usize| {
                if x == 1 {
                    panic!("on purpose: a literal message")
                } else {
                    Ok(x)
                }
            },
            |_: usize| Ok(()),
            &c,
            HANG_LIMIT,
            String::new,
        )?;
        let good = summary.saved == 2
            && summary.failures.len() == 1
            && summary.failures[0].index == 1
            && summary.failures[0].stage == Stage::Parse
            && summary.failures[0]
                .error
                .contains("on purpose: a literal message");
        ensure(good, || {
            wrong_failures(format!(
                "3 items, parse panicking with panic!(\"on purpose: a literal message\") on item 1: got saved = {}, failures = {:?}; expected saved = 2 and one Failure {{ index: 1, stage: Parse, error: \"on purpose: a literal message\" }}",
                summary.saved, summary.failures
            ))
            .fix("A panic payload is a `&str` for panic!(\"literal\") and a `String` for panic!(\"{x}\"): try `downcast_ref::<&str>()`, then `downcast_ref::<String>()`.")
        })
    }

    pub fn empty_input() -> Outcome {
        let c = config(2, 2, 2, 1);
        let calls = Arc::new(AtomicUsize::new(0));
        let (c1, c2, c3) = (calls.clone(), calls.clone(), calls.clone());
        let (summary, _) = run_watched(
            &format!("no inputs, {}", describe(&c)),
            Vec::<usize>::new(),
            move |x: usize| {
                c1.fetch_add(1, SeqCst);
                Ok(x)
            },
            move |x: usize| {
                c2.fetch_add(1, SeqCst);
                Ok(x)
            },
            move |_: usize| {
                c3.fetch_add(1, SeqCst);
                Ok(())
            },
            &c,
            HANG_LIMIT,
            String::new,
        )?;
        ensure(
            summary
                == Summary {
                    saved: 0,
                    failures: vec![],
                }
                && calls.load(SeqCst) == 0,
            || {
                Finding::new("an empty input gives an empty summary")
                .observed(format!(
                    "no inputs: got saved = {}, {} failures, and {} stage calls; expected 0, 0 and 0",
                    summary.saved,
                    summary.failures.len(),
                    calls.load(SeqCst)
                ))
                .why("With nothing to feed, the first queue closes at once and the shutdown goes straight through the three pools.")
            },
        )
    }

    pub fn one_worker_per_stage() -> Outcome {
        let c = config(1, 1, 1, 1);
        let fates = (0..20)
            .map(|i| match i % 5 {
                1 => Fate::Refused(Stage::Parse),
                3 => Fate::Panics(Stage::Save),
                _ => Fate::Saved,
            })
            .collect();
        let what = format!(
            "20 items, some refused by parse, some panicking in save, {}",
            describe(&c)
        );
        let tracker =
            run_and_account(&what, plan(c, fates, |i, _| if i % 2 == 0 { 1 } else { 0 }))?;
        for stage in STAGES {
            let most = tracker.gauges[slot(stage)].max();
            ensure(most <= 1, || too_many_workers(&what, stage, most, 1))?;
        }
        Ok(())
    }

    fn too_many_workers(what: &str, stage: Stage, seen: usize, configured: usize) -> Finding {
        Finding::new("each pool runs exactly as many workers as configured")
            .observed(format!(
                "{what}: {seen} {} calls ran at the same time, but the config asks for {configured} {} worker(s)",
                stage_name(stage),
                stage_name(stage)
            ))
            .why("The worker counts are the pipeline's concurrency limits: the save pool's size, for instance, is how many writes hit the database at once. More threads than configured break that promise.")
            .fix("Spawn exactly `config.fetch_workers` fetch threads, `config.parse_workers` parse threads and `config.save_workers` save threads.")
            .hint(1)
    }

    /// A pipeline whose stage functions just sleep `delay`. Returns the wall time of the call and,
    /// per stage, the time actually spent inside that stage's calls. On a loaded machine a sleep
    /// overshoots; comparing the wall time with the time really spent in the calls, rather than with
    /// the nominal delays, keeps the verdict the same however busy the machine is.
    fn sleeping_run(
        what: &str,
        items: usize,
        delay: Duration,
        c: &Config,
    ) -> Result<(Duration, [Duration; 3]), Finding> {
        let spent: Arc<[AtomicUsize; 3]> = Arc::default(); // microseconds
        let nap = move |stage: usize, spent: &[AtomicUsize; 3]| {
            let started = Instant::now();
            std::thread::sleep(delay);
            spent[stage].fetch_add(started.elapsed().as_micros() as usize, SeqCst);
        };
        let (s1, s2, s3) = (spent.clone(), spent.clone(), spent.clone());
        let (summary, wall) = run_watched(
            what,
            (0..items).collect(),
            move |x: usize| {
                nap(0, &s1);
                Ok::<usize, String>(x)
            },
            move |x: usize| {
                nap(1, &s2);
                Ok::<usize, String>(x)
            },
            move |_: usize| {
                nap(2, &s3);
                Ok(())
            },
            c,
            Duration::from_secs(25),
            String::new,
        )?;
        ensure(
            summary.saved == items && summary.failures.is_empty(),
            || {
                lost_item(format!(
                    "{what}: every stage returned Ok, but the summary says saved = {}, {} failures",
                    summary.saved,
                    summary.failures.len()
                ))
            },
        )?;
        Ok((
            wall,
            [0, 1, 2].map(|i| Duration::from_micros(spent[i].load(SeqCst) as u64)),
        ))
    }

    pub fn stages_overlap() -> Outcome {
        const ITEMS: u32 = 12;
        let delay = Duration::from_millis(40);
        let c = config(1, 1, 1, 2);
        let what = format!(
            "{ITEMS} items, each stage sleeping {} per item, {}",
            ms(delay),
            describe(&c)
        );
        let (wall, spent) = sleeping_run(&what, ITEMS as usize, delay, &c)?;
        // One after another, the run takes at least the sum of every call; overlapping, about the
        // slowest stage's share (a third of that here) plus the first and last items' trips.
        let sum: Duration = spent.iter().sum();
        let share = *spent.iter().max().unwrap();
        let allowed = sum.mul_f64(0.75);
        ensure(wall < allowed, || {
            Finding::new("the three stages work at the same time")
                .observed(format!(
                    "{what}: the run took {}, while the stage calls took {} in all ({} in fetch, {} in parse, {} in save). Overlapping, the run needs about the slowest stage's share, {}, plus one item's trip through the other two; one after another it needs the whole sum. The check allows up to 75% of the sum, {}.",
                    ms(wall),
                    ms(sum),
                    ms(spent[0]),
                    ms(spent[1]),
                    ms(spent[2]),
                    ms(share),
                    ms(allowed)
                ))
                .why("In a pipeline, parse works on item 1 while fetch already gets item 2: each stage has its own threads, started together, and the queues pass items along as soon as they are ready. Running fetch over all items, then parse over all, then save, makes the total the sum of the stages.")
                .fix("Spawn all three pools before feeding the first queue, and let each worker send each result on as soon as it has it; don't collect a stage's results into a Vec first.")
                .hint(1)
        })
    }

    pub fn pools_work_in_parallel() -> Outcome {
        const ITEMS: u32 = 32;
        let delay = Duration::from_millis(40);
        let c = config(4, 4, 4, 4);
        let what = format!(
            "{ITEMS} items, each stage sleeping {} per item, {}",
            ms(delay),
            describe(&c)
        );
        let (wall, spent) = sleeping_run(&what, ITEMS as usize, delay, &c)?;
        // One worker per stage needs at least the busiest stage's total; four need about a quarter.
        let busiest = *spent.iter().max().unwrap();
        let allowed = busiest.mul_f64(0.7);
        ensure(wall < allowed, || {
            Finding::new("the workers of a pool work in parallel")
                .observed(format!(
                    "{what}: the run took {}, while the busiest stage's calls took {} in all. With 4 workers sharing that work the run needs about a quarter of it, {}, plus one item's trip through the other stages; one worker at a time needs all of it. The check allows up to 70%, {}.",
                    ms(wall),
                    ms(busiest),
                    ms(busiest / 4),
                    ms(allowed)
                ))
                .why("A pool of N workers sharing one queue (fan-out) handles N items at once, so each stage's time divides by N. If only one thread per stage runs, or the workers take turns under one lock held during the stage call, the pool is no faster than one worker.")
                .fix("Spawn the configured number of threads per stage, each with a clone of the stage's Receiver, and never hold a lock while a stage function runs.")
                .hint(1)
        })
    }

    /// Runs 24 items with one stage slow and the others instant, so that stage's queue stays full,
    /// and measures that stage's concurrency. Each call waits (up to a deadline) until all the
    /// pool's workers are inside at once, then holds its item 10 ms more.
    fn saturate(stage: Stage, c: &Config) -> Outcome {
        let target = [c.fetch_workers, c.parse_workers, c.save_workers][slot(stage)];
        let gauge = Arc::new(Gauge::new());
        let gave_up = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(3);
        let (g, gu) = (gauge.clone(), gave_up.clone());
        let slow = move |x: usize| {
            let _inside = g.enter();
            while g.max() < target && !gu.load(SeqCst) {
                if Instant::now() >= deadline {
                    gu.store(true, SeqCst);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(10));
            Ok::<usize, String>(x)
        };
        let quick = |x: usize| Ok::<usize, String>(x);
        let what = format!("24 items, {} slow, {}", stage_name(stage), describe(c));
        let items: Vec<usize> = (0..24).collect();
        let limit = Duration::from_secs(20);
        let (summary, _) = match stage {
            Stage::Fetch => run_watched(
                &what,
                items,
                slow,
                quick,
                |_: usize| Ok(()),
                c,
                limit,
                String::new,
            )?,
            Stage::Parse => run_watched(
                &what,
                items,
                quick,
                slow,
                |_: usize| Ok(()),
                c,
                limit,
                String::new,
            )?,
            Stage::Save => run_watched(
                &what,
                items,
                quick,
                quick,
                move |x: usize| slow(x).map(drop),
                c,
                limit,
                String::new,
            )?,
        };
        ensure(summary.saved == 24, || {
            lost_item(format!(
                "{what}: every stage returned Ok, but the summary says saved = {}",
                summary.saved
            ))
        })?;
        let most = gauge.max();
        ensure(most <= target, || {
            too_many_workers(&what, stage, most, target)
        })?;
        ensure(most == target, || {
            Finding::new("each pool runs exactly as many workers as configured")
                .observed(format!(
                    "{what}: with {} items always waiting, at most {most} {} call(s) ran at the same time (waited 3 s for {target})",
                    stage_name(stage),
                    stage_name(stage)
                ))
                .why("A pool of N workers should keep N items in progress when its queue is full. Fewer means fewer threads than configured, or workers that take turns (a lock held around the stage call, or one shared receiver locked for the whole loop).")
                .fix("Spawn the configured number of threads for each stage, and hold no lock while a stage function runs.")
                .hint(1)
        })
    }

    pub fn pool_concurrency_matches_config() -> Outcome {
        // Different sizes for the three pools, so a mix-up between them shows.
        let c = config(2, 3, 4, 2);
        for stage in STAGES {
            saturate(stage, &c)?;
        }
        Ok(())
    }

    pub fn backpressure_bounds_fetch() -> Outcome {
        const ITEMS: usize = 40;
        for c in [config(1, 1, 1, 1), config(2, 2, 1, 3)] {
            let bound = 2 * c.queue_capacity + c.fetch_workers + c.parse_workers + c.save_workers;
            let fetched = Arc::new(AtomicUsize::new(0));
            let saving = Arc::new(AtomicUsize::new(0));
            let worst = Arc::new(Mutex::new((0usize, 0usize, 0usize)));
            let (f, s, w) = (fetched.clone(), saving.clone(), worst.clone());
            let fetch = move |x: usize| {
                let mine = f.fetch_add(1, SeqCst) + 1;
                let saves = s.load(SeqCst);
                let mut worst = w.lock().unwrap();
                if mine.saturating_sub(saves) > worst.0 {
                    *worst = (mine - saves, mine, saves);
                }
                Ok::<usize, String>(x)
            };
            let s2 = saving.clone();
            let save = move |_: usize| {
                s2.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                Ok(())
            };
            let what = format!(
                "{ITEMS} items, save sleeping 10 ms per item, fetch and parse instant, {}",
                describe(&c)
            );
            let (summary, _) = run_watched(
                &what,
                (0..ITEMS).collect(),
                fetch,
                Ok::<usize, String>,
                save,
                &c,
                Duration::from_secs(25),
                String::new,
            )?;
            ensure(summary.saved == ITEMS, || {
                lost_item(format!(
                    "{what}: every stage returned Ok, but the summary says saved = {}",
                    summary.saved
                ))
            })?;
            let (ahead, mine, saves) = *worst.lock().unwrap();
            ensure(ahead <= bound, || {
                Finding::new("a slow stage holds the earlier ones back (backpressure)")
                    .observed(format!(
                        "{what}: fetch started item number {mine} when save had started only {saves}: fetch ran {ahead} items ahead of save. Two queues of {} plus one item per worker ({} + {} + {}) allow at most {bound}.",
                        c.queue_capacity, c.fetch_workers, c.parse_workers, c.save_workers
                    ))
                    .why("A bounded queue makes `send` wait while it is full, so a fast stage can never get more than the queue's capacity ahead of the next one. With an unbounded queue (or a Vec filled first) the fast stage runs through every input and the items pile up in memory in front of the slow one.")
                    .fix("Connect the stages with `channel::bounded(config.queue_capacity)` and send each result straight into it; keep no other buffer between stages.")
                    .hint(4)
            })?;
        }
        Ok(())
    }

    pub fn no_thread_left_behind() -> Outcome {
        let before = thread_count();
        let c = config(3, 3, 3, 2);
        let fates = (0..30)
            .map(|i| match i % 7 {
                2 => Fate::Refused(Stage::Fetch),
                4 => Fate::Panics(Stage::Parse),
                6 => Fate::Refused(Stage::Save),
                _ => Fate::Saved,
            })
            .collect();
        let what = format!("30 items, some failing, {}", describe(&c));
        // Only the threads are judged here: what the run returned is other checks' business (a
        // summary out of order must not fail a check named after threads).
        run_plan(
            &what,
            plan(c, fates, |i, _| if i % 4 == 0 { 300 } else { 0 }),
        )?;
        every_thread_joined("run_pipeline", &what).map_err(|f| f.hint(2))?;
        // A thread kept alive without its handle being dropped (stored, forgotten) shows only
        // in the count.
        let Some(before) = before else {
            return Ok(()); // no /proc: no count to compare
        };
        let after = settle_thread_count(before, Duration::from_secs(3)).unwrap_or(before);
        ensure(after <= before, || {
            Finding::new("every thread the pipeline starts has finished when run_pipeline returns")
                .observed(format!(
                    "{what}: the process had {before} threads before the call and still {after} three seconds after it returned: {} of the pipeline's threads are still alive",
                    after - before
                ))
                .why("A worker that is never joined, and waits in `recv` on a queue that never closes, stays blocked for the life of the program, holding its memory and whatever it captured. That happens when something still owns a Sender of its queue: the caller, a struct every worker shares, or a worker of the same stage.")
                .fix("Join every JoinHandle before returning, and make sure the joins can finish: each queue's senders must all be dropped once their producers are done.")
                .hint(2)
        })
    }

    pub fn random_pipelines_account_every_item() -> Outcome {
        const RUNS: usize = 400;
        let budget = Duration::from_secs(25);
        let started = Instant::now();
        let mut rng = Rng::from_clock();
        let seed = rng.seed();
        for run in 1..=RUNS {
            if run > 20 && started.elapsed() > budget {
                break; // a loaded machine: fewer runs, never a false timeout
            }
            let items = rng.below(31) as usize;
            let c = config(
                1 + rng.below(5) as usize,
                1 + rng.below(5) as usize,
                1 + rng.below(5) as usize,
                1 + rng.below(4) as usize,
            );
            let panics_allowed = run % 3 == 0;
            let fates: Vec<Fate> = (0..items)
                .map(|_| {
                    let stage = STAGES[rng.below(3) as usize];
                    match rng.below(100) {
                        0..=74 => Fate::Saved,
                        75..=89 => Fate::Refused(stage),
                        _ if panics_allowed => Fate::Panics(stage),
                        _ => Fate::Refused(stage),
                    }
                })
                .collect();
            let delays: Vec<[u32; 3]> = (0..items)
                .map(|_| {
                    [(); 3].map(|()| match rng.below(10) {
                        0..=5 => 0,
                        6 | 7 => 1,
                        _ => 2 + rng.below(300) as u32,
                    })
                })
                .collect();
            let what = format!(
                "stress run {run} (seed {seed}): {items} items ({} saved, {} failing), {}",
                fates.iter().filter(|f| **f == Fate::Saved).count(),
                fates.iter().filter(|f| **f != Fate::Saved).count(),
                describe(&c)
            );
            run_and_account(
                &what,
                Plan {
                    fates,
                    delays,
                    config: c,
                },
            )?;
        }
        Ok(())
    }
}

#[cfg(loom)]
mod model_checks {
    use super::*;
    use pipeline::{run_pipeline, Config, Failure, Stage, Summary};

    /// Explores `f` with at most one preemption (see the checks below); a deadlock is told in
    /// channels, which is all the pipeline waits in.
    fn model(check: &'static str, f: impl Fn() + Sync + Send + 'static) -> Outcome {
        explore_explaining(check, Some(1), never_shut_down, move || {
            grader_harness::model::threads(&[]);
            grader_harness::model::doing(0, "the caller was in run_pipeline");
            f()
        })
    }

    fn never_shut_down(observed: String) -> Finding {
        Finding::new("run_pipeline returns in every interleaving: the end of the input reaches every stage")
            .observed(observed)
            .why("Every thread of the pipeline waits in a channel: a worker in recv until an item comes or every Sender of its input is dropped, a sender in send while the next channel is full. A Sender that outlives the stage feeding its channel (a clone the caller kept, or a worker holding a sender of its own input) means recv never sees the end; a caller that feeds every input before the workers exist waits in send on a full channel nobody reads. The timeline shows each thread's last send and recv.")
            .fix("Drop the caller's Sender once every input is sent, move each stage's Sender clones into that stage's workers and keep no other, and spawn every worker before feeding the first channel.")
            .hint(2)
    }

    fn one_worker_each() -> Config {
        Config {
            fetch_workers: 1,
            parse_workers: 1,
            save_workers: 1,
            queue_capacity: 1,
        }
    }

    fn expect(what: &str, got: Summary, expected: Summary) {
        if got.saved != expected.saved || got.failures.len() != expected.failures.len() {
            lost_item(format!(
                "in one interleaving of {what}: run_pipeline returned saved = {} with failures {:?}; expected saved = {} with failures {:?}",
                got.saved, got.failures, expected.saved, expected.failures
            ))
            .raise();
        }
        if got != expected {
            wrong_failures(format!(
                "in one interleaving of {what}: the failures were {:?}, expected {:?}",
                got.failures, expected.failures
            ))
            .raise();
        }
    }

    /// Item 1 of two is refused by parse. Every interleaving must save item 0, report item 1, shut
    /// the three pools down and return.
    ///
    /// Four threads and three channels make a large model: with the kit's default bound of 3
    /// preemptions it takes minutes, with 2 up to a minute on a busy machine. One preemption per
    /// interleaving keeps it to seconds and still finds shutdowns that never arrive (those need no
    /// preemption at all) and items lost or counted twice.
    pub fn model_two_items_one_fails() -> Outcome {
        model("model_two_items_one_fails", || {
            let summary = run_pipeline(
                vec![0u32, 1],
                Ok::<u32, String>,
                |x: u32| {
                    if x == 1 {
                        Err("parse refused item 1".to_string())
                    } else {
                        Ok(x)
                    }
                },
                |_: u32| Ok(()),
                &one_worker_each(),
            );
            let expected = Summary {
                saved: 1,
                failures: vec![Failure {
                    index: 1,
                    stage: Stage::Parse,
                    error: "parse refused item 1".into(),
                }],
            };
            expect(
                "2 items, item 1 refused by parse, one worker per stage, capacity 1",
                summary,
                expected,
            );
        })
    }

    /// Three items, the middle one refused by fetch: the queues fill and empty in every order, and
    /// the shutdown must still reach the save pool after the last item.
    ///
    /// One more item makes the model about fifteen times larger: also one preemption at most.
    pub fn model_three_items_shutdown() -> Outcome {
        model("model_three_items_shutdown", || {
            let summary = run_pipeline(
                vec![0u32, 1, 2],
                |x: u32| {
                    if x == 1 {
                        Err("fetch refused item 1".to_string())
                    } else {
                        Ok(x)
                    }
                },
                Ok::<u32, String>,
                |_: u32| Ok(()),
                &one_worker_each(),
            );
            let expected = Summary {
                saved: 2,
                failures: vec![Failure {
                    index: 1,
                    stage: Stage::Fetch,
                    error: "fetch refused item 1".into(),
                }],
            };
            expect(
                "3 items, item 1 refused by fetch, one worker per stage, capacity 1",
                summary,
                expected,
            );
        })
    }
}
