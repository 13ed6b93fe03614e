//! `llmobs keys`: create API and application keys.

use clap::{Args, Subcommand};

use crate::store::StoreArgs;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and an application key for an org (created if new), and print
    /// them once. Only their hashes are stored.
    Create(CreateArgs),
}

/// Options of `keys create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The org the keys belong to.
    #[arg(long, value_name = "NAME")]
    org: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs a key command.
pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Create(args) = command;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = args.store.open().await?;
        let keys = store.generate_org_keys(&args.org).await?;
        store.close().await;
        eprintln!("# keys for org '{}': they are shown only this once", keys.org_name);
        println!("export DD_API_KEY={}", keys.api_key);
        println!("export DD_APP_KEY={}", keys.app_key);
        Ok(())
    })
}
