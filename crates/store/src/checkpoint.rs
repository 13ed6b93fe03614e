//! SQLite write-ahead-log checkpoints, off the writer.
//!
//! By default SQLite copies the write-ahead log back into the database file on the
//! connection that commits, once the log passes 1,000 pages: the request whose commit
//! crosses the line pays for the copy and its two `fsync`s, and every page changed since
//! the last copy is written again. Here a background task copies the log every
//! [`INTERVAL`] on a connection of its own (a `PASSIVE` checkpoint, which never blocks
//! the writer or the readers), so commits only append to the log, and a page changed by
//! many commits in between is copied once. The writer keeps SQLite's own checkpoint as a
//! backstop at a larger size ([`WRITER_PRAGMAS`]), so the log stays bounded even if the
//! task falls behind, and a log that grew is cut back to [`WRITER_PRAGMAS`]' size limit
//! when it restarts. The task ends once every clone of the store is dropped or its
//! pools are closed.

use std::sync::Weak;
use std::time::Duration;

use sqlx::AnyPool;

/// How often the background task copies the log into the database file.
pub(crate) const INTERVAL: Duration = Duration::from_millis(500);

/// The writer's settings: SQLite's own checkpoint only past 65,536 pages (256 MiB with
/// 4 KiB pages), and a restarted log file cut back to 64 MiB. The log restarts only once
/// a checkpoint has caught up with it, so under a burst of writes it grows by what the
/// burst writes (about 90 MB for an experiment of 10,000 records with 3 evaluators); the
/// backstop sits above that, as past it every commit checkpoints again.
pub(crate) const WRITER_PRAGMAS: &str =
    "PRAGMA wal_autocheckpoint = 65536; PRAGMA journal_size_limit = 67108864;";

/// Starts the background checkpoints on `pool` (one connection of its own); they stop
/// when `alive` can no longer be upgraded.
pub(crate) fn spawn(pool: AnyPool, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 || pool.is_closed() {
                break;
            }
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::warn!(error = %err, "background checkpoint failed; retried later");
            }
        }
        pool.close().await;
    });
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::{Duration, Instant};

    use sqlx::ConnectOptions;
    use sqlx::any::AnyConnectOptions;

    use crate::{Database, Store};

    /// Orgs in the database file itself, not counting the write-ahead log.
    async fn orgs_in_file(path: &std::path::Path) -> Option<i64> {
        let url = format!("sqlite://{}?immutable=true", path.display());
        let mut conn = AnyConnectOptions::from_str(&url).ok()?.connect().await.ok()?;
        sqlx::query_scalar("SELECT COUNT(*) FROM orgs").fetch_one(&mut conn).await.ok()
    }

    #[tokio::test]
    async fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmobs.db");
        let store = Store::open(&Database::Sqlite(path.clone())).await.unwrap();
        let before = orgs_in_file(&path).await.unwrap_or(0);
        store.create_org_keys("one", "api-key-0001", "app-key-0001").await.unwrap();
        store.create_org_keys("two", "api-key-0002", "app-key-0002").await.unwrap();
        // A few pages: far below the writer's own checkpoint, so only the background
        // task can have copied them into the file.
        let deadline = Instant::now() + super::INTERVAL * 10;
        let mut seen = before;
        while Instant::now() < deadline {
            seen = orgs_in_file(&path).await.unwrap_or(seen);
            if seen == before + 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(seen, before + 2, "the two new orgs never reached the database file");
        store.close().await;
    }
}
