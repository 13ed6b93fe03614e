//! Rendering a [`Plan`] into the file text, and the self-checks run on it before anything
//! is written (spec §10, §11, §12, §3 step 6). No disk access here.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context, syntax::SyntaxConfig};

use crate::dataset::{Dataset, SAMPLE_NAME, index_list};
use crate::error::Error;
use crate::literal::py_str;
use crate::notebook;
use crate::plan::{EvaluatorStyle, Format, Plan, TestHook};
use crate::project::ProjectSource;
use crate::scan::{first_forbidden, forbidden_patterns};

/// The eight section titles, in order (spec §10.1).
pub const SECTION_TITLES: [&str; 8] = [
    "Env setup",
    "LLMObs.enable()",
    "Dataset",
    "Task function",
    "Evaluators",
    "Experiment",
    "Run",
    "Results inspection",
];

const TEMPLATES: [(&str, &str); 12] = [
    ("docstring", include_str!("../templates/docstring.py.j2")),
    ("s1", include_str!("../templates/s1_env.py.j2")),
    ("s2", include_str!("../templates/s2_enable.py.j2")),
    ("s3", include_str!("../templates/s3_dataset.py.j2")),
    ("s4", include_str!("../templates/s4_task.py.j2")),
    ("s5_function", include_str!("../templates/s5_function.py.j2")),
    ("s5_class", include_str!("../templates/s5_class.py.j2")),
    ("s5_remote", include_str!("../templates/s5_remote.py.j2")),
    ("s6", include_str!("../templates/s6_experiment.py.j2")),
    ("s7", include_str!("../templates/s7_run.py.j2")),
    ("s8", include_str!("../templates/s8_results.py.j2")),
    ("markdown", include_str!("../templates/markdown.md.j2")),
];

/// The template environment with every built-in template, built once. A failure is a
/// generator bug, reported as [`Error::Template`].
fn environment() -> Result<&'static Environment<'static>, Error> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build();
        env.set_syntax(syntax.map_err(|e| format!("the syntax config: {e:#}"))?);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("{name} does not compile: {e:#}"))?;
        }
        Ok(env)
    });
    env.as_ref().map_err(|message| Error::Template(message.clone()))
}

fn render_template(name: &str, ctx: Value) -> Result<String, Error> {
    let text = environment()?
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| Error::Template(format!("{name} failed to render: {e:#}")))?;
    Ok(text.trim_end_matches('\n').to_owned())
}

/// Where a user-derived literal came from, for the forbidden-data warning (spec §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Record(usize),
    ProjectName(ProjectSource),
    DatasetName,
    DatasetFileName,
    CsvPath,
    CsvHeader,
    Builtin,
}

impl Origin {
    fn describe(self) -> String {
        match self {
            Origin::Record(i) => format!("record {i}"),
            Origin::ProjectName(ProjectSource::Flag) => "--project-name".to_owned(),
            Origin::ProjectName(source) => format!("the project name from {}", source.describe()),
            Origin::DatasetName => "--dataset-name".to_owned(),
            Origin::DatasetFileName => "the dataset file name".to_owned(),
            Origin::CsvPath => "the CSV path".to_owned(),
            Origin::CsvHeader => "a CSV column name".to_owned(),
            Origin::Builtin => "the built-in sample".to_owned(),
        }
    }
}

const MARK_START: char = '\u{E000}';
const MARK_BODY: char = '\u{E001}';
const MARK_END: char = '\u{E002}';

/// Collects user-derived literals. Each is wrapped in private-use marks that `py_str`
/// output can never contain, so the real text, the code view and the literal spans can
/// all be recovered from one rendering.
#[derive(Default)]
struct Literals {
    origins: Vec<Origin>,
}

impl Literals {
    fn user(&mut self, literal: String, origin: Origin) -> String {
        debug_assert!(literal.is_ascii(), "user literals are ASCII by construction");
        self.origins.push(origin);
        format!("{MARK_START}{}{MARK_BODY}{literal}{MARK_END}", self.origins.len() - 1)
    }
}

/// One section after the marks are resolved.
struct Unmarked {
    /// The text as written to the file.
    real: String,
    /// The code view: every user literal replaced by `""`.
    masked: String,
    /// Byte ranges of user literals in `real`, with their origin index.
    spans: Vec<(Range<usize>, usize)>,
}

