//! `llmobs bootstrap`: write a ready-to-run Python experiment for ddtrace.llmobs.
//!
//! A thin layer over the `llmobs-bootstrap` crate: flags are parsed and checked here,
//! everything else happens in [`llmobs_bootstrap::generate`].

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use llmobs_bootstrap::{
    EvaluatorStyle, Format, Options, Settings, TestHook, check_language, check_name, check_output,
    generate, parse_dataset_version, parse_jobs,
};

/// Generate a Python experiment (script or notebook) that uses only the public
/// ddtrace.llmobs SDK: dataset, task, evaluators, run. Nothing is sent anywhere.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Output format: py (a script) or ipynb (a Jupyter notebook).
    #[arg(long, value_name = "py|ipynb", default_value = "py", value_parser = parse_format)]
    pub format: Format,

    /// Local dataset: a .json file (records embedded inline, PII redacted) or a .csv/.tsv
    /// file (read when the experiment runs) [default: a built-in 3-record sample].
    #[arg(long, value_name = "PATH")]
    pub dataset: Option<PathBuf>,

    /// Name of an existing Datadog dataset, pulled when the experiment runs.
    #[arg(long, value_name = "NAME", value_parser = dataset_name)]
    pub dataset_name: Option<String>,

    /// Version of the pulled dataset (1 to 2147483647) [default: latest].
    #[arg(long, value_name = "INT", allow_hyphen_values = true, value_parser = parse_dataset_version)]
    pub dataset_version: Option<u32>,

    /// Datadog project name, used verbatim [default: experiment-<name> from pyproject.toml,
    /// setup.cfg, setup.py, package.json or the current directory].
    #[arg(long, value_name = "NAME", value_parser = project_name)]
    pub project_name: Option<String>,

    /// Evaluator style: function, class (BaseEvaluator) or remote (RemoteEvaluator).
    #[arg(
        long,
        value_name = "function|class|remote",
        default_value = "function",
        value_parser = parse_style
    )]
    pub evaluator_style: EvaluatorStyle,

    /// Records processed in parallel by experiment.run(jobs=N), 1 to 1000.
    #[arg(long, value_name = "N", default_value = "10", allow_hyphen_values = true, value_parser = parse_jobs)]
    pub jobs: u32,

    /// Where to write the file; an extension matching --format is added if missing
    /// [default: ./experiments/experiment.<py|ipynb>].
    #[arg(long, value_name = "PATH", value_parser = check_output)]
    pub output: Option<PathBuf>,

    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// Language of the generated code: only python is supported.
    #[arg(long, value_name = "LANG", default_value = "python", value_parser = check_language)]
    pub language: String,

    /// Not supported: pull_dataset takes a dataset name, not an id.
    #[arg(long, hide = true, value_name = "ID", value_parser = dataset_id)]
    pub dataset_id: Option<String>,
}

fn parse_format(value: &str) -> Result<Format, String> {
    value.parse()
}

fn parse_style(value: &str) -> Result<EvaluatorStyle, String> {
    value.parse()
}

fn dataset_name(value: &str) -> Result<String, llmobs_bootstrap::Error> {
    check_name("--dataset-name", value)
}

fn project_name(value: &str) -> Result<String, llmobs_bootstrap::Error> {
    check_name("--project-name", value)
}

fn dataset_id(_: &str) -> Result<String, String> {
    Err("--dataset-id is not supported: the public pull_dataset takes a dataset name, not an \
         id. Open https://app.datadoghq.com/llm/datasets/<id>, copy the dataset name and pass it \
         with --dataset-name"
        .to_owned())
}

/// Environment variable read by the tests of the self-checks only.
const TEST_HOOK_VAR: &str = "LLMOBS_BOOTSTRAP_TEST_HOOK";

/// Runs `llmobs bootstrap`: writes the file and prints the summary on stdout.
///
/// Command-line mistakes found after parsing (such as both dataset flags, or an
/// `--output` extension that contradicts `--format`) are returned as
/// [`llmobs_bootstrap::Error`] usage errors, which `main` turns into exit status 2, like
/// clap's own parse errors (spec §2.4).
pub fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    // Both are fully checked by their value parsers: --language accepts only python and
    // --dataset-id never parses.
    let _ = (args.language, args.dataset_id);
    let options = Options {
        format: args.format,
        dataset: args.dataset,
        dataset_name: args.dataset_name,
        dataset_version: args.dataset_version,
        project_name: args.project_name,
        evaluator_style: args.evaluator_style,
        jobs: Some(args.jobs),
        output: args.output,
    };
    let settings = Settings {
        force: args.force,
        test_hook: match std::env::var(TEST_HOOK_VAR).as_deref() {
            Ok("corrupt-syntax") => Some(TestHook::CorruptSyntax),
            Ok("inject-forbidden") => Some(TestHook::InjectForbidden),
            _ => None,
        },
        origin: std::env::var("DD_LLMOBS_OVERRIDE_ORIGIN").ok(),
        ..Settings::default()
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match generate(&options, &cwd, &settings) {
        Ok(generated) => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(generated.summary.as_bytes())?;
            stdout.flush()?;
            Ok(())
        }
        Err(err) => {
            if let llmobs_bootstrap::Error::SyntaxCheck(detail) = &err {
                eprintln!("Syntax check: fail: {detail}");
            }
            Err(err.into())
        }
    }
}
