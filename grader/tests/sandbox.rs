//! Hostile lesson-01 submissions against the real grader: each is a racy counter (`load` then
//! `store`) that also attacks the grader, and each must get only what its wrong code earns.
//!
//! The network attack connects to 10.255.255.1:9 only where the sandbox's empty network namespace
//! is in force (it then fails at once, sending nothing); otherwise that test is skipped.

mod common;

use std::time::{Duration, Instant};

use common::{check, check_json, grader, processes_with, protections, submission};

/// The solution with a lost-update counter, and `attack();` run by every `Counter::new()`.
fn hostile(name: &str, attack: &str) -> std::path::PathBuf {
    submission(
        "01-race-fix",
        name,
        |lib| {
            let racy = common::racy_counter(&lib);
            let hooked = racy.replacen(
                "    pub fn new() -> Counter {\n",
                "    pub fn new() -> Counter {\n        attack();\n",
                1,
            );
            assert_ne!(hooked, racy);
            format!("{hooked}\n{attack}\n")
        },
        &[],
    )
}

const COUNTER_CHECKS: [&str; 5] = [
    "counter_one_thread",
    "counter_increments_8_threads",
    "counter_add_8_threads",
    "counter_two_increments",
    "counter_add_races",
];
const OTHER_CHECKS: [&str; 6] = [
    "ids_one_thread",
    "ids_unique_8_threads",
    "ids_two_threads",
    "seen_set_one_thread",
    "seen_set_one_winner_8_threads",
    "seen_set_two_threads",
];

fn all_output(report: &serde_json::Value) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}\n{}\n", c["message"], c["output"].as_str().unwrap_or("")))
        .collect()
}

/// Every way there was to hand the grader a passing record; the hostile class grades it too. The
/// fixture is a module's text (it starts with `//!`), so it goes in as one.
const FORGER: &str = concat!(
    "mod forger {\n",
    include_str!("fixtures/hostile-01/forges-the-record.rs"),
    "}\nuse forger::attack;\n"
);

#[test]
fn a_forged_record_counts_for_nothing_by_any_route() {
    let dir = hostile("hostile-forger", FORGER);
    let (code, report) = check_json("01", &dir, &[]);
    assert_eq!(code, 1, "{report}");
    for name in COUNTER_CHECKS {
        let c = check(&report, name);
        assert_ne!(c["status"], "pass", "{c}");
        assert_eq!(c["points"], 0, "{c}");
    }
    for name in OTHER_CHECKS {
        assert_eq!(check(&report, name)["status"], "pass", "{name}");
    }
    let unit = check(&report, "counter_one_thread");
    assert_eq!(unit["status"], "crash", "{unit}");
    let output = unit["output"].as_str().unwrap();
    assert!(
        output.contains("route env: no result file or nonce"),
        "{output}"
    );
    if protections().iter().any(|p| p == "landlock") {
        assert!(
            output.contains("route environ: Permission denied"),
            "{output}"
        );
    }
    // A socket can't be reopened through /proc: ENXIO.
    assert!(
        output.contains("route fd 3: No such device or address"),
        "{output}"
    );
    assert!(!output.contains("route fd 3: wrote"), "{output}");
    assert!(output.contains("route exit"), "{output}");
}

#[test]
fn unsafe_code_and_constructors_are_refused_at_build_time() {
    let dir = hostile(
        "hostile-unsafe",
        r#"
#[link_section = ".init_array"]
pub static BEFORE_MAIN: extern "C" fn() = before_main;
extern "C" fn before_main() {}

fn attack() {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let mut channel = unsafe { std::fs::File::from_raw_fd(3) };
    let _ = channel.write_all(b"{\"name\":\"counter_one_thread\",\"passed\":true,\"duration_ms\":1}\n");
}
"#,
    );
    let (code, report) = check_json("01", &dir, &["--kind", "unit"]);
    assert_eq!(code, 1);
    assert_eq!(report["build"]["status"], "error");
    let message = report["build"]["message"].as_str().unwrap();
    assert!(message.contains("usage of an `unsafe` block"), "{message}");
    assert!(message.contains("link_section"), "{message}");
    assert_eq!(report["score"], 0, "{report}");
}

