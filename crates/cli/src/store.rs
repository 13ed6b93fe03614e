//! Where the data lives: the options shared by every command that opens the store.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use llmobs_store::{Database, Store};

/// The file name of the embedded database inside the data directory.
const SQLITE_FILE: &str = "llmobs.db";

/// Storage options.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database [default: the platform data directory,
    /// e.g. ~/.local/share/llmobs].
    #[arg(long, env = "LLMOBS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use this database instead of the embedded one: postgres://USER@HOST:PORT/DB or
    /// sqlite://PATH.
    #[arg(long, env = "LLMOBS_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Connections to PostgreSQL this process keeps at most (SQLite ignores it). With
    /// several servers on one database, keep their sum under PostgreSQL's max_connections.
    #[arg(long, env = "LLMOBS_DB_POOL_SIZE", value_name = "N",
          default_value_t = llmobs_store::DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub db_pool_size: u32,
}

impl StoreArgs {
    /// The database these options name.
    pub fn database(&self) -> anyhow::Result<Database> {
        if let Some(url) = &self.database_url {
            return url.parse::<Database>().context("--database-url");
        }
        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => dirs::data_dir()
                .context("cannot find the platform data directory: pass --data-dir DIR")?
                .join("llmobs"),
        };
        Ok(Database::Sqlite(dir.join(SQLITE_FILE)))
    }

    /// Opens the store, creating it with its migrations on first use. A data directory
    /// created here is readable by its owner only: it holds every org's data.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let database = self.database()?;
        if let Database::Sqlite(path) = &database
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // The store's errors already name their cause in their message; only that
        // message is shown, so a cause is not printed twice.
        Store::open_with_pool_size(&database, self.db_pool_size).await.map_err(
            |err| match &database {
                Database::Sqlite(path) => anyhow::anyhow!("opening {}: {err}", path.display()),
                Database::Postgres(_) => anyhow::anyhow!("{err}"),
            },
        )
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
