//! `llmobs completions SHELL` and `llmobs man`: generated from the clap definitions.

use clap::{Args, CommandFactory};

/// Options of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script of a shell.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "llmobs", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(())
}

/// Prints the man page (roff) of `llmobs` and its commands.
pub fn man() -> anyhow::Result<()> {
    let command = crate::Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(())
}
