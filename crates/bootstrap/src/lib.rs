//! The `llmobs bootstrap` generator: writes one ready-to-run Python experiment (a `.py`
//! script or an nbformat 4.5 notebook) that uses only the public `ddtrace.llmobs` SDK.
//!
//! `spec/bootstrap.md` is the contract. The pipeline has three pure steps and two that
//! touch the outside world:
//!
//! 1. [`Plan::build`] validates the [`Options`], resolves the project name from the
//!    working directory and reads the dataset (JSON records are shape-checked, their
//!    tags normalised and their strings scrubbed of PII; a CSV is classified).
//! 2. [`render`] turns the plan into the file text ([`Rendered`]) and runs the
//!    self-checks: the forbidden-pattern scan of the code view and the structural
//!    assertions. Every piece of user text reaches the output through [`py_str`] or
//!    [`py_lit`], the one escaping path.
//! 3. [`syntax_check`] compiles the text in memory with a Python interpreter, if one is
//!    available.
//! 4. [`write_output`] writes the file atomically, refusing to replace one without
//!    `force`.
//! 5. [`summary`] words the report printed on success.
//!
//! [`generate`] runs all five.
//!
//! ```
//! use llmobs_bootstrap::{Options, Plan, render};
//!
//! let cwd = std::env::temp_dir().join("acme-bot");
//! let options = Options { project_name: Some("experiment-acme-bot".into()), ..Options::default() };
//! let rendered = render(&Plan::build(&options, &cwd)?)?;
//! assert!(rendered.text.contains("PROJECT_NAME = \"experiment-acme-bot\""));
//! assert_eq!(rendered.evaluator_count, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod csv;
mod dataset;
mod error;
mod json;
mod literal;
mod notebook;
mod output;
mod pii;
mod plan;
mod project;
mod render;
mod scan;
mod summary;
mod syntax;
mod tags;

use std::path::Path;

pub use crate::csv::CsvDataset;
pub use crate::dataset::{
    Dataset, JsonRecords, LARGE_INLINE_BYTES, Record, RecordProblem, RecordsError, SAMPLE_NAME,
    parse_records, sample_records,
};
pub use crate::error::Error;
pub use crate::json::{Json, JsonError, MAX_DEPTH, MAX_INT_DIGITS};
pub use crate::literal::{py_float, py_lit, py_str};
pub use crate::output::write_output;
pub use crate::pii::{PiiCounts, PiiKind, scrub};
pub use crate::plan::{
    DEFAULT_JOBS, EvaluatorStyle, Format, MAX_DATASET_VERSION, MAX_JOBS, Options, OutputPath, Plan,
    TestHook, check_language, check_name, check_output, parse_dataset_version, parse_jobs,
};
pub use crate::project::{
    FALLBACK_PROJECT, ProjectSource, experiment_name_from_slug, resolve_project_name, slug,
};
pub use crate::render::{References, Rendered, SECTION_TITLES, render};
pub use crate::scan::first_forbidden;
pub use crate::summary::{shell_quote, summary};
pub use crate::syntax::{CHECKER, DEFAULT_INTERPRETERS, SyntaxCheck, syntax_check};
pub use crate::tags::{TagsError, normalise_tags};

/// Settings of one generation beyond the command-line options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Replace an existing output file (`--force`).
    pub force: bool,
    /// Interpreters tried, in order, for the syntax check.
    pub interpreters: Vec<String>,
    /// The `DD_LLMOBS_OVERRIDE_ORIGIN` in force while generating: a local server the
    /// summary's environment lines and "watch" line then point at.
    pub origin: Option<String>,
    /// A fault to inject, for the tests of the self-checks only.
    #[doc(hidden)]
    pub test_hook: Option<TestHook>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            force: false,
            interpreters: DEFAULT_INTERPRETERS.iter().map(|s| s.to_string()).collect(),
            origin: None,
            test_hook: None,
        }
    }
}

/// `DD_LLMOBS_OVERRIDE_ORIGIN` as the summary shows it: trimmed, without a trailing `/`;
/// `None` when empty or when it holds control characters (it is printed verbatim).
fn clean_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/');
    (!origin.is_empty() && !origin.chars().any(char::is_control)).then(|| origin.to_owned())
}

/// What a successful generation produced.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The validated plan.
    pub plan: Plan,
    /// The file as written.
    pub rendered: Rendered,
    /// The syntax-check outcome (never [`SyntaxCheck::Fail`] here).
    pub syntax: SyntaxCheck,
    /// The summary to print on stdout.
    pub summary: String,
}

/// Runs the whole pipeline of spec §3 in `cwd`: plan, render and self-check, syntax
/// check, write, summary. On any error nothing is written.
///
/// A failed syntax check is [`Error::SyntaxCheck`]; its message is the interpreter's last
/// stderr line.
pub fn generate(options: &Options, cwd: &Path, settings: &Settings) -> Result<Generated, Error> {
    let mut plan = Plan::build(options, cwd)?;
    plan.test_hook = settings.test_hook;
    plan.origin = settings.origin.as_deref().and_then(clean_origin);
    let rendered = render(&plan)?;
    let syntax =
        syntax_check(&rendered.text, plan.format, &plan.output.display, &settings.interpreters);
    if let SyntaxCheck::Fail(detail) = syntax {
        return Err(Error::SyntaxCheck(detail));
    }
    write_output(&plan.output.path, &rendered.text, settings.force)
        .map_err(|e| e.relative_to(cwd))?;
    let summary = summary(&plan, &rendered, &syntax);
    Ok(Generated { plan, rendered, syntax, summary })
}
