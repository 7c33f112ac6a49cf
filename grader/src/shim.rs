//! The kit's one synchronization shim, and the two `src/sync.rs` texts it makes for each lesson.
//!
//! `grader/shim/` holds it, shaped like tokio's `src/loom/`:
//! - `sync.rs`, the facade the grader builds with: the names every lesson takes from
//!   `crate::sync`, with a `std` side (the standard library's types, `Mutex`, `Condvar` and
//!   `JoinHandle` wrapped to note what a blocked thread waits on) and a `mocked` side (loom's types,
//!   wrapped to record each step of an interleaving) chosen by `cfg(loom)`;
//! - `learners.rs`, the facade learners read: the same names as plain re-exports of std's and
//!   loom's types, a page long, so that the copy in a lesson's folder builds and tests there;
//! - optional modules, one file each (`channel.rs`: lesson 05's bounded channel), a lesson opts
//!   into with `shim = ["channel"]` in its `[[lesson]]` block. A module's file is one item,
//!   `pub mod NAME { ... }` with its doc comment, written on the facade's names (`use super::...`);
//!   it may call `super::trace` under `cfg(loom)` only (the grader's facade has it, the learners'
//!   has not: a learner's folder is never built with `--cfg loom` but by the grader).
//!
//! A lesson's `src/sync.rs` is a facade followed by each module it opts into, in the order listed,
//! a blank line between. The grader writes the instrumented one ([`Shim::for_lesson`]) into every
//! harness it builds, never the target's own copy; `grader verify` expects the learners' one
//! ([`Shim::learners_copy`]) in the lesson's exercise and solution (`grader verify --write-shims`
//! rewrites them). Both give every name the same methods, so code that builds against one builds
//! against the other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::curriculum::Lesson;

/// The shim's folder, relative to the kit root.
pub const DIR: &str = "grader/shim";
/// The facade the grader builds with, in [`DIR`].
pub const FACADE: &str = "sync.rs";
/// The facade of the lesson folders' copies, in [`DIR`]; every other `.rs` file there is an
/// optional module.
pub const LEARNERS: &str = "learners.rs";

/// The shim as it is on disk: the two facades and the optional modules by name.
#[derive(Debug, Clone)]
pub struct Shim {
    pub facade: String,
    pub learners: String,
    pub modules: BTreeMap<String, String>,
}

impl Shim {
    /// Reads `grader/shim/` under the kit root `root`.
    pub fn load(root: &Path) -> Result<Shim> {
        let dir = root.join(DIR);
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the kit's shim {}", path.display()))
        };
        let facade = read(&dir.join(FACADE))?;
        let learners = read(&dir.join(LEARNERS))?;
        let mut modules = BTreeMap::new();
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let (Some(stem), Some("rs")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|e| e.to_str()),
            ) else {
                continue;
            };
            if path
                .file_name()
                .is_some_and(|n| n == FACADE || n == LEARNERS)
            {
                continue;
            }
            modules.insert(stem.to_string(), read(&path)?);
        }
        Ok(Shim {
            facade,
            learners,
            modules,
        })
    }

    /// The `src/sync.rs` the grader builds a lesson that opts into `wanted` (module names, in
    /// order) with.
    pub fn compose(&self, lesson: &str, wanted: &[String]) -> Result<String> {
        self.with_modules(&self.facade, lesson, wanted)
    }

    /// `facade` followed by the modules `wanted`.
    fn with_modules(&self, facade: &str, lesson: &str, wanted: &[String]) -> Result<String> {
        let mut text = facade.to_string();
        for name in wanted {
            let Some(module) = self.modules.get(name) else {
                let known: Vec<&str> = self.modules.keys().map(String::as_str).collect();
                bail!(
                    "lesson {lesson} asks for the shim module `{name}` (curriculum.toml, `shim = [...]`), but {DIR}/ has no {name}.rs; its modules are: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                );
            };
            let declaration = format!("pub mod {name} {{");
            if !module.lines().any(|l| l == declaration) {
                bail!("{DIR}/{name}.rs must be one item, `{declaration} ... }}` (with its doc comment): it is appended to the facade as it is");
            }
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push('\n');
            text.push_str(module);
        }
        Ok(text)
    }

    /// The `src/sync.rs` the grader builds `lesson` with.
    pub fn for_lesson(&self, lesson: &Lesson) -> Result<String> {
        self.compose(&lesson.dir_name(), &lesson.shim)
    }

    /// The `src/sync.rs` that `lesson`'s exercise and solution folders must have.
    pub fn learners_copy(&self, lesson: &Lesson) -> Result<String> {
        self.with_modules(&self.learners, &lesson.dir_name(), &lesson.shim)
    }

    /// The files the composition of `lesson` reads, relative to the kit root.
    pub fn files(lesson: &Lesson) -> Vec<PathBuf> {
        [FACADE, LEARNERS]
            .into_iter()
            .map(str::to_string)
            .chain(lesson.shim.iter().map(|m| format!("{m}.rs")))
            .map(|f| Path::new(DIR).join(f))
            .collect()
    }
}

