//! The learner's side of the grader: where am I, what next, hints, moving on, starting over.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use anyhow::Result;

use crate::curriculum::Lesson;
use crate::kit::Kit;
use crate::learner::progress::{self, Progress, Record};
use crate::report::Report;

const OK: Style = AnsiColor::Green.on_default().bold();
const HERE: Style = AnsiColor::Cyan.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// A lesson's state in a few words: passed / attempted with the best score / not started.
pub fn status_text(record: &Record) -> String {
    if record.passed {
        let when = if record.when.is_empty() {
            String::new()
        } else {
            format!(" · {}", progress::short_time(&record.when))
        };
        format!("passed {}/{}{when}", record.score, record.max)
    } else if record.attempts > 0 {
        format!(
            "attempted · best {}/{}, {} {}",
            record.score,
            record.max,
            record.attempts,
            if record.attempts == 1 { "try" } else { "tries" }
        )
    } else {
        "not started".into()
    }
}

/// The lessons with their status, the current one marked. `cut_titles`: on a terminal, long titles
/// are cut to keep one line per lesson; a file or a pipe gets them whole.
pub fn print_lessons(
    out: &mut dyn Write,
    kit: &Kit,
    progress: &Progress,
    cut_titles: bool,
) -> Result<()> {
    let current = progress.current(&kit.curriculum).map(|l| l.number);
    let slug_width = kit
        .curriculum
        .lessons
        .iter()
        .map(|l| l.slug.chars().count())
        .max()
        .unwrap_or(0);
    for lesson in &kit.curriculum.lessons {
        let record = progress.record(lesson);
        let (style, mark) = if record.passed {
            (OK, "✓")
        } else if Some(lesson.number) == current {
            (HERE, "▶")
        } else {
            (DIM, " ")
        };
        let title: String = if cut_titles && lesson.title.chars().count() > 44 {
            let cut: String = lesson.title.chars().take(43).collect();
            format!("{cut}…")
        } else {
            lesson.title.clone()
        };
        writeln!(
            out,
            "{style}{mark}{style:#} {:02}  {:<slug_width$}  {:<32} {DIM}{title}{DIM:#}",
            lesson.number,
            lesson.slug,
            status_text(&record),
        )?;
    }
    Ok(())
}

/// `grader` with no arguments: where the learner is and what to type next.
pub fn status(out: &mut dyn Write, kit: &Kit) -> Result<()> {
    let progress = Progress::load(kit);
    let lessons = &kit.curriculum.lessons;
    let passed = lessons.iter().filter(|l| progress.passed(l)).count();
    writeln!(out, "{BOLD}{}{BOLD:#}", kit.curriculum.title)?;
    let bar: String = lessons
        .iter()
        .map(|l| if progress.passed(l) { '■' } else { '□' })
        .collect();
    writeln!(
        out,
        "Progress: {bar}  {passed} of {} lessons passed\n",
        lessons.len()
    )?;
    print_lessons(out, kit, &progress, std::io::stdout().is_terminal())?;
    writeln!(out)?;
    match progress.current(&kit.curriculum) {
        None => {
            writeln!(
                out,
                "{OK}You have passed every lesson. Well done!{OK:#}\nRe-check any of them with `grader check NN`, and compare with the reference solutions in solutions/."
            )?;
        }
        Some(lesson) => {
            let record = progress.record(lesson);
            let verb = if progress.current.is_none()
                && progress
                    .lessons
                    .values()
                    .all(|r| r.attempts == 0 && !r.passed)
            {
                "Start with"
            } else {
                "You are on"
            };
            writeln!(
                out,
                "{verb} lesson {HERE}{:02} · {}{HERE:#}",
                lesson.number, lesson.title
            )?;
            next_steps(out, kit, lesson, &record)?;
        }
    }
    Ok(())
}

