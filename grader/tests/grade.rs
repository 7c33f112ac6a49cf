//! `grader grade` on a class of 12 lesson-01 submissions (tests/fixtures/class-01 plus a .zip and a
//! .tar.gz made here): every submission's score and reason, the outputs' formats, the incremental
//! re-grade, and the platform outputs (Gradescope, GitHub Classroom).
//!
//! Expected scores are not written down: each is the lesson's maximum (from curriculum.toml) minus
//! the points of the checks the submission must fail, and every other check must pass, so a
//! submission that hangs, exits, leaks, spawns or floods loses exactly its own check.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

mod common;

use common::{grader, kit_root};

/// Lesson 01's checks and their points, kind by kind, as curriculum.toml gives them.
fn points() -> BTreeMap<String, (String, u64)> {
    common::lesson_points(1)
}

/// What one submission must get: the checks it must fail (name, acceptable statuses), the
/// gradebook status, and words its reason must contain.
struct Expect {
    id: &'static str,
    fails: &'static [(&'static str, &'static [&'static str])],
    status: &'static str,
    reason: &'static [&'static str],
}

const CLASS: &[Expect] = &[
    Expect {
        id: "alice-relaxed-fetch-add",
        fails: &[],
        status: "passed",
        reason: &[],
    },
    Expect {
        id: "bob-mutex",
        fails: &[],
        status: "passed",
        reason: &[],
    },
    Expect {
        id: "carol-kit-copy",
        fails: &[],
        status: "passed",
        reason: &[],
    },
    Expect {
        id: "dave-ids-start-at-zero",
        fails: &[
            ("ids_one_thread", &["fail"]),
            ("ids_unique_8_threads", &["fail"]),
            ("ids_two_threads", &["fail"]),
        ],
        status: "failed",
        reason: &["the first five ids were [0, 1, 2, 3, 4]"],
    },
    Expect {
        id: "erin",
        fails: &[
            ("seen_set_one_thread", &["fail"]),
            ("seen_set_one_winner_8_threads", &["fail"]),
            ("seen_set_two_threads", &["fail"]),
        ],
        status: "failed",
        reason: &["len"],
    },
    // Doesn't compile: only the lint (which needs no build) can pass; everything else is not run.
    Expect {
        id: "frank-does-not-compile",
        fails: &[("*", &["skipped"])],
        status: "build-error",
        reason: &["does not compile", "E0308"],
    },
    Expect {
        id: "grace-loops-forever",
        fails: &[("seen_set_one_thread", &["timeout"])],
        status: "failed",
        reason: &["did not finish within", "infinite loop"],
    },
    Expect {
        id: "heidi-exits-early",
        fails: &[("seen_set_one_thread", &["crash"])],
        status: "failed",
        reason: &["exited with code 0 before the check finished"],
    },
    Expect {
        id: "ivan-allocates-without-end",
        fails: &[("seen_set_one_thread", &["crash"])],
        status: "failed",
        reason: &["MiB of memory"],
    },
    // Stopped by the thread watchdog, or (if it outruns the watchdog) by a failed spawn.
    Expect {
        id: "judy-spawns-threads-forever",
        fails: &[("seen_set_one_thread", &["crash", "fail"])],
        status: "failed",
        reason: &["thread"],
    },
    Expect {
        id: "mallory-prints-megabytes",
        fails: &[("counter_increments_8_threads", &["crash"])],
        status: "failed",
        reason: &["printed more than"],
    },
    Expect {
        id: "oscar",
        fails: &[],
        status: "passed",
        reason: &[],
    },
];

