//! What is checked: the source files of the crate under test, wherever they come from, read once.
//!
//! A [`Target`] is an immutable snapshot: every source file of the crate's `src/` with its
//! contents in memory and its SHA-256, taken when the target is made. The lint, the harness build,
//! the grade cache and watch all use that snapshot and never read the folder again, so what is
//! linted is what is built and what is hashed.
//!
//! Only the target's `src/` is taken. The kit's manifest and the kit's `src/sync.rs` are always
//! used, so a build script, an extra dependency or an edited shim in a submission has no effect.
//!
//! What a snapshot takes from `src/`:
//! - `.rs` files (the sources), in every folder below `src/`;
//! - nothing else: other files (notes, editor backups, `.DS_Store`, build products) and hidden
//!   entries (names starting with `.`: editor swap and lock files such as `.#lib.rs`) are ignored.
//!   Only `.rs` files are linted, so a `.txt` that `include!` could compile would be code the lint
//!   never read: it is not in the build at all (the build then says so);
//! - never a symbolic link, anywhere in the crate: a `src/` that is a link, a link inside it, a
//!   crate folder reached through a link (a kit copy whose `exercises/NN-slug` points elsewhere),
//!   or a link anywhere else in the crate's folder refuses the whole target with a reason
//!   ("src/lib.rs is a symbolic link: submit the file itself"), since a link could make the grader
//!   read files outside the submission (the reference solution, say);
//! - at most [`MAX_SOURCE_BYTES`] in all: a bigger `src/` is refused rather than copied.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::curriculum::Lesson;
use crate::kit::Kit;

/// A submission bigger than this is refused rather than copied.
pub const MAX_SOURCE_BYTES: u64 = 8 << 20;

/// The kinds of files a snapshot takes; everything else in `src/` is ignored.
const TAKEN_EXTENSIONS: [&str; 1] = ["rs"];

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Its path relative to `src/`, `/`-separated: `lib.rs`, `parts/mod.rs`.
    pub path: String,
    pub contents: Vec<u8>,
    /// SHA-256 of `contents`.
    pub sha256: [u8; 32],
}

impl SourceFile {
    pub fn new(path: impl Into<String>, contents: Vec<u8>) -> SourceFile {
        let sha256 = Sha256::digest(&contents).into();
        SourceFile {
            path: path.into(),
            contents,
            sha256,
        }
    }

    /// Its contents as text (lossy for a file that is not UTF-8: such a file doesn't compile).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.contents)
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    /// How reports name it: `exercises/01-race-fix`, a submission folder, a variant file.
    pub label: String,
    /// Names the target's build cache, so a re-check of the same target reuses its build.
    pub key: String,
    /// Where the files live, to show compiler messages with the learner's own paths.
    pub src_display: String,
    /// The snapshot: files of the crate's `src/`, sorted by path.
    files: Vec<SourceFile>,
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
        refuse_linked_folders(&dir, &crate_dir)?;
        let key = format!(
            "path-{:016x}",
            fingerprint(crate_dir.to_string_lossy().as_bytes())
        );
        Target::from_crate_dir(&crate_dir, crate_dir.display().to_string(), key)
    }

    /// A target made of files already in memory (a variant: the solution's snapshot, patched).
    pub fn from_files(
        label: String,
        key: String,
        src_display: String,
        mut files: Vec<SourceFile>,
    ) -> Target {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        Target {
            label,
            key,
            src_display,
            files,
        }
    }

    /// Any `src/` folder, as it is (an author's edited copy of a solution, say).
    pub fn from_src_dir(src: &Path) -> Result<Target> {
        let files = read_src(src, Depth::Recursive)?;
        let shown = src.display().to_string();
        Ok(Target::from_files(
            shown.clone(),
            "edited".into(),
            shown,
            files,
        ))
    }

    /// The `.rs` files directly in `dir` (no folders below it): bare sources uploaded without a
    /// crate around them.
    pub fn from_bare_sources(dir: &Path, label: String, key: String) -> Result<Target> {
        let files = read_src(dir, Depth::Flat)?;
        Ok(Target::from_files(
            label,
            key,
            dir.display().to_string(),
            files,
        ))
    }

    fn from_crate_dir(dir: &Path, label: String, key: String) -> Result<Target> {
        let src = dir.join("src");
        if !src.join("lib.rs").is_file() {
            bail!("{}: no src/lib.rs", dir.display());
        }
        let files = read_src(&src, Depth::Recursive).with_context(|| dir.display().to_string())?;
        refuse_links_in_crate(dir, Path::new("")).with_context(|| dir.display().to_string())?;
        Ok(Target {
            src_display: format!("{label}/src"),
            label,
            key,
            files,
        })
    }

    /// The snapshot's files, sorted by path.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn file(&self, path: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.path == path)
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
    /// (The grade cache's key: these bytes are the same as before targets were snapshots, so
    /// grades cached then stay valid.)
    pub fn feed_contents(&self, feed: &mut dyn FnMut(&[u8])) {
        for file in &self.files {
            feed(&(file.path.len() as u64).to_le_bytes());
            feed(file.path.as_bytes());
            feed(&(file.contents.len() as u64).to_le_bytes());
            feed(&file.contents);
        }
    }

    /// SHA-256 of [`Target::feed_contents`]: two snapshots with the same files (paths and
    /// contents) have the same digest, whatever their label.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        self.feed_contents(&mut |b| h.update(b));
        h.finalize().into()
    }

    /// Rewrites the generated crate's paths in compiler output to the target's own.
    pub fn show_paths(&self, text: &str) -> String {
        let generated = format!("{}/src/", self.crate_dir_name());
        text.replace(&generated, &format!("{}/", self.src_display))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Flat,
    Recursive,
}

