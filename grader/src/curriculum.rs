//! The course as `curriculum.toml` describes it: lessons in order, their folders, hints and points.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use grader_harness::protocol::Kind;
use serde::Deserialize;

pub const FILE_NAME: &str = "curriculum.toml";

/// The version of `curriculum.toml`'s layout this grader reads (its top-level `format` key).
pub const FORMAT: i64 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curriculum {
    /// The layout's version: always [`FORMAT`] once loaded.
    pub format: i64,
    pub title: String,
    #[serde(rename = "lesson")]
    pub lessons: Vec<Lesson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub number: u32,
    pub slug: String,
    pub title: String,
    /// Folders relative to the kit root.
    pub exercise: PathBuf,
    pub solution: PathBuf,
    /// Holds `checks.rs` and `variants/`.
    pub checks: PathBuf,
    /// Optional modules of the kit's shim (`grader/shim/NAME.rs`) that follow the facade in the
    /// lesson's `src/sync.rs`, in this order.
    #[serde(default)]
    pub shim: Vec<String>,
    #[serde(default)]
    pub hints: Vec<String>,
    /// Points of each check, by kind then name, in report order.
    pub points: Points,
    /// When Gradescope shows a check's result to the learner, by kind (`model =
    /// "after_due_date"`) or by check name (which wins over its kind); default `visible`.
    #[serde(default)]
    pub visibility: std::collections::BTreeMap<String, Visibility>,
    /// Public items (`Type::method`, `function`) that no stress or model check needs to reach,
    /// each with the reason (`grader verify`'s API rows, author/coverage.rs).
    #[serde(default)]
    pub single_threaded: std::collections::BTreeMap<String, String>,
}

/// Gradescope's visibility of a test: when the learner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Hidden,
    AfterDueDate,
    AfterPublished,
    Visible,
}

impl Visibility {
    pub const ALL: [Visibility; 4] = [
        Visibility::Hidden,
        Visibility::AfterDueDate,
        Visibility::AfterPublished,
        Visibility::Visible,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
            Visibility::Visible => "visible",
        }
    }

    pub fn parse(word: &str) -> Option<Visibility> {
        Visibility::ALL.into_iter().find(|v| v.as_str() == word)
    }
}

/// Visibilities by kind or check name: the curriculum's, then `--visibility` over them.
pub type VisibilityRules = std::collections::BTreeMap<String, Visibility>;

/// The visibility of the check `name` of `kind` under `rules`: by name, else by kind, else visible.
pub fn visibility_of(rules: &VisibilityRules, name: &str, kind: Kind) -> Visibility {
    rules
        .get(name)
        .or_else(|| rules.get(kind.as_str()))
        .copied()
        .unwrap_or(Visibility::Visible)
}

/// Parses `KEY=VISIBILITY` (`--visibility model=after_due_date`).
pub fn parse_visibility_rule(arg: &str) -> std::result::Result<(String, Visibility), String> {
    let words: Vec<&str> = Visibility::ALL.iter().map(|v| v.as_str()).collect();
    let (key, value) = arg.split_once('=').ok_or_else(|| {
        format!(
            "`{arg}` is not KIND=VISIBILITY or CHECK=VISIBILITY (e.g. model=after_due_date; visibility one of {})",
            words.join(", ")
        )
    })?;
    let visibility = Visibility::parse(value.trim())
        .ok_or_else(|| format!("no visibility `{value}`: one of {}", words.join(", ")))?;
    Ok((key.trim().to_string(), visibility))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Points {
    #[serde(default)]
    pub lint: toml::Table,
    #[serde(default)]
    pub unit: toml::Table,
    #[serde(default)]
    pub stress: toml::Table,
    #[serde(default)]
    pub timing: toml::Table,
    #[serde(default)]
    pub model: toml::Table,
}

/// A check the curriculum expects a lesson to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCheck {
    pub name: String,
    pub kind: Kind,
    pub points: u32,
}

impl Curriculum {
    pub fn load(path: &Path) -> Result<Curriculum> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Curriculum::parse(&text, &path.display().to_string())
    }

    /// Reads the text of a curriculum; `name` is how errors call it.
    pub fn parse(text: &str, name: &str) -> Result<Curriculum> {
        // The format first: a file of another version may fail every other rule. toml's errors
        // carry the line and column, with the offending line quoted.
        #[derive(Deserialize)]
        struct Header {
            format: Option<toml::Value>,
        }
        let header: Header =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{name} is malformed:\n{e}"))?;
        match header.format {
            None => bail!(
                "{name} has no `format` key: this grader reads format {FORMAT} (`format = {FORMAT}` at the top of the file)"
            ),
            Some(toml::Value::Integer(FORMAT)) => {}
            Some(other) => bail!(
                "{name} is format {other}, and this grader reads format {FORMAT} only: use the grader that came with this curriculum"
            ),
        }
        let mut curriculum: Curriculum =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{name} is malformed:\n{e}"))?;
        // The course runs in lesson-number order, whatever the order of the blocks in the file.
        curriculum.lessons.sort_by_key(|l| l.number);
        curriculum
            .validate()
            .with_context(|| format!("{name} is inconsistent"))?;
        Ok(curriculum)
    }

    fn validate(&self) -> Result<()> {
        for (i, lesson) in self.lessons.iter().enumerate() {
            if self.lessons[..i]
                .iter()
                .any(|l| l.number == lesson.number || l.slug == lesson.slug)
            {
                bail!("lesson {} ({}) appears twice", lesson.number, lesson.slug);
            }
            let planned = lesson.planned_checks()?;
            lesson.check_visibility_keys(lesson.visibility.keys(), &planned)?;
        }
        Ok(())
    }

    /// Finds a lesson by number (`3`, `03`), slug (`downloader`) or folder name (`03-downloader`).
    pub fn find(&self, name: &str) -> Result<&Lesson> {
        let wanted = name.trim().trim_end_matches('/');
        let found = self.lessons.iter().find(|l| {
            wanted.parse::<u32>().ok() == Some(l.number)
                || wanted == l.slug
                || wanted == l.dir_name()
        });
        match found {
            Some(lesson) => Ok(lesson),
            None => {
                let list: Vec<String> = self
                    .lessons
                    .iter()
                    .map(|l| format!("  {:02}  {:<20} {}", l.number, l.slug, l.title))
                    .collect();
                bail!(
                    "no lesson named `{name}`. The lessons are:\n{}",
                    list.join("\n")
                )
            }
        }
    }
}