impl Expect {
    fn must_fail(&self, check: &str, kind: &str) -> Option<&'static [&'static str]> {
        self.fails.iter().find_map(|(name, statuses)| {
            (*name == check || (*name == "*" && kind != "lint")).then_some(*statuses)
        })
    }

    fn expected_score(&self, points: &BTreeMap<String, (String, u64)>) -> u64 {
        points
            .iter()
            .filter(|(name, (kind, _))| self.must_fail(name, kind).is_none())
            .map(|(_, (_, p))| p)
            .sum()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Every file below `dir` with its bytes: to prove grading modifies nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                out.insert(entry.path(), std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// The class folder: the fixtures, plus `erin.zip` (a kit copy inside a top folder, with the
/// variant whose len counts calls) and `oscar.tar.gz` (a crate folder with the reference solution).
fn make_class(root: &Path) -> PathBuf {
    let kit = kit_root();
    let class = root.join("class-01");
    copy_dir(&kit.join("grader/tests/fixtures/class-01"), &class);
    let solution = kit.join("solutions/01-race-fix");
    let read = |p: PathBuf| std::fs::read(p).unwrap();

    let zip_file = std::fs::File::create(class.join("erin.zip")).unwrap();
    let mut zip = zip::ZipWriter::new(zip_file);
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [
        ("erin/README.md", b"my kit".to_vec()),
        (
            "erin/exercises/01-race-fix/Cargo.toml",
            read(solution.join("Cargo.toml")),
        ),
        (
            "erin/exercises/01-race-fix/src/sync.rs",
            read(solution.join("src/sync.rs")),
        ),
        (
            "erin/exercises/01-race-fix/src/lib.rs",
            common::variant_lib("01-race-fix", "seen_len_counts_calls").into_bytes(),
        ),
        // Entries that try to leave the scratch folder are ignored, never written.
        ("../grader-test-escaped-7f3a.rs", b"fn main() {}".to_vec()),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();

    let tgz = std::fs::File::create(class.join("oscar.tar.gz")).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        tgz,
        flate2::Compression::fast(),
    ));
    for (name, from) in [
        ("Cargo.toml", solution.join("Cargo.toml")),
        ("src/lib.rs", solution.join("src/lib.rs")),
        ("src/sync.rs", solution.join("src/sync.rs")),
    ] {
        tar.append_path_with_name(from, format!("oscar-race-fix/{name}"))
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    class
}

/// Harness processes still alive whose command line names this class's builds.
fn leftover_check_processes() -> Vec<String> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("harness_01_grade_") {
                left.push(cmdline);
            }
        }
    }
    left
}

fn grade(class: &Path, out: &Path, extra: &[&str]) -> String {
    let output = grader()
        .args(["grade", "01"])
        .arg(class)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "2", "--timeout-scale", "0.5"])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "grader grade failed:\n{text}");
    text
}

