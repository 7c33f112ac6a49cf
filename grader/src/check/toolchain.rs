//! A Rust toolchain too old for the kit, told plainly: which version is needed, which one is
//! active, and how to get a newer one, instead of cargo's error deep in a harness build.
//!
//! Cargo says it in one of two ways, both read here: a package's own `rust-version` ("package
//! `grader-harness v0.1.0 (...)` cannot be built because it requires rustc 1.95 or newer, while
//! the currently active rustc version is 1.90.0"), or a dependency's ("rustc 1.80.0 is not
//! supported by the following package: loom@0.7.2 requires rustc 1.81"). An older cargo that
//! cannot even read a manifest of edition 2024 says "feature `edition2024` is required".

/// What cargo said about the toolchain.
#[derive(Debug, PartialEq, Eq)]
pub struct TooOld {
    /// The oldest rustc that builds it (`1.95`); empty when cargo did not say.
    pub needed: String,
    /// The active rustc (`1.90.0`), when cargo said.
    pub active: Option<String>,
    /// Who needs it (`grader-harness`, `loom@0.7.2`), when cargo said.
    pub by: Option<String>,
}

/// The toolchain complaint in cargo's error output, if there is one.
pub fn too_old(stderr: &str) -> Option<TooOld> {
    for line in stderr.lines() {
        let line = line.trim();
        if let Some((head, tail)) = line.split_once(" cannot be built because it requires rustc ") {
            let needed = tail.split_whitespace().next().unwrap_or_default();
            let active = tail
                .split_once("currently active rustc version is ")
                .map(|(_, v)| v.trim().trim_end_matches('.').to_string());
            let by = head
                .split('`')
                .nth(1)
                .and_then(|p| p.split_whitespace().next())
                .map(str::to_string);
            return Some(TooOld {
                needed: needed.to_string(),
                active,
                by,
            });
        }
        if let Some(rest) = line
            .strip_prefix("error: rustc ")
            .filter(|r| r.contains(" is not supported by the following package"))
        {
            let active = rest.split_whitespace().next().map(str::to_string);
            // The packages follow, one a line: "loom@0.7.2 requires rustc 1.81". The newest wins.
            let mut needed: Option<(Vec<u32>, String, String)> = None;
            for dep in stderr
                .lines()
                .filter_map(|l| l.trim().split_once(" requires rustc "))
            {
                let version = dep.1.split_whitespace().next().unwrap_or_default();
                let key: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
                if needed.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    needed = Some((key, version.to_string(), dep.0.to_string()));
                }
            }
            let (needed, by) = needed.map(|(_, v, by)| (v, Some(by))).unwrap_or_default();
            return Some(TooOld { needed, active, by });
        }
        if line.contains("feature `edition2024` is required") {
            return Some(TooOld {
                needed: "1.85".into(),
                active: None,
                by: None,
            });
        }
    }
    None
}

impl TooOld {
    /// For the learner: what is needed, what they have, and the command that fixes it.
    /// `kit_needs` is the kit's own `rust-version` (Cargo.toml), named when cargo named less.
    pub fn message(&self, kit_needs: Option<&str>) -> String {
        let needed = match (self.needed.as_str(), kit_needs) {
            ("", Some(kit)) => kit.to_string(),
            ("", None) => "a newer one".to_string(),
            (needed, _) => needed.to_string(),
        };
        let active = self
            .active
            .as_ref()
            .map(|a| format!(" (this one is {a})"))
            .unwrap_or_default();
        let by = self
            .by
            .as_ref()
            .map(|b| format!(", which {b} needs"))
            .unwrap_or_default();
        let kit = match kit_needs {
            Some(kit) if kit != needed => format!(" The kit as a whole needs {kit} or newer."),
            _ => String::new(),
        };
        format!(
            "your Rust toolchain is too old for the kit{active}: the checks need rustc {needed} or newer{by}.{kit} Update it with `rustup update stable` (or install Rust from https://rustup.rs), then check again; `rustc --version` in the kit's folder shows the one in use."
        )
    }
}

/// The kit's `rust-version`, from its workspace manifest.
pub fn kit_needs(kit_root: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(kit_root.join("Cargo.toml")).ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    doc.get("workspace")?
        .get("package")?
        .get("rust-version")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packages_own_rust_version() {
        let err = "error: package `grader-harness v0.1.0 (/kit/grader/harness)` cannot be built because it requires rustc 1.95 or newer, while the currently active rustc version is 1.90.0\nEither upgrade to rustc 1.95 or newer, or use\ncargo update grader-harness@0.1.0 --precise ver\n";
        let found = too_old(err).unwrap();
        assert_eq!(
            found,
            TooOld {
                needed: "1.95".into(),
                active: Some("1.90.0".into()),
                by: Some("grader-harness".into()),
            }
        );
        let text = found.message(Some("1.95"));
        assert!(text.contains("rustc 1.95 or newer"), "{text}");
        assert!(text.contains("this one is 1.90.0"), "{text}");
        assert!(text.contains("rustup update stable"), "{text}");
        assert!(!text.contains("as a whole"), "{text}");
    }

    #[test]
    fn the_newest_a_dependency_needs() {
        let err = "error: rustc 1.80.0 is not supported by the following packages:\n  loom@0.7.2 requires rustc 1.81\n  generator@0.8.12 requires rustc 1.95\nEither upgrade rustc or select compatible dependency versions with\n";
        let found = too_old(err).unwrap();
        assert_eq!(found.needed, "1.95");
        assert_eq!(found.by.as_deref(), Some("generator@0.8.12"));
        assert_eq!(found.active.as_deref(), Some("1.80.0"));
    }

    #[test]
    fn an_old_cargo_and_edition_2024_and_nothing_else() {
        let err = "error: failed to parse manifest at `/kit/Cargo.toml`\n\nCaused by:\n  feature `edition2024` is required\n";
        let text = too_old(err).unwrap().message(Some("1.95"));
        assert!(text.contains("rustc 1.85 or newer"), "{text}");
        assert!(text.contains("as a whole needs 1.95"), "{text}");
        assert_eq!(too_old("error[E0308]: mismatched types"), None);
    }
}
