//! Opening the database: which backend, its pools and its session settings.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An embedded SQLite file, created with its migrations on first open.
    Sqlite(PathBuf),
    /// A PostgreSQL server, by `postgres://` URL. Several servers may share one.
    Postgres(String),
}

impl FromStr for Database {
    type Err = Error;

    /// Parses a database URL: `sqlite://PATH`, `sqlite:PATH`, `postgres://…` or
    /// `postgresql://…`.
    fn from_str(url: &str) -> Result<Self> {
        if let Some(rest) = url.strip_prefix("postgres://").or(url.strip_prefix("postgresql://")) {
            if rest.is_empty() {
                return Err(Error::Open(format!("'{url}' names no PostgreSQL host")));
            }
            return Ok(Database::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(Error::Open(format!("'{url}' names no SQLite file")));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        Err(Error::Open(format!(
            "unsupported database URL '{}': use postgres://USER@HOST:PORT/DB or sqlite://PATH",
            redact(url)
        )))
    }
}

/// The URL with any password replaced, for error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The storage handle. Cheap to clone; clones share the pools.
#[derive(Debug, Clone)]
pub struct Store {
    /// Pool for reads.
    pub(crate) read: AnyPool,
    /// Pool for writes. On SQLite it has one connection, so writers queue instead of
    /// failing with `SQLITE_BUSY`; on PostgreSQL it is the read pool.
    pub(crate) write: AnyPool,
    /// Experiment summaries computed lately, with what they were computed from.
    pub(crate) summaries: crate::experiments::SummaryCache,
    /// On SQLite, the ingest journal ([`crate::journal`]).
    pub(crate) journal: Option<std::sync::Arc<crate::journal::Journal>>,
    /// On SQLite, keeps the background checkpointer and the journal's task going while
    /// any clone lives.
    _checkpoints: Option<std::sync::Arc<()>>,
}

static DRIVERS: Once = Once::new();

/// Connections to PostgreSQL one store keeps at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 16;

impl Store {
    /// Opens (and on first use creates) the database, then applies pending migrations,
    /// with at most [`DEFAULT_POOL_SIZE`] connections to PostgreSQL.
    pub async fn open(database: &Database) -> Result<Self> {
        Self::open_with_pool_size(database, DEFAULT_POOL_SIZE).await
    }

    /// [`Store::open`], with at most `pool_size` connections to PostgreSQL (at least 1).
    /// SQLite ignores it: one writer and four readers per process.
    pub async fn open_with_pool_size(database: &Database, pool_size: u32) -> Result<Self> {
        if pool_size == 0 {
            return Err(Error::Open("the connection pool size must be at least 1".into()));
        }
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let store = match database {
            Database::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|err| {
                        Error::Open(format!("cannot create {}: {err}", parent.display()))
                    })?;
                }
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let options = AnyConnectOptions::from_str(&url)
                    .map_err(|err| Error::Open(format!("{}: {err}", path.display())))?;
                // A local file needs no liveness test before each use (a test is a round
                // trip to the connection's worker thread). Statement journals (which
                // multi-row writes inside a transaction need) stay in memory rather than in
                // a temporary file; pages of the database file are read through a memory
                // map, and each connection caches up to 16 MiB of pages (the default is
                // 2 MiB), which spares reads of pages still in the write-ahead log. The
                // writer gets `extra` too (see [`crate::checkpoint`]).
                let pool = |size: u32, extra: &'static str| {
                    AnyPoolOptions::new()
                        .max_connections(size)
                        .acquire_timeout(Duration::from_secs(30))
                        .test_before_acquire(false)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                                     PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456; \
                                     PRAGMA cache_size = -16384;",
                                )
                                .await?;
                                if !extra.is_empty() {
                                    conn.execute(extra).await?;
                                }
                                Ok(())
                            })
                        })
                        .connect_with(options.clone())
                };
                let write = pool(1, crate::checkpoint::WRITER_PRAGMAS).await?;
                crate::migrate::run(&write, crate::migrate::Backend::Sqlite).await?;
                let alive = std::sync::Arc::new(());
                crate::checkpoint::spawn(pool(1, "").await?, std::sync::Arc::downgrade(&alive));
                let journal =
                    crate::journal::start(&write, std::sync::Arc::downgrade(&alive)).await?;
                Store {
                    read: pool(4, "").await?,
                    write,
                    summaries: Default::default(),
                    journal: Some(journal),
                    _checkpoints: Some(alive),
                }
            }
            Database::Postgres(url) => {
                let options = AnyConnectOptions::from_str(url)
                    .map_err(|err| Error::Open(format!("{}: {err}", redact(url))))?;
                probe(url, &options).await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(pool_size)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                crate::migrate::run(&pool, crate::migrate::Backend::Postgres).await?;
                Store {
                    read: pool.clone(),
                    write: pool,
                    summaries: Default::default(),
                    journal: None,
                    _checkpoints: None,
                }
            }
        };
        Ok(store)
    }

    /// Checks that the database answers: one trivial query on each pool, each bounded by
    /// `within` (a stuck pool or an unreachable PostgreSQL fails here instead of hanging).
    pub async fn ping(&self, within: Duration) -> Result<()> {
        for pool in [&self.read, &self.write] {
            match tokio::time::timeout(within, sqlx::query("SELECT 1").execute(pool)).await {
                Ok(done) => {
                    done?;
                }
                Err(_) => {
                    return Err(Error::Open(format!(
                        "the database gave no answer within {} ms",
                        within.as_millis()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Applies what the ingest journal holds, then closes the pools, waiting for
    /// connections in use. A journal that cannot be applied now stays in the database and
    /// is applied at the next open.
    pub async fn close(&self) {
        if let Err(err) = self.catch_up().await {
            tracing::warn!(error = %err, "the ingest journal is applied at the next start");
        }
        self.write.close().await;
        self.read.close().await;
    }
}

/// How long opening waits for a PostgreSQL server's first answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection attempt before the pool is built, so that an unreachable server fails
/// fast with its cause (the pool would retry a refused connection for its whole acquire
/// timeout, then report only that it timed out).
async fn probe(url: &str, options: &AnyConnectOptions) -> Result<()> {
    use sqlx::ConnectOptions;
    let cause = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = sqlx::Connection::close(connection).await;
            return Ok(());
        }
        Ok(Err(err)) => connect_cause(&err),
        Err(_) => format!(
            "no answer within {} s (check the URL's host and port, and any firewall)",
            CONNECT_TIMEOUT.as_secs()
        ),
    };
    Err(Error::Open(format!("cannot connect to PostgreSQL at {}: {cause}", redact(url))))
}

/// A connection error in a few words, with what to check.
fn connect_cause(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is PostgreSQL running there? check the URL's host and port)"
                .to_owned()
        }
        sqlx::Error::Io(io)
            if io.kind() == std::io::ErrorKind::NotFound
                || io.to_string().contains("failed to lookup address") =>
        {
            "unknown host (check the host name in the URL)".to_owned()
        }
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("28P01" | "28000")) => {
            format!("authentication failed (check the URL's user and password): {}", db.message())
        }
        sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_passwords_stay_out_of_errors() {
        assert_eq!(
            "sqlite://data/x.db".parse::<Database>().unwrap(),
            Database::Sqlite("data/x.db".into())
        );
        assert!(matches!("postgres://u@h:5/db".parse::<Database>(), Ok(Database::Postgres(_))));
        let err = "mysql://u:secret@h/db".parse::<Database>().unwrap_err().to_string();
        assert!(err.contains("u:***@h") && !err.contains("secret"), "{err}");
        assert!("sqlite://".parse::<Database>().is_err());
        assert!("postgres://".parse::<Database>().is_err());
    }

    #[tokio::test]
    async fn the_pool_size_bounds_postgresql_connections() {
        let dir = tempfile::tempdir().unwrap();
        let database = crate::test_db::fresh(dir.path()).await;
        let err = Store::open_with_pool_size(&database, 0).await.unwrap_err().to_string();
        assert!(err.contains("at least 1"), "{err}");
        let store = Store::open_with_pool_size(&database, 3).await.unwrap();
        let expected = if matches!(database, Database::Postgres(_)) { 3 } else { 4 };
        assert_eq!(store.read.options().get_max_connections(), expected);
        store.close().await;
    }
}