#[test]
fn grades_a_class_of_twelve_with_a_score_and_a_reason_each() {
    let scratch = tempfile::tempdir().unwrap();
    let class = make_class(scratch.path());
    let before = snapshot(&class);
    let points = points();
    let max: u64 = points.values().map(|(_, p)| p).sum();
    let out = scratch.path().join("grades");

    // --force: a result cached by an earlier run of this test must not stand in for grading.
    let printed = grade(&class, &out, &["--force"]);
    assert!(printed.contains("Score distribution"), "{printed}");
    assert!(printed.contains("Checks failed most often"), "{printed}");
    assert!(printed.contains("Slowest submissions"), "{printed}");
    assert!(
        printed.contains("12 submissions · 12 graded now"),
        "{printed}"
    );

    // The submissions are untouched, nothing escaped an archive, and no check process is left.
    assert_eq!(before, snapshot(&class), "grading modified the submissions");
    assert!(!std::env::temp_dir()
        .join("grader-test-escaped-7f3a.rs")
        .exists());
    assert!(!scratch.path().join("grader-test-escaped-7f3a.rs").exists());
    assert!(
        leftover_check_processes().is_empty(),
        "{:?}",
        leftover_check_processes()
    );

    // report.json: every submission's full check report.
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["lesson"], "01-race-fix");
    assert_eq!(report["max_score"], max);
    let subs = report["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), CLASS.len());
    for expect in CLASS {
        let sub = subs
            .iter()
            .find(|s| s["id"] == expect.id)
            .unwrap_or_else(|| panic!("no submission {} in report.json", expect.id));
        let checks = sub["report"]["checks"].as_array().unwrap();
        assert_eq!(checks.len(), points.len(), "{}", expect.id);
        for check in checks {
            let name = check["name"].as_str().unwrap();
            let kind = check["kind"].as_str().unwrap();
            let status = check["status"].as_str().unwrap();
            match expect.must_fail(name, kind) {
                Some(statuses) => {
                    assert!(
                        statuses.contains(&status),
                        "{}: {name} is {status}, expected one of {statuses:?}: {check}",
                        expect.id
                    );
                    assert_eq!(check["points"], 0);
                    assert!(
                        !check["message"].as_str().unwrap().is_empty(),
                        "{}: {name} gives no reason",
                        expect.id
                    );
                }
                None => assert_eq!(status, "pass", "{}: {name} should pass: {check}", expect.id),
            }
        }
        let score = expect.expected_score(&points);
        assert_eq!(sub["score"], score, "{}", expect.id);
        assert_eq!(sub["report"]["score"], score, "{}", expect.id);
        assert_eq!(sub["status"], expect.status, "{}", expect.id);
        assert_eq!(sub["cached"], false, "{}", expect.id);
    }

    // gradebook.csv: a table with one row per submission and a column per check.
    let mut csv = csv::Reader::from_path(out.join("gradebook.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..7],
        [
            "id",
            "score",
            "max_score",
            "status",
            "reason",
            "seconds",
            "sandbox"
        ]
    );
    let mut check_columns: Vec<&String> = header[7..].iter().collect();
    check_columns.sort();
    assert_eq!(check_columns, points.keys().collect::<Vec<_>>());
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), CLASS.len());
    for expect in CLASS {
        let row = rows.iter().find(|r| &r[0] == expect.id).unwrap();
        assert_eq!(
            row[1].parse::<u64>().unwrap(),
            expect.expected_score(&points),
            "{}",
            expect.id
        );
        assert_eq!(row[2].parse::<u64>().unwrap(), max);
        assert_eq!(&row[3], expect.status, "{}", expect.id);
        let reason = &row[4];
        if expect.fails.is_empty() {
            assert!(reason.is_empty(), "{}: {reason}", expect.id);
        }
        for words in expect.reason {
            assert!(
                reason.contains(words),
                "{}: reason `{reason}` lacks `{words}`",
                expect.id
            );
        }
        // The protections its checks ran under, as its report says; none for a build failure.
        let sub = subs.iter().find(|s| s["id"] == expect.id).unwrap();
        let protections: Vec<&str> = sub["report"]["protections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let sandbox = match (expect.status, protections.is_empty()) {
            ("build-error", _) => String::new(),
            (_, true) => "none".to_string(),
            (_, false) => protections.join(" "),
        };
        assert_eq!(&row[6], sandbox, "{}: sandbox column", expect.id);
        let earned: u64 = (7..header.len())
            .map(|i| row[i].parse::<u64>().unwrap())
            .sum();
        assert_eq!(
            earned,
            expect.expected_score(&points),
            "{}: check columns",
            expect.id
        );
    }

    validate_junit(
        &std::fs::read_to_string(out.join("junit.xml")).unwrap(),
        points.len(),
    );

    // report.html: one self-contained page, every submission's feedback on it.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for external in ["<script", "http://", "https://", "src=", "<link"] {
        assert!(!html.contains(external), "`{external}` in report.html");
    }
    assert_eq!(html.matches("<pre id=\"sub-").count(), CLASS.len());
    assert!(html.contains("aria-label=\"score distribution\""));

    // Graded in 3 parts then merged: what one run writes (the results come from the cache the
    // run above filled, so the two differ only in their clocks).
    merged_parts_equal_one_run(&class, scratch.path());

    // Markdown feedback a learner can read.
    let feedback = std::fs::read_to_string(out.join("feedback/grace-loops-forever.md")).unwrap();
    assert!(
        feedback.contains("| unit | `seen_set_one_thread` | ⏱ timeout | 0/1 |"),
        "{feedback}"
    );
    assert!(
        feedback.contains("deadlock or infinite loop?"),
        "{feedback}"
    );
    let feedback = std::fs::read_to_string(out.join("feedback/frank-does-not-compile.md")).unwrap();
    assert!(
        feedback.contains("## The build failed") && feedback.contains("E0308"),
        "{feedback}"
    );
    assert_eq!(
        std::fs::read_dir(out.join("feedback")).unwrap().count(),
        CLASS.len()
    );

    // Re-grading the same folder re-runs nothing; changing one submission re-runs just that one.
    let out2 = scratch.path().join("grades-again");
    let printed = grade(&class, &out2, &["--format", "csv"]);
    assert!(
        printed.contains("12 submissions · 0 graded now, 12 unchanged"),
        "{printed}"
    );
    assert!(out2.join("gradebook.csv").is_file());
    assert!(
        !out2.join("report.json").exists(),
        "--format csv wrote report.json"
    );
    // (A comment makes it differ from the reference: the same content as alice's would be a
    // cache hit too, since the cache is keyed by content.)
    let mut fixed = std::fs::read(kit_root().join("solutions/01-race-fix/src/lib.rs")).unwrap();
    // Unique per run, so that an earlier run of this test cached nothing for it.
    let stamp = format!("\n// fixed after grading in {}\n", scratch.path().display());
    fixed.extend_from_slice(stamp.as_bytes());
    std::fs::write(class.join("dave-ids-start-at-zero/src/lib.rs"), fixed).unwrap();
    let out3 = scratch.path().join("grades-third");
    let printed = grade(&class, &out3, &["--format", "json"]);
    assert!(
        printed.contains("12 submissions · 1 graded now, 11 unchanged"),
        "{printed}"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out3.join("report.json")).unwrap()).unwrap();
    let dave = report["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "dave-ids-start-at-zero")
        .unwrap();
    assert_eq!(dave["score"], max);
    assert_eq!(dave["cached"], false);
}

