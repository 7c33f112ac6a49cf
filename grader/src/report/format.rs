//! The formats a report is rendered in: one enum for `grader check --format` and `grader grade
//! --format`, each command accepting the ones that make sense for it.

use super::words::words;

words! {
    /// A way to render reports. `grader check` takes one of [`Format::CHECK`]; `grader grade` any
    /// of [`Format::GRADE`] (it writes one file, or a folder of them, per format).
    pub enum Format {
        /// Text for people, grouped by kind, each failure explained (the terminal).
        Human => "human",
        /// The report as JSON (grader/schema/report.schema.json); `grade`: report.json.
        Json => "json",
        /// Feedback to send a learner; `grade`: feedback/ID.md, one per submission.
        Markdown => "markdown",
        /// JUnit XML, one testcase per check; `grade`: junit.xml, one testsuite per submission.
        Junit => "junit",
        /// `grade`: gradebook.csv, one row per submission.
        Csv => "csv",
        /// Gradescope's results.json.
        Gradescope => "gradescope",
        /// `grade`: report.html, one self-contained page for the instructor.
        Html => "html",
    }
}

impl Format {
    /// What `grader check --format` accepts.
    pub const CHECK: &'static [Format] = &[
        Format::Human,
        Format::Json,
        Format::Markdown,
        Format::Junit,
        Format::Gradescope,
    ];
    /// What `grader grade --format` accepts, in the order it writes them.
    pub const GRADE: &'static [Format] = &[
        Format::Csv,
        Format::Json,
        Format::Junit,
        Format::Markdown,
        Format::Html,
    ];

    /// A clap parser for the formats of one command (`md` is Markdown's alias).
    pub fn parser(
        accepted: &'static [Format],
    ) -> impl clap::builder::TypedValueParser<Value = Format> {
        use clap::builder::TypedValueParser as _;
        let mut names: Vec<clap::builder::PossibleValue> = accepted
            .iter()
            .map(|f| clap::builder::PossibleValue::new(f.as_str()))
            .collect();
        for name in &mut names {
            if name.get_name() == Format::Markdown.as_str() {
                *name = name.clone().alias("md");
            }
        }
        clap::builder::PossibleValuesParser::new(names).map(|name: String| {
            Format::from_word(&name)
                .or((name == "md").then_some(Format::Markdown))
                .expect("clap accepts only the formats' names")
        })
    }
}
