//! `llmobs`: serve the LLM Observability API, manage keys, prompts, datasets and
//! experiments.
//!
//! `main` parses the command line, runs the command and turns its result into the exit
//! code, in this one place.

mod bootstrap;
mod keys;
mod logging;
mod serve;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Self-hosted LLM Observability: prompts, datasets and experiments, wire-compatible
/// with Datadog's API.
#[derive(Debug, Parser)]
#[command(name = "llmobs", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (SQLite in the data directory unless --database-url is given).
    Serve(serve::ServeArgs),
    /// Manage API and application keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write a ready-to-run Python experiment (.py or .ipynb) for ddtrace.llmobs.
    Bootstrap(bootstrap::BootstrapArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Keys(command) => keys::run(command),
        Command::Bootstrap(args) => bootstrap::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            exit_code(&err)
        }
    }
}

/// 2 for a command-line mistake found after parsing (as clap uses for its own), else 1.
fn exit_code(err: &anyhow::Error) -> ExitCode {
    match err.downcast_ref::<llmobs_bootstrap::Error>() {
        Some(err) if err.is_usage() => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
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