/// What to read, edit and type for a lesson.
fn next_steps(out: &mut dyn Write, kit: &Kit, lesson: &Lesson, record: &Record) -> Result<()> {
    let dir = kit.display(&kit.path(&lesson.exercise));
    writeln!(out, "  {DIM}read{DIM:#}   {dir}/README.md")?;
    writeln!(out, "  {DIM}edit{DIM:#}   {dir}/src/lib.rs")?;
    writeln!(
        out,
        "  {DIM}then{DIM:#}   grader check      {DIM}(or `grader watch`: re-checks each time you save){DIM:#}"
    )?;
    if !lesson.hints.is_empty() {
        let next = (record.hints_shown + 1).min(lesson.hints.len());
        writeln!(
            out,
            "  {DIM}stuck?{DIM:#} grader hint       {DIM}(hint {next} of {} next){DIM:#}",
            lesson.hints.len()
        )?;
    }
    Ok(())
}

/// After a check of the learner's exercise: congratulations on a first pass, and where to go.
pub fn after_check(
    out: &mut dyn Write,
    kit: &Kit,
    lesson: &Lesson,
    report: &Report,
    first_pass: bool,
    progress: &Progress,
) -> Result<()> {
    if !report.passed {
        return Ok(());
    }
    let solution = kit.display(&kit.path(&lesson.solution));
    let exercise = kit.display(&kit.path(&lesson.exercise));
    if first_pass {
        writeln!(
            out,
            "\n{OK}Lesson {:02} passed. Well done!{OK:#}",
            lesson.number
        )?;
        writeln!(
            out,
            "Compare your code with the reference solution in {solution}/:\n  diff -u {solution}/src/lib.rs {exercise}/src/lib.rs"
        )?;
    }
    match progress.current(&kit.curriculum) {
        Some(next) if next.number != lesson.number => {
            writeln!(
                out,
                "Next: lesson {HERE}{:02} · {}{HERE:#}: read {}/README.md, then `grader check` (it checks lesson {:02} now).",
                next.number,
                next.title,
                kit.display(&kit.path(&next.exercise)),
                next.number
            )?;
        }
        Some(_) => {}
        None if first_pass => {
            writeln!(
                out,
                "That was the last lesson to pass: you have finished the course!"
            )?;
        }
        None => {}
    }
    Ok(())
}

/// `grader next`: moves on from the lesson the learner is on (the one `grader` names, the first not
/// passed) to the next one not passed, passed or not.
pub fn next(out: &mut dyn Write, kit: &Kit) -> Result<bool> {
    let mut progress = Progress::load(kit);
    // The lesson `grader` and a passing check say the learner is on, not the stored one: right
    // after passing 02 they are on 03, and `next` leaves 03.
    let Some(on) = progress.current(&kit.curriculum) else {
        writeln!(
            out,
            "You have passed every lesson: there is nothing left to move on to."
        )?;
        return Ok(true);
    };
    let Some(following) = progress.open_after(&kit.curriculum, on) else {
        writeln!(
            out,
            "Lesson {:02} · {} is the only lesson not passed yet: there is no other to move on to.",
            on.number, on.title
        )?;
        return Ok(false);
    };
    let record = progress.record(on);
    writeln!(
        out,
        "Leaving lesson {:02} for now ({}): come back any time with `grader check {:02}`.",
        on.number,
        status_text(&record),
        on.number
    )?;
    progress.current = Some(following.dir_name());
    progress.save(kit);
    writeln!(
        out,
        "Now on lesson {HERE}{:02} · {}{HERE:#}",
        following.number, following.title
    )?;
    next_steps(out, kit, following, &progress.record(following))?;
    Ok(true)
}

/// What `grader hint` shows: the next hint, a given one (a failure names it: `grader hint 01 3`), or all.
pub enum Which {
    Next,
    Number(usize),
    All,
}