/// Every file below `dir`, by path relative to it, as text with its clocks blanked: report.json's
/// `graded_at` and `summary.wall`, junit.xml's `time` of the whole run and every `timestamp`.
fn outputs_without_clocks(dir: &Path) -> BTreeMap<PathBuf, String> {
    snapshot(dir)
        .into_iter()
        .map(|(path, bytes)| {
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            let text = String::from_utf8(bytes).unwrap();
            let text = match rel.to_str().unwrap() {
                "report.json" => {
                    let mut doc: Value = serde_json::from_str(&text).unwrap();
                    doc["graded_at"] = Value::Null;
                    doc["summary"]["wall"] = Value::Null;
                    serde_json::to_string_pretty(&doc).unwrap()
                }
                "junit.xml" => text
                    .lines()
                    .map(|l| {
                        let l = blank_attr(l, "timestamp");
                        if l.starts_with("<testsuites ") {
                            blank_attr(&l, "time")
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => text,
            };
            (rel, text)
        })
        .collect()
}

fn blank_attr(line: &str, attr: &str) -> String {
    let key = format!(" {attr}=\"");
    match line.find(&key) {
        Some(at) => {
            let start = at + key.len();
            let end = start + line[start..].find('"').unwrap();
            format!("{}{}", &line[..start], &line[end..])
        }
        None => line.to_string(),
    }
}

fn merged_parts_equal_one_run(class: &Path, scratch: &Path) {
    let single = scratch.join("single");
    let printed = grade(class, &single, &[]);
    assert!(
        printed.contains("12 submissions · 0 graded now"),
        "{printed}"
    );
    let mut parts = Vec::new();
    let mut sizes = 0;
    for k in 1..=3 {
        let part = scratch.join(format!("part-{k}"));
        let printed = grade(class, &part, &["--partition", &format!("{k}/3")]);
        let line = printed
            .lines()
            .find(|l| l.starts_with(&format!("Part {k}/3 of the class: ")))
            .unwrap_or_else(|| panic!("{printed}"));
        sizes += line
            .split_whitespace()
            .nth(5)
            .unwrap()
            .parse::<usize>()
            .unwrap();
        let report: Value =
            serde_json::from_slice(&std::fs::read(part.join("report.json")).unwrap()).unwrap();
        assert_eq!(report["partition"]["index"], k);
        parts.push(part);
    }
    assert_eq!(sizes, CLASS.len(), "the parts don't cover the class once");
    let merged = scratch.join("merged");
    let out = grader()
        .arg("merge")
        .args(&parts)
        .arg("--out")
        .arg(&merged)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("Score distribution"));
    let (one, merged_files) = (
        outputs_without_clocks(&single),
        outputs_without_clocks(&merged),
    );
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        merged_files.keys().collect::<Vec<_>>()
    );
    for (path, text) in &one {
        assert!(
            text == &merged_files[path],
            "{} differs between one run and the merged parts",
            path.display()
        );
    }
    eprintln!(
        "merged == single run: {} files compared ({})",
        one.len(),
        one.keys()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // A part missing, or named twice: refused.
    grader()
        .arg("merge")
        .args(&parts[..2])
        .arg("--out")
        .arg(scratch.join("merged-2"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("part 3/3 missing"));
    grader()
        .arg("merge")
        .args([&parts[0], &parts[0], &parts[1], &parts[2]])
        .arg("--out")
        .arg(scratch.join("merged-3"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("twice"));
}

/// The JUnit XML is valid against the Jenkins xunit plugin's junit-10.xsd, and beyond what the
/// schema says: `testsuites` > `testsuite` (name, tests, failures, errors) > `testcase` (name,
/// classname, time), with `failure`/`error` carrying message and type, counts that add up, and
/// each check's points in its suite's properties.
fn validate_junit(xml: &str, checks_per_suite: usize) {
    common::assert_valid_junit(xml);
    let doc = roxmltree::Document::parse(xml).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let count = |node: roxmltree::Node, attr: &str| -> usize {
        node.attribute(attr)
            .unwrap_or_else(|| panic!("<{}> lacks {attr}", node.tag_name().name()))
            .parse()
            .unwrap()
    };
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), CLASS.len());
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for suite in suites {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let name = suite.attribute("name").expect("testsuite name");
        assert!(CLASS.iter().any(|e| e.id == name), "unknown suite {name}");
        let (mut f, mut e, mut t) = (0, 0, 0);
        for child in suite.children().filter(|n| n.is_element()) {
            match child.tag_name().name() {
                "properties" => {
                    let mut points = 0;
                    let mut score = None;
                    for p in child.children().filter(|n| n.is_element()) {
                        assert_eq!(p.tag_name().name(), "property");
                        let (key, value) = (p.attribute("name").unwrap(), p.attribute("value"));
                        let value: Option<u64> = value.unwrap().parse().ok();
                        if key.starts_with("points.") {
                            points += value.unwrap();
                        } else if key == "score" {
                            score = value;
                        }
                    }
                    assert_eq!(score, Some(points), "{name}: score and points.* differ");
                }
                "system-out" | "system-err" => {}
                "testcase" => {
                    t += 1;
                    assert!(child.attribute("name").is_some());
                    assert!(child
                        .attribute("classname")
                        .is_some_and(|c| c.starts_with(name)));
                    child.attribute("time").unwrap().parse::<f64>().unwrap();
                    for outcome in child.children().filter(|n| n.is_element()) {
                        match outcome.tag_name().name() {
                            "failure" | "error" => {
                                assert!(outcome
                                    .attribute("message")
                                    .is_some_and(|m| !m.is_empty()));
                                assert!(outcome.attribute("type").is_some());
                                if outcome.tag_name().name() == "failure" {
                                    f += 1
                                } else {
                                    e += 1
                                }
                            }
                            "skipped" | "system-out" | "system-err" => {}
                            other => panic!("unexpected <{other}> in a testcase"),
                        }
                    }
                }
                other => panic!("unexpected <{other}> in a testsuite"),
            }
        }
        assert_eq!(t, checks_per_suite, "{name}");
        assert_eq!(
            (
                count(suite, "tests"),
                count(suite, "failures"),
                count(suite, "errors")
            ),
            (t, f, e),
            "{name}"
        );
        let is_clean = CLASS.iter().any(|x| x.id == name && x.fails.is_empty());
        assert_eq!(f + e == 0, is_clean, "{name}: failures {f}, errors {e}");
        tests += t;
        failures += f;
        errors += e;
    }
    assert_eq!(
        (
            count(root, "tests"),
            count(root, "failures"),
            count(root, "errors")
        ),
        (tests, failures, errors)
    );
}

/// The shape of Gradescope's results.json: top-level score, execution_time, output, tests[] with
/// name, score, max_score, status, output and visibility.
fn assert_gradescope_shape(results: &Value) {
    assert!(results["score"].is_number(), "{results}");
    assert!(results["execution_time"].is_number(), "{results}");
    assert!(results["output"].is_string(), "{results}");
    let visibilities = ["hidden", "after_due_date", "after_published", "visible"];
    assert!(visibilities.contains(&results["visibility"].as_str().unwrap()));
    let mut total = 0.0;
    for test in results["tests"].as_array().unwrap() {
        assert!(test["name"].is_string(), "{test}");
        let (score, max) = (
            test["score"].as_f64().unwrap(),
            test["max_score"].as_f64().unwrap(),
        );
        assert!(score <= max, "{test}");
        let status = test["status"].as_str().unwrap();
        assert!(["passed", "failed"].contains(&status), "{test}");
        assert_eq!(status == "passed", score == max && max > 0.0, "{test}");
        assert!(test["output"].is_string(), "{test}");
        assert!(
            visibilities.contains(&test["visibility"].as_str().unwrap()),
            "{test}"
        );
        total += score;
    }
    assert_eq!(results["score"].as_f64().unwrap(), total);
}

#[test]
fn gradescope_results_follow_the_spec() {
    let kit = kit_root();
    let points = points();
    let max: u64 = points.values().map(|(_, p)| p).sum();
    let dave = kit.join("grader/tests/fixtures/class-01/dave-ids-start-at-zero");
    let out = grader()
        .args(["check", "01", "--format", "gradescope", "--path"])
        .arg(&dave)
        .args(["--visibility", "model=after_due_date,ids_one_thread=hidden"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let results: Value = serde_json::from_slice(&out).unwrap();
    assert_gradescope_shape(&results);
    let expect = CLASS
        .iter()
        .find(|e| e.id == "dave-ids-start-at-zero")
        .unwrap();
    assert_eq!(
        results["score"].as_u64().unwrap(),
        expect.expected_score(&points)
    );
    assert_eq!(results["tests"].as_array().unwrap().len(), points.len());
    let failed: Vec<&str> = results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "failed")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), expect.fails.len(), "{failed:?}");
    assert!(max > results["score"].as_u64().unwrap());
    // --visibility by kind and by check; failures in Markdown, field by field.
    for test in results["tests"].as_array().unwrap() {
        let name = test["name"].as_str().unwrap();
        let wanted = match name {
            "unit · ids_one_thread" => "hidden",
            _ if name.starts_with("model ·") => "after_due_date",
            _ => "visible",
        };
        assert_eq!(test["visibility"], wanted, "{test}");
        assert_eq!(test["output_format"], "md", "{test}");
        if test["status"] == "failed" {
            let output = test["output"].as_str().unwrap();
            assert!(
                output.contains("- **Property:**") && output.contains("- **Observed:**"),
                "{output}"
            );
        }
    }
    // A visibility for no kind or check is a usage error.
    grader()
        .args([
            "check",
            "01",
            "--format",
            "gradescope",
            "--visibility",
            "modle=hidden",
            "--path",
        ])
        .arg(&dave)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("visibility of `modle`"));

    // A Gradescope upload of bare files: lib.rs (and sync.rs) at the top of the submission.
    let upload = tempfile::tempdir().unwrap();
    let solution = kit.join("solutions/01-race-fix/src");
    for f in ["lib.rs", "sync.rs"] {
        std::fs::copy(solution.join(f), upload.path().join(f)).unwrap();
    }
    let out = grader()
        .args(["check", "01", "--format", "gradescope", "--path"])
        .arg(upload.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let results: Value = serde_json::from_slice(&out).unwrap();
    assert_gradescope_shape(&results);
    assert_eq!(results["score"].as_u64().unwrap(), max);

    // Nothing to grade: still a results.json Gradescope can show, with the reason.
    let empty = tempfile::tempdir().unwrap();
    let out = grader()
        .args(["check", "01", "--format", "gradescope", "--path"])
        .arg(empty.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let results: Value = serde_json::from_slice(&out).unwrap();
    assert_gradescope_shape(&results);
    assert_eq!(results["score"], 0);
    assert!(results["output"]
        .as_str()
        .unwrap()
        .contains("no src/lib.rs"));
}

#[test]
fn gradescope_package_holds_the_scripts_and_no_solution() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("autograder.zip");
    grader()
        .args(["gradescope-package", "01", "--out"])
        .arg(&zip_path)
        .assert()
        .success()
        .stdout(predicate::str::contains("Set its Autograder points to 18"));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    for wanted in [
        "setup.sh",
        "run_autograder",
        "kit/Cargo.toml",
        "kit/Cargo.lock",
        "kit/curriculum.toml",
        "kit/grader/src/main.rs",
        "kit/grader/harness/src/lib.rs",
        "kit/grader/loom-scope/src/lib.rs",
        "kit/grader/lessons/01-race-fix/checks.rs",
        "kit/solutions/01-race-fix/Cargo.toml",
        "kit/grader/shim/sync.rs",
        "kit/grader/shim/learners.rs",
        "kit/grader/shim/channel.rs",
        "kit/exercises/01-race-fix/src/lib.rs",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
    assert!(
        !names
            .iter()
            .any(|n| n == "kit/solutions/01-race-fix/src/lib.rs"),
        "the package ships the solution"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("/variants/") || n.contains("target/")),
        "{names:?}"
    );
    for script in ["setup.sh", "run_autograder"] {
        let file = zip.by_name(script).unwrap();
        assert_eq!(
            file.unix_mode().unwrap() & 0o111,
            0o111,
            "{script} is not executable"
        );
    }
    let mut run = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("run_autograder").unwrap(), &mut run).unwrap();
    assert!(
        run.contains("check 01 --path /autograder/submission --format gradescope"),
        "{run}"
    );
    assert!(run.contains("/autograder/results/results.json"), "{run}");
    // Gradescope runs both as root: the checks run as a user setup.sh creates, the results are
    // written by root's shell.
    let mut setup = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("setup.sh").unwrap(), &mut setup).unwrap();
    assert!(
        setup.contains("useradd --system --no-create-home --shell /usr/sbin/nologin grader-check"),
        "{setup}"
    );
    assert!(
        run.contains("export GRADER_CHECK_USER=grader-check"),
        "{run}"
    );
    for (name, text) in [("setup.sh", &setup), ("run_autograder", &run)] {
        let script = dir.path().join(name);
        std::fs::write(&script, text).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} is not valid bash: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // What setup.sh builds must build: the package's kit compiles on its own. (`cargo check`
    // in this workspace's target dir: the dependencies are already there.)
    let unpacked = dir.path().join("unpacked");
    zip.extract(&unpacked).unwrap();
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "check",
            "--offline",
            "--quiet",
            "-p",
            "grader",
            "--manifest-path",
        ])
        .arg(unpacked.join("kit/Cargo.toml"))
        .env("CARGO_TARGET_DIR", kit_root().join("target"))
        .status()
        .unwrap();
    assert!(status.success(), "the package's grader does not build");
}

