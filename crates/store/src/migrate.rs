//! The embedded migrations and their runner.

use sqlx::AnyPool;

use crate::error::Result;
use crate::time;

/// Which SQL dialect to migrate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// `(number, name, SQL)`, in order. The SQL runs on both backends, except where
/// [`POSTGRES_VARIANTS`] gives PostgreSQL its own.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "prompts", include_str!("../migrations/0001_prompts.sql")),
    (2, "experiments", include_str!("../migrations/0002_experiments.sql")),
    (3, "public_api", include_str!("../migrations/0003_public_api.sql")),
    (4, "spans_search", include_str!("../migrations/0004_spans_search.sql")),
    (5, "annotations", include_str!("../migrations/0005_annotations.sql")),
    (6, "patterns", include_str!("../migrations/0006_patterns.sql")),
    (7, "span_text_bulk", include_str!("../migrations/0007_span_text_bulk.sql")),
    (9, "record_values", include_str!("../migrations/0009_record_values.sql")),
    (11, "record_filter_indexes", include_str!("../migrations/0011_record_filter_indexes.sql")),
    (12, "experiment_writes", include_str!("../migrations/0012_experiment_writes.sql")),
    (13, "ingest_journal", include_str!("../migrations/0013_ingest_journal.sql")),
];

/// How many migrations there are.
#[cfg(test)]
pub(crate) fn count() -> usize {
    MIGRATIONS.len()
}

/// PostgreSQL's own text of the migrations whose SQL differs there, by number.
const POSTGRES_VARIANTS: &[(i64, &str)] = &[
    (4, include_str!("../migrations/0004_spans_search.postgres.sql")),
    (7, include_str!("../migrations/0007_span_text_bulk.postgres.sql")),
    (9, include_str!("../migrations/0009_record_values.postgres.sql")),
    (13, include_str!("../migrations/0013_ingest_journal.postgres.sql")),
];

/// Applies every migration not yet recorded, all in one transaction: a failed migration
/// leaves the database as it was before this run. On PostgreSQL the transaction holds an
/// advisory lock from its first statement, so servers starting together migrate one at a
/// time (even the table of applied migrations is created under it: two concurrent
/// `CREATE TABLE IF NOT EXISTS` of one table can both try to create it, and one fails).
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut tx = pool.begin().await?;
    if let Backend::Postgres = backend {
        sqlx::query("SELECT pg_advisory_xact_lock(7358127)").execute(&mut *tx).await?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS llmobs_migrations \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for &(version, name, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM llmobs_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_some() {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        let sql = match backend {
            Backend::Postgres => POSTGRES_VARIANTS
                .iter()
                .find_map(|&(number, text)| (number == version).then_some(text))
                .unwrap_or(sql),
            Backend::Sqlite => sql,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO llmobs_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(name)
        .bind(time::now())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
