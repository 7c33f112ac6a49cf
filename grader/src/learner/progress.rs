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

/// The progress file's format. A file without one is format 1 (it was written before the field
/// existed); a file of a newer format is read as no progress and never overwritten, so a learner
/// who goes back to an older grader loses nothing.
pub const FORMAT: u32 = 1;

const HEADER: &str = "# Your progress through the course, kept by `grader`.\n\
# Safe to delete: you lose only this record (the best score of each lesson, the hints shown).\n\n";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// See [`FORMAT`].
    pub format: u32,
    /// The lesson the learner is on (its folder name): the one `grader next` moved to, or the
    /// furthest one they checked. Unset: the first lesson.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// By lesson folder name (`01-race-fix`).
    pub lessons: BTreeMap<String, Record>,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            format: FORMAT,
            current: None,
            lessons: BTreeMap::new(),
        }
    }
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
            .map(|text| Progress::parse(&text))
            .unwrap_or_default()
    }

    /// The progress a file's text holds: a file that doesn't parse is no progress; one from a newer
    /// grader keeps its format number, so that [`Progress::save`] leaves it alone.
    fn parse(text: &str) -> Progress {
        match toml::from_str::<Progress>(text) {
            Ok(p) if p.format <= FORMAT => Progress {
                format: FORMAT,
                ..p
            },
            Ok(p) => Progress {
                format: p.format,
                ..Progress::default()
            },
            Err(_) => Progress::default(),
        }
    }

    /// Saves, atomically. A kit where it cannot write (read-only, say) only loses the record: a
    /// warning, never an error.
    pub fn save(&self, kit: &Kit) {
        let path = Progress::path(kit);
        if self.format > FORMAT {
            eprintln!(
                "warning: {} was written by a newer grader (format {}; this one reads {FORMAT}): it is left as it is, and this check is not recorded",
                path.display(),
                self.format
            );
            return;
        }
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

    /// The lesson to go to after `lesson`: the first one not passed after it, else the first one not
    /// passed before it (a lesson skipped earlier). `None`: every other lesson is passed.
    pub fn open_after<'c>(
        &self,
        curriculum: &'c Curriculum,
        lesson: &Lesson,
    ) -> Option<&'c Lesson> {
        let lessons = &curriculum.lessons;
        let at = lessons.iter().position(|l| l.number == lesson.number)?;
        lessons[at + 1..]
            .iter()
            .chain(&lessons[..at])
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
        self.record_result(lesson, report.passed, report.score, report.max_score)
    }

    fn record_result(&mut self, lesson: &Lesson, passed: bool, score: u32, max: u32) -> Recorded {
        let now = now();
        let entry = self.lessons.entry(lesson.dir_name()).or_default();
        let first_pass = passed && !entry.passed;
        entry.attempts += 1;
        entry.last_checked = now.clone();
        if score > entry.score || entry.when.is_empty() || first_pass {
            entry.score = entry.score.max(score);
            entry.when = now;
        }
        entry.max = max;
        entry.passed |= passed;
        Recorded { first_pass }
    }

    /// A check of only some kinds (`--kind`): it counts as an attempt, but its score (of the checks
    /// that ran) is not comparable with a whole check's, so it neither sets the best score nor passes.
    pub fn record_attempt(&mut self, lesson: &Lesson) {
        let entry = self.lessons.entry(lesson.dir_name()).or_default();
        entry.attempts += 1;
        entry.last_checked = now();
    }

    /// Hint `n` (1-based) was shown: the next `grader hint` shows the one after it, unless a later
    /// one was shown already.
    pub fn hint_shown(&mut self, lesson: &Lesson, n: usize) {
        let entry = self.lessons.entry(lesson.dir_name()).or_default();
        entry.hints_shown = entry.hints_shown.max(n.min(lesson.hints.len()));
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

pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// `2026-05-01 10:32` from a stored time; the stored text itself if it doesn't parse.
pub fn short_time(when: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(when)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| when.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curriculum::Lesson;

    /// A course of `n` lessons, each with two hints and one check.
    fn course(n: u32) -> Curriculum {
        let lessons = (1..=n)
            .map(|i| {
                toml::from_str::<Lesson>(&format!(
                    r#"number = {i}
slug = "l{i}"
title = "Lesson {i}"
exercise = "exercises/0{i}-l{i}"
solution = "solutions/0{i}-l{i}"
checks = "grader/lessons/0{i}-l{i}"
hints = ["first", "second"]
[points]
unit = {{ works = 2 }}
"#
                ))
                .unwrap()
            })
            .collect();
        let mut c: Curriculum = toml::from_str("format = 1\ntitle = \"t\"\nlesson = []\n").unwrap();
        c.lessons = lessons;
        c
    }

    #[test]
    fn current_is_the_first_lesson_not_passed_from_where_the_learner_is() {
        let c = course(3);
        let mut p = Progress::default();
        assert_eq!(p.current(&c).unwrap().number, 1);
        p.record_result(&c.lessons[0], true, 2, 2);
        assert_eq!(p.current(&c).unwrap().number, 2);
        // `grader next` moved on to 3: 2 comes back once 3 is passed.
        p.current = Some(c.lessons[2].dir_name());
        assert_eq!(p.current(&c).unwrap().number, 3);
        p.record_result(&c.lessons[2], true, 2, 2);
        assert_eq!(p.current(&c).unwrap().number, 2);
        p.record_result(&c.lessons[1], true, 2, 2);
        assert!(p.current(&c).is_none());
    }

    #[test]
    fn keeps_the_best_score_and_reports_a_first_pass_once() {
        let c = course(1);
        let l = &c.lessons[0];
        let mut p = Progress::default();
        assert!(!p.record_result(l, false, 1, 2).first_pass);
        assert!(!p.record_result(l, false, 0, 2).first_pass);
        assert_eq!(p.record(l).score, 1);
        assert!(p.record_result(l, true, 2, 2).first_pass);
        assert!(!p.record_result(l, true, 2, 2).first_pass);
        let r = p.record(l);
        assert_eq!((r.score, r.max, r.attempts, r.passed), (2, 2, 4, true));
    }

    #[test]
    fn the_lesson_after_one_is_the_next_not_passed_then_one_skipped_before() {
        let c = course(4);
        let mut p = Progress::default();
        assert_eq!(p.open_after(&c, &c.lessons[0]).unwrap().number, 2);
        p.record_result(&c.lessons[1], true, 2, 2);
        assert_eq!(p.open_after(&c, &c.lessons[0]).unwrap().number, 3);
        // From the last lesson: the first one not passed, before it.
        assert_eq!(p.open_after(&c, &c.lessons[3]).unwrap().number, 1);
        for l in &c.lessons[..3] {
            p.record_result(l, true, 2, 2);
        }
        assert!(p.open_after(&c, &c.lessons[3]).is_none());
    }

    #[test]
    fn an_attempt_of_some_kinds_counts_but_sets_no_score() {
        let c = course(1);
        let l = &c.lessons[0];
        let mut p = Progress::default();
        p.record_attempt(l);
        let r = p.record(l);
        assert_eq!((r.attempts, r.score, r.passed), (1, 0, false));
        assert!(!r.last_checked.is_empty() && r.when.is_empty());
    }

    #[test]
    fn the_time_shown_for_a_pass_is_the_first_pass_not_an_earlier_attempt_at_that_score() {
        let c = course(1);
        let l = &c.lessons[0];
        let mut p = Progress::default();
        p.record_result(l, false, 2, 2);
        p.lessons.get_mut(&l.dir_name()).unwrap().when = "buggy".into();
        p.record_result(l, true, 2, 2);
        assert_ne!(p.record(l).when, "buggy");
    }

    #[test]
    fn visiting_an_earlier_lesson_does_not_move_the_learner_back() {
        let c = course(3);
        let mut p = Progress::default();
        p.visit(&c, &c.lessons[2]);
        p.visit(&c, &c.lessons[0]);
        assert_eq!(p.on(&c).unwrap().number, 3);
    }

    #[test]
    fn hints_come_one_at_a_time_and_stop_at_the_last() {
        let c = course(1);
        let l = &c.lessons[0];
        let mut p = Progress::default();
        assert_eq!(p.next_hint(l), Some(1));
        assert_eq!(p.next_hint(l), Some(2));
        assert_eq!(p.next_hint(l), Some(2));
    }

    #[test]
    fn the_file_round_trips_with_its_format_and_bad_or_newer_files_are_no_progress() {
        let c = course(1);
        let mut p = Progress::default();
        p.record_result(&c.lessons[0], true, 2, 2);
        let text = toml::to_string(&p).unwrap();
        assert!(text.starts_with("format = 1\n"), "{text}");
        let back = Progress::parse(&text);
        assert!(back.passed(&c.lessons[0]));

        // Written before the format field existed: format 1.
        let old = text.replacen("format = 1\n", "", 1);
        assert!(Progress::parse(&old).passed(&c.lessons[0]));

        assert!(!Progress::parse("this is [not toml").passed(&c.lessons[0]));
        let newer = Progress::parse(&text.replacen("format = 1", "format = 9", 1));
        assert_eq!(newer.format, 9);
        assert!(!newer.passed(&c.lessons[0]));
    }
}
