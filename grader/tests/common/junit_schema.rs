//! What the Jenkins xunit plugin's `junit-10.xsd` accepts, restated as rules and checked with
//! roxmltree: the schema Jenkins (and the dashboards that follow it) validate JUnit reports against.
//! The schema itself is not copied into the kit; these rules follow it element by element:
//!
//! - `testsuites`: attributes name, time, tests, failures, errors; children: `testsuite` only.
//! - `testsuite`: name, tests, failures and errors required; group, time, skipped, timestamp,
//!   hostname, id, package, file, log, url allowed; children in any order: `testsuite`,
//!   `properties`, `testcase`, `system-out`, `system-err`.
//! - `properties`: `property` children only, each with exactly `name` and `value`.
//! - `testcase`: name required; time, classname, group allowed; children in any order:
//!   `skipped`, `error`, `failure`, `rerunFailure`, `rerunError`, `flakyFailure`, `flakyError`,
//!   `system-out`, `system-err`.
//! - `failure`, `error`, `skipped`: attributes type and message; text only.
//! - `system-out`, `system-err`: text only, no attributes.
//! - `time` (of a suite or suites) is a Surefire time: digits, optional comma groups, an optional
//!   fraction.
//!
//! Included with `#[path]` by the lib's JUnit tests and by the end-to-end tests.

/// Every way `xml` breaks the rules above; empty when it is valid.
pub fn junit_violations(xml: &str) -> Vec<String> {
    let doc = match roxmltree::Document::parse(xml) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("not well-formed XML: {e}")],
    };
    let mut found = Vec::new();
    let root = doc.root_element();
    match root.tag_name().name() {
        "testsuites" | "testsuite" => element(root, &mut found),
        other => found.push(format!("the root element is <{other}>, not <testsuites>")),
    }
    found
}

/// Panics with every violation when `xml` is not valid JUnit.
pub fn assert_valid_junit(xml: &str) {
    let found = junit_violations(xml);
    assert!(
        found.is_empty(),
        "invalid against junit-10.xsd's rules:\n  {}\n{xml}",
        found.join("\n  ")
    );
}

struct Rule {
    required: &'static [&'static str],
    allowed: &'static [&'static str],
    children: &'static [&'static str],
    /// Text content allowed (mixed or simple content).
    text: bool,
}

fn rule(name: &str) -> Option<Rule> {
    let r = |required, allowed, children, text| {
        Some(Rule {
            required,
            allowed,
            children,
            text,
        })
    };
    match name {
        "testsuites" => r(
            &[],
            &["name", "time", "tests", "failures", "errors"],
            &["testsuite"],
            false,
        ),
        "testsuite" => r(
            &["name", "tests", "failures", "errors"],
            &[
                "group",
                "time",
                "skipped",
                "timestamp",
                "hostname",
                "id",
                "package",
                "file",
                "log",
                "url",
            ],
            &[
                "testsuite",
                "properties",
                "testcase",
                "system-out",
                "system-err",
            ],
            false,
        ),
        "properties" => r(&[], &[], &["property"], false),
        "property" => r(&["name", "value"], &[], &[], false),
        "testcase" => r(
            &["name"],
            &["time", "classname", "group"],
            &[
                "skipped",
                "error",
                "failure",
                "rerunFailure",
                "rerunError",
                "flakyFailure",
                "flakyError",
                "system-out",
                "system-err",
            ],
            false,
        ),
        "failure" | "error" | "skipped" => r(&[], &["type", "message"], &[], true),
        "system-out" | "system-err" => r(&[], &[], &[], true),
        _ => None,
    }
}

fn element(node: roxmltree::Node, found: &mut Vec<String>) {
    let name = node.tag_name().name();
    let Some(rule) = rule(name) else {
        found.push(format!("<{name}> is not a JUnit element"));
        return;
    };
    for required in rule.required {
        if node.attribute(*required).is_none() {
            found.push(format!(
                "<{name}> lacks the required attribute `{required}`"
            ));
        }
    }
    for attribute in node.attributes() {
        let a = attribute.name();
        if !rule.required.contains(&a) && !rule.allowed.contains(&a) {
            found.push(format!("<{name}> may not have the attribute `{a}`"));
        }
    }
    if matches!(name, "testsuite" | "testsuites") {
        if let Some(time) = node.attribute("time") {
            if !surefire_time(time) {
                found.push(format!("<{name} time={time:?}> is not a Surefire time"));
            }
        }
    }
    for child in node.children() {
        if child.is_element() {
            let c = child.tag_name().name();
            if rule.children.contains(&c) {
                element(child, found);
            } else {
                found.push(format!("<{c}> may not appear inside <{name}>"));
            }
        } else if child.is_text() && !rule.text && !child.text().unwrap_or("").trim().is_empty() {
            found.push(format!("<{name}> may not hold text"));
        }
    }
}

/// `1`, `1.25`, `1,234.5`, `.5`: what the schema's SUREFIRE_TIME pattern accepts.
fn surefire_time(time: &str) -> bool {
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    whole.chars().all(|c| c.is_ascii_digit() || c == ',')
        && fraction.chars().all(|c| c.is_ascii_digit())
}

#[test]
fn the_rules_reject_what_the_schema_rejects() {
    let ok = r#"<testsuites name="x" tests="1" failures="0" errors="0" time="1.5"><testsuite name="s" tests="1" failures="0" errors="0"><properties><property name="score" value="1"/></properties><testcase name="c" classname="k" time="0.1"><failure message="m" type="t">why</failure><system-out>out</system-out></testcase></testsuite></testsuites>"#;
    assert!(
        junit_violations(ok).is_empty(),
        "{:?}",
        junit_violations(ok)
    );
    // What issue 22 found in the old output: properties in a testcase, timestamp and skipped on
    // testsuites.
    let bad = r#"<testsuites timestamp="t" skipped="0"><testsuite name="s" tests="1" errors="0"><testcase name="c"><properties><property name="p" value="1"/></properties></testcase></testsuite></testsuites>"#;
    let found = junit_violations(bad);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().any(|f| f.contains("`timestamp`")));
    assert!(found.iter().any(|f| f.contains("`failures`")));
    assert!(found
        .iter()
        .any(|f| f.contains("<properties> may not appear inside <testcase>")));
    assert!(!surefire_time("1s"));
}