/// Reads the snapshot of `src` (see the module's documentation for what it takes).
fn read_src(src: &Path, depth: Depth) -> Result<Vec<SourceFile>> {
    let meta =
        std::fs::symlink_metadata(src).with_context(|| format!("cannot read {}", src.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link: submit the folder itself",
            shown_name(src, Path::new(""))
        );
    }
    let mut files = Vec::new();
    let mut total = 0;
    collect(src, Path::new(""), depth, &mut files, &mut total)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// How a refusal names an entry: `src/lib.rs` for the entry `lib.rs` of the folder `…/src`.
fn shown_name(src: &Path, rel: &Path) -> String {
    let base = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if rel.as_os_str().is_empty() {
        base
    } else {
        format!("{base}/{}", rel.to_string_lossy())
    }
}

fn collect(
    src: &Path,
    rel: &Path,
    depth: Depth,
    out: &mut Vec<SourceFile>,
    total: &mut u64,
) -> Result<()> {
    let dir = src.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // hidden: editor swap and lock files, .DS_Store
        }
        let rel_path = rel.join(&name);
        let kind = entry.file_type()?;
        let taken = Path::new(&name)
            .extension()
            .is_some_and(|e| TAKEN_EXTENSIONS.iter().any(|t| e == *t));
        if kind.is_symlink() {
            let points_to_folder = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            bail!(
                "{} is a symbolic link: submit the {} itself",
                shown_name(src, &rel_path),
                if points_to_folder { "folder" } else { "file" }
            );
        }
        if kind.is_dir() {
            if depth == Depth::Recursive {
                collect(src, &rel_path, depth, out, total)?;
            }
        } else if kind.is_file() && taken {
            *total += entry.metadata()?.len();
            if *total > MAX_SOURCE_BYTES {
                bail!(
                    "{}: src/ holds more than {} MiB; refusing to copy it",
                    src.display(),
                    MAX_SOURCE_BYTES >> 20
                );
            }
            let contents = std::fs::read(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            let path = rel_path
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(SourceFile::new(path, contents));
        }
    }
    Ok(())
}

/// The folders from a submission's root down to its lesson crate are no links: a kit copy whose
/// `exercises/NN-slug` is a link would have the grader check whatever it points to.
fn refuse_linked_folders(root: &Path, crate_dir: &Path) -> Result<()> {
    let Ok(below) = crate_dir.strip_prefix(root) else {
        return Ok(());
    };
    let mut at = root.to_path_buf();
    for part in below.components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "{} is a symbolic link: submit the folder itself",
                at.strip_prefix(root).unwrap_or(&at).display()
            );
        }
    }
    Ok(())
}

/// No symbolic link anywhere in the crate's folder (its `src/` is read by [`read_src`]); its
/// `target/` and hidden folders (`.git`) are not the crate's and are not looked at.
fn refuse_links_in_crate(dir: &Path, rel: &Path) -> Result<()> {
    let here = dir.join(rel);
    let Ok(entries) = std::fs::read_dir(&here) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let rel_path = rel.join(&name);
        let skipped = name.to_string_lossy().starts_with('.')
            || (rel.as_os_str().is_empty() && (name == "target" || name == "src"));
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() && !name.to_string_lossy().starts_with('.') {
            bail!(
                "{} is a symbolic link: submit the crate without links",
                rel_path.display()
            );
        }
        if kind.is_dir() && !skipped {
            refuse_links_in_crate(dir, &rel_path)?;
        }
    }
    Ok(())
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

