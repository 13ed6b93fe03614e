//! Dataset management beyond what ddtrace uses: paged listing by name or id, updating
//! name, description and metadata, deleting within a project, the list of versions,
//! restoring a version, cloning, reading every record of a version (for exports), and the
//! draft lock.
//!
//! Restore and clone are batch updates ([`Store::batch_update`]), so they follow the
//! versioning rules of [`crate::datasets`]: a restore makes a new version whose records are
//! those of the restored version (restoring the current version changes nothing); a clone
//! is a new dataset whose version 1 holds the source's current records, ids kept.

use llmobs_core::datasets::{BatchUpdate, DatasetAttributes, InsertRecord, UploadResult};
use llmobs_core::public::{DatasetUpdate, DatasetVersion, DraftState, DraftUser, FileRow};
use serde_json::Value;
use sqlx::Row;

use crate::datasets::{RawRecord, RecordQuery, dataset_columns, dataset_from_row};
use crate::deletes::soft_delete;
use crate::error::{Error, NotFound, Result, on_unique};
use crate::keys::OrgId;
use crate::projects::{Page, decode_cursor};
use crate::{Store, time};

/// Which datasets of a project to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct DatasetFilter {
    /// Only datasets with exactly this name.
    pub name: Option<String>,
    /// Only this dataset.
    pub id: Option<String>,
}

fn value(raw: &serde_json::value::RawValue) -> Result<Value> {
    serde_json::from_str(raw.get())
        .map_err(|err| Error::Invalid(format!("stored record value is not JSON: {err}")))
}

/// An insert that writes `record` again, id, values and tags kept.
fn reinsert(id: String, record: RawRecord) -> Result<InsertRecord> {
    Ok(InsertRecord {
        input: value(&record.input)?,
        expected_output: record.expected_output.as_deref().map(value).transpose()?,
        metadata: record.metadata.as_deref().map(value).transpose()?,
        id: Some(id),
        tags: Some(record.tags),
    })
}

