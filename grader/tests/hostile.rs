//! The hostile class (tests/fixtures/hostile-01, see its README) graded by `grader grade` beside an
//! honest submission, twice: once in full, once from the cache. Each attack must earn only what
//! its wrong code earns, the honest submission full marks, both runs the same grades, and nothing
//! an attack started may be running once the grader has exited.
//!
//! Every attack's submission has the same bug (ids from 0), and the attack runs in the checks that
//! bug fails; how each of those checks must end is written down below, and every other check must
//! pass, so its expected score is the lesson's maximum (from curriculum.toml) minus the bug's
//! checks' points. The evidence is what the attack itself printed about each attempt, in the report.
//! Where this system's sandbox lacks a protection the class relies on, the test says so and stops.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{grader, kit_root, lesson_points, processes_with, protections};

/// Every attack's submission hands out ids from 0 (class-01's dave has the same bug), which loses
/// these, deterministically and fast.
const BUG: [(&str, &[&str]); 3] = [
    ("ids_one_thread", &["fail"]),
    ("ids_unique_8_threads", &["fail"]),
    ("ids_two_threads", &["fail"]),
];
/// The checks that call `IdGenerator::new()` under std, where each attack runs: checks its bug
/// fails anyway, so that what an attack prints is kept in the report (a passing check's output is
/// not) and a forged pass would show.
const ATTACKED: [&str; 2] = ["ids_one_thread", "ids_unique_8_threads"];

/// What one attack must get: how the checks it runs in end, and what the report must show of it:
/// `(check, words)` found in that check's message or captured output.
struct Attack {
    id: &'static str,
    /// Each of [`ATTACKED`] ends with one of these statuses (empty: as the bug alone fails them).
    attacked: &'static [&'static str],
    evidence: &'static [(&'static str, &'static str)],
}

const CLASS: &[Attack] = &[
    Attack {
        id: "forges-the-record",
        attacked: &["crash"],
        evidence: &[
            ("ids_one_thread", "before the check finished"),
            (
                "ids_one_thread",
                "route env: no result file or nonce in the environment",
            ),
            ("ids_one_thread", "route environ: Permission denied"),
            ("ids_one_thread", "route fd 3: No such device or address"),
            ("ids_one_thread", "route stdout: printed a forged record"),
        ],
    },
    Attack {
        id: "escapes-and-survives",
        attacked: &[],
        evidence: &[
            ("ids_one_thread", "in a process group of its own"),
            ("ids_one_thread", "escape: setsid: Permission denied"),
        ],
    },
    Attack {
        id: "stalls-the-pipes",
        attacked: &[],
        evidence: &[("ids_one_thread", "stall: holder")],
    },
    Attack {
        id: "tampers-with-the-grades",
        attacked: &[],
        evidence: &[
            (
                "ids_one_thread",
                "plant in the grade cache: Permission denied",
            ),
            ("ids_one_thread", "the grade cache: Permission denied"),
            (
                "ids_one_thread",
                "the gradebook: looking for the grader in /proc: Permission denied",
            ),
        ],
    },
    Attack {
        id: "sabotages-a-classmate",
        attacked: &[],
        evidence: &[
            (
                "ids_one_thread",
                "the classmates' sources: Permission denied",
            ),
            (
                "ids_one_thread",
                "the running checks: /proc: Permission denied",
            ),
        ],
    },
    Attack {
        id: "kills-the-grader",
        attacked: &[],
        evidence: &[
            (
                "ids_one_thread",
                "kill: the ancestors of 1: Permission denied",
            ),
            (
                "ids_one_thread",
                "kill: kill -s KILL -- 1: Permission denied",
            ),
        ],
    },
    Attack {
        id: "oversized-record",
        attacked: &["fail"],
        evidence: &[("ids_one_thread", "none woken for")],
    },
    Attack {
        id: "floods-its-output",
        attacked: &["crash"],
        evidence: &[("ids_one_thread", "it printed more than 16 MiB")],
    },
    Attack {
        id: "eats-memory",
        attacked: &["crash"],
        evidence: &[("ids_one_thread", "MiB of memory (the limit is 512 MiB)")],
    },
];

const HONEST: &str = "honest";
/// Every process an attack starts carries `HOSTILE_MARKER=grader-test-hostile-...`.
const MARKER: &str = "grader-test-hostile-";

impl Attack {
    /// The statuses `check` may have, or `None` when it must pass.
    fn loses(&self, check: &str) -> Option<&'static [&'static str]> {
        if ATTACKED.contains(&check) && !self.attacked.is_empty() {
            return Some(self.attacked);
        }
        BUG.iter().find(|(c, _)| *c == check).map(|(_, s)| *s)
    }
}

