//! Options as the user gives them, and the validated [`Plan`] the renderer works from
//! (spec §2, §3 steps 1 to 4).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::csv;
use crate::dataset::{self, Dataset, json_warnings, parse_records, sample_records};
use crate::error::Error;
use crate::literal::py_str;
use crate::project::{ProjectSource, resolve_project_name};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A Python script (`.py`).
    #[default]
    Py,
    /// A Jupyter notebook (`.ipynb`, nbformat 4.5).
    Ipynb,
}

impl Format {
    /// The format's name, which is also the file extension: `py` or `ipynb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Py => "py",
            Format::Ipynb => "ipynb",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    /// Exact, case-sensitive `py` or `ipynb` (D14).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "py" => Ok(Format::Py),
            "ipynb" => Ok(Format::Ipynb),
            _ => Err(format!(
                "unknown format {}: choose py or ipynb (llmobs bootstrap generates only Python \
                 code for ddtrace.llmobs)",
                py_str(s)
            )),
        }
    }
}

/// How the evaluators are written (spec §10.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvaluatorStyle {
    /// Plain functions returning a bool or `EvaluatorResult`.
    #[default]
    Function,
    /// `BaseEvaluator` subclasses.
    Class,
    /// `RemoteEvaluator`s: LLM-as-a-judge evaluators that run in Datadog.
    Remote,
}

impl EvaluatorStyle {
    /// The style's name: `function`, `class` or `remote`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluatorStyle::Function => "function",
            EvaluatorStyle::Class => "class",
            EvaluatorStyle::Remote => "remote",
        }
    }
}

impl fmt::Display for EvaluatorStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EvaluatorStyle {
    type Err = String;

    /// Exact, case-sensitive `function`, `class` or `remote`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "function" => Ok(EvaluatorStyle::Function),
            "class" => Ok(EvaluatorStyle::Class),
            "remote" => Ok(EvaluatorStyle::Remote),
            _ => Err(format!(
                "unknown evaluator style {}: choose function, class or remote",
                py_str(s)
            )),
        }
    }
}

/// Highest `--jobs` value (D39).
pub const MAX_JOBS: u32 = 1000;
/// Highest `--dataset-version` value.
pub const MAX_DATASET_VERSION: u32 = 2_147_483_647;

/// Parses a `--jobs` value: a decimal integer from 1 to 1000. The checks below answer a
/// bad value with [`Error::Usage`], and serve as clap value parsers.
pub fn parse_jobs(value: &str) -> Result<u32, Error> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_JOBS).contains(n) && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::Usage(format!("--jobs must be a positive integer from 1 to {MAX_JOBS}"))
        })
}

/// Parses a `--dataset-version` value: a decimal integer from 1 to 2147483647 (D16).
pub fn parse_dataset_version(value: &str) -> Result<u32, Error> {
    if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        if value.bytes().all(|b| b == b'0') {
            return Err(Error::Usage(
                "--dataset-version 0 is not allowed: the SDK treats version 0 as latest; \
                 omit the flag for latest"
                    .to_owned(),
            ));
        }
        if let Ok(n) = value.parse::<u32>()
            && n <= MAX_DATASET_VERSION
        {
            return Ok(n);
        }
    }
    Err(Error::Usage(format!(
        "--dataset-version must be an integer from 1 to {MAX_DATASET_VERSION}"
    )))
}

/// Checks a `--project-name` or `--dataset-name` value: anything but empty or
/// whitespace-only (D38). `flag` names the flag in the message.
pub fn check_name(flag: &str, value: &str) -> Result<String, Error> {
    if value.trim().is_empty() {
        Err(Error::Usage(format!("{flag} must not be empty or whitespace-only")))
    } else {
        Ok(value.to_owned())
    }
}

/// Checks an `--output` value: no control characters.
pub fn check_output(value: &str) -> Result<PathBuf, Error> {
    if value.chars().any(char::is_control) {
        Err(Error::Usage("--output must not contain control characters".to_owned()))
    } else if value.is_empty() {
        Err(Error::Usage("--output must not be empty".to_owned()))
    } else {
        Ok(PathBuf::from(value))
    }
}

/// Checks a `--language` value: only `python` (D15).
pub fn check_language(value: &str) -> Result<String, Error> {
    if value == "python" {
        Ok(value.to_owned())
    } else {
        Err(Error::Usage(
            "llmobs bootstrap only generates Python code for ddtrace.llmobs".to_owned(),
        ))
    }
}

/// The generator's inputs, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--format`.
    pub format: Format,
    /// `--dataset`: a `.json`, `.csv` or `.tsv` file.
    pub dataset: Option<PathBuf>,
    /// `--dataset-name`: a Datadog dataset pulled at runtime.
    pub dataset_name: Option<String>,
    /// `--dataset-version`: pins the pulled dataset's version.
    pub dataset_version: Option<u32>,
    /// `--project-name`: used verbatim.
    pub project_name: Option<String>,
    /// `--evaluator-style`.
    pub evaluator_style: EvaluatorStyle,
    /// `--jobs`; `None` means the default, 10.
    pub jobs: Option<u32>,
    /// `--output`; `None` means `experiments/experiment.<ext>`.
    pub output: Option<PathBuf>,
}