impl Lesson {
    /// `01-race-fix`: the name of the lesson's folders, and its id in reports.
    pub fn dir_name(&self) -> String {
        format!("{:02}-{}", self.number, self.slug)
    }

    /// Every check of the lesson with its points, lint first, in the order curriculum.toml lists them.
    pub fn planned_checks(&self) -> Result<Vec<PlannedCheck>> {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let table = match kind {
                Kind::Lint => &self.points.lint,
                Kind::Unit => &self.points.unit,
                Kind::Stress => &self.points.stress,
                Kind::Timing => &self.points.timing,
                Kind::Model => &self.points.model,
            };
            for (name, value) in table {
                let points = value
                    .as_integer()
                    .and_then(|p| u32::try_from(p).ok())
                    .with_context(|| {
                        format!(
                            "lesson {}: points of {kind} check `{name}` must be a whole number",
                            self.number
                        )
                    })?;
                out.push(PlannedCheck {
                    name: name.clone(),
                    kind,
                    points,
                });
            }
        }
        Ok(out)
    }

    /// Every key of a visibility rule names a kind or one of the lesson's checks.
    pub fn check_visibility_keys<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a String>,
        planned: &[PlannedCheck],
    ) -> Result<()> {
        for key in keys {
            let known = Kind::ALL.iter().any(|k| k.as_str() == key)
                || planned.iter().any(|c| &c.name == key);
            if !known {
                bail!(
                    "lesson {}: visibility of `{key}`: no kind or check of that name (kinds: lint, unit, stress, timing, model)",
                    self.number
                );
            }
        }
        Ok(())
    }

    pub fn max_score(&self) -> u32 {
        self.planned_checks()
            .map(|c| c.iter().map(|c| c.points).sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESSON: &str = r#"
[[lesson]]
number = 1
slug = "race-fix"
title = "t"
exercise = "exercises/01-race-fix"
solution = "solutions/01-race-fix"
checks = "grader/lessons/01-race-fix"
shim = ["channel"]
[lesson.points]
unit = { a = 1 }
"#;

    #[test]
    fn format_1_is_read() {
        let text = format!("format = 1\ntitle = \"x\"\n{LESSON}");
        let curriculum = Curriculum::parse(&text, "curriculum.toml").unwrap();
        assert_eq!(curriculum.format, FORMAT);
        assert_eq!(curriculum.lessons[0].shim, ["channel"]);
    }

    #[test]
    fn a_missing_or_unknown_format_is_refused_naming_the_version_read() {
        let missing = Curriculum::parse(&format!("title = \"x\"\n{LESSON}"), "c.toml")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("c.toml has no `format` key"), "{missing}");
        assert!(missing.contains("reads format 1"), "{missing}");
        // A later format may have other keys: the version is what the error is about.
        let later = Curriculum::parse("format = 2\nwhatever = true\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(later.contains("c.toml is format 2"), "{later}");
        assert!(later.contains("reads format 1 only"), "{later}");
        let text = Curriculum::parse("format = \"1\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(text.contains("is format \"1\""), "{text}");
    }

    #[test]
    fn visibility_is_by_kind_or_check_and_names_only_those() {
        let text = format!(
            "format = 1\ntitle = \"x\"\n{LESSON}[lesson.visibility]\nunit = \"after_due_date\"\na = \"hidden\"\n"
        );
        let curriculum = Curriculum::parse(&text, "c.toml").unwrap();
        let rules = &curriculum.lessons[0].visibility;
        assert_eq!(visibility_of(rules, "a", Kind::Unit), Visibility::Hidden);
        assert_eq!(
            visibility_of(rules, "b", Kind::Unit),
            Visibility::AfterDueDate
        );
        assert_eq!(visibility_of(rules, "c", Kind::Model), Visibility::Visible);
        let text =
            format!("format = 1\ntitle = \"x\"\n{LESSON}[lesson.visibility]\nnope = \"hidden\"\n");
        let err = format!("{:#}", Curriculum::parse(&text, "c.toml").unwrap_err());
        assert!(err.contains("visibility of `nope`"), "{err}");
        assert_eq!(
            parse_visibility_rule("model=after_due_date"),
            Ok(("model".to_string(), Visibility::AfterDueDate))
        );
        assert!(parse_visibility_rule("model=soon")
            .unwrap_err()
            .contains("one of hidden, after_due_date"));
        assert!(parse_visibility_rule("model").is_err());
    }

    #[test]
    fn the_kits_curriculum_is_format_1() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join(FILE_NAME);
        assert_eq!(Curriculum::load(&path).unwrap().format, FORMAT);
    }
}