fn unmark(marked: &str) -> Unmarked {
    let mut out = Unmarked { real: String::new(), masked: String::new(), spans: Vec::new() };
    let mut rest = marked;
    while let Some(start) = rest.find(MARK_START) {
        out.real.push_str(&rest[..start]);
        out.masked.push_str(&rest[..start]);
        let after = &rest[start + MARK_START.len_utf8()..];
        let body = after.find(MARK_BODY).expect("marks are well formed");
        let origin: usize = after[..body].parse().expect("mark ids are numbers");
        let literal_and_rest = &after[body + MARK_BODY.len_utf8()..];
        let end = literal_and_rest.find(MARK_END).expect("marks are well formed");
        let literal = &literal_and_rest[..end];
        let at = out.real.len();
        out.real.push_str(literal);
        out.spans.push((at..at + literal.len(), origin));
        out.masked.push_str("\"\"");
        rest = &literal_and_rest[end + MARK_END.len_utf8()..];
    }
    out.real.push_str(rest);
    out.masked.push_str(rest);
    out
}

/// Line (for `.py`) or code-cell (for `.ipynb`) references for the summary (D26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct References {
    /// The `LLMObs.enable(` line.
    pub enable: usize,
    /// The dataset call line.
    pub dataset: usize,
    /// The `def task_fn(` line.
    pub task: usize,
    /// The `experiment.run(` line.
    pub run: usize,
}

/// The rendered file, with what the summary reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The exact file contents.
    pub text: String,
    /// The format of `text`.
    pub format: Format,
    /// The code view of spec §12.2 (user literals emptied), for `.py` the whole file and
    /// for `.ipynb` the code cells joined with a blank line.
    pub code_view: String,
    /// Number of `\n` in `text`.
    pub lines: usize,
    /// Number of notebook cells (16), or 0 for `.py`.
    pub cells: usize,
    /// 1-based line numbers (`.py`) or code-cell indices (`.ipynb`).
    pub references: References,
    /// `create_dataset`, `create_dataset_from_csv` or `pull_dataset`.
    pub dataset_call: &'static str,
    /// How many evaluators the file defines.
    pub evaluator_count: usize,
    /// Forbidden-looking user data found inside literals (spec §12.2), one per pattern.
    pub warnings: Vec<String>,
}

/// Renders the plan into the file text and runs the self-checks (spec §3 steps 5 and 6):
/// the forbidden-pattern scan of the code view, the raw-view attribution of hits to user
/// literals, and the structural assertions. A failed self-check is [`Error::SelfCheck`].
pub fn render(plan: &Plan) -> Result<Rendered, Error> {
    let mut literals = Literals::default();
    let mut marked = sections(plan, &mut literals)?;
    if plan.test_hook == Some(TestHook::InjectForbidden) {
        marked[6].insert_str(0, "import uuid\n\nrun_tag = uuid.uuid4().hex\n");
    }
    let mut sections: Vec<Unmarked> = marked.iter().map(|s| unmark(s)).collect();
    if plan.test_hook == Some(TestHook::CorruptSyntax) {
        sections[6].real = sections[6].real.replacen(')', "", 1);
    }
    let markdown: Vec<String> =
        (1..=8).map(|n| markdown_cell(plan, n)).collect::<Result<_, _>>()?;
    let docstring = render_template("docstring", context! {})?;

    // Code view: must be clean. Template text (docstring, markdown, comments) is scanned
    // too, because it must be clean in the raw view as well.
    let statics = std::iter::once(&docstring).chain(&markdown);
    for text in sections.iter().map(|s| &s.masked).chain(statics) {
        if let Some(pattern) = first_forbidden(text) {
            return Err(Error::SelfCheck(format!("forbidden pattern {pattern}")));
        }
    }
    let warnings = raw_view_warnings(&sections, &literals)?;

    let reals: Vec<&str> = sections.iter().map(|s| s.real.as_str()).collect();
    let masks: Vec<&str> = sections.iter().map(|s| s.masked.as_str()).collect();
    let masked_py = assemble_py(&docstring, &masks);
    structural_checks(plan, &masked_py)?;

    let dataset_call = match plan.dataset {
        Dataset::Sample(_) | Dataset::Json { .. } => "create_dataset",
        Dataset::Csv(_) => "create_dataset_from_csv",
        Dataset::Pull { .. } => "pull_dataset",
    };
    let (text, code_view, cells, references) = match plan.format {
        Format::Py => {
            let line_of = |needle: &str| {
                masked_py
                    .lines()
                    .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
                    .map_or(0, |i| i + 1)
            };
            let references = References {
                enable: line_of("LLMObs.enable("),
                dataset: line_of(&format!("LLMObs.{dataset_call}(")),
                task: line_of("def task_fn("),
                run: line_of("experiment.run("),
            };
            (assemble_py(&docstring, &reals), masked_py, 0, references)
        }
        Format::Ipynb => {
            let cells: Vec<(&str, &str)> =
                markdown.iter().map(String::as_str).zip(reals.iter().copied()).collect();
            let references = References { enable: 2, dataset: 3, task: 4, run: 7 };
            (notebook::write(&cells), masks.join("\n\n") + "\n", 16, references)
        }
    };
    Ok(Rendered {
        lines: text.matches('\n').count(),
        text,
        format: plan.format,
        code_view,
        cells,
        references,
        dataset_call,
        evaluator_count: plan.evaluator_count(),
        warnings,
    })
}

