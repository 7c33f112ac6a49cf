//! A class graded in parts: `grader grade LESSON DIR --partition K/N` grades a stable 1/N of the
//! submissions (as cargo-nextest's `--partition hash:K/N`: by a hash of the submission's id, so a
//! submission stays in its part however many others join the class), and `grader merge OUT...
//! --out MERGED` combines the parts' outputs into what one run over the whole class writes.
//!
//! Each part's report.json holds every graded submission in full (and says which part it is), so
//! merging needs nothing else: the gradebook, junit.xml, feedback and summary are rendered again
//! from the submissions of every part together, sorted by id as one run sorts them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::class::gradebook;
use crate::class::graded::Graded;
use crate::kit::Kit;
use crate::report::Format;

/// Part `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl Partition {
    /// Parses `K/N` (1 <= K <= N); `hash:K/N` is accepted too, as nextest spells it.
    pub fn parse(arg: &str) -> std::result::Result<Partition, String> {
        let text = arg.trim();
        let text = text.strip_prefix("hash:").unwrap_or(text);
        let bad = || format!("`{arg}` is not a part K/N with 1 <= K <= N (e.g. 2/3)");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }

    /// Whether the submission `id` is in this part: the first 8 bytes of SHA-256(id), mod N.
    pub fn contains(&self, id: &str) -> bool {
        bucket(id, self.count) == self.index - 1
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Which of `count` parts `id` falls in (0-based).
fn bucket(id: &str, count: u32) -> u32 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count)) as u32
}

/// What merge reads of a part's report.json.
#[derive(Deserialize)]
struct Part {
    lesson: String,
    #[serde(default)]
    partition: Option<Partition>,
    summary: PartSummary,
    submissions: Vec<Graded>,
}

#[derive(Deserialize)]
struct PartSummary {
    /// Seconds the part took.
    wall: f64,
}

/// `grader merge OUT... --out MERGED`: the parts' outputs as one run would have written them.
/// Every part of the same N must be there, once; a part without a partition (a whole run) merges
/// only alone. Returns the merged submissions.
pub fn merge(
    kit: &Kit,
    parts: &[PathBuf],
    out_dir: &Path,
    formats: &[Format],
    out: &mut dyn Write,
) -> Result<Vec<Graded>> {
    let mut read = Vec::new();
    for dir in parts {
        let file = dir.join("report.json");
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "cannot read {}: merge needs each part's report.json (grade with json among --format)",
                file.display()
            )
        })?;
        let part: Part = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a `grader grade` report.json", file.display()))?;
        read.push((dir, part));
    }
    let Some((_, first)) = read.first() else {
        bail!("nothing to merge: name the output folders of every part");
    };
    let lesson = kit.curriculum.find(&first.lesson)?;
    if let Some((dir, part)) = read.iter().find(|(_, p)| p.lesson != first.lesson) {
        bail!(
            "{} is lesson {}, not {}: merge the parts of one class",
            dir.display(),
            part.lesson,
            first.lesson
        );
    }
    match first.partition {
        None if read.len() > 1 => bail!(
            "{} holds a whole class (no --partition): it merges with no other",
            read[0].0.display()
        ),
        None => {}
        Some(Partition { count, .. }) => {
            let mut seen = vec![None; count as usize];
            for (dir, part) in &read {
                let Some(p) = part.partition.filter(|p| p.count == count) else {
                    bail!(
                        "{} is not a part of {count}: merge the parts of one `--partition K/{count}` run",
                        dir.display()
                    );
                };
                if let Some(other) = seen[p.index as usize - 1].replace(dir) {
                    bail!("part {p} twice: {} and {}", other.display(), dir.display());
                }
            }
            let missing: Vec<String> = (1..=count)
                .filter(|k| seen[*k as usize - 1].is_none())
                .map(|k| format!("{k}/{count}"))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "part {} missing: merge every part of the class",
                    missing.join(", ")
                );
            }
        }
    }
    let wall = read.iter().map(|(_, p)| p.summary.wall).fold(0.0, f64::max);
    let mut graded: Vec<Graded> = read.into_iter().flat_map(|(_, p)| p.submissions).collect();
    graded.sort_by(|a, b| a.id.cmp(&b.id).then(a.source.cmp(&b.source)));
    if let Some(w) = graded.windows(2).find(|w| w[0].id == w[1].id) {
        bail!("submission {} is in two parts", w[0].id);
    }
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let summary = gradebook::Summary::of(&graded, Duration::from_secs_f64(wall.max(0.0)));
    let written = gradebook::write(out_dir, lesson, &graded, &summary, formats, None)?;
    summary.print(out, lesson, &graded)?;
    writeln!(out, "\nWritten to {}:", out_dir.display())?;
    for file in written {
        writeln!(out, "  {file}")?;
    }
    Ok(graded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!(
            Partition::parse("2/3"),
            Ok(Partition { index: 2, count: 3 })
        );
        assert_eq!(
            Partition::parse("hash:1/1"),
            Ok(Partition { index: 1, count: 1 })
        );
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/2", ""] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_id_is_in_exactly_one_part_and_stays_there() {
        let ids: Vec<String> = (0..300).map(|i| format!("student-{i}")).collect();
        for count in 1..=5 {
            let mut sizes = vec![0; count as usize];
            for id in &ids {
                let parts: Vec<u32> = (1..=count)
                    .filter(|&index| Partition { index, count }.contains(id))
                    .collect();
                assert_eq!(parts.len(), 1, "{id} in {parts:?} of {count}");
                sizes[parts[0] as usize - 1] += 1;
            }
            // Roughly even: no part more than twice its share.
            assert!(
                sizes.iter().all(|&s| s * count as usize <= 2 * ids.len()),
                "{sizes:?}"
            );
        }
        // Stable across machines and versions of the grader (SHA-256, not the std hasher): these
        // are SHA-256's first 8 bytes of each id, big-endian, mod 1000, computed elsewhere.
        let known: Vec<u32> = ["alice", "bob", "carol"]
            .iter()
            .map(|id| bucket(id, 1000))
            .collect();
        assert_eq!(known, [207, 650, 302]);
    }
}