/// The class: each fixture attack as a submission (the solution with ids from 0, whose
/// `IdGenerator::new()` runs the attack once per check process, std only), and the solution.
fn make_class(root: &Path) -> PathBuf {
    let kit = kit_root();
    let fixtures = kit.join("grader/tests/fixtures/hostile-01");
    let solution = std::fs::read_to_string(kit.join("solutions/01-race-fix/src/lib.rs")).unwrap();
    let buggy = solution.replace(
        "self.last.fetch_add(1, Ordering::Relaxed) + 1",
        "self.last.fetch_add(1, Ordering::Relaxed)",
    );
    assert_ne!(
        buggy, solution,
        "IdGenerator::next_id changed: update this test"
    );
    let hooked = buggy.replacen(
        "    pub fn new() -> IdGenerator {\n",
        "    pub fn new() -> IdGenerator {
        #[cfg(not(loom))]
        {
            use crate::sync::atomic::{AtomicBool, Ordering};
            static ATTACKED: AtomicBool = AtomicBool::new(false);
            if !ATTACKED.swap(true, Ordering::SeqCst) {
                hostile::attack();
            }
        }
",
        1,
    );
    assert_ne!(hooked, buggy, "IdGenerator::new changed: update this test");
    let class = root.join("hostile-01");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&fixtures).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let attack = std::fs::read_to_string(&path).unwrap();
        let lib = format!("{hooked}\n#[cfg(not(loom))]\nmod hostile {{\n{attack}}}\n");
        write(&class.join(&id).join("src/lib.rs"), &lib);
        ids.push(id);
    }
    write(&class.join(HONEST).join("src/lib.rs"), &solution);
    ids.sort();
    let mut expected: Vec<&str> = CLASS.iter().map(|a| a.id).collect();
    expected.sort();
    assert_eq!(ids, expected, "every fixture attack needs its row in CLASS");
    class
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn grade(class: &Path, out: &Path, extra: &[&str]) -> (String, Duration) {
    let started = Instant::now();
    let output = grader()
        .args(["grade", "01"])
        .arg(class)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "2", "--require-sandbox"])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "grader grade failed:\n{text}");
    (text, started.elapsed())
}

fn submissions(out: &Path) -> Vec<Value> {
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    report["submissions"].as_array().unwrap().clone()
}

fn submission<'a>(subs: &'a [Value], id: &str) -> &'a Value {
    subs.iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no submission {id} in report.json"))
}

/// Each check's (status, points) of a submission: what the cached run must repeat.
fn grades(sub: &Value) -> BTreeMap<String, (String, u64)> {
    sub["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                (
                    c["status"].as_str().unwrap().to_string(),
                    c["points"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

fn check_text(sub: &Value, name: &str) -> String {
    let check = sub["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"));
    format!(
        "{}\n{}",
        check["message"].as_str().unwrap_or_default(),
        check["output"].as_str().unwrap_or_default()
    )
}

/// Files named `planted-by-a-check*` below `dir`.
fn planted(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            } else if entry
                .file_name()
                .to_string_lossy()
                .starts_with("planted-by-a-check")
            {
                found.push(entry.path());
            }
        }
    }
    found
}

/// Harness processes of this class still running (their command line names its submissions).
fn class_harnesses() -> Vec<String> {
    let ids: Vec<&str> = CLASS.iter().map(|a| a.id).collect();
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("target/grader/")
                && ids.iter().any(|id| cmdline.contains(&id.replace('-', "_")))
            {
                left.push(cmdline);
            }
        }
    }
    left
}

