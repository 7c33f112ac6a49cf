//! Building a target: a generated harness crate that links the lesson's checks with the crate under
//! test, compiled by cargo into a cache that survives between runs.
//!
//! Layout of the cache (`target/grader` under the kit):
//! ```text
//! std/target/                 one cargo target dir for every std build (dependencies built once)
//! std/01-race-fix/exercise/   the generated harness crate of one target
//!     Cargo.toml  src/main.rs  lesson-exercise/{Cargo.toml, src/...}
//! loom/...                    the same for `--cfg loom` builds, so the two never rebuild each other
//! ```
//! A re-check after an edit rewrites only the files whose content changed, so cargo recompiles just
//! the lesson crate and the harness on top of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::check::lint::{Found, Violation};
use crate::check::process::{self, Limits};
use crate::check::rustc_sandbox;
use crate::check::target::Target;
use crate::curriculum::Lesson;
use crate::kit::Kit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ordinary std build: unit, stress and timing checks.
    Std,
    /// `--cfg loom` build: model checks.
    Loom,
}

impl Mode {
    /// How the learner's live output names the build: "the std checks", "the loom checks".
    pub fn label(self) -> &'static str {
        self.dir()
    }
    fn dir(self) -> &'static str {
        match self {
            Mode::Std => "std",
            Mode::Loom => "loom",
        }
    }
    fn rustflags(self) -> &'static str {
        match self {
            Mode::Std => "",
            Mode::Loom => "--cfg loom",
        }
    }
}

/// A harness binary ready to run.
pub struct Built {
    pub harness: PathBuf,
    pub duration: Duration,
    /// The resolved-path shim lint of the loom build (see `rustc_sandbox.rs`): every use of a std
    /// primitive it found in the target's code; `None` where it did not run (the std build, no
    /// clippy-driver, no wrapper on this system).
    pub shim_bypasses: Option<Vec<Violation>>,
}

/// Why a build failed, with the compiler's own words.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub summary: String,
    pub compiler_output: String,
}

/// Cold builds download and compile loom and friends; ten minutes is far beyond that.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

