//! Evaluator configurations as Datadog's public API manages them: listed, read with their
//! timestamps, and deleted. Writes go through [`Store::put_evaluator`], so configs
//! published by ddtrace and by the official client are one set.

use serde_json::Value;
use sqlx::Row;

use crate::Store;
use crate::error::{Error, NotFound, Result};
use crate::keys::OrgId;

/// A stored evaluator configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvaluator {
    /// Its name.
    pub name: String,
    /// Its kind, such as `llm_judge`.
    pub kind: String,
    /// Its configuration.
    pub config: Value,
    /// When it was first stored.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

fn stored(row: &sqlx::any::AnyRow) -> Result<StoredEvaluator> {
    let config: String = row.try_get("config")?;
    Ok(StoredEvaluator {
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        config: serde_json::from_str(&config)
            .map_err(|e| Error::Invalid(format!("stored evaluator is not JSON: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn not_found(name: &str) -> Error {
    Error::NotFound(NotFound::Other(format!("no evaluator config named '{name}'")))
}

impl Store {
    /// The org's evaluator configurations, by name.
    pub async fn list_evaluators(&self, org: &OrgId) -> Result<Vec<StoredEvaluator>> {
        let rows = sqlx::query(
            "SELECT name, kind, config, created_at, updated_at FROM evaluators \
             WHERE org_uuid = $1 ORDER BY name",
        )
        .bind(&org.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(stored).collect()
    }

    /// The org's evaluator configuration `name`; [`Error::NotFound`] when there is none.
    pub async fn stored_evaluator(&self, org: &OrgId, name: &str) -> Result<StoredEvaluator> {
        let row = sqlx::query(
            "SELECT name, kind, config, created_at, updated_at FROM evaluators \
             WHERE org_uuid = $1 AND name = $2",
        )
        .bind(&org.0)
        .bind(name)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| not_found(name))?;
        stored(&row)
    }

    /// Deletes the org's evaluator configuration `name`; [`Error::NotFound`] when there is
    /// none.
    pub async fn delete_evaluator(&self, org: &OrgId, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM evaluators WHERE org_uuid = $1 AND name = $2")
            .bind(&org.0)
            .bind(name)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(name));
        }
        Ok(())
    }
}
