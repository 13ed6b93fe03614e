//! `llmobs`: serve the LLM Observability API, manage keys, prompts, datasets and
//! experiments.
//!
//! `main` parses the command line, runs the command and turns its result into the exit
//! code, in this one place.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Keys(command) => keys::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
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