pub fn build(
    kit: &Kit,
    lesson: &Lesson,
    target: &Target,
    mode: Mode,
    color: bool,
) -> Result<Result<Built, BuildFailure>> {
    let started = Instant::now();
    let mode_dir = kit.cache_dir().join(mode.dir());
    let gen = mode_dir.join(lesson.dir_name()).join(&target.key);
    let package = harness_package_name(lesson, &target.key);
    let lesson_crate = generate(kit, lesson, target, &gen, &package)?;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(gen.join("Cargo.toml"))
        .arg("--message-format")
        .arg(if color {
            "json-diagnostic-rendered-ansi"
        } else {
            "json"
        })
        .env("CARGO_TARGET_DIR", mode_dir.join("target"))
        .env("RUSTFLAGS", mode.rustflags())
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_INCREMENTAL")
        .env_remove("CARGO_PROFILE_RELEASE_DEBUG")
        .env("CARGO_TERM_COLOR", if color { "always" } else { "never" })
        // A wrapper of the grader's environment (sccache, say) would run the grader's own.
        .env_remove("RUSTC_WRAPPER");
    let linted = mode == Mode::Loom && rustc_sandbox::supported();
    if rustc_sandbox::supported() {
        let gen = std::path::absolute(&gen)?;
        let checks = kit.checks_file(lesson);
        let mut harness_reads = vec![gen.join("src")];
        // The lesson's Rust files (checks.rs and the modules it includes), never its patches,
        // which show the reference solution's lines.
        if let Some(dir) = checks.parent() {
            for entry in std::fs::read_dir(dir)?.flatten() {
                if entry.path().extension().is_some_and(|e| e == "rs") {
                    harness_reads.push(std::path::absolute(entry.path())?);
                }
            }
        }
        let clippy_conf = if linted {
            let dir = std::path::absolute(kit.cache_dir().join("clippy"))?;
            write_if_changed(
                &dir.join("clippy.toml"),
                rustc_sandbox::clippy_toml().as_bytes(),
            )?;
            // In cargo's environment too: clippy-driver records it as an input of the crate,
            // and cargo would rebuild a crate whose recorded value differs from its own.
            command.env("CLIPPY_CONF_DIR", &dir);
            Some(dir)
        } else {
            None
        };
        let plan = rustc_sandbox::Plan {
            lesson_crate: lesson_crate.replace('-', "_"),
            lesson_dir: gen.join(target.crate_dir_name()),
            harness_reads,
            scratch: gen.join("tmp"),
            clippy_conf,
        };
        command
            .env(
                "RUSTC_WORKSPACE_WRAPPER",
                std::env::current_exe().context("cannot find the grader's own program")?,
            )
            .env(rustc_sandbox::PLAN_VAR, serde_json::to_string(&plan)?);
    }
    let limits = Limits {
        timeout: BUILD_TIMEOUT,
        memory_bytes: None,
        max_threads: None,
        max_rss_bytes: None,
        output_bytes: 32 << 20,
        max_output_bytes: None,
        cancel: None,
    };
    // A build takes the cores a timing check would measure: never both at once (see gate.rs).
    let gate = crate::check::gate::shared();
    let finished = process::run(command, &limits)
        .context("cannot run cargo: is the Rust toolchain installed?")?;
    drop(gate);
    if finished.timed_out {
        return Ok(Err(BuildFailure {
            summary: format!(
                "the build did not finish within {} s",
                BUILD_TIMEOUT.as_secs()
            ),
            compiler_output: String::new(),
        }));
    }

    let mut executable = None;
    let mut crate_errors = Vec::new();
    let mut check_errors = Vec::new();
    let mut bypasses = linted.then(Vec::new);
    let marker = format!("/{}#", target.crate_dir_name());
    for line in String::from_utf8_lossy(&finished.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-artifact")
                if message["target"]["name"] == package.replace('-', "_")
                    || message["target"]["name"] == package =>
            {
                if let Some(exe) = message["executable"].as_str() {
                    executable = Some(PathBuf::from(exe));
                }
            }
            Some("compiler-message")
                if message["message"]["level"] == "warning"
                    && message["package_id"]
                        .as_str()
                        .is_some_and(|id| id.contains(&marker)) =>
            {
                let text = message["message"]["message"].as_str().unwrap_or_default();
                if text == rustc_sandbox::NO_CLIPPY {
                    bypasses = None;
                } else if let (Some(found), Some(v)) =
                    (bypasses.as_mut(), shim_bypass(&message["message"], target))
                {
                    found.push(v);
                }
            }
            Some("compiler-message") if message["message"]["level"] == "error" => {
                let rendered = message["message"]["rendered"].as_str().unwrap_or_default();
                let from_lesson = message["package_id"]
                    .as_str()
                    .is_some_and(|id| id.contains(&marker));
                if from_lesson {
                    crate_errors.push(target.show_paths(rendered));
                } else {
                    check_errors.push(target.show_paths(rendered));
                }
            }
            _ => {}
        }
    }
    if finished.status.is_some_and(|s| s.success()) {
        let harness =
            executable.ok_or_else(|| anyhow!("cargo built the harness but named no executable"))?;
        return Ok(Ok(Built {
            harness,
            duration: started.elapsed(),
            shim_bypasses: bypasses,
        }));
    }
    let stderr = String::from_utf8_lossy(&finished.stderr);
    // Not the learner's code: the machine's Rust. A grader error, said plainly, for every lesson.
    if let Some(old) = crate::check::toolchain::too_old(&stderr) {
        let kit_needs = crate::check::toolchain::kit_needs(&kit.root);
        bail!("{}", old.message(kit_needs.as_deref()));
    }
    let failure = if !crate_errors.is_empty() {
        // `include_str!` and friends see the crate's own `.rs` files only (see target.rs and
        // rustc_sandbox.rs): say so, since the compiler's "No such file" or "Permission denied"
        // alone would send the learner looking at their folder.
        let unreadable = crate_errors.iter().any(|e| e.contains("couldn't read"));
        BuildFailure {
            summary: format!(
                "{} does not compile{}{}",
                target.label,
                if mode == Mode::Loom {
                    " under --cfg loom (the model checks' build)"
                } else {
                    ""
                },
                if unreadable {
                    ": the compiler reads only the .rs files of your src/ (no .txt or .md file is built, and nothing outside src/ is readable during the build)"
                } else {
                    ""
                }
            ),
            compiler_output: crate_errors.join("\n"),
        }
    } else if !check_errors.is_empty() {
        BuildFailure {
            summary: format!(
                "the lesson's checks do not compile against {}: its public API differs from the one the lesson asks for (a missing item, another signature or missing trait bounds; see the lesson README)",
                target.label
            ),
            compiler_output: check_errors.join("\n"),
        }
    } else {
        BuildFailure {
            summary: "cargo could not build the harness".into(),
            compiler_output: tail(&stderr, 4000),
        }
    };
    Ok(Err(failure))
}