/// `grader hint`: the next hint (remembered), hint N, or all of them.
pub fn hint(out: &mut dyn Write, kit: &Kit, lesson: &Lesson, which: Which) -> Result<()> {
    let mut progress = Progress::load(kit);
    let total = lesson.hints.len();
    if total == 0 {
        writeln!(
            out,
            "Lesson {} has no hints. Its README explains what each check proves.",
            lesson.dir_name()
        )?;
        return Ok(());
    }
    if let Which::Number(n) = which {
        if n == 0 || n > total {
            anyhow::bail!(
                "lesson {:02} has {total} hint{}: ask for one of 1 to {total} (`grader hint {:02} {total}`)",
                lesson.number,
                if total == 1 { "" } else { "s" },
                lesson.number
            );
        }
        progress.hint_shown(lesson, n);
        progress.save(kit);
        print_hint(out, lesson, n)?;
        if n < total {
            writeln!(
                out,
                "\n{DIM}The next one: `grader hint {:02} {}`. All of them: `grader hint {:02} --all`.{DIM:#}",
                lesson.number,
                n + 1,
                lesson.number
            )?;
        }
        return Ok(());
    }
    if let Which::All = which {
        writeln!(
            out,
            "Hints for lesson {} · {}",
            lesson.dir_name(),
            lesson.title
        )?;
        for (i, hint) in lesson.hints.iter().enumerate() {
            writeln!(out, "\n{}. {hint}", i + 1)?;
        }
        progress.all_hints_shown(lesson);
        progress.save(kit);
        return Ok(());
    }
    let already = progress.record(lesson).hints_shown;
    let n = progress.next_hint(lesson).unwrap_or(1);
    progress.save(kit);
    print_hint(out, lesson, n)?;
    if already >= total {
        writeln!(
            out,
            "\n{DIM}That was the last hint. `grader hint {:02} --all` shows them all.{DIM:#}",
            lesson.number
        )?;
    } else if n < total {
        writeln!(
            out,
            "\n{DIM}Still stuck? `grader hint {:02}` again shows hint {}. All of them at once: `grader hint {:02} --all`.{DIM:#}",
            lesson.number,
            n + 1,
            lesson.number
        )?;
    } else {
        writeln!(
            out,
            "\n{DIM}That was the last hint. `grader hint {:02} --all` shows them all.{DIM:#}",
            lesson.number
        )?;
    }
    Ok(())
}

pub fn print_hint(out: &mut dyn Write, lesson: &Lesson, n: usize) -> Result<()> {
    writeln!(
        out,
        "{BOLD}Hint {n} of {} · lesson {:02} · {}{BOLD:#}\n",
        lesson.hints.len(),
        lesson.number,
        lesson.title
    )?;
    for line in wrap(&lesson.hints[n - 1], 88) {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// Greedy word wrap.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + word.chars().count() + 1 > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `grader reset LESSON`.
pub fn reset(out: &mut dyn Write, kit: &Kit, lesson: &Lesson) -> Result<()> {
    let done = crate::learner::starters::reset(kit, lesson)?;
    let dir = kit.display(&done.exercise);
    if done.backup.is_none() && done.removed.is_empty() && done.restored.is_empty() {
        writeln!(
            out,
            "{dir} is already exactly as shipped: nothing to reset."
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{OK}Lesson {:02} is back to its starter, exactly as shipped.{OK:#}",
        lesson.number
    )?;
    if let Some(backup) = &done.backup {
        let backup = kit.display(backup);
        writeln!(out, "Your version is saved in {backup}/")?;
        writeln!(out, "  {DIM}to get it back:{DIM:#} cp -r {backup}/. {dir}/")?;
    }
    if !done.restored.is_empty() {
        let names: Vec<String> = done
            .restored
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        writeln!(out, "  {DIM}restored:{DIM:#} {}", names.join(", "))?;
    }
    if !done.removed.is_empty() {
        let names: Vec<String> = done
            .removed
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        writeln!(
            out,
            "  {DIM}removed (kept in the backup):{DIM:#} {}",
            names.join(", ")
        )?;
    }
    Ok(())
}