/// The default `--jobs`.
pub const DEFAULT_JOBS: u32 = 10;

/// Where the file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPath {
    /// The path to write, resolved against the working directory.
    pub path: PathBuf,
    /// The path as the user gave it (with the extension added if it had none), for the
    /// summary.
    pub display: String,
}

impl OutputPath {
    /// Resolves `--output` for `format` (D18): the default is
    /// `experiments/experiment.<ext>`, a path without an extension gets one, and a
    /// different extension is a usage error.
    pub fn resolve(given: Option<&Path>, format: Format, cwd: &Path) -> Result<OutputPath, Error> {
        let ext = format.as_str();
        let display = match given {
            None => format!("experiments/experiment.{ext}"),
            Some(path) => {
                let text = path.to_string_lossy().into_owned();
                if text.chars().any(char::is_control) {
                    return Err(Error::Usage(
                        "--output must not contain control characters".into(),
                    ));
                }
                let is_dir_like = text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR);
                if is_dir_like || cwd.join(path).is_dir() {
                    return Err(Error::OutputIsDirectory { path: path.to_owned() });
                }
                match path.extension() {
                    None => format!("{text}.{ext}"),
                    Some(have) if have.eq_ignore_ascii_case(ext) => text,
                    Some(have) => {
                        let other = if format == Format::Py { "ipynb" } else { "py" };
                        let hint = if have.eq_ignore_ascii_case(other) {
                            format!("\nhint: pass --format {other} to write a .{other} file")
                        } else {
                            String::new()
                        };
                        return Err(Error::Usage(format!(
                            "--output {} has the extension .{} but --format is {ext}; use a \
                             .{ext} path or change --format{hint}",
                            py_str(&text),
                            have.to_string_lossy()
                        )));
                    }
                }
            }
        };
        Ok(OutputPath { path: cwd.join(&display), display })
    }
}

/// A validated generation request: everything [`render`](crate::render) needs, with the
/// dataset read and checked and the project name resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The output format.
    pub format: Format,
    /// The evaluator style.
    pub style: EvaluatorStyle,
    /// `experiment.run(jobs=N)`.
    pub jobs: u32,
    /// The Datadog project name, embedded once as `PROJECT_NAME`.
    pub project_name: String,
    /// Where the project name came from.
    pub project_source: ProjectSource,
    /// The dataset source.
    pub dataset: Dataset,
    /// Where the file goes.
    pub output: OutputPath,
    /// Warnings so far, in pipeline order.
    pub warnings: Vec<String>,
    /// The local server named by `DD_LLMOBS_OVERRIDE_ORIGIN` while generating, if any; only
    /// the summary uses it (the generated file is the same either way).
    pub origin: Option<String>,
    /// A fault to inject, for the tests of the self-checks only.
    #[doc(hidden)]
    pub test_hook: Option<TestHook>,
}

/// Faults the tests inject to prove the self-checks stop a broken rendering.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestHook {
    /// Break the Python syntax of the rendered file.
    CorruptSyntax,
    /// Put a forbidden pattern (`uuid4`) into template code.
    InjectForbidden,
}

impl Plan {
    /// Validates `options` and reads what they point to (spec §3 steps 1 to 4): the
    /// output path, the project name (from `cwd`), and the dataset. Relative paths are
    /// resolved against `cwd`. Nothing is written.
    pub fn build(options: &Options, cwd: &Path) -> Result<Plan, Error> {
        if options.dataset.is_some() && options.dataset_name.is_some() {
            return Err(Error::Usage(
                "--dataset and --dataset-name are mutually exclusive: pass one of them".into(),
            ));
        }
        let jobs = options.jobs.unwrap_or(DEFAULT_JOBS);
        if !(1..=MAX_JOBS).contains(&jobs) {
            return Err(parse_jobs("0").unwrap_err());
        }
        if let Some(version) = options.dataset_version {
            parse_dataset_version(&version.to_string())?;
        }
        if let Some(name) = &options.project_name {
            check_name("--project-name", name)?;
        }
        if let Some(name) = &options.dataset_name {
            check_name("--dataset-name", name)?;
        }
        let output = OutputPath::resolve(options.output.as_deref(), options.format, cwd)?;

        let mut warnings = Vec::new();
        if options.dataset_version.is_some() && options.dataset_name.is_none() {
            warnings.push("--dataset-version is ignored without --dataset-name.".to_owned());
        }
        let (project_name, project_source) =
            resolve_project_name(options.project_name.as_deref(), cwd, &mut warnings);
        let dataset = match (&options.dataset, &options.dataset_name) {
            (Some(path), _) => load_dataset_file(path, cwd, &mut warnings)?,
            (None, Some(name)) => {
                Dataset::Pull { name: name.clone(), version: options.dataset_version }
            }
            (None, None) => Dataset::Sample(sample_records()),
        };
        Ok(Plan {
            format: options.format,
            style: options.evaluator_style,
            jobs,
            project_name,
            project_source,
            dataset,
            output,
            warnings,
            origin: None,
            test_hook: None,
        })
    }

