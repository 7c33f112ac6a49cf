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
    let curriculum = std::fs::read_to_string(root.join("curriculum.toml")).unwrap();
    let first_lesson_only = curriculum
        .split("\n[[lesson]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n[[lesson]]");
    std::fs::write(kit.path().join("curriculum.toml"), first_lesson_only).unwrap();
    let variant = kit
        .path()
        .join("grader/lessons/01-race-fix/variants/not_really_buggy.rs");
    std::fs::create_dir_all(variant.parent().unwrap()).unwrap();
    let solution = std::fs::read_to_string(root.join("solutions/01-race-fix/src/lib.rs")).unwrap();
    std::fs::write(
        &variant,
        format!("//! bug: none at all\n//! caught-by: counter_two_increments\n{solution}"),
    )
    .unwrap();

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