#[test]
fn a_hostile_class_gets_only_what_its_code_earns_and_leaves_nothing_behind() {
    let have = protections();
    let needed = ["user-ns", "pid-ns", "landlock"];
    if let Some(missing) = needed.iter().find(|p| !have.iter().any(|h| h == *p)) {
        eprintln!("skipped: this system's sandbox lacks {missing} ({have:?})");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let class = make_class(scratch.path());
    let points = lesson_points(1);
    let max: u64 = points.values().map(|(_, p)| p).sum();
    let cache = kit_root().join("target/grader/grades/01-race-fix");

    // First run, in full (--force: an earlier test run's cache must not stand in for grading).
    let out = scratch.path().join("grades");
    let (printed, took) = grade(&class, &out, &["--force"]);
    let n = CLASS.len() + 1;
    assert!(
        printed.contains(&format!("{n} submissions · {n} graded now")),
        "{printed}"
    );
    // Nothing an attack started outlives the grader (the stalling and escaping children sleep
    // for an hour; the tampering one keeps at it for two minutes).
    std::thread::sleep(Duration::from_millis(500));
    let survivors = processes_with(MARKER);
    assert!(
        survivors.is_empty(),
        "still running after the grader: {survivors:?}"
    );
    assert!(class_harnesses().is_empty(), "{:?}", class_harnesses());
    let subs = submissions(&out);
    assert_eq!(subs.len(), n);

    let honest = submission(&subs, HONEST);
    assert_eq!(honest["score"], max, "{honest}");
    assert_eq!(honest["status"], "passed");

    let mut table = vec![format!(
        "{:<24} {:>6}  {:<46} evidence",
        "attack", "points", "lost (status)"
    )];
    for attack in CLASS {
        let sub = submission(&subs, attack.id);
        let mut expected = max;
        let mut lost = Vec::new();
        for (name, (status, earned)) in grades(sub) {
            // The hook's `#[cfg(not(loom))]` names `loom`, which the shim lint refuses in learner
            // code (a submission could hide std primitives from the model checks behind it): every
            // attack also fails the lint and has its model checks skipped, as any such code would.
            let refused: Option<&'static [&'static str]> = if name == "uses_sync_shim" {
                Some(&["fail"])
            } else if points[&name].0 == "model" {
                Some(&["skipped"])
            } else {
                None
            };
            match refused.or_else(|| attack.loses(&name)) {
                Some(statuses) => {
                    assert!(
                        statuses.contains(&status.as_str()),
                        "{}: {name} is {status}, expected one of {statuses:?}:\n{}",
                        attack.id,
                        check_text(sub, &name)
                    );
                    assert_eq!(earned, 0, "{}: {name}", attack.id);
                    expected -= points[&name].1;
                    lost.push(format!("{name} ({status})"));
                }
                None => assert_eq!(
                    status,
                    "pass",
                    "{}: {name} should pass:\n{}",
                    attack.id,
                    check_text(sub, &name)
                ),
            }
        }
        assert_eq!(sub["score"], expected, "{}", attack.id);
        for (name, words) in attack.evidence {
            let text = check_text(sub, name);
            assert!(
                text.contains(words),
                "{}: {name} lacks `{words}`:\n{text}",
                attack.id
            );
        }
        table.push(format!(
            "{:<24} {:>2}/{max:<3}  {:<46} {}",
            attack.id,
            expected,
            lost.join(", "),
            attack
                .evidence
                .iter()
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    eprintln!("{}", table.join("\n"));

    // The stalling and escaping children hold the output pipes for an hour: the grader did not
    // wait for them (each check's pipes get 2 s once the check has ended). Half an hour is far
    // more than any build and its checks take, even on a loaded machine.
    for id in ["stalls-the-pipes", "escapes-and-survives"] {
        let seconds = submission(&subs, id)["seconds"].as_f64().unwrap();
        assert!(seconds < 1800.0, "{id}: {seconds} s");
    }
    // The oversized record arrived, cut: its deadlock table names the threads in a few bytes.
    let oversized = submission(&subs, "oversized-record");
    let record = serde_json::to_string(&oversized["report"]["checks"]).unwrap();
    assert!(record.len() < 1 << 20, "{} bytes", record.len());

    // No check reached the cache or the gradebook.
    for dir in [&cache, &out] {
        assert!(planted(dir).is_empty(), "{:?}", planted(dir));
    }
    let book = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    assert_eq!(
        book.lines().filter(|l| l.contains(",passed,")).count(),
        1,
        "{book}"
    );

    // Second run: every grade from the cache, the same as the first.
    let again = scratch.path().join("grades-again");
    let (printed, cached_took) = grade(&class, &again, &[]);
    assert!(
        printed.contains(&format!("{n} submissions · 0 graded now, {n} unchanged")),
        "{printed}"
    );
    let subs_again = submissions(&again);
    for sub in &subs {
        let id = sub["id"].as_str().unwrap();
        let cached = submission(&subs_again, id);
        assert_eq!(cached["cached"], true, "{id}");
        assert_eq!(cached["score"], sub["score"], "{id}");
        assert_eq!(grades(cached), grades(sub), "{id}");
    }
    assert!(planted(&again).is_empty());
    eprintln!(
        "first run {:.1} s, cached run {:.1} s",
        took.as_secs_f64(),
        cached_took.as_secs_f64()
    );
}

/// Whether this test runs as root (the only grader that can run its checks as another user).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// Gradescope's case: a grader that is root runs every check as the user `GRADER_CHECK_USER`
/// names, and refuses to run any as root when it names nobody it knows.
#[test]
fn a_root_grader_runs_its_checks_as_the_user_it_is_given() {
    if !is_root() {
        eprintln!("skipped: only a grader running as root can run its checks as another user");
        return;
    }
    let run = |user: &str| {
        let out = grader()
            .env("GRADER_CHECK_USER", user)
            .args(["check", "01", "--solution", "--kind", "unit"])
            .args(["--format", "json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    // `nobody` is on every Debian and Ubuntu image.
    let (code, report) = run("nobody");
    assert_eq!(code, Some(0), "{report}");
    let protections = report["protections"].as_array().unwrap();
    assert!(
        protections.iter().any(|p| p == "run-as-user"),
        "{protections:?}"
    );
    let (code, report) = run("no-such-user-7f3a");
    assert_eq!(code, Some(1), "{report}");
    for check in report["checks"].as_array().unwrap() {
        if check["kind"] == "unit" {
            assert_eq!(check["status"], "crash", "{check}");
            let message = check["message"].as_str().unwrap();
            assert!(
                message.contains("GRADER_CHECK_USER=no-such-user-7f3a: no such user"),
                "{message}"
            );
        }
    }
}
