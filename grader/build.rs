//! Embeds the exercises' starters, as shipped, into the grader: `grader reset` restores them from
//! this copy (not from git, which a learner may not use, or may use for their own commits).
//!
//! The copy is taken from `exercises/` when the build script runs, and the script deliberately does
//! NOT rerun when files under `exercises/` change: those are the learner's edits, and embedding them
//! would make `reset` restore the learner's version. It reruns when the course itself changes
//! (curriculum.toml, the lessons' checks, this script), which is what adding or changing a lesson
//! touches. Course authors who change only a starter: touch curriculum.toml (or this file).

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let kit = manifest_dir.parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../curriculum.toml");
    println!("cargo:rerun-if-changed=lessons");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let copies = out.join("starters");
    let _ = std::fs::remove_dir_all(&copies);
    let mut files = Vec::new();
    collect(&kit.join("exercises"), Path::new(""), &mut files);
    files.sort();
    let mut code = String::from(
        "/// Every file of `exercises/` as shipped: (path relative to `exercises/`, contents).\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for rel in &files {
        let copy = copies.join(rel);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(kit.join("exercises").join(rel), &copy).unwrap();
        let name = rel.to_string_lossy().replace('\\', "/");
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            copy.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("starters.rs"), code).unwrap();
}

/// Source files only: no build products (`target/`, `Cargo.lock`), hidden files or editor backups.
fn collect(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || name == "target"
            || name == "Cargo.lock"
            || name.ends_with('~')
            || name.ends_with(".swp")
            || name.ends_with(".orig")
        {
            continue;
        }
        let rel_path = rel.join(&name);
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect(&entry.path(), &rel_path, out);
        } else if kind.is_file() {
            out.push(rel_path);
        }
    }
}