/// A finding of the resolved-path lint in the lesson crate, unless it is in the kit's shim (which
/// wraps std's own types on purpose, and which the grader always writes itself).
fn shim_bypass(message: &serde_json::Value, target: &Target) -> Option<Violation> {
    let code = message["code"]["code"].as_str()?;
    if !rustc_sandbox::SHIM_LINTS.contains(&code) {
        return None;
    }
    let span = message["spans"]
        .as_array()?
        .iter()
        .find(|s| s["is_primary"] == true)?;
    let file = span["file_name"].as_str()?;
    if file == format!("{}/src/sync.rs", target.crate_dir_name()) {
        return None;
    }
    // "use of a disallowed type `std::sync::Mutex`": the path is what the lint names.
    let text = message["message"].as_str()?;
    let path = text.split('`').nth(1).unwrap_or(text).to_string();
    Some(Violation {
        file: target.show_paths(file),
        line: span["line_start"].as_u64().unwrap_or(0) as usize,
        path,
        found: Found::ByCompiler,
    })
}

/// Writes the harness crate for `target`, touching only files whose content changed; returns the
/// lesson crate's package name.
fn generate(
    kit: &Kit,
    lesson: &Lesson,
    target: &Target,
    gen: &Path,
    package: &str,
) -> Result<String> {
    let crate_dir = gen.join(target.crate_dir_name());
    let lesson_src = crate_dir.join("src");
    std::fs::create_dir_all(&lesson_src)
        .with_context(|| format!("cannot create {}", lesson_src.display()))?;

    // The lesson crate: the kit's manifest and shim, the target's other sources.
    let manifest_path = kit.manifest(lesson);
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read the kit's manifest {}", manifest_path.display()))?;
    let mut manifest_table: toml::Table = toml::from_str(&manifest)
        .with_context(|| format!("{} is malformed", manifest_path.display()))?;
    let package_name = manifest_table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .with_context(|| format!("{} names no package", manifest_path.display()))?
        .to_string();
    // Whatever the lesson's manifest says, the crate under test may not use `unsafe`: no code
    // before `main` (`link_section`, `no_mangle`, `global_asm!`), no raw descriptors, so nothing
    // that could reach the harness's record channel.
    forbid_unsafe(&mut manifest_table);
    // The shim's loom side runs `thread::scope` on the kit's scoped model threads.
    loom_dependency(
        &mut manifest_table,
        "grader-loom-scope",
        path_dep(&kit.root.join("grader").join("loom-scope")),
    );
    let manifest = toml::to_string(&manifest_table)?;
    write_if_changed(&crate_dir.join("Cargo.toml"), manifest.as_bytes())?;
    let shim = kit.shim(lesson)?;
    let mut wanted = vec![PathBuf::from("sync.rs")];
    write_if_changed(&lesson_src.join("sync.rs"), shim.as_bytes())?;
    for file in target.files() {
        if file.path == "sync.rs" {
            continue;
        }
        write_if_changed(&lesson_src.join(&file.path), &file.contents)?;
        wanted.push(PathBuf::from(&file.path));
    }
    remove_stale(&lesson_src, Path::new(""), &wanted)?;

    // The harness crate around it.
    let checks = kit.checks_file(lesson);
    // The shim reaches the harness through plain functions: under std, its notes of blocked
    // threads (grader_harness::hang); under loom, its record of each interleaving
    // (grader_harness::trace).
    let checks_text = std::fs::read_to_string(&checks)
        .with_context(|| format!("cannot read {}", checks.display()))?;
    let run = if crate::check::declared::declares_children(&checks_text)
        .with_context(|| format!("{} does not parse", checks.display()))?
    {
        "#[cfg(not(loom))]\n    let children = checks::CHILDREN;\n    // A lesson's child programs are std code: its loom build declares none.\n    #[cfg(loom)]\n    let children: &[grader_harness::check::Child] = &[];\n    grader_harness::runner::main_with_children(checks::CHECKS, children)"
    } else {
        "grader_harness::runner::main(checks::CHECKS)"
    };
    let main = format!(
        "// Generated by the grader for {}; do not edit.\n#[path = {:?}]\nmod checks;\n\nfn main() {{\n    #[cfg(not(loom))]\n    grader_harness::hang::install(grader_harness::hang::Shim {{\n        enter: {krate}::sync::__watch::enter,\n        observe: {krate}::sync::__watch::observe,\n        snapshot: {krate}::sync::__watch::snapshot,\n        unjoined: {krate}::sync::__watch::unjoined,\n    }});\n    #[cfg(loom)]\n    grader_harness::trace::connect(grader_harness::trace::Shim {{\n        start: {krate}::sync::trace::start,\n        snapshot: {krate}::sync::trace::snapshot,\n        waiting: {krate}::sync::trace::waiting,\n        notified: {krate}::sync::trace::notified,\n        deadlocked: {krate}::sync::trace::deadlocked,\n    }});\n    {run}\n}}\n",
        lesson.dir_name(),
        checks.display().to_string(),
        krate = package_name.replace('-', "_"),
    );
    write_if_changed(&gen.join("src").join("main.rs"), main.as_bytes())?;
    let harness_lib = kit.root.join("grader").join("harness");
    let mut deps = toml::Table::new();
    deps.insert(
        package_name.clone(),
        toml::Value::Table(path_dep(&crate_dir)),
    );
    deps.insert(
        "grader-harness".into(),
        toml::Value::Table(path_dep(&harness_lib)),
    );
    let extra_path = kit.path(&lesson.checks).join("dependencies.toml");
    if extra_path.is_file() {
        let extra: toml::Table = toml::from_str(&std::fs::read_to_string(&extra_path)?)
            .with_context(|| format!("{} is malformed", extra_path.display()))?;
        if let Some(toml::Value::Table(more)) = extra.get("dependencies") {
            deps.extend(more.clone());
        }
    }
    let manifest = format!(
        r#"# Generated by the grader; do not edit.
[package]
name = "{package}"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
{deps}
[target.'cfg(loom)'.dependencies]
loom = "0.7"

# Its own workspace: the generated crate sits inside the kit's folder but is not a kit member.
[workspace]

[profile.release]
opt-level = 2
debug = false
incremental = true
codegen-units = 16
overflow-checks = true

[lints.rust]
unexpected_cfgs = {{ level = "allow" }}
"#,
        // One `name = { ... }` line per dependency: a Value displays as an inline table.
        deps = deps
            .iter()
            .map(|(name, spec)| format!("{name} = {spec}\n"))
            .collect::<String>(),
    );
    write_if_changed(&gen.join("Cargo.toml"), manifest.as_bytes())?;
    // Pin dependencies to the versions the kit was tested with.
    // Pin dependencies to the versions the kit was tested with. Cargo adds the harness's own
    // entries to the copy; a copy that no longer parses (taken from a kit lock caught mid-edit, say)
    // would fail every later build of this target, so it is taken again.
    let lock = gen.join("Cargo.lock");
    let readable = std::fs::read_to_string(&lock)
        .ok()
        .is_some_and(|text| text.parse::<toml::Table>().is_ok());
    if !readable {
        if let Ok(kit_lock) = std::fs::read(kit.root.join("Cargo.lock")) {
            std::fs::write(&lock, kit_lock)?;
        }
    }
    Ok(package_name)
}