fn banner(number: usize, title: &str) -> String {
    let mut line = format!("# ─── {number}. {title} ");
    let width = line.chars().count();
    line.extend(std::iter::repeat_n('─', 80usize.saturating_sub(width)));
    line
}

fn assemble_py(docstring: &str, sections: &[&str]) -> String {
    let mut out = String::new();
    out.push_str(docstring);
    out.push('\n');
    for (i, code) in sections.iter().enumerate() {
        out.push('\n');
        out.push_str(&banner(i + 1, SECTION_TITLES[i]));
        out.push('\n');
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn dataset_kind(dataset: &Dataset) -> &'static str {
    match dataset {
        Dataset::Sample(_) => "sample",
        Dataset::Json { .. } => "json",
        Dataset::Csv(_) => "csv",
        Dataset::Pull { .. } => "pull",
    }
}

fn markdown_cell(plan: &Plan, number: usize) -> Result<String, Error> {
    render_template(
        "markdown",
        context! {
            number => number,
            title => SECTION_TITLES[number - 1],
            kind => dataset_kind(&plan.dataset),
            style => plan.style.as_str(),
        },
    )
}

fn list_literal(literals: &mut Literals, items: &[String], origin: Origin) -> String {
    let items: Vec<String> = items.iter().map(|s| literals.user(py_str(s), origin)).collect();
    format!("[{}]", items.join(", "))
}

/// The marked code of the eight sections.
fn sections(plan: &Plan, literals: &mut Literals) -> Result<Vec<String>, Error> {
    let project_name =
        literals.user(py_str(&plan.project_name), Origin::ProjectName(plan.project_source));
    let s2 = render_template("s2", context! { project_name })?;

    let kind = dataset_kind(&plan.dataset);
    let s3 = match &plan.dataset {
        Dataset::Sample(_) | Dataset::Json { .. } => {
            let (dataset_name, description, name_origin, record_origin): (
                _,
                _,
                _,
                fn(usize) -> Origin,
            ) = match &plan.dataset {
                Dataset::Json { name, .. } => (
                    name.as_str(),
                    "Dataset created by llmobs bootstrap from a JSON file.",
                    Origin::DatasetFileName,
                    Origin::Record,
                ),
                _ => (SAMPLE_NAME, "Dataset created by llmobs bootstrap.", Origin::Builtin, |_| {
                    Origin::Builtin
                }),
            };
            let records: Vec<Value> = plan
                .dataset
                .inline_records()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, record)| {
                    let fields: Vec<Value> = record
                        .fields()
                        .into_iter()
                        .map(|(key, literal)| {
                            Value::from(vec![
                                Value::from(key),
                                Value::from(literals.user(literal, record_origin(i))),
                            ])
                        })
                        .collect();
                    Value::from(fields)
                })
                .collect();
            render_template(
                "s3",
                context! {
                    kind,
                    dataset_name => literals.user(py_str(dataset_name), name_origin),
                    description => py_str(description),
                    records,
                },
            )?
        }
        Dataset::Csv(csv) => {
            let header = |literals: &mut Literals, cols: &[String]| {
                (!cols.is_empty()).then(|| list_literal(literals, cols, Origin::CsvHeader))
            };
            render_template(
                "s3",
                context! {
                    kind,
                    csv_path => literals.user(py_str(&csv.path), Origin::CsvPath),
                    dataset_name => literals.user(py_str(&csv.name), Origin::DatasetFileName),
                    input_columns => list_literal(literals, &csv.input_columns, Origin::CsvHeader),
                    expected_columns => header(literals, &csv.expected_columns),
                    metadata_columns => header(literals, &csv.metadata_columns),
                    id_column => csv.id_column.as_ref().map(|c| literals.user(py_str(c), Origin::CsvHeader)),
                    csv_delimiter => (csv.delimiter != ',').then(|| py_str(&csv.delimiter.to_string())),
                    description => py_str("Dataset created by llmobs bootstrap from a CSV file."),
                },
            )?
        }
        Dataset::Pull { name, version } => render_template(
            "s3",
            context! {
                kind,
                dataset_name => literals.user(py_str(name), Origin::DatasetName),
                version => *version,
            },
        )?,
    };

    let input_hint = if plan.dataset.inputs_are_objects() { "Dict[str, Any]" } else { "Any" };
    let s4 = render_template("s4", context! { input_hint })?;

    let expected_column = match &plan.dataset {
        Dataset::Csv(csv) => {
            csv.primary_expected().map(|c| literals.user(py_str(c), Origin::CsvHeader))
        }
        _ => None,
    };
    let (s5, evaluators) = match plan.style {
        EvaluatorStyle::Function => {
            let structured = plan.dataset.is_structured();
            let mut names = vec!["exact_match", "response_well_formed"];
            if structured {
                names.push("json_shape_matches");
            }
            names.push("llm_judge_placeholder");
            (
                render_template("s5_function", context! { structured, expected_column })?,
                names.join(", "),
            )
        }
        EvaluatorStyle::Class => (
            render_template("s5_class", context! { expected_column })?,
            "FaithfulnessJudge(), ExpectedAnswerOverlap()".to_owned(),
        ),
        EvaluatorStyle::Remote => {
            let input_key = plan.dataset.judge_input_key().map(|(key, record)| {
                let origin = match (&plan.dataset, record) {
                    (_, Some(i)) => Origin::Record(i),
                    (Dataset::Csv(_), None) => Origin::CsvHeader,
                    _ => Origin::Builtin,
                };
                literals.user(py_str(&key), origin)
            });
            (
                render_template("s5_remote", context! { input_key })?,
                "quality_judge, custom_judge".to_owned(),
            )
        }
    };
    let s6 = render_template("s6", context! { evaluators })?;
    let s7 = render_template("s7", context! { jobs => plan.jobs })?;
    Ok(vec![
        render_template("s1", context! {})?,
        s2,
        s3,
        s4,
        s5,
        s6,
        s7,
        render_template("s8", context! {})?,
    ])
}

