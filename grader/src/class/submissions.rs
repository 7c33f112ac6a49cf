//! A class's submissions: one folder, `.zip` or `.tar.gz` each, found in one folder and unpacked
//! into temporary folders. The submissions themselves are only ever read.
//!
//! Archives are untrusted: entries that would land outside the scratch folder, links, and archives
//! that unpack to more than [`MAX_UNPACKED_BYTES`] or [`MAX_ENTRIES`] are refused.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::check::target::{fingerprint, Target};
use crate::curriculum::Lesson;

/// An archive that unpacks to more than this is refused (a zip bomb, or a `target/` folder inside).
const MAX_UNPACKED_BYTES: u64 = 64 << 20;
const MAX_ENTRIES: usize = 20_000;

/// One learner's submission as found in the class folder.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The folder or archive name, without the archive's extension: the row of the gradebook.
    pub id: String,
    pub path: PathBuf,
    pub form: Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Folder,
    Zip,
    TarGz,
}

/// The submissions in `dir`, sorted by id. Hidden entries and other files are left out. When a
/// folder and an archive would get the same id, the archive keeps its full file name.
pub fn find(dir: &Path) -> Result<Vec<Submission>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read the folder", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows a link to a folder: an instructor may gather submissions that way.
        let (id, form) = if path.is_dir() {
            (name.clone(), Form::Folder)
        } else if let Some(stem) = name.strip_suffix(".zip") {
            (stem.to_string(), Form::Zip)
        } else if let Some(stem) = name
            .strip_suffix(".tar.gz")
            .or_else(|| name.strip_suffix(".tgz"))
        {
            (stem.to_string(), Form::TarGz)
        } else {
            continue;
        };
        found.push(Submission { id, path, form });
    }
    found.sort_by(|a, b| a.id.cmp(&b.id).then(a.path.cmp(&b.path)));
    for i in 1..found.len() {
        if found[i].id == found[i - 1].id {
            for s in [i - 1, i] {
                if found[s].form != Form::Folder {
                    found[s].id = found[s]
                        .path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                }
            }
        }
    }
    Ok(found)
}

/// A submission ready to grade: its sources, and the scratch folder they were unpacked into (if
/// any), removed when this is dropped.
pub struct Prepared {
    pub target: Target,
    _scratch: Option<tempfile::TempDir>,
}

impl Submission {
    /// Unpacks the submission if needed and finds the lesson's crate in it.
    pub fn prepare(&self, lesson: &Lesson) -> Result<Prepared> {
        let scratch = match self.form {
            Form::Folder => None,
            Form::Zip | Form::TarGz => {
                let dir = tempfile::Builder::new()
                    .prefix("grader-submission-")
                    .tempdir()
                    .context("cannot create a temporary folder")?;
                if self.form == Form::Zip {
                    unzip(&self.path, dir.path())?;
                } else {
                    untar(&self.path, dir.path())?;
                }
                Some(dir)
            }
        };
        let root = match &scratch {
            // An archive usually wraps its files in one top folder: look inside it.
            Some(dir) => sole_folder(dir.path()).unwrap_or_else(|| dir.path().to_path_buf()),
            None => self.path.clone(),
        };
        let mut target = locate(lesson, &root)?;
        // Builds are cached per id, not per (temporary) path: a re-grade of a changed submission
        // rebuilds in place. The hash keeps two ids that clean up to the same name apart.
        let clean: String = self
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        target.key = format!(
            "grade-{clean}-{:08x}",
            fingerprint(self.id.as_bytes()) as u32
        );
        target.label = self.path.display().to_string();
        target.src_display = format!("{}/src", self.id);
        Ok(Prepared {
            target,
            _scratch: scratch,
        })
    }
}

/// The lesson's crate in `dir`: a crate folder, a copy of the kit, or (Gradescope uploads) bare
/// `.rs` files with a `lib.rs` among them.
pub fn locate(lesson: &Lesson, dir: &Path) -> Result<Target> {
    match Target::submission(lesson, dir) {
        Ok(target) => Ok(target),
        Err(_) if dir.join("lib.rs").is_file() => Target::from_bare_sources(
            dir,
            dir.display().to_string(),
            format!(
                "path-{:016x}",
                fingerprint(dir.to_string_lossy().as_bytes())
            ),
        ),
        Err(e) => Err(e),
    }
}

/// The one folder `dir` holds, when it holds nothing else (hidden entries aside).
fn sole_folder(dir: &Path) -> Option<PathBuf> {
    let mut entries = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'));
    let only = entries.next()?;
    (entries.next().is_none() && only.file_type().ok()?.is_dir()).then(|| only.path())
}

/// Where an archive entry may go: a relative path with no `..`, or nowhere.
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Copies at most what is left of the size budget; errors out past it.
fn copy_bounded(from: &mut dyn Read, to: &Path, budget: &mut u64, archive: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = File::create(to).with_context(|| format!("cannot write {}", to.display()))?;
    let copied = std::io::copy(&mut from.take(*budget + 1), &mut out)?;
    if copied > *budget {
        bail!(
            "{}: unpacks to more than {} MiB; refusing it",
            archive.display(),
            MAX_UNPACKED_BYTES >> 20
        );
    }
    *budget -= copied;
    Ok(())
}

fn unzip(archive: &Path, into: &Path) -> Result<()> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{}: not a readable zip archive", archive.display()))?;
    if zip.len() > MAX_ENTRIES {
        bail!("{}: more than {MAX_ENTRIES} entries", archive.display());
    }
    let mut budget = MAX_UNPACKED_BYTES;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .with_context(|| format!("{}: a damaged entry", archive.display()))?;
        let Some(rel) = entry.enclosed_name().as_deref().and_then(safe_relative) else {
            continue;
        };
        if entry.is_dir() {
            std::fs::create_dir_all(into.join(rel))?;
        } else if entry.is_file() && !entry.is_symlink() {
            copy_bounded(&mut entry, &into.join(rel), &mut budget, archive)?;
        }
    }
    Ok(())
}

fn untar(archive: &Path, into: &Path) -> Result<()> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut budget = MAX_UNPACKED_BYTES;
    let entries = tar
        .entries()
        .with_context(|| format!("{}: not a readable .tar.gz archive", archive.display()))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            bail!("{}: more than {MAX_ENTRIES} entries", archive.display());
        }
        let mut entry = entry.with_context(|| format!("{}: a damaged entry", archive.display()))?;
        let kind = entry.header().entry_type();
        let Some(rel) = entry.path().ok().as_deref().and_then(safe_relative) else {
            continue;
        };
        if kind.is_dir() {
            std::fs::create_dir_all(into.join(rel))?;
        } else if kind.is_file() {
            copy_bounded(&mut entry, &into.join(rel), &mut budget, archive)?;
        }
    }
    Ok(())
}
