//! A lesson's known-buggy variants (`grader/lessons/NN-slug/variants/`) and correct alternative
//! designs (`alternatives/`): each a patch against the solution's `src/` (see [`super::patch`]),
//! or, where a rewrite is the point, a whole `lib.rs` that says why.
//!
//! A variant's preamble names its bug and the checks that must catch it; an alternative's names
//! its design, and it must pass every check:
//! ```text
//! bug: increments with a load and a store, so two threads can both write the same value
//! caught-by: counter_two_increments
//!
//! --- a/lib.rs
//! +++ b/lib.rs
//! ```
//! A whole-file variant (`NAME.rs`) carries the same lines as `//!` comments at its top, plus a
//! `//! whole-file: <why>` line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::author::patch::{self, PatchError, PatchFile};
use crate::check::target::{SourceFile, Target};
use crate::curriculum::Lesson;
use crate::kit::Kit;

/// The shim is always the kit's: a patch never needs to (and `--new-variant` never does) touch it.
const SHIM: &str = "sync.rs";

/// What a variant or an alternative is made of.
#[derive(Debug, Clone)]
pub enum Body {
    /// A diff against the solution's `src/`.
    Patch(String),
    /// A whole `lib.rs` in place of the solution's, and why it is not a patch.
    WholeFile { text: String, why: String },
}

/// A known-buggy variant (`role` = variant) or a correct alternative design.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub path: PathBuf,
    /// The bug, for a variant; the design, for an alternative.
    pub about: String,
    /// The checks that must catch it (empty for an alternative).
    pub caught_by: Vec<String>,
    pub body: Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Variant,
    Alternative,
}

impl Role {
    pub fn dir(self) -> &'static str {
        match self {
            Role::Variant => "variants",
            Role::Alternative => "alternatives",
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            Role::Variant => "variant",
            Role::Alternative => "alternative",
        }
    }
}

/// The lesson's variants or alternatives, sorted by name: every `.patch` and `.rs` file.
pub fn load(kit: &Kit, lesson: &Lesson, role: Role) -> Result<Vec<Variant>> {
    let dir = kit.path(&lesson.checks).join(role.dir());
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs" || e == "patch"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
        .iter()
        .map(|f| parse(f, role).with_context(|| kit.display(f)))
        .collect()
}

fn parse(path: &Path, role: Role) -> Result<Variant> {
    let text = std::fs::read_to_string(path).context("cannot read it")?;
    let name = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let whole_file = path.extension().is_some_and(|e| e == "rs");
    let (fields, body): (Vec<(String, String)>, Body) = if whole_file {
        let fields = text
            .lines()
            .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
            .filter_map(|l| {
                let (k, v) = l.trim_start_matches("//!").trim().split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect::<Vec<_>>();
        let why = fields
            .iter()
            .find(|(k, _)| k == "whole-file")
            .map(|(_, v)| v.clone())
            .context("a whole-file variant says why it is not a patch: add a `//! whole-file: <why>` line to its header, or turn it into a patch (`grader verify --new-variant`)")?;
        (fields, Body::WholeFile { text, why })
    } else {
        let file = PatchFile::parse(&text)?;
        (file.fields, Body::Patch(file.diff))
    };
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let prefix = if whole_file { "//! " } else { "" };
    let (about, caught_by) = match role {
        Role::Variant => {
            let bug = field("bug").with_context(|| format!("no `{prefix}bug:` line"))?;
            let caught_by = field("caught-by")
                .with_context(|| format!("no `{prefix}caught-by:` line"))?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            (bug, caught_by)
        }
        Role::Alternative => (
            field("alternative").with_context(|| format!("no `{prefix}alternative:` line"))?,
            Vec::new(),
        ),
    };
    Ok(Variant {
        name,
        path: path.to_path_buf(),
        about,
        caught_by,
        body,
    })
}

impl Variant {
    /// The preamble still holds `--new-variant`'s template.
    pub fn unfilled(&self) -> bool {
        self.about.starts_with("TODO") || self.caught_by.iter().any(|c| c.starts_with("TODO"))
    }

    /// The solution's snapshot with this variant applied, in memory.
    pub fn target(&self, kit: &Kit, role: Role, solution: &Target) -> Result<Target, PatchError> {
        let mut files = solution.files().to_vec();
        let shown = kit.display(&self.path);
        let how = match &self.body {
            Body::Patch(diff) => {
                patch::apply(&mut files, diff)?;
                "patched by"
            }
            Body::WholeFile { text, .. } => {
                files.retain(|f| f.path != "lib.rs");
                files.push(SourceFile::new("lib.rs", text.clone().into_bytes()));
                "lib.rs from"
            }
        };
        Ok(Target::from_files(
            shown.clone(),
            format!("{}-{}", role.word(), self.name),
            format!("{} ({how} {shown})", solution.src_display),
            files,
        ))
    }

    /// The diff that shows what this variant changes in the solution.
    pub fn diff(&self, solution: &Target) -> String {
        match &self.body {
            Body::Patch(diff) => diff.clone(),
            Body::WholeFile { text, .. } => {
                let whole = [SourceFile::new("lib.rs", text.clone().into_bytes())];
                let lib: Vec<SourceFile> = solution
                    .files()
                    .iter()
                    .filter(|f| f.path == "lib.rs")
                    .cloned()
                    .collect();
                patch::make(&lib, &whole, &[])
            }
        }
    }
}

/// `grader verify --new-variant NN NAME --from DIR`: the diff from the lesson's solution to the
/// edited copy in DIR (a crate folder or its `src/`), written as `variants/NAME.patch` with a
/// preamble to fill in. Never overwrites a variant.
pub fn new_variant(kit: &Kit, lesson: &Lesson, name: &str, from: &Path) -> Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!("`{name}`: a variant's name is lowercase letters, digits and underscores (it names the bug: `counter_load_store`)");
    }
    let dir = kit.path(&lesson.checks).join(Role::Variant.dir());
    let file = dir.join(format!("{name}.patch"));
    for existing in [file.clone(), dir.join(format!("{name}.rs"))] {
        if existing.exists() {
            bail!(
                "{} exists already: choose another name, or remove it first",
                kit.display(&existing)
            );
        }
    }
    let src = if from.join("src").join("lib.rs").is_file() {
        from.join("src")
    } else if from.join("lib.rs").is_file() {
        from.to_path_buf()
    } else {
        bail!(
            "{}: no lib.rs there nor in its src/: pass the edited copy of the solution (a crate folder or its src/)",
            from.display()
        );
    };
    let edited = Target::from_src_dir(&src)?;
    let solution = Target::solution(kit, lesson)?;
    let diff = patch::make(solution.files(), edited.files(), &[SHIM]);
    if diff.is_empty() {
        bail!(
            "{} is the same as {}/src (the shim aside): edit the copy to put the bug in, then run this again",
            src.display(),
            kit.display(&kit.path(&lesson.solution))
        );
    }
    // The patch must give back what was edited.
    let mut check = solution.files().to_vec();
    patch::apply(&mut check, &diff)
        .map_err(|e| anyhow::anyhow!("the patch made does not apply back: {e}"))?;
    let text = format!(
        "bug: TODO what is wrong, in one line (what a learner's code would do)\ncaught-by: TODO the checks that must catch it, comma-separated (deterministic ones: model, unit, timing with a wide margin)\n\n{diff}"
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // `create_new`: never overwrites, even if the file appeared since the check above.
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file)
}
