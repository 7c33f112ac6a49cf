//! The builds' sandbox: the compiler of the crate under test runs as contained as its checks.
//!
//! Code runs at build time too: `include_str!` reads any file the compiler can, a `const` can ask
//! for gigabytes, a `const` loop or a macro can run for ever, and whatever the compiler reads can
//! come back in an error message, which the grader shows. So the grader builds each target with
//! itself as cargo's `RUSTC_WORKSPACE_WRAPPER` (a hidden mode: cargo runs `grader RUSTC ARGS...`
//! with [`PLAN_VAR`] in the environment).
//! Cargo runs the wrapper only for the generated harness's workspace members: the lesson crate
//! (the target's code) and the harness crate (its `main.rs` and the lesson's `checks.rs`); the
//! kit's harness runtime, loom and the registry's crates are compiled by rustc as usual. For those
//! two crates the wrapper, before it starts the compiler:
//!
//! - restricts the file system with Landlock (the same code as the checks' sandbox): read the
//!   toolchain, the system's programs and libraries (the linker), the crate's own generated folder
//!   (the lesson crate: its `src/` and manifest only; the harness crate: also its `main.rs` and the
//!   lesson's `.rs` checks, not the folder's patches), cargo's dependency folders (`-L`); write
//!   the output and incremental folders and a scratch folder. Nothing of the kit's solutions,
//!   curriculum or variants, no other target's generated folder, nothing of `$HOME`, `/etc`;
//! - limits memory (RLIMIT_AS, [`MEMORY_BYTES`]), file size and time ([`TIMEOUT`], far shorter
//!   than the whole build's), and says so in the compiler's own words when one is hit, as an error
//!   of the crate: "the build used more than 3 GiB";
//! - gives the compiler a clean environment (cargo's own variables, `PATH`; no token or secret of
//!   the grader's environment can end up in an `env!`);
//! - for the lesson crate's `--cfg loom` build, runs clippy's driver instead of rustc, with only the
//!   `disallowed_types`/`disallowed_methods` lints on, forced (`--force-warn`: no `#[allow]` in
//!   the code can silence them), configured with std's and core's synchronization items: the
//!   resolved-path half of the shim lint (see `lint.rs`). It is the model checks' own build, so
//!   it costs only the lint pass.
//!
//! What stays readable: cargo's shared dependency folder (`target/grader/*/target/release/deps`),
//! which holds the compiled artifacts of every target built in this kit, classmates' and the
//! reference solution's included (never their sources), and the shared incremental folder, under
//! names nobody can list at build time. Elsewhere than Linux there is no wrapper.

// Elsewhere than Linux the wrapper only passes the compiler through: its helpers go unused there.
#![cfg_attr(
    not(target_os = "linux"),
    allow(dead_code, unused_imports, unused_variables)
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The variable the grader passes the [`Plan`] in: its presence is what starts the wrapper mode
/// (it is removed before the compiler starts).
pub const PLAN_VAR: &str = "GRADER_RUSTC_PLAN";
/// What the compiler of either crate may use: a build takes a few hundred MiB.
pub const MEMORY_BYTES: u64 = 3 << 30;
/// One compiler run; a cold build of a whole harness takes well under a minute even on a loaded
/// machine. (The whole build has ten minutes: it compiles loom and the registry's crates too.)
pub const TIMEOUT: Duration = Duration::from_secs(180);
/// The largest file the compiler may write (a harness binary is ~10 MiB).
const FILE_BYTES: u64 = 1 << 30;

/// The lints of the resolved-path pass, and the code their findings carry.
pub const SHIM_LINTS: [&str; 2] = ["clippy::disallowed_types", "clippy::disallowed_methods"];

/// What the grader tells the wrapper about one target's build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The lesson crate's name as rustc sees it (`race_fix`).
    pub lesson_crate: String,
    /// Its generated folder (`.../lesson-KEY`): all the lesson crate's compiler may read of the
    /// target.
    pub lesson_dir: PathBuf,
    /// What the harness crate's compiler may read beyond that: its `src/` and the lesson's
    /// `.rs` checks.
    pub harness_reads: Vec<PathBuf>,
    /// A scratch folder (TMPDIR: the linker's temporary files).
    pub scratch: PathBuf,
    /// `Some(folder of clippy.toml)`: lint the lesson crate (the loom build).
    pub clippy_conf: Option<PathBuf>,
}

/// Whether builds run through the wrapper on this system.
pub fn supported() -> bool {
    cfg!(target_os = "linux")
}