/// A stable 64-bit FNV-1a hash: cache keys and content fingerprints, nothing secret.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join("src").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn snapshot(dir: &Path) -> Result<Target> {
        Target::from_crate_dir(dir, "lesson".into(), "k".into())
    }

    #[test]
    fn takes_sources_and_text_and_ignores_the_rest() {
        let dir = crate_with(&[
            ("lib.rs", "pub mod parts;\n"),
            ("parts/mod.rs", "pub fn f() {}\n"),
            ("notes.md", "# notes\n"),
            ("lib.rs~", "an editor backup\n"),
            (".lib.rs.swp", "swap\n"),
            ("data.bin", "\0\0"),
        ]);
        let target = snapshot(dir.path()).unwrap();
        let paths: Vec<&str> = target.files().iter().map(|f| f.path.as_str()).collect();
        // Only sources: a `.md` or `.txt` could be `include!`d as code the lint never read.
        assert_eq!(paths, ["lib.rs", "parts/mod.rs"]);
        // Read once: the snapshot keeps what it read, whatever happens on disk afterwards.
        std::fs::write(dir.path().join("src/lib.rs"), "changed\n").unwrap();
        assert_eq!(target.file("lib.rs").unwrap().text(), "pub mod parts;\n");
        assert_eq!(
            target.file("lib.rs").unwrap().sha256,
            <[u8; 32]>::from(Sha256::digest(b"pub mod parts;\n"))
        );
    }

    #[test]
    fn refuses_symbolic_links_with_a_reason() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.rs"), "// not yours\n").unwrap();

        let dir = crate_with(&[("other.rs", "\n")]);
        std::os::unix::fs::symlink(
            outside.path().join("secret.rs"),
            dir.path().join("src/lib.rs"),
        )
        .unwrap();
        let err = format!("{:#}", snapshot(dir.path()).unwrap_err());
        assert!(
            err.contains("src/lib.rs is a symbolic link: submit the file itself"),
            "{err}"
        );

        let dir = crate_with(&[("lib.rs", "\n")]);
        std::os::unix::fs::symlink(outside.path(), dir.path().join("src/parts")).unwrap();
        let err = format!("{:#}", snapshot(dir.path()).unwrap_err());
        assert!(
            err.contains("src/parts is a symbolic link: submit the folder itself"),
            "{err}"
        );

        let real = crate_with(&[("lib.rs", "\n")]);
        let linked = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(real.path().join("src"), linked.path().join("src")).unwrap();
        let err = format!("{:#}", snapshot(linked.path()).unwrap_err());
        assert!(
            err.contains("src is a symbolic link: submit the folder itself"),
            "{err}"
        );

        // A link to a file the snapshot would not take: refused all the same.
        let dir = crate_with(&[("lib.rs", "\n")]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("src/notes.txt")).unwrap();
        let err = format!("{:#}", snapshot(dir.path()).unwrap_err());
        assert!(err.contains("src/notes.txt is a symbolic link"), "{err}");

        // Anywhere in the crate, not only in src/.
        let dir = crate_with(&[("lib.rs", "\n")]);
        std::os::unix::fs::symlink(outside.path(), dir.path().join("tests")).unwrap();
        let err = format!("{:#}", snapshot(dir.path()).unwrap_err());
        assert!(
            err.contains("tests is a symbolic link: submit the crate without links"),
            "{err}"
        );

        // A dangling editor lock file (emacs's `.#lib.rs`) is hidden, so ignored.
        let dir = crate_with(&[("lib.rs", "\n")]);
        std::os::unix::fs::symlink("user@host.123", dir.path().join("src/.#lib.rs")).unwrap();
        assert_eq!(snapshot(dir.path()).unwrap().files().len(), 1);
    }

    #[test]
    fn refuses_a_src_over_the_size_cap() {
        let big = "x".repeat(MAX_SOURCE_BYTES as usize / 2 + 1);
        let dir = crate_with(&[("lib.rs", &big), ("more.rs", &big)]);
        let err = format!("{:#}", snapshot(dir.path()).unwrap_err());
        assert!(err.contains("refusing to copy it"), "{err}");
    }

    #[test]
    fn hashing_is_stable_and_covers_names_and_contents() {
        let a = crate_with(&[("lib.rs", "pub fn f() {}\n"), ("sync.rs", "\n")]);
        let b = crate_with(&[("lib.rs", "pub fn f() {}\n"), ("sync.rs", "\n")]);
        let (ta, tb) = (snapshot(a.path()).unwrap(), snapshot(b.path()).unwrap());
        assert_eq!(ta.digest(), tb.digest());
        // The bytes fed to the grade cache's hash, spelled out: they must never change, or every
        // cached grade is thrown away.
        let mut fed = Vec::new();
        ta.feed_contents(&mut |b| fed.extend_from_slice(b));
        let mut expected = Vec::new();
        for (name, text) in [("lib.rs", "pub fn f() {}\n"), ("sync.rs", "\n")] {
            expected.extend((name.len() as u64).to_le_bytes());
            expected.extend(name.as_bytes());
            expected.extend((text.len() as u64).to_le_bytes());
            expected.extend(text.as_bytes());
        }
        assert_eq!(fed, expected);
        assert_eq!(ta.digest(), <[u8; 32]>::from(Sha256::digest(&expected)),);

        let renamed = crate_with(&[("lib.rs", "pub fn f() {}\n"), ("sync2.rs", "\n")]);
        assert_ne!(snapshot(renamed.path()).unwrap().digest(), ta.digest());
        let edited = crate_with(&[("lib.rs", "pub fn g() {}\n"), ("sync.rs", "\n")]);
        assert_ne!(snapshot(edited.path()).unwrap().digest(), ta.digest());
    }
}