const ESCAPEE: &str = r#"
/// Double-forks a copy of the harness that blocks forever holding the grader's output pipes, in a
/// process group of its own; its environment carries a marker the test looks for.
fn attack() {
    use std::os::unix::process::CommandExt;
    let exe = std::env::args_os().next().unwrap();
    match std::env::var("HOSTILE_STAGE").as_deref() {
        Ok("sleeper") => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let _ = listener.accept(); // nobody ever connects
        }
        Ok("middle") => {
            let _ = std::process::Command::new(&exe)
                .args(["run", "counter_one_thread"])
                .env("HOSTILE_STAGE", "sleeper")
                .process_group(0)
                .spawn();
            std::process::exit(0);
        }
        _ => {
            let _ = std::process::Command::new(&exe)
                .args(["run", "counter_one_thread"])
                .env("HOSTILE_STAGE", "middle")
                .env("HOSTILE_MARKER", "grader-test-escapee-5c1e")
                .status();
        }
    }
}
"#;

#[test]
fn a_double_forked_sleeper_neither_stalls_nor_survives_the_grader() {
    let marker = "grader-test-escapee-5c1e";
    let dir = hostile("hostile-escapee", ESCAPEE);
    let started = Instant::now();
    let (code, report) = check_json("01", &dir, &["--kind", "unit,stress"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{report}");
    // The lost updates fail; the rest of its code earns what it earns.
    assert_eq!(
        check(&report, "counter_increments_8_threads")["status"],
        "fail"
    );
    for name in [
        "counter_one_thread",
        "ids_one_thread",
        "seen_set_one_winner_8_threads",
    ] {
        assert_eq!(check(&report, name)["status"], "pass", "{name}: {report}");
    }
    // The sleepers would block forever; the grader did not wait for their pipes.
    assert!(took < Duration::from_secs(60), "took {took:?}");
    std::thread::sleep(Duration::from_millis(300));
    let left = processes_with(marker);
    assert!(left.is_empty(), "still running after the grader: {left:?}");
}

const SNOOPER: &str = r#"
/// Looks for what a check must not reach: the network, the reference solution, the grader's
/// environment. Safe by construction: the TCP connect is tried only when even a route lookup to
/// that address fails (an empty network namespace), so no packet ever leaves the machine.
fn attack() {
    let target = "10.255.255.1:9";
    let routed = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect(target));
    match routed {
        Ok(()) => eprintln!("network: a route exists: not trying"),
        Err(_) => {
            let addr: std::net::SocketAddr = target.parse().unwrap();
            match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500)) {
                Ok(_) => eprintln!("network: connected to {target}"),
                Err(e) => eprintln!("network: {e}"),
            }
        }
    }
    // The kit's root, from where the grader compiled this crate.
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let kit = here.ancestors().find(|a| a.join("curriculum.toml").is_file()).unwrap();
    match std::fs::read_to_string(kit.join("solutions/01-race-fix/src/lib.rs")) {
        Ok(text) => eprintln!("solution: {}", text.lines().next().unwrap_or_default()),
        Err(e) => eprintln!("solution: {e}"),
    }
    match std::fs::read_to_string(kit.join("curriculum.toml")) {
        Ok(_) => eprintln!("curriculum: read"),
        Err(e) => eprintln!("curriculum: {e}"),
    }
    match std::fs::read("/proc/1/environ") {
        Ok(_) => eprintln!("init's environment: read"),
        Err(e) => eprintln!("init's environment: {e}"),
    }
}
"#;

