//! The kit: the folder that holds `curriculum.toml`, and where the grader keeps its cache.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::curriculum::{Curriculum, Lesson, FILE_NAME};

pub struct Kit {
    pub root: PathBuf,
    pub curriculum: Curriculum,
}

impl Kit {
    /// The kit at `explicit`, or the nearest folder at or above the current one with a curriculum.
    pub fn locate(explicit: Option<&Path>) -> Result<Kit> {
        let root = match explicit {
            Some(dir) => {
                let dir = dir
                    .canonicalize()
                    .with_context(|| format!("--kit {}: no such folder", dir.display()))?;
                if !dir.join(FILE_NAME).is_file() {
                    bail!("--kit {}: no {FILE_NAME} there", dir.display());
                }
                dir
            }
            None => {
                let cwd = std::env::current_dir().context("cannot read the current folder")?;
                match cwd.ancestors().find(|d| d.join(FILE_NAME).is_file()) {
                    Some(dir) => dir.to_path_buf(),
                    None => bail!(
                        "no {FILE_NAME} in {} or any folder above it: run the grader inside the course kit, or pass --kit DIR",
                        cwd.display()
                    ),
                }
            }
        };
        let curriculum = Curriculum::load(&root.join(FILE_NAME))?;
        Ok(Kit { root, curriculum })
    }

    /// Build products and generated harnesses. `GRADER_CACHE_DIR` moves it (a read-only kit, say).
    pub fn cache_dir(&self) -> PathBuf {
        match std::env::var_os("GRADER_CACHE_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => self.root.join("target").join("grader"),
        }
    }

    pub fn path(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }

    /// The kit's own `src/sync.rs` for a lesson, composed from `grader/shim/` (see [`crate::shim`]).
    /// Always used, whatever the target's copy says.
    pub fn shim(&self, lesson: &Lesson) -> Result<String> {
        crate::shim::Shim::load(&self.root)?.for_lesson(lesson)
    }

    /// The short `src/sync.rs` a lesson's exercise and solution folders ship, the one learners
    /// read (see [`crate::shim`]).
    pub fn learners_shim(&self, lesson: &Lesson) -> Result<String> {
        crate::shim::Shim::load(&self.root)?.learners_copy(lesson)
    }

    /// The kit's own manifest for a lesson's crate: the solution's `Cargo.toml`.
    pub fn manifest(&self, lesson: &Lesson) -> PathBuf {
        self.path(&lesson.solution).join("Cargo.toml")
    }

    pub fn checks_file(&self, lesson: &Lesson) -> PathBuf {
        self.path(&lesson.checks).join("checks.rs")
    }

    /// The files of the lesson's grader folder, sorted, without `variants/`: checks.rs, the modules
    /// it includes (lesson 03's server.rs), dependencies.toml, starter.sha256. What a grade depends
    /// on, and what the Gradescope package ships.
    /// A kit error when curriculum.toml gives points to a check the lesson's checks.rs does not
    /// declare (lints are the grader's own, and not declared there): no learner can pass it, so
    /// no grade should be given.
    pub fn check_declared(&self, lesson: &Lesson) -> Result<()> {
        let declared = crate::check::declared::read(&self.checks_file(lesson))?;
        let missing: Vec<String> = lesson
            .planned_checks()?
            .into_iter()
            .filter(|c| c.kind != grader_harness::protocol::Kind::Lint)
            .filter(|c| {
                !declared
                    .iter()
                    .any(|d| d.name == c.name && d.kind == c.kind)
            })
            .map(|c| format!("{} `{}`", c.kind, c.name))
            .collect();
        if !missing.is_empty() {
            bail!(
                "kit error: curriculum.toml gives lesson {:02} points for {} that {} does not declare: fix the kit (no submission can pass such a check)",
                lesson.number,
                missing.join(", "),
                self.display(&self.checks_file(lesson))
            );
        }
        Ok(())
    }

    pub fn lesson_files(&self, lesson: &Lesson) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(self.path(&lesson.checks))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }

    /// The lesson whose exercise folder (or a folder inside it) is the current folder: `grader
    /// check` run in `exercises/05-pipeline` checks lesson 05.
    pub fn lesson_here(&self) -> Option<&Lesson> {
        let cwd = std::env::current_dir().ok()?.canonicalize().ok()?;
        self.curriculum.lessons.iter().find(|l| {
            self.path(&l.exercise)
                .canonicalize()
                .is_ok_and(|dir| cwd.starts_with(dir))
        })
    }

    /// Shows a kit path relative to the kit root when it is inside it.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}
