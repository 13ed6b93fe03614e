//! Project management beyond create-or-get: listing with filters and cursor paging,
//! what each project holds (for the web UI's overview), renaming, and deleting.
//!
//! A deleted project keeps its row, since its datasets and experiments point at it, but
//! stops being found by id or name: its name gets the suffix ` (deleted <id>)`, so the name
//! is free for a new project. Deleting a project deletes its datasets and experiments too.

use llmobs_core::datasets::Project;
use llmobs_core::jsonapi::Author;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::deletes::soft_delete;
use crate::error::{Error, NotFound, Result, on_unique};
use crate::keys::OrgId;
use crate::{Store, time};

/// Which projects to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// Only this project.
    pub id: Option<String>,
    /// Only the project with exactly this name.
    pub name: Option<String>,
}

/// Where a listing continues: the last item's `(created_at, id)`.
pub type PageCursor = (String, String);

/// A page of items and where the next page starts.
pub type Page<T> = (Vec<(String, T)>, Option<PageCursor>);

/// What a project holds: its live datasets and experiments, and when one last changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectActivity {
    /// Live datasets.
    pub datasets: i64,
    /// Live experiments.
    pub experiments: i64,
    /// The newest `updated_at` of its live datasets and experiments, if it has any.
    pub last_activity: Option<String>,
}

/// Encodes a cursor as the text clients pass back.
pub fn encode_cursor((at, id): &PageCursor) -> String {
    format!("{at}~{id}")
}

/// Decodes a cursor clients passed back.
pub fn decode_cursor(cursor: &str) -> Result<PageCursor> {
    cursor.split_once('~').map(|(at, id)| (at.to_owned(), id.to_owned())).ok_or_else(|| {
        Error::Invalid(format!("invalid page[cursor] '{cursor}': pass back meta.after"))
    })
}

/// A project and its id, from a row of `projects`.
pub(crate) fn project_from_row(row: &AnyRow) -> Result<(String, Project)> {
    Ok((
        row.try_get("uuid")?,
        Project {
            author: Author { id: row.try_get("author")? },
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
    ))
}

impl Store {
    /// The org's live projects matching `filter`, oldest first, `limit` per page, after
    /// `after`.
    pub async fn list_projects(
        &self,
        org: &OrgId,
        filter: &ProjectFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Project>> {
        let (at, id) = after.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?.unzip();
        let rows = sqlx::query(
            "SELECT uuid, name, description, author, created_at, updated_at FROM projects \
             WHERE org_uuid = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR uuid = $2) AND ($3 IS NULL OR name = $3) \
             AND ($4 IS NULL OR created_at > $4 OR (created_at = $4 AND uuid > $5)) \
             ORDER BY created_at, uuid LIMIT $6",
        )
        .bind(&org.0)
        .bind(&filter.id)
        .bind(&filter.name)
        .bind(at)
        .bind(id)
        .bind(limit as i64 + 1)
        .fetch_all(&self.read)
        .await?;
        let found = rows.iter().take(limit).map(project_from_row).collect::<Result<Vec<_>>>()?;
        let next = (rows.len() > limit)
            .then(|| found.last().map(|(id, p)| (p.created_at.clone(), id.clone())))
            .flatten();
        Ok((found, next))
    }

    /// What the org's project `project_id` holds.
    pub async fn project_activity(&self, org: &OrgId, project_id: &str) -> Result<ProjectActivity> {
        let (datasets, experiments, last_dataset, last_experiment): (
            i64,
            i64,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM datasets WHERE org_uuid = $1 AND project_uuid = $2 \
              AND deleted_at IS NULL), \
             (SELECT COUNT(*) FROM experiments WHERE org_uuid = $1 AND project_uuid = $2 \
              AND deleted_at IS NULL), \
             (SELECT MAX(updated_at) FROM datasets WHERE org_uuid = $1 AND project_uuid = $2 \
              AND deleted_at IS NULL), \
             (SELECT MAX(updated_at) FROM experiments WHERE org_uuid = $1 AND project_uuid = $2 \
              AND deleted_at IS NULL)",
        )
        .bind(&org.0)
        .bind(project_id)
        .fetch_one(self.reads().await?)
        .await?;
        Ok(ProjectActivity {
            datasets,
            experiments,
            last_activity: last_dataset.max(last_experiment),
        })
    }

    /// Renames a live project and/or changes its description. [`Error::Conflict`] if
    /// another project of the org has the new name.
    pub async fn update_project(
        &self,
        org: &OrgId,
        project_id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<(String, Project)> {
        if name.is_some_and(|n| n.trim().is_empty()) {
            return Err(Error::Invalid("name: a project needs a non-empty name".into()));
        }
        self.project(org, project_id).await?;
        let changed = sqlx::query(
            "UPDATE projects SET name = COALESCE($3, name), \
             description = COALESCE($4, description), updated_at = $5 \
             WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL",
        )
        .bind(&org.0)
        .bind(project_id)
        .bind(name)
        .bind(description)
        .bind(time::now())
        .execute(&self.write)
        .await
        .map_err(|err| on_unique(err, "a project with this name already exists"))?;
        if changed.rows_affected() == 0 {
            return Err(not_found(project_id));
        }
        self.project(org, project_id).await
    }

    /// Deletes live projects of the org, with their datasets and experiments, all or
    /// nothing. An id that is not a live project of the org is [`Error::NotFound`] and
    /// deletes nothing.
    pub async fn delete_projects(&self, org: &OrgId, ids: &[String]) -> Result<()> {
        let now = time::now();
        let mut tx = self.writes().await?.begin().await?;
        for id in ids {
            soft_delete(
                &mut tx,
                "UPDATE projects SET deleted_at = $3, updated_at = $3, \
                 name = name || ' (deleted ' || uuid || ')' \
                 WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL",
                &[&org.0, id, &now],
                || not_found(id),
            )
            .await?;
            for update in [
                "UPDATE datasets SET deleted_at = $2, updated_at = $2 \
                 WHERE project_uuid = $1 AND deleted_at IS NULL",
                "UPDATE experiments SET deleted_at = $2, updated_at = $2 \
                 WHERE project_uuid = $1 AND deleted_at IS NULL",
            ] {
                sqlx::query(update).bind(id).bind(&now).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

fn not_found(project_id: &str) -> Error {
    Error::NotFound(NotFound::Other(format!("project '{project_id}' not found")))
}
