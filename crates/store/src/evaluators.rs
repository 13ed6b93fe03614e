//! Evaluator configurations: an org's named remote evaluators (kind and configuration),
//! published by clients and read when an evaluator is run.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::keys::OrgId;
use crate::{Store, time};

impl Store {
    /// Creates or replaces the org's evaluator `name`.
    pub async fn put_evaluator(
        &self,
        org: &OrgId,
        name: &str,
        kind: &str,
        config: &Value,
    ) -> Result<()> {
        let now = time::now();
        sqlx::query(
            "INSERT INTO evaluators (org_uuid, name, kind, config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_uuid, name) \
             DO UPDATE SET kind = excluded.kind, config = excluded.config, updated_at = excluded.updated_at",
        )
        .bind(&org.0)
        .bind(name)
        .bind(kind)
        .bind(config.to_string())
        .bind(&now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The org's evaluator `name`: its kind and configuration.
    pub async fn evaluator(&self, org: &OrgId, name: &str) -> Result<Option<(String, Value)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT kind, config FROM evaluators WHERE org_uuid = $1 AND name = $2")
                .bind(&org.0)
                .bind(name)
                .fetch_optional(&self.read)
                .await?;
        row.map(|(kind, config)| {
            let config = serde_json::from_str(&config)
                .map_err(|e| Error::Invalid(format!("stored evaluator is not JSON: {e}")))?;
            Ok((kind, config))
        })
        .transpose()
    }
}