/// Attributes every raw-view hit to the user literals it overlaps and words the §12.2
/// warnings. A hit outside every user literal is a generator bug.
fn raw_view_warnings(sections: &[Unmarked], literals: &Literals) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    for pattern in forbidden_patterns() {
        let mut origins = BTreeSet::new();
        for section in sections {
            for hit in pattern.find_all(&section.real) {
                // Spans are sorted and disjoint: skip those ending before the hit.
                let first = section.spans.partition_point(|(span, _)| span.end <= hit.start);
                let overlapping: Vec<usize> = section.spans[first..]
                    .iter()
                    .take_while(|(span, _)| span.start < hit.end)
                    .map(|(_, origin)| *origin)
                    .collect();
                if overlapping.is_empty() {
                    return Err(Error::SelfCheck(format!("forbidden pattern {}", pattern.label)));
                }
                origins.extend(overlapping.into_iter().map(|o| literals.origins[o]));
            }
        }
        if origins.is_empty() {
            continue;
        }
        let records: Vec<usize> = origins
            .iter()
            .filter_map(|o| match o {
                Origin::Record(i) => Some(*i),
                _ => None,
            })
            .collect();
        let mut places = Vec::new();
        if !records.is_empty() {
            places.push(format!("records {}", index_list(&records)));
        }
        places.extend(
            origins.iter().filter(|o| !matches!(o, Origin::Record(_))).map(|o| o.describe()),
        );
        warnings.push(format!(
            "Dataset or name text contains {} ({}); it is inert data inside a string literal.",
            pattern.label,
            places.join(", ")
        ));
    }
    Ok(warnings)
}

fn structural_checks(plan: &Plan, masked_py: &str) -> Result<(), Error> {
    let fail = |what: &str| Err(Error::SelfCheck(what.to_owned()));
    let assignments = masked_py.lines().filter(|l| l.starts_with("PROJECT_NAME = ")).count();
    if assignments != 1 {
        return fail(&format!("expected one PROJECT_NAME assignment, found {assignments}"));
    }
    for pair in
        ["\"generated_by\": \"claude-code\",", "\"skill\": \"llm-obs-experiment-py-bootstrap\","]
    {
        if masked_py.matches(pair).count() != 2 {
            return fail(&format!("provenance {pair} must appear in both config and tags"));
        }
    }
    let evaluators = masked_py
        .lines()
        .find_map(|l| l.trim().strip_prefix("evaluators=["))
        .and_then(|l| l.strip_suffix("],"))
        .map(|list| list.split(", ").count());
    if evaluators != Some(plan.evaluator_count()) {
        return fail(&format!(
            "expected {} evaluators, found {evaluators:?}",
            plan.evaluator_count()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_that_fails_is_an_error_not_a_panic() {
        let err = render_template("no-such-template", context! {}).unwrap_err();
        assert!(matches!(err, Error::Template(_)), "{err}");
        let message = err.to_string();
        assert!(
            message.starts_with("built-in template failed: no-such-template failed"),
            "{message}"
        );
        assert_eq!(err.exit_code(), 1);
        assert!(render_template("s1", context! {}).is_ok());
    }
}
