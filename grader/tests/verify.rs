//! `grader verify`: every lesson's solution passes, starter fails, and known-buggy variants are caught.

mod common;

use common::grader;
use predicates::prelude::*;

#[test]
fn verify_catches_every_known_buggy_variant_of_every_lesson() {
    let out = grader().arg("verify").output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify missed something:\n{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("all") && table.contains("expectations hold"),
        "{table}"
    );
    assert!(!table.contains("MISS"), "{table}");
    // Every variant file on disk appears in the table.
    for lesson in std::fs::read_dir(common::kit_root().join("grader/lessons"))
        .unwrap()
        .flatten()
    {
        for variant in std::fs::read_dir(lesson.path().join("variants"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let stem = variant
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                table.contains(&format!("variant {stem}")),
                "variant {stem} missing from:\n{table}"
            );
        }
    }
}

#[test]
fn verify_fails_when_a_variant_is_not_caught_or_the_starter_is_not_the_one_shipped() {
    // A kit copy whose lesson 01 has a "buggy" variant that is in fact correct, and whose starter
    // was edited without recording it: verify must say MISS for both.
    let kit = tempfile::tempdir().unwrap();
    let root = common::kit_root();
    let copy = |rel: &str| {
        let (from, to) = (root.join(rel), kit.path().join(rel));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    for rel in [
        "Cargo.lock",
        "solutions/01-race-fix/Cargo.toml",
        "solutions/01-race-fix/src/lib.rs",
        "solutions/01-race-fix/src/sync.rs",
        "exercises/01-race-fix/Cargo.toml",
        "exercises/01-race-fix/README.md",
        "exercises/01-race-fix/src/lib.rs",
        "exercises/01-race-fix/src/sync.rs",
        "grader/lessons/01-race-fix/checks.rs",
        "grader/lessons/01-race-fix/starter.sha256",
        "grader/shim/sync.rs",
        "grader/shim/learners.rs",
    ] {
        copy(rel);
    }
    // The harness crate the generated checks link against.
    copy("grader/harness/Cargo.toml");
    for entry in std::fs::read_dir(root.join("grader/harness/src"))
        .unwrap()
        .flatten()
    {
        copy(&format!(
            "grader/harness/src/{}",
            entry.file_name().to_string_lossy()
        ));
    }
    // The scoped threads of the shim's loom side, which every lesson's loom build links.
    copy("grader/loom-scope/Cargo.toml");
    copy("grader/loom-scope/src/lib.rs");
    let curriculum = std::fs::read_to_string(root.join("curriculum.toml")).unwrap();
    let first_lesson_only = curriculum
        .split("\n[[lesson]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n[[lesson]]");
    std::fs::write(kit.path().join("curriculum.toml"), first_lesson_only).unwrap();
    // A "buggy" variant that only adds a comment, one whose hunk no longer applies, and an
    // alternative design (the same comment) that must pass every check.
    let lesson = kit.path().join("grader/lessons/01-race-fix");
    std::fs::create_dir_all(lesson.join("variants")).unwrap();
    std::fs::create_dir_all(lesson.join("alternatives")).unwrap();
    let solution = std::fs::read_to_string(root.join("solutions/01-race-fix/src/lib.rs")).unwrap();
    let first = solution.lines().next().unwrap();
    let comment =
        format!("--- a/lib.rs\n+++ b/lib.rs\n@@ -1 +1,2 @@\n+// not really buggy\n {first}\n");
    std::fs::write(
        lesson.join("variants/not_really_buggy.patch"),
        format!("bug: none at all\ncaught-by: counter_two_increments\n\n{comment}"),
    )
    .unwrap();
    std::fs::write(
        lesson.join("variants/stale.patch"),
        "bug: a patch of a solution that has changed since\ncaught-by: counter_two_increments\n\n--- a/lib.rs\n+++ b/lib.rs\n@@ -1,2 +1,2 @@\n a line the solution no longer has\n-nor this one\n+a change\n",
    )
    .unwrap();
    std::fs::write(
        lesson.join("alternatives/commented.patch"),
        format!("alternative: the solution, with a comment\n\n{comment}"),
    )
    .unwrap();

    // `--new-variant` turns an edited copy of the solution into a patch, and never overwrites.
    let edited = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(edited.path().join("src")).unwrap();
    std::fs::write(
        edited.path().join("src/lib.rs"),
        solution.replace("fetch_add(1,", "fetch_add(2,"),
    )
    .unwrap();
    let new_variant = || {
        grader()
            .args(["--kit"])
            .arg(kit.path())
            .args(["verify", "--new-variant", "01", "adds_two", "--from"])
            .arg(edited.path())
            .assert()
    };
    new_variant().success().stdout(predicate::str::contains(
        "wrote grader/lessons/01-race-fix/variants/adds_two.patch",
    ));
    let made = std::fs::read_to_string(lesson.join("variants/adds_two.patch")).unwrap();
    assert!(made.starts_with("bug: TODO"), "{made}");
    assert!(made.contains("\n--- a/lib.rs\n+++ b/lib.rs\n"), "{made}");
    assert!(
        made.contains("\n+        self.value.fetch_add(2,"),
        "{made}"
    );
    new_variant()
        .code(2)
        .stderr(predicate::str::contains("exists already"));

    grader()
        .env("GRADER_CACHE_DIR", root.join("target/grader"))
        .args(["--kit"])
        .arg(kit.path())
        .args(["verify", "01"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("MISS"))
        .stdout(predicate::str::contains("not_really_buggy"))
        .stdout(predicate::str::contains("none at all"))
        // The diff of the variant that was not caught, under its row.
        .stdout(predicate::str::contains("    | +// not really buggy"))
        // The hunk that no longer applies, and the lines it expected.
        .stdout(predicate::str::is_match(r"variant stale .* MISS the patch does not apply to the solution: lib.rs: hunk @@ -1,2 \+1,2 @@ no longer applies").unwrap())
        .stdout(predicate::str::contains("    |  a line the solution no longer has"))
        .stdout(predicate::str::is_match(r"variant adds_two .* MISS .*still holds the template").unwrap())
        .stdout(predicate::str::is_match(r"alternative commented +passes every check +.*ok +18/18 points").unwrap())
        .stdout(predicate::str::is_match(r"starter starter\.sha256 .* ok ").unwrap());

    let starter = kit.path().join("exercises/01-race-fix/src/lib.rs");
    let edited = std::fs::read_to_string(&starter).unwrap() + "// a change the author forgot\n";
    std::fs::write(&starter, edited).unwrap();
    let verify = |extra: &[&str]| {
        grader()
            .env("GRADER_CACHE_DIR", root.join("target/grader"))
            .args(["--kit"])
            .arg(kit.path())
            .args(["verify", "01"])
            .args(extra)
            .assert()
            .code(1)
    };
    let out = verify(&[]).get_output().stdout.clone();
    let table = String::from_utf8_lossy(&out);
    let row = table
        .lines()
        .find(|l| l.contains("starter starter.sha256"))
        .unwrap_or_else(|| panic!("no starter lock row:\n{table}"));
    assert!(row.contains("MISS"), "{row}");
    assert!(row.contains("src/lib.rs was changed"), "{row}");
    assert!(row.contains("grader verify 01 --bless-starter"), "{row}");

    // Blessing records the edited starter: the row holds again (the variant still misses).
    let out = verify(&["--bless-starter"]).get_output().stdout.clone();
    let table = String::from_utf8_lossy(&out);
    assert!(
        table.contains("wrote grader/lessons/01-race-fix/starter.sha256"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains("starter starter.sha256"))
        .unwrap();
    assert!(!row.contains("MISS"), "{row}");
}
