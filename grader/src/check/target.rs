//! What is checked: the source files of the crate under test, wherever they come from.
//!
//! Only the target's `src/` is taken. The kit's manifest and the kit's `src/sync.rs` are always
//! used, so a build script, an extra dependency or an edited shim in a submission has no effect.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::curriculum::Lesson;
use crate::kit::Kit;

/// A submission bigger than this is refused rather than copied.
const MAX_SOURCE_BYTES: u64 = 8 << 20;

pub struct Target {
    /// How reports name it: `exercises/01-race-fix`, a submission folder, a variant file.
    pub label: String,
    /// Names the target's build cache, so a re-check of the same target reuses its build.
    pub key: String,
    /// Files of the crate's `src/`: (path relative to `src/`, where to read it).
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Where the files live, to show compiler messages with the learner's own paths.
    pub src_display: String,
}

impl Target {
    pub fn exercise(kit: &Kit, lesson: &Lesson) -> Result<Target> {
        let dir = kit.path(&lesson.exercise);
        Target::from_crate_dir(&dir, kit.display(&dir), "exercise".into())
    }

    pub fn solution(kit: &Kit, lesson: &Lesson) -> Result<Target> {
        let dir = kit.path(&lesson.solution);
        Target::from_crate_dir(&dir, kit.display(&dir), "solution".into())
    }

    /// Any folder: a learner's crate folder, or a whole copy of the kit holding the lesson's folder.
    pub fn submission(lesson: &Lesson, dir: &Path) -> Result<Target> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("{}: no such folder", dir.display()))?;
        let crate_dir = find_lesson_crate(lesson, &dir).with_context(|| {
            format!(
                "{}: no src/lib.rs there, nor in a folder named {} below it",
                dir.display(),
                lesson
                    .exercise
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            )
        })?;
        let key = format!(
            "path-{:016x}",
            fingerprint(crate_dir.to_string_lossy().as_bytes())
        );
        Target::from_crate_dir(&crate_dir, crate_dir.display().to_string(), key)
    }

    /// A known-buggy variant: one whole `lib.rs`.
    pub fn variant(kit: &Kit, file: &Path) -> Target {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Target {
            label: kit.display(file),
            key: format!("variant-{stem}"),
            files: vec![(PathBuf::from("lib.rs"), file.to_path_buf())],
            src_display: kit.display(file),
        }
    }

    fn from_crate_dir(dir: &Path, label: String, key: String) -> Result<Target> {
        let src = dir.join("src");
        if !src.join("lib.rs").is_file() {
            bail!("{}: no src/lib.rs", dir.display());
        }
        let mut files = Vec::new();
        let mut total = 0;
        collect(&src, Path::new(""), &mut files, &mut total)?;
        Ok(Target {
            src_display: format!("{label}/src"),
            label,
            key,
            files,
        })
    }

    /// The folder of the lesson crate inside the generated harness. It carries the key because
    /// cargo names a path dependency's artifacts by its path relative to the workspace root: with
    /// one name for all, every target's lesson crate would overwrite the others' in the shared
    /// target dir.
    pub fn crate_dir_name(&self) -> String {
        format!("lesson-{}", self.key)
    }

    /// Feeds every file to `feed`, name then contents, each length-prefixed so that no two
    /// different sets of files feed the same bytes: what content hashes of a target are made of.
    pub fn feed_contents(&self, feed: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
        for (rel, path) in &self.files {
            let bytes = std::fs::read(path)?;
            let name = rel.to_string_lossy();
            feed(&(name.len() as u64).to_le_bytes());
            feed(name.as_bytes());
            feed(&(bytes.len() as u64).to_le_bytes());
            feed(&bytes);
        }
        Ok(())
    }

    /// Rewrites the generated crate's paths in compiler output to the target's own.
    pub fn show_paths(&self, text: &str) -> String {
        let generated = format!("{}/src/", self.crate_dir_name());
        if self.files.len() == 1
            && self.files[0].0 == Path::new("lib.rs")
            && !self.src_display.ends_with("/src")
        {
            text.replace(&format!("{generated}lib.rs"), &self.src_display)
        } else {
            text.replace(&generated, &format!("{}/", self.src_display))
        }
    }
}

fn find_lesson_crate(lesson: &Lesson, dir: &Path) -> Option<PathBuf> {
    if dir.join("src/lib.rs").is_file() {
        return Some(dir.to_path_buf());
    }
    let in_kit = dir.join(&lesson.exercise);
    if in_kit.join("src/lib.rs").is_file() {
        return Some(in_kit);
    }
    // A kit copy nested one or two folders down (an archive that holds a top folder, say).
    let wanted = lesson.exercise.file_name()?;
    let mut frontier = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = frontier.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let path = entry.path();
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) || path.ends_with("target") {
                continue;
            }
            if path.file_name() == Some(wanted) && path.join("src/lib.rs").is_file() {
                return Some(path);
            }
            if depth < 3 {
                frontier.push((path, depth + 1));
            }
        }
    }
    None
}

fn collect(
    dir: &Path,
    rel: &Path,
    out: &mut Vec<(PathBuf, PathBuf)>,
    total: &mut u64,
) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel_path = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(&path, &rel_path, out, total)?;
        } else if kind.is_file() {
            *total += entry.metadata()?.len();
            if *total > MAX_SOURCE_BYTES {
                bail!(
                    "{}: src/ holds more than {} MiB; refusing to copy it",
                    dir.display(),
                    MAX_SOURCE_BYTES >> 20
                );
            }
            out.push((rel_path, path));
        }
    }
    Ok(())
}

/// A stable 64-bit FNV-1a hash: cache keys and content fingerprints, nothing secret.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}