#[test]
fn the_network_and_the_kit_are_out_of_reach() {
    let have = protections();
    let dir = hostile("hostile-snooper", SNOOPER);
    if !have.iter().any(|p| p == "net-ns") || !have.iter().any(|p| p == "landlock") {
        eprintln!("skipped: this system's sandbox lacks net-ns or landlock ({have:?})");
        return;
    }
    let (code, report) = check_json("01", &dir, &["--kind", "unit,stress"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        check(&report, "counter_increments_8_threads")["status"],
        "fail"
    );
    for name in [
        "counter_one_thread",
        "ids_unique_8_threads",
        "seen_set_one_thread",
    ] {
        assert_eq!(check(&report, name)["status"], "pass", "{name}: {report}");
    }
    let output = all_output(&report);
    assert!(
        output.contains("network: Network is unreachable"),
        "{output}"
    );
    assert!(output.contains("solution: Permission denied"), "{output}");
    assert!(output.contains("curriculum: Permission denied"), "{output}");
    assert!(
        output.contains("init's environment: Permission denied"),
        "{output}"
    );
    assert!(
        !output.contains("Lesson 01, reference solution"),
        "{output}"
    );
    assert_eq!(
        report["protections"].as_array().map(|a| a.len()),
        Some(have.len())
    );
}

// Build time: the lesson crate's compiler runs contained (check/rustc_sandbox.rs) and the shim
// lint's second pass reads the names it resolved. Each submission below is the correct solution
// plus one attack, so everything but what the attack breaks keeps its points.

/// The solution with `code` appended to its lib.rs (and `extra` files next to it).
fn solution_plus(name: &str, code: &str, extra: &[(&str, &str)]) -> std::path::PathBuf {
    submission("01-race-fix", name, |lib| format!("{lib}\n{code}\n"), extra)
}

const MODEL_CHECKS: [&str; 4] = [
    "counter_two_increments",
    "counter_add_races",
    "ids_two_threads",
    "seen_set_two_threads",
];

/// The lint failed and every model check was skipped as vacuous: all the submission loses.
fn assert_shim_bypassed(report: &serde_json::Value) -> String {
    let lint = check(report, "uses_sync_shim");
    assert_eq!(lint["status"], "fail", "{lint}");
    for name in MODEL_CHECKS {
        let c = check(report, name);
        assert_eq!(c["skip_reason"], "shim_bypassed", "{c}");
    }
    lint["message"].as_str().unwrap().to_string()
}

#[test]
fn primitives_reached_through_macros_renames_and_raw_names_fail_the_lint() {
    // Every route is on its own line, and none is a path the token pass can read.
    let code = r#"
extern crate std as s;
macro_rules! through { ($root:ident) => { $root::sync::Mutex::new(0u64) } }
pub fn route_macro() -> u64 { let m = through!(std); let v = *m.lock().unwrap(); v }
pub fn route_renamed() -> u64 { s::sync::atomic::AtomicU64::new(1).into_inner() }
pub fn route_raw() -> u64 { r#std::sync::atomic::AtomicU64::new(2).into_inner() }
#[allow(clippy::all, warnings)]
pub fn route_silenced() { let _ = s::thread::spawn(|| ()).join(); }
"#;
    let dir = solution_plus("hostile-lint-routes", code, &[]);
    let (code, report) = check_json("01", &dir, &["--kind", "lint,model"]);
    assert_eq!(code, 1, "{report}");
    let message = assert_shim_bypassed(&report);
    let line_of = |needle: &str| {
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        1 + lib.lines().position(|l| l.contains(needle)).unwrap()
    };
    for (route, path) in [
        ("macro_rules! through", "std::sync::Mutex"),
        ("pub fn route_renamed", "std::sync::atomic::AtomicU64"),
        ("pub fn route_raw", "std::sync::atomic::AtomicU64"),
        ("pub fn route_silenced", "std::thread::spawn"),
    ] {
        let place = format!("src/lib.rs:{} uses `{path}`", line_of(route));
        assert!(
            message.contains(&place),
            "{route}: no `{place}` in {message}"
        );
    }
    assert!(message.contains("after resolving names"), "{message}");
}

#[test]
fn code_for_the_model_checks_build_only_fails_the_lint() {
    let code = "#[cfg(loom)]\npub fn only_in_the_model_build() {}\n";
    let dir = solution_plus("hostile-cfg-loom", code, &[]);
    let (code, report) = check_json("01", &dir, &["--kind", "lint,model"]);
    assert_eq!(code, 1, "{report}");
    let message = assert_shim_bypassed(&report);
    assert!(message.contains("uses `loom`"), "{message}");
    assert!(message.contains("Remove every `cfg(loom)`"), "{message}");
}

#[test]
fn a_text_file_included_as_code_is_not_in_the_build() {
    let dir = solution_plus(
        "hostile-include-txt",
        "include!(\"more.txt\");",
        &[(
            "src/more.txt",
            "pub fn sneaky() -> u64 { let m = std::sync::Mutex::new(3u64); let v = *m.lock().unwrap(); v }\n",
        )],
    );
    let (code, report) = check_json("01", &dir, &["--kind", "lint,unit"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["build"]["status"], "error", "{report}");
    let summary = report["build"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("reads only the .rs files of your src/"),
        "{summary}"
    );
    assert!(
        report["build"]["compiler_output"]
            .as_str()
            .unwrap()
            .contains("couldn't read"),
        "{report}"
    );
    for name in [
        "counter_one_thread",
        "ids_one_thread",
        "seen_set_one_thread",
    ] {
        assert_eq!(check(&report, name)["skip_reason"], "build_failed");
    }
}

#[test]
fn the_build_reads_nothing_of_the_kit_the_system_or_the_grader_s_environment() {
    let kit = common::kit_root();
    let code = format!(
        "compile_error!(include_str!({:?}));\ncompile_error!(include_str!({:?}));\ncompile_error!(include_str!(\"/etc/passwd\"));\ncompile_error!(env!(\"GRADER_TEST_SECRET\"));\n",
        kit.join("solutions/01-race-fix/src/lib.rs"),
        kit.join("grader/lessons/01-race-fix/checks.rs"),
    );
    let dir = solution_plus("hostile-build-reads", &code, &[]);
    let out = grader()
        .args([
            "check", "01", "--format", "json", "--kind", "unit", "--path",
        ])
        .arg(&dir)
        .env("GRADER_TEST_SECRET", "s3cret-in-the-graders-env-91c4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["build"]["status"], "error", "{report}");
    let output = report["build"]["compiler_output"].as_str().unwrap();
    assert!(output.contains("Permission denied"), "{output}");
    assert!(output.contains("not defined at compile time"), "{output}");
    // None of what it tried to read reached the report.
    let checks = std::fs::read_to_string(kit.join("grader/lessons/01-race-fix/checks.rs")).unwrap();
    for secret in [
        "Lesson 01, reference solution",
        checks.lines().next().unwrap(),
        "root:x:0:0",
        "s3cret-in-the-graders-env-91c4",
    ] {
        assert!(!text.contains(secret), "the report holds {secret:?}");
    }
}

#[test]
fn a_memory_bomb_at_build_time_fails_fast_with_a_clear_reason() {
    let dir = solution_plus(
        "hostile-build-bomb",
        "pub static BOMB: [u8; 1 << 34] = [7; 1 << 34];",
        &[],
    );
    let started = Instant::now();
    let (code, report) = check_json("01", &dir, &["--kind", "unit"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["build"]["status"], "error", "{report}");
    let output = report["build"]["compiler_output"].as_str().unwrap();
    assert!(
        output.contains("the build used more than 3 GiB of memory"),
        "{output}"
    );
    assert_eq!(report["score"], 0, "{report}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn links_into_the_kit_are_refused_wherever_they_are() {
    let kit = common::kit_root();
    let solution = kit.join("solutions/01-race-fix");
    let root = kit.join("target/test-submissions/01-race-fix");
    // A crate whose src/ is a link to the reference solution's, and a kit copy whose lesson
    // folder is one.
    let linked_src = root.join("hostile-linked-src");
    let kit_copy = root.join("hostile-linked-lesson");
    for dir in [&linked_src, &kit_copy] {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::fs::create_dir_all(&linked_src).unwrap();
    std::fs::copy(solution.join("Cargo.toml"), linked_src.join("Cargo.toml")).unwrap();
    std::os::unix::fs::symlink(solution.join("src"), linked_src.join("src")).unwrap();
    std::fs::create_dir_all(kit_copy.join("exercises")).unwrap();
    std::fs::copy(
        kit.join("curriculum.toml"),
        kit_copy.join("curriculum.toml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&solution, kit_copy.join("exercises/01-race-fix")).unwrap();

    for (dir, reason) in [
        (&linked_src, "src is a symbolic link"),
        (&kit_copy, "exercises/01-race-fix is a symbolic link"),
    ] {
        let out = grader()
            .args(["check", "01", "--path"])
            .arg(dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    }
}
