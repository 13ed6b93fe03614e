//! The store tests run on (this crate's unit tests, and the server's tests through the
//! `test-support` feature): a SQLite file, or a fresh PostgreSQL database when
//! `LLMOBS_TEST_DATABASE_URL` names a server (as `scripts/test.sh` sets it for its
//! PostgreSQL run).

use std::path::Path;

use sqlx::Connection;

use crate::{Database, OrgId, Store};

/// A fresh store: `t.db` in `dir`, or a new database on the PostgreSQL server.
///
/// # Panics
///
/// When the store cannot be opened or the PostgreSQL server cannot be reached: it is
/// meant for tests.
pub async fn open(dir: &Path) -> Store {
    Store::open(&fresh(dir).await).await.unwrap()
}

/// A fresh database, not yet opened: `t.db` in `dir`, or a new, empty database on the
/// PostgreSQL server (for tests that open one database several times, as several servers
/// sharing it do).
///
/// # Panics
///
/// When the PostgreSQL server cannot be reached.
pub async fn fresh(dir: &Path) -> Database {
    let Some(admin) = std::env::var("LLMOBS_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
    else {
        return Database::Sqlite(dir.join("t.db"));
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("cannot reach PostgreSQL");
    let create = format!("CREATE DATABASE {name}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    Database::Postgres(format!("{base}/{name}"))
}

/// A fresh store holding org `a` (keys `api-key-a`/`app-key-a`), its project `p` and an
/// empty dataset `d` in it: (store, org, project id, dataset id).
///
/// # Panics
///
/// As [`open`].
pub async fn with_dataset(dir: &Path) -> (Store, OrgId, String, String) {
    let store = open(dir).await;
    let org = store.create_org_keys("a", "api-key-a", "app-key-a").await.unwrap().org;
    let (project, _) = store.project_by_name(&org, "u", "p", None).await.unwrap();
    let (dataset, _) = store.create_dataset(&org, "u", &project, "d", None, None).await.unwrap();
    (store, org, project, dataset)
}