impl Store {
    /// The live datasets matching `filter` of one project (or, with `None`, of the whole
    /// org), oldest first, `limit` per page, after the cursor `after`.
    pub async fn list_datasets(
        &self,
        org: &OrgId,
        project_id: Option<&str>,
        filter: &DatasetFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<DatasetAttributes>> {
        if let Some(project_id) = project_id {
            self.project(org, project_id).await?;
        }
        let (at, id) = after.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?.unzip();
        let rows = sqlx::query(concat!(
            "SELECT ",
            dataset_columns!(),
            " FROM datasets WHERE org_uuid = $1 AND ($2 IS NULL OR project_uuid = $2) \
             AND deleted_at IS NULL AND ($3 IS NULL OR name = $3) AND ($4 IS NULL OR uuid = $4) \
             AND ($5 IS NULL OR created_at > $5 OR (created_at = $5 AND uuid > $6)) \
             ORDER BY created_at, uuid LIMIT $7"
        ))
        .bind(&org.0)
        .bind(project_id)
        .bind(&filter.name)
        .bind(&filter.id)
        .bind(at)
        .bind(id)
        .bind(limit as i64 + 1)
        .fetch_all(&self.read)
        .await?;
        let found = rows.iter().take(limit).map(dataset_from_row).collect::<Result<Vec<_>>>()?;
        let next = (rows.len() > limit)
            .then(|| found.last().map(|(id, d)| (d.created_at.clone(), id.clone())))
            .flatten();
        Ok((found, next))
    }

    /// Changes a live dataset's name, description and/or metadata (replaced whole).
    /// [`Error::Conflict`] if another live dataset of the project has the new name.
    pub async fn update_dataset(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
        update: DatasetUpdate,
    ) -> Result<(String, DatasetAttributes)> {
        if let Some(name) = update.name.as_deref() {
            llmobs_core::datasets::validate_dataset_name(name)
                .map_err(|err| Error::Invalid(format!("name: {err}")))?;
        }
        self.dataset(org, Some(project_id), dataset_id).await?;
        let mut tx = self.write.begin().await?;
        if let Some(name) = &update.name {
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT uuid FROM datasets WHERE project_uuid = $1 AND name = $2 \
                 AND deleted_at IS NULL AND uuid <> $3",
            )
            .bind(project_id)
            .bind(name)
            .bind(dataset_id)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Err(Error::Conflict(
                    "a dataset with this name already exists in the project",
                ));
            }
        }
        let metadata = update.metadata.map(|m| Value::Object(m).to_string());
        sqlx::query(
            "UPDATE datasets SET name = COALESCE($2, name), \
             description = COALESCE($3, description), metadata = COALESCE($4, metadata), \
             updated_at = $5 WHERE uuid = $1",
        )
        .bind(dataset_id)
        .bind(update.name)
        .bind(update.description)
        .bind(metadata)
        .bind(time::now())
        .execute(&mut *tx)
        .await
        .map_err(|err| on_unique(err, "a dataset with this name already exists"))?;
        tx.commit().await?;
        self.dataset(org, Some(project_id), dataset_id).await
    }

    /// Soft-deletes datasets of one project, all or nothing: an id that is not a live
    /// dataset of the project is [`Error::NotFound`] and deletes nothing.
    pub async fn delete_project_datasets(
        &self,
        org: &OrgId,
        project_id: &str,
        ids: &[String],
    ) -> Result<()> {
        self.project(org, project_id).await?;
        let now = time::now();
        let mut tx = self.write.begin().await?;
        for id in ids {
            soft_delete(
                &mut tx,
                "UPDATE datasets SET deleted_at = $4, updated_at = $4 \
                 WHERE org_uuid = $1 AND project_uuid = $2 AND uuid = $3 AND deleted_at IS NULL",
                &[&org.0, project_id, id, &now],
                || {
                    Error::NotFound(NotFound::Other(format!(
                        "dataset '{id}' not found in project '{project_id}'"
                    )))
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The dataset's versions, 1 to current, newest first; `last_used` is when the version
    /// last wrote a record state (`None` when it only deleted).
    pub async fn dataset_versions(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
    ) -> Result<Vec<DatasetVersion>> {
        let (_, dataset) = self.dataset(org, Some(project_id), dataset_id).await?;
        let rows = sqlx::query(
            "SELECT from_version, MAX(updated_at) AS last_used FROM dataset_records \
             WHERE dataset_uuid = $1 GROUP BY from_version",
        )
        .bind(dataset_id)
        .fetch_all(&self.read)
        .await?;
        let mut used = std::collections::HashMap::new();
        for row in &rows {
            used.insert(
                row.try_get::<i64, _>("from_version")?,
                row.try_get::<String, _>("last_used")?,
            );
        }
        Ok((1..=dataset.current_version)
            .rev()
            .map(|version| DatasetVersion {
                dataset_id: dataset_id.to_owned(),
                last_used: used.get(&version).cloned(),
                version_number: version,
            })
            .collect())
    }

    /// Every record of `version` (the current one when `None` or 0), in order.
    pub async fn all_records(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
        version: Option<i64>,
    ) -> Result<Vec<(String, RawRecord)>> {
        const CHUNK: usize = 1000;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let query = RecordQuery { version, after, limit: CHUNK, ..RecordQuery::default() };
            let (page, next) = self.records(org, project_id, dataset_id, &query).await?;
            all.extend(page);
            match next {
                Some(position) => after = position,
                None => return Ok(all),
            }
        }
    }

    /// Makes the records of `version` the dataset's records again, as a new version.
    /// Returns the dataset afterwards.
    pub async fn restore_dataset_version(
        &self,
        org: &OrgId,
        author: &str,
        project_id: &str,
        dataset_id: &str,
        version: i64,
    ) -> Result<(String, DatasetAttributes)> {
        if version < 1 {
            return Err(Error::Invalid(format!(
                "dataset_version must be 1 or more, got {version}"
            )));
        }
        let wanted = self.all_records(org, project_id, dataset_id, Some(version)).await?;
        let live = self.all_records(org, project_id, dataset_id, None).await?;
        let keep: std::collections::HashSet<&str> =
            wanted.iter().map(|(id, _)| id.as_str()).collect();
        let delete_records =
            live.iter().filter(|(id, _)| !keep.contains(id.as_str())).map(|(id, _)| id.clone());
        let batch = BatchUpdate {
            delete_records: delete_records.collect(),
            insert_records: wanted
                .into_iter()
                .map(|(id, record)| reinsert(id, record))
                .collect::<Result<_>>()?,
            update_records: Vec::new(),
            deduplicate: false,
            create_new_version: true,
        };
        self.batch_update(org, author, project_id, dataset_id, batch).await?;
        self.dataset(org, Some(project_id), dataset_id).await
    }

    /// A new dataset in the same project holding the source's current records (ids and
    /// tags kept) as its version 1.
    pub async fn clone_dataset(
        &self,
        org: &OrgId,
        author: &str,
        project_id: &str,
        dataset_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<(String, DatasetAttributes)> {
        let (_, source) = self.dataset(org, Some(project_id), dataset_id).await?;
        // A clone is a new dataset: a name already taken would merge the records into it.
        if !self.find_datasets(org, project_id, Some(name)).await?.is_empty() {
            return Err(Error::Conflict("a dataset with this name already exists in the project"));
        }
        let records = self.all_records(org, project_id, dataset_id, None).await?;
        let description = description.unwrap_or(&source.description);
        let metadata = source.metadata.as_ref().and_then(Value::as_object);
        let (id, _) =
            self.create_dataset(org, author, project_id, name, Some(description), metadata).await?;
        if !records.is_empty() {
            let batch = BatchUpdate {
                insert_records: records
                    .into_iter()
                    .map(|(id, record)| reinsert(id, record))
                    .collect::<Result<_>>()?,
                update_records: Vec::new(),
                delete_records: Vec::new(),
                deduplicate: false,
                create_new_version: true,
            };
            self.batch_update(org, author, project_id, &id, batch).await?;
        }
        self.dataset(org, Some(project_id), &id).await
    }

    /// Who holds the dataset's draft lock; [`Error::NotFound`] when nobody does.
    pub async fn draft_state(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
    ) -> Result<DraftState> {
        self.dataset(org, Some(project_id), dataset_id).await?;
        let row = sqlx::query("SELECT draft_user, draft_since FROM datasets WHERE uuid = $1")
            .bind(dataset_id)
            .fetch_one(&self.read)
            .await?;
        match (row.try_get::<Option<String>, _>("draft_user")?, row.try_get("draft_since")?) {
            (Some(user), Some(since)) => {
                Ok(DraftState { drafting_since: since, user: DraftUser { id: user } })
            }
            _ => Err(Error::NotFound(NotFound::Other(format!(
                "dataset '{dataset_id}' is not locked for drafting"
            )))),
        }
    }

    /// Takes the draft lock for `user`. Taking it again as its holder keeps the original
    /// time; [`Error::Conflict`] when another user holds it.
    pub async fn lock_draft(
        &self,
        org: &OrgId,
        user: &str,
        project_id: &str,
        dataset_id: &str,
    ) -> Result<DraftState> {
        self.dataset(org, Some(project_id), dataset_id).await?;
        let changed = sqlx::query(
            "UPDATE datasets SET draft_user = $2, draft_since = COALESCE(draft_since, $3) \
             WHERE uuid = $1 AND (draft_user IS NULL OR draft_user = $2)",
        )
        .bind(dataset_id)
        .bind(user)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(Error::Conflict("the dataset is locked for drafting by another user"));
        }
        self.draft_state(org, project_id, dataset_id).await
    }

    /// Releases the draft lock, whoever holds it; releasing an unlocked dataset is a no-op.
    pub async fn unlock_draft(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
    ) -> Result<()> {
        self.dataset(org, Some(project_id), dataset_id).await?;
        sqlx::query("UPDATE datasets SET draft_user = NULL, draft_since = NULL WHERE uuid = $1")
            .bind(dataset_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Stores the rows of an uploaded file as one new version: rows with an id that is
    /// live replace that record (or are skipped without `overwrite`); with `deduplicate`,
    /// rows equal to a live record in input, expected output and metadata are skipped;
    /// `tags` are added to every row's. Returns the version made (the current one when
    /// nothing changed).
    pub async fn upload_file(
        &self,
        org: &OrgId,
        author: &str,
        project_id: &str,
        dataset_id: &str,
        rows: Vec<FileRow>,
        options: &FileUpload,
    ) -> Result<UploadResult> {
        let live: std::collections::HashSet<String> = if options.overwrite {
            std::collections::HashSet::new()
        } else {
            let records = self.all_records(org, project_id, dataset_id, None).await?;
            records.into_iter().map(|(id, _)| id).collect()
        };
        let insert_records = rows
            .into_iter()
            .filter(|row| row.id.as_ref().is_none_or(|id| !live.contains(id)))
            .map(|row| {
                let mut tags = row.tags;
                tags.extend(
                    options.tags.iter().filter(|t| !tags.contains(t)).cloned().collect::<Vec<_>>(),
                );
                InsertRecord {
                    input: row.input,
                    expected_output: row.expected_output,
                    metadata: row.metadata,
                    id: row.id,
                    tags: Some(tags),
                }
            })
            .collect();
        let batch = BatchUpdate {
            insert_records,
            update_records: Vec::new(),
            delete_records: Vec::new(),
            deduplicate: options.deduplicate,
            create_new_version: true,
        };
        self.batch_update(org, author, project_id, dataset_id, batch).await?;
        let (_, dataset) = self.dataset(org, Some(project_id), dataset_id).await?;
        Ok(UploadResult {
            dataset_id: dataset_id.to_owned(),
            last_used: dataset.updated_at,
            version_number: dataset.current_version,
        })
    }
}

/// How [`Store::upload_file`] treats the rows of a file.
#[derive(Debug, Clone, Default)]
pub struct FileUpload {
    /// Skip rows equal to a live record.
    pub deduplicate: bool,
    /// Let rows replace live records with the same id.
    pub overwrite: bool,
    /// Tags added to every row.
    pub tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn insert(input: Value) -> InsertRecord {
        InsertRecord { input, expected_output: None, metadata: None, id: None, tags: None }
    }

    fn batch(insert_records: Vec<InsertRecord>, delete_records: Vec<String>) -> BatchUpdate {
        BatchUpdate {
            insert_records,
            update_records: Vec::new(),
            delete_records,
            deduplicate: false,
            create_new_version: true,
        }
    }

    async fn inputs(store: &Store, org: &OrgId, project: &str, dataset: &str) -> Vec<String> {
        let records = store.all_records(org, project, dataset, None).await.unwrap();
        records.into_iter().map(|(_, r)| r.input.get().to_owned()).collect()
    }

    #[tokio::test]
    async fn a_new_dataset_keeps_its_metadata_and_a_create_with_its_name_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_db::open(dir.path()).await;
        let org = store.create_org_keys("a", "api-key-a", "app-key-a").await.unwrap().org;
        let (project, _) = store.project_by_name(&org, "u", "p", None).await.unwrap();
        let first = json!({"team": "search"});
        let (id, made) = store
            .create_dataset(&org, "u", &project, "d", Some("one"), first.as_object())
            .await
            .unwrap();
        assert_eq!(made.metadata, Some(first.clone()));
        let (plain, bare) =
            store.create_dataset(&org, "u", &project, "bare", None, None).await.unwrap();
        assert_eq!(bare.metadata, None);

        // The same names again, with other metadata: the stored datasets are returned as they are.
        let other = json!({"team": "ads"});
        let (again, kept) = store
            .create_dataset(&org, "u", &project, "d", Some("two"), other.as_object())
            .await
            .unwrap();
        assert_eq!(
            (again, kept.metadata, kept.description),
            (id.clone(), Some(first), "one".to_owned())
        );
        let (again, kept) = store
            .create_dataset(&org, "u", &project, "bare", None, other.as_object())
            .await
            .unwrap();
        assert_eq!((again, kept.metadata), (plain.clone(), None));

        // A clone under a taken name is refused and leaves that dataset as it was.
        let refused = store.clone_dataset(&org, "u", &project, &id, "bare", None).await;
        assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
        let (_, bare) = store.dataset(&org, Some(&project), &plain).await.unwrap();
        assert_eq!(bare.current_version, 0);
    }

    #[tokio::test]
    async fn restore_makes_a_new_version_and_clone_copies_the_current_records() {
        let dir = tempfile::tempdir().unwrap();
        let (store, org, project, dataset) = crate::test_db::with_dataset(dir.path()).await;
        let made = store
            .batch_update(
                &org,
                "u",
                &project,
                &dataset,
                batch(vec![insert(json!(1)), insert(json!(2))], vec![]),
            )
            .await
            .unwrap();
        let first = made[0].0.clone();
        store
            .batch_update(&org, "u", &project, &dataset, batch(vec![insert(json!(3))], vec![first]))
            .await
            .unwrap();
        assert_eq!(inputs(&store, &org, &project, &dataset).await, ["2", "3"]);

        let (_, restored) =
            store.restore_dataset_version(&org, "u", &project, &dataset, 1).await.unwrap();
        assert_eq!(restored.current_version, 3);
        let mut now = inputs(&store, &org, &project, &dataset).await;
        now.sort();
        assert_eq!(now, ["1", "2"]);
        // Version 2 is untouched by the restore.
        let v2 = store.all_records(&org, &project, &dataset, Some(2)).await.unwrap();
        assert_eq!(v2.len(), 2);
        let versions = store.dataset_versions(&org, &project, &dataset).await.unwrap();
        assert_eq!(versions.iter().map(|v| v.version_number).collect::<Vec<_>>(), [3, 2, 1]);
        // Restoring the current version changes nothing.
        let (_, same) =
            store.restore_dataset_version(&org, "u", &project, &dataset, 3).await.unwrap();
        assert_eq!(same.current_version, 3);
        assert!(store.restore_dataset_version(&org, "u", &project, &dataset, 9).await.is_err());

        let (copy, cloned) =
            store.clone_dataset(&org, "u", &project, &dataset, "copy", None).await.unwrap();
        assert_eq!(cloned.current_version, 1);
        let ours = store.all_records(&org, &project, &dataset, None).await.unwrap();
        let theirs = store.all_records(&org, &project, &copy, None).await.unwrap();
        let ids = |r: &[(String, RawRecord)]| {
            let mut ids: Vec<String> = r.iter().map(|(id, _)| id.clone()).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&ours), ids(&theirs));
    }

    #[tokio::test]
    async fn a_deleted_project_frees_its_name_and_hides_its_datasets() {
        let dir = tempfile::tempdir().unwrap();
        let (store, org, project, dataset) = crate::test_db::with_dataset(dir.path()).await;
        assert!(store.delete_projects(&org, &[project.clone(), "nope".into()]).await.is_err());
        assert!(store.project(&org, &project).await.is_ok(), "a failed delete deletes nothing");
        store.delete_projects(&org, std::slice::from_ref(&project)).await.unwrap();
        assert!(store.project(&org, &project).await.is_err());
        assert!(store.dataset(&org, None, &dataset).await.is_err());
        let (again, _) = store.project_by_name(&org, "u", "p", None).await.unwrap();
        assert_ne!(again, project);
    }
}
