//! `llmobs`: serve the LLM Observability API, manage keys, and work with prompts,
//! datasets, experiments and spans of any server speaking that API (ours or Datadog's).
//!
//! `main` parses the command line, runs the command and turns its result into the exit
//! code, in this one place: 0 when it worked, 1 when the operation failed, 2 for a usage
//! mistake (bad arguments, missing settings, unreadable input files).

mod bootstrap;
mod compare;
mod completions;
mod datasets;
mod experiments;
mod gate;
mod keys;
mod logging;
mod output;
mod projects;
mod promptfiles;
mod prompts;
mod serve;
mod settings;
mod spans;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Out;
use crate::settings::{GlobalArgs, Settings};

/// Self-hosted LLM Observability: prompts, datasets and experiments, wire-compatible
/// with Datadog's API.
///
/// API commands read DD_API_KEY, DD_APP_KEY, DD_SITE and DD_LLMOBS_OVERRIDE_ORIGIN, as
/// ddtrace does, or a profile of `llmobs config`. Exit codes: 0 ok, 1 the operation
/// failed, 2 usage.
#[derive(Debug, Parser)]
#[command(name = "llmobs", version)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (SQLite in the data directory unless --database-url is given).
    Serve(serve::ServeArgs),
    /// Manage API and application keys of a local server's database.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write a ready-to-run Python experiment (.py or .ipynb) for ddtrace.llmobs.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Settings profiles: where the server is and which keys to use.
    #[command(subcommand)]
    Config(settings::ConfigCommand),
    /// List, create and delete projects.
    #[command(subcommand)]
    Projects(projects::ProjectsCommand),
    /// Manage prompts and their versions; keep them as files in git.
    #[command(subcommand)]
    Prompts(prompts::PromptsCommand),
    /// Manage datasets: import, export, sync, versions and diffs.
    #[command(subcommand)]
    Datasets(datasets::DatasetsCommand),
    /// Inspect, export, compare (CI gate) and delete experiments.
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
    /// Search spans.
    #[command(subcommand)]
    Spans(spans::SpansCommand),
    /// Show traces.
    #[command(subcommand)]
    Traces(spans::TracesCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), generated from these definitions.
    Man,
}

/// A mistake in how the command was called: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error with this message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Runs an API command's future on a runtime of its own.
pub fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(future)
}

/// What an API command needs: its client, settings and output.
pub struct Ctx {
    /// The SDK client.
    pub client: llmobs::Client,
    /// The resolved settings.
    pub settings: Settings,
    /// How to print.
    pub out: Out,
}

impl Ctx {
    fn new(global: &GlobalArgs) -> anyhow::Result<Ctx> {
        let settings = Settings::resolve(global)?;
        let client = settings.client()?;
        Ok(Ctx { client, settings, out: Out::new(global) })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = cli.global;
    let out = Out::new(&global);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Keys(command) => keys::run(command),
        Command::Bootstrap(args) => bootstrap::run(args),
        Command::Config(command) => settings::run(command, &global, &out),
        Command::Projects(command) => Ctx::new(&global).and_then(|ctx| projects::run(command, ctx)),
        Command::Prompts(command) => Ctx::new(&global).and_then(|ctx| prompts::run(command, ctx)),
        Command::Datasets(command) => Ctx::new(&global).and_then(|ctx| datasets::run(command, ctx)),
        Command::Experiments(command) => {
            Ctx::new(&global).and_then(|ctx| experiments::run(command, ctx))
        }
        Command::Spans(command) => Ctx::new(&global).and_then(|ctx| spans::run_spans(command, ctx)),
        Command::Traces(command) => {
            Ctx::new(&global).and_then(|ctx| spans::run_traces(command, ctx))
        }
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            if let Some(hint) = hint(&err) {
                eprintln!("hint: {hint}");
            }
            exit_code(&err)
        }
    }
}

/// 2 for a command-line mistake found after parsing (as clap uses for its own), else 1.
fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|cause| cause.downcast_ref::<UsageError>().is_some()) {
        return ExitCode::from(2);
    }
    match err.downcast_ref::<llmobs_bootstrap::Error>() {
        Some(err) if err.is_usage() => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// What to do about an SDK error, by its kind.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let sdk = err.chain().find_map(|cause| cause.downcast_ref::<llmobs::Error>())?;
    Some(match sdk.kind() {
        llmobs::ErrorKind::Auth => {
            "check DD_API_KEY and DD_APP_KEY (`llmobs config list` shows what is used)"
        }
        llmobs::ErrorKind::Transport | llmobs::ErrorKind::Timeout => {
            "is the server running? set DD_LLMOBS_OVERRIDE_ORIGIN or `llmobs config set origin URL`"
        }
        llmobs::ErrorKind::NotFound => "the `list` command of that resource shows what exists",
        _ => return None,
    })
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