/// The Classroom workflow's per-check steps: (command, max-score), read from the YAML.
fn classroom_steps(yaml: &str) -> Vec<(String, u64)> {
    let mut steps = Vec::new();
    let mut command = None;
    for line in yaml.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("command: ") {
            command = Some(c.to_string());
        } else if let Some(max) = line.strip_prefix("max-score: ") {
            steps.push((command.take().unwrap(), max.parse().unwrap()));
        }
    }
    steps
}

#[test]
fn classroom_points_equal_the_graders_score_of_a_partially_correct_submission() {
    let points = points();
    let max: u64 = points.values().map(|(_, p)| p).sum();
    let out = grader()
        .args(["classroom", "01"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let yaml = String::from_utf8(out).unwrap();
    // One build and one run of every check, then one step per check worth its points.
    assert_eq!(yaml.matches("cargo build").count(), 1, "{yaml}");
    assert!(
        yaml.contains("run: ./target/release/grader check 01 --format json > grader-report.json || [ $? -eq 1 ]"),
        "{yaml}"
    );
    let steps = classroom_steps(&yaml);
    assert_eq!(steps.len(), points.len(), "{yaml}");
    for (name, (_, p)) in &points {
        let command = format!("./target/release/grader report-check grader-report.json {name}");
        assert!(
            steps.contains(&(command, *p)),
            "no step for {name} worth {p}:\n{yaml}"
        );
        let id = format!("check-{}", name.replace('_', "-"));
        assert!(yaml.contains(&format!(
            "{}_RESULTS: \"${{{{steps.{id}.outputs.result}}}}\"",
            id.to_uppercase()
        )));
    }
    assert!(yaml.contains("classroom-resources/autograding-grading-reporter@v1"));

    // dave's ids start at zero: the grader gives him part of the points. Running the workflow's
    // steps on his report gives Classroom the same points.
    let dave = kit_root().join("grader/tests/fixtures/class-01/dave-ids-start-at-zero");
    let out = grader()
        .args(["check", "01", "--format", "json", "--path"])
        .arg(&dave)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    let score = report["score"].as_u64().unwrap();
    assert!(0 < score && score < max, "{score}/{max}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("grader-report.json"), &out).unwrap();
    let mut classroom = 0;
    for (command, max_score) in &steps {
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let run = grader()
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        match run.status.code() {
            Some(0) => classroom += max_score,
            Some(1) => assert!(!run.stdout.is_empty()),
            other => panic!(
                "{command}: exit {other:?}: {}",
                String::from_utf8_lossy(&run.stderr)
            ),
        }
    }
    eprintln!("dave-ids-start-at-zero: grader {score}/{max}, Classroom {classroom}/{max}");
    assert_eq!(classroom, score);
    let total: u64 = steps.iter().map(|(_, p)| p).sum();
    assert_eq!(total, max);

    // A check the report lacks, or no report: a usage error, not a failed check.
    grader()
        .args(["report-check", "grader-report.json", "no_such_check"])
        .current_dir(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no check `no_such_check`"));
    grader()
        .args(["report-check", "missing.json", "ids_one_thread"])
        .current_dir(dir.path())
        .assert()
        .code(2);
}

#[test]
fn check_kind_narrows_to_that_kinds_checks() {
    let points = points();
    let unit_points: u64 = points
        .values()
        .filter(|(k, _)| k == "unit")
        .map(|(_, p)| p)
        .sum();
    // Only that kind's checks, exit 0 when they pass.
    let out = grader()
        .args([
            "check",
            "01",
            "--solution",
            "--kind",
            "unit",
            "--format",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(
        checks.len(),
        points.values().filter(|(k, _)| k == "unit").count()
    );
    assert!(checks.iter().all(|c| c["kind"] == "unit"));
    assert_eq!(report["score"], unit_points);
}

#[test]
fn batch_workflow_grades_in_a_matrix_of_parts_and_merges_them() {
    let out = grader()
        .args(["batch-workflow", "01", "--shards", "3"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let yaml = String::from_utf8(out).unwrap();
    for wanted in [
        "part: [1, 2, 3]",
        "grader grade 01 \"$SUBMISSIONS\" --partition ${{ matrix.part }}/3 --out part-${{ matrix.part }}",
        "needs: grade",
        "pattern: part-*",
        "grader merge parts/part-* --out grades-01-race-fix",
        "actions/upload-artifact@v4",
    ] {
        assert!(yaml.contains(wanted), "no `{wanted}` in:\n{yaml}");
    }
    grader()
        .args(["batch-workflow", "01", "--shards", "0"])
        .assert()
        .code(2);
}
