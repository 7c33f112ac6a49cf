//! The JSON Schema of `grader check --format json`, generated from the report's types with
//! schemars and committed as grader/schema/report.schema.json. `schema_is_up_to_date` fails when
//! the committed file differs from what the types say; `UPDATE_SCHEMA=1 cargo test -p grader --lib
//! schema` rewrites it.

use std::path::PathBuf;

use schemars::JsonSchema;

use super::{fixtures, json, Report};

/// How [`grader_harness::protocol::Kind`] reads in JSON (the harness crate carries no schemars).
#[derive(JsonSchema)]
#[schemars(rename = "Kind")]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum KindSchema {
    Lint,
    Unit,
    Stress,
    Timing,
    Model,
}

/// How [`grader_harness::protocol::Finding`] reads in JSON.
#[derive(JsonSchema)]
#[schemars(rename = "Finding", deny_unknown_fields)]
#[allow(dead_code)]
pub struct FindingSchema {
    /// The property of the code that the check tests.
    property: String,
    /// What the check saw instead.
    observed: String,
    /// Why that happens.
    #[serde(default)]
    why: Option<String>,
    /// What to try.
    #[serde(default, rename = "try")]
    fix: Option<String>,
    /// The lesson hint (1-based) that helps with this failure.
    #[serde(default)]
    hint: Option<u32>,
    /// Raw text kept under the explanation (a loom message, a panic payload).
    #[serde(default)]
    detail: Option<String>,
    /// A failing model check's interleaving (see the harness's `trace.rs`).
    #[serde(default)]
    trace: Option<TraceSchema>,
    /// What each thread was blocked on when the check ended (a deadlock, a hang).
    #[serde(default)]
    blocked: Option<Vec<BlockedSchema>>,
}

/// How [`grader_harness::trace::Trace`] reads in JSON.
#[derive(JsonSchema)]
#[schemars(rename = "Trace", deny_unknown_fields)]
#[allow(dead_code)]
pub struct TraceSchema {
    /// The iteration of the exploration that failed (1-based).
    iteration: u64,
    /// What each thread did, in order (capped: the first steps and the last).
    steps: Vec<StepSchema>,
    /// Steps left out in the middle of a long trace.
    #[serde(default)]
    omitted: Option<u64>,
    /// What each thread was blocked in when the check stopped (a deadlock: every thread).
    #[serde(default)]
    blocked: Option<Vec<StepSchema>>,
    /// The threads with a name (the function of the lesson code they ran).
    #[serde(default)]
    threads: Option<Vec<ThreadSchema>>,
    /// The primitives the steps name, with the name the lesson code gave them.
    #[serde(default)]
    objects: Option<Vec<ObjectSchema>>,
}

/// One step of a trace.
#[derive(JsonSchema)]
#[schemars(rename = "TraceStep", deny_unknown_fields)]
#[allow(dead_code)]
pub struct StepSchema {
    /// loom's thread number (0: the check's own thread).
    thread: u64,
    /// `load`, `store`, `fetch_add`, `lock`, `unlock`, `wait`, `woken`, `notify_one`, `spawn`, `join`, ...
    op: String,
    /// The object's name.
    #[serde(default)]
    object: Option<String>,
    /// What was read or written (`0`, `0 -> 1`), or what happened (`nobody was waiting`).
    #[serde(default)]
    value: Option<String>,
    /// The file, as the learner names it (`src/lib.rs`, `checks.rs`).
    file: String,
    line: u32,
    /// The source line.
    #[serde(default)]
    code: Option<String>,
}

/// A thread of a trace.
#[derive(JsonSchema)]
#[schemars(rename = "TraceThread", deny_unknown_fields)]
#[allow(dead_code)]
pub struct ThreadSchema {
    id: u64,
    #[serde(default)]
    name: Option<String>,
}

/// An object of a trace.
#[derive(JsonSchema)]
#[schemars(rename = "TraceObject", deny_unknown_fields)]
#[allow(dead_code)]
pub struct ObjectSchema {
    /// The shim's label: its type and a number (`AtomicU64#0`).
    label: String,
    #[serde(default)]
    name: Option<String>,
    file: String,
    line: u32,
}

/// How [`grader_harness::protocol::Blocked`] reads in JSON: one thread blocked in the shim.
#[derive(JsonSchema)]
#[schemars(rename = "Blocked", deny_unknown_fields)]
#[allow(dead_code)]
pub struct BlockedSchema {
    /// The thread's name, or `thread #N`.
    thread: String,
    /// The call it is blocked in (`Condvar::wait`, `Mutex::lock`, `JoinHandle::join`,
    /// `Sender::send`, `Receiver::recv`); empty for the check's thread waiting for the others.
    call: String,
    /// Where that call is: `src/lib.rs:61`.
    #[serde(default)]
    at: Option<String>,
    /// The object, as named where it is used (`not_empty`).
    #[serde(default)]
    on: Option<String>,
    /// Who holds the lock, which thread a join waits for.
    #[serde(default)]
    note: Option<String>,
}

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json")
}

fn generated() -> String {
    let schema = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

#[test]
fn schema_is_up_to_date() {
    let path = schema_path();
    let generated = generated();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the report's types: run `UPDATE_SCHEMA=1 cargo test -p grader --lib schema` and commit it",
        path.display()
    );
}

#[test]
fn every_fixture_validates_against_the_committed_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (name, report) in fixtures::all() {
        let doc: serde_json::Value = serde_json::from_str(&json::report(&report)).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(doc["format_version"], 1);
    }
    // The schema is strict where it can be: a finding with a field it doesn't know is refused.
    let mut doc: serde_json::Value =
        serde_json::from_str(&json::report(&fixtures::failure())).unwrap();
    doc["checks"][3]["finding"]["severity"] = "high".into();
    assert!(!validator.is_valid(&doc));
}

#[test]
fn a_report_reads_back_as_it_was_written() {
    for (name, report) in fixtures::all() {
        let text = json::report(&report);
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(json::report(&back), text, "{name}");
    }
}