/// The `clippy.toml` of the resolved-path pass: every synchronization item of std (and core,
/// whose atomics std re-exports) that the kit's shim replaces under loom. Not listed: what loom
/// itself re-exports from std (`Ordering`, `LockResult`, `PoisonError`, `TryLockError`), which
/// the shim hands on, and what carries no synchronization (`Duration`, `available_parallelism`).
pub fn clippy_toml() -> String {
    const WHY: &str = "the model checker (loom) can't see it: take it from crate::sync";
    let types = [
        "std::sync::Arc",
        "std::sync::Weak",
        "std::sync::Mutex",
        "std::sync::MutexGuard",
        "std::sync::RwLock",
        "std::sync::RwLockReadGuard",
        "std::sync::RwLockWriteGuard",
        "std::sync::Condvar",
        "std::sync::Barrier",
        "std::sync::Once",
        "std::sync::OnceLock",
        "std::sync::LazyLock",
        "std::sync::mpsc::Sender",
        "std::sync::mpsc::SyncSender",
        "std::sync::mpsc::Receiver",
        "std::sync::atomic::AtomicBool",
        "std::sync::atomic::AtomicI8",
        "std::sync::atomic::AtomicI16",
        "std::sync::atomic::AtomicI32",
        "std::sync::atomic::AtomicI64",
        "std::sync::atomic::AtomicIsize",
        "std::sync::atomic::AtomicU8",
        "std::sync::atomic::AtomicU16",
        "std::sync::atomic::AtomicU32",
        "std::sync::atomic::AtomicU64",
        "std::sync::atomic::AtomicUsize",
        "std::sync::atomic::AtomicPtr",
        "std::thread::JoinHandle",
        "std::thread::Builder",
        "std::thread::Scope",
        "std::thread::ScopedJoinHandle",
    ];
    let methods = [
        "std::thread::spawn",
        "std::thread::scope",
        "std::thread::sleep",
        "std::thread::park",
        "std::thread::park_timeout",
        "std::thread::yield_now",
        "std::thread::Thread::unpark",
        "std::sync::mpsc::channel",
        "std::sync::mpsc::sync_channel",
        "std::sync::atomic::fence",
        "std::sync::atomic::compiler_fence",
    ];
    let list = |paths: &[&str]| -> String {
        paths
            .iter()
            .map(|p| format!("    {{ path = \"{p}\", reason = \"{WHY}\" }},\n"))
            .collect()
    };
    format!(
        "# Generated by the grader (check/rustc_sandbox.rs): the resolved-path shim lint.\ndisallowed-types = [\n{}]\ndisallowed-methods = [\n{}]\n",
        list(&types),
        list(&methods)
    )
}

/// The value of `--flag VALUE` or `--flag=VALUE` among a compiler's arguments, each time it
/// occurs.
fn values<'a>(args: &'a [OsString], flag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    args.iter().enumerate().filter_map(move |(i, a)| {
        let a = a.to_str()?;
        if a == flag {
            return args.get(i + 1)?.to_str();
        }
        a.strip_prefix(flag)?.strip_prefix('=')
    })
}

/// The folders a compiler run writes: `--out-dir` and `-C incremental=`.
fn written(args: &[OsString]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = values(args, "--out-dir").map(PathBuf::from).collect();
    dirs.extend(
        values(args, "-C")
            .filter_map(|c| c.strip_prefix("incremental="))
            .map(PathBuf::from),
    );
    dirs
}

/// The folders a compiler run searches for dependencies: `-L [KIND=]PATH`.
fn searched(args: &[OsString]) -> Vec<PathBuf> {
    values(args, "-L")
        .map(|l| l.split_once('=').map_or(l, |(_, p)| p))
        .map(PathBuf::from)
        .collect()
}

/// The environment the compiler keeps: what cargo sets for it, and `PATH` (the linker).
fn kept_variable(name: &str) -> bool {
    matches!(
        name,
        "PATH"
            | "LD_LIBRARY_PATH"
            | "CARGO"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_RUSTC_CURRENT_DIR"
            | "CARGO_MAKEFLAGS"
            | "CARGO_TARGET_TMPDIR"
    ) || name.starts_with("CARGO_PKG_")
}

/// `grader RUSTC ARGS...` with [`PLAN_VAR`] set: never returns.
pub fn wrapper_main(args: &[OsString]) -> ! {
    let Some((rustc, rest)) = args.split_first() else {
        eprintln!("grader: internal: the compiler wrapper needs the compiler to run");
        std::process::exit(125)
    };
    let plan = std::env::var(PLAN_VAR)
        .ok()
        .and_then(|text| serde_json::from_str::<Plan>(&text).ok());
    let crate_name = values(rest, "--crate-name").next().unwrap_or_default();
    match plan {
        // Cargo's own questions (`-vV`, `--print`) and anything not of this target: as is.
        Some(plan) if !crate_name.is_empty() && crate_name != "___" => {
            #[cfg(target_os = "linux")]
            linux::contained(
                Path::new(rustc),
                rest,
                &plan,
                crate_name == plan.lesson_crate,
            );
            #[cfg(not(target_os = "linux"))]
            pass_through(rustc, rest)
        }
        _ => pass_through(rustc, rest),
    }
}

