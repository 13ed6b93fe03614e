//! Experiment management for Datadog's public API: updating every field an experiment
//! has, and deleting experiments.

use llmobs_core::experiments::{ExperimentRecord, UpdateExperiment};
use serde_json::Value;

use crate::deletes::soft_delete;
use crate::error::{Error, NotFound, Result};
use crate::experiments::check_status;
use crate::keys::OrgId;
use crate::{Store, time};

impl Store {
    /// Changes any of an experiment's status, error, run name, description, metadata
    /// (replaced whole) and dataset (another live dataset of its project), in one write.
    pub async fn edit_experiment(
        &self,
        org: &OrgId,
        id: &str,
        update: UpdateExperiment,
    ) -> Result<(String, ExperimentRecord)> {
        check_status(&update)?;
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(Error::Invalid("name: an experiment needs a non-empty name".into()));
        }
        let (_, experiment) = self.experiment(org, id).await?;
        let dataset_version = match &update.dataset_id {
            None => None,
            Some(dataset_id) => {
                let (_, dataset) = self
                    .dataset(org, Some(&experiment.project_id), dataset_id)
                    .await
                    .map_err(|err| match err {
                        Error::NotFound(_) => Error::NotFound(NotFound::Other(format!(
                            "dataset '{dataset_id}' not found in the experiment's project"
                        ))),
                        other => other,
                    })?;
                Some(dataset.current_version)
            }
        };
        sqlx::query(
            "UPDATE experiments SET status = COALESCE($2, status), error = COALESCE($3, error), \
             name = COALESCE($4, name), description = COALESCE($5, description), \
             metadata = COALESCE($6, metadata), dataset_uuid = COALESCE($7, dataset_uuid), \
             dataset_version = COALESCE($8, dataset_version), updated_at = $9 \
             WHERE org_uuid = $1 AND uuid = $10 AND deleted_at IS NULL",
        )
        .bind(&org.0)
        .bind(update.status)
        .bind(update.error)
        .bind(update.name)
        .bind(update.description)
        .bind(update.metadata.map(|m| Value::Object(m).to_string()))
        .bind(update.dataset_id)
        .bind(dataset_version)
        .bind(time::now())
        .bind(id)
        .execute(&self.write)
        .await?;
        self.experiment(org, id).await
    }

    /// Soft-deletes experiments of the org, all or nothing: an id that is not a live
    /// experiment of the org is [`Error::NotFound`] and deletes nothing.
    pub async fn delete_experiments(&self, org: &OrgId, ids: &[String]) -> Result<()> {
        let now = time::now();
        let mut tx = self.writes().await?.begin().await?;
        for id in ids {
            soft_delete(
                &mut tx,
                "UPDATE experiments SET deleted_at = $3, updated_at = $3 \
                 WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL",
                &[&org.0, id, &now],
                || Error::NotFound(NotFound::Other(format!("experiment '{id}' not found"))),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
