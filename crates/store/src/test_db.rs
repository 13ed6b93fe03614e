//! The store the unit tests run on: a SQLite file, or a fresh PostgreSQL database when
//! `LLMOBS_TEST_DATABASE_URL` names a server (as `scripts/test.sh` sets it for its
//! PostgreSQL run).

use std::path::Path;

use sqlx::Connection;

use crate::{Database, Store};

/// A fresh store: `t.db` in `dir`, or a new database on the PostgreSQL server.
pub(crate) async fn open(dir: &Path) -> Store {
    let Some(admin) = std::env::var("LLMOBS_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
    else {
        return Store::open(&Database::Sqlite(dir.join("t.db"))).await.unwrap();
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("cannot reach PostgreSQL");
    let create = format!("CREATE DATABASE {name}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    Store::open(&Database::Postgres(format!("{base}/{name}"))).await.unwrap()
}