    /// How many evaluators the output defines: 3, or 4 for a structured JSON dataset in
    /// function style; 2 for the class and remote styles.
    pub fn evaluator_count(&self) -> usize {
        match self.style {
            EvaluatorStyle::Function if self.dataset.is_structured() => 4,
            EvaluatorStyle::Function => 3,
            EvaluatorStyle::Class | EvaluatorStyle::Remote => 2,
        }
    }
}

const SUPPORTED: &str = "supported extensions: .json, .csv, .tsv";

fn load_dataset_file(
    given: &Path,
    cwd: &Path,
    warnings: &mut Vec<String>,
) -> Result<Dataset, Error> {
    let path = cwd.join(given);
    let ext = given.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    let kind = match ext.as_deref() {
        Some("json") => "json",
        Some("csv") => "csv",
        Some("tsv") => "tsv",
        Some(other) => {
            return Err(Error::dataset(
                given,
                format!("unsupported extension .{other} ({SUPPORTED})"),
            ));
        }
        None => {
            return Err(Error::dataset(given, format!("the file has no extension ({SUPPORTED})")));
        }
    };
    let meta = fs::metadata(&path)
        .map_err(|e| Error::dataset(given, format!("cannot read the file: {e} ({SUPPORTED})")))?;
    if meta.is_dir() {
        return Err(Error::dataset(given, format!("is a directory, not a file ({SUPPORTED})")));
    }
    if !meta.is_file() {
        return Err(Error::dataset(given, format!("is not a regular file ({SUPPORTED})")));
    }
    if kind == "json" {
        let bytes = fs::read(&path).map_err(|e| {
            Error::dataset(given, format!("cannot read the file: {e} ({SUPPORTED})"))
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::dataset(given, format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
        })?;
        let records = parse_records(&text).map_err(|e| Error::dataset(given, e.to_string()))?;
        json_warnings(&records, warnings);
        return Ok(Dataset::Json { name: dataset::file_stem(given), records });
    }
    let canonical = fs::canonicalize(&path)
        .map_err(|e| Error::dataset(given, format!("cannot resolve the path: {e}")))?;
    let canonical =
        canonical.to_str().ok_or_else(|| Error::dataset(given, "the path is not valid UTF-8"))?;
    let canonical = canonical.strip_prefix(r"\\?\").unwrap_or(canonical).to_owned();
    let mut csv = csv::analyze(&path, canonical, kind == "tsv")
        .map_err(|e| Error::dataset(given, e.to_string()))?;
    csv.name = dataset::file_stem(given);
    warnings.append(&mut csv.warnings.clone());
    Ok(Dataset::Csv(csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_are_checked_exactly() {
        assert_eq!("py".parse::<Format>(), Ok(Format::Py));
        for bad in ["PY", "", "ts", "mjs", "txt"] {
            let e = bad.parse::<Format>().unwrap_err();
            assert!(e.contains("py or ipynb") && e.contains("only Python"), "{e}");
        }
        assert!(
            "lambda".parse::<EvaluatorStyle>().unwrap_err().contains("function, class or remote")
        );
        assert_eq!(parse_jobs("64").unwrap(), 64);
        for bad in ["0", "-3", "abc", "2.5", "", "1001", "+5"] {
            let e = parse_jobs(bad).unwrap_err().to_string();
            assert!(matches!(parse_jobs(bad), Err(Error::Usage(_))));
            assert!(e.contains("--jobs") && e.contains("positive integer"), "{bad}: {e}");
        }
        assert_eq!(parse_dataset_version("2").unwrap(), 2);
        assert!(
            parse_dataset_version("0")
                .unwrap_err()
                .to_string()
                .contains("treats version 0 as latest")
        );
        for bad in ["-1", "2147483648", "x", ""] {
            assert!(
                parse_dataset_version(bad).unwrap_err().to_string().contains("--dataset-version")
            );
        }
        assert!(check_name("--project-name", " \t").is_err());
        assert_eq!(check_name("--project-name", "a\nb").unwrap(), "a\nb");
        assert!(check_output("a\u{7}b").is_err());
        assert!(
            check_language("typescript")
                .unwrap_err()
                .to_string()
                .contains("only generates Python code")
        );
    }

    #[test]
    fn output_extensions_follow_the_format() {
        let cwd = Path::new("/nonexistent-cwd");
        let out = OutputPath::resolve(Some(Path::new("out/exp")), Format::Py, cwd).unwrap();
        assert_eq!(out.display, "out/exp.py");
        assert_eq!(out.path, cwd.join("out/exp.py"));
        let out = OutputPath::resolve(None, Format::Ipynb, cwd).unwrap();
        assert_eq!(out.display, "experiments/experiment.ipynb");
        let e = OutputPath::resolve(Some(Path::new("x.py")), Format::Ipynb, cwd).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("pass --format py"), "{e}");
        let e = OutputPath::resolve(Some(Path::new("dir/")), Format::Py, cwd).unwrap_err();
        assert!(matches!(e, Error::OutputIsDirectory { .. }));
    }
}