/// Where `actual` first departs from `expected`, as "line N", or `None` when they are the same.
pub fn first_difference(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut e = expected.lines();
    let mut a = actual.lines();
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (None, None) => return Some("line endings or the final newline".into()),
            _ => return Some(format!("line {line}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shim() -> Shim {
        Shim {
            facade: "//! facade\npub use std::sync::Mutex;\n".into(),
            learners: "//! plain\npub use std::sync::Mutex;\n".into(),
            modules: BTreeMap::from([
                (
                    "channel".into(),
                    "/// a channel\npub mod channel {\n}\n".into(),
                ),
                ("barrier".into(), "pub mod barrier {\n}\n".into()),
            ]),
        }
    }

    #[test]
    fn no_module_is_the_facade_alone() {
        assert_eq!(shim().compose("01-x", &[]).unwrap(), shim().facade);
    }

    #[test]
    fn modules_follow_the_facade_in_the_order_listed_a_blank_line_between() {
        let text = shim()
            .compose("05-x", &["channel".into(), "barrier".into()])
            .unwrap();
        assert_eq!(
            text,
            "//! facade\npub use std::sync::Mutex;\n\n/// a channel\npub mod channel {\n}\n\npub mod barrier {\n}\n"
        );
    }

    #[test]
    fn an_unknown_module_names_the_lesson_and_the_modules_that_exist() {
        let err = shim()
            .compose("05-pipeline", &["chanel".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lesson 05-pipeline"), "{err}");
        assert!(err.contains("`chanel`"), "{err}");
        assert!(err.contains("its modules are: barrier, channel"), "{err}");
    }

    #[test]
    fn a_module_file_must_declare_its_module() {
        let mut shim = shim();
        shim.modules
            .insert("queue".into(), "pub struct Queue;\n".into());
        let err = shim.compose("05-x", &["queue".into()]).unwrap_err();
        assert!(err.to_string().contains("`pub mod queue {"), "{err}");
    }

    #[test]
    fn the_kits_shim_composes_for_every_lesson_of_the_curriculum() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let shim = Shim::load(root).unwrap();
        assert!(shim.modules.contains_key("channel"), "{:?}", shim.modules);
        let curriculum =
            crate::curriculum::Curriculum::load(&root.join(crate::curriculum::FILE_NAME)).unwrap();
        for lesson in &curriculum.lessons {
            let text = shim.for_lesson(lesson).unwrap();
            assert!(text.starts_with(&shim.facade));
            let copy = shim.learners_copy(lesson).unwrap();
            assert!(copy.starts_with(&shim.learners));
            assert_eq!(
                copy.strip_prefix(&shim.learners),
                text.strip_prefix(&shim.facade),
                "the two texts of {} differ in their modules",
                lesson.dir_name()
            );
        }
    }

    #[test]
    fn the_learners_copy_is_the_plain_facade_and_the_same_modules() {
        let shim = shim();
        let copy = shim
            .with_modules(&shim.learners, "05-x", &["channel".into()])
            .unwrap();
        assert_eq!(
            copy,
            "//! plain\npub use std::sync::Mutex;\n\n/// a channel\npub mod channel {\n}\n"
        );
    }

    /// The learners' facade is short: what each name is, not how the grader watches it.
    #[test]
    fn the_kits_learners_facade_is_a_page() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let shim = Shim::load(root).unwrap();
        let lines = shim.learners.lines().count();
        assert!(lines <= 80, "grader/shim/learners.rs has {lines} lines");
        assert!(shim.facade.lines().count() > lines);
    }

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(first_difference("a\nb\n", "a\nc\n"), Some("line 2".into()));
        assert_eq!(first_difference("a\nb\n", "a\n"), Some("line 2".into()));
        assert_eq!(
            first_difference("a\n", "a"),
            Some("line endings or the final newline".into())
        );
    }
}
