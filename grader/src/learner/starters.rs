//! The exercises' starters as shipped, embedded in the grader at build time (see `build.rs`), and
//! `grader reset`, which puts one back after saving the learner's version.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::curriculum::Lesson;
use crate::kit::Kit;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/starters.rs"));
}

/// Where backups of reset exercises go, under the kit root (ignored by git).
pub const BACKUP_DIR: &str = ".grader-backups";

/// The shipped files of a lesson's exercise: (path relative to the exercise folder, contents).
pub fn shipped(lesson: &Lesson) -> Vec<(PathBuf, &'static [u8])> {
    let folder = exercise_folder_name(lesson);
    let prefix = format!("{folder}/");
    embedded::FILES
        .iter()
        .filter_map(|(name, bytes)| {
            name.strip_prefix(&prefix)
                .map(|rel| (PathBuf::from(rel), *bytes))
        })
        .collect()
}

fn exercise_folder_name(lesson: &Lesson) -> String {
    lesson
        .exercise
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| lesson.dir_name())
}

/// The learner's files in an exercise folder: everything but build products.
fn learner_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, Path::new(""), &mut out)?;
    }
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let rel_path = rel.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &rel_path, out)?;
        } else if kind.is_file() {
            out.push(rel_path);
        }
    }
    Ok(())
}

/// What `reset` did.
pub struct Reset {
    pub exercise: PathBuf,
    /// `None` when the exercise was already exactly as shipped (nothing to keep).
    pub backup: Option<PathBuf>,
    /// Files the learner had that the starter doesn't (now only in the backup).
    pub removed: Vec<PathBuf>,
    /// Files whose content was put back.
    pub restored: Vec<PathBuf>,
}

/// Puts the lesson's exercise back as shipped, after copying the learner's version to a backup.
pub fn reset(kit: &Kit, lesson: &Lesson) -> Result<Reset> {
    let folder = exercise_folder_name(lesson);
    if let Some((_, why)) = embedded::UNAVAILABLE.iter().find(|(f, _)| *f == folder) {
        bail!(
            "this grader holds no shipped copy of {}: when it was built, that folder was no longer the starter ({why}). Your files are untouched. The starter as shipped is in the kit's git history (`git log -- {}`) and in any fresh copy of the kit",
            lesson.exercise.display(),
            lesson.exercise.display()
        );
    }
    let files = shipped(lesson);
    if files.is_empty() {
        bail!(
            "this grader holds no shipped copy of {} (the lesson was added after the grader was built): rebuild it with `cargo build --release -p grader`, then reset again",
            lesson.exercise.display()
        );
    }
    let dir = kit.path(&lesson.exercise);
    let mine = learner_files(&dir)?;
    let removed: Vec<PathBuf> = mine
        .iter()
        .filter(|p| !files.iter().any(|(rel, _)| rel == *p))
        .cloned()
        .collect();
    let restored: Vec<PathBuf> = files
        .iter()
        .filter(|(rel, bytes)| std::fs::read(dir.join(rel)).ok().as_deref() != Some(*bytes))
        .map(|(rel, _)| rel.clone())
        .collect();
    if removed.is_empty() && restored.is_empty() {
        return Ok(Reset {
            exercise: dir,
            backup: None,
            removed,
            restored,
        });
    }

    // Keep the learner's version first: nothing is overwritten before it is safe.
    let backup = if mine.is_empty() {
        None
    } else {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let base = kit
            .root
            .join(BACKUP_DIR)
            .join(format!("{}-{stamp}", exercise_folder_name(lesson)));
        let mut backup = base.clone();
        let mut n = 2;
        while backup.exists() {
            backup = PathBuf::from(format!("{}-{n}", base.display()));
            n += 1;
        }
        for rel in &mine {
            let to = backup.join(rel);
            std::fs::create_dir_all(to.parent().unwrap())
                .with_context(|| format!("cannot create {}", backup.display()))?;
            std::fs::copy(dir.join(rel), &to)
                .with_context(|| format!("cannot back up {} to {}", rel.display(), to.display()))?;
        }
        Some(backup)
    };

    for rel in &removed {
        std::fs::remove_file(dir.join(rel))
            .with_context(|| format!("cannot remove {}", dir.join(rel).display()))?;
    }
    remove_empty_dirs(&dir);
    for (rel, bytes) in &files {
        let path = dir.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(*bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::File::create(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        f.write_all(bytes)?;
    }
    Ok(Reset {
        exercise: dir,
        backup,
        removed,
        restored,
    })
}

/// Removes folders left empty by removing the learner's extra files (not `target/`).
fn remove_empty_dirs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) && entry.file_name() != "target" {
            remove_empty_dirs(&entry.path());
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}
