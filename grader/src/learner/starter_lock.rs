//! A lesson's starter as shipped: the files of `exercises/NN-slug` and the SHA-256 of each, kept in
//! `grader/lessons/NN-slug/starter.sha256` in the format `sha256sum` writes (`sha256sum -c` checks
//! it too).
//!
//! The grader embeds the starters when it is built, so that `grader reset` needs no git. It is
//! often built after the learner has started editing (a `cargo clean`, a new toolchain), and then
//! what sits in `exercises/` is no longer the starter. The lock tells the two apart: only a folder
//! that matches it is embedded, so `reset` never "restores" the learner's own version.
//!
//! The build script includes this file with `#[path]`: it may use only std and sha2.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The lock's name, in the lesson's grader folder.
pub const LOCK_FILE: &str = "starter.sha256";

/// The source files of an exercise folder, relative to it and sorted: no build products
/// (`target/`, `Cargo.lock`), hidden files or editor backups.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect(dir, Path::new(""), &mut out);
    out.sort();
    out
}

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

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn slash_path(rel: &Path) -> String {
    rel.to_string_lossy().replace('\\', "/")
}

/// The lock for the folder as it is now.
pub fn lock_text(dir: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    for rel in files(dir) {
        let bytes = std::fs::read(dir.join(&rel))?;
        text.push_str(&format!("{}  {}\n", sha256_hex(&bytes), slash_path(&rel)));
    }
    Ok(text)
}

/// `None` when the folder holds exactly the files of the lock, each with its hash; otherwise the
/// first difference, in words.
pub fn mismatch(dir: &Path, lock: &str) -> Option<String> {
    let listed: Vec<(&str, &str)> = lock
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once("  ").unwrap_or((l, "")))
        .map(|(hash, name)| (hash.trim(), name.trim()))
        .collect();
    let present: Vec<String> = files(dir).iter().map(|p| slash_path(p)).collect();
    for name in &present {
        if !listed.iter().any(|(_, n)| n == name) {
            return Some(format!("{name} is not part of the starter"));
        }
    }
    for (hash, name) in &listed {
        match std::fs::read(dir.join(name)) {
            Err(_) => return Some(format!("{name} is missing")),
            Ok(bytes) if sha256_hex(&bytes) != *hash => return Some(format!("{name} was changed")),
            Ok(_) => {}
        }
    }
    None
}