fn pass_through(rustc: &OsString, args: &[OsString]) -> ! {
    let status = std::process::Command::new(rustc)
        .args(args)
        .env_remove(PLAN_VAR)
        .status();
    match status {
        Ok(s) => std::process::exit(s.code().unwrap_or(101)),
        Err(e) => {
            eprintln!("grader: cannot run {}: {e}", rustc.to_string_lossy());
            std::process::exit(101)
        }
    }
}

/// A compiler message in the JSON form cargo reads from rustc (`--error-format=json`), so that it
/// reaches the report as a message of the crate being built.
fn json_message(level: &str, message: &str) -> String {
    serde_json::json!({
        "$message_type": "diagnostic",
        "message": message,
        "code": null,
        "level": level,
        "spans": [],
        "children": [],
        "rendered": format!("{level}: {message}\n"),
    })
    .to_string()
}

fn json_error(message: &str) -> String {
    json_message("error", message)
}

/// The warning the wrapper gives when the lesson crate should be linted and clippy's driver is
/// not installed: the report's lint then says it read tokens only.
pub const NO_CLIPPY: &str = "clippy-driver is not installed (`rustup component add clippy`): the shim lint checked tokens only, not resolved paths";

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};

    use nix::sys::resource::Resource;

    use super::*;
    use crate::check::sandbox::{restrict_fs, set_rlimits, Grant};

    pub fn contained(rustc: &Path, args: &[OsString], plan: &Plan, lesson: bool) -> ! {
        // The toolchain: `.../toolchains/NAME/bin/rustc` -> `.../toolchains/NAME`.
        let sysroot = rustc
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/usr"));
        let clippy_driver = sysroot.join("bin/clippy-driver");
        let lint = lesson && plan.clippy_conf.is_some();
        let mut command = if lint && clippy_driver.is_file() {
            let mut c = Command::new(&clippy_driver);
            c.arg(rustc).args(args).arg("-Aclippy::all");
            for l in SHIM_LINTS {
                c.arg(format!("--force-warn={l}"));
            }
            c
        } else {
            let mut c = Command::new(rustc);
            c.args(args);
            c
        };
        if lint && !clippy_driver.is_file() {
            eprintln!("{}", json_message("warning", NO_CLIPPY));
        }
        command.env_clear();
        for (name, value) in std::env::vars_os() {
            if name.to_str().is_some_and(kept_variable) {
                command.env(name, value);
            }
        }
        command.env("TMPDIR", &plan.scratch);
        if let Some(conf) = plan.clippy_conf.as_ref().filter(|_| lint) {
            command.env("CLIPPY_CONF_DIR", conf);
        }

        let mut rules: Vec<(PathBuf, Grant)> = vec![(sysroot, Grant::ReadExec)];
        for dir in [
            "/usr/bin",
            "/bin",
            "/usr/libexec",
            "/lib",
            "/lib64",
            "/usr/lib",
            "/usr/lib64",
            "/usr/lib32",
        ] {
            rules.push((dir.into(), Grant::ReadExec));
        }
        for file in ["/etc/ld.so.cache", "/dev/urandom"] {
            rules.push((file.into(), Grant::Read));
        }
        rules.push(("/dev/null".into(), Grant::ReadWriteFile));
        rules.push((plan.lesson_dir.clone(), Grant::Read));
        if !lesson {
            rules.extend(plan.harness_reads.iter().map(|p| (p.clone(), Grant::Read)));
        }
        if let Some(conf) = plan.clippy_conf.as_ref().filter(|_| lint) {
            rules.push((conf.clone(), Grant::Read));
        }
        rules.extend(searched(args).into_iter().map(|d| (d, Grant::Read)));
        rules.extend(written(args).into_iter().map(|d| (d, Grant::All)));
        let _ = std::fs::create_dir_all(&plan.scratch);
        rules.push((plan.scratch.clone(), Grant::All));

        let limits = [
            (Resource::RLIMIT_AS, MEMORY_BYTES),
            (Resource::RLIMIT_FSIZE, FILE_BYTES),
            (Resource::RLIMIT_CORE, 0),
        ];
        // Landlock needs no_new_privs to be set by an unprivileged process; both hold for this
        // process and everything it starts (the compiler, the linker).
        let contained = set_rlimits(&limits)
            && nix::sys::prctl::set_no_new_privs().is_ok()
            && restrict_fs(&rules).is_ok();
        if !contained {
            // Never build untrusted code uncontained where containment was meant to be.
            eprintln!(
                "{}",
                json_error("the grader could not contain the build (Landlock or rlimits refused)")
            );
            std::process::exit(101)
        }
        run(command)
    }

    /// Runs the compiler, passing its messages on line by line (cargo starts dependent crates as
    /// soon as it announces the metadata), and turns a limit it hit into an error in plain words.
    fn run(mut command: Command) -> ! {
        command.stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}", json_error(&format!("cannot start the compiler: {e}")));
                std::process::exit(101)
            }
        };
        static TIMED_OUT: AtomicBool = AtomicBool::new(false);
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        std::thread::spawn(move || {
            std::thread::sleep(TIMEOUT);
            TIMED_OUT.store(true, Ordering::SeqCst);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        });
        let mut out_of_memory = false;
        if let Some(stderr) = child.stderr.take() {
            let mut relay = std::io::stderr().lock();
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                let text = String::from_utf8_lossy(&line);
                out_of_memory |= text.contains("memory allocation of")
                    || text.contains("out of memory")
                    || text.contains("more memory than available to compiler");
                let _ = relay.write_all(&line);
                let _ = relay.write_all(b"\n");
            }
        }
        let status = child.wait();
        let gib = MEMORY_BYTES >> 30;
        let limit_hit = if TIMED_OUT.load(Ordering::SeqCst) {
            Some(format!("the compiler did not finish within {} s and was stopped: a `const` that computes for ever, or a macro or a type that never stops expanding?", TIMEOUT.as_secs()))
        } else if out_of_memory {
            Some(format!("the build used more than {gib} GiB of memory and was stopped: a huge `const` or `static` (a large array, say), or a `const` that allocates without end? Build such data at run time instead (`vec![0; n]`)"))
        } else {
            None
        };
        if let Some(message) = &limit_hit {
            eprintln!("{}", json_error(message));
        }
        match status {
            Ok(s) if s.success() => std::process::exit(0),
            Ok(s) => {
                if limit_hit.is_none() {
                    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&s) {
                        eprintln!("{}", json_error(&format!("the compiler was killed by signal {signal} (at most {gib} GiB of memory and {} s per compiler run)", TIMEOUT.as_secs())));
                    }
                }
                std::process::exit(s.code().unwrap_or(101))
            }
            Err(e) => {
                eprintln!(
                    "{}",
                    json_error(&format!("cannot wait for the compiler: {e}"))
                );
                std::process::exit(101)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<OsString> {
        text.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn reads_the_folders_a_compiler_run_uses_from_its_arguments() {
        let a = args("--crate-name race_fix --edition=2021 src/lib.rs --out-dir /t/deps -C opt-level=2 -C incremental=/t/incr -L dependency=/t/deps -L native=/t/build/ring/out -L /plain");
        assert_eq!(values(&a, "--crate-name").next(), Some("race_fix"));
        assert_eq!(
            written(&a),
            [PathBuf::from("/t/deps"), PathBuf::from("/t/incr")]
        );
        assert_eq!(
            searched(&a),
            ["/t/deps", "/t/build/ring/out", "/plain"].map(PathBuf::from)
        );
        assert_eq!(
            values(&args("--out-dir=/x"), "--out-dir").next(),
            Some("/x")
        );
    }

    #[test]
    fn the_compiler_keeps_cargo_s_variables_and_nothing_of_the_grader_s() {
        for kept in [
            "PATH",
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "CARGO_MAKEFLAGS",
        ] {
            assert!(kept_variable(kept), "{kept}");
        }
        for dropped in [
            "HOME",
            "GITHUB_TOKEN",
            "CARGO_REGISTRY_TOKEN",
            "CARGO_HOME",
            PLAN_VAR,
            "RUSTC_WORKSPACE_WRAPPER",
        ] {
            assert!(!kept_variable(dropped), "{dropped}");
        }
    }

    #[test]
    fn the_lint_configuration_lists_primitives_and_leaves_what_loom_hands_on() {
        let conf: toml::Table = toml::from_str(&clippy_toml()).unwrap();
        let paths = |key: &str| -> Vec<String> {
            conf[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_string())
                .collect()
        };
        let types = paths("disallowed-types");
        for t in [
            "std::sync::Mutex",
            "std::sync::atomic::AtomicU64",
            "std::sync::Arc",
        ] {
            assert!(types.iter().any(|p| p == t), "{t}");
        }
        assert!(paths("disallowed-methods")
            .iter()
            .any(|p| p == "std::thread::spawn"));
        let all = [types, paths("disallowed-methods")].concat();
        for harmless in [
            "Ordering",
            "LockResult",
            "PoisonError",
            "Duration",
            "available_parallelism",
        ] {
            assert!(!all.iter().any(|p| p.ends_with(harmless)), "{harmless}");
        }
    }
}
