//! Embeds the exercises' starters, as shipped, into the grader: `grader reset` restores them from
//! this copy (not from git, which a learner may not use, or may use for their own commits).
//!
//! A folder of `exercises/` is embedded only when it matches its lesson's `starter.sha256` (see
//! `src/starter_lock.rs`): a grader built after the learner started editing (a `cargo clean`, a
//! new toolchain) then knows it has no shipped copy, instead of "restoring" the learner's version.
//! The script does not rerun when `exercises/` changes, for the same reason: a grader that embedded
//! the starters keeps them. It reruns when the course changes (curriculum.toml, anything under
//! grader/lessons, which is where a changed starter's new `starter.sha256` goes).

use std::path::PathBuf;

// The build script uses only part of it (the grader writes locks, the build only reads them).
#[allow(dead_code)]
#[path = "src/learner/starter_lock.rs"]
mod starter_lock;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let kit = manifest_dir.parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/learner/starter_lock.rs");
    println!("cargo:rerun-if-changed=../curriculum.toml");
    println!("cargo:rerun-if-changed=lessons");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let copies = out.join("starters");
    let _ = std::fs::remove_dir_all(&copies);
    let mut folders: Vec<PathBuf> = std::fs::read_dir(kit.join("exercises"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    let mut files = String::new();
    let mut unavailable = String::new();
    for folder in folders {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let lock = manifest_dir
            .join("lessons")
            .join(&name)
            .join(starter_lock::LOCK_FILE);
        // Embed only a starter that is as shipped: see starter_lock.rs.
        let problem = match std::fs::read_to_string(&lock) {
            Err(_) => Some(format!(
                "grader/lessons/{name}/{} is missing",
                starter_lock::LOCK_FILE
            )),
            Ok(lock) => starter_lock::mismatch(&folder, &lock),
        };
        if let Some(problem) = problem {
            println!(
                "cargo:warning=exercises/{name} is not the starter as shipped ({problem}): `grader reset` cannot restore it from this build"
            );
            unavailable.push_str(&format!("    ({name:?}, {problem:?}),\n"));
            continue;
        }
        for rel in starter_lock::files(&folder) {
            let copy = copies.join(&name).join(&rel);
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::copy(folder.join(&rel), &copy).unwrap();
            let key = format!("{name}/{}", rel.to_string_lossy().replace('\\', "/"));
            files.push_str(&format!(
                "    ({key:?}, include_bytes!({:?})),\n",
                copy.display().to_string()
            ));
        }
    }
    let code = format!(
        "/// Every file of `exercises/` as shipped: (path relative to `exercises/`, contents).\n\
         pub static FILES: &[(&str, &[u8])] = &[\n{files}];\n\
         /// Exercise folders that were not as shipped when the grader was built: (folder, why).\n\
         pub static UNAVAILABLE: &[(&str, &str)] = &[\n{unavailable}];\n"
    );
    std::fs::write(out.join("starters.rs"), code).unwrap();
}
