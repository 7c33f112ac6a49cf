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
    /// An archive of a kind the grader does not unpack (`.tar`, `.7z`, `.rar`...): a submission
    /// all the same, graded invalid with the reason.
    Unsupported(&'static str),
}

/// Archives a learner may send that the grader does not unpack, longest suffix first.
const UNSUPPORTED: &[&str] = &[
    ".tar.xz", ".tar.bz2", ".tar.zst", ".tar", ".txz", ".tbz2", ".7z", ".rar", ".gz", ".bz2",
    ".xz", ".zst",
];

/// What `find` found in a class folder.
#[derive(Debug, Default)]
pub struct Found {
    /// The submissions, sorted by id.
    pub submissions: Vec<Submission>,
    /// Files that are neither a folder nor an archive (notes.txt, a roster): not graded, and
    /// said so.
    pub ignored: Vec<String>,
}

/// The submissions in `dir`, sorted by id, and the files left out. Hidden entries are skipped.
/// When a folder and an archive would get the same id, the archive keeps its full file name.
pub fn find(dir: &Path) -> Result<Found> {
    let mut found = Vec::new();
    let mut ignored = Vec::new();
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
        } else if let Some((stem, ext)) = UNSUPPORTED
            .iter()
            .find_map(|ext| name.strip_suffix(ext).map(|stem| (stem, *ext)))
        {
            (stem.to_string(), Form::Unsupported(ext))
        } else {
            ignored.push(name);
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
    ignored.sort();
    Ok(Found {
        submissions: found,
        ignored,
    })
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
            Form::Unsupported(ext) => bail!(
                "a {ext} archive, which the grader does not unpack: submit a folder, a .zip or a .tar.gz"
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn archive_entries_stay_inside_the_scratch_folder() {
        assert_eq!(
            safe_relative(Path::new("kit/src/lib.rs")),
            Some(PathBuf::from("kit/src/lib.rs"))
        );
        assert_eq!(
            safe_relative(Path::new("./src/lib.rs")),
            Some(PathBuf::from("src/lib.rs"))
        );
        for bad in ["../evil.rs", "src/../../evil.rs", "/etc/passwd", "", "."] {
            assert_eq!(safe_relative(Path::new(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn finds_folders_and_archives_sorted_and_keeps_clashing_ids_apart() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["bob", "alice", ".hidden"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        for f in [
            "carol.zip",
            "dave.tar.gz",
            "erin.tgz",
            "notes.txt",
            "bob.zip",
            "frank.7z",
            "grace.tar",
            "heidi.tar.xz",
            "roster.csv",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let found = find(dir.path()).unwrap();
        assert_eq!(found.ignored, ["notes.txt", "roster.csv"]);
        let ids: Vec<(&str, Form)> = found
            .submissions
            .iter()
            .map(|s| (s.id.as_str(), s.form))
            .collect();
        assert_eq!(
            ids,
            [
                ("alice", Form::Folder),
                ("bob", Form::Folder),
                ("bob.zip", Form::Zip),
                ("carol", Form::Zip),
                ("dave", Form::TarGz),
                ("erin", Form::TarGz),
                ("frank", Form::Unsupported(".7z")),
                ("grace", Form::Unsupported(".tar")),
                ("heidi", Form::Unsupported(".tar.xz")),
            ]
        );
    }

    fn zip_with(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".zip").tempfile().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    #[test]
    fn unzip_skips_entries_that_climb_out_and_refuses_a_bomb() {
        let archive = zip_with(&[
            ("kit/src/lib.rs", b"pub fn f() {}"),
            ("../escaped.rs", b"x"),
        ]);
        let into = tempfile::tempdir().unwrap();
        unzip(archive.path(), into.path()).unwrap();
        assert!(into.path().join("kit/src/lib.rs").is_file());
        assert!(!into.path().parent().unwrap().join("escaped.rs").exists());

        let big = vec![0u8; (MAX_UNPACKED_BYTES + 1) as usize];
        let bomb = zip_with(&[("big.bin", &big)]);
        let into = tempfile::tempdir().unwrap();
        let error = unzip(bomb.path(), into.path()).unwrap_err().to_string();
        assert!(error.contains("unpacks to more than"), "{error}");
    }

    #[test]
    fn untar_keeps_files_and_drops_links() {
        let archive = tempfile::Builder::new()
            .suffix(".tar.gz")
            .tempfile()
            .unwrap();
        {
            let gz = flate2::write::GzEncoder::new(
                archive.reopen().unwrap(),
                flate2::Compression::fast(),
            );
            let mut tar = tar::Builder::new(gz);
            let body = b"pub fn f() {}";
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, "src/lib.rs", &body[..])
                .unwrap();
            let mut link = tar::Header::new_gnu();
            link.set_entry_type(tar::EntryType::Symlink);
            link.set_size(0);
            tar.append_link(&mut link, "src/solution.rs", "/work/solutions/lib.rs")
                .unwrap();
            tar.into_inner().unwrap().finish().unwrap();
        }
        let into = tempfile::tempdir().unwrap();
        untar(archive.path(), into.path()).unwrap();
        assert!(into.path().join("src/lib.rs").is_file());
        assert!(std::fs::symlink_metadata(into.path().join("src/solution.rs")).is_err());
    }
}
