//! Files the grader writes for others to read (the grade cache, the gradebook and the class
//! reports): each appears whole or not at all, so an interrupted or concurrent run never leaves
//! half a file that a later run would take as a result.
//!
//! Where they are written is the other half: in folders no check can reach (the sandbox's
//! Landlock rules give a check its own scratch folder only, see `check/sandbox.rs`), and only
//! after every check of the run has ended.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a new file beside it (a unique name, so two graders
/// writing the same folder don't collide), then renamed over it. The file gets the permissions
/// `std::fs::write` would give it (0o666 less the umask).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".grader-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut file = builder.tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gradebook.csv");
        std::fs::write(&path, "old").unwrap();
        super::write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["gradebook.csv"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain");
            std::fs::write(&plain, "x").unwrap();
            let mode = |p: &std::path::Path| p.metadata().unwrap().permissions().mode();
            assert_eq!(mode(&path), mode(&plain));
        }
    }
}