/// Sets `[lints.rust] unsafe_code = "forbid"` in a lesson crate's manifest.
fn forbid_unsafe(manifest: &mut toml::Table) {
    let lints = manifest
        .entry("lints")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(lints) = lints {
        let rust = lints
            .entry("rust")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(rust) = rust {
            rust.insert("unsafe_code".into(), toml::Value::String("forbid".into()));
        }
    }
}

/// Adds `name = spec` under `[target.'cfg(loom)'.dependencies]`.
fn loom_dependency(manifest: &mut toml::Table, name: &str, spec: toml::Table) {
    let target = manifest
        .entry("target")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(target) = target.as_table_mut() else {
        return;
    };
    let loom = target
        .entry("cfg(loom)")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(loom) = loom.as_table_mut() else {
        return;
    };
    let deps = loom
        .entry("dependencies")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(deps) = deps.as_table_mut() {
        deps.insert(name.into(), toml::Value::Table(spec));
    }
}

fn path_dep(path: &Path) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert(
        "path".into(),
        toml::Value::String(path.display().to_string()),
    );
    t
}

fn harness_package_name(lesson: &Lesson, key: &str) -> String {
    let clean: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("harness_{:02}_{clean}", lesson.number)
}

/// Writing only on change keeps the file's mtime, which is what cargo uses to decide on a rebuild.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes files a previous version of the target had and this one doesn't.
fn remove_stale(dir: &Path, rel: &Path, wanted: &[PathBuf]) -> Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let rel_path = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            remove_stale(&entry.path(), &rel_path, wanted)?;
        } else if !wanted.contains(&rel_path) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_crate_under_test_never_gets_unsafe_whatever_its_manifest_says() {
        for text in [
            "[package]\nname = \"x\"\n",
            "[package]\nname = \"x\"\n[lints.rust]\nunsafe_code = \"allow\"\n",
            "[package]\nname = \"x\"\n[lints.clippy]\nall = \"warn\"\n",
        ] {
            let mut manifest: toml::Table = toml::from_str(text).unwrap();
            super::forbid_unsafe(&mut manifest);
            assert_eq!(
                manifest["lints"]["rust"]["unsafe_code"].as_str(),
                Some("forbid")
            );
        }
    }
}
