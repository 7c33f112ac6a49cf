//! Shared by the integration tests: where the kit is, a grader command, and scratch submissions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The kit root: the workspace holding this crate.
pub fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `grader` run from the kit root, colour off.
pub fn grader() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("grader").unwrap();
    cmd.current_dir(kit_root())
        .env("NO_COLOR", "1")
        .env_remove("GRADER_CACHE_DIR");
    cmd
}

/// A submission folder at a stable path under target/ (so its build is cached between test runs):
/// the lesson's solution with `edit` applied to its lib.rs, plus any extra files.
pub fn submission(
    lesson_dir: &str,
    name: &str,
    edit: impl FnOnce(String) -> String,
    extra: &[(&str, &str)],
) -> PathBuf {
    let root = kit_root();
    let dir = root
        .join("target/test-submissions")
        .join(lesson_dir)
        .join(name);
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let solution = root.join("solutions").join(lesson_dir);
    let lib = std::fs::read_to_string(solution.join("src/lib.rs")).unwrap();
    write_if_changed(&src.join("lib.rs"), &edit(lib));
    write_if_changed(
        &src.join("sync.rs"),
        &std::fs::read_to_string(solution.join("src/sync.rs")).unwrap(),
    );
    write_if_changed(
        &dir.join("Cargo.toml"),
        &std::fs::read_to_string(solution.join("Cargo.toml")).unwrap(),
    );
    for (rel, text) in extra {
        write_if_changed(&dir.join(rel), text);
    }
    dir
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Runs `grader check LESSON --path DIR --format json` and returns the exit code and the report.
pub fn check_json(lesson: &str, dir: &Path, extra_args: &[&str]) -> (i32, serde_json::Value) {
    let out = grader()
        .args(["check", lesson, "--format", "json", "--path"])
        .arg(dir)
        .args(extra_args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_valid_report(&report);
    (out.status.code().unwrap_or(-1), report)
}

/// `report` follows the published schema of `grader check --format json`
/// (grader/schema/report.schema.json, generated from the report's types).
pub fn assert_valid_report(report: &serde_json::Value) {
    let path = kit_root().join("grader/schema/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid against {}: {errors:#?}",
        path.display()
    );
    assert_eq!(report["format_version"], 1);
}

/// The check named `name` in a report.
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

/// A known-buggy variant's lib.rs: the lesson's solution with its `variants/NAME.patch` applied,
/// as the grader applies it.
pub fn variant_lib(lesson_dir: &str, name: &str) -> String {
    use grader::author::patch::{self, PatchFile};
    use grader::check::target::SourceFile;
    let root = kit_root();
    let solution =
        std::fs::read(root.join("solutions").join(lesson_dir).join("src/lib.rs")).unwrap();
    let file = root
        .join("grader/lessons")
        .join(lesson_dir)
        .join("variants")
        .join(format!("{name}.patch"));
    let text = std::fs::read_to_string(&file).unwrap();
    let mut files = vec![SourceFile::new("lib.rs", solution)];
    patch::apply(&mut files, &PatchFile::parse(&text).unwrap().diff).unwrap();
    files[0].text().into_owned()
}

/// A lesson's checks and their points, `name -> (kind, points)`, as curriculum.toml gives them.
pub fn lesson_points(number: i64) -> std::collections::BTreeMap<String, (String, u64)> {
    let text = std::fs::read_to_string(kit_root().join("curriculum.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let lesson = doc["lesson"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["number"].as_integer() == Some(number))
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for (kind, checks) in lesson["points"].as_table().unwrap() {
        for (name, p) in checks.as_table().unwrap() {
            out.insert(name.clone(), (kind.clone(), p.as_integer().unwrap() as u64));
        }
    }
    out
}

/// Lesson 01's solution `lib` with a lost-update counter: `increment` loads, yields, then stores.
/// The yield between the load and the store makes the lost updates show on an idle machine too,
/// so what the hostile tests assert does not hang on the scheduler.
pub fn racy_counter(lib: &str) -> String {
    let racy = lib.replace(
        "    pub fn increment(&self) {\n        self.value.fetch_add(1, Ordering::Relaxed);",
        "    pub fn increment(&self) {\n        let v = self.value.load(Ordering::Relaxed);\n        crate::sync::thread::yield_now();\n        self.value.store(v + 1, Ordering::Relaxed);",
    );
    assert_ne!(
        racy, lib,
        "the solution's increment changed: update this test"
    );
    racy
}

/// Processes whose environment holds `marker` (what the hostile submissions' children carry).
pub fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(env) = std::fs::read(entry.path().join("environ")) {
            if String::from_utf8_lossy(&env).contains(marker) {
                found.push(name);
            }
        }
    }
    found
}

/// The sandbox's protections here, from the launcher's probe.
pub fn protections() -> Vec<String> {
    let out = grader()
        .args([
            "__sandbox",
            "--scratch",
            "/tmp",
            "--max-tasks",
            "64",
            "--",
            "--probe",
        ])
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    line["protections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[path = "junit_schema.rs"]
mod junit_schema;
#[allow(unused_imports)]
pub use junit_schema::assert_valid_junit;
