//! The learner's progress: one small TOML file at the kit root, ignored by git and safe to delete.
//!
//! It records each lesson's best result and the hints already shown. A missing or unreadable file is
//! no progress at all, never an error; it is written whole to a temporary file then renamed, so an
//! interrupted grader never leaves half a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::curriculum::{Curriculum, Lesson};
use crate::kit::Kit;
use crate::report::Report;

pub const FILE_NAME: &str = ".grader-progress.toml";

const HEADER: &str = "# Your progress through the course, kept by `grader`.\n\
# Safe to delete: you lose only this record (the best score of each lesson, the hints shown).\n\n";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// The lesson the learner is on (its folder name): the one `grader next` moved to, or the
    /// furthest one they checked. Unset: the first lesson.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// By lesson folder name (`01-race-fix`).
    pub lessons: BTreeMap<String, Record>,
}

/// One lesson's record.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Passed every check at least once.
    pub passed: bool,
    /// The best score so far, of `max`.
    pub score: u32,
    pub max: u32,
    /// When the best score was first reached (RFC 3339, local time).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub when: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_checked: String,
    /// How many of the lesson's hints were shown (`grader hint` shows the next one).
    pub hints_shown: usize,
}

/// What recording a check changed.
pub struct Recorded {
    /// This check passed the lesson for the first time.
    pub first_pass: bool,
}

impl Progress {
    pub fn path(kit: &Kit) -> PathBuf {
        kit.root.join(FILE_NAME)
    }

    /// The saved progress; nothing saved, or a file that doesn't parse, is no progress.
    pub fn load(kit: &Kit) -> Progress {
        Progress::load_from(&Progress::path(kit))
    }

    fn load_from(path: &Path) -> Progress {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| toml::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Saves, atomically. A kit where it cannot write (read-only, say) only loses the record: a
    /// warning, never an error.
    pub fn save(&self, kit: &Kit) {
        let path = Progress::path(kit);
        let result = (|| -> std::io::Result<()> {
            let text = toml::to_string(self).map_err(std::io::Error::other)?;
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, format!("{HEADER}{text}"))?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = result {
            eprintln!(
                "warning: cannot save your progress to {}: {e}",
                path.display()
            );
        }
    }

    pub fn record(&self, lesson: &Lesson) -> Record {
        self.lessons
            .get(&lesson.dir_name())
            .cloned()
            .unwrap_or_default()
    }

    pub fn passed(&self, lesson: &Lesson) -> bool {
        self.lessons
            .get(&lesson.dir_name())
            .is_some_and(|r| r.passed)
    }

    /// The lesson to work on: the first not passed at or after the one `grader next` moved on to,
    /// then the first not passed before it (lessons skipped earlier). `None`: every lesson passed.
    pub fn current<'c>(&self, curriculum: &'c Curriculum) -> Option<&'c Lesson> {
        let lessons = &curriculum.lessons;
        let start = self
            .current
            .as_ref()
            .and_then(|name| lessons.iter().position(|l| &l.dir_name() == name))
            .unwrap_or(0);
        lessons[start..]
            .iter()
            .chain(&lessons[..start])
            .find(|l| !self.passed(l))
    }

    /// The lesson the learner is on: the one `grader next` moved to, or the furthest one checked.
    pub fn on<'c>(&self, curriculum: &'c Curriculum) -> Option<&'c Lesson> {
        let name = self.current.as_ref()?;
        curriculum.lessons.iter().find(|l| &l.dir_name() == name)
    }

    /// The learner worked on `lesson`: it becomes the one they are on, unless they are further on
    /// already (re-checking an early lesson doesn't move them back).
    pub fn visit(&mut self, curriculum: &Curriculum, lesson: &Lesson) {
        if self
            .on(curriculum)
            .is_none_or(|on| lesson.number > on.number)
        {
            self.current = Some(lesson.dir_name());
        }
    }

    /// Records a check of the learner's own exercise: keeps the best result.
    pub fn record_report(&mut self, lesson: &Lesson, report: &Report) -> Recorded {
        let now = now();
        let entry = self.lessons.entry(lesson.dir_name()).or_default();
        let first_pass = report.passed && !entry.passed;
        entry.attempts += 1;
        entry.last_checked = now.clone();
        if report.score > entry.score || entry.when.is_empty() || first_pass {
            entry.score = entry.score.max(report.score);
            entry.when = now;
        }
        entry.max = report.max_score;
        entry.passed |= report.passed;
        Recorded { first_pass }
    }

    /// The next hint of a lesson (1-based) and remembers it was shown; the last one again once all
    /// were shown. `None`: the lesson has no hints.
    pub fn next_hint(&mut self, lesson: &Lesson) -> Option<usize> {
        if lesson.hints.is_empty() {
            return None;
        }
        let entry = self.lessons.entry(lesson.dir_name()).or_default();
        entry.hints_shown = (entry.hints_shown + 1).min(lesson.hints.len());
        Some(entry.hints_shown)
    }

    pub fn all_hints_shown(&mut self, lesson: &Lesson) {
        let entry = self.lessons.entry(lesson.dir_name()).or_default();
        entry.hints_shown = lesson.hints.len();
    }
}

/// The lesson after `lesson` in the curriculum, if any.
pub fn lesson_after<'c>(curriculum: &'c Curriculum, lesson: &Lesson) -> Option<&'c Lesson> {
    let i = curriculum
        .lessons
        .iter()
        .position(|l| l.number == lesson.number)?;
    curriculum.lessons.get(i + 1)
}

pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// `2026-05-01 10:32` from a stored time; the stored text itself if it doesn't parse.
pub fn short_time(when: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(when)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| when.to_string())
}
