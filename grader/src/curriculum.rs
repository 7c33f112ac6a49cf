//! The course as `curriculum.toml` describes it: lessons in order, their folders, hints and points.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use grader_harness::protocol::Kind;
use serde::Deserialize;

pub const FILE_NAME: &str = "curriculum.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curriculum {
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
    #[serde(default)]
    pub hints: Vec<String>,
    /// Points of each check, by kind then name, in report order.
    pub points: Points,
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
        // toml's errors carry the line and column, with the offending line quoted.
        let mut curriculum: Curriculum = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is malformed:\n{e}", path.display()))?;
        // The course runs in lesson-number order, whatever the order of the blocks in the file.
        curriculum.lessons.sort_by_key(|l| l.number);
        curriculum
            .validate()
            .with_context(|| format!("{} is inconsistent", path.display()))?;
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
            lesson.planned_checks()?;
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

    pub fn max_score(&self) -> u32 {
        self.planned_checks()
            .map(|c| c.iter().map(|c| c.points).sum())
            .unwrap_or(0)
    }
}
