//! CSV: `grader grade`'s gradebook.csv, one row per submission: id, score, max_score, status,
//! reason, seconds, then the points of each check (columns in curriculum order).

use crate::class::graded::Graded;
use crate::curriculum::PlannedCheck;

/// The gradebook of a class, one column per planned check.
pub fn gradebook(planned: &[PlannedCheck], graded: &[Graded]) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    // `sandbox`: the protections its checks ran under (see `Report::protections_cell`).
    let mut header: Vec<&str> = vec![
        "id",
        "score",
        "max_score",
        "status",
        "reason",
        "seconds",
        "sandbox",
    ];
    header.extend(planned.iter().map(|p| p.name.as_str()));
    w.write_record(&header).expect("writing to memory");
    for g in graded {
        let mut row = vec![
            g.id.clone(),
            g.score.to_string(),
            g.max_score.to_string(),
            g.status.to_string(),
            g.reason.clone(),
            format!("{:.1}", g.seconds),
            g.report.protections_cell(),
        ];
        for plan in planned {
            let points = g
                .report
                .checks
                .iter()
                .find(|c| c.name == plan.name)
                .map_or(0, |c| c.points);
            row.push(points.to_string());
        }
        w.write_record(&row).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of UTF-8 text")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(super::gradebook(&fixtures::planned(), &fixtures::graded()));
    }
}
